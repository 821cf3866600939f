/**
 * The artifact-producing commands: `compile` (whole model), `kernel` (one LUT-mpGEMM kernel),
 * `quantize` (float ONNX -> MatMulNBits ONNX) and `bench` (which backends can be measured). Targets
 * and their entry points come from the registry (backends/target.ts); compile and kernel go through
 * the library API (compiler/api.ts) and the shared writer (compiler/artifact.ts), so the CLI and
 * programs share one implementation. Target-specific flags are checked against the target's options
 * schema first (args.ts checkTargetFlags: usage error or warning).
 */
import * as fs from 'node:fs';
import { artifactTargets, type BenchModule, kernelTargets, targetOptionHelp } from '../../backends/target.js';
import { fail } from '../../base/diagnostics.js';
import { compileUnchecked, emitKernel } from '../api.js';
import { writeArtifact } from '../artifact.js';
import type { KernelRequest, Target } from '../options.js';
import { quantizeOnnx, validateQuantized } from '../quantize-onnx.js';
import { defaultCachePath } from '../tune-cache.js';
import {
  COMPILE_OPTS,
  checkTargetFlags,
  compileOptions,
  flag,
  parse,
  parseBits,
  parsePosInt,
  parseTarget,
  requirePositional,
  requireStr,
  str,
  usage,
} from './args.js';
import { type CliIO, notesOf, withProgress } from './io.js';
import { loadModel } from './model.js';

const ARTIFACT = artifactTargets().map((t) => t.name);
const KERNEL = kernelTargets().map((t) => t.name);

export const COMPILE_HELP = `usage: lutc compile <model.onnx|model.lut> --target ${ARTIFACT.join('|')} [options]

Compiles the model: import, LUT lowering and layout passes, then the target backend.

  -t, --target T          ${ARTIFACT.join(', ')}
  -o DIR                  output folder (default: out; written through a temporary folder)
  --bits 1|1.58|2|3|4     quantize float linear layers to this many bits (LUT lowering); a
                          layer it does not apply to (not f32, weights already quantized or
                          ternary) is named in a warning
  --group-size G          quantization group along K (default 128; one larger than a layer's K
                          is clamped to K, with a warning)
  --tables i8|f32         LUT table precision (default i8)
  --symmetric             symmetric weight quantization
  --print-ir-after P|all  print the IR after pass P (or after every pass) on stdout; the
                          written files are then listed on stderr, so stdout is only IR
                          (one pass: a .lut file, e.g. '> model.lut')
  --no-verify             skip the IR verifier after each pass (it names a pass that broke the IR)
  --tune-cache FILE       (c, wasm) the 'lutc tune' cache to take tuned plans from (default
                          $LUTC_TUNE_CACHE, else $XDG_CACHE_HOME/lutc/tune.json, else
                          ~/.cache/lutc/tune.json; a missing file is no cache); stderr says
                          how many layers took tuned plans
  --no-tune-cache         do not read the tune cache
  -q, --quiet             no notes or progress on stderr (warnings and errors still print);
                          without it, long phases show counts and an ETA (a bar on a TTY)
  --shape NAME=D0,D1,...  bind an input's shape; repeatable
  --dim SYM=N             bind a symbolic dimension (frozen); repeatable (a symbol the
                          model's inputs lack is a warning)
  --max-tensor-bytes SIZE the import's memory limit (default 8G; K/M/G/T suffixes): tensor
                          data or values beyond it are LUT1008 before anything is allocated
  --max-dim SYM=N         the upper bound of the runtime dim SYM (the memory plan is sized
                          for it); repeatable. A symbol given neither --dim nor --max-dim
                          stays a runtime dim bounded by the smaller of 256 and the model's
                          stated bound (cos/sin cache or position table rows), noted; where
                          the target refuses it (an op without runtime-dim support) or its
                          memory plan exceeds 1 GiB it is frozen to 1 with a warning
${targetOptionHelp('compile')}
  -h, --help              this help

A target-specific flag given for another target is a usage error.
`;

