/**
 * Property: the C LUT kernel (backends/c, through test/backends/c/harness.ts) equals the bit-exact
 * oracle (ir/lut/reference.ts) on every ISA path this machine runs (scalar; AVX2 and AVX-512 when
 * /proc/cpuinfo has them), for fast-check shapes (odd N and K, bits 1/1.58/2/3/4, groups 8-256 and one
 * group, int8 or f32 tables) and token batches (M 1..40, five data patterns). Exact: packed weights and
 * scales, int8 tables and tsHalf, f32 tables, integer accumulators A, and y = combine() on the kernel's
 * own A/tsHalf/xsum (same float order); bounded: xsum (summed chunk-wise in C: |d| <= gamma(segment)·Σ|x|)
 * and, for f32 tables, the float accumulators (another summation order: |d| <= 2·gamma(lookups)·Σ|leaves|).
 * The native ISA also runs the benchmarked configurations (bits 2/4, group 32/128, K = 4096, M = 1 and 32).
 *
 * Cost: the kernel's geometry is compiled in, so each shape is one compile (~0.5-1.5 s, cached by content
 * in $LUTC_C_CACHE); the program reads M and the data from a file, so every shape runs 1-2 token batches
 * on one build. Several kernels in one translation unit compile no faster (measured: 6 AVX-512 kernels
 * in one file 9.9 s vs 1.3 s for one), so batching is per shape. Shrinking recompiles: 60 s budget.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { type CIsa, ISA_NUM } from '../../backends/c/csrc-prelude.js';
import { cScaleLayout } from '../../backends/c/render.js';
import type { KernelRequest } from '../../compiler/options.js';
import { packWeights } from '../../ir/lut/geometry.js';
import { accumulateF32, accumulateI8, buildTablesF32, buildTablesI8, combine, packScales } from '../../ir/lut/reference.js';
import { NATIVE, runCase } from '../backends/c/harness.js';
import { assertProperty, timeoutFor } from '../helpers/property.js';
import {
  BENCH_RUNS,
  BENCH_SHAPES,
  expectNone,
  firstMismatch,
  firstOverBound,
  kernelFloatBounds,
  type LayerShape,
  layerData,
  runArb,
  shapeArb,
  storedBits,
  type TokenRun,
} from './lut-cases.js';

const cpuinfo = (() => {
  try {
    return readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    return '';
  }
})();
const has = (f: string) => new RegExp(`\\b${f}\\b`).test(cpuinfo);
const AVX512 = has('avx512vbmi') && has('avx512bw');
const PATHS: [CIsa, boolean][] = [
  ['scalar', true],
  ['avx2', has('avx2')],
  ['avx512', AVX512],
];
/** The ISA the benchmark's native build (-march=native) selects. */
const NATIVE_ISA: CIsa = AVX512 ? 'avx512' : has('avx2') ? 'avx2' : 'scalar';

interface CCase {
  shape: LayerShape;
  tables: 'i8' | 'f32';
  runs: TokenRun[];
}

const caseArb: fc.Arbitrary<CCase> = fc.record({
  shape: shapeArb(100, 700),
  tables: fc.oneof({ arbitrary: fc.constant('i8' as const), weight: 3 }, { arbitrary: fc.constant('f32' as const), weight: 1 }),
  runs: fc.array(runArb(40), { minLength: 1, maxLength: 2 }),
});

function checkRun(isa: CIsa, c: CCase, run: TokenRun): void {
  const { shape, tables } = c;
  const req: KernelRequest = { n: shape.n, k: shape.k, bits: storedBits(shape.bits), groupSize: shape.gs, tables };
  const d = layerData(shape, run);
  const o = runCase(req, isa, d, NATIVE);
  const { g } = o,
    m = d.m;
  const packed = packWeights(g, d.q);
  const ps = packScales(g, d.scales, d.zeros);
  const ti = buildTablesI8(g, d.x, m);
  const tf = buildTablesF32(g, d.x, m);
  const fb = kernelFloatBounds(g, d);
  const msgs = [
    o.isa === ISA_NUM[isa] ? undefined : `lutc_isa() = ${o.isa}, want ${ISA_NUM[isa]}`,
    firstMismatch('packed', o.packed, packed),
    firstMismatch('sw', o.sw, cScaleLayout(g, ps.sw)),
    firstMismatch('swz', o.swz, cScaleLayout(g, ps.swz)),
    firstMismatch('tq', o.tq, ti.tq),
    firstMismatch('tsHalf', o.tsh, ti.tsHalf),
    firstMismatch('tf', o.tf, tf.tf),
    firstMismatch('A', o.A, accumulateI8(g, packed, ti.tq, m)),
    firstOverBound(o.xs, ti.xsum, fb.xsum),
    firstOverBound(o.xsf, tf.xsum, fb.xsum),
  ];
  if (tables === 'f32') {
    msgs.push(
      firstOverBound(o.Af, accumulateF32(g, packed, tf.tf, m), fb.accF32),
      firstMismatch('y (f32 tables)', o.y, combine(g, o.Af, 0.5, o.xsf, ps, m, d.bias)),
    );
  } else msgs.push(firstMismatch('y', o.y, combine(g, o.A, o.tsh, o.xs, ps, m, d.bias)));
  expectNone(
    ...msgs.map((s) => s && `${isa} N=${shape.n} K=${shape.k} bits=${shape.bits} G=${shape.gs} ${tables} M=${m} ${run.pattern}: ${s}`),
  );
}

const RUNS: Record<CIsa, number> = { scalar: 4, avx2: 4, avx512: 5, neon: 0 };

describe('property: C LUT kernel = reference, bit for bit', () => {
  for (const [isa, ok] of PATHS) {
    const examples: CCase[] = isa === NATIVE_ISA ? BENCH_SHAPES.map((shape) => ({ shape, tables: 'i8', runs: BENCH_RUNS })) : [];
    const label = examples.length ? ' and the benchmarked configurations' : '';
    it.skipIf(!ok)(
      `${isa} path: random shapes, bits, groups, M${label}`,
      () => {
        assertProperty(
          caseArb,
          (c) => {
            for (const run of c.runs) checkRun(isa, c, run);
          },
          { runs: RUNS[isa], examples, shrinkBudgetMs: 60_000 },
        );
      },
      timeoutFor(180_000, RUNS[isa]),
    );
  }
});
