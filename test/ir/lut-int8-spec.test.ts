/**
 * The int8 table build of ir/lut/reference.ts (buildTablesI8) against an independent float64
 * computation of docs/lut-format.md §5: per (token, segment) absmax = max over chunks of Σ|x_t|,
 * entry = clamp(roundHalfEven(T' · 127/absmax), ±127) with T' = Σ σ_t x_t, tsHalf = absmax/127/2,
 * xsum = Σ x. Every backend is held bit for bit to buildTablesI8 elsewhere, so a wrong int8 rule
 * written the same way into the reference and the kernels is seen only here (and, statistically,
 * through the rel-L2 gates of test/helpers/tolerance.ts). Entries compare exactly, except where the
 * float64 scaled value lies within TIE_EPS of a half-integer: there the f32 roundings of the spec
 * (T' summed in f32, inv = fround(127/absmax)) may legitimately pick the other neighbour; such entries
 * must be rare and round to one of the two. Small-integer inputs make ties exact in f32 and float64
 * alike, so round-half-to-even itself is checked exactly. This fails for truncation instead of
 * rounding, absmax/128 instead of /127, or a table scale 1.5% off.
 */
import { describe, expect, it } from 'vitest';
import { type LutGeometry, lutGeometry } from '../../ir/lut/geometry.js';
import { buildTablesI8 } from '../../ir/lut/reference.js';
import { rng } from '../lut/util.js';

/**
 * |v64 - v| for the scaled entry v = fround(T'_f32 · fround(127/absmax)) is at most ~6 f32 roundings
 * of |v| <= 127 (3 adds of T', relative to Σ|x| <= absmax; inv; the product): < 127 · 6 · 2^-24 = 4.5e-5.
 */
const TIE_EPS = 1e-4;

function roundHalfEven64(v: number): number {
  const f = Math.floor(v);
  const d = v - f;
  return d > 0.5 ? f + 1 : d < 0.5 ? f : f % 2 === 0 ? f : f + 1;
}

interface Spec {
  /** [M, nChunks, 16] the expected entry, or NaN where v64 is within TIE_EPS of a tie. */
  tq: Float64Array;
  /** [M, nChunks, 16] the two candidates at near-ties (floor and floor + 1 of v64). */
  lo: Float64Array;
  tsHalf: Float64Array;
  absmax: Float64Array;
  xsum: Float64Array;
  xabs: Float64Array;
}

/** Float64 int8 tables per docs/lut-format.md §5, written from the formulas (no code shared with the reference). */
function specTables(g: LutGeometry, x: Float32Array, m: number): Spec {
  const xv = (mi: number, kk: number) => (kk < g.k ? x[mi * g.k + kk]! : 0);
  const tq = new Float64Array(m * g.nChunks * 16),
    lo = new Float64Array(tq.length);
  const tsHalf = new Float64Array(m * g.nSegments),
    absmax = new Float64Array(tsHalf.length);
  const xsum = new Float64Array(tsHalf.length),
    xabs = new Float64Array(tsHalf.length);
  const cps = g.segment / 4;
  for (let mi = 0; mi < m; mi++)
    for (let s = 0; s < g.nSegments; s++) {
      let am = 0,
        sum = 0,
        sabs = 0;
      for (let kk = s * g.segment; kk < (s + 1) * g.segment; kk++) {
        sum += xv(mi, kk);
        sabs += Math.abs(xv(mi, kk));
      }
      for (let c = s * cps; c < (s + 1) * cps; c++) {
        let a = 0;
        for (let t = 0; t < 4; t++) a += Math.abs(xv(mi, 4 * c + t));
        am = Math.max(am, a);
      }
      const si = mi * g.nSegments + s;
      absmax[si] = am;
      tsHalf[si] = am / 127 / 2;
      xsum[si] = sum;
      xabs[si] = sabs;
      for (let c = s * cps; c < (s + 1) * cps; c++)
        for (let j = 0; j < 16; j++) {
          let tp = 0;
          for (let t = 0; t < 4; t++) tp += ((j >> t) & 1 ? 1 : -1) * xv(mi, 4 * c + t);
          const v = am > 0 ? (tp * 127) / am : 0;
          const at = (mi * g.nChunks + c) * 16 + j;
          const nearTie = Math.abs(v - Math.floor(v) - 0.5) < TIE_EPS;
          tq[at] = nearTie ? NaN : Math.max(-127, Math.min(127, roundHalfEven64(v)));
          lo[at] = Math.floor(v);
        }
    }
  return { tq, lo, tsHalf, absmax, xsum, xabs };
}

