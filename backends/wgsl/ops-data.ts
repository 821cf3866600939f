/**
 * WGSL renderers of data-movement ops: transpose, slice, concat, split, gather, expand, trilu, range,
 * constant_of_shape, shape, and copies (view ops whose input is a constant, which model-plan.ts gives
 * a step). Every index is static index math on the planned shapes; bounds, perms, slice starts and
 * the like must be constants (LUT5213 otherwise), as static shapes already require in practice.
 * A gather index out of range is reported through the status buffer (STATUS_DECL): the host module
 * throws LUT5008 naming the node after the run (docs/wgsl.md); the element it would have read is 0.
 * Runtime dims (all but the view-op copies): the same index math over dims read from the DIMS
 * uniform (shader-common.ts); a slice's ends may then be computed at run time (its first element does
 * not depend on them; the planned output dims give its length); a gather's gathered axis must stay
 * static (its size is the index check's), range's length is the output's dims.
 */

import { dimAdd, dimMax, dimMin, dimMul, dimSub } from '../../ir/dim-expr.js';
import { sliceAxis } from '../../ir/ops/slice.js';
import { normalizeAxis } from '../../ir/ops/util.js';
import { numel, strides } from '../../ir/tensor.js';
import type { Dim } from '../../ir/types.js';
import { inputIndex, VIEW_OPS } from '../model-plan.js';
import {
  accessors,
  constInts,
  coords,
  type DimFn,
  dimsOf,
  grid1,
  grid1Of,
  type Kernel,
  kindOf,
  lit,
  main1,
  numelD,
  operandIndex,
  STATUS_DECL,
  type StepCtx,
  stridesD,
} from './shader-common.js';

export const DATA_OPS = new Set([
  'transpose',
  'slice',
  'concat',
  'split',
  'gather',
  'expand',
  'trilu',
  'range',
  'constant_of_shape',
  'shape',
  ...VIEW_OPS,
]);

/** One 1-D kernel over `n` output elements with `body` (`bound`: n at the runtime dims' bounds). */
function kernel(c: StepCtx, n: Dim, body: string, part = '', bound = 0): Kernel {
  if (typeof n === 'number') return { label: c.node.name + part, code: main1(n, body, accessors(c)), groups: grid1(n) };
  return { label: c.node.name + part, code: main1(n, body, accessors(c), c.dim), ...grid1Of(n, bound) };
}

/** Signed offset expression `base + sum c[a] * inc[a]` (steps may be negative), as a u32. */
function affine(base: Dim, c: readonly string[], inc: readonly Dim[], dim?: DimFn): string {
  const i = (d: Dim) => (typeof d === 'number' ? `${d}` : `i32(${dim!(d)})`);
  const terms = inc.map((s, a) => (s === 0 || c[a] === '0u' ? '' : ` + i32(${c[a]}) * ${i(s)}`)).join('');
  return `u32(${i(base)}${terms})`;
}

function renderTranspose(c: StepCtx): Kernel[] {
  const x = c.ins[0]!;
  const out = c.outs[0]!;
  const r = x.shape.length;
  const perm = (c.attrs.perm as number[] | undefined) ?? [...Array(r).keys()].reverse();
  const st = c.runtime ? stridesD(dimsOf(x)) : strides(x.shape);
  const cc = coords(dimsOf(out), 'i', 'c', c.dim);
  return [
    kernel(
      c,
      numelD(dimsOf(out)),
      `${cc.code}  out0(i, in0(${affine(
        0,
        cc.c,
        perm.map((p) => st[p]!),
        c.dim,
      )}));`,
      '',
      numel(out.shape),
    ),
  ];
}

