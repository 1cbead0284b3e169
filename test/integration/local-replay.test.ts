// Replay into real kinesalite: what lands on the stream, under which partition key, and how a
// partial PutRecords failure is resent. The progress line is checked on its own.
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KinesisClient, CreateStreamCommand, GetRecordsCommand, GetShardIteratorCommand, ListShardsCommand } from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_CREDENTIALS, LOCAL_REGION, localClients, type LocalClients } from '../../lib/local/aws-clients';
import { ProgressLine } from '../../lib/local/progress-line';
import { replayEvents, startReplayProgress } from '../../lib/local/replay';
import { startStandIns, type StandIns } from '../../lib/local/stand-ins';

let standIns: StandIns;
let clients: LocalClients;
let dataDir: string;
let streams = 0;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'fathom-replay-'));
  standIns = await startStandIns({ dataDir, persist: false });
  clients = localClients(standIns.endpoints);
});

afterAll(async () => {
  clients.destroy();
  await standIns.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

async function newStream(): Promise<string> {
  const name = `replay-${++streams}`;
  await clients.kinesis.send(new CreateStreamCommand({ StreamName: name, ShardCount: 2 }));
  return name;
}

/** Everything on the stream, shard by shard, in order. */
async function readAll(kinesis: KinesisClient, streamName: string) {
  const { Shards } = await kinesis.send(new ListShardsCommand({ StreamName: streamName }));
  const out: { shardId: string; partitionKey: string; data: string }[] = [];
  for (const shard of Shards ?? []) {
    let { ShardIterator } = await kinesis.send(
      new GetShardIteratorCommand({ StreamName: streamName, ShardId: shard.ShardId!, ShardIteratorType: 'TRIM_HORIZON' }),
    );
    for (;;) {
      const page = await kinesis.send(new GetRecordsCommand({ ShardIterator: ShardIterator! }));
      if (!page.Records?.length) break;
      out.push(...page.Records.map((r) => ({ shardId: shard.ShardId!, partitionKey: r.PartitionKey!, data: Buffer.from(r.Data!).toString('utf8') })));
      ShardIterator = page.NextShardIterator;
    }
  }
  return out;
}

const events = (n: number) => Array.from({ length: n }, (_, i) => ({ event_id: `e${i}`, entity_id: `card_${i % 13}`, amount: i }));

describe('replayEvents', () => {
  it('puts every event under its entity id, in order per key, with malformed payloads verbatim among them', async () => {
    const streamName = await newStream();
    async function* source() {
      for (const e of events(1234)) yield e;
    }
    const calls: number[] = [];
    const result = await replayEvents({
      kinesis: clients.kinesis,
      streamName,
      partitionKeyField: 'entity_id',
      events: source(),
      malformed: ['{"event_id":', 'not json at all', Buffer.from([0xff, 0xfe])],
      malformedEvery: 500,
      onProgress: (p) => calls.push(p.events + p.malformed),
    });
    expect(result).toMatchObject({ events: 1234, malformed: 3, retried: 0 });
    expect(calls).toEqual([500, 1000, 1237]);

    const records = await readAll(clients.kinesis, streamName);
    expect(records).toHaveLength(1237);
    const good = records.filter((r) => r.partitionKey.startsWith('card_'));
    expect(good).toHaveLength(1234);
    for (const r of good) expect((JSON.parse(r.data) as { entity_id: string }).entity_id).toBe(r.partitionKey);
    // One entity is on one shard, its events in put order.
    const byKey = new Map<string, { shards: Set<string>; ids: number[] }>();
    for (const r of good) {
      const entry = byKey.get(r.partitionKey) ?? { shards: new Set(), ids: [] };
      entry.shards.add(r.shardId);
      entry.ids.push((JSON.parse(r.data) as { amount: number }).amount);
      byKey.set(r.partitionKey, entry);
    }
    for (const { shards, ids } of byKey.values()) {
      expect(shards.size).toBe(1);
      expect(ids).toEqual([...ids].sort((a, b) => a - b));
    }
    const bad = records.filter((r) => r.partitionKey.startsWith('malformed-')).map((r) => r.data);
    expect(bad.sort()).toEqual(['{"event_id":', 'not json at all', Buffer.from([0xff, 0xfe]).toString('utf8')].sort());
  });

  it('resends only the entries a partial failure rejected', async () => {
    // A fault-injecting hop in front of kinesalite: on the first PutRecords it forwards only the
    // even entries and answers the odd ones with ProvisionedThroughputExceededException, which is
    // what Kinesis does to records over a shard's write limit. Those records are truly not written.
    let firstPut = true;
    const proxy: Server = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      let body = Buffer.concat(chunks).toString('utf8');
      const isPut = req.headers['x-amz-target'] === 'Kinesis_20131202.PutRecords';
      const inject = isPut && firstPut;
      if (isPut) firstPut = false;
      let dropped: number[] = [];
      if (inject) {
        const input = JSON.parse(body) as { Records: unknown[] };
        dropped = input.Records.map((_, i) => i).filter((i) => i % 2 === 1);
        body = JSON.stringify({ ...input, Records: input.Records.filter((_, i) => i % 2 === 0) });
      }
      const target = new URL(standIns.endpoints.kinesis);
      const upstream = request(
        { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: { ...req.headers, 'content-length': Buffer.byteLength(body) } },
        async (up) => {
          const parts: Buffer[] = [];
          for await (const chunk of up) parts.push(chunk as Buffer);
          let text = Buffer.concat(parts).toString('utf8');
          if (inject && up.statusCode === 200) {
            const out = JSON.parse(text) as { Records: unknown[] };
            const merged: unknown[] = [];
            let written = 0;
            for (let i = 0; written < out.Records.length || dropped.includes(i); i++) {
              merged.push(dropped.includes(i) ? { ErrorCode: 'ProvisionedThroughputExceededException', ErrorMessage: 'Rate exceeded for shard' } : out.Records[written++]);
            }
            text = JSON.stringify({ FailedRecordCount: dropped.length, Records: merged });
          }
          res.writeHead(up.statusCode ?? 500, { 'content-type': up.headers['content-type'] ?? 'application/x-amz-json-1.1' });
          res.end(text);
        },
      );
      upstream.end(body);
    });
    proxy.listen(0, '127.0.0.1');
    await once(proxy, 'listening');
    const viaProxy = new KinesisClient({
      endpoint: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`,
      region: LOCAL_REGION,
      credentials: LOCAL_CREDENTIALS,
      requestHandler: new NodeHttpHandler(),
    });
    try {
      const streamName = await newStream();
      const result = await replayEvents({ kinesis: viaProxy, streamName, partitionKeyField: 'entity_id', events: events(20) });
      expect(result).toMatchObject({ events: 20, retried: 10 });
      const written = (await readAll(clients.kinesis, streamName)).map((r) => (JSON.parse(r.data) as { amount: number }).amount);
      expect(written.sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    } finally {
      viaProxy.destroy();
      proxy.close();
    }
  });

  it('stops between calls when aborted', async () => {
    const streamName = await newStream();
    const controller = new AbortController();
    const replay = replayEvents({
      kinesis: clients.kinesis,
      streamName,
      partitionKeyField: 'entity_id',
      events: events(3000),
      recordsPerCall: 100,
      signal: controller.signal,
      onProgress: (p) => {
        if (p.events >= 300) controller.abort(new Error('enough'));
      },
    });
    await expect(replay).rejects.toThrow('enough');
    expect((await readAll(clients.kinesis, streamName)).length).toBe(300);
  });
});

describe('progress line', () => {
  const sink = (isTTY: boolean) => {
    const writes: string[] = [];
    return { writes, stream: { isTTY, write: (text: string) => writes.push(text) > 0 } };
  };

  it('redraws in place on a terminal and ends the line when stopped', async () => {
    const { writes, stream } = sink(true);
    let n = 0;
    const line = new ProgressLine(() => `n=${++n}`, { stream, ttyIntervalMs: 10 });
    await new Promise((r) => setTimeout(r, 60));
    await line.stop();
    expect(writes.length).toBeGreaterThan(2);
    expect(writes.slice(0, -1).every((w) => /^\rn=\d+\x1b\[K$/.test(w))).toBe(true);
    expect(writes.at(-1)).toBe('\n');
  });

  it('writes whole lines, seldom, elsewhere', async () => {
    const { writes, stream } = sink(false);
    const line = new ProgressLine(() => 'status', { stream, plainIntervalMs: 1000 });
    await new Promise((r) => setTimeout(r, 50));
    await line.stop();
    expect(writes).toEqual(['status\n']);
  });

  it('reports rate, lag and DLQ depth', async () => {
    const { writes, stream } = sink(false);
    const line = startReplayProgress({ sent: () => 1500, processed: () => 1200, dlq: async () => 3 }, { stream });
    await line.stop();
    expect(writes[0]).toMatch(/^replay 1,500 records \| [\d,]+ records\/s \| lag 300 \| dlq 3 \| \d+\.\d s\n$/);
  });
});
