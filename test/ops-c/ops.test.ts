/**
 * Shape rules, edge cases and diagnostics of the ops added for real exports (ir/ops/math.ts, axis.ts,
 * pad.ts, scatter.ts, the added reductions, skip_layer_norm) that the ONNX conformance data and the
 * onnxruntime comparisons (test/conformance/ort-ops-b.test.ts) do not pin down: symbolic dims, large
 * reflect pads, shift widths, empty reductions, out-of-range indices, training-mode dropout. Values are
 * small integers or exact, so comparisons are exact unless a tolerance is stated.
 */
import { describe, expect, it } from 'vitest';
import { errorCode, expectClose, F, inferOp, konst, run1, runOp, T, ty } from '../ops-a/helpers.js';

const i64 = (...v: number[]) => konst(T('i64', [v.length], v));

describe('pad', () => {
  it('keeps symbolic dims with zero pads and makes fresh ones otherwise', () => {
    const [t] = inferOp('pad', [ty('f32', ['b', 4, 's']), i64(0, 1, 0, 0, 2, 0)]);
    expect(t!.shape[0]).toBe('b');
    expect(t!.shape[1]).toBe(7);
    expect(t!.shape[2]).toBe('s');
    const [u] = inferOp('pad', [ty('f32', ['b', 4]), ty('i64', [4])]);
    expect(u!.shape).toHaveLength(2);
    expect(typeof u!.shape[1]).toBe('string');
  });

  it('reflects like numpy even past the edge, and crops with negative pads', () => {
    // numpy.pad([1, 2, 3], 5, 'reflect') = [2 1 2 3 2 | 1 2 3 | 2 1 2 3 2] (ONNX's reference is numpy)
    expect(run1('pad', [F([3], [1, 2, 3]), i64(5, 5)], { mode: 'reflect' })).toEqual([2, 1, 2, 3, 2, 1, 2, 3, 2, 1, 2, 3, 2]);
    expect(run1('pad', [F([3], [1, 2, 3]), i64(2, 4)], { mode: 'wrap' })).toEqual([2, 3, 1, 2, 3, 1, 2, 3, 1]);
    expect(run1('pad', [F([4], [1, 2, 3, 4]), i64(-1, 2)], { mode: 'edge' })).toEqual([2, 3, 4, 4, 4]);
    expect(run1('pad', [T('i8', [2], [1, 2]), i64(1, 1), konst(F([], [-3.7]))])).toEqual([-3, 1, 2, -3]);
  });

  it('diagnoses bad pads', () => {
    expect(errorCode(() => inferOp('pad', [ty('f32', [2, 3]), i64(1, 1)]))).toMatch(/^LUT1110: pad: pads has 2 elements, expected 2 \* 2/);
    expect(errorCode(() => inferOp('pad', [ty('f32', [2]), i64(-2, -1)]))).toMatch(/^LUT1110/);
    expect(errorCode(() => runOp('pad', [F([0], []), i64(1, 0)], { mode: 'edge' }))).toMatch(
      /^LUT3103: pad: mode 'edge' cannot pad axis 0/,
    );
  });
});

describe('tile, size, dropout', () => {
  it('tile keeps a symbol repeated once and multiplies known dims', () => {
    const [t] = inferOp('tile', [ty('f32', ['b', 3]), i64(1, 2)]);
    expect(t!.shape).toEqual(['b', 6]);
    expect(run1('tile', [F([2], [1, 2]), i64(3)])).toEqual([1, 2, 1, 2, 1, 2]);
    expect(errorCode(() => inferOp('tile', [ty('f32', [2, 3]), i64(2)]))).toMatch(/^LUT1110/);
  });

  it('size is an int64 scalar', () => {
    const [s] = runOp('size', [F([2, 3], [1, 2, 3, 4, 5, 6])]);
    expect(s!.dtype).toBe('i64');
    expect(s!.shape).toEqual([]);
    expect(Array.from(s!.data)).toEqual([6]);
  });

  it('dropout is the identity in inference, refuses random training', () => {
    const [y, m] = runOp('dropout', [F([3], [1, 2, 3])], {}, 2);
    expect(Array.from(y!.data)).toEqual([1, 2, 3]);
    expect(Array.from(m!.data)).toEqual([1, 1, 1]);
    const yes = T('bool', [], [1]);
    expect(run1('dropout', [F([2], [4, 5]), konst(F([], [0])), yes])).toEqual([4, 5]);
    expect(errorCode(() => inferOp('dropout', [ty('f32', [2]), null, konst(yes)]))).toMatch(/^LUT1120: dropout: training_mode/);
    expect(errorCode(() => runOp('dropout', [F([2], [4, 5]), null, yes]))).toMatch(/^LUT3105/);
  });
});

