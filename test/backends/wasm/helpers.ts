/**
 * Shared fixtures for the WASM kernel tests: seeded problems, writing emitted kernel files to a fresh
 * temp folder, loading them (in-process or in a child node with extra V8 flags), and the oracle
 * results from ir/lut/reference.ts.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { emitKernel } from '../../../backends/wasm/kernel.js';
import type { PlanOverrides } from '../../../backends/wasm/plan.js';
import type { KernelRequest } from '../../../compiler/options.js';
import { type Bits, type LutGeometry, lutGeometry, packWeights } from '../../../ir/lut/geometry.js';
import { accumulateF32, accumulateI8, buildTablesF32, buildTablesI8, combine, packScales } from '../../../ir/lut/reference.js';

export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32;
}

export interface Problem {
  req: KernelRequest;
  g: LutGeometry;
  q: Uint8Array;
  scales: Float32Array;
  zeros: Float32Array;
  bias: Float32Array;
  x: Float32Array;
  m: number;
}

export function problem(
  n: number,
  k: number,
  m: number,
  bits: Bits,
  gs: number,
  seed: number,
  extra: Partial<KernelRequest> = {},
): Problem {
  const r = rng(seed);
  const req: KernelRequest = { n, k, m, bits, groupSize: gs, ...extra };
  const g = lutGeometry({ n, k, bits, groupSize: gs, vecBytes: 16 });
  const q = new Uint8Array(n * k).map(() => Math.floor(r() * (1 << bits)));
  const scales = new Float32Array(n * g.nGroups).map(() => 0.01 + r() * 0.1);
  const zeros = new Float32Array(n * g.nGroups).map(() => Math.floor(r() * (1 << bits)));
  const bias = new Float32Array(n).map(() => r() - 0.5);
  const x = new Float32Array(m * k).map(() => r() * 2 - 1);
  return { req, g, q, scales, zeros, bias, x, m };
}

/** The oracle: tables, accumulators and y from ir/lut/reference.ts. */
export function oracle(p: Problem) {
  const { g, q, x, m } = p;
  const packed = packWeights(g, q);
  const ps = packScales(g, p.scales, p.zeros);
  if (p.req.tables === 'f32') {
    const t = buildTablesF32(g, x, m);
    const acc = accumulateF32(g, packed, t.tf, m);
    return { tables: t, acc, y: combine(g, acc, 0.5, t.xsum, ps, m, p.bias) };
  }
  const t = buildTablesI8(g, x, m);
  const acc = accumulateI8(g, packed, t.tq, m);
  return { tables: t, acc, y: combine(g, acc, t.tsHalf, t.xsum, ps, m, p.bias) };
}

/** Writes the emitted files for `req` into a fresh temp folder; returns its path. */
export function emitToTemp(req: KernelRequest, over: PlanOverrides = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'lutc-wasm-'));
  for (const [name, data] of Object.entries(emitKernel(req, over).files)) writeFileSync(join(dir, name), data);
  return dir;
}

/** Imports kernel.mjs from `dir` (in this process). */
export async function importKernel(dir: string): Promise<any> {
  return import(pathToFileURL(join(dir, 'kernel.mjs')).href);
}

export interface KernelOutputs {
  tq?: Int8Array;
  tf?: Float32Array;
  tsHalf: Float32Array;
  xsum: Float32Array;
  acc: Int32Array | Float32Array;
  y: Float32Array;
}

/** Runs pack/tables/accumulators/run through the emitted kernel.mjs in this process. */
export async function runInProcess(dir: string, p: Problem): Promise<KernelOutputs> {
  const mod = await importKernel(dir);
  const k = await mod.load();
  k.setWeights(mod.pack(p.q, p.scales, p.zeros, p.bias));
  const t = k.tables(p.x, p.m);
  const acc = k.accumulators(p.x, p.m);
  const y = k.run(p.x, p.m);
  return { ...t, acc, y };
}

/**
 * The same in a child `node` with `flags` (e.g. --experimental-wasm-relaxed-simd), using only the
 * files in `dir`: plain node, no TypeScript, no vitest.
 */
export function runInChild(dir: string, p: Problem, flags: string[]): KernelOutputs {
  const f32 = (a: ArrayLike<number>) => Buffer.from(new Float32Array(a).buffer);
  writeFileSync(join(dir, 'q.bin'), p.q);
  writeFileSync(join(dir, 's.bin'), f32(p.scales));
  writeFileSync(join(dir, 'z.bin'), f32(p.zeros));
  writeFileSync(join(dir, 'b.bin'), f32(p.bias));
  writeFileSync(join(dir, 'x.bin'), f32(p.x));
  const script = `
import { readFileSync, writeFileSync } from 'node:fs';
import * as mod from './kernel.mjs';
const rd = (f) => { const b = readFileSync(new URL(f, import.meta.url)); return new Float32Array(b.buffer, b.byteOffset, b.length / 4); };
const q = new Uint8Array(readFileSync(new URL('q.bin', import.meta.url)));
const k = await mod.load();
k.setWeights(mod.pack(q, rd('s.bin'), rd('z.bin'), rd('b.bin')));
const x = rd('x.bin'), m = ${p.m};
const t = k.tables(x, m);
const w = (f, a) => writeFileSync(new URL(f, import.meta.url), new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
w('o_tab.bin', t.tq ?? t.tf); w('o_ts.bin', t.tsHalf); w('o_xs.bin', t.xsum);
w('o_acc.bin', k.accumulators(x, m)); w('o_y.bin', k.run(x, m));
`;
  writeFileSync(join(dir, 'child.mjs'), script);
  execFileSync(process.execPath, [...flags, join(dir, 'child.mjs')], { stdio: 'pipe' });
  const buf = (f: string) => {
    const b = readFileSync(join(dir, f));
    return b.buffer.slice(b.byteOffset, b.byteOffset + b.length);
  };
  const f32tab = p.req.tables === 'f32';
  return {
    ...(f32tab ? { tf: new Float32Array(buf('o_tab.bin')) } : { tq: new Int8Array(buf('o_tab.bin')) }),
    tsHalf: new Float32Array(buf('o_ts.bin')),
    xsum: new Float32Array(buf('o_xs.bin')),
    acc: f32tab ? new Float32Array(buf('o_acc.bin')) : new Int32Array(buf('o_acc.bin')),
    y: new Float32Array(buf('o_y.bin')),
  };
}

/** max |a - b| / max |b| (0 when b is all zeros and a equals it). */
export function maxRel(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0,
    r = 0;
  for (let i = 0; i < b.length; i++) {
    d = Math.max(d, Math.abs(a[i]! - b[i]!));
    r = Math.max(r, Math.abs(b[i]!));
  }
  return r === 0 ? d : d / r;
}

/** First index where a and b differ (by ===), or -1. */
export function firstDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return -2;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}
