// Reads the IAM policy statements out of a synthesized template, for least-privilege assertions.
import type { Template } from 'aws-cdk-lib/assertions';

export interface Statement {
  readonly Effect: 'Allow' | 'Deny';
  readonly Action: string | string[];
  readonly Resource: unknown;
  readonly Condition?: Record<string, Record<string, unknown>>;
}

interface PolicyResource {
  readonly Properties: { readonly PolicyDocument: { readonly Statement: Statement[] } };
}

/** Every statement of every AWS::IAM::Policy in the template. */
export function policyStatements(template: Template): Statement[] {
  const policies = template.findResources('AWS::IAM::Policy') as Record<string, PolicyResource>;
  return Object.values(policies).flatMap((p) => p.Properties.PolicyDocument.Statement);
}

export const actionsOf = (s: Statement): string[] => (Array.isArray(s.Action) ? s.Action : [s.Action]);
export const resourcesOf = (s: Statement): unknown[] => (Array.isArray(s.Resource) ? s.Resource : [s.Resource]);

/** The statements allowing any action of `service` (e.g. 'dynamodb'). */
export function statementsFor(statements: Statement[], service: string): Statement[] {
  return statements.filter((s) => actionsOf(s).some((a) => a.startsWith(`${service}:`)));
}
