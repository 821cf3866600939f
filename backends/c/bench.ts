/**
 * `lutc bench model.onnx --target c`: lutc's C artifact (the generated harness, built with the
 * host's flags, backends/c/run.ts) against onnxruntime-node (CPU EP, graph optimizations on, the
 * same thread count) on the same model and inputs. Timing: ROUNDS rounds, alternating which side
 * goes first; in each round the harness times `-r RUNS_PER_ROUND` calls of model_run (its weights
 * loaded and packed before, inputs already in place: the mean per call) and onnxruntime-node makes
 * RUNS_PER_ROUND timed session.run calls (after one untimed call; the mean per call, inputs given as
 * tensors, outputs returned). The report gives the median over rounds of each side's mean and the
 * ratio. Accuracy next to the speed: every float output of the artifact against onnxruntime-node on
 * the float model (the model the user has) and, with --bits 2 or 4, on the quantizeOnnx model
 * (MatMulNBits on the very weights lutc uses), as relative L2 and max-abs; the MatMulNBits model
 * (without --bits: the model file; int8 tolerance when its quantized layers run on int8 activations) must agree within PEER_TOL_MODEL (int8 tables) or PEER_TOL_F32
 * (--tables f32), else the report says FAIL and `lutc bench` exits 1 (LUT6013).
 * onnxruntime-node is an optional peer dependency of lutc (package.json peerDependenciesMeta; a
 * development dependency too): without it the bench stops at once with LUT5170 naming the package. Dims, inputs, checks: backends/bench-model.ts (shared with wasm).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { median, PEER_TOL_F32, PEER_TOL_MODEL } from '../../bench/timing.js';
import { readNpyFile, writeNpy } from '../../compiler/npy.js';
import type { CompileOptions } from '../../compiler/options.js';
import { runPipeline } from '../../compiler/pipeline.js';
import { quantizeOnnx } from '../../compiler/quantize-onnx.js';
import { makeTensor } from '../../ir/tensor.js';
import {
  type BenchReport,
  importBound,
  int8Approximated,
  loadPeer,
  type Outputs,
  outputsMaxAbs,
  outputsRelL2,
  peerCheck,
  randomFeeds,
} from '../bench-model.js';
import { emitModel } from './model/emit.js';
import { buildModelBinary, parseHarnessTime, speedCFlags } from './run.js';

const ROUNDS = 5;
const RUNS_PER_ROUND = 10;

type OrtNode = typeof import('onnxruntime-node');

/** Milliseconds to 3 significant digits (a tiny model's call takes microseconds). */
const fmtMs = (ms: number) => `${ms.toPrecision(3)} ms`;

