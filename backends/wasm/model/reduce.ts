/**
 * Row-wise steps of the whole-model module: reduce_sum / reduce_mean / reduce_max / reduce_prod,
 * softmax / log_softmax, and layer_norm / simplified_layer_norm (RMSNorm) / skip_simplified_layer_norm.
 * Norm rows are f32x4 SIMD with two passes (mean, then centered variance, as the interpreter does, so
 * there is no cancellation); statistics are summed in f32 lanes, which over h <= 16k elements stays
 * ~1e-6 relative. Reductions over a trailing run of axes use the same SIMD row sums; other axis
 * sets accumulate in place through emitMap. Softmax exponentials are computed in f64 (math.ts).
 * Runtime dims: softmax and the reductions render them (one reduction function over dims, constants
 * when static); the norms take a runtime row count (their normalized axes must be static, else LUT5004).
 */
import binaryen from 'binaryen';
import { dimMax, dimMul } from '../../../ir/dim-expr.js';
import { intsOf } from '../../../ir/ops/dims.js';
import { broadcastTo, normalizeAxis } from '../../../ir/ops/util.js';
import { makeTensor } from '../../../ir/tensor.js';
import type { Dim } from '../../../ir/types.js';
import { kernelByteSize, type Placement, type PlanStep, stepInput } from '../../model-plan.js';
import type { Expr, FnBuilder } from '../builder.js';
import { splatF32 } from '../builder.js';
import {
  broadcastStridesD,
  type Ctx,
  constOf,
  contiguous,
  contiguousD,
  type DView,
  dimsOf,
  dimVal,
  type Emit,
  emitMap,
  ifNonEmpty,
  isStaticDims,
  kindOf,
  loopD,
  noRuntimeDims,
  numelD,
  numelOf,
  type StepHandler,
  unsupported,
  viewOfD,
} from './core.js';
import { expFn, jsMath } from './math.js';

export const REDUCE_OPS: ReadonlySet<string> = new Set([
  'reduce_sum',
  'reduce_mean',
  'reduce_max',
  'reduce_prod',
  'softmax',
  'log_softmax',
  'layer_norm',
  'simplified_layer_norm',
  'skip_simplified_layer_norm',
]);

type RowOp = 'sum' | 'max' | 'sqdiff';

/**
 * Reduces h f32 values at the address in local `ptr` into f32 local `res`: 'sum', 'max', or
 * 'sqdiff' = Σ (x - center)^2 with `center` an f32 local. Four-lane SIMD, then ((l0+l1)+(l2+l3)), then the tail.
 */
export function rowReduce(f: FnBuilder, ptr: number, h: number, op: RowOp, res: number, center?: number): Expr[] {
  const m = f.mod;
  const { i32, v128 } = binaryen;
  const acc = f.local(v128),
    p = f.local(i32),
    x = f.local(v128);
  const nv = Math.floor(h / 4),
    tail = h - 4 * nv;
  const comb = (a: Expr, b: Expr) => (op === 'max' ? m.f32x4.max(a, b) : m.f32x4.add(a, b));
  const combS = (a: Expr, b: Expr) => (op === 'max' ? m.f32.max(a, b) : m.f32.add(a, b));
  const init = op === 'max' ? -Infinity : 0;
  const lane = (l: number) => m.f32x4.extract_lane(f.get(acc), l);
  const out: Expr[] = [f.set(p, f.get(ptr)), f.set(acc, splatF32(m, init))];
  if (nv > 0) {
    const load = m.v128.load(0, 4, f.get(p));
    out.push(
      f.loop(f.local(i32), m.i32.const(nv), [
        f.set(x, op === 'sqdiff' ? m.f32x4.sub(load, m.f32x4.splat(f.get(center!))) : load),
        f.set(acc, comb(f.get(acc), op === 'sqdiff' ? m.f32x4.mul(f.get(x), f.get(x)) : f.get(x))),
        f.incr(p, 16),
      ]),
    );
  }
  out.push(f.set(res, combS(combS(lane(0), lane(1)), combS(lane(2), lane(3)))));
  for (let t = 0; t < tail; t++) {
    const v = () => m.f32.load(4 * t, 4, f.get(p));
    const term1 = op === 'sqdiff' ? m.f32.mul(m.f32.sub(v(), f.get(center!)), m.f32.sub(v(), f.get(center!))) : v();
    out.push(f.set(res, combS(f.get(res), term1)));
  }
  return out;
}

