/**
 * Properties of the pass pipeline on random small graphs (fast-check, seed and run count from
 * test/helpers/property.ts): one linear layer, two layers reading the same activation (one shared table
 * build), or two chained layers; each with a bias and an activation epilogue. N, K in 1..5000 (log-
 * distributed, so small sizes dominate; never forced to multiples of anything, M·N·K ≤ 1e5 so the JS
 * interpreter stays fast), bits 1/1.58/2/3/4, group 32/64/128/K, M 1..64, int8 or f32 tables, lookup
 * width 16/32/64, table layout and K-tile choices; plus three large fixed cases.
 *  1. Every pass after lower-linear keeps the interpreter's output bit for bit (table sharing, hoisting,
 *     epilogue fusion, tiling, Vec-LUT layout, K-tiled packing and lookup widths only reorder or regroup
 *     the same integer and float operations); the pipeline leaves one lut.matmul per layer, one table
 *     build per distinct activation (the shared one is built once), no lut.pack, and for one layer
 *     exactly lut.table + lut.matmul (the epilogue fused).
 *  2. One layer: the lowered output is within a worst-case bound of the float graph run on the weights
 *     lowering chose (weightsFromFloat, as lower-linear reads them), dequantized: the LUT bound
 *     of test/property/lut-cases.ts (f32 rounding, plus the int8 table bound for int8 tables), the f32
 *     matmul's gamma(K+2)·Σ|x·W|, the bias add's rounding, times the activation's Lipschitz constant
 *     (relu 1, sigmoid 1/4, silu 1.1, gelu 1.13), plus its f32 rounding.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import '../../ir/ops/index.js';
import type { BitsOption } from '../../compiler/options.js';
import { PIPELINE } from '../../compiler/pipeline.js';
import type { GraphBuilder } from '../../ir/graph.js';
import { interpret } from '../../ir/interpret.js';
import { lutGeometry } from '../../ir/lut/geometry.js';
import { weightRows, weightsFromFloat } from '../../ir/lut/weights.js';
import { makeTensor } from '../../ir/tensor.js';
import type { Graph, Tensor, Value } from '../../ir/types.js';
import { passContext } from '../../passes/registry.js';
import { assertProperty, timeoutFor } from '../helpers/property.js';
import { buildGraph, op, randTensor, rng } from '../lut/util.js';
import { lutErrorBounds } from '../property/lut-cases.js';
import { runVerified } from './util.js';

type Kind = 'single' | 'shared' | 'chain';
type Act = 'none' | 'relu' | 'sigmoid' | 'silu' | 'gelu';
interface Case {
  kind: Kind;
  m: number;
  n: number;
  k: number;
  n2: number;
  bits: BitsOption;
  gs: number;
  tables: 'i8' | 'f32';
  act: Act;
  vec: 16 | 32 | 64;
  layout?: 'token' | 'vec';
  tileK?: number;
  seed: number;
}

/** Integers 1..max, log-distributed; shrink towards 1. */
const logInt = (max: number) => fc.integer({ min: 0, max: 1000 }).map((v) => Math.max(1, Math.floor(Math.exp((v / 1000) * Math.log(max)))));

const BUDGET = 1e5; // M·N·K (plus the second layer's M·N·N2)

const caseArb: fc.Arbitrary<Case> = fc
  .record({
    kind: fc.constantFrom<Kind>('single', 'shared', 'chain'),
    m: logInt(64),
    n: logInt(5000),
    k: logInt(5000),
    n2: logInt(64),
    bits: fc.constantFrom<BitsOption>(1, 1.58, 2, 3, 4),
    g: fc.constantFrom(32, 64, 128, 0),
    tables: fc.constantFrom('i8' as const, 'f32' as const),
    act: fc.constantFrom<Act>('none', 'relu', 'sigmoid', 'silu', 'gelu'),
    vec: fc.constantFrom(16 as const, 32 as const, 64 as const),
    layout: fc.constantFrom(undefined, 'vec' as const, 'token' as const),
    tileK: fc.constantFrom(undefined, 0, 16, 1),
    seed: fc.nat({ max: 0xffff }),
  })
  .map(({ g, ...c }) => {
    // clamp (not filter) into the interpreter budget, so shrinking keeps working
    let { m, n } = c;
    const { k } = c;
    if (n * k > BUDGET) n = Math.max(1, Math.floor(BUDGET / k));
    if (m * n * (k + c.n2) > BUDGET) m = Math.max(1, Math.floor(BUDGET / (n * (k + c.n2))));
    return { ...c, m, n, gs: g === 0 ? Math.max(k, n) : g }; // 0: one group per row (of either layer)
  });

const large: Case[] = [
  { kind: 'single', m: 1, n: 37, k: 4999, n2: 1, bits: 2, gs: 128, tables: 'i8', act: 'silu', vec: 16, seed: 1 },
  { kind: 'single', m: 2, n: 4093, k: 40, n2: 1, bits: 4, gs: 32, tables: 'i8', act: 'relu', vec: 32, seed: 2 },
  { kind: 'single', m: 64, n: 9, k: 517, n2: 1, bits: 3, gs: 517, tables: 'f32', act: 'none', vec: 64, seed: 3 },
];

function epilogue(b: GraphBuilder, y: Value, act: Act): Value {
  if (act === 'silu') {
    const [s] = op(b, 'sigmoid', [y]);
    return op(b, 'mul', [y, s!])[0]!;
  }
  return act === 'none' ? y : op(b, act, [y])[0]!;
}