function renderSlice(c: StepCtx): Kernel[] {
  if (c.runtime) return renderSliceRuntime(c);
  const x = c.ins[0]!;
  const out = c.outs[0]!;
  const starts = constInts(c, 'starts', 'slice starts')!;
  const ends = constInts(c, 'ends', 'slice ends')!;
  const axes = constInts(c, 'axes', 'slice axes') ?? starts.map((_, i) => i);
  const steps = constInts(c, 'steps', 'slice steps') ?? starts.map(() => 1);
  const st = strides(x.shape);
  const first = x.shape.map(() => 0);
  const step = x.shape.map(() => 1);
  axes.forEach((a0, j) => {
    const a = normalizeAxis(a0, x.shape.length);
    first[a] = sliceAxis(x.shape[a]!, starts[j]!, ends[j]!, steps[j]!).start;
    step[a] = steps[j]!;
  });
  const base = first.reduce((acc, v, a) => acc + v * st[a]!, 0);
  const cc = coords(out.shape);
  return [
    kernel(
      c,
      numel(out.shape),
      `${cc.code}  out0(i, in0(${affine(
        base,
        cc.c,
        step.map((s, a) => s * st[a]!),
      )}));`,
    ),
  ];
}

/**
 * Slice with runtime dims: starts, axes and steps constant; the ends only decide the output's length,
 * which the plan's dims give, so they may be computed at run time. The first element of an axis of
 * runtime size d is sliceAxis's clamped start as a dim expression (it is read only when the output
 * is not empty, when the clamps that depend on the end cannot bind).
 */
function renderSliceRuntime(c: StepCtx): Kernel[] {
  const x = c.ins[0]!;
  const out = c.outs[0]!;
  const xd = dimsOf(x);
  const starts = constInts(c, 'starts', 'slice starts')!;
  const axes = constInts(c, 'axes', 'slice axes') ?? starts.map((_, i) => i);
  const steps = constInts(c, 'steps', 'slice steps') ?? starts.map(() => 1);
  const st = stridesD(xd);
  const first: Dim[] = xd.map(() => 0);
  const step = xd.map(() => 1);
  axes.forEach((a0, j) => {
    const a = normalizeAxis(a0, xd.length);
    const d = xd[a]!;
    const [s0, sp] = [starts[j]!, steps[j]!];
    if (typeof d === 'number') first[a] = sliceAxis(d, s0, sp > 0 ? d : -1, sp).start;
    else if (!Number.isSafeInteger(s0) || Math.abs(s0) > 2 ** 31)
      // an INT64 sentinel start: the first or last element of the axis
      first[a] = s0 > 0 ? (sp > 0 ? d : dimSub(d, 1)) : 0;
    else {
      const s = s0 < 0 ? dimAdd(d, s0) : s0;
      first[a] = sp > 0 ? dimMax(s, 0) : dimMin(dimMax(s, 0), dimSub(d, 1));
    }
    step[a] = sp;
  });
  const base = first.reduce<Dim>((acc, v, a) => dimAdd(acc, dimMul(v, st[a]!)), 0);
  const od = dimsOf(out);
  const cc = coords(od, 'i', 'c', c.dim);
  const body = `${cc.code}  out0(i, in0(${affine(
    base,
    cc.c,
    step.map((s, a) => dimMul(s, st[a]!)),
    c.dim,
  )}));`;
  return [kernel(c, numelD(od), body, '', numel(out.shape))];
}

/** Concat: one kernel per input, each copying its slab into the output (runtime dims too). */
function renderConcat(c: StepCtx): Kernel[] {
  const out = c.outs[0]!;
  const od = dimsOf(out);
  const a = normalizeAxis(c.attrs.axis as number, od.length);
  const inner = numelD(od.slice(a + 1));
  const outLen = od[a]!;
  let at: Dim = 0;
  const ks: Kernel[] = [];
  const d = c.dim;
  c.ins.forEach((p, j) => {
    if (!p) return;
    const pd = dimsOf(p);
    const len = pd[a]!;
    const n = numelD(pd);
    if (typeof n !== 'number' || n > 0) {
      const blk = dimMul(len, inner);
      ks.push(
        kernel(
          c,
          n,
          `  let o = i / ${d(blk)};\n  let r = i % ${d(blk)};\n  out0(o * ${d(dimMul(outLen, inner))} + ${d(dimMul(at, inner))} + r, in${j}(i));`,
          `#${j}`,
          numel(p.shape),
        ),
      );
    }
    at = dimAdd(at, len);
  });
  return ks;
}

