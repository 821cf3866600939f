/**
 * Op definitions: matmul, gemm and com.microsoft MatMulNBits. Their interpreters are the float oracle
 * for the whole project, so they share one numeric contract: every dot product is accumulated in
 * float64 (products of two float32 values are exact in float64, so the only rounding before the
 * store is the float64 summation, far below float32's), then alpha/beta/bias are applied in float64
 * and the result is rounded once to the output type at the store. Loops keep the innermost loop
 * contiguous over typed arrays and allocate nothing per element, so a 4096x4096 GEMV runs in tens of
 * milliseconds. matmul_integer (ai.onnx MatMulInteger) is exact: int32 products and sums of the
 * zero-point-shifted 8-bit operands. Quantize/dequantize and conv are imported from their own files.
 * matmul_nbits with `compute = 'i8'` (set by passes/lower-linear.ts on 8-bit layers under `--tables
 * i8`) is the one exception, by definition not the float oracle: the int8 path of docs/lut-format.md
 * ("8-bit MatMulNBits: the int8 path"), activations quantized per (row, block) by `quantizeI8Block`
 * (exact integer rounding, half to even) and the per-block f32 sums accumulated in a fixed order, so
 * every target reproduces it to the bit or to a stated few ulps.
 */
import { defineOp, findOp } from '../optable.js';
import { allocData, isFloat, numel } from '../tensor.js';
import type { Dim, Tensor, TensorData } from '../types.js';
import { concrete, type ErrFn, ruleErr, storeRounder, unifyDim } from './dims.js';
import { broadcastIndex, broadcastShapes } from './util.js';
import './quant.js';
import './conv.js';

const SUPPORTED = new Set(['f32', 'f16', 'bf16', 'f64', 'i32', 'u32', 'i64', 'u64']);

// ---- matmul -----------------------------------------------------------------------------------------

/** numpy matmul result shape: 1-D operands get a temporary 1 (prepended to A, appended to B). */
export function matmulDims(a: readonly Dim[], b: readonly Dim[], err: ErrFn): Dim[] {
  if (a.length === 0 || b.length === 0) err('matmul operands must have rank >= 1');
  const a2 = a.length === 1 ? [1, a[0]!] : a;
  const b2 = b.length === 1 ? [b[0]!, 1] : b;
  const ka = a2[a2.length - 1]!;
  const kb = b2[b2.length - 2]!;
  if (unifyDim(ka, kb) === null) err(`inner dims differ: A is [${a.join(', ')}], B is [${b.join(', ')}]`);
  const batch = broadcastShapes([a2.slice(0, -2), b2.slice(0, -2)]);
  if (typeof batch === 'string') return err(`batch dims: ${batch}`);
  const out: Dim[] = [...batch];
  if (a.length > 1) out.push(a2[a2.length - 2]!);
  if (b.length > 1) out.push(b2[b2.length - 1]!);
  return out;
}

/**
 * C[m, n] = sum_k A[m, k] B[k, n] for row-major A [M, K] at `ao`, B [K, N] at `bo`, into `out` at `oo`.
 * i-k-j order: the inner loop streams one row of B and one row of the accumulator.
 */
function gemmKernelNN(
  A: TensorData,
  ao: number,
  B: TensorData,
  bo: number,
  M: number,
  K: number,
  N: number,
  acc: Float64Array,
  out: TensorData,
  oo: number,
  round: (v: number) => number,
): void {
  for (let m = 0; m < M; m++) {
    acc.fill(0, 0, N);
    const ar = ao + m * K;
    for (let k = 0; k < K; k++) {
      const av = A[ar + k]!;
      const br = bo + k * N;
      for (let n = 0; n < N; n++) acc[n]! += av * B[br + n]!;
    }
    const orow = oo + m * N;
    for (let n = 0; n < N; n++) out[orow + n] = round(acc[n]!);
  }
}

