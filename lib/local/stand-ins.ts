// Starts the embedded AWS stand-ins in this process: dynalite (DynamoDB, with the PartiQL batch
// writes of dynamodb-statements.ts added), kinesalite (Kinesis), s3rver (S3), the local SQS, KMS
// and Firehose endpoints, each on its own port, with state under one data dir. The Firehose
// endpoint delivers each offline table's stream into the Iceberg warehouse under
// `<dataDir>/warehouse`, its error output under `<dataDir>/firehose-errors`.
// While they run, `<dataDir>/endpoints.json` says where, so a second process (the `models` CLI)
// can talk to them instead of starting its own on a data dir it cannot lock.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import dynalite from 'dynalite';
import kinesalite from 'kinesalite';
import S3rver from 's3rver';
import { OFFLINE_TABLES } from '../core/offline/tables';
import { ResourceError } from '../core/errors';
import { OFFLINE_TABLE_NAMES, platformResources } from '../core/resources';
import type { StandInEndpoints } from './aws-clients';
import { lockDataDir } from './data-dir-lock';
import { serveBatchExecuteStatement } from './dynamodb-statements';
import { startFirehoseEndpoint, warehouseSink, type FirehoseBuffering, type FirehoseEndpoint } from './firehose-endpoint';
import { startKmsEndpoint } from './kms-endpoint';
import { startSqsEndpoint } from './sqs-endpoint';

/** `.fathom/` in the repository root (git-ignored), as DESIGN.md fixes for local state. */
export const DEFAULT_DATA_DIR = resolve(fileURLToPath(new URL('../../.fathom', import.meta.url)));

export interface StandInPorts {
  readonly dynamodb?: number;
  readonly kinesis?: number;
  readonly s3?: number;
  readonly sqs?: number;
  readonly kms?: number;
  readonly firehose?: number;
}

export interface StandInOptions {
  /** Where state lives; defaults to DEFAULT_DATA_DIR. */
  readonly dataDir?: string;
  /**
   * Keep DynamoDB, Kinesis, SQS and KMS state on disk under dataDir (default true). When false they are
   * in memory; S3 is always on disk (s3rver has no in-memory store), under dataDir/s3.
   */
  readonly persist?: boolean;
  readonly host?: string;
  /** 0 or absent: a free port. */
  readonly ports?: StandInPorts;
  /** Resource name prefix, which names the delivery streams (default 'fathom', as in cdk.json). */
  readonly prefix?: string;
  /** The Firehose endpoint's buffering; LOCAL_FIREHOSE_BUFFERING by default. */
  readonly firehoseBuffering?: Partial<FirehoseBuffering>;
}

/**
 * Appends to a local offline table between two automatic compactions: with the endpoint's 2 s
 * buffering, one every 20 s or so for a table that receives rows all the time.
 */
export const LOCAL_COMPACT_EVERY = 10;

/** Where the local Iceberg tables and the Firehose error output live under a data dir. */
export const WAREHOUSE_DIR = 'warehouse';
export const FIREHOSE_ERRORS_DIR = 'firehose-errors';

export interface StandIns {
  readonly endpoints: StandInEndpoints;
  readonly dataDir: string;
  /** Delivers what the Firehose endpoint has buffered into the Iceberg tables now. */
  flushFirehose(): Promise<void>;
  stop(): Promise<void>;
}

