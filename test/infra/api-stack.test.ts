// The API stack as synthesized: one method per route of lib/core/api/routes.ts with its scope,
// API key, validator and generated model; the Kinesis integration of POST /events (role and
// templates); gateway responses in the envelope; usage plans and throttles; the WAF web ACL and
// its logging; JSON access logs; Cognito (default) and OIDC auth; cdk-nag.
import type { Stack } from 'aws-cdk-lib';
import { Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { GATEWAY_RESPONSES, gatewayResponseTemplate, type GatewayResponseType } from '../../lib/core/api/errors';
import { eventsRequestTemplate, eventsResponseTemplate } from '../../lib/core/api/events-integration';
import { ErrorEnvelopeSchema, MAX_BODY_BYTES, ROUTES, SCOPES } from '../../lib/core/api/routes';
import { API_TIER_DEFAULTS, ENV, platformResources } from '../../lib/core/resources';
import { routeKey } from '../../lib/infra/config';
import { toApiGatewaySchema } from '../../lib/infra/constructs/api-models';
import { decimalGreaterThanPattern } from '../../lib/infra/constructs/api-waf';
import { buildFathomApp } from './app-fixture';
import { actionsOf, policyStatements, resourcesOf, type Statement } from './iam-statements';

interface CfnResource {
  readonly Type: string;
  readonly Properties: Record<string, unknown>;
}

const built = buildFathomApp();
const { api: stack, ingestion, featureStore, registry, serving, offlineStore } = built.stacks;
const template = Template.fromStack(stack);
const resources = template.toJSON().Resources as Record<string, CfnResource>;

const ofType = (type: string, t: Record<string, CfnResource> = resources): [string, CfnResource][] => Object.entries(t).filter(([, r]) => r.Type === type);
const only = (type: string, t: Record<string, CfnResource> = resources): [string, CfnResource] => {
  const found = ofType(type, t);
  expect(found, type).toHaveLength(1);
  return found[0]!;
};
const ref = (logicalId: string) => ({ Ref: logicalId });

/**
 * How this stack's template refers to `value` of `producer` (a weak reference: the producer's
 * output by name), as a vitest matcher. cross-stack.ts gives the same for Template assertions.
 */
function outputRef(producer: Stack, value: string): unknown {
  const local = JSON.stringify(producer.resolve(value));
  const outputs = Template.fromStack(producer).toJSON().Outputs as Record<string, { Value: unknown }>;
  const found = Object.entries(outputs).find(([, o]) => JSON.stringify(o.Value) === local);
  if (!found) throw new Error(`${producer.stackName} does not output ${local}`);
  return { 'Fn::GetStackOutput': expect.objectContaining({ StackName: producer.stackName, OutputName: found[0] }) };
}

/** Every API Gateway resource's full path (`/features/{entity_id}`), by logical id. */
function resourcePaths(t: Record<string, CfnResource>): Map<string, string> {
  const parts = new Map(ofType('AWS::ApiGateway::Resource', t).map(([id, r]) => [id, r.Properties as { ParentId: unknown; PathPart: string }]));
  const pathOf = (id: string): string => {
    const r = parts.get(id);
    if (!r) throw new Error(`no resource ${id}`);
    const parent = r.ParentId as { Ref?: string };
    return `${parent.Ref ? pathOf(parent.Ref) : ''}/${r.PathPart}`;
  };
  return new Map([...parts.keys()].map((id) => [id, pathOf(id)]));
}

/** The method serving each route, by `<METHOD> <path>`. */
function methodsByRoute(t: Record<string, CfnResource>): Map<string, Record<string, unknown>> {
  const paths = resourcePaths(t);
  return new Map(
    ofType('AWS::ApiGateway::Method', t).map(([, m]) => {
      const resourceId = (m.Properties['ResourceId'] as { Ref: string }).Ref;
      return [`${String(m.Properties['HttpMethod'])} ${paths.get(resourceId) ?? '?'}`, m.Properties];
    }),
  );
}

const methods = methodsByRoute(resources);
const [validatorId] = only('AWS::ApiGateway::RequestValidator');
const [apiId] = only('AWS::ApiGateway::RestApi');
const [stageId, stage] = only('AWS::ApiGateway::Stage');

describe('ApiStack: routes', () => {
  it('has exactly one method per route of the route table, and nothing else', () => {
    expect([...methods.keys()].sort()).toEqual(ROUTES.map((r) => routeKey(r)).sort());
  });

  it.each(ROUTES.map((r) => [routeKey(r), r] as const))('%s requires an API key, a token with its scope and the body-and-parameters validator', (key, route) => {
    const m = methods.get(key)!;
    expect(m['ApiKeyRequired']).toBe(true);
    expect(m['AuthorizationType']).toBe('COGNITO_USER_POOLS');
    expect(m['AuthorizationScopes']).toEqual([`fathom/${route.scope}`]);
    expect(m['AuthorizerId']).toEqual(ref(only('AWS::ApiGateway::Authorizer')[0]));
    expect(m['RequestValidatorId']).toEqual(ref(validatorId));
    const params = [...route.path.matchAll(/\{([^}]+)\}/g)].map((p) => `method.request.path.${p[1]}`);
    if (params.length > 0) expect(m['RequestParameters']).toEqual(Object.fromEntries(params.map((p) => [p, true])));
    else expect(m['RequestParameters']).toBeUndefined();
  });

  it('validates both bodies and parameters, with one validator', () => {
    template.resourceCountIs('AWS::ApiGateway::RequestValidator', 1);
    template.hasResourceProperties('AWS::ApiGateway::RequestValidator', { RestApiId: ref(apiId), ValidateRequestBody: true, ValidateRequestParameters: true });
  });

  it('serves scoring through the live alias, and labels, features and models through their functions, as Lambda proxies', () => {
    for (const route of ROUTES) {
      if (route.target.kind !== 'lambda') continue;
      const integration = methods.get(routeKey(route))!['Integration'] as { Type: string; IntegrationHttpMethod: string; Uri: unknown };
      expect(integration.Type, routeKey(route)).toBe('AWS_PROXY');
      expect(integration.IntegrationHttpMethod).toBe('POST');
      const uri = JSON.stringify(integration.Uri);
      if (route.target.handler === 'scoring') {
        // The alias's ARN, handed over by the serving stack.
        expect(uri).toContain(`"StackName":"${serving.stackName}"`);
        expect(uri).toMatch(/OutputName":"[^"]*ScoringLive/);
      } else {
        expect(uri).toContain(stack.getLogicalId(stack.functions[route.target.handler].lambdaFunction.node.defaultChild as never));
      }
    }
    // Invoke permissions name the alias (not the function) and one method each.
    const permissions = ofType('AWS::Lambda::Permission').map(([, p]) => p.Properties);
    expect(permissions.filter((p) => JSON.stringify(p['FunctionName']).includes('ScoringLive'))).toHaveLength(1);
    for (const p of permissions) {
      expect(p['Principal']).toBe('apigateway.amazonaws.com');
      expect(JSON.stringify(p['SourceArn'])).not.toContain('test-invoke-stage');
    }
    expect(permissions).toHaveLength(ROUTES.filter((r) => r.target.kind === 'lambda').length);
  });
});

describe('ApiStack: request models from the zod schemas', () => {
  it.each(ROUTES.filter((r) => r.body).map((r) => [routeKey(r), r] as const))('%s has a JSON model that is exactly the schema zod generates (draft 4, input side)', (key, route) => {
    const m = methods.get(key)!;
    const modelRef = (m['RequestModels'] as Record<string, { Ref: string }>)['application/json']!.Ref;
    const model = resources[modelRef]!.Properties;
    expect(model['ContentType']).toBe('application/json');
    expect(model['Schema']).toEqual(z.toJSONSchema(route.body!, { target: 'draft-4', io: 'input' }));
    expect(model['Schema']).toMatchObject({ $schema: 'http://json-schema.org/draft-04/schema#', type: 'object', additionalProperties: false });
  });

  it('holds the limits of the schemas: batches of 1 to 500, strict events, labels 0 or 1', () => {
    const schemaOf = (key: string) => resources[((methods.get(key)!['RequestModels'] as Record<string, { Ref: string }>)['application/json']!).Ref]!.Properties['Schema'] as Record<string, unknown>;
    expect(schemaOf('POST /events')).toMatchObject({ required: ['events'], properties: { events: { type: 'array', minItems: 1, maxItems: 500, items: { additionalProperties: false, properties: { entity_id: { pattern: '^[A-Za-z0-9_.:#-]+$' } } } } } });
    expect(schemaOf('POST /labels')).toMatchObject({ properties: { labels: { maxItems: 500, items: { properties: { label: { anyOf: [{ enum: [0] }, { enum: [1] }] } } } } } });
    expect(schemaOf('POST /score')).toMatchObject({ required: ['event'], properties: { event: { required: expect.arrayContaining(['event_id', 'entity_id', 'amount', 'event_time']) } } });
  });

  it('refuses a keyword an API Gateway model cannot hold, instead of dropping it', () => {
    expect(() => toApiGatewaySchema({ type: 'object', unevaluatedProperties: false })).toThrow(/unevaluatedProperties/);
    expect(() => toApiGatewaySchema({ $schema: 'https://json-schema.org/draft/2020-12/schema' })).toThrow(/draft 4/);
    expect(toApiGatewaySchema({ $schema: 'http://json-schema.org/draft-04/schema#', type: 'string', pattern: '^a$' })).toEqual({ schema: 'http://json-schema.org/draft-04/schema#', type: 'string', pattern: '^a$' });
  });
});

describe('ApiStack: POST /events as a direct Kinesis integration', () => {
  const events = methods.get('POST /events')!;
  const integration = events['Integration'] as Record<string, unknown>;
  const roleId = stack.getLogicalId(stack.eventsIntegration.role.node.defaultChild as never);

  it('calls PutRecords with its own role, refusing anything but JSON', () => {
    expect(integration['Type']).toBe('AWS');
    expect(integration['IntegrationHttpMethod']).toBe('POST');
    expect(JSON.stringify(integration['Uri'])).toContain(':kinesis:action/PutRecords');
    expect(integration['Credentials']).toEqual({ 'Fn::GetAtt': [roleId, 'Arn'] });
    expect(integration['PassthroughBehavior']).toBe('NEVER');
    expect(integration['RequestParameters']).toEqual({ 'integration.request.header.Content-Type': "'application/x-amz-json-1.1'" });
    expect(Object.keys(integration['RequestTemplates'] as object)).toEqual(['application/json']);
  });

  it('turns each event into a record: data the event JSON in base64, partition key its entity_id, on the events stream', () => {
    const joined = (integration['RequestTemplates'] as Record<string, { 'Fn::Join': [string, unknown[]] }>)['application/json']!['Fn::Join'][1];
    const streamRef = outputRef(ingestion, ingestion.stream.streamName);
    const text = joined.map((part) => (typeof part === 'string' ? part : (expect(part).toEqual(streamRef), '<stream>'))).join('');
    expect(text).toBe(eventsRequestTemplate('<stream>', 'entity_id'));
    expect(text).toContain('$util.base64Encode($input.json("$.events[$foreach.index]"))');
    expect(text).toContain('"PartitionKey": "$util.escapeJavaScript($e.entity_id)"');
  });

  it('answers per event in its own shape, and a failed call as a 503 envelope, never with Kinesis messages', () => {
    const responses = integration['IntegrationResponses'] as { StatusCode: string; SelectionPattern?: string; ResponseTemplates: Record<string, string> }[];
    expect(responses).toHaveLength(2);
    const ok = responses.find((r) => r.StatusCode === '200')!;
    expect(ok.SelectionPattern).toBeUndefined();
    expect(ok.ResponseTemplates['application/json']).toBe(eventsResponseTemplate());
    const failed = responses.find((r) => r.StatusCode === '503')!;
    expect(failed.SelectionPattern).toBe('[45]\\d{2}');
    const body = JSON.parse(failed.ResponseTemplates['application/json']!.replace('$context.requestId', 'req-1'));
    expect(ErrorEnvelopeSchema.parse(body)).toEqual({ error: { code: 'unavailable', message: expect.any(String), request_id: 'req-1' } });
    for (const r of responses) expect(r.ResponseTemplates['application/json']).not.toMatch(/ErrorMessage|\$input\.body/);
    expect(events['MethodResponses']).toEqual([{ StatusCode: '200' }, { StatusCode: '503' }]);
  });

  it('uses a role that API Gateway assumes for this API only, allowed PutRecords on the one stream and its key through Kinesis', () => {
    const role = resources[roleId]!.Properties as { AssumeRolePolicyDocument: { Statement: Statement[] } };
    expect(role.AssumeRolePolicyDocument.Statement).toEqual([
      expect.objectContaining({
        Principal: { Service: 'apigateway.amazonaws.com' },
        Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } }, ArnLike: { 'aws:SourceArn': expect.anything() } },
      }),
    ]);
    expect(JSON.stringify(role.AssumeRolePolicyDocument.Statement[0]!.Condition)).toContain(apiId);
    const policies = ofType('AWS::IAM::Policy').filter(([, p]) => JSON.stringify(p.Properties['Roles']) === JSON.stringify([ref(roleId)]));
    expect(policies).toHaveLength(1);
    const statements = (policies[0]![1].Properties['PolicyDocument'] as { Statement: Statement[] }).Statement;
    expect(statements).toEqual([
      { Action: 'kinesis:PutRecords', Effect: 'Allow', Resource: outputRef(ingestion, ingestion.stream.streamArn) },
      {
        Action: 'kms:GenerateDataKey',
        Effect: 'Allow',
        Resource: outputRef(ingestion, ingestion.encryptionKey.keyArn),
        Condition: { StringEquals: { 'kms:ViaService': { 'Fn::Join': ['', ['kinesis.', { Ref: 'AWS::Region' }, '.', { Ref: 'AWS::URLSuffix' }]] } } },
      },
    ]);
  });
});

