// `fathom local` (what `npm start` runs): the embedded platform with traffic flowing through it.
// Starts the stand-ins, the feature transform and the local API (port 3000 by default; a
// production model is trained and promoted first when there is none), replays a seeded workload
// into the stream, and
// either keeps running until Ctrl-C or, with --exit, waits for the stream to drain and prints a
// one-line JSON summary as the last line on stdout.
import { rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ConfigError, ValidationError } from '../core/errors';
import { integerFlag, parseFlags, UsageError } from './args';
// The workload generator: the only thing this command takes from lib/core/generator.
import { generateWorkload, resolveWorkloadOptions } from '../core/generator';
import { malformedPayloads } from '../local/malformed-payloads';
import { summarizeOnlineStore } from '../local/online-store-summary';
import { startLocalPlatform, type LocalPlatform } from '../local/platform';
import { replayEvents, startReplayProgress } from '../local/replay';
import { ClientTraffic } from '../local/client-traffic';
import { DEFAULT_DATA_DIR, FIREHOSE_ERRORS_DIR, WAREHOUSE_DIR, type StandInPorts } from '../local/stand-ins';
import { API_KEYS_FILE } from '../local/api/api-keys';
import type { PlatformApi } from '../local/api/platform-api';
import { DEFAULT_API_PORT } from '../local/api/server';
import { API_STAGE, ROUTES } from '../core/api/routes';

export const LOCAL_USAGE = `usage: fathom local [options]      (npm start)
  --events N          events to replay (default 20000)
  --seed S            workload seed (default 42); the same seed replays the same events
  --malformed N       malformed payloads mixed in, to exercise the dead-letter queue (default 0)
  --score-rate R      score requests per second the simulated client sends to the local API
                      while the replay runs (default: 80% of its usage plan's rate; 0: none)
  --no-labels         the simulated client sends no labels (default: each event's label once its
                      time has come in the replay's event time)
  --exit              wait until the stream is drained, print a JSON summary, exit
  --data-dir DIR      state directory (default .fathom)
  --fresh             delete the state in DIR first (without it, a rerun sends the workload
                      again into the state the last run left; its summary counts that run alone)
  --port-api P        the local API's port (default 3000; 0 picks a free one)
  --port-dynamodb P   --port-kinesis P   --port-s3 P   --port-sqs P
                      stand-in ports (default: free ports)
  --verbose           show the function's own logs and metrics (Powertools) on stdout
  -h, --help          this text
The local API (http://127.0.0.1:3000/v1) wants a bearer token (\`npx fathom token --client NAME
--scopes score,ingest,label,read\`) and an x-api-key (printed at start, kept in DIR/api-keys.json).
With no production model, one is trained and promoted first (a few seconds). The token issuer's key
(DIR/keys) and the API keys survive --fresh.`;

const DRAIN_TIMEOUT_MS = 10 * 60_000;

export interface LocalArgs {
  readonly events: number;
  readonly seed: number;
  readonly malformed: number;
  /** Undefined: 80% of the client's usage-plan rate. */
  readonly scoreRate: number | undefined;
  readonly labels: boolean;
  readonly exit: boolean;
  readonly dataDir: string;
  readonly fresh: boolean;
  readonly ports: StandInPorts;
  readonly apiPort: number;
  readonly verbose: boolean;
}

/** The summary printed by --exit, in this key order. */
export interface LocalSummary {
  readonly events: number;
  readonly features_written: number;
  readonly dlq: number;
  readonly duplicates_ignored: number;
  readonly seconds: number;
}

