/**
 * WGSL kernel-only mode (`lutc kernel --target wgsl`): the emitted files are written to a fresh temp
 * folder, kernel.mjs is imported from there and run on Dawn (SwiftShader) against ir/lut/reference.ts:
 * int8 tables, table scales and integer accumulators bit for bit, y within 1e-5 of max|y| (same
 * integers; only the f32 epilogue's association and FMA contraction differ, as in lut-gemm.test.ts);
 * f32 tables within float summation tolerance. Also: the CLI writes the three files, and bad requests
 * are coded diagnostics.
 */

import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type NodeGpu, openNodeGpu, SWIFTSHADER_ICD } from '../../../backends/wgsl/device.js';
import { emitKernel } from '../../../backends/wgsl/kernel.js';
import { captureIO, main as runCli } from '../../../compiler/cli.js';
import type { KernelRequest } from '../../../compiler/options.js';
import { type Bits, lutGeometry, packWeights } from '../../../ir/lut/geometry.js';
import { accumulateF32, accumulateI8, buildTablesF32, buildTablesI8, combine, packScales } from '../../../ir/lut/reference.js';
import { openSubgroupGpu } from './subgroup-device.js';

function rng(seed: number) {
  let s = seed >>> 0;
  return () => (s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32;
}

let gpu: NodeGpu;
const dirs: string[] = [];
beforeAll(async () => {
  if (!existsSync(SWIFTSHADER_ICD)) throw new Error(`WGSL tests need SwiftShader: apt-get install chromium (${SWIFTSHADER_ICD} missing)`);
  gpu = await openNodeGpu();
});
afterAll(() => {
  gpu?.release();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Writes emitKernel(req)'s files into a fresh folder and imports its kernel.mjs. */
async function emitAndImport(req: KernelRequest): Promise<{ dir: string; mod: any }> {
  const dir = mkdtempSync(join(tmpdir(), 'lutc-wgsl-kernel-'));
  dirs.push(dir);
  for (const [name, data] of Object.entries(emitKernel(req).files)) writeFileSync(join(dir, name), data);
  return { dir, mod: await import(pathToFileURL(join(dir, 'kernel.mjs')).href) };
}

function problem(n: number, k: number, m: number, bits: Bits, gs: number, seed: number) {
  const r = rng(seed);
  const g = lutGeometry({ n, k, bits, groupSize: gs, vecBytes: 16 });
  const q = new Uint8Array(n * k).map(() => Math.floor(r() * (1 << bits)));
  const scales = new Float32Array(n * g.nGroups).map(() => 0.01 + r() * 0.1);
  const zeros = new Float32Array(n * g.nGroups).map(() => Math.floor(r() * (1 << bits)));
  const bias = new Float32Array(n).map(() => r() - 0.5);
  const x = new Float32Array(m * k).map(() => r() * 2 - 1);
  return { g, q, scales, zeros, bias, x, ps: packScales(g, scales, zeros), packed: packWeights(g, q) };
}

const maxAbs = (a: ArrayLike<number>) => Math.max(...Array.from(a, Math.abs));

const CASES: [number, number, number, Bits, number][] = [
  [37, 203, 3, 2, 32],
  [19, 261, 2, 3, 64],
  [45, 515, 1, 1, 128],
  [29, 1000, 2, 4, 1000],
];

describe('WGSL kernel-only mode on SwiftShader (emitted kernel.mjs from a temp folder)', () => {
  CASES.forEach(([n, k, m, bits, gs], i) => {
    it(`i8 tables: N=${n} K=${k} M=${m} bits=${bits} G=${gs}`, async () => {
      const p = problem(n, k, m, bits, gs, 300 + i);
      const { mod } = await emitAndImport({ n, k, m, bits, groupSize: gs });
      expect(mod.geometry.packedBytes).toBe(p.g.packedBytes);
      const w = mod.pack(p.q, p.scales, p.zeros, p.bias);
      expect(Array.from(w.w)).toEqual(Array.from(p.packed));
      const kern = await mod.load(gpu.device, w);
      try {
        const ref = buildTablesI8(p.g, p.x, m);
        const t = await kern.tables(p.x);
        expect(Array.from(t.tq)).toEqual(Array.from(ref.tq));
        expect(Array.from(t.tsHalf)).toEqual(Array.from(ref.tsHalf));
        const A = accumulateI8(p.g, p.packed, ref.tq, m);
        expect(Array.from(await kern.accumulators(p.x))).toEqual(Array.from(A));
        const want = combine(p.g, A, ref.tsHalf, ref.xsum, p.ps, m, p.bias);
        const y = await kern.run(p.x);
        expect(y.length).toBe(m * n);
        for (let j = 0; j < want.length; j++) expect(Math.abs(y[j]! - want[j]!)).toBeLessThanOrEqual(1e-5 * maxAbs(want));
        // Fewer tokens than M: the first token's y alone.
        const y1 = await kern.run(p.x.subarray(0, k));
        expect(Array.from(y1)).toEqual(Array.from(y.subarray(0, n)));
      } finally {
        kern.destroy();
      }
    });
  });

  it('f32 tables within float summation tolerance', async () => {
    const [n, k, m] = [70, 1030, 2];
    const p = problem(n, k, m, 3, 128, 7);
    const { mod } = await emitAndImport({ n, k, m, bits: 3, groupSize: 128, tables: 'f32' });
    const kern = await mod.load(gpu.device, mod.pack(p.q, p.scales, p.zeros, p.bias));
    try {
      const ref = buildTablesF32(p.g, p.x, m);
      const want = combine(p.g, accumulateF32(p.g, p.packed, ref.tf, m), 0.5, ref.xsum, p.ps, m, p.bias);
      const y = await kern.run(p.x);
      for (let j = 0; j < want.length; j++) expect(Math.abs(y[j]! - want[j]!)).toBeLessThanOrEqual(1e-5 * maxAbs(want));
    } finally {
      kern.destroy();
    }
  });

  it('the subgroup gemm where the device has subgroups: same A and y as the plain path', async () => {
    const [n, k, m, bits, gs] = [41, 1000, 2, 2, 1000] as const;
    const p = problem(n, k, m, bits, gs, 11);
    const { mod } = await emitAndImport({ n, k, m, bits, groupSize: gs });
    const sgGpu = await openSubgroupGpu();
    const w = mod.pack(p.q, p.scales, p.zeros, p.bias);
    const [kSg, kPlain, kOld] = [
      await mod.load(sgGpu.device, w),
      await mod.load(sgGpu.device, w, { subgroups: false }),
      await mod.load(gpu.device, w),
    ];
    try {
      expect([kSg.subgroups, kPlain.subgroups, kOld.subgroups]).toEqual([true, false, false]);
      const A = accumulateI8(p.g, p.packed, buildTablesI8(p.g, p.x, m).tq, m);
      expect(Array.from(await kSg.accumulators(p.x))).toEqual(Array.from(A));
      const y = await kSg.run(p.x);
      expect(Array.from(y)).toEqual(Array.from(await kPlain.run(p.x)));
      expect(Array.from(y)).toEqual(Array.from(await kOld.run(p.x)));
    } finally {
      for (const kk of [kSg, kPlain, kOld]) kk.destroy();
      sgGpu.release();
    }
  });

  it('lutc kernel --target wgsl writes kernel.wgsl, kernel-subgroups.wgsl, kernel.mjs, kernel.d.ts', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lutc-wgsl-kernel-cli-'));
    dirs.push(dir);
    const io = captureIO();
    const rc = await runCli(['kernel', '--target', 'wgsl', '--n', '16', '--k', '64', '--bits', '2', '-o', dir], io);
    expect(rc).toBe(0);
    expect(readdirSync(dir).sort()).toEqual(['kernel-subgroups.wgsl', 'kernel.d.ts', 'kernel.mjs', 'kernel.wgsl']);
  });

  it('bad requests are coded diagnostics', () => {
    expect(() => emitKernel({ n: 8, k: 64, bits: 2, groupSize: 12 })).toThrow(/LUT5232|multiple of 8/);
    expect(() => emitKernel({ n: 8, k: 64, bits: 2, m: 70000 })).toThrow(/65535/);
  });
});
