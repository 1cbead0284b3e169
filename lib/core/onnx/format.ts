// The shape of the ONNX files the exporter writes, shared by export and import so that the one
// reader accepts exactly what the one writer produces.
//
// Graph: input `features` float32 [N, featureCount] (symbolic N) ─► ai.onnx.ml
// TreeEnsembleRegressor (1 target, BRANCH_LT, SUM, base_values = [baseMargin], post_transform
// NONE) ─► margin [N, 1] ─► Sigmoid ─► `score` [N, 1] = P(positive). The margin is also a graph
// output when the caller names it.
//
// metadata_props, for what ONNX attributes cannot hold (the reason-code method needs it):
//   fathom.format       FORMAT_ID; a file without it is not ours and is refused.
//   fathom.features     JSON array of the input's column names, in order.
//   fathom.node_values  base64 of little-endian float64, one per node of every tree in (tree,
//                       node id) order: `Tree.value`. Internal nodes' values are cover-weighted
//                       means, not float32, hence float64; leaves repeat target_weights, which
//                       the importer checks.
//   fathom.node_covers  same layout: `Tree.cover`.
// Binary rather than JSON: a few hundred depth-8 trees carry ~10^5 nodes, and base64 float64
// is half the size of shortest-round-trip decimal and exact by construction.

export const FORMAT_ID = 'fathom.tree-ensemble/v1';

export const META = {
  format: 'fathom.format',
  features: 'fathom.features',
  nodeValues: 'fathom.node_values',
  nodeCovers: 'fathom.node_covers',
} as const;

/** Keys under this prefix belong to the exporter; callers' metadata may not use it. */
export const RESERVED_PREFIX = 'fathom.';

export const ML_DOMAIN = 'ai.onnx.ml';
export const ML_OPSET = 3;
export const DEFAULT_OPSET = 17;
export const IR_VERSION = 8;
export const TREE_OP = 'TreeEnsembleRegressor';
export const SIGMOID_OP = 'Sigmoid';
export const BATCH_DIM = 'N';
/** The margin's tensor name when the caller does not expose it as an output. */
export const INTERNAL_MARGIN = 'fathom_margin';

export const DEFAULT_INPUT = 'features';
export const DEFAULT_OUTPUT = 'score';

export function encodeFloat64(values: ArrayLike<number>): string {
  const bytes = new Uint8Array(values.length * 8);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat64(i * 8, values[i]!, true);
  return Buffer.from(bytes).toString('base64');
}

/** undefined when the text is not base64 of exactly `count` float64 values. */
export function decodeFloat64(text: string, count: number): Float64Array | undefined {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64');
  if (bytes.length !== count * 8) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float64Array(count);
  for (let i = 0; i < count; i++) out[i] = view.getFloat64(i * 8, true);
  return out;
}