export const KERNEL_HELP = `usage: lutc kernel --n N --k K --bits B --target ${KERNEL.join('|')} [options]

Emits one LUT-mpGEMM kernel Y[M,N] = X[M,K] W[N,K]^T with its weight packer and ABI header.

  --n N, --k K            weight shape (any sizes; odd ones use remainder tiles)
  --m M                   tokens per call (default 1)
  --bits 1|1.58|2|3|4     weight bits (1.58 = ternary, emitted as 2 bit-planes)
  -t, --target T          ${KERNEL.join(', ')}
  -o DIR                  output folder (default: out)
  --group-size G          weight group along K (default 128, or K when smaller)
  --tables i8|f32         table precision (default i8)
${targetOptionHelp('kernel')}
  --name PREFIX           exported symbol prefix (default lutc)
  -h, --help              this help
`;

export const QUANTIZE_HELP = `usage: lutc quantize <model.onnx> --bits B -o out.onnx [options]

Quantizes the float MatMul/Gemm weights of a model (main graph and If branches) exactly as
\`lutc compile/run --bits\` does (float weights on an exact ternary grid stay lossless) and writes
an ONNX model using com.microsoft MatMulNBits, or DequantizeLinear + MatMul for group sizes
MatMulNBits cannot hold, which onnxruntime runs: a reference for lutc, or lutc input. The written
model is checked (structure, lutc's importer and verifier) before it replaces FILE.

  --bits 1|1.58|2|3|4     weight bits (1.58 = ternary: 2 bits with zero point 1)
  --group-size G          group along K (default 128, or K when smaller)
  --symmetric             symmetric quantization
  -o, --out FILE          output model (required)
  -q, --quiet             no progress on stderr (errors still print)
  -h, --help              this help
`;

export const BENCH_HELP = `usage: lutc bench <model.onnx> [--target ${ARTIFACT.join('|')}] [options]

Runs the model with lutc and with onnxruntime on the same inputs (wasm: onnxruntime-web, timed
interleaved in one process; c: the artifact's harness against onnxruntime-node in alternating
rounds), prints times and ratios, and beside them the compiled model's accuracy: onnxruntime's
outputs against lutc's on the float model and (--bits 2|4) on the MatMulNBits model of the same
weights (exit 1, LUT6013, when the latter disagree; method: bench/README.md). Only targets with a benchmark can be measured (today: ${artifactTargets()
  .filter((t) => t.bench)
  .map((t) => t.name)
  .join(', ')}); lutc says which.

  -t, --target T          ${ARTIFACT.join(', ')} (default: every one with a benchmark)
  --bits, --group-size, --tables, --shape, --dim   as for compile (same warnings)
${targetOptionHelp('bench')}
  -q, --quiet             no notes or progress on stderr (warnings, errors and the report still print)
  -h, --help              this help
`;

