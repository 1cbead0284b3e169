import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from 'hyparquet';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createEventWriter, createLabelWriter, readEvents, readRecords, type RecordWriter } from '../../lib/adapters/event-files';
import { runGenerate } from '../../lib/cli/generate';
import { ValidationError } from '../../lib/core/errors';
import { generateWorkload, toLabelRecord, type GeneratedEvent } from '../../lib/core/generator';
import { EventSchema } from '../../lib/core/schemas/event';

let dir: string;
let items: GeneratedEvent[];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fathom-event-files-'));
  items = [...generateWorkload({ seed: 11, events: 3_500, days: 3 })];
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function writeAll<T>(writer: RecordWriter<T>, rows: readonly T[], batch = 1_000): Promise<void> {
  for (let i = 0; i < rows.length; i += batch) await writer.write(rows.slice(i, i + batch));
  await writer.close();
}

async function collect(source: AsyncIterable<unknown>): Promise<unknown[]> {
  const out: unknown[] = [];
  for await (const row of source) out.push(row);
  return out;
}

describe('event files: round trips', () => {
  it('JSONL: events written are the events read back, and they validate', async () => {
    const path = join(dir, 'events.jsonl');
    await writeAll(createEventWriter(path), items.map((i) => i.event));
    const back = await collect(readEvents(path));
    expect(back).toEqual(items.map((i) => i.event));
    for (const row of back) expect(EventSchema.safeParse(row).success).toBe(true);
  });

  it('Parquet: events written in several row groups read back equal, by our reader and by hyparquet', async () => {
    const path = join(dir, 'events.parquet');
    await writeAll(createEventWriter(path, { rowGroupSize: 1_000 }), items.map((i) => i.event), 700);
    const file = await asyncBufferFromFile(path);
    const metadata = await parquetMetadataAsync(file);
    expect(metadata.row_groups.map((g) => Number(g.num_rows))).toEqual([1_000, 1_000, 1_000, 500]);
    expect(await parquetReadObjects({ file })).toEqual(items.map((i) => i.event));
    expect(await collect(readEvents(path))).toEqual(items.map((i) => i.event));
  });

  it('labels: JSONL and Parquet hold event_id, label and labeled_at', async () => {
    const labels = items.map(toLabelRecord);
    const jsonl = join(dir, 'labels.jsonl');
    const parquet = join(dir, 'labels.parquet');
    await writeAll(createLabelWriter(jsonl), labels);
    await writeAll(createLabelWriter(parquet), labels);
    expect(await collect(readRecords(jsonl))).toEqual(labels);
    expect(await parquetReadObjects({ file: await asyncBufferFromFile(parquet) })).toEqual(labels);
    expect(labels.some((l) => l.label === 1)).toBe(true);
  });

  it('an empty Parquet file is valid and reads as no rows', async () => {
    const path = join(dir, 'empty.parquet');
    await createEventWriter(path).close();
    expect(await collect(readEvents(path))).toEqual([]);
  });
});

describe('event files: reading bad input', () => {
  it('names the line of malformed JSON, or skips it through onMalformedLine', async () => {
    const path = join(dir, 'bad.jsonl');
    await writeFile(path, '{"a":1}\n\n{oops\n{"b":2}\n');
    await expect(collect(readEvents(path))).rejects.toThrow(/line 3: not valid JSON/);
    const skipped: number[] = [];
    expect(await collect(readEvents(path, { onMalformedLine: (line) => skipped.push(line) }))).toEqual([{ a: 1 }, { b: 2 }]);
    expect(skipped).toEqual([3]);
  });

  it('refuses a file type it does not know', () => {
    expect(() => readEvents(join(dir, 'events.csv'))).toThrow(ValidationError);
    expect(() => createEventWriter(join(dir, 'events.txt'))).toThrow(/unknown file type/);
  });
});

describe('fathom generate', () => {
  let stdout: string[];
  let stderr: string[];

  function capture(): void {
    stdout = [];
    stderr = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      stdout.push(String(chunk));
      return true;
    });
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      stderr.push(String(chunk));
      return true;
    });
  }

  afterEach(() => {
    vi.restoreAllMocks();
    process.exitCode = undefined;
  });

  it('writes events and labels in both formats, the same bytes for the same seed, and a JSON summary', async () => {
    const run = async (out: string) => {
      capture();
      await runGenerate(['--events', '2_000', '--seed', '3', '--days', '2', '--out', out, '--format', 'both', '--drift-from', '1']);
      vi.restoreAllMocks();
      return JSON.parse(stdout.join('')) as Record<string, unknown>;
    };
    const first = await run(join(dir, 'gen-a'));
    const second = await run(join(dir, 'gen-b'));
    expect(process.exitCode).toBeUndefined();
    expect(first).toMatchObject({ events: 2_000, files: expect.arrayContaining([join(dir, 'gen-a', 'events.parquet')]) });
    expect(Object.keys(first).sort()).toEqual(['cards', 'events', 'files', 'fraud', 'merchants', 'seconds']);
    expect(first.fraud).toBe(second.fraud);

    const names = (await readdir(join(dir, 'gen-a'))).sort();
    expect(names).toEqual(['events.jsonl', 'events.parquet', 'labels.jsonl', 'labels.parquet']);
    for (const name of names) {
      expect(Buffer.compare(await readFile(join(dir, 'gen-a', name)), await readFile(join(dir, 'gen-b', name)))).toBe(0);
    }
    expect(await collect(readEvents(join(dir, 'gen-a', 'events.parquet')))).toEqual(await collect(readEvents(join(dir, 'gen-a', 'events.jsonl'))));
  });

  it.each([
    [['--evnts', '10'], /unknown flag --evnts/],
    [['--events', 'ten'], /--events must be a non-negative integer/],
    [['--events'], /--events needs a value/],
    [['--format', 'csv'], /--format must be jsonl, parquet or both/],
    [['--days', '5', '--drift-from', '9'], /--drift-from must be an integer from 0 to 4/],
    [['--fraud-rate', '2'], /--fraud-rate must be a number from 0 to 0.5/],
    [['extra'], /unexpected argument "extra"/],
  ])('rejects %j with exit code 2 and a message naming the flag', async (argv, message) => {
    capture();
    await runGenerate([...argv, '--out', join(dir, 'never')]);
    expect(process.exitCode).toBe(2);
    expect(stderr.join('')).toMatch(message);
    expect(stdout).toEqual([]);
  });
});
