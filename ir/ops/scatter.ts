/**
 * Index-driven ops: gather_elements, scatter_elements and scatter_nd (opset-18 forms with the
 * `reduction` attribute: none / add / mul / max / min). Indices may be negative (counted from the
 * end); an index out of range is a run-time error (LUT3106), as in ORT. Scatters copy `data` and
 * apply updates in index order, so with reduction 'none' a repeated index keeps the last update
 * (ONNX leaves that case undefined).
 */
import { defineOp, type InferCtx } from '../optable.js';
import { allocData, numel, strides } from '../tensor.js';
import type { Tensor } from '../types.js';
import { ALL_TYPES, operandType, sameDtype, storer } from './numeric.js';
import { normalizeAxis } from './util.js';

const REDUCTIONS = ['none', 'add', 'mul', 'max', 'min'];

/** The combine function of a scatter reduction (NaN propagates through max/min as in numpy). */
function combiner(reduction: string): (old: number, upd: number) => number {
  switch (reduction) {
    case 'add':
      return (a, b) => a + b;
    case 'mul':
      return (a, b) => a * b;
    case 'max':
      return (a, b) => (a !== a || b !== b ? NaN : Math.max(a, b));
    case 'min':
      return (a, b) => (a !== a || b !== b ? NaN : Math.min(a, b));
    default:
      return (_a, b) => b;
  }
}

/** Axis attribute normalized against `rank`, or LUT1113. */
function inferAxis(ctx: InferCtx, rank: number): number {
  const a = normalizeAxis(ctx.attrs.axis as number, rank);
  if (a < 0) ctx.error('LUT1113', `${ctx.node.op}: axis ${String(ctx.attrs.axis)} is out of range for rank ${rank}`);
  return a;
}

/** Checks that data and indices have the same rank. */
function sameRank(ctx: InferCtx, i: number, j: number): void {
  const [a, b] = [ctx.inputs[i]!, ctx.inputs[j]!];
  if (a.shape.length !== b.shape.length)
    ctx.error('LUT1110', `${ctx.node.op}: operands ${i} and ${j} must have the same rank, got [${a.shape}] and [${b.shape}]`);
}

/**
 * Visits every element of `idx` (same rank as `data`), calling `f(i, off)` with the flat index into
 * `idx` and the flat offset into `data` of the element it addresses along `axis`.
 */
function elementsAlong(data: Tensor, idx: Tensor, axis: number, err: (m: string) => never, f: (i: number, off: number) => void): void {
  const ds = strides(data.shape);
  const rank = idx.shape.length;
  const ctr = new Array<number>(rank).fill(0);
  const dim = data.shape[axis]!;
  for (let i = 0; i < idx.data.length; i++) {
    let k = idx.data[i]!;
    if (k < -dim || k >= dim) err(`index ${k} is out of range for axis ${axis} of size ${dim}`);
    if (k < 0) k += dim;
    let off = 0;
    for (let a = 0; a < rank; a++) {
      const c = a === axis ? k : ctr[a]!;
      if (a !== axis && c >= data.shape[a]!) err(`indices of shape [${idx.shape}] exceed data of shape [${data.shape}] on axis ${a}`);
      off += c * ds[a]!;
    }
    f(i, off);
    for (let a = rank - 1; a >= 0; a--) {
      if (++ctr[a]! < idx.shape[a]!) break;
      ctr[a] = 0;
    }
  }
}

defineOp({
  name: 'gather_elements',
  onnx: { domain: '', type: 'GatherElements' },
  summary: 'output[i][j][k] = data[index][j][k] (for axis 0, likewise per axis), index = indices[i][j][k]; result shaped like indices',
  inputs: [{ name: 'data' }, { name: 'indices' }],
  outputs: [{ name: 'output' }],
  attrs: { axis: { type: 'int', default: 0 } },
  infer(ctx) {
    const x = operandType(ctx, 0, ALL_TYPES);
    const idx = operandType(ctx, 1, ['i32', 'i64']);
    sameRank(ctx, 0, 1);
    inferAxis(ctx, x.shape.length);
    return [{ dtype: x.dtype, shape: [...idx.shape] }];
  },
  interp([x, idx], ctx) {
    const axis = normalizeAxis(ctx.attrs.axis as number, x!.shape.length);
    const data = allocData(x!.dtype, idx!.data.length);
    elementsAlong(
      x!,
      idx!,
      axis,
      (m) => ctx.error('LUT3106', `gather_elements: ${m}`),
      (i, off) => (data[i] = x!.data[off]!),
    );
    return [{ dtype: x!.dtype, shape: [...idx!.shape], data }];
  },
});

