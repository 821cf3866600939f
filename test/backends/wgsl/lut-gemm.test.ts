/**
 * The WGSL LUT-mpGEMM on a real WebGPU implementation (Dawn on SwiftShader, no GPU needed) against
 * ir/lut/reference.ts: int8 tables and the integer accumulators A bit for bit; y within float
 * tolerance; f32 tables within float summation tolerance.
 */

import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type NodeGpu, openNodeGpu, SWIFTSHADER_ICD } from '../../../backends/wgsl/device.js';
import { runWgslGemm } from '../../../backends/wgsl/run-gemm.js';
import { type Bits, lutGeometry, packWeights, type VecBytes } from '../../../ir/lut/geometry.js';
import { accumulateF32, accumulateI8, buildTablesF32, buildTablesI8, combine, packScales } from '../../../ir/lut/reference.js';

function rng(seed: number) {
  let s = seed >>> 0;
  return () => (s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32;
}

let gpu: NodeGpu;
beforeAll(async () => {
  if (!existsSync(SWIFTSHADER_ICD)) throw new Error(`WGSL tests need SwiftShader: apt-get install chromium (${SWIFTSHADER_ICD} missing)`);
  gpu = await openNodeGpu();
});
afterAll(() => gpu?.release());

function problem(n: number, k: number, m: number, bits: Bits, gs: number, vec: VecBytes, seed: number, adversarial = false) {
  const r = rng(seed);
  const g = lutGeometry({ n, k, bits, groupSize: gs, vecBytes: vec });
  const q = new Uint8Array(n * k).map(() => Math.floor(r() * (1 << bits)));
  const scales = new Float32Array(n * g.nGroups).map(() => 0.01 + r() * 0.1);
  const zeros = new Float32Array(n * g.nGroups).map(() => Math.floor(r() * (1 << bits)));
  // Adversarial: equal-magnitude activations make every chunk's |T'| maximal, so every int8 entry
  // of the form +-x0+-x1+-x2+-x3 is +-127 or 0 and the accumulators reach their largest magnitude.
  const x = new Float32Array(m * k).map(() => (adversarial ? (r() < 0.5 ? -1 : 1) : r() * 2 - 1));
  const bias = new Float32Array(n).map(() => r() - 0.5);
  return { g, q, scales, zeros, x, bias, packed: packWeights(g, q), ps: packScales(g, scales, zeros) };
}

const cases: [number, number, number, Bits, number, VecBytes][] = [
  [37, 203, 1, 2, 32, 64],
  [64, 520, 3, 4, 128, 64],
  [5, 77, 2, 1, 10_000, 64],
  [19, 260, 2, 3, 64, 16],
  [130, 1000, 1, 2, 1000, 32],
  [96, 4096, 1, 4, 4096, 64],
  [33, 1544, 2, 1, 64, 16],
];

describe('WGSL LUT-mpGEMM on SwiftShader', () => {
  cases.forEach(([n, k, m, bits, gs, vec], i) => {
    it(`i8 tables and A bit-exact, y close: N=${n} K=${k} M=${m} bits=${bits} G=${gs} vec=${vec}`, async () => {
      const p = problem(n, k, m, bits, gs, vec, 100 + i);
      const ref = buildTablesI8(p.g, p.x, m);
      const raw = await runWgslGemm(gpu.device, p.g, { m, tables: 'i8', raw: true }, p.x, p.packed, p.ps);
      expect(Array.from(raw.tables)).toEqual(Array.from(ref.tq));
      const A = accumulateI8(p.g, p.packed, ref.tq, m);
      expect(Array.from(raw.out)).toEqual(Array.from(A));
      const run = await runWgslGemm(gpu.device, p.g, { m, tables: 'i8' }, p.x, p.packed, p.ps, p.bias);
      const want = combine(p.g, A, ref.tsHalf, ref.xsum, p.ps, m, p.bias);
      // Same integers; only the float epilogue's association and possible FMA contraction differ:
      // per segment a few f32 roundings, so 1e-5 of max|y| is ample and still catches any wrong term.
      const maxRef = Math.max(...Array.from(want, Math.abs));
      for (let j = 0; j < want.length; j++) expect(Math.abs(run.out[j]! - want[j]!)).toBeLessThanOrEqual(1e-5 * maxRef);
    });
  });

  it('f32 tables within float summation tolerance', async () => {
    const p = problem(70, 1030, 2, 3, 128, 64, 7);
    const ref = buildTablesF32(p.g, p.x, 2);
    const run = await runWgslGemm(gpu.device, p.g, { m: 2, tables: 'f32' }, p.x, p.packed, p.ps, p.bias);
    const want = combine(p.g, accumulateF32(p.g, p.packed, ref.tf, 2), 0.5, ref.xsum, p.ps, 2, p.bias);
    const maxRef = Math.max(...Array.from(want, Math.abs));
    // K/4 table lookups summed in f32 in the same order; FMA contraction may differ: 1e-5 relative.
    for (let j = 0; j < want.length; j++) expect(Math.abs(run.out[j]! - want[j]!)).toBeLessThanOrEqual(1e-5 * maxRef);
  });

  it('adversarial activations (every entry +-127, K = 16384) accumulate exactly', async () => {
    const p = problem(16, 16384, 1, 4, 16384, 64, 9, true);
    const ref = buildTablesI8(p.g, p.x, 1);
    expect(ref.tq.some((v) => v === 127)).toBe(true);
    const raw = await runWgslGemm(gpu.device, p.g, { m: 1, tables: 'i8', raw: true }, p.x, p.packed, p.ps);
    expect(Array.from(raw.out)).toEqual(Array.from(accumulateI8(p.g, p.packed, ref.tq, 1)));
  });
});
