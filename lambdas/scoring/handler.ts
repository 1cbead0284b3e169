// API Gateway (REST, proxy integration) → score one event. The request itself is
// lib/adapters/scoring/service.ts (parse, one BatchGetItem, engine, model); the model comes from
// the ModelCache, which keeps the production version loaded and swaps in a promoted one in the
// background. Everything at module scope is created once per execution environment, at cold start.
import middy from '@middy/core';
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { FirehoseClient } from '@aws-sdk/client-firehose';
import { KMSClient } from '@aws-sdk/client-kms';
import { S3Client } from '@aws-sdk/client-s3';
import { FeatureEngine, referenceFeatureSet } from '../../lib/core/features';
import { assertServable, errorAnswer, ModelRouter, Scorer } from '../../lib/core/scoring';
import { CPU_TIER } from '../../lib/core/models/manifest';
import { dynamoClient } from '../../lib/adapters/aws-clients';
import { ModelCache, type ModelCacheEvent } from '../../lib/adapters/scoring/model-cache';
import { ScoringService } from '../../lib/adapters/scoring/service';
import { OnnxModelRuntime } from '../../lib/adapters/model-runner';
import { DynamoOnlineStore } from '../../lib/adapters/online-store';
import { ModelRegistry } from '../../lib/adapters/registry/model-registry';
import { PackageVerifier } from '../../lib/adapters/registry/verifier';
import { readScoringEnv } from '../../lib/adapters/scoring-env';
import { FirehosePredictionLog } from '../../lib/adapters/scoring/prediction-log';
import type { PredictionsRow } from '../../lib/core/offline/tables';

const env = readScoringEnv();
const logger = new Logger({ serviceName: 'scoring' });
const metrics = new Metrics({ namespace: 'Fathom', serviceName: 'scoring' });
const engine = new FeatureEngine(referenceFeatureSet, { allowedLatenessMs: env.allowedLatenessMs });
const scorer = new Scorer(engine);
const dynamodb = dynamoClient();
const store = new DynamoOnlineStore({ client: dynamodb, tableName: env.tableName });
const registry = new ModelRegistry({
  dynamodb,
  // An S3 endpoint override means a stand-in (s3rver), which resolves buckets from the path only.
  s3: new S3Client({ forcePathStyle: process.env['AWS_ENDPOINT_URL_S3'] !== undefined }),
  tableName: env.registryTable,
  bucket: env.modelBucket,
  // `kms:<arn>`: the public key is fetched once (GetPublicKey) and signatures verified in process.
  verifier: PackageVerifier.fromSetting(env.signingKey, { kms: new KMSClient({}) }),
});

/** The model cache of this execution environment; exported for the local platform's tests. */
export const modelCache = new ModelCache({
  registry,
  router: new ModelRouter({ [CPU_TIER]: new OnnxModelRuntime() }),
  accept: (manifest) => assertServable(manifest, engine),
  refreshIntervalMs: env.refreshIntervalMs,
  onEvent: report,
});

function report(e: ModelCacheEvent): void {
  switch (e.type) {
    case 'loaded':
      logger.info('model loaded', { model: e.name, version: e.version, cold: e.cold, ms: Math.round(e.ms) });
      metrics.addMetric('ModelLoadTime', MetricUnit.Milliseconds, e.ms);
      return;
    case 'swapped':
      logger.info('model swapped', { model: e.name, from: e.from, to: e.to });
      metrics.addMetric('ModelSwaps', MetricUnit.Count, 1);
      return;
    case 'load_failed':
      // Not served: the previous version (if any) keeps answering. Paged through ModelLoadFailures.
      logger.error('model version refused', { model: e.name, version: e.version, cold: e.cold, error: e.error, cause: e.error.cause });
      metrics.addMetric('ModelLoadFailures', MetricUnit.Count, 1);
      return;
    case 'check_failed':
      logger.warn('production pointer check failed; serving the loaded version', { model: e.name, error: e.error });
      metrics.addMetric('ModelCheckFailures', MetricUnit.Count, 1);
      return;
    case 'no_production':
      logger.warn('no production version; serving the loaded one', { model: e.name, version: e.serving });
      return;
    case 'released':
      logger.debug('model released', { model: e.name, version: e.version });
      return;
    case 'release_failed':
      logger.warn('model release failed', { model: e.name, version: e.version, error: e.error });
      return;
  }
}

