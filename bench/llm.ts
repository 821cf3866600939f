/**
 * `npm run bench:llm [-- options]`: end-to-end decoder timing, lutc's C artifact against
 * onnxruntime-node in the same run, on seeded decoders in onnxruntime-genai's builder layout
 * (bench/llm-model.ts, GroupQueryAttention with a BNSH cache, MatMulNBits block 32, symmetric int4
 * without zero_points as the builder writes it by default; ternary codes keep zero point 1): a
 * Llama-3.2-1B-shaped int4 one (hidden 2048, 16 layers, 32/8 heads of 64, MLP 8192 SiLU, vocab
 * 32000) and a BitNet-b1.58-2B-shaped one (hidden 2560, 30 layers, 20/5 heads of 128, MLP 6912 with
 * squared ReLU, vocab 32000, ternary weights as 2-bit MatMulNBits).
 *
 * lutc compiles the model ONCE with runtime dims (batch 1; sequence_length up to the prefill length,
 * past/total up to the largest past) and runs every measurement through that one artifact: the C
 * harness times `-r N` runs of model_run (weights loaded and packed before the timed runs);
 * onnxruntime-node (CPU EP, graph optimizations on) runs the same feeds N times (median). Each thread
 * count T of --threads gives its own rows: the harness's `-t T` (built with -fopenmp when any T > 1;
 * the harness's `model: T threads` line is checked) against onnxruntime with intraOpNumThreads T,
 * lutc's rows first and then onnxruntime's (a live session's spinning pool would slow the artifact). Rows: prefill (S tokens, empty past) and one decode step at each past length; ratio =
 * onnxruntime ms / lutc ms (> 1: lutc faster). Before timing, lutc's logits are checked against
 * onnxruntime's for the first row (max|diff| / max|ref| <= 5e-2: lutc's int8 tables against
 * onnxruntime's accuracy_level 4 int8-activation GEMMs, the level real exports carry; 'FAIL' and exit 1
 * otherwise).
 *
 *   --model M       llama, bitnet or both (default both)
 *   --layers N      decoder layers (default: the shape's, 16 / 30; fewer is faster to build)
 *   --pasts A,B     past lengths of the decode rows (default 16,256,2048)
 *   --prefill S     prompt length of the prefill row (default 128)
 *   --runs N        timed runs per row and side (default 5)
 *   --threads A,B   thread counts, each with its own rows (default 1)
 *   --wasm          also lutc's wasm artifact (compiled once with runtime dims, `load({ threads })`,
 *                   Node's wasm engine): prefill dense, decode through the shared KV buffer (the cache
 *                   written once untimed, then each timed run appends the same row); median of N
 *   --no-ort-web    with --wasm: skip onnxruntime-web (by default --wasm also times onnxruntime-web's
 *                   WASM backend in Node on the same ONNX file, 1 thread only: its thread count is
 *                   fixed when it first loads; at most 2 runs per row, it is slow)
 *   --out FILE      write the rows as JSON (default bench/results-llm.json; --smoke writes none
 *                   unless given): { target, model, layout, phase, past, threads, lutc_tok_s, peer,
 *                   peer_tok_s } per row and peer, peer one of ort-node, ort-web
 *   --quick         the Llama shape only, 2 layers, pasts 16,256, prefill 32, 3 runs
 *   --smoke         a tiny decoder of the same layout (hidden 128, 2 layers), pasts 4,8, prefill 8,
 *                   1 run: the whole path in seconds (test/repo/bench-llm-smoke.test.ts runs it)
 *   -h, --help      this usage
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { emitModel } from '../backends/c/model/emit.js';
import { buildModelBinary, parseHarnessTime, speedCFlags } from '../backends/c/run.js';
import { seededRandom } from '../base/random.js';
import { writeNpy } from '../compiler/npy.js';
import { importOnnx } from '../compiler/onnx/index.js';
import { runPipeline } from '../compiler/pipeline.js';
import { makeTensor } from '../ir/tensor.js';
import type { Tensor } from '../ir/types.js';
import { BITNET_2B, buildBuilderDecoder, LLAMA_1B } from './llm-model.js';
import { ortWeb } from './peers-web.js';
import type { LlmResult } from './schema.js';
import { median } from './timing.js';

const USAGE =
  'usage: npm run bench:llm -- [--model llama|bitnet|both] [--layers N] [--pasts 16,256,2048] [--prefill S] [--runs N] [--threads 1,2] [--wasm] [--no-ort-web] [--out FILE] [--quick] [--smoke]\n';
const SHAPES = {
  // --smoke: a tiny decoder of the same layout, so CI runs the whole benchmark path in seconds
  smoke: {
    title: 'tiny (smoke test) int4',
    layers: 2,
    model: { vocab: 256, hidden: 128, heads: 4, kvHeads: 2, headSize: 32, intermediate: 256 },
  },
  llama: {
    title: 'Llama-3.2-1B-shaped int4',
    layers: 16,
    model: LLAMA_1B,
  },
  bitnet: {
    title: 'BitNet-b1.58-2B-shaped ternary (2-bit)',
    layers: 30,
    model: BITNET_2B,
  },
} as const;
type ShapeName = keyof typeof SHAPES;
type Shape = (typeof SHAPES)[ShapeName]['model'];
const MODEL_TOL = 5e-2;

interface Args {
  /** Also time lutc's wasm artifact (`--wasm`; --smoke turns it on). */
  wasm?: boolean;
  /** With wasm: also onnxruntime-web (default true; `--no-ort-web`). */
  ortWeb: boolean;
  /** Where the JSON rows go ('' = nowhere). */
  out: string;
  models: ShapeName[];
  layers?: number;
  pasts: number[];
  prefill: number;
  runs: number;
  threads: number[];
}

