/**
 * Shape and data-movement ops: reshape, flatten, transpose, squeeze/unsqueeze, expand, shape (and its
 * fold from types), constant, constant_of_shape, range, identity. Exact results (no arithmetic).
 */
import { describe, expect, it } from 'vitest';
import { findOp } from '../../ir/optable.js';
import { buildNode, expectCode, f32, i64, inferCtx, inferNode, k, run1, runOp, t } from './helpers.js';

const iota = (n: number) => Array.from({ length: n }, (_, i) => i);

describe('reshape', () => {
  const x = f32([2, 3, 4], iota(24));
  it('0 copies an input dim and -1 takes the rest', () => {
    const y = run1('reshape', [x, k(i64([3], [0, -1, 2]))]);
    expect(y.shape).toEqual([2, 6, 2]);
    expect(Array.from(y.data)).toEqual(iota(24));
  });
  it('works with a runtime shape input too', () => {
    const { types, outs } = runOp('reshape', [x, i64([2], [-1, 4])]);
    expect(types[0]!.shape.length).toBe(2);
    expect(outs[0]!.shape).toEqual([6, 4]);
  });
  it('allowzero = 1 makes 0 a real zero size', () => {
    const y = run1('reshape', [f32([0, 3], []), k(i64([2], [3, 0]))], { allowzero: 1 });
    expect(y.shape).toEqual([3, 0]);
  });
  it('rejects two -1s and element-count mismatches', () => {
    expectCode(() => buildNode('reshape', [x, k(i64([2], [-1, -1]))]), 'LUT1115');
    expectCode(() => buildNode('reshape', [x, k(i64([2], [5, 5]))]), 'LUT1110');
    expectCode(() => buildNode('reshape', [x, k(i64([2], [5, -1]))]), 'LUT1110');
    expectCode(() => runOp('reshape', [x, i64([2], [5, -1])]), 'LUT3050');
  });
  it('solves -1 over symbolic dims by cancelling symbols', () => {
    const xt = { type: { dtype: 'f32' as const, shape: ['batch', 'seq', 64] } };
    const { node } = buildNode('reshape', [xt, k(i64([4], [0, 0, 4, -1]))]);
    expect(node.outputs[0]!.type.shape).toEqual(['batch', 'seq', 4, 16]);
    const { node: n2 } = buildNode('reshape', [xt, k(i64([2], [-1, 64]))]);
    const d = n2.outputs[0]!.type.shape[0];
    expect(typeof d).toBe('string'); // batch*seq: a fresh symbol
    const { node: n3 } = buildNode('reshape', [xt, k(i64([3], [0, -1, 64]))]);
    expect(n3.outputs[0]!.type.shape).toEqual(['batch', 'seq', 64]);
  });
});

describe('flatten / transpose / squeeze / unsqueeze / expand / identity', () => {
  it('flatten at every axis, negative included', () => {
    const x = f32([2, 3, 4], iota(24));
    expect(run1('flatten', [x], { axis: 0 }).shape).toEqual([1, 24]);
    expect(run1('flatten', [x]).shape).toEqual([2, 12]);
    expect(run1('flatten', [x], { axis: -1 }).shape).toEqual([6, 4]);
    expect(run1('flatten', [x], { axis: 3 }).shape).toEqual([24, 1]);
    expectCode(() => buildNode('flatten', [x], { axis: 4 }), 'LUT1113');
  });
  it('transpose matches index arithmetic, default perm reverses', () => {
    const x = f32([2, 3, 4], iota(24));
    const y = run1('transpose', [x], { perm: [1, 2, 0] });
    expect(y.shape).toEqual([3, 4, 2]);
    for (let a = 0; a < 3; a++)
      for (let b = 0; b < 4; b++) for (let c = 0; c < 2; c++) expect(y.data[(a * 4 + b) * 2 + c]).toBe(c * 12 + a * 4 + b);
    const r = run1('transpose', [x]);
    expect(r.shape).toEqual([4, 3, 2]);
    expect(r.data[1]).toBe(12);
    expectCode(() => buildNode('transpose', [x], { perm: [0, 0, 1] }), 'LUT1115');
  });
  it('squeeze with and without axes, unsqueeze with negative axes', () => {
    const x = f32([1, 3, 1, 2], iota(6));
    expect(run1('squeeze', [x]).shape).toEqual([3, 2]);
    expect(run1('squeeze', [x, k(i64([1], [-2]))]).shape).toEqual([1, 3, 2]);
    expectCode(() => buildNode('squeeze', [x, k(i64([1], [1]))]), 'LUT1110');
    const y = run1('unsqueeze', [f32([3, 2], iota(6)), k(i64([2], [0, -1]))]);
    expect(y.shape).toEqual([1, 3, 2, 1]);
    expect(Array.from(y.data)).toEqual(iota(6));
  });
  it('expand broadcasts both ways', () => {
    const y = run1('expand', [f32([3, 1], [1, 2, 3]), k(i64([3], [2, 1, 4]))]);
    expect(y.shape).toEqual([2, 3, 4]);
    expect(Array.from(y.data.slice(0, 12))).toEqual([1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3]);
    expectCode(() => buildNode('expand', [f32([3], [1, 2, 3]), k(i64([1], [4]))]), 'LUT1110');
  });
  it('identity copies (never aliases)', () => {
    const x = t('i32', [2], [5, -6]);
    const y = run1('identity', [x]);
    expect(Array.from(y.data)).toEqual([5, -6]);
    expect(y.data).not.toBe(x.data);
  });
});