/** int32/uint32 matmul wraps modulo 2^32 like the integer kernels of ORT; Math.imul keeps it exact. */
function gemmKernelI32(
  A: TensorData,
  ao: number,
  B: TensorData,
  bo: number,
  M: number,
  K: number,
  N: number,
  out: TensorData,
  oo: number,
): void {
  const acc = new Int32Array(N);
  for (let m = 0; m < M; m++) {
    acc.fill(0);
    for (let k = 0; k < K; k++) {
      const av = A[ao + m * K + k]! | 0;
      const br = bo + k * N;
      for (let n = 0; n < N; n++) acc[n] = (acc[n]! + Math.imul(av, B[br + n]! | 0)) | 0;
    }
    for (let n = 0; n < N; n++) out[oo + m * N + n] = acc[n]!;
  }
}

defineOp({
  name: 'matmul',
  onnx: { domain: '', type: 'MatMul' },
  summary: 'numpy matmul: batched with broadcasting, 1-D operands promoted and the extra dim removed.',
  inputs: [{ name: 'A' }, { name: 'B' }],
  outputs: [{ name: 'Y' }],
  attrs: {},
  infer(ctx) {
    const [a, b] = [ctx.inputs[0]!, ctx.inputs[1]!];
    if (a.dtype !== b.dtype) ctx.error('LUT1112', `operand dtypes differ: ${a.dtype} and ${b.dtype}`);
    if (!SUPPORTED.has(a.dtype)) ctx.error('LUT1112', `matmul does not take ${a.dtype}`);
    return [{ dtype: a.dtype, shape: matmulDims(a.shape, b.shape, ruleErr(ctx)) }];
  },
  interp([a, b], ctx) {
    const shape = concrete(matmulDims(a!.shape, b!.shape, (m) => ctx.error('LUT3054', m)));
    const a2 = a!.shape.length === 1 ? [1, a!.shape[0]!] : a!.shape;
    const b2 = b!.shape.length === 1 ? [b!.shape[0]!, 1] : b!.shape;
    const [M, K, N] = [a2[a2.length - 2]!, a2[a2.length - 1]!, b2[b2.length - 1]!];
    const batch = broadcastShapes([a2.slice(0, -2), b2.slice(0, -2)]) as number[];
    // Matrix index (not element index) of each operand per output batch entry.
    const ai = broadcastIndex(a2.slice(0, -2), batch);
    const bi = broadcastIndex(b2.slice(0, -2), batch);
    const dtype = a!.dtype;
    const out = allocData(dtype, numel(shape));
    const acc = new Float64Array(N);
    const round = storeRounder(dtype);
    for (let i = 0; i < ai.length; i++) {
      const [ao, bo, oo] = [ai[i]! * M * K, bi[i]! * K * N, i * M * N];
      if (dtype === 'i32' || dtype === 'u32') gemmKernelI32(a!.data, ao, b!.data, bo, M, K, N, out, oo);
      else gemmKernelNN(a!.data, ao, b!.data, bo, M, K, N, acc, out, oo, round);
    }
    return [{ dtype, shape, data: out }];
  },
});

// ---- matmul_integer ---------------------------------------------------------------------------------

/**
 * Checks MatMulInteger's zero points: a_zero_point a scalar (or one element), b_zero_point a scalar
 * or one per column of a 2-D B ([N]), each of its operand's 8-bit type (the forms onnxruntime's CPU
 * kernel takes). Returns why not, or undefined.
 */
export function matmulIntegerProblem(
  a: { dtype: string; shape: readonly Dim[] },
  b: { dtype: string; shape: readonly Dim[] },
  azp: { dtype: string; shape: readonly Dim[] } | null | undefined,
  bzp: { dtype: string; shape: readonly Dim[] } | null | undefined,
): string | undefined {
  for (const [t, name] of [
    [a, 'A'],
    [b, 'B'],
  ] as const)
    if (t.dtype !== 'u8' && t.dtype !== 'i8') return `${name} must be uint8 or int8, not ${t.dtype}`;
  const one = (sh: readonly Dim[]) => sh.length === 0 || (sh.length === 1 && sh[0] === 1);
  if (azp && (azp.dtype !== a.dtype || !one(azp.shape)))
    return `a_zero_point must be a scalar of A's type ${a.dtype} (per-row zero points are not supported), got ${azp.dtype} [${azp.shape}]`;
  if (
    bzp &&
    (bzp.dtype !== b.dtype || !(one(bzp.shape) || (b.shape.length === 2 && bzp.shape.length === 1 && bzp.shape[0] === b.shape[1])))
  )
    return `b_zero_point must be a scalar or [N] of B's type ${b.dtype}, got ${bzp.dtype} [${bzp.shape}]`;
  return undefined;
}