describe('ApiStack: the functions behind the API', () => {
  const statements = policyStatements(template);
  const fnProps = (name: 'labels' | 'features' | 'models') => resources[stack.getLogicalId(stack.functions[name].lambdaFunction.node.defaultChild as never)]!.Properties;
  const roleStatements = (name: 'labels' | 'features' | 'models'): Statement[] => {
    const roleId = stack.getLogicalId(stack.functions[name].role.node.defaultChild as never);
    return ofType('AWS::IAM::Policy')
      .filter(([, p]) => JSON.stringify(p.Properties['Roles']) === JSON.stringify([ref(roleId)]))
      .flatMap(([, p]) => (p.Properties['PolicyDocument'] as { Statement: Statement[] }).Statement)
      .filter((s) => !actionsOf(s).some((a) => a.startsWith('logs:') || a.startsWith('xray:')));
  };

  it('run on nodejs22.x, arm64, with tracing, the configured memory and timeout', () => {
    for (const name of ['labels', 'features', 'models'] as const) {
      expect(fnProps(name), name).toMatchObject({ Runtime: 'nodejs22.x', Architectures: ['arm64'], MemorySize: 512, Timeout: 10, TracingConfig: { Mode: 'Active' } });
    }
  });

  it('labels: writes only to the offline store’s labels delivery stream, named in its environment', () => {
    const streamArn = outputRef(offlineStore, offlineStore.deliveryStreams.labels.deliveryStreamArn);
    expect(roleStatements('labels')).toEqual([{ Action: ['firehose:PutRecord', 'firehose:PutRecordBatch'], Effect: 'Allow', Resource: streamArn }]);
    const env = (fnProps('labels')['Environment'] as { Variables: Record<string, unknown> }).Variables;
    expect(env[ENV.labelsDeliveryStream]).toBe(platformResources().offlineStore.deliveryStreams.labels.name);
  });

  it('features: reads entity items of the online store (and decrypts them through DynamoDB), with the stream’s lateness', () => {
    expect(roleStatements('features')).toEqual([
      { Action: ['dynamodb:BatchGetItem', 'dynamodb:GetItem'], Effect: 'Allow', Resource: outputRef(featureStore, featureStore.table.tableArn) },
      expect.objectContaining({ Action: 'kms:Decrypt', Resource: outputRef(featureStore, featureStore.tableKey.keyArn) }),
    ]);
    expect((fnProps('features')['Environment'] as { Variables: Record<string, unknown> }).Variables).toMatchObject({
      [ENV.onlineStoreTable]: outputRef(featureStore, featureStore.table.tableName),
      [ENV.allowedLatenessSeconds]: '300',
    });
  });

  it('models: reads the registry table only (no package, no signing key)', () => {
    expect(roleStatements('models')).toEqual([
      { Action: ['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:Scan'], Effect: 'Allow', Resource: outputRef(registry, registry.table.tableArn) },
      expect.objectContaining({ Action: 'kms:Decrypt', Resource: outputRef(registry, registry.tableKey.keyArn) }),
    ]);
    expect(statements.filter((s) => actionsOf(s).some((a) => a.startsWith('s3:') || a === 'kms:Verify' || a === 'kms:GetPublicKey'))).toEqual([]);
  });

  it('has no wildcard resource except the X-Ray statements', () => {
    for (const s of statements) {
      if (resourcesOf(s).includes('*')) expect(actionsOf(s).sort()).toEqual(['xray:PutTelemetryRecords', 'xray:PutTraceSegments']);
    }
  });
});

