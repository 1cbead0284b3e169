import type { CfnElement } from 'aws-cdk-lib';
import { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { describe, expect, it } from 'vitest';
import { ENV, platformResources } from '../../lib/core/resources';
import { DEFAULT_CONFIG, loadConfig } from '../../lib/infra/config';
import { RegistryStack } from '../../lib/infra/stacks/registry-stack';
import { newApp } from './app-fixture';
import { actionsOf, policyStatements, resourcesOf, type Statement } from './iam-statements';

/** The registry stack with one role per grant, as its consumers would hold them. */
function build(config = DEFAULT_CONFIG) {
  const app = newApp();
  const stack = new RegistryStack(app, 'ModelRegistry', { config });
  const role = (id: string) => new iam.Role(stack, id, { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
  const [reader, promoter, registrar] = [role('Reader'), role('Promoter'), role('Registrar')];
  stack.grantRead(reader);
  stack.grantPromote(promoter);
  stack.grantRegister(registrar);
  return { stack, template: Template.fromStack(stack), roles: { reader, promoter, registrar } };
}

const { stack, template, roles } = build();
const names = platformResources('fathom');
const ref = (value: string): unknown => stack.resolve(value);
const logicalId = (element: CfnElement): string => stack.getLogicalId(element);
const keyId = (key: kms.Key) => logicalId(key.node.defaultChild as kms.CfnKey);
const bucketId = (bucket: s3.Bucket) => logicalId(bucket.node.defaultChild as s3.CfnBucket);

const tableArn = ref(stack.table.tableArn);
const bucketArn = ref(stack.bucket.bucketArn);
const packageObjects = ref(stack.bucket.arnForObjects('models/*'));
const signingKeyArn = ref(stack.signingKey.keyArn);
const viaService = (service: string) => ({ StringEquals: { 'kms:ViaService': { 'Fn::Join': ['', [`${service}.`, { Ref: 'AWS::Region' }, '.', { Ref: 'AWS::URLSuffix' }]] } } });

/** The statements of the policy attached to `role`. */
function statementsOf(role: iam.Role): Statement[] {
  const roleId = logicalId(role.node.defaultChild as iam.CfnRole);
  const policies = template.findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: roleId }] } }) as Record<
    string,
    { Properties: { PolicyDocument: { Statement: Statement[] } } }
  >;
  return Object.values(policies).flatMap((p) => p.Properties.PolicyDocument.Statement);
}

/** action → the resources (and condition) it is allowed on, one line each, for exact comparison. */
function grantsOf(role: iam.Role): string[] {
  return statementsOf(role)
    .flatMap((s) => actionsOf(s).map((a) => `${a} ${JSON.stringify(resourcesOf(s))}${s.Condition ? ` ${JSON.stringify(s.Condition)}` : ''}`))
    .sort();
}

const line = (action: string, resource: unknown, condition?: unknown) => `${action} ${JSON.stringify([resource])}${condition ? ` ${JSON.stringify(condition)}` : ''}`;

describe('RegistryStack: signing key', () => {
  it('is an ECC_NIST_P256 SIGN_VERIFY key with an alias, never deleted with the stack', () => {
    template.hasResource('AWS::KMS::Key', {
      Properties: { KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY', EnableKeyRotation: false },
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
    });
    template.hasResourceProperties('AWS::KMS::Alias', { AliasName: 'alias/fathom-model-signing', TargetKeyId: signingKeyArn });
  });
});

describe('RegistryStack: package bucket', () => {
  it('is versioned, encrypted with its own rotating customer key, private, TLS-only and logged', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      VersioningConfiguration: { Status: 'Enabled' },
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [
          { ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: ref(stack.bucketKey.keyArn) }, BucketKeyEnabled: true },
        ],
      },
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      LoggingConfiguration: { DestinationBucketName: { Ref: bucketId(stack.accessLogsBucket) }, LogFilePrefix: 'model-bucket/' },
    });
    template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true, KeyPolicy: Match.anyValue() });
    const rotated = Object.keys(template.findResources('AWS::KMS::Key', { Properties: { EnableKeyRotation: true } }));
    expect(rotated.sort()).toEqual([keyId(stack.bucketKey), keyId(stack.tableKey)].sort());
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: bucketId(stack.bucket) },
      PolicyDocument: {
        Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Action: 's3:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]),
      },
    });
    template.hasResource('AWS::S3::Bucket', { Properties: { VersioningConfiguration: { Status: 'Enabled' } }, DeletionPolicy: 'Retain' });
  });

  it('logs to a private, TLS-only SSE-S3 bucket that expires logs after the configured days', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
      LifecycleConfiguration: { Rules: [Match.objectLike({ ExpirationInDays: 365, Status: 'Enabled' })] },
      OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
    });
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: bucketId(stack.accessLogsBucket) },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          Match.objectLike({ Effect: 'Allow', Action: 's3:PutObject', Principal: { Service: 'logging.s3.amazonaws.com' } }),
        ]),
      },
    });
  });
});

describe('RegistryStack: registry table', () => {
  it('is keyed as lib/core/resources defines, on demand, with PITR and its own customer key, protected and retained', () => {
    template.resourceCountIs('AWS::DynamoDB::Table', 1);
    template.hasResource('AWS::DynamoDB::Table', {
      Properties: {
        TableName: names.modelRegistry.name,
        BillingMode: 'PAY_PER_REQUEST',
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        SSESpecification: { SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: ref(stack.tableKey.keyArn) },
        DeletionProtectionEnabled: true,
      },
      DeletionPolicy: 'Retain',
    });
  });
});