/** Parameters of `normRows`. */
export interface NormSpec {
  /** Row count: a number, or a runtime dim (then `normRows` needs its ctx). */
  rows: Dim;
  h: number;
  x: number;
  y: number;
  gamma: number;
  beta?: number;
  eps: number;
  rms: boolean;
  /** Optional per-row statistics outputs (f32). */
  mean?: number;
  inv?: number;
}

/** LayerNorm / RMSNorm over rows of h contiguous f32: y = (x - mean) * inv * gamma (+ beta); `ctx` renders a runtime row count. */
export function normRows(f: FnBuilder, s: NormSpec, ctx?: Ctx): Expr {
  const m = f.mod;
  const { i32, f32, v128 } = binaryen;
  const px = f.local(i32),
    py = f.local(i32),
    r = f.local(i32),
    mean = f.local(f32),
    sq = f.local(f32),
    inv = f.local(f32);
  const pg = f.local(i32),
    pb = f.local(i32),
    iv = f.local(v128),
    mv = f.local(v128),
    x = f.local(v128);
  const zero = f.local(f32);
  const nv = Math.floor(s.h / 4),
    tail = s.h - 4 * nv;
  const body: Expr[] = [];
  if (s.rms) {
    body.push(f.set(zero, m.f32.const(0)), f.set(mean, m.f32.const(0)), ...rowReduce(f, px, s.h, 'sqdiff', sq, zero));
  } else {
    body.push(
      ...rowReduce(f, px, s.h, 'sum', mean),
      f.set(mean, m.f32.div(f.get(mean), m.f32.const(s.h))),
      ...rowReduce(f, px, s.h, 'sqdiff', sq, mean),
    );
  }
  // inv = 1 / sqrt(sq / h + eps), in f64 (one rounding)
  body.push(
    f.set(
      inv,
      m.f32.demote(
        m.f64.div(m.f64.const(1), m.f64.sqrt(m.f64.add(m.f64.div(m.f64.promote(f.get(sq)), m.f64.const(s.h)), m.f64.const(s.eps)))),
      ),
    ),
  );
  if (s.mean !== undefined) body.push(m.f32.store(0, 4, m.i32.add(m.i32.const(s.mean), m.i32.mul(f.get(r), m.i32.const(4))), f.get(mean)));
  if (s.inv !== undefined) body.push(m.f32.store(0, 4, m.i32.add(m.i32.const(s.inv), m.i32.mul(f.get(r), m.i32.const(4))), f.get(inv)));
  body.push(
    f.set(iv, m.f32x4.splat(f.get(inv))),
    f.set(mv, m.f32x4.splat(f.get(mean))),
    f.set(pg, m.i32.const(s.gamma)),
    f.set(pb, m.i32.const(s.beta ?? 0)),
  );
  const pxv = f.local(i32),
    pyv = f.local(i32);
  body.push(f.set(pxv, f.get(px)), f.set(pyv, f.get(py)));
  const vec = (o: number): Expr[] => {
    let y = m.f32x4.mul(m.f32x4.mul(m.f32x4.sub(m.v128.load(o, 4, f.get(pxv)), f.get(mv)), f.get(iv)), m.v128.load(o, 4, f.get(pg)));
    if (s.beta !== undefined) y = m.f32x4.add(y, m.v128.load(o, 4, f.get(pb)));
    return [f.set(x, y), m.v128.store(o, 4, f.get(pyv), f.get(x))];
  };
  if (nv > 0)
    body.push(f.loop(f.local(i32), m.i32.const(nv), [...vec(0), f.incr(pxv, 16), f.incr(pyv, 16), f.incr(pg, 16), f.incr(pb, 16)]));
  for (let t = 0; t < tail; t++) {
    let y = m.f32.mul(m.f32.mul(m.f32.sub(m.f32.load(4 * t, 4, f.get(pxv)), f.get(mean)), f.get(inv)), m.f32.load(4 * t, 4, f.get(pg)));
    if (s.beta !== undefined) y = m.f32.add(y, m.f32.load(4 * t, 4, f.get(pb)));
    body.push(m.f32.store(4 * t, 4, f.get(pyv), y));
  }
  body.push(f.incr(px, s.h * 4), f.incr(py, s.h * 4));
  if (s.rows === 0) return m.nop();
  if (typeof s.rows !== 'number') {
    if (!ctx) throw new Error('internal: normRows with a runtime row count needs its ctx');
    return m.block(null, [f.set(px, m.i32.const(s.x)), f.set(py, m.i32.const(s.y)), loopD(ctx, f, s.rows, body, false, r)]);
  }
  return m.block(null, [f.set(px, m.i32.const(s.x)), f.set(py, m.i32.const(s.y)), f.loop(r, m.i32.const(s.rows), body)]);
}

