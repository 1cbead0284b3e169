// Model packages in S3: `models/<name>/<version>/model.onnx` and `manifest.json`. A version's
// package is written once and never overwritten. On AWS the bucket is versioned and PutObject
// carries `If-None-Match: *`, so even a racing writer cannot replace the bytes, and the registry
// records each object's VersionId and reads exactly that version back. s3rver has no versioning
// and ignores If-None-Match, so the store also looks before it writes, and works without
// VersionIds (the signature check still refuses any bytes that changed).
import {
  GetObjectCommand,
  HeadObjectCommand,
  NoSuchKey,
  NotFound,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { ResourceError } from '../../core/errors';
import type { ModelVersionRecord } from '../../core/models/ports';
import type { PackageKeys } from '../../core/registry/keys';

export type PackageLocation = ModelVersionRecord['location'];

export interface StoredObject {
  readonly key: string;
  /** Absent where the bucket is not versioned (s3rver). */
  readonly versionId?: string;
}

function isMissing(error: unknown): boolean {
  if (error instanceof NotFound || error instanceof NoSuchKey) return true;
  const status = (error as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
  return status === 404;
}

function isPreconditionFailed(error: unknown): boolean {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } } | undefined;
  return e?.name === 'PreconditionFailed' || e?.$metadata?.httpStatusCode === 412;
}

export class S3PackageStore {
  constructor(
    private readonly s3: S3Client,
    readonly bucket: string,
  ) {}

  private where(key: string): string {
    return `s3://${this.bucket}/${key}`;
  }

  /** The object's current version, or undefined when there is none. */
  async head(key: string): Promise<StoredObject | undefined> {
    try {
      const out = await this.s3.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return { key, ...(out.VersionId && out.VersionId !== 'null' ? { versionId: out.VersionId } : {}) };
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
  }

  /** Writes a new object; an object already at `key` is refused, never replaced. */
  async putNew(key: string, body: Uint8Array, contentType: string): Promise<StoredObject> {
    if (await this.head(key)) {
      throw new ResourceError(`${this.where(key)} already exists; a model version's package is never overwritten`, this.where(key), false);
    }
    try {
      const out = await this.s3.send(
        new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, ContentType: contentType, IfNoneMatch: '*' }),
      );
      return { key, ...(out.VersionId && out.VersionId !== 'null' ? { versionId: out.VersionId } : {}) };
    } catch (error) {
      if (isPreconditionFailed(error)) {
        throw new ResourceError(`${this.where(key)} was written by someone else meanwhile; a model version's package is never overwritten`, this.where(key), false);
      }
      throw error;
    }
  }

  /** The object's bytes: the recorded version when there is one, else the current one. */
  async get(object: StoredObject): Promise<Uint8Array> {
    try {
      const out = await this.s3.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: object.key, ...(object.versionId ? { VersionId: object.versionId } : {}) }),
      );
      if (!out.Body) throw new ResourceError(`${this.where(object.key)}: GetObject returned no body`, this.where(object.key), true);
      return await out.Body.transformToByteArray();
    } catch (error) {
      if (isMissing(error)) {
        const version = object.versionId ? ` (version ${object.versionId})` : '';
        throw new ResourceError(`${this.where(object.key)}${version} does not exist`, this.where(object.key), false);
      }
      throw error;
    }
  }

  /** Both files of a package, by its recorded location. */
  async getPackage(location: PackageLocation): Promise<{ readonly manifestText: string; readonly onnx: Uint8Array }> {
    const [manifest, onnx] = await Promise.all([
      this.get({ key: location.manifestKey, ...(location.manifestVersionId ? { versionId: location.manifestVersionId } : {}) }),
      this.get({ key: location.modelKey, ...(location.modelVersionId ? { versionId: location.modelVersionId } : {}) }),
    ]);
    return { manifestText: new TextDecoder().decode(manifest), onnx };
  }

  /** What is stored under a package's keys now (either file may be missing after an interrupted registration). */
  async find(keys: PackageKeys): Promise<{ readonly model?: StoredObject; readonly manifest?: StoredObject }> {
    const [model, manifest] = await Promise.all([this.head(keys.modelKey), this.head(keys.manifestKey)]);
    return { ...(model ? { model } : {}), ...(manifest ? { manifest } : {}) };
  }
}
