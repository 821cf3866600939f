/**
 * Elementwise ops: broadcasting (values and symbolic shape rules), dtype checks, integer wrap and
 * truncation, f16 rounding, unary math against known values, clip and cast conversion rules.
 * Float32 results are compared exactly where the f32 result is determined (a single rounding of an
 * exact value) and with rtol 1e-6 (a few f32 ulps, 2^-23 ~ 1.2e-7) where libm-level functions are involved.
 */
import { describe, expect, it } from 'vitest';
import { erf } from '../../ir/ops/numeric.js';
import { errorCode, expectClose, F, inferOp, run1, runOp, T, ty } from './helpers.js';

describe('broadcasting binary ops', () => {
  it('adds with numpy broadcasting', () => {
    expect(run1('add', [F([2, 3], [1, 2, 3, 4, 5, 6]), F([3], [10, 20, 30])])).toEqual([11, 22, 33, 14, 25, 36]);
    expect(run1('sub', [F([2, 1], [1, 2]), F([1, 3], [1, 2, 3])])).toEqual([0, -1, -2, 1, 0, -1]);
    expect(run1('mul', [F([], [2]), F([2, 2], [1, 2, 3, 4])])).toEqual([2, 4, 6, 8]);
  });

  it('infers broadcast shapes over symbolic dims', () => {
    expect(inferOp('add', [ty('f32', ['N', 1, 4]), ty('f32', [3, 1])])[0]!.shape).toEqual(['N', 3, 4]);
    expect(inferOp('mul', [ty('f32', ['B', 'S', 8]), ty('f32', [8])])[0]!.shape).toEqual(['B', 'S', 8]);
    // a symbol meeting a size other than 1 must be that size
    expect(inferOp('sub', [ty('f32', ['N', 3]), ty('f32', [4, 1])])[0]!.shape).toEqual([4, 3]);
    expect(inferOp('less', [ty('f16', ['N']), ty('f16', [])])[0]).toEqual({ dtype: 'bool', shape: ['N'] });
  });

  it('rejects shapes that cannot broadcast (LUT1110) and mismatched dtypes (LUT1112)', () => {
    expect(errorCode(() => inferOp('add', [ty('f32', [2, 3]), ty('f32', [4])]))).toMatch(/^LUT1110: add: shapes/);
    expect(errorCode(() => inferOp('add', [ty('f32', [2]), ty('f16', [2])]))).toMatch(
      /^LUT1112: add: operand dtypes differ \(f32 and f16\)/,
    );
    expect(errorCode(() => inferOp('and', [ty('f32', [2]), ty('f32', [2])]))).toMatch(/^LUT1112: and: operand 0 has dtype f32/);
  });

  it('diagnoses a run-time broadcast mismatch behind symbolic dims (LUT3010)', () => {
    // Both inputs are typed [N]; at run time the sizes differ, which only the interpreter can see.
    const a = { type: { dtype: 'f32' as const, shape: ['N'] }, value: F([2], [1, 2]) };
    const b = { type: { dtype: 'f32' as const, shape: ['N'] }, value: F([3], [1, 2, 3]) };
    expect(errorCode(() => runOp('add', [a, b]))).toMatch(/^LUT3010: add: at run time/);
  });

  it('integer arithmetic wraps and divides toward zero like ORT', () => {
    expect(run1('div', [T('i32', [4], [-7, 7, -7, 5]), T('i32', [4], [2, -2, -2, 0])])).toEqual([-3, -3, 3, 0]);
    expect(run1('add', [T('i8', [2], [127, -128]), T('i8', [2], [1, -1])])).toEqual([-128, 127]);
    expect(run1('sub', [T('u8', [1], [0]), T('u8', [1], [1])])).toEqual([255]);
    expect(run1('mul', [T('i32', [2], [65536, 46341]), T('i32', [2], [65536, 46341])])).toEqual([0, -2147479015]);
    expect(run1('mul', [T('u32', [1], [4294967295]), T('u32', [1], [4294967295])])).toEqual([1]);
    expect(run1('add', [T('i64', [1], [2 ** 52]), T('i64', [1], [2 ** 52])])).toEqual([2 ** 53]);
  });

  it('rounds f16 results to f16 (ties to even)', () => {
    // 1 + 2^-11 is exactly halfway between f16 neighbours 1 and 1 + 2^-10: ties to even gives 1.
    expect(run1('add', [T('f16', [2], [1, 1]), T('f16', [2], [2 ** -11, 3 * 2 ** -11])])).toEqual([1, 1 + 2 ** -9]);
    expect(run1('mul', [T('f16', [1], [300]), T('f16', [1], [300])])).toEqual([Infinity]);
  });

  it('pow keeps the base dtype and accepts another exponent dtype', () => {
    const [r] = runOp('pow', [T('i32', [3], [2, 3, -2]), F([3], [3, 0.5, 2])]);
    expect(r!.dtype).toBe('i32');
    expect(Array.from(r!.data)).toEqual([8, 1, 4]); // sqrt(3) truncates to 1
    expect(run1('pow', [F([2], [4, 2]), T('i64', [1], [-1])])).toEqual([0.25, 0.5]);
  });

  it('max/min are variadic, broadcast, and propagate NaN', () => {
    expect(run1('max', [F([3], [1, 5, 2]), F([1], [3]), F([2, 1], [0, 4])])).toEqual([3, 5, 3, 4, 5, 4]);
    expect(run1('min', [F([3], [1, NaN, 2]), F([3], [0, 0, 3])])).toEqual([0, NaN, 2]);
    expect(run1('max', [T('u8', [2], [7, 200])])).toEqual([7, 200]);
    expect(inferOp('max', [ty('f32', ['N', 1]), ty('f32', [5]), ty('f32', [])])[0]!.shape).toEqual(['N', 5]);
    expect(errorCode(() => inferOp('min', [ty('f32', [2]), ty('i32', [2])]))).toMatch(/^LUT1112/);
  });

  it('comparisons and logic produce bool', () => {
    const a = F([4], [1, 2, NaN, -0]);
    const b = F([4], [2, 2, NaN, 0]);
    expect(run1('equal', [a, b])).toEqual([0, 1, 0, 1]);
    expect(run1('less', [a, b])).toEqual([1, 0, 0, 0]);
    expect(run1('greater_or_equal', [a, b])).toEqual([0, 1, 0, 1]);
    expect(run1('less_or_equal', [a, F([1], [1])])).toEqual([1, 0, 0, 1]);
    expect(run1('greater', [T('i64', [2], [3, -3]), T('i64', [], [0])])).toEqual([1, 0]);
    const p = T('bool', [2, 2], [0, 0, 1, 1]);
    const q = T('bool', [2], [0, 1]);
    expect(run1('and', [p, q])).toEqual([0, 0, 0, 1]);
    expect(run1('or', [p, q])).toEqual([0, 1, 1, 1]);
    expect(run1('not', [q])).toEqual([1, 0]);
  });

  it('where broadcasts condition, X and Y together', () => {
    const c = T('bool', [2, 1], [1, 0]);
    expect(run1('where', [c, F([3], [1, 2, 3]), F([], [-1])])).toEqual([1, 2, 3, -1, -1, -1]);
    expect(inferOp('where', [ty('bool', ['N', 1]), ty('i64', [4]), ty('i64', [1])])[0]).toEqual({ dtype: 'i64', shape: ['N', 4] });
    expect(errorCode(() => inferOp('where', [ty('bool', [1]), ty('f32', [1]), ty('f16', [1])]))).toMatch(/^LUT1112/);
  });
});