/**
 * Address of a norm parameter broadcast to h elements: the tensor itself when it already holds h
 * contiguous values, else (constants only) a materialized copy in the extra region.
 */
export function paramAddr(ctx: Ctx, step: PlanStep, p: Placement, norm: number[]): number {
  const h = numelOf(norm);
  if (numelOf(p.shape) === h) return ctx.addrOf(p);
  const c = p.value.const;
  if (!c)
    return unsupported(
      step.node,
      ctx.plan.graph.meta?.file,
      `${step.node.op}: a broadcast non-constant scale/bias is not supported`,
      'LUT5053',
    );
  const t = broadcastTo({ ...c, data: Float32Array.from(c.data), dtype: 'f32' }, norm);
  return ctx.addExtra(new Uint8Array(Float32Array.from(t.data).buffer));
}

const isF32 = (p: Placement | null | undefined) => !p || kindOf(p.dtype) === 'f32';

/** Prepares a reduction, softmax or norm step. */
export const reduceStep: StepHandler = (ctx, step): Emit => {
  const n = step.node;
  const file = ctx.plan.graph.meta?.file;
  const x = step.inputs[0]!;
  const out = step.outputs[0]!;
  if (n.op === 'softmax' || n.op === 'log_softmax') {
    if (!isF32(x)) unsupported(n, file, `${n.op} on ${x.dtype}`);
    const axis = normalizeAxis((n.attrs.axis as number | undefined) ?? -1, x.shape.length);
    return softmax(ctx, ctx.addrOf(x), ctx.addrOf(out), dimsOf(x), axis, n.op === 'log_softmax');
  }
  if (n.op === 'softmax') {
  }
  if (n.op === 'layer_norm' || n.op === 'simplified_layer_norm') {
    if (!isF32(x)) unsupported(n, file, `${n.op} on ${x.dtype}`);
    const axis = normalizeAxis((n.attrs.axis as number | undefined) ?? -1, x.shape.length);
    const xd = dimsOf(x);
    if (!xd.slice(axis).every((d) => typeof d === 'number')) noRuntimeDims(ctx, step, 'a runtime dim in the normalized axes');
    const rowsD = numelD(xd.slice(0, axis));
    const norm = x.shape.slice(axis);
    const h = numelOf(norm);
    const rms = n.op === 'simplified_layer_norm';
    const gamma = paramAddr(ctx, step, stepInput(step, rms ? 'scale' : 'Scale')!, norm);
    const bias = rms ? null : stepInput(step, 'B');
    const beta = bias ? paramAddr(ctx, step, bias, norm) : undefined;
    const stat = (i: number) => (step.outputs[i] && isF32(step.outputs[i]) ? ctx.addrOf(step.outputs[i]!) : undefined);
    const spec = {
      rows: typeof rowsD === 'number' ? numelOf(x.shape) / Math.max(h, 1) : rowsD,
      h,
      x: ctx.addrOf(x),
      y: ctx.addrOf(out),
      gamma,
      beta,
      eps: (n.attrs.epsilon as number | undefined) ?? 1e-5,
      rms,
      mean: rms ? undefined : stat(1),
      inv: rms ? stat(1) : stat(2),
    };
    return (f) => [normRows(f, spec, ctx)];
  }
  if (n.op === 'skip_simplified_layer_norm') {
    const [inp, skip, gammaP, biasP] = step.inputs;
    const h = inp!.shape.at(-1)!;
    const id = dimsOf(inp!);
    if (typeof id.at(-1) !== 'number') noRuntimeDims(ctx, step, 'a runtime hidden size');
    const rowsD = numelD(id.slice(0, -1));
    const gamma = paramAddr(ctx, step, gammaP!, [h]);
    // S = input + skip (+ bias): into the input_skip_bias_sum output when present, else scratch
    const sumOut = step.outputs[3];
    const sAddr = sumOut ? ctx.addrOf(sumOut) : (ctx.scratch(0, inp!.bytes), -1);
    const stat = step.outputs[2];
    return (f) => {
      const m = f.mod;
      const sa = sAddr >= 0 ? sAddr : ctx.scratchBase;
      const sv = { addr: sa, dtype: 'f32' as const, strides: contiguousD(id) };
      const ins: DView[] = [viewOfD(ctx, inp!), { addr: ctx.addrOf(skip!), dtype: skip!.dtype, strides: bstrD(skip!, id) }];
      if (biasP) ins.push({ addr: ctx.addrOf(biasP), dtype: biasP.dtype, strides: bstrD(biasP, id) });
      const sum = emitMap(
        ctx,
        f,
        id,
        sv,
        ins,
        (g) => (biasP ? m.f32.add(m.f32.add(g(0), g(1)), g(2)) : m.f32.add(g(0), g(1))),
        (g) => (biasP ? m.f32x4.add(m.f32x4.add(g(0), g(1)), g(2)) : m.f32x4.add(g(0), g(1))),
      );
      const mean = step.outputs[1];
      const res = [
        sum,
        normRows(
          f,
          {
            rows: typeof rowsD === 'number' ? numelOf(inp!.shape) / h : rowsD,
            h,
            x: sa,
            y: ctx.addrOf(out),
            gamma,
            eps: (n.attrs.epsilon as number | undefined) ?? 1e-12,
            rms: true,
            inv: stat ? ctx.addrOf(stat) : undefined,
          },
          ctx,
        ),
      ];
      if (mean) res.push(m.memory.fill(m.i32.const(ctx.addrOf(mean)), m.i32.const(0), m.i32.const(mean.bytes)));
      return res;
    };
  }
  return reduction(ctx, step);
};

