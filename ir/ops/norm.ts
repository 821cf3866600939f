/**
 * Normalization ops: layer_norm (ONNX LayerNormalization), skip_layer_norm (ORT contrib: residual add
 * + LayerNorm), simplified_layer_norm (RMSNorm, ORT's SimplifiedLayerNormalization) and
 * skip_simplified_layer_norm (ORT contrib: residual add + RMSNorm).
 * Statistics are computed in doubles per normalized row (two passes for the variance, so no
 * cancellation), the stashed Mean/InvStdDev are rounded to their stash type, Y to X's type.
 */
import { defineOp, type InferCtx } from '../optable.js';
import { allocData, numel } from '../tensor.js';
import type { Dim, DType, Tensor, TensorType } from '../types.js';
import { FLOAT_TYPES, isFloatType, ONNX_DTYPES, operandType, sameDtype, storer } from './numeric.js';
import { broadcastIndex, broadcastShapes, normalizeAxis } from './util.js';

/** Shape of the stashed statistics: X's shape with the normalized dims (axis..end) set to 1. */
function statShape<D extends Dim>(shape: readonly D[], axis: number): D[] {
  return shape.map((d, i) => (i < axis ? d : (1 as D)));
}

/** Checks that `t` broadcasts (one-directionally) to the normalized dims `norm`. */
function checkToNorm(ctx: InferCtx, t: TensorType | null, norm: readonly Dim[], what: string): void {
  if (!t) return;
  const r = broadcastShapes([norm, t.shape]);
  const ok = typeof r !== 'string' && r.length === norm.length && r.every((d, i) => typeof norm[i] !== 'number' || d === norm[i]);
  if (!ok) ctx.error('LUT1110', `${ctx.node.op}: ${what} of shape [${t.shape}] does not broadcast to the normalized shape [${norm}]`);
}

/** Per-element index into a parameter tensor broadcast over the normalized dims, or null if absent. */
function paramIndex(t: Tensor | null, norm: number[]): Int32Array | null {
  return t ? broadcastIndex(t.shape, norm) : null;
}

/** The stash (statistics) dtype: f64 for f64 inputs, else f32 (ORT's U for these ops). */
function statDtype(x: DType): DType {
  return x === 'f64' ? 'f64' : 'f32';
}

defineOp({
  name: 'layer_norm',
  onnx: { domain: '', type: 'LayerNormalization' },
  summary: 'Y = (X - mean) / sqrt(var + epsilon) * Scale + B over dims axis..end; optional Mean, InvStdDev',
  inputs: [{ name: 'X' }, { name: 'Scale' }, { name: 'B', optional: true }],
  outputs: [{ name: 'Y' }, { name: 'Mean', optional: true }, { name: 'InvStdDev', optional: true }],
  attrs: {
    axis: { type: 'int', default: -1 },
    epsilon: { type: 'float', default: 1e-5 },
    stash_type: { type: 'int', default: 1 },
  },
  infer(ctx) {
    const x = operandType(ctx, 0, FLOAT_TYPES);
    operandType(ctx, 1, FLOAT_TYPES);
    sameDtype(ctx, [0, 1, 2]);
    const axis = normalizeAxis(ctx.attrs.axis as number, x.shape.length);
    if (axis < 0) ctx.error('LUT1113', `layer_norm: axis ${String(ctx.attrs.axis)} is out of range for rank ${x.shape.length}`);
    const u = ONNX_DTYPES[ctx.attrs.stash_type as number];
    if (u === undefined || !isFloatType(u))
      return ctx.error('LUT1115', `layer_norm: stash_type ${String(ctx.attrs.stash_type)} is not a float type`);
    const norm = x.shape.slice(axis);
    checkToNorm(ctx, ctx.inputs[1]!, norm, 'Scale');
    checkToNorm(ctx, ctx.inputs[2] ?? null, norm, 'B');
    const stat = { dtype: u, shape: statShape(x.shape, axis) };
    return [{ dtype: x.dtype, shape: [...x.shape] }, stat, { ...stat, shape: [...stat.shape] }];
  },
  interp([x, scale, bias], ctx) {
    const X = x!;
    const axis = normalizeAxis(ctx.attrs.axis as number, X.shape.length);
    if (axis < 0) ctx.error('LUT3030', `layer_norm: axis ${String(ctx.attrs.axis)} is out of range for rank ${X.shape.length}`);
    const u = ONNX_DTYPES[ctx.attrs.stash_type as number] ?? 'f32';
    const norm = X.shape.slice(axis);
    const h = numel(norm);
    const rows = numel(X.shape.slice(0, axis));
    const eps = ctx.attrs.epsilon as number;
    const si = paramIndex(scale!, norm)!;
    const bi = paramIndex(bias ?? null, norm);
    const y = allocData(X.dtype, X.data.length);
    const mean = allocData(u, rows);
    const inv = allocData(u, rows);
    const sy = storer(X.dtype);
    const su = storer(u);
    const d = X.data;
    for (let r = 0; r < rows; r++) {
      const base = r * h;
      let s = 0;
      for (let j = 0; j < h; j++) s += d[base + j]!;
      const m = s / h;
      let v = 0;
      for (let j = 0; j < h; j++) v += (d[base + j]! - m) ** 2;
      const is = 1 / Math.sqrt(v / h + eps);
      mean[r] = su(m);
      inv[r] = su(is);
      for (let j = 0; j < h; j++) {
        const b = bi ? bias!.data[bi[j]!]! : 0;
        y[base + j] = sy((d[base + j]! - m) * is * scale!.data[si[j]!]! + b);
      }
    }
    const stat = statShape(X.shape, axis);
    return [
      { dtype: X.dtype, shape: [...X.shape], data: y },
      { dtype: u, shape: stat, data: mean },
      { dtype: u, shape: [...stat], data: inv },
    ];
  },
});

