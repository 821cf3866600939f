/**
 * GPU benchmark (not run in CI): lutc's WGSL LUT-mpGEMM (backends/wgsl/lut-gemm.ts, int8 tables,
 * build + gemm dispatches) against onnxruntime-web's WebGPU MatMulNBits ('ort-webgpu-nbits', block 32)
 * on bench/schema.ts's shapes and the same quantized weights (bench/weights.ts), in Node on a real GPU
 * through Dawn (`webgpu` package). The peer runs ORT-web's WebGPU EP with navigator.gpu pointed at the
 * same Dawn instance; where that EP does not load in Node, its rows say so and the lutc rows stand.
 *
 *   node --import tsx bench/gpu.ts [--bits 2,4] [--runs 50] [--out bench/results-gpu.json] [--quick]
 *   (--quick: one small shape, a smoke test that runs even on SwiftShader)
 *
 * Timing: median wall time of (submit; onSubmittedWorkDone) over `runs` after a warm-up: it includes
 * one queue round trip, as the peer's session.run does. Documented in docs/wgsl.md.
 */
import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { lutGeometry, packWeights, type Bits } from '../ir/lut/geometry.js';
import { packScales } from '../ir/lut/reference.js';
import { openNodeGpu } from '../backends/wgsl/device.js';
import { BUILD_BINDINGS, GEMM_BINDINGS, renderWgslGemm } from '../backends/wgsl/lut-gemm.js';
import { computePipeline, dispatch, storageBuffer } from '../backends/wgsl/gpu-exec.js';
import { BENCH_SHAPES, type BenchResult } from './schema.js';
import { benchWeights, lcg } from './weights.js';
import { peerModel } from './peers-node.js';
import { median } from './peers-web.js';

const args = process.argv.slice(2);
const opt = (name: string, d: string) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1]! : d; };
const BITS = opt('--bits', '2,4').split(',').map(Number);
const RUNS = Number(opt('--runs', '50'));
const OUT = opt('--out', 'bench/results-gpu.json');
const BLOCK = 32;

async function timeIt(device: GPUDevice, record: () => void): Promise<number> {
  const once = async () => { record(); await device.queue.onSubmittedWorkDone(); };
  for (let i = 0; i < 5; i++) await once();
  const t: number[] = [];
  for (let i = 0; i < RUNS; i++) { const t0 = performance.now(); await once(); t.push((performance.now() - t0) * 1000); }
  return median(t);
}

async function lutcUs(device: GPUDevice, n: number, k: number, m: number, bits: number, x: Float32Array): Promise<number> {
  const w = benchWeights(n, k, bits, BLOCK);
  const g = lutGeometry({ n, k, bits: bits as Bits, groupSize: BLOCK, vecBytes: 16 });
  const sh = renderWgslGemm(g, { m, tables: 'i8' });
  const [pb, pg] = await Promise.all([computePipeline(device, sh.build, 'build', BUILD_BINDINGS), computePipeline(device, sh.gemm, 'gemm', GEMM_BINDINGS)]);
  const ps = packScales(g, w.scales, w.zeros);
  const bufs = [storageBuffer(device, x), storageBuffer(device, sh.tableBytes), storageBuffer(device, sh.segBytes), storageBuffer(device, packWeights(g, w.q)),
    storageBuffer(device, ps.sw), storageBuffer(device, ps.swz), storageBuffer(device, new Float32Array(1)), storageBuffer(device, sh.outBytes)];
  const [xb, tb, sb, wb, swb, swzb, bb, ob] = bufs as GPUBuffer[];
  const us = await timeIt(device, () => {
    const enc = device.createCommandEncoder();
    dispatch(enc, device, pb, [xb!, tb!, sb!], sh.buildDispatch);
    dispatch(enc, device, pg, [wb!, swb!, swzb!, bb!, tb!, sb!, ob!], sh.gemmDispatch);
    device.queue.submit([enc.finish()]);
  });
  for (const b of bufs) b.destroy();
  return us;
}

/** ORT-web WebGPU MatMulNBits on the same weights, or NaN with the reason. */
async function peerUs(gpu: GPU, n: number, k: number, m: number, bits: number, x: Float32Array): Promise<number | string> {
  if (bits !== 4 && bits !== 2 && bits !== 8) return 'bits not supported by MatMulNBits';
  try {
    Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true });
    const ort = ((await import('onnxruntime-web/webgpu')) as { default?: unknown }).default as any;
    ort.env.logLevel = 'error';
    const sess = await ort.InferenceSession.create(peerModel(benchWeights(n, k, bits, BLOCK), m, 'nbits'), { executionProviders: ['webgpu'] });
    const feeds = { A: new ort.Tensor('float32', x, [m, k]) };
    for (let i = 0; i < 5; i++) await sess.run(feeds);
    const t: number[] = [];
    for (let i = 0; i < RUNS; i++) { const t0 = performance.now(); await sess.run(feeds); t.push((performance.now() - t0) * 1000); }
    await sess.release();
    return median(t);
  } catch (e) {
    return `ort-web webgpu unavailable: ${(e as Error).message.split('\n')[0]}`;
  }
}

const node = await openNodeGpu();
console.error(`device: ${node.adapterInfo}`);
const { create } = (await import('webgpu')) as unknown as { create(o: string[]): GPU };
const peerGpu = create([]);
const rows: BenchResult[] = [];
const SHAPES: readonly (readonly [number, number, number])[] = args.includes('--quick') ? [[256, 256, 1]] : BENCH_SHAPES;
for (const [n, k, m] of SHAPES) {
  const r = lcg(n + k + m);
  const x = Float32Array.from({ length: m * k }, () => r() * 2 - 1);
  for (const bits of BITS) {
    const lutc = await lutcUs(node.device, n, k, m, bits, x);
    const peer = await peerUs(peerGpu, n, k, m, bits, x);
    const peerNum = typeof peer === 'number' ? peer : NaN;
    rows.push({ suite: 'gpu', target: 'wgsl', bits, m, n, k, threads: 1, lutc_us: lutc, peer: 'ort-webgpu-nbits', peer_us: peerNum });
    console.log(`N=${n} K=${k} M=${m} bits=${bits}: lutc ${lutc.toFixed(0)} us, ort-webgpu ${typeof peer === 'number' ? peer.toFixed(0) + ' us, ratio ' + (peer / lutc).toFixed(2) : peer}`);
  }
}
writeFileSync(OUT, JSON.stringify(rows, null, 2) + '\n');
node.release();
void peerGpu;
