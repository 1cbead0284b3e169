// onnx-proto (ONNX 1.10 protobuf classes, CommonJS) behind small typed helpers: protobufjs
// decodes int64 fields as Long objects, and an AttributeProto is only read correctly by
// onnxruntime when its `type` names the field that carries the value.
import onnxProto from 'onnx-proto';
import type { onnx as OnnxTypes } from 'onnx-proto';

export const { onnx } = onnxProto;
export type AttributeProto = OnnxTypes.IAttributeProto;
export type ModelProto = OnnxTypes.IModelProto;
export type NodeProto = OnnxTypes.INodeProto;
export type ValueInfoProto = OnnxTypes.IValueInfoProto;

const AT = onnx.AttributeProto.AttributeType;
export const FLOAT_TENSOR = onnx.TensorProto.DataType.FLOAT;

/** protobufjs gives int64 as number or Long; every int this format carries fits in 2^53. */
export function toInt(v: number | { toNumber(): number } | null | undefined): number {
  if (v === null || v === undefined) return 0;
  return typeof v === 'number' ? v : v.toNumber();
}

export const intAttr = (name: string, i: number): AttributeProto => ({ name, type: AT.INT, i });
export const intsAttr = (name: string, ints: readonly number[]): AttributeProto => ({ name, type: AT.INTS, ints: [...ints] });
export const floatsAttr = (name: string, floats: readonly number[]): AttributeProto => ({ name, type: AT.FLOATS, floats: [...floats] });
export const stringAttr = (name: string, s: string): AttributeProto => ({ name, type: AT.STRING, s: new TextEncoder().encode(s) });
export const stringsAttr = (name: string, strings: readonly string[]): AttributeProto => {
  const enc = new TextEncoder();
  return { name, type: AT.STRINGS, strings: strings.map((s) => enc.encode(s)) };
};

export type AttrValue = { kind: 'int'; value: number } | { kind: 'ints'; value: number[] } | { kind: 'floats'; value: number[] } | { kind: 'string'; value: string } | { kind: 'strings'; value: string[] };

/** The attribute's value by its declared type; undefined for the types this format never writes. */
export function readAttr(a: AttributeProto): AttrValue | undefined {
  const dec = new TextDecoder();
  switch (a.type) {
    case AT.INT:
      return { kind: 'int', value: toInt(a.i) };
    case AT.INTS:
      return { kind: 'ints', value: (a.ints ?? []).map(toInt) };
    case AT.FLOATS:
      return { kind: 'floats', value: [...(a.floats ?? [])] };
    case AT.STRING:
      return { kind: 'string', value: dec.decode(a.s ?? new Uint8Array()) };
    case AT.STRINGS:
      return { kind: 'strings', value: (a.strings ?? []).map((s) => dec.decode(s)) };
    default:
      return undefined;
  }
}

/** A float32 tensor value-info with the given dims (a string is a symbolic dimension). */
export function floatTensorInfo(name: string, dims: readonly (number | string)[]): ValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: FLOAT_TENSOR,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

export function encodeModel(model: ModelProto): Uint8Array {
  return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
}

export function decodeModel(bytes: Uint8Array): ModelProto {
  return onnx.ModelProto.decode(bytes);
}
