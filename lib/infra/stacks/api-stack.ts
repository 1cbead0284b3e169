// The API edge on AWS: a REST API (stage `v1`) built route by route from lib/core/api/routes.ts,
// the one route table the local API serves too. Every method requires an API key (per-client
// usage plans) and a bearer token (Cognito or an OIDC issuer, `api.auth`), validates its body
// against a model generated from the route's zod schema, and answers errors in the edge's
// envelope (gateway responses). `POST /events` goes straight to Kinesis; the other routes to their
// Lambda (scoring through its `live` alias). A WAF web ACL guards the stage; access logs are JSON.
import type { StackProps } from 'aws-cdk-lib';
import { CfnOutput, Duration, Stack, Validations } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { API_STAGE, MAX_BODY_BYTES, ROUTES, type RouteDefinition } from '../../core/api/routes';
import type { OfflineTableName } from '../../core/resources';
import { ENV, platformResources } from '../../core/resources';
import type { FathomConfig } from '../config';
import { DEFAULT_CONFIG, routeKey } from '../config';
import { ApiAuth } from '../constructs/api-auth';
import { ApiEventsIntegration, type EventsStreamTarget } from '../constructs/api-events-integration';
import { ApiFunction } from '../constructs/api-function';
import { ApiGatewayResponses } from '../constructs/api-gateway-responses';
import { modelNameFor, requestModelSchema } from '../constructs/api-models';
import { ApiUsagePlans } from '../constructs/api-usage-plans';
import { ApiWebAcl } from '../constructs/api-waf';
import { grantKeyViaService } from '../constructs/key-grants';
import type { OnlineFeatureSource } from '../constructs/scoring-function';

/** The handlers the API stack deploys itself (scoring is the serving stack's). */
export type ApiHandlerName = 'labels' | 'features' | 'models' | 'authorizer';

/** What the labels function writes to: the offline store's `labels` delivery stream (OfflineStoreStack fits). */
export interface LabelsDestination {
  grantPutRecords(table: OfflineTableName, grantee: iam.IGrantable): iam.Grant;
  deliveryStreamEnvironment(...tables: OfflineTableName[]): Record<string, string>;
}

/** What the models function reads: the registry table and its key, and the variables naming the registry (RegistryStack fits). */
export interface ModelCatalog {
  readonly table: dynamodb.ITable;
  readonly tableKey: kms.IKey;
  registryEnvironment(): Record<string, string>;
}

export interface ApiStackProps extends StackProps {
  /** The scoring function's `live` alias (ServingStack.scoring.alias). */
  readonly scoring: lambda.IFunction;
  /** The `events` stream and its key (IngestionStack). */
  readonly events: EventsStreamTarget;
  /** The online store (FeatureStoreStack). */
  readonly features: OnlineFeatureSource;
  /** The model registry (RegistryStack). */
  readonly registry: ModelCatalog;
  /** The offline store (OfflineStoreStack). */
  readonly labels: LabelsDestination;
  /**
   * Deployment settings (`api`, and the prefix and feature settings).
   * @default DEFAULT_CONFIG
   */
  readonly config?: FathomConfig;
  /**
   * Entry files of the API's handlers; tests may point them at small files.
   * @default lambdas/<name>/handler.ts
   */
  readonly entries?: Partial<Record<ApiHandlerName, string>>;
}

export class ApiStack extends Stack {
  readonly api: apigw.RestApi;
  readonly stage: apigw.Stage;
  readonly auth: ApiAuth;
  readonly functions: Readonly<Record<Exclude<ApiHandlerName, 'authorizer'>, ApiFunction>>;
  readonly eventsIntegration: ApiEventsIntegration;
  readonly models: Readonly<Record<string, apigw.Model>>;
  readonly requestValidator: apigw.RequestValidator;
  /** The method serving each route, by `<METHOD> <path>`. */
  readonly methods: Readonly<Record<string, apigw.Method>>;
  readonly gatewayResponses: ApiGatewayResponses;
  readonly usagePlans: ApiUsagePlans;
  readonly webAcl: ApiWebAcl;
  readonly accessLogs: logs.LogGroup;