defineOp({
  name: 'matmul_integer',
  onnx: { domain: '', type: 'MatMulInteger' },
  summary:
    'int32 matmul of 8-bit operands: (A - a_zero_point) · (B - b_zero_point), numpy batching (scalar a zero point; scalar or per-column b)',
  inputs: [{ name: 'A' }, { name: 'B' }, { name: 'a_zero_point', optional: true }, { name: 'b_zero_point', optional: true }],
  outputs: [{ name: 'Y' }],
  attrs: {},
  infer(ctx) {
    const [a, b, azp, bzp] = ctx.inputs;
    const bad = matmulIntegerProblem(a!, b!, azp, bzp);
    if (bad) ctx.error(/not supported/.test(bad) ? 'LUT1115' : 'LUT1112', `matmul_integer: ${bad}`);
    return [{ dtype: 'i32', shape: matmulDims(a!.shape, b!.shape, ruleErr(ctx)) }];
  },
  interp([a, b, azp, bzp], ctx) {
    const bad = matmulIntegerProblem(a!, b!, azp, bzp);
    if (bad) return ctx.error('LUT3052', `matmul_integer: ${bad}`);
    const N = b!.shape[b!.shape.length - 1]!;
    const az = azp ? azp.data[0]! : 0;
    const shift = (t: Tensor, zp: (i: number) => number): Tensor => ({
      dtype: 'i32',
      shape: [...t.shape],
      data: Int32Array.from(t.data as ArrayLike<number>, (v, i) => v - zp(i)),
    });
    const A = shift(a!, () => az);
    const B = shift(b!, (i) => (bzp ? bzp.data[bzp.data.length === 1 ? 0 : i % N]! : 0));
    return findOp('matmul')!.interp([A, B], ctx);
  },
});

// ---- gemm -------------------------------------------------------------------------------------------

function gemmDims(
  a: readonly Dim[],
  b: readonly Dim[],
  c: readonly Dim[] | undefined,
  transA: boolean,
  transB: boolean,
  err: ErrFn,
): Dim[] {
  if (a.length !== 2 || b.length !== 2) err(`gemm needs 2-D A and B, got [${a.join(', ')}] and [${b.join(', ')}]`);
  const [M, Ka] = transA ? [a[1]!, a[0]!] : [a[0]!, a[1]!];
  const [Kb, N] = transB ? [b[1]!, b[0]!] : [b[0]!, b[1]!];
  if (unifyDim(Ka, Kb) === null) err(`inner dims differ: op(A) is [${M}, ${Ka}], op(B) is [${Kb}, ${N}]`);
  if (c) {
    // C broadcasts one way only: each of its (right-aligned) dims is 1 or the target's.
    const target = [M, N];
    if (c.length > 2) err(`C [${c.join(', ')}] has rank > 2`);
    c.forEach((d, i) => {
      const t = target[2 - c.length + i]!;
      if (typeof d === 'number' && d !== 1 && typeof t === 'number' && d !== t)
        err(`C [${c.join(', ')}] does not broadcast to [${M}, ${N}]`);
    });
  }
  return [M, N];
}

