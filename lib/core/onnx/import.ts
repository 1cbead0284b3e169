// ONNX bytes → TreeEnsemble, for files `exportOnnx` wrote and nothing else: the reason-code
// method and the runtime's checks rely on the exact graph format.ts describes, so anything else
// (another exporter's trees, a hand-edited graph, another comparison mode) is refused with the
// reason, rather than read approximately.
//
// Leaves come back in one canonical form: feature −1, threshold 0, left and right −1,
// missingLeft 0 (fields the semantics never read, which ONNX does not keep).
import { ValidationError } from '../errors';
import type { Tree, TreeEnsemble } from '../models/tree-ensemble';
import { decodeFloat64, FORMAT_ID, INTERNAL_MARGIN, META, ML_DOMAIN, RESERVED_PREFIX, SIGMOID_OP, TREE_OP } from './format';
import { decodeModel, FLOAT_TENSOR, readAttr, toInt } from './proto';
import type { AttrValue, ModelProto, NodeProto, ValueInfoProto } from './proto';
import { validateEnsemble } from './validate';

export interface ImportedEnsemble {
  readonly model: TreeEnsemble;
  /** Column names of the input, in order. */
  readonly features: string[];
  readonly inputName: string;
  /** The probability output. */
  readonly outputName: string;
  /** The margin output, when the export exposed it. */
  readonly marginOutputName: string | undefined;
  /** The caller's metadata given at export (the exporter's own `fathom.*` keys removed). */
  readonly metadata: Record<string, string>;
}

const refuse = (what: string, field = 'onnx'): never => {
  throw new ValidationError(`onnx: not a model Fathom's exporter wrote: ${what}`, field);
};

export function ensembleFromOnnx(bytes: Uint8Array): ImportedEnsemble {
  const result = tryEnsembleFromOnnx(bytes);
  if (result === undefined) return refuse(`no ${META.format} metadata`, `onnx.metadata.${META.format}`);
  return result;
}

/**
 * undefined when the bytes are an ONNX model without Fathom's format marker (another producer's
 * model, which a runtime may still score but cannot explain); throws when they are not ONNX, or
 * carry the marker but do not match the format.
 */
export function tryEnsembleFromOnnx(bytes: Uint8Array): ImportedEnsemble | undefined {
  let proto: ModelProto;
  try {
    proto = decodeModel(bytes);
  } catch (e) {
    throw new ValidationError(`onnx: not an ONNX model (${e instanceof Error ? e.message : String(e)})`, 'onnx');
  }
  const meta = new Map<string, string>();
  for (const p of proto.metadataProps ?? []) meta.set(p.key ?? '', p.value ?? '');
  const format = meta.get(META.format);
  if (format === undefined) {
    if (!proto.graph) throw new ValidationError('onnx: not an ONNX model (no graph)', 'onnx');
    return undefined;
  }
  if (format !== FORMAT_ID) return refuse(`format ${format}, expected ${FORMAT_ID}`, `onnx.metadata.${META.format}`);
  return readGraph(proto, meta);
}

function readGraph(proto: ModelProto, meta: Map<string, string>): ImportedEnsemble {
  const ml = (proto.opsetImport ?? []).find((o) => o.domain === ML_DOMAIN);
  if (!ml) refuse(`no ${ML_DOMAIN} opset import`, 'onnx.opset_import');
  const graph = proto.graph ?? refuse('no graph', 'onnx.graph');
  if ((graph.initializer?.length ?? 0) > 0 || (graph.sparseInitializer?.length ?? 0) > 0) refuse('the graph has initializers', 'onnx.graph.initializer');
  const nodes = graph.node ?? [];
  if (nodes.length !== 2) refuse(`the graph has ${nodes.length} nodes, expected ${TREE_OP} then ${SIGMOID_OP}`, 'onnx.graph.node');
  const [trees, sigmoid] = nodes as [NodeProto, NodeProto];
  if (trees.opType !== TREE_OP || trees.domain !== ML_DOMAIN) refuse(`node 0 is ${trees.domain || 'ai.onnx'}.${trees.opType}, expected ${ML_DOMAIN}.${TREE_OP}`, 'onnx.graph.node[0]');
  if (sigmoid.opType !== SIGMOID_OP || (sigmoid.domain ?? '') !== '') refuse(`node 1 is ${sigmoid.opType}, expected ${SIGMOID_OP}`, 'onnx.graph.node[1]');

  const inputs = graph.input ?? [];
  if (inputs.length !== 1) refuse(`the graph has ${inputs.length} inputs, expected 1`, 'onnx.graph.input');
  const input = inputs[0]!;
  const featureCount = inputWidth(input);
  const inputName = input.name ?? '';
  const margin = single(trees.output, 'onnx.graph.node[0].output');
  if (single(trees.input, 'onnx.graph.node[0].input') !== inputName) refuse(`${TREE_OP} does not read the graph input`, 'onnx.graph.node[0].input');
  if (single(sigmoid.input, 'onnx.graph.node[1].input') !== margin) refuse(`${SIGMOID_OP} does not read the ${TREE_OP} output`, 'onnx.graph.node[1].input');
  const outputName = single(sigmoid.output, 'onnx.graph.node[1].output');

  const outputs = (graph.output ?? []).map((o) => o.name ?? '');
  if (!outputs.includes(outputName)) refuse(`the ${SIGMOID_OP} output ${outputName} is not a graph output`, 'onnx.graph.output');
  const extra = outputs.filter((o) => o !== outputName);
  if (extra.length > 1 || (extra.length === 1 && extra[0] !== margin)) refuse(`unexpected graph outputs ${extra.join(', ')}`, 'onnx.graph.output');
  if (margin === INTERNAL_MARGIN && extra.length > 0) refuse('the internal margin is a graph output', 'onnx.graph.output');
  const marginOutputName = extra.length === 1 ? margin : undefined;

  const attrs = readTreeAttributes(trees);
  const features = readFeatures(meta.get(META.features), featureCount);
  const model = buildEnsemble(attrs, featureCount, meta);
  const metadata: Record<string, string> = {};
  for (const [k, v] of meta) if (!k.startsWith(RESERVED_PREFIX)) metadata[k] = v;
  return { model, features, inputName, outputName, marginOutputName, metadata };
}

