/**
 * Test model builders: random MLPs (any dims, seed, opset, MatMul or Gemm), the Llama-style block,
 * dynamic-batch/seq models, and com.microsoft MatMulNBits models whose B / scales / zero_points blobs
 * are packed exactly as docs/onnx-inputs.md specifies (so they double as a spec test of the importer).
 */
import { OnnxBuilder } from '../../compiler/onnx/builder.js';
import { buildLlamaBlock, buildMlp, type LlamaOptions, type MlpOptions, seeded, uniform } from '../../examples/models.js';
import { makeTensor } from '../../ir/tensor.js';
import type { Tensor } from '../../ir/types.js';

export type { LlamaOptions, MlpOptions };
export { buildLlamaBlock, buildMlp, seeded, uniform };

/** A float32 tensor uniform in [-1, 1) from `seed`. */
export function randomInput(shape: number[], seed: number): Tensor {
  return uniform(shape, 1, seeded(seed));
}

/** x [batch, seq, K] -> MatMul -> Add bias -> y: a 3-D linear layer with two symbolic dims. */
export function buildDynamicLinear(k: number, n: number, seed = 3, opset = 17): Uint8Array {
  const next = seeded(seed);
  const b = new OnnxBuilder({ opset });
  const x = b.input('x', 'f32', ['batch', 'seq', k]);
  const w = b.initializer('w', uniform([k, n], Math.sqrt(3 / k), next));
  const bias = b.initializer('bias', uniform([n], 0.1, next));
  const [mm] = b.node('MatMul', [x, w]);
  const [y] = b.node('Add', [mm!, bias], { outputs: ['y'] });
  b.output(y!, 'f32', ['batch', 'seq', n]);
  return b.toBytes();
}

export interface NBitsOptions {
  k: number;
  n: number;
  bits: 2 | 4 | 8;
  blockSize: number;
  /** Packed uint8 zero points (true), absent (false: 2^(bits-1) implied). */
  zeroPoints?: boolean;
  bias?: boolean;
  /** Leading dims of A (default ['batch']). */
  lead?: (number | string)[];
  seed?: number;
  opset?: number;
}

/** The logical quantized weights of an NBits model, for tests that check dequantization directly. */
export interface NBitsWeights {
  /** q[n][k], values in [0, 2^bits). */
  q: Uint8Array;
  /** scales[n][kb]. */
  scales: Float32Array;
  /** zp[n][kb] (the implied 2^(bits-1) when the model has none). */
  zp: Uint8Array;
  bias?: Float32Array;
  /** W[k, n] = (q[n][k] - zp[n][kb]) * scales[n][kb], row-major [K, N]: the float MatMul weight. */
  dequantized: Float32Array;
}

/**
 * A MatMulNBits model y = A · W (+ bias), with its weights. Packing per docs/onnx-inputs.md:
 * B uint8 [N, kBlocks, blobSize], blobSize = blockSize·bits/8; for W[k, n]: kb = k / blockSize,
 * i = k % blockSize, byte = B[n][kb][(i·bits) >> 3], q = (byte >> ((i·bits) & 7)) & (2^bits − 1),
 * LSB first; K is zero-padded to a whole block. zero_points uint8 [N, ceil(kBlocks·bits/8)], each row
 * byte-aligned, same LSB-first packing. scales float [N, kBlocks].
 */
export function buildMatMulNBits(o: NBitsOptions): { bytes: Uint8Array; weights: NBitsWeights } {
  const { k: K, n: N, bits, blockSize } = o;
  const next = seeded(o.seed ?? 5);
  const kBlocks = Math.ceil(K / blockSize);
  const blob = (blockSize * bits) / 8;
  const levels = 2 ** bits;
  const q = new Uint8Array(N * K);
  for (let i = 0; i < q.length; i++) q[i] = Math.floor(next() * levels);
  const scales = new Float32Array(N * kBlocks);
  for (let i = 0; i < scales.length; i++) scales[i] = (0.5 + next()) / levels / Math.sqrt(K);
  const zp = new Uint8Array(N * kBlocks);
  for (let i = 0; i < zp.length; i++) zp[i] = o.zeroPoints ? Math.floor(next() * levels) : levels / 2;

  const B = new Uint8Array(N * kBlocks * blob);
  for (let n = 0; n < N; n++)
    for (let k = 0; k < K; k++) {
      const kb = Math.floor(k / blockSize);
      const i = k % blockSize;
      B[(n * kBlocks + kb) * blob + ((i * bits) >> 3)]! |= q[n * K + k]! << ((i * bits) & 7);
    }
  const zpRow = Math.ceil((kBlocks * bits) / 8);
  const ZP = new Uint8Array(N * zpRow);
  for (let n = 0; n < N; n++)
    for (let kb = 0; kb < kBlocks; kb++) {
      ZP[n * zpRow + ((kb * bits) >> 3)]! |= zp[n * kBlocks + kb]! << ((kb * bits) & 7);
    }
  const bias = o.bias ? Float32Array.from({ length: N }, () => (next() * 2 - 1) * 0.1) : undefined;
  const deq = new Float32Array(K * N);
  for (let n = 0; n < N; n++)
    for (let k = 0; k < K; k++) {
      const g = n * kBlocks + Math.floor(k / blockSize);
      deq[k * N + n] = Math.fround((q[n * K + k]! - zp[g]!) * scales[g]!);
    }

  const b = new OnnxBuilder({ opset: o.opset ?? 17, domains: { 'com.microsoft': 1 } });
  const lead = o.lead ?? ['batch'];
  const a = b.input('A', 'f32', [...lead, K]);
  const ins = [
    a,
    b.initializer('B', makeTensor('u8', [N, kBlocks, blob], B)),
    b.initializer('scales', makeTensor('f32', [N, kBlocks], scales)),
    o.zeroPoints ? b.initializer('zero_points', makeTensor('u8', [N, zpRow], ZP)) : '',
  ];
  if (bias) ins.push('', b.initializer('bias', makeTensor('f32', [N], bias)));
  while (ins.at(-1) === '') ins.pop();
  const [y] = b.node('MatMulNBits', ins, {
    domain: 'com.microsoft',
    attrs: { K, N, bits, block_size: blockSize, accuracy_level: 0 },
    outputs: ['Y'],
  });
  b.output(y!, 'f32', [...lead, N]);
  return { bytes: b.toBytes(), weights: { q, scales, zp, bias, dequantized: deq } };
}

/** The same layer as a float MatMul (+ Add) on the dequantized weights: the reference for NBits models. */
export function buildDequantizedLinear(o: NBitsOptions, w: NBitsWeights): Uint8Array {
  const b = new OnnxBuilder({ opset: o.opset ?? 17 });
  const lead = o.lead ?? ['batch'];
  const a = b.input('A', 'f32', [...lead, o.k]);
  let [y] = b.node('MatMul', [a, b.initializer('W', makeTensor('f32', [o.k, o.n], w.dequantized))]);
  if (w.bias) [y] = b.node('Add', [y!, b.initializer('bias', makeTensor('f32', [o.n], w.bias))]);
  const [out] = b.node('Identity', [y!], { outputs: ['Y'] });
  b.output(out!, 'f32', [...lead, o.n]);
  return b.toBytes();
}

/** The MLP at each opset the tests cover (13: pre-18 ReduceMean/Split attrs; 17; 21: newest). */
export const OPSETS = [13, 17, 21] as const;
