// `fathom generate`: writes a seeded reference workload (events and their labels) to files.

import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createEventWriter, createLabelWriter, type RecordFileFormat, type RecordWriter } from '../adapters/event-files';
import { ConfigError, ValidationError } from '../core/errors';
import { integerFlag, numberFlag, parseFlags, UsageError } from './args';
import { generateWorkload, resolveWorkloadOptions, toLabelRecord, type LabelRecord, type WorkloadOptions } from '../core/generator';
import type { Event } from '../core/schemas/event';
import { rowsFromWorkload } from '../core/training';
import { createTrainingRowWriter, type TrainingRowOut } from '../adapters/training-rows-file';

export const GENERATE_USAGE = `usage: fathom generate [options]
  --events N         exact number of events (default 100000)
  --seed S           integer seed, 0 to 4294967295 (default 42); same seed and options, same bytes
  --days D           days covered (default 30)
  --start DATE       first day, YYYY-MM-DD, UTC (default 2026-01-01)
  --out DIR          output folder (default .fathom/generated)
  --format F         jsonl, parquet or both (default jsonl)
  --drift-from DAY   from this day index (0 = first day) on: more takeovers, amounts +30%
  --cards N          number of cards (default: about 1.5 events per card per day)
  --merchants N      number of merchants (default: one per 20 cards)
  --fraud-rate R     target share of fraudulent events (default 0.01)
  --training-rows    also write DIR/training-rows.<ext>: each event's feature vector from the
                     batch driver, its label and event time (input for \`fathom train\`)
  -h, --help         this text
writes DIR/events.<ext> and DIR/labels.<ext>; prints a JSON summary on stdout.`;

const FORMATS = { jsonl: ['jsonl'], parquet: ['parquet'], both: ['jsonl', 'parquet'] } as const satisfies Record<string, readonly RecordFileFormat[]>;

/** The flag behind each workload option, to name it in an error. */
const FLAG_OF_OPTION: Readonly<Record<string, string>> = {
  seed: '--seed',
  events: '--events',
  days: '--days',
  start: '--start',
  cards: '--cards',
  merchants: '--merchants',
  fraudRate: '--fraud-rate',
  driftFromDay: '--drift-from',
};

export interface GenerateArgs {
  readonly workload: WorkloadOptions;
  readonly out: string;
  readonly formats: readonly RecordFileFormat[];
  readonly trainingRows: boolean;
}