describe('ApiStack: gateway responses', () => {
  const byType = new Map(ofType('AWS::ApiGateway::GatewayResponse').map(([, r]) => [r.Properties['ResponseType'] as string, r.Properties]));

  it('sets every response type of the shared table, the defaults included', () => {
    expect([...byType.keys()].sort()).toEqual(Object.keys(GATEWAY_RESPONSES).sort());
    for (const type of ['DEFAULT_4XX', 'DEFAULT_5XX', 'BAD_REQUEST_BODY', 'UNAUTHORIZED', 'ACCESS_DENIED', 'MISSING_AUTHENTICATION_TOKEN', 'REQUEST_TOO_LARGE', 'THROTTLED', 'QUOTA_EXCEEDED']) expect(byType.has(type), type).toBe(true);
    const statuses = new Set([...byType.values()].map((r) => Number(r['StatusCode'])));
    for (const status of [400, 401, 403, 404, 413, 429, 500, 502, 504]) expect(statuses.has(status), String(status)).toBe(true);
  });

  it.each(Object.keys(GATEWAY_RESPONSES) as GatewayResponseType[])('%s answers its status with the envelope, the request id, and nothing internal', (type) => {
    const r = byType.get(type)!;
    expect(r['StatusCode']).toBe(String(GATEWAY_RESPONSES[type].status));
    expect(r['RestApiId']).toEqual(ref(apiId));
    const body = (r['ResponseTemplates'] as Record<string, string>)['application/json']!;
    expect(body).toBe(gatewayResponseTemplate(type));
    // Only the request id is substituted: no error message, validation string, authorizer or integration value.
    expect(body.match(/\$[a-zA-Z.]+/g)).toEqual(['$context.requestId']);
    const envelope = ErrorEnvelopeSchema.parse(JSON.parse(body.replace('$context.requestId', 'req-1')));
    expect(envelope.error).toMatchObject({ code: GATEWAY_RESPONSES[type].code, request_id: 'req-1' });
    expect(r['ResponseParameters']).toMatchObject({ 'gatewayresponse.header.Cache-Control': "'no-store'" });
  });
});

