/**
 * Reading the weights of a linear layer into lutc's quantized form (q [N, K] in [0, 2^b), scales and
 * zero points [N, nGroups]) from each source lower-linear accepts: MatMulNBits blobs (docs/onnx-inputs.md,
 * bit-exact), DequantizeLinear of int4/uint4/int8/uint8 constants (per-tensor, per-axis along N, or
 * blocked along K), float weights on an exact ternary grid, and float weights quantized by `--bits`.
 * Each reader returns the weights or the reason the layer stays a float op, for `lutc inspect`.
 * `weightsFromFloat` is also what `lutc quantize` (compiler/quantize-onnx.ts) writes, so the quantized
 * ONNX model holds exactly the weights `--bits` lowers with.
 */

import type { Location } from '../../base/diagnostics.js';
import { lazyTensor, numel } from '../tensor.js';
import type { Node, Tensor, TensorData } from '../types.js';
import { attrOr } from './build.js';
import type { Bits } from './geometry.js';
import { detectTernary, effectiveGroup, type QuantBits, type QuantizedMatrix, quantizeMatrix } from './quantize.js';

/** The quantization options the weight readers read (a subset of the compiler's `CompileOptions`). */
export interface WeightOptions {
  /** `--bits`: quantize float weights to this many bits (absent: only exact grids are read). */
  bits?: QuantBits;
  /** `--group-size`: quantization group along K. */
  groupSize?: number;
  /** `--symmetric`: symmetric instead of asymmetric min/max quantization. */
  symmetric?: boolean;
}

/**
 * Where lowered weights came from: `nbits` (MatMulNBits) and `dq` (DequantizeLinear) keep their own
 * bits and groups, `ternary` float weights on an exact ternary grid are read losslessly, `bits` float
 * weights were quantized by `--bits` (only this one applies `--bits` and `--group-size`).
 */
export type WeightSource = 'nbits' | 'dq' | 'ternary' | 'bits';

/** Weights as lazy constants (ir/tensor.ts lazyTensor) with qm's shapes: q u8 [N, K], scales and zeros f32 [N, nGroups]. */
export interface LazyWeights {
  q: Tensor;
  scales: Tensor;
  zeros: Tensor;
}

export type WeightResult =
  | { ok: true; qm: QuantizedMatrix; how: string; from: WeightSource; tensors?: LazyWeights }
  | { ok: false; reason: string };

const no = (reason: string): WeightResult => ({ ok: false, reason });

/**
 * The fewest bits (1..4) holding every q of a `container`-bit source, or undefined when some q needs
 * more than 4. 2-bit sources stay 2-bit; 4- and 8-bit containers narrow (lossless: W = s(q - z) is
 * unchanged), which is how 1- and 3-bit weights written by `lutc quantize` in 4-bit MatMulNBits or
 * uint4 DequantizeLinear come back as 1- and 3-bit LUT layers.
 */
export function narrowBits(q: Uint8Array, container: number): Bits | undefined {
  let max = 0;
  for (let i = 0; i < q.length; i++) if (q[i]! > max) max = q[i]!;
  if (container <= 2) return max < 4 ? 2 : undefined;
  for (const b of [1, 2, 3, 4] as const) if (max < 1 << b) return b;
  return undefined;
}

/** Lazy q tensors whose values, `bits` each, LSB first, are exactly the bytes `bytes()` returns. */
const bitStreams = new WeakMap<Tensor, { bits: number; bytes: () => Uint8Array }>();

/**
 * The LSB-first stream of `q`'s values at `bits` bits each (value i at bit i * bits) when the source
 * holds it as it is (MatMulNBits B of whole blocks: backends/c/model/lut-weights.ts stores that form),
 * so a consumer need not unpack q to pack it again; undefined otherwise. Do not modify it.
 */
export function qBitStream(q: Tensor, bits: number): Uint8Array | undefined {
  const s = bitStreams.get(q);
  return s && s.bits === bits ? s.bytes() : undefined;
}

/**
 * com.microsoft.MatMulNBits: B [N, kBlocks, blob] LSB-first, scales [N, kBlocks], zero points packed u8
 * or float. The result's q, scales and zeros are lazy (ir/tensor.ts lazyTensor, in `tensors`; `qm`
 * reads them through getters): computed from B, scales and zero points each time they are read after
 * leaving the lazy cache, so lowering a model holds no unpacked copy of its weights. Here B of a 4- or
 * 8-bit layer is read once, for the largest code (narrowBits), row by row, until a code rules out
 * every narrower width (2-bit layers are never narrowed, so never read here).
 */
