/**
 * lower-linear numerics on target ref: the lowered program against a float64 X · dequant(W)ᵀ of the
 * very q/scales/zeros lowering chose.
 *   f32 tables: only f32 rounding of table sums, accumulators and the epilogue remains; with |terms| of
 *     order max|ref| and K <= 600 terms the error stays far below 1e-4 · max|ref| (stated bound).
 *   int8 tables: rel-L2 <= 2e-2, the bound derived in docs/lut-format.md (8-bit activation quantization
 *     per segment gives ~0.4-1% rel-L2 for these inputs; 2e-2 leaves margin without hiding a bug: a
 *     wrong plane or segment scale gives O(1) errors).
 */
import { describe, expect, it } from 'vitest';
import { interpret } from '../../../ir/interpret.js';
import { quantizeMatrix } from '../../../compiler/quantize.js';
import { weightRows } from '../../../ir/lut/weights.js';
import { dequantRef, errors, linearGraph, randTensor, rng } from '../../lut/util.js';
import { runUpTo } from '../util.js';
import type { BitsOption } from '../../../compiler/options.js';

const cases: [number, number, number, BitsOption, number][] = [
  [1, 64, 16, 2, 32], [3, 100, 13, 4, 64], [2, 203, 37, 1, 128], [5, 260, 19, 3, 64], [1, 77, 5, 1.58, 1000], [4, 600, 33, 4, 128],
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
        const e = errors(y.data as Float32Array, want);
        if (tables === 'f32') expect(e.maxRel).toBeLessThan(1e-4);
        else expect(e.relL2).toBeLessThan(2e-2);
      });
    }
  }
});
