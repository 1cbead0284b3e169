// The model registry against the stand-ins (dynalite for the table, s3rver for the packages):
// registration, the lifecycle through every state, one production version under concurrent
// promotions, rollback, the transitions log, and repair of a transition a crash interrupted.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RegistryTable } from '../../lib/adapters/registry/registry-table';
import { ModelRegistry } from '../../lib/adapters/registry/model-registry';
import { PackageVerifier } from '../../lib/adapters/registry/verifier';
import { ResourceError, TransitionError, ValidationError } from '../../lib/core/errors';
import type { ModelName, ModelVersion } from '../../lib/core/models/manifest';
import type { ModelState, ModelVersionRecord } from '../../lib/core/models/ports';
import { planPromotion } from '../../lib/core/registry/lifecycle';
import { platformResources } from '../../lib/core/resources';
import { localClients, type LocalClients } from '../../lib/local/aws-clients';
import { provisionRegistry, type ProvisionedRegistry } from '../../lib/local/provision';
import { startStandIns, type StandIns } from '../../lib/local/stand-ins';
import { testPackage } from '../unit/registry/fixtures';

const v = (s: string) => s as ModelVersion;
const actor = 'ana';

let dir: string;
let standIns: StandIns;
let clients: LocalClients;
let provisioned: ProvisionedRegistry;
let registry: ModelRegistry;
let modelCount = 0;

/** A fresh model name per test, so tests share the stand-ins but not state. */
const newModel = () => `model-${++modelCount}` as ModelName;

async function registerVersions(name: ModelName, ...versions: string[]): Promise<void> {
  for (const version of versions) await registry.register(testPackage(name, version), actor, `trained ${version}`);
}

async function states(name: ModelName): Promise<Record<string, ModelState>> {
  return Object.fromEntries((await registry.listVersions(name)).map((r) => [r.version, r.state]));
}

async function rawVersionItem(name: ModelName, version: string) {
  const out = await clients.dynamodb.send(
    new GetItemCommand({ TableName: provisioned.tableName, Key: { pk: { S: `model#${name}` }, sk: { S: `version#${version}` } }, ConsistentRead: true }),
  );
  return unmarshall(out.Item!);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fathom-registry-'));
  standIns = await startStandIns({ dataDir: dir, persist: false });
  clients = localClients(standIns.endpoints);
  provisioned = await provisionRegistry(clients, platformResources('test'), dir);
  registry = new ModelRegistry({
    dynamodb: clients.dynamodb,
    s3: clients.s3,
    tableName: provisioned.tableName,
    bucket: provisioned.bucket,
    signer: provisioned.signer,
    verifier: PackageVerifier.fromSetting(provisioned.signingKey),
  });
});