export async function startStandIns(options: StandInOptions = {}): Promise<StandIns> {
  const dataDir = resolve(options.dataDir ?? DEFAULT_DATA_DIR);
  const persist = options.persist ?? true;
  const host = options.host ?? '127.0.0.1';
  const ports = options.ports ?? {};
  const lock = lockDataDir(dataDir);
  const dir = (name: string) => {
    const path = join(dataDir, name);
    mkdirSync(path, { recursive: true });
    return path;
  };

  // Started one after another so that a failure (a port in use, a locked store) stops what already runs.
  const stops: Array<() => Promise<void>> = [async () => lock.release()];
  const stopAll = async () => {
    // The lock (first in the list) is released last, once every store has closed.
    const [releaseLock, ...servers] = stops.splice(0);
    const results = await Promise.allSettled(servers.map((stop) => stop()));
    await releaseLock?.();
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  };

  try {
    // Tables and streams become ACTIVE at once: the 500 ms default CREATING phase only slows starts.
    const dynamo = dynalite({ ...(persist ? { path: dir('dynamodb') } : {}), createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
    // The online store writes with BatchExecuteStatement, which dynalite lacks.
    serveBatchExecuteStatement(dynamo);
    const dynamodbPort = await listen(dynamo, ports.dynamodb ?? 0, host, 'dynamodb');
    stops.push(() => closeServer(dynamo));

    // kinesalite caps an account at 10 open shards by default; AWS's default quota is far higher.
    const kinesis = kinesalite({
      ...(persist ? { path: dir('kinesis') } : {}),
      createStreamMs: 0,
      deleteStreamMs: 0,
      updateStreamMs: 0,
      shardLimit: 200,
    });
    const kinesisPort = await listen(kinesis, ports.kinesis ?? 0, host, 'kinesis');
    stops.push(() => closeServer(kinesis));

    const s3 = new S3rver({ address: host, port: ports.s3 ?? 0, silent: true, directory: dir('s3') });
    const s3Address = await s3.run().catch((error: unknown) => {
      throw new ResourceError(`s3 stand-in could not start: ${String(error)}`, 's3', false);
    });
    stops.push(() => s3.close());

    const sqs = await startSqsEndpoint({
      host,
      port: ports.sqs ?? 0,
      ...(persist ? { journalFile: join(dir('sqs'), 'journal.jsonl') } : {}),
    }).catch((error: unknown) => {
      throw new ResourceError(`sqs stand-in could not start: ${String(error)}`, 'sqs', false);
    });
    stops.push(() => sqs.close());

    const kms = await startKmsEndpoint({ host, port: ports.kms ?? 0, ...(persist ? { keyDir: dir('kms') } : {}) }).catch((error: unknown) => {
      throw new ResourceError(`kms stand-in could not start: ${String(error)}`, 'kms', false);
    });
    stops.push(() => kms.close());

    const offline = platformResources(options.prefix).offlineStore;
    const firehose: FirehoseEndpoint = await startFirehoseEndpoint({
      host,
      port: ports.firehose ?? 0,
      streams: Object.fromEntries(OFFLINE_TABLE_NAMES.map((table) => [offline.deliveryStreams[table].name, OFFLINE_TABLES[table]])),
      // Compacted as it fills, as Glue's table optimizers do the deployed tables (tableOptimizers).
      sink: warehouseSink({ warehouse: dir(WAREHOUSE_DIR), database: offline.database }, {
        compactEvery: LOCAL_COMPACT_EVERY,
        // Nothing is lost when one fails (its commit is atomic) and the next one tries again; said, not hidden.
        onCompaction: (table, outcome) => {
          if ('error' in outcome) process.stderr.write(`[offline store] compaction of ${table} failed, it will run again: ${String(outcome.error)}\n`);
        },
      }),
      errorDir: join(dataDir, FIREHOSE_ERRORS_DIR),
      databaseName: offline.database,
      ...(options.firehoseBuffering ? { buffering: options.firehoseBuffering } : {}),
    }).catch((error: unknown) => {
      throw new ResourceError(`firehose stand-in could not start: ${String(error)}`, 'firehose', false);
    });
    // Closing delivers what is buffered (or writes it to the error output): nothing accepted is lost.
    stops.push(() => firehose.close());

    const url = (port: number) => `http://${host}:${port}`;
    const endpoints: StandInEndpoints = { dynamodb: url(dynamodbPort), kinesis: url(kinesisPort), s3: url(s3Address.port), sqs: sqs.url, kms: kms.url, firehose: firehose.url };
    const endpointsFile = join(dataDir, ENDPOINTS_FILE);
    writeFileSync(endpointsFile, `${JSON.stringify({ pid: process.pid, endpoints } satisfies RunningStandIns)}\n`);
    return {
      dataDir,
      endpoints,
      flushFirehose: () => firehose.flush(),
      // The file goes first: nobody should find the stand-ins while they are shutting down.
      stop: async () => {
        rmSync(endpointsFile, { force: true });
        await stopAll();
      },
    };
  } catch (error) {
    await stopAll().catch(() => undefined);
    throw error;
  }
}

/** Where running stand-ins say where they listen, under their data dir. */
export const ENDPOINTS_FILE = 'endpoints.json';

interface RunningStandIns {
  readonly pid: number;
  readonly endpoints: StandInEndpoints;
}

/**
 * The endpoints of the stand-ins running on `dataDir` (in this or another process), or undefined
 * when none run there: no endpoints file, or one left by a process that is gone or no longer
 * holds the data dir's lock.
 */
export function runningStandIns(dataDir: string): StandInEndpoints | undefined {
  const dir = resolve(dataDir);
  let running: RunningStandIns;
  let lockOwner: number;
  try {
    running = JSON.parse(readFileSync(join(dir, ENDPOINTS_FILE), 'utf8')) as RunningStandIns;
    lockOwner = Number(readFileSync(join(dir, 'platform.lock'), 'utf8'));
  } catch {
    return undefined;
  }
  const e = running.endpoints as Partial<StandInEndpoints> | undefined;
  if (running.pid !== lockOwner || !isAlive(running.pid) || !e?.dynamodb || !e.kinesis || !e.s3 || !e.sqs || !e.kms || !e.firehose) return undefined;
  return { dynamodb: e.dynamodb, kinesis: e.kinesis, s3: e.s3, sqs: e.sqs, kms: e.kms, firehose: e.firehose };
}

function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function listen(server: Server, port: number, host: string, what: string): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const onError = (error: Error) =>
      reject(new ResourceError(`${what} stand-in could not listen on ${host}:${port}: ${error.message}`, what, false));
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolvePort((server.address() as AddressInfo).port);
    });
  });
}

/** Closes a stand-in's server (and, through its patched close, its store), dropping idle keep-alive sockets. */
function closeServer(server: Server): Promise<void> {
  return new Promise((resolveClose, reject) => {
    server.close((error) => (error ? reject(error) : resolveClose()));
    server.closeIdleConnections();
  });
}