/**
 * RMS-normalizes rows of `h` elements read through `get`, writing `out[r*h + j] = v / rms * gamma[j]`
 * (+ nothing else); returns the per-row 1/rms. Shared by both simplified norms.
 */
function rmsRows(
  rows: number,
  h: number,
  get: (i: number) => number,
  gamma: (j: number) => number,
  eps: number,
  out: (i: number, v: number) => void,
): Float64Array {
  const inv = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let ss = 0;
    for (let j = 0; j < h; j++) ss += get(r * h + j) ** 2;
    const is = 1 / Math.sqrt(ss / h + eps);
    inv[r] = is;
    for (let j = 0; j < h; j++) out(r * h + j, get(r * h + j) * is * gamma(j));
  }
  return inv;
}

defineOp({
  name: 'simplified_layer_norm',
  // ORT registers SimplifiedLayerNormalization in the default ONNX domain (onnxruntime-genai exports it
  // there); only the Skip variant lives in com.microsoft.
  onnx: { domain: '', type: 'SimplifiedLayerNormalization' },
  summary: 'RMSNorm: Y = X / sqrt(mean(X^2) + epsilon) * scale over dims axis..end; optional inv_std_var',
  inputs: [{ name: 'X' }, { name: 'scale' }],
  outputs: [{ name: 'Y' }, { name: 'inv_std_var', optional: true }],
  attrs: {
    axis: { type: 'int', default: -1 },
    epsilon: { type: 'float', default: 1e-5 },
    stash_type: { type: 'int', default: 1 },
  },
  infer(ctx) {
    const x = operandType(ctx, 0, FLOAT_TYPES);
    operandType(ctx, 1, FLOAT_TYPES);
    sameDtype(ctx, [0, 1]);
    const axis = normalizeAxis(ctx.attrs.axis as number, x.shape.length);
    if (axis < 0) ctx.error('LUT1113', `simplified_layer_norm: axis ${String(ctx.attrs.axis)} is out of range for rank ${x.shape.length}`);
    checkToNorm(ctx, ctx.inputs[1]!, x.shape.slice(axis), 'scale');
    return [
      { dtype: x.dtype, shape: [...x.shape] },
      { dtype: statDtype(x.dtype), shape: statShape(x.shape, axis) },
    ];
  },
  interp([x, scale], ctx) {
    const X = x!;
    const axis = normalizeAxis(ctx.attrs.axis as number, X.shape.length);
    if (axis < 0) ctx.error('LUT3030', `simplified_layer_norm: axis ${String(ctx.attrs.axis)} is out of range for rank ${X.shape.length}`);
    const norm = X.shape.slice(axis);
    const h = numel(norm);
    const rows = numel(X.shape.slice(0, axis));
    const si = paramIndex(scale!, norm)!;
    const y = allocData(X.dtype, X.data.length);
    const sy = storer(X.dtype);
    const inv = rmsRows(
      rows,
      h,
      (i) => X.data[i]!,
      (j) => scale!.data[si[j]!]!,
      ctx.attrs.epsilon as number,
      (i, v) => (y[i] = sy(v)),
    );
    const ud = statDtype(X.dtype);
    return [
      { dtype: X.dtype, shape: [...X.shape], data: y },
      { dtype: ud, shape: statShape(X.shape, axis), data: mapStore(ud, inv) },
    ];
  },
});