afterAll(async () => {
  clients?.destroy();
  await standIns?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('register', () => {
  it('signs and stores the package, and records the version as candidate with who and why', async () => {
    const name = newModel();
    const pkg = testPackage(name, '1');
    const record = await registry.register(pkg, 'ci-bot', 'nightly retrain');
    expect(record).toMatchObject({
      name,
      version: '1',
      state: 'candidate',
      tier: 'cpu',
      featureSet: 'card_fraud.v1',
      metrics: pkg.manifest.metrics.holdout,
      location: { modelKey: `models/${name}/1/model.onnx`, manifestKey: `models/${name}/1/manifest.json` },
    });
    expect(record.transitions).toEqual([{ from: null, to: 'candidate', actor: 'ci-bot', reason: 'nightly retrain', at: record.registeredAt }]);
    expect(await registry.getVersion(name, v('1'))).toEqual(record);

    const loaded = await registry.loadVerifiedPackage(name, v('1'));
    expect(Buffer.from(loaded.onnx).equals(Buffer.from(pkg.onnx))).toBe(true);
    expect(loaded.manifest.signature?.key_id).toMatch(/^local:[0-9a-f]{64}$/);
    const { signature: _signature, ...unsigned } = loaded.manifest;
    expect(unsigned).toEqual(pkg.manifest);
  });

  it('refuses a second registration of a version, and a manifest whose digest is not of the ONNX bytes', async () => {
    const name = newModel();
    await registerVersions(name, '1');
    await expect(registry.register(testPackage(name, '1'), actor, 'again')).rejects.toThrow(/already registered/);
    const bad = testPackage(name, '2', { onnx_sha256: 'f'.repeat(64) });
    const error = await registry.register(bad, actor, 'x').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).field).toBe('manifest.onnx_sha256');
  });

  it('never overwrites a package already in the bucket, but finishes an interrupted registration of the same bytes', async () => {
    const name = newModel();
    // Someone else's bytes at the version's key: refused, and left as they were.
    await clients.s3.send(new PutObjectCommand({ Bucket: provisioned.bucket, Key: `models/${name}/1/model.onnx`, Body: 'other bytes' }));
    await expect(registry.register(testPackage(name, '1'), actor, 'x')).rejects.toThrow(/never overwritten/);
    const kept = await clients.s3.send(new GetObjectCommand({ Bucket: provisioned.bucket, Key: `models/${name}/1/model.onnx` }));
    expect(await kept.Body!.transformToString()).toBe('other bytes');

    // A crash after model.onnx was stored: registering the same package again completes it.
    const pkg = testPackage(name, '2');
    await clients.s3.send(new PutObjectCommand({ Bucket: provisioned.bucket, Key: `models/${name}/2/model.onnx`, Body: pkg.onnx }));
    expect((await registry.register(pkg, actor, 'resumed')).state).toBe('candidate');
    expect((await registry.loadVerifiedPackage(name, v('2'))).manifest.version).toBe('2');
  });

  it('registers from a package directory', async () => {
    const { mkdirSync, writeFileSync } = await import('node:fs');
    const name = newModel();
    const pkg = testPackage(name, '1');
    const packageDir = join(dir, 'packages', name);
    mkdirSync(packageDir, { recursive: true });
    writeFileSync(join(packageDir, 'model.onnx'), pkg.onnx);
    writeFileSync(join(packageDir, 'manifest.json'), JSON.stringify(pkg.manifest));
    expect((await registry.register(packageDir, actor, 'from disk')).version).toBe('1');
    await expect(registry.register(join(dir, 'packages', 'missing'), actor, 'x')).rejects.toThrow(/no such file/);
  });
});

