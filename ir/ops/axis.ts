/**
 * Ops that work along one axis: argmax / argmin (int64 indices, keepdims, select_last_index), cumsum
 * (exclusive / reverse, axis as a scalar input) and hardmax (one-hot of the first maximum, opset-13
 * form; older opsets are rewritten by compiler/onnx/upgrade.ts as for softmax).
 */
import type { DiagCode } from '../../base/diagnostics.js';
import { defineOp, type InferCtx } from '../optable.js';
import { allocData, numel } from '../tensor.js';
import type { Dim } from '../types.js';
import { FLOAT_TYPES, NUMERIC_TYPES, operandType, storer } from './numeric.js';
import { normalizeAxis } from './util.js';

/** Calls `f(base, stride, len)` for each 1-D lane of `shape` along `axis`. */
function forEachLane(shape: readonly number[], axis: number, f: (base: number, stride: number, len: number) => void): void {
  const len = shape[axis]!;
  const inner = numel(shape.slice(axis + 1));
  const outer = numel(shape.slice(0, axis));
  for (let o = 0; o < outer; o++) for (let i = 0; i < inner; i++) f(o * len * inner + i, inner, len);
}

/** The normalized `axis` attribute, or a coded error naming the op. */
function axisAttr(
  ctx: { attrs: Record<string, unknown>; node: { op: string }; error(c: DiagCode, m: string): never },
  rank: number,
  code: DiagCode,
): number {
  const a = normalizeAxis(ctx.attrs.axis as number, rank);
  if (a < 0) ctx.error(code, `${ctx.node.op}: axis ${String(ctx.attrs.axis)} is out of range for rank ${rank}`);
  return a;
}

// ---- argmax / argmin --------------------------------------------------------------------------------

function argOp(name: string, onnx: string, better: (v: number, best: number) => boolean): void {
  defineOp({
    name,
    onnx: { domain: '', type: onnx },
    summary: `int64 index of the ${onnx === 'ArgMax' ? 'largest' : 'smallest'} element along axis (first, or last with select_last_index)`,
    inputs: [{ name: 'data' }],
    outputs: [{ name: 'reduced' }],
    attrs: { axis: { type: 'int', default: 0 }, keepdims: { type: 'int', default: 1 }, select_last_index: { type: 'int', default: 0 } },
    infer(ctx: InferCtx) {
      const x = operandType(ctx, 0, NUMERIC_TYPES);
      const axis = axisAttr(ctx, x.shape.length, 'LUT1113');
      const keep = ctx.attrs.keepdims !== 0;
      const shape: Dim[] = [];
      x.shape.forEach((d, i) => {
        if (i !== axis) shape.push(d);
        else if (keep) shape.push(1);
      });
      return [{ dtype: 'i64', shape }];
    },
    interp([x], ctx) {
      const X = x!;
      const axis = axisAttr(ctx, X.shape.length, 'LUT3100');
      if (X.shape[axis] === 0)
        ctx.error('LUT3100', `${name}: axis ${axis} is empty; there is no ${onnx === 'ArgMax' ? 'maximum' : 'minimum'}`);
      const last = ctx.attrs.select_last_index !== 0;
      const outShape = X.shape.map((d, i) => (i === axis ? 1 : d));
      const out = allocData('i64', numel(outShape));
      const inner = numel(X.shape.slice(axis + 1));
      const d = X.data;
      forEachLane(X.shape, axis, (base, stride, len) => {
        let bi = 0;
        let bv = d[base]!;
        for (let k = 1; k < len; k++) {
          const v = d[base + k * stride]!;
          if (better(v, bv) || (last && v === bv)) [bi, bv] = [k, v];
        }
        // base = o * len * inner + i  ->  output index o * inner + i
        out[Math.floor(base / (len * inner)) * inner + (base % inner)] = bi;
      });
      const shape = ctx.attrs.keepdims !== 0 ? outShape : X.shape.filter((_, i) => i !== axis);
      return [{ dtype: 'i64', shape, data: out }];
    },
  });
}
argOp('argmax', 'ArgMax', (v, b) => v > b);
argOp('argmin', 'ArgMin', (v, b) => v < b);

// ---- cumsum -----------------------------------------------------------------------------------------

defineOp({
  name: 'cumsum',
  onnx: { domain: '', type: 'CumSum' },
  summary: 'running sum along the axis given as a scalar input; exclusive leaves out the current element, reverse runs backwards',
  inputs: [{ name: 'x' }, { name: 'axis', compileTime: true }],
  outputs: [{ name: 'y' }],
  attrs: { exclusive: { type: 'int', default: 0 }, reverse: { type: 'int', default: 0 } },
  infer(ctx) {
    const x = operandType(ctx, 0, NUMERIC_TYPES);
    const a = operandType(ctx, 1, ['i32', 'i64']);
    if (a.shape.length > 1 || a.shape.some((d) => d !== 1)) ctx.error('LUT1110', `cumsum: axis must be a scalar, got shape [${a.shape}]`);
    const c = ctx.constInput(1);
    if (c && normalizeAxis(c.data[0]!, x.shape.length) < 0)
      ctx.error('LUT1113', `cumsum: axis ${c.data[0]} is out of range for rank ${x.shape.length}`);
    return [{ dtype: x.dtype, shape: [...x.shape] }];
  },
  interp([x, axisT], ctx) {
    const X = x!;
    const axis = normalizeAxis(axisT!.data[0]!, X.shape.length);
    if (axis < 0) ctx.error('LUT3101', `cumsum: axis ${axisT!.data[0]} is out of range for rank ${X.shape.length}`);
    const excl = ctx.attrs.exclusive !== 0;
    const rev = ctx.attrs.reverse !== 0;
    const out = allocData(X.dtype, X.data.length);
    const st = storer(X.dtype);
    const d = X.data;
    forEachLane(X.shape, axis, (base, stride, len) => {
      let acc = 0;
      for (let j = 0; j < len; j++) {
        const i = base + (rev ? len - 1 - j : j) * stride;
        if (excl) {
          out[i] = st(acc);
          acc += d[i]!;
        } else {
          acc += d[i]!;
          out[i] = st(acc);
        }
      }
    });
    return [{ dtype: X.dtype, shape: [...X.shape], data: out }];
  },
});

// ---- hardmax ----------------------------------------------------------------------------------------

defineOp({
  name: 'hardmax',
  onnx: { domain: '', type: 'Hardmax' },
  summary: '1 at the first maximum along axis, 0 elsewhere (opset 13 semantics)',
  inputs: [{ name: 'input' }],
  outputs: [{ name: 'output' }],
  attrs: { axis: { type: 'int', default: -1 } },
  infer(ctx) {
    const x = operandType(ctx, 0, FLOAT_TYPES);
    axisAttr(ctx, x.shape.length, 'LUT1113');
    return [{ dtype: x.dtype, shape: [...x.shape] }];
  },
  interp([x], ctx) {
    const X = x!;
    const axis = axisAttr(ctx, X.shape.length, 'LUT3102');
    const out = allocData(X.dtype, X.data.length);
    const d = X.data;
    forEachLane(X.shape, axis, (base, stride, len) => {
      if (len === 0) return;
      let bi = 0;
      for (let k = 1; k < len; k++) if (d[base + k * stride]! > d[base + bi * stride]!) bi = k;
      out[base + bi * stride] = 1;
    });
    return [{ dtype: X.dtype, shape: [...X.shape], data: out }];
  },
});
