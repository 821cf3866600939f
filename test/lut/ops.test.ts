/**
 * The lut.* ops: their interpreters (which call ir/lut/reference.ts) against computations written here
 * independently of it -- from the unpacked weight codes, not the packer or its index reader -- their
 * IR round-trips through the printer and parser, and the verifier rejects inconsistent operands.
 *
 * Expectations. int8 tables: the int8 tables and integer accumulators of docs/lut-format.md §5-6,
 * computed directly (each entry from its 4 activations, each index from 4 weight codes), must equal
 * the interpreter's bit for bit; y must equal the f64 epilogue of those integers within 1e-5 of
 * max|y| (the interpreter rounds each epilogue step to f32: a few ulp per segment) and the f64
 * dequantized matmul within rel-L2 2e-2 (8-bit activation error, docs/lut-format.md §9). f32 tables:
 * y against the f64 dequantized matmul X · dequant(W)^T + bias within 1e-5 of max|y| (f32 tables are
 * exact signed sums of 4 activations; the rest is f32 rounding over K <= 260 terms, ~1e-6).
 */
import { describe, expect, it } from 'vitest';
import '../../ir/ops/index.js';
import { LutcError } from '../../base/diagnostics.js';
import { GraphBuilder, newGraph } from '../../ir/graph.js';
import { interpret } from '../../ir/interpret.js';
import { addNode } from '../../ir/lut/build.js';
import { type Bits, type LutGeometry, lutGeometry } from '../../ir/lut/geometry.js';
import { lutAccumulators } from '../../ir/lut/interp.js';
import { parseGraph } from '../../ir/parser.js';
import { printGraph } from '../../ir/printer.js';
import { makeTensor, roundHalfEven } from '../../ir/tensor.js';
import { verifyGraph } from '../../ir/verify.js';
import { errors, randTensor, rng } from './util.js';

const fr = Math.fround;

/** Float64 X · dequant(W)^T + bias, W[n, kk] = scale * (q - zero) per group. */
function dequantMatmul(p: ReturnType<typeof lutProgram>, m: number): Float64Array {
  const { geo, q, scales, zeros, bias } = p;
  const x = p.x.data as Float32Array;
  const y = new Float64Array(m * geo.n);
  for (let t = 0; t < m; t++)
    for (let n = 0; n < geo.n; n++) {
      let v = bias[n]!;
      for (let kk = 0; kk < geo.k; kk++) {
        const gi = Math.floor(kk / geo.group);
        v += x[t * geo.k + kk]! * scales[n * geo.nGroups + gi]! * (q[n * geo.k + kk]! - zeros[n * geo.nGroups + gi]!);
      }
      y[t * geo.n + n] = v;
    }
  return y;
}

/**
 * int8 tables and accumulators straight from docs/lut-format.md §5-6, from the unpacked codes q:
 * entry j of chunk c = ((s0 x0 + s1 x1) + s2 x2) + s3 x3 (s_t = bit t of j ? +1 : -1), scaled by
 * 127 / absmax of its segment, rounded half-even; A[t,n,s] = sum over chunks of s and planes i of
 * 2^i * Tq[t, c, sum_u bit_i(q[n, 4c+u]) << u]. Also the segment scales and f32 activation sums.
 */
function int8Expectation(geo: LutGeometry, x: Float32Array, q: Uint8Array, m: number) {
  const xa = (t: number, kk: number) => (kk < geo.k ? x[t * geo.k + kk]! : 0);
  const cps = geo.segment / 4;
  const acc = new Int32Array(m * geo.n * geo.nSegments);
  const tsHalf = new Float64Array(m * geo.nSegments),
    xsum = new Float64Array(m * geo.nSegments);
  for (let t = 0; t < m; t++)
    for (let s = 0; s < geo.nSegments; s++) {
      const chunks = Array.from({ length: cps }, (_, i) => s * cps + i);
      const absmax = Math.max(
        0,
        ...chunks.map((c) =>
          fr(fr(fr(Math.abs(xa(t, 4 * c)) + Math.abs(xa(t, 4 * c + 1))) + Math.abs(xa(t, 4 * c + 2))) + Math.abs(xa(t, 4 * c + 3))),
        ),
      );
      const inv = absmax > 0 ? fr(127 / absmax) : 0;
      tsHalf[t * geo.nSegments + s] = fr(fr(absmax / 127) * 0.5);
      let xs = 0;
      for (let kk = s * geo.segment; kk < Math.min((s + 1) * geo.segment, geo.k); kk++) xs = fr(xs + xa(t, kk));
      xsum[t * geo.nSegments + s] = xs;
      const entry = (c: number, j: number) => {
        let v = 0;
        for (let u = 0; u < 4; u++)
          v = u === 0 ? ((j >> u) & 1 ? xa(t, 4 * c) : -xa(t, 4 * c)) : fr(v + ((j >> u) & 1 ? xa(t, 4 * c + u) : -xa(t, 4 * c + u)));
        return Math.max(-127, Math.min(127, roundHalfEven(fr(v * inv))));
      };
      for (let n = 0; n < geo.n; n++) {
        let a = 0;
        for (const c of chunks)
          for (let i = 0; i < geo.bits; i++) {
            let j = 0;
            for (let u = 0; u < 4; u++) if (4 * c + u < geo.k) j |= ((q[n * geo.k + 4 * c + u]! >> i) & 1) << u;
            a += entry(c, j) * 2 ** i;
          }
        acc[(t * geo.n + n) * geo.nSegments + s] = a;
      }
    }
  return { acc, tsHalf, xsum };
}

