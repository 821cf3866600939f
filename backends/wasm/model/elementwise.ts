/**
 * Elementwise steps of the whole-model module: unary math and activations, ceil / floor / round
 * (wasm's own instructions; nearest rounds halves to even), trigonometry (JS Math imports, math.ts),
 * broadcasting binary arithmetic / comparisons / logic, variadic max/min, bit_shift, where, clip and cast. Each op is a scalar
 * builder per compute kind plus, where one exists, an f32x4 builder; `emitMap` (core.ts) picks the
 * SIMD path for same-shape and scalar/row-broadcast operands and a strided scalar path otherwise.
 * Semantics follow ir/ops/elementwise.ts (the interpreter computes in f64 and rounds once; these
 * kernels compute f32 ops in f32, so results agree to f32 rounding of each step). `f32OpFns` hands
 * the same builders to lut.matmul's fused epilogue (lut.ts): one definition of each op. With runtime
 * dims every op here renders them: shapes and broadcast strides are dims, looped by emitMap.
 */
import binaryen from 'binaryen';
import { intRange, ONNX_DTYPES } from '../../../ir/ops/numeric.js';
import type { Dim, DType, Node } from '../../../ir/types.js';
import { type PlanStep, stepInput } from '../../model-plan.js';
import type { Expr, FnBuilder } from '../builder.js';
import { splatF32 } from '../builder.js';
import {
  broadcastStridesD,
  type Ctx,
  constOf,
  type DView,
  dimsOf,
  emitMap,
  isUnsigned,
  type Kind,
  kindOf,
  type ScalarFn,
  type StepHandler,
  unsupported,
  type VectorFn,
  viewOfD,
} from './core.js';
import { erfcFn, erfFn, expFn, type JsMathFn, jsMath, sigmoidFn, tanhFn } from './math.js';

type M = binaryen.Module;
const isFloatKind = (k: Kind) => k === 'f32' || k === 'f64';

/** Float ops for kind f32/f64: `ops(m)` picks m.f32 or m.f64. */
function fops(m: M, k: Kind) {
  return k === 'f64' ? m.f64 : m.f32;
}

/** A float routine computed in f64: (x: f64) -> f64 applied to a value of kind k. */
function viaF64(ctx: Ctx, k: Kind, x: Expr, f64fn: (x: Expr) => Expr): Expr {
  const m = ctx.mod;
  return k === 'f64' ? f64fn(x) : m.f32.demote(f64fn(m.f64.promote(x)));
}

