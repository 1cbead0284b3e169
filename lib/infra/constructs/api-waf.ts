// The web ACL in front of the API stage: a rate limit per client address, a body-size limit, and
// AWS's managed common and known-bad-inputs rule groups, logged to CloudWatch Logs with the
// credentials redacted.
//
// Rate and size blocks answer with the status a client acts on (429: slow down; 413: split the
// batch) through WAF custom responses, in the edge's error envelope. WAF's custom bodies are
// fixed text, so they cannot carry API Gateway's request id: theirs is empty, and the stage's
// access log (which records WAF-blocked requests with their id) is where such a request is found.
// Everything else the web ACL blocks answers through API Gateway's WAF_FILTERED gateway response
// (403, with the request id).
import { ArnFormat, Stack } from 'aws-cdk-lib';
import type * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as wafv2 from 'aws-cdk-lib/aws-wafv2';
import { Construct } from 'constructs';
import { EDGE_ERRORS } from '../../core/api/errors';
import { MAX_BODY_BYTES } from '../../core/api/routes';

/**
 * A regular expression matching exactly the decimal integers greater than `n` (leading zeros
 * allowed): longer numbers, or equal-length ones that first exceed `n` at some digit.
 */
export function decimalGreaterThanPattern(n: number): string {
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`decimalGreaterThanPattern: ${n} is not a non-negative integer`);
  const digits = String(n);
  const alternatives = [`[1-9][0-9]{${digits.length},}`];
  for (let i = 0; i < digits.length; i++) {
    const d = Number(digits[i]);
    if (d === 9) continue;
    const rest = digits.length - i - 1;
    alternatives.push(`${digits.slice(0, i)}[${d + 1}-9]${rest > 0 ? `[0-9]{${rest}}` : ''}`);
  }
  return `^0*(?:${alternatives.join('|')})$`;
}

export interface ApiWebAclProps {
  /** The stage to protect. */
  readonly stage: apigw.Stage;
  /** Name of the web ACL; its log group is `aws-waf-logs-<name>`. */
  readonly name: string;
  /** Requests per address per evaluation window before the address is blocked. */
  readonly rateLimitPerIp: number;
  /** Seconds over which an address's requests are counted (60, 120, 300 or 600). */
  readonly evaluationWindowSeconds: number;
  /** Retention of the web ACL's log group. */
  readonly logRetention: logs.RetentionDays;
  /**
   * Largest request body accepted, in bytes.
   * @default MAX_BODY_BYTES
   */
  readonly maxBodyBytes?: number;
}

/** The custom response bodies, in the edge's envelope (lib/core/api/routes.ts ErrorEnvelopeSchema). */
const envelope = (code: keyof typeof EDGE_ERRORS, message: string): string => JSON.stringify({ error: { code, message, request_id: '' } });

const visibility = (metricName: string): wafv2.CfnWebACL.VisibilityConfigProperty => ({
  cloudWatchMetricsEnabled: true,
  sampledRequestsEnabled: true,
  metricName,
});

export class ApiWebAcl extends Construct {
  readonly webAcl: wafv2.CfnWebACL;
  readonly association: wafv2.CfnWebACLAssociation;
  readonly logGroup: logs.LogGroup;
  readonly loggingConfiguration: wafv2.CfnLoggingConfiguration;

