/**
 * Op definitions: ops that cut, join and select along axes: slice, concat, split, gather, trilu.
 * Imported by `ir/ops/shape.ts`. Slice bounds follow ONNX's clamping exactly; INT64_MAX / INT64_MIN
 * sentinels arrive as +/-2^63 (int64 is stored as float64) and clamp like any out-of-range bound.
 */

import { dimAdd, dimMax, dimMin, dimSub } from '../dim-expr.js';
import { defineOp, type InferCtx } from '../optable.js';
import { allocData, numel, strides } from '../tensor.js';
import type { Dim, Tensor, TensorData } from '../types.js';
import { concrete, dimsOfInput, type ErrFn, type FreshFn, intsOf, movedDims, normalizeAxes, ruleErr, unifyDim } from './dims.js';
import { normalizeAxis } from './util.js';

/** Bounds at or beyond this are "to the end" sentinels for any realistic dim (INT32_MAX, INT64_MAX). */
const SENTINEL = 2 ** 31 - 1;

/** Normalized axis or a coded error. */
function axisOf(axis: number, rank: number, err: ErrFn): number {
  const a = normalizeAxis(axis, rank);
  if (a < 0) err(`axis ${axis} is out of range for rank ${rank}`, 'axis');
  return a;
}

// ---- slice ------------------------------------------------------------------------------------------

/** First index and element count of one sliced axis, clamped as ONNX specifies. */
export function sliceAxis(dim: number, start: number, end: number, step: number): { start: number; len: number } {
  let s = start < 0 ? start + dim : start;
  let e = end < 0 ? end + dim : end;
  if (step > 0) {
    s = Math.min(Math.max(s, 0), dim);
    e = Math.min(Math.max(e, 0), dim);
  } else {
    s = Math.min(Math.max(s, 0), dim - 1);
    e = Math.min(Math.max(e, -1), dim - 1);
  }
  return { start: s, len: Math.max(0, Math.ceil((e - s) / step)) };
}

interface SliceSpec {
  axes: number[];
  starts: Dim[];
  ends: Dim[];
  steps: number[];
}

function sliceSpec<D extends Dim = number>(
  rank: number,
  starts: D[],
  ends: D[],
  axes: number[] | undefined,
  steps: number[] | undefined,
  err: ErrFn,
): SliceSpec & { starts: D[]; ends: D[] } {
  if (ends.length !== starts.length) err(`starts has ${starts.length} elements but ends has ${ends.length}`);
  const ax = normalizeAxes(axes ?? starts.map((_, i) => i), rank, err);
  if (ax.length !== starts.length) err(`axes has ${ax.length} elements but starts has ${starts.length}`);
  const st = steps ?? starts.map(() => 1);
  if (st.length !== starts.length) err(`steps has ${st.length} elements but starts has ${starts.length}`);
  if (st.some((s) => s === 0)) err('slice steps must not be zero', 'value');
  return { axes: ax, starts, ends, steps: st };
}

/**
 * Result dim of a slice of a runtime dim or with runtime bounds: for step 1, max(0, end' - start')
 * with each bound clamped to [0, d] as a dim expression (a runtime bound is a size); a full reverse
 * slice keeps d; any other stepped slice is a fresh dim.
 */
function symbolicSliceDim(d: Dim, s: Dim, e: Dim, t: number, fresh: FreshFn): Dim {
  if (t === -1 && typeof s === 'number' && typeof e === 'number' && s >= SENTINEL && e <= -SENTINEL) return d;
  if (t !== 1) return fresh();
  const bound = (x: Dim): Dim => {
    if (typeof x === 'string') return dimMin(x, d);
    if (x >= SENTINEL) return d;
    if (x <= -SENTINEL) return 0;
    return x >= 0 ? dimMin(x, d) : dimMax(dimAdd(d, x), 0);
  };
  return dimMax(dimSub(bound(e), bound(s)), 0);
}

