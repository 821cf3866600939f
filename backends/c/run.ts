/**
 * `lutc run --target c`: renders the model (backends/c/model/emit.ts), builds the harness with the
 * system C compiler into a cache keyed by a hash of the sources, compiler and flags (toolchain.ts
 * buildC: a hit reuses the binary), runs it on .npy inputs in a temporary folder and reads the
 * outputs back through the outputs.json it writes. Weights travel as a side file at run time
 * (or are embedded in model.c, then part of the hash), so a cached binary never runs stale weights.
 * A forced `--isa` this host cannot execute (neon off AArch64, avx2/avx512 off x86), or whose path the
 * compiler cannot build here (the prelude's `#error`), is LUT5163 naming the ISA and the host.
 * The harness runs with `-r 1`; the wall time of model_run it prints on stderr (parseHarnessTime)
 * goes to `opts.onRun`. `threads` (run/generate --threads) becomes the artifact's MODEL_THREADS and
 * the harness's `-t`, built with -fopenmp when above 1 (one thread, with a warning, when the compiler
 * cannot); results are bit-identical for every thread count.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fail, isDiagCode, LutcError } from '../../base/diagnostics.js';
import type { GenerateOptions, GenerateResult } from '../../compiler/generate.js';
import { readNpyFile, writeNpy } from '../../compiler/npy.js';
import { makeTensor } from '../../ir/tensor.js';
import type { Graph, Tensor } from '../../ir/types.js';
import { rethrowCoded } from '../artifact-runtime.js';
import type { LoadedArtifact, RunOptions } from '../target-info.js';
import type { CIsa } from './csrc-prelude.js';
import { type CModelOptions, emitModel } from './model/emit.js';
import { buildC, canCompile } from './toolchain.js';

/** Options of runArtifact beyond CompileOptions. */
export interface CRunOptions extends CModelOptions {
  /** Compiler flags (default: $LUTC_C_FLAGS split on spaces, else -O2 -march=native; generate: speedCFlags). */
  cflags?: string[];
  /** Threads (> 1 builds with -fopenmp when the C compiler has it, else runs on one thread). */
  threads?: number;
}

/** $LUTC_C_FLAGS split on spaces when set, else `fallback`. */
function envCFlags(fallback: string[]): string[] {
  const env = process.env.LUTC_C_FLAGS?.trim();
  return env ? env.split(/\s+/) : fallback;
}

/** Default optimization flags of `lutc run`: -O2 compiles about 2x faster than -O3 (same bits: -ffp-contract=off). */
export function defaultCFlags(): string[] {
  return envCFlags(['-O2', '-march=native']);
}

/**
 * Flags where speed is the point (generate, `lutc bench`, bench:llm): the generated Makefile's
 * `-O3 -march=native`, so a timing is the artifact's own; $LUTC_C_FLAGS overrides. (-O2 left the
 * AVX-512 LUT tiles' accumulator arrays partly in memory: a 4-layer 1B-shaped decode step took
 * 15.0 ms at -O2 and 11.5 ms at -O3.)
 */
export function speedCFlags(): string[] {
  return envCFlags(['-O3', '-march=native']);
}

/** Builds (or reuses) the harness binary for an emitted model; returns its path. */
export function buildModelBinary(files: Record<string, string | Uint8Array>, flags: string[]): string {
  const sources: Record<string, string> = {};
  for (const f of ['model.h', 'model.c', 'main.c']) sources[f] = files[f] as string;
  return buildC({ sources, flags, ldflags: ['-lm'] });
}

/**
 * The time per run in ms from the harness's `-r` line (`model: 12.34 us per run (wall time, 1 runs)`
 * or `model: 1.234 ms per run ...`); undefined when `stderr` has none.
 */
export function parseHarnessTime(stderr: string): number | undefined {
  const m = /^model: ([0-9.]+) (us|ms) per run/m.exec(stderr);
  return m ? Number(m[1]) / (m[2] === 'us' ? 1000 : 1) : undefined;
}

/** The host architectures (process.arch) that can execute each forced ISA path. */
const ISA_HOSTS: Record<CIsa, readonly string[] | undefined> = {
  scalar: undefined,
  avx2: ['x64', 'ia32'],
  avx512: ['x64'],
  neon: ['arm64'],
};

