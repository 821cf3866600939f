/**
 * WGSL renderers of the elementwise graph ops (ir/ops/elementwise.ts, math.ts): numpy-broadcasting
 * binary ops and comparisons, variadic max/min, where, bit_shift, unary math and activations, ceil /
 * floor / round and trigonometry (WGSL builtins), clip and cast. One invocation
 * per output element; broadcast operands index through static strides (shader-common.ts). Semantics
 * follow each op's `interp`: integer division by zero gives 0, max/min propagate NaN, float->int casts
 * truncate and saturate (NaN -> 0), int->int casts wrap, anything->bool is `!= 0`. `floatOpExpr`
 * hands the same expressions to lut.matmul's fused epilogue (lut-steps.ts): one definition per op.
 * Runtime dims: the count, coordinates and broadcast strides read the DIMS uniform (shader-common.ts).
 */

import { intRange } from '../../ir/ops/numeric.js';
import { numel } from '../../ir/tensor.js';
import type { Attrs, DType } from '../../ir/types.js';
import { inputIndex } from '../model-plan.js';
import {
  accessors,
  coords,
  dimsOf,
  f,
  grid1Of,
  type Kernel,
  type Kind,
  kindOf,
  lit,
  main1,
  numelD,
  operandIndex,
  type StepCtx,
  sameShape,
  u,
  WGSL_TYPE,
} from './shader-common.js';

/**
 * Shared WGSL helpers, included by the shaders that use them (unused functions are harmless). The one
 * definition of each float transcendental of this backend, in f32 with no WGSL builtin exp / log /
 * tanh / erf (their precision is the implementation's: the WGSL spec allows exp 3 + 2|x| ulp, log
 * 2^-21 absolute near 1, tanh whatever sinh / cosh give, which is no relative accuracy near 0).
 * NaN is tested on the bits (isnanf): SwiftShader folds `x != x` to false. Errors measured against
 * float64 on SwiftShader (test/backends/float-math.test.ts, in units u = 2^-24 of |y|):
 *   expf: Cody-Waite reduction x = n ln2 + r (n * 0.693359375 exact), e^r = 1 + r + r^2 p(r) with
 *     the Taylor series to r^8 (truncation < 1e-8 relative), 2^n in two normal factors so results
 *     in the denormals round once. <= 2 u.
 *   expm1f: the Taylor series to x^10 for |x| < ln 2 (no cancellation near 0), e^x - 1 beyond.
 *   log1c(f) = log(1 + f) for 1 + f in [sqrt(1/2), sqrt(2)): 2 atanh(s) = f - s (f - R),
 *     s = f / (2 + f), R = 2s^2/3 + ... + 2s^10/11 (|s| < 0.172: truncation < 1e-9).
 *   logf: x = 2^k m, m in [sqrt(1/2), sqrt(2)), log1c(m - 1) (m - 1 exact) + k ln2 split hi/lo.
 *   log1pf: log1c(y) where 1 + y is in log1c's range (y itself, no rounding of 1 + y), else
 *     logf(1 + y). (Goldberg's log(u) y / (u - 1) does not survive SwiftShader, which folds
 *     (1 + y) - 1 to y.)
 *   tanhf: e / (e + 2), e = expm1(2|x|); 1 to f32 precision past |x| = 9.1.
 *   sigm: e^-|x| (never overflows), 1 / (1 + e) or e / (1 + e).
 *   softplusf: log1p(e^-|x|), plus x when x > 0.
 *   erff: rational approximation below |x| = 0.9; beyond, 1 - erfc with erfc from erfcq.
 *   erfcq(z, hi, lo) = erfc(z) with z^2 = hi + lo given split (hi exact): Numerical Recipes' erfc
 *     fit t exp(-z^2 + P(t)), t = 1 / (1 + z/2) (1.2e-7 relative), as e^-hi e^(P - lo) so that the
 *     rounding of z^2 (up to 6e-6 relative at z = 10) never reaches the exponent.
 *   gelu_erf: 0.5 x (1 + erf(x / sqrt 2)); below x = -0.5 as 0.5 x erfc(-x / sqrt 2) with x^2 / 2
 *     split from x itself (no cancellation and no rounding of x / sqrt 2 in the exponent).
 *   gelu_tanh: x sigmoid(2 sqrt(2/pi) (x + 0.044715 x^3)) (= 0.5 x (1 + tanh(..)), no cancellation).
 */