/** Split: one kernel per output. */
function renderSplit(c: StepCtx): Kernel[] {
  if (c.runtime) return renderSplitRuntime(c);
  const x = c.ins[0]!;
  const a = normalizeAxis(c.attrs.axis as number, x.shape.length);
  const inner = numel(x.shape.slice(a + 1));
  const rowLen = x.shape[a]! * inner;
  let at = 0;
  const ks: Kernel[] = [];
  c.outs.forEach((p, j) => {
    const b = p.shape[a]! * inner;
    const n = numel(p.shape);
    if (n > 0)
      ks.push(
        kernel(
          c,
          n,
          `  let o = i / ${lit('u', b)};\n  out${j}(i, in0(o * ${lit('u', rowLen)} + ${lit('u', at)} + i % ${lit('u', b)}));`,
          `#${j}`,
        ),
      );
    at += b;
  });
  return ks;
}

/** Split over runtime dims: the same copies with sizes and offsets from DIMS (an empty output dispatches nothing). */
function renderSplitRuntime(c: StepCtx): Kernel[] {
  const xd = dimsOf(c.ins[0]!);
  const a = normalizeAxis(c.attrs.axis as number, xd.length);
  const inner = numelD(xd.slice(a + 1));
  const rowLen = dimMul(xd[a]!, inner);
  const d = c.dim;
  let at: Dim = 0;
  const ks: Kernel[] = [];
  c.outs.forEach((p, j) => {
    const pd = dimsOf(p);
    const b = dimMul(pd[a]!, inner);
    const n = numelD(pd);
    if (typeof n !== 'number' || n > 0)
      ks.push(
        kernel(c, n, `  let o = i / ${d(b)};\n  out${j}(i, in0(o * ${d(rowLen)} + ${d(at)} + i % ${d(b)}));`, `#${j}`, numel(p.shape)),
      );
    at = dimAdd(at, b);
  });
  return ks;
}

/**
 * Gather, static or over runtime dims (runtime index or outer dims, e.g. an embedding lookup of seq
 * tokens: counts from DIMS; a static step renders plain literals). An index outside [-d, d) reports
 * into the status buffer (LUT5008) and writes 0. The gathered axis itself must be static (the check
 * reports its size): LUT5004 otherwise.
 */
function renderGather(c: StepCtx): Kernel[] {
  const x = c.ins[0]!;
  const xd = dimsOf(x);
  const ii = inputIndex(c, 'indices');
  const idx = c.ins[ii]!;
  const out = c.outs[0]!;
  const a = normalizeAxis(c.attrs.axis as number, xd.length);
  const d = xd[a]!;
  if (typeof d !== 'number')
    c.fail('LUT5004', `gather along the runtime dim '${d}' is not rendered by the WGSL backend yet: freeze it with --dim ${d}=N`);
  const inner = numelD(xd.slice(a + 1));
  const nIdx = numelD(dimsOf(idx));
  const k = kindOf(x.dtype);
  const dd = c.dim;
  const body = `  let r = i % ${dd(inner)};
  let j = (i / ${dd(inner)}) % ${dd(nIdx)};
  let o = i / ${dd(dimMul(inner, nIdx))};
  var t = i32(in${ii}(j));
  if (t < -${d} || t >= ${d}) {
    if (atomicMin(&S[0], ${c.step}u) > ${c.step}u) { atomicStore(&S[1], bitcast<u32>(t)); }
    out0(i, ${lit(k, 0)});
    return;
  }
  if (t < 0) { t = t + ${d}; }
  out0(i, in0((o * ${lit('u', d)} + u32(t)) * ${dd(inner)} + r));`;
  const n = numelD(dimsOf(out));
  const check = { step: c.step, node: c.node.name, op: c.node.op, size: d };
  return [{ label: c.node.name, code: main1(n, body, accessors(c) + STATUS_DECL, dd), ...grid1Of(n, numel(out.shape)), check }];
}

