// The CDK app: reads and validates the `fathom` context of cdk.json, adds the platform's stacks,
// and checks them against cdk-nag's AwsSolutions rules (a finding fails synth).
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ConfigError } from '../lib/core/errors';
import { CONFIG_CONTEXT_KEY, loadConfig } from '../lib/infra/config';
import { addFathomStacks } from '../lib/infra/fathom-app';

const app = new App();
try {
  addFathomStacks(app, loadConfig(app.node.tryGetContext(CONFIG_CONTEXT_KEY)));
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(`cdk.json context: ${error.message}`);
  process.exit(1);
}
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
app.synth();