describe('shape', () => {
  it('returns dims start..end, clamped', () => {
    const x = f32([2, 3, 4], iota(24));
    expect(Array.from(run1('shape', [x]).data)).toEqual([2, 3, 4]);
    expect(Array.from(run1('shape', [x], { start: -2 }).data)).toEqual([3, 4]);
    expect(Array.from(run1('shape', [x], { start: 1, end: -1 }).data)).toEqual([3]);
    expect(Array.from(run1('shape', [x], { start: -10, end: 10 }).data)).toEqual([2, 3, 4]);
    expect(run1('shape', [x], { start: 2, end: 1 }).shape).toEqual([0]);
  });
  it('folds from types when the selected dims are static', () => {
    const def = findOp('shape')!;
    const { node } = buildNode('shape', [{ type: { dtype: 'f32', shape: ['b', 8, 16] } }], { start: 1 });
    const folded = def.foldFromTypes!(inferCtx(node));
    expect(folded![0]!.dtype).toBe('i64');
    expect(Array.from(folded![0]!.data)).toEqual([8, 16]);
    const { node: n2 } = buildNode('shape', [{ type: { dtype: 'f32', shape: ['b', 8, 16] } }]);
    expect(def.foldFromTypes!(inferCtx(n2))).toBeUndefined();
    expect(inferNode(n2)[0]!.shape).toEqual([3]);
  });
});

describe('constant / constant_of_shape / range', () => {
  it('constant yields its value attribute (and value_ints)', () => {
    expect(Array.from(run1('constant', [], { value: f32([2], [1.5, 2]) }).data)).toEqual([1.5, 2]);
    const y = run1('constant', [], { value_ints: [3, 4] });
    expect(y.dtype).toBe('i64');
    expectCode(() => buildNode('constant', [], {}), 'LUT1115');
  });
  it('constant_of_shape fills with the value (default f32 0)', () => {
    const y = run1('constant_of_shape', [k(i64([2], [2, 3]))], { value: t('i32', [1], [7]) });
    expect(y.dtype).toBe('i32');
    expect(Array.from(y.data)).toEqual([7, 7, 7, 7, 7, 7]);
    const z = run1('constant_of_shape', [i64([1], [4])]);
    expect(z.dtype).toBe('f32');
    expect(Array.from(z.data)).toEqual([0, 0, 0, 0]);
  });
  it('range counts up and down, empty when the direction is wrong', () => {
    const r = (a: number, b: number, d: number, dt: 'i64' | 'f32' = 'i64') =>
      Array.from(run1('range', [k(t(dt, [], [a])), k(t(dt, [], [b])), k(t(dt, [], [d]))]).data);
    expect(r(1, 10, 3)).toEqual([1, 4, 7]);
    expect(r(10, 4, -2)).toEqual([10, 8, 6]);
    expect(r(0, 5, -1)).toEqual([]);
    expect(r(0, 1, 0.25, 'f32')).toEqual([0, 0.25, 0.5, 0.75]);
    expectCode(() => r(0, 1, 0), 'LUT1115');
    const { types } = runOp('range', [t('i32', [], [0]), t('i32', [], [6]), t('i32', [], [2])]);
    expect(typeof types[0]!.shape[0]).toBe('string');
  });
});