/** Unary scalar builders, by op; `k` is the operand's kind. */
export function unaryScalar(ctx: Ctx, n: Node, k: Kind, dt: DType): ScalarFn | undefined {
  const m = ctx.mod;
  const F = fops(m, k);
  const I = k === 'i64' ? m.i64 : m.i32;
  const call = (fn: string) => (x: Expr) => m.call(fn, [x], binaryen.f64);
  const a = n.attrs;
  switch (n.op) {
    case 'neg':
      return isFloatKind(k) ? (g) => F.neg(g(0)) : (g) => I.sub(constOf(m, k, 0), g(0));
    case 'abs':
      if (isFloatKind(k)) return (g) => F.abs(g(0));
      if (isUnsigned(dt)) return (g) => g(0);
      return (g) => m.select(I.lt_s(g(0), constOf(m, k, 0)), I.sub(constOf(m, k, 0), g(0)), g(0));
    case 'relu':
      return isFloatKind(k)
        ? (g) => m.select(F.lt(g(0), constOf(m, k, 0)), constOf(m, k, 0), g(0))
        : (g) => m.select(I.lt_s(g(0), constOf(m, k, 0)), constOf(m, k, 0), g(0));
    case 'not':
      return (g) => m.i32.eqz(g(0));
    case 'sqrt':
      return isFloatKind(k) ? (g) => F.sqrt(g(0)) : undefined;
    case 'reciprocal':
      return isFloatKind(k) ? (g) => F.div(constOf(m, k, 1), g(0)) : undefined;
    case 'exp':
      return isFloatKind(k) ? (g) => viaF64(ctx, k, g(0), call(expFn(ctx))) : undefined;
    case 'log':
      return isFloatKind(k) ? (g) => viaF64(ctx, k, g(0), call(jsMath(ctx, 'log'))) : undefined;
    case 'erf':
      return isFloatKind(k) ? (g) => viaF64(ctx, k, g(0), call(erfFn(ctx))) : undefined;
    case 'tanh':
      return isFloatKind(k) ? (g) => viaF64(ctx, k, g(0), call(tanhFn(ctx))) : undefined;
    case 'ceil':
      return isFloatKind(k) ? (g) => F.ceil(g(0)) : undefined;
    case 'floor':
      return isFloatKind(k) ? (g) => F.floor(g(0)) : undefined;
    case 'round':
      return isFloatKind(k) ? (g) => F.nearest(g(0)) : undefined; // nearest: halves to even
    case 'sin':
    case 'cos':
    case 'tan':
    case 'asin':
    case 'acos':
    case 'atan':
    case 'sinh':
    case 'cosh':
    case 'asinh':
    case 'acosh':
    case 'atanh':
      return isFloatKind(k) ? (g) => viaF64(ctx, k, g(0), call(jsMath(ctx, n.op as JsMathFn))) : undefined;
    case 'sigmoid':
      return isFloatKind(k) ? (g) => viaF64(ctx, k, g(0), call(sigmoidFn(ctx))) : undefined;
    case 'softplus': {
      if (!isFloatKind(k)) return undefined;
      const log1p = jsMath(ctx, 'log1p'),
        exp = expFn(ctx);
      // log1p(e^-|x|) (+ x when x > 0), in f64: the interpreter's form; e^ never overflows
      return (g, f) => {
        const t = f.local(binaryen.f64);
        return viaF64(ctx, k, g(0), (x) =>
          m.block(
            null,
            [
              f.set(t, x),
              m.f64.add(
                m.select(m.f64.gt(f.get(t), m.f64.const(0)), f.get(t), m.f64.const(0)),
                m.call(log1p, [m.call(exp, [m.f64.neg(m.f64.abs(f.get(t)))], binaryen.f64)], binaryen.f64),
              ),
            ],
            binaryen.f64,
          ),
        );
      };
    }
    case 'leaky_relu': {
      const alpha = Math.fround((a.alpha as number | undefined) ?? 0.01);
      return isFloatKind(k) ? (g) => m.select(F.lt(g(0), constOf(m, k, 0)), F.mul(g(0), constOf(m, k, alpha)), g(0)) : undefined;
    }
    case 'gelu': {
      if (!isFloatKind(k)) return undefined;
      const tanhApprox = a.approximate === 'tanh';
      // tanh form: 0.5 x (1 + tanh y) = x sigmoid(2y), y = sqrt(2/pi) (x + 0.044715 x^3); erf form: 0.5 x (1 + erf(x / sqrt 2)),
      // for x < 0 as 0.5 x erfc(-x / sqrt 2). Both keep their relative accuracy on the negative tail, where 1 + tanh / 1 + erf
      // would round to 0.
      return (g, f) => {
        const t = f.local(binaryen.f64);
        const half = () => m.f64.mul(m.f64.const(0.5), f.get(t));
        return viaF64(ctx, k, g(0), (x) => {
          const body = tanhApprox
            ? m.f64.mul(
                f.get(t),
                m.call(
                  sigmoidFn(ctx),
                  [
                    m.f64.mul(
                      m.f64.const(2 * Math.sqrt(2 / Math.PI)),
                      m.f64.add(f.get(t), m.f64.mul(m.f64.const(0.044715), m.f64.mul(f.get(t), m.f64.mul(f.get(t), f.get(t))))),
                    ),
                  ],
                  binaryen.f64,
                ),
              )
            : m.select(
                m.f64.lt(f.get(t), m.f64.const(0)),
                m.f64.mul(half(), m.call(erfcFn(ctx), [m.f64.mul(f.get(t), m.f64.const(-Math.SQRT1_2))], binaryen.f64)),
                m.f64.mul(
                  half(),
                  m.f64.add(m.f64.const(1), m.call(erfFn(ctx), [m.f64.mul(f.get(t), m.f64.const(Math.SQRT1_2))], binaryen.f64)),
                ),
              );
          return m.block(null, [f.set(t, x), body], binaryen.f64);
        });
      };
    }
  }
  return undefined;
}