/** The reduced axes of a reduction step, or 'noop' (empty axes with noop_with_empty_axes). */
function reducedAxes(ctx: Ctx, step: PlanStep): number[] | 'noop' {
  const n = step.node;
  const r = step.inputs[0]!.shape.length;
  const axesIn = stepInput(step, 'axes');
  const axesT = axesIn?.value.const;
  if (axesIn && !axesT) unsupported(n, ctx.plan.graph.meta?.file, `${n.op}: axes must be constant`, 'LUT5051');
  const given = axesT ? intsOf(axesT) : [];
  if (given.length === 0) return n.attrs.noop_with_empty_axes === 1 ? 'noop' : [...Array(r).keys()];
  return [...new Set(given.map((a) => normalizeAxis(a, r)))].sort((a, b) => a - b);
}

/**
 * reduce_sum / reduce_mean / reduce_max / reduce_prod (products in the operand type, step by step),
 * sizes as dims: f32 sum / mean / max over a trailing run of axes of constant length takes the SIMD row
 * sums (a runtime row count with runtime dims); every other form initializes the output, then
 * accumulates in place (zero output strides on the reduced axes), the mean dividing by the count (a
 * runtime count with runtime dims: an integer mean of nothing is 0, as for a constant empty input).
 */
function reduction(ctx: Ctx, step: PlanStep): Emit {
  const n = step.node;
  const x = step.inputs[0]!;
  const out = step.outputs[0]!;
  const xd = dimsOf(x);
  const r = xd.length;
  const red = reducedAxes(ctx, step);
  const numel = numelD(xd);
  if (red === 'noop')
    return (f) => {
      const m = f.mod;
      if (typeof numel === 'number')
        return [m.memory.copy(m.i32.const(ctx.addrOf(out)), m.i32.const(ctx.addrOf(x)), m.i32.const(out.bytes))];
      return [
        ifNonEmpty(ctx, f, numel, [
          m.memory.copy(m.i32.const(ctx.addrOf(out)), m.i32.const(ctx.addrOf(x)), dimVal(ctx, f, dimMul(numel, kernelByteSize(x.dtype)))),
        ]),
      ];
    };
  const k = kindOf(x.dtype);
  const op = n.op === 'reduce_max' ? 'max' : n.op === 'reduce_prod' ? 'prod' : 'sum';
  const count = red.reduce<Dim>((p, a) => dimMul(p, xd[a]!), 1);
  const kept = xd.map((d, i) => (red.includes(i) ? 1 : d));
  const suffix = red.every((a, i) => a === r - red.length + i);
  return (f) => {
    const m = f.mod;
    const ov = viewOfD(ctx, out, kept);
    if (numel === 0)
      return [
        emitMap(ctx, f, kept, ov, [], () => constOf(m, k, op === 'max' ? -Infinity : op === 'prod' ? 1 : n.op === 'reduce_mean' ? NaN : 0)),
      ];
    if (k === 'f32' && suffix && op !== 'prod' && typeof count === 'number' && count > 0) {
      const { i32, f32 } = binaryen;
      const p = f.local(i32),
        res = f.local(f32),
        o = f.local(i32);
      const fin = n.op === 'reduce_mean' ? m.f32.div(f.get(res), m.f32.const(count)) : f.get(res);
      const rows = numelD(kept);
      // a constant row count: a counted loop whose counter comes before the row's locals (the static form)
      const loop = (body: () => Expr[]) =>
        typeof rows === 'number' ? f.loop(f.local(i32), m.i32.const(rows), body()) : loopD(ctx, f, rows, body());
      return [
        f.set(p, m.i32.const(ctx.addrOf(x))),
        f.set(o, m.i32.const(ctx.addrOf(out))),
        loop(() => [...rowReduce(f, p, count, op, res), m.f32.store(0, 4, f.get(o), fin), f.incr(p, count * 4), f.incr(o, 4)]),
      ];
    }
    const acc = { ...ov, strides: contiguousD(kept).map((s, i) => (red.includes(i) ? 0 : s)) };
    const F = k === 'f64' ? m.f64 : m.f32;
    const I = k === 'i64' ? m.i64 : m.i32;
    const fl = k === 'f32' || k === 'f64';
    const init = op === 'max' ? (fl ? -Infinity : k === 'i64' ? -9.2e18 : -2147483648) : op === 'prod' ? 1 : 0;
    const res: Expr[] = [emitMap(ctx, f, kept, ov, [], () => constOf(m, k, init))];
    // g(j) builds a fresh read each call: an expression may appear only once in a binaryen tree
    const combine = (g: (j: number) => Expr) =>
      op === 'max'
        ? fl
          ? F.max(g(0), g(1))
          : m.select(I.gt_s(g(0), g(1)), g(0), g(1))
        : op === 'prod'
          ? fl
            ? F.mul(g(0), g(1))
            : I.mul(g(0), g(1))
          : fl
            ? F.add(g(0), g(1))
            : I.add(g(0), g(1));
    res.push(emitMap(ctx, f, xd, acc, [acc, viewOfD(ctx, x)], combine));
    if (n.op === 'reduce_mean') {
      // the count as the kind's value (a float mean of nothing is 0 / 0 = NaN)
      const c = fl ? count : dimMax(count, 1);
      const cnt = (): Expr => {
        if (typeof c === 'number') return constOf(m, k, c);
        const v = dimVal(ctx, f, c);
        return k === 'f64' ? m.f64.convert_s.i32(v) : k === 'f32' ? m.f32.convert_s.i32(v) : k === 'i64' ? m.i64.extend_s(v) : v;
      };
      res.push(
        emitMap(
          ctx,
          f,
          kept,
          ov,
          [ov],
          (g) => (fl ? F.div(g(0), cnt()) : I.div_s(g(0), cnt())),
          k === 'f32' ? (g) => m.f32x4.div(g(0), typeof c === 'number' ? splatF32(m, c) : m.f32x4.splat(cnt())) : undefined,
        ),
      );
    }
    return res;
  };
}

