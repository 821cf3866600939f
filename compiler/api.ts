/**
 * The library's whole-job API, which `lutc compile` and `lutc kernel` call too (one implementation):
 *
 *   import { compile, writeArtifact, emitKernel } from 'lutc';
 *   const res = await compile('examples/mlp.onnx', { target: 'wasm', bits: 2 });
 *   writeArtifact(res, 'out');                       // res.files: the artifact, in memory
 *   const { files } = await emitKernel({ target: 'c', n: 4096, k: 4096, bits: 2 });
 *
 * `compile` loads the model (an ONNX or `.lut` path, ONNX bytes, or an imported Graph with static
 * shapes), binds symbolic input dims of a file or bytes that the options leave unbound to 1 (a note
 * through `progress`, as the CLI says it),
 * runs the pipeline for the target and the target's compile entry (backends/target.ts), and returns
 * the files without writing anything. Target-specific options are checked against the target's
 * options schema: one the target does not read is LUT6003; one it reads but that does nothing for
 * this job is a `warning:` through `progress`. A target without an artifact or kernel mode is LUT6010.
 */

import {
  type ArtifactFiles,
  type CompiledArtifact,
  checkTargetOptions,
  getTarget,
  isTargetName,
  type TargetCommand,
  type TargetInfo,
} from '../backends/target.js';
import { fail } from '../base/diagnostics.js';
import type { Graph } from '../ir/types.js';
import { loadModel } from './cli/model.js';
import { inputSymbols, unknownDimWarnings } from './input-dims.js';
import { importOnnx } from './onnx/index.js';
import type { CompileOptions, KernelRequest, Target } from './options.js';
import { type PipelineResult, runPipeline } from './pipeline.js';

export type { ArtifactFiles, CompiledArtifact } from './artifact.js';
export { writeArtifact } from './artifact.js';

/** Options of `compile`: CompileOptions plus a hook for IR dumps. */
export interface CompileRequest extends CompileOptions {
  /** Called with each IR dump `printIrAfter` selects, right after the pipeline (before the backend runs). */
  onIrDump?(pass: string, text: string): void;
}

/** What `compile` returns: the artifact in memory (pass it to writeArtifact) and what the pipeline did. */
export interface CompileResult extends CompiledArtifact {
  /** The lowered graph the backend rendered (for a Graph input: that graph, lowered in place). */
  graph: Graph;
  decisions: PipelineResult['decisions'];
  irDumps: PipelineResult['irDumps'];
}

/** `KernelRequest` plus the target whose kernel-only mode renders it. */
export interface EmitKernelRequest extends KernelRequest {
  target: Target;
}

/** The target `name`, which must have `entry`; LUT6003 for an unknown name, LUT6010 without the entry. */
function targetWith(name: string, entry: 'compile' | 'kernel', what: string): TargetInfo {
  if (!isTargetName(name)) fail('LUT6003', `unknown target '${name}'`);
  const t = getTarget(name);
  if (!t[entry]) fail('LUT6010', `target '${name}' has no ${what}`);
  return t;
}

/** The options-schema check of the library calls: errors are LutcErrors (LUT6003), warnings go to `warn`. */
function checkOptions(target: Target, given: object, command: TargetCommand, warn?: (msg: string) => void): void {
  const { errors, warnings } = checkTargetOptions(target, given, command);
  if (errors.length) fail('LUT6003', errors.join('; '));
  for (const w of warnings) warn?.(`warning: ${w}`);
}

/**
 * Imports `input` with `opts`' shapes and bindings. Input symbols given a bound (`maxDims`) stay
 * symbolic: runtime dims, recorded in `meta.dimBounds`; the other unbound input symbols of a file or
 * bytes become 1 (noted). A `dimBindings` or `maxDims` symbol the model's inputs do not have is a
 * warning.
 */
