import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../../lib/core/errors';
import type { Tree, TreeEnsemble } from '../../../lib/core/models/tree-ensemble';
import { exportOnnx } from '../../../lib/core/onnx/export';
import type { ExportOptions } from '../../../lib/core/onnx/export';
import { FORMAT_ID, META } from '../../../lib/core/onnx/format';
import { decodeModel, readAttr, toInt } from '../../../lib/core/onnx/proto';
import { twoTreeEnsemble } from '../../support/random-ensemble';

const features = ['amount', 'velocity', 'unused'];

function fieldOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof ValidationError) return e.field;
    throw e;
  }
  throw new Error('expected a ValidationError');
}

/** The two-tree ensemble with tree 0 replaced field by field. */
function withTree0(patch: Partial<Record<keyof Tree, unknown[]>>): TreeEnsemble {
  const m = twoTreeEnsemble();
  return { ...m, trees: [{ ...m.trees[0]!, ...patch } as Tree, m.trees[1]!] };
}

describe('exportOnnx', () => {
  it('writes TreeEnsembleRegressor → Sigmoid with a symbolic batch, the names and the fathom metadata', () => {
    const bytes = exportOnnx(twoTreeEnsemble(), { features, marginOutputName: 'margin', metadata: { trained_by: 'test' } });
    const proto = decodeModel(bytes);
    expect(toInt(proto.irVersion)).toBe(8);
    expect(proto.opsetImport?.map((o) => [o.domain, toInt(o.version)])).toEqual([
      ['', 17],
      ['ai.onnx.ml', 3],
    ]);
    const g = proto.graph!;
    expect(g.node?.map((n) => `${n.domain}:${n.opType}`)).toEqual(['ai.onnx.ml:TreeEnsembleRegressor', ':Sigmoid']);
    const input = g.input![0]!;
    expect(input.name).toBe('features');
    expect(input.type?.tensorType?.shape?.dim?.map((d) => d.dimParam || toInt(d.dimValue))).toEqual(['N', 3]);
    expect(g.output?.map((o) => o.name)).toEqual(['score', 'margin']);
    const attrs = new Map(g.node![0]!.attribute!.map((a) => [a.name, readAttr(a)?.value]));
    expect(attrs.get('nodes_modes')).toEqual(['BRANCH_LT', 'LEAF', 'LEAF', 'BRANCH_LT', 'LEAF', 'BRANCH_LT', 'LEAF', 'LEAF']);
    expect(attrs.get('nodes_missing_value_tracks_true')).toEqual([1, 0, 0, 0, 0, 1, 0, 0]);
    expect(attrs.get('base_values')).toEqual([-1]);
    expect(attrs.get('target_weights')).toEqual([-0.25, 0.5, -0.5, 0.25, 0.75]);
    const meta = Object.fromEntries(proto.metadataProps!.map((p) => [p.key, p.value]));
    expect(meta[META.format]).toBe(FORMAT_ID);
    expect(JSON.parse(meta[META.features]!)).toEqual(features);
    expect(meta.trained_by).toBe('test');
    expect(Object.keys(meta)).toEqual([...Object.keys(meta)].sort());
  });

  it('gives the same bytes for the same model and options', () => {
    expect(exportOnnx(twoTreeEnsemble(), { features })).toEqual(exportOnnx(twoTreeEnsemble(), { features }));
  });

  it('has no margin output unless asked', () => {
    const g = decodeModel(exportOnnx(twoTreeEnsemble(), { features, inputName: 'x', outputName: 'p' })).graph!;
    expect(g.input?.map((i) => i.name)).toEqual(['x']);
    expect(g.output?.map((o) => o.name)).toEqual(['p']);
  });

  const badModels: [string, () => TreeEnsemble, string][] = [
    ['featureCount 0', () => ({ ...twoTreeEnsemble(), featureCount: 0 }), 'model.featureCount'],
    ['a baseMargin that is not float32', () => ({ ...twoTreeEnsemble(), baseMargin: 0.1 }), 'model.baseMargin'],
    ['no trees', () => ({ ...twoTreeEnsemble(), trees: [] }), 'model.trees'],
    ['a feature index out of range', () => withTree0({ feature: [3, -1, -1] }), 'model.trees[0].feature[0]'],
    ['a child index out of range', () => withTree0({ left: [7, -1, -1] }), 'model.trees[0].left[0]'],
    ['a cycle back to the root', () => withTree0({ left: [0, -1, -1] }), 'model.trees[0].left[0]'],
    ['a child shared by both sides', () => withTree0({ right: [1, -1, -1] }), 'model.trees[0].right[0]'],
    ['a node not reachable from the root', () => withTree0({ feature: [0, -1, -1, -1], threshold: [1, 0, 0, 0], left: [1, -1, -1, -1], right: [2, -1, -1, -1], missingLeft: [1, 0, 0, 0], value: [0.125, -0.25, 0.5, 0], cover: [8, 4, 4, 0] }), 'model.trees[0].feature[3]'],
    ['arrays of different lengths', () => withTree0({ cover: [8, 4] }), 'model.trees[0].cover'],
    ['a NaN threshold', () => withTree0({ threshold: [NaN, 0, 0] }), 'model.trees[0].threshold[0]'],
    ['a threshold that is not float32', () => withTree0({ threshold: [0.1, 0, 0] }), 'model.trees[0].threshold[0]'],
    ['a leaf value that is not float32', () => withTree0({ value: [0.125, 0.1, 0.5] }), 'model.trees[0].value[1]'],
    ['a missingLeft that is not 0 or 1', () => withTree0({ missingLeft: [2, 0, 0] }), 'model.trees[0].missingLeft[0]'],
    ['a negative cover', () => withTree0({ cover: [8, -4, 4] }), 'model.trees[0].cover[1]'],
    ['a non-finite internal value', () => withTree0({ value: [Infinity, -0.25, 0.5] }), 'model.trees[0].value[0]'],
  ];
  it.each(badModels)('refuses %s, naming the field', (_label, build, field) => {
    expect(fieldOf(() => exportOnnx(build(), { features }))).toBe(field);
  });

  const badOptions: [string, ExportOptions, string][] = [
    ['too few feature names', { features: ['a', 'b'] }, 'features'],
    ['duplicate feature names', { features: ['a', 'b', 'a'] }, 'features'],
    ['an empty feature name', { features: ['a', '', 'c'] }, 'features[1]'],
    ['an output named like the input', { features, inputName: 'x', outputName: 'x' }, 'outputName'],
    ['a margin output named like the score', { features, marginOutputName: 'score' }, 'marginOutputName'],
    ['metadata under the exporter prefix', { features, metadata: { 'fathom.features': '[]' } }, 'metadata.fathom.features'],
  ];
  it.each(badOptions)('refuses %s, naming the option', (_label, options, field) => {
    expect(fieldOf(() => exportOnnx(twoTreeEnsemble(), options))).toBe(field);
  });
});
