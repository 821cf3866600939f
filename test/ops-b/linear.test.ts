/**
 * matmul and gemm against naive float64 loops written here. Tolerance: 1e-6 * max|ref|. Both sides
 * sum exact float64 products of float32 inputs, so they differ only by float64 summation order
 * (~K * 2^-53 relative) plus the one float32 rounding at the store (2^-24 relative); 1e-6 is
 * well above both and far below any indexing or transposition error, which is O(max|ref|).
 */
import { describe, expect, it } from 'vitest';
import { makeTensor } from '../../ir/tensor.js';
import type { Tensor } from '../../ir/types.js';
import { buildNode, expectCode, f32, maxErr, randomF32, rng, run1, t } from './helpers.js';

/** numpy matmul by definition: promote 1-D operands, broadcast batch dims right-aligned. */
function naiveMatmul(a: Tensor, b: Tensor): { shape: number[]; data: Float64Array } {
  const as = a.shape.length === 1 ? [1, a.shape[0]!] : a.shape;
  const bs = b.shape.length === 1 ? [b.shape[0]!, 1] : b.shape;
  const [M, K, N] = [as[as.length - 2]!, as[as.length - 1]!, bs[bs.length - 1]!];
  const ab = as.slice(0, -2),
    bb = bs.slice(0, -2);
  const r = Math.max(ab.length, bb.length);
  const pad = (s: number[]) => [...Array(r - s.length).fill(1), ...s];
  const [pa, pb] = [pad(ab), pad(bb)];
  const batch = pa.map((d, i) => Math.max(d, pb[i]!));
  const nb = batch.reduce((x, y) => x * y, 1);
  const data = new Float64Array(nb * M * N);
  for (let bi = 0; bi < nb; bi++) {
    // decompose bi into a multi-index, then map into each operand (size-1 dims repeat)
    let rem = bi,
      ia = 0,
      ib = 0,
      sa = 1,
      sb = 1;
    for (let d = r - 1; d >= 0; d--) {
      const c = rem % batch[d]!;
      rem = Math.floor(rem / batch[d]!);
      ia += (pa[d] === 1 ? 0 : c) * sa;
      ib += (pb[d] === 1 ? 0 : c) * sb;
      sa *= pa[d]!;
      sb *= pb[d]!;
    }
    for (let m = 0; m < M; m++)
      for (let n = 0; n < N; n++) {
        let s = 0;
        for (let kk = 0; kk < K; kk++) s += a.data[ia * M * K + m * K + kk]! * b.data[ib * K * N + kk * N + n]!;
        data[bi * M * N + m * N + n] = s;
      }
  }
  const shape = [...batch];
  if (a.shape.length > 1) shape.push(M);
  if (b.shape.length > 1) shape.push(N);
  return { shape, data };
}

describe('matmul', () => {
  const r = rng(7);
  const cases: [number[], number[]][] = [
    [
      [3, 4],
      [4, 5],
    ],
    [[4], [4, 5]],
    [[3, 4], [4]],
    [[4], [4]],
    [
      [2, 1, 3, 4],
      [3, 4, 6],
    ],
    [
      [5, 3, 4],
      [4, 2],
    ],
    [
      [3, 4],
      [2, 4, 2],
    ],
    [[7], [2, 7, 3]],
    [[2, 3, 7], [7]],
  ];
  for (const [sa, sb] of cases)
    it(`[${sa}] x [${sb}]`, () => {
      const [a, b] = [randomF32(sa, r), randomF32(sb, r)];
      const y = run1('matmul', [a, b]);
      const want = naiveMatmul(a, b);
      expect(y.shape).toEqual(want.shape);
      const { err, ref } = maxErr(y.data, want.data);
      expect(err).toBeLessThanOrEqual(1e-6 * ref);
    });
  it('int32 matmul is exact and wraps modulo 2^32', () => {
    const y = run1('matmul', [t('i32', [1, 2], [65536, 3]), t('i32', [2, 1], [65536, -4])]);
    expect(Array.from(y.data)).toEqual([-12]); // 2^32 - 12 wraps to -12
  });
  it('diagnoses inner-dim and batch mismatches and mixed dtypes', () => {
    expectCode(() => buildNode('matmul', [f32([2, 3], new Array(6).fill(0)), f32([4, 2], new Array(8).fill(0))]), 'LUT1110');
    expectCode(() => buildNode('matmul', [f32([2, 1, 3], new Array(6).fill(0)), f32([3, 3, 1], new Array(9).fill(0))]), 'LUT1110');
    expectCode(() => buildNode('matmul', [f32([3], [0, 0, 0]), t('f64', [3], [0, 0, 0])]), 'LUT1112');
  });
  it('keeps symbolic batch dims', () => {
    const { node } = buildNode('matmul', [{ type: { dtype: 'f32', shape: ['b', 's', 8] } }, { type: { dtype: 'f32', shape: [8, 16] } }]);
    expect(node.outputs[0]!.type.shape).toEqual(['b', 's', 16]);
  });
  it('f16 results are rounded to f16', () => {
    const y = run1('matmul', [t('f16', [1, 2], [1, 1]), t('f16', [2, 1], [1, 2 ** -11])]);
    // 1 + 2^-11 is not an f16 (spacing 2^-10 at 1); half to even rounds it to 1.
    expect(y.data[0]).toBe(1);
  });
});