/** `run --isa`: the harness is built and executed here, so the path must be one this host runs (LUT5163). */
export function checkIsaHost(isa: CIsa, arch: string = process.arch): void {
  const hosts = ISA_HOSTS[isa];
  if (hosts && !hosts.includes(arch))
    fail(
      'LUT5163',
      `--isa ${isa}: 'lutc run' builds and executes the model on this host (${arch}), which cannot run the ${isa} path (it needs ${hosts.join(' or ')}); use 'lutc compile --isa ${isa}' and build the artifact on such a machine, or run with --isa scalar`,
    );
}

/** Builds with a forced ISA; the prelude's `#error "lutc: ... path needs ..."` (the compiler lacks the ISA's flags) is LUT5163. */
function buildForcedIsa(files: Record<string, string | Uint8Array>, flags: string[], isa: CIsa): string {
  try {
    return buildModelBinary(files, flags);
  } catch (e) {
    const m = e instanceof LutcError ? /#\s*error\s+"(lutc: [^"]*)"/.exec(e.diagnostics[0]?.message ?? '') : null;
    if (!m) throw e;
    fail('LUT5163', `--isa ${isa}: the C compiler cannot build the ${isa} path with ${flags.join(' ')} on this host: ${m[1]}`);
  }
}

/** Tensor as the artifact reads it: f16/bf16 travel as f32 (the artifact computes them in f32). */
function toKernelDtype(t: Tensor): Tensor {
  return t.dtype === 'f16' || t.dtype === 'bf16' ? makeTensor('f32', t.shape, t.data) : t;
}

/**
 * Emits `graph` and builds its harness (flags: the options' or the defaults, -fopenmp for threads > 1
 * when the compiler has it, else one thread with a warning through `progress`,
 * a forced --isa checked against this host) into a fresh folder `prefix*` holding weights.bin when
 * the weights are not embedded; the caller removes the folder.
 */
function buildHarness(graph: Graph, opts: CRunOptions & RunOptions, prefix: string) {
  const emitted = emitModel(graph, opts);
  let threads = opts.threads ?? 1;
  // threads > 1: OpenMP when the compiler links it (a single-thread run keeps the build without it)
  const cc = process.env.CC ?? 'cc';
  if (threads > 1 && !canCompile(cc, ['-fopenmp'])) {
    opts.progress?.(`warning: c: '${cc}' cannot build with -fopenmp; running on 1 thread instead of ${threads}`);
    threads = 1;
  }
  const flags = [...(opts.cflags ?? defaultCFlags()), ...(threads > 1 ? ['-fopenmp'] : [])];
  if (opts.isa) checkIsaHost(opts.isa);
  opts.progress?.(`c: building ${emitted.plan.steps.length} steps with ${flags.join(' ')}`);
  const exe = opts.isa ? buildForcedIsa(emitted.files, flags, opts.isa) : buildModelBinary(emitted.files, flags);
  const dir = fs.mkdtempSync(path.join(tmpdir(), prefix));
  const weights = path.join(dir, 'weights.bin');
  if (!emitted.embedded) fs.writeFileSync(weights, emitted.files['weights.bin']!);
  return { emitted, exe, dir, weights, threads };
}

/** The coded error of a failed harness run (its 'LUTnnnn: ...' line, located at the node), else LUT5162. */
function harnessFailure(graph: Graph, status: number | null, stderr: string, why: string): never {
  const coded = status === 1 ? /^(LUT\d{4}): (?:node "(.*?)" \([^)]*\): )?.*$/m.exec(stderr) : null;
  if (coded && isDiagCode(coded[1]!)) rethrowCoded(Object.assign(new Error(coded[0]), { code: coded[1], node: coded[2] }), graph);
  return fail('LUT5162', `the compiled model failed: ${why}`);
}

