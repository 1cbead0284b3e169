// API Gateway's own refusals (bad body, no token, unknown route, throttled, authorizer or
// integration failure…) answered in the edge's one error envelope, with the request id from
// `$context.requestId`. The statuses, codes and fixed messages are the shared table in
// lib/core/api/errors.ts, which the local API answers with too; a gateway response template is
// plain substitution (no VTL), so nothing API Gateway knows internally can reach the body.
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import { Construct } from 'constructs';
import { GATEWAY_RESPONSES, gatewayResponseTemplate, type GatewayResponseType } from '../../core/api/errors';

export interface ApiGatewayResponsesProps {
  readonly restApi: apigw.IRestApi;
}

export class ApiGatewayResponses extends Construct {
  readonly responses: Readonly<Record<GatewayResponseType, apigw.GatewayResponse>>;

  constructor(scope: Construct, id: string, props: ApiGatewayResponsesProps) {
    super(scope, id);
    const responses = {} as Record<GatewayResponseType, apigw.GatewayResponse>;
    for (const type of Object.keys(GATEWAY_RESPONSES) as GatewayResponseType[]) {
      responses[type] = new apigw.GatewayResponse(this, type, {
        restApi: props.restApi,
        type: apigw.ResponseType.of(type),
        statusCode: String(GATEWAY_RESPONSES[type].status),
        responseHeaders: {
          // Error answers are per request: no cache may keep one.
          'Cache-Control': "'no-store'",
          'X-Content-Type-Options': "'nosniff'",
        },
        templates: { 'application/json': gatewayResponseTemplate(type) },
      });
    }
    this.responses = responses;
  }
}
