// `fathom models …`: the model registry from the command line. Locally by default: when the local
// platform runs on the data dir (it announces its stand-ins in <dataDir>/endpoints.json) the
// command talks to them, otherwise it starts the stand-ins on the data dir for its own duration.
// Either way it provisions the registry table, bucket and local signing key first (idempotent).
// `--aws` talks to the deployed registry through the default credential chain.
import { userInfo } from 'node:os';
import { resolve } from 'node:path';
import { registryFromEnvironment } from '../adapters/registry/environment';
import { ModelRegistry } from '../adapters/registry/model-registry';
import { PackageVerifier } from '../adapters/registry/verifier';
import { ResourceError, ValidationError } from '../core/errors';
import { ModelNameSchema, ModelVersionSchema, type ModelName, type ModelVersion } from '../core/models/manifest';
import { MODEL_STATES, type ModelState, type ModelVersionRecord } from '../core/models/ports';
import { platformResources } from '../core/resources';
import { localClients } from '../local/aws-clients';
import { provisionRegistry } from '../local/provision';
import { DEFAULT_DATA_DIR, runningStandIns, startStandIns, type StandIns } from '../local/stand-ins';
import { parseFlags, UsageError } from './args';

export const MODELS_USAGE = `usage: fathom models <command> [options]
  list      [--name N]                                   versions and their states
  show      --name N --version V [--verify]              one version and its transitions
                                                         (--verify: fetch and verify the package)
  register  --package DIR [--actor A] [--reason R]       sign and store DIR/model.onnx + manifest.json
                                                         as a candidate
  promote   --name N --version V --to STATE --reason R [--actor A]
                                                         STATE: ${MODEL_STATES.filter((s) => s !== 'candidate').join(', ')}
  rollback  --name N --reason R [--actor A]              restore the previous production version
options of every command:
  --json            print JSON instead of a table
  --aws             the deployed registry: table, bucket and key from FATHOM_MODEL_REGISTRY_TABLE,
                    FATHOM_MODEL_BUCKET and FATHOM_MODEL_SIGNING_KEY, AWS credentials from the
                    default chain
  --data-dir DIR    local state (default .fathom): the running local platform's, or stand-ins
                    started for this command
  -h, --help        this text
--actor defaults to $USER. Lifecycle: candidate → staging → canary → production → archived.`;

export type ModelsCommand =
  | { readonly kind: 'list'; readonly name?: ModelName }
  | { readonly kind: 'show'; readonly name: ModelName; readonly version: ModelVersion; readonly verify: boolean }
  | { readonly kind: 'register'; readonly packageDir: string; readonly actor: string; readonly reason: string }
  | { readonly kind: 'promote'; readonly name: ModelName; readonly version: ModelVersion; readonly to: ModelState; readonly actor: string; readonly reason: string }
  | { readonly kind: 'rollback'; readonly name: ModelName; readonly actor: string; readonly reason: string };

export type ModelsTarget = { readonly kind: 'aws' } | { readonly kind: 'local'; readonly dataDir: string };

export interface ModelsArgs {
  readonly command: ModelsCommand;
  readonly target: ModelsTarget;
  readonly json: boolean;
}

