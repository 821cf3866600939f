/**
 * onnxruntime-node as the golden reference (docs/architecture.md, numerics): runs a model (bytes or path) on lutc
 * Tensors and returns lutc Tensors, converting dtypes both ways (int64 via BigInt64Array, bool via
 * Uint8Array, float16 via its bit patterns). Plus the comparison the golden tests state tolerances in.
 */
import * as ort from 'onnxruntime-node';
import { ORT_TYPES } from '../../compiler/cli/compare.js';
import { allocData, f16BitsToNumber, numberToF16Bits } from '../../ir/tensor.js';
import type { DType, Tensor } from '../../ir/types.js';

const TO_ORT = { ...ORT_TYPES, f16: 'float16' } as Partial<Record<DType, ort.Tensor.Type>>;
const FROM_ORT: Record<string, DType> = Object.fromEntries(Object.entries(TO_ORT).map(([k, v]) => [v, k as DType]));

/** A lutc Tensor as an onnxruntime Tensor. */
export function toOrt(t: Tensor): ort.Tensor {
  const type = TO_ORT[t.dtype];
  if (!type) throw new Error(`onnxruntime helper: dtype ${t.dtype} not supported`);
  const d = t.data;
  let data: ort.Tensor.DataType;
  switch (t.dtype) {
    case 'i64':
      data = BigInt64Array.from(d, (x) => BigInt(x));
      break;
    case 'u64':
      data = BigUint64Array.from(d, (x) => BigInt(x));
      break;
    case 'f16':
      data = Uint16Array.from(d, (x) => numberToF16Bits(x));
      break;
    case 'bool':
      data = Uint8Array.from(d, (x) => (x ? 1 : 0));
      break;
    default:
      data = d.slice() as ort.Tensor.DataType;
  }
  return new ort.Tensor(type, data as never, t.shape);
}

/** An onnxruntime Tensor as a lutc Tensor. */
export function fromOrt(t: ort.Tensor): Tensor {
  const dtype = FROM_ORT[t.type];
  if (!dtype) throw new Error(`onnxruntime helper: ort type ${t.type} not supported`);
  const shape = t.dims.map(Number);
  const src = t.data as ArrayLike<number | bigint>;
  const out = allocData(dtype, src.length);
  for (let i = 0; i < src.length; i++) {
    const x = src[i]!;
    (out as Float64Array)[i] =
      dtype === 'f16' ? f16BitsToNumber(Number(x)) : typeof x === 'bigint' ? Number(x) : dtype === 'bool' ? (x ? 1 : 0) : x;
  }
  return { dtype, shape, data: out };
}

/** Runs `model` (ModelProto bytes or a file path) in onnxruntime-node; returns outputs in graph order. */
export async function runOrt(model: Uint8Array | string, inputs: Record<string, Tensor>): Promise<Tensor[]> {
  // Single-threaded: the test machine's cores are shared, and results must not depend on threading.
  const opts: ort.InferenceSession.SessionOptions = { intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'disabled' };
  const session =
    typeof model === 'string' ? await ort.InferenceSession.create(model, opts) : await ort.InferenceSession.create(model, opts);
  try {
    const feeds: Record<string, ort.Tensor> = {};
    for (const [k, v] of Object.entries(inputs)) feeds[k] = toOrt(v);
    const res = await session.run(feeds);
    return session.outputNames.map((n) => fromOrt(res[n]!));
  } finally {
    await session.release();
  }
}

/** max|a - b| and max|b| over two same-shaped tensors (throws on shape mismatch, so a test fails loudly). */
export function maxAbsDiff(a: Tensor, b: Tensor): { diff: number; scale: number } {
  if (a.shape.join(',') !== b.shape.join(',')) throw new Error(`shape mismatch: [${a.shape}] vs [${b.shape}]`);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.data.length; i++) {
    const x = a.data[i]!;
    const y = b.data[i]!;
    // NaN anywhere is a mismatch unless both are NaN.
    if (Number.isNaN(x) !== Number.isNaN(y)) return { diff: Infinity, scale };
    if (!Number.isNaN(x)) diff = Math.max(diff, Math.abs(x - y));
    if (Number.isFinite(y)) scale = Math.max(scale, Math.abs(y));
  }
  return { diff, scale };
}
