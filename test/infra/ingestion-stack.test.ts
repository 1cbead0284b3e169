import { Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { describe, expect, it } from 'vitest';
import { platformResources } from '../../lib/core/resources';
import { IngestionStack } from '../../lib/infra/stacks/ingestion-stack';
import { buildFathomApp, newApp } from './app-fixture';
import { actionsOf, policyStatements } from './iam-statements';

const { stacks } = buildFathomApp();
const ingestion = stacks.ingestion;
const template = Template.fromStack(ingestion);
const keyArn = ingestion.resolve(ingestion.encryptionKey.keyArn) as unknown;

describe('IngestionStack', () => {
  it('creates one on-demand events stream named from platformResources', () => {
    template.resourceCountIs('AWS::Kinesis::Stream', 1);
    template.hasResourceProperties('AWS::Kinesis::Stream', {
      Name: platformResources('fathom').eventsStream.name,
      StreamModeDetails: { StreamMode: 'ON_DEMAND' },
      RetentionPeriodHours: 24,
    });
    // On-demand streams take no shard count.
    const streams = template.findResources('AWS::Kinesis::Stream');
    expect(Object.values(streams)[0]?.Properties).not.toHaveProperty('ShardCount');
  });

  it('encrypts the stream with its own customer-managed key, rotated', () => {
    template.hasResourceProperties('AWS::Kinesis::Stream', {
      StreamEncryption: { EncryptionType: 'KMS', KeyId: keyArn },
    });
    template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
    template.hasResource('AWS::KMS::Key', { DeletionPolicy: 'Retain' });
  });

  it('keeps the stream when it leaves the stack', () => {
    template.hasResource('AWS::Kinesis::Stream', { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
  });

  it('takes its name prefix and retention from its props', () => {
    const stack = new IngestionStack(newApp(), 'Custom', { prefix: 'acme', retentionPeriod: Duration.hours(48) });
    Template.fromStack(stack).hasResourceProperties('AWS::Kinesis::Stream', { Name: 'acme-events', RetentionPeriodHours: 48 });
  });

  it('grantWrite allows putting records and only the key operation a producer needs, through Kinesis', () => {
    const app = newApp();
    const stack = new IngestionStack(app, 'Producer');
    const role = new iam.Role(stack, 'Producer', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    stack.grantWrite(role);
    const t = Template.fromStack(stack);
    const statements = policyStatements(t);
    expect(statements.flatMap(actionsOf).sort()).toEqual(['kinesis:ListShards', 'kinesis:PutRecord', 'kinesis:PutRecords', 'kms:GenerateDataKey']);
    t.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Action: Match.arrayWith(['kinesis:PutRecords']), Resource: stack.resolve(stack.stream.streamArn) }),
          Match.objectLike({
            Action: 'kms:GenerateDataKey',
            Resource: stack.resolve(stack.encryptionKey.keyArn),
            Condition: { StringEquals: { 'kms:ViaService': Match.anyValue() } },
          }),
        ]),
      },
    });
  });

  it('exposes the stream and its key', () => {
    expect(ingestion.stream.encryptionKey).toBe(ingestion.encryptionKey);
    expect(Stack.of(ingestion.stream)).toBe(ingestion);
  });
});
