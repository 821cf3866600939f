/**
 * Accumulator overflow: adversarial activations drive every int8 table entry to ±127 (see
 * adversarial.ts) for K up to 16384, including one segment spanning all of K (group = K, not a multiple
 * of 128). The LUT interpreter (through the op table) and reference.ts must equal an exact 64-bit sum,
 * and the epilogue must equal its float64 evaluation to f32 rounding (1e-6 relative).
 */
import { describe, expect, it } from 'vitest';
import '../../ir/ops/index.js';
import { GraphBuilder, newGraph } from '../../ir/graph.js';
import { interpret } from '../../ir/interpret.js';
import { addNode } from '../../ir/lut/build.js';
import { type Bits, packWeights } from '../../ir/lut/geometry.js';
import { lutAccumulators } from '../../ir/lut/interp.js';
import { accumulateI8, buildTablesI8 } from '../../ir/lut/reference.js';
import { makeTensor } from '../../ir/tensor.js';
import { adversarialCase } from './adversarial.js';

const cases: [number, number, Bits, number, 'plus' | 'minus' | 'random', 'ones' | 'random'][] = [
  [16384, 3, 4, 16384, 'plus', 'ones'],
  [16376, 2, 4, 16376, 'minus', 'ones'], // one segment of 16376 activations: 4094 lookups of ±127·15
  [16383, 5, 2, 128, 'random', 'random'],
  [5000, 7, 3, 5000, 'plus', 'random'],
  [1032, 17, 1, 1032, 'plus', 'ones'],
];

describe('int8 table accumulators do not overflow', () => {
  for (const [k, n, bits, gs, signs, weights] of cases) {
    it(`K=${k} N=${n} bits=${bits} G=${gs} ${signs} ${weights}`, () => {
      const c = adversarialCase(k, n, bits, gs, 1, signs, weights, k + n);
      const t = buildTablesI8(c.g, c.x, 1);
      // every entry of every real chunk is ±127
      for (let ch = 0; ch < Math.ceil(k / 4); ch++) for (let j = 0; j < 16; j++) expect(Math.abs(t.tq[ch * 16 + j]!)).toBe(127);
      const packed = packWeights(c.g, c.q);
      expect(Array.from(accumulateI8(c.g, packed, t.tq, 1))).toEqual(Array.from(c.expectedAcc));
      // the IR: lut.table + lut.matmul through the op table
      const g = newGraph('ovf');
      const b = new GraphBuilder(g);
      const x = b.input('x', { dtype: 'f32', shape: [1, k] });
      const attrs = { n, k, bits, group_size: gs, vec_bytes: 16, k_tile: 0 };
      const sw = new Float32Array(c.g.nGroups * c.g.nPad).fill(1);
      const swz = new Float32Array(c.g.nGroups * c.g.nPad);
      const tab = addNode(b, 'lut.table', [x], { k, group_size: gs }, 'table');
      const mm = addNode(
        b,
        'lut.matmul',
        [
          ...tab.outputs,
          b.constant('w', makeTensor('u8', [packed.length], packed)),
          b.constant('sw', makeTensor('f32', [c.g.nGroups, c.g.nPad], sw)),
          b.constant('swz', makeTensor('f32', [c.g.nGroups, c.g.nPad], swz)),
        ],
        attrs,
        'mm',
      );
      g.outputs = [...tab.outputs, mm.outputs[0]!];
      const xt = makeTensor('f32', [1, k], c.x);
      const [tq, ts, xs, y] = interpret(g, { x: xt });
      const acc = lutAccumulators([tq!, ts!, xs!, makeTensor('u8', [packed.length], packed)], {
        ...attrs,
        tables: 'i8',
        table_layout: 'token',
      }).acc;
      expect(Array.from(acc)).toEqual(Array.from(c.expectedAcc));
      for (let nn = 0; nn < n; nn++) {
        let want = 0;
        for (let s = 0; s < c.g.nSegments; s++) want += ts!.data[s]! * c.expectedAcc[nn * c.g.nSegments + s]!;
        expect(Math.abs(y!.data[nn]! - want)).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(want)));
      }
    });
  }
});