/** Compares buildTablesI8 with the spec; returns how many entries were near-ties. */
function expectSpec(g: LutGeometry, x: Float32Array, m: number, what: string): number {
  const got = buildTablesI8(g, x, m);
  const want = specTables(g, x, m);
  expect(got.tq.length).toBe(want.tq.length);
  let ties = 0;
  for (let i = 0; i < want.tq.length; i++) {
    const w = want.tq[i]!;
    if (Number.isNaN(w)) {
      ties++;
      const lo = want.lo[i]!;
      if (got.tq[i] !== lo && got.tq[i] !== lo + 1) expect(got.tq[i], `${what}: near-tie entry ${i} must be ${lo} or ${lo + 1}`).toBe(lo);
    } else if (got.tq[i] !== w)
      expect(
        got.tq[i],
        `${what}: entry ${i} (token ${Math.floor(i / (16 * g.nChunks))}, chunk ${Math.floor(i / 16) % g.nChunks}, j ${i % 16})`,
      ).toBe(w);
  }
  for (let s = 0; s < want.tsHalf.length; s++) {
    // tsHalf = fround(fround(absmax_f32 / 127) * 0.5): absmax in f32 is 3 additions off the float64
    // sum (relative 3 * 2^-24), the division one more rounding; 8 * 2^-24 relative covers both.
    expect(
      Math.abs(got.tsHalf[s]! - want.tsHalf[s]!),
      `${what}: tsHalf[${s}] = ${got.tsHalf[s]} vs absmax/254 = ${want.tsHalf[s]}`,
    ).toBeLessThanOrEqual(8 * 2 ** -24 * want.tsHalf[s]!);
    // xsum: a sequential f32 sum, off the float64 sum by at most segment * 2^-24 * Σ|x|.
    expect(Math.abs(got.xsum[s]! - want.xsum[s]!), `${what}: xsum[${s}]`).toBeLessThanOrEqual(g.segment * 2 ** -24 * want.xabs[s]!);
  }
  return ties;
}

/** Activations of a few distributions: uniform, Gaussian-like, with rare large outliers, and all-zero rows. */
function activations(kind: 'uniform' | 'gauss' | 'outliers' | 'zero-row', m: number, k: number, seed: number): Float32Array {
  const r = rng(seed);
  const gauss = () => (r() + r() + r() + r() - 2) * 1.7;
  return Float32Array.from({ length: m * k }, (_, i) => {
    if (kind === 'uniform') return (r() * 2 - 1) * 3.5;
    if (kind === 'gauss') return gauss();
    if (kind === 'outliers') return r() < 0.01 ? gauss() * 40 : gauss();
    return Math.floor(i / k) === 1 ? 0 : gauss() * 0.01;
  });
}