defineOp({
  name: 'gemm',
  onnx: { domain: '', type: 'Gemm' },
  summary: 'Y = alpha * op(A) op(B) + beta * C, op transposing when transA/transB; C broadcast to [M, N].',
  inputs: [{ name: 'A' }, { name: 'B' }, { name: 'C', optional: true }],
  outputs: [{ name: 'Y' }],
  attrs: {
    alpha: { type: 'float', default: 1 },
    beta: { type: 'float', default: 1 },
    transA: { type: 'int', default: 0 },
    transB: { type: 'int', default: 0 },
  },
  infer(ctx) {
    const [a, b, c] = ctx.inputs;
    if (a!.dtype !== b!.dtype || (c && c.dtype !== a!.dtype))
      ctx.error('LUT1112', `operand dtypes differ: ${ctx.inputs.map((t) => t?.dtype ?? '-').join(', ')}`);
    if (!SUPPORTED.has(a!.dtype)) ctx.error('LUT1112', `gemm does not take ${a!.dtype}`);
    const shape = gemmDims(a!.shape, b!.shape, c?.shape, ctx.attrs.transA !== 0, ctx.attrs.transB !== 0, ruleErr(ctx));
    return [{ dtype: a!.dtype, shape }];
  },
  interp([a, b, c], ctx) {
    const transA = ctx.attrs.transA !== 0;
    const transB = ctx.attrs.transB !== 0;
    const [M, N] = concrete(gemmDims(a!.shape, b!.shape, c?.shape, transA, transB, (m) => ctx.error('LUT3054', m))) as [number, number];
    const K = transA ? a!.shape[0]! : a!.shape[1]!;
    const alpha = ctx.attrs.alpha as number;
    const beta = ctx.attrs.beta as number;
    const dtype = a!.dtype;
    const round = storeRounder(dtype);
    const A = a!.data;
    const B = b!.data;
    const out = allocData(dtype, M * N);
    const cIdx = c && beta !== 0 ? broadcastIndex(c.shape, [M, N]) : undefined;
    const acc = new Float64Array(N);
    const aRow = new Float64Array(K);
    for (let m = 0; m < M; m++) {
      // Row m of op(A), gathered once so both inner loops below read it contiguously.
      if (transA) for (let k = 0; k < K; k++) aRow[k] = A[k * M + m]!;
      else for (let k = 0; k < K; k++) aRow[k] = A[m * K + k]!;
      if (transB) {
        // B is [N, K]: each output is a contiguous dot product (the layout of linear layers).
        for (let n = 0; n < N; n++) {
          let s = 0;
          const br = n * K;
          for (let k = 0; k < K; k++) s += aRow[k]! * B[br + k]!;
          acc[n] = s;
        }
      } else {
        acc.fill(0);
        for (let k = 0; k < K; k++) {
          const av = aRow[k]!;
          const br = k * N;
          for (let n = 0; n < N; n++) acc[n]! += av * B[br + n]!;
        }
      }
      for (let n = 0; n < N; n++) {
        let y = alpha * acc[n]!;
        if (cIdx) y += beta * c!.data[cIdx[m * N + n]!]!;
        out[m * N + n] = round(y);
      }
    }
    return [{ dtype, shape: [M, N], data: out }];
  },
});

// ---- matmul_nbits -----------------------------------------------------------------------------------

interface NBitsGeometry {
  K: number;
  N: number;
  bits: number;
  blockSize: number;
  kBlocks: number;
  blob: number;
  /** Bytes per row of packed uint8 zero points. */
  zpRow: number;
}

function nbitsGeometry(attrs: Record<string, unknown>, err: ErrFn): NBitsGeometry {
  const [K, N, bits, blockSize] = [attrs.K, attrs.N, attrs.bits, attrs.block_size] as number[];
  if (attrs.weight_prepacked !== undefined && attrs.weight_prepacked !== 0)
    err('weight_prepacked != 0: prepacked (backend-specific) weights cannot be read');
  if (bits !== 2 && bits !== 4 && bits !== 8) err(`bits = ${bits} is not supported (2, 4 or 8)`);
  if (!(blockSize! >= 16) || (blockSize! & (blockSize! - 1)) !== 0) err(`block_size = ${blockSize} must be a power of two >= 16`);
  if (!(K! > 0) || !(N! > 0)) err(`K = ${K} and N = ${N} must be positive`);
  const kBlocks = Math.ceil(K! / blockSize!);
  return {
    K: K!,
    N: N!,
    bits: bits!,
    blockSize: blockSize!,
    kBlocks,
    blob: (blockSize! * bits!) / 8,
    zpRow: Math.ceil((kBlocks * bits!) / 8),
  };
}

/** Static numel of a type's shape, undefined when symbolic. */
function staticNumel(shape: readonly Dim[]): number | undefined {
  return shape.every((d) => typeof d === 'number') ? numel(shape as number[]) : undefined;
}

