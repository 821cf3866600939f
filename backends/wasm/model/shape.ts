/**
 * Data-movement steps of the whole-model module: transpose, slice, expand, concat, split, gather,
 * trilu, range, constant_of_shape (steps of constants were folded by the pipeline's fold-constants
 * pass; those it leaves, too large or weight ops, run as ordinary steps). Every
 * movement is a strided view copy (core.ts emitCopy: memory.copy per contiguous row, else an element
 * loop), so a slice or a transpose is a view plus one copy. The views are built over
 * dims (constants without runtime dims); Shape writes the input's (runtime) dims; Range loops to its output's dim.
 */
import binaryen from 'binaryen';
import { dimAdd, dimMax, dimMul } from '../../../ir/dim-expr.js';
import { intsOf, normalizeAxes } from '../../../ir/ops/dims.js';
import { sliceAxis } from '../../../ir/ops/slice.js';
import { normalizeAxis } from '../../../ir/ops/util.js';
import type { Dim, Tensor } from '../../../ir/types.js';
import { kernelByteSize, type PlanStep, stepInput } from '../../model-plan.js';
import type { Expr } from '../builder.js';
import {
  broadcastStridesD,
  type Ctx,
  constOf,
  contiguousD,
  convert,
  dimsOf,
  dimVal,
  type Emit,
  ERR_GLOBAL,
  ERR_VALUE_GLOBAL,
  emitCopy,
  emitMap,
  hasRuntimeDims,
  i64Const,
  ifNonEmpty,
  isUnsigned,
  kindOf,
  loadScalar,
  loopD,
  noRuntimeDims,
  numelD,
  type StepHandler,
  unsupported,
  viewOfD,
} from './core.js';

export const SHAPE_OPS: ReadonlySet<string> = new Set([
  'transpose',
  'slice',
  'expand',
  'concat',
  'split',
  'gather',
  'trilu',
  'range',
  'constant_of_shape',
  'shape',
]);

/** The constant value of the step's operand `name` (compile-time operands: Slice's starts, Trilu's k). */
const constOrFail = (ctx: Ctx, step: PlanStep, name: string): Tensor => {
  const c = stepInput(step, name)?.value.const;
  return c ?? unsupported(step.node, ctx.plan.graph.meta?.file, `${step.node.op}: ${name} must be a constant`, 'LUT5051');
};

/**
 * Prepares a data-movement step: strided views over the operands' dims (constants without runtime
 * dims) copied by core.ts emitCopy. Slice: constant starts, axes and steps; its ends may be run-time
 * values (Shape -> Slice), since the output's dims give the extent; a negative step over a runtime
 * dim is LUT5004.
 */
