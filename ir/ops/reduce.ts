/**
 * Reductions and softmax: reduce_mean / reduce_sum / reduce_max / reduce_min / reduce_prod /
 * reduce_l1 / reduce_l2 / reduce_sum_square / reduce_log_sum / reduce_log_sum_exp in their opset-18+
 * form (axes as an optional int64 input, keepdims, noop_with_empty_axes) and softmax / log_softmax along one axis
 * (opset 13). Sums accumulate in doubles and round once when stored, which is at least as accurate as
 * ORT's float accumulation; tests compare with tolerances, not bits.
 */
import { defineOp, type InferCtx, type InterpCtx } from '../optable.js';
import { allocData, numel, strides } from '../tensor.js';
import type { Dim, DType, Tensor } from '../types.js';
import { FLOAT_TYPES, intRange, isFloatType, NUMERIC_TYPES, operandType, storer } from './numeric.js';
import { normalizeAxis } from './util.js';

/** Normalized, sorted, distinct axes; out-of-range or repeated axes are reported through `err`. */
function normalizeAxes(axes: readonly number[], rank: number, err: (m: string) => never): number[] {
  const out = new Set<number>();
  for (const a of axes) {
    const n = normalizeAxis(a, rank);
    if (n < 0) err(`axis ${a} is out of range for rank ${rank}`);
    if (out.has(n)) err(`axis ${a} is repeated`);
    out.add(n);
  }
  return [...out].sort((x, y) => x - y);
}

/**
 * Which axes a reduce node reduces, from its axes operand (null = absent) and noop_with_empty_axes:
 * 'noop' for the identity, 'all', or a list.
 */
function reducedAxes(axes: readonly number[] | null, rank: number, noop: boolean, err: (m: string) => never): number[] | 'noop' {
  if (!axes || axes.length === 0) return noop ? 'noop' : [...Array(rank).keys()];
  return normalizeAxes(axes, rank, err);
}

function reduceShape<D extends Dim>(shape: readonly D[], axes: readonly number[], keep: boolean): D[] {
  const out: D[] = [];
  shape.forEach((d, i) => {
    if (!axes.includes(i)) out.push(d);
    else if (keep) out.push(1 as D);
  });
  return out;
}

function inferReduce(ctx: InferCtx, types: readonly DType[]) {
  const x = operandType(ctx, 0, types);
  const keep = ctx.attrs.keepdims !== 0;
  const noop = ctx.attrs.noop_with_empty_axes === 1;
  const at = ctx.inputs[1];
  if (at && (at.dtype !== 'i64' || at.shape.length !== 1))
    ctx.error('LUT1112', `${ctx.node.op}: axes must be a 1-D int64 tensor, got ${at.dtype} [${at.shape}]`);
  let axes: number[] | null = null;
  if (at) {
    const c = ctx.constInput(1);
    if (!c) {
      // Axes known only at run time: with keepdims the rank survives but no dim is known; without it
      // the rank is known only from the axes' static length.
      if (at.shape[0] === 0) axes = [];
      else if (keep) return [{ dtype: x.dtype, shape: x.shape.map(() => ctx.freshDim('reduced')) }];
      else if (typeof at.shape[0] === 'number') {
        return [{ dtype: x.dtype, shape: Array.from({ length: x.shape.length - at.shape[0] }, () => ctx.freshDim('reduced')) }];
      } else ctx.error('LUT1114', `${ctx.node.op}: the rank of the result depends on axes that are not constant`);
    } else axes = [...c.data];
  }
  // every problem reducedAxes reports is an axis out of range or repeated
  const red = reducedAxes(axes, x.shape.length, noop, (m) => ctx.error('LUT1113', `${ctx.node.op}: ${m}`));
  return [{ dtype: x.dtype, shape: red === 'noop' ? [...x.shape] : reduceShape(x.shape, red, keep) }];
}