export const MATH_LIB = `
fn isnanf(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }
fn p2i(n: i32) -> f32 { return bitcast<f32>(u32(n + 127) << 23u); }
fn expf(x: f32) -> f32 {
  if (isnanf(x)) { return x; }
  if (x > 88.7228394) { return bitcast<f32>(INFB); }
  if (x < -103.972084) { return 0.0; }
  let n = round(x * 1.44269502);
  let r = (x - n * 0.693359375) - n * -2.12194440e-4;
  var p = 2.48015873e-5;
  p = p * r + 1.98412698e-4;
  p = p * r + 1.38888889e-3;
  p = p * r + 8.33333333e-3;
  p = p * r + 4.16666667e-2;
  p = p * r + 1.66666667e-1;
  p = p * r + 0.5;
  let e = 1.0 + (r + r * r * p);
  let k = i32(n);
  let h = k / 2;
  return e * p2i(h) * p2i(k - h);
}
fn expm1f(x: f32) -> f32 {
  if (abs(x) < 0.693147) {
    var p = 2.75573192e-7;
    p = p * x + 2.75573192e-6;
    p = p * x + 2.48015873e-5;
    p = p * x + 1.98412698e-4;
    p = p * x + 1.38888889e-3;
    p = p * x + 8.33333333e-3;
    p = p * x + 4.16666667e-2;
    p = p * x + 1.66666667e-1;
    p = p * x + 0.5;
    return x + x * x * p;
  }
  return expf(x) - 1.0;
}
fn log1c(f: f32) -> f32 {
  let s = f / (2.0 + f);
  let z = s * s;
  var R = z * 1.81818182e-1 + 2.22222222e-1;
  R = z * R + 2.85714286e-1;
  R = z * R + 0.4;
  R = z * R + 6.66666667e-1;
  return f - s * (f - z * R);
}
fn logf(x0: f32) -> f32 {
  if (isnanf(x0) || x0 < 0.0) { return bitcast<f32>(NANB); }
  if (x0 == 0.0) { return bitcast<f32>(NINFB); }
  if (x0 == bitcast<f32>(INFB)) { return x0; }
  var x = x0;
  var k = 0;
  if (x < 1.17549435e-38) { x = x * 16777216.0; k = -24; }
  let b = bitcast<u32>(x);
  k += i32(b >> 23u) - 127;
  var m = bitcast<f32>((b & 0x007fffffu) | 0x3f800000u);
  if (m > 1.41421356) { m = m * 0.5; k += 1; }
  let kf = f32(k);
  return kf * 0.693359375 + (kf * -2.12194440e-4 + log1c(m - 1.0));
}
fn log1pf(y: f32) -> f32 {
  if (y > -0.29289322 && y < 0.41421356) { return log1c(y); }
  return logf(1.0 + y);
}
fn tanhf(x: f32) -> f32 {
  if (isnanf(x)) { return x; }
  let e = expm1f(2.0 * min(abs(x), 9.5));
  let t = e / (e + 2.0);
  return select(t, -t, x < 0.0);
}
fn sigm(x: f32) -> f32 {
  let e = expf(-abs(x));
  return select(e / (1.0 + e), 1.0 / (1.0 + e), x >= 0.0);
}
fn softplusf(x: f32) -> f32 {
  let l = log1pf(expf(-abs(x)));
  return select(l, x + l, x > 0.0);
}
fn erfcq(z: f32, hi: f32, lo: f32) -> f32 {
  let t = 1.0 / (1.0 + 0.5 * z);
  var p = t * 0.17087277 + -0.82215223;
  p = t * p + 1.48851587;
  p = t * p + -1.13520398;
  p = t * p + 0.27886807;
  p = t * p + -0.18628806;
  p = t * p + 0.09678418;
  p = t * p + 0.37409196;
  p = t * p + 1.00002368;
  p = t * p + -1.26551223;
  return t * expf(p - lo) * expf(-hi);
}
fn erff(x0: f32) -> f32 {
  if (isnanf(x0)) { return x0; }
  let a = abs(x0);
  if (a >= 0.9) {
    let z = min(a, 10.0);
    let zh = bitcast<f32>(bitcast<u32>(z) & 0xfffff000u);
    let r = 1.0 - erfcq(z, zh * zh, (z - zh) * (z + zh));
    return select(r, -r, x0 < 0.0);
  }
  let x = x0;
  let x2 = x * x;
  var p = x2 * -2.72614225801306e-10 + 2.77068142495902e-08;
  p = x2 * p + -2.10102402082508e-06;
  p = x2 * p + -5.69250639462346e-05;
  p = x2 * p + -7.34990630326855e-04;
  p = x2 * p + -2.95459980854025e-03;
  p = x2 * p + -1.60960333262415e-02;
  p = x * p;
  var q = x2 * -1.45660718464996e-05 + -2.13374055278905e-04;
  q = x2 * q + -1.68282697438203e-03;
  q = x2 * q + -7.37332916720468e-03;
  q = x2 * q + -1.42647390514189e-02;
  return p / q;
}
fn gelu_erf(x: f32) -> f32 {
  if (x < -0.5) {
    let a = max(x, -15.0);
    let xh = bitcast<f32>(bitcast<u32>(a) & 0xfffff000u);
    return 0.5 * x * erfcq(a * -0.707106781, 0.5 * xh * xh, 0.5 * (a - xh) * (a + xh));
  }
  return 0.5 * x * (1.0 + erff(x * 0.707106781));
}
fn gelu_tanh(x: f32) -> f32 { return x * sigm(1.59576912 * (x + 0.044715 * x * x * x)); }
fn fmx(a: f32, b: f32) -> f32 { if (isnanf(a) || isnanf(b)) { return a + b; } return select(b, a, a > b); }
fn fmn(a: f32, b: f32) -> f32 { if (isnanf(a) || isnanf(b)) { return a + b; } return select(b, a, a < b); }
fn powf(x: f32, y: f32) -> f32 {
  if (y == 0.0) { return 1.0; }
  if (y == 1.0) { return x; }
  if (y == 2.0) { return x * x; }
  if (y == 0.5 && x >= 0.0) { return sqrt(x); }
  if (x > 0.0) { return exp2(y * log2(x)); }
  if (x == 0.0) { return select(0.0, bitcast<f32>(INFB), y < 0.0); }
  if (isnanf(x) || floor(y) != y) { return bitcast<f32>(NANB); }
  let r = exp2(y * log2(-x));
  return select(r, -r, abs(y) % 2.0 == 1.0);
}
fn powi(x: i32, y: i32) -> i32 {
  if (y < 0) { return select(0, select(1, select(1, -1, (y & 1) != 0), x == -1), x == 1 || x == -1); }
  var r = 1;
  for (var e = 0; e < y; e++) { r = r * x; }
  return r;
}
`;