describe('lifecycle', () => {
  it('moves a version through every state, keeps exactly one production version, and rolls back', async () => {
    const name = newModel();
    await registerVersions(name, '1', '2', '3');
    const step = (version: string, to: ModelState, reason: string) => registry.promote(name, v(version), to, actor, reason);

    await step('1', 'staging', 'offline eval passed');
    await step('1', 'canary', 'canary at 5%');
    await step('1', 'production', 'canary healthy for 24h');
    expect(await registry.productionVersion(name)).toBe('1');

    await step('2', 'staging', 'offline eval passed');
    await step('2', 'production', 'hotfix: skipping the canary');
    expect(await states(name)).toEqual({ '1': 'archived', '2': 'production', '3': 'candidate' });
    expect(await registry.productionVersion(name)).toBe('2');

    const rolledBack = await registry.rollback(name, 'oncall', 'precision dropped');
    expect(rolledBack.restored).toMatchObject({ version: '1', state: 'production' });
    expect(rolledBack.archived).toMatchObject({ version: '2', state: 'archived' });
    expect(await states(name)).toEqual({ '1': 'production', '2': 'archived', '3': 'candidate' });
    expect(await registry.productionVersion(name)).toBe('1');
    // 1 left the history when it was restored: there is nothing earlier to go back to.
    await expect(registry.rollback(name, 'oncall', 'again')).rejects.toBeInstanceOf(TransitionError);

    await step('3', 'archived', 'superseded before staging');
    await expect(step('3', 'staging', 'revive')).rejects.toThrow(/archived → staging is not allowed/);
  });

  it('records every transition with actor, reason and time, in order', async () => {
    const name = newModel();
    await registerVersions(name, '1', '2');
    await registry.promote(name, v('1'), 'staging', 'ana', 'eval ok');
    await registry.promote(name, v('1'), 'production', 'ben', 'ship it');
    await registry.promote(name, v('2'), 'staging', 'ana', 'eval ok');
    await registry.promote(name, v('2'), 'canary', 'ana', 'canary');
    await registry.promote(name, v('2'), 'production', 'cy', 'better recall');
    await registry.rollback(name, 'oncall', 'alarm: accuracy');

    const one = (await registry.getVersion(name, v('1')))!;
    expect(one.transitions.map(({ from, to, actor: who, reason }) => ({ from, to, who, reason }))).toEqual([
      { from: null, to: 'candidate', who: actor, reason: 'trained 1' },
      { from: 'candidate', to: 'staging', who: 'ana', reason: 'eval ok' },
      { from: 'staging', to: 'production', who: 'ben', reason: 'ship it' },
      { from: 'production', to: 'archived', who: 'cy', reason: 'better recall' },
      { from: 'archived', to: 'production', who: 'oncall', reason: 'alarm: accuracy' },
    ]);
    const times = one.transitions.map((t) => Date.parse(t.at));
    expect(times.every((t, i) => Number.isFinite(t) && (i === 0 || t >= (times[i - 1] ?? 0)))).toBe(true);
    // What the table holds, not just what the registry says.
    const item = await rawVersionItem(name, '2');
    expect(item.state).toBe('archived');
    expect((item.transitions as Array<{ actor: string }>).map((t) => t.actor)).toEqual([actor, 'ana', 'ana', 'cy', 'oncall']);
  });

  it('refuses what the policy refuses, naming the version and the states', async () => {
    const name = newModel();
    await registerVersions(name, '1');
    const error = await registry.promote(name, v('1'), 'production', actor, 'too early').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransitionError);
    expect(error).toMatchObject({ model: name, version: '1', from: 'candidate', to: 'production' });
    await expect(registry.promote(name, v('9'), 'staging', actor, 'x')).rejects.toBeInstanceOf(ResourceError);
    await expect(registry.promote(newModel(), v('1'), 'staging', actor, 'x')).rejects.toThrow(/no registered versions/);
    await expect(registry.promote(name, v('1'), 'staging', actor, ' ')).rejects.toThrow(/reason must not be empty/);
    expect(await states(name)).toEqual({ '1': 'candidate' });
  });

  it('lists versions across models, and one model alone', async () => {
    const [a, b] = [newModel(), newModel()];
    await registerVersions(a, '1', '2');
    await registerVersions(b, '1');
    const all = await registry.listVersions();
    expect(all.filter((r) => r.name === a || r.name === b).map((r) => `${r.name}@${r.version}`)).toEqual([`${a}@1`, `${a}@2`, `${b}@1`].sort());
    expect((await registry.listVersions(b)).map((r) => r.version)).toEqual(['1']);
    expect(await registry.getVersion(b, v('7'))).toBeUndefined();
    expect(await registry.productionVersion(b)).toBeUndefined();
  });
});

