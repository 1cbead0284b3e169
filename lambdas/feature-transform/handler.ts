// Kinesis `events` → feature engine → online store. Parses, calls, answers: the work is in
// lib/core/pipeline/feature-batch.ts.
import middy from '@middy/core';
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Context, KinesisStreamBatchResponse, KinesisStreamEvent, KinesisStreamRecord } from 'aws-lambda';
import { FeatureEngine, referenceFeatureSet } from '../../lib/core/features';
import { processFeatureBatch } from '../../lib/core/pipeline/feature-batch';
import type { StreamRecord } from '../../lib/core/pipeline/ports';
import { dynamoClient, sqsClient } from '../../lib/adapters/aws-clients';
import { DynamoOnlineStore } from '../../lib/adapters/online-store';
import { SqsDeadLetterQueue } from '../../lib/adapters/dead-letter-queue';
import { BatchCollector } from '../../lib/adapters/batch-collector';
import { readFeatureTransformEnv } from '../../lib/adapters/handler-env';
import { firehoseClient } from '../../lib/adapters/firehose-sink';
import { FirehoseOfflineLog } from '../../lib/adapters/offline-log';

const env = readFeatureTransformEnv();
const logger = new Logger({ serviceName: 'feature-transform' });
const metrics = new Metrics({ namespace: 'Fathom', serviceName: 'feature-transform' });
const engine = new FeatureEngine(referenceFeatureSet, { allowedLatenessMs: env.allowedLatenessMs });
const store = new DynamoOnlineStore({ client: dynamoClient(), tableName: env.tableName, ttlDays: env.stateTtlDays });
const deadLetters = new SqsDeadLetterQueue({ client: sqsClient(), queueUrl: env.dlqUrl, source: 'feature-transform' });
const offline = env.offlineLog
  ? new FirehoseOfflineLog({ client: firehoseClient(), eventsStream: env.offlineLog.eventsStream, featureLogStream: env.offlineLog.featureLogStream, featureSet: engine.version })
  : undefined;
const processor = new BatchProcessor(EventType.KinesisDataStreams);

const toStreamRecord = (r: KinesisStreamRecord): StreamRecord => ({
  id: r.kinesis.sequenceNumber,
  shardId: r.eventID.split(':')[0] ?? 'unknown',
  data: Buffer.from(r.kinesis.data, 'base64').toString('utf8'),
});

async function step(records: KinesisStreamRecord[]): Promise<Map<string, Error>> {
  const result = await processFeatureBatch(records.map(toStreamRecord), { engine, store, deadLetters, offline });
  const c = result.counts;
  metrics.addMetric('EventsApplied', MetricUnit.Count, c.applied);
  metrics.addMetric('DuplicatesIgnored', MetricUnit.Count, c.duplicates);
  metrics.addMetric('RedeliveredSkipped', MetricUnit.Count, c.redelivered);
  metrics.addMetric('LateEvents', MetricUnit.Count, c.late);
  metrics.addMetric('TooLateEvents', MetricUnit.Count, c.tooLate);
  metrics.addMetric('MalformedRecords', MetricUnit.Count, c.malformed);
  metrics.addMetric('VersionConflicts', MetricUnit.Count, c.conflicts);
  metrics.addMetric('FeatureVectorsLogged', MetricUnit.Count, result.vectors.length);
  metrics.addMetric('FailedRecords', MetricUnit.Count, result.failed.size);
  if (result.failed.size > 0) logger.warn('records will be retried', { failed: result.failed.size, first: [...result.failed.values()][0]?.message });
  return result.failed;
}

export const handler = middy(async (event: KinesisStreamEvent, context: Context): Promise<KinesisStreamBatchResponse> => {
  const collector = new BatchCollector<KinesisStreamRecord, string>(event.Records.length, (r) => r.kinesis.sequenceNumber, step);
  // A batch that fails whole throws, so the event source mapping bisects it.
  return processPartialResponse(event, (record: KinesisStreamRecord) => collector.submit(record), processor, { context });
})
  .use(injectLambdaContext(logger))
  .use(logMetrics(metrics, { captureColdStartMetric: true }));
