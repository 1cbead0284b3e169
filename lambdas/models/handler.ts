// API Gateway (REST, proxy integration) GET /v1/models and GET /v1/models/{name} → versions,
// states and holdout metrics from the model registry, without package locations. The work is
// lib/adapters/api/models-service.ts.
import middy from '@middy/core';
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KMSClient } from '@aws-sdk/client-kms';
import { S3Client } from '@aws-sdk/client-s3';
import { answer } from '../../lib/adapters/api/answers';
import { ModelsService } from '../../lib/adapters/api/models-service';
import { registryFromEnvironment } from '../../lib/adapters/registry/environment';

const logger = new Logger({ serviceName: 'models' });
const metrics = new Metrics({ namespace: 'Fathom', serviceName: 'models' });
const { registry } = registryFromEnvironment({
  clients: {
    dynamodb: new DynamoDBClient({ maxAttempts: 5 }),
    // An S3 endpoint override means a stand-in (s3rver), which resolves buckets from the path only.
    s3: new S3Client({ forcePathStyle: process.env['AWS_ENDPOINT_URL_S3'] !== undefined }),
    kms: new KMSClient({}),
  },
});
const service = new ModelsService(registry);

export const handler = middy(async (event: APIGatewayProxyEvent, context: Context): Promise<APIGatewayProxyResult> =>
  answer(event, context, { logger, metrics }, async (requestId) => {
    // Both routes share this function; the resource says which was called.
    const one = event.resource?.includes('{name}') || event.pathParameters?.['name'] !== undefined;
    metrics.addMetric('ModelReads', MetricUnit.Count, 1);
    return { status: 200, body: one ? await service.get(event.pathParameters?.['name'], requestId) : await service.list(requestId) };
  }),
)
  .use(injectLambdaContext(logger))
  .use(logMetrics(metrics, { captureColdStartMetric: true }));
