import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Match, Template } from 'aws-cdk-lib/assertions';
import type * as kms from 'aws-cdk-lib/aws-kms';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../lib/infra/entries';
import type { MonitoringStack } from '../../lib/infra/stacks/monitoring-stack';
import { buildFathomApp } from './app-fixture';
import { crossStackRef } from './cross-stack';

const { stacks } = buildFathomApp();
const { featureStore, monitoring } = stacks;
const template = Template.fromStack(monitoring);
const featureStoreTemplate = Template.fromStack(featureStore);

const ref = (stack: MonitoringStack, value: string): unknown => stack.resolve(value);
const topicRef = ref(monitoring, monitoring.topic.topicArn);
const functionName = crossStackRef(featureStore, featureStoreTemplate, featureStore.featureTransform.lambdaFunction.functionName);
const queueName = crossStackRef(featureStore, featureStoreTemplate, featureStore.deadLetterQueue.queue.queueName);

interface AlarmProperties {
  AlarmName: string;
  AlarmDescription: string;
  AlarmActions: unknown[];
  OKActions: unknown[];
}
const alarmProperties = (t: Template): AlarmProperties[] =>
  Object.values(t.findResources('AWS::CloudWatch::Alarm')).map((r) => (r as { Properties: AlarmProperties }).Properties);

describe('MonitoringStack: alarm topic', () => {
  it('is one topic named from the prefix, encrypted with its own rotated customer-managed key', () => {
    template.resourceCountIs('AWS::SNS::Topic', 1);
    template.hasResourceProperties('AWS::SNS::Topic', {
      TopicName: 'fathom-alarms',
      KmsMasterKeyId: ref(monitoring, monitoring.topicKey.keyArn),
    });
    const rotated = template.findResources('AWS::KMS::Key', { Properties: { EnableKeyRotation: true } });
    expect(Object.keys(rotated)).toEqual([monitoring.getLogicalId(monitoring.topicKey.node.defaultChild as kms.CfnKey)]);
    template.hasResourceProperties('AWS::KMS::Alias', { AliasName: 'alias/fathom-alarms' });
  });

  it('lets CloudWatch use the key: an encrypted topic drops alarm notifications otherwise', () => {
    template.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Allow',
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
            Resource: '*',
          }),
        ]),
      },
    });
  });

  it('refuses publishing without TLS', () => {
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      Topics: [topicRef],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Principal: '*', Action: 'sns:Publish', Resource: topicRef, Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });

  it("lets only this account's alarms named with the prefix publish", () => {
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Allow',
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Action: 'sns:Publish',
            Resource: topicRef,
            Condition: {
              ArnLike: {
                'aws:SourceArn': {
                  'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':cloudwatch:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':alarm:fathom-*']],
                },
              },
              StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
            },
          }),
        ]),
      },
    });
  });

  it('has no subscription when alarms.email is not configured', () => {
    template.resourceCountIs('AWS::SNS::Subscription', 0);
    expect(monitoring.emailSubscription).toBeUndefined();
  });
});