defineOp({
  name: 'slice',
  onnx: { domain: '', type: 'Slice' },
  summary: 'Strided sub-tensor: starts/ends/axes/steps inputs, ONNX clamping, negative steps.',
  inputs: [
    { name: 'data' },
    { name: 'starts', compileTime: true },
    { name: 'ends', compileTime: true },
    { name: 'axes', optional: true, compileTime: true },
    { name: 'steps', optional: true, compileTime: true },
  ],
  outputs: [{ name: 'output' }],
  attrs: {},
  dimValues: movedDims([0]),
  infer(ctx) {
    const x = ctx.inputs[0]!;
    const err = ruleErr(ctx);
    const [s, e, a, t] = [1, 2, 3, 4].map((i) => ctx.constInput(i));
    const [sd, ed] = [dimsOfInput(ctx, 1), dimsOfInput(ctx, 2)];
    const axesKnown = !ctx.inputs[3] || a;
    if (!axesKnown) return [{ dtype: x.dtype, shape: x.shape.map(() => ctx.freshDim()) }];
    const nAx = sd ? sd.length : ctx.inputs[1]!.shape[0];
    const axes = a ? normalizeAxes(intsOf(a), x.shape.length, err) : typeof nAx === 'number' ? [...Array(nAx).keys()] : undefined;
    if (!axes) return [{ dtype: x.dtype, shape: x.shape.map(() => ctx.freshDim()) }];
    if (!sd || !ed || (ctx.inputs[4] && !t)) {
      return [{ dtype: x.dtype, shape: x.shape.map((d, i) => (axes.includes(i) ? ctx.freshDim() : d)) }];
    }
    const spec = sliceSpec<Dim>(x.shape.length, sd, ed, a && intsOf(a), t && intsOf(t), err);
    const shape = [...x.shape];
    spec.axes.forEach((ax, i) => {
      const d = shape[ax]!;
      const [st, en, sp] = [spec.starts[i]!, spec.ends[i]!, spec.steps[i]!];
      shape[ax] =
        typeof d === 'number' && typeof st === 'number' && typeof en === 'number'
          ? sliceAxis(d, st, en, sp).len
          : symbolicSliceDim(d, st, en, sp, () => ctx.freshDim());
    });
    return [{ dtype: x.dtype, shape }];
  },
  interp([x, s, e, a, t], ctx) {
    const spec = sliceSpec(x!.shape.length, intsOf(s!), intsOf(e!), a ? intsOf(a) : undefined, t ? intsOf(t) : undefined, (m) =>
      ctx.error('LUT3052', m),
    );
    const r = x!.shape.length;
    const first = new Array<number>(r).fill(0);
    const step = new Array<number>(r).fill(1);
    const shape = [...x!.shape];
    spec.axes.forEach((ax, i) => {
      const p = sliceAxis(x!.shape[ax]!, spec.starts[i]!, spec.ends[i]!, spec.steps[i]!);
      first[ax] = p.start;
      step[ax] = spec.steps[i]!;
      shape[ax] = p.len;
    });
    return [stridedCopy(x!, shape, first, step)];
  },
});

/** out[i...] = x[first + i*step ...] per axis, walking the output with an incremental input offset. */
function stridedCopy(x: Tensor, shape: number[], first: number[], step: number[]): Tensor {
  const n = numel(shape);
  const out = allocData(x.dtype, n);
  const st = strides(x.shape);
  const inc = st.map((v, i) => v * step[i]!);
  let off = first.reduce((acc, f, i) => acc + f * st[i]!, 0);
  const r = shape.length;
  const ctr = new Array<number>(r).fill(0);
  const src = x.data;
  for (let i = 0; i < n; i++) {
    out[i] = src[off]!;
    for (let ax = r - 1; ax >= 0; ax--) {
      ctr[ax]!++;
      off += inc[ax]!;
      if (ctr[ax]! < shape[ax]!) break;
      off -= inc[ax]! * shape[ax]!;
      ctr[ax] = 0;
    }
  }
  return { dtype: x.dtype, shape, data: out };
}

// ---- concat -----------------------------------------------------------------------------------------

function concatDims(shapes: readonly (readonly Dim[])[], axis: number, err: ErrFn): Dim[] {
  if (shapes.length === 0) err('concat needs at least one input', 'arity');
  const r = shapes[0]!.length;
  const a = axisOf(axis, r, err);
  const out = [...shapes[0]!];
  let sum: Dim = 0;
  for (const s of shapes) {
    if (s.length !== r) err(`inputs have ranks ${shapes.map((x) => x.length).join(', ')}; concat needs one rank`);
    for (let i = 0; i < r; i++) {
      if (i === a) continue;
      const u = unifyDim(out[i]!, s[i]!);
      if (u === null) err(`inputs differ in dim ${i} ([${shapes.map((x) => x.join(', ')).join('] vs [')}])`);
      out[i] = u;
    }
    // runtime dims add as dim expressions (past + seq), numbers as numbers
    sum = dimAdd(sum, s[a]!);
  }
  out[a] = sum;
  return out;
}

