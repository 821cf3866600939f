/**
 * The library's whole-job API, which `lutc compile` and `lutc kernel` call too (one implementation):
 *
 *   import { compile, writeArtifact, emitKernel } from 'lutc';
 *   const res = await compile('examples/mlp.onnx', { target: 'wasm', bits: 2 });
 *   writeArtifact(res, 'out');                       // res.files: the artifact, in memory
 *   const { files } = await emitKernel({ target: 'c', n: 4096, k: 4096, bits: 2 });
 *
 * `compile` loads the model (an ONNX or `.lut` path, ONNX bytes, or an imported Graph with static
 * shapes), keeps the symbolic input dims of a file or bytes that the options leave unbound as runtime
 * dims with a bound (compiler/input-dims.ts; notes through `progress`, as the CLI says them; frozen to 1
 * with a warning where the target refuses them),
 * runs the pipeline for the target and the target's compile entry (backends/target.ts), and returns
 * the files without writing anything. Target-specific options are checked against the target's
 * options schema: one the target does not read is LUT6003; one it reads but that does nothing for
 * this job is a `warning:` through `progress`. A target without an artifact or kernel mode is LUT6010.
 * With `tuneCache` (a `lutc tune` cache file), the tile pass takes the tuned plans whose whole key
 * matches (compiler/tune-cache.ts); without a match the artifact is the one without a cache.
 */

import { planModel } from '../backends/model-plan.js';
import {
  type ArtifactFiles,
  type CompiledArtifact,
  checkTargetOptions,
  getTarget,
  isTargetName,
  type TargetCommand,
  type TargetInfo,
} from '../backends/target.js';
import { fail, LutcError } from '../base/diagnostics.js';
import type { Graph } from '../ir/types.js';
import { loadModel } from './cli/model.js';
import { DEFAULT_ARENA_LIMIT, decideRuntimeDims, RUNTIME_DIM_REFUSALS, unknownDimWarnings } from './input-dims.js';
import { importOnnx } from './onnx/index.js';
import type { CompileOptions, KernelRequest, Target } from './options.js';
import { type PipelineResult, runPipeline } from './pipeline.js';
import { loadTunedLookup } from './tune-cache.js';

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

/** A model loaded for compile, and how to load it again with more symbols frozen. */
interface LoadedInput {
  graph: Graph;
  /** Runtime dims whose bound the user did not give (input-dims.ts `decideRuntimeDims`). */
  defaulted: string[];
  /** Loads it again with `frozen` bound to 1 (a file or bytes; a Graph cannot be re-imported). */
  reload?(frozen: string[]): Promise<Graph>;
}

/**
 * Imports `input` with `opts`' shapes and bindings. Unbound input symbols of a file or bytes stay
 * symbolic: runtime dims, recorded in `meta.dimBounds`, bounded as compiler/input-dims.ts decides
 * (`--max-dim`, else the smaller of the default and the model's stated bound; notes through
 * `progress`). A `dimBindings` or `maxDims` symbol the model's inputs do not have is a warning.
 */
async function loadInput(input: Graph | string | Uint8Array, opts: CompileOptions): Promise<LoadedInput> {
  const say = (msg: string) => opts.progress?.(msg);
  // A Graph is used as it is: it cannot be re-imported with bindings (import it with inputShapes or
  // dimBindings; a symbolic dim left in it is a runtime dim if meta.dimBounds bounds it, else the backend's LUT5001).
  if (typeof input !== 'string' && !(input instanceof Uint8Array)) {
    if (opts.maxDims) input.meta = { ...input.meta, dimBounds: { ...input.meta?.dimBounds, ...opts.maxDims } };
    return { graph: input, defaulted: [] };
  }
  const load = (dimBindings: Record<string, number> | undefined) =>
    typeof input === 'string'
      ? loadModel(input, { dimBindings, inputShapes: opts.inputShapes, maxTensorBytes: opts.maxTensorBytes })
      : Promise.resolve(importOnnx(input, { dimBindings, inputShapes: opts.inputShapes, maxTensorBytes: opts.maxTensorBytes }));
  const g = await load(opts.dimBindings);
  for (const w of unknownDimWarnings(g, { '--dim': opts.dimBindings, '--max-dim': opts.maxDims })) say(w);
  const { bounds, defaulted, messages } = decideRuntimeDims(g, opts.maxDims);
  for (const m of messages) say(m);
  if (Object.keys(bounds).length) g.meta = { ...g.meta, dimBounds: bounds };
  const reload = async (frozen: string[]) => {
    const dimBindings = { ...opts.dimBindings, ...Object.fromEntries(frozen.map((sym) => [sym, 1])) };
    const again = await load(dimBindings);
    const left = Object.fromEntries(Object.entries(bounds).filter(([sym]) => !frozen.includes(sym)));
    if (Object.keys(left).length) again.meta = { ...again.meta, dimBounds: left };
    return again;
  };
  return { graph: g, defaulted, reload };
}

