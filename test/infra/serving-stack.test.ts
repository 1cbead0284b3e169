// The serving stack as synthesized: the scoring function (arm64, nodejs22.x, ESM bundle with
// onnxruntime external), the onnxruntime layer cut down to the linux arm64 build, the sizes that
// must stay under Lambda's 250 MB unzipped limit, least-privilege grants, and cdk-nag.
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Stack } from 'aws-cdk-lib';
import type { App } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { ENV, platformResources } from '../../lib/core/resources';
import type { TreeEnsemble } from '../../lib/core/models/tree-ensemble';
import { exportOnnx } from '../../lib/core/onnx/export';
import { elfHeader, OnnxRuntimeLayer } from '../../lib/infra/constructs/onnxruntime-layer';
import { buildFathomApp, newApp } from './app-fixture';
import { crossStackRef } from './cross-stack';
import { actionsOf, policyStatements, resourcesOf, statementsFor } from './iam-statements';

const built = buildFathomApp();
const { serving: stack, registry, featureStore } = built.stacks;
const template = Template.fromStack(stack);
const statements = policyStatements(template);

/** Total bytes of the files under `dir`. */
function duBytes(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    total += entry.isDirectory() ? duBytes(p) : statSync(p).size;
  }
  return total;
}

/** The staged asset directory of a `Code` property in the synthesized template. */
function assetDir(app: App, code: { S3Key?: unknown }): string {
  const key = JSON.stringify(code.S3Key);
  const hash = /([0-9a-f]{64})\.zip/.exec(key)?.[1];
  if (!hash) throw new Error(`no asset hash in ${key}`);
  return join(app.outdir, `asset.${hash}`);
}

describe('ServingStack: packaging', () => {
  let functionDir: string;
  let layerDir: string;
  beforeAll(() => {
    built.app.synth();
    const fn = Object.values(template.findResources('AWS::Lambda::Function'))[0] as { Properties: { Code: { S3Key?: unknown } } };
    const layer = Object.values(template.findResources('AWS::Lambda::LayerVersion'))[0] as { Properties: { Content: { S3Key?: unknown } } };
    functionDir = assetDir(built.app, fn.Properties.Code);
    layerDir = assetDir(built.app, layer.Properties.Content);
  });

  it('keeps the unzipped function and layer under Lambda’s 250 MB, with a small handler bundle', () => {
    const fnBytes = duBytes(functionDir);
    const layerBytes = duBytes(layerDir);
    const bundle = statSync(join(functionDir, 'index.mjs')).size;
    console.log(`scoring handler bundle: index.mjs ${(bundle / 1024).toFixed(0)} KiB; function asset ${(fnBytes / 1024).toFixed(0)} KiB; onnxruntime layer ${(layerBytes / 2 ** 20).toFixed(1)} MiB; total ${((fnBytes + layerBytes) / 2 ** 20).toFixed(1)} MiB`);
    expect(fnBytes + layerBytes).toBeLessThan(250 * 1000 * 1000);
    expect(bundle).toBeLessThan(3 * 2 ** 20);
  });

  it('bundles the handler as ESM with onnxruntime left to the layer', () => {
    const code = readFileSync(join(functionDir, 'index.mjs'), 'utf8');
    expect(code).toMatch(/from"onnxruntime-node"|from "onnxruntime-node"/);
    expect(code).not.toContain('onnxruntime_binding.node');
    expect(readdirSync(functionDir).sort()).toEqual(['index.mjs', 'index.mjs.map']);
  });

  it('layers only the linux arm64 build of onnxruntime-node, and it is an aarch64 ELF', () => {
    const root = join(layerDir, 'nodejs', 'node_modules');
    expect(readdirSync(root).sort()).toEqual(['onnxruntime-common', 'onnxruntime-node']);
    const bin = join(root, 'onnxruntime-node', 'bin', 'napi-v6');
    expect(readdirSync(bin)).toEqual(['linux']);
    expect(readdirSync(join(bin, 'linux'))).toEqual(['arm64']);
    const native = join(bin, 'linux', 'arm64');
    for (const file of readdirSync(native)) {
      // EM_AARCH64 = 183, 64-bit little-endian shared object.
      expect(elfHeader(join(native, file)), file).toEqual({ class: 2, data: 1, type: 3, machine: 183 });
    }
    expect(JSON.parse(readFileSync(join(root, 'onnxruntime-node', 'package.json'), 'utf8'))).toMatchObject({ name: 'onnxruntime-node', main: 'dist/index.js' });
  });
});

