/**
 * Numeric helpers shared by the elementwise, reduce and norm op definitions: dtype classes and the
 * dtype checks of shape rules, storing a computed value the way ONNX/ORT would (f16/bf16 rounding,
 * integer wrap-around), Cast's conversion rules, the ONNX data-type enum, an erf accurate to
 * double precision (JavaScript has none), and the one definition of the scalar activations
 * (sigmoid, softplus, gelu) that several op definitions share.
 */
import type { InferCtx } from '../optable.js';
import { roundTo } from '../tensor.js';
import type { DType, TensorType } from '../types.js';

export const FLOAT_TYPES: readonly DType[] = ['f32', 'f16', 'bf16', 'f64'];
export const INT_TYPES: readonly DType[] = ['i4', 'u4', 'i8', 'u8', 'i16', 'u16', 'i32', 'u32', 'i64', 'u64'];
export const SIGNED_TYPES: readonly DType[] = ['f32', 'f16', 'bf16', 'f64', 'i4', 'i8', 'i16', 'i32', 'i64'];
export const NUMERIC_TYPES: readonly DType[] = [...FLOAT_TYPES, ...INT_TYPES];
export const ALL_TYPES: readonly DType[] = [...NUMERIC_TYPES, 'bool'];
export const BOOL_TYPES: readonly DType[] = ['bool'];

/** ONNX TensorProto.DataType numbers lutc has a dtype for (Cast's `to`). */
export { intRange, ONNX_DTYPES } from '../tensor.js';

import { intRange } from '../tensor.js';

export function isFloatType(dt: DType): boolean {
  return dt === 'f32' || dt === 'f16' || dt === 'bf16' || dt === 'f64';
}

/**
 * The type of input `i`, which must be present (else LUT1116) and of one of `allowed` dtypes (else
 * LUT1112), naming the op, the operand and the dtype.
 */
export function operandType(ctx: InferCtx, i: number, allowed: readonly DType[]): TensorType {
  const t = ctx.inputs[i];
  if (!t) ctx.error('LUT1116', `${ctx.node.op}: operand ${i} is missing`);
  if (!allowed.includes(t.dtype)) {
    ctx.error('LUT1112', `${ctx.node.op}: operand ${i} has dtype ${t.dtype}, expected one of ${allowed.join(', ')}`);
  }
  return t;
}

/** Checks that every present input among `indices` has the same dtype (ONNX's shared type `T`); returns it. */
export function sameDtype(ctx: InferCtx, indices: readonly number[]): DType {
  let dt: DType | undefined;
  for (const i of indices) {
    const t = ctx.inputs[i];
    if (!t) continue;
    if (dt === undefined) dt = t.dtype;
    else if (t.dtype !== dt) ctx.error('LUT1112', `${ctx.node.op}: operand dtypes differ (${dt} and ${t.dtype}); ONNX requires them equal`);
  }
  if (dt === undefined) ctx.error('LUT1116', `${ctx.node.op}: no operands`);
  return dt;
}

const TWO64 = 2 ** 64;
const TWO63 = 2 ** 63;

/**
 * How a computed value is stored in a tensor of `dt`: floats round to their type (Float32Array does
 * f32 itself), integers truncate toward zero then wrap modulo 2^bits as C/ORT integer arithmetic does
 * (8/16/32-bit typed arrays wrap by themselves; i4/u4/i64/u64 need it done here), bool is nonzero.
 */
export function storer(dt: DType): (v: number) => number {
  switch (dt) {
    // ORT computes f16/bf16 ops in float and rounds the float result: round to f32 first, then to the type.
    case 'f16':
    case 'bf16':
      return (v) => roundTo(dt, Math.fround(v));
    case 'f32':
    case 'f64':
      return (v) => v;
    case 'i8':
    case 'u8':
    case 'i16':
    case 'u16':
    case 'i32':
    case 'u32':
      return (v) => v; // ToInt32/ToUint32 on store truncates and wraps; NaN stores 0
    case 'i4':
      return (v) => (((Math.trunc(v) | 0) & 15) ^ 8) - 8;
    case 'u4':
      return (v) => (Math.trunc(v) | 0) & 15;
    case 'i64':
      return (v) => wrapWide(v, true);
    case 'u64':
      return (v) => wrapWide(v, false);
    case 'bool':
      return (v) => (v !== 0 ? 1 : 0);
  }
}

