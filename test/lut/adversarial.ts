/**
 * Adversarial inputs for accumulator overflow (shared with the backend tests): every chunk's
 * activations are (±a, 0, 0, 0), so every symmetrized table entry is ±a and every int8 entry is ±127,
 * the largest magnitude a lookup can return. With all-ones weights (q = 2^b - 1) every lookup adds
 * +127 · (2^b - 1) per chunk, far past int16 for long segments; `expectedAcc` is the exact sum.
 */
import { type Bits, type LutGeometry, lutGeometry } from '../../ir/lut/geometry.js';
import { rng } from './util.js';

export interface AdversarialCase {
  g: LutGeometry;
  m: number;
  /** [M, K] activations. */
  x: Float32Array;
  /** [N, K] quantized weights. */
  q: Uint8Array;
  /** Exact A[m, n, s] (layout of reference.ts accumulateI8), computed in doubles (exact far below 2^53). */
  expectedAcc: Float64Array;
}

/**
 * `signs`: 'plus' (every lookup +127·(2^b-1): the maximum), 'minus', or 'random' per chunk and token.
 * `weights`: 'ones' (q = 2^b - 1) or 'random'.
 */
export function adversarialCase(
  k: number,
  n: number,
  bits: Bits,
  groupSize: number,
  m: number,
  signs: 'plus' | 'minus' | 'random',
  weights: 'ones' | 'random',
  seed = 1,
): AdversarialCase {
  const r = rng(seed);
  const g = lutGeometry({ n, k, bits, groupSize, vecBytes: 16 });
  const a = 0.75;
  const x = new Float32Array(m * k);
  const sign = new Int8Array(m * g.nChunks);
  for (let mi = 0; mi < m; mi++)
    for (let c = 0; c < g.nChunks; c++) {
      const s = signs === 'plus' ? 1 : signs === 'minus' ? -1 : r() < 0.5 ? -1 : 1;
      sign[mi * g.nChunks + c] = s;
      if (4 * c < k) x[mi * k + 4 * c] = s * a;
    }
  const qmax = (1 << bits) - 1;
  const q = Uint8Array.from({ length: n * k }, () => (weights === 'ones' ? qmax : Math.floor(r() * (qmax + 1))));
  const expectedAcc = new Float64Array(m * n * g.nSegments);
  const cps = g.segment / 4;
  for (let mi = 0; mi < m; mi++)
    for (let nn = 0; nn < n; nn++)
      for (let s = 0; s < g.nSegments; s++) {
        let acc = 0;
        for (let c = s * cps; c < (s + 1) * cps; c++) {
          // chunks past K hold zeros: their tables are all 0 (absmax of a segment comes from real chunks)
          if (4 * c >= k) continue;
          for (let i = 0; i < bits; i++) {
            const bit = (q[nn * k + 4 * c]! >> i) & 1;
            acc += (1 << i) * 127 * sign[mi * g.nChunks + c]! * (2 * bit - 1);
          }
        }
        expectedAcc[(mi * n + nn) * g.nSegments + s] = acc;
      }
  return { g, m, x, q, expectedAcc };
}