describe('ApiStack: usage plans, API keys and throttles', () => {
  it('has one plan per tier with its rate, burst and daily quota on the v1 stage', () => {
    template.resourceCountIs('AWS::ApiGateway::UsagePlan', Object.keys(API_TIER_DEFAULTS).length);
    for (const [tier, limits] of Object.entries(API_TIER_DEFAULTS)) {
      template.hasResourceProperties('AWS::ApiGateway::UsagePlan', {
        UsagePlanName: `fathom-${tier}`,
        Throttle: { RateLimit: limits.rateLimit, BurstLimit: limits.burstLimit },
        Quota: { Limit: limits.quotaPerDay, Period: 'DAY' },
        ApiStages: [{ ApiId: ref(apiId), Stage: ref(stageId) }],
      });
    }
  });

  it("gives each configured client a generated API key in its tier's plan", () => {
    const [keyId, key] = only('AWS::ApiGateway::ApiKey');
    expect(key.Properties).toMatchObject({ Name: 'fathom-default', Enabled: true });
    expect(key.Properties['Value']).toBeUndefined();
    const standardPlan = ofType('AWS::ApiGateway::UsagePlan').find(([, p]) => p.Properties['UsagePlanName'] === 'fathom-standard')![0];
    template.hasResourceProperties('AWS::ApiGateway::UsagePlanKey', { KeyId: ref(keyId), KeyType: 'API_KEY', UsagePlanId: ref(standardPlan) });
    template.hasResourceProperties('AWS::ApiGateway::RestApi', { ApiKeySourceType: 'HEADER', EndpointConfiguration: { Types: ['REGIONAL'] } });
  });

  it('throttles the stage and each method, every client together', () => {
    const settings = stage.Properties['MethodSettings'] as { HttpMethod: string; ResourcePath: string; ThrottlingRateLimit: number; ThrottlingBurstLimit: number }[];
    expect(settings.find((s) => s.ResourcePath === '/*')).toMatchObject({ HttpMethod: '*', ThrottlingRateLimit: 1000, ThrottlingBurstLimit: 2000 });
    for (const route of ROUTES) {
      const expected = built.config.api.routeThrottles[routeKey(route)]!;
      const s = settings.find((x) => x.HttpMethod === route.method && x.ResourcePath === `/${route.path.replace(/\//g, '~1')}`);
      expect(s, routeKey(route)).toMatchObject({ ThrottlingRateLimit: expected.rateLimit, ThrottlingBurstLimit: expected.burstLimit });
    }
    expect(built.config.api.routeThrottles['POST /events']).toEqual({ rateLimit: 200, burstLimit: 400 });
  });
});

