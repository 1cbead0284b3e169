// Model registry: the package bucket (`models/<name>/<version>/…`, versioned, never overwritten),
// the registry table (version items and the production pointer, lib/core/resources.ts), and the
// KMS asymmetric key that signs manifests. Consumers get grants that name exact actions on exactly
// these resources: `grantRead` (serving), `grantPromote` (a promotion step), `grantRegister`
// (training and the release pipeline).
import type { StackProps } from 'aws-cdk-lib';
import { CfnOutput, Duration, Fn, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type { Construct } from 'constructs';
import { PACKAGE_PREFIX } from '../../core/registry/keys';
import type { KeyAttribute } from '../../core/resources';
import { ENV, platformResources } from '../../core/resources';
import type { FathomConfig } from '../config';
import { DEFAULT_CONFIG } from '../config';
import { grantKeyViaService } from '../constructs/key-grants';

export interface RegistryStackProps extends StackProps {
  /**
   * Deployment settings (prefix and the `registry` section).
   * @default DEFAULT_CONFIG
   */
  readonly config?: FathomConfig;
}

const ATTRIBUTE_TYPE: Record<KeyAttribute['type'], dynamodb.AttributeType> = {
  S: dynamodb.AttributeType.STRING,
  N: dynamodb.AttributeType.NUMBER,
  B: dynamodb.AttributeType.BINARY,
};

const TABLE_READ = ['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:Scan'];
const TABLE_WRITE = ['dynamodb:PutItem', 'dynamodb:UpdateItem'];

export class RegistryStack extends Stack {
  /** Model packages; objects are read by the VersionId the registry recorded. */
  readonly bucket: s3.Bucket;
  /** The customer-managed key that encrypts the packages (SSE-KMS with an S3 bucket key). */
  readonly bucketKey: kms.Key;
  /** Server access logs of the package bucket. */
  readonly accessLogsBucket: s3.Bucket;
  /** Version items and the production pointer of every model name. */
  readonly table: dynamodb.Table;
  /** The customer-managed key that encrypts the table. */
  readonly tableKey: kms.Key;
  /** ECC_NIST_P256 / SIGN_VERIFY: signs manifests (ECDSA_SHA_256); its public half verifies them. */
  readonly signingKey: kms.Key;

  constructor(scope: Construct, id: string, props: RegistryStackProps = {}) {
    super(scope, id, props);
    const config = props.config ?? DEFAULT_CONFIG;
    const settings = config.registry;
    const resources = platformResources(config.prefix);
    const definition = resources.modelRegistry;
    const removalPolicy = settings.removalPolicy === 'destroy' ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN;

    this.signingKey = new kms.Key(this, 'SigningKey', {
      alias: `alias/${config.prefix}-model-signing`,
      description: `Signs the manifests of ${config.prefix} model packages (ECDSA P-256, SHA-256)`,
      keySpec: kms.KeySpec.ECC_NIST_P256,
      keyUsage: kms.KeyUsage.SIGN_VERIFY,
      // Asymmetric keys cannot rotate; a new key is introduced by listing both in the trusted-key setting.
      enableKeyRotation: false,
      // Without this key no stored signature verifies: never deleted with the stack.
      removalPolicy: RemovalPolicy.RETAIN,
    });

    this.bucketKey = new kms.Key(this, 'ModelBucketKey', {
      alias: `alias/${resources.modelBucket.name}`,
      description: `Encrypts the ${config.prefix} model packages`,
      enableKeyRotation: true,
      removalPolicy,
    });

    // Server access logs accept only SSE-S3 on the destination bucket.
    this.accessLogsBucket = new s3.Bucket(this, 'ModelBucketAccessLogs', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      lifecycleRules: [{ expiration: Duration.days(settings.accessLogRetentionDays) }],
      removalPolicy,
    });

    this.bucket = new s3.Bucket(this, 'ModelBucket', {
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: this.bucketKey,
      bucketKeyEnabled: true,
      // Every object version is kept: the registry reads the version it recorded at registration.
      versioned: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      serverAccessLogsBucket: this.accessLogsBucket,
      serverAccessLogsPrefix: 'model-bucket/',
      lifecycleRules: [{ abortIncompleteMultipartUploadAfter: Duration.days(7) }],
      removalPolicy,
    });

    this.tableKey = new kms.Key(this, 'RegistryTableKey', {
      alias: `alias/${definition.name}`,
      description: `Encrypts the ${definition.name} DynamoDB table`,
      enableKeyRotation: true,
      removalPolicy,
    });

    this.table = new dynamodb.Table(this, 'RegistryTable', {
      tableName: definition.name,
      partitionKey: { name: definition.partitionKey.name, type: ATTRIBUTE_TYPE[definition.partitionKey.type] },
      sortKey: definition.sortKey && { name: definition.sortKey.name, type: ATTRIBUTE_TYPE[definition.sortKey.type] },
      // A handful of writes per promotion, reads cached by the scoring function: nothing to plan.
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: this.tableKey,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: settings.deletionProtection,
      removalPolicy,
    });

    new CfnOutput(this, 'CliEnvironment', {
      description: 'Variables for `npx fathom models --aws` (export them as they are)',
      value: Fn.join(' ', [
        `${ENV.modelRegistryTable}=${this.table.tableName}`,
        `${ENV.modelBucket}=${this.bucket.bucketName}`,
        `${ENV.modelSigningKey}=kms:${this.signingKey.keyArn}`,
      ]),
    });
  }

  /** The objects of every package: the grants go no wider than `models/*`. */
  private get packageObjects(): string {
    return this.bucket.arnForObjects(`${PACKAGE_PREFIX}*`);
  }

  /** What a function needs in its environment to reach the registry (ENV names). */
  registryEnvironment(): Record<string, string> {
    return {
      [ENV.modelRegistryTable]: this.table.tableName,
      [ENV.modelBucket]: this.bucket.bucketName,
      [ENV.modelSigningKey]: `kms:${this.signingKey.keyArn}`,
    };
  }

  /**
   * Lets `grantee` read the registry and verify packages: GetItem, Query and Scan on the table,
   * GetObject (and by version) on `models/*`, decrypting each only through its service, and the
   * signing key's public half (kms:GetPublicKey, kms:Verify). What the scoring function needs.
   */
  grantRead(grantee: iam.IGrantable): iam.Grant {
    return this.grantTable(grantee, TABLE_READ, ['kms:Decrypt'])
      .combine(iam.Grant.addToPrincipal({ grantee, actions: ['s3:GetObject', 's3:GetObjectVersion'], resourceArns: [this.packageObjects] }))
      .combine(grantKeyViaService(this.bucketKey, grantee, 's3', 'kms:Decrypt'))
      .combine(iam.Grant.addToPrincipal({ grantee, actions: ['kms:GetPublicKey', 'kms:Verify'], resourceArns: [this.signingKey.keyArn] }));
  }

  /** Lets `grantee` move versions through the lifecycle (and roll back): read and write the table, nothing in S3 or KMS's signing key. */
  grantPromote(grantee: iam.IGrantable): iam.Grant {
    return this.grantTable(grantee, [...TABLE_READ, ...TABLE_WRITE], ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey']);
  }

  /**
   * Lets `grantee` register packages: everything `grantRead` and `grantPromote` allow, plus
   * PutObject on `models/*` (SSE-KMS through S3), ListBucket (so a missing key answers 404, which
   * the never-overwrite check relies on, instead of 403), and kms:Sign with the signing key.
   */
  grantRegister(grantee: iam.IGrantable): iam.Grant {
    return this.grantRead(grantee)
      .combine(this.grantTable(grantee, TABLE_WRITE, ['kms:Encrypt', 'kms:GenerateDataKey']))
      .combine(iam.Grant.addToPrincipal({ grantee, actions: ['s3:PutObject'], resourceArns: [this.packageObjects] }))
      .combine(iam.Grant.addToPrincipal({ grantee, actions: ['s3:ListBucket'], resourceArns: [this.bucket.bucketArn] }))
      .combine(grantKeyViaService(this.bucketKey, grantee, 's3', 'kms:GenerateDataKey'))
      .combine(iam.Grant.addToPrincipal({ grantee, actions: ['kms:Sign'], resourceArns: [this.signingKey.keyArn] }));
  }

  private grantTable(grantee: iam.IGrantable, actions: readonly string[], keyActions: readonly string[]): iam.Grant {
    return iam.Grant.addToPrincipal({ grantee, actions: [...actions], resourceArns: [this.table.tableArn] }).combine(
      grantKeyViaService(this.tableKey, grantee, 'dynamodb', ...keyActions),
    );
  }
}