describe('unary ops', () => {
  it('erf matches known values to double precision', () => {
    // Reference values: Python's math.erf (glibc, correct to about 1 ulp).
    const xs = [0, 1e-3, 0.5, 1, 2, 2.99, 3.01, 3.5, 5, -1];
    const want = [
      0, 0.0011283787909692365, 0.5204998778130465, 0.8427007929497149, 0.9953222650189527, 0.9999764743969194, 0.9999792610363629,
      0.9999992569016276, 0.9999999999984626, -0.8427007929497149,
    ];
    // 1e-14: the series loses about two digits of cancellation below |x| = 2, the reference is within 1 ulp
    expectClose(xs.map(erf), want, 1e-14);
  });

  it('computes activations in float32', () => {
    const x = F([5], [-100, -1, 0, 1, 100]);
    // sigmoid/tanh/softplus near their asymptotes must not produce NaN or overflow
    expectClose(
      run1('sigmoid', [x]),
      [Math.fround(3.720075976020836e-44), 0.2689414213699951, 0.5, 0.7310585786300049, 1].map(Math.fround),
      1e-6,
    );
    expectClose(
      run1('softplus', [x]),
      [3.720075976020836e-44, 0.31326168751822286, Math.LN2, 1.3132616875182228, 100].map(Math.fround),
      1e-6,
    );
    expectClose(run1('tanh', [x]), [-1, -0.7615941559557649, 0, 0.7615941559557649, 1].map(Math.fround), 1e-6);
    expect(run1('relu', [x])).toEqual([0, 0, 0, 1, 100]);
    expect(run1('leaky_relu', [x])).toEqual([-1, -0.01, 0, 1, 100].map(Math.fround));
    expect(run1('leaky_relu', [x], { alpha: 0.5 })).toEqual([-50, -0.5, 0, 1, 100]);
    expect(run1('neg', [T('i8', [2], [-128, 5])])).toEqual([-128, -5]);
    expect(run1('abs', [T('i32', [2], [-7, 7])])).toEqual([7, 7]);
    expect(run1('reciprocal', [F([2], [4, 0])])).toEqual([0.25, Infinity]);
    expect(run1('sqrt', [F([2], [4, -1])])).toEqual([2, NaN]);
    expectClose(run1('exp', [F([1], [1])]), [Math.fround(Math.E)], 0);
    expectClose(run1('log', [F([1], [Math.E])]), [1], 1e-6);
  });

  it('gelu exact and tanh forms', () => {
    const x = F([4], [-3, -0.5, 0.5, 2]);
    // exact: 0.5 x (1 + erf(x / sqrt 2)); references computed in doubles with Python's math.erf/tanh
    expectClose(run1('gelu', [x]), [-0.004049694, -0.15426877, 0.34573123, 1.9544997], 1e-6);
    expectClose(run1('gelu', [x], { approximate: 'tanh' }), [-0.0036373920817729943, -0.15428599, 0.34571401, 1.9545977], 1e-6);
  });

  it('float-only ops reject integers (LUT1112)', () => {
    expect(errorCode(() => inferOp('sqrt', [ty('i32', [2])]))).toMatch(/^LUT1112: sqrt: operand 0 has dtype i32/);
    expect(errorCode(() => inferOp('neg', [ty('u8', [2])]))).toMatch(/^LUT1112/);
    expect(inferOp('exp', [ty('bf16', ['N', 2])])[0]).toEqual({ dtype: 'bf16', shape: ['N', 2] });
  });
});

