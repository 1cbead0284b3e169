// Monitoring: the on-call alarm topic, the alarms of the streaming feature pipeline and those of
// real-time scoring. Every
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
import type { ScoringFunction } from '../constructs/scoring-function';

export interface MonitoringStackProps extends StackProps {
  /** The streaming feature pipeline to watch (FeatureStoreStack.featureTransform). */
  readonly featureTransform: FeatureTransform;
  /**
   * The real-time scoring function to watch (ServingStack.scoring).
   * @default - no scoring alarms
   */
  readonly scoring?: ScoringFunction;
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

/** The alarms of real-time scoring. */
export interface ScoringAlarms {
  /** 5xx answers (ServerErrors) above `alarms.scoringErrorRatePercent` of invocations, 3 of 3 minutes. */
  readonly serverErrors: cloudwatch.Alarm;
  /** p99 Duration above `alarms.scoringP99Ms`, 3 of 3 minutes. */
  readonly latency: cloudwatch.Alarm;
  /** Any throttled invocation in 5 minutes: clients got errors. */
  readonly throttles: cloudwatch.Alarm;
  /** A promoted version that is not being served (verification or load failed). */
  readonly modelLoadFailures: cloudwatch.Alarm;
  /** Answers whose `predictions` row did not reach the offline store. */
  readonly predictionsNotLogged: cloudwatch.Alarm;
}

export class MonitoringStack extends Stack {
  /** Where every alarm of the platform sends its ALARM and OK notifications. */
  readonly topic: sns.Topic;
  /** The customer-managed key that encrypts the topic's messages. */
  readonly topicKey: kms.Key;
  /** The subscription of `alarms.email`, when one is configured. */
  readonly emailSubscription?: sns.Subscription;
  readonly alarms: FeaturePipelineAlarms;
  /** Present when `scoring` was given. */
  readonly scoringAlarms?: ScoringAlarms;
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
    if (props.scoring) this.scoringAlarms = this.scoringFunctionAlarms(props.scoring, config);
    const action = new actions.SnsAction(this.topic);
    for (const alarm of [...Object.values(this.alarms), ...Object.values(this.scoringAlarms ?? {})] as cloudwatch.Alarm[]) {
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
  private scoringFunctionAlarms(scoring: ScoringFunction, config: FathomConfig): ScoringAlarms {
    const name = (what: string) => `${this.alarmNamePrefix}scoring-${what}`;
    const minute = Duration.minutes(1);
    const p99 = config.alarms.scoringP99Ms;
    const rate = config.alarms.scoringErrorRatePercent;
    const logs = `the ${scoring.serviceName} function's log group`;
    return {
      // A rate, not a count: a busy endpoint can carry a few transient 5xx a minute. With no
      // invocation the expression is 0 (IF), so an idle endpoint is healthy, not missing.
      serverErrors: new cloudwatch.MathExpression({
        expression: 'IF(invocations > 0, 100 * errors / invocations, 0)',
        usingMetrics: { errors: scoring.metricHandler('ServerErrors', { period: minute }), invocations: scoring.metricInvocations({ period: minute }) },
        period: minute,
        label: 'ServerErrors % of invocations',
      }).createAlarm(this, 'ScoringServerErrorsAlarm', {
        alarmName: name('server-errors'),
        alarmDescription:
          `More than ${rate}% of score requests answered 5xx in each of the last 3 minutes: the online store, the registry or the model could not serve them. ` +
          `Runbook: find "request failed" in ${logs} for the cause; a 503 "no verified model" after a promotion calls for a rollback (npx fathom models rollback --aws).`,
        threshold: rate,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 3,
        datapointsToAlarm: 3,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),

      latency: scoring.metricDuration({ period: minute }).createAlarm(this, 'ScoringLatencyAlarm', {
        alarmName: name('latency-p99'),
        alarmDescription:
          `Scoring p99 Duration above ${p99} ms in each of the last 3 minutes. ` +
          `Runbook: compare the handler's ScoreLatency with Duration (the gap is the predictions log and init); a rise after a promotion points at a larger model: raise scoring.memoryMb or roll back.`,
        threshold: p99,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 3,
        datapointsToAlarm: 3,
        // No invocations, no latency to judge: keep the current state.
        treatMissingData: cloudwatch.TreatMissingData.IGNORE,
      }),

      throttles: scoring.metricThrottles({ period: Duration.minutes(5) }).createAlarm(this, 'ScoringThrottlesAlarm', {
        alarmName: name('throttles'),
        alarmDescription:
          `Lambda throttled score requests: the function's concurrency (scoring.reservedConcurrency, or the account's) is used up and clients got errors. ` +
          `Runbook: compare ConcurrentExecutions with the reservation; raise scoring.reservedConcurrency or provisionedConcurrency.`,
        threshold: 0,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),

      modelLoadFailures: scoring.metricHandler('ModelLoadFailures', { period: Duration.minutes(5) }).createAlarm(this, 'ScoringModelLoadFailuresAlarm', {
        alarmName: name('model-load-failures'),
        alarmDescription:
          `A model version could not be verified or loaded, so it is not served (the previous version keeps answering, if there was one). ` +
          `Runbook: find "model version refused" in ${logs}: a signature failure means the package changed after signing (investigate); an incompatible feature set means the wrong version was promoted (roll back).`,
        threshold: 0,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),

      predictionsNotLogged: scoring.metricHandler('PredictionsNotLogged', { period: Duration.minutes(5) }).createAlarm(this, 'ScoringPredictionsNotLoggedAlarm', {
        alarmName: name('predictions-not-logged'),
        alarmDescription:
          `Score answers went out whose predictions row Firehose refused, so the offline predictions table is missing them (drift and accuracy monitoring read it). ` +
          `Runbook: each row is in ${logs} ("prediction not logged", field row); check the predictions delivery stream's throttling, then put the rows again (aws firehose put-record-batch).`,
        threshold: 0,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    };
  }
}
