/**
 * The artifact-producing commands: `compile` (whole model), `kernel` (one LUT-mpGEMM kernel),
 * `quantize` (float ONNX -> MatMulNBits ONNX) and `bench` (which backends can be measured). Backend
 * entry points are loaded on demand (see stages.ts), so each command degrades to a coded diagnostic
 * or, for compile, to writing the final IR, while a backend has not landed.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fail } from '../diagnostics.js';
import type { KernelRequest, Target } from '../options.js';
import { runPipeline } from '../pipeline.js';
import { quantizeOnnx } from '../quantize.js';
import { printGraph } from '../../ir/printer.js';
import { COMPILE_OPTS, compileOptions, flag, parse, parseBits, parsePosInt, parseTarget, requirePositional, requireStr, str, usage } from './args.js';
import type { CliIO } from './io.js';
import { loadModel } from './model.js';
import { backendPart, type BenchModule, type CompileModule, type KernelModule, type RunModule } from './stages.js';

const ARTIFACT_TARGETS: readonly Target[] = ['wasm', 'wgsl', 'c'];

export const COMPILE_HELP = `usage: lutc compile <model.onnx|model.lut> --target wasm|wgsl|c [options]

Compiles the model: import, LUT lowering and layout passes, then the target backend.

  -t, --target T          wasm, wgsl or c
  -o DIR                  output folder (default: out)
  --bits 1|1.58|2|3|4     quantize float linear layers to this many bits (LUT lowering)
  --group-size G          quantization group along K (default 128)
  --tables i8|f32         LUT table precision (default i8)
  --symmetric             symmetric weight quantization
  --print-ir-after P|all  print the IR after pass P (or after every pass) on stdout
  --no-verify             skip the IR verifier after each pass (it names a pass that broke the IR)
  --shape NAME=D0,D1,...  bind an input's shape; repeatable
  --dim SYM=N             bind a symbolic dimension; repeatable
  --threads N             c: threads in the generated code (OpenMP)
  --embed-weights         c: embed the weights in model.c (default: only small models)
  --isa scalar|avx2|avx512|neon  c: force an ISA path (default: the C compiler's macros)
  --wasm-features relaxed-simd   wasm: use relaxed SIMD (Node 20: --experimental-wasm-relaxed-simd)
  -h, --help              this help

While a backend is not available in this build, compile writes the final IR to DIR/model.lut.
`;

export const KERNEL_HELP = `usage: lutc kernel --n N --k K --bits B --target wasm|wgsl|c [options]

Emits one LUT-mpGEMM kernel Y[M,N] = X[M,K] W[N,K]^T with its weight packer and ABI header.

  --n N, --k K            weight shape (any sizes; odd ones use remainder tiles)
  --m M                   tokens per call (default 1)
  --bits 1|1.58|2|3|4     weight bits (1.58 = ternary, emitted as 2 bit-planes)
  -t, --target T          wasm, wgsl or c
  -o DIR                  output folder (default: out)
  --group-size G          weight group along K (default 128, or K when smaller)
  --tables i8|f32         table precision (default i8)
  --isa scalar|avx2|avx512|neon   C only: force an ISA path
  --relaxed-simd          WASM only: use relaxed SIMD
  --name PREFIX           exported symbol prefix (default lutc)
  -h, --help              this help
`;

export const QUANTIZE_HELP = `usage: lutc quantize <model.onnx> --bits B -o out.onnx [options]

Quantizes the float MatMul/Gemm weights of a model and writes an ONNX model using
com.microsoft MatMulNBits (which onnxruntime runs), for use as lutc input or as a reference.

  --bits 2|3|4            weight bits (1.58 = ternary: 2 bits with zero point 1)
  --group-size G          block size along K (default 128)
  --symmetric             symmetric quantization
  -o FILE                 output model (required)
  -h, --help              this help
`;

export const BENCH_HELP = `usage: lutc bench <model.onnx> [--target wasm|c|wgsl] [options]

Runs the model with lutc and with onnxruntime and prints the time ratios. Only targets whose
backend provides benchmarking in this build can be measured; lutc says which.

  -t, --target T          wasm, c or wgsl (default: every available one)
  --bits, --group-size, --tables, --shape, --dim   as for compile
  -h, --help              this help
`;

/** Implements `lutc compile`. */
export async function cmdCompile(argv: string[], io: CliIO): Promise<number> {
  const p = parse('compile', argv, { ...COMPILE_OPTS, out: { type: 'string', short: 'o' } }, 1);
  if (p.values.help) return io.out(COMPILE_HELP), 0;
  const model = requirePositional('compile', p, 'model');
  const target = parseTarget('compile', str(p, 'target'), ARTIFACT_TARGETS);
  const opts = compileOptions('compile', p, target);
  opts.progress = (m) => io.err(m);
  const outDir = str(p, 'out') ?? 'out';
  let g = await loadModel(model, { dimBindings: opts.dimBindings, inputShapes: opts.inputShapes });
  // Artifacts have static shapes: symbols the user left unbound default to 1, said on stderr (as `run` does).
  const unbound = new Set(g.inputs.flatMap((v) => v.type.shape.filter((d): d is string => typeof d === 'string')));
  if (unbound.size) {
    opts.dimBindings = { ...opts.dimBindings };
    for (const sym of unbound) {
      opts.dimBindings[sym] = 1;
      io.err(`note: symbolic dim '${sym}' is not bound: compiling with ${sym} = 1 (bind it with --shape or --dim)`);
    }
    g = await loadModel(model, { dimBindings: opts.dimBindings, inputShapes: opts.inputShapes });
  }
  const res = runPipeline(g, opts);
  for (const d of res.irDumps) io.out(`// ----- IR after ${d.pass} -----\n${d.text}`);
  const backend = await backendPart<CompileModule>(target, 'compile', 'compileModel');
  mkdirOut(outDir);
  if (backend) {
    const r = await backend.compileModel(res.graph, opts, outDir);
    const files = r && 'files' in r ? r.files : fs.readdirSync(outDir);
    for (const f of files) io.out(path.join(outDir, path.basename(f)));
    return 0;
  }
  const file = path.join(outDir, 'model.lut');
  fs.writeFileSync(file, printGraph(res.graph));
  io.err(`note: the ${target} backend is not available yet in this build; wrote the final IR instead`);
  io.out(file);
  return 0;
}

