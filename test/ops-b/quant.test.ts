/**
 * dequantize_linear and quantize_linear: per-tensor, per-axis and blocked (int4) scales, zero points,
 * round-half-to-even and saturation. Expected values are computed here from the definitions; both
 * sides round (x - zp) * scale once to float32 from an exact float64 product, so results are equal.
 */
import { describe, expect, it } from 'vitest';
import { buildNode, expectCode, f32, k, rng, run1, t } from './helpers.js';

describe('dequantize_linear', () => {
  it('per-tensor uint8 with a zero point', () => {
    const y = run1('dequantize_linear', [t('u8', [4], [0, 3, 128, 255]), f32([], [0.5]), t('u8', [], [128])]);
    expect(Array.from(y.data)).toEqual([-64, -62.5, 0, 63.5]);
  });
  it('per-axis int8 along axis 0 and int32 without a zero point', () => {
    const y = run1('dequantize_linear', [t('i8', [2, 3], [1, -2, 3, -128, 0, 127]), f32([2], [2, 0.25])], { axis: 0 });
    expect(Array.from(y.data)).toEqual([2, -4, 6, -32, 0, 31.75]);
    const z = run1('dequantize_linear', [t('i32', [2], [1000000, -7]), f32([], [0.5])]);
    expect(Array.from(z.data)).toEqual([500000, -3.5]);
  });
  it('blocked int4 weights [N, K] with block_size 16 along K and int4 zero points', () => {
    const r = rng(21);
    const [N, K, bs] = [3, 40, 16];
    const nb = Math.ceil(K / bs);
    const x = Array.from({ length: N * K }, () => Math.floor(r() * 16) - 8);
    const s = Float32Array.from({ length: N * nb }, () => 0.01 + r());
    const zp = Array.from({ length: N * nb }, () => Math.floor(r() * 16) - 8);
    const y = run1('dequantize_linear', [t('i4', [N, K], x), f32([N, nb], s), t('i4', [N, nb], zp)], { axis: 1, block_size: bs });
    const want = new Float32Array(N * K);
    for (let n = 0; n < N; n++)
      for (let kk = 0; kk < K; kk++) {
        const g = n * nb + Math.floor(kk / bs);
        want[n * K + kk] = (x[n * K + kk]! - zp[g]!) * s[g]!;
      }
    expect(y.data).toEqual(want);
  });
  it('blocked along axis 0 ([K, N] layout, uint4, no zero point)', () => {
    const x = t('u4', [4, 2], [1, 2, 3, 4, 5, 6, 7, 15]);
    const y = run1('dequantize_linear', [x, f32([2, 2], [1, 10, 100, 1000])], { axis: 0, block_size: 2 });
    // rows 0-1 use scale row 0, rows 2-3 use scale row 1
    expect(Array.from(y.data)).toEqual([1, 20, 3, 40, 500, 6000, 700, 15000]);
  });
  it('f16 scales give f16 results', () => {
    const y = run1('dequantize_linear', [t('i8', [1], [3]), t('f16', [], [0.1])]);
    expect(y.dtype).toBe('f16');
    // f16(0.1) = 0.0999755859375; times 3 = 1228.5 * 2^-12 (f16 spacing there): a tie, to even 1228
    expect(y.data[0]).toBe(1228 * 2 ** -12);
  });
  it('diagnoses scale shapes that fit no layout', () => {
    expectCode(() => buildNode('dequantize_linear', [t('i8', [2, 3], [0, 0, 0, 0, 0, 0]), f32([2], [1, 1])]), 'LUT1110'); // axis 1 has 3
    expectCode(
      () =>
        buildNode('dequantize_linear', [t('i4', [2, 32], new Array(64).fill(0)), f32([2, 3], new Array(6).fill(1))], { block_size: 16 }),
      'LUT1110',
    );
    expectCode(
      () =>
        buildNode(
          'dequantize_linear',
          [t('i4', [2, 32], new Array(64).fill(0)), f32([2, 2], new Array(4).fill(1)), k(t('u4', [2, 2], [0, 0, 0, 0]))],
          { block_size: 16 },
        ),
      'LUT1112',
    ); // zero point dtype
  });
});

describe('quantize_linear', () => {
  it('rounds half to even and saturates to uint8 by default', () => {
    const y = run1('quantize_linear', [f32([8], [0.5, 1.5, 2.5, -0.5, 5, 300, -3, 127.5]), f32([], [1])]);
    expect(y.dtype).toBe('u8');
    expect(Array.from(y.data)).toEqual([0, 2, 2, 0, 5, 255, 0, 128]);
  });
  it('int8 zero point with a per-axis scale', () => {
    const y = run1('quantize_linear', [f32([2, 2], [1, -1, 100, -100]), f32([2], [0.5, 2]), t('i8', [2], [10, -10])], { axis: 1 });
    // [1/0.5+10, -1/2-10 -> -0.5 rounds to -0 -> -10, 100/0.5+10 = 210 -> 127, -100/2-10 = -60]
    expect(Array.from(y.data)).toEqual([12, -10, 127, -60]);
  });
  it('blocked int4 via output_dtype (22 = INT4) saturates to [-8, 7]', () => {
    const y = run1('quantize_linear', [f32([1, 4], [1, 100, -3, -100]), f32([1, 2], [1, 2])], { axis: 1, block_size: 2, output_dtype: 22 });
    expect(y.dtype).toBe('i4');
    expect(Array.from(y.data)).toEqual([1, 7, -2, -8]); // -3/2 = -1.5 rounds to -2
  });
  it('quantize then dequantize reproduces grid values exactly', () => {
    const vals = [-8, -3, 0, 5, 7].map((v) => v * 0.25);
    const q = run1('quantize_linear', [f32([5], vals), f32([], [0.25]), t('i8', [], [0])]);
    const d = run1('dequantize_linear', [q, f32([], [0.25]), t('i8', [], [0])]);
    expect(Array.from(d.data)).toEqual(vals);
  });
  it('diagnoses a zero point that disagrees with output_dtype', () => {
    expectCode(() => buildNode('quantize_linear', [f32([1], [0]), f32([], [1]), t('u8', [], [0])], { output_dtype: 3 }), 'LUT1112');
  });
});
