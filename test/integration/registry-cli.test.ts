// `fathom models` as a user runs it (bin/fathom.ts in a child process): on a data dir where no
// platform runs it starts the stand-ins for its own duration, state persists between commands;
// on a data dir where stand-ins run it talks to them. Flag mistakes name the flag, exit code 2.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { ModelRegistry } from '../../lib/adapters/registry/model-registry';
import { PackageVerifier } from '../../lib/adapters/registry/verifier';
import type { ModelName, ModelVersion } from '../../lib/core/models/manifest';
import type { ModelVersionRecord } from '../../lib/core/models/ports';
import { platformResources } from '../../lib/core/resources';
import { parseModelsArgs } from '../../lib/cli/models';
import { UsageError } from '../../lib/cli/args';
import { REPO_ROOT } from '../../lib/infra/entries';
import { localClients } from '../../lib/local/aws-clients';
import { provisionRegistry } from '../../lib/local/provision';
import { startStandIns } from '../../lib/local/stand-ins';
import { testPackage } from '../unit/registry/fixtures';

const run = promisify(execFile);
const tsx = join(REPO_ROOT, 'node_modules', '.bin', 'tsx');

interface Result {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

async function fathom(...args: string[]): Promise<Result> {
  const env = { ...process.env, USER: 'cli-user' };
  try {
    const { stdout, stderr } = await run(tsx, [join(REPO_ROOT, 'bin', 'fathom.ts'), 'models', ...args], { cwd: REPO_ROOT, env, timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? -1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}

function writePackage(root: string, name: string, version: string): string {
  const pkg = testPackage(name, version);
  const packageDir = join(root, 'packages', `${name}-${version}`);
  mkdirSync(packageDir, { recursive: true });
  writeFileSync(join(packageDir, 'model.onnx'), pkg.onnx);
  writeFileSync(join(packageDir, 'manifest.json'), JSON.stringify(pkg.manifest, null, 2));
  return packageDir;
}

function usageField(argv: string[]): string {
  try {
    parseModelsArgs(argv);
  } catch (error) {
    if (error instanceof UsageError) return error.field;
    throw error;
  }
  throw new Error(`accepted ${argv.join(' ')}`);
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'fathom-models-cli-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('fathom models: the command line', () => {
  it('reads each command, with $USER as the default actor', () => {
    const saved = process.env.USER;
    process.env.USER = 'someone';
    onTestFinished(() => {
      if (saved === undefined) delete process.env.USER;
      else process.env.USER = saved;
    });
    expect(parseModelsArgs(['promote', '--name', 'fraud', '--version', '3', '--to', 'canary', '--reason', 'canary at 5%', '--data-dir', '/tmp/x'])).toEqual({
      command: { kind: 'promote', name: 'fraud', version: '3', to: 'canary', reason: 'canary at 5%', actor: 'someone' },
      target: { kind: 'local', dataDir: '/tmp/x' },
      json: false,
    });
    expect(parseModelsArgs(['list', '--aws', '--json'])).toEqual({ command: { kind: 'list' }, target: { kind: 'aws' }, json: true });
    expect(parseModelsArgs(['rollback', '--name', 'fraud', '--reason', 'alarm', '--actor', 'oncall'])?.command).toEqual({
      kind: 'rollback',
      name: 'fraud',
      reason: 'alarm',
      actor: 'oncall',
    });
    expect(parseModelsArgs([])).toBeUndefined();
    expect(parseModelsArgs(['list', '--help'])).toBeUndefined();
  });

  it.each([
    [['publish'], 'command'],
    [['list', '--name', 'Fraud!'], '--name'],
    [['show', '--name', 'fraud'], '--version'],
    [['promote', '--name', 'fraud', '--version', '1', '--to', 'live', '--reason', 'x'], '--to'],
    [['promote', '--name', 'fraud', '--version', '1', '--to', 'staging'], '--reason'],
    [['rollback', '--name', 'fraud', '--reason', 'x', '--actor', ' '], '--actor'],
    [['register'], '--package'],
    [['register', '--package', 'x', '--name', 'fraud'], '--name'],
    [['list', '--aws', '--data-dir', 'x'], '--data-dir'],
  ])('%j is refused naming %s', (argv, field) => {
    expect(usageField(argv)).toBe(field);
  });

  it('a bad flag exits 2 with the reason and the usage', async () => {
    const result = await fathom('promote', '--name', 'fraud', '--version', '1', '--to', 'live', '--reason', 'x');
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--to must be one of candidate, staging, canary, production, archived');
    expect(result.stderr).toContain('usage: fathom models');
  });
});

describe('fathom models on a data dir where nothing runs', () => {
  it('starts the stand-ins per command; state persists from one command to the next', async () => {
    const dataDir = join(dir, 'idle');
    const registered = await fathom('register', '--package', writePackage(dir, 'fraud', '1'), '--reason', 'first model', '--data-dir', dataDir);
    expect(registered.stderr).toContain('stand-ins started for this command');
    expect(registered.stdout).toContain('registered fraud@1 as candidate');
    expect(registered.code).toBe(0);
    await fathom('register', '--package', writePackage(dir, 'fraud', '2'), '--data-dir', dataDir);

    expect((await fathom('promote', '--name', 'fraud', '--version', '1', '--to', 'staging', '--reason', 'eval ok', '--data-dir', dataDir)).stdout).toContain(
      'fraud@1: candidate → staging (by cli-user: eval ok)',
    );
    const refused = await fathom('promote', '--name', 'fraud', '--version', '2', '--to', 'production', '--reason', 'too soon', '--data-dir', dataDir);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/fraud version 2: candidate → production is not allowed/);

    const listed = await fathom('list', '--json', '--data-dir', dataDir);
    const records = JSON.parse(listed.stdout) as ModelVersionRecord[];
    expect(records.map((r) => [r.version, r.state])).toEqual([
      ['1', 'staging'],
      ['2', 'candidate'],
    ]);

    const table = (await fathom('list', '--data-dir', dataDir)).stdout.split('\n');
    expect(table[0]).toMatch(/^NAME\s+VERSION\s+STATE\s+TIER\s+FEATURE SET\s+REGISTERED\s+ROC AUC\s+PR AUC$/);
    expect(table[1]).toMatch(/^fraud\s+1\s+staging\s+cpu\s+card_fraud\.v1\s/);

    const shown = await fathom('show', '--name', 'fraud', '--version', '1', '--verify', '--data-dir', dataDir);
    expect(shown.stdout).toContain('fraud@1: staging');
    expect(shown.stdout).toMatch(/candidate\s+staging\s+cli-user\s+eval ok/);
    expect(shown.stdout).toMatch(/package verified: \d+ ONNX bytes/);
  });
});

describe('fathom models on a data dir where the stand-ins run', () => {
  it('talks to the running stand-ins instead of starting its own', async () => {
    const dataDir = join(dir, 'running');
    const standIns = await startStandIns({ dataDir, persist: false });
    const clients = localClients(standIns.endpoints);
    try {
      const result = await fathom('register', '--package', writePackage(dir, 'scoring', '7'), '--actor', 'ana', '--data-dir', dataDir);
      expect(result.stderr).toContain('the running local platform');
      expect(result.code).toBe(0);
      await fathom('promote', '--name', 'scoring', '--version', '7', '--to', 'staging', '--reason', 'eval', '--data-dir', dataDir);
      await fathom('promote', '--name', 'scoring', '--version', '7', '--to', 'production', '--reason', 'ship', '--data-dir', dataDir);

      // What the CLI did is in this process's stand-ins, signed with the data dir's key.
      const provisioned = await provisionRegistry(clients, platformResources(), dataDir);
      const registry = new ModelRegistry({
        dynamodb: clients.dynamodb,
        s3: clients.s3,
        tableName: provisioned.tableName,
        bucket: provisioned.bucket,
        verifier: PackageVerifier.fromSetting(provisioned.signingKey),
      });
      expect(await registry.productionVersion('scoring' as ModelName)).toBe('7');
      const pkg = await registry.loadVerifiedPackage('scoring' as ModelName, '7' as ModelVersion);
      expect(pkg.manifest.signature?.key_id).toBe(await provisioned.signer.keyId());
    } finally {
      clients.destroy();
      await standIns.stop();
    }
  });
});