export function weightsFromNBits(node: Node): WeightResult {
  const K = attrOr(node, 'K', 0),
    N = attrOr(node, 'N', 0),
    bits = attrOr(node, 'bits', 4),
    bs = attrOr(node, 'block_size', 0);
  const [, B, S, Z, GI] = node.inputs;
  if (!B?.const || !S?.const || (Z && !Z.const)) return no('weights, scales or zero points are not constants');
  if (attrOr(node, 'weight_prepacked', 0) !== 0) return no('weight_prepacked != 0: backend-specific prepacked weights');
  if (GI) {
    const gi = GI.const;
    if (!gi || Array.from(gi.data).some((v, k) => v !== Math.floor(k / bs)))
      return no('act-order g_idx (not the identity grouping k / block_size) is not supported');
  }
  const kBlocks = Math.ceil(K / bs),
    blob = (bs * bits) / 8,
    mask = (1 << bits) - 1;
  const zpRow = Math.ceil((kBlocks * bits) / 8);
  const Bt = B.const,
    St = S.const,
    Zt = Z?.const;
  if (numel(Bt.shape) !== N * kBlocks * blob || numel(St.shape) !== N * kBlocks)
    return no('B or scales do not have the size K, N, bits and block_size imply');
  /** Row n's codes into q[at, at + K); returns their largest. */
  const unpackRow = (b: TensorData, n: number, q: Uint8Array, at: number): number => {
    let max = 0;
    for (let kb = 0; kb < kBlocks; kb++) {
      const base = (n * kBlocks + kb) * blob;
      const end = Math.min(bs, K - kb * bs);
      for (let i = 0, k = at + kb * bs; i < end; i++, k++) {
        const v = (b[base + ((i * bits) >> 3)]! >> ((i * bits) & 7)) & mask;
        q[k] = v;
        if (v > max) max = v;
      }
    }
    return max;
  };
  // the largest code, for narrowBits (a row at a time; stops once no narrower width is possible). 2-bit
  // sources stay 2-bit whatever their codes (narrowBits), so they skip the scan: a ternary model's
  // codes never reach 3, and scanning all of them was most of a BitNet-2B-shaped compile (19 of 32 s)
  let max = bits <= 2 ? mask : 0;
  {
    const b = Bt.data;
    const row = new Uint8Array(K);
    for (let n = 0; n < N && max < mask; n++) max = Math.max(max, unpackRow(b, n, row, 0));
  }
  const nb = narrowBits(Uint8Array.of(max), bits);
  if (!nb) return no(`${bits}-bit weights use values above 15: they do not fit 1-4-bit LUT planes`);
  const q = lazyTensor('u8', [N, K], () => {
    const b = Bt.data;
    const out = new Uint8Array(N * K);
    for (let n = 0; n < N; n++) unpackRow(b, n, out, n * K);
    return out;
  });
  // f32 scales are the model's own array (read-only, like every constant); f16/bf16 ones widen
  const scales = lazyTensor('f32', [N, kBlocks], () =>
    St.data instanceof Float32Array ? St.data : Float32Array.from(St.data as ArrayLike<number>),
  );
  const zeros = lazyTensor('f32', [N, kBlocks], () => {
    const out = new Float32Array(N * kBlocks).fill(1 << (bits - 1));
    if (!Zt) return out;
    const z = Zt.data;
    for (let n = 0; n < N; n++)
      for (let kb = 0; kb < kBlocks; kb++)
        out[n * kBlocks + kb] = Zt.dtype === 'u8' ? (z[n * zpRow + ((kb * bits) >> 3)]! >> ((kb * bits) & 7)) & mask : z[n * kBlocks + kb]!;
    return out;
  });
  // B is q's LSB-first bit stream itself when no block is padded and the codes keep their width
  if (nb === bits && K % bs === 0 && 8 % bits === 0) bitStreams.set(q, { bits, bytes: () => Bt.data as Uint8Array });
  const groupSize = bs >= K ? K : bs;
  const qm = { n: N, k: K, bits: nb, groupSize, nGroups: kBlocks } as QuantizedMatrix;
  Object.defineProperties(qm, {
    q: { enumerable: true, get: () => q.data },
    scales: { enumerable: true, get: () => scales.data },
    zeros: { enumerable: true, get: () => zeros.data },
  });
  return {
    ok: true,
    qm,
    tensors: { q, scales, zeros },
    how: `MatMulNBits bits=${bits} block_size=${bs}${nb !== bits ? ` (values fit ${nb} bits)` : ''}`,

    from: 'nbits',
  };
}

const SIGNED = new Set(['i4', 'i8']);
const CONTAINER: Partial<Record<string, number>> = { i4: 4, u4: 4, i8: 8, u8: 8 };

/**
 * DequantizeLinear(x [K, N] const, scale, zero_point) feeding MatMul as its weight. Per-tensor,
 * per-axis along N (axis 1) and blocked along K (axis 0, block a multiple of 8) map onto lutc groups;
 * per-K scales and blocks along N do not.
 */