describe('argmax / argmin / cumsum / hardmax', () => {
  it('picks first or last ties and diagnoses an empty axis', () => {
    const x = F([2, 3], [1, 5, 5, 7, 0, 7]);
    expect(run1('argmax', [x], { axis: 1, keepdims: 0 })).toEqual([1, 0]);
    expect(run1('argmax', [x], { axis: 1, keepdims: 0, select_last_index: 1 })).toEqual([2, 2]);
    expect(run1('argmin', [x], { axis: 0 })).toEqual([0, 1, 0]);
    expect(inferOp('argmax', [ty('f32', ['b', 3])], { axis: -1 })[0]).toEqual({ dtype: 'i64', shape: ['b', 1] });
    expect(errorCode(() => runOp('argmax', [F([2, 0], [])], { axis: 1 }))).toMatch(/^LUT3100/);
  });

  it('cumsum in all four modes', () => {
    const x = F([4], [1, 2, 3, 4]);
    const ax = konst(T('i64', [], [0]));
    expect(run1('cumsum', [x, ax])).toEqual([1, 3, 6, 10]);
    expect(run1('cumsum', [x, ax], { exclusive: 1 })).toEqual([0, 1, 3, 6]);
    expect(run1('cumsum', [x, ax], { reverse: 1 })).toEqual([10, 9, 7, 4]);
    expect(run1('cumsum', [x, ax], { exclusive: 1, reverse: 1 })).toEqual([9, 7, 4, 0]);
    expect(errorCode(() => inferOp('cumsum', [ty('f32', [4]), konst(T('i64', [], [1]))]))).toMatch(/^LUT1113/);
  });

  it('hardmax marks the first maximum per lane', () => {
    expect(run1('hardmax', [F([2, 3], [1, 3, 3, -1, -2, -3])])).toEqual([0, 1, 0, 1, 0, 0]);
  });
});

describe('math ops', () => {
  it('mod follows the divisor sign (ints) or the dividend (fmod) and rejects fmod = 0 on floats', () => {
    const a = T('i64', [4], [-7, 7, -7, 7]);
    const b = T('i64', [4], [3, -3, -3, 0]);
    expect(run1('mod', [a, b])).toEqual([2, -2, -1, 0]);
    expect(run1('mod', [a, b], { fmod: 1 })).toEqual([-1, 1, -1, 0]);
    expect(run1('mod', [F([2], [-5.5, 5.5]), F([2], [2, -2])], { fmod: 1 })).toEqual([-1.5, 1.5]);
    expect(errorCode(() => inferOp('mod', [ty('f32', [2]), ty('f32', [2])]))).toMatch(/^LUT1115: mod: fmod must be 1/);
  });

  it('bit_shift wraps left shifts to the width and zeroes full-width shifts', () => {
    const x = T('u8', [4], [255, 1, 128, 9]);
    expect(run1('bit_shift', [x, T('u8', [4], [1, 7, 8, 2])], { direction: 'LEFT' })).toEqual([254, 128, 0, 36]);
    expect(run1('bit_shift', [x, T('u8', [4], [1, 0, 9, 2])], { direction: 'RIGHT' })).toEqual([127, 1, 0, 2]);
    expect(errorCode(() => inferOp('bit_shift', [ty('i32', [2]), ty('i32', [2])], { direction: 'LEFT' }))).toMatch(/^LUT1112/);
  });

  it('round halves to even; sign keeps NaN; is_nan / is_inf', () => {
    expect(run1('round', [F([6], [0.5, 1.5, 2.5, -0.5, -1.5, 2.6])])).toEqual([0, 2, 2, -0, -2, 3]);
    const s = run1('sign', [F([3], [-2, 0, NaN])]);
    expect(s.slice(0, 2)).toEqual([-1, 0]);
    expect(s[2]).toBeNaN();
    expect(run1('is_nan', [F([3], [NaN, 1, Infinity])])).toEqual([1, 0, 0]);
    expect(run1('is_inf', [F([3], [NaN, -Infinity, Infinity])], { detect_positive: 0 })).toEqual([0, 1, 0]);
  });

  it('prelu needs a slope that broadcasts to X; activations at known points', () => {
    expect(run1('prelu', [F([2, 2], [-2, 2, -4, 4]), F([2, 1], [0.5, 0.25])])).toEqual([-1, 2, -1, 4]);
    expect(errorCode(() => inferOp('prelu', [ty('f32', [2]), ty('f32', [2, 2])]))).toMatch(/^LUT1110: prelu: slope/);
    expect(run1('hard_swish', [F([4], [-4, -3, 0, 3])])).toEqual([-0, -0, 0, 3]);
    expect(run1('hard_sigmoid', [F([3], [-10, 0, 10])])).toEqual([0, 0.5, 1]);
    expect(run1('thresholded_relu', [F([3], [0.5, 1, 2])])).toEqual([0, 0, 2]);
    expect(run1('shrink', [F([3], [-2, 0.2, 2])], { bias: 1, lambd: 1 })).toEqual([-1, 0, 1]);
    // selu(1) = gamma; rtol 1e-7 covers the float32 rounding of the stored result
    expectClose(run1('selu', [F([1], [1])]), [1.0507009873554805], 1e-7);
  });

  it('mean, sum, cast_like, and the com.microsoft gelus agree with their definitions', () => {
    expect(run1('sum', [F([2], [1, 2]), F([1], [10]), F([2], [100, 200])])).toEqual([111, 212]);
    expect(run1('mean', [F([2], [1, 2]), F([2], [3, 6])])).toEqual([2, 4]);
    const [c] = runOp('cast_like', [F([2], [2.7, -1.5]), T('i32', [1], [0])]);
    expect(c!.dtype).toBe('i32');
    expect(Array.from(c!.data)).toEqual([2, -1]);
    // quick_gelu(x) = x * sigmoid(1.702 x); bias_gelu(a, b) = gelu(a + b); rtol 1e-6 ~ f32 rounding
    expectClose(run1('quick_gelu', [F([1], [1])]), [1 / (1 + Math.exp(-Math.fround(1.702)))], 1e-6);
    expectClose(run1('bias_gelu', [F([2], [0.5, -1]), F([2], [0.5, 1])]), [0.8413447460685429, 0], 1e-6);
    expect(errorCode(() => inferOp('fast_gelu', [ty('f32', [2, 4]), ty('f32', [3])]))).toMatch(/^LUT1110: fast_gelu: bias/);
  });
});