defineOp({
  name: 'concat',
  onnx: { domain: '', type: 'Concat' },
  summary: 'Joins inputs along an axis.',
  inputs: [{ name: 'inputs', variadic: true }],
  outputs: [{ name: 'concat_result' }],
  attrs: { axis: { type: 'int', required: true } },
  dimValues: movedDims('all'),
  infer(ctx) {
    const ins = ctx.inputs.filter((t) => t !== null);
    if (ins.some((t) => t.dtype !== ins[0]!.dtype))
      ctx.error('LUT1112', `inputs have different dtypes (${ins.map((t) => t.dtype).join(', ')})`);
    return [
      {
        dtype: ins[0]!.dtype,
        shape: concatDims(
          ins.map((t) => t.shape),
          ctx.attrs.axis as number,
          ruleErr(ctx),
        ),
      },
    ];
  },
  interp(inputs, ctx) {
    const ins = inputs.filter((t): t is Tensor => t !== null);
    const shape = concrete(
      concatDims(
        ins.map((t) => t.shape),
        ctx.attrs.axis as number,
        (m) => ctx.error('LUT3052', m),
      ),
    );
    const a = axisOf(ctx.attrs.axis as number, shape.length, (m) => ctx.error('LUT3052', m));
    const outer = numel(shape.slice(0, a));
    const out = allocData(ins[0]!.dtype, numel(shape));
    const blocks = ins.map((t) => numel(t.shape.slice(a)));
    let dst = 0;
    // Each outer index contributes one contiguous block from every input in turn.
    for (let o = 0; o < outer; o++)
      ins.forEach((t, i) => {
        const b = blocks[i]!;
        (out as Float64Array).set((t.data as Float64Array).subarray(o * b, (o + 1) * b), dst);
        dst += b;
      });
    return [{ dtype: ins[0]!.dtype, shape, data: out }];
  },
});

// ---- split ------------------------------------------------------------------------------------------

/** Sizes of the parts: the split input, or num_outputs parts of ceil(dim/n) with a smaller last one. */
function splitSizes(dim: number, nOut: number, split: number[] | undefined, numOutputs: number | undefined, err: ErrFn): number[] {
  if (split) {
    if (split.length !== nOut) err(`split has ${split.length} sizes for ${nOut} outputs`, 'value');
    if (split.some((v) => v < 0)) err(`split [${split.join(', ')}] holds a negative size`, 'value');
    const sum = split.reduce((p, v) => p + v, 0);
    if (sum !== dim) err(`split sizes [${split.join(', ')}] sum to ${sum}, the axis has ${dim}`, 'value');
    return split;
  }
  if (numOutputs !== undefined && numOutputs !== nOut) err(`num_outputs is ${numOutputs} but the node has ${nOut} outputs`, 'arity');
  const chunk = Math.ceil(dim / nOut);
  const last = dim - chunk * (nOut - 1);
  if (last < 0) err(`an axis of ${dim} cannot be split into ${nOut} parts of ${chunk}`, 'value');
  if (numOutputs === undefined && last !== chunk) err(`an axis of ${dim} does not split evenly into ${nOut} parts`, 'value');
  return [...Array<number>(nOut - 1).fill(chunk), last];
}

defineOp({
  name: 'split',
  onnx: { domain: '', type: 'Split' },
  summary: 'Splits along an axis into parts given by the split input or num_outputs.',
  inputs: [{ name: 'input' }, { name: 'split', optional: true, compileTime: true }],
  outputs: [{ name: 'outputs', variadic: true }],
  attrs: { axis: { type: 'int', default: 0 }, num_outputs: { type: 'int' } },
  dimValues: movedDims([0]),
  infer(ctx: InferCtx) {
    const x = ctx.inputs[0]!;
    const err = ruleErr(ctx);
    const a = axisOf(ctx.attrs.axis as number, x.shape.length, err);
    const nOut = ctx.node.outputs.length;
    const sT = ctx.constInput(1);
    const d = x.shape[a]!;
    const known = typeof d === 'number' && (!ctx.inputs[1] || sT);
    return Array.from({ length: nOut }, (_, i) => {
      const shape = [...x.shape];
      if (known) shape[a] = splitSizes(d, nOut, sT && intsOf(sT), ctx.attrs.num_outputs as number | undefined, err)[i]!;
      else if (sT) shape[a] = intsOf(sT)[i] ?? err(`split has fewer sizes than the node has outputs`, 'value');
      else shape[a] = ctx.freshDim();
      return { dtype: x.dtype, shape };
    });
  },
  interp([x, s], ctx) {
    const err: ErrFn = (m) => ctx.error('LUT3052', m);
    const a = axisOf(ctx.attrs.axis as number, x!.shape.length, err);
    const sizes = splitSizes(
      x!.shape[a]!,
      ctx.node.outputs.length,
      s ? intsOf(s) : undefined,
      ctx.attrs.num_outputs as number | undefined,
      err,
    );
    const outer = numel(x!.shape.slice(0, a));
    const inner = numel(x!.shape.slice(a + 1));
    const rowLen = x!.shape[a]! * inner;
    let at = 0;
    return sizes.map((sz) => {
      const shape = [...x!.shape];
      shape[a] = sz;
      const out = allocData(x!.dtype, outer * sz * inner);
      const b = sz * inner;
      for (let o = 0; o < outer; o++)
        (out as Float64Array).set((x!.data as Float64Array).subarray(o * rowLen + at, o * rowLen + at + b), o * b);
      at += b;
      return { dtype: x!.dtype, shape, data: out };
    });
  },
});

