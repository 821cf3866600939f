/**
 * The LUT reference (ir/lut) against a direct float computation of X · dequant(W)ᵀ: f32 tables must
 * match to float summation error (F32_EXACT); int8 tables to the int8 activation-quantization error,
 * i.e. their rel-L2 within INT8_NOISE_RATIO of int8TableNoise, the error rounding each table entry to
 * its int8 step predicts (test/helpers/tolerance.ts). test/ir/lut-int8-spec.test.ts checks the int8
 * rule itself exactly.
 */
import { describe, expect, it } from 'vitest';
import { type Bits, lutGeometry, packedIndex, packWeights } from '../../ir/lut/geometry.js';
import { accumulateF32, accumulateI8, buildTablesF32, buildTablesI8, combine, packScales } from '../../ir/lut/reference.js';
import { F32_EXACT, INT8_NOISE_RATIO, int8TableNoise, maxRel, relL2 } from '../helpers/tolerance.js';

function rng(seed: number) {
  let s = seed >>> 0;
  return () => (s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32;
}

function setup(n: number, k: number, m: number, bits: Bits, gs: number, vec: 16 | 32 | 64, seed = 1) {
  const r = rng(seed);
  const g = lutGeometry({ n, k, bits, groupSize: gs, vecBytes: vec });
  const q = new Uint8Array(n * k).map(() => Math.floor(r() * (1 << bits)));
  const scales = new Float32Array(n * g.nGroups).map(() => 0.01 + r() * 0.1);
  const zeros = new Float32Array(n * g.nGroups).map(() => Math.floor(r() * (1 << bits)));
  const x = new Float32Array(m * k).map(() => r() * 2 - 1);
  const want = new Float64Array(m * n);
  for (let mi = 0; mi < m; mi++)
    for (let ni = 0; ni < n; ni++) {
      let acc = 0;
      for (let kk = 0; kk < k; kk++) {
        const gi = Math.floor(kk / g.group);
        acc += x[mi * k + kk]! * scales[ni * g.nGroups + gi]! * (q[ni * k + kk]! - zeros[ni * g.nGroups + gi]!);
      }
      want[mi * n + ni] = acc;
    }
  return { g, q, scales, zeros, x, want };
}

describe('LUT reference', () => {
  const cases: [number, number, number, Bits, number, 16 | 32 | 64][] = [
    [37, 203, 3, 2, 32, 16],
    [64, 512, 1, 4, 128, 32],
    [5, 77, 2, 1, 1000, 64],
    [19, 260, 2, 3, 64, 16],
    [8, 1024, 1, 2, 1024, 16],
  ];
  for (const [n, k, m, bits, gs, vec] of cases) {
    it(`packs and reads back N=${n} K=${k} bits=${bits} G=${gs} vec=${vec}`, () => {
      const { g, q } = setup(n, k, m, bits, gs, vec);
      const packed = packWeights(g, q);
      for (let row = 0; row < n; row++)
        for (let c = 0; c < g.nChunks; c++)
          for (let i = 0; i < bits; i++) {
            let want = 0;
            for (let t = 0; t < 4; t++) if (4 * c + t < k) want |= ((q[row * k + 4 * c + t]! >> i) & 1) << t;
            expect(packedIndex(g, packed, row, i, c)).toBe(want);
          }
    });
    it(`f32 tables match float math, int8 tables the int8 rounding noise: N=${n} K=${k} M=${m} bits=${bits}`, () => {
      const { g, q, scales, zeros, x, want } = setup(n, k, m, bits, gs, vec);
      const packed = packWeights(g, q);
      const ps = packScales(g, scales, zeros);
      const tf = buildTablesF32(g, x, m);
      const yf = combine(g, accumulateF32(g, packed, tf.tf, m), 0.5, tf.xsum, ps, m);
      // f32 summation over K terms (measured 8e-8 .. 2.7e-7 here)
      expect(maxRel(yf, want)).toBeLessThan(F32_EXACT);
      const ti = buildTablesI8(g, x, m);
      const yi = combine(g, accumulateI8(g, packed, ti.tq, m), ti.tsHalf, ti.xsum, ps, m);
      // measured ratios 0.73 .. 0.99; truncation, /128 or a 1.5% scale error give 1.3 .. 3.1
      const ratio = relL2(yi, want) / int8TableNoise(x, m, k, scales, n, g.group, bits, want);
      expect(ratio).toBeGreaterThan(INT8_NOISE_RATIO.min);
      expect(ratio).toBeLessThan(INT8_NOISE_RATIO.max);
    });
  }
  it('int8 tables are odd-symmetric (T[15-j] = -T[j])', () => {
    const { g, x } = setup(4, 64, 2, 2, 32, 16);
    const { tq } = buildTablesI8(g, x, 2);
    for (let i = 0; i < tq.length; i += 16) for (let j = 0; j < 8; j++) expect(tq[i + 15 - j]! + tq[i + j]!).toBe(0);
  });
});
