/**
 * Native onnxruntime peers (onnxruntime-node, CPU EP): fp32 MatMul and com.microsoft.MatMulNBits
 * (accuracy_level 4) on the same weights as lutc (bench/weights.ts), built as one-node ONNX models.
 * Timing: median of session.run wall time over `runs` calls after warm-up; it includes onnxruntime-node's
 * per-call overhead (tens of µs), which is what a Node user of onnxruntime pays.
 */
import { performance } from 'node:perf_hooks';
import { OnnxBuilder } from '../compiler/onnx/builder.js';
import { dequantKN, type BenchWeights } from './weights.js';

export type PeerKind = 'fp32' | 'nbits';

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
      domain: 'com.microsoft', outputs: ['Y'],
      attrs: { K: w.k, N: w.n, bits: w.bits, block_size: w.block, accuracy_level: accuracyLevel },
    }) as [string];
  }
  b.output(y, 'f32', [m, w.n]);
  return b.toBytes();
}

/** Median µs of one session.run, plus the first output (for a spot check). */
export async function timePeer(model: Uint8Array, x: Float32Array, m: number, k: number, threads: number, runs: number): Promise<{ us: number; y: Float32Array }> {
  const ort = await import('onnxruntime-node');
  const sess = await ort.InferenceSession.create(model, {
    intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all',
  });
  const feeds = { A: new ort.Tensor('float32', x, [m, k]) };
  let y: Float32Array = new Float32Array(0);
  for (let i = 0; i < 5; i++) y = (await sess.run(feeds)).Y!.data as Float32Array;
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await sess.run(feeds);
    times.push((performance.now() - t0) * 1000);
  }
  await sess.release();
  times.sort((p, q) => p - q);
  return { us: times[Math.floor(times.length / 2)]!, y };
}
