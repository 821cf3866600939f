/**
 * Op definitions of the LLM attention family. rotary_embedding is onnxruntime's com.microsoft
 * RotaryEmbedding (the older onnxruntime-genai WebGPU exports apply it to q and k):
 *
 *   input      [B, S, N*H] (heads interleaved in the hidden dim) or [B, N, S, H]
 *   position_ids  [B, S] int64, or one element p0 (positions p0 + s)
 *   cos_cache, sin_cache  [max_pos, R/2] with R = rotary_embedding_dim (0: the head size)
 *   out[.., i] = x[i] cos[p, c] + sign x[j] sin[p, c] for i < R, x[i] beyond R (passed through):
 *     half-split (interleaved 0): c = i mod R/2, j = (i + R/2) mod R, sign -1 for i < R/2;
 *     interleaved: c = i div 2, j = i xor 1, sign -1 for even i.
 *
 * The interpreter computes in double and rounds once per element; ORT computes x·cos + sign·x·sin in
 * float (two roundings), so the two agree to a few float ulps. A position outside the cache is LUT3051.
 */
import { defineOp } from '../optable.js';
import { allocData } from '../tensor.js';
import type { Tensor } from '../types.js';
import { FLOAT_TYPES, operandType, sameDtype, storer } from './numeric.js';

/** Layout facts of one RotaryEmbedding node, from its input shape, cache shape and attributes. */
export interface RotaryGeometry {
  batch: number;
  seq: number;
  heads: number;
  headSize: number;
  /** Rotated dims per head (R). */
  rotary: number;
  /** [B, N, S, H] input (else [B, S, N*H]). */
  transposed: boolean;
}

/** The geometry, or a message saying why the shapes do not fit (the shape rule's and interpreter's check). */
export function rotaryGeometry(
  inShape: readonly (number | string)[],
  cacheShape: readonly (number | string)[],
  numHeads: number,
  rotaryDim: number,
): RotaryGeometry | string {
  if (inShape.length !== 3 && inShape.length !== 4) return `input must have rank 3 or 4, got [${inShape}]`;
  if (cacheShape.length !== 2) return `cos_cache and sin_cache must have rank 2, got [${cacheShape}]`;
  if (rotaryDim > 0 && numHeads <= 0) return 'num_heads must be given with rotary_embedding_dim';
  const transposed = inShape.length === 4;
  const half = cacheShape[1];
  if (typeof half !== 'number') return 'the cache width must be static';
  const [b, s] = [inShape[0], transposed ? inShape[2] : inShape[1]];
  const hidden = transposed ? [inShape[1], inShape[3]] : [inShape[2]];
  if (!hidden.every((d) => typeof d === 'number')) return 'the head dims must be static';
  const hiddenSize = (hidden as number[]).reduce((x, y) => x * y, 1);
  let headSize: number;
  let heads: number;
  if (transposed) {
    heads = inShape[1] as number;
    headSize = inShape[3] as number;
    if (numHeads > 0 && numHeads !== heads) return `num_heads = ${numHeads} but the input has ${heads} heads`;
  } else {
    headSize = rotaryDim === 0 ? half * 2 : numHeads > 0 ? hiddenSize / numHeads : Number.NaN;
    heads = numHeads > 0 ? numHeads : hiddenSize / headSize;
    if (!Number.isInteger(heads) || !Number.isInteger(headSize) || heads * headSize !== hiddenSize)
      return `hidden size ${hiddenSize} does not split into heads of ${headSize}`;
  }
  const rotary = rotaryDim > 0 ? rotaryDim : headSize;
  if (rotary > headSize) return `rotary_embedding_dim ${rotary} exceeds the head size ${headSize}`;
  if (rotary % 2 !== 0) return `the rotary dim ${rotary} must be even`;
  if (half !== rotary / 2) return `the cache width ${half} must be rotary_embedding_dim / 2 = ${rotary / 2}`;
  return { batch: b as number, seq: s as number, heads, headSize, rotary, transposed };
}