function single(list: readonly string[] | null | undefined, field: string): string {
  if (list?.length !== 1 || !list[0]) return refuse(`${field} must name exactly one tensor`, field);
  return list[0];
}

function inputWidth(input: ValueInfoProto): number {
  const tensor = input.type?.tensorType;
  if (!tensor || tensor.elemType !== FLOAT_TENSOR) return refuse('the input is not a float32 tensor', 'onnx.graph.input');
  const dims = tensor.shape?.dim ?? [];
  const width = dims[1]?.dimValue;
  if (dims.length !== 2 || width === undefined || width === null || toInt(width) < 1) return refuse('the input is not [N, featureCount] with a fixed featureCount', 'onnx.graph.input');
  return toInt(width);
}

/** Exactly the attributes the exporter writes; another one (hitrates, *_as_tensor) would change meaning. */
const ATTRS = {
  aggregate_function: 'string',
  base_values: 'floats',
  n_targets: 'int',
  nodes_falsenodeids: 'ints',
  nodes_featureids: 'ints',
  nodes_missing_value_tracks_true: 'ints',
  nodes_modes: 'strings',
  nodes_nodeids: 'ints',
  nodes_treeids: 'ints',
  nodes_truenodeids: 'ints',
  nodes_values: 'floats',
  post_transform: 'string',
  target_ids: 'ints',
  target_nodeids: 'ints',
  target_treeids: 'ints',
  target_weights: 'floats',
} as const satisfies Record<string, AttrValue['kind']>;
type AttrName = keyof typeof ATTRS;
type ValueOf<K extends AttrValue['kind']> = Extract<AttrValue, { kind: K }>['value'];
type TreeAttributes = { [K in AttrName]: ValueOf<(typeof ATTRS)[K]> };

function readTreeAttributes(node: NodeProto): TreeAttributes {
  const found = new Map<string, AttrValue>();
  for (const a of node.attribute ?? []) {
    const name = a.name ?? '';
    const field = `onnx.graph.node[0].attribute.${name}`;
    if (!Object.hasOwn(ATTRS, name)) refuse(`unexpected ${TREE_OP} attribute ${name}`, field);
    const v = readAttr(a);
    if (v?.kind !== ATTRS[name as AttrName]) refuse(`attribute ${name} is not of type ${ATTRS[name as AttrName]}`, field);
    found.set(name, v!);
  }
  const out: Partial<Record<AttrName, unknown>> = {};
  for (const name of Object.keys(ATTRS) as AttrName[]) {
    const v = found.get(name) ?? refuse(`missing ${TREE_OP} attribute ${name}`, `onnx.graph.node[0].attribute.${name}`);
    out[name] = v.value;
  }
  const attrs = out as TreeAttributes;
  const fixed: [AttrName, unknown, unknown][] = [
    ['aggregate_function', attrs.aggregate_function, 'SUM'],
    ['post_transform', attrs.post_transform, 'NONE'],
    ['n_targets', attrs.n_targets, 1],
    ['base_values', attrs.base_values.length, 1],
  ];
  for (const [name, got, want] of fixed) if (got !== want) refuse(`${name} is ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`, `onnx.graph.node[0].attribute.${name}`);
  return attrs;
}

function readFeatures(text: string | undefined, featureCount: number): string[] {
  const field = `onnx.metadata.${META.features}`;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text ?? refuse(`no ${META.features} metadata`, field));
  } catch (e) {
    if (e instanceof ValidationError) throw e;
    return refuse(`${META.features} is not JSON`, field);
  }
  if (!Array.isArray(parsed) || parsed.length !== featureCount || !parsed.every((f) => typeof f === 'string' && f.length > 0)) {
    return refuse(`${META.features} must list ${featureCount} non-empty names`, field);
  }
  return parsed as string[];
}