describe('ApiStack: stage logging and tracing', () => {
  it('is stage v1, traced, with execution logs at ERROR and no request or response bodies', () => {
    expect(stage.Properties).toMatchObject({ StageName: 'v1', TracingEnabled: true, RestApiId: ref(apiId) });
    expect((stage.Properties['MethodSettings'] as object[])[0]).toMatchObject({ HttpMethod: '*', ResourcePath: '/*', LoggingLevel: 'ERROR', DataTraceEnabled: false, MetricsEnabled: true });
    // The account-wide role API Gateway writes execution logs with.
    template.resourceCountIs('AWS::ApiGateway::Account', 1);
  });

  it('writes a JSON access log line per request: id, client, key, principal, status, latency, error', () => {
    const setting = stage.Properties['AccessLogSetting'] as { DestinationArn: unknown; Format: string };
    expect(JSON.stringify(setting.DestinationArn)).toContain(stack.getLogicalId(stack.accessLogs.node.defaultChild as never));
    const fields = JSON.parse(setting.Format) as Record<string, string>;
    expect(fields).toMatchObject({
      request_id: '$context.requestId',
      api_key_id: '$context.identity.apiKeyId',
      client_id: '$context.authorizer.claims.client_id',
      principal: '$context.authorizer.claims.sub',
      status: '$context.status',
      latency_ms: '$context.responseLatency',
      integration_latency_ms: '$context.integrationLatency',
      error_message: '$context.error.message',
      error_type: '$context.error.responseType',
      waf_response: '$context.wafResponseCode',
    });
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
  });
});