defineOp({
  name: 'rotary_embedding',
  onnx: { domain: 'com.microsoft', type: 'RotaryEmbedding' },
  summary: 'rotary position embedding from cos/sin caches (half-split or interleaved; [B,S,N*H] or [B,N,S,H])',
  inputs: [{ name: 'input' }, { name: 'position_ids' }, { name: 'cos_cache' }, { name: 'sin_cache' }],
  outputs: [{ name: 'output' }],
  attrs: {
    interleaved: { type: 'int', default: 0 },
    num_heads: { type: 'int', default: 0 },
    rotary_embedding_dim: { type: 'int', default: 0 },
    scale: { type: 'float', default: 1 },
    is_packed_batching: { type: 'int', default: 0 },
  },
  infer(ctx) {
    const x = operandType(ctx, 0, FLOAT_TYPES);
    const pos = operandType(ctx, 1, ['i64']);
    operandType(ctx, 2, FLOAT_TYPES);
    operandType(ctx, 3, FLOAT_TYPES);
    sameDtype(ctx, [0, 2, 3]);
    if (ctx.attrs.is_packed_batching !== 0) ctx.error('LUT1115', 'rotary_embedding: is_packed_batching = 1 is not supported');
    const [c, s] = [ctx.inputs[2]!, ctx.inputs[3]!];
    if (c.shape.join() !== s.shape.join()) ctx.error('LUT1110', `cos_cache [${c.shape}] and sin_cache [${s.shape}] differ`);
    const geo = rotaryGeometry(x.shape, c.shape, ctx.attrs.num_heads as number, ctx.attrs.rotary_embedding_dim as number);
    if (typeof geo === 'string') ctx.error('LUT1110', `rotary_embedding: ${geo}`);
    if (pos.shape.length === 2) {
      const [pb, ps] = pos.shape;
      const [b, sq] = [x.shape[0], x.shape.length === 4 ? x.shape[2] : x.shape[1]];
      if ((typeof pb === 'number' && typeof b === 'number' && pb !== b) || (typeof ps === 'number' && typeof sq === 'number' && ps !== sq))
        ctx.error('LUT1110', `rotary_embedding: position_ids [${pos.shape}] must be [batch, sequence] = [${b}, ${sq}]`);
    } else if (!(pos.shape.length <= 1 && pos.shape.every((d) => d === 1)))
      ctx.error('LUT1110', `rotary_embedding: position_ids must be [batch, sequence] or one element, got [${pos.shape}]`);
    return [{ dtype: x.dtype, shape: [...x.shape] }];
  },
  interp([x, pos, cos, sin], ctx) {
    const X = x!;
    const geo = rotaryGeometry(X.shape, cos!.shape, ctx.attrs.num_heads as number, ctx.attrs.rotary_embedding_dim as number);
    if (typeof geo === 'string') return ctx.error('LUT3052', `rotary_embedding: ${geo}`);
    return [rotate(X, pos!, cos!, sin!, geo, ctx.attrs.interleaved === 1, (m) => ctx.error('LUT3051', m))];
  },
});

function rotate(
  X: Tensor,
  pos: Tensor,
  cos: Tensor,
  sin: Tensor,
  g: RotaryGeometry,
  interleaved: boolean,
  err: (m: string) => never,
): Tensor {
  const { batch, seq, heads, headSize, rotary, transposed } = g;
  const half = rotary / 2;
  const maxPos = cos.shape[0]!;
  const out = allocData(X.dtype, X.data.length);
  out.set(X.data as never);
  const st = storer(X.dtype);
  const perPosition = pos.data.length !== 1;
  for (let b = 0; b < batch; b++)
    for (let s = 0; s < seq; s++) {
      const p = perPosition ? pos.data[b * seq + s]! : pos.data[0]! + s;
      if (p < 0 || p >= maxPos) err(`rotary_embedding: position ${p} is outside the cos/sin cache of ${maxPos} rows`);
      for (let n = 0; n < heads; n++) {
        const base = transposed ? ((b * heads + n) * seq + s) * headSize : ((b * seq + s) * heads + n) * headSize;
        for (let i = 0; i < rotary; i++) {
          const c = interleaved ? i >> 1 : i % half;
          const j = interleaved ? i ^ 1 : (i + half) % rotary;
          const sign = interleaved ? (i % 2 === 0 ? -1 : 1) : i < half ? -1 : 1;
          const v = X.data[base + i]! * cos.data[p * half + c]! + sign * X.data[base + j]! * sin.data[p * half + c]!;
          out[base + i] = st(v);
        }
      }
    }
  return { dtype: X.dtype, shape: [...X.shape], data: out };
}

