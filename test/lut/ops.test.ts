/**
 * The lut.* ops: their interpreters are exactly ir/lut/reference.ts (bit-exact integers and floats),
 * their IR round-trips through the printer and parser, and the verifier rejects inconsistent operands.
 */
import { describe, expect, it } from 'vitest';
import '../../ir/ops/index.js';
import { GraphBuilder, newGraph } from '../../ir/graph.js';
import { interpret } from '../../ir/interpret.js';
import { printGraph } from '../../ir/printer.js';
import { parseGraph } from '../../ir/parser.js';
import { verifyGraph } from '../../ir/verify.js';
import { makeTensor } from '../../ir/tensor.js';
import { addNode } from '../../ir/lut/build.js';
import { lutGeometry, packWeights, type Bits } from '../../ir/lut/geometry.js';
import { accumulateF32, accumulateI8, buildTablesF32, buildTablesI8, combine, packScales } from '../../ir/lut/reference.js';
import { lutAccumulators } from '../../ir/lut/interp.js';
import { LutcError } from '../../compiler/diagnostics.js';
import { randTensor, rng } from './util.js';

function lutProgram(m: number, n: number, k: number, bits: Bits, gs: number, tables: 'i8' | 'f32', layout: 'token' | 'vec', vec: 16 | 32 | 64, seed: number) {
  const r = rng(seed);
  const geo = lutGeometry({ n, k, bits, groupSize: gs, vecBytes: vec, kTileCP: 3 });
  const q = Uint8Array.from({ length: n * k }, () => Math.floor(r() * (1 << bits)));
  const scales = Float32Array.from({ length: n * geo.nGroups }, () => 0.01 + r() * 0.1);
  const zeros = Float32Array.from({ length: n * geo.nGroups }, () => Math.floor(r() * (1 << bits)));
  const g = newGraph('lut');
  const b = new GraphBuilder(g);
  const x = b.input('x', { dtype: 'f32', shape: [m, k] });
  const attrs = { n, k, bits, group_size: gs, vec_bytes: vec, k_tile: 3 };
  const pack = addNode(b, 'lut.pack', [b.constant('q', makeTensor('u8', [n, k], q)), b.constant('s', makeTensor('f32', [n, geo.nGroups], scales)), b.constant('z', makeTensor('f32', [n, geo.nGroups], zeros))], attrs, 'pack');
  const tab = addNode(b, 'lut.table', [x], { k, group_size: gs, tables, layout }, 'table');
  const bias = b.constant('bias', randTensor(r, [n]));
  const mm = addNode(b, 'lut.matmul', [...tab.outputs, ...pack.outputs, bias], { ...attrs, tables, table_layout: layout }, 'mm');
  g.outputs = [mm.outputs[0]!];
  const xt = randTensor(r, [m, k]);
  return { g, geo, q, scales, zeros, x: xt, bias: bias.const!.data as Float32Array };
}

describe('lut ops', () => {
  const cases: [number, number, number, Bits, number, 'i8' | 'f32', 'token' | 'vec', 16 | 32 | 64][] = [
    [1, 13, 40, 2, 32, 'i8', 'token', 16], [3, 37, 203, 4, 64, 'i8', 'vec', 32], [2, 5, 77, 1, 1000, 'f32', 'token', 64],
    [9, 19, 260, 3, 128, 'f32', 'vec', 16], [4, 8, 16, 4, 8, 'i8', 'token', 16],
  ];
  for (const [m, n, k, bits, gs, tables, layout, vec] of cases) {
    it(`interprets as reference.ts: M=${m} N=${n} K=${k} bits=${bits} G=${gs} ${tables} ${layout} vec=${vec}`, () => {
      const p = lutProgram(m, n, k, bits, gs, tables, layout, vec, n * k);
      verifyGraph(p.g);
      const y = interpret(p.g, { x: p.x })[0]!;
      const packed = packWeights(p.geo, p.q);
      const ps = packScales(p.geo, p.scales, p.zeros);
      const xs = p.x.data as Float32Array;
      let want: Float32Array;
      if (tables === 'i8') {
        const t = buildTablesI8(p.geo, xs, m);
        const acc = accumulateI8(p.geo, packed, t.tq, m);
        want = combine(p.geo, acc, t.tsHalf, t.xsum, ps, m, p.bias);
        // integer accumulators of the IR equal the oracle's, bit for bit
        const tab = interpret({ ...p.g, outputs: p.g.nodes.find((nd) => nd.op === 'lut.table')!.outputs }, { x: p.x });
        const got = lutAccumulators([tab[0]!, tab[1]!, tab[2]!, makeTensor('u8', [packed.length], packed)], { n, k, bits, group_size: gs, vec_bytes: vec, k_tile: 3, tables, table_layout: layout });
        expect(Array.from(got.acc)).toEqual(Array.from(acc));
      } else {
        const t = buildTablesF32(p.geo, xs, m);
        want = combine(p.geo, accumulateF32(p.geo, packed, t.tf, m), 0.5, t.xsum, ps, m, p.bias);
      }
      expect(Array.from(y.data)).toEqual(Array.from(want));
      expect(y.shape).toEqual([m, n]);
    });
  }

  it('round-trips through the printer and parser, and still verifies and runs', () => {
    const p = lutProgram(2, 13, 40, 2, 32, 'i8', 'vec', 16, 7);
    const text = printGraph(p.g);
    const g2 = parseGraph(text);
    verifyGraph(g2);
    expect(printGraph(g2)).toBe(text);
    expect(Array.from(interpret(g2, { x: p.x })[0]!.data)).toEqual(Array.from(interpret(p.g, { x: p.x })[0]!.data));
  });

  it('the verifier rejects packed weights of the wrong size (LUT4100)', () => {
    const p = lutProgram(1, 13, 40, 2, 32, 'i8', 'token', 16, 9);
    const mm = p.g.nodes.find((nd) => nd.op === 'lut.matmul')!;
    mm.attrs.bits = 4; // geometry now wants twice the bytes
    let err: unknown;
    try {
      verifyGraph(p.g);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(LutcError);
    expect((err as LutcError).diagnostics.some((d) => d.code === 'LUT4100' && /weights/.test(d.message))).toBe(true);
  });
});