describe('ApiStack: WAF', () => {
  const [aclId, acl] = only('AWS::WAFv2::WebACL');
  const rules = acl.Properties['Rules'] as { Name: string; Priority: number; Statement: Record<string, Record<string, unknown>>; Action?: unknown; OverrideAction?: unknown }[];
  const rule = (name: string) => rules.find((r) => r.Name === name)!;

  it('is a regional web ACL that allows by default, with four rules in order', () => {
    expect(acl.Properties).toMatchObject({ Scope: 'REGIONAL', DefaultAction: { Allow: {} }, Name: 'fathom-api' });
    expect(rules.map((r) => [r.Priority, r.Name])).toEqual([
      [0, 'RateLimitPerIp'],
      [1, 'BodySizeLimit'],
      [2, 'AWSManagedRulesCommonRuleSet'],
      [3, 'AWSManagedRulesKnownBadInputsRuleSet'],
    ]);
  });

  it('blocks an address over the configured rate with a 429 in the envelope', () => {
    expect(rule('RateLimitPerIp').Statement).toEqual({ RateBasedStatement: { Limit: 200_000, AggregateKeyType: 'IP', EvaluationWindowSec: 300 } });
    expect(rule('RateLimitPerIp').Action).toEqual({ Block: { CustomResponse: { ResponseCode: 429, CustomResponseBodyKey: 'too-many-requests', ResponseHeaders: [{ Name: 'Retry-After', Value: '60' }] } } });
    const bodies = acl.Properties['CustomResponseBodies'] as Record<string, { ContentType: string; Content: string }>;
    for (const body of Object.values(bodies)) {
      expect(body.ContentType).toBe('APPLICATION_JSON');
      ErrorEnvelopeSchema.parse(JSON.parse(body.Content));
    }
    expect(JSON.parse(bodies['too-many-requests']!.Content)).toMatchObject({ error: { code: 'too_many_requests' } });
    expect(JSON.parse(bodies['payload-too-large']!.Content)).toMatchObject({ error: { code: 'payload_too_large', message: expect.stringContaining(String(MAX_BODY_BYTES)) } });
  });

  it('blocks a declared body larger than MAX_BODY_BYTES with a 413', () => {
    const statement = rule('BodySizeLimit').Statement['RegexMatchStatement'] as { FieldToMatch: unknown; RegexString: string };
    expect(statement.FieldToMatch).toEqual({ SingleHeader: { Name: 'content-length' } });
    expect(statement.RegexString).toBe(decimalGreaterThanPattern(MAX_BODY_BYTES));
    const re = new RegExp(statement.RegexString);
    expect(re.test(String(MAX_BODY_BYTES))).toBe(false);
    expect(re.test(String(MAX_BODY_BYTES + 1))).toBe(true);
    expect(re.test('10485760')).toBe(true);
    expect(re.test('512')).toBe(false);
    expect(rule('BodySizeLimit').Action).toEqual({ Block: { CustomResponse: { ResponseCode: 413, CustomResponseBodyKey: 'payload-too-large' } } });
  });

  it('runs the AWS common rule set (its 8 KB body rule only counted) and known bad inputs', () => {
    expect(rule('AWSManagedRulesCommonRuleSet')).toMatchObject({
      OverrideAction: { None: {} },
      Statement: { ManagedRuleGroupStatement: { VendorName: 'AWS', Name: 'AWSManagedRulesCommonRuleSet', RuleActionOverrides: [{ Name: 'SizeRestrictions_BODY', ActionToUse: { Count: {} } }] } },
    });
    expect(rule('AWSManagedRulesKnownBadInputsRuleSet')).toMatchObject({ OverrideAction: { None: {} }, Statement: { ManagedRuleGroupStatement: { VendorName: 'AWS', Name: 'AWSManagedRulesKnownBadInputsRuleSet' } } });
  });

  it('is associated with the v1 stage', () => {
    const [, association] = only('AWS::WAFv2::WebACLAssociation');
    expect(association.Properties['WebACLArn']).toEqual({ 'Fn::GetAtt': [aclId, 'Arn'] });
    const arn = JSON.stringify(association.Properties['ResourceArn']);
    expect(arn).toContain('/restapis/');
    expect(arn).toContain(apiId);
    expect(arn).toContain(`"/stages/",${JSON.stringify(ref(stageId))}`);
  });

  it('logs to an aws-waf-logs- log group, with tokens and API keys redacted', () => {
    const [, logging] = only('AWS::WAFv2::LoggingConfiguration');
    expect(logging.Properties['ResourceArn']).toEqual({ 'Fn::GetAtt': [aclId, 'Arn'] });
    expect(JSON.stringify(logging.Properties['LogDestinationConfigs'])).toContain(':log-group:aws-waf-logs-fathom-api"');
    expect(logging.Properties['RedactedFields']).toEqual([{ SingleHeader: { Name: 'authorization' } }, { SingleHeader: { Name: 'x-api-key' } }]);
    template.hasResourceProperties('AWS::Logs::LogGroup', { LogGroupName: 'aws-waf-logs-fathom-api', RetentionInDays: 30 });
  });
});

