// Builds the platform's CDK app the way bin/app.ts does, with cdk.json's context (feature flags
// included), so infra tests assert on what `cdk synth` produces. Each call bundles the Lambda
// handlers with esbuild: build once per test file and share the result.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { REPO_ROOT } from '../../lib/infra/entries';
import type { FathomConfig, FathomConfigInput } from '../../lib/infra/config';
import { CONFIG_CONTEXT_KEY, loadConfig } from '../../lib/infra/config';
import type { FathomStacks } from '../../lib/infra/fathom-app';
import { addFathomStacks } from '../../lib/infra/fathom-app';

/** cdk.json's `context`, as the CDK CLI hands it to the app. */
export function cdkJsonContext(): Record<string, unknown> {
  const cdkJson = JSON.parse(readFileSync(join(REPO_ROOT, 'cdk.json'), 'utf8')) as { context: Record<string, unknown> };
  return cdkJson.context;
}

export interface FathomTestApp {
  readonly app: App;
  readonly config: FathomConfig;
  readonly stacks: FathomStacks;
}

/** A new app with cdk.json's context; `fathom` replaced by `config` when given. */
export function newApp(config?: FathomConfigInput): App {
  const context = cdkJsonContext();
  return new App({
    context: config === undefined ? context : { ...context, [CONFIG_CONTEXT_KEY]: config },
    outdir: mkdtempSync(join(tmpdir(), 'fathom-cdk-')),
  });
}

/** The platform's stacks in a new app, configured by cdk.json (or by `config`). */
export function buildFathomApp(config?: FathomConfigInput): FathomTestApp {
  const app = newApp(config);
  const loaded = loadConfig(app.node.tryGetContext(CONFIG_CONTEXT_KEY));
  return { app, config: loaded, stacks: addFathomStacks(app, loaded) };
}
