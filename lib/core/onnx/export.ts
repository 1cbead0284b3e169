// TreeEnsemble → ONNX bytes that onnxruntime scores exactly as `predictProbability` does (see
// format.ts for the file's shape and metadata keys). Pure: bytes in memory, no I/O.
import { ValidationError } from '../errors';
import type { TreeEnsemble } from '../models/tree-ensemble';
import {
  BATCH_DIM,
  DEFAULT_INPUT,
  DEFAULT_OPSET,
  DEFAULT_OUTPUT,
  encodeFloat64,
  FORMAT_ID,
  INTERNAL_MARGIN,
  IR_VERSION,
  META,
  ML_DOMAIN,
  ML_OPSET,
  RESERVED_PREFIX,
  SIGMOID_OP,
  TREE_OP,
} from './format';
import { encodeModel, floatsAttr, floatTensorInfo, intAttr, intsAttr, stringAttr, stringsAttr } from './proto';
import type { AttributeProto } from './proto';
import { validateEnsemble } from './validate';

export interface ExportOptions {
  /** Column names of the input, in order; one per model feature. */
  readonly features: readonly string[];
  /** Input tensor name; default `features`. */
  readonly inputName?: string;
  /** Probability output name; default `score`. */
  readonly outputName?: string;
  /** When set, the raw margin (log-odds) is a second output under this name. */
  readonly marginOutputName?: string;
  /** Extra metadata_props (provenance, versions); keys may not start with `fathom.`. */
  readonly metadata?: Readonly<Record<string, string>>;
}

export function exportOnnx(model: TreeEnsemble, options: ExportOptions): Uint8Array {
  validateEnsemble(model);
  const names = checkOptions(model, options);

  const nodes = {
    treeids: [] as number[],
    nodeids: [] as number[],
    featureids: [] as number[],
    modes: [] as string[],
    values: [] as number[],
    truenodeids: [] as number[],
    falsenodeids: [] as number[],
    missing: [] as number[],
  };
  const targets = { treeids: [] as number[], nodeids: [] as number[], ids: [] as number[], weights: [] as number[] };
  const allValues: number[] = [];
  const allCovers: number[] = [];
  model.trees.forEach((tree, t) => {
    for (let n = 0; n < tree.feature.length; n++) {
      const leaf = tree.feature[n] === -1;
      nodes.treeids.push(t);
      nodes.nodeids.push(n);
      nodes.featureids.push(leaf ? 0 : tree.feature[n]!);
      nodes.modes.push(leaf ? 'LEAF' : 'BRANCH_LT');
      nodes.values.push(leaf ? 0 : tree.threshold[n]!);
      nodes.truenodeids.push(leaf ? 0 : tree.left[n]!);
      nodes.falsenodeids.push(leaf ? 0 : tree.right[n]!);
      nodes.missing.push(leaf ? 0 : tree.missingLeft[n]!);
      if (leaf) {
        targets.treeids.push(t);
        targets.nodeids.push(n);
        targets.ids.push(0);
        targets.weights.push(tree.value[n]!);
      }
      allValues.push(tree.value[n]!);
      allCovers.push(tree.cover[n]!);
    }
  });

  const attributes: AttributeProto[] = [
    stringAttr('aggregate_function', 'SUM'),
    floatsAttr('base_values', [model.baseMargin]),
    intAttr('n_targets', 1),
    intsAttr('nodes_falsenodeids', nodes.falsenodeids),
    intsAttr('nodes_featureids', nodes.featureids),
    intsAttr('nodes_missing_value_tracks_true', nodes.missing),
    stringsAttr('nodes_modes', nodes.modes),
    intsAttr('nodes_nodeids', nodes.nodeids),
    intsAttr('nodes_treeids', nodes.treeids),
    intsAttr('nodes_truenodeids', nodes.truenodeids),
    floatsAttr('nodes_values', nodes.values),
    stringAttr('post_transform', 'NONE'),
    intsAttr('target_ids', targets.ids),
    intsAttr('target_nodeids', targets.nodeids),
    intsAttr('target_treeids', targets.treeids),
    floatsAttr('target_weights', targets.weights),
  ];

  const margin = names.marginOutputName ?? INTERNAL_MARGIN;
  const outputs = [floatTensorInfo(names.outputName, [BATCH_DIM, 1])];
  if (names.marginOutputName !== undefined) outputs.push(floatTensorInfo(names.marginOutputName, [BATCH_DIM, 1]));

  const fathomMeta: Record<string, string> = {
    [META.format]: FORMAT_ID,
    [META.features]: JSON.stringify(options.features),
    [META.nodeValues]: encodeFloat64(allValues),
    [META.nodeCovers]: encodeFloat64(allCovers),
  };
  const metadata = { ...options.metadata, ...fathomMeta };
  return encodeModel({
    irVersion: IR_VERSION,
    producerName: 'fathom',
    producerVersion: FORMAT_ID,
    opsetImport: [
      { domain: '', version: DEFAULT_OPSET },
      { domain: ML_DOMAIN, version: ML_OPSET },
    ],
    docString: 'Gradient-boosted tree ensemble: P(positive) = sigmoid(margin).',
    graph: {
      name: 'fathom_tree_ensemble',
      input: [floatTensorInfo(names.inputName, [BATCH_DIM, model.featureCount])],
      output: outputs,
      node: [
        { name: 'trees', opType: TREE_OP, domain: ML_DOMAIN, input: [names.inputName], output: [margin], attribute: attributes },
        { name: 'sigmoid', opType: SIGMOID_OP, domain: '', input: [margin], output: [names.outputName] },
      ],
    },
    // Sorted so that the same model and options always give the same bytes (and sha256).
    metadataProps: Object.keys(metadata)
      .sort()
      .map((key) => ({ key, value: metadata[key]! })),
  });
}