/** Builds `graph` (after runPipeline) into a C harness executable, run per call until `close()` removes its folder. */
export function openArtifact(graph: Graph, opts: CRunOptions & RunOptions): LoadedArtifact {
  const { emitted, exe, dir, weights, threads } = buildHarness(graph, opts, 'lutc-c-run-');
  let calls = 0;
  const run = async (inputs: Record<string, Tensor>): Promise<Tensor[]> => {
    const rd = path.join(dir, `run${calls++}`);
    fs.mkdirSync(rd);
    try {
      const args: string[] = ['-o', rd, '-t', String(threads), '-r', '1'];
      if (!emitted.embedded) args.push('-w', weights);
      emitted.inputs.forEach((io, i) => {
        const t = inputs[io.name];
        if (!t) fail('LUT5161', `input '${io.name}' was not given`);
        // a runtime-dim input's shape is checked by model_run against its dims and bounds
        if (!io.placement.dims && t.shape.join(',') !== io.placement.shape.join(','))
          fail('LUT5161', `input '${io.name}' has shape [${t.shape}], the model was compiled for [${io.placement.shape}]`);
        const f = path.join(rd, `in${i}.npy`);
        fs.writeFileSync(f, writeNpy(toKernelDtype(t)));
        args.push(f); // positional, in graph-input order: names may contain '='
      });
      const r = spawnSync(exe, args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', maxBuffer: 64 << 20 });
      if (r.error || r.status !== 0)
        // the harness's coded run-time errors ('LUT5008: node "x" (op): ...') keep their code and node
        harnessFailure(
          graph,
          r.status,
          r.stderr ?? '',
          r.stderr?.trim() || r.error?.message || (r.signal ? `killed by ${r.signal}` : `exit status ${r.status}`),
        );
      const ms = parseHarnessTime(r.stderr);
      if (ms !== undefined) opts.onRun?.({ ms });
      const list = JSON.parse(fs.readFileSync(path.join(rd, 'outputs.json'), 'utf8')) as { file: string }[];
      return graph.outputs.map((v, i) => {
        const t = readNpyFile(path.join(rd, list[i]!.file));
        return t.dtype === v.type.dtype ? t : makeTensor(v.type.dtype, t.shape, t.data);
      });
    } finally {
      fs.rmSync(rd, { recursive: true, force: true });
    }
  };
  return { run, close: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** Runs `graph` (after runPipeline) through the C artifact; outputs in graph-output order. */
export async function runArtifact(graph: Graph, inputs: Record<string, Tensor>, opts: CRunOptions & RunOptions): Promise<Tensor[]> {
  const art = openArtifact(graph, opts);
  try {
    return await art.run(inputs);
  } finally {
    art.close();
  }
}

/**
 * Generation inside the C artifact: the harness's `generate` mode (main.c calling model.c's
 * model_generate: the prompt in one model_run from an empty cache, then one token per run, the cache
 * kept in the artifact), built once, with `gen`'s sampling options as its --temperature, --top-k,
 * --top-p and --seed (model_generate's port of compiler/generate.ts pickToken: the same tokens for a
 * seed); tokens stream from its stdout to `gen.onToken`, the phase times come from its stderr line.
 */
export async function generate(
  graph: Graph,
  opts: CRunOptions & RunOptions,
  prompt: readonly number[],
  gen: GenerateOptions,
): Promise<GenerateResult> {
  const { exe, dir, weights, threads } = buildHarness(
    graph,
    { ...opts, cflags: opts.cflags ?? speedCFlags(), embedWeights: false },
    'lutc-c-gen-',
  );
  try {
    const args = [
      'generate',
      '-w',
      weights,
      '-t',
      String(threads),
      '--input-ids',
      prompt.join(','),
      '--max-new-tokens',
      String(gen.maxNewTokens),
    ];
    if (gen.eosTokenIds?.length) args.push('--eos', gen.eosTokenIds.join(','));
    // sampling: the harness's flags parse to the same doubles (shortest round-trip text, strtod)
    if ((gen.temperature ?? 0) > 0) {
      args.push('--temperature', String(gen.temperature), '--top-k', String(gen.topK ?? 0));
      args.push('--top-p', String(gen.topP ?? 1), '--seed', String(gen.seed ?? 0));
    }
    const child = spawn(exe, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const tokens: number[] = [];
    let pending = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      pending += chunk;
      const parts = pending.split(/\s+/);
      pending = parts.pop() ?? '';
      for (const p of parts)
        if (p) {
          tokens.push(Number(p));
          gen.onToken?.(Number(p));
        }
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    if (pending.trim()) {
      tokens.push(Number(pending.trim()));
      gen.onToken?.(Number(pending.trim()));
    }
    if (code !== 0) harnessFailure(graph, code, stderr, stderr.trim() || `exit status ${code}`);
    const t = /model: prefill (\d+) tokens in ([0-9.]+) ms, decode (\d+) tokens in ([0-9.]+) ms/.exec(stderr);
    return { tokens, logits: [], prefillMs: t ? Number(t[2]) : 0, decodeMs: t ? Number(t[4]) : 0, promptTokens: prompt.length };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
