/**
 * The LUT-mpGEMM method of docs/lut-format.md in plain TypeScript: table build (symmetrized, int8 or f32),
 * integer lookup-accumulate, and the float epilogue. This is the bit-exact oracle: every backend's
 * int8 tables and integer accumulators must equal these, operation for operation. Every float step
 * that feeds an integer is written with Math.fround in a fixed order, and kernels follow that order.
 *
 *   T'[m,c,j] = ((s0 x0 + s1 x1) + s2 x2) + s3 x3,   s_t = bit_t(j) ? +1 : -1,  x_t = X[m, 4c+t]
 *   absmax[m,s] = max over chunks c of segment s of ((|x0| + |x1|) + |x2|) + |x3|   (= max_j |T'|)
 *   inv = fround(127 / absmax) (0 when absmax = 0),  Tq = roundHalfEven(fround(T' * inv))
 *   tsHalf[m,s] = fround(fround(absmax / 127) * 0.5)
 *   A[m,n,s] = sum over chunks c in s, planes i of 2^i * Tq[m, c, idx_i(n, c)]        (int32, exact)
 *   y[m,n] = sum_s ( tsHalf[m,s] * A[m,n,s] * sw[g(s),n] + xsum[m,s] * swz[g(s),n] ) + bias[n]
 *   sw = scale,  swz = scale * ((2^b - 1)/2 - zero)
 */
import { roundHalfEven } from '../tensor.js';
import { type LutGeometry, packedIndex } from './geometry.js';

const fr = Math.fround;

export interface I8Tables {
  /** [M, nChunks, 16] int8 entries. */
  tq: Int8Array;
  /** [M, nSegments] half the table scale. */
  tsHalf: Float32Array;
  /** [M, nSegments] sum of the activations of each segment. */
  xsum: Float32Array;
}

export interface F32Tables {
  /** [M, nChunks, 16] float entries T' (exact symmetrized sums). */
  tf: Float32Array;
  xsum: Float32Array;
}

/** Activation x_t of chunk c for token m (zero past K). */
function act(x: Float32Array, k: number, m: number, kk: number): number {
  return kk < k ? x[m * k + kk]! : 0;
}

/** Symmetrized table entries of one chunk, in the fixed summation order. */
function chunkTable(x0: number, x1: number, x2: number, x3: number, out: Float32Array, at: number): void {
  for (let j = 0; j < 16; j++) {
    let v = j & 1 ? x0 : -x0;
    v = fr(v + (j & 2 ? x1 : -x1));
    v = fr(v + (j & 4 ? x2 : -x2));
    v = fr(v + (j & 8 ? x3 : -x3));
    out[at + j] = v;
  }
}

/** Segment sums of activations, sequential in k (the float part; backends may sum in another order). */
function segmentSums(g: LutGeometry, x: Float32Array, m: number): Float32Array {
  const xsum = new Float32Array(m * g.nSegments);
  for (let mi = 0; mi < m; mi++)
    for (let s = 0; s < g.nSegments; s++) {
      let acc = 0;
      for (let kk = s * g.segment; kk < Math.min((s + 1) * g.segment, g.k); kk++) acc = fr(acc + x[mi * g.k + kk]!);
      xsum[mi * g.nSegments + s] = acc;
    }
  return xsum;
}

/** Float tables (`--tables f32`). `x` is [M, K] row-major. */
export function buildTablesF32(g: LutGeometry, x: Float32Array, m: number): F32Tables {
  const tf = new Float32Array(m * g.nChunks * 16);
  for (let mi = 0; mi < m; mi++)
    for (let c = 0; c < g.nChunks; c++) {
      const a = (t: number) => fr(act(x, g.k, mi, 4 * c + t));
      chunkTable(a(0), a(1), a(2), a(3), tf, (mi * g.nChunks + c) * 16);
    }
  return { tf, xsum: segmentSums(g, x, m) };
}

/** Int8 tables (`--tables i8`), one scale per (token, segment). */
export function buildTablesI8(g: LutGeometry, x: Float32Array, m: number): I8Tables {
  const { tf, xsum } = buildTablesF32(g, x, m);
  const tq = new Int8Array(tf.length);
  const tsHalf = new Float32Array(m * g.nSegments);
  const cps = g.segment / 4; // chunks per segment
  for (let mi = 0; mi < m; mi++)
    for (let s = 0; s < g.nSegments; s++) {
      let absmax = 0;
      for (let c = s * cps; c < (s + 1) * cps; c++) {
        const a = (t: number) => Math.abs(fr(act(x, g.k, mi, 4 * c + t)));
        const v = fr(fr(fr(a(0) + a(1)) + a(2)) + a(3));
        if (v > absmax) absmax = v;
      }
      const inv = absmax > 0 ? fr(127 / absmax) : 0;
      tsHalf[mi * g.nSegments + s] = fr(fr(absmax / 127) * 0.5);
      for (let c = s * cps; c < (s + 1) * cps; c++) {
        const at = (mi * g.nChunks + c) * 16;
        for (let j = 0; j < 16; j++) {
          const q = roundHalfEven(fr(tf[at + j]! * inv));
          tq[at + j] = q > 127 ? 127 : q < -127 ? -127 : q;
        }
      }
    }
  return { tq, tsHalf, xsum };
}