type Expr = (a: string, b: string) => string;

/** Binary op expressions per operand kind (null: the op does not take that kind). */
const BINARY: Record<string, (k: Kind) => Expr | null> = {
  add: () => (a, b) => `${a} + ${b}`,
  sub: () => (a, b) => `${a} - ${b}`,
  mul: () => (a, b) => `${a} * ${b}`,
  div: (k) => (k === 'f' ? (a, b) => `${a} / ${b}` : (a, b) => `select(${a} / ${b}, ${lit(k, 0)}, ${b} == ${lit(k, 0)})`),
  max: (k) => (k === 'f' ? (a, b) => `fmx(${a}, ${b})` : (a, b) => `max(${a}, ${b})`),
  min: (k) => (k === 'f' ? (a, b) => `fmn(${a}, ${b})` : (a, b) => `min(${a}, ${b})`),
  equal: () => (a, b) => `select(0u, 1u, ${a} == ${b})`,
  less: () => (a, b) => `select(0u, 1u, ${a} < ${b})`,
  greater: () => (a, b) => `select(0u, 1u, ${a} > ${b})`,
  greater_or_equal: () => (a, b) => `select(0u, 1u, ${a} >= ${b})`,
  less_or_equal: () => (a, b) => `select(0u, 1u, ${a} <= ${b})`,
  and: () => (a, b) => `select(0u, 1u, ${a} != 0u && ${b} != 0u)`,
  or: () => (a, b) => `select(0u, 1u, ${a} != 0u || ${b} != 0u)`,
};

type UExpr = (x: string, a: Attrs) => string;
const floatOnly = (e: UExpr) => (k: Kind) => (k === 'f' ? e : null);

/** Trigonometric ops: WGSL builtins of the same names. */
const TRIG = ['sin', 'cos', 'tan', 'asin', 'acos', 'atan', 'sinh', 'cosh', 'asinh', 'acosh', 'atanh'];

