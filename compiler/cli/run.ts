/**
 * `lutc run`: runs a model on .npy inputs (or seeded random ones) with the reference interpreter or a
 * backend artifact and writes one .npy per graph output plus outputs.json. Everything is computed and
 * serialized before the first byte is written, and files land through the shared writer
 * (compiler/artifact.ts: a temporary folder renamed into place), so an error never leaves partial
 * output in --out. The target's run entry comes from the registry (backends/target.ts). stderr gets
 * `run: TIME (target T)`: the wall time of the target's run call alone (RunReport: not the import,
 * pipeline, compile or C build), with the WebGPU adapter for wgsl. `--compare float|ort` adds one
 * stdout line per output with its max-abs and rel-L2 error against the float model on the reference
 * interpreter or onnxruntime-node (compiler/cli/compare.ts).
 *
 * Codes: LUT6005 input binding (unknown name, duplicate, too many), LUT6007 input dtype mismatch,
 * LUT6008 input shape mismatch, LUT6009 shapes too large to allocate (inputs, outputs and, for ref,
 * every value; checked before allocating), LUT6012 output folder problems.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { allTargets, getTarget, targetOptionHelp } from '../../backends/target.js';
import { fail, type Location } from '../../base/diagnostics.js';
import { isFloat, makeTensor } from '../../ir/tensor.js';
import type { DType, Graph, Tensor } from '../../ir/types.js';
import { writeArtifact } from '../artifact.js';
import { unknownDimWarnings } from '../input-dims.js';
import { outputFileName, readNpyFile, writeNpy } from '../npy.js';
import { runPipeline } from '../pipeline.js';
import { COMPILE_OPTS, compileOptions, list, parse, parsePosInt, parseTarget, requirePositional, splitLastEq, str, usage } from './args.js';
import { type CompareMode, compareLine, loadOrtNode, outputError, parseCompare, runOrt } from './compare.js';
import type { CliIO } from './io.js';
import { bindDims, checkAllocatable, concreteShape, loadModel, randomTensor, rng } from './model.js';

const TARGETS = allTargets().map((t) => t.name);

export const RUN_HELP = `usage: lutc run <model.onnx|model.lut> --target ${TARGETS.join('|')} [options]

Runs the model and writes its outputs.

  -t, --target T          ref (reference interpreter), ${TARGETS.filter((t) => t !== 'ref').join(', ')}
  --input NAME=FILE.npy   an input by name (split at the last '='); repeatable
  --input FILE.npy        an input in graph-input order (after those given by name)
  --out DIR               write one .npy per graph output (name with characters outside
                          [A-Za-z0-9._-] replaced by '_') and DIR/outputs.json:
                          [{name, file, shape, dtype}] in graph-output order
                          (without --out, outputs are summarized on stdout)
  --seed N                seed for inputs not given (default 0): floats uniform in [-1, 1),
                          integers in [0, 4), bools 0/1
  --shape NAME=D0,D1,...  shape of input NAME (binds its symbolic dims); repeatable
  --max-tensor-bytes SIZE the import's memory limit (default 8G; K/M/G/T suffixes): tensor
                          data or values beyond it are LUT1008 before anything is allocated
  --dim SYM=N             bind symbolic dimension SYM; repeatable (a symbol the model's inputs
                          lack is a warning)
  --bits 1|1.58|2|3|4     quantize float linear layers to this many bits (LUT lowering); a
                          layer it does not apply to (not f32, weights already quantized or
                          ternary) is named in a warning
  --group-size G          quantization group along K (default 128; one larger than a layer's K
                          is clamped to K, with a warning)
  --tables i8|f32         LUT table precision (default i8)
  --symmetric             symmetric weight quantization
  --print-ir-after P|all  print the IR after pass P (or every pass) on stdout
  --no-verify             skip the IR verifier after each pass (it names a pass that broke the IR)
  --compare float|ort     also print, per output, max-abs and rel-L2 error against the float
                          model on the reference interpreter without --bits (float: what
                          quantization costs) or onnxruntime-node on the .onnx file (ort)
${targetOptionHelp('run')}
  -h, --help              this help

Symbolic dims are bound by the shapes of the given .npy inputs; unbound ones default to 1 (noted
on stderr). stderr also gets the wall time of the target's run call ('run: 12.34 us (target wasm)';
not the compile or build), and for wgsl the WebGPU adapter that ran it. A target-specific flag
given for another target is a usage error.
Exit status: 0 ok, 1 diagnosed error (nothing written), 2 usage error.
`;

/** Implements `lutc run`. */
export async function cmdRun(argv: string[], io: CliIO): Promise<number> {
  const p = parse(
    'run',
    argv,
    {
      ...COMPILE_OPTS,
      input: { type: 'string', short: 'i', multiple: true },
      out: { type: 'string', short: 'o' },
      seed: { type: 'string' },
      compare: { type: 'string' },
    },
    1,
  );
  if (p.values.help) return (io.out(RUN_HELP), 0);
  const model = requirePositional('run', p, 'model');
  const target = parseTarget('run', str(p, 'target'), TARGETS);
  const opts = compileOptions('run', p, target, (m) => io.err(m));
  const compare: CompareMode | undefined = parseCompare(str(p, 'compare'), model);
  const seedArg = str(p, 'seed');
  const seed = seedArg === undefined ? 0 : parsePosInt('run', 'seed', seedArg, 0);
  const outDir = str(p, 'out');
  const inputArgs = list(p, 'input').map((s) => {
    // A bare path may itself contain '=' only if it exists as given; NAME=FILE otherwise.
    const kv = splitLastEq(s);
    if (kv && kv[0] !== '' && !fs.existsSync(s)) return { name: kv[0], file: kv[1] };
    return { name: undefined, file: s };
  });
  for (const a of inputArgs) if (a.file === '') usage('LUT6003', `run: --input '${a.name}=' names no file`);
  if (outDir !== undefined && fs.existsSync(outDir) && !fs.statSync(outDir).isDirectory()) {
    fail('LUT6012', `--out '${outDir}' exists and is not a directory`);
  }
  opts.progress = (m) => io.err(m);
  // The target's run entry (ref: the interpreter, with throttled progress through opts.progress).
  const runner = await getTarget(target).run();
  const ort = compare === 'ort' ? await loadOrtNode() : undefined; // a missing package fails before any work

  // Read every input first: a bad .npy fails before any model work.
  const given = inputArgs.map((a) => ({ ...a, tensor: readNpyFile(a.file) }));
  let g = await loadModel(model, { dimBindings: opts.dimBindings, inputShapes: opts.inputShapes, maxTensorBytes: opts.maxTensorBytes });
  for (const w of unknownDimWarnings(g, { '--dim': opts.dimBindings })) io.err(w);
  const modelLoc: Location = { kind: 'file', file: model };

  // Bind by name, then positionally in graph-input order over the inputs not named.
  const byName = new Map<string, Tensor>();
  const names = g.inputs.map((v) => v.name);
  for (const a of given.filter((x) => x.name !== undefined)) {
    if (!names.includes(a.name!))
      fail('LUT6005', `--input names '${a.name}', which is not a graph input (inputs: ${names.join(', ') || 'none'})`, modelLoc);
    if (byName.has(a.name!)) fail('LUT6005', `input '${a.name}' is given twice`, modelLoc);
    byName.set(a.name!, a.tensor);
  }
  const free = names.filter((n) => !byName.has(n));
  const positional = given.filter((x) => x.name === undefined);
  if (positional.length > free.length) {
    fail(
      'LUT6005',
      `${positional.length} positional --input files but only ${free.length} graph inputs left to fill (${free.join(', ') || 'none'})`,
      modelLoc,
    );
  }
  positional.forEach((a, i) => byName.set(free[i]!, a.tensor));

  // Check dtypes (converting losslessly where that is unambiguous) and bind symbolic dims.
  const bindings: Record<string, number> = { ...(opts.dimBindings ?? {}) };
  for (const v of g.inputs) {
    const t = byName.get(v.name);
    if (!t) continue;
    const conv = convertInput(t, v.type.dtype, v.name, modelLoc);
    if (conv !== t) io.err(`note: input '${v.name}': converted ${t.dtype} to ${v.type.dtype}`);
    byName.set(v.name, conv);
    const err = bindDims(v.type.shape, t.shape, bindings);
    if (err) fail('LUT6008', `input '${v.name}' has ${err}`, modelLoc);
    const want = opts.inputShapes?.[v.name];
    if (want && want.join(',') !== t.shape.join(','))
      fail('LUT6008', `input '${v.name}' has shape [${t.shape}], but --shape says [${want}]`, modelLoc);
  }
  // Seed the rest.
  const next = rng(seed);
  const notes: string[] = [];
  for (const v of g.inputs) {
    if (byName.has(v.name)) continue;
    const shape = opts.inputShapes?.[v.name] ?? concreteShape(v, bindings, notes);
    checkAllocatable(`input '${v.name}'`, v.type.dtype, shape, modelLoc);
    byName.set(v.name, randomTensor(v.type.dtype, shape, next));
    notes.push(`input '${v.name}' not given: using seeded random ${v.type.dtype} [${shape.join(', ')}] (seed ${seed})`);
  }
  for (const n of notes) io.err(`note: ${n}`);

  // Inputs with symbolic dims: re-import with every input's concrete shape so shape inference and
  // the pipeline see static shapes.
  if (g.inputs.some((v) => v.type.shape.some((d) => typeof d === 'string'))) {
    const inputShapes: Record<string, number[]> = {};
    for (const v of g.inputs) inputShapes[v.name] = byName.get(v.name)!.shape;
    g = await loadModel(model, { dimBindings: bindings, inputShapes });
  }
  const inputs: Record<string, Tensor> = Object.fromEntries(byName);

  const res = runPipeline(g, opts);
  for (const d of res.irDumps) io.out(`// ----- IR after ${d.pass} -----\n${d.text}${d.text.endsWith('\n') ? '' : '\n'}`);
  // Host tensors (outputs; for ref every value) must fit before anything is allocated.
  const hostValues = target === 'ref' ? [...res.graph.inputs, ...res.graph.nodes.flatMap((n) => n.outputs)] : res.graph.outputs;
  for (const v of hostValues)
    if (v.type.shape.every((d) => typeof d === 'number'))
      checkAllocatable(`value '${v.name}'`, v.type.dtype, v.type.shape as number[], modelLoc);
  const outputs = await runner.runArtifact(res.graph, inputs, {
    ...opts,
    onRun: (r) => io.err(`run: ${formatTime(r.ms)} (target ${target}${r.device ? `; adapter: ${r.device}` : ''})`),
  });

  // The baseline of --compare, in graph-output order (computed before anything is written).
  let baseline: ({ shape: readonly number[]; data: ArrayLike<number> } | undefined)[] | undefined;
  if (compare === 'float') {
    // A fresh import: the pipeline rewrites its graph in place.
    const inputShapes = Object.fromEntries(Object.entries(inputs).map(([n, t]) => [n, [...t.shape]]));
    const fg = await loadModel(model, { dimBindings: bindings, inputShapes });
    const { printIrAfter: _p, bits: _b, progress: _g, ...rest } = opts;
    const fopts = { ...rest, target: 'ref' as const };
    const ref = await getTarget('ref').run();
    baseline = await ref.runArtifact(runPipeline(fg, fopts).graph, inputs, fopts);
  } else if (ort) {
    baseline = await runOrt(
      ort,
      model,
      inputs,
      res.graph.outputs.map((v) => v.name),
    );
  }

  const files = planOutputs(res.graph, outputs);
  if (outDir !== undefined) {
    const listing =
      JSON.stringify(
        files.map(({ name, file, shape, dtype }) => ({ name, file, shape, dtype })),
        null,
        2,
      ) + '\n';
    writeArtifact({ ...Object.fromEntries(files.map((f) => [f.file, writeNpy(f.tensor)])), 'outputs.json': listing }, outDir);
    for (const f of files) io.out(`${f.name}: ${f.dtype} [${f.shape.join(', ')}] -> ${path.join(outDir, f.file)}`);
  } else {
    for (const f of files) io.out(summarize(f.name, f.tensor));
  }
  if (compare && baseline) {
    files.forEach((f, i) => {
      const want = baseline![i];
      io.out(compareLine(compare, f.name, want ? outputError(f.tensor, want) : { maxAbs: Infinity, relL2: Infinity }));
    });
  }
  return 0;
}

