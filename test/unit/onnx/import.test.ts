import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../../lib/core/errors';
import { exportOnnx } from '../../../lib/core/onnx/export';
import { META } from '../../../lib/core/onnx/format';
import { ensembleFromOnnx, tryEnsembleFromOnnx } from '../../../lib/core/onnx/import';
import { decodeModel, encodeModel, floatsAttr, stringAttr, stringsAttr } from '../../../lib/core/onnx/proto';
import type { AttributeProto, ModelProto } from '../../../lib/core/onnx/proto';
import { randomEnsemble, twoTreeEnsemble } from '../../support/random-ensemble';

const features = ['amount', 'velocity', 'unused'];
const exported = (): Uint8Array => exportOnnx(twoTreeEnsemble(), { features });

function refusal(bytes: Uint8Array): ValidationError {
  try {
    ensembleFromOnnx(bytes);
  } catch (e) {
    if (e instanceof ValidationError) return e;
    throw e;
  }
  throw new Error('expected the import to refuse');
}

function tamper(fn: (m: ModelProto) => void): Uint8Array {
  const m = decodeModel(exported());
  fn(m);
  return encodeModel(m);
}

function setAttr(m: ModelProto, attr: AttributeProto): void {
  const node = m.graph!.node![0]!;
  node.attribute = [...node.attribute!.filter((a) => a.name !== attr.name), attr];
}

describe('ensembleFromOnnx', () => {
  it('round-trips a random 300-tree ensemble exactly (float32 thresholds and leaves, float64 internals)', () => {
    const model = randomEnsemble(11, { trees: 300, maxDepth: 8, featureCount: 16 });
    const names = Array.from({ length: 16 }, (_, i) => `f${i}`);
    const back = ensembleFromOnnx(exportOnnx(model, { features: names, inputName: 'x', outputName: 'p', marginOutputName: 'm', metadata: { run: '42' } }));
    expect(back.model).toEqual(model);
    expect(back.features).toEqual(names);
    expect([back.inputName, back.outputName, back.marginOutputName]).toEqual(['x', 'p', 'm']);
    expect(back.metadata).toEqual({ run: '42' });
  });

  it('gives leaves back in canonical form, the only fields ONNX keeps', () => {
    const m = twoTreeEnsemble();
    const odd = { ...m, trees: [{ ...m.trees[0]!, left: [1, 0, 0], right: [2, 0, 0], threshold: [1, 5, 5], missingLeft: [1, 1, 1] as (0 | 1)[] }, m.trees[1]!] };
    expect(ensembleFromOnnx(exportOnnx(odd, { features })).model).toEqual(m);
  });

  it('refuses bytes that are not ONNX', () => {
    expect(refusal(new Uint8Array([0xff, 0xff, 0xff, 0xff])).field).toBe('onnx');
    expect(refusal(new Uint8Array(0)).field).toBe('onnx');
  });

  it('refuses an ONNX model another exporter wrote, and tryEnsembleFromOnnx says it cannot explain it', () => {
    const foreign = tamper((m) => {
      m.metadataProps = m.metadataProps!.filter((p) => p.key !== META.format);
    });
    expect(refusal(foreign).field).toBe(`onnx.metadata.${META.format}`);
    expect(tryEnsembleFromOnnx(foreign)).toBeUndefined();
  });

  const tampered: [string, (m: ModelProto) => void, string][] = [
    ['another format version', (m) => (m.metadataProps!.find((p) => p.key === META.format)!.value = 'fathom.tree-ensemble/v9'), `onnx.metadata.${META.format}`],
    ['a BRANCH_LEQ node', (m) => setAttr(m, stringsAttr('nodes_modes', ['BRANCH_LEQ', 'LEAF', 'LEAF', 'BRANCH_LT', 'LEAF', 'BRANCH_LT', 'LEAF', 'LEAF'])), 'onnx.graph.node[0].attribute.nodes_modes'],
    ['a post transform', (m) => setAttr(m, stringAttr('post_transform', 'LOGISTIC')), 'onnx.graph.node[0].attribute.post_transform'],
    ['an attribute the exporter never writes', (m) => setAttr(m, floatsAttr('nodes_hitrates', [1, 1, 1, 1, 1, 1, 1, 1])), 'onnx.graph.node[0].attribute.nodes_hitrates'],
    ['a third node', (m) => m.graph!.node!.push({ opType: 'Identity', input: ['score'], output: ['score2'] }), 'onnx.graph.node'],
    ['a leaf weight that disagrees with the metadata', (m) => setAttr(m, floatsAttr('target_weights', [-0.25, 0.5, -0.5, 0.25, 0.5])), `onnx.metadata.${META.nodeValues}`],
    ['feature names of the wrong count', (m) => (m.metadataProps!.find((p) => p.key === META.features)!.value = '["a"]'), `onnx.metadata.${META.features}`],
    ['truncated node values', (m) => (m.metadataProps!.find((p) => p.key === META.nodeValues)!.value = 'AAAA'), `onnx.metadata.${META.nodeValues}`],
    ['a cycle in a tree', (m) => setAttr(m, { ...m.graph!.node![0]!.attribute!.find((a) => a.name === 'nodes_truenodeids')!, ints: [0, 0, 0, 1, 0, 3, 0, 0] }), 'onnx.model.trees[0].left[0]'],
  ];
  it.each(tampered)('refuses %s, naming the field', (_label, fn, field) => {
    const e = refusal(tamper(fn));
    expect(e.message).toMatch(/^onnx: not a model Fathom's exporter wrote: /);
    expect(e.field).toBe(field);
  });
});