/** Implements `lutc compile`. */
export async function cmdCompile(argv: string[], io: CliIO): Promise<number> {
  const p = parse(
    'compile',
    argv,
    {
      ...COMPILE_OPTS,
      out: { type: 'string', short: 'o' },
      'tune-cache': { type: 'string' },
      'no-tune-cache': { type: 'boolean' },
      quiet: { type: 'boolean', short: 'q' },
    },
    1,
  );
  if (p.values.help) return (io.out(COMPILE_HELP), 0);
  const model = requirePositional('compile', p, 'model');
  const target = parseTarget('compile', str(p, 'target'), ARTIFACT);
  const opts = compileOptions('compile', p, target, (m) => io.err(m));
  // the tune cache of `lutc tune` (compiler/tune-cache.ts): targets c and wasm
  const tuneCache = str(p, 'tune-cache');
  if (tuneCache !== undefined && flag(p, 'no-tune-cache')) usage('LUT6003', 'compile: --tune-cache and --no-tune-cache exclude each other');
  if (target === 'c' || target === 'wasm') {
    if (!flag(p, 'no-tune-cache')) opts.tuneCache = tuneCache ?? defaultCachePath();
  } else if (tuneCache !== undefined) usage('LUT6003', `compile: --tune-cache applies to --target c, wasm only, not ${target}`);
  else if (flag(p, 'no-tune-cache'))
    io.err(`warning: compile: --no-tune-cache has no effect on --target ${target} (only c and wasm read the tune cache); ignored`);
  // --quiet: no notes and no progress; warnings (and errors) still print
  const quiet = flag(p, 'quiet');
  opts.progress = notesOf(io, quiet);
  const outDir = str(p, 'out') ?? 'out';
  // counted phases (layers lowered, weights hashed and written) on stderr: compiler/progress.ts
  await withProgress(io, quiet, async () => {
    const res = await compileUnchecked(model, { ...opts, onIrDump: (pass, text) => io.out(`// ----- IR after ${pass} -----\n${text}`) });
    // stdout lists the written files, unless it carries IR dumps (then stderr does, so IR pipes clean)
    const list = opts.printIrAfter === undefined ? io.out : io.err;
    for (const f of writeArtifact(res, outDir)) list(f);
  });
  return 0;
}

/** Implements `lutc kernel`. */
export async function cmdKernel(argv: string[], io: CliIO): Promise<number> {
  const p = parse(
    'kernel',
    argv,
    {
      n: { type: 'string' },
      k: { type: 'string' },
      m: { type: 'string' },
      bits: { type: 'string' },
      target: { type: 'string', short: 't' },
      out: { type: 'string', short: 'o' },
      'group-size': { type: 'string' },
      tables: { type: 'string' },
      isa: { type: 'string' },
      'relaxed-simd': { type: 'boolean' },
      name: { type: 'string' },
    },
    0,
  );
  if (p.values.help) return (io.out(KERNEL_HELP), 0);
  const target = parseTarget('kernel', str(p, 'target'), KERNEL);
  const bits = parseBits('kernel', requireStr('kernel', p, 'bits'));
  const req: KernelRequest = {
    n: parsePosInt('kernel', 'n', requireStr('kernel', p, 'n')),
    k: parsePosInt('kernel', 'k', requireStr('kernel', p, 'k')),
    // Ternary (1.58) is b = 2 with zero point 1 (docs/lut-format.md §1).
    bits: bits === 1.58 ? 2 : bits,
  };
  const m = str(p, 'm');
  if (m !== undefined) req.m = parsePosInt('kernel', 'm', m);
  const g = str(p, 'group-size');
  if (g !== undefined) req.groupSize = parsePosInt('kernel', 'group-size', g);
  const tables = str(p, 'tables');
  if (tables !== undefined) {
    if (tables !== 'i8' && tables !== 'f32') usage('LUT6003', `kernel: invalid --tables '${tables}'; expected i8 or f32`);
    req.tables = tables;
  }
  const isa = str(p, 'isa');
  if (isa !== undefined) {
    if (!['scalar', 'avx2', 'avx512', 'neon'].includes(isa))
      usage('LUT6003', `kernel: invalid --isa '${isa}'; expected scalar, avx2, avx512 or neon`);
    req.isa = isa as KernelRequest['isa'];
  }
  if (flag(p, 'relaxed-simd')) req.wasmFeatures = ['relaxed-simd'];
  checkTargetFlags('kernel', target, req, (msg) => io.err(msg));
  const name = str(p, 'name');
  if (name !== undefined) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) usage('LUT6003', `kernel: invalid --name '${name}'; expected a C identifier`);
    req.name = name;
  }
  const { files } = await emitKernel({ ...req, target });
  for (const f of writeArtifact(files, str(p, 'out') ?? 'out')) io.out(f);
  return 0;
}