/** The case's graph and input; `weights` replaces the constant weights (same order), e.g. by dequantized ones. */
function caseGraph(c: Case, weights?: Tensor[]) {
  const r = rng(c.seed + 1);
  const w1 = randTensor(r, [c.k, c.n]);
  const bias = randTensor(r, [c.n], 0.1);
  const w2 = randTensor(r, c.kind === 'chain' ? [c.n, c.n2] : [c.k, c.n]);
  const ws = weights ?? [w1, w2];
  const g = buildGraph((b) => {
    const x = b.input('x', { dtype: 'f32', shape: [c.m, c.k] });
    let [y] = op(b, 'matmul', [x, b.constant('w', ws[0]!)]);
    [y] = op(b, 'add', [y!, b.constant('bias', bias)]);
    y = epilogue(b, y!, c.act);
    if (c.kind === 'shared') y = op(b, 'add', [y, op(b, 'matmul', [x, b.constant('w2', ws[1]!)])[0]!])[0]!;
    if (c.kind === 'chain') y = op(b, 'matmul', [y, b.constant('w2', ws[1]!)])[0]!;
    return [y];
  });
  return { g, x: randTensor(r, [c.m, c.k]), w1, bias };
}

const LIPSCHITZ: Record<Act, number> = { none: 1, relu: 1, sigmoid: 0.25, silu: 1.1, gelu: 1.13 };
const U = 2 ** -24;

/** Property 2: lowered single layer vs the float graph on its dequantized weights. */
function checkAgainstDequantized(c: Case, g: Graph, x: Tensor, w1: Tensor, bias: Tensor): void {
  // the weights lower-linear itself reads (an exact ternary grid wins over --bits, e.g. for K = 1)
  const { w: rows } = weightRows(w1, false);
  const wr = weightsFromFloat(rows, c.n, c.k, { bits: c.bits, groupSize: c.gs });
  if (!wr.ok) throw new Error(`weightsFromFloat: ${wr.reason}`);
  const qm = wr.qm;
  const deq = new Float32Array(c.k * c.n);
  for (let n = 0; n < c.n; n++)
    for (let kk = 0; kk < c.k; kk++) {
      const gi = n * qm.nGroups + Math.floor(kk / qm.groupSize);
      deq[kk * c.n + n] = qm.scales[gi]! * (qm.q[n * c.k + kk]! - qm.zeros[gi]!);
    }
  const ref = interpret(caseGraph(c, [makeTensor('f32', [c.k, c.n], deq)]).g, { x })[0]!.data;
  const got = interpret(g, { x })[0]!.data;
  const geom = lutGeometry({ n: c.n, k: c.k, bits: qm.bits, groupSize: qm.groupSize, vecBytes: 16 });
  const data = { m: c.m, q: qm.q, scales: qm.scales, zeros: qm.zeros, bias: bias.data as Float32Array, x: x.data as Float32Array };
  const lut = lutErrorBounds(geom, data);
  const gammaK = ((c.k + 2) * U) / (1 - (c.k + 2) * U);
  for (let t = 0; t < c.m; t++)
    for (let n = 0; n < c.n; n++) {
      const i = t * c.n + n;
      const S = lut.S[i]!; // >= Σ_k |x_k·W_k| and >= |x · W|
      const pre = S + Math.abs(bias.data[n]!) + 1;
      const dPre = (c.tables === 'f32' ? lut.f32[i]! : lut.i8[i]!) + gammaK * S + 2 * U * pre;
      const bound = LIPSCHITZ[c.act] * dPre + 8 * U * pre;
      const e = Math.abs(got[i]! - ref[i]!);
      if (!(e <= bound))
        throw new Error(
          `y[${t}, ${n}] = ${got[i]}, float graph on dequantized weights ${ref[i]}: |err| ${e.toExponential(3)} > bound ${bound.toExponential(3)}`,
        );
    }
}

function checkCase(c: Case): void {
  const { g, x, w1, bias } = caseGraph(c);
  const ctx = passContext(
    { bits: c.bits, groupSize: c.gs, tables: c.tables },
    { vecBytes: c.vec, tile: { layout: c.layout, tileK: c.tileK } },
  );
  runVerified(g, PIPELINE[0]!, ctx);
  const layers = c.kind === 'single' ? 1 : 2;
  expect(ctx.decisions.map((d) => d.lowered)).toEqual(Array(layers).fill(true));
  const want = Array.from(interpret(g, { x })[0]!.data);
  if (c.kind === 'single') checkAgainstDequantized(c, g, x, w1, bias);
  for (const p of PIPELINE.slice(1)) {
    runVerified(g, p, ctx);
    expect(Array.from(interpret(g, { x })[0]!.data), `after ${p}`).toEqual(want);
  }
  // the pipeline fused the epilogue, folded the packing, and shared the table of a shared activation
  const count = (name: string) => g.nodes.filter((nd) => nd.op === name).length;
  expect(count('lut.matmul'), 'lut.matmul nodes').toBe(layers);
  expect(count('lut.table') + count('lut.norm_table'), 'table builds').toBe(c.kind === 'chain' ? 2 : 1);
  expect(count('lut.pack'), 'lut.pack folded').toBe(0);
  if (c.kind === 'single') expect(g.nodes.map((nd) => nd.op)).toEqual(['lut.table', 'lut.matmul']);
}

const RUNS = 40;

describe('property: the pass pipeline keeps the interpreter output', () => {
  it(
    'bit for bit after every pass; the lowered layer within its bound of the dequantized float graph',
    () => {
      assertProperty(caseArb, checkCase, { runs: RUNS, examples: large });
    },
    timeoutFor(120_000, RUNS),
  );
});