/** Reads the command line; throws a ValidationError naming the flag at fault. `undefined` = help. */
export function parseGenerateArgs(argv: readonly string[]): GenerateArgs | undefined {
  const values = parseFlags(argv, {
    events: { type: 'string' },
    seed: { type: 'string' },
    days: { type: 'string' },
    start: { type: 'string' },
    out: { type: 'string' },
    format: { type: 'string' },
    'drift-from': { type: 'string' },
    cards: { type: 'string' },
    merchants: { type: 'string' },
    'fraud-rate': { type: 'string' },
    'training-rows': { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) return undefined;

  const format = values.format ?? 'jsonl';
  if (!Object.hasOwn(FORMATS, format)) throw new UsageError(`--format must be jsonl, parquet or both (got "${format}")`, '--format');
  const out = values.out ?? '.fathom/generated';
  if (out.trim() === '') throw new UsageError('--out must not be empty', '--out');

  const workload: WorkloadOptions = {
    seed: integerFlag('--seed', values.seed) ?? 42,
    events: integerFlag('--events', values.events) ?? 100_000,
    days: integerFlag('--days', values.days),
    start: values.start,
    cards: integerFlag('--cards', values.cards),
    merchants: integerFlag('--merchants', values.merchants),
    fraudRate: numberFlag('--fraud-rate', values['fraud-rate']),
    driftFromDay: integerFlag('--drift-from', values['drift-from']),
  };
  try {
    resolveWorkloadOptions(workload);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    const flag = FLAG_OF_OPTION[error.field] ?? error.field;
    const message = error.message.startsWith(error.field) ? flag + error.message.slice(error.field.length) : error.message;
    throw new UsageError(message, flag);
  }
  return { workload, out, formats: FORMATS[format as keyof typeof FORMATS], trainingRows: values['training-rows'] === true };
}

/** A progress line on stderr: redrawn in place on a terminal, a plain line every few seconds otherwise. */
class Progress {
  private readonly tty: boolean;
  private readonly started = performance.now();
  private lastShown = 0;

  constructor(private readonly total: number) {
    this.tty = process.stderr.isTTY === true;
  }

  update(done: number, force = false): void {
    const now = performance.now();
    if (!force && now - this.lastShown < (this.tty ? 100 : 5000)) return;
    this.lastShown = now;
    const seconds = (now - this.started) / 1000;
    const rate = seconds > 0 ? Math.round(done / seconds) : 0;
    const percent = this.total > 0 ? ((100 * done) / this.total).toFixed(1) : '100.0';
    const line = `generate: ${done.toLocaleString('en-US')} / ${this.total.toLocaleString('en-US')} events (${percent}%), ${rate.toLocaleString('en-US')} events/s`;
    process.stderr.write(this.tty ? `\r\x1b[K${line}` : `${line}\n`);
  }

  finish(done: number): void {
    this.update(done, true);
    if (this.tty) process.stderr.write('\n');
  }
}

/** Events per write: large enough to amortise a write call, small enough to keep memory flat. */
const BATCH = 8192;

async function generate(args: GenerateArgs): Promise<void> {
  const started = performance.now();
  const workload = resolveWorkloadOptions(args.workload);
  await mkdir(args.out, { recursive: true });
  const ext = (format: RecordFileFormat): string => (format === 'jsonl' ? 'jsonl' : 'parquet');
  const eventWriters: RecordWriter<Event>[] = args.formats.map((f) => createEventWriter(join(args.out, `events.${ext(f)}`), { format: f }));
  const labelWriters: RecordWriter<LabelRecord>[] = args.formats.map((f) => createLabelWriter(join(args.out, `labels.${ext(f)}`), { format: f }));

  const progress = new Progress(workload.events);
  let events: Event[] = [];
  let labels: LabelRecord[] = [];
  let done = 0;
  let fraud = 0;
  const flush = async (): Promise<void> => {
    await Promise.all([...eventWriters.map((w) => w.write(events)), ...labelWriters.map((w) => w.write(labels))]);
    done += events.length;
    events = [];
    labels = [];
    progress.update(done);
  };
  for (const item of generateWorkload(workload)) {
    events.push(item.event);
    labels.push(toLabelRecord(item));
    fraud += item.label;
    if (events.length === BATCH) await flush();
  }
  await flush();
  await Promise.all([...eventWriters, ...labelWriters].map((w) => w.close()));
  progress.finish(done);
  const trainingFiles = args.trainingRows ? await writeTrainingRows(args, workload, ext) : [];

  const summary = {
    events: done,
    fraud,
    cards: workload.cards,
    merchants: workload.merchants,
    seconds: Math.round((performance.now() - started) / 10) / 100,
    files: [...[...eventWriters, ...labelWriters].map((w) => w.path), ...trainingFiles],
  };
  process.stdout.write(`${JSON.stringify(summary)}\n`);
}

/**
 * Replays the same seeded workload through the batch driver: every row is the f(S, e) the stream
 * would log for that event, so a model trained on it sees what serving computes.
 */
async function writeTrainingRows(args: GenerateArgs, workload: WorkloadOptions, ext: (f: RecordFileFormat) => string): Promise<string[]> {
  process.stderr.write('generate: computing training rows with the batch driver\n');
  const m = rowsFromWorkload(generateWorkload(workload));
  const f = m.features.length;
  const writers = args.formats.map((format) => createTrainingRowWriter(join(args.out, `training-rows.${ext(format)}`), m.features, { format }));
  for (let start = 0; start < m.rows; start += BATCH) {
    const rows: TrainingRowOut[] = [];
    for (let r = start; r < Math.min(m.rows, start + BATCH); r++) {
      rows.push({ event_id: m.eventIds![r]!, event_time: new Date(m.eventTime[r]!).toISOString(), label: m.label[r] as 0 | 1, values: m.x.subarray(r * f, (r + 1) * f) });
    }
    await Promise.all(writers.map((w) => w.write(rows)));
  }
  await Promise.all(writers.map((w) => w.close()));
  return writers.map((w) => w.path);
}

/** `fathom generate …`: a bad flag or value prints the reason and the usage, exit code 2. */
export async function runGenerate(argv: string[]): Promise<void> {
  let args: GenerateArgs | undefined;
  try {
    args = parseGenerateArgs(argv);
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    process.stderr.write(`fathom generate: ${error.message}\n${GENERATE_USAGE}\n`);
    process.exitCode = 2;
    return;
  }
  if (args === undefined) {
    process.stdout.write(`${GENERATE_USAGE}\n`);
    return;
  }
  await generate(args);
}
