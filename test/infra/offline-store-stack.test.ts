import type { CfnElement } from 'aws-cdk-lib';
import { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { describe, expect, it } from 'vitest';
import { OFFLINE_TABLES } from '../../lib/core/offline/tables';
import { ENV, OFFLINE_STREAM_ENV, OFFLINE_TABLE_NAMES, platformResources } from '../../lib/core/resources';
import { DEFAULT_CONFIG, loadConfig } from '../../lib/infra/config';
import { glueFieldType } from '../../lib/infra/constructs/iceberg-table';
import { OfflineStoreStack, TABLE_OPTIMIZER_TYPES } from '../../lib/infra/stacks/offline-store-stack';
import { newApp } from './app-fixture';
import { actionsOf, policyStatements, resourcesOf, type Statement } from './iam-statements';

/** The stack with one producer role granted the feature_log stream, as the feature-transform function would hold it. */
function build(config = DEFAULT_CONFIG) {
  const app = newApp();
  const stack = new OfflineStoreStack(app, 'OfflineStore', { config });
  const producer = new iam.Role(stack, 'Producer', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
  stack.grantPutRecords('feature_log', producer);
  return { stack, template: Template.fromStack(stack), producer };
}

const { stack, template, producer } = build();
const names = platformResources('fathom').offlineStore;
const ref = (value: string): unknown => stack.resolve(value);
const logicalId = (element: CfnElement): string => stack.getLogicalId(element);
const bucketId = (bucket: s3.Bucket) => logicalId(bucket.node.defaultChild as s3.CfnBucket);
const keyId = (key: kms.Key) => logicalId(key.node.defaultChild as kms.CfnKey);

const bucketArn = ref(stack.bucket.bucketArn);
const keyArn = ref(stack.bucketKey.keyArn);
const arn = (service: string, resource: string) => ({ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:${service}:`, { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, `:${resource}`]] });
const catalogArn = arn('glue', 'catalog');
const databaseArn = arn('glue', `database/${names.database}`);
const tableArn = (table: string) => arn('glue', `table/${names.database}/${table}`);
const objects = (prefix: string) => ref(stack.bucket.arnForObjects(`${prefix}*`));
const viaS3 = { StringEquals: { 'kms:ViaService': { 'Fn::Join': ['', ['s3.', { Ref: 'AWS::Region' }, '.', { Ref: 'AWS::URLSuffix' }]] } } };
const tablePrefix = (table: string) => `warehouse/${names.database}/${table}/`;
const errorPrefix = (table: keyof typeof names.deliveryStreams) => `firehose-errors/${names.deliveryStreams[table].name}/`;
const s3Location = (prefix: string) => ({ 'Fn::Join': ['', ['s3://', { Ref: bucketId(stack.bucket) }, `/${prefix}`]] });

/** The statements of the policies attached to `role`. */
function statementsOf(role: iam.IRole, t = template, s: Stack = stack): Statement[] {
  const roleId = s.getLogicalId(role.node.defaultChild as iam.CfnRole);
  const policies = t.findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: roleId }] } }) as Record<string, { Properties: { PolicyDocument: { Statement: Statement[] } } }>;
  return Object.values(policies).flatMap((p) => p.Properties.PolicyDocument.Statement);
}

/** action → the resources (and condition) it is allowed on, one line each, for exact comparison. */
const grantsOf = (role: iam.IRole, t = template, s: Stack = stack): string[] =>
  statementsOf(role, t, s)
    .flatMap((st) => actionsOf(st).flatMap((a) => resourcesOf(st).map((r) => `${a} ${JSON.stringify(r)}${st.Condition ? ` ${JSON.stringify(st.Condition)}` : ''}`)))
    .sort();
const line = (action: string, resource: unknown, condition?: unknown) => `${action} ${JSON.stringify(resource)}${condition ? ` ${JSON.stringify(condition)}` : ''}`;

describe('OfflineStoreStack: lakehouse bucket', () => {
  it('is versioned, encrypted with its own rotating customer key, private, TLS-only, logged and retained', () => {
    template.hasResource('AWS::S3::Bucket', {
      Properties: {
        VersioningConfiguration: { Status: 'Enabled' },
        BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: keyArn }, BucketKeyEnabled: true }] },
        PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
        OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
        LoggingConfiguration: { DestinationBucketName: { Ref: bucketId(stack.accessLogsBucket) }, LogFilePrefix: 'lakehouse/' },
        LifecycleConfiguration: {
          Rules: [
            { AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 }, Status: 'Enabled' },
            { NoncurrentVersionExpiration: { NoncurrentDays: 30 }, ExpiredObjectDeleteMarker: true, Status: 'Enabled' },
          ],
        },
      },
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
    });
    template.hasResource('AWS::KMS::Key', { Properties: { EnableKeyRotation: true }, DeletionPolicy: 'Retain' });
    template.resourceCountIs('AWS::KMS::Key', 1);
    template.hasResourceProperties('AWS::KMS::Alias', { AliasName: 'alias/fathom-lakehouse', TargetKeyId: keyArn });
    expect(keyId(stack.bucketKey)).toMatch(/^LakehouseKey/);
    for (const bucket of [stack.bucket, stack.accessLogsBucket]) {
      template.hasResourceProperties('AWS::S3::BucketPolicy', {
        Bucket: { Ref: bucketId(bucket) },
        PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Action: 's3:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
      });
    }
  });

  it('logs to a private, TLS-only SSE-S3 bucket that expires logs after the configured days', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
      LifecycleConfiguration: { Rules: [Match.objectLike({ ExpirationInDays: 365, Status: 'Enabled' })] },
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
    });
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: bucketId(stack.accessLogsBucket) },
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Allow', Action: 's3:PutObject', Principal: { Service: 'logging.s3.amazonaws.com' } })]) },
    });
  });
});

describe('OfflineStoreStack: Glue database and Iceberg tables', () => {
  it('has one database, located in the warehouse prefix', () => {
    template.resourceCountIs('AWS::Glue::Database', 1);
    template.hasResource('AWS::Glue::Database', {
      Properties: { CatalogId: { Ref: 'AWS::AccountId' }, DatabaseInput: { Name: 'fathom_offline', LocationUri: s3Location(`warehouse/${names.database}/`), Description: Match.anyValue() } },
      DeletionPolicy: 'Retain',
    });
  });

  it.each(OFFLINE_TABLE_NAMES)('%s: Iceberg v2 created by Glue from the shared definition (ids, types, day partition), no TableInput', (name) => {
    const definition = OFFLINE_TABLES[name];
    const tables = template.findResources('AWS::Glue::Table', { Properties: { Name: name } });
    expect(Object.keys(tables)).toHaveLength(1);
    const [resource] = Object.values(tables) as { Properties: Record<string, unknown>; DependsOn: string[]; DeletionPolicy: string }[];
    expect(resource!.Properties).toEqual({
      CatalogId: { Ref: 'AWS::AccountId' },
      DatabaseName: names.database,
      Name: name,
      OpenTableFormatInput: {
        IcebergInput: {
          MetadataOperation: 'CREATE',
          Version: '2',
          IcebergTableInput: {
            Location: s3Location(tablePrefix(name)),
            Schema: {
              SchemaId: 0,
              Type: 'struct',
              Fields: definition.schema.fields.map((f) => ({ Id: f.id, Name: f.name, Required: f.required, Type: glueFieldType(f.type), Doc: f.doc })),
            },
            PartitionSpec: {
              SpecId: 0,
              Fields: definition.partitionSpec.fields.map((f) => ({ Name: f.name, SourceId: f['source-id'], FieldId: 1000, Transform: 'day' })),
            },
            Properties: { 'format-version': '2', 'write.format.default': 'parquet', comment: definition.doc },
          },
        },
      },
    });
    expect(resource!.DependsOn).toEqual(['Database']);
    expect(resource!.DeletionPolicy).toBe('Retain');
  });

  it('partitions by day of each table time column, as tables.ts says: event_time, labeled_at for labels', () => {
    const spec = (name: string) => {
      const [t] = Object.values(template.findResources('AWS::Glue::Table', { Properties: { Name: name } })) as { Properties: { OpenTableFormatInput: { IcebergInput: { IcebergTableInput: { PartitionSpec: { Fields: { Name: string; SourceId: number }[] } } } } } }[];
      return t!.Properties.OpenTableFormatInput.IcebergInput.IcebergTableInput.PartitionSpec.Fields.map((f) => f.Name);
    };
    expect(OFFLINE_TABLE_NAMES.map(spec)).toEqual([['event_time_day'], ['event_time_day'], ['event_time_day'], ['labeled_at_day']]);
    // The source id names the time column itself.
    expect(OFFLINE_TABLES.labels.schema.fields.find((f) => f.id === OFFLINE_TABLES.labels.partitionSpec.fields[0]!['source-id'])?.name).toBe('labeled_at');
  });

  it('gives a list column the JSON of the Iceberg spec and primitives their name', () => {
    expect(glueFieldType('timestamptz')).toBe('timestamptz');
    const features = OFFLINE_TABLES.feature_log.schema.fields.find((f) => f.name === 'features')!;
    expect(JSON.parse(glueFieldType(features.type))).toEqual({ type: 'list', 'element-id': 8, 'element-required': false, element: 'double' });
  });

  it('declares exactly the tables lib/core/offline/tables.ts defines', () => {
    expect([...OFFLINE_TABLE_NAMES].sort()).toEqual(Object.keys(OFFLINE_TABLES).sort());
    template.resourceCountIs('AWS::Glue::Table', 4);
  });
});

describe('OfflineStoreStack: delivery streams', () => {
  it.each(OFFLINE_TABLE_NAMES)('%s: DirectPut, KMS at rest, Apache Iceberg destination into its one table', (name) => {
    const delivery = stack.deliveryStreams[name];
    const roleArn = ref(delivery.role.roleArn);
    const logging = { Enabled: true, LogGroupName: { Ref: logicalId(delivery.logGroup.node.defaultChild as CfnElement) }, LogStreamName: Match.objectLike({ Ref: Match.stringLikeRegexp('DeliveryLogs') }) };
    const hints = { IntervalInSeconds: 300, SizeInMBs: 128 };
    template.hasResource('AWS::KinesisFirehose::DeliveryStream', {
      Properties: {
        DeliveryStreamName: names.deliveryStreams[name].name,
        DeliveryStreamType: 'DirectPut',
        DeliveryStreamEncryptionConfigurationInput: { KeyType: 'CUSTOMER_MANAGED_CMK', KeyARN: keyArn },
        IcebergDestinationConfiguration: {
          RoleARN: roleArn,
          CatalogConfiguration: { CatalogArn: catalogArn },
          DestinationTableConfigurationList: [{ DestinationDatabaseName: names.database, DestinationTableName: name, S3ErrorOutputPrefix: errorPrefix(name) }],
          AppendOnly: true,
          BufferingHints: hints,
          RetryOptions: { DurationInSeconds: 300 },
          CloudWatchLoggingOptions: logging,
          s3BackupMode: 'FailedDataOnly',
          S3Configuration: {
            BucketARN: bucketArn,
            RoleARN: roleArn,
            ErrorOutputPrefix: errorPrefix(name),
            BufferingHints: hints,
            CompressionFormat: 'UNCOMPRESSED',
            EncryptionConfiguration: { KMSEncryptionConfig: { AWSKMSKeyARN: keyArn } },
            CloudWatchLoggingOptions: logging,
          },
        },
      },
    });
    // Created after its role's policy and its table: Firehose checks both.
    const [resource] = Object.values(template.findResources('AWS::KinesisFirehose::DeliveryStream', { Properties: { DeliveryStreamName: names.deliveryStreams[name].name } })) as { DependsOn: string[] }[];
    expect(resource!.DependsOn).toEqual(expect.arrayContaining([logicalId(delivery.policy.node.defaultChild as CfnElement), logicalId(stack.tables[name].table)]));
    template.hasResourceProperties('AWS::Logs::LogGroup', { LogGroupName: `/aws/kinesisfirehose/${names.deliveryStreams[name].name}`, RetentionInDays: 30 });
    template.hasResourceProperties('AWS::Logs::LogStream', { LogGroupName: { Ref: logicalId(delivery.logGroup.node.defaultChild as CfnElement) }, LogStreamName: 'DestinationDelivery' });
  });

  it.each(OFFLINE_TABLE_NAMES)('%s: its role may use its own table, table folder, error prefix, log stream and the key through S3, nothing else', (name) => {
    const delivery = stack.deliveryStreams[name];
    template.hasResourceProperties('AWS::IAM::Role', {
      RoleName: Match.absent(),
      AssumeRolePolicyDocument: {
        Statement: [{ Effect: 'Allow', Action: 'sts:AssumeRole', Principal: { Service: 'firehose.amazonaws.com' }, Condition: { StringEquals: { 'sts:ExternalId': { Ref: 'AWS::AccountId' } } } }],
      },
      Description: Match.stringLikeRegexp(`fathom_offline\\.${name} Iceberg table`),
    });
    const logStream = arn('logs', `log-group:/aws/kinesisfirehose/${names.deliveryStreams[name].name}:log-stream:DestinationDelivery`);
    expect(grantsOf(delivery.role)).toEqual(
      [
        ...['glue:GetDatabase', 'glue:GetTable', 'glue:UpdateTable'].flatMap((a) => [catalogArn, databaseArn, tableArn(name)].map((r) => line(a, r))),
        ...['s3:AbortMultipartUpload', 's3:GetObject', 's3:PutObject', 's3:DeleteObject'].flatMap((a) => [objects(tablePrefix(name)), objects(errorPrefix(name))].map((r) => line(a, r))),
        ...['s3:GetBucketLocation', 's3:ListBucket', 's3:ListBucketMultipartUploads'].map((a) => line(a, bucketArn)),
        line('logs:PutLogEvents', logStream),
        line('kms:Decrypt', keyArn, viaS3),
        line('kms:GenerateDataKey', keyArn, viaS3),
      ].sort(),
    );
  });

  it('grantPutRecords: PutRecord and PutRecordBatch on that table’s stream only, and no KMS', () => {
    expect(grantsOf(producer)).toEqual(
      ['firehose:PutRecord', 'firehose:PutRecordBatch'].map((a) => line(a, ref(stack.deliveryStreams.feature_log.deliveryStreamArn))).sort(),
    );
    expect(ref(stack.deliveryStreams.feature_log.deliveryStreamArn)).toEqual({ 'Fn::GetAtt': [logicalId(stack.deliveryStreams.feature_log.deliveryStream), 'Arn'] });
  });

  it('grants to a role in another stack without a dependency cycle', () => {
    const app = newApp();
    const offline = new OfflineStoreStack(app, 'OfflineStore');
    const consumer = new Stack(app, 'Consumer');
    const fn = new iam.Role(consumer, 'Fn', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    offline.grantPutRecords('predictions', fn);
    const statements = policyStatements(Template.fromStack(consumer));
    expect(statements.flatMap(actionsOf).sort()).toEqual(['firehose:PutRecord', 'firehose:PutRecordBatch']);
    expect(consumer.dependencies).toContain(offline);
    expect(offline.dependencies).toEqual([]);
  });

  it('hands the stream names, bucket and database to functions (ENV) and to operators (an output)', () => {
    expect(stack.resolve(stack.deliveryStreamEnvironment('feature_log', 'predictions'))).toEqual({
      [ENV.offlineBucket]: ref(stack.bucket.bucketName),
      [ENV.offlineDatabase]: 'fathom_offline',
      [OFFLINE_STREAM_ENV.feature_log]: 'fathom-offline-feature_log',
      [OFFLINE_STREAM_ENV.predictions]: 'fathom-offline-predictions',
    });
    const outputs = template.toJSON().Outputs as Record<string, { Value: unknown }>;
    const text = JSON.stringify(outputs.OfflineStoreEnvironment?.Value);
    for (const name of OFFLINE_TABLE_NAMES) expect(text).toContain(`${OFFLINE_STREAM_ENV[name]}=${names.deliveryStreams[name].name}`);
  });
});

describe('OfflineStoreStack: table optimizers', () => {
  it.each(OFFLINE_TABLE_NAMES)('%s: compaction (binpack), snapshot retention and orphan-file deletion, with the optimizer role', (name) => {
    const roleArn = ref(stack.optimizerRole!.roleArn);
    const base = { CatalogId: { Ref: 'AWS::AccountId' }, DatabaseName: names.database, TableName: name };
    template.hasResourceProperties('AWS::Glue::TableOptimizer', {
      ...base,
      Type: 'compaction',
      TableOptimizerConfiguration: { RoleArn: roleArn, Enabled: true, CompactionConfiguration: { IcebergConfiguration: { Strategy: 'binpack' } } },
    });
    template.hasResourceProperties('AWS::Glue::TableOptimizer', {
      ...base,
      Type: 'retention',
      TableOptimizerConfiguration: {
        RoleArn: roleArn,
        Enabled: true,
        RetentionConfiguration: { IcebergConfiguration: { SnapshotRetentionPeriodInDays: 30, NumberOfSnapshotsToRetain: 10, CleanExpiredFiles: true } },
      },
    });
    template.hasResourceProperties('AWS::Glue::TableOptimizer', {
      ...base,
      Type: 'orphan_file_deletion',
      TableOptimizerConfiguration: {
        RoleArn: roleArn,
        Enabled: true,
        OrphanFileDeletionConfiguration: { IcebergConfiguration: { OrphanFileRetentionPeriodInDays: 3, Location: s3Location(tablePrefix(name)) } },
      },
    });
  });

  it('creates each optimizer after its table and the role policy', () => {
    const optimizers = template.findResources('AWS::Glue::TableOptimizer') as Record<string, { Properties: { TableName: string }; DependsOn: string[] }>;
    expect(Object.keys(optimizers)).toHaveLength(OFFLINE_TABLE_NAMES.length * TABLE_OPTIMIZER_TYPES.length);
    for (const o of Object.values(optimizers)) {
      expect(o.DependsOn).toEqual(expect.arrayContaining([logicalId(stack.tables[o.Properties.TableName as 'events'].table)]));
      expect(o.DependsOn.some((d) => d.startsWith('TableOptimizerPolicy'))).toBe(true);
    }
  });

  it('runs as a Glue role allowed the four table folders, the four tables, Glue’s optimizer log groups and the key through S3', () => {
    const role = stack.optimizerRole!;
    template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: { Statement: [{ Effect: 'Allow', Action: 'sts:AssumeRole', Principal: { Service: 'glue.amazonaws.com' } }] },
      Description: Match.stringLikeRegexp('Glue table optimizers'),
    });
    const logGroups = ['compaction', 'retention', 'orphan-file-deletion'].map((t) => arn('logs', `log-group:/aws-glue/iceberg-${t}/logs:*`));
    expect(grantsOf(role)).toEqual(
      [
        ...['s3:GetObject', 's3:PutObject', 's3:DeleteObject'].flatMap((a) => OFFLINE_TABLE_NAMES.map((t) => line(a, objects(tablePrefix(t))))),
        line('s3:ListBucket', bucketArn),
        ...['glue:GetTable', 'glue:UpdateTable'].flatMap((a) => [catalogArn, databaseArn, ...OFFLINE_TABLE_NAMES.map(tableArn)].map((r) => line(a, r))),
        ...['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents'].flatMap((a) => logGroups.map((r) => line(a, r))),
        ...['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey'].map((a) => line(a, keyArn, viaS3)),
      ].sort(),
    );
  });
});

describe('OfflineStoreStack: least privilege across the stack', () => {
  it('names no action wildcard, and a resource wildcard only for objects under a table folder or error prefix, or a log group’s streams', () => {
    const allowedWildcards = [
      ...OFFLINE_TABLE_NAMES.map((t) => JSON.stringify(objects(tablePrefix(t)))),
      ...OFFLINE_TABLE_NAMES.map((t) => JSON.stringify(objects(errorPrefix(t)))),
      ...['compaction', 'retention', 'orphan-file-deletion'].map((t) => JSON.stringify(arn('logs', `log-group:/aws-glue/iceberg-${t}/logs:*`))),
    ];
    for (const s of policyStatements(template)) {
      for (const action of actionsOf(s)) expect(action).not.toMatch(/\*/);
      for (const resource of resourcesOf(s)) {
        const text = JSON.stringify(resource);
        if (text.includes('*')) expect(allowedWildcards).toContain(text);
      }
    }
  });
});

describe('OfflineStoreStack: settings', () => {
  it('takes buffering, retry, retention and log settings from the config', () => {
    const { template: t } = build(
      loadConfig({
        offlineStore: {
          bufferingIntervalSeconds: 60,
          bufferingSizeMiB: 32,
          retryDurationSeconds: 900,
          logRetentionDays: 7,
          snapshotRetentionDays: 90,
          snapshotsToRetain: 3,
          orphanFileRetentionDays: 7,
          noncurrentVersionRetentionDays: 14,
          accessLogRetentionDays: 90,
        },
      }),
    );
    const streams = Object.values(t.findResources('AWS::KinesisFirehose::DeliveryStream')) as { Properties: { IcebergDestinationConfiguration: { BufferingHints: unknown; RetryOptions: unknown } } }[];
    expect(streams).toHaveLength(4);
    for (const s of streams) {
      expect(s.Properties.IcebergDestinationConfiguration.BufferingHints).toEqual({ IntervalInSeconds: 60, SizeInMBs: 32 });
      expect(s.Properties.IcebergDestinationConfiguration.RetryOptions).toEqual({ DurationInSeconds: 900 });
    }
    t.allResourcesProperties('AWS::Logs::LogGroup', { RetentionInDays: 7 });
    t.hasResourceProperties('AWS::Glue::TableOptimizer', {
      Type: 'retention',
      TableOptimizerConfiguration: Match.objectLike({ RetentionConfiguration: { IcebergConfiguration: { SnapshotRetentionPeriodInDays: 90, NumberOfSnapshotsToRetain: 3, CleanExpiredFiles: true } } }),
    });
    t.hasResourceProperties('AWS::Glue::TableOptimizer', {
      Type: 'orphan_file_deletion',
      TableOptimizerConfiguration: Match.objectLike({ OrphanFileDeletionConfiguration: { IcebergConfiguration: Match.objectLike({ OrphanFileRetentionPeriodInDays: 7 }) } }),
    });
    t.hasResourceProperties('AWS::S3::Bucket', { LifecycleConfiguration: { Rules: Match.arrayWith([Match.objectLike({ NoncurrentVersionExpiration: { NoncurrentDays: 14 } })]) } });
    t.hasResourceProperties('AWS::S3::Bucket', { LifecycleConfiguration: { Rules: [Match.objectLike({ ExpirationInDays: 90 })] } });
  });

  it('without table optimizers has neither optimizers nor their role', () => {
    const { stack: s, template: t } = build(loadConfig({ offlineStore: { tableOptimizers: false } }));
    t.resourceCountIs('AWS::Glue::TableOptimizer', 0);
    expect(s.optimizerRole).toBeUndefined();
    expect(s.optimizers).toEqual([]);
    t.resourceCountIs('AWS::IAM::Role', 4 + 1);
  });

  it('destroy applies to the bucket, key, database and tables', () => {
    const { template: t } = build(loadConfig({ offlineStore: { removalPolicy: 'destroy' } }));
    for (const type of ['AWS::S3::Bucket', 'AWS::KMS::Key', 'AWS::Glue::Database', 'AWS::Glue::Table', 'AWS::Logs::LogGroup']) {
      for (const resource of Object.values(t.findResources(type)) as { DeletionPolicy?: string }[]) expect(resource.DeletionPolicy, type).toBe('Delete');
    }
  });

  it('names streams and the database after the prefix', () => {
    const { template: t } = build(loadConfig({ prefix: 'fraud-eu' }));
    t.hasResourceProperties('AWS::Glue::Database', { DatabaseInput: Match.objectLike({ Name: 'fraud_eu_offline' }) });
    t.hasResourceProperties('AWS::KinesisFirehose::DeliveryStream', { DeliveryStreamName: 'fraud-eu-offline-labels' });
  });
});
