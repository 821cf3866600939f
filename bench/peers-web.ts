/**
 * onnxruntime-web peers (WASM backend, 1 thread, SIMD build) for the WASM benchmark: fp32 MatMul
 * ('ort-web-fp32') and com.microsoft.MatMulNBits ('ort-web-nbits', block 32) on the same quantized
 * weights as lutc (bench/weights.ts; one-node models from bench/peers-node.ts's `peerModel`).
 * Timing: median of session.run wall time over `runs` calls after a timed warm-up.
 */
import { performance } from 'node:perf_hooks';
import type { BenchWeights } from './weights.js';
import { peerModel, type PeerKind } from './peers-node.js';

let ortPromise: Promise<any> | undefined;

/** onnxruntime-web configured for one thread, SIMD, no proxy worker. */
async function ortWeb(): Promise<any> {
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

/** An open onnxruntime-web session for x [m, K]: `run` is one timed unit, `y` its first output. */
export interface OpenPeer {
  run(): Promise<void>;
  y: Float32Array;
  release(): Promise<void>;
}

/** Opens the `kind` peer (one-node model on the bench weights) and runs it once. */
export async function openWebPeer(w: BenchWeights, x: Float32Array, m: number, kind: PeerKind): Promise<OpenPeer> {
  const ort = await ortWeb();
  const sess = await ort.InferenceSession.create(peerModel(w, m, kind), { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
  const feeds = { A: new ort.Tensor('float32', x, [m, w.k]) };
  const y = (await sess.run(feeds)).Y.data as Float32Array;
  return { run: async () => void (await sess.run(feeds)), y, release: () => sess.release() };
}

/** Median µs of one session.run of the `kind` peer for x [m, K], plus its output for a spot check. */
export async function timeWebPeer(w: BenchWeights, x: Float32Array, m: number, kind: PeerKind, runs: number, warmMs = 300): Promise<{ us: number; y: Float32Array }> {
  const p = await openWebPeer(w, x, m, kind);
  const t0 = performance.now();
  for (let i = 0; i < 3 || performance.now() - t0 < warmMs; i++) await p.run();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await p.run();
    times.push((performance.now() - t) * 1000);
  }
  await p.release();
  return { us: median(times), y: p.y };
}

export function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}
