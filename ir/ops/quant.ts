/**
 * Op definitions: dequantize_linear and quantize_linear (opset 21 forms). One scale layout rule serves
 * both: a per-tensor scalar, a per-axis 1-D scale along `axis`, or (block_size > 0) a blocked scale of
 * the input's rank with ceil(dim / block_size) entries along `axis`. The zero point has the scale's
 * shape. Arithmetic follows ORT's float kernels: dequantize float32((x - zp)) * scale in float32;
 * quantize round-half-to-even(float32(x / scale)) + zp, saturated to the integer type's range.
 * dynamic_quantize_linear (ai.onnx DynamicQuantizeLinear, the q8/int8 exports' activation quantizer)
 * computes its uint8 scale and zero point from the data as onnxruntime's CPU kernel does, in float32.
 */
import { defineOp } from '../optable.js';
import { allocData, intRange, isFloat, numel, ONNX_DTYPES, roundHalfEven } from '../tensor.js';
import type { Dim, DType } from '../types.js';
import { type ErrFn, ruleErr, storeRounder, unifyDim } from './dims.js';
import { normalizeAxis } from './util.js';

/** How a scale tensor maps onto the input. */
export interface ScaleLayout {
  mode: 'tensor' | 'axis' | 'block';
  /** Normalized axis (0 for per-tensor). */
  axis: number;
}

const QUANT_TYPES: ReadonlySet<DType> = new Set(['i8', 'u8', 'i16', 'u16', 'i4', 'u4']);
const DEQUANT_TYPES: ReadonlySet<DType> = new Set(['i8', 'u8', 'i16', 'u16', 'i4', 'u4', 'i32']);

/** Decides and checks the scale layout (docs/onnx-inputs.md; blocked scales for int4 weights included). */
export function scaleLayout(x: readonly Dim[], s: readonly Dim[], axisAttr: number, blockSize: number, err: ErrFn): ScaleLayout {
  if (blockSize < 0) err(`block_size = ${blockSize} must not be negative`, 'value');
  if (blockSize === 0 && (s.length === 0 || (s.length === 1 && s[0] === 1 && x.length === 0))) return { mode: 'tensor', axis: 0 };
  if (blockSize === 0 && s.length === 1 && s[0] === 1) {
    // A [1] scale is per-tensor whatever the axis (rank-1 per-axis of a size-1 axis means the same).
    return { mode: 'tensor', axis: 0 };
  }
  const axis = normalizeAxis(axisAttr, x.length);
  if (axis < 0) err(`axis ${axisAttr} is out of range for rank ${x.length}`, 'axis');
  if (blockSize === 0) {
    if (s.length !== 1 || unifyDim(s[0]!, x[axis]!) === null)
      err(`a per-axis scale must be 1-D of size ${x[axis]} (axis ${axis}), got [${s.join(', ')}]`);
    return { mode: 'axis', axis };
  }
  if (s.length !== x.length) err(`a blocked scale must have the input's rank ${x.length}, got [${s.join(', ')}]`);
  s.forEach((d, i) => {
    const xd = x[i]!;
    const want = i === axis ? (typeof xd === 'number' ? Math.ceil(xd / blockSize) : d) : xd;
    if (unifyDim(d, want) === null)
      err(`blocked scale [${s.join(', ')}] does not fit input [${x.join(', ')}] with block_size ${blockSize} on axis ${axis}`);
  });
  return { mode: 'block', axis };
}

/**
 * Calls `f(xi, si)` for every input element with the index of its scale: walks the input as
 * [outer, axis, inner] so the blocked index needs no division per element beyond the block's.
 */
function forEachScaled(
  x: readonly number[],
  s: readonly number[],
  layout: ScaleLayout,
  blockSize: number,
  f: (xi: number, si: number) => void,
): void {
  if (layout.mode === 'tensor') {
    const n = numel(x);
    for (let i = 0; i < n; i++) f(i, 0);
    return;
  }
  const a = layout.axis;
  const outer = numel(x.slice(0, a));
  const d = x[a]!;
  const inner = numel(x.slice(a + 1));
  const sd = s[a] ?? 1;
  let xi = 0;
  for (let o = 0; o < outer; o++)
    for (let j = 0; j < d; j++) {
      const sBase = layout.mode === 'axis' ? j : (o * sd + Math.floor(j / blockSize)) * inner;
      const sStep = layout.mode === 'axis' ? 0 : 1;
      for (let k = 0; k < inner; k++) f(xi++, sBase + k * sStep);
    }
}