const UNARY: Record<string, (k: Kind) => UExpr | null> = {
  sqrt: floatOnly((x) => `sqrt(${x})`),
  reciprocal: floatOnly((x) => `1.0 / ${x}`),
  exp: floatOnly((x) => `expf(${x})`),
  log: floatOnly((x) => `logf(${x})`),
  erf: floatOnly((x) => `erff(${x})`),
  tanh: floatOnly((x) => `tanhf(${x})`),
  sigmoid: floatOnly((x) => `sigm(${x})`),
  softplus: floatOnly((x) => `softplusf(${x})`),
  neg: (k) => (k === 'u' ? null : (x) => `-${x}`),
  abs: (k) => (k === 'u' ? (x) => x : (x) => `abs(${x})`),
  relu: (k) => (k === 'u' ? null : (x) => `select(${x}, ${lit(k, 0)}, ${x} < ${lit(k, 0)})`),
  leaky_relu: floatOnly((x, a) => `select(${x}, ${f((a.alpha as number | undefined) ?? 0.01)} * ${x}, ${x} < 0.0)`),
  gelu: floatOnly((x, a) => (a.approximate === 'tanh' ? `gelu_tanh(${x})` : `gelu_erf(${x})`)),
  not: () => (x) => `select(1u, 0u, ${x} != 0u)`,
  ceil: floatOnly((x) => `ceil(${x})`),
  floor: floatOnly((x) => `floor(${x})`),
  round: floatOnly((x) => `round(${x})`), // WGSL's round takes halves to even
  ...Object.fromEntries(TRIG.map((fn) => [fn, floatOnly((x) => `${fn}(${x})`)])),
};

/**
 * The f32 WGSL expression of unary or binary graph op `op` (attributes `a`) on operand expressions
 * `args`: the same expressions as the standalone shaders, for lut.matmul's fused epilogue
 * (lut-steps.ts). Operands may be evaluated more than once. Undefined when the op has none.
 */
export function floatOpExpr(op: string, a: Attrs, args: string[]): string | undefined {
  if (args.length === 1) return UNARY[op]?.('f')?.(args[0]!, a) ?? undefined;
  if (args.length === 2) return BINARY[op]?.('f')?.(args[0]!, args[1]!) ?? undefined;
  return undefined;
}

/** Ops this file renders. */
export const ELEMENTWISE_OPS = new Set([...Object.keys(BINARY), ...Object.keys(UNARY), 'pow', 'where', 'clip', 'cast', 'bit_shift']);

function unsupportedKind(c: StepCtx, dt: DType): never {
  return c.fail('LUT5204', `${c.node.op} on ${dt} is not supported by the WGSL backend`);
}

/** One elementwise kernel: `expr` is the stored value, operands read as in0(idx0), in1(idx1), ... (runtime dims too). */
function elementwise(c: StepCtx, expr: (ops: string[]) => string): Kernel[] {
  const out = c.outs[0]!;
  const od = dimsOf(out);
  const needCoords = c.ins.some((p) => p && !sameShape(dimsOf(p), od));
  const cc = needCoords ? coords(od, 'i', 'c', c.dim) : { code: '', c: [] };
  const ops = c.ins.map((p, j) => (p ? `in${j}(${operandIndex(dimsOf(p), od, cc.c, c.dim)})` : ''));
  const body = `${cc.code}  out0(i, ${expr(ops)});`;
  const n = numelD(od);
  return [
    {
      label: c.node.name,
      code: main1(n, body, accessors(c) + MATH_LIB, c.dim),
      ...grid1Of(n, numel(out.shape)),
    },
  ];
}

/** Float -> int conversion of `x` to `to`: truncate, saturate to the type's range, NaN -> 0. */
function floatToInt(x: string, to: DType): string {
  const k = kindOf(to);
  const [lo, hi] = to === 'i64' ? [-(2 ** 31), 2 ** 31 - 1] : to === 'u64' ? [0, 2 ** 32 - 1] : intRange(to);
  const t = `trunc(${x})`;
  if (hi - lo < 2 ** 24) return `select(${WGSL_TYPE[k]}(clamp(${t}, ${f(lo)}, ${f(hi)})), ${lit(k, 0)}, isnanf(${x}))`;
  // i32/u32 bounds are not f32 values: clamp below the largest f32 under 2^31 (2^32), then pin the top.
  const top = k === 'i' ? 2147483520 : 4294967040;
  return `select(select(${WGSL_TYPE[k]}(clamp(${t}, ${f(lo)}, ${f(top)})), ${lit(k, hi)}, ${t} > ${f(top)}), ${lit(k, 0)}, isnanf(${x}))`;
}