  constructor(scope: Construct, id: string, props: ApiWebAclProps) {
    super(scope, id);
    const maxBodyBytes = props.maxBodyBytes ?? MAX_BODY_BYTES;
    const metric = (rule: string) => `${props.name}-${rule}`;

    this.webAcl = new wafv2.CfnWebACL(this, 'WebAcl', {
      name: props.name,
      description: `Protects the ${props.name} API stage: rate per address, body size, AWS managed rules`,
      scope: 'REGIONAL',
      defaultAction: { allow: {} },
      visibilityConfig: visibility(metric('web-acl')),
      customResponseBodies: {
        'too-many-requests': {
          contentType: 'APPLICATION_JSON',
          content: envelope('too_many_requests', 'too many requests from this address; retry with backoff'),
        },
        'payload-too-large': {
          contentType: 'APPLICATION_JSON',
          content: envelope('payload_too_large', `the request body is larger than ${maxBodyBytes} bytes`),
        },
      },
      rules: [
        {
          name: 'RateLimitPerIp',
          priority: 0,
          statement: { rateBasedStatement: { limit: props.rateLimitPerIp, aggregateKeyType: 'IP', evaluationWindowSec: props.evaluationWindowSeconds } },
          action: {
            block: {
              customResponse: {
                responseCode: EDGE_ERRORS.too_many_requests,
                customResponseBodyKey: 'too-many-requests',
                // The rule lifts once the address's count over the window falls below the limit.
                responseHeaders: [{ name: 'Retry-After', value: '60' }],
              },
            },
          },
          visibilityConfig: visibility(metric('rate-limit-per-ip')),
        },
        {
          // WAF sees at most the first 16-64 KB of a body, so a size constraint on the body itself
          // cannot tell a 20 KB batch from a 600 KB one. The declared Content-Length can: a
          // number above the limit is refused before API Gateway reads the body. (A body sent
          // without a length still meets API Gateway's own 10 MB cap and the handlers' limit.)
          name: 'BodySizeLimit',
          priority: 1,
          statement: {
            regexMatchStatement: {
              fieldToMatch: { singleHeader: { Name: 'content-length' } },
              regexString: decimalGreaterThanPattern(maxBodyBytes),
              textTransformations: [{ priority: 0, type: 'NONE' }],
            },
          },
          action: {
            block: { customResponse: { responseCode: EDGE_ERRORS.payload_too_large, customResponseBodyKey: 'payload-too-large' } },
          },
          visibilityConfig: visibility(metric('body-size-limit')),
        },
        {
          name: 'AWSManagedRulesCommonRuleSet',
          priority: 2,
          overrideAction: { none: {} },
          statement: {
            managedRuleGroupStatement: {
              vendorName: 'AWS',
              name: 'AWSManagedRulesCommonRuleSet',
              // The group blocks bodies over 8 KB; a batch of events is far larger, and the
              // body-size rule above enforces the edge's real limit instead.
              ruleActionOverrides: [{ name: 'SizeRestrictions_BODY', actionToUse: { count: {} } }],
            },
          },
          visibilityConfig: visibility(metric('aws-common')),
        },
        {
          name: 'AWSManagedRulesKnownBadInputsRuleSet',
          priority: 3,
          overrideAction: { none: {} },
          statement: { managedRuleGroupStatement: { vendorName: 'AWS', name: 'AWSManagedRulesKnownBadInputsRuleSet' } },
          visibilityConfig: visibility(metric('aws-known-bad-inputs')),
        },
      ],
    });

    this.association = new wafv2.CfnWebACLAssociation(this, 'Association', {
      resourceArn: props.stage.stageArn,
      webAclArn: this.webAcl.attrArn,
    });

    // WAF delivers only to log groups whose name starts with `aws-waf-logs-`.
    const logGroupName = `aws-waf-logs-${props.name}`;
    this.logGroup = new logs.LogGroup(this, 'Logs', { logGroupName, retention: props.logRetention });
    this.loggingConfiguration = new wafv2.CfnLoggingConfiguration(this, 'Logging', {
      resourceArn: this.webAcl.attrArn,
      // The log group's ARN without the `:*` suffix CDK's logGroupArn carries.
      logDestinationConfigs: [Stack.of(this).formatArn({ service: 'logs', resource: 'log-group', resourceName: logGroupName, arnFormat: ArnFormat.COLON_RESOURCE_NAME })],
      // Bearer tokens and API keys are credentials: never written to a log.
      redactedFields: [{ singleHeader: { Name: 'authorization' } }, { singleHeader: { Name: 'x-api-key' } }],
    });
    this.loggingConfiguration.node.addDependency(this.logGroup);
  }
}