function checkZeroPoint(
  zp: { dtype: DType; shape: readonly Dim[] } | null | undefined,
  s: readonly Dim[],
  dtype: DType | undefined,
  err: ErrFn,
): void {
  if (!zp) return;
  if (dtype && zp.dtype !== dtype) err(`zero point has dtype ${zp.dtype}, expected ${dtype}`, 'dtype');
  const n = (sh: readonly Dim[]) => (sh.every((v) => typeof v === 'number') ? numel(sh as number[]) : undefined);
  const [a, b] = [n(zp.shape), n(s)];
  if (a !== undefined && b !== undefined && a !== b) err(`zero point [${zp.shape.join(', ')}] does not match scale [${s.join(', ')}]`);
}

// ---- dequantize_linear ------------------------------------------------------------------------------

/** DequantizeLinear's result type: the scale's float type (or output_dtype when set, opset 23). */
function dequantOutType(scale: DType, outputDtype: number, err: ErrFn): DType {
  if (!outputDtype) return scale;
  const t = ONNX_DTYPES[outputDtype];
  if (!t || !isFloat(t)) err(`output_dtype ${outputDtype} is not a float type`, 'value');
  return t;
}

defineOp({
  name: 'dequantize_linear',
  onnx: { domain: '', type: 'DequantizeLinear' },
  summary: 'y = (x - zero_point) * scale with per-tensor, per-axis or blocked scales.',
  inputs: [{ name: 'x' }, { name: 'x_scale' }, { name: 'x_zero_point', optional: true }],
  outputs: [{ name: 'y' }],
  attrs: { axis: { type: 'int', default: 1 }, block_size: { type: 'int', default: 0 }, output_dtype: { type: 'int', default: 0 } },
  infer(ctx) {
    const [x, s, zp] = ctx.inputs;
    const err = ruleErr(ctx);
    if (!DEQUANT_TYPES.has(x!.dtype)) err(`x must be an 8/16/4-bit or int32 integer type, got ${x!.dtype}`, 'dtype');
    if (!isFloat(s!.dtype)) err(`x_scale must be a float type, got ${s!.dtype}`, 'dtype');
    scaleLayout(x!.shape, s!.shape, ctx.attrs.axis as number, ctx.attrs.block_size as number, err);
    checkZeroPoint(zp, s!.shape, x!.dtype, err);
    return [{ dtype: dequantOutType(s!.dtype, ctx.attrs.output_dtype as number, err), shape: [...x!.shape] }];
  },
  interp([x, s, zp], ctx) {
    const err: ErrFn = (m) => ctx.error('LUT3052', m);
    const bs = ctx.attrs.block_size as number;
    const layout = scaleLayout(x!.shape, s!.shape, ctx.attrs.axis as number, bs, err);
    checkZeroPoint(zp, s!.shape, undefined, err);
    const dtype = dequantOutType(s!.dtype, ctx.attrs.output_dtype as number, err);
    const round = storeRounder(dtype);
    const out = allocData(dtype, x!.data.length);
    const [X, S, Z] = [x!.data, s!.data, zp?.data];
    const fr = Math.fround;
    forEachScaled(x!.shape, s!.shape, layout, bs, (xi, si) => {
      out[xi] = round(fr(fr(X[xi]! - (Z ? Z[si]! : 0)) * S[si]!));
    });
    return [{ dtype, shape: [...x!.shape], data: out }];
  },
});

// ---- quantize_linear --------------------------------------------------------------------------------

/** QuantizeLinear's result type: the zero point's, else output_dtype, else uint8. */
function quantOutType(zp: DType | undefined, outputDtype: number, err: ErrFn): DType {
  const fromAttr = outputDtype ? ONNX_DTYPES[outputDtype] : undefined;
  if (outputDtype && !fromAttr) err(`output_dtype ${outputDtype} is not a supported type`, 'value');
  if (zp && fromAttr && zp !== fromAttr) err(`output_dtype (${fromAttr}) and the zero point's dtype (${zp}) differ`, 'dtype');
  const t = zp ?? fromAttr ?? 'u8';
  if (!QUANT_TYPES.has(t)) err(`cannot quantize to ${t} (int8/uint8/int16/uint16/int4/uint4)`, 'dtype');
  return t;
}