// The host is not arm64, but the layer is cut the same way for every architecture: an x64 layer,
// built by the same construct, must load in a bare Node process and score a model, with nothing
// from the repository's node_modules on the resolution path.
describe.runIf(process.platform === 'linux' && process.arch === 'x64')('OnnxRuntimeLayer contents', () => {
  it('load and run on their own (x64 build on this x64 host)', async () => {
    const app = newApp();
    const layerStack = new Stack(app, 'LayerProbe');
    // Both architectures in one app: each layer gets its own files, not a cached copy of the other's.
    const arm = new OnnxRuntimeLayer(layerStack, 'Arm', { architecture: lambda.Architecture.ARM_64 });
    const x64 = new OnnxRuntimeLayer(layerStack, 'X64', { architecture: lambda.Architecture.X86_64 });
    app.synth();
    const layers = Template.fromStack(layerStack).toJSON().Resources as Record<string, { Properties: { Content: { S3Key?: unknown } } }>;
    const contentOf = (l: OnnxRuntimeLayer) => layers[layerStack.getLogicalId(l.layer.node.defaultChild as lambda.CfnLayerVersion)]!.Properties.Content;
    expect(contentOf(arm).S3Key).not.toEqual(contentOf(x64).S3Key);
    const root = join(assetDir(app, contentOf(x64)), 'nodejs', 'node_modules');
    expect(readdirSync(join(root, 'onnxruntime-node', 'bin', 'napi-v6', 'linux'))).toEqual(['x64']);
    const work = mkdtempSync(join(tmpdir(), 'fathom-layer-'));
    const names = ['a', 'b'];
    const model: TreeEnsemble = { featureCount: 2, baseMargin: 0, trees: [{ feature: [0, -1, -1], threshold: [0.5, 0, 0], left: [1, -1, -1], right: [2, -1, -1], missingLeft: [0, 0, 0], value: [0, -1, 1], cover: [2, 1, 1] }] };
    writeFileSync(join(work, 'model.onnx'), exportOnnx(model, { features: names }));
    const script = `const ort = require(${JSON.stringify(join(root, 'onnxruntime-node'))});
      ort.InferenceSession.create(${JSON.stringify(join(work, 'model.onnx'))}).then(async (s) => {
        const out = await s.run({ features: new ort.Tensor('float32', Float32Array.from([0, 0, 1, 0]), [2, 2]) });
        console.log(JSON.stringify(Array.from(out.score.data)));
      });`;
    const { stdout } = await promisify(execFile)(process.execPath, ['-e', script], { cwd: work, env: { PATH: process.env['PATH'] ?? '' } });
    const scores = JSON.parse(stdout) as number[];
    expect(scores[0]).toBeCloseTo(1 / (1 + Math.exp(1)), 6);
    expect(scores[1]).toBeCloseTo(1 / (1 + Math.exp(-1)), 6);
  });
});