describe('int8 tables: buildTablesI8 equals the float64 spec (round half to even, /127, clamp ±127)', () => {
  const cases: [number, number, number, number, 'uniform' | 'gauss' | 'outliers' | 'zero-row'][] = [
    // [M, K, bits, group size, inputs]: segments of one group (G <= 128), of 128 in larger groups,
    // of a whole group not divisible by 128 (G = 200), one group per row with K padded to 8.
    [3, 256, 2, 32, 'uniform'],
    [2, 512, 4, 256, 'gauss'],
    [4, 203, 3, 1000, 'outliers'],
    [1, 600, 1, 200, 'gauss'],
    [3, 77, 2, 64, 'zero-row'],
    [5, 1024, 4, 128, 'outliers'],
  ];
  for (const [m, k, bits, gs, kind] of cases) {
    it(`M=${m} K=${k} G=${gs} ${kind}`, () => {
      const g = lutGeometry({ n: 8, k, bits: bits as 1 | 2 | 3 | 4, groupSize: gs, vecBytes: 16 });
      const x = activations(kind, m, k, k * 7 + m);
      const ties = expectSpec(g, x, m, `M=${m} K=${k} G=${gs} ${kind}`);
      // near-ties are an f32-vs-float64 artefact of measure ~2·TIE_EPS per entry (in ± pairs, as
      // T'[15-j] = -T'[j]): a handful at most, so the exemption cannot hide a wrong rounding rule
      expect(ties).toBeLessThanOrEqual(Math.max(8, 1e-3 * m * g.nChunks * 16));
    });
  }

  it('exact ties round half to even (small-integer activations: every step exact in f32 and float64)', () => {
    // absmax = 254 (chunk [127, 127, 0, 0]) makes inv = 127/254 = 0.5 exactly, so T' = ±1, ±3, ±5, ...
    // scale to ±0.5, ±1.5, ±2.5: half to even gives 0, ±2, ±2 (truncation 0, ±1, ±2; half up 1, 2, 3).
    const k = 32;
    const row = [127, 127, 0, 0, 1, 2, 0, 0, 2, 3, 0, 0, 1, 4, 0, 0, 3, 4, 0, 0, 5, 0, 0, 0, 7, 0, 0, 0, 1, 1, 1, 0];
    const x = Float32Array.from(row);
    const g = lutGeometry({ n: 8, k, bits: 2, groupSize: 32, vecBytes: 16 });
    expect(g.segment).toBe(32);
    const got = buildTablesI8(g, x, 1);
    const want = specTables(g, x, 1);
    expect(expectSpec(g, x, 1, 'exact ties')).toBeGreaterThan(0); // there are ties (checked exactly next)
    for (let c = 0; c < g.nChunks; c++)
      for (let j = 0; j < 16; j++) {
        let tp = 0;
        for (let t = 0; t < 4; t++) tp += ((j >> t) & 1 ? 1 : -1) * row[4 * c + t]!;
        const v = tp * 0.5; // exact
        expect(got.tq[c * 16 + j], `chunk ${c} j ${j}: T' ${tp}`).toBe(roundHalfEven64(v));
      }
    // chunk 1 = [1, 2, 0, 0]: j = 0 gives T' = -3 -> -1.5 -> -2; j = 1: T' = -1 -> -0.5 -> -0 (even)
    expect([got.tq[16], got.tq[17], got.tq[18], got.tq[19]]).toEqual([-2, 0, 0, 2]);
    expect(got.tsHalf[0]).toBe(Math.fround(Math.fround(254 / 127) * 0.5));
    expect(want.tsHalf[0]).toBe(1);
  });

  it('absmax is reached: the largest entry of every non-zero segment is ±127, and tsHalf of a zero segment is 0', () => {
    const m = 3,
      k = 77;
    const g = lutGeometry({ n: 8, k, bits: 2, groupSize: 64, vecBytes: 16 });
    const x = activations('zero-row', m, k, 5);
    const got = buildTablesI8(g, x, m);
    const cps = g.segment / 4;
    for (let mi = 0; mi < m; mi++)
      for (let s = 0; s < g.nSegments; s++) {
        let mx = 0;
        for (let i = (mi * g.nChunks + s * cps) * 16; i < (mi * g.nChunks + Math.min((s + 1) * cps, g.nChunks)) * 16; i++)
          mx = Math.max(mx, Math.abs(got.tq[i]!));
        expect(mx, `token ${mi} segment ${s}`).toBe(mi === 1 ? 0 : 127);
        if (mi === 1) expect(got.tsHalf[mi * g.nSegments + s]).toBe(0);
      }
  });
});