defineOp({
  name: 'quantize_linear',
  onnx: { domain: '', type: 'QuantizeLinear' },
  summary: 'y = saturate(round_half_even(x / scale) + zero_point) with per-tensor, per-axis or blocked scales.',
  inputs: [{ name: 'x' }, { name: 'y_scale' }, { name: 'y_zero_point', optional: true }],
  outputs: [{ name: 'y' }],
  attrs: {
    axis: { type: 'int', default: 1 },
    saturate: { type: 'int', default: 1 },
    block_size: { type: 'int', default: 0 },
    output_dtype: { type: 'int', default: 0 },
  },
  infer(ctx) {
    const [x, s, zp] = ctx.inputs;
    const err = ruleErr(ctx);
    if (!isFloat(x!.dtype)) err(`x must be a float type, got ${x!.dtype}`, 'dtype');
    if (!isFloat(s!.dtype)) err(`y_scale must be a float type, got ${s!.dtype}`, 'dtype');
    scaleLayout(x!.shape, s!.shape, ctx.attrs.axis as number, ctx.attrs.block_size as number, err);
    checkZeroPoint(zp, s!.shape, undefined, err);
    return [{ dtype: quantOutType(zp?.dtype, ctx.attrs.output_dtype as number, err), shape: [...x!.shape] }];
  },
  interp([x, s, zp], ctx) {
    const err: ErrFn = (m) => ctx.error('LUT3052', m);
    const bs = ctx.attrs.block_size as number;
    const layout = scaleLayout(x!.shape, s!.shape, ctx.attrs.axis as number, bs, err);
    checkZeroPoint(zp, s!.shape, undefined, err);
    const dtype = quantOutType(zp?.dtype, ctx.attrs.output_dtype as number, err);
    // saturate only changes float8 results (integers always saturate); lutc stores no float8 types.
    const [lo, hi] = intRange(dtype);
    const out = allocData(dtype, x!.data.length);
    const [X, S, Z] = [x!.data, s!.data, zp?.data];
    forEachScaled(x!.shape, s!.shape, layout, bs, (xi, si) => {
      const q = roundHalfEven(Math.fround(X[xi]! / S[si]!)) + (Z ? Z[si]! : 0);
      out[xi] = Number.isNaN(q) ? 0 : Math.min(hi, Math.max(lo, q));
    });
    return [{ dtype, shape: [...x!.shape], data: out }];
  },
});

// ---- dynamic_quantize_linear ------------------------------------------------------------------------

defineOp({
  name: 'dynamic_quantize_linear',
  onnx: { domain: '', type: 'DynamicQuantizeLinear' },
  summary:
    'uint8 quantization with data-derived parameters: scale = (max(x, 0) - min(x, 0)) / 255 (1 when equal), zero_point = round(clip(-min / scale, 0, 255)), y = saturate(round(x / scale) + zero_point)',
  inputs: [{ name: 'x' }],
  outputs: [{ name: 'y' }, { name: 'y_scale' }, { name: 'y_zero_point' }],
  attrs: {},
  infer(ctx) {
    const x = ctx.inputs[0]!;
    if (x.dtype !== 'f32') ruleErr(ctx)(`x must be float32, got ${x.dtype}`, 'dtype');
    return [
      { dtype: 'u8', shape: [...x.shape] },
      { dtype: 'f32', shape: [] },
      { dtype: 'u8', shape: [] },
    ];
  },
  interp([x]) {
    const fr = Math.fround;
    const X = x!.data;
    let [mn, mx] = [0, 0];
    for (let i = 0; i < X.length; i++) {
      const v = X[i]!;
      if (v < mn) mn = v;
      if (v > mx) mx = v;
    }
    const scale = mx === mn ? 1 : fr(fr(mx - mn) / 255);
    const zp = roundHalfEven(Math.max(0, Math.min(255, -fr(mn / scale))));
    const y = new Uint8Array(X.length);
    for (let i = 0; i < X.length; i++) y[i] = Math.max(0, Math.min(255, roundHalfEven(fr(X[i]! / scale)) + zp));
    return [
      { dtype: 'u8', shape: [...x!.shape], data: y },
      { dtype: 'f32', shape: [], data: new Float32Array([scale]) },
      { dtype: 'u8', shape: [], data: new Uint8Array([zp]) },
    ];
  },
});
