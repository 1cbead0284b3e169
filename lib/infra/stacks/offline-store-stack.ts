// The offline store on AWS: a Glue-catalogued Apache Iceberg lakehouse that Athena, Spark and Glue
// read. One KMS-encrypted, versioned, TLS-only bucket holds the tables (`warehouse/<db>/<table>/`)
// and Firehose's error output (`firehose-errors/<stream>/`); a Glue database holds the four tables
// of lib/core/offline/tables.ts (Iceberg v2, Parquet, partitioned by day of their time column);
// one Firehose delivery stream per table writes it through the Apache Iceberg destination; Glue
// table optimizers compact small files, expire old snapshots and delete orphan files.
//
// Producers get `grantPutRecords(table, grantee)` (PutRecord and PutRecordBatch on that table's
// stream only) and `deliveryStreamEnvironment(...)` (the ENV variables naming the streams).
import type { StackProps } from 'aws-cdk-lib';
import { ArnFormat, CfnOutput, Duration, Fn, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as glue from 'aws-cdk-lib/aws-glue';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type { Construct } from 'constructs';
import { OFFLINE_TABLES } from '../../core/offline/tables';
import type { OfflineTableName } from '../../core/resources';
import { ENV, OFFLINE_STREAM_ENV, OFFLINE_TABLE_NAMES, platformResources } from '../../core/resources';
import type { FathomConfig } from '../config';
import { DEFAULT_CONFIG } from '../config';
import { IcebergDeliveryStream } from '../constructs/iceberg-delivery-stream';
import { IcebergTable } from '../constructs/iceberg-table';
import { acknowledgeWildcardResources } from '../constructs/wildcard-acknowledgments';

export interface OfflineStoreStackProps extends StackProps {
  /**
   * Deployment settings (prefix and the `offlineStore` section).
   * @default DEFAULT_CONFIG
   */
  readonly config?: FathomConfig;
}

/** The table optimizer types Glue offers for Iceberg tables, each a resource of its own. */
export const TABLE_OPTIMIZER_TYPES = ['compaction', 'retention', 'orphan_file_deletion'] as const;

/** The log groups Glue's table optimizers write to (fixed names, shared by every table of the account). */
const OPTIMIZER_LOG_GROUPS = ['/aws-glue/iceberg-compaction/logs', '/aws-glue/iceberg-retention/logs', '/aws-glue/iceberg-orphan-file-deletion/logs'];

export class OfflineStoreStack extends Stack {
  /** Iceberg data and metadata files, and the error output of the delivery streams. */
  readonly bucket: s3.Bucket;
  /** Encrypts the bucket (SSE-KMS with a bucket key) and the delivery streams at rest. */
  readonly bucketKey: kms.Key;
  /** Server access logs of the lakehouse bucket. */
  readonly accessLogsBucket: s3.Bucket;
  readonly database: glue.CfnDatabase;
  readonly databaseName: string;
  readonly tables: Readonly<Record<OfflineTableName, IcebergTable>>;
  readonly deliveryStreams: Readonly<Record<OfflineTableName, IcebergDeliveryStream>>;
  /** Assumed by Glue's table optimizers; undefined when `offlineStore.tableOptimizers` is off. */
  readonly optimizerRole?: iam.Role;
  readonly optimizers: readonly glue.CfnTableOptimizer[];

  constructor(scope: Construct, id: string, props: OfflineStoreStackProps = {}) {
    super(scope, id, props);
    const config = props.config ?? DEFAULT_CONFIG;
    const settings = config.offlineStore;
    const definition = platformResources(config.prefix).offlineStore;
    const removalPolicy = settings.removalPolicy === 'destroy' ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN;
    this.databaseName = definition.database;

    this.bucketKey = new kms.Key(this, 'LakehouseKey', {
      alias: `alias/${definition.bucket.name}`,
      description: `Encrypts the ${config.prefix} offline store: Iceberg tables, Firehose error output and delivery streams`,
      enableKeyRotation: true,
      removalPolicy,
    });

    // Server access logs accept only SSE-S3 on the destination bucket.
    this.accessLogsBucket = new s3.Bucket(this, 'LakehouseAccessLogs', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      lifecycleRules: [{ expiration: Duration.days(settings.accessLogRetentionDays) }],
      removalPolicy,
    });

    this.bucket = new s3.Bucket(this, 'Lakehouse', {
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: this.bucketKey,
      bucketKeyEnabled: true,
      versioned: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      serverAccessLogsBucket: this.accessLogsBucket,
      serverAccessLogsPrefix: 'lakehouse/',
      lifecycleRules: [
        { abortIncompleteMultipartUploadAfter: Duration.days(7) },
        // Snapshot expiry and compaction delete files; versioning would otherwise keep them forever.
        { noncurrentVersionExpiration: Duration.days(settings.noncurrentVersionRetentionDays), expiredObjectDeleteMarker: true },
      ],
      removalPolicy,
    });

    const warehouse = `${definition.warehousePrefix}${definition.database}/`;
    this.database = new glue.CfnDatabase(this, 'Database', {
      catalogId: this.account,
      databaseInput: {
        name: definition.database,
        description: `${config.prefix} offline store: Iceberg tables written by Firehose (events, feature_log, predictions, labels)`,
        locationUri: `s3://${this.bucket.bucketName}/${warehouse}`,
      },
    });
    this.database.applyRemovalPolicy(removalPolicy);

    const tables = {} as Record<OfflineTableName, IcebergTable>;
    const streams = {} as Record<OfflineTableName, IcebergDeliveryStream>;
    for (const name of OFFLINE_TABLE_NAMES) {
      const table = new IcebergTable(this, pascal(name), {
        database: this.database,
        databaseName: definition.database,
        definition: OFFLINE_TABLES[name],
        bucket: this.bucket,
        locationPrefix: `${warehouse}${name}/`,
      });
      table.table.applyRemovalPolicy(removalPolicy);
      tables[name] = table;

      const stream = definition.deliveryStreams[name];
      streams[name] = new IcebergDeliveryStream(this, `${pascal(name)}Delivery`, {
        deliveryStreamName: stream.name,
        table,
        bucket: this.bucket,
        encryptionKey: this.bucketKey,
        errorOutputPrefix: `${definition.errorPrefix}${stream.name}/`,
        bufferingInterval: Duration.seconds(settings.bufferingIntervalSeconds),
        bufferingSizeMiB: settings.bufferingSizeMiB,
        retryDuration: Duration.seconds(settings.retryDurationSeconds),
        logRetention: settings.logRetentionDays,
        removalPolicy,
      });
    }
    this.tables = tables;
    this.deliveryStreams = streams;

    if (settings.tableOptimizers) {
      const { role, optimizers } = this.addTableOptimizers(settings);
      this.optimizerRole = role;
      this.optimizers = optimizers;
    } else {
      this.optimizers = [];
    }

    new CfnOutput(this, 'OfflineStoreEnvironment', {
      description: 'Variables naming the lakehouse bucket, its Glue database and the delivery stream of each table',
      value: Fn.join(' ', Object.entries(this.deliveryStreamEnvironment(...OFFLINE_TABLE_NAMES)).map(([k, v]) => `${k}=${v}`)),
    });
  }

  /**
   * One role for Glue's optimizers over the four tables, and the three optimizers of each table.
   * Compaction rewrites small files (binpack: the tables declare no sort order), retention
   * expires snapshots and deletes the files only they referenced, orphan-file deletion removes
   * files no snapshot references (failed writes) once they are old enough.
   */
  private addTableOptimizers(settings: FathomConfig['offlineStore']): { role: iam.Role; optimizers: glue.CfnTableOptimizer[] } {
    const tables = OFFLINE_TABLE_NAMES.map((name) => this.tables[name]);
    const role = new iam.Role(this, 'TableOptimizerRole', {
      description: `Glue table optimizers of the ${this.databaseName} Iceberg tables`,
      assumedBy: new iam.ServicePrincipal('glue.amazonaws.com'),
    });
    const catalogArn = this.formatArn({ service: 'glue', resource: 'catalog', arnFormat: ArnFormat.NO_RESOURCE_NAME });
    const databaseArn = this.formatArn({ service: 'glue', resource: 'database', resourceName: this.databaseName });
    const logGroups = OPTIMIZER_LOG_GROUPS.map((name) => this.formatArn({ service: 'logs', resource: 'log-group', resourceName: `${name}:*`, arnFormat: ArnFormat.COLON_RESOURCE_NAME }));
    const objects = tables.map((t) => t.objectsArn);
    const policy = new iam.Policy(this, 'TableOptimizerPolicy', {
      roles: [role],
      statements: [
        new iam.PolicyStatement({ actions: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject'], resources: objects }),
        new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [this.bucket.bucketArn] }),
        new iam.PolicyStatement({ actions: ['glue:GetTable', 'glue:UpdateTable'], resources: [catalogArn, databaseArn, ...tables.map((t) => t.tableArn)] }),
        new iam.PolicyStatement({ actions: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents'], resources: logGroups }),
        new iam.PolicyStatement({
          actions: ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey'],
          resources: [this.bucketKey.keyArn],
          conditions: { StringEquals: { 'kms:ViaService': `s3.${this.region}.${this.urlSuffix}` } },
        }),
      ],
    });
    acknowledgeWildcardResources(
      policy,
      [...objects, ...logGroups],
      "Table optimizers rewrite and delete the files of exactly these four tables' folders, and write to the log groups Glue fixes for each optimizer type, whose streams Glue names per run.",
    );

    const optimizers: glue.CfnTableOptimizer[] = [];
    for (const table of tables) {
      const base = { roleArn: role.roleArn, enabled: true };
      const configurations: Record<(typeof TABLE_OPTIMIZER_TYPES)[number], glue.CfnTableOptimizer.TableOptimizerConfigurationProperty> = {
        compaction: { ...base, compactionConfiguration: { icebergConfiguration: { strategy: 'binpack' } } },
        retention: {
          ...base,
          retentionConfiguration: {
            icebergConfiguration: {
              snapshotRetentionPeriodInDays: settings.snapshotRetentionDays,
              numberOfSnapshotsToRetain: settings.snapshotsToRetain,
              cleanExpiredFiles: true,
            },
          },
        },
        orphan_file_deletion: {
          ...base,
          orphanFileDeletionConfiguration: { icebergConfiguration: { orphanFileRetentionPeriodInDays: settings.orphanFileRetentionDays, location: table.location } },
        },
      };
      for (const type of TABLE_OPTIMIZER_TYPES) {
        const optimizer = new glue.CfnTableOptimizer(table, `${pascal(type)}Optimizer`, {
          catalogId: this.account,
          databaseName: this.databaseName,
          tableName: table.tableName,
          type,
          tableOptimizerConfiguration: configurations[type],
        });
        // Glue checks the role when the optimizer is created.
        optimizer.node.addDependency(table.table, policy);
        optimizers.push(optimizer);
      }
    }
    return { role, optimizers };
  }

  /** Lets `grantee` put records on `table`'s delivery stream (PutRecord, PutRecordBatch), nothing else. */
  grantPutRecords(table: OfflineTableName, grantee: iam.IGrantable): iam.Grant {
    return this.deliveryStreams[table].grantPutRecords(grantee);
  }

  /** The variables (lib/core/resources ENV) that name the delivery streams of `tables`, the bucket and the database. */
  deliveryStreamEnvironment(...tables: OfflineTableName[]): Record<string, string> {
    return {
      [ENV.offlineBucket]: this.bucket.bucketName,
      [ENV.offlineDatabase]: this.databaseName,
      ...Object.fromEntries(tables.map((t) => [OFFLINE_STREAM_ENV[t], this.deliveryStreams[t].deliveryStreamName])),
    };
  }
}

/** `feature_log` → `FeatureLog`: construct ids. */
function pascal(name: string): string {
  return name.replace(/(^|_)([a-z])/g, (_, __: string, c: string) => c.toUpperCase());
}
