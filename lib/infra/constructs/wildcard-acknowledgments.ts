// cdk-nag's AwsSolutions-IAM5 flags every resource with a `*`. Some are the only possible scope:
// the objects under a prefix a service writes with names it makes up (Iceberg data files, Firehose
// error output), a log group's streams. This acknowledges exactly those resources, by the text
// cdk-nag reports them under, and nothing else on the same policy.
import { Stack, Validations } from 'aws-cdk-lib';
import type * as iam from 'aws-cdk-lib/aws-iam';
import { flattenCfnReference } from 'cdk-nag/lib/utils/flatten-cfn-reference';

/**
 * Acknowledges AwsSolutions-IAM5 on `policy` for each of `resources` (ARNs, tokens allowed). The
 * text cdk-nag matches is known only once tokens resolve, so the acknowledgment is made at
 * synthesis, in a node validation (they run before cdk-nag's).
 */
export function acknowledgeWildcardResources(policy: iam.Policy, resources: readonly string[], reason: string): void {
  policy.node.addValidation({
    validate: () => {
      const stack = Stack.of(policy);
      for (const resource of resources) {
        const flat = flattenCfnReference(stack.resolve(resource));
        if (!flat.includes('*')) continue;
        Validations.of(policy).acknowledge({ id: `AwsSolutions-IAM5[Resource::${flat}]`, reason });
      }
      return [];
    },
  });
}