/** Checks operand sizes against the geometry (docs/onnx-inputs.md); `numelOf` is undefined for an omitted operand. */
function checkNBitsOperands(g: NBitsGeometry, numelOf: (i: number) => number | undefined, zpIsU8: boolean, err: ErrFn): void {
  const want: [number, string, number][] = [
    [1, 'B', g.N * g.kBlocks * g.blob],
    [2, 'scales', g.N * g.kBlocks],
    [3, 'zero_points', zpIsU8 ? g.N * g.zpRow : g.N * g.kBlocks],
    [4, 'g_idx', g.K],
    [5, 'bias', g.N],
  ];
  for (const [i, name, n] of want) {
    const have = numelOf(i);
    if (have !== undefined && have !== n)
      err(`${name} has ${have} elements, K = ${g.K}, N = ${g.N}, bits = ${g.bits}, block_size = ${g.blockSize} need ${n}`);
  }
}

/** g_idx is accepted only when it is the identity grouping k -> floor(k / block_size). */
function gIdxIsTrivial(gIdx: Tensor, blockSize: number): boolean {
  for (let k = 0; k < gIdx.data.length; k++) if (gIdx.data[k] !== Math.floor(k / blockSize)) return false;
  return true;
}

defineOp({
  name: 'matmul_nbits',
  onnx: { domain: 'com.microsoft', type: 'MatMulNBits' },
  summary: 'Y = A · Wᵀ with W [N, K] block-quantized to 2/4/8 bits (B packed LSB first, W = (q - zp) * scale) + bias.',
  inputs: [
    { name: 'A' },
    { name: 'B' },
    { name: 'scales' },
    { name: 'zero_points', optional: true },
    { name: 'g_idx', optional: true },
    { name: 'bias', optional: true },
  ],
  outputs: [{ name: 'Y' }],
  attrs: {
    K: { type: 'int', required: true },
    N: { type: 'int', required: true },
    bits: { type: 'int', default: 4 },
    block_size: { type: 'int', required: true },
    accuracy_level: { type: 'int', default: 0 },
    weight_prepacked: { type: 'int', default: 0 },
    /** lutc-internal (never in ONNX files): 'i8' = the int8-activation path (i8ComputeProblem's conditions). */
    compute: { type: 'string', default: 'f32', oneOf: ['f32', 'i8'] },
  },
  infer(ctx) {
    const g = nbitsGeometry(ctx.attrs, (m) => ctx.error('LUT1120', m));
    const [a, b, s, zp, gi, bias] = ctx.inputs;
    const err = ruleErr(ctx);
    if (ctx.attrs.compute === 'i8') {
      const bad = i8ComputeProblem(ctx.attrs, a!.dtype, zp?.dtype, !!gi);
      if (bad) ctx.error('LUT1120', `compute = 'i8': ${bad}`);
    }
    if (!isFloat(a!.dtype) || s!.dtype !== a!.dtype) err(`A and scales must share a float type, got ${a!.dtype} and ${s!.dtype}`, 'dtype');
    if (b!.dtype !== 'u8') err(`B must be uint8, got ${b!.dtype}`, 'dtype');
    if (zp && zp.dtype !== 'u8' && zp.dtype !== a!.dtype) err(`zero_points must be uint8 or ${a!.dtype}, got ${zp.dtype}`, 'dtype');
    if (bias && bias.dtype !== a!.dtype) err(`bias must be ${a!.dtype}, got ${bias.dtype}`, 'dtype');
    checkNBitsOperands(g, (i) => (ctx.inputs[i] ? staticNumel(ctx.inputs[i]!.shape) : undefined), zp?.dtype === 'u8', err);
    if (gi) {
      const t = ctx.constInput(4);
      if (!t || !gIdxIsTrivial(t, g.blockSize))
        ctx.error('LUT1121', 'g_idx (act-order) that is not the identity grouping k / block_size is not supported');
    }
    if (a!.shape.length < 1 || unifyDim(a!.shape[a!.shape.length - 1]!, g.K) === null)
      err(`A [${a!.shape.join(', ')}] must end in K = ${g.K}`);
    return [{ dtype: a!.dtype, shape: [...a!.shape.slice(0, -1), g.N] }];
  },
  interp([a, b, s, zp, gi, bias], ctx) {
    const g = nbitsGeometry(ctx.attrs, (m) => ctx.error('LUT3054', m));
    const { K, N, bits, blockSize, kBlocks, blob, zpRow } = g;
    const err: ErrFn = (m) => ctx.error('LUT3054', m);
    checkNBitsOperands(g, (i) => [a, b, s, zp, gi, bias][i]?.data.length, zp?.dtype === 'u8', err);
    if (gi && !gIdxIsTrivial(gi, blockSize))
      ctx.error('LUT3053', 'g_idx (act-order) that is not the identity grouping k / block_size is not supported');
    if (a!.shape[a!.shape.length - 1] !== K) err(`A [${a!.shape.join(', ')}] must end in K = ${K}`);
    const M = a!.data.length / K;
    const dtype = a!.dtype;
    const round = storeRounder(dtype);
    const [A, B, S] = [a!.data, b!.data, s!.data];
    if (ctx.attrs.compute === 'i8') {
      const bad = i8ComputeProblem(ctx.attrs, dtype, zp?.dtype, !!gi);
      if (bad) return ctx.error('LUT3054', `compute = 'i8': ${bad}`);
      const y = nbitsI8(A, B, S, zp?.data, bias?.data, M, g);
      return [{ dtype, shape: [...a!.shape.slice(0, -1), N], data: y }];
    }
    const mask = (1 << bits) - 1;
    const defaultZp = 1 << (bits - 1);
    const w = new Float64Array(K);
    const out = allocData(dtype, M * N);
    for (let n = 0; n < N; n++) {
      // Dequantize row n of W once (in the activation type, as ORT does), then use it for every token.
      for (let kb = 0; kb < kBlocks; kb++) {
        const scale = S[n * kBlocks + kb]!;
        let z = defaultZp;
        if (zp?.dtype === 'u8') {
          const byte = zp.data[n * zpRow + ((kb * bits) >> 3)]!;
          z = (byte >> ((kb * bits) & 7)) & mask;
        } else if (zp) z = zp.data[n * kBlocks + kb]!;
        const base = (n * kBlocks + kb) * blob;
        const end = Math.min(blockSize, K - kb * blockSize);
        for (let i = 0; i < end; i++) {
          const q = (B[base + ((i * bits) >> 3)]! >> ((i * bits) & 7)) & mask;
          w[kb * blockSize + i] = round(round(q - z) * scale);
        }
      }
      const bv = bias ? bias.data[n]! : 0;
      for (let m = 0; m < M; m++) {
        let acc = 0;
        const ar = m * K;
        for (let k = 0; k < K; k++) acc += A[ar + k]! * w[k]!;
        out[m * N + n] = round(acc + bv);
      }
    }
    return [{ dtype, shape: [...a!.shape.slice(0, -1), N], data: out }];
  },
});

