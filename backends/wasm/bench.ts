/**
 * `lutc bench model.onnx --target wasm`: lutc's whole-model wasm artifact against onnxruntime-web
 * (its WASM backend, one thread) on the same model and inputs, in the same process, timed by
 * bench/timing.ts (bench/README.md): all sides interleaved round by round, same initial warm-up (>= 5
 * calls and >= 400 ms, so V8 tiers the wasm up), one untimed re-warm call per side per round, the same
 * number of timed calls; median, min and p90 per side, and ratios of medians. Both timed units copy
 * the inputs into wasm memory and the outputs out (lutc's `run`, ORT's session.run).
 * onnxruntime-web runs the float model (the baseline a user has) and, with --bits 2 or 4, also the
 * quantizeOnnx model (MatMulNBits, the very weights lutc uses). Output checks, relative L2 against
 * lutc's outputs: the MatMulNBits model (without --bits: the model file, at the int8 tolerance where its quantized layers run on int8 activations) must agree within
 * PEER_TOL_MODEL (int8 tables) or PEER_TOL_F32 (--tables f32, float models); otherwise the report says FAIL and
 * `lutc bench` exits 1 (LUT6013); each peer's line also shows the largest absolute difference
 * (max-abs). The float model with --bits has other weights: its error is shown,
 * not checked. Unbound symbolic dims are bound to 1 (use --dim / --shape to choose, e.g. --dim seq=64);
 * a --dim symbol the model lacks and the pipeline's layer warnings (--bits / --group-size) go to `log`.
 * onnxruntime-web is an optional dependency: without it the bench stops at once with LUT5070. The
 * dim binding, inputs, output checks and peer loading are backends/bench-model.ts's (shared with c).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { callSide, interleave, PEER_TOL_F32, PEER_TOL_MODEL, type Stats } from '../../bench/timing.js';
import type { CompileOptions } from '../../compiler/options.js';
import { runPipeline } from '../../compiler/pipeline.js';
import { quantizeOnnx } from '../../compiler/quantize-onnx.js';
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
import { compileModel } from './compile.js';
import { loadArtifactModule } from './model/index.js';

const RUNS = 25;
const WARMUP_MS = 400;

/** Runs the benchmark; returns the report for stdout and the failed checks. */
export async function benchModel(modelPath: string, opts: CompileOptions, log: (msg: string) => void): Promise<BenchReport> {
  // before the compile, so a missing peer fails in the first second
  const ort = await loadPeer('onnxruntime-web', 'LUT5070', 'wasm', () => import('onnxruntime-web'));
  const bytes = new Uint8Array(fs.readFileSync(modelPath));
  const { g, dims } = importBound(bytes, opts, log);
  const inputShapes = g.inputs.map((v) => ({ name: v.name, shape: v.type.shape as number[], dtype: v.type.dtype }));
  const inputFeeds = randomFeeds(g);
  runPipeline(g, { ...opts, target: 'wasm', progress: log }); // its layer warnings go to stderr
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lutc-bench-'));
  const releases: (() => Promise<void>)[] = [];
  try {
    log('bench: compiling the wasm artifact');
    await compileModel(g, { ...opts, progress: undefined }, dir);
    const model = await loadArtifactModule(dir, { threads: opts.threads });
    const feeds: Record<string, Float32Array> = Object.fromEntries(inputFeeds.map((f) => [f.name, f.data]));
    const lutcY: Outputs = Object.fromEntries(
      Object.entries(model.run(feeds))
        .filter(([, t]) => t.dtype === 'f32')
        .map(([n, t]) => [n, t.data]),
    );

    ort.env.wasm.numThreads = 1;
    const sessOpts = { executionProviders: ['wasm'], freeDimensionOverrides: dims, graphOptimizationLevel: 'all' as const };
    const ortFeeds = Object.fromEntries(inputShapes.map((i) => [i.name, new ort.Tensor('float32', feeds[i.name]!, i.shape)]));
    /** A peer: its session (released at the end), its timed side and its outputs' error against lutc's. */
    const openOrt = async (label: string, m: Uint8Array, tol: number | undefined) => {
      const s = await ort.InferenceSession.create(m, sessOpts);
      releases.push(() => s.release());
      const out = await s.run(ortFeeds);
      const peerY = Object.fromEntries(Object.keys(lutcY).map((n) => [n, out[n]?.data as ArrayLike<number>]));
      const err = outputsRelL2(peerY, lutcY);
      return { label, side: callSide(label, () => s.run(ortFeeds)), err, maxAbs: outputsMaxAbs(peerY, lutcY), tol };
    };
    const bits = opts.bits;
    const tableTol = opts.tables === 'f32' ? PEER_TOL_F32 : PEER_TOL_MODEL;
    const peers = [
      await openOrt(
        bits === undefined ? 'onnxruntime-web wasm (the model file)' : 'onnxruntime-web wasm (float model)',
        bytes,
        bits === undefined ? (int8Approximated(g, opts.tables) ? PEER_TOL_MODEL : PEER_TOL_F32) : undefined,
      ),
    ];
    if (bits !== undefined && bits !== 1.58 && bits !== 1 && bits !== 3) {
      try {
        peers.push(
          await openOrt(
            'onnxruntime-web wasm (MatMulNBits)',
            quantizeOnnx(bytes, { bits, groupSize: opts.groupSize, symmetric: opts.symmetric }),
            tableTol,
          ),
        );
      } catch (e) {
        log(`bench: onnxruntime-web cannot run the quantized model: ${(e as Error).message.split('\n')[0]}`);
      }
    }
    log(`bench: timing lutc and ${peers.length} onnxruntime-web session(s), interleaved`);
    const st = await interleave([callSide('lutc', () => model.run(feeds)), ...peers.map((p) => p.side)], {
      runs: RUNS,
      warmupMs: WARMUP_MS,
    });
    const lutc = st[0]!;
    const fmt = (s: Stats) => `${s.median.toFixed(3)} ms (min ${s.min.toFixed(3)}, p90 ${s.p90.toFixed(3)})`;
    const ms = (s: Stats): Stats => ({ median: s.median / 1000, min: s.min / 1000, p90: s.p90 / 1000, n: s.n });
    const w = Math.max(...peers.map((p) => p.label.length));
    const lines = [
      `model ${path.basename(modelPath)} [${Object.entries(dims)
        .map(([k, v]) => `${k}=${v}`)
        .join(
          ', ',
        )}], lutc wasm ${bits ? `--bits ${bits} --tables ${opts.tables ?? 'i8'}` : int8Approximated(g, opts.tables) ? `(its quantized layers, --tables ${opts.tables ?? 'i8'})` : '(float)'}; ` +
        `1 thread, interleaved: median of ${lutc.n} runs per side, each side warmed >= ${WARMUP_MS} ms first and 1 call per round; inputs copied in and outputs out on both sides`,
      `  ${'lutc wasm'.padEnd(w)} ${fmt(ms(lutc))}`,
    ];
    const failed: string[] = [];
    peers.forEach((p, i) => {
      const s = st[i + 1]!;
      const { text: check, failure } = peerCheck(p);
      if (failure) failed.push(failure);
      lines.push(`  ${p.label.padEnd(w)} ${fmt(ms(s))}   lutc is ${(s.median / lutc.median).toFixed(2)}x faster; ${check}`);
    });
    return { report: lines.join('\n'), failed };
  } finally {
    for (const r of releases) await r();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
