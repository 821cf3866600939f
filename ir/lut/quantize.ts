/**
 * The weight quantizer: round-to-nearest b-bit quantization per group of G weights along K, used by
 * lower-linear for `--bits` and by `lutc quantize`, both through ir/lut/weights.ts `weightsFromFloat`
 * (one code path: exact ternary grids first, then this), so `lutc quantize` writes the same
 * q/scales/zeros into an ONNX model (compiler/quantize-onnx.ts) and onnxruntime runs exactly the
 * weights lutc uses. Imports only base/ and ir/.
 *
 *   asymmetric (default): lo = min(0, min w), hi = max(0, max w), s = (hi - lo) / (2^b - 1),
 *                         z = clamp(round(-lo / s), 0, 2^b - 1), q = clamp(round(w / s) + z, 0, 2^b - 1)
 *   symmetric:            z = 2^(b-1); m = the weight of largest magnitude (signed); s = m / -2^(b-1)
 *                         (so m maps to q = 0 exactly, as llama.cpp's Q4_0); q = clamp(round(w / s) + z)
 *   1 bit:                two levels, float zero point: asymmetric {min, max} (s = max - min, z = -min/s,
 *                         q = nearer level); symmetric sign quantization (s = 2 mean|w|, z = 0.5, q = w >= 0)
 *   1.58 (ternary):       s = mean |w| over the group (BitNet b1.58 absmean, per group, not per tensor),
 *                         q = clamp(round(w / s), -1, 1) + 1, z = 1; stored as 2 bits
 * All arithmetic is f32 (Math.fround) with round-half-even, so every consumer gets identical values.
 * W = s * (q - z) reproduces the weights lutc computes with.
 */
import { fail, type Location } from '../../base/diagnostics.js';
import { roundHalfEven } from '../tensor.js';
import type { Bits } from './geometry.js';

const fr = Math.fround;

/** Weight bit widths the quantizer produces (1.58 = ternary, stored as 2 bits); `--bits` takes these. */
export type QuantBits = 1 | 1.58 | 2 | 3 | 4;

/** How `quantizeMatrix` quantizes. */
export interface QuantizeOptions {
  bits: QuantBits;
  /** Group along K; >= K (or absent: 128) means ... see `effectiveGroup`. */
  groupSize?: number;
  symmetric?: boolean;
}

/** Quantized weights of one linear layer, rows = output channels. */
export interface QuantizedMatrix {
  n: number;
  k: number;
  /** Stored bits (1.58 is stored as 2). */
  bits: Bits;
  /** Group along K as used: a multiple of 8 below K, or K for one group per row. */
  groupSize: number;
  nGroups: number;
  /** [N, K] row-major, values in [0, 2^bits). */
  q: Uint8Array;
  /** [N, nGroups]. */
  scales: Float32Array;
  /** [N, nGroups]: integers in [0, 2^bits), except 1-bit (float zero points, see above). */
  zeros: Float32Array;
}

/** Default weight group when `--group-size` is not given. */
export const DEFAULT_GROUP_SIZE = 128;

/**
 * The group lutc uses for K and a requested group size: K itself when the request is >= K, else the
 * request, which must be a positive multiple of 8 (the packed layout's chunk pair; LUT4030 otherwise).
 */
export function effectiveGroup(k: number, groupSize: number | undefined, loc?: Location): number {
  const g = groupSize ?? DEFAULT_GROUP_SIZE;
  if (!Number.isInteger(g) || g < 1) fail('LUT4030', `group size must be a positive integer, got ${g}`, loc);
  if (g >= k) return k;
  if (g % 8 !== 0) fail('LUT4030', `group size ${g} must be a multiple of 8 (or at least K = ${k})`, loc);
  return g;
}

/**
 * Quantizes `w` ([N, K] row-major: row n holds the K weights of output channel n).
 * Throws LUT4031 for bad bits and LUT4030 for a bad group size.
 */