export function unaryVector(m: M, n: Node): VectorFn | undefined {
  const zero = () => splatF32(m, 0);
  switch (n.op) {
    case 'neg':
      return (g) => m.f32x4.neg(g(0));
    case 'abs':
      return (g) => m.f32x4.abs(g(0));
    case 'relu':
      return (g) => m.f32x4.max(g(0), zero());
    case 'sqrt':
      return (g) => m.f32x4.sqrt(g(0));
    case 'reciprocal':
      return (g) => m.f32x4.div(splatF32(m, 1), g(0));
    case 'ceil':
      return (g) => m.f32x4.ceil(g(0));
    case 'floor':
      return (g) => m.f32x4.floor(g(0));
    case 'round':
      return (g) => m.f32x4.nearest(g(0));
    case 'leaky_relu': {
      const alpha = Math.fround((n.attrs.alpha as number | undefined) ?? 0.01);
      return (g) => m.v128.bitselect(m.f32x4.mul(g(0), splatF32(m, alpha)), g(0), m.f32x4.lt(g(0), zero()));
    }
  }
  return undefined;
}

/** Binary scalar builders; operands already converted to kind `k`. */
export function binaryScalar(m: M, op: string, k: Kind, unsigned: boolean): ScalarFn | undefined {
  const F = fops(m, k);
  const I = k === 'i64' ? m.i64 : m.i32;
  const fl = isFloatKind(k);
  const c0 = () => constOf(m, k, 0);
  switch (op) {
    case 'add':
      return (g) => (fl ? F.add(g(0), g(1)) : I.add(g(0), g(1)));
    case 'sub':
      return (g) => (fl ? F.sub(g(0), g(1)) : I.sub(g(0), g(1)));
    case 'mul':
      return (g) => (fl ? F.mul(g(0), g(1)) : I.mul(g(0), g(1)));
    case 'div':
      if (fl) return (g) => F.div(g(0), g(1));
      // x / 0 gives 0 (interpreter's choice); INT_MIN / -1 would trap: divide by 1 there instead (wraps to INT_MIN)
      return (g) => {
        const safe = m.select(I.or(I.eqz(g(1)), I.eq(g(1), constOf(m, k, -1))), constOf(m, k, 1), g(1));
        const q = unsigned ? I.div_u(g(0), m.select(I.eqz(g(1)), constOf(m, k, 1), g(1))) : I.div_s(g(0), safe);
        const negated = unsigned ? q : m.select(I.eq(g(1), constOf(m, k, -1)), I.sub(c0(), g(0)), q);
        return m.select(I.eqz(g(1)), c0(), negated);
      };
    case 'max':
      return fl ? (g) => F.max(g(0), g(1)) : (g) => m.select((unsigned ? I.gt_u : I.gt_s)(g(0), g(1)), g(0), g(1));
    case 'min':
      return fl ? (g) => F.min(g(0), g(1)) : (g) => m.select((unsigned ? I.lt_u : I.lt_s)(g(0), g(1)), g(0), g(1));
    case 'equal':
      return (g) => (fl ? F.eq(g(0), g(1)) : I.eq(g(0), g(1)));
    case 'less':
      return (g) => (fl ? F.lt(g(0), g(1)) : (unsigned ? I.lt_u : I.lt_s)(g(0), g(1)));
    case 'greater':
      return (g) => (fl ? F.gt(g(0), g(1)) : (unsigned ? I.gt_u : I.gt_s)(g(0), g(1)));
    case 'less_or_equal':
      return (g) => (fl ? F.le(g(0), g(1)) : (unsigned ? I.le_u : I.le_s)(g(0), g(1)));
    case 'greater_or_equal':
      return (g) => (fl ? F.ge(g(0), g(1)) : (unsigned ? I.ge_u : I.ge_s)(g(0), g(1)));
    case 'and':
      return (g) => m.i32.and(m.i32.ne(g(0), m.i32.const(0)), m.i32.ne(g(1), m.i32.const(0)));
    case 'or':
      return (g) => m.i32.ne(m.i32.or(g(0), g(1)), m.i32.const(0));
  }
  return undefined;
}

