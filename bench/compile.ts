/**
 * `npm run bench:compile`: how long `lutc compile` takes and how much memory it holds on a large model.
 * Generates the seeded Llama-3.2-1B-shaped 4-bit decoder of bench:llm (bench/llm-model.ts), with every
 * initializer of 1 KiB or more in external data (`model.onnx.data`, as exporters write large models),
 * then compiles it for each target in a child process running the CLI's `main` (the real
 * `lutc compile`), and prints per target: wall time of the compile, the child's peak RSS (GNU
 * `/usr/bin/time -v`'s maximum resident set size), that peak minus the peak of a child that only loads the CLI (the baseline,
 * also printed), the ratio of the peak to the model's weight bytes (the external data file's size),
 * and the load time of the artifact (C: `model_load_weights` of the mmapped weights.bin, which packs
 * the LUT layers, and `model_load_packed` of weights.bin and the packed image `make` writes
 * (weights.packed.bin), both mmapped, in a small loader program built next to it; wasm: the
 * artifact's `load()` in Node).
 *
 *   npm run bench:compile [-- --model llama1b|bitnet2b|llama8b] [--layers N] [--target c|wasm|both] [--no-load] [--keep]
 *
 * The model is cached in out/bench-compile/ (same options: same bytes; see llm-model.ts's invariant).
 * `writeExternalModel` is also what test/e2e/compile-memory.test.ts writes its model with.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { type IModelProto, onnx } from '../compiler/onnx/proto.js';
import { BITNET_2B, buildBuilderDecoderProto, type DecoderOptions, LLAMA_1B, LLAMA_8B_2BIT } from './llm-model.js';

const USAGE =
  'usage: npm run bench:compile -- [--model llama1b|bitnet2b|llama8b] [--layers N] [--target c|wasm|both] [--no-load] [--keep]\n';

/** The shapes `--model` names (bench/llm-model.ts): the 1B-class 4-bit decoder (default) and two 2-bit ones. */
const MODELS: Readonly<Record<string, { title: string; opts: DecoderOptions }>> = {
  llama1b: { title: '1B-class (Llama-3.2-1B-shaped) 4-bit', opts: LLAMA_1B },
  bitnet2b: { title: 'BitNet-b1.58-2B-shaped ternary 2-bit', opts: BITNET_2B },
  llama8b: { title: '8B-class (Llama-3-8B layers, vocab 32000) 2-bit', opts: LLAMA_8B_2BIT },
};

/** Initializers at least this large go to external data. */
const EXTERNAL_MIN_BYTES = 1024;

/**
 * Writes ModelProto `bytes` as `dir/model.onnx` with every raw initializer of EXTERNAL_MIN_BYTES or
 * more moved to `dir/model.onnx.data` (16-byte aligned offsets). Returns the model path and the data
 * file's size (the weight bytes).
 */
export function writeExternalModel(bytes: Uint8Array | IModelProto, dir: string): { model: string; weightBytes: number } {
  fs.mkdirSync(dir, { recursive: true });
  const m = bytes instanceof Uint8Array ? onnx.ModelProto.decode(bytes) : onnx.ModelProto.create(bytes);
  const dataName = 'model.onnx.data';
  const fd = fs.openSync(path.join(dir, dataName), 'w');
  let off = 0;
  try {
    for (const t of m.graph?.initializer ?? []) {
      const raw = t.rawData;
      if (!raw || raw.length < EXTERNAL_MIN_BYTES) continue;
      const at = Math.ceil(off / 16) * 16;
      fs.writeSync(fd, raw, 0, raw.length, at);
      off = at + raw.length;
      t.rawData = new Uint8Array(0);
      t.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
      t.externalData = [
        { key: 'location', value: dataName },
        { key: 'offset', value: String(at) },
        { key: 'length', value: String(raw.length) },
      ];
    }
  } finally {
    fs.closeSync(fd);
  }
  const model = path.join(dir, 'model.onnx');
  fs.writeFileSync(model, onnx.ModelProto.encode(m).finish());
  return { model, weightBytes: off };
}

/** GNU time, which measures a child's peak RSS (`-v`: "Maximum resident set size"). */
const TIME = '/usr/bin/time';

/** What a child compile reports (JSON on its last stdout line). */
export interface ChildReport {
  rc: number;
  /** Wall time of `main(['compile', ...])` in ms. */
  ms: number;
  /** Peak resident set of the child process in bytes (GNU time's, not process.resourceUsage's: see childCompile). */
  maxRss: number;
}

/**
 * Runs `lutc compile <args>` in a child Node process (dist/ must be built) and returns its wall time
 * and peak RSS; with no args the child only loads the CLI (the RSS baseline).
 */
