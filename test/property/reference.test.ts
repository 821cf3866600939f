/**
 * Properties of the packed layout and of the LUT reference (ir/lut/geometry.ts, ir/lut/reference.ts),
 * with fast-check under the shared seed policy (test/helpers/property.ts):
 *  1. packWeights / packedIndex round trip for random N, K, bits, group, vecBytes 16/32/64, the
 *     row-dword variant and K-tiles: every (row, plane, chunk) index reads back q's bits (zero past K,
 *     for padded rows and for the 3-bit 4th plane), no two reads share a nibble, unread bytes are zero.
 *     (Row-dword layouts in a single K-tile whose chunk pairs are not a whole number of vectors are
 *     excluded: vectorOffset misplaces their row blocks; no backend builds them.)
 *  2. The reference with f32 tables equals a float64 dequantized matmul within the worst-case f32
 *     rounding bound, with int8 tables within that plus the int8 table bound (test/property/lut-cases.ts
 *     derives both), for every bits value incl. ternary, odd K/N and the benchmarked configurations.
 */
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { seededRandom } from '../../base/random.js';
import { type Bits, lutGeometry, packedIndex, packWeights, type VecBytes } from '../../ir/lut/geometry.js';
import { accumulateF32, accumulateI8, buildTablesF32, buildTablesI8, combine, packScales } from '../../ir/lut/reference.js';
import { assertProperty, timeoutFor } from '../helpers/property.js';
import {
  BENCH_SHAPES,
  dequantMatmul,
  expectNone,
  firstOverBound,
  type LayerShape,
  layerData,
  lutErrorBounds,
  runArb,
  shapeArb,
  shapeGeometry,
  type TokenRun,
} from './lut-cases.js';

interface PackCase {
  n: number;
  k: number;
  bits: Bits;
  gs: number;
  vecBytes: VecBytes;
  rowDwords: boolean;
  kTile: number;
  seed: number;
}

const packArb: fc.Arbitrary<PackCase> = fc
  .record({
    n: fc.integer({ min: 1, max: 40 }),
    k: fc.integer({ min: 1, max: 400 }),
    bits: fc.constantFrom<Bits>(1, 2, 3, 4),
    g: fc.constantFrom(0, 8, 16, 32, 40, 128),
    vecBytes: fc.constantFrom<VecBytes>(16, 32, 64),
    rowDwords: fc.boolean(),
    kt: fc.constantFrom(0, 1, 2, 3, 4, 8, 16),
    seed: fc.nat({ max: 0xffff }),
  })
  .map(({ n, k, bits, g, vecBytes, rowDwords, kt, seed }) => {
    // a K-tile must be a whole number of the layout's vectors (cpPerVec chunk pairs)
    const cpv = rowDwords ? 4 / (bits === 3 ? 4 : bits) : 1;
    return { n, k, bits, gs: g === 0 || g >= k ? k : g, vecBytes, rowDwords, kTile: kt * cpv, seed };
  });