export function binaryVector(m: M, op: string): ((a: Expr, b: Expr) => Expr) | undefined {
  switch (op) {
    case 'add':
      return (a, b) => m.f32x4.add(a, b);
    case 'sub':
      return (a, b) => m.f32x4.sub(a, b);
    case 'mul':
      return (a, b) => m.f32x4.mul(a, b);
    case 'div':
      return (a, b) => m.f32x4.div(a, b);
    case 'max':
      return (a, b) => m.f32x4.max(a, b);
    case 'min':
      return (a, b) => m.f32x4.min(a, b);
  }
  return undefined;
}

const TRIG = ['sin', 'cos', 'tan', 'asin', 'acos', 'atan', 'sinh', 'cosh', 'asinh', 'acosh', 'atanh'];
const UNARY = new Set([
  'neg',
  'abs',
  'relu',
  'not',
  'sqrt',
  'reciprocal',
  'exp',
  'log',
  'erf',
  'tanh',
  'sigmoid',
  'softplus',
  'leaky_relu',
  'gelu',
  'ceil',
  'floor',
  'round',
  ...TRIG,
]);
const BINARY = new Set([
  'add',
  'sub',
  'mul',
  'div',
  'equal',
  'less',
  'greater',
  'less_or_equal',
  'greater_or_equal',
  'and',
  'or',
  'max',
  'min',
  'pow',
]);

/**
 * The f32 scalar and (where one exists) f32x4 builders of graph op `op` with attributes `attrs` and
 * `arity` operands: the same builders as the standalone step, for lut.matmul's fused epilogue
 * (lut.ts). Undefined when the op has no f32 rendering here.
 */
export function f32OpFns(ctx: Ctx, op: string, attrs: Node['attrs'], arity: number): { s: ScalarFn; v?: VectorFn } | undefined {
  const m = ctx.mod;
  const node: Node = { op, name: op, inputs: [], outputs: [], attrs };
  if (arity === 1 && UNARY.has(op)) {
    const s = unaryScalar(ctx, node, 'f32', 'f32');
    const v = unaryVector(m, node);
    return s && (v ? { s, v } : { s });
  }
  if (arity === 2 && BINARY.has(op)) {
    const s = binaryScalar(m, op, 'f32', false);
    const bv = binaryVector(m, op);
    return s && (bv ? { s, v: (g) => bv(g(0), g(1)) } : { s });
  }
  return undefined;
}

/** Ops this file renders. */
export const ELEMENTWISE_OPS: ReadonlySet<string> = new Set([...UNARY, ...BINARY, 'where', 'clip', 'cast', 'bit_shift']);

/** Views of a step's present inputs broadcast to its output shape (dims: runtime dims render as code). */
function broadcastViews(ctx: Ctx, step: PlanStep, shape: Dim[]): DView[] {
  return step.inputs
    .filter((p) => p !== null)
    .map((p) => ({ addr: ctx.addrOf(p!), dtype: p!.dtype, strides: broadcastStridesD(dimsOf(p!), shape) }));
}

/** Constant scalar value of operand `name` when every element is the same constant, else undefined. */
function constUniform(step: PlanStep, name: string): number | undefined {
  const c = stepInput(step, name)?.value.const;
  if (!c || c.data.length === 0) return undefined;
  const v = c.data[0]!;
  for (let j = 1; j < c.data.length; j++) if (c.data[j] !== v) return undefined;
  return v;
}