// ---- matmul_nbits, compute = 'i8' -------------------------------------------------------------------

/** Largest block_size of the int8 path: every block's integer sum (|sum| <= bs * 127 * 255) is exact in f32. */
export const I8_MAX_BLOCK = 512;

/**
 * Why a matmul_nbits cannot take `compute = 'i8'` (undefined: it can): 8-bit weights, f32
 * activations, uint8 (or absent: 128) zero points, no g_idx, block_size <= I8_MAX_BLOCK.
 */
export function i8ComputeProblem(
  attrs: Record<string, unknown>,
  aDtype: string,
  zpDtype: string | undefined,
  hasGIdx: boolean,
): string | undefined {
  if (attrs.bits !== 8) return `bits = ${String(attrs.bits)}: the int8 path takes 8-bit weights only`;
  if (aDtype !== 'f32') return `activations are ${aDtype}: the int8 path takes f32 activations`;
  if (zpDtype !== undefined && zpDtype !== 'u8') return `zero points are ${zpDtype}: the int8 path takes uint8 (or no) zero points`;
  if (hasGIdx) return 'g_idx is given: the int8 path takes none';
  if ((attrs.block_size as number) > I8_MAX_BLOCK) return `block_size = ${String(attrs.block_size)} > ${I8_MAX_BLOCK}`;
  return undefined;
}

/** f32(1 / 127): the activation scale is sa = f32(amax * I8_INV127), a correctly rounded product on every target. */
export const I8_INV127 = Math.fround(1 / 127);

const f32Cell = new Float32Array(1);
const u32Cell = new Uint32Array(f32Cell.buffer);

