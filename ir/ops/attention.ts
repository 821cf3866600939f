/**
 * Op definitions of the LLM attention family: rotary_embedding (com.microsoft RotaryEmbedding) and
 * rotary_embedding_onnx (ai.onnx RotaryEmbedding, opset 23: the same rotation and geometry, operands
 * reordered, position_ids optional), gather_block_quantized, group_query_attention and
 * multi_head_attention (com.microsoft MultiHeadAttention as onnxruntime's CPU kernel runs it;
 * group_query_attention has one lutc-internal attribute, `causal` (default 1, onnxruntime's behaviour;
 * 0, written only by passes/fuse-attention.ts: no causal limit, attention_bias alone masks); each
 * op's layout function is shared by its shape rule, interpreter and legalize rule). rotary_embedding is onnxruntime's com.microsoft
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
import { dimAdd, dimEquals, dimMax } from '../dim-expr.js';
import { defineOp, type InferCtx } from '../optable.js';
import { allocData } from '../tensor.js';
import type { Dim, Tensor } from '../types.js';
import { dimsOfInput } from './dims.js';
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
    const maxPos = cos!.shape[0]!;
    const perPosition = pos!.data.length !== 1;
    const row = (b: number, s: number) => {
      const p = perPosition ? pos!.data[b * geo.seq + s]! : pos!.data[0]! + s;
      if (p < 0 || p >= maxPos) ctx.error('LUT3051', `rotary_embedding: position ${p} is outside the cos/sin cache of ${maxPos} rows`);
      return p;
    };
    return [rotate(X, row, cos!, sin!, geo, ctx.attrs.interleaved === 1)];
  },
});

/** Rotates X per its geometry; `row(b, s)` is the cos/sin row of token s of batch b (checked by the caller). */
function rotate(
  X: Tensor,
  row: (b: number, s: number) => number,
  cos: Tensor,
  sin: Tensor,
  g: RotaryGeometry,
  interleaved: boolean,
): Tensor {
  const { batch, seq, heads, headSize, rotary, transposed } = g;
  const half = rotary / 2;
  const out = allocData(X.dtype, X.data.length);
  out.set(X.data as never);
  const st = storer(X.dtype);
  for (let b = 0; b < batch; b++)
    for (let s = 0; s < seq; s++) {
      const p = row(b, s);
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

// ---- rotary_embedding_onnx (ai.onnx RotaryEmbedding, opset 23) ----------------------------------------

/**
 * ai.onnx RotaryEmbedding: the com.microsoft op's rotation with the operands reordered (X, cos_cache,
 * sin_cache, position_ids) and position_ids optional: with it the caches are [max_pos, R/2] rows
 * gathered per token ([B, S] positions only); without it they are already [B, S, R/2]. X is
 * [B, S, N*H] (num_heads required) or [B, N, S, H]; the geometry is `rotaryGeometry`'s.
 */
export function onnxRotaryGeometry(
  x: readonly Dim[],
  cache: readonly Dim[],
  hasPositions: boolean,
  attrs: { num_heads: number; rotary_embedding_dim: number },
): RotaryGeometry | string {
  if (x.length === 3 && !(attrs.num_heads > 0)) return 'a 3-D input needs num_heads';
  if (hasPositions ? cache.length !== 2 : cache.length !== 3)
    return `cos_cache and sin_cache must be [max_position, R/2] with position_ids, [batch, sequence, R/2] without; got [${cache}]`;
  let rot = attrs.rotary_embedding_dim;
  if (rot === 0 && x.length === 3) {
    const hidden = x[2];
    if (typeof hidden !== 'number') return 'the head dims must be static';
    rot = hidden / attrs.num_heads;
  }
  // rotaryGeometry takes the head size from the cache when rotary_embedding_dim is 0 ([B, N, S, H] reads it from X)
  const heads = attrs.num_heads > 0 || x.length === 3 ? attrs.num_heads : typeof x[1] === 'number' ? x[1] : 0;
  return rotaryGeometry(x, [cache[0]!, cache[cache.length - 1]!], heads, rot);
}

defineOp({
  name: 'rotary_embedding_onnx',
  onnx: { domain: '', type: 'RotaryEmbedding' },
  summary: 'ai.onnx RotaryEmbedding (opset 23): the same rotation, caches gathered by optional position_ids or given per token',
  inputs: [{ name: 'X' }, { name: 'cos_cache' }, { name: 'sin_cache' }, { name: 'position_ids', optional: true }],
  outputs: [{ name: 'Y' }],
  attrs: {
    interleaved: { type: 'int', default: 0 },
    num_heads: { type: 'int', default: 0 },
    rotary_embedding_dim: { type: 'int', default: 0 },
  },
  infer(ctx) {
    const x = operandType(ctx, 0, FLOAT_TYPES);
    operandType(ctx, 1, FLOAT_TYPES);
    operandType(ctx, 2, FLOAT_TYPES);
    sameDtype(ctx, [0, 1, 2]);
    const pos = ctx.inputs[3];
    if (pos && pos.dtype !== 'i64') ctx.error('LUT1112', `rotary_embedding_onnx: position_ids must be int64, not ${pos.dtype}`);
    const [c, s] = [ctx.inputs[1]!, ctx.inputs[2]!];
    if (c.shape.join() !== s.shape.join()) ctx.error('LUT1110', `cos_cache [${c.shape}] and sin_cache [${s.shape}] differ`);
    const geo = onnxRotaryGeometry(x.shape, c.shape, !!pos, ctx.attrs as never);
    if (typeof geo === 'string') ctx.error('LUT1110', `rotary_embedding_onnx: ${geo}`);
    const [b, sq] = [x.shape[0]!, x.shape.length === 4 ? x.shape[2]! : x.shape[1]!];
    const lead = pos ? pos.shape : c.shape.slice(0, 2);
    const fits = (a: Dim | undefined, want: Dim) => a !== undefined && (typeof a !== 'number' || typeof want !== 'number' || a === want);
    if (lead.length !== 2 || !fits(lead[0], b) || !fits(lead[1], sq))
      ctx.error(
        'LUT1110',
        `rotary_embedding_onnx: ${pos ? 'position_ids' : 'the caches'} [${lead}] must start with [batch, sequence] = [${b}, ${sq}]`,
      );
    return [{ dtype: x.dtype, shape: [...x.shape] }];
  },
  interp([x, cos, sin, pos], ctx) {
    const X = x!;
    const geo = onnxRotaryGeometry(X.shape, cos!.shape, !!pos, ctx.attrs as never);
    if (typeof geo === 'string') return ctx.error('LUT3052', `rotary_embedding_onnx: ${geo}`);
    const maxPos = cos!.shape[0]!;
    const row = (b: number, s: number) => {
      if (!pos) return b * geo.seq + s;
      const p = pos.data[b * geo.seq + s]!;
      if (p < 0 || p >= maxPos) ctx.error('LUT3051', `rotary_embedding_onnx: position ${p} is outside the cos/sin cache of ${maxPos} rows`);
      return p;
    };
    return [rotate(X, row, cos!, sin!, geo, ctx.attrs.interleaved === 1)];
  },
});

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

// ---- group_query_attention -------------------------------------------------------------------------

/** Shapes of a GroupQueryAttention node, from its operand types and attributes. */
interface GqaLayout {
  packed: boolean;
  headSize: number;
  /** Past buffer length (0 without past). */
  past: Dim;
}

function gqaLayout(ctx: InferCtx): GqaLayout {
  const err = (m: string, kind: 'shape' | 'value' = 'shape') =>
    ctx.error(kind === 'shape' ? 'LUT1110' : 'LUT1115', `group_query_attention: ${m}`);
  const [N, Nkv] = [ctx.attrs.num_heads as number, ctx.attrs.kv_num_heads as number];
  if (!(N > 0) || !(Nkv > 0) || N % Nkv !== 0) err(`num_heads ${N} must be a positive multiple of kv_num_heads ${Nkv}`, 'value');
  const q = ctx.inputs[0]!;
  if (q.shape.length !== 3) err(`query must be [batch, sequence, hidden], got [${q.shape}]`);
  const D = q.shape[2];
  if (typeof D !== 'number') err('the hidden size of query must be static');
  const [k, v] = [ctx.inputs[1], ctx.inputs[2]];
  const packed = !k;
  if (!!k !== !!v) err('key and value must be both given or both absent (packed QKV)');
  const headSize = packed ? (D as number) / (N + 2 * Nkv) : (D as number) / N;
  if (!Number.isInteger(headSize)) err(`hidden size ${D} does not split into ${packed ? `${N} + 2·${Nkv}` : N} heads`);
  if (k && v) {
    for (const [t, name] of [
      [k, 'key'],
      [v, 'value'],
    ] as const)
      if (t.shape.length !== 3 || t.shape[2] !== Nkv * headSize)
        err(`${name} must be [batch, sequence, ${Nkv * headSize}], got [${t.shape}]`);
  }
  const [pk, pv] = [ctx.inputs[3], ctx.inputs[4]];
  if (!!pk !== !!pv) err('past_key and past_value must be both given or both absent');
  let past: Dim = 0;
  if (pk && pv) {
    for (const [t, name] of [
      [pk, 'past_key'],
      [pv, 'past_value'],
    ] as const)
      if (t.shape.length !== 4 || t.shape[1] !== Nkv || t.shape[3] !== headSize)
        err(`${name} must be [batch, ${Nkv}, past, ${headSize}] (BNSH), got [${t.shape}]`);
    if (pk.shape[2] !== pv.shape[2]) err('past_key and past_value must have the same length');
    past = pk.shape[2]!;
  }
  for (const [i, name] of [
    [9, 'position_ids'],
    [11, 'head_sink'],
  ] as const)
    if (ctx.inputs[i]) err(`the ${name} input is not supported yet`, 'value');
  return { packed, headSize, past };
}

/** attention_bias [B or 1, N or 1, S, T] of the query's type, T the present length (LUT1110; another last dim LUT1115). */
function checkGqaBias(ctx: InferCtx, present: Dim): void {
  const ab = ctx.inputs[10];
  if (!ab) return;
  const [q, N] = [ctx.inputs[0]!, ctx.attrs.num_heads as number];
  const [b0, n0, s0, t0] = ab.shape;
  if (ab.shape.length !== 4 || ab.dtype !== q.dtype || !(b0 === 1 || b0 === q.shape[0]) || !(n0 === 1 || n0 === N) || s0 !== q.shape[1])
    ctx.error(
      'LUT1110',
      `group_query_attention: attention_bias must be ${q.dtype} [batch or 1, ${N} or 1, ${q.shape[1]}, total], got ${ab.dtype} [${ab.shape}]`,
    );
  if (dimEquals(t0!, present) !== true)
    ctx.error('LUT1115', `group_query_attention: an attention_bias of ${t0} keys, not the present length ${present}, is not supported`);
}

defineOp({
  name: 'group_query_attention',
  onnx: { domain: 'com.microsoft', type: 'GroupQueryAttention' },
  summary:
    'causal grouped-query attention with a BNSH KV cache (onnxruntime-genai exports): packed or separate QKV, optional rotary, local window, softcap, attention_bias, smooth softmax; lutc-internal attribute causal 0 (fuse-attention): every query sees all keys, only attention_bias masks',
  inputs: [
    { name: 'query' },
    { name: 'key', optional: true },
    { name: 'value', optional: true },
    { name: 'past_key', optional: true },
    { name: 'past_value', optional: true },
    { name: 'seqlens_k' },
    { name: 'total_sequence_length' },
    { name: 'cos_cache', optional: true },
    { name: 'sin_cache', optional: true },
    { name: 'position_ids', optional: true },
    { name: 'attention_bias', optional: true },
    { name: 'head_sink', optional: true },
  ],
  outputs: [{ name: 'output' }, { name: 'present_key' }, { name: 'present_value' }],
  attrs: {
    num_heads: { type: 'int', required: true },
    kv_num_heads: { type: 'int', required: true },
    scale: { type: 'float', default: 0 },
    softcap: { type: 'float', default: 0 },
    local_window_size: { type: 'int', default: -1 },
    do_rotary: { type: 'int', default: 0 },
    rotary_interleaved: { type: 'int', default: 0 },
    smooth_softmax: { type: 'int', default: 0 },
    qk_output: { type: 'int', default: 0 },
    // lutc-internal (no onnxruntime GroupQueryAttention has it): 0 = every query of batch b sees all
    // total_b keys (only attention_bias masks); written by the fuse-attention pass
    causal: { type: 'int', default: 1 },
  },
  infer(ctx) {
    const q = operandType(ctx, 0, FLOAT_TYPES);
    const { headSize, past } = gqaLayout(ctx);
    const causal = ctx.attrs.causal as number;
    if (causal !== 0 && causal !== 1) ctx.error('LUT1115', `group_query_attention: causal must be 0 or 1, got ${causal}`);
    if (causal === 0 && (ctx.attrs.local_window_size as number) > 0)
      ctx.error('LUT1115', 'group_query_attention: a local window needs causal 1');
    for (const i of [5, 6]) if (ctx.inputs[i]!.dtype !== 'i32') ctx.error('LUT1112', `group_query_attention: input ${i} must be int32`);
    if (ctx.attrs.do_rotary === 1 && !(ctx.inputs[7] && ctx.inputs[8]))
      ctx.error('LUT1110', 'group_query_attention: do_rotary needs cos_cache and sin_cache');
    if (ctx.attrs.qk_output !== 0) ctx.error('LUT1115', 'group_query_attention: qk_output is not supported yet');
    const [B, S] = [q.shape[0]!, q.shape[1]!];
    const N = ctx.attrs.num_heads as number;
    const Nkv = ctx.attrs.kv_num_heads as number;
    const total = dimsOfInput(ctx, 6);
    const present = total?.length === 1 ? dimMax(total[0]!, past) : ctx.freshDim('present');
    checkGqaBias(ctx, present);
    const kv = { dtype: q.dtype, shape: [B, Nkv, present, headSize] };
    return [{ dtype: q.dtype, shape: [B, S, N * headSize] }, kv, { ...kv, shape: [...kv.shape] }];
  },
  interp(ins, ctx) {
    return groupQueryAttention(ins, ctx.attrs as never, (m) => ctx.error('LUT3052', m));
  },
});

interface GqaAttrs {
  num_heads: number;
  kv_num_heads: number;
  scale: number;
  softcap: number;
  local_window_size: number;
  do_rotary: number;
  rotary_interleaved: number;
  smooth_softmax: number;
  causal: number;
}

/**
 * The reference: per batch b, total_b = seqlens_k[b] + 1 keys; the first prompt (S == total) has no
 * past, otherwise past_b = total_b - S. New K/V rows (rotated when do_rotary, at positions past_b + s;
 * the first prompt's right padding at position 1, as onnxruntime) follow the past rows in present
 * (rows beyond total are 0); query s sees keys t <= past_b + s, and only the last local_window_size of
 * them when that is > 0; with causal 0 (lutc-internal) every query sees keys t < total_b, and a prompt
 * continuing a past may have batch > 1. Scores q·k·scale (1/sqrt(H) when 0), softcap·tanh(x/softcap) when > 0, then
 * + attention_bias[b or 0, n or 0, s, t] (onnxruntime's order), softmax (with an extra zero logit
 * when smooth_softmax), all in double.
 */
function groupQueryAttention(ins: (Tensor | null)[], a: GqaAttrs, err: (m: string) => never): Tensor[] {
  const [query, key, value, pastK, pastV, seqlens, totalT, cos, sin, , ab] = ins;
  const q0 = query!;
  const [B, S, D] = q0.shape as [number, number, number];
  const [N, Nkv] = [a.num_heads, a.kv_num_heads];
  const packed = !key;
  const H = packed ? D / (N + 2 * Nkv) : D / N;
  const total = totalT!.data[0]!;
  const P = pastK ? pastK.shape[2]! : 0;
  const T = Math.max(total, P);
  const firstPrompt = S === total;
  const causal = a.causal !== 0;
  if (causal && S > 1 && !firstPrompt && B !== 1) err('group_query_attention: batch must be 1 for a prompt that continues a past');
  // BNSH views of q, k, v: q[b][n][s][h]
  const qkvAt = (b: number, s: number, head: number, h: number): number => {
    if (packed) return q0.data[((b * S + s) * (N + 2 * Nkv) + head) * H + h]!;
    if (head < N) return q0.data[((b * S + s) * N + head) * H + h]!;
    const t = head < N + Nkv ? key! : value!;
    const kh = head < N + Nkv ? head - N : head - N - Nkv;
    return t.data[((b * S + s) * Nkv + kh) * H + h]!;
  };
  const heads = N + 2 * Nkv;
  // new rows as BNSH float64 [B, heads, S, H] (q heads, then k, then v), rotated where asked
  const rows = new Float64Array(B * heads * S * H);
  for (let b = 0; b < B; b++)
    for (let n = 0; n < heads; n++)
      for (let s = 0; s < S; s++) for (let h = 0; h < H; h++) rows[((b * heads + n) * S + s) * H + h] = qkvAt(b, s, n, h);
  const pastOf = (b: number) => {
    const tb = seqlens!.data[b]! + 1;
    if (tb > T || tb < S) err(`group_query_attention: seqlens_k[${b}] + 1 = ${tb} does not fit ${S} new tokens and ${T} cache rows`);
    return firstPrompt ? 0 : tb - S;
  };
  if (a.do_rotary === 1) {
    const half = cos!.shape[1]!;
    const R = half * 2;
    if (R > H) err(`group_query_attention: rotary dim ${R} exceeds the head size ${H}`);
    for (let b = 0; b < B; b++) {
      const pb = pastOf(b);
      const tb = seqlens!.data[b]! + 1;
      for (let s = 0; s < S; s++) {
        const p = firstPrompt ? (s < tb ? s : 1) : pb + s;
        if (p >= cos!.shape[0]!) err(`group_query_attention: position ${p} is outside the cos/sin cache of ${cos!.shape[0]} rows`);
        for (let n = 0; n < N + Nkv; n++) {
          const base = ((b * heads + n) * S + s) * H;
          const x = rows.slice(base, base + R);
          for (let i = 0; i < R; i++) {
            const c = a.rotary_interleaved === 1 ? i >> 1 : i % half;
            const j = a.rotary_interleaved === 1 ? i ^ 1 : (i + half) % R;
            const sign = a.rotary_interleaved === 1 ? (i % 2 === 0 ? -1 : 1) : i < half ? -1 : 1;
            rows[base + i] = Math.fround(x[i]! * cos!.data[p * half + c]! + sign * x[j]! * sin!.data[p * half + c]!);
          }
        }
      }
    }
  }
  const st = storer(q0.dtype);
  const presentK = allocData(q0.dtype, B * Nkv * T * H);
  const presentV = allocData(q0.dtype, B * Nkv * T * H);
  const out = allocData(q0.dtype, B * S * N * H);
  const alpha = a.scale === 0 ? 1 / Math.sqrt(H) : a.scale;
  const W = a.local_window_size;
  for (let b = 0; b < B; b++) {
    const pb = pastOf(b);
    const tb = pb + S;
    for (let g = 0; g < Nkv; g++) {
      for (let t = 0; t < tb; t++)
        for (let h = 0; h < H; h++) {
          const at = ((b * Nkv + g) * T + t) * H + h;
          if (t < pb) {
            presentK[at] = pastK!.data[((b * Nkv + g) * P + t) * H + h]!;
            presentV[at] = pastV!.data[((b * Nkv + g) * P + t) * H + h]!;
          } else {
            presentK[at] = st(rows[((b * heads + N + g) * S + (t - pb)) * H + h]!);
            presentV[at] = st(rows[((b * heads + N + Nkv + g) * S + (t - pb)) * H + h]!);
          }
        }
    }
    for (let n = 0; n < N; n++) {
      const g = Math.floor(n / (N / Nkv));
      for (let s = 0; s < S; s++) {
        const last = causal ? pb + s : tb - 1; // the newest key this query sees
        const first = W > 0 ? Math.max(0, last - W + 1) : 0;
        const scores: number[] = [];
        for (let t = first; t <= last; t++) {
          let dot = 0;
          for (let h = 0; h < H; h++) dot += rows[((b * heads + n) * S + s) * H + h]! * presentK[((b * Nkv + g) * T + t) * H + h]!;
          let x = dot * alpha;
          if (a.softcap > 0) x = a.softcap * Math.tanh(x / a.softcap);
          if (ab) x += ab.data[(((ab.shape[0] === 1 ? 0 : b) * ab.shape[1]! + (ab.shape[1] === 1 ? 0 : n)) * S + s) * ab.shape[3]! + t]!;
          scores.push(x);
        }
        let m = a.smooth_softmax === 1 ? 0 : -Infinity;
        for (const x of scores) m = Math.max(m, x);
        let sum = a.smooth_softmax === 1 ? Math.exp(-m) : 0;
        const e = scores.map((x) => Math.exp(x - m));
        for (const x of e) sum += x;
        for (let h = 0; h < H; h++) {
          let acc = 0;
          for (let t = first; t <= last; t++) acc += e[t - first]! * presentV[((b * Nkv + g) * T + t) * H + h]!;
          out[((b * S + s) * N + n) * H + h] = st(acc / sum);
        }
      }
    }
  }
  return [
    { dtype: q0.dtype, shape: [B, S, N * H], data: out },
    { dtype: q0.dtype, shape: [B, Nkv, T, H], data: presentK },
    { dtype: q0.dtype, shape: [B, Nkv, T, H], data: presentV },
  ];
}

// ---- multi_head_attention ----------------------------------------------------------------------------

/** Layout of a MultiHeadAttention node (the forms onnxruntime's CPU kernel runs). */
export interface MhaLayout {
  heads: number;
  /** Q/K head size and V head size. */
  headSize: number;
  vHeadSize: number;
  /** key and value given as [B, N, L, H] (cross attention on projected keys; no past, no bias). */
  bnshKv: boolean;
  /** Past length P (0 without past) and total T = P + L. */
  past: Dim;
  total: Dim;
}

type Shaped = { dtype: string; shape: readonly Dim[] } | null | undefined;

/** The layout, or why the operands do not fit (shape rule and interpreter share it). */
export function mhaLayout(ins: readonly Shaped[], numHeads: number): MhaLayout | string {
  const [q, k, v, bias, kpm, ab, pk, pv, psl, ci] = ins;
  const N = numHeads;
  if (!(N > 0)) return `num_heads ${N} must be positive`;
  if (q?.shape.length !== 3) return `query must be [batch, sequence, hidden] (packed QKV is not supported), got [${q?.shape}]`;
  if (!k || !v) return 'key and value must be given (packed QKV/KV is not supported)';
  if (psl || ci) return 'past_sequence_length and cache_indirection (DecoderMaskedMultiHeadAttention) are not supported';
  const [B, S, D] = q.shape;
  if (typeof D !== 'number' || D % N !== 0) return `the query hidden size ${D} must be static and split into ${N} heads`;
  const H = D / N;
  const same = (a: Dim | undefined, b: Dim) => a === b || (typeof a === 'number' && typeof b === 'number' ? a === b : a !== undefined);
  let Hv: number;
  let L: Dim;
  const bnshKv = k.shape.length === 4;
  if (bnshKv) {
    if (v.shape.length !== 4 || !same(k.shape[0], B!) || k.shape[1] !== N || k.shape[3] !== H)
      return `4-D key and value must be [batch, ${N}, kv_sequence, ${H}], got [${k.shape}] and [${v.shape}]`;
    if (pk || pv || bias) return '4-D key and value take no past_key/past_value and no bias';
    L = k.shape[2]!;
    if (v.shape[1] !== N || typeof v.shape[3] !== 'number' || !same(v.shape[2], L))
      return `value [${v.shape}] must be [batch, ${N}, ${L}, head]`;
    Hv = v.shape[3] as number;
  } else {
    if (k.shape.length !== 3 || v.shape.length !== 3 || k.shape[2] !== D || !same(k.shape[0], B!))
      return `key must be [batch, kv_sequence, ${D}] and value [batch, kv_sequence, v_hidden], got [${k.shape}] and [${v.shape}]`;
    L = k.shape[1]!;
    const Dv = v.shape[2];
    if (typeof Dv !== 'number' || Dv % N !== 0 || !same(v.shape[1], L))
      return `value [${v.shape}] must be [batch, ${L}, a multiple of ${N}]`;
    Hv = Dv / N;
  }
  if (bias && (bias.shape.length !== 1 || bias.shape[0] !== 2 * D + N * Hv)) return `bias must be [${2 * D + N * Hv}], got [${bias.shape}]`;
  let past: Dim = 0;
  if (!!pk !== !!pv) return 'past_key and past_value must be both given or both absent';
  if (pk && pv) {
    if (pk.shape.length !== 4 || pk.shape[1] !== N || pk.shape[3] !== H || !same(pk.shape[0], B!))
      return `past_key must be [batch, ${N}, past, ${H}] (BNSH), got [${pk.shape}]`;
    // onnxruntime's kernel takes a past only when the value head size is the query's
    if (Hv !== H) return `with past_key/past_value the value head size ${Hv} must equal the query head size ${H}`;
    if (pv.shape.length !== 4 || pv.shape[1] !== N || pv.shape[3] !== Hv || !same(pv.shape[2], pk.shape[2]!))
      return `past_value must be [batch, ${N}, ${pk.shape[2]}, ${Hv}] (BNSH), got [${pv.shape}]`;
    past = pk.shape[2]!;
  }
  const total = dimAdd(past, L);
  if (kpm) {
    if (kpm.dtype !== 'i32') return `key_padding_mask must be int32, not ${kpm.dtype}`;
    if (kpm.shape.length !== 2 || !same(kpm.shape[0], B!) || !same(kpm.shape[1], total))
      return `key_padding_mask must be 2-D [batch, total_sequence] = [${B}, ${total}] (other mask forms are not supported), got [${kpm.shape}]`;
  }
  if (ab) {
    const [b0, n0, s0, t0] = ab.shape;
    if (ab.shape.length !== 4 || !(b0 === 1 || same(b0, B!)) || !(n0 === 1 || n0 === N) || !same(s0, S!) || !same(t0, total))
      return `attention_bias must be [batch or 1, ${N} or 1, ${S}, ${total}], got [${ab.shape}]`;
  }
  return { heads: N, headSize: H, vHeadSize: Hv, bnshKv, past, total };
}

defineOp({
  name: 'multi_head_attention',
  onnx: { domain: 'com.microsoft', type: 'MultiHeadAttention' },
  summary:
    'multi-head attention (onnxruntime contrib op): Q/K/V [B,S,D] (or K/V BNSH), bias, 2-D key_padding_mask, attention_bias, BNSH past/present, unidirectional',
  inputs: [
    { name: 'query' },
    { name: 'key', optional: true },
    { name: 'value', optional: true },
    { name: 'bias', optional: true },
    { name: 'key_padding_mask', optional: true },
    { name: 'attention_bias', optional: true },
    { name: 'past_key', optional: true },
    { name: 'past_value', optional: true },
    { name: 'past_sequence_length', optional: true },
    { name: 'cache_indirection', optional: true },
  ],
  outputs: [{ name: 'output' }, { name: 'present_key' }, { name: 'present_value' }],
  attrs: {
    num_heads: { type: 'int', required: true },
    mask_filter_value: { type: 'float', default: -10000 },
    scale: { type: 'float', default: 0 },
    unidirectional: { type: 'int', default: 0 },
  },
  infer(ctx) {
    const q = operandType(ctx, 0, ['f32']);
    for (const i of [1, 2, 3, 5, 6, 7]) if (ctx.inputs[i]) operandType(ctx, i, ['f32']);
    const g = mhaLayout(ctx.inputs, ctx.attrs.num_heads as number);
    if (typeof g === 'string') return ctx.error(/not supported/.test(g) ? 'LUT1115' : 'LUT1110', `multi_head_attention: ${g}`);
    const [B, S] = [q.shape[0]!, q.shape[1]!];
    const N = g.heads;
    return [
      { dtype: q.dtype, shape: [B, S, N * g.vHeadSize] },
      { dtype: q.dtype, shape: [B, N, g.total, g.headSize] },
      { dtype: q.dtype, shape: [B, N, g.total, g.vHeadSize] },
    ];
  },
  interp(ins, ctx) {
    const g = mhaLayout(ins, ctx.attrs.num_heads as number);
    if (typeof g === 'string') return ctx.error('LUT3052', `multi_head_attention: ${g}`);
    return multiHeadAttention(ins, g, ctx.attrs as never);
  },
});

/**
 * The reference, as onnxruntime's CPU kernel: q, k, v (+ bias, rounded to float) in BNSH; present =
 * past ‖ new rows; score[s, t] = q·k·scale (1/sqrt(H) when 0) + attention_bias + (mask_filter_value
 * where key_padding_mask[b, t] == 0; else 0), and -inf (left out) where, unidirectional with S > 1,
 * t > P + s (onnxruntime leaves future keys out whatever mask_filter_value: measured on
 * onnxruntime-node 1.30): an additive padding mask, so a fully padded row is a softmax of large
 * negatives, as in onnxruntime (scores rounded to float32 as its kernel rounds them; near
 * mask_filter_value a float32 ulp is ~1e-3, so such rows agree only to that). Dot products, softmax
 * and P·V in double, rounded once.
 */
function multiHeadAttention(
  ins: (Tensor | null)[],
  g: MhaLayout,
  a: { mask_filter_value: number; scale: number; unidirectional: number },
): Tensor[] {
  const [q, k, v, bias, kpm, ab, pk, pv] = ins;
  const [B, S] = q!.shape as [number, number];
  const { heads: N, headSize: H, vHeadSize: Hv } = g;
  const P = pk ? pk.shape[2]! : 0;
  const L = g.bnshKv ? k!.shape[2]! : k!.shape[1]!;
  const T = P + L;
  const D = N * H;
  const fr = Math.fround;
  const bi = (o: number) => (bias ? bias.data[o]! : 0);
  const qAt = (b: number, n: number, s: number, h: number) => fr(q!.data[(b * S + s) * D + n * H + h]! + bi(n * H + h));
  const presentK = new Float32Array(B * N * T * H);
  const presentV = new Float32Array(B * N * T * Hv);
  for (let b = 0; b < B; b++)
    for (let n = 0; n < N; n++) {
      for (let t = 0; t < T; t++) {
        const l = t - P;
        for (let h = 0; h < H; h++)
          presentK[((b * N + n) * T + t) * H + h] =
            t < P
              ? pk!.data[((b * N + n) * P + t) * H + h]!
              : g.bnshKv
                ? k!.data[((b * N + n) * L + l) * H + h]!
                : fr(k!.data[(b * L + l) * D + n * H + h]! + bi(D + n * H + h));
        for (let h = 0; h < Hv; h++)
          presentV[((b * N + n) * T + t) * Hv + h] =
            t < P
              ? pv!.data[((b * N + n) * P + t) * Hv + h]!
              : g.bnshKv
                ? v!.data[((b * N + n) * L + l) * Hv + h]!
                : fr(v!.data[(b * L + l) * N * Hv + n * Hv + h]! + bi(2 * D + n * Hv + h));
      }
    }
  const alpha = a.scale === 0 ? 1 / Math.sqrt(H) : a.scale;
  const causal = a.unidirectional === 1 && S > 1;
  const out = new Float32Array(B * S * N * Hv);
  const score = new Float64Array(T);
  const [ab0, ab1] = ab ? [ab.shape[0]!, ab.shape[1]!] : [1, 1];
  for (let b = 0; b < B; b++)
    for (let n = 0; n < N; n++)
      for (let s = 0; s < S; s++) {
        let m = -Infinity;
        for (let t = 0; t < T; t++) {
          let dot = 0;
          for (let h = 0; h < H; h++) dot += qAt(b, n, s, h) * presentK[((b * N + n) * T + t) * H + h]!;
          // float32 steps as onnxruntime's: alpha·dot + (attention_bias + mask)
          let add = ab ? ab.data[(((ab0 === 1 ? 0 : b) * ab1 + (ab1 === 1 ? 0 : n)) * S + s) * T + t]! : 0;
          if (kpm && kpm.data[b * T + t] === 0) add = fr(add + a.mask_filter_value);
          // a future key (unidirectional, S > 1) is left out whatever mask_filter_value, as onnxruntime's
          const x = causal && t > P + s ? -Infinity : fr(fr(dot * alpha) + add);
          score[t] = x;
          m = Math.max(m, x);
        }
        let sum = 0;
        for (let t = 0; t < T; t++) {
          score[t] = Math.exp(score[t]! - m);
          sum += score[t]!;
        }
        for (let h = 0; h < Hv; h++) {
          let acc = 0;
          for (let t = 0; t < T; t++) acc += score[t]! * presentV[((b * N + n) * T + t) * Hv + h]!;
          out[((b * S + s) * N + n) * Hv + h] = acc / sum;
        }
      }
  return [
    { dtype: 'f32', shape: [B, S, N * Hv], data: out },
    { dtype: 'f32', shape: [B, N, T, H], data: presentK },
    { dtype: 'f32', shape: [B, N, T, Hv], data: presentV },
  ];
}