export const shapeStep: StepHandler = (ctx, step): Emit => {
  const n = step.node;
  const file = ctx.plan.graph.meta?.file;
  const x = step.inputs[0]!;
  const out = step.outputs[0]!;
  const xd = dimsOf(x);
  const od = dimsOf(out);
  const ov = viewOfD(ctx, out);
  const b = kernelByteSize(x.dtype);
  switch (n.op) {
    case 'transpose': {
      const r = xd.length;
      const perm = (n.attrs.perm as number[] | undefined) ?? Array.from({ length: r }, (_, i) => r - 1 - i);
      const st = contiguousD(xd);
      const src = { addr: ctx.addrOf(x), dtype: x.dtype, strides: perm.map((p) => st[p]!) };
      return (f) => [emitCopy(ctx, f, od, ov, src)];
    }
    case 'expand': {
      const src = { addr: ctx.addrOf(x), dtype: x.dtype, strides: broadcastStridesD(xd, od) };
      return (f) => [emitCopy(ctx, f, od, ov, src)];
    }
    case 'slice': {
      const starts = intsOf(constOrFail(ctx, step, 'starts'));
      const r = xd.length;
      const axes = stepInput(step, 'axes')
        ? normalizeAxes(intsOf(constOrFail(ctx, step, 'axes')), r, (m) => unsupported(n, file, m))
        : starts.map((_, i) => i);
      const steps = stepInput(step, 'steps') ? intsOf(constOrFail(ctx, step, 'steps')) : starts.map(() => 1);
      const st = contiguousD(xd);
      let addr: Dim = ctx.addrOf(x);
      const strides = [...st];
      axes.forEach((a, i) => {
        const d = xd[a]!;
        const s0 = starts[i]!;
        const sp = steps[i]!;
        let start: Dim;
        if (typeof d === 'number') start = sliceAxis(d, s0, sp > 0 ? d : -d - 1, sp).start;
        else if (sp < 0) return noRuntimeDims(ctx, step, 'a negative step over a runtime dim');
        // clamped to [0, d]; a start beyond d leaves nothing to copy, so only a negative start needs d
        else start = s0 >= 0 ? s0 : dimMax(0, dimAdd(d, s0));
        addr = dimAdd(addr, dimMul(dimMul(start, st[a]!), b));
        strides[a] = dimMul(st[a]!, sp);
      });
      const src = { addr, dtype: x.dtype, strides };
      return (f) => [emitCopy(ctx, f, od, ov, src)];
    }
    case 'concat': {
      const axis = normalizeAxis(n.attrs.axis as number, od.length);
      const ost = contiguousD(od);
      let at: Dim = 0;
      const parts = step.inputs
        .filter((p) => p !== null)
        .map((p) => {
          const dst = { addr: dimAdd(ctx.addrOf(out), dimMul(dimMul(at, ost[axis]!), b)), dtype: out.dtype, strides: ost };
          at = dimAdd(at, dimsOf(p!)[axis]!);
          return { shape: dimsOf(p!), dst, src: viewOfD(ctx, p!) };
        });
      return (f) => parts.map((p) => emitCopy(ctx, f, p.shape, p.dst, p.src));
    }
    case 'trilu': {
      const k = stepInput(step, 'k') ? intsOf(constOrFail(ctx, step, 'k'))[0]! : 0;
      return trilu(ctx, step, k, (n.attrs.upper as number | undefined) ?? 1);
    }
    case 'constant_of_shape': {
      const v = (n.attrs.value as Tensor | undefined)?.data[0] ?? 0;
      const k = kindOf(out.dtype);
      const m = ctx.mod;
      return (f) => [emitMap(ctx, f, od, ov, [], () => constOf(m, k, v), k === 'f32' ? () => m.f32x4.splat(m.f32.const(v)) : undefined)];
    }
    case 'split': {
      const axis = normalizeAxis((n.attrs.axis as number | undefined) ?? 0, xd.length);
      const ist = contiguousD(xd);
      let at: Dim = 0;
      const parts = step.outputs.map((o) => {
        const src = { addr: dimAdd(ctx.addrOf(x), dimMul(dimMul(at, ist[axis]!), b)), dtype: x.dtype, strides: ist };
        at = dimAdd(at, dimsOf(o)[axis]!);
        return { shape: dimsOf(o), dst: viewOfD(ctx, o), src };
      });
      return (f) => parts.map((p) => emitCopy(ctx, f, p.shape, p.dst, p.src));
    }
    case 'gather':
      return gatherStep(ctx, step);
    case 'shape':
      return shapeOfStep(ctx, step);
    case 'range':
      return rangeStep(ctx, step);
  }
  return hasRuntimeDims(step) ? noRuntimeDims(ctx, step) : unsupported(n, file, `op '${n.op}' is not supported`, 'LUT5003');
};

/** Shape: the input's dims start..end (runtime ones read from the dim globals) as int64. */
function shapeOfStep(ctx: Ctx, step: PlanStep): Emit {
  const xd = dimsOf(step.inputs[0]!);
  const out = step.outputs[0]!;
  const r = xd.length;
  const clamp = (v: number) => Math.min(r, Math.max(0, v < 0 ? v + r : v));
  const s = clamp((step.node.attrs.start as number | undefined) ?? 0);
  const e = Math.max(s, clamp((step.node.attrs.end as number | undefined) ?? r));
  return (f) => {
    const m = f.mod;
    return xd.slice(s, e).map((d, i) => m.i64.store(8 * i, 8, m.i32.const(ctx.addrOf(out)), m.i64.extend_s(dimVal(ctx, f, d))));
  };
}

