// API Gateway (REST, proxy integration) GET /v1/features/{entity_id} → the card's current
// features and their age from the online store. The work is lib/adapters/api/features-service.ts.
import middy from '@middy/core';
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { FeatureEngine, referenceFeatureSet } from '../../lib/core/features';
import { dynamoClient } from '../../lib/adapters/aws-clients';
import { answer } from '../../lib/adapters/api/answers';
import { readFeaturesEnv } from '../../lib/adapters/api/env';
import { FeaturesService } from '../../lib/adapters/api/features-service';

const env = readFeaturesEnv();
const logger = new Logger({ serviceName: 'features' });
const metrics = new Metrics({ namespace: 'Fathom', serviceName: 'features' });
const engine = new FeatureEngine(referenceFeatureSet, { allowedLatenessMs: env.allowedLatenessMs });
const service = new FeaturesService({ client: dynamoClient(), tableName: env.tableName, engine });

export const handler = middy(async (event: APIGatewayProxyEvent, context: Context): Promise<APIGatewayProxyResult> =>
  answer(event, context, { logger, metrics }, async (requestId) => {
    metrics.addMetric('FeatureReads', MetricUnit.Count, 1);
    const view = await service.features(event.pathParameters?.['entity_id'], requestId);
    if (view.age_seconds !== null) metrics.addMetric('FeatureAge', MetricUnit.Seconds, Math.max(0, view.age_seconds));
    return { status: 200, body: view };
  }),
)
  .use(injectLambdaContext(logger))
  .use(logMetrics(metrics, { captureColdStartMetric: true }));
