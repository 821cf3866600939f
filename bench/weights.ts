/**
 * Identical quantized weights for lutc and its peers: q / scales / zero points for a given shape,
 * bits, block and seed, the com.microsoft.MatMulNBits initializers packed exactly per docs/onnx-inputs.md
 * (B [N][kBlocks][blob] LSB-first, scales [N*kBlocks], zero_points [N][ceil(kBlocks*bits/8)]), and the
 * dequantized float weights transposed to [K][N] for the fp32 MatMul peer.
 */

export interface BenchWeights {
  n: number;
  k: number;
  bits: number;
  block: number;
  kBlocks: number;
  /** [N][K] codes in [0, 2^bits). */
  q: Uint8Array;
  /** [N][kBlocks]. */
  scales: Float32Array;
  /** [N][kBlocks] integer zero points as floats (lutc's form). */
  zeros: Float32Array;
  /** MatMulNBits B: [N][kBlocks][block*bits/8]. */
  B: Uint8Array;
  /** MatMulNBits zero_points: [N][ceil(kBlocks*bits/8)]. */
  zpPacked: Uint8Array;
}

/** Deterministic LCG in [0, 1). */
export function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32;
}

/** Quantized weights for one layer. K is zero-padded to a whole block in B (q past K is 0). */
export function benchWeights(n: number, k: number, bits: number, block: number, seed = 1): BenchWeights {
  const r = lcg(seed);
  const kBlocks = Math.ceil(k / block);
  const q = new Uint8Array(n * k);
  for (let i = 0; i < q.length; i++) q[i] = Math.floor(r() * (1 << bits));
  const scales = new Float32Array(n * kBlocks);
  const zeros = new Float32Array(n * kBlocks);
  for (let i = 0; i < scales.length; i++) {
    scales[i] = 0.005 + r() * 0.02;
    zeros[i] = Math.floor(r() * (1 << bits));
  }
  const blob = (block * bits) / 8;
  const B = new Uint8Array(n * kBlocks * blob);
  for (let row = 0; row < n; row++)
    for (let kk = 0; kk < k; kk++) {
      const kb = Math.floor(kk / block),
        i = kk % block;
      B[(row * kBlocks + kb) * blob + ((i * bits) >> 3)]! |= q[row * k + kk]! << ((i * bits) & 7);
    }
  const zpRow = Math.ceil((kBlocks * bits) / 8);
  const zpPacked = new Uint8Array(n * zpRow);
  for (let row = 0; row < n; row++)
    for (let kb = 0; kb < kBlocks; kb++) zpPacked[row * zpRow + ((kb * bits) >> 3)]! |= zeros[row * kBlocks + kb]! << ((kb * bits) & 7);
  return { n, k, bits, block, kBlocks, q, scales, zeros, B, zpPacked };
}

/** Dequantized weights transposed to [K][N] (the fp32 MatMul initializer): W = (q - zp) * scale. */
export function dequantKN(w: BenchWeights): Float32Array {
  const out = new Float32Array(w.k * w.n);
  for (let row = 0; row < w.n; row++)
    for (let kk = 0; kk < w.k; kk++) {
      const b = row * w.kBlocks + Math.floor(kk / w.block);
      out[kk * w.n + row] = (w.q[row * w.k + kk]! - w.zeros[b]!) * w.scales[b]!;
    }
  return out;
}

/** y[m][n] in float64 for the first `rows` rows (a spot check of any kernel's output). */
export function referenceRows(w: BenchWeights, x: Float32Array, m: number, rows: number): Float64Array {
  const y = new Float64Array(m * rows);
  for (let t = 0; t < m; t++)
    for (let row = 0; row < rows; row++) {
      let acc = 0;
      for (let kk = 0; kk < w.k; kk++) {
        const b = row * w.kBlocks + Math.floor(kk / w.block);
        acc += x[t * w.k + kk]! * (w.q[row * w.k + kk]! - w.zeros[b]!) * w.scales[b]!;
      }
      y[t * rows + row] = acc;
    }
  return y;
}
