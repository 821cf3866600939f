/**
 * Data-movement steps of the whole-model module: transpose, slice, expand, concat, split, gather,
 * trilu, range, constant_of_shape (steps of constants were folded by the pipeline's fold-constants
 * pass; those it leaves, too large or weight ops, run as ordinary steps). Every
 * movement is a strided view copy (core.ts emitCopy: memory.copy per contiguous row, else an element
 * loop), so a slice or a transpose is a view plus one copy.
 */
import binaryen from 'binaryen';
import { intsOf, normalizeAxes } from '../../../ir/ops/dims.js';
import { sliceAxis } from '../../../ir/ops/slice.js';
import { normalizeAxis } from '../../../ir/ops/util.js';
import type { Tensor } from '../../../ir/types.js';
import { kernelByteSize, type PlanStep, stepInput } from '../../model-plan.js';
import type { Expr } from '../builder.js';
import {
  broadcastStrides,
  type Ctx,
  constOf,
  contiguous,
  convert,
  type Emit,
  ERR_GLOBAL,
  ERR_VALUE_GLOBAL,
  emitCopy,
  emitMap,
  i64Const,
  isUnsigned,
  kindOf,
  loadScalar,
  numelOf,
  type StepHandler,
  unsupported,
  viewOf,
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
]);

/** The constant value of the step's operand `name` (compile-time operands: Slice's starts, Trilu's k). */
const constOrFail = (ctx: Ctx, step: PlanStep, name: string): Tensor => {
  const c = stepInput(step, name)?.value.const;
  return c ?? unsupported(step.node, ctx.plan.graph.meta?.file, `${step.node.op}: ${name} must be a constant`, 'LUT5051');
};

/** Prepares a data-movement step. */
export const shapeStep: StepHandler = (ctx, step): Emit => {
  const n = step.node;
  const file = ctx.plan.graph.meta?.file;
  const x = step.inputs[0];
  const out = step.outputs[0]!;
  const ov = viewOf(ctx, out);
  switch (n.op) {
    case 'transpose': {
      const r = x!.shape.length;
      const perm = (n.attrs.perm as number[] | undefined) ?? Array.from({ length: r }, (_, i) => r - 1 - i);
      const st = contiguous(x!.shape);
      const src = { addr: ctx.addrOf(x!), dtype: x!.dtype, strides: perm.map((p) => st[p]!) };
      return (f) => [emitCopy(f, out.shape, ov, src)];
    }
    case 'expand': {
      const src = { addr: ctx.addrOf(x!), dtype: x!.dtype, strides: broadcastStrides(x!.shape, out.shape) };
      return (f) => [emitCopy(f, out.shape, ov, src)];
    }
    case 'slice': {
      const starts = intsOf(constOrFail(ctx, step, 'starts'));
      const ends = intsOf(constOrFail(ctx, step, 'ends'));
      const r = x!.shape.length;
      const axes = stepInput(step, 'axes')
        ? normalizeAxes(intsOf(constOrFail(ctx, step, 'axes')), r, (m) => unsupported(n, file, m))
        : starts.map((_, i) => i);
      const steps = stepInput(step, 'steps') ? intsOf(constOrFail(ctx, step, 'steps')) : starts.map(() => 1);
      const st = contiguous(x!.shape);
      let addr = ctx.addrOf(x!);
      const strides = [...st];
      axes.forEach((a, i) => {
        const p = sliceAxis(x!.shape[a]!, starts[i]!, ends[i]!, steps[i]!);
        addr += p.start * st[a]! * kernelByteSize(x!.dtype);
        strides[a] = st[a]! * steps[i]!;
      });
      return (f) => [emitCopy(f, out.shape, ov, { addr, dtype: x!.dtype, strides })];
    }
    case 'concat': {
      const r = out.shape.length;
      const axis = normalizeAxis(n.attrs.axis as number, r);
      const ost = contiguous(out.shape);
      const b = kernelByteSize(out.dtype);
      let at = 0;
      const parts = step.inputs
        .filter((p) => p !== null)
        .map((p) => {
          const dst = { addr: ctx.addrOf(out) + at * ost[axis]! * b, dtype: out.dtype, strides: ost };
          at += p!.shape[axis]!;
          return { shape: p!.shape, dst, src: viewOf(ctx, p!) };
        });
      return (f) => parts.map((p) => emitCopy(f, p.shape, p.dst, p.src));
    }
    case 'split': {
      const r = x!.shape.length;
      const axis = normalizeAxis((n.attrs.axis as number | undefined) ?? 0, r);
      const ist = contiguous(x!.shape);
      const b = kernelByteSize(x!.dtype);
      let at = 0;
      const parts = step.outputs.map((o) => {
        const src = { addr: ctx.addrOf(x!) + at * ist[axis]! * b, dtype: x!.dtype, strides: ist };
        at += o.shape[axis]!;
        return { shape: o.shape, dst: viewOf(ctx, o), src };
      });
      return (f) => parts.map((p) => emitCopy(f, p.shape, p.dst, p.src));
    }
    case 'gather':
      return gatherStep(ctx, step);
    case 'trilu': {
      const k = stepInput(step, 'k') ? intsOf(constOrFail(ctx, step, 'k'))[0]! : 0;
      return trilu(ctx, step, k, (n.attrs.upper as number | undefined) ?? 1);
    }
    case 'constant_of_shape': {
      const v = (n.attrs.value as Tensor | undefined)?.data[0] ?? 0;
      const k = kindOf(out.dtype);
      const m = ctx.mod;
      return (f) => [emitMap(f, out.shape, ov, [], () => constOf(m, k, v), k === 'f32' ? () => m.f32x4.splat(m.f32.const(v)) : undefined)];
    }
    case 'range':
      return rangeStep(ctx, step);
  }
  return unsupported(n, file, `op '${n.op}' is not supported`, 'LUT5003');
};

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
  const d = x.shape[axis]!;
  const outer = numelOf(x.shape.slice(0, axis));
  const inner = numelOf(x.shape.slice(axis + 1)) * kernelByteSize(x.dtype);
  const nIdx = numelOf(idx.shape);
  const ib = kernelByteSize(idx.dtype);
  ctx.checks.set(step, d);
  return (f) => {
    const m = f.mod;
    const { i32, i64 } = binaryen;
    if (outer * nIdx * inner === 0) return [];
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
        m.i32.add(m.i32.const(ctx.addrOf(x)), m.i32.mul(m.i32.add(m.i32.mul(f.get(o), m.i32.const(d)), f.get(i)), m.i32.const(inner))),
        m.i32.const(inner),
      ),
      f.incr(dst, inner),
    ];
    return [f.set(dst, m.i32.const(ctx.addrOf(out))), f.loop(o, m.i32.const(outer), [f.loop(j, m.i32.const(nIdx), body)])];
  };
}