function usage(msg: string): never {
  process.stderr.write(`bench:llm: ${msg}\n${USAGE}`);
  process.exit(2);
}

function parse(argv: string[]): Args {
  const here = path.dirname(new URL(import.meta.url).pathname);
  const repo = fs.existsSync(path.join(here, '..', 'package.json')) ? path.join(here, '..') : path.join(here, '..', '..');
  const a: Args = {
    models: ['llama', 'bitnet'],
    pasts: [16, 256, 2048],
    prefill: 128,
    runs: 5,
    threads: [1],
    ortWeb: true,
    out: path.join(repo, 'bench', 'results-llm.json'),
  };
  let out: string | undefined;
  const int = (v: string | undefined, what: string) => {
    const n = Number(v);
    if (!v || !Number.isInteger(n) || n < 1) usage(`bad ${what} '${v ?? ''}'`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const f = argv[i]!;
    if (f === '-h' || f === '--help') {
      process.stdout.write(USAGE);
      process.exit(0);
    } else if (f === '--quick') Object.assign(a, { models: ['llama'], layers: 2, pasts: [16, 256], prefill: 32, runs: 3 });
    else if (f === '--smoke') Object.assign(a, { models: ['smoke'], pasts: [4, 8], prefill: 8, runs: 1, wasm: true, out: '' });
    else if (f === '--wasm') a.wasm = true;
    else if (f === '--no-ort-web') a.ortWeb = false;
    else if (f === '--out') out = argv[++i] ?? usage('--out needs a file');
    else if (f === '--model') {
      const m = argv[++i];
      if (m === 'both') a.models = ['llama', 'bitnet'];
      else if (m === 'llama' || m === 'bitnet') a.models = [m];
      else usage(`bad --model '${m ?? ''}' (llama, bitnet or both)`);
    } else if (f === '--layers') a.layers = int(argv[++i], '--layers');
    else if (f === '--prefill') a.prefill = int(argv[++i], '--prefill');
    else if (f === '--runs') a.runs = int(argv[++i], '--runs');
    else if (f === '--threads') a.threads = (argv[++i] ?? usage('--threads needs a value')).split(',').map((x) => int(x, '--threads'));
    else if (f === '--pasts') a.pasts = (argv[++i] ?? usage('--pasts needs a value')).split(',').map((x) => int(x, '--pasts'));
    else usage(`unknown option '${f}'`);
  }
  if (out !== undefined) a.out = out;
  if (!a.wasm && !a.ortWeb) usage('--no-ort-web only applies with --wasm');
  return a;
}

/** The feeds of one step: S new tokens after `past` cached rows (random cache contents, seeded). */
function stepFeeds(SHAPE: Shape, layers: number, S: number, past: number, seed: number): Record<string, Tensor> {
  const next = seededRandom(seed);
  const feeds: Record<string, Tensor> = {
    input_ids: makeTensor(
      'i64',
      [1, S],
      Array.from({ length: S }, () => Math.floor(next() * SHAPE.vocab)),
    ),
    attention_mask: makeTensor('i64', [1, past + S], new Array(past + S).fill(1)),
  };
  const n = SHAPE.kvHeads * past * SHAPE.headSize;
  for (let l = 0; l < layers; l++)
    for (const kv of ['key', 'value']) {
      const d = new Float32Array(n);
      for (let i = 0; i < n; i++) d[i] = next() * 2 - 1;
      feeds[`past_key_values.${l}.${kv}`] = makeTensor('f32', [1, SHAPE.kvHeads, past, SHAPE.headSize], d);
    }
  return feeds;
}

/** Builds, compiles and times one decoder shape; returns whether its output check passed. */
async function benchShape(name: ShapeName, a: Args): Promise<boolean> {
  const SHAPE = SHAPES[name].model;
  const layers = a.layers ?? SHAPES[name].layers;
  const maxPast = Math.max(...a.pasts);
  const say = (m: string) => process.stderr.write(`bench:llm: ${m}\n`);
  let t = performance.now();
  // accuracy_level 4 as the exports have it: onnxruntime's int8-activation MatMulNBits kernels (lutc reads the same weights)
  const bytes = buildBuilderDecoder({ ...SHAPE, layers, maxPos: maxPast + a.prefill + 1, seed: 1, accuracyLevel: 4, symmetric: true });
  const mib = (bytes.length / 2 ** 20).toFixed(0);
  say(`built the ${layers}-layer ${SHAPES[name].title} decoder (${mib} MiB) in ${((performance.now() - t) / 1e3).toFixed(1)} s`);

  t = performance.now();
  const g = importOnnx(bytes, { dimBindings: { batch_size: 1 } });
  g.meta = {
    ...g.meta,
    dimBounds: { sequence_length: a.prefill, past_sequence_length: maxPast, total_sequence_length: maxPast + a.prefill },
  };
  runPipeline(g, { target: 'c' });
  const em = emitModel(g, { target: 'c', embedWeights: false });
  const threaded = a.threads.some((t) => t > 1);
  const exe = buildModelBinary(em.files, [...speedCFlags(), ...(threaded ? ['-fopenmp'] : [])]);
  say(`lutc compiled it once for c with runtime dims in ${((performance.now() - t) / 1e3).toFixed(1)} s`);
  const dir = fs.mkdtempSync(path.join(tmpdir(), 'lutc-bench-llm-'));
  const weights = path.join(dir, 'weights.bin');
  fs.writeFileSync(weights, em.files['weights.bin']!);

  const ort = await import('onnxruntime-node');
  const ortType = (t: Tensor) => (t.dtype === 'i64' ? 'int64' : 'float32');
  const ortData = (t: Tensor) => (t.dtype === 'i64' ? BigInt64Array.from(t.data as ArrayLike<number>, (x) => BigInt(x)) : t.data);

  // the wasm artifact, compiled once (its own import: runPipeline lowers the graph in place)
  let wasmDir: string | undefined;
  if (a.wasm) {
    t = performance.now();
    const gw = importOnnx(bytes, { dimBindings: { batch_size: 1 } });
    gw.meta = { ...gw.meta, dimBounds: g.meta.dimBounds };
    runPipeline(gw, { target: 'wasm' });
    wasmDir = fs.mkdtempSync(path.join(tmpdir(), 'lutc-bench-llm-wasm-'));
    const { compileModel } = await import('../backends/wasm/compile.js');
    await compileModel(gw, { target: 'wasm', threads: Math.max(...a.threads) }, wasmDir);
    say(`lutc compiled it once for wasm with runtime dims in ${((performance.now() - t) / 1e3).toFixed(1)} s`);
  }
  const rows: { row: string; threads: number; lutc: number; wasm?: number; ort: number; web?: number }[] = [];
  let failed = false;
  let ortLogits0: Float32Array | undefined;
  const cases = [
    { row: `prefill ${a.prefill}`, S: a.prefill, past: 0 },
    ...a.pasts.map((p) => ({ row: `decode at past ${p}`, S: 1, past: p })),
  ];
  for (const threads of a.threads) {
    // lutc first, every row, with no onnxruntime session alive (its intra-op pool's spinning threads
    // would compete with the artifact's), then onnxruntime on the same feeds
    const lutcMs: number[] = [];
    for (const [ci, c] of cases.entries()) {
      const feeds = stepFeeds(SHAPE, layers, c.S, c.past, 100 + ci);
      const args = ['-w', weights, '-o', path.join(dir, `out${ci}`), '-r', String(a.runs), '-t', String(threads)];
      em.inputs.forEach((io, i) => {
        const f = path.join(dir, `in${ci}_${i}.npy`);
        fs.writeFileSync(f, writeNpy(feeds[io.name]!));
        args.push(f);
      });
      const r = spawnSync(exe, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
      if (r.status !== 0) throw new Error(`the lutc artifact failed: ${r.stderr}`);
      if (!new RegExp(`^model: ${threads} threads$`, 'm').test(r.stderr))
        throw new Error(`the lutc artifact did not run ${threads} threads: ${r.stderr}`);
      lutcMs.push(parseHarnessTime(r.stderr)!);
    }
    const wasmMs: number[] = [];
    if (wasmDir) {
      const { loadArtifactModule } = await import('../backends/wasm/model/files.js');
      const model = await loadArtifactModule(wasmDir, { threads });
      if (model.threads !== threads) throw new Error(`the wasm artifact runs ${model.threads} threads, not ${threads}`);
      for (const [ci, c] of cases.entries()) {
        const feeds = stepFeeds(SHAPE, layers, c.S, c.past, 100 + ci);
        const full: Record<string, unknown> = {};
        const kept: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(feeds)) {
          full[k] = { data: ortData(v), shape: v.shape };
          kept[k] = k.startsWith('past_key_values') ? { shape: v.shape } : full[k];
        }
        const times: number[] = [];
        // decode: the cache goes in once (untimed); each timed run then appends the same row in place
        if (c.past > 0) await model.run(full, { kvShared: true });
        else await model.run(full); // warm-up (untimed), as the harness and onnxruntime get
        for (let i = 0; i < a.runs; i++) {
          const t0 = performance.now();
          await (c.past > 0 ? model.run(kept, { kvShared: true }) : model.run(full));
          times.push(performance.now() - t0);
        }
        wasmMs.push(median(times));
      }
      model.destroy();
    }
    const sess = await ort.InferenceSession.create(bytes, {
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
    });
    for (const [ci, c] of cases.entries()) {
      const feeds = stepFeeds(SHAPE, layers, c.S, c.past, 100 + ci);
      const ortFeeds: Record<string, InstanceType<typeof ort.Tensor>> = {};
      for (const [k, v] of Object.entries(feeds)) ortFeeds[k] = new ort.Tensor(ortType(v), ortData(v) as Float32Array, v.shape);
      const times: number[] = [];
      let logits: Float32Array | undefined;
      for (let i = 0; i < a.runs; i++) {
        const t0 = performance.now();
        const out = await sess.run(ortFeeds);
        times.push(performance.now() - t0);
        logits = out.logits!.data as Float32Array;
      }
      if (ci === 0) ortLogits0 = logits;
      if (ci === 0) {
        // lutc's logits of the same feeds (the harness wrote them, at this thread count) against onnxruntime's
        const list = JSON.parse(fs.readFileSync(path.join(dir, `out${ci}`, 'outputs.json'), 'utf8')) as { name: string; file: string }[];
        const { readNpyFile } = await import('../compiler/npy.js');
        const got = readNpyFile(path.join(dir, `out${ci}`, list.find((o) => o.name === 'logits')!.file)).data;
        const rel = relDiff(got, logits!);
        say(
          `logits vs onnxruntime (${threads} threads): max|diff| / max|ref| = ${rel.toExponential(2)} (${rel <= MODEL_TOL ? 'ok' : 'FAIL'}, bound ${MODEL_TOL})`,
        );
        if (!(rel <= MODEL_TOL)) failed = true;
      }
      rows.push({ row: c.row, threads, lutc: lutcMs[ci]!, ...(wasmDir && { wasm: wasmMs[ci]! }), ort: median(times) });
      const w = wasmDir ? `, lutc wasm ${wasmMs[ci]!.toFixed(2)} ms` : '';
      say(`${c.row}, ${threads} threads: lutc ${lutcMs[ci]!.toFixed(2)} ms${w}, onnxruntime ${median(times).toFixed(2)} ms`);
    }
    await sess.release();
    // onnxruntime-web (WASM backend in Node) on the same file and feeds, 1 thread only (its thread
    // count is fixed when it first loads); its logits are checked against onnxruntime-node's
    if (wasmDir && a.ortWeb && threads === 1) {
      const web = await ortWeb();
      const ws = await web.InferenceSession.create(bytes, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
      for (const [ci, c] of cases.entries()) {
        const feeds = stepFeeds(SHAPE, layers, c.S, c.past, 100 + ci);
        const webFeeds: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(feeds)) webFeeds[k] = new web.Tensor(ortType(v), ortData(v), v.shape);
        const times: number[] = [];
        let logits: Float32Array | undefined;
        if (ci === 0) await ws.run(webFeeds); // the session's first run allocates: untimed
        for (let i = 0; i < Math.min(a.runs, 2); i++) {
          const t0 = performance.now();
          const out = await ws.run(webFeeds);
          times.push(performance.now() - t0);
          logits = out.logits.data as Float32Array;
        }
        const row = rows.find((r) => r.row === c.row && r.threads === threads)!;
        row.web = median(times);
        if (ci === 0) {
          const rel = relDiff(logits!, ortLogits0!);
          say(
            `onnxruntime-web logits vs onnxruntime-node: max|diff| / max|ref| = ${rel.toExponential(2)} (${rel <= MODEL_TOL ? 'ok' : 'FAIL'})`,
          );
          if (!(rel <= MODEL_TOL)) failed = true;
        }
        say(`${c.row}, 1 thread: onnxruntime-web ${row.web.toFixed(2)} ms`);
      }
      await ws.release();
    }
  }
  fs.rmSync(dir, { recursive: true, force: true });
  if (wasmDir) fs.rmSync(wasmDir, { recursive: true, force: true });
  process.stdout.write(
    `\n${SHAPES[name].title} decoder, ${layers} layers, ${a.runs} runs (median for onnxruntime${wasmDir ? ' and lutc wasm' : ''}, mean for the lutc harness)\n`,
  );
  const hasWeb = rows.some((r) => r.web !== undefined);
  const wasmHead =
    (wasmDir ? `${'lutc wasm ms'.padStart(14)}${'ratio'.padStart(8)}` : '') +
    (hasWeb ? `${'ort-web ms'.padStart(12)}${'web ratio'.padStart(10)}` : '');
  process.stdout.write(
    `${'row'.padEnd(22)}${'threads'.padStart(8)}${'lutc c ms'.padStart(12)}${'onnxruntime ms'.padStart(16)}${'ratio'.padStart(8)}${wasmHead}\n`,
  );
  for (const r of rows) {
    const webCols =
      r.web !== undefined && r.wasm !== undefined
        ? `${r.web.toFixed(2).padStart(12)}${(r.web / r.wasm).toFixed(2).padStart(10)}`
        : hasWeb
          ? `${'-'.padStart(12)}${'-'.padStart(10)}`
          : '';
    const wasmCols = (r.wasm !== undefined ? `${r.wasm.toFixed(2).padStart(14)}${(r.ort / r.wasm).toFixed(2).padStart(8)}` : '') + webCols;
    process.stdout.write(
      `${r.row.padEnd(22)}${String(r.threads).padStart(8)}${r.lutc.toFixed(2).padStart(12)}${r.ort.toFixed(2).padStart(16)}${(r.ort / r.lutc).toFixed(2).padStart(8)}${wasmCols}\n`,
    );
  }
  if (hasWeb)
    process.stdout.write('(ratio = onnxruntime-node ms / lutc ms; web ratio = onnxruntime-web ms / lutc wasm ms; > 1: lutc faster)\n');
  // the JSON rows: tokens/s of each side, one row per lutc target and peer
  const json: LlmResult[] = [];
  for (const r of rows) {
    const c = cases.find((x) => x.row === r.row)!;
    const tokS = (ms: number) => (c.S * 1000) / ms;
    const base = {
      model: name,
      layout: 'genai-gqa',
      phase: c.past === 0 && c.S > 1 ? 'prefill' : 'decode',
      past: c.past,
      threads: r.threads,
    } as const;
    json.push({ target: 'c', ...base, lutc_tok_s: tokS(r.lutc), peer: 'ort-node', peer_tok_s: tokS(r.ort) });
    if (r.wasm !== undefined) {
      json.push({ target: 'wasm', ...base, lutc_tok_s: tokS(r.wasm), peer: 'ort-node', peer_tok_s: tokS(r.ort) });
      if (r.web !== undefined) json.push({ target: 'wasm', ...base, lutc_tok_s: tokS(r.wasm), peer: 'ort-web', peer_tok_s: tokS(r.web) });
    }
  }
  results.push(...json);
  return !failed;
}

/** max|got − ref| / max|ref|. */
function relDiff(got: ArrayLike<number>, ref: ArrayLike<number>): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < ref.length; i++) {
    diff = Math.max(diff, Math.abs(got[i]! - ref[i]!));
    scale = Math.max(scale, Math.abs(ref[i]!));
  }
  return diff / scale;
}

const results: LlmResult[] = [];

async function main(): Promise<void> {
  const a = parse(process.argv.slice(2));
  let ok = true;
  for (const m of a.models) ok = (await benchShape(m, a)) && ok;
  if (a.out) {
    fs.writeFileSync(a.out, `${JSON.stringify(results, null, 1)}\n`);
    process.stderr.write(`bench:llm: wrote ${results.length} rows to ${a.out}\n`);
  }
  if (!ok) process.exit(1);
}

await main();
