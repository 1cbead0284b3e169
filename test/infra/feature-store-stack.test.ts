import { Match, Template } from 'aws-cdk-lib/assertions';
import type { CfnElement } from 'aws-cdk-lib';
import { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import { describe, expect, it } from 'vitest';
import { ENV, platformResources } from '../../lib/core/resources';
import { buildFathomApp } from './app-fixture';
import { crossStackRef } from './cross-stack';
import { actionsOf, policyStatements, resourcesOf, statementsFor } from './iam-statements';

const { stacks } = buildFathomApp();
const { featureStore, ingestion } = stacks;
const template = Template.fromStack(featureStore);
const ingestionTemplate = Template.fromStack(ingestion);
const names = platformResources('fathom');

const ref = (value: string): unknown => featureStore.resolve(value);
const tableArn = ref(featureStore.table.tableArn);
const tableKeyArn = ref(featureStore.tableKey.keyArn);
const queueArn = ref(featureStore.deadLetterQueue.queueArn);
const queueKeyArn = ref(featureStore.deadLetterQueue.encryptionKey.keyArn);

const streamArn = crossStackRef(ingestion, ingestionTemplate, ingestion.stream.streamArn);
const streamKeyArn = crossStackRef(ingestion, ingestionTemplate, ingestion.encryptionKey.keyArn);

const roleStatements = policyStatements(template);
const rotatedKeys = template.findResources('AWS::KMS::Key', { Properties: { EnableKeyRotation: true } });
const logicalId = (element: CfnElement): string => featureStore.getLogicalId(element);

describe('FeatureStoreStack: online store', () => {
  it('is an on-demand table keyed and expired as lib/core/resources defines', () => {
    template.resourceCountIs('AWS::DynamoDB::Table', 1);
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      TableName: names.onlineStore.name,
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [{ AttributeName: names.onlineStore.partitionKey.name, KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: names.onlineStore.partitionKey.name, AttributeType: names.onlineStore.partitionKey.type }],
      TimeToLiveSpecification: { AttributeName: names.onlineStore.ttlAttribute, Enabled: true },
    });
  });

  it('has point-in-time recovery and SSE with its own customer-managed key', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: { SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: tableKeyArn },
    });
    expect(Object.keys(rotatedKeys)).toContain(logicalId(featureStore.tableKey.node.defaultChild as kms.CfnKey));
  });

  it('is protected from deletion and retained by default', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', { DeletionProtectionEnabled: true });
    template.hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
  });
});

describe('FeatureStoreStack: dead-letter queue', () => {
  it('is encrypted with a customer-managed key, keeps messages 14 days, and is named from resources', () => {
    template.resourceCountIs('AWS::SQS::Queue', 1);
    template.hasResourceProperties('AWS::SQS::Queue', {
      QueueName: names.featureTransformDlq.name,
      KmsMasterKeyId: queueKeyArn,
      MessageRetentionPeriod: 14 * 24 * 3600,
    });
    const queueKey = featureStore.deadLetterQueue.encryptionKey.node.defaultChild as kms.CfnKey;
    expect(Object.keys(rotatedKeys)).toContain(logicalId(queueKey));
  });

  it('refuses requests without TLS', () => {
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Action: 'sqs:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } }, Resource: queueArn }),
        ]),
      },
    });
  });
});