/** Trilu: copy, then zero each row's dropped columns with memory.fill. */
function trilu(ctx: Ctx, step: PlanStep, k: number, upper: number): Emit {
  const x = step.inputs[0]!;
  const out = step.outputs[0]!;
  const r = x.shape.length;
  const [rows, cols] = [x.shape[r - 2]!, x.shape[r - 1]!];
  const mats = numelOf(x.shape) / Math.max(1, rows * cols);
  const b = kernelByteSize(x.dtype);
  return (f) => {
    const m = f.mod;
    const { i32 } = binaryen;
    if (mats * rows * cols === 0) return [];
    const res: Expr[] = [];
    if (ctx.addrOf(x) !== ctx.addrOf(out))
      res.push(m.memory.copy(m.i32.const(ctx.addrOf(out)), m.i32.const(ctx.addrOf(x)), m.i32.const(out.bytes)));
    const bi = f.local(i32),
      i = f.local(i32),
      s = f.local(i32),
      e = f.local(i32),
      row = f.local(i32);
    const clamp = (v: Expr, t: number) =>
      f.set(
        t,
        m.select(
          m.i32.lt_s(v, m.i32.const(0)),
          m.i32.const(0),
          m.select(m.i32.gt_s(m.i32.const(cols), f.get(t)), f.get(t), m.i32.const(cols)),
        ),
      );
    // kept: j - i >= k (upper) or j - i <= k (lower); zero the complement [s, e)
    const body: Expr[] = upper
      ? [f.set(s, m.i32.const(0)), f.set(e, m.i32.add(f.get(i), m.i32.const(k))), clamp(f.get(e), e)]
      : [f.set(s, m.i32.add(f.get(i), m.i32.const(k + 1))), clamp(f.get(s), s), f.set(e, m.i32.const(cols))];
    body.push(
      m.if(
        m.i32.gt_s(f.get(e), f.get(s)),
        m.memory.fill(
          m.i32.add(f.get(row), m.i32.mul(f.get(s), m.i32.const(b))),
          m.i32.const(0),
          m.i32.mul(m.i32.sub(f.get(e), f.get(s)), m.i32.const(b)),
        ),
      ),
      f.incr(row, cols * b),
    );
    res.push(f.set(row, m.i32.const(ctx.addrOf(out))), f.loop(bi, m.i32.const(mats), [f.loop(i, m.i32.const(rows), body)]));
    return res;
  };
}

/** Range with run-time scalars: out[i] = start + i * delta in f64, converted once to the type. */
function rangeStep(ctx: Ctx, step: PlanStep): Emit {
  const [s, , d] = step.inputs as [NonNullable<PlanStep['inputs'][0]>, unknown, NonNullable<PlanStep['inputs'][0]>];
  const out = step.outputs[0]!;
  const k = kindOf(out.dtype);
  const count = out.shape[0]!;
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
    return [f.set(st, ld(s)), f.set(de, ld(d)), f.loop(i, m.i32.const(count), [store])];
  };
}
