// cdk-nag 3 is a policy-validation plugin: its findings go to the synthesis validation report
// and fail `app.synth()`, not to construct annotations, so `Annotations.fromStack(...).findError`
// would find nothing whatever the stacks contain. The checks here read the pack's own report
// (`validateScope`) and synthesize with the plugin registered exactly as bin/app.ts registers it.
import type { App } from 'aws-cdk-lib';
import { Stack, Validations } from 'aws-cdk-lib';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { EncryptedQueue } from '../../lib/infra/constructs/encrypted-queue';
import { buildFathomApp, newApp } from './app-fixture';

/** Unacknowledged AwsSolutions findings under `scope`, as `severity rule @ path` lines. */
function findings(scope: IConstruct): string[] {
  const report = new AwsSolutionsChecks().validateScope(scope);
  return report.violations.flatMap((v) => v.violatingResources.map((r) => `${v.severity} ${v.ruleName} @ ${r.constructPath}`));
}

/** Every acknowledgment (suppression) recorded in the tree: path, rule id and reason. */
function acknowledgments(scope: IConstruct): { path: string; id: string; reason: string }[] {
  return scope.node.findAll().flatMap((c) =>
    c.node.metadata
      .filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((m) => Object.entries(m.data as Record<string, string>))
      .map(([id, reason]) => ({ path: c.node.path, id: id.replace(/^annotation::/i, ''), reason })),
  );
}

/** `app.synth()`'s error, or undefined when it succeeds. The failure report is printed; keep it out of the test output. */
function synthError(app: App): unknown {
  const quiet = vi.spyOn(console, 'error').mockImplementation(() => undefined);
  try {
    app.synth();
    return undefined;
  } catch (error) {
    return error;
  } finally {
    quiet.mockRestore();
  }
}

describe('the Fathom app under AwsSolutions checks', () => {
  const { app, stacks } = buildFathomApp();
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  let error: unknown;
  beforeAll(() => {
    error = synthError(app);
  });

  it('synthesizes: no unacknowledged error or warning fails validation', () => {
    expect(error).toBeUndefined();
  });

  it.each(Object.entries(stacks))('%s stack has no unacknowledged finding', (_name, stack) => {
    expect(findings(stack)).toEqual([]);
  });

  it('acknowledges only these findings, each on the narrowest construct and with a reason', () => {
    const acks = acknowledgments(app);
    expect(acks.map(({ path, id }) => `${id} @ ${path}`).sort()).toEqual([
      'AwsSolutions-IAM5[Resource::*] @ FeatureStore/FeatureTransform/ServiceRole/DefaultPolicy',
      'AwsSolutions-KDS3 @ Ingestion/Events',
      'AwsSolutions-L1 @ FeatureStore/FeatureTransform/Function',
      'AwsSolutions-SQS3 @ FeatureStore/FeatureTransformDlq/Queue',
      'AwsSolutions-IAM5[Resource::*] @ Serving/Scoring/ServiceRole/DefaultPolicy',
      'AwsSolutions-IAM5[Resource::{"Fn::GetStackOutput":{"StackName":"fathom-model-registry","Region":{"Ref":"AWS::Region"},"OutputName":"PublishOutputFnGetAttModelBucketB33D855BArn43B2AEC7"}}/models/*] @ Serving/Scoring/ServiceRole/DefaultPolicy',
      'AwsSolutions-L1 @ Serving/Scoring/Function',
      // Iceberg and Firehose name the files they write: object access is scoped to each table's
      // folder and each stream's error prefix; Glue's optimizers log to log groups it fixes.
      ...['events', 'feature_log', 'predictions', 'labels'].flatMap((table) => {
        const policy = `OfflineStore/${table === 'feature_log' ? 'FeatureLog' : table[0]!.toUpperCase() + table.slice(1)}Delivery/Policy`;
        const objects = `AwsSolutions-IAM5[Resource::<Lakehouse82B7DD5C.Arn>/warehouse/fathom_offline/${table}/*]`;
        return [
          `${objects} @ ${policy}`,
          `AwsSolutions-IAM5[Resource::<Lakehouse82B7DD5C.Arn>/firehose-errors/fathom-offline-${table}/*] @ ${policy}`,
          `${objects} @ OfflineStore/TableOptimizerPolicy`,
        ];
      }),
      ...['compaction', 'retention', 'orphan-file-deletion'].map(
        (type) => `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:/aws-glue/iceberg-${type}/logs:*] @ OfflineStore/TableOptimizerPolicy`,
      ),
      // The API edge: its functions (pinned runtime, X-Ray), API Gateway's account-wide logging
      // role (the AWS-managed policy AWS documents for it) and a user pool with machine clients
      // only (no sign-in for the Plus tier's threat protection to inspect).
      ...['Labels', 'Features', 'Models'].flatMap((fn) => [`AwsSolutions-L1 @ Api/${fn}/Function`, `AwsSolutions-IAM5[Resource::*] @ Api/${fn}/ServiceRole/DefaultPolicy`]),
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs] @ Api/Api/CloudWatchRole',
      'AwsSolutions-COG8 @ Api/Auth/UserPool',
    ].sort());
    for (const ack of acks) expect(ack.reason.length, ack.id).toBeGreaterThan(40);
  });
});

describe('the monitoring stack with an e-mail subscription under AwsSolutions checks', () => {
  it('has no unacknowledged finding and acknowledges nothing', () => {
    const { stacks } = buildFathomApp({ alarms: { email: 'oncall@example.com' } });
    expect(stacks.monitoring.emailSubscription).toBeDefined();
    expect(findings(stacks.monitoring)).toEqual([]);
    expect(acknowledgments(stacks.monitoring)).toEqual([]);
  });
});

describe('the same checks on insecure resources', () => {
  it('report findings and fail synthesis', () => {
    const app = newApp();
    const stack = new Stack(app, 'Insecure');
    new sqs.Queue(stack, 'PlainQueue');
    new kinesis.Stream(stack, 'PlainStream', { encryption: kinesis.StreamEncryption.UNENCRYPTED });
    new lambda.Function(stack, 'DefaultRoleFunction', {
      runtime: lambda.Runtime.NODEJS_20_X,
      handler: 'index.handler',
      code: lambda.Code.fromInline('exports.handler = async () => {};'),
    });
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));

    const found = findings(stack).join('\n');
    expect(found).toMatch(/error AwsSolutions-SQS4 @ Insecure\/PlainQueue/);
    expect(found).toMatch(/error AwsSolutions-SQS3 @ Insecure\/PlainQueue/);
    expect(found).toMatch(/error AwsSolutions-KDS1 @ Insecure\/PlainStream/);
    expect(found).toMatch(/error AwsSolutions-IAM4\[Policy::.*AWSLambdaBasicExecutionRole\] @ Insecure\/DefaultRoleFunction/);
    expect(found).toMatch(/error AwsSolutions-L1 @ Insecure\/DefaultRoleFunction/);
    const error = String(synthError(app));
    expect(error).toMatch(/^ValidationFailed/);
    for (const rule of ['SQS3', 'SQS4', 'KDS1', 'L1']) expect(error).toContain(`AwsSolutions-${rule}`);
  });

  it('still flag an EncryptedQueue that nothing uses as a dead-letter queue: the SQS3 acknowledgment is not blanket', () => {
    const app = newApp();
    const stack = new Stack(app, 'Lonely');
    new EncryptedQueue(stack, 'Queue');
    expect(findings(stack)).toEqual(['error AwsSolutions-SQS3 @ Lonely/Queue/Queue/Resource']);
  });
});
