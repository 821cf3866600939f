/**
 * Vector-LUT path (backends/wasm/veclut.ts, kernel-only modules with M >= 16): y must equal the
 * scalar-LUT kernel's y bit for bit (same int accumulators, same float operations per token and row)
 * and the oracle within the tolerance of kernel.test.ts. Shapes cover every bits value, odd N and K,
 * groups 32 / 128 / one group, multi-tile M with a scalar remainder, relaxed-SIMD (signed) tables,
 * and a one-group K whose segment needs several int16 flushes with tables at +-127.
 */
import { describe, expect, it } from 'vitest';
import { buildKernelModule } from '../../../backends/wasm/module.js';
import { legalizeWasmKernel } from '../../../backends/wasm/plan.js';
import { type Bits, packWeights } from '../../../ir/lut/geometry.js';
import { packScales } from '../../../ir/lut/reference.js';
import { emitToTemp, firstDiff, maxRel, oracle, type Problem, problem, runInChild } from './helpers.js';

/** Runs tables + both gemms in this process; returns [vector-LUT y, scalar-LUT y] as [m][N]. */
async function runBoth(p: Problem): Promise<[Float32Array, Float32Array]> {
  // forced on: by default only 3-4 bits take the vector-LUT path
  const plan = legalizeWasmKernel(p.req, { vecLut: true });
  expect(plan.vecTile).toBe(16);
  const { instance } = await WebAssembly.instantiate(buildKernelModule(plan) as Uint8Array<ArrayBuffer>, {});
  const ex = instance.exports as Record<string, any>;
  const buf = (ex.memory as WebAssembly.Memory).buffer,
    L = plan.mem,
    g = plan.geom;
  new Uint8Array(buf, L.w, g.packedBytes).set(packWeights(g, p.q));
  const ps = packScales(g, p.scales, p.zeros);
  new Float32Array(buf, L.sw, ps.sw.length).set(ps.sw);
  new Float32Array(buf, L.swz, ps.swz.length).set(ps.swz);
  new Float32Array(buf, L.bias, g.n).set(p.bias);
  for (let t = 0; t < p.m; t++) new Float32Array(buf, L.x + t * plan.stride.x, g.k).set(p.x.subarray(t * g.k, (t + 1) * g.k));
  ex.lutc_tables(L.x, L.tab, L.ts, L.xs, p.m);
  const ys: Float32Array[] = [];
  for (const fn of ['lutc_gemm', 'lutc_gemm_scalar']) {
    new Float32Array(buf, L.y, p.m * g.nPad).fill(NaN);
    ex[fn](L.w, L.sw, L.swz, L.bias, L.tab, L.ts, L.xs, L.y, p.m);
    const y = new Float32Array(p.m * g.n),
      ym = new Float32Array(buf, L.y, p.m * g.nPad);
    for (let t = 0; t < p.m; t++) y.set(ym.subarray(t * g.nPad, t * g.nPad + g.n), t * g.n);
    ys.push(y);
  }
  return ys as [Float32Array, Float32Array];
}

// [N, K, M, bits, group]
const CASES: [number, number, number, Bits, number][] = [
  [37, 203, 16, 2, 32],
  [19, 261, 35, 3, 64],
  [45, 515, 17, 1, 128],
  [29, 1000, 32, 4, 1000],
  [21, 4097, 33, 4, 128],
  [33, 333, 48, 2, 128],
];

describe('vector-LUT gemm (M >= 16)', () => {
  for (const [n, k, m, bits, gs] of CASES) {
    it(`N=${n} K=${k} M=${m} bits=${bits} G=${gs}: equals the scalar kernel and the oracle`, async () => {
      const p = problem(n, k, m, bits, gs, n * 5 + k);
      const [yv, ys] = await runBoth(p);
      expect(firstDiff(yv, ys)).toBe(-1);
      expect(maxRel(yv, oracle(p).y)).toBeLessThan(1e-5);
    });
  }
  it('one group of 2047 chunk pairs with tables at +-127 (several flushes per segment)', async () => {
    const k = 16376;
    const p = problem(8, k, 16, 4, k, 9);
    p.x.fill(0);
    for (let t = 0; t < 16; t++) for (let c = 0; c < k / 4; c++) p.x[t * k + 4 * c] = t % 2 ? -1 : 1;
    p.q.fill(15);
    const [yv, ys] = await runBoth(p);
    expect(firstDiff(yv, ys)).toBe(-1);
    expect(maxRel(yv, oracle(p).y)).toBeLessThan(1e-5);
  });
  it('relaxed SIMD (signed tables, biased in the transpose) through the emitted files', () => {
    const p = problem(37, 203, 19, 4, 32, 77, { wasmFeatures: ['relaxed-simd'] });
    const got = runInChild(emitToTemp(p.req, { vecLut: true }), p, ['--experimental-wasm-relaxed-simd']);
    expect(maxRel(got.y, oracle(p).y)).toBeLessThan(1e-5);
  });
});
