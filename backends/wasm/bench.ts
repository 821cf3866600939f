/**
 * `lutc bench model.onnx --target wasm`: lutc's whole-model wasm artifact against onnxruntime-web
 * (its WASM backend, one thread) on the same model, in the same process: median of >= 20 timed runs
 * after warm-up, reported as milliseconds and ratios. onnxruntime-web runs the float model (the
 * baseline a user has) and, with --bits, also the quantizeOnnx model (MatMulNBits, same weights).
 * Unbound symbolic dims are bound to 1 (use --dim / --shape to choose, e.g. --dim seq=64).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { CompileOptions } from '../../compiler/options.js';
import { importOnnx } from '../../compiler/onnx/index.js';
import { runPipeline } from '../../compiler/pipeline.js';
import { quantizeOnnx } from '../../compiler/quantize.js';
import type { Graph } from '../../ir/types.js';
import { loadArtifactModule, writeArtifact, type WasmCompileOptions } from './model/index.js';

const WARMUP = 5;
const RUNS = 25;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function timeRuns(fn: () => unknown | Promise<unknown>, runs = RUNS): Promise<number> {
  for (let i = 0; i < WARMUP; i++) await fn();
  const t: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    t.push(performance.now() - t0);
  }
  return median(t);
}

/** Imports with every symbolic input dim bound (given bindings, else 1). */
function importBound(bytes: Uint8Array, opts: CompileOptions, log: (m: string) => void): { g: Graph; dims: Record<string, number> } {
  const dims = { ...(opts.dimBindings ?? {}) };
  let g = importOnnx(bytes, { dimBindings: dims, inputShapes: opts.inputShapes });
  const free = [...new Set(g.inputs.flatMap((v) => v.type.shape.filter((d): d is string => typeof d === 'string')))];
  if (free.length) {
    for (const s of free) dims[s] = 1;
    log(`bench: binding ${free.map((s) => `${s}=1`).join(', ')} (use --dim SYM=N)`);
    g = importOnnx(bytes, { dimBindings: dims, inputShapes: opts.inputShapes });
  }
  return { g, dims };
}

/** Runs the benchmark; returns the report for stdout. */
export async function benchModel(modelPath: string, opts: CompileOptions, log: (msg: string) => void): Promise<string> {
  const bytes = new Uint8Array(fs.readFileSync(modelPath));
  const { g, dims } = importBound(bytes, opts, log);
  const inputShapes = g.inputs.map((v) => ({ name: v.name, shape: v.type.shape as number[], dtype: v.type.dtype }));
  runPipeline(g, { ...opts, target: 'wasm' });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lutc-bench-'));
  try {
    log('bench: compiling the wasm artifact');
    writeArtifact(g, opts as WasmCompileOptions, dir);
    const model = await loadArtifactModule(dir);
    let seed = 1;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1;
    const feeds: Record<string, Float32Array> = {};
    for (const i of inputShapes) {
      if (i.dtype !== 'f32') throw new Error(`bench: input '${i.name}' is ${i.dtype}; only float32 inputs are generated`);
      feeds[i.name] = Float32Array.from({ length: i.shape.reduce((a, b) => a * b, 1) }, rnd);
    }
    log('bench: timing lutc');
    const tLutc = await timeRuns(() => model.run(feeds));

    const ort = await import('onnxruntime-web');
    ort.env.wasm.numThreads = 1;
    const sessOpts = { executionProviders: ['wasm'], freeDimensionOverrides: dims, graphOptimizationLevel: 'all' as const };
    const ortFeeds = Object.fromEntries(inputShapes.map((i) => [i.name, new ort.Tensor('float32', feeds[i.name]!, i.shape)]));
    const timeOrt = async (m: Uint8Array) => {
      const s = await ort.InferenceSession.create(m, sessOpts);
      try {
        return await timeRuns(() => s.run(ortFeeds));
      } finally {
        await s.release();
      }
    };
    log('bench: timing onnxruntime-web (float model)');
    const tFloat = await timeOrt(bytes);
    let tQuant: number | undefined;
    if (opts.bits !== undefined && opts.bits !== 1.58 && opts.bits !== 1 && opts.bits !== 3) {
      log('bench: timing onnxruntime-web (MatMulNBits model)');
      try {
        tQuant = await timeOrt(quantizeOnnx(bytes, { bits: opts.bits, groupSize: opts.groupSize, symmetric: opts.symmetric }));
      } catch (e) {
        log(`bench: onnxruntime-web cannot run the quantized model: ${(e as Error).message.split('\n')[0]}`);
      }
    }
    const fmt = (ms: number) => `${ms.toFixed(3)} ms`;
    const lines = [
      `model ${path.basename(modelPath)} [${Object.entries(dims).map(([k, v]) => `${k}=${v}`).join(', ')}], lutc wasm ${opts.bits ? `--bits ${opts.bits} --tables ${opts.tables ?? 'i8'}` : '(float)'}; median of ${RUNS} runs after ${WARMUP} warm-up, 1 thread`,
      `  lutc wasm                          ${fmt(tLutc)}`,
      `  onnxruntime-web wasm (float model) ${fmt(tFloat)}   lutc is ${(tFloat / tLutc).toFixed(2)}x faster`,
    ];
    if (tQuant !== undefined) lines.push(`  onnxruntime-web wasm (MatMulNBits) ${fmt(tQuant)}   lutc is ${(tQuant / tLutc).toFixed(2)}x faster`);
    return lines.join('\n');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
