// How a consumer stack's template refers to a value of another stack, for assertions on
// cross-stack wiring that hold whether references are weak or strong.
import type { Stack } from 'aws-cdk-lib';
import type { Template } from 'aws-cdk-lib/assertions';
import { Match } from 'aws-cdk-lib/assertions';

/** How the consumer stack's template refers to a value of the producer stack (weak: Fn::GetStackOutput; strong: Fn::ImportValue). */
export function crossStackRef(producer: Stack, producerTemplate: Template, value: string): unknown {
  const local = JSON.stringify(producer.resolve(value));
  const outputs = producerTemplate.toJSON().Outputs as Record<string, { Value: unknown; Export?: { Name: string } }>;
  const found = Object.entries(outputs).find(([, o]) => JSON.stringify(o.Value) === local);
  if (!found) throw new Error(`${producer.stackName} does not output ${local}`);
  const [outputName, output] = found;
  return output.Export
    ? { 'Fn::ImportValue': output.Export.Name }
    : { 'Fn::GetStackOutput': Match.objectLike({ StackName: producer.stackName, OutputName: outputName }) };
}
