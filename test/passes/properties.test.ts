/**
 * Property: every pass after lower-linear keeps the interpreter's output bit for bit (table sharing,
 * hoisting, epilogue fusion, tiling, Vec-LUT layout, K-tiled packing and lookup widths only reorder or
 * regroup exactly the same integer and float operations). Seeded random layers: N, K in 1..5000 (log-
 * distributed so small sizes dominate, never forced to multiples of anything), bits 1/1.58/2/3/4, group
 * 32/64/128/K, M 1..64, int8 or f32 tables, with a bias + activation epilogue, plus a few large cases.
 * The lowered output itself is held to the float reference in lower-linear/numerics.test.ts.
 */
import { describe, expect, it } from 'vitest';
import '../../ir/ops/index.js';
import { interpret } from '../../ir/interpret.js';
import { PIPELINE } from '../../compiler/pipeline.js';
import { passContext } from '../../passes/registry.js';
import type { BitsOption } from '../../compiler/options.js';
import { buildGraph, op, randTensor, rng } from '../lut/util.js';
import { runVerified } from './util.js';

interface Case { m: number; n: number; k: number; bits: BitsOption; gs: number; tables: 'i8' | 'f32'; act: string; vec: 16 | 32 | 64; layout?: 'token' | 'vec'; tileK?: number }

function randomCases(count: number, seed: number): Case[] {
  const r = rng(seed);
  const logInt = (max: number) => Math.max(1, Math.floor(Math.exp(r() * Math.log(max))));
  const pick = <T,>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)]!;
  const out: Case[] = [];
  while (out.length < count) {
    const k = logInt(5000), n = logInt(5000), m = logInt(64);
    if (m * n * k > 4e5) continue; // keeps the JS interpreter within seconds; large cases below
    out.push({
      m, n, k, bits: pick([1, 1.58, 2, 3, 4] as const), gs: pick([32, 64, 128, k]), tables: pick(['i8', 'f32'] as const),
      act: pick(['none', 'relu', 'sigmoid', 'silu', 'gelu']), vec: pick([16, 32, 64] as const),
      layout: pick([undefined, 'vec', 'token'] as const), tileK: pick([undefined, 0, 16, 1]),
    });
  }
  return out;
}

const large: Case[] = [
  { m: 1, n: 37, k: 4999, bits: 2, gs: 128, tables: 'i8', act: 'silu', vec: 16 },
  { m: 2, n: 4093, k: 40, bits: 4, gs: 32, tables: 'i8', act: 'relu', vec: 32 },
  { m: 64, n: 9, k: 517, bits: 3, gs: 517, tables: 'f32', act: 'none', vec: 64 },
];

function layerGraph(c: Case, seed: number) {
  const r = rng(seed);
  const w = randTensor(r, [c.k, c.n]);
  const bias = randTensor(r, [c.n], 0.1);
  const g = buildGraph((b) => {
    const x = b.input('x', { dtype: 'f32', shape: [c.m, c.k] });
    let [y] = op(b, 'matmul', [x, b.constant('w', w)]);
    [y] = op(b, 'add', [y!, b.constant('bias', bias)]);
    if (c.act === 'silu') {
      const [s] = op(b, 'sigmoid', [y!]);
      [y] = op(b, 'mul', [y!, s!]);
    } else if (c.act !== 'none') [y] = op(b, c.act, [y!]);
    return [y!];
  });
  return { g, x: randTensor(r, [c.m, c.k]) };
}

describe('every pass keeps the interpreter output', () => {
  const cases = [...randomCases(36, 2024), ...large];
  cases.forEach((c, i) => {
    it(`#${i} M=${c.m} N=${c.n} K=${c.k} bits=${c.bits} G=${c.gs} ${c.tables} ${c.act} vec=${c.vec} ${c.layout ?? ''} kt=${c.tileK ?? ''}`, () => {
      const { g, x } = layerGraph(c, i + 1);
      const ctx = passContext(
        { bits: c.bits, groupSize: c.gs, tables: c.tables },
        { vecBytes: c.vec, tile: { layout: c.layout, tileK: c.tileK } },
      );
      runVerified(g, PIPELINE[0]!, ctx);
      expect(ctx.decisions[0]!.lowered).toBe(true);
      const want = Array.from(interpret(g, { x })[0]!.data);
      for (const p of PIPELINE.slice(1)) {
        runVerified(g, p, ctx);
        expect(Array.from(interpret(g, { x })[0]!.data), `after ${p}`).toEqual(want);
      }
      // and the pipeline fused the epilogue and folded the packing
      expect(g.nodes.map((n) => n.op)).toEqual(['lut.table', 'lut.matmul']);
    });
  });
});