  constructor(scope: Construct, id: string, props: ApiStackProps) {
    super(scope, id, props);
    const config = props.config ?? DEFAULT_CONFIG;
    const settings = config.api;
    const resources = platformResources(config.prefix);
    const tracing = settings.tracing ? lambda.Tracing.ACTIVE : lambda.Tracing.DISABLED;
    const fn = settings.functions;
    const functionDefaults = {
      memorySize: fn.memoryMb,
      timeout: Duration.seconds(fn.timeoutSeconds),
      logRetention: fn.logRetentionDays,
      logLevel: fn.logLevel,
      tracing,
    };

    this.auth = new ApiAuth(this, 'Auth', {
      settings: settings.auth,
      prefix: config.prefix,
      clients: settings.clients,
      authorizerFunction: { ...functionDefaults, entry: props.entries?.authorizer },
    });

    this.functions = {
      labels: new ApiFunction(this, 'Labels', {
        ...functionDefaults,
        handlerName: 'labels',
        description: "sends ground-truth labels to the offline store's labels delivery stream",
        entry: props.entries?.labels,
        environment: props.labels.deliveryStreamEnvironment('labels'),
      }),
      features: new ApiFunction(this, 'Features', {
        ...functionDefaults,
        handlerName: 'features',
        description: "reads an entity's current features from the online store",
        entry: props.entries?.features,
        environment: {
          [ENV.onlineStoreTable]: props.features.table.tableName,
          // The engine's lateness shapes the features it reports: it must be the stream's.
          [ENV.allowedLatenessSeconds]: String(config.features.allowedLatenessSeconds),
        },
      }),
      models: new ApiFunction(this, 'Models', {
        ...functionDefaults,
        handlerName: 'models',
        description: 'lists model versions, states and metrics from the registry table',
        entry: props.entries?.models,
        environment: props.registry.registryEnvironment(),
      }),
    };
    props.labels.grantPutRecords('labels', this.functions.labels.role);
    props.features.grantReadFeatures(this.functions.features.role);
    // Listing versions reads the registry table only (Query, Scan, GetItem): no package, no signing key.
    props.registry.table.grant(this.functions.models.role, 'dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:Scan');
    grantKeyViaService(props.registry.tableKey, this.functions.models.role, 'dynamodb', 'kms:Decrypt');

    this.accessLogs = new logs.LogGroup(this, 'AccessLogs', { retention: settings.accessLogRetentionDays });
    const methodOptions: Record<string, apigw.MethodDeploymentOptions> = {};
    for (const route of ROUTES) {
      const throttle = settings.routeThrottles[routeKey(route)];
      if (!throttle) throw new Error(`api.routeThrottles has no entry for ${routeKey(route)}`);
      methodOptions[`${route.path}/${route.method}`] = { throttlingRateLimit: throttle.rateLimit, throttlingBurstLimit: throttle.burstLimit };
    }

    this.api = new apigw.RestApi(this, 'Api', {
      restApiName: `${config.prefix}-api`,
      description: `Fathom API edge: ${ROUTES.map((r) => routeKey(r)).join(', ')}`,
      endpointConfiguration: { types: [apigw.EndpointType.REGIONAL] },
      apiKeySourceType: apigw.ApiKeySourceType.HEADER,
      cloudWatchRole: settings.cloudWatchRole,
      deployOptions: {
        stageName: API_STAGE,
        tracingEnabled: settings.tracing,
        metricsEnabled: true,
        loggingLevel: apigw.MethodLoggingLevel[settings.executionLogLevel],
        // Bodies are card transactions and tokens: execution logs never carry them.
        dataTraceEnabled: false,
        accessLogDestination: new apigw.LogGroupLogDestination(this.accessLogs),
        accessLogFormat: apigw.AccessLogFormat.custom(JSON.stringify(accessLogFields(this.auth.mode))),
        throttlingRateLimit: settings.throttle.rateLimit,
        throttlingBurstLimit: settings.throttle.burstLimit,
        methodOptions,
      },
    });
    this.stage = this.api.deploymentStage;

    this.requestValidator = this.api.addRequestValidator('Validator', {
      requestValidatorName: 'body-and-parameters',
      validateRequestBody: true,
      validateRequestParameters: true,
    });

    const models: Record<string, apigw.Model> = {};
    for (const route of ROUTES) {
      if (!route.body) continue;
      const name = `${modelNameFor(route.path)}Request`;
      models[routeKey(route)] = this.api.addModel(name, {
        modelName: name,
        contentType: 'application/json',
        description: `${routeKey(route)}: ${route.summary} (generated from the route's zod schema)`,
        schema: requestModelSchema(route.body),
      });
    }
    this.models = models;

    this.eventsIntegration = new ApiEventsIntegration(this, 'EventsIntegration', {
      target: props.events,
      restApi: this.api,
      partitionKeyField: resources.eventsStream.partitionKeyField,
    });
    const lambdaIntegration = (handler: lambda.IFunction) =>
      // No test-invoke permission: the console's test button is not a way in.
      new apigw.LambdaIntegration(handler, { proxy: true, allowTestInvoke: false });
    const integrations = {
      scoring: lambdaIntegration(props.scoring),
      labels: lambdaIntegration(this.functions.labels.lambdaFunction),
      features: lambdaIntegration(this.functions.features.lambdaFunction),
      models: lambdaIntegration(this.functions.models.lambdaFunction),
    };

    const methods: Record<string, apigw.Method> = {};
    for (const route of ROUTES) {
      const model = models[routeKey(route)];
      const isEvents = route.target.kind === 'kinesis-put-records';
      const integration = route.target.kind === 'lambda' ? integrations[route.target.handler] : this.eventsIntegration.integration;
      const params = pathParameters(route);
      methods[routeKey(route)] = this.api.root.resourceForPath(route.path).addMethod(route.method, integration, {
        ...this.auth.forScope(route.scope),
        apiKeyRequired: true,
        requestValidator: this.requestValidator,
        ...(model ? { requestModels: { 'application/json': model } } : {}),
        ...(params.length > 0 ? { requestParameters: Object.fromEntries(params.map((p) => [`method.request.path.${p}`, true])) } : {}),
        ...(isEvents ? { methodResponses: this.eventsIntegration.methodResponses } : {}),
      });
    }
    this.methods = methods;

    this.gatewayResponses = new ApiGatewayResponses(this, 'GatewayResponses', { restApi: this.api });

    this.usagePlans = new ApiUsagePlans(this, 'UsagePlans', {
      restApi: this.api,
      stage: this.stage,
      prefix: config.prefix,
      tiers: settings.tiers,
      clients: settings.clients,
    });

    this.webAcl = new ApiWebAcl(this, 'Waf', {
      stage: this.stage,
      name: `${config.prefix}-api`,
      rateLimitPerIp: settings.waf.rateLimitPerIp,
      evaluationWindowSeconds: settings.waf.evaluationWindowSeconds,
      logRetention: settings.waf.logRetentionDays,
      maxBodyBytes: MAX_BODY_BYTES,
    });

    new CfnOutput(this, 'ApiUrl', { description: `Base URL of the API (stage ${API_STAGE}); routes: ${ROUTES.map((r) => routeKey(r)).join(', ')}`, value: this.api.url });

    this.acknowledgeNagFindings(settings.executionLogLevel, settings.cloudWatchRole);
  }