describe('decimalGreaterThanPattern', () => {
  it.each([0, 1, 9, 10, 99, 100, 524_288, 999_999, 1_000_000, 10_485_760])('matches exactly the integers above %i', (n) => {
    const re = new RegExp(decimalGreaterThanPattern(n));
    const probes = [0, 1, n - 1, n, n + 1, n + 9, n * 10, n * 10 + 9, 2 * n + 1, Number.MAX_SAFE_INTEGER];
    for (let i = 0; i < 2000; i++) probes.push(Math.floor(Math.random() * (3 * n + 10)));
    for (const x of probes.filter((p) => p >= 0)) expect(re.test(String(x)), `${x} vs ${n}`).toBe(x > n);
    expect(re.test(`000${n + 1}`)).toBe(true);
    expect(re.test(`00${n}`)).toBe(false);
    expect(re.test('')).toBe(false);
    expect(re.test('12a')).toBe(false);
  });
});

describe('ApiStack: Cognito auth (the default)', () => {
  it('has a machine-only user pool with the fathom resource server and its four scopes', () => {
    template.hasResourceProperties('AWS::Cognito::UserPool', { AdminCreateUserConfig: { AllowAdminCreateUserOnly: true }, MfaConfiguration: 'ON', UserPoolName: 'fathom-api' });
    template.hasResourceProperties('AWS::Cognito::UserPoolResourceServer', {
      Identifier: 'fathom',
      Scopes: SCOPES.map((s) => ({ ScopeName: s, ScopeDescription: Match.anyValue() })),
    });
    template.hasResourceProperties('AWS::Cognito::UserPoolDomain', { Domain: { 'Fn::Join': ['', ['fathom-', { Ref: 'AWS::AccountId' }]] } });
  });

  it('gives each client an app client with the client-credentials grant, a secret and its scopes', () => {
    const [, client] = only('AWS::Cognito::UserPoolClient');
    expect(client.Properties).toMatchObject({ ClientName: 'fathom-default', GenerateSecret: true, AllowedOAuthFlows: ['client_credentials'], AllowedOAuthFlowsUserPoolClient: true, AccessTokenValidity: 60 });
    const scopes = JSON.stringify(client.Properties['AllowedOAuthScopes']);
    for (const s of SCOPES) expect(scopes).toContain(`"/${s}"`);
  });

  it('authorizes with a Cognito authorizer on the Authorization header', () => {
    const [, authorizer] = only('AWS::ApiGateway::Authorizer');
    expect(authorizer.Properties).toMatchObject({ Type: 'COGNITO_USER_POOLS', IdentitySource: 'method.request.header.Authorization', ProviderARNs: [{ 'Fn::GetAtt': [stack.getLogicalId(stack.auth.userPool!.node.defaultChild as never), 'Arn'] }] });
  });

  it('outputs the API URL, the user pool id, the token URL and the key and client ids', () => {
    const outputs = template.toJSON().Outputs as Record<string, { Value: unknown }>;
    const names = Object.keys(outputs);
    for (const prefix of ['ApiUrl', 'AuthUserPoolId', 'AuthTokenUrl', 'AuthDefaultClientId', 'UsagePlansDefaultKeyId']) expect(names.some((n) => n.startsWith(prefix)), prefix).toBe(true);
    const tokenUrl = Object.entries(outputs).find(([n]) => n.startsWith('AuthTokenUrl'))![1].Value;
    expect(JSON.stringify(tokenUrl)).toMatch(/amazoncognito\.com\/oauth2\/token/);
  });
});

