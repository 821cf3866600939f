/**
 * layer_norm, simplified_layer_norm (RMSNorm) and skip_simplified_layer_norm against direct double
 * computations of their formulas. Results are f32, so rtol 1e-6 (about 8 f32 ulps) bounds the single
 * final rounding plus the difference between our and the test's double summation order.
 */
import { describe, expect, it } from 'vitest';
import { errorCode, expectClose, F, inferOp, runOp, T, ty } from './helpers.js';

const RTOL = 1e-6;
const ATOL = 1e-7; // for outputs near zero, where relative error is meaningless

function rng(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32) * 4 - 2;
}
const rand = (n: number, seed: number) => Array.from({ length: n }, rng(seed)).map(Math.fround);

/** (x - mean) / sqrt(var + eps) * g + b over rows of h, in doubles. */
function refLayerNorm(x: number[], h: number, g: (j: number) => number, b: (j: number) => number, eps: number) {
  const y: number[] = [];
  const means: number[] = [];
  const invs: number[] = [];
  for (let r = 0; r < x.length / h; r++) {
    const row = x.slice(r * h, (r + 1) * h);
    const m = row.reduce((a, v) => a + v, 0) / h;
    const v = row.reduce((a, u) => a + (u - m) ** 2, 0) / h;
    const inv = 1 / Math.sqrt(v + eps);
    means.push(m);
    invs.push(inv);
    row.forEach((u, j) => y.push((u - m) * inv * g(j) + b(j)));
  }
  return { y, means, invs };
}

function refRms(x: number[], h: number, g: (j: number) => number, eps: number) {
  const y: number[] = [];
  const invs: number[] = [];
  for (let r = 0; r < x.length / h; r++) {
    const row = x.slice(r * h, (r + 1) * h);
    const inv = 1 / Math.sqrt(row.reduce((a, v) => a + v * v, 0) / h + eps);
    invs.push(inv);
    row.forEach((u, j) => y.push(u * inv * g(j)));
  }
  return { y, invs };
}

describe('layer_norm', () => {
  const xs = rand(2 * 3 * 4, 1);
  const gs = rand(4, 2);
  const bs = rand(4, 3);

  it('normalizes the last axis and returns Mean and InvStdDev', () => {
    const [y, mean, inv] = runOp('layer_norm', [F([2, 3, 4], xs), F([4], gs), F([4], bs)], {}, 3);
    const ref = refLayerNorm(
      xs,
      4,
      (j) => gs[j]!,
      (j) => bs[j]!,
      1e-5,
    );
    expectClose(y!.data, ref.y, RTOL, ATOL);
    expect(mean!.shape).toEqual([2, 3, 1]);
    expect(mean!.dtype).toBe('f32');
    expectClose(mean!.data, ref.means, RTOL, ATOL);
    expectClose(inv!.data, ref.invs, RTOL);
  });

  it('normalizes from axis 1 with a broadcast scale and no bias', () => {
    const [y, mean] = runOp('layer_norm', [F([2, 3, 4], xs), F([4], gs), null], { axis: 1, epsilon: 0.1 }, 2);
    const ref = refLayerNorm(
      xs,
      12,
      (j) => gs[j % 4]!,
      () => 0,
      Math.fround(0.1),
    );
    expectClose(y!.data, ref.y, RTOL, ATOL);
    expect(mean!.shape).toEqual([2, 1, 1]);
  });

  it('infers symbolic shapes and checks operands (LUT1110, LUT1112, LUT1113)', () => {
    const types = inferOp('layer_norm', [ty('f32', ['B', 'S', 8]), ty('f32', [8]), ty('f32', [8])], {}, 3);
    expect(types).toEqual([
      { dtype: 'f32', shape: ['B', 'S', 8] },
      { dtype: 'f32', shape: ['B', 'S', 1] },
      { dtype: 'f32', shape: ['B', 'S', 1] },
    ]);
    expect(inferOp('layer_norm', [ty('f16', ['B', 8]), ty('f16', [8])], {}, 2)[1]).toEqual({ dtype: 'f32', shape: ['B', 1] });
    expect(errorCode(() => inferOp('layer_norm', [ty('f32', ['B', 8]), ty('f16', [8])]))).toMatch(
      /^LUT1112: layer_norm: operand dtypes differ/,
    );
    expect(errorCode(() => inferOp('layer_norm', [ty('f32', ['B', 8]), ty('f32', [7])]))).toMatch(
      /^LUT1110: layer_norm: Scale of shape \[7\]/,
    );
    expect(errorCode(() => inferOp('layer_norm', [ty('f32', [2, 8]), ty('f32', [8])], { axis: 2 }))).toMatch(
      /^LUT1113: layer_norm: axis 2/,
    );
  });

  it('rounds f16 results to f16', () => {
    const [y] = runOp('layer_norm', [T('f16', [1, 4], [1, 2, 3, 4]), T('f16', [4], [1, 1, 1, 1])]);
    const ref = refLayerNorm(
      [1, 2, 3, 4],
      4,
      () => 1,
      () => 0,
      1e-5,
    ).y;
    // f16 has an 11-bit significand: relative error up to 2^-11 ~ 4.9e-4 from the final rounding
    expectClose(y!.data, ref, 2 ** -11);
    expect(y!.dtype).toBe('f16');
  });
});