interface OutFile {
  name: string;
  file: string;
  shape: number[];
  dtype: DType;
  tensor: Tensor;
}

/** Output file names, made unique when two names sanitize to the same file. */
function planOutputs(g: Graph, outs: Tensor[]): OutFile[] {
  const used = new Set<string>(['outputs.json']);
  return g.outputs.map((v, i) => {
    let file = outputFileName(v.name);
    for (let k = 1; used.has(file); k++) file = outputFileName(`${v.name}_${k}`);
    used.add(file);
    const t = outs[i]!;
    return { name: v.name, file, shape: [...t.shape], dtype: t.dtype, tensor: t };
  });
}

/** Converts an input to the model's dtype when that is unambiguous (float->float, int->int in range). */
function convertInput(t: Tensor, want: DType, name: string, loc: Location): Tensor {
  if (t.dtype === want) return t;
  const floats = isFloat(t.dtype) && isFloat(want);
  const ints = !isFloat(t.dtype) && !isFloat(want) && t.dtype !== 'bool' && want !== 'bool';
  if (floats) return makeTensor(want, t.shape, t.data);
  if (ints) {
    const probe = makeTensor(want, [1]);
    for (const x of t.data) {
      (probe.data as Float64Array)[0] = x;
      if (probe.data[0] !== x) fail('LUT6007', `input '${name}' (${t.dtype}) has value ${x}, which does not fit the model's ${want}`, loc);
    }
    return makeTensor(want, t.shape, t.data);
  }
  fail('LUT6007', `input '${name}' is ${t.dtype}, the model expects ${want}`, loc);
}

/** A wall time: microseconds below 1 ms (`12.34 us`), else milliseconds (`1.234 ms`). */
export function formatTime(ms: number): string {
  return ms < 1 ? `${(ms * 1000).toFixed(2)} us` : `${ms.toFixed(3)} ms`;
}

/** One stdout line per output when no --out is given: dtype, shape, a few values and min/max/mean. */
function summarize(name: string, t: Tensor): string {
  const n = t.data.length;
  const head = Array.from(t.data.subarray(0, 8), (x) => (isFloat(t.dtype) ? Number(x.toPrecision(6)) : x));
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  for (const x of t.data) {
    if (x < min) min = x;
    if (x > max) max = x;
    sum += x;
  }
  const stats = n ? `  min ${Number(min.toPrecision(6))} max ${Number(max.toPrecision(6))} mean ${Number((sum / n).toPrecision(6))}` : '';
  return `${name}: ${t.dtype} [${t.shape.join(', ')}] = [${head.join(', ')}${n > 8 ? ', ...' : ''}]${stats}`;
}
