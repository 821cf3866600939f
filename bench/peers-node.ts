/**
 * Native onnxruntime peers (onnxruntime-node, CPU EP): fp32 MatMul and com.microsoft.MatMulNBits
 * (accuracy_level 4) on the same weights as lutc (bench/weights.ts), built as one-node ONNX models.
 `openNodePeer` opens one as an OpenPeer for bench/timing.ts; its timed unit is one session.run, which
 * includes onnxruntime-node's per-call overhead (tens of µs) and the copy of Y into a new JS array, what
 * a Node user of onnxruntime pays.
 */
import { OnnxBuilder } from '../compiler/onnx/builder.js';
import { type BenchWeights, dequantKN } from './weights.js';

export type PeerKind = 'fp32' | 'nbits';

/** An open onnxruntime session for x [m, K]: `run` is one timed unit, `y` its first output (checked against lutc's). */
export interface OpenPeer {
  run(): Promise<void>;
  y: Float32Array;
  release(): Promise<void>;
}

/** One-node model bytes: A [m, K] -> Y [m, N]. */
export function peerModel(w: BenchWeights, m: number, kind: PeerKind, accuracyLevel = 4): Uint8Array {
  const b = new OnnxBuilder({ opset: 17, domains: { 'com.microsoft': 1 } });
  const a = b.input('A', 'f32', [m, w.k]);
  let y: string;
  if (kind === 'fp32') {
    const wt = b.initializer('W', { dtype: 'f32', shape: [w.k, w.n], data: dequantKN(w) });
    [y] = b.node('MatMul', [a, wt], { outputs: ['Y'] }) as [string];
  } else {
    const blob = (w.block * w.bits) / 8;
    const B = b.initializer('B', { dtype: 'u8', shape: [w.n, w.kBlocks, blob], data: w.B });
    const s = b.initializer('scales', { dtype: 'f32', shape: [w.n * w.kBlocks], data: w.scales });
    const zp = b.initializer('zp', { dtype: 'u8', shape: [w.zpPacked.length], data: w.zpPacked });
    [y] = b.node('MatMulNBits', [a, B, s, zp], {
      domain: 'com.microsoft',
      outputs: ['Y'],
      attrs: { K: w.k, N: w.n, bits: w.bits, block_size: w.block, accuracy_level: accuracyLevel },
    }) as [string];
  }
  b.output(y, 'f32', [m, w.n]);
  return b.toBytes();
}

/** An open onnxruntime-node session (CPU EP, `threads` intra-op threads) for A = x [m, K], run once. */
export async function openNodePeer(model: Uint8Array, x: Float32Array, m: number, k: number, threads = 1): Promise<OpenPeer> {
  const ort = await import('onnxruntime-node');
  const sess = await ort.InferenceSession.create(model, {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const feeds = { A: new ort.Tensor('float32', x, [m, k]) };
  const y = (await sess.run(feeds)).Y!.data as Float32Array;
  return { run: async () => void (await sess.run(feeds)), y, release: () => sess.release() };
}