describe('gemm', () => {
  const r = rng(11);
  const [M, K, N] = [3, 5, 4];
  for (const transA of [0, 1])
    for (const transB of [0, 1])
      for (const [alpha, beta] of [
        [1, 1],
        [0.5, -2],
      ] as const)
        for (const cShape of [null, [], [N], [1, N], [M, 1], [M, N]] as (number[] | null)[]) {
          it(`transA=${transA} transB=${transB} alpha=${alpha} beta=${beta} C=${cShape ? `[${cShape}]` : 'none'}`, () => {
            const a = randomF32(transA ? [K, M] : [M, K], r);
            const b = randomF32(transB ? [N, K] : [K, N], r);
            const c = cShape ? randomF32(cShape, r) : null;
            const attrs: Record<string, number> = { transA, transB };
            if (alpha !== 1) attrs.alpha = alpha;
            if (beta !== 1) attrs.beta = beta;
            const y = run1('gemm', [a, b, c], attrs);
            expect(y.shape).toEqual([M, N]);
            const want = new Float64Array(M * N);
            for (let m = 0; m < M; m++)
              for (let n = 0; n < N; n++) {
                let s = 0;
                for (let kk = 0; kk < K; kk++) s += a.data[transA ? kk * M + m : m * K + kk]! * b.data[transB ? n * K + kk : kk * N + n]!;
                let cv = 0;
                if (c) {
                  const cm = c.shape.length === 2 && c.shape[0] === M ? m : 0;
                  const cn = c.shape.length >= 1 && c.shape[c.shape.length - 1] === N ? n : 0;
                  cv = c.data[c.shape.length === 2 ? cm * c.shape[1]! + cn : cn]!;
                }
                want[m * N + n] = alpha * s + beta * cv;
              }
            const { err, ref } = maxErr(y.data, want);
            expect(err).toBeLessThanOrEqual(1e-6 * ref);
          });
        }
  it('diagnoses a C that does not broadcast', () => {
    expectCode(
      () => buildNode('gemm', [f32([2, 3], new Array(6).fill(0)), f32([3, 4], new Array(12).fill(0)), f32([3], [0, 0, 0])]),
      'LUT1110',
    );
  });
});

describe('the float oracle on a large GEMV', () => {
  // Timing is the benchmarks' business (bench/); this checks every output of the big case, whose
  // size exercises the kernels' blocked loops, against direct float64 dot products.
  it('a 4096x4096 GEMV (matmul, and gemm transB on the same data) matches a direct dot product per output', () => {
    const K = 4096,
      N = 4096;
    const w = makeTensor('f32', [K, N]);
    const wd = w.data as Float32Array;
    for (let i = 0; i < wd.length; i++) wd[i] = ((i * 37) & 1023) / 1024 - 0.5;
    const x = randomF32([1, K], rng(3));
    const y = run1('matmul', [x, w]);
    const wt = { dtype: 'f32' as const, shape: [N, K], data: wd }; // same data read as [N, K]
    const y2 = run1('gemm', [x, wt], { transB: 1 });
    expect(y.shape).toEqual([1, N]);
    expect(y2.shape).toEqual([1, N]);
    const want = new Float64Array(N),
      want2 = new Float64Array(N);
    for (let kk = 0; kk < K; kk++) {
      const xk = x.data[kk]!;
      for (let n = 0; n < N; n++) want[n]! += xk * wd[kk * N + n]!;
    }
    for (let n = 0; n < N; n++) {
      let s2 = 0;
      for (let kk = 0; kk < K; kk++) s2 += x.data[kk]! * wd[n * K + kk]!;
      want2[n] = s2;
    }
    for (const [got, ref] of [
      [y.data, want],
      [y2.data, want2],
    ] as const) {
      const { err, ref: scale } = maxErr(got, ref);
      expect(err).toBeLessThanOrEqual(1e-6 * scale);
    }
  });
});
