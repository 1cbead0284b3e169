// Monitoring: the on-call alarm topic and the alarms of the streaming feature pipeline. Every
// alarm sends both its ALARM and its OK transition to the topic, so whoever was paged also
// learns when the condition has cleared.
import type { StackProps } from 'aws-cdk-lib';
import { ArnFormat, Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type { Construct } from 'constructs';
import type { FathomConfig } from '../config';
import { DEFAULT_CONFIG } from '../config';
import type { FeatureTransform } from '../constructs/feature-transform';

export interface MonitoringStackProps extends StackProps {
  /** The streaming feature pipeline to watch (FeatureStoreStack.featureTransform). */
  readonly featureTransform: FeatureTransform;
  /**
   * Deployment settings (prefix, alarm settings, and the pipeline settings the runbook lines quote).
   * @default DEFAULT_CONFIG
   */
  readonly config?: FathomConfig;
}

/** The alarms of the streaming feature pipeline. */
export interface FeaturePipelineAlarms {
  /** Stream lag: IteratorAge above `alarms.iteratorAgeSeconds` for 3 of 3 minutes. */
  readonly iteratorAge: cloudwatch.Alarm;
  /** Any message visible in the dead-letter queue. */
  readonly deadLetters: cloudwatch.Alarm;
  /** Any failed invocation in 5 minutes. */
  readonly errors: cloudwatch.Alarm;
  /** Any throttled invocation in 5 minutes. */
  readonly throttles: cloudwatch.Alarm;
  /** Records reported failed (and so retried) in each of 3 consecutive minutes. */
  readonly failedRecords: cloudwatch.Alarm;
}

export class MonitoringStack extends Stack {
  /** Where every alarm of the platform sends its ALARM and OK notifications. */
  readonly topic: sns.Topic;
  /** The customer-managed key that encrypts the topic's messages. */
  readonly topicKey: kms.Key;
  /** The subscription of `alarms.email`, when one is configured. */
  readonly emailSubscription?: sns.Subscription;
  readonly alarms: FeaturePipelineAlarms;
  /** Alarm names start with this (`<prefix>-`); the topic accepts CloudWatch alarms named so, and no other. */
  readonly alarmNamePrefix: string;

  constructor(scope: Construct, id: string, props: MonitoringStackProps) {
    super(scope, id, props);
    const config = props.config ?? DEFAULT_CONFIG;
    const ft = props.featureTransform;
    this.alarmNamePrefix = `${config.prefix}-`;
    const topicName = `${config.prefix}-alarms`;

    this.topicKey = new kms.Key(this, 'AlarmTopicKey', {
      alias: `alias/${topicName}`,
      description: `Encrypts the messages of the ${topicName} SNS topic`,
      enableKeyRotation: true,
    });
    // CloudWatch publishes to an encrypted topic only if the key lets it generate and read data
    // keys: the AWS managed key alias/aws/sns cannot, which is one reason for a key of our own.
    // The statement carries no conditions, as AWS documents it: the key encrypts nothing but this
    // topic, and the topic policy below decides which alarms may publish.
    this.topicKey.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowCloudWatchAlarmsToUseTheKey',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
      }),
    );

    this.topic = new sns.Topic(this, 'AlarmTopic', {
      topicName,
      displayName: `Fathom alarms (${config.prefix})`,
      masterKey: this.topicKey,
      enforceSSL: true,
    });
    // A topic policy replaces SNS's default one: CloudWatch needs an explicit Allow, limited to
    // this account's alarms in this region whose names carry the prefix (no confused deputy).
    this.topic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowPrefixedCloudWatchAlarmsToPublish',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [this.topic.topicArn],
        conditions: {
          ArnLike: {
            'aws:SourceArn': this.formatArn({
              service: 'cloudwatch',
              resource: 'alarm',
              resourceName: `${this.alarmNamePrefix}*`,
              arnFormat: ArnFormat.COLON_RESOURCE_NAME,
            }),
          },
          StringEquals: { 'aws:SourceAccount': this.account },
        },
      }),
    );

    if (config.alarms.email !== undefined) {
      this.emailSubscription = this.topic.addSubscription(new subscriptions.EmailSubscription(config.alarms.email));
    }

    this.alarms = this.featurePipelineAlarms(ft, config);
    const action = new actions.SnsAction(this.topic);
    for (const alarm of Object.values(this.alarms) as cloudwatch.Alarm[]) {
      alarm.addAlarmAction(action);
      alarm.addOkAction(action);
    }
  }

  private featurePipelineAlarms(ft: FeatureTransform, config: FathomConfig): FeaturePipelineAlarms {
    const name = (what: string) => `${this.alarmNamePrefix}feature-transform-${what}`;
    const lagSeconds = config.alarms.iteratorAgeSeconds;
    const retentionHours = config.stream.retentionHours;
    const maxAge = config.featureTransform.maximumRecordAgeSeconds;
    const retries = config.featureTransform.maximumRetryAttempts;
    const dropsAfter = maxAge === -1 ? `expire from the stream after ${retentionHours} h` : `older than ${maxAge} s go to the dead-letter queue unprocessed`;
    const retriesText = retries === -1 ? 'until the records expire' : `up to ${retries} times`;

    return {
      // Maximum, not Average: one shard falling behind is lag, even if the others are current.
      // Missing data means no invocation at all, which is either an idle stream (nothing to be
      // behind on) or a stopped consumer (the state it was in is still the truth): IGNORE keeps
      // the current state in both cases instead of sending a false OK.
      iteratorAge: ft.metricIteratorAge({ period: Duration.minutes(1) }).createAlarm(this, 'IteratorAgeAlarm', {
        alarmName: name('iterator-age'),
        alarmDescription:
          `Stream lag: feature-transform got records more than ${lagSeconds} s old in each of the last 3 minutes, so online features are stale. ` +
          `Runbook: check the function's Errors, Throttles and FailedRecords alarms (a record stuck in retries holds up its shard; the logs say "records will be retried"); ` +
          `if none fires, the function is too slow for the traffic: compare its Duration with the timeout and raise featureTransform.memoryMb. Records ${dropsAfter}.`,
        threshold: lagSeconds * 1000,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 3,
        datapointsToAlarm: 3,
        treatMissingData: cloudwatch.TreatMissingData.IGNORE,
      }),

      // SQS reports a queue's metrics only while it is active: it holds a message or is called.
      // Missing data therefore means an empty queue: NOT_BREACHING. Maximum over a minute pages
      // on the first message; the alarm stays on until someone empties the queue.
      deadLetters: ft.deadLetterQueue.queue
        .metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1), statistic: 'Maximum' })
        .createAlarm(this, 'DeadLettersAlarm', {
          alarmName: name('dead-letters'),
          alarmDescription:
            `Records reached the feature-transform dead-letter queue: malformed events (sent by the handler with a reason) or batches that exhausted their retries (an event source record naming the shard and sequence range). ` +
            `Runbook: read the messages, fix the cause, replay the events while the stream still holds them (${retentionHours} h), then delete the messages; the alarm clears when the queue is empty.`,
          threshold: 0,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
          evaluationPeriods: 1,
          treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        }),

      // Lambda publishes Errors and Throttles only when it is invoked: missing data means no
      // invocation, and so no error and no throttle.
      errors: ft.lambdaFunction.metricErrors({ period: Duration.minutes(5), statistic: 'Sum' }).createAlarm(this, 'ErrorsAlarm', {
        alarmName: name('errors'),
        alarmDescription:
          `feature-transform invocations failed as a whole (the handler reports bad records one by one, so this is a crash, a timeout, running out of memory, or a batch it could not process at all, which the event source bisects and retries). ` +
          `Runbook: read the error in the function's log group; a timeout or out-of-memory calls for featureTransform.timeoutSeconds or memoryMb.`,
        threshold: 0,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),

      throttles: ft.lambdaFunction.metricThrottles({ period: Duration.minutes(5), statistic: 'Sum' }).createAlarm(this, 'ThrottlesAlarm', {
        alarmName: name('throttles'),
        alarmDescription:
          `Lambda throttled feature-transform: the account's concurrency (the function reserves none) is used up, so stream shards wait and lag grows. ` +
          `Runbook: see which functions use the account's concurrent executions; raise the quota or reserve concurrency for feature-transform (one per shard).`,
        threshold: 0,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),

      // The handler publishes FailedRecords for every batch it processes, 0 included; missing data
      // means no batch, and so nothing failing. Three minutes in a row tells a record stuck in retries
      // from a single transient failure that the next attempt fixed.
      failedRecords: ft.metricFailedRecords({ period: Duration.minutes(1), statistic: 'Sum' }).createAlarm(this, 'FailedRecordsAlarm', {
        alarmName: name('failed-records'),
        alarmDescription:
          `The feature-transform handler reported records as failed in each of the last 3 minutes; the event source retries them ${retriesText}, then sends them to the dead-letter queue. ` +
          `Runbook: find "records will be retried" in the function's logs for the first error; online-store throttling or errors are the usual cause.`,
        threshold: 0,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 3,
        datapointsToAlarm: 3,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    };
  }
}
