// The scoring function as it ships: the esbuild bundle the CDK app synthesizes (ESM, onnxruntime
// external) and the onnxruntime layer, loaded the way Lambda loads them — the bundle alone in its
// directory, onnxruntime resolved from the layer's nodejs/node_modules, the AWS SDK from the
// runtime — then scoring a real request against the stand-ins. The layer is built for this
// host's architecture (the deployed one is arm64; both are cut by the same construct).
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoOnlineStore } from '../../lib/adapters/online-store';
import { ModelRegistry } from '../../lib/adapters/registry/model-registry';
import { PackageVerifier } from '../../lib/adapters/registry/verifier';
import { FeatureEngine, IncrementalDriver, referenceFeatureSet, serializeCard } from '../../lib/core/features';
import type { ModelVersion } from '../../lib/core/models/manifest';
import { ENV, platformResources } from '../../lib/core/resources';
import { REPO_ROOT } from '../../lib/infra/entries';
import { OnnxRuntimeLayer } from '../../lib/infra/constructs/onnxruntime-layer';
import { ScoringFunction } from '../../lib/infra/constructs/scoring-function';
import { localAwsEnvironment, localClients, type LocalClients } from '../../lib/local/aws-clients';
import { provision, provisionRegistry } from '../../lib/local/provision';
import { startStandIns, type StandIns } from '../../lib/local/stand-ins';
import { manifestOf, trainScoringModel } from '../support/scoring-model';
import { contributions, topReasons } from '../../lib/core/models/contributions';
import type { Event } from '../../lib/core/schemas/event';

type Handler = (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>;

const hostArchitecture = process.arch === 'arm64' ? lambda.Architecture.ARM_64 : lambda.Architecture.X86_64;
const dirs: string[] = [];
const tempDir = (prefix: string) => {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
};
let standIns: StandIns;
let clients: LocalClients;
const restore: Array<() => void> = [];

/** Synthesizes a scoring function and a layer for this host; returns the staged asset directories. */
function synthesizeArtifacts(): { bundleDir: string; layerDir: string } {
  const app = new App({ outdir: tempDir('fathom-bundle-cdk-') });
  const stack = new Stack(app, 'Bundle');
  const table = new dynamodb.Table(stack, 'Table', { partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING } });
  const registryTable = new dynamodb.Table(stack, 'Registry', { partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING } });
  const bucket = new s3.Bucket(stack, 'Bucket');
  const signingKey = new kms.Key(stack, 'Key');
  const fn = new ScoringFunction(stack, 'Scoring', {
    features: { table, grantReadFeatures: (g: iam.IGrantable) => table.grantReadData(g) },
    registry: { table: registryTable, bucket, signingKey, grantRead: (g: iam.IGrantable) => bucket.grantRead(g) },
  });
  const hostLayer = new OnnxRuntimeLayer(stack, 'HostLayer', { architecture: hostArchitecture });
  app.synth();
  const template = Template.fromStack(stack);
  const key = (logicalId: string, prop: 'Code' | 'Content') => {
    const resource = template.toJSON().Resources[logicalId] as { Properties: Record<string, { S3Key: string }> };
    return join(app.outdir, `asset.${resource.Properties[prop]!.S3Key.replace(/\.zip$/, '')}`);
  };
  return {
    bundleDir: key(stack.getLogicalId(fn.lambdaFunction.node.defaultChild as lambda.CfnFunction), 'Code'),
    layerDir: key(stack.getLogicalId(hostLayer.layer.node.defaultChild as lambda.CfnLayerVersion), 'Content'),
  };
}

let handler: Handler;
let card: string;
let lastEvent: Record<string, unknown>;
/** What the reasons must be: the trainer's own ensemble explaining the vector the stream would compute. */
let expectedReasons: (event: Record<string, unknown>) => string[];

