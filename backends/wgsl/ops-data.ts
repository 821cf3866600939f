/**
 * WGSL renderers of data-movement ops: transpose, slice, concat, split, gather, expand, trilu, range,
 * constant_of_shape, shape, and copies (view ops whose input is a constant, which model-plan.ts gives
 * a step). Every index is static index math on the planned shapes; bounds, perms, slice starts and
 * the like must be constants (LUT5213 otherwise), as static shapes already require in practice.
 * A gather index out of range is reported through the status buffer (STATUS_DECL): the host module
 * throws LUT5008 naming the node after the run (docs/wgsl.md); the element it would have read is 0.
 */

import { sliceAxis } from '../../ir/ops/slice.js';
import { normalizeAxis } from '../../ir/ops/util.js';
import { numel, strides } from '../../ir/tensor.js';
import { inputIndex, VIEW_OPS } from '../model-plan.js';
import {
  accessors,
  constInts,
  coords,
  grid1,
  type Kernel,
  kindOf,
  lit,
  main1,
  operandIndex,
  STATUS_DECL,
  type StepCtx,
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

/** One 1-D kernel over `n` output elements of output `o` with `body`. */
function kernel(c: StepCtx, n: number, body: string, part = ''): Kernel {
  return { label: c.node.name + part, code: main1(n, body, accessors(c)), groups: grid1(n) };
}

/** Signed offset expression `base + sum c[a] * inc[a]` (steps may be negative), as a u32. */
function affine(base: number, c: readonly string[], inc: readonly number[]): string {
  const terms = inc.map((s, a) => (s === 0 || c[a] === '0u' ? '' : ` + i32(${c[a]}) * ${s}`)).join('');
  return `u32(${base}${terms})`;
}

function renderTranspose(c: StepCtx): Kernel[] {
  const x = c.ins[0]!;
  const out = c.outs[0]!;
  const r = x.shape.length;
  const perm = (c.attrs.perm as number[] | undefined) ?? [...Array(r).keys()].reverse();
  const st = strides(x.shape);
  const cc = coords(out.shape);
  return [
    kernel(
      c,
      numel(out.shape),
      `${cc.code}  out0(i, in0(${affine(
        0,
        cc.c,
        perm.map((p) => st[p]!),
      )}));`,
    ),
  ];
}

function renderSlice(c: StepCtx): Kernel[] {
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

/** Concat: one kernel per input, each copying its slab into the output. */
function renderConcat(c: StepCtx): Kernel[] {
  const out = c.outs[0]!;
  const a = normalizeAxis(c.attrs.axis as number, out.shape.length);
  const inner = numel(out.shape.slice(a + 1));
  const outLen = out.shape[a]!;
  let at = 0;
  const ks: Kernel[] = [];
  c.ins.forEach((p, j) => {
    if (!p) return;
    const len = p.shape[a]!;
    const n = numel(p.shape);
    if (n > 0) {
      const blk = len * inner;
      ks.push(
        kernel(
          c,
          n,
          `  let o = i / ${lit('u', blk)};\n  let r = i % ${lit('u', blk)};\n  out0(o * ${lit('u', outLen * inner)} + ${lit('u', at * inner)} + r, in${j}(i));`,
          `#${j}`,
        ),
      );
    }
    at += len;
  });
  return ks;
}

/** Split: one kernel per output. */
function renderSplit(c: StepCtx): Kernel[] {
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

function renderGather(c: StepCtx): Kernel[] {
  const x = c.ins[0]!;
  const ii = inputIndex(c, 'indices');
  const idx = c.ins[ii]!;
  const out = c.outs[0]!;
  const a = normalizeAxis(c.attrs.axis as number, x.shape.length);
  const d = x.shape[a]!;
  const inner = numel(x.shape.slice(a + 1));
  const nIdx = numel(idx.shape);
  const k = kindOf(x.dtype);
  const body = `  let r = i % ${lit('u', inner)};
  let j = (i / ${lit('u', inner)}) % ${lit('u', nIdx)};
  let o = i / ${lit('u', inner * nIdx)};
  var t = i32(in${ii}(j));
  if (t < -${d} || t >= ${d}) {
    if (atomicMin(&S[0], ${c.step}u) > ${c.step}u) { atomicStore(&S[1], bitcast<u32>(t)); }
    out0(i, ${lit(k, 0)});
    return;
  }
  if (t < 0) { t = t + ${d}; }
  out0(i, in0((o * ${lit('u', d)} + u32(t)) * ${lit('u', inner)} + r));`;
  const n = numel(out.shape);
  const check = { step: c.step, node: c.node.name, op: c.node.op, size: d };
  return [{ label: c.node.name, code: main1(n, body, accessors(c) + STATUS_DECL), groups: grid1(n), check }];
}

function renderExpand(c: StepCtx): Kernel[] {
  const out = c.outs[0]!;
  const cc = coords(out.shape);
  return [kernel(c, numel(out.shape), `${cc.code}  out0(i, in0(${operandIndex(c.ins[0]!.shape, out.shape, cc.c)}));`)];
}

function renderTrilu(c: StepCtx): Kernel[] {
  const out = c.outs[0]!;
  const r = out.shape.length;
  const ki = inputIndex(c, 'k');
  const kc = c.node.inputs[ki] ? (c.constOf(ki) ? String(c.constOf(ki)!.data[0]!) : `i32(in${ki}(0u))`) : '0';
  const cols = out.shape[r - 1]!;
  const rows = out.shape[r - 2]!;
  const cmp = c.attrs.upper !== 0 ? '>=' : '<=';
  const body = `  let col = i32(i % ${lit('u', cols)});
  let rw = i32((i / ${lit('u', cols)}) % ${lit('u', rows)});
  let keep = col - rw ${cmp} ${kc};
  out0(i, select(${lit(kindOf(out.dtype), 0)}, in0(i), keep));`;
  return [kernel(c, numel(out.shape), body)];
}

function renderRange(c: StepCtx): Kernel[] {
  const out = c.outs[0]!;
  const k = kindOf(out.dtype);
  const val = (name: string) => {
    const j = inputIndex(c, name);
    return c.constOf(j) ? lit(k, c.constOf(j)!.data[0]!) : `in${j}(0u)`;
  };
  const T = k === 'f' ? 'f32' : k === 'i' ? 'i32' : 'u32';
  return [kernel(c, numel(out.shape), `  out0(i, ${val('start')} + ${T}(i) * ${val('delta')});`)];
}

function renderFill(c: StepCtx): Kernel[] {
  const out = c.outs[0]!;
  const k = kindOf(out.dtype);
  const v = (c.attrs.value as { data: ArrayLike<number> } | undefined)?.data[0] ?? 0;
  return [kernel(c, numel(out.shape), `  out0(i, ${lit(k, v)});`)];
}

/** Shape of a static-shaped input: its dims as constants (usually folded long before). */
function renderShape(c: StepCtx): Kernel[] {
  const out = c.outs[0]!;
  const n = numel(out.shape);
  const x = c.ins[0]!.shape;
  const rank = x.length;
  const clamp = (v: number) => Math.min(rank, Math.max(0, v < 0 ? v + rank : v));
  const s = clamp(c.attrs.start as number);
  const dims = x.slice(s, s + n);
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