// The default model is loaded during the init phase (top-level await): Lambda runs init on boosted
// CPU before the first request and, with provisioned concurrency, before any traffic at all. A
// failure here is only logged: the first request retries the load and answers the precise error.
try {
  (await modelCache.acquire(env.defaultModel)).release();
} catch (error) {
  logger.warn('default model not loaded at init; the first request will try again', { model: env.defaultModel, error: error as Error });
}

// A request waits on its predictions row: the client gives up on Firehose in about a second, and
// the log resends refused entries twice within ~60 ms (lib/adapters/scoring/prediction-log.ts).
const predictions = env.predictionsDeliveryStream
  ? new FirehosePredictionLog({
      client: new FirehoseClient({ maxAttempts: 2, requestHandler: { connectionTimeout: 500, requestTimeout: 1000 } }),
      deliveryStreamName: env.predictionsDeliveryStream,
    })
  : undefined;
if (!predictions) logger.warn('no predictions delivery stream configured: served scores are not logged to the offline store');

/** The answer went out; its row did not reach the offline store. Logged whole so it can be replayed, and paged on. */
function predictionNotLogged(row: PredictionsRow, error: unknown): void {
  logger.error('prediction not logged', { row, error: error as Error });
  metrics.addMetric('PredictionsNotLogged', MetricUnit.Count, 1);
}

const service = new ScoringService({
  scorer,
  models: modelCache,
  store,
  defaultModel: env.defaultModel,
  ...(predictions ? { predictions, onPredictionNotLogged: predictionNotLogged } : {}),
});

const HEADERS = { 'content-type': 'application/json' } as const;

export const handler = middy(async (event: APIGatewayProxyEvent, context: Context): Promise<APIGatewayProxyResult> => {
  const requestId = event.requestContext?.requestId ?? context.awsRequestId;
  const started = performance.now();
  try {
    const body = event.isBase64Encoded && event.body ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
    const answer = await service.score(body, requestId);
    metrics.addMetric('ScoreLatency', MetricUnit.Milliseconds, performance.now() - started);
    if (answer.flagged) metrics.addMetric('Flagged', MetricUnit.Count, 1);
    if (answer.cold_start) metrics.addMetric('ColdStartEntities', MetricUnit.Count, 1);
    // The one metric with the model version as a dimension: scores per served version, which is
    // what a canary or a swap is judged by. Everything else stays on the service dimension alone.
    const byVersion = metrics.singleMetric();
    byVersion.addDimensions({ model: answer.model.name, model_version: answer.model.version });
    byVersion.addMetric('Scores', MetricUnit.Count, 1);
    return { statusCode: 200, headers: HEADERS, body: JSON.stringify(answer) };
  } catch (error) {
    const answer = errorAnswer(error, requestId);
    if (answer.clientError) {
      logger.warn('request refused', { request_id: requestId, code: answer.body.error.code, detail: answer.body.error.message });
      metrics.addMetric('ClientErrors', MetricUnit.Count, 1);
    } else {
      logger.error('request failed', { request_id: requestId, error: error as Error, cause: (error as Error | undefined)?.cause });
      metrics.addMetric('ServerErrors', MetricUnit.Count, 1);
    }
    return { statusCode: answer.status, headers: HEADERS, body: JSON.stringify(answer.body) };
  }
})
  .use(injectLambdaContext(logger))
  .use(logMetrics(metrics, { captureColdStartMetric: true }));
