/**
 * Transcendentals for the whole-model module, as WASM code computed in f64 and rounded once to f32:
 *   exp: range reduction x = n ln2 + r (|r| <= ln2/2, ln2 split hi/lo), degree-9 Taylor polynomial
 *        (truncation r^10/10! < 4.6e-11 relative), 2^n built from the exponent bits; argument clamped
 *        to [-708, 709] (f32 results there are 0 / inf anyway). Relative error ~1e-15 before the
 *        f32 rounding, so results are the correctly rounded f32 in practice.
 *   tanh, sigmoid: from exp in f64 of non-positive arguments; tanh is x itself below |x| = 2^-13.
 *   erfc (for Gelu's negative side): 1 - erf below 2, the fit below above.
 *   erf: Maclaurin series (33 terms, Horner in x^2: truncation < 1e-17, about one digit lost to
 *        cancellation at |x| = 2) for |x| < 2, as the interpreter (ir/ops/numeric.ts); above, Numerical
 *        Recipes' erfc Chebyshev fit (fractional error < 1.2e-7 of erfc <= erfc(2) = 4.7e-3): erf
 *        accurate to 1e-10 relative before the f32 rounding (measured 8.9e-11 against the
 *        interpreter's erf on (0, 10]) -- the one approximate routine.
 * log, pow and the trigonometric functions are imported from JS Math (module 'm'): rare in models
 * (log_softmax, Pow with an exponent other than 2, 0.5, 1, Sin / Cos of positional encodings), and a
 * JS call costs ~10 ns, measured irrelevant there; they are the interpreter's own functions.
 */
import binaryen from 'binaryen';
import { type Expr, FnBuilder } from '../builder.js';
import { type Ctx, i64Const } from './core.js';

const { f64 } = binaryen;

/** Name of `exp_f64` (f64) -> f64, added on first use. */
export function expFn(ctx: Ctx): string {
  return ctx.once('exp_f64', () => {
    const m = ctx.mod;
    const f = new FnBuilder(m, [f64]);
    const x = 0;
    const n = f.local(f64),
      r = f.local(f64),
      p = f.local(f64),
      under = f.local(binaryen.i32);
    const LOG2E = Math.LOG2E,
      LN2_HI = 0.6931471803691238,
      LN2_LO = 1.9082149292705877e-10;
    const c = (v: number) => m.f64.const(v);
    let poly: Expr = c(1 / 362880);
    for (const k of [8, 7, 6, 5, 4, 3, 2, 1, 0]) {
      let fact = 1;
      for (let i = 2; i <= k; i++) fact *= i;
      poly = m.f64.add(m.f64.mul(poly, f.get(r)), c(1 / fact));
    }
    f.finish('exp_f64', f64, [
      // e^x < 2^-1075 rounds to 0 in f64 (so e^-inf = 0 exactly, as Math.exp), though the clamp gives e^-708
      f.set(under, m.f64.lt(f.get(x), c(-745.2))),
      f.set(x, m.f64.min(m.f64.max(f.get(x), c(-708)), c(709))),
      f.set(n, m.f64.nearest(m.f64.mul(f.get(x), c(LOG2E)))),
      f.set(r, m.f64.sub(m.f64.sub(f.get(x), m.f64.mul(f.get(n), c(LN2_HI))), m.f64.mul(f.get(n), c(LN2_LO)))),
      f.set(p, poly),
      // 2^n: exponent bits (n + 1023) << 52; n in [-1022, 1023] after the clamp
      m.select(
        f.get(under),
        c(0),
        m.f64.mul(f.get(p), m.f64.reinterpret(m.i64.shl(m.i64.add(m.i64.trunc_s_sat.f64(f.get(n)), i64Const(m, 1023n)), i64Const(m, 52n)))),
      ),
    ]);
  });
}

/** exp of an f32 expression. */
export function expF32(ctx: Ctx, x: Expr): Expr {
  const m = ctx.mod;
  return m.f32.demote(m.call(expFn(ctx), [m.f64.promote(x)], f64));
}

/** Name of `sigmoid_f64`: 1 / (1 + e^-x) for x >= 0, e^x / (1 + e^x) below (the interpreter's two forms; nothing overflows). */
export function sigmoidFn(ctx: Ctx): string {
  const m = ctx.mod;
  return ctx.once('sigmoid_f64', () => {
    const f = new FnBuilder(m, [f64]);
    const e = f.local(f64);
    const one = () => m.f64.const(1);
    f.finish('sigmoid_f64', f64, [
      f.set(e, m.call(expFn(ctx), [m.f64.neg(m.f64.abs(f.get(0)))], f64)),
      m.select(
        m.f64.ge(f.get(0), m.f64.const(0)),
        m.f64.div(one(), m.f64.add(one(), f.get(e))),
        m.f64.div(f.get(e), m.f64.add(one(), f.get(e))),
      ),
    ]);
  });
}

/**
 * tanh in f64: sign(x) (1 - e^-2|x|) / (1 + e^-2|x|); x itself below |x| = 2^-13 (tanh x = x (1 - x^2/3 ..),
 * x^2/3 < 2^-27, under half an f32 ulp), where the subtraction would lose the result (tanh(1e-30) = 0).
 */
