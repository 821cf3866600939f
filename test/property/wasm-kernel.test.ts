/**
 * Property: the WASM LUT kernel (backends/wasm, emitted kernel-only files loaded through
 * test/backends/wasm/helpers.ts) equals the bit-exact oracle (ir/lut/reference.ts) for fast-check
 * shapes (odd N and K, bits 1/1.58/2/3/4, groups 8-256 and one group, int8 or f32 tables) and token
 * batches (M 1..40: M >= 16 takes the vector-LUT gemm for 3-4 bits, and for 1-2 bits when forced),
 * SIMD128 in this process and relaxed SIMD in a child node. Exact: int8 tables, tsHalf and integer
 * accumulators; f32 tables (by value); y = combine() on the kernel's own accumulators and xsum (the
 * kernel keeps combine()'s float order, docs/wasm-kernel.md). Bounded: xsum (summed in 4 lanes:
 * |d| <= gamma(segment)·Σ|x|) and f32-table accumulators (plane-first order: 2·gamma(lookups)·Σ|leaves|).
 * The benchmarked configurations (bits 2/4, group 32/128, K = 4096, M = 1 and 32) run first.
 * Cost: one emitted module per shape (binaryen -O3, ~0.5-2 s), shared by the case's 1-2 token batches.
 */
import fc from 'fast-check';
import { describe, it } from 'vitest';
import type { PlanOverrides } from '../../backends/wasm/plan.js';
import type { KernelRequest } from '../../compiler/options.js';
import { packWeights } from '../../ir/lut/geometry.js';
import { accumulateF32, accumulateI8, buildTablesF32, buildTablesI8, combine, packScales } from '../../ir/lut/reference.js';
import { emitToTemp, type KernelOutputs, type Problem, runInChild, runInProcess } from '../backends/wasm/helpers.js';
import { assertAsyncProperty, timeoutFor } from '../helpers/property.js';
import {
  BENCH_RUNS,
  BENCH_SHAPES,
  expectNone,
  firstMismatch,
  firstOverBound,
  kernelFloatBounds,
  type LayerData,
  type LayerShape,
  layerData,
  runArb,
  shapeArb,
  shapeGeometry,
  storedBits,
  type TokenRun,
} from './lut-cases.js';

interface WCase {
  shape: LayerShape;
  tables: 'i8' | 'f32';
  relaxed: boolean;
  vecLut: boolean | undefined;
  runs: TokenRun[];
}

const caseArb: fc.Arbitrary<WCase> = fc.record({
  shape: shapeArb(100, 700),
  tables: fc.oneof({ arbitrary: fc.constant('i8' as const), weight: 3 }, { arbitrary: fc.constant('f32' as const), weight: 1 }),
  relaxed: fc.oneof({ arbitrary: fc.constant(false), weight: 3 }, { arbitrary: fc.constant(true), weight: 1 }),
  vecLut: fc.constantFrom<boolean | undefined>(undefined, true, false),
  runs: fc.array(runArb(40), { minLength: 1, maxLength: 2 }),
});

function checkRun(c: WCase, run: TokenRun, got: KernelOutputs, d: LayerData): void {
  const g = shapeGeometry(c.shape),
    m = d.m;
  const packed = packWeights(g, d.q);
  const ps = packScales(g, d.scales, d.zeros);
  const fb = kernelFloatBounds(g, d);
  const msgs: (string | undefined)[] = [];
  if (c.tables === 'f32') {
    const t = buildTablesF32(g, d.x, m);
    msgs.push(
      firstMismatch('tf', got.tf!, t.tf),
      firstOverBound(got.xsum, t.xsum, fb.xsum),
      firstOverBound(got.acc, accumulateF32(g, packed, t.tf, m), fb.accF32),
    );
  } else {
    const t = buildTablesI8(g, d.x, m);
    msgs.push(
      firstMismatch('tq', got.tq!, t.tq),
      firstMismatch('tsHalf', got.tsHalf, t.tsHalf),
      firstMismatch('A', got.acc, accumulateI8(g, packed, t.tq, m)),
      firstOverBound(got.xsum, t.xsum, fb.xsum),
    );
  }
  msgs.push(firstMismatch('y', got.y, combine(g, got.acc, got.tsHalf, got.xsum, ps, m, d.bias)));
  const what = `N=${c.shape.n} K=${c.shape.k} bits=${c.shape.bits} G=${c.shape.gs} ${c.tables}${c.relaxed ? ' relaxed' : ''} vecLut=${c.vecLut} M=${m} ${run.pattern}`;
  expectNone(...msgs.map((s) => s && `${what}: ${s}`));
}

async function checkCase(c: WCase): Promise<void> {
  const { shape } = c;
  const req: KernelRequest = {
    n: shape.n,
    k: shape.k,
    m: Math.max(...c.runs.map((r) => r.m)),
    bits: storedBits(shape.bits),
    groupSize: shape.gs,
    tables: c.tables,
    ...(c.relaxed ? { wasmFeatures: ['relaxed-simd'] } : {}),
  };
  const over: PlanOverrides = c.vecLut === undefined ? {} : { vecLut: c.vecLut };
  const dir = emitToTemp(req, over);
  for (const run of c.runs) {
    const d = layerData(shape, run);
    const p: Problem = { req, g: shapeGeometry(shape), ...d };
    const got = c.relaxed ? runInChild(dir, p, ['--experimental-wasm-relaxed-simd']) : await runInProcess(dir, p);
    checkRun(c, run, got, d);
  }
}

const RUNS = 10;

describe('property: WASM LUT kernel = reference, bit for bit', () => {
  it(
    'random shapes, bits, groups, M (scalar and vector LUT), SIMD128 and relaxed SIMD, and the benchmarked configurations',
    async () => {
      const examples: WCase[] = BENCH_SHAPES.map((shape) => ({ shape, tables: 'i8', relaxed: false, vecLut: undefined, runs: BENCH_RUNS }));
      await assertAsyncProperty(caseArb, checkCase, { runs: RUNS, examples, shrinkBudgetMs: 60_000 });
    },
    timeoutFor(180_000, RUNS),
  );
});
