/**
 * onnxruntime-web peers (WASM backend, 1 thread, SIMD build) for the WASM benchmark: fp32 MatMul
 * ('ort-web-fp32') and com.microsoft.MatMulNBits ('ort-web-nbits', block 32) on the same quantized
 * weights as lutc (bench/weights.ts; one-node models from bench/peers-node.ts's `peerModel`).
 * An open peer's `run` (one session.run: input copied into ORT's wasm heap, output copied out) is the
 * unit bench/timing.ts times, interleaved with lutc.
 */

import { type OpenPeer, type PeerKind, peerModel } from './peers-node.js';
import type { BenchWeights } from './weights.js';

export type { OpenPeer } from './peers-node.js';

let ortPromise: Promise<any> | undefined;

/** onnxruntime-web configured for one thread, SIMD, no proxy worker (bench:llm's web peer too). */
export async function ortWeb(): Promise<any> {
  ortPromise ??= import('onnxruntime-web').then((m: any) => {
    const ort = m.default ?? m;
    ort.env.wasm.numThreads = 1;
    ort.env.wasm.simd = true;
    ort.env.wasm.proxy = false;
    ort.env.logLevel = 'error';
    return ort;
  });
  return ortPromise;
}

/** Opens the `kind` peer (one-node model on the bench weights) and runs it once. */
export async function openWebPeer(w: BenchWeights, x: Float32Array, m: number, kind: PeerKind): Promise<OpenPeer> {
  const ort = await ortWeb();
  const sess = await ort.InferenceSession.create(peerModel(w, m, kind), { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
  const feeds = { A: new ort.Tensor('float32', x, [m, w.k]) };
  const y = (await sess.run(feeds)).Y.data as Float32Array;
  return { run: async () => void (await sess.run(feeds)), y, release: () => sess.release() };
}
