// The registry as a Lambda or the CLI's --aws mode builds it: table, bucket and trusted key from
// the variables the CDK stacks set (ENV in lib/core/resources.ts), SDK clients from the standard
// credential chain and AWS_ENDPOINT_URL_* variables (so the same code reaches the stand-ins locally).
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KMSClient } from '@aws-sdk/client-kms';
import { S3Client } from '@aws-sdk/client-s3';
import { ConfigError } from '../../core/errors';
import { parseTrustedKeySetting } from '../../core/registry/signing';
import { ENV } from '../../core/resources';
import { ModelRegistry } from './model-registry';
import { KmsSigner } from './signers/kms-signer';
import { PackageVerifier } from './verifier';

export interface RegistryClients {
  readonly dynamodb: DynamoDBClient;
  readonly s3: S3Client;
  readonly kms: KMSClient;
}

export interface RegistryFromEnvironmentOptions {
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Clients to use; new ones from the default chain when absent. */
  readonly clients?: RegistryClients;
  /** Build a signer too (register): the first `kms:` key of ENV.modelSigningKey signs. @default false */
  readonly sign?: boolean;
}

function required(env: Readonly<Record<string, string | undefined>>, name: string): string {
  const value = env[name]?.trim();
  if (!value) throw new ConfigError(`${name} must be set`, name);
  return value;
}

export function registryFromEnvironment(options: RegistryFromEnvironmentOptions = {}): { registry: ModelRegistry; clients: RegistryClients } {
  const env = options.env ?? process.env;
  const tableName = required(env, ENV.modelRegistryTable);
  const bucket = required(env, ENV.modelBucket);
  const keySetting = required(env, ENV.modelSigningKey);
  const clients = options.clients ?? { dynamodb: new DynamoDBClient({ maxAttempts: 8 }), s3: new S3Client({}), kms: new KMSClient({}) };
  const verifier = PackageVerifier.fromSetting(keySetting, { kms: clients.kms });
  let signer: KmsSigner | undefined;
  if (options.sign) {
    const kmsKey = parseTrustedKeySetting(keySetting).find((s) => s.kind === 'kms');
    if (!kmsKey || kmsKey.kind !== 'kms') {
      throw new ConfigError(`${ENV.modelSigningKey} must name a kms:<key arn> to register on AWS (got "${keySetting}")`, ENV.modelSigningKey);
    }
    signer = new KmsSigner(clients.kms, kmsKey.keyId);
  }
  return {
    registry: new ModelRegistry({ dynamodb: clients.dynamodb, s3: clients.s3, tableName, bucket, verifier, ...(signer ? { signer } : {}) }),
    clients,
  };
}