function mapStore(dt: DType, v: Float64Array): Tensor['data'] {
  const out = allocData(dt, v.length);
  const st = storer(dt);
  for (let i = 0; i < v.length; i++) out[i] = st(v[i]!);
  return out;
}

/**
 * S = input + skip (+ bias) of the Skip*LayerNormalization ops. ORT forms S in float and normalizes
 * that float S; only the input_skip_bias_sum output is rounded to T (checked against onnxruntime-node
 * for f16). Returns both.
 */
function skipSum(X: Tensor, skip: Tensor, bias: Tensor | null, ski: Int32Array, bi: Int32Array | null, h: number) {
  const sx = storer(X.dtype);
  const sumF = new Float32Array(X.data.length);
  const sum = allocData(X.dtype, X.data.length);
  for (let i = 0; i < sum.length; i++) {
    sumF[i] = Math.fround(X.data[i]! + skip.data[ski[i]!]!) + (bias && bi ? bias.data[bi[i % h]!]! : 0);
    sum[i] = sx(sumF[i]!);
  }
  return { sumF, sum };
}

defineOp({
  name: 'skip_simplified_layer_norm',
  onnx: { domain: 'com.microsoft', type: 'SkipSimplifiedLayerNormalization' },
  summary:
    'S = input + skip (+ bias); output = RMSNorm(S) * gamma over the last dim; optional mean (all 0, as ORT), inv_std_var, input_skip_bias_sum (= S)',
  inputs: [{ name: 'input' }, { name: 'skip' }, { name: 'gamma' }, { name: 'bias', optional: true }],
  outputs: [
    { name: 'output' },
    { name: 'mean', optional: true },
    { name: 'inv_std_var', optional: true },
    { name: 'input_skip_bias_sum', optional: true },
  ],
  // ORT's default epsilon for the SkipLayerNormalization family (kDefaultSkipLayerNormEpsilon).
  attrs: { epsilon: { type: 'float', default: 1e-12 } },
  infer(ctx) {
    const x = operandType(ctx, 0, FLOAT_TYPES);
    for (const i of [1, 2]) operandType(ctx, i, FLOAT_TYPES);
    sameDtype(ctx, [0, 1, 2, 3]);
    if (x.shape.length < 2) ctx.error('LUT1110', `skip_simplified_layer_norm: input must have rank 2 or 3, got [${x.shape}]`);
    checkToNorm(ctx, ctx.inputs[1]!, x.shape, 'skip');
    const hidden = x.shape.slice(-1);
    checkToNorm(ctx, ctx.inputs[2]!, hidden, 'gamma');
    checkToNorm(ctx, ctx.inputs[3] ?? null, hidden, 'bias');
    // ORT's U for this op is float for every T.
    const stat: TensorType = { dtype: 'f32', shape: statShape(x.shape, x.shape.length - 1) };
    return [{ dtype: x.dtype, shape: [...x.shape] }, stat, { ...stat, shape: [...stat.shape] }, { dtype: x.dtype, shape: [...x.shape] }];
  },
  interp([x, skip, gamma, bias], ctx) {
    const X = x!;
    const h = X.shape[X.shape.length - 1]!;
    const rows = numel(X.shape.slice(0, -1));
    const ski = broadcastIndex(skip!.shape, X.shape);
    const gi = broadcastIndex(gamma!.shape, [h]);
    const bi = paramIndex(bias ?? null, [h]);
    const sx = storer(X.dtype);
    const { sumF, sum } = skipSum(X, skip!, bias ?? null, ski, bi, h);
    const y = allocData(X.dtype, X.data.length);
    const eps = ctx.attrs.epsilon as number;
    const inv = rmsRows(
      rows,
      h,
      (i) => sumF[i]!,
      (j) => gamma!.data[gi[j]!]!,
      eps,
      (i, v) => (y[i] = sx(v)),
    );
    const stat = statShape(X.shape, X.shape.length - 1);
    return [
      { dtype: X.dtype, shape: [...X.shape], data: y },
      { dtype: 'f32', shape: stat, data: new Float32Array(rows) }, // RMSNorm has no mean; ORT writes 0
      { dtype: 'f32', shape: [...stat], data: mapStore('f32', inv) },
      { dtype: X.dtype, shape: [...X.shape], data: sum },
    ];
  },
});