/**
 * Gather along an axis: one memory.copy of the inner block per (outer, index). An index outside
 * [-d, d) (compared as i64, one unsigned compare) sets ERR_GLOBAL / ERR_VALUE_GLOBAL and returns
 * from the step; `run` stops and model.mjs throws LUT5008 naming the node.
 */
function gatherStep(ctx: Ctx, step: PlanStep): Emit {
  const n = step.node;
  const [x, idx] = [step.inputs[0]!, stepInput(step, 'indices')!];
  const out = step.outputs[0]!;
  const axis = normalizeAxis((n.attrs.axis as number | undefined) ?? 0, x.shape.length);
  const xd = dimsOf(x);
  const dd = xd[axis]!;
  // the gathered axis is the checked size (LUT5008 names it): it must be static; the rest may be runtime dims
  const d = typeof dd === 'number' ? dd : noRuntimeDims(ctx, step, 'a runtime dim on the gathered axis');
  const outer = numelD(xd.slice(0, axis));
  const inner = dimMul(numelD(xd.slice(axis + 1)), kernelByteSize(x.dtype));
  const nIdx = numelD(dimsOf(idx));
  const ib = kernelByteSize(idx.dtype);
  ctx.checks.set(step, d);
  return (f) => {
    const m = f.mod;
    const { i32, i64 } = binaryen;
    const all = dimMul(dimMul(outer, nIdx), inner);
    if (all === 0) return [];
    const dv = (x: Dim) => dimVal(ctx, f, x);
    const o = f.local(i32),
      j = f.local(i32),
      i = f.local(i32),
      v = f.local(i64),
      dst = f.local(i32);
    const ik = kindOf(idx.dtype);
    const load = convert(
      m,
      ik,
      'i64',
      loadScalar(m, idx.dtype, m.i32.add(m.i32.const(ctx.addrOf(idx)), m.i32.mul(f.get(j), m.i32.const(ib)))),
      isUnsigned(idx.dtype),
    );
    const d64 = (x: number) => i64Const(m, BigInt(x));
    const body: Expr[] = [
      f.set(v, load),
      // v in [-d, d) <=> (u64)(v + d) < 2d
      m.if(
        m.i64.ge_u(m.i64.add(f.get(v), d64(d)), d64(2 * d)),
        m.block(null, [m.global.set(ERR_GLOBAL, m.i32.const(1)), m.global.set(ERR_VALUE_GLOBAL, f.get(v)), m.return()]),
      ),
      f.set(i, m.i32.wrap(f.get(v))),
      f.set(i, m.select(m.i32.lt_s(f.get(i), m.i32.const(0)), m.i32.add(f.get(i), m.i32.const(d)), f.get(i))),
      m.memory.copy(
        f.get(dst),
        m.i32.add(m.i32.const(ctx.addrOf(x)), m.i32.mul(m.i32.add(m.i32.mul(f.get(o), m.i32.const(d)), f.get(i)), dv(inner))),
        dv(inner),
      ),
      f.set(dst, m.i32.add(f.get(dst), dv(inner))),
    ];
    // every loop count is >= 1 once the copy is not empty
    const loops = [f.set(dst, m.i32.const(ctx.addrOf(out))), f.loop(o, dv(outer), [f.loop(j, dv(nIdx), body)])];
    return typeof all === 'number' ? loops : [ifNonEmpty(ctx, f, all, loops)];
  };
}