describe('clip', () => {
  const x = F([5], [-2, -0.5, 0.5, 2, NaN]);
  it('takes optional min and max inputs', () => {
    expect(run1('clip', [x, F([], [-1]), F([], [1])])).toEqual([-1, -0.5, 0.5, 1, NaN]);
    expect(run1('clip', [x, F([], [0]), null])).toEqual([0, 0, 0.5, 2, NaN]);
    expect(run1('clip', [x, null, F([], [0])])).toEqual([-2, -0.5, 0, 0, NaN]);
    expect(run1('clip', [x, null, null])).toEqual([-2, -0.5, 0.5, 2, NaN]);
  });
  it('min > max gives max everywhere, as ONNX says; works on ints', () => {
    expect(run1('clip', [F([2], [-5, 5]), F([], [2]), F([], [1])])).toEqual([1, 1]);
    expect(run1('clip', [T('i8', [3], [-128, 0, 127]), T('i8', [], [-10]), T('i8', [], [10])])).toEqual([-10, 0, 10]);
  });
  it('checks bound dtypes (LUT1112) and shapes (LUT1110)', () => {
    expect(errorCode(() => inferOp('clip', [ty('f32', [2]), ty('f16', []), null]))).toMatch(/^LUT1112/);
    expect(errorCode(() => inferOp('clip', [ty('f32', [2]), ty('f32', [2]), null]))).toMatch(/^LUT1110: clip: bound min/);
  });
});

describe('cast', () => {
  const cast = (x: ReturnType<typeof F>, to: number) => runOp('cast', [x], { to })[0]!;
  it('float -> int truncates toward zero and saturates; NaN -> 0', () => {
    const x = F([6], [-1.7, 1.7, 1e10, -1e10, NaN, 2.5]);
    expect(Array.from(cast(x, 6).data)).toEqual([-1, 1, 2147483647, -2147483648, 0, 2]);
    expect(Array.from(cast(x, 2).data)).toEqual([0, 1, 255, 0, 0, 2]);
    expect(Array.from(cast(x, 22).data)).toEqual([-1, 1, 7, -8, 0, 2]);
    const big = cast(F([2], [1e30, -1e30]), 7);
    expect(big.dtype).toBe('i64');
    expect(Array.from(big.data)).toEqual([2 ** 63, -(2 ** 63)]); // 2^63 is INT64_MAX as a double (ir/types.ts)
  });
  it("int -> int wraps (two's complement)", () => {
    expect(Array.from(cast(T('i32', [3], [200, -129, 65535]), 3).data)).toEqual([-56, 127, -1]);
    expect(Array.from(cast(T('i64', [1], [-1]), 13).data)).toEqual([2 ** 64]); // 2^64 - 1 as a double
    expect(Array.from(cast(T('i8', [2], [-1, 17]), 21).data)).toEqual([15, 1]);
  });
  it('to bool is != 0 (NaN is true); from bool is 0/1', () => {
    expect(Array.from(cast(F([4], [0, -0, NaN, 0.1]), 9).data)).toEqual([0, 0, 1, 1]);
    expect(Array.from(cast(T('bool', [2], [1, 0]), 1).data)).toEqual([1, 0]);
  });
  it('to f16/bf16 rounds to nearest even', () => {
    expect(Array.from(cast(F([3], [1 + 2 ** -11, 65520, 1 + 3 * 2 ** -11]), 10).data)).toEqual([1, Infinity, 1 + 2 ** -9]);
    // bf16 keeps 8 significant bits: 1 + 2^-8 is a tie -> 1; 1 + 3 * 2^-8 -> 1 + 2^-6
    expect(Array.from(cast(F([2], [1 + 2 ** -8, 1 + 3 * 2 ** -8]), 16).data)).toEqual([1, 1 + 2 ** -6]);
    expect(cast(F([1], [1]), 11).dtype).toBe('f64');
  });
  it('an unknown target type is an unsupported-type diagnostic', () => {
    expect(errorCode(() => inferOp('cast', [ty('f32', [1])], { to: 8 }))).toMatch(/^LUT1002: cast: target data type 8/);
  });
});