describe('ApiStack: OIDC auth, other clients and tiers, execution logs off', () => {
  const other = buildFathomApp({
    api: {
      auth: { mode: 'oidc', issuer: 'https://issuer.example.com/', audience: 'fathom-api', jwksUrl: 'https://issuer.example.com/.well-known/jwks.json', resultsCacheSeconds: 60 },
      tiers: { bronze: { rateLimit: 5, burstLimit: 10, quotaPerDay: 1000 }, gold: { rateLimit: 100, burstLimit: 200, quotaPerDay: 100_000 } },
      clients: [
        { name: 'shop', tier: 'bronze' },
        { name: 'bank', tier: 'gold', scopes: ['score'] },
      ],
      waf: { rateLimitPerIp: 60_000, evaluationWindowSeconds: 600 },
      executionLogLevel: 'OFF',
      cloudWatchRole: false,
    },
  });
  const api = other.stacks.api;
  const t = Template.fromStack(api);
  const res = t.toJSON().Resources as Record<string, CfnResource>;
  const oidcMethods = methodsByRoute(res);

  it('verifies tokens with the Lambda TOKEN authorizer, cached per token, Bearer JWTs only', () => {
    const fnId = api.getLogicalId(api.auth.authorizerFunction!.lambdaFunction.node.defaultChild as never);
    const [authorizerId, authorizer] = only('AWS::ApiGateway::Authorizer', res);
    expect(authorizer.Properties).toMatchObject({ Type: 'TOKEN', IdentitySource: 'method.request.header.Authorization', AuthorizerResultTtlInSeconds: 60 });
    expect(new RegExp(authorizer.Properties['IdentityValidationExpression'] as string).test('Bearer aaa.bbb.ccc')).toBe(true);
    expect(new RegExp(authorizer.Properties['IdentityValidationExpression'] as string).test('Basic dXNlcjpwYXNz')).toBe(false);
    expect(JSON.stringify(authorizer.Properties['AuthorizerUri'])).toContain(fnId);
    expect(res[fnId]!.Properties).toMatchObject({
      Runtime: 'nodejs22.x',
      Environment: { Variables: { [ENV.oidcIssuer]: 'https://issuer.example.com/', [ENV.oidcAudience]: 'fathom-api', [ENV.oidcJwksUrl]: 'https://issuer.example.com/.well-known/jwks.json' } },
    });
    for (const [key, m] of oidcMethods) {
      expect(m, key).toMatchObject({ AuthorizationType: 'CUSTOM', AuthorizerId: ref(authorizerId), ApiKeyRequired: true });
      // Scopes are the authorizer's policy (lib/core/api/scopes.ts): API Gateway checks them only for Cognito.
      expect(m['AuthorizationScopes']).toBeUndefined();
    }
    expect(ofType('AWS::Cognito::UserPool', res)).toEqual([]);
    // Only this API's authorizer may invoke the function.
    const permission = ofType('AWS::Lambda::Permission', res).find(([, p]) => JSON.stringify(p.Properties['FunctionName']).includes(fnId))![1];
    expect(JSON.stringify(permission.Properties['SourceArn'])).toContain('/authorizers/');
  });

  it('has the configured tiers, one key per client in its plan, and the WAF limit', () => {
    t.resourceCountIs('AWS::ApiGateway::UsagePlan', 2);
    t.hasResourceProperties('AWS::ApiGateway::UsagePlan', { UsagePlanName: 'fathom-gold', Throttle: { RateLimit: 100, BurstLimit: 200 }, Quota: { Limit: 100_000, Period: 'DAY' } });
    const plans = new Map(ofType('AWS::ApiGateway::UsagePlan', res).map(([id, p]) => [p.Properties['UsagePlanName'], id]));
    const keys = new Map(ofType('AWS::ApiGateway::ApiKey', res).map(([id, k]) => [k.Properties['Name'], id]));
    expect([...keys.keys()].sort()).toEqual(['fathom-bank', 'fathom-shop']);
    t.hasResourceProperties('AWS::ApiGateway::UsagePlanKey', { KeyId: ref(keys.get('fathom-shop')!), UsagePlanId: ref(plans.get('fathom-bronze')!) });
    t.hasResourceProperties('AWS::ApiGateway::UsagePlanKey', { KeyId: ref(keys.get('fathom-bank')!), UsagePlanId: ref(plans.get('fathom-gold')!) });
    t.hasResourceProperties('AWS::WAFv2::WebACL', { Rules: Match.arrayWith([Match.objectLike({ Statement: { RateBasedStatement: { Limit: 60_000, AggregateKeyType: 'IP', EvaluationWindowSec: 600 } } })]) });
  });

  it('leaves execution logs and the account role out when configured so, keeping the access log', () => {
    t.resourceCountIs('AWS::ApiGateway::Account', 0);
    const [, s] = only('AWS::ApiGateway::Stage', res);
    expect((s.Properties['MethodSettings'] as object[])[0]).toMatchObject({ LoggingLevel: 'OFF' });
    expect(s.Properties['AccessLogSetting']).toBeDefined();
    expect(JSON.parse((s.Properties['AccessLogSetting'] as { Format: string }).Format)).toMatchObject({ client_id: '$context.authorizer.client_id', principal: '$context.authorizer.principalId' });
  });

  it('passes AwsSolutions with acknowledgments for exactly the OIDC methods and the execution logs', () => {
    const report = new AwsSolutionsChecks().validateScope(api);
    expect(report.violations.flatMap((v) => v.violatingResources.map((r) => `${v.ruleName} @ ${r.constructPath}`))).toEqual([]);
    const acks = api.node
      .findAll()
      .flatMap((c) => c.node.metadata.filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY).flatMap((m) => Object.keys(m.data as object).map((id) => `${id.replace(/^annotation::/i, '')} @ ${c.node.path}`)));
    expect(acks.filter((a) => a.startsWith('AwsSolutions-COG4')).sort()).toEqual(ROUTES.map((r) => `AwsSolutions-COG4 @ Api/Api/Default${r.path}/${r.method}`).sort());
    expect(acks).toContain('AwsSolutions-APIG6 @ Api/Api/DeploymentStage.v1');
    expect(acks.some((a) => a.includes('AmazonAPIGatewayPushToCloudWatchLogs'))).toBe(false);
    expect(acks.some((a) => a.includes('COG8'))).toBe(false);
  });
});
