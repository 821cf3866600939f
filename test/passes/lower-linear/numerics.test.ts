/**
 * lower-linear numerics on target ref: the lowered program against a float64 X · dequant(W)ᵀ of the
 * very q/scales/zeros lowering chose (tolerances: test/helpers/tolerance.ts).
 *   f32 tables: only f32 rounding of table sums, accumulators and the epilogue remains: max|y - ref|
 *     <= F32_EXACT · max|ref| (measured 8.8e-8 .. 2.2e-7 for K <= 600).
 *   int8 tables: rel-L2 within INT8_NOISE_RATIO of int8TableNoise, the error that rounding each table
 *     entry to its int8 step predicts for these activations and scales (measured ratios 0.85 .. 0.93;
 *     rel-L2 5.3e-3 .. 1.3e-2, the largest for ternary weights); a wrong plane or segment scale gives
 *     O(1) errors.
 */
import { describe, expect, it } from 'vitest';
import type { BitsOption } from '../../../compiler/options.js';
import { interpret } from '../../../ir/interpret.js';
import { quantizeMatrix } from '../../../ir/lut/quantize.js';
import { weightRows } from '../../../ir/lut/weights.js';
import { F32_EXACT, INT8_NOISE_RATIO, int8TableNoise, maxRel, relL2 } from '../../helpers/tolerance.js';
import { dequantRef, linearGraph, randTensor, rng } from '../../lut/util.js';
import { runUpTo } from '../util.js';

const cases: [number, number, number, BitsOption, number][] = [
  [1, 64, 16, 2, 32],
  [3, 100, 13, 4, 64],
  [2, 203, 37, 1, 128],
  [5, 260, 19, 3, 64],
  [1, 77, 5, 1.58, 1000],
  [4, 600, 33, 4, 128],
];

describe('lower-linear numerics', () => {
  for (const [m, k, n, bits, gs] of cases) {
    for (const tables of ['f32', 'i8'] as const) {
      it(`M=${m} K=${k} N=${n} bits=${bits} G=${gs} tables=${tables}`, () => {
        const r = rng(k * 31 + n);
        const w = randTensor(r, [k, n]);
        const x = randTensor(r, [m, k]);
        const g = linearGraph(m, w);
        const ctx = runUpTo(g, 'bitplane-layout', { bits, groupSize: gs, tables });
        expect(ctx.decisions).toHaveLength(1);
        expect(ctx.decisions[0]!.lowered).toBe(true);
        expect(g.nodes.map((nd) => nd.op)).toEqual(['lut.table', 'lut.matmul']);
        const y = interpret(g, { x })[0]!;
        const { w: rows } = weightRows(w, false);
        const qm = quantizeMatrix(rows, n, k, { bits, groupSize: gs });
        const want = dequantRef(x.data as Float32Array, m, qm);
        if (tables === 'f32') expect(maxRel(y, want)).toBeLessThan(F32_EXACT);
        else {
          const ratio = relL2(y, want) / int8TableNoise(x.data, m, k, qm.scales, n, qm.groupSize, qm.bits, want);
          expect(ratio).toBeGreaterThan(INT8_NOISE_RATIO.min);
          expect(ratio).toBeLessThan(INT8_NOISE_RATIO.max);
        }
      });
    }
  }
});