export function tanhFn(ctx: Ctx): string {
  const m = ctx.mod;
  return ctx.once('tanh_f64', () => {
    const f = new FnBuilder(m, [f64]);
    const t = f.local(f64);
    f.finish('tanh_f64', f64, [
      m.if(m.f64.lt(m.f64.abs(f.get(0)), m.f64.const(2 ** -13)), m.return(f.get(0)), m.nop()),
      f.set(t, m.call(expFn(ctx), [m.f64.mul(m.f64.const(-2), m.f64.abs(f.get(0)))], f64)),
      m.f64.copysign(m.f64.div(m.f64.sub(m.f64.const(1), f.get(t)), m.f64.add(m.f64.const(1), f.get(t))), f.get(0)),
    ]);
  });
}

/**
 * erf and erfc in f64 (see the header): `erf_f64(x)` and `erfc_f64(z)` for z >= 0, which keeps its
 * relative accuracy in the tail (Gelu's negative side) where 1 - erf would round to 0.
 */
function erfPair(ctx: Ctx): { erf: string; erfc: string } {
  const m = ctx.mod;
  const c = (v: number) => m.f64.const(v);
  const erfc = ctx.once('erfc_f64', () => {
    const f = new FnBuilder(m, [f64]);
    const z = 0;
    const t = f.local(f64);
    const coef = [
      -1.26551223, 1.00002368, 0.37409196, 0.09678418, -0.18628806, 0.27886807, -1.13520398, 1.48851587, -0.82215223, 0.17087277,
    ];
    let poly: Expr = c(coef[9]!);
    for (let i = 8; i >= 0; i--) poly = m.f64.add(m.f64.mul(f.get(t), poly), c(coef[i]!));
    f.finish('erfc_f64', f64, [
      m.if(m.f64.lt(f.get(z), c(2)), m.return(m.f64.sub(c(1), m.call('erf_f64', [f.get(z)], f64))), m.nop()),
      f.set(t, m.f64.div(c(1), m.f64.add(c(1), m.f64.mul(c(0.5), f.get(z))))),
      m.f64.mul(f.get(t), m.call(expFn(ctx), [m.f64.add(m.f64.neg(m.f64.mul(f.get(z), f.get(z))), poly)], f64)),
    ]);
  });
  const erf = ctx.once('erf_f64', () => {
    const f = new FnBuilder(m, [f64]);
    const x2 = f.local(f64);
    // series: 2/sqrt(pi) * sum (-1)^n x^(2n+1) / (n! (2n+1)), Horner in x^2
    let series: Expr = c(0);
    for (let n = 32; n >= 0; n--) {
      let fact = 1;
      for (let i = 2; i <= n; i++) fact *= i;
      series = m.f64.add(m.f64.mul(series, f.get(x2)), c((n % 2 ? -1 : 1) / (fact * (2 * n + 1))));
    }
    f.finish('erf_f64', f64, [
      f.set(x2, m.f64.mul(f.get(0), f.get(0))),
      m.if(m.f64.lt(m.f64.abs(f.get(0)), c(2)), m.return(m.f64.mul(c(2 / Math.sqrt(Math.PI)), m.f64.mul(f.get(0), series))), m.nop()),
      m.f64.copysign(m.f64.sub(c(1), m.call(erfc, [m.f64.abs(f.get(0))], f64)), f.get(0)),
    ]);
  });
  return { erf, erfc };
}

/** Name of `erf_f64` (1e-10 relative, see the header). */
export function erfFn(ctx: Ctx): string {
  return erfPair(ctx).erf;
}

/** Name of `erfc_f64(z)`, z >= 0 (1.2e-7 relative at most, the Chebyshev fit's, see the header). */
export function erfcFn(ctx: Ctx): string {
  return erfPair(ctx).erfc;
}

/** JS Math functions the module may import (module 'm'); the loader passes exactly these. */
export const JS_MATH = [
  'log',
  'log1p',
  'pow',
  'sin',
  'cos',
  'tan',
  'asin',
  'acos',
  'atan',
  'sinh',
  'cosh',
  'asinh',
  'acosh',
  'atanh',
] as const;
export type JsMathFn = (typeof JS_MATH)[number];

/** An imported JS Math function of f64 arguments (module 'm'). */
export function jsMath(ctx: Ctx, name: JsMathFn): string {
  const arity = name === 'pow' ? 2 : 1;
  return ctx.once(`js_${name}`, () => {
    ctx.imports.add(name);
    ctx.mod.addFunctionImport(`js_${name}`, 'm', name, binaryen.createType(new Array(arity).fill(f64)), f64);
  });
}

/** f64 -> f64 helper call of a named routine on an f32 value (promote, call, demote). */
export function callF32(ctx: Ctx, fn: string, ...args: Expr[]): Expr {
  const m = ctx.mod;
  return m.f32.demote(
    m.call(
      fn,
      args.map((a) => m.f64.promote(a)),
      f64,
    ),
  );
}
