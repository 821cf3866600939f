/**
 * Adversarial int16 accumulation: every table entry at +127 or -127 (x = (±1, 0, 0, 0) per chunk makes
 * all 16 entries of a chunk ±127), weights at the extremes of the index range, K = 16384 and a
 * one-group K = 16376 whose table segment is the whole row (2047 chunk pairs: the int16 accumulators
 * must be flushed at plan.flushBound, 128 chunk pairs on SIMD128, 43 with relaxed dot). Accumulators
 * must equal the oracle bit for bit. Also checks every emitted module validates (binaryen does inside
 * buildKernelModule; WebAssembly.validate here).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildKernelModule, engineHasRelaxedSimd } from '../../../backends/wasm/module.js';
import { legalizeWasmKernel } from '../../../backends/wasm/plan.js';
import { LutcError } from '../../../base/diagnostics.js';
import type { Bits } from '../../../ir/lut/geometry.js';
import { emitToTemp, firstDiff, oracle, type Problem, problem, rng, runInChild, runInProcess } from './helpers.js';

function adversarial(k: number, bits: Bits, pattern: 'pos' | 'neg' | 'mixed', relaxed: boolean): Problem {
  const p = problem(16, k, 1, bits, k, 3, relaxed ? { wasmFeatures: ['relaxed-simd'] } : {});
  const r = rng(11);
  const top = (1 << bits) - 1;
  p.x.fill(0);
  for (let c = 0; c < k / 4; c++) p.x[4 * c] = pattern === 'neg' ? -1 : 1;
  for (let i = 0; i < p.q.length; i++) p.q[i] = pattern === 'mixed' ? (r() < 0.5 ? 0 : top) : top;
  if (pattern === 'mixed') for (let row = 0; row < 16; row += 2) p.q.fill(0, row * k, (row + 1) * k); // whole rows at -127
  return p;
}

describe('int16 accumulation never overflows (tables at ±127)', () => {
  for (const k of [16384, 16376])
    for (const bits of [2, 4] as Bits[])
      for (const pattern of ['pos', 'neg', 'mixed'] as const) {
        it(`SIMD128 K=${k} bits=${bits} ${pattern}`, async () => {
          const p = adversarial(k, bits, pattern, false);
          const want = oracle(p);
          expect(Math.max(...Array.from((want.tables as { tq: Int8Array }).tq, Math.abs))).toBe(127);
          const got = await runInProcess(emitToTemp(p.req), p);
          expect(firstDiff(got.acc, want.acc)).toBe(-1);
        });
      }
  for (const bits of [2, 4] as Bits[])
    it(`relaxed SIMD K=16376 bits=${bits} (child node)`, () => {
      const p = adversarial(16376, bits, 'pos', true);
      const got = runInChild(emitToTemp(p.req), p, ['--experimental-wasm-relaxed-simd']);
      expect(firstDiff(got.acc, oracle(p).acc)).toBe(-1);
    });
});

describe('emitted modules validate', () => {
  it('WebAssembly.validate accepts SIMD128 kernels of every bits/tables', () => {
    for (const bits of [1, 2, 3, 4] as Bits[])
      for (const tables of ['i8', 'f32'] as const) {
        const dir = emitToTemp({ n: 23, k: 99, m: 3, bits, groupSize: 32, tables });
        expect(WebAssembly.validate(readFileSync(join(dir, 'kernel.wasm')))).toBe(true);
      }
  });
  it('relaxed modules are rejected by an engine without the flag (so the flag test is meaningful)', () => {
    const bytes = buildKernelModule(legalizeWasmKernel({ n: 8, k: 64, bits: 2, wasmFeatures: ['relaxed-simd'] }));
    expect(WebAssembly.validate(bytes as Uint8Array<ArrayBuffer>)).toBe(engineHasRelaxedSimd());
  });
  it('bad requests are coded diagnostics', () => {
    expect(() => legalizeWasmKernel({ n: 8, k: 64, bits: 5 as Bits })).toThrow(LutcError);
    expect(() => legalizeWasmKernel({ n: 8, k: 64, bits: 2, groupSize: 12 })).toThrow(/LUT5013/);
    expect(() => legalizeWasmKernel({ n: 0, k: 64, bits: 2 })).toThrow(/LUT5010/);
    expect(() => legalizeWasmKernel({ n: 8, k: 64, bits: 2, wasmFeatures: ['threads'] })).toThrow(/LUT5015/);
  });
});
