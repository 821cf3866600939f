/**
 * WASM LUT kernels against the oracle (ir/lut/reference.ts), through the emitted kernel-only files
 * loaded from a fresh temp folder: int8 tables and integer accumulators bit for bit, f32 tables bit
 * for bit (by value), y within a stated tolerance. SIMD128 in this process; relaxed SIMD in a child
 * node with --experimental-wasm-relaxed-simd.
 *
 * Tolerances: the int8 path differs from combine() only in xsum, which the kernel sums lane-wise
 * (4 interleaved partial sums) instead of sequentially: |dy| <= sum_s |swz| * |d xsum_s| with
 * |d xsum_s| <= segment * 2^-24 * sum|x| -- far below 1e-5 of max|y| for these shapes. The f32 path
 * also sums lookups per plane before combining planes: accumulators within 1e-5 of max|A|.
 *
 * Production tile paths. The accumulator hook runs the gemm's tile plan (plan.tokenTile-token tiles,
 * then single tokens: lookup.ts addLutAcc), and run()'s y -- whichever path the plan picks, token
 * tiles or the vector-LUT tile (M >= 16, 3-4 bits) -- must equal combine() of the accumulators on the
 * kernel's own tsHalf/xsum bit for bit (int8: of the oracle's integers; f32: of the hook's sums, the
 * same float operations as the gemm's). CASES cover one-token (M = 1), token tiles with and without
 * a single-token remainder, and vector-LUT tiles with a scalar remainder; a test asserts that.
 */
import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { legalizeWasmKernel } from '../../../backends/wasm/plan.js';
import type { Bits } from '../../../ir/lut/geometry.js';
import { combine, packScales } from '../../../ir/lut/reference.js';
import { emitToTemp, firstDiff, type KernelOutputs, maxRel, oracle, type Problem, problem, runInChild, runInProcess } from './helpers.js';

const Y_TOL = 1e-5;

function check(p: Problem, got: KernelOutputs): void {
  const want = oracle(p);
  if (p.req.tables === 'f32') {
    const tf = (want.tables as { tf: Float32Array }).tf;
    expect(firstDiff(got.tf!, tf)).toBe(-1);
    expect(maxRel(got.acc, want.acc)).toBeLessThan(1e-5);
  } else {
    const t = want.tables as { tq: Int8Array; tsHalf: Float32Array };
    expect(firstDiff(got.tq!, t.tq)).toBe(-1);
    expect(firstDiff(got.tsHalf, t.tsHalf)).toBe(-1);
    expect(firstDiff(got.acc, want.acc)).toBe(-1);
  }
  expect(maxRel(got.xsum, want.tables.xsum)).toBeLessThan(1e-5);
  expect(maxRel(got.y, want.y)).toBeLessThan(Y_TOL);
  // run()'s y (the production tile path) is combine() of the accumulators on the kernel's xsum, exactly
  const ps = packScales(p.g, p.scales, p.zeros);
  const acc = p.req.tables === 'f32' ? got.acc : want.acc;
  expect(firstDiff(got.y, combine(p.g, acc, got.tsHalf, got.xsum, ps, p.m, p.bias))).toBe(-1);
}

// [N, K, M, bits, group]: odd N and K, every bits, groups 32/64/128/K, M up to 64 (token tiles + rest,
// vector-LUT tiles + rest)
const CASES: [number, number, number, Bits, number][] = [
  [37, 203, 3, 2, 32],
  [19, 261, 2, 3, 64],
  [45, 515, 1, 1, 128],
  [29, 1000, 5, 4, 1000],
  [33, 333, 64, 2, 128],
  [21, 4097, 2, 4, 5000],
  [17, 777, 7, 1, 64],
  [23, 300, 21, 3, 64],
  [29, 1000, 16, 4, 1000],
];

/** Which tile paths run() takes for a request: 'one' token, 'tile' (token tiles), 'rest' (single-token remainder), 'vec'. */
function paths(req: Problem['req']): string[] {
  const plan = legalizeWasmKernel(req);
  const m = req.m ?? 1;
  const scalarM = plan.vecTile ? m % plan.vecTile : m;
  const out = plan.vecTile && m >= plan.vecTile ? ['vec'] : [];
  const T = plan.tokenTile;
  if (T > 1 && scalarM >= T) out.push('tile', ...(scalarM % T ? ['rest'] : []));
  else if (scalarM > 0) out.push('one');
  return out;
}

describe('wasm LUT kernel, SIMD128 (in process, from emitted files)', () => {
  for (const [n, k, m, bits, gs] of CASES) {
    it(`i8 tables N=${n} K=${k} M=${m} bits=${bits} G=${gs}`, async () => {
      const p = problem(n, k, m, bits, gs, n * 7 + k);
      check(p, await runInProcess(emitToTemp(p.req), p));
    });
  }
  for (const [n, k, m, bits, gs] of CASES.slice(0, 5)) {
    it(`f32 tables N=${n} K=${k} M=${m} bits=${bits} G=${gs}`, async () => {
      const p = problem(n, k, m, bits, gs, n * 3 + k, { tables: 'f32' });
      check(p, await runInProcess(emitToTemp(p.req), p));
    });
  }
  it('the cases cover every tile path of run(): one token, token tiles (+ remainder), vector-LUT (+ remainder)', () => {
    const all = new Set(CASES.flatMap(([n, k, m, bits, gs]) => paths({ n, k, m, bits, groupSize: gs })));
    for (const p of ['one', 'tile', 'rest', 'vec']) expect(all.has(p), p).toBe(true);
    expect(paths({ n: 23, k: 300, m: 21, bits: 3, groupSize: 64 })).toEqual(['vec', 'tile', 'rest']);
  });
  it('the temp folder holds only the emitted files', () => {
    const p = problem(8, 64, 1, 2, 32, 1);
    expect(readdirSync(emitToTemp(p.req)).sort()).toEqual(['kernel.d.ts', 'kernel.mjs', 'kernel.wasm']);
  });
});

describe('wasm LUT kernel, standalone node child', () => {
  it('plain node loads kernel.mjs and runs (SIMD128)', () => {
    const p = problem(37, 203, 3, 2, 32, 5);
    check(p, runInChild(emitToTemp(p.req), p, []));
  });
  for (const [n, k, m, bits, gs] of [
    [37, 203, 3, 2, 32],
    [19, 261, 2, 3, 64],
    [45, 515, 1, 1, 128],
    [29, 1000, 5, 4, 1000],
    [33, 333, 9, 2, 128],
  ] as [number, number, number, Bits, number][]) {
    it(`relaxed SIMD N=${n} K=${k} M=${m} bits=${bits} G=${gs}`, () => {
      const p = problem(n, k, m, bits, gs, n + k, { wasmFeatures: ['relaxed-simd'] });
      check(p, runInChild(emitToTemp(p.req), p, ['--experimental-wasm-relaxed-simd']));
    });
  }
  it('relaxed SIMD with f32 tables', () => {
    const p = problem(19, 261, 3, 4, 64, 9, { wasmFeatures: ['relaxed-simd'], tables: 'f32' });
    check(p, runInChild(emitToTemp(p.req), p, ['--experimental-wasm-relaxed-simd']));
  });
});
