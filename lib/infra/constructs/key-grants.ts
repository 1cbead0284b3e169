// Grants on a customer-managed KMS key that hold only when the call comes through one AWS
// service, so a principal allowed to use a table's or a queue's key cannot use it for anything else.
import { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';

/**
 * Allows `actions` on `key` to `grantee`, only through `service` (e.g. 'sqs', 'dynamodb') in the
 * key's region. The statement goes on the principal's policy: the key must trust its account's IAM
 * policies, which every key created by this project does (the CDK default key policy).
 */
export function grantKeyViaService(key: kms.IKey, grantee: iam.IGrantable, service: string, ...actions: string[]): iam.Grant {
  const stack = Stack.of(key);
  return iam.Grant.addToPrincipal({
    grantee,
    actions,
    resourceArns: [key.keyArn],
    conditions: { StringEquals: { 'kms:ViaService': `${service}.${stack.region}.${stack.urlSuffix}` } },
  });
}