const COMMON = {
  json: { type: 'boolean' },
  aws: { type: 'boolean' },
  'data-dir': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const SUBCOMMANDS = ['list', 'show', 'register', 'promote', 'rollback'] as const;

function need(flag: string, value: string | undefined): string {
  if (value === undefined || value.trim() === '') throw new UsageError(`${flag} is required`, flag);
  return value;
}

function nameFlag(value: string | undefined): ModelName {
  const parsed = ModelNameSchema.safeParse(need('--name', value));
  if (!parsed.success) throw new UsageError(`--name ${parsed.error.issues[0]?.message ?? 'is invalid'} (got "${value}")`, '--name');
  return parsed.data;
}

function versionFlag(value: string | undefined): ModelVersion {
  const parsed = ModelVersionSchema.safeParse(need('--version', value));
  if (!parsed.success) throw new UsageError(`--version ${parsed.error.issues[0]?.message ?? 'is invalid'} (got "${value}")`, '--version');
  return parsed.data;
}

function stateFlag(value: string | undefined): ModelState {
  const state = need('--to', value);
  const states: readonly string[] = MODEL_STATES;
  if (!states.includes(state)) throw new UsageError(`--to must be one of ${MODEL_STATES.join(', ')} (got "${state}")`, '--to');
  return state as ModelState;
}

/** $USER, else the login name: every transition records who made it. */
function defaultActor(): string {
  const fromEnv = process.env.USER ?? process.env.USERNAME;
  if (fromEnv?.trim()) return fromEnv.trim();
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
}

function actorFlag(value: string | undefined): string {
  if (value !== undefined && value.trim() === '') throw new UsageError('--actor must not be empty', '--actor');
  return value?.trim() ?? defaultActor();
}

/** Reads the command line; `undefined` means help. A UsageError names the flag at fault. */
export function parseModelsArgs(argv: readonly string[]): ModelsArgs | undefined {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === '-h' || sub === '--help' || sub === 'help') return undefined;
  if (!(SUBCOMMANDS as readonly string[]).includes(sub)) {
    throw new UsageError(`unknown models command "${sub}" (one of ${SUBCOMMANDS.join(', ')})`, 'command');
  }
  const kind = sub as (typeof SUBCOMMANDS)[number];
  const values = parseFlags(rest, {
    ...COMMON,
    ...(kind === 'register' ? { package: { type: 'string' } } : { name: { type: 'string' } }),
    ...(kind === 'show' || kind === 'promote' ? { version: { type: 'string' } } : {}),
    ...(kind === 'show' ? { verify: { type: 'boolean' } } : {}),
    ...(kind === 'promote' ? { to: { type: 'string' } } : {}),
    ...(kind === 'register' || kind === 'promote' || kind === 'rollback' ? { actor: { type: 'string' }, reason: { type: 'string' } } : {}),
  }) as Record<string, string | boolean | undefined>;
  if (values.help) return undefined;
  const str = (key: string): string | undefined => (typeof values[key] === 'string' ? values[key] : undefined);

  if (values.aws && str('data-dir') !== undefined) throw new UsageError('--data-dir is for the local registry; leave it out with --aws', '--data-dir');
  const dataDir = str('data-dir') ?? DEFAULT_DATA_DIR;
  if (dataDir.trim() === '') throw new UsageError('--data-dir must not be empty', '--data-dir');
  const target: ModelsTarget = values.aws ? { kind: 'aws' } : { kind: 'local', dataDir: resolve(dataDir) };

  let command: ModelsCommand;
  switch (kind) {
    case 'list': {
      const name = str('name');
      command = name === undefined ? { kind } : { kind, name: nameFlag(name) };
      break;
    }
    case 'show':
      command = { kind, name: nameFlag(str('name')), version: versionFlag(str('version')), verify: values.verify === true };
      break;
    case 'register':
      command = { kind, packageDir: resolve(need('--package', str('package'))), actor: actorFlag(str('actor')), reason: str('reason')?.trim() || 'registered' };
      break;
    case 'promote':
      command = {
        kind,
        name: nameFlag(str('name')),
        version: versionFlag(str('version')),
        to: stateFlag(str('to')),
        reason: need('--reason', str('reason')),
        actor: actorFlag(str('actor')),
      };
      break;
    case 'rollback':
      command = { kind, name: nameFlag(str('name')), reason: need('--reason', str('reason')), actor: actorFlag(str('actor')) };
      break;
  }
  return { command, target, json: values.json === true };
}

interface RegistrySession {
  readonly registry: ModelRegistry;
  /** Where the registry is, for the stderr notice. */
  readonly where: string;
  close(): Promise<void>;
}

async function openLocal(dataDir: string, sign: boolean): Promise<RegistrySession> {
  const running = runningStandIns(dataDir);
  let standIns: StandIns | undefined;
  const endpoints = running ?? (standIns = await startStandIns({ dataDir })).endpoints;
  const clients = localClients(endpoints);
  const close = async () => {
    clients.destroy();
    await standIns?.stop();
  };
  try {
    const provisioned = await provisionRegistry(clients, platformResources(), dataDir);
    const registry = new ModelRegistry({
      dynamodb: clients.dynamodb,
      s3: clients.s3,
      tableName: provisioned.tableName,
      bucket: provisioned.bucket,
      verifier: PackageVerifier.fromSetting(provisioned.signingKey),
      ...(sign ? { signer: provisioned.signer } : {}),
    });
    const how = running ? 'the running local platform' : 'stand-ins started for this command';
    return { registry, where: `local registry in ${dataDir} (${how})`, close };
  } catch (error) {
    await close().catch(() => undefined);
    throw error;
  }
}

function openAws(sign: boolean): RegistrySession {
  const { registry, clients } = registryFromEnvironment({ sign });
  return {
    registry,
    where: 'AWS registry',
    close: async () => {
      for (const client of [clients.dynamodb, clients.s3, clients.kms]) client.destroy();
    },
  };
}

// ---- output ----

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

const when = (iso: string) => iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z');
const fixed = (n: number) => n.toFixed(3);

export function formatList(records: readonly ModelVersionRecord[]): string {
  if (records.length === 0) return 'no model versions registered';
  return table(
    ['NAME', 'VERSION', 'STATE', 'TIER', 'FEATURE SET', 'REGISTERED', 'ROC AUC', 'PR AUC'],
    records.map((r) => [r.name, r.version, r.state, r.tier, r.featureSet, when(r.registeredAt), fixed(r.metrics.roc_auc), fixed(r.metrics.pr_auc)]),
  );
}