describe('FeatureStoreStack: feature-transform Lambda', () => {
  it('runs on nodejs22.x, arm64, with the configured memory, timeout and tracing', () => {
    template.resourceCountIs('AWS::Lambda::Function', 1);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs22.x',
      Architectures: ['arm64'],
      Handler: 'index.handler',
      MemorySize: 1024,
      Timeout: 60,
      TracingConfig: { Mode: 'Active' },
    });
  });

  it('gets the resource names and settings the handler reads', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: {
          [ENV.onlineStoreTable]: ref(featureStore.table.tableName),
          [ENV.dlqUrl]: ref(featureStore.deadLetterQueue.queueUrl),
          [ENV.allowedLatenessSeconds]: '300',
          [ENV.stateTtlDays]: '45',
          POWERTOOLS_SERVICE_NAME: 'feature-transform',
          POWERTOOLS_METRICS_NAMESPACE: 'Fathom',
          POWERTOOLS_LOG_LEVEL: 'INFO',
          NODE_OPTIONS: '--enable-source-maps',
        },
      },
    });
  });

  it('logs raw events and feature vectors to exactly the offline store’s two delivery streams', () => {
    const { offlineStore } = stacks;
    const streamArns = (['events', 'feature_log'] as const).map((t) => ref(offlineStore.deliveryStreams[t].deliveryStreamArn));
    const firehose = statementsFor(policyStatements(template), 'firehose');
    expect([...new Set(firehose.flatMap(actionsOf))].sort()).toEqual(['firehose:PutRecord', 'firehose:PutRecordBatch']);
    expect(firehose.flatMap(resourcesOf)).toEqual(expect.arrayContaining(streamArns));
    expect(firehose.flatMap(resourcesOf)).toHaveLength(2);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          [ENV.eventsDeliveryStream]: ref(offlineStore.deliveryStreams.events.deliveryStreamName),
          [ENV.featureLogDeliveryStream]: ref(offlineStore.deliveryStreams.feature_log.deliveryStreamName),
        }),
      },
    });
  });

  it('logs to its own log group with a retention', () => {
    const logGroup = ref(featureStore.featureTransform.logGroup.logGroupName);
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
    template.hasResourceProperties('AWS::Lambda::Function', { LoggingConfig: { LogGroup: logGroup } });
  });

  it('reads the events stream with batching, bisection, partial failures and an on-failure queue', () => {
    template.resourceCountIs('AWS::Lambda::EventSourceMapping', 1);
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: streamArn,
      StartingPosition: 'TRIM_HORIZON',
      BatchSize: 500,
      MaximumBatchingWindowInSeconds: 1,
      ParallelizationFactor: 1,
      BisectBatchOnFunctionError: true,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      MaximumRetryAttempts: 5,
      MaximumRecordAgeInSeconds: 86_400,
      DestinationConfig: { OnFailure: { Destination: queueArn } },
    });
  });
});

describe('FeatureStoreStack: least privilege', () => {
  it('gives the function a role with no managed policies', () => {
    template.resourceCountIs('AWS::IAM::Role', 1);
    const roles = template.findResources('AWS::IAM::Role');
    expect(Object.values(roles)[0]?.Properties).not.toHaveProperty('ManagedPolicyArns');
  });

  it('allows exactly the item operations of the handler, on the online store only', () => {
    const dynamo = statementsFor(roleStatements, 'dynamodb');
    // Reads: BatchGetItem, and GetItem after a conflict; writes: BatchExecuteStatement of PartiQL INSERT and UPDATE.
    expect(dynamo.flatMap(actionsOf).sort()).toEqual(['dynamodb:BatchGetItem', 'dynamodb:GetItem', 'dynamodb:PartiQLInsert', 'dynamodb:PartiQLUpdate']);
    expect(dynamo.flatMap(resourcesOf)).toEqual([tableArn]);
  });

  it('allows sending to the dead-letter queue only, and nothing else on SQS', () => {
    const sqs = statementsFor(roleStatements, 'sqs');
    expect(sqs.flatMap(actionsOf)).toEqual(['sqs:SendMessage']);
    expect(sqs.flatMap(resourcesOf)).toEqual([queueArn]);
  });

  it('reads the events stream only', () => {
    const kinesis = statementsFor(roleStatements, 'kinesis');
    expect(kinesis.length).toBeGreaterThan(0);
    expect(kinesis.flatMap(actionsOf)).toEqual(expect.arrayContaining(['kinesis:GetRecords', 'kinesis:GetShardIterator']));
    expect(kinesis.flatMap(actionsOf).filter((a) => a.startsWith('kinesis:Put'))).toEqual([]);
    const isStream = Match.objectLike(streamArn as Record<string, unknown>);
    for (const resource of kinesis.flatMap(resourcesOf)) expect(isStream.test(resource).hasFailed(), JSON.stringify(resource)).toBe(false);
  });

  it('uses each KMS key only for what its service needs', () => {
    const kms = statementsFor(roleStatements, 'kms');
    const byKey = (arn: unknown) => kms.filter((s) => resourcesOf(s).some((r) => JSON.stringify(r) === JSON.stringify(arn)));
    const viaService = (service: string) => ({ StringEquals: { 'kms:ViaService': { 'Fn::Join': ['', [`${service}.`, { Ref: 'AWS::Region' }, '.', { Ref: 'AWS::URLSuffix' }]] } } });
    expect(byKey(tableKeyArn)).toEqual([expect.objectContaining({ Action: ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey'], Condition: viaService('dynamodb') })]);
    expect(byKey(queueKeyArn)).toEqual([expect.objectContaining({ Action: ['kms:Decrypt', 'kms:GenerateDataKey'], Condition: viaService('sqs') })]);
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Action: 'kms:Decrypt', Resource: streamKeyArn })]) },
    });
  });

  it("has no wildcard actions, and a '*' resource only for X-Ray, which has no resource-level permissions", () => {
    expect(roleStatements.flatMap(actionsOf).filter((a) => a.includes('*'))).toEqual([]);
    const starStatements = roleStatements.filter((s) => resourcesOf(s).includes('*'));
    expect(starStatements.flatMap(actionsOf).sort()).toEqual(['xray:PutTelemetryRecords', 'xray:PutTraceSegments']);
  });
});