export function childCompile(args: string[], env: NodeJS.ProcessEnv = process.env): ChildReport & { stderr: string } {
  // dist/bench/compile.js finds dist/compiler/cli.js beside it; bench/compile.ts (tests) the built one in dist/
  const here = path.dirname(fileURLToPath(import.meta.url));
  const built = [path.join(here, '..', 'compiler', 'cli.js'), path.join(here, '..', 'dist', 'compiler', 'cli.js')].find((f) =>
    fs.existsSync(f),
  );
  if (!built) throw new Error('childCompile needs the built CLI (npm run build)');
  const cli = pathToFileURL(built).href;
  const script = `const { main } = await import(${JSON.stringify(cli)});
const args = ${JSON.stringify(args)};
const t = performance.now();
const rc = args.length ? await main(['compile', ...args]) : 0;
const ms = performance.now() - t;
process.stdout.write('\\n' + JSON.stringify({ rc, ms }) + '\\n');`;
  // /usr/bin/time reports the rusage of its own child: a process whose ru_maxrss does not start at this
  // (possibly large) process's RSS, which a child of ours inherits across fork + exec on Linux
  const r = spawnSync(TIME, ['-v', process.execPath, '--input-type=module', '-e', script], { encoding: 'utf8', env, maxBuffer: 1 << 28 });
  const last = (r.stdout ?? '').trim().split('\n').pop() ?? '';
  const kb = /Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr ?? '');
  let rep: ChildReport;
  try {
    rep = JSON.parse(last) as ChildReport;
  } catch {
    throw new Error(`child compile failed (status ${r.status}, signal ${r.signal}):\n${r.stderr}`);
  }
  if (!kb) throw new Error(`${TIME} -v printed no maximum resident set size:\n${r.stderr}`);
  return { ...rep, maxRss: Number(kb[1]) * 1024, stderr: r.stderr ?? '' };
}

/**
 * C load times (ms): `pack`, model_load_weights of the mmapped weights.bin (hash, unpack and pack
 * every LUT layer for this ISA), which also writes the packed image (model_save_packed, untimed) that
 * `make` writes as weights.packed.bin; `packed`, model_load_packed of weights.bin and that image, both
 * mmapped (hash, no packing). A small loader program built next to the artifact.
 */
