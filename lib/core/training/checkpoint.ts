// What a training run must carry across an interruption (a spot reclaim, a killed process) to
// finish with exactly the model an uninterrupted run gives. Plain JSON data: the trees so far,
// the loss history and the early-stopping state. No PRNG state is needed: tree t draws its row and
// column samples from its own stream, deriveSeed(seed, t), so resuming at tree t replays nothing.
// Margins are not stored either: replaying the stored trees over the data rebuilds them with the
// same float32 additions in the same order.
import { z } from 'zod';
import { ValidationError } from '../errors';
import { toValidationError } from '../schemas/event';
import { TrainParamsSchema, type TrainParams } from './params';
import type { Tree } from '../models/tree-ensemble';
import type { TrainingMatrix } from './matrix';

export const CHECKPOINT_FORMAT = 'fathom.gbdt-checkpoint/v1';

export interface TreeLoss {
  /** 1-based tree count after which the losses were measured. */
  readonly iteration: number;
  /** Class-weighted mean log loss over the training rows. */
  readonly trainLoss: number;
  /** The same over the validation rows; absent without validation data. */
  readonly validLoss?: number;
}

export interface TrainCheckpoint {
  readonly format: typeof CHECKPOINT_FORMAT;
  readonly params: TrainParams;
  readonly features: readonly string[];
  /** Which data the run was on: row counts and a hash of values and labels (see `dataFingerprint`). */
  readonly data: { readonly trainRows: number; readonly validationRows: number; readonly fingerprint: string };
  readonly featureCount: number;
  readonly baseMargin: number;
  /** Every tree built so far, including those past the best iteration. */
  readonly trees: readonly Tree[];
  readonly history: readonly TreeLoss[];
  /** Tree count with the lowest validation loss so far (0 before the first tree). */
  readonly bestIteration: number;
  readonly bestValidLoss: number | null;
  /** Trees built since the best one: the early-stopping patience used up. */
  readonly roundsSinceBest: number;
}

const int = z.number().int();
const TreeSchema = z.strictObject({
  feature: z.array(int.min(-1)),
  threshold: z.array(z.number()),
  left: z.array(int.min(-1)),
  right: z.array(int.min(-1)),
  missingLeft: z.array(z.union([z.literal(0), z.literal(1)])),
  value: z.array(z.number()),
  cover: z.array(z.number()),
});

const CheckpointSchema = z.strictObject({
  format: z.literal(CHECKPOINT_FORMAT),
  params: TrainParamsSchema,
  features: z.array(z.string()),
  data: z.strictObject({ trainRows: int.nonnegative(), validationRows: int.nonnegative(), fingerprint: z.string() }),
  featureCount: int.positive(),
  baseMargin: z.number(),
  trees: z.array(TreeSchema),
  history: z.array(z.strictObject({ iteration: int.positive(), trainLoss: z.number(), validLoss: z.number().optional() })),
  bestIteration: int.nonnegative(),
  bestValidLoss: z.number().nullable(),
  roundsSinceBest: int.nonnegative(),
});

/** Checks a checkpoint read back from JSON; ValidationError names the field under `resumeFrom`. */
export function parseCheckpoint(input: unknown): TrainCheckpoint {
  const r = CheckpointSchema.safeParse(input);
  if (!r.success) throw toValidationError(r.error, 'resumeFrom');
  const c = r.data;
  if (c.history.length !== c.trees.length) throw new ValidationError('resumeFrom.history: one entry per tree expected', 'resumeFrom.history');
  if (c.bestIteration > c.trees.length) throw new ValidationError('resumeFrom.bestIteration: beyond the trees built', 'resumeFrom.bestIteration');
  return c;
}

/** FNV-1a over 32-bit words: a cheap identity check of the data, not a security hash. */
function fnv(h: number, words: Uint32Array): number {
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    h = Math.imul(h ^ (w & 0xff), 0x01000193);
    h = Math.imul(h ^ ((w >>> 8) & 0xff), 0x01000193);
    h = Math.imul(h ^ ((w >>> 16) & 0xff), 0x01000193);
    h = Math.imul(h ^ (w >>> 24), 0x01000193);
  }
  return h >>> 0;
}

function wordsOf(a: Float32Array | Uint8Array): Uint32Array {
  if (a instanceof Float32Array) return new Uint32Array(a.buffer, a.byteOffset, a.length);
  return Uint32Array.from(a);
}

/** Hex digest of feature names, values (their float32 bits) and labels of the given matrices. */
export function dataFingerprint(matrices: readonly (TrainingMatrix | undefined)[]): string {
  let h = 0x811c9dc5;
  for (const m of matrices) {
    if (!m) continue;
    h = fnv(h, Uint32Array.from(m.features.join('\u0000'), (c) => c.charCodeAt(0)));
    h = fnv(h, wordsOf(m.x));
    h = fnv(h, wordsOf(m.label));
  }
  return h.toString(16).padStart(8, '0');
}