/** Implements `lutc kernel`. */
export async function cmdKernel(argv: string[], io: CliIO): Promise<number> {
  const p = parse('kernel', argv, {
    n: { type: 'string' }, k: { type: 'string' }, m: { type: 'string' }, bits: { type: 'string' },
    target: { type: 'string', short: 't' }, out: { type: 'string', short: 'o' }, 'group-size': { type: 'string' },
    tables: { type: 'string' }, isa: { type: 'string' }, 'relaxed-simd': { type: 'boolean' }, name: { type: 'string' },
  }, 0);
  if (p.values.help) return io.out(KERNEL_HELP), 0;
  const target = parseTarget('kernel', str(p, 'target'), ARTIFACT_TARGETS);
  const bits = parseBits('kernel', requireStr('kernel', p, 'bits'));
  const req: KernelRequest = {
    n: parsePosInt('kernel', 'n', requireStr('kernel', p, 'n')),
    k: parsePosInt('kernel', 'k', requireStr('kernel', p, 'k')),
    // Ternary (1.58) is b = 2 with zero point 1 (DESIGN.md §2).
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
    if (target !== 'c') usage('LUT6003', `kernel: --isa applies to --target c only`);
    if (!['scalar', 'avx2', 'avx512', 'neon'].includes(isa)) usage('LUT6003', `kernel: invalid --isa '${isa}'; expected scalar, avx2, avx512 or neon`);
    req.isa = isa as KernelRequest['isa'];
  }
  if (flag(p, 'relaxed-simd')) {
    if (target !== 'wasm') usage('LUT6003', `kernel: --relaxed-simd applies to --target wasm only`);
    req.wasmFeatures = ['relaxed-simd'];
  }
  const name = str(p, 'name');
  if (name !== undefined) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) usage('LUT6003', `kernel: invalid --name '${name}'; expected a C identifier`);
    req.name = name;
  }
  const backend = await backendPart<KernelModule>(target, 'kernel', 'emitKernel');
  if (!backend) fail('LUT6010', `target '${target}' is not available yet: no emitKernel in backends/${target}/kernel.ts`);
  const { files } = await backend.emitKernel(req);
  const outDir = str(p, 'out') ?? 'out';
  mkdirOut(outDir);
  for (const [f, data] of Object.entries(files)) {
    const dest = path.join(outDir, f);
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    fs.writeFileSync(dest, data);
    io.out(dest);
  }
  return 0;
}

/** Implements `lutc quantize`. */
export async function cmdQuantize(argv: string[], io: CliIO): Promise<number> {
  const p = parse('quantize', argv, { bits: { type: 'string' }, 'group-size': { type: 'string' }, symmetric: { type: 'boolean' }, out: { type: 'string', short: 'o' } }, 1);
  if (p.values.help) return io.out(QUANTIZE_HELP), 0;
  const model = requirePositional('quantize', p, 'model');
  const bits = parseBits('quantize', requireStr('quantize', p, 'bits'));
  const out = requireStr('quantize', p, 'out');
  const gs = str(p, 'group-size');
  const groupSize = gs === undefined ? 128 : parsePosInt('quantize', 'group-size', gs);
  // Import first: a broken model gets the importer's coded diagnostics, not a protobuf exception.
  await loadModel(model);
  const q = quantizeOnnx(fs.readFileSync(model), { bits, groupSize, symmetric: flag(p, 'symmetric') });
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

/** Implements `lutc bench` (the backends provide `benchModel` as they land). */
export async function cmdBench(argv: string[], io: CliIO): Promise<number> {
  const p = parse('bench', argv, COMPILE_OPTS, 1);
  if (p.values.help) return io.out(BENCH_HELP), 0;
  const model = requirePositional('bench', p, 'model');
  const t = str(p, 'target');
  const targets = t === undefined ? ARTIFACT_TARGETS : [parseTarget('bench', t, ARTIFACT_TARGETS)];
  const available: { target: Target; mod: BenchModule }[] = [];
  const runnable: Target[] = [];
  for (const target of targets) {
    const mod = await backendPart<BenchModule>(target, 'bench', 'benchModel');
    if (mod) available.push({ target, mod });
    else if (await backendPart<RunModule>(target, 'run', 'runArtifact')) runnable.push(target);
  }
  if (!available.length) {
    const why = runnable.length ? `; ${runnable.join(', ')} can run models but has no benchModel yet` : '';
    fail('LUT6011', `no backend can be benchmarked in this build (${targets.join(', ')} checked${why})`);
  }
  if (!fs.existsSync(model)) fail('LUT6006', 'cannot read model file: no such file', { kind: 'file', file: model });
  for (const { target, mod } of available) {
    const opts = compileOptions('bench', p, target);
    io.out(await mod.benchModel(model, opts, (m) => io.err(m)));
  }
  return 0;
}

function mkdirOut(dir: string): void {
  try {
    fs.mkdirSync(dir, { recursive: true });
  } catch (e) {
    fail('LUT6012', `cannot create output folder '${dir}': ${(e as Error).message}`);
  }
}