describe('reductions and scatter / gather', () => {
  it('reduce_min / prod / l1 / l2 / sum_square / log_sum / log_sum_exp', () => {
    const x = F([2, 2], [1, -2, 3, 4]);
    const ax = i64(1);
    expect(run1('reduce_min', [x, ax], { keepdims: 0 })).toEqual([-2, 3]);
    expect(run1('reduce_prod', [x, ax], { keepdims: 0 })).toEqual([-2, 12]);
    expect(run1('reduce_l1', [x, ax], { keepdims: 0 })).toEqual([3, 7]);
    expect(run1('reduce_l2', [x, ax], { keepdims: 0 })).toEqual([Math.fround(Math.sqrt(5)), 5]);
    expect(run1('reduce_sum_square', [x, ax], { keepdims: 0 })).toEqual([5, 25]);
    expectClose(run1('reduce_log_sum', [F([2], [1, 2]), null]), [Math.log(3)], 1e-7);
    expectClose(run1('reduce_log_sum_exp', [F([3], [1000, 1000, -Infinity]), null]), [1000 + Math.LN2], 1e-7);
    expect(run1('reduce_log_sum_exp', [F([2], [-Infinity, -Infinity]), null])).toEqual([-Infinity]);
    expect(run1('reduce_min', [T('i32', [0], []), null])).toEqual([2147483647]);
  });

  it('gather / scatter elements and scatter_nd, with index diagnostics', () => {
    const x = F([2, 3], [1, 2, 3, 4, 5, 6]);
    expect(run1('gather_elements', [x, T('i64', [2, 2], [2, -3, 0, 1])], { axis: 1 })).toEqual([3, 1, 4, 5]);
    expect(run1('scatter_elements', [x, T('i64', [1, 2], [1, 1]), F([1, 2], [10, 20])], { axis: 0, reduction: 'add' })).toEqual([
      1, 2, 3, 14, 25, 6,
    ]);
    expect(run1('scatter_nd', [x, T('i64', [2, 1], [1, 1]), F([2, 3], [1, 1, 1, 2, 2, 2])], { reduction: 'mul' })).toEqual([
      1, 2, 3, 8, 10, 12,
    ]);
    expect(run1('scatter_nd', [x, T('i64', [1, 2], [0, 2]), F([1], [9])])).toEqual([1, 2, 9, 4, 5, 6]);
    expect(errorCode(() => runOp('gather_elements', [x, T('i64', [1, 1], [3])], { axis: 1 }))).toMatch(/^LUT3106/);
    expect(errorCode(() => runOp('scatter_nd', [x, T('i64', [1, 1], [2]), F([1, 3], [0, 0, 0])]))).toMatch(/^LUT3106/);
    expect(errorCode(() => inferOp('scatter_nd', [ty('f32', [2, 3]), ty('i64', [1, 1]), ty('f32', [1, 2])]))).toMatch(
      /^LUT1110: scatter_nd: updates/,
    );
  });

  it('skip_layer_norm checks gamma against the hidden size', () => {
    expect(errorCode(() => inferOp('skip_layer_norm', [ty('f32', [1, 2, 8]), ty('f32', [1, 2, 8]), ty('f32', [4])]))).toMatch(/^LUT1110/);
  });
});
