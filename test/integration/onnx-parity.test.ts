// The exported ONNX model, run by onnxruntime-node, scores exactly as the trainer's own
// `predictProbability` does, on 100k rows built to sit on every edge of the split rule; and the
// comparison is sharp enough to catch an exporter that gets one rule wrong.
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Tree, TreeEnsemble } from '../../lib/core/models/tree-ensemble';
import { predictMargin, predictProbability } from '../../lib/core/models/tree-ensemble';
import { exportOnnx } from '../../lib/core/onnx/export';
import { generateWorkload } from '../../lib/core/generator';
import { rowsFromWorkload, train } from '../../lib/core/training';
import { nextUp, randomEnsemble, randomRows } from '../support/random-ensemble';

const ROWS = 100_000;
const TOLERANCE = 1e-5;
const model = randomEnsemble(20240611, { trees: 300, maxDepth: 8, featureCount: 16 });
const F = model.featureCount;
const features = Array.from({ length: F }, (_, i) => `f${i}`);
const rows = randomRows(model, 7, ROWS);

let reference: Float64Array;
let referenceMargin: Float64Array;

async function scoreWithOrt(m: TreeEnsemble, threads = 1): Promise<{ score: Float32Array; margin: Float32Array }> {
  const session = await ort.InferenceSession.create(exportOnnx(m, { features, marginOutputName: 'margin' }), {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
  });
  try {
    const out = await session.run({ features: new ort.Tensor('float32', rows, [ROWS, F]) });
    return { score: out.score!.data as Float32Array, margin: out.margin!.data as Float32Array };
  } finally {
    await session.release();
  }
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): { max: number; at: number } {
  let max = 0;
  let at = -1;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    // NaN on either side is a mismatch, never a pass.
    if (!(d <= max)) {
      max = Number.isNaN(d) ? Infinity : d;
      at = i;
    }
  }
  return { max, at };
}

const mapTree = (m: TreeEnsemble, fn: (tree: Tree, t: number) => Tree): TreeEnsemble => ({ ...m, trees: m.trees.map(fn) });

describe('ONNX export parity with predictProbability', () => {
  beforeAll(() => {
    reference = new Float64Array(ROWS);
    referenceMargin = new Float64Array(ROWS);
    for (let i = 0; i < ROWS; i++) {
      const row = rows.subarray(i * F, (i + 1) * F);
      referenceMargin[i] = predictMargin(model, row);
      reference[i] = predictProbability(model, row);
    }
  });

  it('the rows exercise missing values and exact threshold hits', () => {
    let nan = 0;
    for (const v of rows) if (Number.isNaN(v)) nan++;
    expect(nan / rows.length).toBeGreaterThan(0.05);
    let tied = 0;
    const ths = new Set<number>();
    for (const tree of model.trees) tree.feature.forEach((f, n) => f >= 0 && ths.add(tree.threshold[n]!));
    for (const v of rows) if (ths.has(v)) tied++;
    expect(tied / rows.length).toBeGreaterThan(0.2);
  });

  it(`onnxruntime scores ${ROWS} rows within ${TOLERANCE} of predictProbability`, async () => {
    const { score, margin } = await scoreWithOrt(model);
    const p = maxAbsDiff(score, reference);
    const m = maxAbsDiff(margin, referenceMargin);
    console.log(`[onnx-parity] ${ROWS} rows, ${model.trees.length} trees: max |ORT − predictProbability| = ${p.max.toExponential(3)}, max |ORT margin − predictMargin| = ${m.max.toExponential(3)}`);
    expect(p.max).toBeLessThanOrEqual(TOLERANCE);
    // On one thread the margins are bit-identical (same float32 accumulation order); the
    // tolerance only leaves room for a future onnxruntime that reorders the sum.
    expect(m.max).toBeLessThanOrEqual(TOLERANCE);
  });

  it('still agrees when onnxruntime splits the work over two threads', async () => {
    const { score } = await scoreWithOrt(model, 2);
    const p = maxAbsDiff(score, reference);
    console.log(`[onnx-parity] 2 intra-op threads: max |ORT − predictProbability| = ${p.max.toExponential(3)}`);
    expect(p.max).toBeLessThanOrEqual(TOLERANCE);
  });

  it('negative control: one wrong missing direction is caught', async () => {
    const t = model.trees.findIndex((tree) => tree.feature[0]! >= 0);
    const wrong = mapTree(model, (tree, i) => (i === t ? { ...tree, missingLeft: tree.missingLeft.map((m, n) => (n === 0 ? ((1 - m) as 0 | 1) : m)) } : tree));
    const p = maxAbsDiff((await scoreWithOrt(wrong)).score, reference);
    console.log(`[onnx-parity] negative control, root of tree ${t} with its missing direction flipped: max diff = ${p.max.toExponential(3)}`);
    expect(p.max).toBeGreaterThan(TOLERANCE);
  });

  it('negative control: an off-by-one threshold (x <= t instead of x < t) is caught', async () => {
    // x <= t is x < nextUp(t) in float32: exactly what an exporter writing BRANCH_LEQ would do.
    const wrong = mapTree(model, (tree) => ({ ...tree, threshold: tree.threshold.map((th, n) => (tree.feature[n]! >= 0 && th !== Infinity ? nextUp(th) : th)) }));
    const p = maxAbsDiff((await scoreWithOrt(wrong)).score, reference);
    console.log(`[onnx-parity] negative control, every threshold one float32 step up: max diff = ${p.max.toExponential(3)}`);
    expect(p.max).toBeGreaterThan(TOLERANCE);
  });
});

describe('ONNX parity for a model the trainer built', () => {
  it('onnxruntime-node scores 100k generated rows within 1e-5 of the trainer’s own predictions', async () => {
    const data = rowsFromWorkload(generateWorkload({ events: 100_000, seed: 11, days: 20 }));
    const { model: trained } = train({ train: data }, { trees: 120, earlyStoppingRounds: 0, seed: 3 });
    const width = data.features.length;
    const session = await ort.InferenceSession.create(exportOnnx(trained, { features: data.features }), { intraOpNumThreads: 1, interOpNumThreads: 1 });
    try {
      const out = await session.run({ features: new ort.Tensor('float32', data.x, [data.rows, width]) });
      const ortScores = out.score!.data as Float32Array;
      const own = new Float64Array(data.rows);
      for (let i = 0; i < data.rows; i++) own[i] = predictProbability(trained, data.x.subarray(i * width, (i + 1) * width));
      const { max } = maxAbsDiff(ortScores, own);
      console.log(`trained model (${trained.trees.length} trees): max |ORT − trainer| over ${data.rows} rows = ${max.toExponential(3)}`);
      expect(data.rows).toBe(100_000);
      expect(max).toBeLessThanOrEqual(TOLERANCE);
    } finally {
      await session.release();
    }
  }, 120_000);
});