describe('concurrency', () => {
  const production = (records: ModelVersionRecord[]) => records.filter((r) => r.state === 'production').map((r) => r.version);

  it('two promotions to production at once serialize: never two production versions', async () => {
    for (let round = 0; round < 5; round++) {
      const name = newModel();
      await registerVersions(name, '1', '2');
      for (const version of ['1', '2']) {
        await registry.promote(name, v(version), 'staging', actor, 'eval');
        await registry.promote(name, v(version), 'canary', actor, 'canary');
      }
      const results = await Promise.allSettled([
        registry.promote(name, v('1'), 'production', 'ana', 'race'),
        registry.promote(name, v('2'), 'production', 'ben', 'race'),
      ]);
      // Both serialize (the second re-plans on the first's outcome) or one loses cleanly.
      for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(TransitionError);
      expect(results.some((r) => r.status === 'fulfilled')).toBe(true);
      const records = await registry.listVersions(name);
      const serving = await registry.productionVersion(name);
      expect(production(records)).toEqual([serving]);
      if (results.every((r) => r.status === 'fulfilled')) {
        const loser = serving === '1' ? '2' : '1';
        expect(records.find((r) => r.version === loser)?.transitions.at(-1)).toMatchObject({ from: 'production', to: 'archived' });
      }
    }
  });

  it('many racing promotions and rollbacks leave exactly one production version and a consistent history', async () => {
    const name = newModel();
    const versions = ['1', '2', '3', '4', '5', '6'];
    await registerVersions(name, ...versions);
    for (const version of versions) await registry.promote(name, v(version), 'staging', actor, 'eval');
    const results = await Promise.allSettled([
      ...versions.map((version) => registry.promote(name, v(version), 'production', actor, `race ${version}`)),
      registry.rollback(name, 'oncall', 'race rollback'),
    ]);
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(TransitionError);
    const records = await registry.listVersions(name);
    expect(production(records)).toEqual([await registry.productionVersion(name)]);
    // Every version was promoted at most once and archived only after being production.
    for (const record of records) {
      const path = record.transitions.map((t) => t.to);
      expect(path.slice(0, 2)).toEqual(['candidate', 'staging']);
      for (let i = 1; i < record.transitions.length; i++) expect(record.transitions[i]?.from).toBe(record.transitions[i - 1]?.to);
    }
  });

  it('the same transition requested twice at once happens once', async () => {
    const name = newModel();
    await registerVersions(name, '1');
    await registry.promote(name, v('1'), 'staging', actor, 'eval');
    const results = await Promise.allSettled([
      registry.promote(name, v('1'), 'canary', 'ana', 'canary'),
      registry.promote(name, v('1'), 'canary', 'ben', 'canary'),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const rejected = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(rejected?.reason).toBeInstanceOf(TransitionError);
    expect(String(rejected?.reason)).toMatch(/already canary/);
    expect((await registry.getVersion(name, v('1')))?.transitions.filter((t) => t.to === 'canary')).toHaveLength(1);
  });
});

describe('a transition interrupted between its writes', () => {
  it('reads show the committed state at once; the next transition writes the repair', async () => {
    const name = newModel();
    await registerVersions(name, '1', '2', '3');
    await registry.promote(name, v('1'), 'staging', actor, 'eval');
    await registry.promote(name, v('1'), 'production', actor, 'ship');
    await registry.promote(name, v('2'), 'staging', actor, 'eval');

    // Commit 2 → production on the pointer, then "crash": the version items are not touched.
    const table = new RegistryTable(clients.dynamodb, provisioned.tableName);
    const snapshot = await table.readModel(name);
    const current = new Map([...snapshot.versions].map(([version, s]) => [version, s.record.state]));
    const plan = planPromotion({ name, states: current, pointer: snapshot.pointer }, v('2'), 'production', { actor: 'crashy', reason: 'crash after commit', at: new Date().toISOString() });
    expect(await table.commit(name, snapshot.pointer, plan, new Date().toISOString())).toBe(true);

    expect((await rawVersionItem(name, '2')).state).toBe('staging');
    expect((await rawVersionItem(name, '1')).state).toBe('production');
    // The pointer is the single source of truth, and reads overlay what it committed.
    expect(await registry.productionVersion(name)).toBe('2');
    expect(await registry.getVersion(name, v('2'))).toMatchObject({ state: 'production' });
    expect(await states(name)).toEqual({ '1': 'archived', '2': 'production', '3': 'candidate' });

    // The next transition of the model finishes the interrupted one first.
    await registry.promote(name, v('3'), 'staging', actor, 'eval');
    expect((await rawVersionItem(name, '2')).state).toBe('production');
    expect((await rawVersionItem(name, '1')).state).toBe('archived');
    expect((await rawVersionItem(name, '2')).transitions.at(-1)).toMatchObject({ from: 'staging', to: 'production', actor: 'crashy' });
    expect(await states(name)).toEqual({ '1': 'archived', '2': 'production', '3': 'staging' });
    // Repair is idempotent: the interrupted transition was recorded once.
    expect((await registry.getVersion(name, v('2')))?.transitions.filter((t) => t.to === 'production')).toHaveLength(1);
    // And rollback knows what was production before.
    expect((await registry.rollback(name, actor, 'back')).restored.version).toBe('1');
  });
});

