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
 * Timing (bench/timing.ts, bench/README.md): lutc and the peer are timed interleaved in this process,
 * same warm-up, re-warm and number of runs. Both timed units are a whole host-to-host call: lutc's is
 * writeBuffer(x) + build + gemm dispatches + copy of y to a mappable buffer + mapAsync + copy out,
 * what the peer's session.run on CPU tensors does (upload A, run, read Y back). The peer's output is
 * checked against lutc's (relative L2 <= PEER_TOL); a failing row says check 'FAIL' and the script
 * exits 1. Documented in docs/wgsl.md.
 */
import { writeFileSync } from 'node:fs';
import { openNodeGpu } from '../backends/wgsl/device.js';
import { computePipeline, dispatch, storageBuffer } from '../backends/wgsl/gpu-exec.js';
import { BUILD_BINDINGS, GEMM_BINDINGS, renderWgslGemm } from '../backends/wgsl/lut-gemm.js';
import { type Bits, lutGeometry, packWeights } from '../ir/lut/geometry.js';
import { packScales } from '../ir/lut/reference.js';
import { peerModel } from './peers-node.js';
import type { OpenPeer } from './peers-web.js';
import { BENCH_SHAPES, type BenchResult, withStats } from './schema.js';
import { callSide, checkPeer, interleave, relL2, type Timed } from './timing.js';
import { benchWeights, lcg, referenceRows } from './weights.js';

const args = process.argv.slice(2);
const opt = (name: string, d: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1]! : d;
};
const BITS = opt('--bits', '2,4').split(',').map(Number);
const RUNS = Number(opt('--runs', '50'));
const OUT = opt('--out', 'bench/results-gpu.json');
const BLOCK = 32;

/** lutc's kernel on the GPU as an OpenPeer-like unit: `run` uploads x, dispatches, reads y back. */
async function openLutc(device: GPUDevice, n: number, k: number, m: number, bits: number, x: Float32Array): Promise<OpenPeer> {
  const w = benchWeights(n, k, bits, BLOCK);
  const g = lutGeometry({ n, k, bits: bits as Bits, groupSize: BLOCK, vecBytes: 16 });
  const sh = renderWgslGemm(g, { m, tables: 'i8' });
  const [pb, pg] = await Promise.all([
    computePipeline(device, sh.build, 'build', BUILD_BINDINGS),
    computePipeline(device, sh.gemm, 'gemm', GEMM_BINDINGS),
  ]);
  const ps = packScales(g, w.scales, w.zeros);
  const bufs = [
    storageBuffer(device, x),
    storageBuffer(device, sh.tableBytes),
    storageBuffer(device, sh.segBytes),
    storageBuffer(device, packWeights(g, w.q)),
    storageBuffer(device, ps.sw),
    storageBuffer(device, ps.swz),
    storageBuffer(device, new Float32Array(1)),
    storageBuffer(device, sh.outBytes),
  ];
  const [xb, tb, sb, wb, swb, swzb, bb, ob] = bufs as GPUBuffer[];
  const rb = device.createBuffer({ size: ob!.size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const run = async (): Promise<Float32Array> => {
    device.queue.writeBuffer(xb!, 0, x.buffer, x.byteOffset, x.byteLength);
    const enc = device.createCommandEncoder();
    dispatch(enc, device, pb, [xb!, tb!, sb!], sh.buildDispatch);
    dispatch(enc, device, pg, [wb!, swb!, swzb!, bb!, tb!, sb!, ob!], sh.gemmDispatch);
    enc.copyBufferToBuffer(ob!, 0, rb, 0, ob!.size);
    device.queue.submit([enc.finish()]);
    await rb.mapAsync(GPUMapMode.READ);
    const y = new Float32Array(rb.getMappedRange().slice(0, m * n * 4));
    rb.unmap();
    return y;
  };
  const y = await run();
  return {
    run: async () => void (await run()),
    y,
    release: async () => {
      for (const b of [...bufs, rb]) b.destroy();
    },
  };
}

/** ORT-web WebGPU MatMulNBits on the same weights (run once), or the reason it cannot run. */
async function openPeer(gpu: GPU, n: number, k: number, m: number, bits: number, x: Float32Array): Promise<OpenPeer | string> {
  if (bits !== 4 && bits !== 2 && bits !== 8) return 'bits not supported by MatMulNBits';
  try {
    Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true });
    const ort = ((await import('onnxruntime-web/webgpu')) as { default?: unknown }).default as any;
    ort.env.logLevel = 'error';
    const sess = await ort.InferenceSession.create(peerModel(benchWeights(n, k, bits, BLOCK), m, 'nbits'), {
      executionProviders: ['webgpu'],
    });
    const feeds = { A: new ort.Tensor('float32', x, [m, k]) };
    const y = (await sess.run(feeds)).Y.data as Float32Array;
    return { run: async () => void (await sess.run(feeds)), y, release: () => sess.release() };
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
    const lutc = await openLutc(node.device, n, k, m, bits, x);
    const ref = referenceRows(benchWeights(n, k, bits, BLOCK), x, m, 8);
    const refErr = relL2(
      Float32Array.from({ length: m * 8 }, (_, i) => lutc.y[Math.floor(i / 8) * n + (i % 8)]!),
      ref,
    );
    if (!(refErr < 5e-2)) throw new Error(`lutc WGSL output is wrong for ${n}x${k} M=${m} bits=${bits}: rel-L2 vs float64 ${refErr}`);
    const peer = await openPeer(peerGpu, n, k, m, bits, x);
    const sides: Timed[] = [callSide('lutc', lutc.run), ...(typeof peer === 'string' ? [] : [callSide('ort-webgpu-nbits', peer.run)])];
    const st = await interleave(sides, { runs: RUNS });
    const check = typeof peer === 'string' ? undefined : checkPeer(peer.y, lutc.y);
    rows.push(
      withStats(
        {
          suite: 'gpu',
          target: 'wgsl',
          bits,
          m,
          n,
          k,
          threads: 1,
          lutc_us: st[0]!.median,
          peer: 'ort-webgpu-nbits',
          peer_us: st[1]?.median ?? NaN,
        },
        st[0]!,
        st[1],
        check,
      ),
    );
    const peerTxt =
      typeof peer === 'string'
        ? peer
        : `${st[1]!.median.toFixed(0)} us, ratio ${(st[1]!.median / st[0]!.median).toFixed(2)}, rel-L2 vs lutc ${check!.relL2.toExponential(2)}${check!.ok ? '' : ' FAIL'}`;
    console.log(
      `N=${n} K=${k} M=${m} bits=${bits}: lutc ${st[0]!.median.toFixed(0)} us (upload + dispatches + readback), ort-webgpu ${peerTxt}`,
    );
    await lutc.release();
    if (typeof peer !== 'string') await peer.release();
  }
}
writeFileSync(OUT, JSON.stringify(rows, null, 2) + '\n');
node.release();
void peerGpu;
if (rows.some((r) => r.check === 'FAIL')) {
  console.error('gpu bench: FAIL: the peer output disagrees with lutc beyond the tolerance');
  process.exitCode = 1;
}