async function loadInput(input: Graph | string | Uint8Array, opts: CompileOptions): Promise<Graph> {
  const say = (msg: string) => opts.progress?.(msg);
  // A Graph is used as it is: it cannot be re-imported with bindings (import it with inputShapes or
  // dimBindings; a symbolic dim left in it is a runtime dim if meta.dimBounds bounds it, else the backend's LUT5001).
  if (typeof input !== 'string' && !(input instanceof Uint8Array)) {
    if (opts.maxDims) input.meta = { ...input.meta, dimBounds: { ...input.meta?.dimBounds, ...opts.maxDims } };
    return input;
  }
  const load = () =>
    typeof input === 'string'
      ? loadModel(input, { dimBindings: opts.dimBindings, inputShapes: opts.inputShapes })
      : Promise.resolve(importOnnx(input, { dimBindings: opts.dimBindings, inputShapes: opts.inputShapes }));
  let g = await load();
  const unbound = inputSymbols(g);
  for (const w of unknownDimWarnings(g, { '--dim': opts.dimBindings, '--max-dim': opts.maxDims })) say(w);
  const frozen = [...unbound].filter((sym) => !(sym in (opts.maxDims ?? {})));
  if (frozen.length) {
    // Symbols with no bound are frozen to 1, said through progress (as `run` does).
    opts.dimBindings = { ...opts.dimBindings };
    for (const sym of frozen) {
      opts.dimBindings[sym] = 1;
      say(
        `note: symbolic dim '${sym}' is not bound: compiling with ${sym} = 1 (bind it with --shape or --dim, or keep it a runtime dim with --max-dim)`,
      );
    }
    g = await load();
  }
  const bounds = Object.fromEntries(Object.entries(opts.maxDims ?? {}).filter(([sym]) => unbound.has(sym)));
  if (Object.keys(bounds).length) g.meta = { ...g.meta, dimBounds: bounds };
  return g;
}

/**
 * `compile` without the options-schema check, for the CLI, which checks flags itself (as usage
 * errors, before any work). Everything else is `compile`.
 */
export async function compileUnchecked(input: Graph | string | Uint8Array, req: CompileRequest): Promise<CompileResult> {
  const t = targetWith(req.target, 'compile', "artifact (it runs the reference interpreter: use 'interpret')");
  const { onIrDump, ...rest } = req;
  const opts: CompileOptions = { ...rest };
  const g = await loadInput(input, opts);
  const res = runPipeline(g, opts);
  for (const d of res.irDumps) onIrDump?.(d.pass, d.text);
  const art = await (await t.compile!()).compileArtifact(res.graph, opts);
  return { files: art.files, remove: art.remove ?? [], graph: res.graph, decisions: res.decisions, irDumps: res.irDumps };
}

/**
 * Compiles a model for `req.target` (wasm, wgsl or c): import (`input` is a path to an .onnx or .lut
 * file, ONNX bytes, or a Graph from importOnnx/parseGraph with static input shapes, which is lowered
 * in place), the pipeline,
 * then the target's backend. Returns the artifact's files in memory; nothing is written (see
 * writeArtifact). Throws LutcError for every diagnosed problem (LUT6003: an option of another target;
 * LUT6010: `ref`, which has no artifact).
 */
export async function compile(input: Graph | string | Uint8Array, req: CompileRequest): Promise<CompileResult> {
  if (isTargetName(req.target)) checkOptions(req.target, req, 'compile', req.progress);
  return compileUnchecked(input, req);
}

/**
 * Emits one LUT-mpGEMM kernel with its weight packer for `req.target` (c, wasm or wgsl) through the
 * target's kernel-only mode; returns its files in memory (write them with writeArtifact). Throws
 * LutcError: LUT6003 for an option of another target (`isa` is c's, `wasmFeatures` wasm's), LUT6010
 * for `ref`, and the backend's codes for requests it cannot take.
 */
export async function emitKernel(req: EmitKernelRequest): Promise<{ files: ArtifactFiles }> {
  const t = targetWith(req.target, 'kernel', 'kernel-only mode');
  checkOptions(t.name, req, 'kernel');
  const { target: _target, ...kreq } = req;
  return (await t.kernel!()).emitKernel(kreq);
}