/** Reads the command line; `undefined` means --help. */
export function parseLocalArgs(argv: readonly string[]): LocalArgs | undefined {
  const values = parseFlags(argv, {
    events: { type: 'string' },
    seed: { type: 'string' },
    malformed: { type: 'string' },
    'score-rate': { type: 'string' },
    'no-labels': { type: 'boolean' },
    exit: { type: 'boolean' },
    'data-dir': { type: 'string' },
    fresh: { type: 'boolean' },
    'port-dynamodb': { type: 'string' },
    'port-kinesis': { type: 'string' },
    'port-s3': { type: 'string' },
    'port-sqs': { type: 'string' },
    'port-api': { type: 'string' },
    verbose: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) return undefined;
  const port = (flag: string, value: string | undefined) => integerFlag(flag, value, 0, 65_535) ?? 0;
  const events = integerFlag('--events', values.events, 0, 1e9) ?? 20_000;
  const seed = integerFlag('--seed', values.seed, 0, 2 ** 32 - 1) ?? 42;
  // Checked now, before any stand-in starts: the generator's own limits, named by flag.
  try {
    resolveWorkloadOptions({ seed, events });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    const flag = `--${error.field}`;
    throw new UsageError(error.message.startsWith(error.field) ? flag + error.message.slice(error.field.length) : error.message, flag);
  }
  const dataDir = values['data-dir'] ?? DEFAULT_DATA_DIR;
  if (dataDir.trim() === '') throw new UsageError('--data-dir must not be empty', '--data-dir');
  return {
    events,
    seed,
    malformed: integerFlag('--malformed', values.malformed, 0, 1e6) ?? 0,
    scoreRate: integerFlag('--score-rate', values['score-rate'], 0, 100_000),
    labels: !(values['no-labels'] ?? false),
    exit: values.exit ?? false,
    dataDir: resolve(dataDir),
    fresh: values.fresh ?? false,
    ports: {
      dynamodb: port('--port-dynamodb', values['port-dynamodb']),
      kinesis: port('--port-kinesis', values['port-kinesis']),
      s3: port('--port-s3', values['port-s3']),
      sqs: port('--port-sqs', values['port-sqs']),
    },
    apiPort: integerFlag('--port-api', values['port-api'], 0, 65_535) ?? DEFAULT_API_PORT,
    verbose: values.verbose ?? false,
  };
}

/**
 * Deletes what the platform keeps in the data dir (only its own subfolders, never the dir itself):
 * the stand-ins' state, the offline store and its error output. The signing keys and the API keys
 * stay (see the usage).
 */
function wipeState(dataDir: string): void {
  for (const name of ['dynamodb', 'kinesis', 's3', 'sqs', 'checkpoints', WAREHOUSE_DIR, FIREHOSE_ERRORS_DIR]) rmSync(join(dataDir, name), { recursive: true, force: true });
}

/** What the state holds so far: the online store's ingest counters and the dead-letter queue's depth. */
interface Totals {
  readonly applied: number;
  readonly duplicates: number;
  readonly dlq: number;
}

async function totals(platform: LocalPlatform): Promise<Totals> {
  const [store, dlq] = await Promise.all([summarizeOnlineStore(platform.clients.dynamodb, platform.resources.tableName), platform.dlqDepth()]);
  return { applied: store.applied, duplicates: store.duplicates, dlq };
}

/**
 * This run's figures: the totals now less those the run started on. A rerun into the state a
 * previous run left (no --fresh) then reports what it did itself, not the sum of every run.
 */
async function summarize(platform: LocalPlatform, events: number, started: number, before: Totals): Promise<LocalSummary> {
  const after = await totals(platform);
  return {
    events,
    features_written: after.applied - before.applied,
    dlq: after.dlq - before.dlq,
    duplicates_ignored: after.duplicates - before.duplicates,
    seconds: Math.round((performance.now() - started) / 10) / 100,
  };
}

/** What the startup banner says about the local API: where, which routes, the keys, how to get a token. */
export function apiBanner(api: PlatformApi, dataDir: string): string[] {
  const lines = [`  api ${api.url}/${API_STAGE}: ${ROUTES.map((r) => `${r.method} ${r.path} (${r.scope})`).join(', ')}`];
  lines.push(`  model ${api.model.name} ${api.model.version ? `version ${api.model.version} in production` : 'has no production version: /score answers 404 until one is promoted'}`);
  lines.push(`  api keys (x-api-key; kept in ${join(dataDir, API_KEYS_FILE)}):`);
  for (const k of api.apiKeys) {
    const t = api.tiers[k.tier];
    lines.push(`    ${k.client} [${k.tier}${t ? `: ${t.rateLimit} req/s, burst ${t.burstLimit}, ${t.quotaPerDay}/day` : ''}] ${k.key}`);
  }
  const first = api.apiKeys[0];
  lines.push(`  token: npx fathom token --client ${first?.client ?? 'NAME'} --scopes score,ingest,label,read${dataDir === DEFAULT_DATA_DIR ? '' : ` --data-dir ${dataDir}`}`);
  if (first) {
    lines.push(`  try:   curl -s ${api.url}/${API_STAGE}/models -H "x-api-key: ${first.key}" -H "Authorization: Bearer $(npx fathom token --client ${first.client} --scopes read${dataDir === DEFAULT_DATA_DIR ? '' : ` --data-dir ${dataDir}`})"`);
  }
  return lines;
}

/**
 * The application the replay stands for: it scores events and sends labels through the local API,
 * with the first configured client's key. No client configured, or no model to serve: no scoring.
 */
function clientTraffic(api: PlatformApi, args: LocalArgs, say: (line: string) => void): ClientTraffic | undefined {
  const key = api.apiKeys[0];
  if (!key) return undefined;
  const tierRate = api.tiers[key.tier]?.rateLimit ?? 0;
  // Below the plan's rate, so the plan never throttles it: a well-behaved client.
  const requested = args.scoreRate ?? Math.floor(tierRate * 0.8);
  const scoresPerSecond = api.model.version === undefined ? 0 : requested;
  if (api.model.version === undefined && requested > 0) say('fathom local: no production model, so the client scores nothing');
  return new ClientTraffic({ baseUrl: `${api.url}/${API_STAGE}`, client: key.client, apiKey: key.key, issuer: api.issuer, scoresPerSecond, labels: args.labels, log: say });
}

/** Resolves on the first SIGINT or SIGTERM; `dispose` removes the listeners. */
function interruption(): { readonly signal: AbortSignal; readonly stopped: Promise<NodeJS.Signals>; dispose(): void } {
  const controller = new AbortController();
  let onSignal: (signal: NodeJS.Signals) => void = () => undefined;
  const stopped = new Promise<NodeJS.Signals>((resolveSignal) => {
    onSignal = (signal) => {
      controller.abort(new Error(`interrupted by ${signal}`));
      resolveSignal(signal);
    };
  });
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  return {
    signal: controller.signal,
    stopped,
    dispose() {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

async function runPlatform(args: LocalArgs): Promise<void> {
  const started = performance.now();
  const say = (line: string) => process.stderr.write(`${line}\n`);
  if (args.fresh) wipeState(args.dataDir);
  const interrupt = interruption();
  const platform = await startLocalPlatform({
    dataDir: args.dataDir,
    ports: args.ports,
    quietFunction: !args.verbose,
    log: (message) => say(`[event-source] ${message}`),
    api: { port: args.apiPort, log: (message) => say(`[api] ${message}`), progress: (message) => say(`fathom local: ${message}`) },
  });
  let sent = 0;
  const progress = startReplayProgress({
    sent: () => sent,
    processed: () => {
      const stats = platform.poller.stats();
      return stats.recordsSucceeded + stats.recordsDiscarded;
    },
    dlq: () => platform.dlqDepth(),
  });
  try {
    // Read before the replay starts: the summary counts this run's work alone.
    const before = await totals(platform);
    const e = platform.endpoints;
    say(`fathom local: data in ${platform.dataDir}`);
    say(`  dynamodb ${e.dynamodb}  kinesis ${e.kinesis}  s3 ${e.s3}  sqs ${e.sqs}`);
    say(`  stream ${platform.resources.streamName} (${platform.resources.shardCount} shards) → feature-transform → table ${platform.resources.tableName}, dlq ${platform.resources.dlqUrl}`);
    if (platform.api) for (const line of apiBanner(platform.api, platform.dataDir)) say(line);

    const traffic = platform.api ? clientTraffic(platform.api, args, say) : undefined;
    let lastEventTime = 0;
    const replay = await replayEvents({
      kinesis: platform.clients.kinesis,
      streamName: platform.resources.streamName,
      partitionKeyField: platform.resources.partitionKeyField,
      events: (async function* () {
        for (const item of generateWorkload({ seed: args.seed, events: args.events })) {
          await traffic?.before(item);
          lastEventTime = Math.max(lastEventTime, Date.parse(item.event.event_time));
          yield item.event;
        }
      })(),
      malformed: malformedPayloads(args.malformed),
      onProgress: (p) => {
        sent = p.events + p.malformed;
      },
      signal: interrupt.signal,
    });
    if (traffic) {
      const t = await traffic.finish(lastEventTime);
      say(
        `fathom local: client scored ${t.scored} events (${t.flagged} flagged, ${t.score_failures} failed), sent ${t.labels_sent} labels (${t.label_failures} failed; ${t.labels_not_yet_known} not yet known at the replay's end)`,
      );
    }
    const drained = platform.poller.waitUntilIdle({ timeoutMs: DRAIN_TIMEOUT_MS });
    const outcome = await Promise.race([drained.then(() => 'drained' as const), interrupt.stopped]);
    await progress.stop();
    if (outcome !== 'drained') {
      if (args.exit) process.exitCode = 130; // interrupted before the summary it was asked for
      return;
    }

    const summary = await summarize(platform, replay.events, started, before);
    if (args.exit) {
      process.stdout.write(`${JSON.stringify(summary)}\n`);
      return;
    }
    say(`drained: ${JSON.stringify(summary)}`);
    say('the platform keeps running; Ctrl-C stops it');
    await interrupt.stopped;
  } catch (error) {
    await progress.stop().catch(() => undefined);
    // Ctrl-C during the replay: a clean stop, not a failure (but no summary either).
    if (interrupt.signal.aborted) {
      if (args.exit) process.exitCode = 130;
      return;
    }
    throw error;
  } finally {
    interrupt.dispose();
    say('fathom local: stopping');
    await platform.stop();
  }
}

/** `fathom local …`: a bad flag prints the reason and the usage, exit code 2. */
export async function runLocal(argv: string[]): Promise<void> {
  let args: LocalArgs | undefined;
  try {
    args = parseLocalArgs(argv);
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    process.stderr.write(`fathom local: ${error.message}\n${LOCAL_USAGE}\n`);
    process.exitCode = 2;
    return;
  }
  if (args === undefined) {
    process.stdout.write(`${LOCAL_USAGE}\n`);
    return;
  }
  await runPlatform(args);
}