function cLoadMs(dir: string): { pack: number; packed: number } {
  const src = `#define _POSIX_C_SOURCE 199309L
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include "model.h"
static void *map(const char *path, size_t *n) {
  int fd = open(path, O_RDONLY); struct stat st; if (fd < 0 || fstat(fd, &st)) exit(2);
  void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0); if (p == MAP_FAILED) exit(3);
  *n = (size_t)st.st_size; return p;
}
int main(int argc, char **argv) {
  size_t n, pn = 0; void *p = map(argv[1], &n), *pk = NULL;
  const int packed = argc > 3 && !strcmp(argv[3], "packed");
  if (packed) pk = map(argv[2], &pn);
  struct timespec a, b; clock_gettime(CLOCK_MONOTONIC, &a);
  int rc = packed ? model_load_packed(p, n, pk, pn) : model_load_weights(p, n);
  clock_gettime(CLOCK_MONOTONIC, &b);
  if (rc) { fprintf(stderr, "load: %d\\n", rc); return 4; }
  if (!packed && argc > 2) {
    size_t sn = model_packed_size(); void *img = malloc(sn); FILE *f = fopen(argv[2], "wb");
    if (!img || !f || model_save_packed(img, sn) || fwrite(img, 1, sn, f) != sn || fclose(f)) return 5;
  }
  printf("%.3f\\n", (b.tv_sec - a.tv_sec) * 1e3 + (b.tv_nsec - a.tv_nsec) / 1e6);
  return 0;
}
`;
  fs.writeFileSync(path.join(dir, 'bench-load.c'), src);
  const exe = path.join(dir, 'bench-load');
  execFileSync(
    'cc',
    [
      '-O2',
      '-march=native',
      '-std=c99',
      '-ffp-contract=off',
      '-fno-fast-math',
      '-I',
      dir,
      path.join(dir, 'model.c'),
      path.join(dir, 'bench-load.c'),
      '-o',
      exe,
      '-lm',
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const w = path.join(dir, 'weights.bin');
  const img = path.join(dir, 'weights.packed.bin');
  const pack = Number(execFileSync(exe, [w, img], { encoding: 'utf8' }).trim());
  const packed = Number(execFileSync(exe, [w, img, 'packed'], { encoding: 'utf8' }).trim());
  return { pack, packed };
}

/** WASM load time: the artifact's `load()` in this process (ms). */
async function wasmLoadMs(dir: string): Promise<number> {
  const mod = (await import(pathToFileURL(path.join(path.resolve(dir), 'model.mjs')).href)) as { load(): Promise<unknown> };
  const t = performance.now();
  await mod.load();
  return performance.now() - t;
}

/** Flags every bench compile gets. */
const QUIET: string[] = ['--quiet'];

const gb = (b: number) => `${(b / 1e9).toFixed(2)} GB`;

async function main(argv: string[]): Promise<void> {
  let model = 'llama1b';
  let layers: number | undefined;
  let targets = ['c', 'wasm'];
  let load = true;
  let keep = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--model') {
      model = argv[++i] ?? '';
      if (!MODELS[model]) throw new Error(`--model is ${Object.keys(MODELS).join(', ')}\n${USAGE}`);
    } else if (a === '--layers') {
      layers = Number(argv[++i]);
      if (!Number.isInteger(layers) || layers < 1) throw new Error(`--layers needs a positive integer\n${USAGE}`);
    } else if (a === '--target') {
      const t = argv[++i];
      if (t !== 'c' && t !== 'wasm' && t !== 'both') throw new Error(`--target is c, wasm or both\n${USAGE}`);
      targets = t === 'both' ? ['c', 'wasm'] : [t];
    } else if (a === '--no-load') load = false;
    else if (a === '--keep') keep = true;
    else if (a === '-h' || a === '--help') {
      process.stdout.write(USAGE);
      return;
    } else throw new Error(`unknown option '${a}'\n${USAGE}`);
  }
  const say = (m: string) => process.stderr.write(`bench:compile: ${m}\n`);
  const root = path.resolve('out', 'bench-compile');
  const shape = MODELS[model]!;
  const L = layers ?? shape.opts.layers!;
  const modelDir = path.join(root, `${model}-L${L}-s1`);
  let weightBytes: number;
  const modelPath = path.join(modelDir, 'model.onnx');
  if (fs.existsSync(modelPath) && fs.existsSync(`${modelPath}.data`)) {
    weightBytes = fs.statSync(`${modelPath}.data`).size;
    say(`reusing ${modelDir}`);
  } else {
    const t = performance.now();
    // the proto object, not bytes: an 8B-shaped model is past protobuf's 2 GiB message limit until its weights move out
    const proto = buildBuilderDecoderProto({ ...shape.opts, layers: L, maxPos: 2048, seed: 1, accuracyLevel: 4 });
    weightBytes = writeExternalModel(proto, modelDir).weightBytes;
    say(`generated the ${L}-layer ${shape.title} decoder in ${((performance.now() - t) / 1e3).toFixed(1)} s`);
  }
  const base = childCompile([]);
  say(`model ${modelPath}: ${gb(weightBytes)} of weights in external data; baseline child RSS ${gb(base.maxRss)}`);
  const rows: string[] = [];
  for (const target of targets) {
    const out = path.join(root, `out-${target}-${model}-L${L}`);
    fs.rmSync(out, { recursive: true, force: true });
    const r = childCompile([
      modelPath,
      '--target',
      target,
      '--dim',
      'batch_size=1',
      ...['sequence_length=128', 'past_sequence_length=2048', 'total_sequence_length=2048'].flatMap((d) => ['--max-dim', d]),
      '-o',
      out,
      ...QUIET,
    ]);
    if (r.rc !== 0) throw new Error(`lutc compile --target ${target} failed (${r.rc}):\n${r.stderr}`);
    const c = load && target === 'c' ? cLoadMs(out) : undefined;
    const loadMs = load ? (c ? c.pack : await wasmLoadMs(out)) : Number.NaN;
    const loadCol = !load ? '-' : c ? `${c.pack.toFixed(0)} ms (packed image: ${c.packed.toFixed(0)} ms)` : `${loadMs.toFixed(0)} ms`;
    const wb = fs.existsSync(path.join(out, 'weights.bin')) ? fs.statSync(path.join(out, 'weights.bin')).size : 0;
    rows.push(
      `| ${target} | ${(r.ms / 1e3).toFixed(1)} s | ${gb(r.maxRss)} | ${gb(r.maxRss - base.maxRss)} | ${(r.maxRss / weightBytes).toFixed(2)}x | ${gb(wb)} | ${loadCol} |`,
    );
    if (!keep) fs.rmSync(out, { recursive: true, force: true });
  }
  process.stdout.write(
    `\n${L}-layer ${shape.title} decoder, ${gb(weightBytes)} of weights (external data), baseline child RSS ${gb(base.maxRss)}\n\n` +
      '| target | compile wall | peak RSS | peak - baseline | peak / weights | weights.bin | load |\n|---|---|---|---|---|---|---|\n' +
      `${rows.join('\n')}\n`,
  );
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).catch((e) => {
    process.stderr.write(`bench:compile: ${(e as Error).message}\n`);
    process.exitCode = 1;
  });
}