function checkRoundTrip(c: PackCase): void {
  const g = lutGeometry({ n: c.n, k: c.k, bits: c.bits, groupSize: c.gs, vecBytes: c.vecBytes, rowDwords: c.rowDwords, kTileCP: c.kTile });
  const r = seededRandom(c.seed);
  const q = new Uint8Array(c.n * c.k).map(() => Math.floor(r() * (1 << c.bits)));
  // Includes row-dword layouts in one K-tile whose chunk pairs are not a whole number of vectors
  // (1-bit, or 2-bit with odd K/8): this property found vectorOffset misplacing their row blocks.
  const packed = packWeights(g, q);
  const errs: string[] = [];
  if (packed.length !== g.packedBytes) errs.push(`packed has ${packed.length} bytes, geometry says ${g.packedBytes}`);
  // packedIndex reads one byte per call: a proxy records which, without re-deriving the layout here.
  let at = -1;
  const spy = new Proxy(packed, {
    get: (t, key) => (typeof key === 'string' && /^\d+$/.test(key) ? ((at = Number(key)), t[at]) : Reflect.get(t, key)),
  });
  const reads = new Uint8Array(packed.length); // bit 0: low nibble read, bit 1: high nibble read
  for (let row = 0; row < g.nPad; row++)
    for (let plane = 0; plane < g.planes; plane++)
      for (let ch = 0; ch < g.nChunks; ch++) {
        let want = 0;
        if (row < c.n && plane < c.bits)
          for (let t = 0; t < 4; t++) if (4 * ch + t < c.k) want |= ((q[row * c.k + 4 * ch + t]! >> plane) & 1) << t;
        at = -1;
        const got = packedIndex(g, spy, row, plane, ch);
        const where = `(row ${row}, plane ${plane}, chunk ${ch})`;
        if (got !== want) errs.push(`packedIndex${where} = ${got}, want ${want}`);
        const bit = ch & 1 ? 2 : 1;
        if (at < 0 || at >= packed.length) errs.push(`packedIndex${where} read byte ${at} of ${packed.length}`);
        else if (reads[at]! & bit) errs.push(`packedIndex${where} reads nibble ${bit} of byte ${at} a second time`);
        else reads[at]! |= bit;
        if (errs.length >= 4) {
          expectNone(...errs);
          return;
        }
      }
  // every nibble no index reads is zero; without a half-empty last row-dword vector every nibble is read
  const full = !c.rowDwords || g.nChunkPairs % g.cpPerVec === 0;
  for (let i = 0; i < packed.length && errs.length < 4; i++) {
    const readMask = (reads[i]! & 1 ? 0x0f : 0) | (reads[i]! & 2 ? 0xf0 : 0);
    if (packed[i]! & ~readMask & 0xff) errs.push(`byte ${i} = ${packed[i]} has bits outside the nibbles packedIndex reads`);
    if (full && readMask !== 0xff) errs.push(`byte ${i}: nibbles ${readMask.toString(16)} read, want ff (the layout is a bijection)`);
  }
  expectNone(...errs);
}

const PACK_RUNS = 100;
const REF_RUNS = 50;

describe('property: packed layout and LUT reference', () => {
  it(
    'packWeights / packedIndex round trip (vecBytes 16/32/64, row-dword, K-tiles)',
    () => {
      assertProperty(packArb, checkRoundTrip, {
        runs: PACK_RUNS,
        examples: [
          { n: 17, k: 4096, bits: 2, gs: 128, vecBytes: 64, rowDwords: true, kTile: 16, seed: 1 },
          { n: 9, k: 4099, bits: 4, gs: 32, vecBytes: 32, rowDwords: false, kTile: 0, seed: 2 },
        ],
      });
    },
    timeoutFor(60_000, PACK_RUNS),
  );

  const refArb = fc.record({ shape: shapeArb(32, 1000), run: runArb(4) });
  it(
    'reference = float64 dequantized matmul within the f32 bound (f32 tables) and the int8 bound (int8 tables)',
    () => {
      const check = ({ shape, run }: { shape: LayerShape; run: TokenRun }) => {
        const g = shapeGeometry(shape);
        const d = layerData(shape, run);
        const want = dequantMatmul(shape, d);
        const packed = packWeights(g, d.q);
        const ps = packScales(g, d.scales, d.zeros);
        const bound = lutErrorBounds(g, d);
        const tf = buildTablesF32(g, d.x, d.m);
        const yf = combine(g, accumulateF32(g, packed, tf.tf, d.m), 0.5, tf.xsum, ps, d.m);
        const ti = buildTablesI8(g, d.x, d.m);
        const yi = combine(g, accumulateI8(g, packed, ti.tq, d.m), ti.tsHalf, ti.xsum, ps, d.m);
        const f = firstOverBound(yf, want, bound.f32);
        const i = firstOverBound(yi, want, bound.i8);
        expectNone(f && `f32 tables ${f}`, i && `int8 tables ${i}`);
      };
      assertProperty(refArb, check, {
        runs: REF_RUNS,
        // the benchmarked shapes at M = 1 and 3 (M = 32 of them runs in the kernel properties)
        examples: BENCH_SHAPES.flatMap((shape) => [
          { shape, run: { m: 1, pattern: 'uniform' as const, seed: 1 } },
          { shape, run: { m: 3, pattern: 'wide' as const, seed: 2 } },
        ]),
      });
    },
    timeoutFor(60_000, REF_RUNS),
  );
});