// ---- gather_block_quantized ------------------------------------------------------------------------

/**
 * Layout of a GatherBlockQuantized node (onnxruntime's com.microsoft op, the quantized embedding and
 * tied lm_head of transformers.js exports): `data` is uint8 holding 8/bits values per byte along the
 * last axis (low bits first), or i4/u4 (one value per element in lutc's storage); `scales` has
 * data's logical shape with the quantize axis cut into ceil(K / block_size) blocks; `zero_points`
 * (optional) has scales' shape, packed like data for uint8 (default 2^(bits-1) for uint8, 0 for
 * int4/uint4). out = (q - zp) * scale in the scales' type; the gather axis is replaced by indices' shape.
 */
export interface BlockQuantGeometry {
  /** Values per stored element: 8 / bits for uint8 data, else 1. */
  comp: number;
  bits: number;
  gatherAxis: number;
  quantAxis: number;
  /** data's logical shape (the last axis times comp). */
  logical: number[];
  /** Blocks along the quantize axis. */
  blocks: number;
}

export function blockQuantGeometry(
  data: { dtype: string; shape: readonly (number | string)[] },
  scales: { shape: readonly (number | string)[] },
  zp: { dtype: string; shape: readonly (number | string)[] } | null,
  attrs: { gather_axis: number; quantize_axis: number; block_size: number; bits: number },
): BlockQuantGeometry | string {
  const rank = data.shape.length;
  if (!data.shape.every((d) => typeof d === 'number') || !scales.shape.every((d) => typeof d === 'number'))
    return 'data and scales must have static shapes';
  const norm = (a: number) => (a < 0 ? a + rank : a);
  const [ga, qa] = [norm(attrs.gather_axis), norm(attrs.quantize_axis)];
  if (ga < 0 || ga >= rank || qa < 0 || qa >= rank)
    return `gather_axis ${attrs.gather_axis} / quantize_axis ${attrs.quantize_axis} out of range for rank ${rank}`;
  if (ga === qa) return 'gather_axis and quantize_axis must differ';
  const bs = attrs.block_size;
  if (bs < 16 || (bs & (bs - 1)) !== 0) return `block_size ${bs} must be a power of 2, at least 16`;
  let comp = 1;
  if (data.dtype === 'u8') {
    if (![2, 4, 8].includes(attrs.bits)) return `uint8 data takes bits 2, 4 or 8, not ${attrs.bits}`;
    if (ga !== 0 || qa !== rank - 1) return 'uint8 data needs gather_axis 0 and quantize_axis the last axis';
    comp = 8 / attrs.bits;
  } else if (data.dtype === 'i4' || data.dtype === 'u4') {
    if (attrs.bits !== 4) return `int4/uint4 data takes bits 4, not ${attrs.bits}`;
  } else return `data must be uint8, int4 or uint4, not ${data.dtype}`;
  const logical = (data.shape as number[]).map((d, i) => (i === rank - 1 ? d * comp : d));
  const blocks = Math.ceil(logical[qa]! / bs);
  if (scales.shape.length !== rank) return `scales [${scales.shape}] must have data's rank ${rank}`;
  for (let i = 0; i < rank; i++) {
    const want = i === qa ? blocks : logical[i]!;
    if (scales.shape[i] !== want) return `scales [${scales.shape}] must be [${logical.map((d, j) => (j === qa ? blocks : d))}]`;
  }
  if (zp) {
    if (zp.dtype !== data.dtype) return `zero_points must have data's type ${data.dtype}, not ${zp.dtype}`;
    const want = (scales.shape as number[]).map((d, i) => (i === qa ? Math.ceil(d / comp) : d));
    if (zp.shape.join() !== want.join()) return `zero_points [${zp.shape}] must be [${want}]`;
  }
  return { comp, bits: attrs.bits, gatherAxis: ga, quantAxis: qa, logical, blocks };
}

/** The q value at logical flat index `i` of packed uint8 (comp per byte, low bits first) or unpacked data. */
function packedAt(t: Tensor, i: number, comp: number, bits: number): number {
  if (comp === 1) return t.data[i]!;
  return (t.data[Math.floor(i / comp)]! >> ((i % comp) * bits)) & ((1 << bits) - 1);
}

