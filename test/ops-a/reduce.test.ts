/**
 * Reductions (axes as an optional int64 input, keepdims, noop_with_empty_axes), their shape rules
 * over symbolic dims, and softmax / log_softmax. Sums of small integers in f32 are exact, so most
 * comparisons are exact; softmax uses rtol 1e-6 (a few f32 ulps of a double-accurate computation).
 */
import { describe, expect, it } from 'vitest';
import { errorCode, expectClose, F, inferOp, konst, run1, runOp, T, ty } from './helpers.js';

const axes = (...a: number[]) => konst(T('i64', [a.length], a));
const x = F([2, 3], [1, 2, 3, 4, 5, 6]);

describe('reduce_sum / reduce_mean / reduce_max', () => {
  it('reduces over given axes with keepdims', () => {
    const [r] = runOp('reduce_sum', [x, axes(1)]);
    expect(r!.shape).toEqual([2, 1]);
    expect(Array.from(r!.data)).toEqual([6, 15]);
    const [m] = runOp('reduce_mean', [x, axes(0)], { keepdims: 0 });
    expect(m!.shape).toEqual([3]);
    expect(Array.from(m!.data)).toEqual([2.5, 3.5, 4.5]);
    expect(run1('reduce_max', [x, axes(-1)], { keepdims: 0 })).toEqual([3, 6]);
  });

  it('reduces everything when axes are absent, or is the identity with noop_with_empty_axes', () => {
    const [all] = runOp('reduce_sum', [x, null]);
    expect(all!.shape).toEqual([1, 1]);
    expect(Array.from(all!.data)).toEqual([21]);
    const [all0] = runOp('reduce_sum', [x, axes()], { keepdims: 0 });
    expect(all0!.shape).toEqual([]);
    const [id] = runOp('reduce_sum', [x, axes()], { noop_with_empty_axes: 1 });
    expect(id!.shape).toEqual([2, 3]);
    expect(Array.from(id!.data)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('reduces several axes of a 3-D tensor', () => {
    const y = F([2, 2, 2], [1, 2, 3, 4, 5, 6, 7, 8]);
    expect(run1('reduce_sum', [y, axes(0, 2)], { keepdims: 0 })).toEqual([1 + 2 + 5 + 6, 3 + 4 + 7 + 8]);
    expect(run1('reduce_max', [y, axes(2, 0)], { keepdims: 0 })).toEqual([6, 8]);
  });

  it('handles NaN, integers and empty reductions', () => {
    expect(run1('reduce_max', [F([3], [1, NaN, 2]), null])).toEqual([NaN]);
    expect(run1('reduce_sum', [T('i8', [3], [100, 100, -1]), null])).toEqual([-57]); // 199 wraps
    expect(run1('reduce_mean', [T('i32', [2], [1, 2]), null])).toEqual([1]); // 1.5 truncates
    expect(run1('reduce_max', [T('i32', [2, 0], []), axes(1)])).toEqual([-2147483648, -2147483648]);
    expect(run1('reduce_sum', [F([2, 0], []), axes(1)])).toEqual([0, 0]);
  });

  it('infers shapes over symbolic dims and diagnoses bad axes', () => {
    expect(inferOp('reduce_mean', [ty('f32', ['B', 'S', 8]), axes(-1)], { keepdims: 0 })[0]!.shape).toEqual(['B', 'S']);
    expect(inferOp('reduce_mean', [ty('f32', ['B', 'S', 8]), axes(-1)])[0]!.shape).toEqual(['B', 'S', 1]);
    expect(inferOp('reduce_sum', [ty('f16', ['B', 4]), null])[0]).toEqual({ dtype: 'f16', shape: [1, 1] });
    // axes known only at run time: rank survives with keepdims, dims become fresh symbols
    const [r] = inferOp('reduce_sum', [ty('f32', ['B', 4]), ty('i64', [1])]);
    expect(r!.shape.length).toBe(2);
    expect(r!.shape.every((d) => typeof d === 'string')).toBe(true);
    expect(inferOp('reduce_sum', [ty('f32', ['B', 4, 5]), ty('i64', [2])], { keepdims: 0 })[0]!.shape.length).toBe(1);
    expect(errorCode(() => inferOp('reduce_sum', [ty('f32', [2, 3]), axes(2)]))).toMatch(/^LUT1113: reduce_sum: axis 2 is out of range/);
    expect(errorCode(() => inferOp('reduce_sum', [ty('f32', [2, 3]), axes(1, -1)]))).toMatch(/^LUT1113: reduce_sum: axis -1 is repeated/);
    expect(errorCode(() => inferOp('reduce_max', [ty('f32', [2, 3]), konst(T('i32', [1], [0]))]))).toMatch(/^LUT1112/);
  });
});

describe('softmax / log_softmax', () => {
  it('normalizes along the last axis by default, stably for large inputs', () => {
    const y = run1('softmax', [F([2, 3], [1, 2, 3, 1000, 1000, 1000])]);
    const e = [Math.exp(-2), Math.exp(-1), 1];
    const s = e[0]! + e[1]! + e[2]!;
    expectClose(y, [e[0]! / s, e[1]! / s, e[2]! / s, 1 / 3, 1 / 3, 1 / 3], 1e-6);
    const ly = run1('log_softmax', [F([2, 3], [1, 2, 3, 1000, 1000, 1000])]);
    expectClose(ly, [...e.map((v) => Math.log(v / s)), ...Array(3).fill(-Math.log(3))], 1e-6);
  });

  it('normalizes along any axis of a 3-D tensor', () => {
    const data = [0, 1, 2, 3, 4, 5, 6, 7];
    const y = run1('softmax', [F([2, 2, 2], data)], { axis: 1 });
    // along axis 1 pairs are (0,2),(1,3),(4,6),(5,7): each differs by 2
    const a = 1 / (1 + Math.exp(2));
    expectClose(y, [a, a, 1 - a, 1 - a, a, a, 1 - a, 1 - a], 1e-6);
    const y0 = run1('softmax', [F([2, 2, 2], data)], { axis: 0 });
    const b = 1 / (1 + Math.exp(4));
    expectClose(y0, [b, b, b, b, 1 - b, 1 - b, 1 - b, 1 - b], 1e-6);
  });

  it('keeps the symbolic shape and diagnoses a bad axis', () => {
    expect(inferOp('softmax', [ty('f16', ['B', 'S', 'S'])])[0]).toEqual({ dtype: 'f16', shape: ['B', 'S', 'S'] });
    expect(errorCode(() => inferOp('log_softmax', [ty('f32', [2, 3])], { axis: 2 }))).toMatch(/^LUT1113: log_softmax: axis 2/);
    expect(errorCode(() => inferOp('softmax', [ty('i32', [2, 3])]))).toMatch(/^LUT1112/);
  });
});