describe('simplified_layer_norm (RMSNorm)', () => {
  it('divides by the root mean square and scales', () => {
    const xs = rand(3 * 8, 4);
    const gs = rand(8, 5);
    const [y, inv] = runOp('simplified_layer_norm', [F([3, 8], xs), F([8], gs)], { epsilon: 1e-6 }, 2);
    const ref = refRms(xs, 8, (j) => gs[j]!, Math.fround(1e-6));
    expectClose(y!.data, ref.y, RTOL, ATOL);
    expect(inv!.shape).toEqual([3, 1]);
    expectClose(inv!.data, ref.invs, RTOL);
    expect(inferOp('simplified_layer_norm', [ty('f16', ['B', 'S', 8]), ty('f16', [8])], {}, 2)).toEqual([
      { dtype: 'f16', shape: ['B', 'S', 8] },
      { dtype: 'f32', shape: ['B', 'S', 1] },
    ]);
  });
});

describe('skip_simplified_layer_norm', () => {
  const B = 2,
    S = 3,
    H = 4;
  const xs = rand(B * S * H, 6);
  const sk = rand(S * H, 7);
  const gs = rand(H, 8);
  const bs = rand(H, 9);

  it('adds skip and bias, RMS-normalizes, and returns the sum and statistics', () => {
    const outs = runOp('skip_simplified_layer_norm', [F([B, S, H], xs), F([S, H], sk), F([H], gs), F([H], bs)], { epsilon: 1e-5 }, 4);
    // two float adds in ORT's order: (input + skip) + bias
    const sum = xs.map((v, i) => Math.fround(Math.fround(v + sk[i % (S * H)]!) + bs[i % H]!));
    const ref = refRms(sum, H, (j) => gs[j]!, Math.fround(1e-5));
    expectClose(outs[3]!.data, sum, 0);
    expectClose(outs[0]!.data, ref.y, RTOL, ATOL);
    expect(outs[1]!.shape).toEqual([B, S, 1]);
    expect(Array.from(outs[1]!.data)).toEqual(Array(B * S).fill(0)); // RMSNorm has no mean: ORT writes 0
    expectClose(outs[2]!.data, ref.invs, RTOL);
  });

  it('works without bias and checks shapes', () => {
    const [y] = runOp('skip_simplified_layer_norm', [F([B, S, H], xs), F([B, S, H], xs), F([H], gs), null]);
    const ref = refRms(
      xs.map((v) => 2 * v),
      H,
      (j) => gs[j]!,
      1e-12,
    );
    expectClose(y!.data, ref.y, RTOL, ATOL);
    const types = inferOp('skip_simplified_layer_norm', [ty('f32', ['B', 'S', 8]), ty('f32', ['B', 'S', 8]), ty('f32', [8]), null], {}, 4);
    expect(types.map((t) => t.shape)).toEqual([
      ['B', 'S', 8],
      ['B', 'S', 1],
      ['B', 'S', 1],
      ['B', 'S', 8],
    ]);
    expect(
      errorCode(() => inferOp('skip_simplified_layer_norm', [ty('f32', ['B', 'S', 8]), ty('f32', ['B', 'S', 8]), ty('f32', [4]), null])),
    ).toMatch(/^LUT1110: skip_simplified_layer_norm: gamma/);
  });
});