defineOp({
  name: 'gather_block_quantized',
  onnx: { domain: 'com.microsoft', type: 'GatherBlockQuantized' },
  summary: 'gather of block-quantized rows, dequantized: (q - zero_point) * scale (uint8 with 2/4/8 bits per value, or int4/uint4)',
  inputs: [{ name: 'data' }, { name: 'indices' }, { name: 'scales' }, { name: 'zero_points', optional: true }],
  outputs: [{ name: 'output' }],
  attrs: {
    gather_axis: { type: 'int', default: 0 },
    quantize_axis: { type: 'int', default: 1 },
    block_size: { type: 'int', default: 128 },
    bits: { type: 'int', default: 4 },
  },
  infer(ctx) {
    const [data, idx, scales] = [ctx.inputs[0]!, ctx.inputs[1]!, operandType(ctx, 2, ['f32', 'f16'])];
    if (idx.dtype !== 'i32' && idx.dtype !== 'i64') ctx.error('LUT1112', `indices must be int32 or int64, not ${idx.dtype}`);
    const geo = blockQuantGeometry(data, scales, ctx.inputs[3] ?? null, ctx.attrs as never);
    if (typeof geo === 'string') return ctx.error('LUT1110', `gather_block_quantized: ${geo}`);
    const ga = geo.gatherAxis;
    return [{ dtype: scales.dtype, shape: [...geo.logical.slice(0, ga), ...idx.shape, ...geo.logical.slice(ga + 1)] }];
  },
  interp([data, idx, scales, zp], ctx) {
    const geo = blockQuantGeometry(data!, scales!, zp ?? null, ctx.attrs as never);
    if (typeof geo === 'string') return ctx.error('LUT3052', `gather_block_quantized: ${geo}`);
    const { comp, bits, gatherAxis: ga, quantAxis: qa, logical } = geo;
    const bs = ctx.attrs.block_size as number;
    const shape = [...logical.slice(0, ga), ...idx!.shape, ...logical.slice(ga + 1)];
    const n = shape.reduce((a, b) => a * b, 1);
    const out = allocData(scales!.dtype, n);
    const st = storer(scales!.dtype);
    const rank = logical.length;
    const lStr = logical.map((_, i) => logical.slice(i + 1).reduce((a, b) => a * b, 1));
    const sShape = scales!.shape;
    const sStr = sShape.map((_, i) => sShape.slice(i + 1).reduce((a, b) => a * b, 1));
    const zShape = zp ? zp.shape : [];
    const zStr = zShape.map((_, i) => zShape.slice(i + 1).reduce((a, b) => a * b, 1));
    const defaultZp = data!.dtype === 'u8' ? 1 << (bits - 1) : 0;
    const inner = logical.slice(ga + 1).reduce((a, b) => a * b, 1);
    const nIdx = idx!.data.length;
    const dGa = logical[ga]!;
    const coord = new Array<number>(rank).fill(0);
    for (let o = 0; o < n; o++) {
      const r = o % inner;
      const j = Math.floor(o / inner) % nIdx;
      const outer = Math.floor(o / inner / nIdx);
      let iv = idx!.data[j]!;
      if (iv < -dGa || iv >= dGa) return ctx.error('LUT3051', `index ${iv} is out of range for an axis of size ${dGa}`);
      if (iv < 0) iv += dGa;
      const flat = (outer * dGa + iv) * inner + r;
      let rem = flat;
      for (let a = 0; a < rank; a++) {
        coord[a] = Math.floor(rem / lStr[a]!);
        rem -= coord[a]! * lStr[a]!;
      }
      let si = 0;
      let zi = 0;
      for (let a = 0; a < rank; a++) {
        const c = a === qa ? Math.floor(coord[a]! / bs) : coord[a]!;
        si += c * sStr[a]!;
        zi += (a === qa ? Math.floor(c / comp) : c) * (zStr[a] ?? 0);
      }
      const zv = zp
        ? comp === 1
          ? zp.data[zi]!
          : (zp.data[zi]! >> ((Math.floor(coord[qa]! / bs) % comp) * bits)) & ((1 << bits) - 1)
        : defaultZp;
      out[o] = st((packedAt(data!, flat, comp, bits) - zv) * scales!.data[si]!);
    }
    return [{ dtype: scales!.dtype, shape, data: out }];
  },
});