function renderExpand(c: StepCtx): Kernel[] {
  const out = c.outs[0]!;
  const od = dimsOf(out);
  const cc = coords(od, 'i', 'c', c.dim);
  const idx = operandIndex(dimsOf(c.ins[0]!), od, cc.c, c.dim);
  return [kernel(c, numelD(od), `${cc.code}  out0(i, in0(${idx}));`, '', numel(out.shape))];
}

function renderTrilu(c: StepCtx): Kernel[] {
  const out = c.outs[0]!;
  const r = out.shape.length;
  const ki = inputIndex(c, 'k');
  const kc = c.node.inputs[ki] ? (c.constOf(ki) ? String(c.constOf(ki)!.data[0]!) : `i32(in${ki}(0u))`) : '0';
  const od = dimsOf(out);
  const cols = od[r - 1]!;
  const rows = od[r - 2]!;
  const cmp = c.attrs.upper !== 0 ? '>=' : '<=';
  const body = `  let col = i32(i % ${c.dim(cols)});
  let rw = i32((i / ${c.dim(cols)}) % ${c.dim(rows)});
  let keep = col - rw ${cmp} ${kc};
  out0(i, select(${lit(kindOf(out.dtype), 0)}, in0(i), keep));`;
  return [kernel(c, numelD(od), body, '', numel(out.shape))];
}

function renderRange(c: StepCtx): Kernel[] {
  const out = c.outs[0]!;
  const k = kindOf(out.dtype);
  const val = (name: string) => {
    const j = inputIndex(c, name);
    return c.constOf(j) ? lit(k, c.constOf(j)!.data[0]!) : `in${j}(0u)`;
  };
  const T = k === 'f' ? 'f32' : k === 'i' ? 'i32' : 'u32';
  const body = `  out0(i, ${val('start')} + ${T}(i) * ${val('delta')});`;
  // runtime dims: the length from DIMS (the plan's dims of the output; start and delta stay operands)
  return [c.runtime ? kernel(c, numelD(dimsOf(out)), body, '', numel(out.shape)) : kernel(c, numel(out.shape), body)];
}

function renderFill(c: StepCtx): Kernel[] {
  const out = c.outs[0]!;
  const k = kindOf(out.dtype);
  const v = (c.attrs.value as { data: ArrayLike<number> } | undefined)?.data[0] ?? 0;
  return [kernel(c, numelD(dimsOf(out)), `  out0(i, ${lit(k, v)});`, '', numel(out.shape))];
}

/** Shape of a static-shaped input: its dims as constants (usually folded long before). */
function renderShape(c: StepCtx): Kernel[] {
  const out = c.outs[0]!;
  const n = numel(out.shape);
  const x = dimsOf(c.ins[0]!);
  const rank = x.length;
  const clamp = (v: number) => Math.min(rank, Math.max(0, v < 0 ? v + rank : v));
  const s = clamp(c.attrs.start as number);
  const dims = x.slice(s, s + n).map((d) => (typeof d === 'number' ? `${d}` : `i32(${c.dim(d)})`));
  return [kernel(c, n, `  var dims = array<i32, ${n}>(${dims.join(', ')});\n  out0(i, dims[i]);`)];
}

/** Renders a data-movement op, or undefined when `op` is not one. */
export function renderData(c: StepCtx): Kernel[] | undefined {
  switch (c.node.op) {
    case 'transpose':
      return renderTranspose(c);
    case 'slice':
      return renderSlice(c);
    case 'concat':
      return renderConcat(c);
    case 'split':
      return renderSplit(c);
    case 'gather':
      return renderGather(c);
    case 'expand':
      return renderExpand(c);
    case 'trilu':
      return renderTrilu(c);
    case 'range':
      return renderRange(c);
    case 'constant_of_shape':
      return renderFill(c);
    case 'shape':
      return renderShape(c);
  }
  if (VIEW_OPS.has(c.node.op)) return [kernel(c, numel(c.outs[0]!.shape), '  out0(i, in0(i));')];
  return undefined;
}
