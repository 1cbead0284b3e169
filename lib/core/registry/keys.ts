// Where a model's package and registry items live: one naming, shared by the S3 store, the
// DynamoDB registry and the CDK grants (which scope S3 access to `models/*`).
import type { ModelName, ModelVersion } from '../models/manifest';
import { MANIFEST_FILE, MODEL_FILE } from '../models/manifest';

/** Every package key starts with this; the infra grants are scoped to it. */
export const PACKAGE_PREFIX = 'models/';

export interface PackageKeys {
  readonly modelKey: string;
  readonly manifestKey: string;
}

export function packageKeys(name: ModelName, version: ModelVersion): PackageKeys {
  const base = `${PACKAGE_PREFIX}${name}/${version}/`;
  return { modelKey: `${base}${MODEL_FILE}`, manifestKey: `${base}${MANIFEST_FILE}` };
}

/** Partition key of every item of one model name. */
export const modelPartitionKey = (name: ModelName): string => `model#${name}`;
/** Sort key of a version item. */
export const versionSortKey = (version: ModelVersion): string => `version#${version}`;
/** Sort key of the production pointer: the single source of truth for which version serves. */
export const POINTER_SORT_KEY = 'production';