describe('ServingStack: the scoring function', () => {
  it('runs on nodejs22.x, arm64, with the onnxruntime layer, tracing and the configured memory', () => {
    template.resourceCountIs('AWS::Lambda::Function', 1);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs22.x',
      Architectures: ['arm64'],
      Handler: 'index.handler',
      MemorySize: 1769,
      Timeout: 10,
      TracingConfig: { Mode: 'Active' },
      Layers: [{ Ref: Match.stringLikeRegexp('OnnxRuntime') }],
      ReservedConcurrentExecutions: Match.absent(),
    });
    template.hasResourceProperties('AWS::Lambda::LayerVersion', { CompatibleArchitectures: ['arm64'], CompatibleRuntimes: ['nodejs22.x'] });
  });

  it('gets the online store, the registry, the signing key and the serving settings', () => {
    const vars = (template.findResources('AWS::Lambda::Function') as Record<string, { Properties: { Environment: { Variables: Record<string, unknown> } } }>);
    const env = Object.values(vars)[0]!.Properties.Environment.Variables;
    expect(Object.keys(env).sort()).toEqual(
      [ENV.onlineStoreTable, ENV.modelRegistryTable, ENV.modelBucket, ENV.modelSigningKey, ENV.defaultModelName, ENV.modelRefreshSeconds, ENV.allowedLatenessSeconds, ENV.predictionsDeliveryStream, 'POWERTOOLS_SERVICE_NAME', 'POWERTOOLS_METRICS_NAMESPACE', 'POWERTOOLS_LOG_LEVEL', 'NODE_OPTIONS'].sort(),
    );
    expect(env).toMatchObject({ [ENV.defaultModelName]: 'card-fraud', [ENV.modelRefreshSeconds]: '30', [ENV.allowedLatenessSeconds]: '300', POWERTOOLS_SERVICE_NAME: 'scoring' });
    const registryTemplate = Template.fromStack(registry);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          [ENV.onlineStoreTable]: crossStackRef(featureStore, Template.fromStack(featureStore), featureStore.table.tableName),
          [ENV.modelRegistryTable]: crossStackRef(registry, registryTemplate, registry.table.tableName),
          [ENV.modelBucket]: crossStackRef(registry, registryTemplate, registry.bucket.bucketName),
        }),
      },
    });
    // `kms:` then the key's ARN, resolved across stacks.
    expect(JSON.stringify(env[ENV.modelSigningKey])).toMatch(/^\{"Fn::Join":\["",\["kms:",/);
    expect(JSON.stringify(env[ENV.modelSigningKey])).toContain(registry.stackName);
  });

  it('serves through a `live` alias without provisioned concurrency by default', () => {
    template.hasResourceProperties('AWS::Lambda::Alias', { Name: 'live', ProvisionedConcurrencyConfig: Match.absent() });
  });

  it('has its own role with no managed policy, logging to its own group', () => {
    template.resourceCountIs('AWS::IAM::Role', 1);
    expect(Object.values(template.findResources('AWS::IAM::Role'))[0]?.Properties).not.toHaveProperty('ManagedPolicyArns');
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
  });
});