interface TensorNames {
  readonly inputName: string;
  readonly outputName: string;
  readonly marginOutputName: string | undefined;
}

function checkOptions(model: TreeEnsemble, options: ExportOptions): TensorNames {
  const { features } = options;
  if (!Array.isArray(features) || features.length !== model.featureCount) {
    throw new ValidationError(`features: the model reads ${model.featureCount} columns, ${Array.isArray(features) ? features.length : 'no'} names given`, 'features');
  }
  features.forEach((f, i) => {
    if (typeof f !== 'string' || f.length === 0) throw new ValidationError(`features[${i}]: must be a non-empty string`, `features[${i}]`);
  });
  if (new Set(features).size !== features.length) throw new ValidationError('features: names must be unique', 'features');

  const names: TensorNames = {
    inputName: options.inputName ?? DEFAULT_INPUT,
    outputName: options.outputName ?? DEFAULT_OUTPUT,
    marginOutputName: options.marginOutputName,
  };
  const given = (['inputName', 'outputName', 'marginOutputName'] as const).filter((k) => names[k] !== undefined);
  for (const key of given) {
    const v = names[key]!;
    if (typeof v !== 'string' || v.trim().length === 0) throw new ValidationError(`${key}: must be a non-empty string`, key);
    if (v === INTERNAL_MARGIN) throw new ValidationError(`${key}: ${INTERNAL_MARGIN} is reserved for the internal margin tensor`, key);
  }
  const used = new Map<string, string>();
  for (const key of given) {
    const v = names[key]!;
    const other = used.get(v);
    if (other !== undefined) throw new ValidationError(`${key}: "${v}" is already the ${other}`, key);
    used.set(v, key);
  }
  for (const [key, value] of Object.entries(options.metadata ?? {})) {
    if (key.startsWith(RESERVED_PREFIX)) throw new ValidationError(`metadata.${key}: keys starting with ${RESERVED_PREFIX} are written by the exporter`, `metadata.${key}`);
    if (typeof value !== 'string') throw new ValidationError(`metadata.${key}: must be a string`, `metadata.${key}`);
  }
  return names;
}