describe('FeatureStoreStack: configuration and grants', () => {
  const customApp = buildFathomApp({
    prefix: 'acme',
    featureTransform: { batchSize: 100, maximumRecordAgeSeconds: -1, maximumRetryAttempts: -1, bisectOnError: false, tracing: false, memoryMb: 2048, logRetentionDays: 7 },
    features: { allowedLatenessSeconds: 60, stateTtlDays: 10 },
    onlineStore: { deletionProtection: false, removalPolicy: 'destroy' },
  });
  const custom = customApp.stacks.featureStore;
  // A consumer in its own stack, as the serving stack will be.
  const consumer = new Stack(customApp.app, 'Consumer');
  const reader = new iam.Role(consumer, 'Reader', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
  custom.grantReadFeatures(reader);
  const t = Template.fromStack(custom);
  const consumerTemplate = Template.fromStack(consumer);

  it('names resources with the configured prefix', () => {
    t.hasResourceProperties('AWS::DynamoDB::Table', { TableName: 'acme-online-store' });
    t.hasResourceProperties('AWS::SQS::Queue', { QueueName: 'acme-feature-transform-dlq' });
  });

  it('lets a development deployment drop the table', () => {
    t.hasResourceProperties('AWS::DynamoDB::Table', { DeletionProtectionEnabled: false });
    t.hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Delete' });
  });

  it('passes event source and Lambda settings through, leaving out "no limit" values', () => {
    t.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      BatchSize: 100,
      BisectBatchOnFunctionError: false,
      MaximumRetryAttempts: -1,
      MaximumRecordAgeInSeconds: Match.absent(),
    });
    t.hasResourceProperties('AWS::Lambda::Function', {
      MemorySize: 2048,
      TracingConfig: Match.absent(),
      Environment: { Variables: Match.objectLike({ [ENV.allowedLatenessSeconds]: '60', [ENV.stateTtlDays]: '10' }) },
    });
    t.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 7 });
  });

  it("without tracing, grants no '*' resource at all", () => {
    expect(policyStatements(t).filter((s) => resourcesOf(s).includes('*'))).toEqual([]);
  });

  it('grantReadFeatures allows reading entity items and decrypting them through DynamoDB, nothing more', () => {
    const statements = policyStatements(consumerTemplate);
    expect(statements.flatMap(actionsOf).sort()).toEqual(['dynamodb:BatchGetItem', 'dynamodb:GetItem', 'kms:Decrypt']);
    const kmsStatement = statementsFor(statements, 'kms')[0];
    expect(kmsStatement?.Condition?.StringEquals).toHaveProperty(['kms:ViaService']);
    const table = crossStackRef(custom, t, custom.table.tableArn);
    consumerTemplate.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Action: ['dynamodb:BatchGetItem', 'dynamodb:GetItem'], Resource: table })]) },
    });
  });
});
