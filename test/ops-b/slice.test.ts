/**
 * Slice (against CPython's slice.indices, written independently here), concat, split, gather, trilu.
 * Exact results.
 */
import { describe, expect, it } from 'vitest';
import type { Tensor } from '../../ir/types.js';
import { buildNode, expectCode, f32, i64, k, run1, runOp, t } from './helpers.js';

const iota = (n: number) => Array.from({ length: n }, (_, i) => i);
const BIG = 2 ** 63; // INT64_MAX as stored (float64)

/**
 * Indices CPython's seq[start:stop:step] selects from a sequence of `len` elements, with the one place
 * where ONNX's text differs from numpy: with a negative step, a start below -len clamps to 0 (ONNX
 * "starts ... clamped to [0, dims-1]", as ORT does) where Python clamps it to -1 (an empty slice).
 */
function pySlice(len: number, start: number, stop: number, step: number): number[] {
  const [lower, upper] = step > 0 ? [0, len] : [-1, len - 1];
  const fix = (v: number, lo: number) => (v < 0 ? Math.max(v + len, lo) : Math.min(v, upper));
  const out: number[] = [];
  const s0 = fix(start, step > 0 ? lower : 0);
  const e0 = fix(stop, lower);
  for (let i = s0; step > 0 ? i < e0 : i > e0; i += step) out.push(i);
  return out;
}

describe('slice', () => {
  const x = f32([4, 5], iota(20));
  const bounds = [-BIG, -(2 ** 31) + 1, -7, -5, -2, -1, 0, 1, 3, 5, 6, 2 ** 31 - 1, BIG];
  it('matches Python slicing for every bound (sentinels included) and step on one axis', () => {
    let cases = 0;
    for (const s of bounds)
      for (const e of bounds)
        for (const st of [1, 2, 3, -1, -2, -4]) {
          const y = run1('slice', [x, k(i64([1], [s])), k(i64([1], [e])), k(i64([1], [1])), k(i64([1], [st]))]);
          const cols = pySlice(5, s, e, st);
          expect(y.shape, `${s}:${e}:${st}`).toEqual([4, cols.length]);
          const want = [0, 1, 2, 3].flatMap((r) => cols.map((c) => r * 5 + c));
          expect(Array.from(y.data), `${s}:${e}:${st}`).toEqual(want);
          cases++;
        }
    expect(cases).toBe(bounds.length ** 2 * 6);
  });
  it('slices several axes (negative axis) with runtime bounds', () => {
    const y = run1('slice', [x, i64([2], [BIG, 1]), i64([2], [-BIG, 3]), i64([2], [-1, 0]), i64([2], [-2, 1])]);
    const rows = pySlice(4, 1, 3, 1);
    const cols = pySlice(5, BIG, -BIG, -2);
    expect(cols).toEqual([4, 2, 0]);
    expect(y.shape).toEqual([2, 3]);
    expect(Array.from(y.data)).toEqual(rows.flatMap((r) => cols.map((c) => r * 5 + c)));
  });
  it('defaults axes to 0.. and steps to 1; keeps full symbolic slices symbolic', () => {
    const y = run1('slice', [x, k(i64([1], [1])), k(i64([1], [-1]))]);
    expect(y.shape).toEqual([2, 5]);
    const xt = { type: { dtype: 'f32' as const, shape: ['s', 8] } };
    const { node } = buildNode('slice', [xt, k(i64([2], [0, 2])), k(i64([2], [BIG, 6]))]);
    expect(node.outputs[0]!.type.shape).toEqual(['s', 4]);
    const { node: n2 } = buildNode('slice', [xt, k(i64([1], [-1])), k(i64([1], [BIG]))]);
    expect(n2.outputs[0]!.type.shape[0]).not.toBe('s');
  });
  it('rejects step 0 and repeated axes', () => {
    expectCode(() => buildNode('slice', [x, k(i64([1], [0])), k(i64([1], [2])), null, k(i64([1], [0]))]), 'LUT1115');
    expectCode(() => buildNode('slice', [x, k(i64([2], [0, 0])), k(i64([2], [1, 1])), k(i64([2], [1, -1]))]), 'LUT1113');
  });
});