defineOp({
  name: 'skip_layer_norm',
  onnx: { domain: 'com.microsoft', type: 'SkipLayerNormalization' },
  summary:
    'S = input + skip (+ bias); output = LayerNorm(S) * gamma (+ beta) over the last dim; optional mean, inv_std_var, input_skip_bias_sum (= S)',
  inputs: [{ name: 'input' }, { name: 'skip' }, { name: 'gamma' }, { name: 'beta', optional: true }, { name: 'bias', optional: true }],
  outputs: [
    { name: 'output' },
    { name: 'mean', optional: true },
    { name: 'inv_std_var', optional: true },
    { name: 'input_skip_bias_sum', optional: true },
  ],
  attrs: { epsilon: { type: 'float', default: 1e-12 } },
  infer(ctx) {
    const x = operandType(ctx, 0, FLOAT_TYPES);
    for (const i of [1, 2]) operandType(ctx, i, FLOAT_TYPES);
    sameDtype(ctx, [0, 1, 2, 3, 4]);
    if (x.shape.length < 2) ctx.error('LUT1110', `skip_layer_norm: input must have rank 2 or 3, got [${x.shape}]`);
    checkToNorm(ctx, ctx.inputs[1]!, x.shape, 'skip');
    const hidden = x.shape.slice(-1);
    checkToNorm(ctx, ctx.inputs[2]!, hidden, 'gamma');
    checkToNorm(ctx, ctx.inputs[3] ?? null, hidden, 'beta');
    checkToNorm(ctx, ctx.inputs[4] ?? null, hidden, 'bias');
    const stat: TensorType = { dtype: 'f32', shape: statShape(x.shape, x.shape.length - 1) };
    return [{ dtype: x.dtype, shape: [...x.shape] }, stat, { ...stat, shape: [...stat.shape] }, { dtype: x.dtype, shape: [...x.shape] }];
  },
  interp([x, skip, gamma, beta, bias], ctx) {
    const X = x!;
    const h = X.shape[X.shape.length - 1]!;
    const rows = numel(X.shape.slice(0, -1));
    const ski = broadcastIndex(skip!.shape, X.shape);
    const gi = broadcastIndex(gamma!.shape, [h]);
    const be = paramIndex(beta ?? null, [h]);
    const bi = paramIndex(bias ?? null, [h]);
    const sx = storer(X.dtype);
    const { sumF, sum } = skipSum(X, skip!, bias ?? null, ski, bi, h);
    const y = allocData(X.dtype, X.data.length);
    const mean = new Float32Array(rows);
    const inv = new Float32Array(rows);
    const eps = ctx.attrs.epsilon as number;
    for (let r = 0; r < rows; r++) {
      const base = r * h;
      let s = 0;
      for (let j = 0; j < h; j++) s += sumF[base + j]!;
      const m = s / h;
      let v = 0;
      for (let j = 0; j < h; j++) v += (sumF[base + j]! - m) ** 2;
      const is = 1 / Math.sqrt(v / h + eps);
      mean[r] = m;
      inv[r] = is;
      for (let j = 0; j < h; j++) {
        y[base + j] = sx((sumF[base + j]! - m) * is * gamma!.data[gi[j]!]! + (be ? beta!.data[be[j]!]! : 0));
      }
    }
    const stat = statShape(X.shape, X.shape.length - 1);
    return [
      { dtype: X.dtype, shape: [...X.shape], data: y },
      { dtype: 'f32', shape: stat, data: mean },
      { dtype: 'f32', shape: [...stat], data: inv },
      { dtype: X.dtype, shape: [...X.shape], data: sum },
    ];
  },
});