describe('MonitoringStack: feature pipeline alarms', () => {
  const alarms = alarmProperties(template).filter((a) => a.AlarmName.startsWith('fathom-feature-transform-'));

  it('are the five exposed alarms, each sending ALARM and OK to the topic and nothing else', () => {
    expect(Object.keys(monitoring.alarms).sort()).toEqual(['deadLetters', 'errors', 'failedRecords', 'iteratorAge', 'throttles']);
    expect(alarms).toHaveLength(5);
    for (const alarm of alarms) {
      expect(alarm.AlarmActions, alarm.AlarmName).toEqual([topicRef]);
      expect(alarm.OKActions, alarm.AlarmName).toEqual([topicRef]);
      expect(alarm).not.toHaveProperty('InsufficientDataActions');
    }
  });

  it('are named with the prefix the topic policy admits, and each description carries a runbook line', () => {
    for (const alarm of alarms) {
      expect(alarm.AlarmName.startsWith(monitoring.alarmNamePrefix), alarm.AlarmName).toBe(true);
      expect(alarm.AlarmDescription, alarm.AlarmName).toContain('Runbook:');
      expect(alarm.AlarmDescription.length, alarm.AlarmName).toBeLessThanOrEqual(1024);
    }
  });

  it('pages on stream lag: maximum IteratorAge above 300 s in 3 of 3 one-minute periods', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'fathom-feature-transform-iterator-age',
      Namespace: 'AWS/Lambda',
      MetricName: 'IteratorAge',
      Dimensions: [{ Name: 'FunctionName', Value: functionName }],
      Statistic: 'Maximum',
      Period: 60,
      ComparisonOperator: 'GreaterThanThreshold',
      Threshold: 300_000,
      EvaluationPeriods: 3,
      DatapointsToAlarm: 3,
      TreatMissingData: 'ignore',
    });
  });

  it('pages on the first dead letter', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'fathom-feature-transform-dead-letters',
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: queueName }],
      Statistic: 'Maximum',
      Period: 60,
      ComparisonOperator: 'GreaterThanThreshold',
      Threshold: 0,
      EvaluationPeriods: 1,
      TreatMissingData: 'notBreaching',
    });
  });

  it.each([
    ['errors', 'Errors'],
    ['throttles', 'Throttles'],
  ])('pages on any function %s in 5 minutes', (suffix, metricName) => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: `fathom-feature-transform-${suffix}`,
      Namespace: 'AWS/Lambda',
      MetricName: metricName,
      Dimensions: [{ Name: 'FunctionName', Value: functionName }],
      Statistic: 'Sum',
      Period: 300,
      ComparisonOperator: 'GreaterThanThreshold',
      Threshold: 0,
      EvaluationPeriods: 1,
      DatapointsToAlarm: Match.absent(),
      TreatMissingData: 'notBreaching',
    });
  });

  it("pages on records retried for 3 minutes: the handler's FailedRecords EMF metric, by its service dimension", () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'fathom-feature-transform-failed-records',
      Namespace: 'Fathom',
      MetricName: 'FailedRecords',
      Dimensions: [{ Name: 'service', Value: 'feature-transform' }],
      Statistic: 'Sum',
      Period: 60,
      ComparisonOperator: 'GreaterThanThreshold',
      Threshold: 0,
      EvaluationPeriods: 3,
      DatapointsToAlarm: 3,
      TreatMissingData: 'notBreaching',
    });
  });

  it('watches the namespace and service the function is configured with and the handler publishes under', () => {
    const ft = featureStore.featureTransform;
    featureStoreTemplate.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ POWERTOOLS_METRICS_NAMESPACE: ft.metricsNamespace, POWERTOOLS_SERVICE_NAME: ft.serviceName }) },
    });
    // Powertools takes the Metrics constructor's options over the environment: the handler's own
    // values are the ones that reach CloudWatch.
    const handler = readFileSync(join(REPO_ROOT, 'lambdas', 'feature-transform', 'handler.ts'), 'utf8');
    const metrics = /new Metrics\(\{\s*namespace:\s*'([^']+)',\s*serviceName:\s*'([^']+)'/.exec(handler);
    expect(metrics, 'the handler no longer builds its Metrics as this test expects: check the FailedRecords alarm by hand').not.toBeNull();
    expect(metrics?.slice(1)).toEqual([ft.metricsNamespace, ft.serviceName]);
    expect(handler).toContain("addMetric('FailedRecords'");
  });

  it('is in its own stack, which depends on the feature store and serving', () => {
    expect(monitoring.stackName).toBe('fathom-monitoring');
    expect(monitoring.dependencies).toContain(featureStore);
    expect(monitoring.dependencies).toContain(stacks.serving);
  });
});