interface Reducer {
  init: number;
  step(acc: number, v: number): number;
  finish(acc: number, count: number, dt: DType): number;
}

function runReduce(x: Tensor, axesT: Tensor | null, ctx: InterpCtx, r: Reducer): Tensor {
  const keep = ctx.attrs.keepdims !== 0;
  const noop = ctx.attrs.noop_with_empty_axes === 1;
  const red = reducedAxes(axesT ? [...axesT.data] : null, x.shape.length, noop, (m) => ctx.error('LUT3020', `${ctx.node.op}: ${m}`));
  if (red === 'noop') return { dtype: x.dtype, shape: [...x.shape], data: x.data.slice() };
  const kept = reduceShape(x.shape, red, true);
  const outN = numel(kept);
  // Output stride per input axis, 0 along reduced axes: walking the input once accumulates in place.
  const ks = strides(kept);
  const st = x.shape.map((_, i) => (red.includes(i) ? 0 : ks[i]!));
  const acc = new Float64Array(outN).fill(r.init);
  const rank = x.shape.length;
  const ctr = new Array<number>(rank).fill(0);
  let off = 0;
  const d = x.data;
  for (let i = 0; i < d.length; i++) {
    acc[off] = r.step(acc[off]!, d[i]!);
    for (let a = rank - 1; a >= 0; a--) {
      ctr[a]!++;
      off += st[a]!;
      if (ctr[a]! < x.shape[a]!) break;
      off -= st[a]! * x.shape[a]!;
      ctr[a] = 0;
    }
  }
  const count = outN === 0 ? 0 : d.length / outN;
  const out = allocData(x.dtype, outN);
  const store = storer(x.dtype);
  for (let i = 0; i < outN; i++) out[i] = store(r.finish(acc[i]!, count, x.dtype));
  return { dtype: x.dtype, shape: keep ? kept : reduceShape(x.shape, red, false), data: out };
}

function reduceOp(name: string, onnx: string, summary: string, r: Reducer): void {
  defineOp({
    name,
    onnx: { domain: '', type: onnx },
    summary,
    inputs: [{ name: 'data' }, { name: 'axes', optional: true, compileTime: true }],
    outputs: [{ name: 'reduced' }],
    attrs: { keepdims: { type: 'int', default: 1 }, noop_with_empty_axes: { type: 'int', default: 0 } },
    infer: (ctx) => inferReduce(ctx, NUMERIC_TYPES),
    interp: ([x, axes], ctx) => [runReduce(x!, axes ?? null, ctx, r)],
  });
}

reduceOp('reduce_sum', 'ReduceSum', 'sum over axes (all when absent, unless noop_with_empty_axes)', {
  init: 0,
  step: (a, v) => a + v,
  finish: (a) => a,
});
reduceOp('reduce_mean', 'ReduceMean', 'mean over axes; integer means truncate; an empty reduction is NaN', {
  init: 0,
  step: (a, v) => a + v,
  finish: (a, n, dt) => (isFloatType(dt) ? a / n : n === 0 ? 0 : Math.trunc(a / n)),
});
reduceOp('reduce_max', 'ReduceMax', 'max over axes; NaN propagates; an empty reduction is the lowest value', {
  init: -Infinity,
  step: (a, v) => (a !== a || v !== v ? NaN : v > a ? v : a),
  finish: (a, _n, dt) => (a === -Infinity && !isFloatType(dt) ? intRange(dt)[0] : a),
});