/** Trilu: copy, then zero each row's dropped columns with memory.fill (rows and columns may be runtime dims). */
function trilu(ctx: Ctx, step: PlanStep, k: number, upper: number): Emit {
  const x = step.inputs[0]!;
  const out = step.outputs[0]!;
  const xd = dimsOf(x);
  const r = xd.length;
  const [rows, cols] = [xd[r - 2]!, xd[r - 1]!];
  const mats = numelD(xd.slice(0, -2));
  const b = kernelByteSize(x.dtype);
  return (f) => {
    const m = f.mod;
    const { i32 } = binaryen;
    const all = numelD(xd);
    if (all === 0) return [];
    const dv = (d: Dim) => dimVal(ctx, f, d);
    const res: Expr[] = [];
    if (ctx.addrOf(x) !== ctx.addrOf(out))
      res.push(
        m.memory.copy(
          m.i32.const(ctx.addrOf(out)),
          m.i32.const(ctx.addrOf(x)),
          typeof all === 'number' ? m.i32.const(out.bytes) : dv(dimMul(all, b)),
        ),
      );
    const bi = f.local(i32),
      i = f.local(i32),
      s = f.local(i32),
      e = f.local(i32),
      row = f.local(i32);
    const clamp = (v: Expr, t: number) =>
      f.set(t, m.select(m.i32.lt_s(v, m.i32.const(0)), m.i32.const(0), m.select(m.i32.gt_s(dv(cols), f.get(t)), f.get(t), dv(cols))));
    // kept: j - i >= k (upper) or j - i <= k (lower); zero the complement [s, e)
    const body: Expr[] = upper
      ? [f.set(s, m.i32.const(0)), f.set(e, m.i32.add(f.get(i), m.i32.const(k))), clamp(f.get(e), e)]
      : [f.set(s, m.i32.add(f.get(i), m.i32.const(k + 1))), clamp(f.get(s), s), f.set(e, dv(cols))];
    body.push(
      m.if(
        m.i32.gt_s(f.get(e), f.get(s)),
        m.memory.fill(
          m.i32.add(f.get(row), m.i32.mul(f.get(s), m.i32.const(b))),
          m.i32.const(0),
          m.i32.mul(m.i32.sub(f.get(e), f.get(s)), m.i32.const(b)),
        ),
      ),
      typeof cols === 'number' ? f.incr(row, cols * b) : f.set(row, m.i32.add(f.get(row), dv(dimMul(cols, b)))),
    );
    // every loop count is >= 1 once numel > 0
    res.push(f.set(row, m.i32.const(ctx.addrOf(out))), f.loop(bi, dv(mats), [f.loop(i, dv(rows), body)]));
    return typeof all === 'number' ? res : [ifNonEmpty(ctx, f, all, res)];
  };
}

/** Range with run-time scalars: out[i] = start + i * delta in f64, converted once to the type (a runtime count: its dim). */
function rangeStep(ctx: Ctx, step: PlanStep): Emit {
  const [s, , d] = step.inputs as [NonNullable<PlanStep['inputs'][0]>, unknown, NonNullable<PlanStep['inputs'][0]>];
  const out = step.outputs[0]!;
  const k = kindOf(out.dtype);
  const count = dimsOf(out)[0]!;
  return (f) => {
    const m = f.mod;
    if (count === 0) return [];
    const { i32, f64 } = binaryen;
    const i = f.local(i32),
      st = f.local(f64),
      de = f.local(f64);
    const ld = (p: typeof s) => convert(m, kindOf(p.dtype), 'f64', loadScalar(m, p.dtype, m.i32.const(ctx.addrOf(p))));
    const v = m.f64.add(f.get(st), m.f64.mul(m.f64.convert_s.i32(f.get(i)), f.get(de)));
    const val = k === 'f64' ? v : k === 'f32' ? m.f32.demote(v) : k === 'i64' ? m.i64.trunc_s_sat.f64(v) : m.i32.trunc_s_sat.f64(v);
    const b = kernelByteSize(out.dtype);
    const ptr = m.i32.add(m.i32.const(ctx.addrOf(out)), m.i32.mul(f.get(i), m.i32.const(b)));
    const store =
      k === 'f64'
        ? m.f64.store(0, 8, ptr, val)
        : k === 'f32'
          ? m.f32.store(0, 4, ptr, val)
          : k === 'i64'
            ? m.i64.store(0, 8, ptr, val)
            : m.i32.store(0, 4, ptr, val);
    const loop = typeof count === 'number' ? f.loop(i, m.i32.const(count), [store]) : loopD(ctx, f, count, [store], false, i);
    return [f.set(st, ld(s)), f.set(de, ld(d)), loop];
  };
}