defineOp({
  name: 'scatter_elements',
  onnx: { domain: '', type: 'ScatterElements' },
  summary: 'copy of data with data[indices[i][j]][j] (axis 0; likewise per axis) combined with updates[i][j] per reduction',
  inputs: [{ name: 'data' }, { name: 'indices' }, { name: 'updates' }],
  outputs: [{ name: 'output' }],
  attrs: { axis: { type: 'int', default: 0 }, reduction: { type: 'string', default: 'none', oneOf: REDUCTIONS } },
  infer(ctx) {
    const x = operandType(ctx, 0, ALL_TYPES);
    const idx = operandType(ctx, 1, ['i32', 'i64']);
    const u = operandType(ctx, 2, ALL_TYPES);
    sameDtype(ctx, [0, 2]);
    sameRank(ctx, 0, 1);
    inferAxis(ctx, x.shape.length);
    if (
      u.shape.length !== idx.shape.length ||
      u.shape.some((d, i) => typeof d === 'number' && typeof idx.shape[i] === 'number' && d !== idx.shape[i])
    ) {
      ctx.error('LUT1110', `scatter_elements: updates [${u.shape}] must have the shape of indices [${idx.shape}]`);
    }
    return [{ dtype: x.dtype, shape: [...x.shape] }];
  },
  interp([x, idx, upd], ctx) {
    const axis = normalizeAxis(ctx.attrs.axis as number, x!.shape.length);
    const data = x!.data.slice();
    const f = combiner(ctx.attrs.reduction as string);
    const st = storer(x!.dtype);
    elementsAlong(
      x!,
      idx!,
      axis,
      (m) => ctx.error('LUT3106', `scatter_elements: ${m}`),
      (i, off) => (data[off] = st(f(data[off]!, upd!.data[i]!))),
    );
    return [{ dtype: x!.dtype, shape: [...x!.shape], data }];
  },
});

defineOp({
  name: 'scatter_nd',
  onnx: { domain: '', type: 'ScatterND' },
  summary: 'copy of data with the slices data[indices[..., :]] combined with updates[...] per reduction',
  inputs: [{ name: 'data' }, { name: 'indices' }, { name: 'updates' }],
  outputs: [{ name: 'output' }],
  attrs: { reduction: { type: 'string', default: 'none', oneOf: REDUCTIONS } },
  infer(ctx) {
    const x = operandType(ctx, 0, ALL_TYPES);
    const idx = operandType(ctx, 1, ['i64']);
    const u = operandType(ctx, 2, ALL_TYPES);
    sameDtype(ctx, [0, 2]);
    const q = idx.shape.length;
    const k = idx.shape[q - 1];
    if (q < 1 || typeof k !== 'number' || k > x.shape.length) {
      return ctx.error('LUT1110', `scatter_nd: indices [${idx.shape}] need a static last dim of at most data's rank ${x.shape.length}`);
    }
    // updates.shape = indices.shape[:-1] + data.shape[k:]
    const want = [...idx.shape.slice(0, -1), ...x.shape.slice(k)];
    if (u.shape.length !== want.length || u.shape.some((d, i) => typeof d === 'number' && typeof want[i] === 'number' && d !== want[i])) {
      ctx.error('LUT1110', `scatter_nd: updates [${u.shape}] must have shape [${want}]`);
    }
    return [{ dtype: x.dtype, shape: [...x.shape] }];
  },
  interp([x, idx, upd], ctx) {
    const X = x!;
    const k = idx!.shape[idx!.shape.length - 1]!;
    const ds = strides(X.shape);
    const slice = numel(X.shape.slice(k));
    const count = numel(idx!.shape.slice(0, -1));
    const data = X.data.slice();
    const f = combiner(ctx.attrs.reduction as string);
    const st = storer(X.dtype);
    for (let n = 0; n < count; n++) {
      let off = 0;
      for (let j = 0; j < k; j++) {
        const dim = X.shape[j]!;
        let v = idx!.data[n * k + j]!;
        if (v < -dim || v >= dim) ctx.error('LUT3106', `scatter_nd: index ${v} is out of range for axis ${j} of size ${dim}`);
        if (v < 0) v += dim;
        off += v * ds[j]!;
      }
      for (let s = 0; s < slice; s++) data[off + s] = st(f(data[off + s]!, upd!.data[n * slice + s]!));
    }
    return [{ dtype: X.dtype, shape: [...X.shape], data }];
  },
});