/**
 * a = round-half-to-even of the exact real 127 * x / amax, for x, amax given as f32 bit patterns with
 * |x| <= amax, amax finite and nonzero (docs/lut-format.md). Integer arithmetic only, so every target
 * computes it identically: with x = mx * 2^ex, amax = mA * 2^eA (24-bit significands), the quotient is
 * 127 * mx / (mA * 2^(eA - ex)); shifts above 8 give < 0.5, i.e. 0.
 */
export function quantI8(xBits: number, amaxBits: number): number {
  const ax = xBits & 0x7fffffff;
  if (ax === 0) return 0;
  const eA = amaxBits >>> 23;
  const ex = ax >>> 23;
  const mA = eA ? (amaxBits & 0x7fffff) | 0x800000 : amaxBits & 0x7fffff;
  const mx = ex ? (ax & 0x7fffff) | 0x800000 : ax & 0x7fffff;
  const sh = Math.max(eA, 1) - Math.max(ex, 1);
  if (sh > 8) return 0;
  const num = 127 * mx; // < 2^31
  const den = mA * 2 ** sh; // < 2^32
  let q = Math.floor(num / den); // exact: num / den is at least 2^-32 from the next integer, 39 bits of a double's 53
  const r = num - q * den;
  if (r > den - r || (r === den - r && (q & 1) === 1)) q++;
  return (xBits & 0x80000000) !== 0 ? -q | 0 : q;
}

/**
 * Quantizes x[off .. off + len) (one block of one row) into `out` at `oo` (int8 values, entries len..bs
 * untouched); returns [sa, asum]: the block's scale f32(amax / 127) (0 for an all-zero block, NaN or
 * Inf when the block holds one, so its contribution is NaN) and the sum of its a.
 */
export function quantizeI8Block(x: ArrayLike<number>, off: number, len: number, out: Int32Array | Int8Array, oo: number): [number, number] {
  let amaxBits = 0;
  for (let i = 0; i < len; i++) {
    f32Cell[0] = x[off + i]!;
    const ab = u32Cell[0]! & 0x7fffffff;
    if (ab > amaxBits) amaxBits = ab;
  }
  u32Cell[0] = amaxBits;
  const amax = f32Cell[0]!;
  const sa = Math.fround(amax * I8_INV127);
  let asum = 0;
  for (let i = 0; i < len; i++) {
    let a = 0;
    if (amaxBits !== 0 && amaxBits < 0x7f800000) {
      f32Cell[0] = x[off + i]!;
      a = quantI8(u32Cell[0]!, amaxBits);
    }
    out[oo + i] = a;
    asum += a;
  }
  return [sa, asum];
}

/**
 * The int8 path: per row m and block b, y[m, n] = f32 sum over b in order of
 * f32(f32(sa[m,b] * sw[n,b]) * (sum_k a[m,k] w[n,k] - zp[n,b] * asum[m,b])), then + bias (f32).
 */
function nbitsI8(
  A: TensorData,
  B: TensorData,
  S: TensorData,
  Z: TensorData | undefined,
  bias: TensorData | undefined,
  M: number,
  g: NBitsGeometry,
): Float32Array {
  const { K, N, blockSize: bs, kBlocks } = g;
  const aq = new Int32Array(kBlocks * bs);
  const sa = new Float64Array(kBlocks);
  const asum = new Float64Array(kBlocks);
  const out = new Float32Array(M * N);
  for (let m = 0; m < M; m++) {
    aq.fill(0);
    for (let kb = 0; kb < kBlocks; kb++) {
      const len = Math.min(bs, K - kb * bs);
      [sa[kb], asum[kb]] = quantizeI8Block(A, m * K + kb * bs, len, aq, kb * bs);
    }
    for (let n = 0; n < N; n++) {
      let acc = 0;
      for (let kb = 0; kb < kBlocks; kb++) {
        const base = (n * kBlocks + kb) * bs;
        const len = Math.min(bs, K - kb * bs);
        let dot = 0;
        for (let i = 0; i < len; i++) dot += aq[kb * bs + i]! * B[base + i]!;
        const zp = Z ? Z[n * kBlocks + kb]! : 128;
        const isum = dot - zp * asum[kb]!;
        acc = Math.fround(acc + Math.fround(Math.fround(sa[kb]! * S[n * kBlocks + kb]!) * isum));
      }
      out[m * N + n] = bias ? Math.fround(acc + bias[n]!) : acc;
    }
  }
  return out;
}