function lutProgram(
  m: number,
  n: number,
  k: number,
  bits: Bits,
  gs: number,
  tables: 'i8' | 'f32',
  layout: 'token' | 'vec',
  vec: 16 | 32 | 64,
  seed: number,
) {
  const r = rng(seed);
  const geo = lutGeometry({ n, k, bits, groupSize: gs, vecBytes: vec, kTileCP: 3 });
  const q = Uint8Array.from({ length: n * k }, () => Math.floor(r() * (1 << bits)));
  const scales = Float32Array.from({ length: n * geo.nGroups }, () => 0.01 + r() * 0.1);
  const zeros = Float32Array.from({ length: n * geo.nGroups }, () => Math.floor(r() * (1 << bits)));
  const g = newGraph('lut');
  const b = new GraphBuilder(g);
  const x = b.input('x', { dtype: 'f32', shape: [m, k] });
  const attrs = { n, k, bits, group_size: gs, vec_bytes: vec, k_tile: 3 };
  const pack = addNode(
    b,
    'lut.pack',
    [
      b.constant('q', makeTensor('u8', [n, k], q)),
      b.constant('s', makeTensor('f32', [n, geo.nGroups], scales)),
      b.constant('z', makeTensor('f32', [n, geo.nGroups], zeros)),
    ],
    attrs,
    'pack',
  );
  const tab = addNode(b, 'lut.table', [x], { k, group_size: gs, tables, layout }, 'table');
  const bias = b.constant('bias', randTensor(r, [n]));
  const mm = addNode(b, 'lut.matmul', [...tab.outputs, ...pack.outputs, bias], { ...attrs, tables, table_layout: layout }, 'mm');
  g.outputs = [mm.outputs[0]!];
  const xt = randTensor(r, [m, k]);
  return { g, geo, q, scales, zeros, x: xt, bias: bias.const!.data as Float32Array };
}

describe('lut ops', () => {
  const cases: [number, number, number, Bits, number, 'i8' | 'f32', 'token' | 'vec', 16 | 32 | 64][] = [
    [1, 13, 40, 2, 32, 'i8', 'token', 16],
    [3, 37, 203, 4, 64, 'i8', 'vec', 32],
    [2, 5, 77, 1, 1000, 'f32', 'token', 64],
    [9, 19, 260, 3, 128, 'f32', 'vec', 16],
    [4, 8, 16, 4, 8, 'i8', 'token', 16],
  ];
  for (const [m, n, k, bits, gs, tables, layout, vec] of cases) {
    it(`interprets as reference.ts: M=${m} N=${n} K=${k} bits=${bits} G=${gs} ${tables} ${layout} vec=${vec}`, () => {
      const p = lutProgram(m, n, k, bits, gs, tables, layout, vec, n * k);
      verifyGraph(p.g);
      const y = interpret(p.g, { x: p.x })[0]!;
      expect(y.shape).toEqual([m, n]);
      const exact = dequantMatmul(p, m);
      if (tables === 'i8') {
        const want = int8Expectation(p.geo, p.x.data as Float32Array, p.q, m);
        // the IR's table outputs (tscale, xsum) and integer accumulators (packed weights from lut.pack)
        const tabNode = p.g.nodes.find((nd) => nd.op === 'lut.table')!;
        const packNode = p.g.nodes.find((nd) => nd.op === 'lut.pack')!;
        const [tab, tscale, xsum, packed] = interpret({ ...p.g, outputs: [...tabNode.outputs, packNode.outputs[0]!] }, { x: p.x });
        expect(Array.from(tscale!.data)).toEqual(Array.from(want.tsHalf));
        expect(Array.from(xsum!.data)).toEqual(Array.from(want.xsum));
        const got = lutAccumulators([tab!, tscale!, xsum!, packed!], {
          n,
          k,
          bits,
          group_size: gs,
          vec_bytes: vec,
          k_tile: 3,
          tables,
          table_layout: layout,
        });
        expect(Array.from(got.acc)).toEqual(Array.from(want.acc));
        // y: the f64 epilogue of those integers, and near the f64 dequantized matmul
        const g = p.geo,
          yEpi = new Float64Array(m * n);
        for (let t = 0; t < m; t++)
          for (let r = 0; r < n; r++) {
            let v = p.bias[r]!;
            for (let s = 0; s < g.nSegments; s++) {
              const gi = Math.floor((s * g.segment) / g.group),
                sc = p.scales[r * g.nGroups + gi]!,
                z = p.zeros[r * g.nGroups + gi]!;
              v +=
                want.tsHalf[t * g.nSegments + s]! * want.acc[(t * n + r) * g.nSegments + s]! * sc +
                want.xsum[t * g.nSegments + s]! * sc * (((1 << bits) - 1) / 2 - z);
            }
            yEpi[t * n + r] = v;
          }
        expect(errors(y.data as Float32Array, yEpi).maxRel).toBeLessThan(1e-5);
        expect(errors(y.data as Float32Array, exact).relL2).toBeLessThan(2e-2);
      } else {
        expect(errors(y.data as Float32Array, exact).maxRel).toBeLessThan(1e-5);
      }
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