reduceOp('reduce_min', 'ReduceMin', 'min over axes; NaN propagates; an empty reduction is the highest value', {
  init: Infinity,
  step: (a, v) => (a !== a || v !== v ? NaN : v < a ? v : a),
  finish: (a, _n, dt) => (a === Infinity && !isFloatType(dt) ? intRange(dt)[1] : a),
});
reduceOp('reduce_prod', 'ReduceProd', 'product over axes; an empty reduction is 1', {
  init: 1,
  step: (a, v) => a * v,
  finish: (a) => a,
});
reduceOp('reduce_l1', 'ReduceL1', 'sum of |x| over axes', {
  init: 0,
  step: (a, v) => a + Math.abs(v),
  finish: (a) => a,
});
reduceOp('reduce_l2', 'ReduceL2', 'sqrt of the sum of x^2 over axes', {
  init: 0,
  step: (a, v) => a + v * v,
  finish: (a) => Math.sqrt(a),
});
reduceOp('reduce_sum_square', 'ReduceSumSquare', 'sum of x^2 over axes', {
  init: 0,
  step: (a, v) => a + v * v,
  finish: (a) => a,
});
reduceOp('reduce_log_sum', 'ReduceLogSum', 'log of the sum over axes (an empty reduction is -inf)', {
  init: 0,
  step: (a, v) => a + v,
  finish: (a) => Math.log(a),
});
// A running log-sum-exp, so no exp overflows however large the inputs are (ORT subtracts the max too).
reduceOp('reduce_log_sum_exp', 'ReduceLogSumExp', 'log of the sum of e^x over axes, computed without overflow', {
  init: -Infinity,
  step: (a, v) => (a === -Infinity ? v : v === -Infinity ? a : Math.max(a, v) + Math.log1p(Math.exp(-Math.abs(a - v)))),
  finish: (a) => a,
});

// ---- softmax -------------------------------------------------------------------------------------

/** Calls `f(base, stride, len)` for each 1-D lane of `shape` along `axis`. */
function forEachLane(shape: readonly number[], axis: number, f: (base: number, stride: number, len: number) => void): void {
  const len = shape[axis]!;
  const inner = numel(shape.slice(axis + 1));
  const outer = numel(shape.slice(0, axis));
  for (let o = 0; o < outer; o++) for (let i = 0; i < inner; i++) f(o * len * inner + i, inner, len);
}

function softmaxOp(name: string, onnx: string, log: boolean): void {
  defineOp({
    name,
    onnx: { domain: '', type: onnx },
    summary: `${log ? 'log of ' : ''}exp(x - max) / sum exp(x - max) along one axis (opset 13 semantics)`,
    inputs: [{ name: 'input' }],
    outputs: [{ name: 'output' }],
    attrs: { axis: { type: 'int', default: -1 } },
    infer(ctx) {
      const x = operandType(ctx, 0, FLOAT_TYPES);
      if (normalizeAxis(ctx.attrs.axis as number, x.shape.length) < 0) {
        ctx.error('LUT1113', `${name}: axis ${String(ctx.attrs.axis)} is out of range for rank ${x.shape.length}`);
      }
      return [{ dtype: x.dtype, shape: [...x.shape] }];
    },
    interp([x], ctx) {
      const axis = normalizeAxis(ctx.attrs.axis as number, x!.shape.length);
      if (axis < 0) ctx.error('LUT3021', `${name}: axis ${String(ctx.attrs.axis)} is out of range for rank ${x!.shape.length}`);
      const d = x!.data;
      const out = allocData(x!.dtype, d.length);
      const store = storer(x!.dtype);
      forEachLane(x!.shape, axis, (base, stride, len) => {
        let m = -Infinity;
        for (let k = 0; k < len; k++) m = Math.max(m, d[base + k * stride]!);
        let s = 0;
        for (let k = 0; k < len; k++) s += Math.exp(d[base + k * stride]! - m);
        const ls = Math.log(s);
        for (let k = 0; k < len; k++) {
          const z = d[base + k * stride]! - m;
          out[base + k * stride] = store(log ? z - ls : Math.exp(z) / s);
        }
      });
      return [{ dtype: x!.dtype, shape: [...x!.shape], data: out }];
    },
  });
}

softmaxOp('softmax', 'Softmax', false);
softmaxOp('log_softmax', 'LogSoftmax', true);
