/**
 * Shared pieces of the LUT property tests (test/property/*.test.ts): fast-check arbitraries for layer
 * shapes (N, K, bits 1/1.58/2/3/4, group) and token runs (M, data pattern, data seed), seeded layer
 * data in the layouts every kernel test uses (q [N*K], scales/zeros [N*nGroups], bias [N], x [M*K]),
 * the benchmarked configurations, per-output error bounds of the LUT method against a float64
 * dequantized matmul, and the bounds of the float sums a kernel may order differently (xsum, f32-table
 * accumulators). The data of a case is drawn from its integer seed (base/random.ts), so fast-check
 * shrinks shapes and seeds, never arrays of thousands of numbers.
 *
 * Bounds (u = 2^-24, gamma(d) = d·u / (1 - d·u); y64 = Σ_k x_k · s·(q - z) in float64):
 *   S[m,n] = Σ_s |s_g| · F_g · Σ_{k∈s} |x_k|, F_g = (2^b - 1)/2 + |(2^b - 1)/2 - z_g| (= max |q - z|),
 *     bounds the sum of |every rounded leaf| of the LUT formulation (tables: |T'| ≤ Σ|x_t| per chunk
 *     and Σ_i 2^i = 2^b - 1, times tsHalf = 1/2; xsum: |swz| = |s|·|(2^b - 1)/2 - z|) and also Σ_k |x_k·W_k|,
 *     so f32 rounding costs at most gamma(depth) · S, depth = the longest chain of roundings (3 per table
 *     entry + the segment's lookups + the xsum adds + 4 products + nSegments + bias).
 *   int8 tables add, per lookup, |Tq·tsHalf - T'/2| ≤ Δ/4 (Δ = absmax/127, docs/lut-format.md §9):
 *     Σ_s |s_g| · (2^b - 1) · (segment/4) · absmax_s/508, times 1 + 1e-4 for the f32 rounding of inv and Δ.
 * Both are worst-case bounds (not rel-L2 estimates), so no random case can exceed them by luck; a bug in
 * planes, segments, scales or zero points gives errors of the order of |y| itself.
 */
import fc from 'fast-check';
import { seededRandom } from '../../base/random.js';
import { type Bits, type LutGeometry, lutGeometry } from '../../ir/lut/geometry.js';

/** Weight bits as the compiler takes them: 1.58 is ternary (stored as 2 bits, q ∈ {0,1,2}, z = 1). */
export type BitsChoice = 1 | 1.58 | 2 | 3 | 4;
/** Activation/weight patterns: see `layerData`. */
export type Pattern = 'uniform' | 'extreme' | 'grid' | 'sparse' | 'wide';

export interface LayerShape {
  n: number;
  k: number;
  bits: BitsChoice;
  /** Group size passed to the kernel (a multiple of 8, or >= K for one group per row). */
  gs: number;
}

export interface TokenRun {
  m: number;
  pattern: Pattern;
  seed: number;
}

export interface LayerData {
  m: number;
  q: Uint8Array;
  scales: Float32Array;
  zeros: Float32Array;
  bias: Float32Array;
  x: Float32Array;
}

export const storedBits = (b: BitsChoice): Bits => (b === 1.58 ? 2 : b);

/** Group choices: odd chunk-pair segments (8, 24, 40), the benchmarked 32 and 128, > 128 (256 -> 128-activation segments), one group. */
const GROUPS = [32, 128, 8, 16, 24, 40, 64, 256, 0] as const; // 0 = one group per row (gs = K)

/** Layer shapes: N in 1..maxN, K in 1..maxK (odd values included, shrinking towards 1), every bits value. */
export function shapeArb(maxN: number, maxK: number): fc.Arbitrary<LayerShape> {
  return fc
    .record({
      n: fc.integer({ min: 1, max: maxN }),
      k: fc.integer({ min: 1, max: maxK }),
      bits: fc.constantFrom<BitsChoice>(1, 2, 3, 4, 1.58),
      g: fc.constantFrom(...GROUPS),
    })
    .map(({ n, k, bits, g }) => ({ n, k, bits, gs: g === 0 || g >= k ? k : g }));
}

const PATTERNS: Pattern[] = ['uniform', 'extreme', 'grid', 'sparse', 'wide'];

/** One batch of tokens: M in 1..maxM (1, 16 and 32 drawn often), a pattern and a data seed. */
export function runArb(maxM: number): fc.Arbitrary<TokenRun> {
  const ms = [1, 16, 32].filter((v) => v <= maxM);
  return fc.record({
    m: fc.oneof(fc.integer({ min: 1, max: maxM }), fc.constantFrom(...ms)),
    pattern: fc.constantFrom(...PATTERNS),
    seed: fc.nat({ max: 0xffff }),
  });
}