function buildEnsemble(a: TreeAttributes, featureCount: number, meta: Map<string, string>): TreeEnsemble {
  const count = a.nodes_nodeids.length;
  const nodeLists = ['nodes_falsenodeids', 'nodes_featureids', 'nodes_missing_value_tracks_true', 'nodes_modes', 'nodes_treeids', 'nodes_truenodeids', 'nodes_values'] as const;
  for (const name of nodeLists) if (a[name].length !== count) refuse(`${name} has ${a[name].length} entries, nodes_nodeids ${count}`, `onnx.graph.node[0].attribute.${name}`);
  const targetCount = a.target_ids.length;
  for (const name of ['target_nodeids', 'target_treeids', 'target_weights'] as const) {
    if (a[name].length !== targetCount) refuse(`${name} has ${a[name].length} entries, target_ids ${targetCount}`, `onnx.graph.node[0].attribute.${name}`);
  }
  const values = decodeFloat64(meta.get(META.nodeValues) ?? '', count) ?? refuse(`${META.nodeValues} is not ${count} base64 float64 values`, `onnx.metadata.${META.nodeValues}`);
  const covers = decodeFloat64(meta.get(META.nodeCovers) ?? '', count) ?? refuse(`${META.nodeCovers} is not ${count} base64 float64 values`, `onnx.metadata.${META.nodeCovers}`);

  // Node i of the attribute lists is node (tree, id); the exporter writes trees 0.. in order and
  // each tree's ids 0.. in order, so the position of a node is its tree's start plus its id.
  const starts: number[] = [];
  for (let i = 0; i < count; i++) {
    const t = a.nodes_treeids[i]!;
    const id = a.nodes_nodeids[i]!;
    if (id === 0 && t === starts.length) starts.push(i);
    else if (t !== starts.length - 1 || id !== i - starts[t]!) refuse(`node ${i} is (tree ${t}, id ${id}): trees and node ids must run 0, 1, … in order`, 'onnx.graph.node[0].attribute.nodes_nodeids');
  }
  if (starts.length === 0) refuse('no trees', 'onnx.graph.node[0].attribute.nodes_treeids');

  const leafWeight = new Map<number, number>();
  for (let j = 0; j < targetCount; j++) {
    const field = 'onnx.graph.node[0].attribute.target_nodeids';
    const t = a.target_treeids[j]!;
    const start = starts[t];
    if (a.target_ids[j] !== 0) refuse(`target ${j} is for target ${a.target_ids[j]}, expected 0`, 'onnx.graph.node[0].attribute.target_ids');
    if (start === undefined) refuse(`target ${j} is for tree ${t}, which does not exist`, 'onnx.graph.node[0].attribute.target_treeids');
    const end = starts[t + 1] ?? count;
    const pos = start! + a.target_nodeids[j]!;
    if (pos < start! || pos >= end || a.nodes_modes[pos] !== 'LEAF') refuse(`target ${j} is not on a leaf`, field);
    if (leafWeight.has(pos)) refuse(`leaf (tree ${t}, id ${a.target_nodeids[j]}) has more than one weight`, field);
    leafWeight.set(pos, a.target_weights[j]!);
  }

  const trees: Tree[] = starts.map((start, t) => {
    const end = starts[t + 1] ?? count;
    const tree = { feature: [] as number[], threshold: [] as number[], left: [] as number[], right: [] as number[], missingLeft: [] as (0 | 1)[], value: [] as number[], cover: [] as number[] };
    for (let i = start; i < end; i++) {
      const mode = a.nodes_modes[i];
      const leaf = mode === 'LEAF';
      if (!leaf && mode !== 'BRANCH_LT') refuse(`node mode ${mode}, expected BRANCH_LT or LEAF`, 'onnx.graph.node[0].attribute.nodes_modes');
      const missing = a.nodes_missing_value_tracks_true[i];
      if (missing !== 0 && missing !== 1) refuse(`nodes_missing_value_tracks_true is ${missing}, expected 0 or 1`, 'onnx.graph.node[0].attribute.nodes_missing_value_tracks_true');
      const value = values[i]!;
      if (leaf) {
        const w = leafWeight.get(i);
        if (w === undefined) refuse(`leaf (tree ${t}, id ${i - start}) has no weight`, 'onnx.graph.node[0].attribute.target_nodeids');
        if (!Object.is(w, value)) refuse(`${META.nodeValues} disagrees with target_weights at (tree ${t}, id ${i - start})`, `onnx.metadata.${META.nodeValues}`);
      }
      tree.feature.push(leaf ? -1 : a.nodes_featureids[i]!);
      tree.threshold.push(leaf ? 0 : a.nodes_values[i]!);
      tree.left.push(leaf ? -1 : a.nodes_truenodeids[i]!);
      tree.right.push(leaf ? -1 : a.nodes_falsenodeids[i]!);
      tree.missingLeft.push(leaf ? 0 : (missing as 0 | 1));
      tree.value.push(value);
      tree.cover.push(covers[i]!);
    }
    return tree;
  });
  const model: TreeEnsemble = { featureCount, baseMargin: a.base_values[0]!, trees };
  try {
    validateEnsemble(model);
  } catch (e) {
    if (e instanceof ValidationError) refuse(`the trees are not valid: ${e.message}`, `onnx.${e.field}`);
    throw e;
  }
  return model;
}