export function weightsFromDQ(dq: Node): WeightResult {
  const [X, S, Z] = dq.inputs;
  const x = X?.const,
    s = S?.const,
    z = Z?.const;
  if (!x || !s || (Z && !z)) return no('DequantizeLinear inputs are not constants');
  const container = CONTAINER[x.dtype];
  if (!container) return no(`DequantizeLinear of ${x.dtype} weights is not supported (int4/uint4/int8/uint8)`);
  if (x.shape.length !== 2) return no(`DequantizeLinear weight has rank ${x.shape.length}, expected 2`);
  if (s.dtype !== 'f32') return no(`DequantizeLinear scale is ${s.dtype}; only f32 layers are lowered`);
  const [K, N] = x.shape as [number, number];
  const bs = attrOr(dq, 'block_size', 0);
  const axis = ((attrOr(dq, 'axis', 1) % 2) + 2) % 2;
  let G: number; // group along K
  let sIdx: (n: number, g: number) => number;
  if (s.data.length === 1) {
    G = K;
    sIdx = () => 0;
  } else if (bs === 0) {
    if (axis !== 1) return no('per-axis scales along K cannot be expressed as groups along K');
    G = K;
    sIdx = (n) => n;
  } else {
    if (axis !== 0) return no('blocked scales along N cannot be expressed as groups along K');
    if (bs < K && bs % 8 !== 0) return no(`block size ${bs} is not a multiple of 8`);
    G = Math.min(bs, K);
    sIdx = (n, g) => g * N + n;
  }
  const nGroups = Math.ceil(K / G);
  // Signed values shift up by the smallest one present (q - z is unchanged), so int8 weights that
  // span at most 16 levels still fit LUT planes; unsigned values are kept as they are.
  let off = 0;
  if (SIGNED.has(x.dtype)) {
    off = Infinity;
    for (let i = 0; i < x.data.length; i++) off = Math.min(off, x.data[i]!);
    off = -off;
  }
  const q = new Uint8Array(N * K);
  const scales = new Float32Array(N * nGroups);
  const zeros = new Float32Array(N * nGroups);
  for (let n = 0; n < N; n++) {
    for (let g = 0; g < nGroups; g++) {
      scales[n * nGroups + g] = s.data[sIdx(n, g)]!;
      zeros[n * nGroups + g] = (z ? z.data[sIdx(n, g)]! : 0) + off;
    }
    for (let k = 0; k < K; k++) q[n * K + k] = x.data[k * N + n]! + off;
  }
  const nb = narrowBits(q, container);
  if (!nb) return no(`${x.dtype} weights use more than 16 levels: they do not fit 1-4-bit LUT planes`);
  const mode = s.data.length === 1 ? 'per-tensor' : bs === 0 ? 'per-axis' : `blocked ${bs}`;
  return {
    ok: true,
    qm: { n: N, k: K, bits: nb, groupSize: G, nGroups, q, scales, zeros },
    how: `DequantizeLinear ${x.dtype} ${mode}${nb !== container ? ` (values fit ${nb} bits)` : ''}`,

    from: 'dq',
  };
}

/**
 * Float weights `w` [N, K] (rows = output channels): lossless when every group is on an exact ternary
 * grid (per row, else per `--group-size` group), otherwise quantized only when `--bits` was given.
 */
export function weightsFromFloat(w: Float32Array, n: number, k: number, opts: WeightOptions, loc?: Location): WeightResult {
  for (const G of [k, effectiveGroup(k, opts.groupSize, loc)]) {
    const t = detectTernary(w, n, k, G);
    if (t) return { ok: true, qm: t, how: `exact ternary grid (lossless, group ${t.groupSize})`, from: 'ternary' };
  }
  if (opts.bits === undefined) return no('float weights not on a 1-4-bit grid: pass --bits to quantize them');
  const qm = quantizeMatrix(w, n, k, { bits: opts.bits, groupSize: opts.groupSize, symmetric: opts.symmetric }, loc);
  const kind = opts.bits === 1.58 ? 'ternary absmean' : opts.symmetric ? 'symmetric' : 'asymmetric min/max';
  return { ok: true, qm, how: `quantized by --bits ${opts.bits} (${kind}, group ${qm.groupSize})`, from: 'bits' };
}

/** W [K, N] (MatMul's layout) or [N, K] (Gemm transB) as rows [N, K] of output channels. */
export function weightRows(t: Tensor, transposed: boolean): { w: Float32Array; n: number; k: number } {
  const [d0, d1] = t.shape as [number, number];
  const [k, n] = transposed ? [d1, d0] : [d0, d1];
  const w = new Float32Array(n * k);
  for (let r = 0; r < n; r++) for (let kk = 0; kk < k; kk++) w[r * k + kk] = transposed ? t.data[r * k + kk]! : t.data[kk * n + r]!;
  return { w, n, k };
}