/**
 * The benchmarked configurations (bits 2 and 4, group 32 and 128, M = 1 and 32 at K = 4096) with N
 * scaled down to 24 rows so the JS reference stays fast; 24 is not a multiple of every ISA's rows per vector.
 */
export const BENCH_SHAPES: LayerShape[] = [2, 4].flatMap((bits) =>
  [32, 128].map((gs) => ({ n: 24, k: 4096, bits: bits as BitsChoice, gs })),
);
export const BENCH_RUNS: TokenRun[] = [
  { m: 1, pattern: 'uniform', seed: 1 },
  { m: 32, pattern: 'uniform', seed: 2 },
];

/** The geometry lutGeometry gives a shape (scales/zeros are laid out by its nGroups). */
export function shapeGeometry(s: LayerShape, vecBytes: 16 | 32 | 64 = 16): LutGeometry {
  return lutGeometry({ n: s.n, k: s.k, bits: storedBits(s.bits), groupSize: s.gs, vecBytes });
}

/**
 * Seeded layer data. Weights: q uniform in [0, 2^b) (ternary: {0, 1, 2}, z = 1), scales 0.01-0.11,
 * zero points integers in [0, 2^b) (1-bit: a float in [0, 1], as the asymmetric quantizer makes).
 * Activations by pattern: uniform [-1, 1); extreme: ±1 with q = 2^b - 1 (every lookup at ±127);
 * grid: {-1, -1/2, 0, 1/2, 1} (ties in the table rounding); sparse: mostly zero, some whole segments
 * zero (absmax = 0); wide: uniform times 2^e, e in [-12, 12] (large dynamic range in a segment).
 */
export function layerData(s: LayerShape, run: TokenRun): LayerData {
  const r = seededRandom(run.seed * 7919 + s.n * 31 + s.k);
  const g = shapeGeometry(s);
  const b = storedBits(s.bits),
    levels = s.bits === 1.58 ? 3 : 1 << b;
  const { m, pattern } = run;
  const q = new Uint8Array(s.n * s.k).map(() => (pattern === 'extreme' ? levels - 1 : Math.floor(r() * levels)));
  const scales = new Float32Array(s.n * g.nGroups).map(() => 0.01 + r() * 0.1);
  const zeros = new Float32Array(s.n * g.nGroups).map(() => (s.bits === 1.58 ? 1 : b === 1 ? r() : Math.floor(r() * levels)));
  const bias = new Float32Array(s.n).map(() => r() - 0.5);
  const x = new Float32Array(m * s.k);
  const zeroSeg = Array.from({ length: m * g.nSegments }, () => r() < 0.3);
  for (let t = 0; t < m; t++)
    for (let kk = 0; kk < s.k; kk++) {
      const u = r() * 2 - 1;
      let v: number;
      switch (pattern) {
        case 'uniform':
          v = u;
          break;
        case 'extreme':
          v = u < 0 ? -1 : 1;
          break;
        case 'grid':
          v = Math.round(u * 2) / 2;
          break;
        case 'sparse':
          v = zeroSeg[t * g.nSegments + Math.floor(kk / g.segment)] || r() < 0.7 ? 0 : u;
          break;
        case 'wide':
          v = u * 2 ** Math.floor(r() * 25 - 12);
          break;
      }
      x[t * s.k + kk] = v;
    }
  return { m, q, scales, zeros, bias, x };
}

/** float64 X · dequant(W)ᵀ, [M, N], from the f32 data exactly as given. */
export function dequantMatmul(s: LayerShape, d: LayerData): Float64Array {
  const g = shapeGeometry(s);
  const out = new Float64Array(d.m * s.n);
  for (let t = 0; t < d.m; t++)
    for (let n = 0; n < s.n; n++) {
      let acc = 0;
      for (let kk = 0; kk < s.k; kk++) {
        const gi = Math.floor(kk / g.group);
        acc += d.x[t * s.k + kk]! * d.scales[n * g.nGroups + gi]! * (d.q[n * s.k + kk]! - d.zeros[n * g.nGroups + gi]!);
      }
      out[t * s.n + n] = acc;
    }
  return out;
}

const U = 2 ** -24;
/** Higham's gamma(d): the relative error bound of d chained f32 roundings. */
export const gamma = (d: number) => (d * U) / (1 - d * U);

/** Σ|x| per (token, segment), [M, nSegments]. */
export function segmentAbsSums(g: LutGeometry, d: LayerData): Float64Array {
  const out = new Float64Array(d.m * g.nSegments);
  for (let t = 0; t < d.m; t++)
    for (let kk = 0; kk < g.k; kk++) out[t * g.nSegments + Math.floor(kk / g.segment)]! += Math.abs(d.x[t * g.k + kk]!);
  return out;
}