describe('concat / split', () => {
  it('concat along a middle axis', () => {
    const a = f32([2, 1, 2], [1, 2, 3, 4]);
    const b = f32([2, 2, 2], [5, 6, 7, 8, 9, 10, 11, 12]);
    const y = run1('concat', [a, b], { axis: -2 });
    expect(y.shape).toEqual([2, 3, 2]);
    expect(Array.from(y.data)).toEqual([1, 2, 5, 6, 7, 8, 3, 4, 9, 10, 11, 12]);
    expectCode(() => buildNode('concat', [a, f32([3, 1, 2], iota(6))], { axis: 1 }), 'LUT1110');
  });
  it('concat of int64 shape pieces stays int64', () => {
    const y = run1('concat', [i64([1], [2]), i64([2], [-1, 7])], { axis: 0 });
    expect(y.dtype).toBe('i64');
    expect(Array.from(y.data)).toEqual([2, -1, 7]);
  });
  it('split by sizes, by num_outputs (smaller last chunk), and evenly', () => {
    const x = f32([2, 5], iota(10));
    const r = runOp('split', [x, k(i64([2], [2, 3]))], { axis: 1 }, 2).outs;
    expect(r.map((o) => Array.from(o.data))).toEqual([
      [0, 1, 5, 6],
      [2, 3, 4, 7, 8, 9],
    ]);
    const u = runOp('split', [x], { axis: -1, num_outputs: 3 }, 3).outs;
    expect(u.map((o) => o.shape)).toEqual([
      [2, 2],
      [2, 2],
      [2, 1],
    ]);
    expect(Array.from(u[2]!.data)).toEqual([4, 9]);
    const e = runOp('split', [x], { axis: 0 }, 2).outs;
    expect(Array.from(e[1]!.data)).toEqual([5, 6, 7, 8, 9]);
    expectCode(() => buildNode('split', [x], { axis: 1 }, 2), 'LUT1115'); // 5 does not split evenly in 2
    expectCode(() => buildNode('split', [x, k(i64([2], [2, 2]))], { axis: 1 }, 2), 'LUT1115');
  });
});

describe('gather', () => {
  const x = f32([3, 4], iota(12));
  it('gathers rows with negative indices and a 2-D index tensor', () => {
    const y = run1('gather', [x, t('i64', [2, 2], [0, -1, 2, -3])]);
    expect(y.shape).toEqual([2, 2, 4]);
    expect(Array.from(y.data)).toEqual([0, 1, 2, 3, 8, 9, 10, 11, 8, 9, 10, 11, 0, 1, 2, 3]);
  });
  it('gathers along the last axis with a scalar index (rank drops)', () => {
    const y = run1('gather', [x, t('i32', [], [-1])], { axis: 1 });
    expect(y.shape).toEqual([3]);
    expect(Array.from(y.data)).toEqual([3, 7, 11]);
  });
  it('diagnoses out-of-range indices at run time', () => {
    expectCode(() => runOp('gather', [x, t('i64', [1], [3])]), 'LUT3051');
    expectCode(() => runOp('gather', [x, t('i64', [1], [-4])]), 'LUT3051');
  });
});

describe('trilu', () => {
  const x = f32(
    [2, 3, 3],
    iota(18).map((v) => v + 1),
  );
  const keep = (y: Tensor, pred: (i: number, j: number) => boolean) => {
    for (let b = 0; b < 2; b++)
      for (let i = 0; i < 3; i++)
        for (let j = 0; j < 3; j++) {
          const at = b * 9 + i * 3 + j;
          expect(y.data[at], `${b},${i},${j}`).toBe(pred(i, j) ? at + 1 : 0);
        }
  };
  it('upper and lower with k', () => {
    keep(run1('trilu', [x]), (i, j) => j >= i);
    keep(run1('trilu', [x, k(i64([], [1]))]), (i, j) => j - i >= 1);
    keep(run1('trilu', [x], { upper: 0 }), (i, j) => j <= i);
    keep(run1('trilu', [x, i64([], [-1])], { upper: 0 }), (i, j) => j - i <= -1);
  });
});