// ---- gather -----------------------------------------------------------------------------------------

defineOp({
  name: 'gather',
  onnx: { domain: '', type: 'Gather' },
  summary: 'Selects entries along an axis by (possibly negative) indices.',
  inputs: [{ name: 'data' }, { name: 'indices' }],
  outputs: [{ name: 'output' }],
  attrs: { axis: { type: 'int', default: 0 } },
  dimValues: movedDims([0]),
  infer(ctx) {
    const [x, idx] = [ctx.inputs[0]!, ctx.inputs[1]!];
    const a = axisOf(ctx.attrs.axis as number, x.shape.length, ruleErr(ctx));
    if (idx.dtype !== 'i32' && idx.dtype !== 'i64') ctx.error('LUT1112', `indices must be int32 or int64, not ${idx.dtype}`);
    return [{ dtype: x.dtype, shape: [...x.shape.slice(0, a), ...idx.shape, ...x.shape.slice(a + 1)] }];
  },
  interp([x, idx], ctx) {
    const a = axisOf(ctx.attrs.axis as number, x!.shape.length, (m) => ctx.error('LUT3052', m));
    const d = x!.shape[a]!;
    const outer = numel(x!.shape.slice(0, a));
    const inner = numel(x!.shape.slice(a + 1));
    const ix = idx!.data;
    const shape = [...x!.shape.slice(0, a), ...idx!.shape, ...x!.shape.slice(a + 1)];
    const out = allocData(x!.dtype, numel(shape)) as Float64Array;
    const src = x!.data as Float64Array;
    let dst = 0;
    for (let o = 0; o < outer; o++)
      for (let j = 0; j < ix.length; j++) {
        let i = ix[j]!;
        if (i < -d || i >= d) ctx.error('LUT3051', `index ${i} is out of range for an axis of size ${d}`);
        if (i < 0) i += d;
        const from = (o * d + i) * inner;
        out.set(src.subarray(from, from + inner), dst);
        dst += inner;
      }
    return [{ dtype: x!.dtype, shape, data: out as TensorData }];
  },
});

// ---- trilu ------------------------------------------------------------------------------------------

defineOp({
  name: 'trilu',
  onnx: { domain: '', type: 'Trilu' },
  summary: 'Upper (j - i >= k) or lower (j - i <= k) triangle of the last two dims; the rest zeroed.',
  inputs: [{ name: 'input' }, { name: 'k', optional: true }],
  outputs: [{ name: 'output' }],
  attrs: { upper: { type: 'int', default: 1 } },
  infer(ctx) {
    const x = ctx.inputs[0]!;
    if (x.shape.length < 2) ctx.error('LUT1110', `trilu needs rank >= 2, the input has rank ${x.shape.length}`);
    return [{ dtype: x.dtype, shape: [...x.shape] }];
  },
  interp([x, kT], ctx) {
    const k = kT ? kT.data[0]! : 0;
    const upper = ctx.attrs.upper !== 0;
    const r = x!.shape.length;
    const [rows, cols] = [x!.shape[r - 2]!, x!.shape[r - 1]!];
    const data = x!.data.slice();
    const mats = numel(x!.shape) / Math.max(1, rows * cols);
    for (let b = 0; b < mats; b++)
      for (let i = 0; i < rows; i++)
        for (let j = 0; j < cols; j++) {
          const keep = upper ? j - i >= k : j - i <= k;
          if (!keep) data[(b * rows + i) * cols + j] = 0;
        }
    return [{ dtype: x!.dtype, shape: [...x!.shape], data }];
  },
});