beforeAll(async () => {
  const { bundleDir, layerDir } = synthesizeArtifacts();
  // /var/task: the bundle alone. Lambda resolves bare imports through NODE_PATH (the layer's
  // nodejs/node_modules, the runtime's SDK); Node's ES module loader does not read NODE_PATH, so
  // the same directories are linked into a node_modules beside the bundle instead.
  const task = tempDir('fathom-task-');
  for (const f of ['index.mjs', 'index.mjs.map']) copyFileSync(join(bundleDir, f), join(task, f));
  mkdirSync(join(task, 'node_modules'));
  for (const pkg of ['onnxruntime-node', 'onnxruntime-common']) symlinkSync(join(layerDir, 'nodejs', 'node_modules', pkg), join(task, 'node_modules', pkg));
  symlinkSync(join(REPO_ROOT, 'node_modules', '@aws-sdk'), join(task, 'node_modules', '@aws-sdk'));

  const data = tempDir('fathom-bundle-');
  standIns = await startStandIns({ dataDir: data, persist: false });
  clients = localClients(standIns.endpoints);
  const resources = platformResources('bundle');
  const [store, reg] = await Promise.all([provision(clients, resources), provisionRegistry(clients, resources, data)]);
  const registry = new ModelRegistry({ dynamodb: clients.dynamodb, s3: clients.s3, tableName: reg.tableName, bucket: reg.bucket, signer: reg.signer, verifier: PackageVerifier.fromSetting(reg.signingKey) });
  const engine = new FeatureEngine(referenceFeatureSet);
  const model = trainScoringModel({ seed: 9, events: 4000, trees: 20, maxDepth: 4 }, engine);
  const manifest = manifestOf(model, { version: '7' });
  await registry.register({ manifest, onnx: model.onnx }, 'test', 'bundle check');
  await registry.promote(manifest.name, '7' as ModelVersion, 'staging', 'test', 'bundle check');
  await registry.promote(manifest.name, '7' as ModelVersion, 'production', 'test', 'bundle check');
  const driver = new IncrementalDriver(engine);
  for (const g of model.events) driver.ingest({ ...g.event, ts: Date.parse(g.event.event_time) });
  driver.flush();
  lastEvent = { ...model.events.at(-1)!.event };
  card = String(lastEvent['entity_id']);
  const state = driver.cards.get(card)!;
  expectedReasons = (event) => {
    const row = Float32Array.from(engine.vectorFor(state, { ...(event as unknown as Event), ts: Date.parse(String(event['event_time'])) }, undefined));
    return topReasons(contributions(model.ensemble, row), engine.names, row, 3).map((r) => r.feature);
  };
  await new DynamoOnlineStore({ client: clients.dynamodb, tableName: store.tableName }).put(
    { pk: `card#${card}`, kind: 'card', state: serializeCard(engine, state), version: 1, featureSet: engine.version, features: {}, asOf: state.maxTs },
    null,
  );

  const env: Record<string, string> = {
    ...localAwsEnvironment(standIns.endpoints),
    ...reg.environment,
    [ENV.onlineStoreTable]: store.tableName,
    POWERTOOLS_METRICS_DISABLED: 'true',
    POWERTOOLS_LOG_LEVEL: 'ERROR',
  };
  for (const [k, value] of Object.entries(env)) {
    const previous = process.env[k];
    process.env[k] = value;
    restore.push(() => (previous === undefined ? delete process.env[k] : (process.env[k] = previous)));
  }
  handler = ((await import(pathToFileURL(join(task, 'index.mjs')).href)) as { handler: Handler }).handler;
}, 120_000);

afterAll(async () => {
  for (const r of restore.splice(0).reverse()) r();
  clients?.destroy();
  await standIns?.stop();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('the synthesized scoring bundle with the onnxruntime layer', () => {
  it('loads as Lambda loads it and scores a request with the registry’s production model', async () => {
    // A risky request (a large amount at a merchant the card never paid), so the model has reasons to give.
    const event = {
      ...lastEvent,
      event_id: 'bundle-1',
      merchant_id: 'merchant-bundle-new',
      amount: 40 * Number(lastEvent['amount']),
      event_time: new Date(Date.parse(String(lastEvent['event_time'])) + 60_000).toISOString(),
    };
    const res = await handler(
      { body: JSON.stringify({ event }), isBase64Encoded: false, requestContext: { requestId: 'bundle-req' } } as APIGatewayProxyEvent,
      { awsRequestId: 'bundle-aws', functionName: 'scoring', getRemainingTimeInMillis: () => 10_000 } as Context,
    );
    expect(res.statusCode, res.body).toBe(200);
    const answer = JSON.parse(res.body) as { model: { version: string }; cold_start: boolean; reasons: { contribution: number }[]; score: number };
    expect(answer).toMatchObject({ model: { version: '7' }, cold_start: false });
    // Reason codes come from the ensemble the bundle parsed out of the ONNX bytes.
    expect(expectedReasons(event).length).toBeGreaterThan(0);
    expect((answer.reasons as unknown as { feature: string }[]).map((r) => r.feature)).toEqual(expectedReasons(event));
    for (const r of answer.reasons) expect(r.contribution).toBeGreaterThan(0);
    expect(answer.score).toBeGreaterThan(0);
    expect(answer.score).toBeLessThan(1);
  });
});