/**
 * The defaulted runtime dims a refusal `e` of the pipeline or backend is about: those its messages
 * name; when they name none, one of them (a batch-like dim first: one that is axis 0 of an input),
 * so that the others keep their bounds if freezing it is enough.
 */
function refusedDims(e: unknown, defaulted: string[], g: Graph): string[] {
  if (!(e instanceof LutcError) || !defaulted.length) return [];
  const refusals = e.diagnostics.filter((d) => RUNTIME_DIM_REFUSALS.has(d.code));
  if (!refusals.length || refusals.length < e.diagnostics.filter((d) => d.severity === 'error').length) return [];
  const named = defaulted.filter((sym) => refusals.some((d) => d.message.includes(`'${sym}'`)));
  if (named.length) return named;
  const batchLike = defaulted.find((sym) => g.inputs.some((v) => v.type.shape[0] === sym));
  return [batchLike ?? defaulted[0]!];
}

/**
 * Runs the pipeline and the backend on `loaded`; when a pass or the backend refuses a runtime dim
 * whose bound was defaulted, or the memory plan at the defaulted bounds exceeds DEFAULT_ARENA_LIMIT,
 * those dims are frozen to 1 (a warning says which and why) and the model is compiled again.
 */
async function compileLoaded(
  loaded: LoadedInput,
  t: TargetInfo,
  opts: CompileOptions,
): Promise<CompileResult & { irDumps: PipelineResult['irDumps'] }> {
  let { graph: g, defaulted } = loaded;
  for (;;) {
    const freeze = async (syms: string[], why: string) => {
      for (const sym of syms)
        opts.progress?.(
          `warning: runtime dim '${sym}' (bound not given) ${why}: compiling with ${sym} = 1; freeze it with --dim ${sym}=N or bound it with --max-dim`,
        );
      g = await loaded.reload!(syms);
      defaulted = defaulted.filter((sym) => !syms.includes(sym));
    };
    try {
      const res = runPipeline(g, opts);
      if (defaulted.length) {
        const arena = planModel(res.graph, { runtimeDims: true }).arenaBytes;
        if (arena > DEFAULT_ARENA_LIMIT) {
          await freeze(
            defaulted,
            `would need a ${(arena / 2 ** 20).toFixed(0)} MiB memory plan at its default bound (limit ${DEFAULT_ARENA_LIMIT / 2 ** 20} MiB)`,
          );
          continue;
        }
      }
      const art = await (await t.compile!()).compileArtifact(res.graph, opts);
      return { files: art.files, remove: art.remove ?? [], graph: res.graph, decisions: res.decisions, irDumps: res.irDumps };
    } catch (e) {
      const syms = loaded.reload ? refusedDims(e, defaulted, g) : [];
      if (!syms.length) throw e;
      await freeze(
        syms,
        `is refused by this target (${(e as LutcError).diagnostics[0]!.code}: ${(e as LutcError).diagnostics[0]!.message})`,
      );
    }
  }
}

/**
 * `compile` without the options-schema check, for the CLI, which checks flags itself (as usage
 * errors, before any work). Everything else is `compile`.
 */
export async function compileUnchecked(input: Graph | string | Uint8Array, req: CompileRequest): Promise<CompileResult> {
  const t = targetWith(req.target, 'compile', "artifact (it runs the reference interpreter: use 'interpret')");
  const { onIrDump, ...rest } = req;
  const opts: CompileOptions = { ...rest };
  if (opts.tuneCache !== undefined && !opts.tuned) opts.tuned = await loadTunedLookup(opts, opts.tuneCache, opts.progress);
  const res = await compileLoaded(await loadInput(input, opts), t, opts);
  for (const d of res.irDumps) onIrDump?.(d.pass, d.text);
  return res;
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