function castExpr(c: StepCtx, x: string, from: DType, to: DType): string {
  const [kf, kt] = [kindOf(from), kindOf(to)];
  if (to === 'bool') return `select(0u, 1u, ${x} != ${lit(kf, 0)})`;
  if (kt === 'f') return kf === 'f' ? x : `f32(${x})`;
  if (kf === 'f') return floatToInt(x, to);
  // int -> int: two's complement reinterpretation; the store wraps to the target width.
  if ((from === 'u32' || from === 'u64') && to === 'i64')
    c.fail('LUT5205', `cast ${from} -> i64 can exceed the i32 range the WGSL backend holds i64 in`);
  return kf === kt ? x : `bitcast<${WGSL_TYPE[kt]}>(${x})`;
}

/** Renders an elementwise op, or undefined when `op` is not one. */
export function renderElementwise(c: StepCtx): Kernel[] | undefined {
  const op = c.node.op;
  const dt0 = c.ins[0]?.dtype ?? 'f32';
  const k = kindOf(dt0);
  if (op in BINARY) {
    const e = BINARY[op]!(k) ?? unsupportedKind(c, dt0);
    const n = c.ins.length;
    return elementwise(c, (o) => (n === 1 ? o[0]! : o.slice(1).reduce((acc, b) => e(acc, b), o[0]!)));
  }
  if (op in UNARY) {
    const e = UNARY[op]!(k) ?? unsupportedKind(c, dt0);
    return elementwise(c, (o) => e(o[0]!, c.attrs));
  }
  switch (op) {
    case 'pow': {
      const y = c.ins[inputIndex(c, 'Y')]!;
      const ky = kindOf(y.dtype);
      if (k === 'f') return elementwise(c, (o) => `powf(${o[0]}, ${ky === 'f' ? o[1] : `f32(${o[1]})`})`);
      if (ky === 'f') unsupportedKind(c, `${dt0} ^ ${y.dtype}` as DType);
      return elementwise(c, (o) => `powi(${o[0]}, ${ky === 'i' ? o[1] : `i32(${o[1]})`})`);
    }
    case 'where':
      return elementwise(c, (o) => `select(${o[2]}, ${o[1]}, ${o[0]} != 0u)`);
    case 'bit_shift': {
      // unsigned ints (u64 held in 32 bits); shifts of the type's width or more give 0, as the interpreter
      const bits = ({ u8: 8, u16: 16, u32: 32, u64: 64 } as Record<string, number>)[dt0] ?? 32;
      const op = c.attrs.direction === 'LEFT' ? '<<' : '>>';
      return elementwise(c, (o) => `select((${o[0]} ${op} min(${o[1]}, 31u)), 0u, ${o[1]} >= ${u(Math.min(bits, 32))})`);
    }
    case 'clip': {
      const bound = (name: string, d: number) => {
        const j = inputIndex(c, name);
        const t = c.constOf(j);
        if (!c.ins[j]) return lit(k, d);
        return t ? (Number.isFinite(t.data[0]!) || k === 'f' ? lit(k, t.data[0]!) : lit(k, d)) : `in${j}(0u)`;
      };
      const [lo, hi] = [
        bound('min', k === 'f' ? -Infinity : k === 'i' ? -(2 ** 31) : 0),
        bound('max', k === 'f' ? Infinity : k === 'i' ? 2 ** 31 - 1 : 2 ** 32 - 1),
      ];
      // min(max(x, lo), hi) as the interpreter: min > max gives max; NaN stays NaN.
      return elementwise(c, (o) =>
        k === 'f' ? `select(min(max(${o[0]}, ${lo}), ${hi}), ${o[0]}, isnanf(${o[0]}))` : `min(max(${o[0]}, ${lo}), ${hi})`,
      );
    }
    case 'cast': {
      const to = c.outs[0]!.dtype;
      return elementwise(c, (o) => castExpr(c, o[0]!, dt0, to));
    }
  }
  return undefined;
}