/** Prepares an elementwise step. */
export const elementwiseStep: StepHandler = (ctx, step) => {
  const m = ctx.mod;
  const n = step.node;
  const file = ctx.plan.graph.meta?.file;
  const out = step.outputs[0]!;
  const shape = dimsOf(out);
  const ov = viewOfD(ctx, out);
  const ins = broadcastViews(ctx, step, shape);
  const dt0 = step.inputs[0]!.dtype;
  const k0 = kindOf(dt0);
  const need = (x: ScalarFn | undefined): ScalarFn => x ?? unsupported(n, file, `${n.op} on ${dt0} is not supported`);

  if (UNARY.has(n.op)) {
    const s = need(unaryScalar(ctx, n, k0, dt0));
    const v = k0 === 'f32' ? unaryVector(m, n) : undefined;
    return (f) => [emitMap(ctx, f, shape, ov, ins, s, v)];
  }
  if (n.op === 'pow') {
    const e = constUniform(step, 'Y');
    const kx = k0;
    const F = fops(m, kx);
    if (isFloatKind(kx) && e === 2)
      return (f) => [
        emitMap(ctx, f, shape, ov, [ins[0]!], (g) => F.mul(g(0), g(0)), kx === 'f32' ? (g) => m.f32x4.mul(g(0), g(0)) : undefined),
      ];
    if (isFloatKind(kx) && e === 0.5)
      return (f) => [emitMap(ctx, f, shape, ov, [ins[0]!], (g) => F.sqrt(g(0)), kx === 'f32' ? (g) => m.f32x4.sqrt(g(0)) : undefined)];
    if (isFloatKind(kx) && e === 1)
      return (f) => [
        emitMap(
          ctx,
          f,
          shape,
          ov,
          [ins[0]!],
          (g) => g(0),
          (g) => g(0),
        ),
      ];
    const pow = jsMath(ctx, 'pow');
    const kinds: Kind[] = ['f64', 'f64'];
    return (f) => [
      emitMap(
        ctx,
        f,
        shape,
        ov,
        ins,
        (g) => {
          const r = m.call(pow, [g(0), g(1)], binaryen.f64);
          return kx === 'f64' ? r : kx === 'f32' ? m.f32.demote(r) : kx === 'i64' ? m.i64.trunc_s_sat.f64(r) : m.i32.trunc_s_sat.f64(r);
        },
        undefined,
        kinds,
      ),
    ];
  }
  if (BINARY.has(n.op)) {
    const unsigned = isUnsigned(dt0) && dt0 !== 'bool';
    const bs = need(binaryScalar(m, n.op, k0, unsigned));
    const bv = k0 === 'f32' ? binaryVector(m, n.op) : undefined;
    // variadic max/min: fold left over every operand
    const s: ScalarFn =
      ins.length === 1
        ? (g) => g(0)
        : ins.length === 2
          ? bs
          : (g, f) => {
              const t = f.local(binaryen[k0]);
              const parts: Expr[] = [f.set(t, bs(g, f))];
              for (let j = 2; j < ins.length; j++)
                parts.push(
                  f.set(
                    t,
                    bs((i) => (i === 0 ? f.get(t) : g(j)), f),
                  ),
                );
              return m.block(null, [...parts, f.get(t)], binaryen[k0]);
            };
    const v: VectorFn | undefined =
      bv &&
      ((g) => {
        let acc = ins.length === 1 ? g(0) : bv(g(0), g(1));
        for (let j = 2; j < ins.length; j++) acc = bv(acc, g(j));
        return acc;
      });
    const kinds = ins.map(() => k0);
    return (f) => [emitMap(ctx, f, shape, ov, ins, s, v, kinds)];
  }
  if (n.op === 'bit_shift') {
    // unsigned ints; a shift of the type's width or more gives 0 (wasm would take the count modulo 32 / 64)
    const bits = ({ u8: 8, u16: 16, u32: 32, u64: 64 } as Record<string, number>)[dt0] ?? 32;
    const I = k0 === 'i64' ? m.i64 : m.i32;
    const left = n.attrs.direction === 'LEFT';
    return (f) => [
      emitMap(
        ctx,
        f,
        shape,
        ov,
        ins,
        (g) => m.select(I.ge_u(g(1), constOf(m, k0, bits)), constOf(m, k0, 0), (left ? I.shl : I.shr_u)(g(0), g(1))),
        undefined,
        [k0, k0],
      ),
    ];
  }
  if (n.op === 'where') {
    const kx = kindOf(stepInput(step, 'X')!.dtype);
    return (f) => [emitMap(ctx, f, shape, ov, ins, (g) => m.select(g(0), g(1), g(2)), undefined, ['i32', kx, kx])];
  }
  if (n.op === 'clip') {
    const F = fops(m, k0);
    const I = k0 === 'i64' ? m.i64 : m.i32;
    const uns = isUnsigned(dt0);
    // positions in `ins` (present operands only)
    const lo = stepInput(step, 'min') ? 1 : 0,
      hi = stepInput(step, 'max') ? (lo ? 2 : 1) : 0;
    // min(max(x, lo), hi); NaN stays NaN (wasm min/max propagate it), lo > hi gives hi as ONNX says.
    // Integers go through a local: a binaryen expression may appear only once in the tree.
    const s: ScalarFn = (g, f) => {
      if (!lo && !hi) return g(0);
      const t = f.local(binaryen[k0]);
      const body: Expr[] = [];
      if (isFloatKind(k0)) {
        let r = g(0);
        if (lo) r = F.max(r, g(lo));
        if (hi) r = F.min(r, g(hi));
        body.push(f.set(t, r));
      } else {
        body.push(f.set(t, g(0)));
        if (lo) body.push(f.set(t, m.select((uns ? I.gt_u : I.gt_s)(g(lo), f.get(t)), g(lo), f.get(t))));
        if (hi) body.push(f.set(t, m.select((uns ? I.lt_u : I.lt_s)(g(hi), f.get(t)), g(hi), f.get(t))));
      }
      return m.block(null, [...body, f.get(t)], binaryen[k0]);
    };
    const v: VectorFn | undefined =
      k0 === 'f32'
        ? (g) => {
            let r = g(0);
            if (lo) r = m.f32x4.max(r, g(lo));
            if (hi) r = m.f32x4.min(r, g(hi));
            return r;
          }
        : undefined;
    return (f) => [emitMap(ctx, f, shape, ov, ins, s, v)];
  }
  if (n.op === 'cast') {
    const to = ONNX_DTYPES[n.attrs.to as number];
    if (!to) unsupported(n, file, `cast to ONNX type ${String(n.attrs.to)}`);
    return (f) => [emitMap(ctx, f, shape, ov, ins, castFn(m, dt0, to), undefined)];
  }
  return unsupported(n, file, `op '${n.op}' is not supported`, 'LUT5003');
};