/**
 * Integer accumulators A[m, n, s] (layout [M][N][nSegments], n < N only) from int8 tables and
 * packed weights. Exact: sums are kept in JS numbers, far inside 2^53.
 */
export function accumulateI8(g: LutGeometry, packed: Uint8Array, tq: Int8Array, m: number): Int32Array {
  const out = new Int32Array(m * g.n * g.nSegments);
  const cps = g.segment / 4;
  for (let mi = 0; mi < m; mi++)
    for (let n = 0; n < g.n; n++)
      for (let s = 0; s < g.nSegments; s++) {
        let acc = 0;
        for (let c = s * cps; c < (s + 1) * cps; c++) {
          const tb = (mi * g.nChunks + c) * 16;
          for (let i = 0; i < g.bits; i++) acc += tq[tb + packedIndex(g, packed, n, i, c)]! * (1 << i);
        }
        out[(mi * g.n + n) * g.nSegments + s] = acc;
      }
  return out;
}

/** Float accumulators for f32 tables, same layout as `accumulateI8` (summation order: chunks, then planes). */
export function accumulateF32(g: LutGeometry, packed: Uint8Array, tf: Float32Array, m: number): Float32Array {
  const out = new Float32Array(m * g.n * g.nSegments);
  const cps = g.segment / 4;
  for (let mi = 0; mi < m; mi++)
    for (let n = 0; n < g.n; n++)
      for (let s = 0; s < g.nSegments; s++) {
        let acc = 0;
        for (let c = s * cps; c < (s + 1) * cps; c++) {
          const tb = (mi * g.nChunks + c) * 16;
          for (let i = 0; i < g.bits; i++) acc = fr(acc + tf[tb + packedIndex(g, packed, n, i, c)]! * (1 << i));
        }
        out[(mi * g.n + n) * g.nSegments + s] = acc;
      }
  return out;
}

export interface PackedScales {
  /** [nGroups, nPad] scale per group and row (group-major so a vector of rows is contiguous). */
  sw: Float32Array;
  /** [nGroups, nPad] scale * ((2^b - 1)/2 - zero). */
  swz: Float32Array;
}

/**
 * Packs scales and zero points given as [N, nGroups] (zero points as floats, e.g. 2^(b-1) for
 * symmetric formats). Padded rows get zero.
 */
export function packScales(g: LutGeometry, scales: Float32Array, zeros: Float32Array): PackedScales {
  const sw = new Float32Array(g.nGroups * g.nPad);
  const swz = new Float32Array(g.nGroups * g.nPad);
  const mid = ((1 << g.bits) - 1) / 2;
  for (let n = 0; n < g.n; n++)
    for (let gi = 0; gi < g.nGroups; gi++) {
      const s = fr(scales[n * g.nGroups + gi]!);
      sw[gi * g.nPad + n] = s;
      swz[gi * g.nPad + n] = fr(s * fr(mid - zeros[n * g.nGroups + gi]!));
    }
  return { sw, swz };
}

/**
 * The float epilogue: y[m, n] from accumulators (int or float), per-segment table scales (1 for
 * float tables: pass `tsHalf` = 0.5) and packed scales. `bias` is optional [N].
 */
export function combine(
  g: LutGeometry,
  acc: Int32Array | Float32Array,
  tsHalf: Float32Array | number,
  xsum: Float32Array,
  ps: PackedScales,
  m: number,
  bias?: Float32Array,
): Float32Array {
  const y = new Float32Array(m * g.n);
  const segPerGroup = g.group / g.segment;
  for (let mi = 0; mi < m; mi++)
    for (let n = 0; n < g.n; n++) {
      let v = 0;
      for (let s = 0; s < g.nSegments; s++) {
        const gi = Math.floor(s / segPerGroup);
        const th = typeof tsHalf === 'number' ? tsHalf : tsHalf[mi * g.nSegments + s]!;
        const a = acc[(mi * g.n + n) * g.nSegments + s]!;
        v = fr(v + fr(fr(fr(th * a) * ps.sw[gi * g.nPad + n]!) + fr(xsum[mi * g.nSegments + s]! * ps.swz[gi * g.nPad + n]!)));
      }
      y[mi * g.n + n] = bias ? fr(v + bias[n]!) : v;
    }
  return y;
}