/**
 * Kernel-vs-reference bounds of the two float sums a kernel may order differently: xsum [M, nSegments]
 * (any order of `segment` adds: gamma(segment)·Σ|x|) and f32-table accumulators [M, N, nSegments]
 * (another order of the segment's lookups: 2·gamma(lookups)·(2^b - 1)·Σ|x|, as |T'| ≤ Σ|x_t|).
 */
export function kernelFloatBounds(g: LutGeometry, d: LayerData): { xsum: Float64Array; accF32: Float64Array } {
  const abs = segmentAbsSums(g, d);
  const maxQ = (1 << g.bits) - 1,
    lookups = (g.segment / 4) * g.bits;
  const accF32 = new Float64Array(d.m * g.n * g.nSegments);
  for (let t = 0; t < d.m; t++)
    for (let n = 0; n < g.n; n++)
      for (let s = 0; s < g.nSegments; s++) accF32[(t * g.n + n) * g.nSegments + s] = 2 * gamma(lookups) * maxQ * abs[t * g.nSegments + s]!;
  return { xsum: abs.map((v) => gamma(g.segment) * v), accF32 };
}

/**
 * Worst-case |y - y64| per output [M, N] of the LUT method with f32 tables (`f32`) and int8 tables
 * (`i8`), with or without a bias add, and S (which also bounds Σ_k |x_k·W_k|); derivation in the header.
 */
export function lutErrorBounds(g: LutGeometry, d: LayerData): { f32: Float64Array; i8: Float64Array; S: Float64Array } {
  const { m, x, scales, zeros } = d;
  const b = g.bits,
    maxQ = (1 << b) - 1,
    cps = g.segment / 4;
  const depth = 3 + cps * b + g.segment + 4 + g.nSegments + 1;
  const f32 = new Float64Array(m * g.n),
    i8 = new Float64Array(m * g.n),
    sums = new Float64Array(m * g.n);
  const segPerGroup = g.group / g.segment;
  for (let t = 0; t < m; t++) {
    const absSum = new Float64Array(g.nSegments),
      absmax = new Float64Array(g.nSegments);
    for (let s = 0; s < g.nSegments; s++) {
      for (let c = s * cps; c < (s + 1) * cps; c++) {
        let cs = 0;
        for (let j = 0; j < 4; j++) {
          const kk = 4 * c + j;
          if (kk < g.k) cs += Math.abs(x[t * g.k + kk]!);
        }
        absSum[s]! += cs;
        absmax[s] = Math.max(absmax[s]!, cs);
      }
    }
    for (let n = 0; n < g.n; n++) {
      let S = 0,
        Q = 0;
      for (let s = 0; s < g.nSegments; s++) {
        const gi = n * g.nGroups + Math.floor(s / segPerGroup);
        const sc = Math.abs(scales[gi]!);
        S += sc * (maxQ / 2 + Math.abs(maxQ / 2 - zeros[gi]!)) * absSum[s]!;
        Q += sc * maxQ * cps * (absmax[s]! / 508);
      }
      sums[t * g.n + n] = S;
      f32[t * g.n + n] = gamma(depth) * S;
      i8[t * g.n + n] = Q * (1 + 1e-4) + gamma(depth) * S * (1 + 1 / 127);
    }
  }
  return { f32, i8, S: sums };
}

/** The first output where |got - want| > bound (with the values), or undefined. */
export function firstOverBound(
  got: ArrayLike<number>,
  want: ArrayLike<number>,
  bound: ArrayLike<number>,
  slack: (i: number) => number = () => 0,
): string | undefined {
  for (let i = 0; i < want.length; i++) {
    const e = Math.abs(got[i]! - want[i]!);
    if (!(e <= bound[i]! + slack(i)))
      return `[${i}] got ${got[i]} want ${want[i]} |err| ${e.toExponential(3)} > bound ${(bound[i]! + slack(i)).toExponential(3)}`;
  }
  return undefined;
}

/** Index of the first element that differs (=== , so +0 and -0 are equal), with both values; undefined when equal. */
export function firstMismatch(what: string, got: ArrayLike<number>, want: ArrayLike<number>): string | undefined {
  if (got.length !== want.length) return `${what}: length ${got.length}, want ${want.length}`;
  for (let i = 0; i < want.length; i++) if (got[i] !== want[i]) return `${what}[${i}] = ${got[i]}, want ${want[i]}`;
  return undefined;
}

/** Throws with every mismatch message (filtering undefined): the predicate's failure for fast-check. */
export function expectNone(...msgs: (string | undefined)[]): void {
  const bad = msgs.filter((s): s is string => s !== undefined);
  if (bad.length) throw new Error(bad.join('\n'));
}