/** Runs the benchmark; returns the report for stdout and the failed checks. */
export async function benchModel(modelPath: string, opts: CompileOptions, log: (msg: string) => void): Promise<BenchReport> {
  // before the compile, so a missing peer fails in the first second
  const ort: OrtNode = await loadPeer('onnxruntime-node', 'LUT5170', 'c', () => import('onnxruntime-node'));
  const bytes = new Uint8Array(fs.readFileSync(modelPath));
  const { g, dims } = importBound(bytes, opts, log);
  const feeds = randomFeeds(g);
  const threads = Number.isInteger(opts.threads) && opts.threads! > 0 ? opts.threads! : 1;
  runPipeline(g, { ...opts, target: 'c', progress: log });
  log('bench: building the C artifact');
  const em = emitModel(g, { ...opts, target: 'c', embedWeights: false, threads });
  const exe = buildModelBinary(em.files, [...speedCFlags(), ...(threads > 1 ? ['-fopenmp'] : [])]);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lutc-bench-c-'));
  const releases: (() => Promise<void>)[] = [];
  try {
    const weights = path.join(dir, 'weights.bin');
    fs.writeFileSync(weights, em.files['weights.bin'] ?? new Uint8Array(0));
    const args = ['-w', weights, '-o', path.join(dir, 'out'), '-t', String(threads)];
    em.inputs.forEach((io, i) => {
      const f = feeds.find((x) => x.name === io.name)!;
      const file = path.join(dir, `in${i}.npy`);
      fs.writeFileSync(file, writeNpy(makeTensor('f32', f.shape, f.data)));
      args.push(file);
    });
    const harness = (extra: string[]) => {
      const r = spawnSync(exe, [...args, ...extra], { encoding: 'utf8', maxBuffer: 64 << 20 });
      if (r.status !== 0) throw new Error(`bench: the C artifact failed: ${r.stderr.trim()}`);
      return r.stderr;
    };
    harness([]);
    const list = JSON.parse(fs.readFileSync(path.join(dir, 'out', 'outputs.json'), 'utf8')) as {
      name: string;
      dtype: string;
      file: string;
    }[];
    const lutcY: Outputs = Object.fromEntries(
      list.filter((o) => o.dtype === 'f32').map((o) => [o.name, readNpyFile(path.join(dir, 'out', o.file)).data as Float32Array]),
    );

    const sessOpts = {
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all' as const,
      freeDimensionOverrides: dims,
    };
    const ortFeeds = Object.fromEntries(feeds.map((f) => [f.name, new ort.Tensor('float32', f.data, f.shape)]));
    const openOrt = async (label: string, m: Uint8Array, tol: number | undefined) => {
      const s = await ort.InferenceSession.create(m, sessOpts);
      releases.push(() => s.release());
      const out = await s.run(ortFeeds);
      const peerY = Object.fromEntries(Object.keys(lutcY).map((n) => [n, out[n]?.data as ArrayLike<number>]));
      return { label, s, err: outputsRelL2(peerY, lutcY), maxAbs: outputsMaxAbs(peerY, lutcY), tol };
    };
    const bits = opts.bits;
    const tableTol = opts.tables === 'f32' ? PEER_TOL_F32 : PEER_TOL_MODEL;
    const peers = [
      await openOrt(
        bits === undefined ? 'onnxruntime-node (the model file)' : 'onnxruntime-node (float model)',
        bytes,
        bits === undefined ? (int8Approximated(g, opts.tables) ? PEER_TOL_MODEL : PEER_TOL_F32) : undefined,
      ),
    ];
    if (bits === 2 || bits === 4) {
      try {
        peers.push(
          await openOrt(
            'onnxruntime-node (MatMulNBits)',
            quantizeOnnx(bytes, { bits, groupSize: opts.groupSize, symmetric: opts.symmetric }),
            tableTol,
          ),
        );
      } catch (e) {
        log(`bench: onnxruntime-node cannot run the quantized model: ${(e as Error).message.split('\n')[0]}`);
      }
    }
    log(`bench: timing lutc c and ${peers.length} onnxruntime-node session(s), ${ROUNDS} alternating rounds of ${RUNS_PER_ROUND} calls`);
    const lutcMs: number[] = [];
    const peerMs: number[][] = peers.map(() => []);
    for (let r = 0; r < ROUNDS; r++) {
      const timeLutc = () => lutcMs.push(parseHarnessTime(harness(['-r', String(RUNS_PER_ROUND)]))!);
      const timePeers = async () => {
        for (const [i, p] of peers.entries()) {
          await p.s.run(ortFeeds);
          const t0 = performance.now();
          for (let k = 0; k < RUNS_PER_ROUND; k++) await p.s.run(ortFeeds);
          peerMs[i]!.push((performance.now() - t0) / RUNS_PER_ROUND);
        }
      };
      if (r % 2 === 0) {
        timeLutc();
        await timePeers();
      } else {
        await timePeers();
        timeLutc();
      }
    }
    const lutc = median(lutcMs);
    const w = Math.max(...peers.map((p) => p.label.length));
    const lines = [
      `model ${path.basename(modelPath)} [${Object.entries(dims)
        .map(([k, v]) => `${k}=${v}`)
        .join(
          ', ',
        )}], lutc c ${bits ? `--bits ${bits} --tables ${opts.tables ?? 'i8'}` : int8Approximated(g, opts.tables) ? `(its quantized layers, --tables ${opts.tables ?? 'i8'})` : '(float)'}; ` +
        `${threads} thread${threads > 1 ? 's' : ''}, ${ROUNDS} alternating rounds of ${RUNS_PER_ROUND} calls: median over rounds of the mean per call ` +
        `(lutc: model_run in the harness, inputs in place; onnxruntime-node: session.run)`,
      `  ${'lutc c'.padEnd(w)} ${fmtMs(lutc)}`,
    ];
    const failed: string[] = [];
    peers.forEach((p, i) => {
      const ms = median(peerMs[i]!);
      const { text: check, failure } = peerCheck(p);
      if (failure) failed.push(failure);
      lines.push(`  ${p.label.padEnd(w)} ${fmtMs(ms)}   lutc is ${(ms / lutc).toFixed(2)}x faster; ${check}`);
    });
    return { report: lines.join('\n'), failed };
  } finally {
    for (const r of releases) await r();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