export function formatRecord(r: ModelVersionRecord): string {
  const m = r.metrics;
  const location = [
    `${r.location.modelKey}${r.location.modelVersionId ? ` (version ${r.location.modelVersionId})` : ''}`,
    `${r.location.manifestKey}${r.location.manifestVersionId ? ` (version ${r.location.manifestVersionId})` : ''}`,
  ];
  return [
    `${r.name}@${r.version}: ${r.state}`,
    `  tier         ${r.tier}`,
    `  feature set  ${r.featureSet}`,
    `  registered   ${when(r.registeredAt)}`,
    `  holdout      rows ${m.rows}, positives ${m.positives}, ROC AUC ${fixed(m.roc_auc)}, PR AUC ${fixed(m.pr_auc)}, recall@1%FPR ${fixed(m.recall_at_1pct_fpr)}, log loss ${fixed(m.log_loss)}, ECE ${fixed(m.ece)}`,
    `  package      ${location.join('\n               ')}`,
    '',
    table(
      ['AT', 'FROM', 'TO', 'ACTOR', 'REASON'],
      r.transitions.map((t) => [when(t.at), t.from ?? '-', t.to, t.actor, t.reason]),
    ),
  ].join('\n');
}

async function execute(args: ModelsArgs, session: RegistrySession): Promise<unknown> {
  const { registry } = session;
  const c = args.command;
  switch (c.kind) {
    case 'list':
      return registry.listVersions(c.name);
    case 'show': {
      const record = await registry.getVersion(c.name, c.version);
      if (!record) throw new ResourceError(`model ${c.name} has no version ${c.version}`, `${c.name}@${c.version}`, false);
      if (!c.verify) return record;
      const pkg = await registry.loadVerifiedPackage(c.name, c.version);
      return { ...record, verified: { signed_by: pkg.manifest.signature?.key_id, onnx_sha256: pkg.manifest.onnx_sha256, onnx_bytes: pkg.onnx.byteLength } };
    }
    case 'register':
      return registry.register(c.packageDir, c.actor, c.reason);
    case 'promote':
      return registry.promote(c.name, c.version, c.to, c.actor, c.reason);
    case 'rollback':
      return registry.rollback(c.name, c.actor, c.reason);
  }
}

function render(args: ModelsArgs, result: unknown): string {
  if (args.json) return JSON.stringify(result, null, 2);
  const c = args.command;
  switch (c.kind) {
    case 'list':
      return formatList(result as ModelVersionRecord[]);
    case 'show': {
      const shown = result as ModelVersionRecord & { verified?: { signed_by?: string; onnx_sha256: string; onnx_bytes: number } };
      const verified = shown.verified
        ? `\n\npackage verified: ${shown.verified.onnx_bytes} ONNX bytes, sha256 ${shown.verified.onnx_sha256}, signed by ${shown.verified.signed_by ?? '?'}`
        : '';
      return formatRecord(shown) + verified;
    }
    case 'register': {
      const r = result as ModelVersionRecord;
      return `registered ${r.name}@${r.version} as ${r.state} (${r.location.manifestKey})`;
    }
    case 'promote': {
      const r = result as ModelVersionRecord;
      const t = r.transitions.at(-1);
      return `${r.name}@${r.version}: ${t?.from ?? '-'} → ${r.state} (by ${t?.actor ?? '?'}: ${t?.reason ?? ''})`;
    }
    case 'rollback': {
      const r = result as { restored: ModelVersionRecord; archived?: ModelVersionRecord };
      const archived = r.archived ? `; ${r.archived.name}@${r.archived.version} archived` : '';
      return `rolled back: ${r.restored.name}@${r.restored.version} is production again${archived}`;
    }
  }
}

/** `fathom models …`: a bad flag prints the reason and the usage, exit code 2. */
export async function runModels(argv: string[]): Promise<void> {
  let args: ModelsArgs | undefined;
  try {
    args = parseModelsArgs(argv);
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    process.stderr.write(`fathom models: ${error.message}\n${MODELS_USAGE}\n`);
    process.exitCode = 2;
    return;
  }
  if (args === undefined) {
    process.stdout.write(`${MODELS_USAGE}\n`);
    return;
  }
  const sign = args.command.kind === 'register';
  const session = args.target.kind === 'aws' ? openAws(sign) : await openLocal(args.target.dataDir, sign);
  try {
    if (!args.json) process.stderr.write(`fathom models: ${session.where}\n`);
    process.stdout.write(`${render(args, await execute(args, session))}\n`);
  } finally {
    await session.close();
  }
}