/**
 * i64/u64 wrap in double storage. 2^63 (resp. 2^64) is how INT64_MAX (UINT64_MAX) itself rounds in a
 * double (ir/types.ts), so the closed range is kept as is; only values beyond it wrap.
 */
function wrapWide(v: number, signed: boolean): number {
  if (!Number.isFinite(v)) return 0;
  let t = Math.trunc(v);
  if (signed ? t >= -TWO63 && t <= TWO63 : t >= 0 && t <= TWO64) return t + 0; // + 0 normalizes -0
  t %= TWO64;
  if (signed) {
    if (t > TWO63) t -= TWO64;
    else if (t < -TWO63) t += TWO64;
  } else if (t < 0) t += TWO64;
  return t + 0;
}

/**
 * Cast's element conversion from `from` to `to`. Float -> int truncates toward zero and saturates to
 * the target range (NaN -> 0): ONNX leaves out-of-range results undefined and ORT's static_cast gives
 * platform-specific garbage, so saturation is our documented choice. Int -> int wraps (two's
 * complement), as static_cast does. Anything -> bool is `v != 0` (NaN is true, as in C++). To f16/bf16
 * rounds to nearest even.
 */
export function castConverter(from: DType, to: DType): (v: number) => number {
  if (to === 'bool') return (v) => (v !== 0 ? 1 : 0);
  if (isFloatType(to)) return storer(to);
  const store = storer(to);
  if (isFloatType(from)) {
    const [lo, hi] = intRange(to);
    return (v) => (Number.isNaN(v) ? 0 : store(Math.min(hi, Math.max(lo, Math.trunc(v)))));
  }
  return store;
}

// ---- erf ---------------------------------------------------------------------------------------

const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);

/**
 * The error function to about 1e-15 relative: the Maclaurin series below |x| = 2 (terms peak near
 * e^(x^2) ~ 55, costing about two of double's sixteen digits) and the erfc continued fraction above,
 * where erfc < 0.005 so its truncation error barely reaches erf. f32/f16 results need far less; the
 * margin keeps the reference honest for f64.
 */
export function erf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const a = Math.abs(x);
  if (a < 2) {
    const x2 = x * x;
    let term = x; // x^(2n+1) (-1)^n / n!
    let sum = x;
    for (let n = 1; n < 200; n++) {
      term *= -x2 / n;
      const t = term / (2 * n + 1);
      sum += t;
      if (Math.abs(t) < 1e-17 * Math.abs(sum)) break;
    }
    return TWO_OVER_SQRT_PI * sum;
  }
  if (a > 6) return Math.sign(x); // erfc(6) ~ 2e-17: below double's resolution of 1
  // erfc(a) = exp(-a^2)/sqrt(pi) * 1/(a + (1/2)/(a + 1/(a + (3/2)/(a + 2/(a + ...)))))
  let f = a;
  for (let k = 120; k >= 1; k--) f = a + k / 2 / f;
  const erfc = Math.exp(-a * a) / Math.sqrt(Math.PI) / f;
  return Math.sign(x) * (1 - erfc);
}

// ---- activations -------------------------------------------------------------------------------

/** 1 / (1 + e^-x); both forms avoid exp overflow. */
export const sigmoid = (x: number): number => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)));
/** log(1 + e^x) without overflow. */
export const softplus = (x: number): number => (x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x)));
const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
/** Exact Gelu: 0.5 x (1 + erf(x / sqrt 2)). */
export const geluErf = (x: number): number => 0.5 * x * (1 + erf(x * Math.SQRT1_2));
/** Gelu's tanh approximation: 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))). */
export const geluTanh = (x: number): number => 0.5 * x * (1 + Math.tanh(SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)));