/** Cast's conversion (ir/ops/numeric.ts castConverter): float -> int truncates and saturates, ints wrap, -> bool is != 0. */
function castFn(m: M, from: DType, to: DType): ScalarFn {
  const kf = kindOf(from),
    kt = kindOf(to);
  const fl = isFloatKind(kf);
  if (to === 'bool')
    return (g) =>
      fl ? fops(m, kf).ne(g(0), constOf(m, kf, 0)) : kf === 'i64' ? m.i32.eqz(m.i64.eqz(g(0))) : m.i32.ne(g(0), m.i32.const(0));
  const unsignedFrom = isUnsigned(from);
  if (isFloatKind(kt)) {
    return (g) => {
      if (fl) return kf === kt ? g(0) : kf === 'f32' ? m.f64.promote(g(0)) : m.f32.demote(g(0));
      const fn =
        kt === 'f32'
          ? kf === 'i64'
            ? unsignedFrom
              ? m.f32.convert_u.i64
              : m.f32.convert_s.i64
            : unsignedFrom
              ? m.f32.convert_u.i32
              : m.f32.convert_s.i32
          : kf === 'i64'
            ? unsignedFrom
              ? m.f64.convert_u.i64
              : m.f64.convert_s.i64
            : unsignedFrom
              ? m.f64.convert_u.i32
              : m.f64.convert_s.i32;
      return fn(g(0));
    };
  }
  if (fl) {
    const F = fops(m, kf);
    const [lo, hi] = intRange(to);
    const small = to !== 'i32' && to !== 'u32' && to !== 'i64' && to !== 'u64';
    return (g) => {
      let x = g(0);
      if (small) x = F.min(F.max(x, constOf(m, kf, lo)), constOf(m, kf, hi)); // saturate to the target range
      const sat =
        kt === 'i64'
          ? to === 'u64'
            ? kf === 'f32'
              ? m.i64.trunc_u_sat.f32
              : m.i64.trunc_u_sat.f64
            : kf === 'f32'
              ? m.i64.trunc_s_sat.f32
              : m.i64.trunc_s_sat.f64
          : to === 'u32'
            ? kf === 'f32'
              ? m.i32.trunc_u_sat.f32
              : m.i32.trunc_u_sat.f64
            : kf === 'f32'
              ? m.i32.trunc_s_sat.f32
              : m.i32.trunc_s_sat.f64;
      return sat(x);
    };
  }
  // int -> int: wrap (stores of narrower types wrap by themselves)
  return (g) => (kf === kt ? g(0) : kf === 'i64' ? m.i32.wrap(g(0)) : unsignedFrom ? m.i64.extend_u(g(0)) : m.i64.extend_s(g(0)));
}

export type { FnBuilder };
