/**
 * The subgroup gemm (lut-gemm-subgroup.ts) on SwiftShader, which offers the 'subgroups' feature:
 * int8 accumulators A bit for bit against ir/lut/reference.ts (lanes split K, subgroupAdd reduces
 * integers: exact in any order) and y equal to the plain path's bit for bit (same integers, same
 * per-segment float flush); f32 tables within float summation tolerance. Shapes cover segments longer
 * than a table tile (group 4096 > 128 chunks), padded rows and several row tiles.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runWgslGemm } from '../../../backends/wgsl/run-gemm.js';
import { type Bits, lutGeometry, packWeights, type VecBytes } from '../../../ir/lut/geometry.js';
import { accumulateF32, accumulateI8, buildTablesF32, buildTablesI8, combine, packScales } from '../../../ir/lut/reference.js';
import { openSubgroupGpu, type SubgroupGpu } from './subgroup-device.js';

function rng(seed: number) {
  let s = seed >>> 0;
  return () => (s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32;
}

let sg: SubgroupGpu;
let device: GPUDevice;
beforeAll(async () => {
  sg = await openSubgroupGpu();
  device = sg.device;
});
afterAll(() => sg?.release());

function problem(n: number, k: number, m: number, bits: Bits, gs: number, vec: VecBytes, seed: number) {
  const r = rng(seed);
  const g = lutGeometry({ n, k, bits, groupSize: gs, vecBytes: vec });
  const q = new Uint8Array(n * k).map(() => Math.floor(r() * (1 << bits)));
  const scales = new Float32Array(n * g.nGroups).map(() => 0.01 + r() * 0.1);
  const zeros = new Float32Array(n * g.nGroups).map(() => Math.floor(r() * (1 << bits)));
  const x = new Float32Array(m * k).map(() => r() * 2 - 1);
  const bias = new Float32Array(n).map(() => r() - 0.5);
  return { g, x, bias, packed: packWeights(g, q), ps: packScales(g, scales, zeros) };
}

const cases: [number, number, number, Bits, number, VecBytes][] = [
  [37, 203, 2, 2, 32, 64],
  [19, 260, 1, 3, 64, 16],
  [70, 4096, 1, 4, 4096, 32],
  [33, 1544, 2, 1, 1000, 16],
];

describe('WGSL LUT-mpGEMM with subgroup reductions on SwiftShader', () => {
  cases.forEach(([n, k, m, bits, gs, vec], i) => {
    it(`i8: A bit-exact, y = plain path's: N=${n} K=${k} M=${m} bits=${bits} G=${gs} vec=${vec}`, async () => {
      const p = problem(n, k, m, bits, gs, vec, 500 + i);
      const ref = buildTablesI8(p.g, p.x, m);
      const raw = await runWgslGemm(device, p.g, { m, tables: 'i8', raw: true, subgroups: true }, p.x, p.packed, p.ps);
      expect(Array.from(raw.out)).toEqual(Array.from(accumulateI8(p.g, p.packed, ref.tq, m)));
      const sg = await runWgslGemm(device, p.g, { m, tables: 'i8', subgroups: true }, p.x, p.packed, p.ps, p.bias);
      const plain = await runWgslGemm(device, p.g, { m, tables: 'i8' }, p.x, p.packed, p.ps, p.bias);
      expect(Array.from(sg.out)).toEqual(Array.from(plain.out));
    });
  });

  it('f32 tables within float summation tolerance', async () => {
    const p = problem(70, 1030, 2, 3, 128, 64, 7);
    const ref = buildTablesF32(p.g, p.x, 2);
    const run = await runWgslGemm(device, p.g, { m: 2, tables: 'f32', subgroups: true }, p.x, p.packed, p.ps, p.bias);
    const want = combine(p.g, accumulateF32(p.g, p.packed, ref.tf, 2), 0.5, ref.xsum, p.ps, 2, p.bias);
    const maxRef = Math.max(...Array.from(want, Math.abs));
    for (let j = 0; j < want.length; j++) expect(Math.abs(run.out[j]! - want[j]!)).toBeLessThanOrEqual(1e-5 * maxRef);
  });
});
