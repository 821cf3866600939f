/**
 * The one place lutc touches the generated ONNX protobuf module (`onnx-proto`, a protobufjs static
 * module of onnx.proto from ONNX 1.10.2). Everything else imports `onnx` from here, so swapping the
 * protobuf package later is a one-file change. Enum values newer than 1.10.2 (INT4 = 22, UINT4 = 21,
 * ...) are plain numbers on the wire and are handled as numbers.
 */

import type { onnx as pb } from 'onnx-proto';
import onnxProto from 'onnx-proto';

/** The generated message classes (`onnx.ModelProto`, `onnx.TensorProto`, ...). */
export const onnx = onnxProto.onnx;
export type ITensorProto = pb.ITensorProto;
export type TensorProto = pb.TensorProto;
export type ModelProto = pb.ModelProto;
export type IModelProto = pb.IModelProto;
export type IGraphProto = pb.IGraphProto;
export type INodeProto = pb.INodeProto;
export type IAttributeProto = pb.IAttributeProto;
export type IValueInfoProto = pb.IValueInfoProto;
export type ITypeProto = pb.ITypeProto;

/** protobufjs decodes int64 fields as `Long` objects (when `long` is installed) or numbers. */
export interface LongLike {
  low: number;
  high: number;
  unsigned?: boolean;
  toNumber?(): number;
}

/** An int64/uint64 field as a JS number (exact to 2^53; larger magnitudes round, as DType i64 storage does). */
export function toNum(v: number | LongLike | null | undefined): number {
  if (v === null || v === undefined) return 0;
  if (typeof v === 'number') return v;
  if (typeof v.toNumber === 'function') return v.toNumber();
  const hi = v.unsigned ? v.high >>> 0 : v.high | 0;
  return hi * 4294967296 + (v.low >>> 0);
}

/** ONNX TensorProto.DataType numbers, including those newer than the bundled onnx.proto. */
export const OnnxDataType = {
  UNDEFINED: 0,
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  UINT16: 4,
  INT16: 5,
  INT32: 6,
  INT64: 7,
  STRING: 8,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  UINT32: 12,
  UINT64: 13,
  COMPLEX64: 14,
  COMPLEX128: 15,
  BFLOAT16: 16,
  FLOAT8E4M3FN: 17,
  FLOAT8E4M3FNUZ: 18,
  FLOAT8E5M2: 19,
  FLOAT8E5M2FNUZ: 20,
  UINT4: 21,
  INT4: 22,
  FLOAT4E2M1: 23,
} as const;

/** AttributeProto.AttributeType numbers. */
export const OnnxAttrType = {
  UNDEFINED: 0,
  FLOAT: 1,
  INT: 2,
  STRING: 3,
  TENSOR: 4,
  GRAPH: 5,
  SPARSE_TENSOR: 11,
  TYPE_PROTO: 13,
  FLOATS: 6,
  INTS: 7,
  STRINGS: 8,
  TENSORS: 9,
  GRAPHS: 10,
  SPARSE_TENSORS: 12,
  TYPE_PROTOS: 14,
} as const;