describe('RegistryStack: grants', () => {
  const tableKey = ref(stack.tableKey.keyArn);
  const bucketKey = ref(stack.bucketKey.keyArn);

  it('grantRead: table reads, package objects, decrypt through each service, and the public half of the signing key', () => {
    expect(grantsOf(roles.reader)).toEqual(
      [
        line('dynamodb:GetItem', tableArn),
        line('dynamodb:Query', tableArn),
        line('dynamodb:Scan', tableArn),
        line('kms:Decrypt', tableKey, viaService('dynamodb')),
        line('s3:GetObject', packageObjects),
        line('s3:GetObjectVersion', packageObjects),
        line('kms:Decrypt', bucketKey, viaService('s3')),
        line('kms:GetPublicKey', signingKeyArn),
        line('kms:Verify', signingKeyArn),
      ].sort(),
    );
  });

  it('grantPromote: the table alone, read and write', () => {
    expect(grantsOf(roles.promoter)).toEqual(
      [
        ...['GetItem', 'Query', 'Scan', 'PutItem', 'UpdateItem'].map((a) => line(`dynamodb:${a}`, tableArn)),
        ...['Decrypt', 'Encrypt', 'GenerateDataKey'].map((a) => line(`kms:${a}`, tableKey, viaService('dynamodb'))),
      ].sort(),
    );
  });

  it('grantRegister: read, table writes, new package objects, and signing', () => {
    const grants = grantsOf(roles.registrar);
    for (const expected of [
      line('s3:PutObject', packageObjects),
      line('s3:ListBucket', bucketArn),
      line('kms:GenerateDataKey', bucketKey, viaService('s3')),
      line('kms:Sign', signingKeyArn),
      line('kms:GetPublicKey', signingKeyArn),
      line('dynamodb:PutItem', tableArn),
      line('dynamodb:UpdateItem', tableArn),
      line('s3:GetObject', packageObjects),
    ]) {
      expect(grants).toContain(expected);
    }
  });

  it('names only these resources and exact actions: no wildcards, no delete, no signing for readers', () => {
    for (const s of policyStatements(template)) {
      for (const action of actionsOf(s)) {
        expect(action).not.toMatch(/\*/);
        expect(action).not.toMatch(/Delete/);
      }
      for (const resource of resourcesOf(s)) expect([tableArn, bucketArn, packageObjects, signingKeyArn, tableKey, bucketKey]).toContainEqual(resource);
    }
    for (const role of [roles.reader, roles.promoter]) expect(grantsOf(role).some((g) => g.startsWith('kms:Sign '))).toBe(false);
    expect(grantsOf(roles.promoter).some((g) => g.startsWith('s3:'))).toBe(false);
  });
});

describe('RegistryStack: hand-over', () => {
  it('gives functions the registry environment and operators the CLI variables', () => {
    expect(stack.resolve(stack.registryEnvironment())).toEqual({
      [ENV.modelRegistryTable]: ref(stack.table.tableName),
      [ENV.modelBucket]: ref(stack.bucket.bucketName),
      [ENV.modelSigningKey]: { 'Fn::Join': ['', ['kms:', signingKeyArn]] },
    });
    const outputs = template.toJSON().Outputs as Record<string, { Value: unknown }>;
    expect(JSON.stringify(outputs.CliEnvironment?.Value)).toContain(`${ENV.modelSigningKey}=kms:`);
  });

  it('grants to a role in another stack, as the serving stack holds one, without a dependency cycle', () => {
    const app = newApp();
    const registry = new RegistryStack(app, 'ModelRegistry');
    const consumer = new Stack(app, 'Consumer');
    registry.grantRead(new iam.Role(consumer, 'Fn', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') }));
    const statements = policyStatements(Template.fromStack(consumer));
    expect(statements.flatMap(actionsOf)).toContain('kms:GetPublicKey');
    expect(consumer.dependencies).toContain(registry);
    expect(registry.dependencies).toEqual([]);
  });
});

describe('RegistryStack: settings', () => {
  it('destroy and no deletion protection apply to the data, never to the signing key', () => {
    const { stack: s, template: t } = build(loadConfig({ registry: { removalPolicy: 'destroy', deletionProtection: false, accessLogRetentionDays: 30 } }));
    t.hasResource('AWS::DynamoDB::Table', { Properties: { DeletionProtectionEnabled: false }, DeletionPolicy: 'Delete' });
    t.hasResource('AWS::S3::Bucket', { Properties: { VersioningConfiguration: { Status: 'Enabled' } }, DeletionPolicy: 'Delete' });
    t.hasResourceProperties('AWS::S3::Bucket', { LifecycleConfiguration: { Rules: [Match.objectLike({ ExpirationInDays: 30 })] } });
    t.hasResource('AWS::KMS::Key', { Properties: { KeySpec: 'ECC_NIST_P256' }, DeletionPolicy: 'Retain' });
    expect(s.signingKey).toBeDefined();
  });

  it('refuses a log retention out of range, naming the field', () => {
    expect(() => loadConfig({ registry: { accessLogRetentionDays: 0 } })).toThrow(/fathom\.registry\.accessLogRetentionDays/);
  });
});