/** bstr over dims: the static strides (the same numbers) when neither has runtime dims. */
const bstrD = (p: Placement, o: Dim[]): Dim[] => (p.dims || !isStaticDims(o) ? broadcastStridesD(dimsOf(p), o) : bstr(p.shape, o));

const bstr = (s: number[], o: number[]) => {
  const st = contiguous(s);
  return o.map((_, i) => {
    const j = i - (o.length - s.length);
    return j < 0 || s[j] === 1 ? 0 : st[j]!;
  });
};

/** Softmax / log_softmax along `axis` (any position: lanes of stride `inner`), exp in f64, sums in f64; sizes may be runtime dims. */
function softmax(ctx: Ctx, xAddr: number, yAddr: number, shape: Dim[], axis: number, log: boolean): Emit {
  const len = shape[axis]!;
  const inner = numelD(shape.slice(axis + 1));
  const outer = numelD(shape.slice(0, axis));
  const all = numelD(shape);
  return (f) => {
    const m = f.mod;
    if (all === 0) return [];
    const dv = (d: Dim) => dimVal(ctx, f, d);
    const incr = (l: number, d: Dim) => f.set(l, m.i32.add(f.get(l), dv(d)));
    const { i32, f32, f64 } = binaryen;
    const o = f.local(i32),
      i = f.local(i32),
      j = f.local(i32),
      px = f.local(i32),
      py = f.local(i32),
      p = f.local(i32),
      q = f.local(i32);
    const mx = f.local(f32),
      s = f.local(f64),
      z = f.local(f64),
      e = f.local(f64);
    const stride = dimMul(inner, 4);
    const exp = expFn(ctx);
    const walk = (body: Expr[]): Expr[] => [
      f.set(p, f.get(px)),
      f.set(q, f.get(py)),
      f.loop(j, dv(len), [...body, incr(p, stride), incr(q, stride)]),
    ];
    const lane: Expr[] = [
      f.set(mx, m.f32.const(-Infinity)),
      ...walk([f.set(mx, m.f32.max(f.get(mx), m.f32.load(0, 4, f.get(p))))]),
      f.set(s, m.f64.const(0)),
      ...walk([
        f.set(e, m.call(exp, [m.f64.sub(m.f64.promote(m.f32.load(0, 4, f.get(p))), m.f64.promote(f.get(mx)))], f64)),
        f.set(s, m.f64.add(f.get(s), f.get(e))),
        ...(log ? [] : [m.f32.store(0, 4, f.get(q), m.f32.demote(f.get(e)))]),
      ]),
    ];
    if (log) {
      lane.push(f.set(s, m.call(jsMath(ctx, 'log'), [f.get(s)], f64)));
      lane.push(
        ...walk([
          f.set(z, m.f64.sub(m.f64.promote(m.f32.load(0, 4, f.get(p))), m.f64.promote(f.get(mx)))),
          m.f32.store(0, 4, f.get(q), m.f32.demote(m.f64.sub(f.get(z), f.get(s)))),
        ]),
      );
    } else {
      // exp(z) / s: the stored f32 exp is re-read and divided in f64 (one more rounding than the reference)
      lane.push(...walk([m.f32.store(0, 4, f.get(q), m.f32.demote(m.f64.div(m.f64.promote(m.f32.load(0, 4, f.get(q))), f.get(s))))]));
    }
    const body: Expr[] = [
      f.set(px, m.i32.add(m.i32.const(xAddr), m.i32.mul(m.i32.add(m.i32.mul(f.get(o), dv(dimMul(len, inner))), f.get(i)), m.i32.const(4)))),
      f.set(py, m.i32.add(m.i32.const(yAddr), m.i32.mul(m.i32.add(m.i32.mul(f.get(o), dv(dimMul(len, inner))), f.get(i)), m.i32.const(4)))),
      ...lane,
    ];
    // every loop count is >= 1 once numel > 0
    const loops = f.loop(o, dv(outer), [f.loop(i, dv(inner), body)]);
    return typeof all === 'number' ? [loops] : [ifNonEmpty(ctx, f, all, [loops])];
  };
}

export { makeTensor };