export function quantizeMatrix(w: Float32Array, n: number, k: number, opts: QuantizeOptions, loc?: Location): QuantizedMatrix {
  const G = effectiveGroup(k, opts.groupSize, loc);
  const nGroups = Math.ceil(k / G);
  const ternary = opts.bits === 1.58;
  const bits = (ternary ? 2 : opts.bits) as Bits;
  if (![1, 2, 3, 4].includes(bits)) fail('LUT4031', `--bits must be 1, 1.58, 2, 3 or 4, got ${opts.bits}`, loc);
  const qmax = (1 << bits) - 1;
  const q = new Uint8Array(n * k);
  const scales = new Float32Array(n * nGroups);
  const zeros = new Float32Array(n * nGroups);
  for (let r = 0; r < n; r++)
    for (let gi = 0; gi < nGroups; gi++) {
      const k0 = gi * G,
        k1 = Math.min(k, k0 + G);
      let s: number,
        z: number,
        lo = 0,
        hi = 0;
      if (ternary) {
        let sum = 0;
        for (let kk = k0; kk < k1; kk++) sum += Math.abs(w[r * k + kk]!);
        s = fr(sum / (k1 - k0));
        z = 1;
        lo = -1;
        hi = 1;
      } else if (bits === 1) {
        // 1 bit: an integer zero point would leave one level at 0 ({0, s} or {-s, 0}), which loses the
        // sign of every weight. A float zero of 0.5 or -lo/s keeps two useful levels.
        let mn = Infinity,
          mx = -Infinity,
          sum = 0;
        for (let kk = k0; kk < k1; kk++) {
          const v = w[r * k + kk]!;
          mn = Math.min(mn, v);
          mx = Math.max(mx, v);
          sum += Math.abs(v);
        }
        if (opts.symmetric) {
          // sign quantization: W = +-mean|w| (the L2-optimal scale), q = w >= 0
          s = fr(2 * fr(sum / (k1 - k0)));
          z = 0.5;
        } else {
          // levels exactly {min, max}: s = max - min, z = -min / s
          s = fr(mx - mn);
          z = s === 0 ? 0 : fr(-mn / s);
        }
        // a constant group c: s = 1, z = -c, q = 0 gives W = c exactly (c = 0 for symmetric)
        scales[r * nGroups + gi] = s === 0 ? 1 : s;
        zeros[r * nGroups + gi] = s === 0 ? (opts.symmetric ? 0 : -mn) : z;
        for (let kk = k0; kk < k1; kk++) {
          const v = w[r * k + kk]!;
          q[r * k + kk] = s === 0 ? 0 : opts.symmetric ? (v >= 0 ? 1 : 0) : v - mn > mx - v ? 1 : 0;
        }
        continue;
      } else if (opts.symmetric) {
        let m = 0;
        for (let kk = k0; kk < k1; kk++) if (Math.abs(w[r * k + kk]!) > Math.abs(m)) m = w[r * k + kk]!;
        z = 1 << (bits - 1);
        s = fr(m / -z);
        lo = -z;
        hi = qmax - z;
      } else {
        let mn = 0,
          mx = 0;
        for (let kk = k0; kk < k1; kk++) {
          mn = Math.min(mn, w[r * k + kk]!);
          mx = Math.max(mx, w[r * k + kk]!);
        }
        s = fr(fr(mx - mn) / qmax);
        z = s === 0 ? 0 : Math.min(qmax, Math.max(0, roundHalfEven(fr(-mn / s))));
        lo = -z;
        hi = qmax - z;
      }
      // An all-zero group: any scale reproduces it; 1 keeps s * (q - z) finite and exact.
      if (s === 0 || !Number.isFinite(s)) s = 1;
      scales[r * nGroups + gi] = s;
      zeros[r * nGroups + gi] = z;
      for (let kk = k0; kk < k1; kk++) {
        const v = roundHalfEven(fr(w[r * k + kk]! / s));
        q[r * k + kk] = Math.min(hi, Math.max(lo, v)) + z;
      }
    }
  return { n, k, bits, groupSize: G, nGroups, q, scales, zeros };
}

/** The dequantized weights s * (q - z) as f32, [N, K] (what lutc computes with). */
export function dequantizeMatrix(qm: QuantizedMatrix): Float32Array {
  const out = new Float32Array(qm.n * qm.k);
  for (let r = 0; r < qm.n; r++)
    for (let kk = 0; kk < qm.k; kk++) {
      const gi = Math.floor(kk / qm.groupSize);
      out[r * qm.k + kk] = fr(qm.scales[r * qm.nGroups + gi]! * (qm.q[r * qm.k + kk]! - qm.zeros[r * qm.nGroups + gi]!));
    }
  return out;
}

/**
 * Exact ternary detection: every group of every row holds only {-a, 0, +a} for its a = max |w|.
 * Returns the lossless 2-bit form (q = w/a + 1, z = 1, s = a), or undefined when some group is not.
 */
export function detectTernary(w: Float32Array, n: number, k: number, groupSize: number): QuantizedMatrix | undefined {
  const G = groupSize >= k ? k : groupSize;
  const nGroups = Math.ceil(k / G);
  const q = new Uint8Array(n * k);
  const scales = new Float32Array(n * nGroups);
  const zeros = new Float32Array(n * nGroups).fill(1);
  for (let r = 0; r < n; r++)
    for (let gi = 0; gi < nGroups; gi++) {
      const k0 = gi * G,
        k1 = Math.min(k, k0 + G);
      let a = 0;
      for (let kk = k0; kk < k1; kk++) a = Math.max(a, Math.abs(w[r * k + kk]!));
      if (!Number.isFinite(a)) return undefined;
      for (let kk = k0; kk < k1; kk++) {
        const v = w[r * k + kk]!;
        if (v === a) q[r * k + kk] = 2;
        else if (v === -a) q[r * k + kk] = 0;
        else if (v === 0) q[r * k + kk] = 1;
        else return undefined;
      }
      scales[r * nGroups + gi] = a === 0 ? 1 : a;
    }
  return { n, k, bits: 2, groupSize: G, nGroups, q, scales, zeros };
}