/** Implements `lutc quantize`. */
export async function cmdQuantize(argv: string[], io: CliIO): Promise<number> {
  const p = parse(
    'quantize',
    argv,
    {
      bits: { type: 'string' },
      'group-size': { type: 'string' },
      symmetric: { type: 'boolean' },
      out: { type: 'string', short: 'o' },
      quiet: { type: 'boolean', short: 'q' },
    },
    1,
  );
  if (p.values.help) return (io.out(QUANTIZE_HELP), 0);
  const model = requirePositional('quantize', p, 'model');
  const bits = parseBits('quantize', requireStr('quantize', p, 'bits'));
  const out = requireStr('quantize', p, 'out');
  const gs = str(p, 'group-size');
  // absent: the same default as compile/run (ir/lut/quantize.ts DEFAULT_GROUP_SIZE)
  const groupSize = gs === undefined ? undefined : parsePosInt('quantize', 'group-size', gs);
  // Import first: a broken model gets the importer's coded diagnostics, not a protobuf exception.
  await loadModel(model);
  // one progress phase over the linear layers (compiler/progress.ts); --quiet: none
  const q = await withProgress(io, flag(p, 'quiet'), async () =>
    quantizeOnnx(fs.readFileSync(model), { bits, groupSize, symmetric: flag(p, 'symmetric') }),
  );
  // Never write a model onnxruntime or lutc would refuse (LUT4035 and the reasons; nothing written).
  validateQuantized(q, out);
  const tmp = `${out}.lutc-tmp-${process.pid}`;
  try {
    fs.writeFileSync(tmp, q);
    fs.renameSync(tmp, out);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    fail('LUT6012', `cannot write '${out}': ${(e as Error).message}`);
  }
  io.out(out);
  return 0;
}

/** Implements `lutc bench`: each artifact target with a `bench` entry (backends/target.ts). */
export async function cmdBench(argv: string[], io: CliIO): Promise<number> {
  const p = parse('bench', argv, { ...COMPILE_OPTS, quiet: { type: 'boolean', short: 'q' } }, 1);
  if (p.values.help) return (io.out(BENCH_HELP), 0);
  const model = requirePositional('bench', p, 'model');
  const t = str(p, 'target');
  const targets = t === undefined ? ARTIFACT : [parseTarget('bench', t, ARTIFACT)];
  const infos = artifactTargets().filter((x) => targets.includes(x.name));
  const available = infos.filter((x) => x.bench);
  if (!available.length) {
    const runnable: Target[] = infos.map((x) => x.name); // every artifact target has a run entry
    const benched = artifactTargets()
      .filter((x) => x.bench)
      .map((x) => x.name);
    fail(
      'LUT6011',
      `lutc bench cannot measure ${runnable.join(', ')}: only ${benched.join(' and ') || 'no target'} ${benched.length > 1 ? 'have' : 'has'} a model benchmark against onnxruntime (${runnable.map((r) => `'lutc run --target ${r}'`).join(', ')} runs the model)`,
    );
  }
  // every flag is checked (usage errors, warnings) before the first benchmark starts
  // --quiet: no notes or progress (compile's flag, which bench shares); warnings and the report still print
  const quiet = flag(p, 'quiet');
  const notes = notesOf(io, quiet);
  const runs = available.map((x) => ({ target: x.name, bench: x.bench!, opts: compileOptions('bench', p, x.name, notes) }));
  if (!fs.existsSync(model)) fail('LUT6006', 'cannot read model file: no such file', { kind: 'file', file: model });
  const failed: string[] = [];
  for (const { target, bench, opts } of runs) {
    const mod: BenchModule = await bench();
    const r = await withProgress(io, quiet, () => mod.benchModel(model, opts, notes));
    io.out(typeof r === 'string' ? r : r.report);
    if (typeof r !== 'string') failed.push(...r.failed.map((f) => `${target}: ${f}`));
  }
  // a peer that disagrees means one side computes something else: its timing compares nothing
  if (failed.length)
    fail('LUT6013', `bench: onnxruntime's outputs disagree with lutc's (${failed.join('; ')})`, { kind: 'file', file: model });
  return 0;
}
