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
 */
import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Bits } from '../../../ir/lut/geometry.js';
import { emitToTemp, firstDiff, maxRel, oracle, problem, runInChild, runInProcess, type KernelOutputs, type Problem } from './helpers.js';

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
}

// [N, K, M, bits, group]: odd N and K, every bits, groups 32/64/128/K, M up to 64 (token tiles + rest)
const CASES: [number, number, number, Bits, number][] = [
  [37, 203, 3, 2, 32],
  [19, 261, 2, 3, 64],
  [45, 515, 1, 1, 128],
  [29, 1000, 5, 4, 1000],
  [33, 333, 64, 2, 128],
  [21, 4097, 2, 4, 5000],
  [17, 777, 7, 1, 64],
];

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
  for (const [n, k, m, bits, gs] of [[37, 203, 3, 2, 32], [19, 261, 2, 3, 64], [45, 515, 1, 1, 128], [29, 1000, 5, 4, 1000], [33, 333, 9, 2, 128]] as [number, number, number, Bits, number][]) {
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