describe('ServingStack: least privilege', () => {
  const isOnlineTable = Match.objectLike(crossStackRef(featureStore, Template.fromStack(featureStore), featureStore.table.tableArn) as Record<string, unknown>);

  it('reads the online store with GetItem and BatchGetItem only, and writes no table', () => {
    const online = statements.filter((s) => resourcesOf(s).some((r) => !isOnlineTable.test(r).hasFailed()));
    expect(online.flatMap(actionsOf).sort()).toEqual(['dynamodb:BatchGetItem', 'dynamodb:GetItem']);
    expect(statementsFor(statements, 'dynamodb').flatMap(actionsOf).filter((a) => /Put|Update|Delete|Write/.test(a))).toEqual([]);
  });

  it('reads package objects under models/ only, and writes nothing to S3', () => {
    const s3 = statementsFor(statements, 's3');
    expect([...new Set(s3.flatMap(actionsOf))].sort()).toEqual(['s3:GetObject', 's3:GetObjectVersion']);
    for (const r of s3.flatMap(resourcesOf)) expect(JSON.stringify(r)).toMatch(/\/models\/\*"\]\]\}$/);
  });

  it('uses KMS only to decrypt (through a service) and to read the signing key’s public half', () => {
    const kms = statementsFor(statements, 'kms');
    expect([...new Set(kms.flatMap(actionsOf))].sort()).toEqual(['kms:Decrypt', 'kms:GetPublicKey', 'kms:Verify']);
    for (const s of kms.filter((x) => actionsOf(x).includes('kms:Decrypt'))) expect(s.Condition?.['StringEquals']).toHaveProperty(['kms:ViaService']);
  });

  it('logs predictions to exactly the offline store’s predictions delivery stream, named in its environment', () => {
    const { offlineStore } = built.stacks;
    const offlineTemplate = Template.fromStack(offlineStore);
    const firehose = statementsFor(statements, 'firehose');
    expect([...new Set(firehose.flatMap(actionsOf))].sort()).toEqual(['firehose:PutRecord', 'firehose:PutRecordBatch']);
    const resources = firehose.flatMap(resourcesOf);
    expect(resources).toHaveLength(1);
    const isPredictionsStream = Match.objectLike(crossStackRef(offlineStore, offlineTemplate, offlineStore.deliveryStreams.predictions.deliveryStreamArn) as Record<string, unknown>);
    expect(isPredictionsStream.test(resources[0]).hasFailed()).toBe(false);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ [ENV.predictionsDeliveryStream]: platformResources('fathom').offlineStore.deliveryStreams.predictions.name }) },
    });
  });

  it("has no wildcard actions, and a '*' resource only for X-Ray", () => {
    expect(statements.flatMap(actionsOf).filter((a) => a.includes('*'))).toEqual([]);
    const star = statements.filter((s) => resourcesOf(s).includes('*'));
    expect(star.flatMap(actionsOf).sort()).toEqual(['xray:PutTelemetryRecords', 'xray:PutTraceSegments']);
  });
});

describe('ServingStack: configuration', () => {
  const custom = buildFathomApp({ scoring: { memoryMb: 3008, reservedConcurrency: 50, provisionedConcurrency: 5, modelRefreshSeconds: 10, defaultModelName: 'acme-fraud', tracing: false } });
  const t = Template.fromStack(custom.stacks.serving);

  it('passes memory, reserved and provisioned concurrency, refresh interval and model name through', () => {
    t.hasResourceProperties('AWS::Lambda::Function', {
      MemorySize: 3008,
      ReservedConcurrentExecutions: 50,
      TracingConfig: Match.absent(),
      Environment: { Variables: Match.objectLike({ [ENV.modelRefreshSeconds]: '10', [ENV.defaultModelName]: 'acme-fraud' }) },
    });
    t.hasResourceProperties('AWS::Lambda::Alias', { Name: 'live', ProvisionedConcurrencyConfig: { ProvisionedConcurrentExecutions: 5 } });
  });

  it("without tracing, grants no '*' resource", () => {
    expect(policyStatements(t).filter((s) => resourcesOf(s).includes('*'))).toEqual([]);
  });
});

describe('ServingStack under AwsSolutions checks', () => {
  // After synthesis (the packaging tests synthesize the app first): the acknowledgment of the
  // registry's `models/*` grant is made once cross-stack references have their final form.
  it('has no unacknowledged finding, and acknowledges exactly these', () => {
    const report = new AwsSolutionsChecks().validateScope(stack);
    expect(report.violations.flatMap((v) => v.violatingResources.map((r) => `${v.severity} ${v.ruleName} @ ${r.constructPath}`))).toEqual([]);
    const acks = stack.node.findAll().flatMap((c) =>
      c.node.metadata
        .filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
        .flatMap((m) => Object.keys(m.data as Record<string, string>).map((id) => `${id.replace(/^annotation::/i, '').replace(/\[Resource::.*\/models\/\*\]$/, '[Resource::<model bucket>/models/*]')} @ ${c.node.path}`)),
    );
    expect(acks.sort()).toEqual([
      'AwsSolutions-IAM5[Resource::*] @ Serving/Scoring/ServiceRole/DefaultPolicy',
      'AwsSolutions-IAM5[Resource::<model bucket>/models/*] @ Serving/Scoring/ServiceRole/DefaultPolicy',
      'AwsSolutions-L1 @ Serving/Scoring/Function',
    ]);
  });
});