describe('MonitoringStack: scoring alarms', () => {
  const servingTemplate = Template.fromStack(stacks.serving);
  const scoring = stacks.serving.scoring;
  const alarms = alarmProperties(template).filter((a) => a.AlarmName.startsWith('fathom-scoring-'));
  const aliasDimension = crossStackRef(stacks.serving, servingTemplate, scoring.alias.functionArn);
  const emf = (metricName: string) => ({ Namespace: 'Fathom', MetricName: metricName, Dimensions: [{ Name: 'service', Value: 'scoring' }], Statistic: 'Sum' });

  it('are the five exposed alarms, each with a runbook line, sending ALARM and OK to the topic', () => {
    expect(Object.keys(monitoring.scoringAlarms ?? {}).sort()).toEqual(['latency', 'modelLoadFailures', 'predictionsNotLogged', 'serverErrors', 'throttles']);
    expect(alarms).toHaveLength(5);
    for (const alarm of alarms) {
      expect(alarm.AlarmActions, alarm.AlarmName).toEqual([topicRef]);
      expect(alarm.OKActions, alarm.AlarmName).toEqual([topicRef]);
      expect(alarm.AlarmDescription, alarm.AlarmName).toContain('Runbook:');
      expect(alarm.AlarmDescription.length, alarm.AlarmName).toBeLessThanOrEqual(1024);
    }
  });

  it('pages on 5xx above 1% of invocations in 3 of 3 minutes, an idle endpoint counting as healthy', () => {
    const [alarm] = Object.values(template.findResources('AWS::CloudWatch::Alarm', { Properties: { AlarmName: 'fathom-scoring-server-errors' } })) as {
      Properties: { Metrics: { Id: string; Expression?: string; MetricStat?: { Metric: { MetricName: string; Namespace: string } } }[]; Threshold: number; EvaluationPeriods: number; DatapointsToAlarm: number; TreatMissingData: string };
    }[];
    const p = alarm!.Properties;
    expect(p).toMatchObject({ Threshold: 1, EvaluationPeriods: 3, DatapointsToAlarm: 3, TreatMissingData: 'notBreaching' });
    expect(p.Metrics.find((m) => m.Expression)?.Expression).toBe('IF(invocations > 0, 100 * errors / invocations, 0)');
    const byId = new Map(p.Metrics.map((m) => [m.Id, m.MetricStat?.Metric]));
    expect(byId.get('errors')).toMatchObject({ Namespace: 'Fathom', MetricName: 'ServerErrors' });
    expect(byId.get('invocations')).toMatchObject({ Namespace: 'AWS/Lambda', MetricName: 'Invocations' });
  });

  it('pages on p99 Duration of the live alias above 250 ms in 3 of 3 minutes', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'fathom-scoring-latency-p99',
      Namespace: 'AWS/Lambda',
      MetricName: 'Duration',
      ExtendedStatistic: 'p99',
      Dimensions: Match.arrayWith([{ Name: 'Resource', Value: Match.anyValue() }]),
      Threshold: 250,
      EvaluationPeriods: 3,
      DatapointsToAlarm: 3,
      TreatMissingData: 'ignore',
    });
    expect(aliasDimension).toBeDefined();
  });

  it.each([
    ['fathom-scoring-model-load-failures', 'ModelLoadFailures'],
    ['fathom-scoring-predictions-not-logged', 'PredictionsNotLogged'],
  ])('%s pages on the first %s the handler counts', (alarmName, metricName) => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { AlarmName: alarmName, ...emf(metricName), Period: 300, Threshold: 0, ComparisonOperator: 'GreaterThanThreshold', TreatMissingData: 'notBreaching' });
  });

  it('watches metric names the scoring handler publishes, under its namespace and service', () => {
    const handler = readFileSync(join(REPO_ROOT, 'lambdas', 'scoring', 'handler.ts'), 'utf8');
    const metrics = /new Metrics\(\{\s*namespace:\s*'([^']+)',\s*serviceName:\s*'([^']+)'/.exec(handler);
    expect(metrics?.slice(1)).toEqual([scoring.metricsNamespace, scoring.serviceName]);
    for (const name of ['ServerErrors', 'ModelLoadFailures', 'PredictionsNotLogged']) expect(handler).toContain(`addMetric('${name}'`);
  });
});

describe('MonitoringStack: configuration', () => {
  const custom = buildFathomApp({
    prefix: 'acme',
    alarms: { email: 'oncall@example.com', iteratorAgeSeconds: 120 },
    featureTransform: { maximumRetryAttempts: -1, maximumRecordAgeSeconds: -1 },
  }).stacks.monitoring;
  const t = Template.fromStack(custom);

  it('subscribes alarms.email to the topic', () => {
    t.resourceCountIs('AWS::SNS::Subscription', 1);
    t.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'oncall@example.com', TopicArn: ref(custom, custom.topic.topicArn) });
    expect(custom.emailSubscription).toBeDefined();
  });

  it('takes the lag threshold from alarms.iteratorAgeSeconds, in milliseconds', () => {
    t.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'IteratorAge', Threshold: 120_000 });
  });

  it('names the topic, the key alias and the alarms with the prefix, and admits only alarms so named', () => {
    t.hasResourceProperties('AWS::SNS::Topic', { TopicName: 'acme-alarms' });
    t.hasResourceProperties('AWS::KMS::Alias', { AliasName: 'alias/acme-alarms' });
    for (const alarm of alarmProperties(t)) expect(alarm.AlarmName).toMatch(/^acme-(feature-transform|scoring)-/);
    const policy = JSON.stringify(t.findResources('AWS::SNS::TopicPolicy'));
    expect(policy).toContain(':alarm:acme-*');
    expect(policy).not.toContain(':alarm:fathom-');
  });

  it('quotes the pipeline settings in the runbook lines', () => {
    const byName = new Map(alarmProperties(t).map((a) => [a.AlarmName, a.AlarmDescription]));
    expect(byName.get('acme-feature-transform-iterator-age')).toContain('more than 120 s old');
    expect(byName.get('acme-feature-transform-iterator-age')).toContain('expire from the stream after 24 h');
    expect(byName.get('acme-feature-transform-failed-records')).toContain('until the records expire');
  });

  it('takes the scoring thresholds from alarms.scoringP99Ms and alarms.scoringErrorRatePercent', () => {
    const tuned = Template.fromStack(buildFathomApp({ alarms: { scoringP99Ms: 80, scoringErrorRatePercent: 0.5 } }).stacks.monitoring);
    tuned.hasResourceProperties('AWS::CloudWatch::Alarm', { AlarmName: 'fathom-scoring-latency-p99', Threshold: 80 });
    tuned.hasResourceProperties('AWS::CloudWatch::Alarm', { AlarmName: 'fathom-scoring-server-errors', Threshold: 0.5 });
  });
});