  private acknowledgeNagFindings(executionLogLevel: FathomConfig['api']['executionLogLevel'], cloudWatchRole: boolean): void {
    if (this.auth.mode === 'oidc') {
      for (const method of Object.values(this.methods)) {
        Validations.of(method).acknowledge({
          id: 'AwsSolutions-COG4',
          reason:
            'api.auth.mode is oidc: tokens come from an existing OIDC issuer, not a Cognito user pool, and a Lambda TOKEN authorizer verifies them against its JWKS and allows only the routes their scopes open.',
        });
      }
    }
    if (executionLogLevel === 'OFF') {
      Validations.of(this.stage).acknowledge({
        id: 'AwsSolutions-APIG6',
        reason: 'api.executionLogLevel is OFF by configuration: the JSON access log still records every request with its status, latency, client and error type.',
      });
    }
    const role = this.api.node.tryFindChild('CloudWatchRole');
    if (cloudWatchRole && role) {
      Validations.of(role).acknowledge({
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
        reason:
          "API Gateway's account-wide logging role: AmazonAPIGatewayPushToCloudWatchLogs is the policy AWS documents for it, because API Gateway names the execution-log groups itself (API-Gateway-Execution-Logs_<api id>/<stage>).",
      });
    }
  }
}

/** The `{name}` segments of a route's path. */
function pathParameters(route: RouteDefinition): string[] {
  return [...route.path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]).filter((p): p is string => p !== undefined);
}

/**
 * One JSON object per request: who (API key id, client, principal, address), what (method,
 * resource, status, length), how long (total, integration, authorizer), and why it failed
 * (gateway response type, API Gateway's message, the authorizer's and WAF's verdicts). Bodies and
 * credentials are never logged.
 */
function accessLogFields(mode: 'cognito' | 'oidc'): Record<string, string> {
  const F = apigw.AccessLogField;
  return {
    request_id: F.contextRequestId(),
    extended_request_id: F.contextExtendedRequestId(),
    time: F.contextRequestTime(),
    time_epoch_ms: F.contextRequestTimeEpoch(),
    source_ip: F.contextIdentitySourceIp(),
    user_agent: F.contextIdentityUserAgent(),
    method: F.contextHttpMethod(),
    resource: F.contextResourcePath(),
    path: F.contextPath(),
    protocol: F.contextProtocol(),
    status: F.contextStatus(),
    response_length: F.contextResponseLength(),
    latency_ms: F.contextResponseLatency(),
    integration_latency_ms: F.contextIntegrationLatency(),
    integration_status: F.contextIntegrationStatus(),
    authorizer_latency_ms: F.contextAuthorizerLatency(),
    api_key_id: F.contextIdentityApiKeyId(),
    // Cognito puts the token's claims in the context; the OIDC authorizer answers client_id itself.
    client_id: mode === 'cognito' ? F.contextAuthorizerClaims('client_id') : F.contextAuthorizer('client_id'),
    principal: mode === 'cognito' ? F.contextAuthorizerClaims('sub') : F.contextAuthorizerPrincipalId(),
    error_type: F.contextErrorResponseType(),
    error_message: F.contextErrorMessage(),
    authorizer_error: F.contextAuthorizerError(),
    waf_response: F.contextWafResponseCode(),
    xray_trace_id: F.contextXrayTraceId(),
  };
}
