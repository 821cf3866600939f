/**
 * The whole model as one WASM module: plans the graph (backends/model-plan.ts), prepares every step
 * through the shared dispatcher (backends/render.ts `renderSteps` over `WASM_RENDERER`: each op
 * family's handler registers compile-time constants and scratch and returns its emitter),
 * fixes the memory map, emits one function per step plus `run`, validates with binaryen, optimizes
 * (-O3), validates again and checks WebAssembly.validate. Unsupported ops are reported together as
 * coded diagnostics (LUT5003, LUT5051..) naming their nodes, before anything is written. Runtime
 * dims (--max-dim): the plan sizes slots for the bounds; each symbol lives in an exported mutable
 * global `dim<i>` (plan.dimSources order) that model.mjs sets before `run`; a step of an op outside
 * RUNTIME_DIM_OPS that touches a runtime dim is LUT5004. Static plans emit exactly the code they did.
 * `threaded` builds the threaded module instead (model-mt.wasm: shared imported memory, atomics, the
 * split steps' part functions in a table, `lutc_par` and the exported `worker` loop: addThreading);
 * without it the module is byte-identical to a build without thread support. `relaxedSimd` builds the
 * relaxed module (relaxed-SIMD LUT kernels, model/lut.ts), validated where the engine has the feature.
 */
import binaryen from 'binaryen';
import { diag, LutcError } from '../../../base/diagnostics.js';
import { artifactFileBytes } from '../../../compiler/artifact.js';
import type { Dim, DType, Graph } from '../../../ir/types.js';
import { gqaCachePairs, type ModelPlan, planModel, weightBlob, weightStream } from '../../model-plan.js';
import { familyOf, type Renderer, rendererOps, renderSteps } from '../../render.js';
import type { StreamedFile } from '../../target-info.js';
import { FnBuilder } from '../builder.js';
import { engineHasRelaxedSimd } from '../module.js';
import { ATTENTION_OPS, attentionStep } from './attention.js';
import { CONV_OPS, convStep } from './conv.js';
import {
  CTL,
  CTL_ARG,
  CTL_DIMS,
  CTL_DONE,
  CTL_GEN,
  CTL_KV,
  CTL_MAX_DIMS,
  CTL_NT,
  CTL_TASK,
  Ctx,
  type Emit,
  type EmitOptions,
  ERR_GLOBAL,
  ERR_VALUE_GLOBAL,
  hasRuntimeDims,
  i64Const,
  KV_SHARED_GLOBAL,
  NT_GLOBAL,
  noRuntimeDims,
  PAR_FN,
  stepPrologue,
} from './core.js';
import { ELEMENTWISE_OPS, elementwiseStep } from './elementwise.js';
import { LINEAR_OPS, linearStep } from './linear.js';
import { LUT_OPS, lutStep } from './lut.js';
import { REDUCE_OPS, reduceStep } from './reduce.js';
import { SHAPE_OPS, shapeStep } from './shape.js';

/** Options of `buildModelModule`. */
export interface ModelBuildOptions extends EmitOptions {
  /** Weight images up to this many bytes go into a data segment; larger ones into weights.bin. Default 4 MiB. */
  inlineWeightsMax?: number;
  /** Run binaryen -O3 (default true). */
  optimize?: boolean;
  /**
   * Weights that do not go inline are a StreamedFile (`ModelModule.weightsFile`, computed constant by
   * constant as weights.bin is written) instead of bytes built here (default false; the compile entry,
   * backends/wasm/compile.ts, streams). `weights` then gathers them only when read.
   */
  streamWeights?: boolean;
  /**
   * The artifact (emitArtifact): N > 1 adds the threaded module model-mt.wasm (EmitOptions.threaded)
   * next to model.wasm, and makes N load()'s default thread count. buildModelModule ignores it.
   */
  threads?: number;
}

/** Where one graph input or output lives in linear memory. */
export interface IoSlot {
  name: string;
  dtype: DType;
  shape: number[];
  /** Byte address and size in memory (f16/bf16 stored as f32, i64 as int64, bool as bytes). */
  addr: number;
  bytes: number;
  /** Its dims when it has runtime dims (`shape` and `bytes` are then the bounds). */
  dims?: Dim[];
}

/** The built module and everything its loader needs. */
export interface ModelModule {
  wasm: Uint8Array;
  /**
   * Weights + derived constants, to be placed at `weightsBase` (already inside `wasm` when `inline`).
   * With `weightsFile` a getter that gathers the stream into memory (all of it) each time it is read.
   */
  weights: Uint8Array;
  /** The weight image's size in bytes (`weights.length`, without reading a streamed one). */
  weightBytes: number;
  /** The weight image as a stream (ModelBuildOptions.streamWeights, weights not inline). */
  weightsFile?: StreamedFile;
  inline: boolean;
  weightsBase: number;
  arenaBytes: number;
  scratchBytes: number;
  /** Total linear memory (bytes, a whole number of 64 KiB pages). */
  memoryBytes: number;
  inputs: IoSlot[];
  outputs: IoSlot[];
  features: string[];
  /** JS Math functions imported as module 'm'. */
  imports: string[];
  /** Run-time checks: `run` returns `step + 1` when this step's check failed (node name, op, axis size). */
  checks: { step: number; node: string; op: string; size: number }[];
  /** Runtime dims: the global `dim<i>` holds plan.dimSources[i] (exported under that name; set before each run). */
  plan: ModelPlan;
  /** The shared-buffer cache pairs (model-plan.ts gqaCachePairs) as [graph input index, graph output index]. */
  kvPairs: [number, number][];
  /** Threaded module: the nodes whose steps are split across threads (empty otherwise). */
  split: string[];
}

/**
 * Ops whose kernels take runtime dims (their handlers render `Placement.dims`, or diagnose a form they
 * do not with LUT5004); a step of any other op with a runtime dim is LUT5004.
 */
export const RUNTIME_DIM_OPS: ReadonlySet<string> = new Set([
  ...ELEMENTWISE_OPS,
  'transpose',
  'slice',
  'expand',
  'concat',
  'trilu',
  'constant_of_shape',
  'shape',
  'range',
  'matmul',
  ...REDUCE_OPS,
  'gemm',
  'matmul_nbits',
  'gather',
  'split',
  'lut.table',
  'lut.norm_table',
  'lut.matmul',
  'group_query_attention',
]);

/** The wasm renderer: one family per op-family file; each prepares a step and returns its emitter. */
export const WASM_RENDERER: Renderer<Ctx, Emit> = [
  { name: 'lut', ops: LUT_OPS, render: lutStep },
  { name: 'elementwise', ops: ELEMENTWISE_OPS, render: elementwiseStep },
  { name: 'shape', ops: SHAPE_OPS, render: shapeStep },
  { name: 'reduce', ops: REDUCE_OPS, render: reduceStep },
  { name: 'linear', ops: LINEAR_OPS, render: linearStep },
  { name: 'conv', ops: CONV_OPS, render: convStep },
  { name: 'attention', ops: ATTENTION_OPS, render: attentionStep },
];

/** Ops the wasm target renders (for `lutc inspect` and docs). */
export const SUPPORTED_OPS: readonly string[] = rendererOps(WASM_RENDERER);

const PAGE = 65536;

/** Builds the model's module (LutcError on unsupported ops or shapes). `g` is the graph after runPipeline. */
export function buildModelModule(g: Graph, opts: ModelBuildOptions = {}): ModelModule {
  const pairs = gqaCachePairs(g);
  const plan = planModel(g, { runtimeDims: true, pinned: new Set(pairs.map((p) => p.present)) });
  const file = g.meta?.file;
  const mod = new binaryen.Module();
  try {
    const F = binaryen.Features;
    const threads = !!opts.threaded;
    const ctx0Features: string[] = [];
    mod.setFeatures(
      F.MVP |
        F.SIMD128 |
        F.BulkMemory |
        F.BulkMemoryOpt |
        F.NontrappingFPToInt |
        F.SignExt |
        F.MutableGlobals |
        (threads ? F.Atomics : 0) |
        (opts.relaxedSimd ? F.RelaxedSIMD : 0),
    );
    if (opts.relaxedSimd) ctx0Features.push('relaxed-simd');
    const ctx = new Ctx(mod, plan, opts);
    for (const x of ctx0Features) ctx.features.add(x);
    if (threads) {
      ctx.features.add('threads');
      if (plan.dimSources.length > CTL_MAX_DIMS)
        throw new LutcError(diag('LUT5090', `internal: the threaded module carries at most ${CTL_MAX_DIMS} runtime dims`));
    }
    // phase 1: prepare every step, collecting every unsupported op
    const { results, diagnostics: diags } = renderSteps(
      'wasm',
      plan.steps,
      WASM_RENDERER,
      (family, step) => (hasRuntimeDims(step) && !RUNTIME_DIM_OPS.has(step.node.op) ? noRuntimeDims(ctx, step) : family.render(ctx, step)),
      file,
    );
    if (diags.length) throw new LutcError(diags);
    const emits = results as Emit[];
    // phase 2: the memory map is final; emit
    const memoryBytes = Math.ceil(Math.max(ctx.memoryEnd, 1) / PAGE) * PAGE;
    if (memoryBytes > 2 ** 32)
      throw new LutcError(
        diag(
          'LUT5058',
          `the model needs ${memoryBytes} bytes of linear memory (weights ${ctx.extraBase - ctx.weightsBase + ctx.extraBytes}), more than wasm32's limit of ${2 ** 32} bytes (4 GiB)`,
          file ? { kind: 'file', file } : undefined,
        ),
      );
    const imageBytes = ctx.extraBase - ctx.weightsBase + ctx.extraBytes;
    const inline = imageBytes <= (opts.inlineWeightsMax ?? 4 * 2 ** 20);
    // streamed: weights.bin is computed constant by constant as it is written (no image in memory)
    const stream = opts.streamWeights && !inline ? weightStream(plan, extrasStream(ctx)) : undefined;
    const image = stream ? undefined : weightImage(plan, ctx);
    const pages = memoryBytes / PAGE;
    mod.setMemory(
      pages,
      pages,
      'memory',
      inline && imageBytes ? [{ offset: mod.i32.const(ctx.weightsBase), data: image!, passive: false }] : [],
      threads,
    );
    // the threaded module imports its shared memory (env.memory, made by model.mjs) and re-exports it
    if (threads) mod.addMemoryImport('0', 'env', 'memory', true);
    const names: string[] = [];
    emits.forEach((emit, i) => {
      const f = new FnBuilder(mod, []);
      const body = emit(f);
      body.unshift(...stepPrologue(f)); // runtime dims' values, computed once per step (none when static)
      const name = `step${i}_${plan.steps[i]!.node.op.replace(/[^A-Za-z0-9_]/g, '_')}`;
      f.finish(name, binaryen.none, body.length ? body : [mod.nop()]);
      names.push(name);
    });
    // run() -> 0, or the index + 1 of the step whose run-time check failed (it stops there)
    mod.addGlobal(ERR_GLOBAL, binaryen.i32, true, mod.i32.const(0));
    mod.addGlobal(ERR_VALUE_GLOBAL, binaryen.i64, true, i64Const(mod, 0n));
    mod.addGlobalExport(ERR_VALUE_GLOBAL, 'err_value');
    if (pairs.length) {
      mod.addGlobal(KV_SHARED_GLOBAL, binaryen.i32, true, mod.i32.const(0));
      mod.addGlobalExport(KV_SHARED_GLOBAL, KV_SHARED_GLOBAL);
    }
    plan.dimSources.forEach((_, i) => {
      mod.addGlobal(`dim${i}`, binaryen.i32, true, mod.i32.const(0));
      mod.addGlobalExport(`dim${i}`, `dim${i}`);
    });
    if (threads) addThreading(ctx, pairs.length > 0);
    const checks: ModelModule['checks'] = [];
    const calls = names.flatMap((nm, i) => {
      const step = plan.steps[i]!;
      const call = mod.call(nm, [], binaryen.none);
      const size = ctx.checks.get(step);
      if (size === undefined) return [call];
      checks.push({ step: i, node: step.node.name, op: step.node.op, size });
      return [call, mod.if(mod.global.get(ERR_GLOBAL, binaryen.i32), mod.return(mod.i32.const(i + 1)))];
    });
    mod.addFunction(
      'run',
      binaryen.none,
      binaryen.i32,
      [],
      mod.block(null, [mod.global.set(ERR_GLOBAL, mod.i32.const(0)), ...calls, mod.i32.const(0)], binaryen.i32),
    );
    mod.addFunctionExport('run', 'run');
    if (!mod.validate()) throw new LutcError(diag('LUT5090', 'internal: the generated wasm module does not validate'));
    if (opts.optimize !== false) {
      binaryen.setOptimizeLevel(3);
      binaryen.setShrinkLevel(0);
      mod.optimize();
      if (!mod.validate()) throw new LutcError(diag('LUT5091', 'internal: the wasm module no longer validates after binaryen -O3'));
    }
    const wasm = mod.emitBinary();
    // a relaxed module is validated only where this engine has relaxed SIMD (Node 20: a flag)
    if ((!opts.relaxedSimd || engineHasRelaxedSimd()) && !WebAssembly.validate(wasm as Uint8Array<ArrayBuffer>))
      throw new LutcError(diag('LUT5092', 'internal: the engine rejects the emitted wasm module'));
    const slot = (p: (typeof plan.inputs)[number]): IoSlot => ({
      name: p.value.name,
      dtype: p.dtype,
      shape: p.shape,
      addr: ctx.addrOf(p),
      bytes: p.bytes,
      ...(p.dims && { dims: p.dims }),
    });
    const built: Omit<ModelModule, 'weights'> = {
      wasm,
      weightBytes: imageBytes,
      ...(stream && { weightsFile: stream }),
      inline,
      weightsBase: ctx.weightsBase,
      arenaBytes: plan.arenaBytes,
      scratchBytes: ctx.scratchBytes,
      memoryBytes,
      inputs: plan.inputs.map(slot),
      outputs: plan.outputs.map(slot),
      features: [...ctx.features],
      imports: [...ctx.imports],
      checks,
      plan,
      kvPairs: pairs.map((p) => [g.inputs.indexOf(p.past), g.outputs.indexOf(p.present)]),
      split: [...new Set(ctx.partNodes)],
    };
    if (image) return { ...built, weights: image };
    return Object.defineProperty(built, 'weights', { enumerable: true, get: () => artifactFileBytes(stream!) }) as ModelModule;
  } finally {
    mod.dispose();
  }
}

/** The weight image in memory: the plan's constants (model-plan.ts weightBlob), then the derived extras. */
function weightImage(plan: ModelPlan, ctx: Ctx): Uint8Array {
  const image = new Uint8Array(ctx.extraBase - ctx.weightsBase + ctx.extraBytes);
  image.set(weightBlob(plan), 0);
  for (const x of ctx.extraBlobs) image.set(x.bytes, ctx.extraBase - ctx.weightsBase + x.off);
  return image;
}

/** The derived extras as a stream that follows the plan's constants (the gap up to extraBase as zeros). */
function extrasStream(ctx: Ctx): StreamedFile {
  const start = ctx.plan.weightBytes;
  return {
    size: ctx.extraBase - ctx.weightsBase + ctx.extraBytes - start,
    *chunks() {
      let at = start;
      for (const x of ctx.extraBlobs) {
        const off = ctx.extraBase - ctx.weightsBase + x.off;
        if (off > at) yield new Uint8Array(off - at);
        yield x.bytes;
        at = off + x.bytes.length;
      }
      const end = ctx.extraBase - ctx.weightsBase + ctx.extraBytes;
      if (end > at) yield new Uint8Array(end - at);
    },
  };
}

/** Spins on the control block before blocking (memory.atomic.wait32): a few microseconds. */
const SPIN = 1 << 14;

/**
 * The threading of the threaded module: the exported global `nthreads` (model.mjs sets it in the
 * main instance), a funcref table of the part functions (Ctx.addPart), the dispatcher
 * `lutc_par(task, arg)` and the exported worker loop `worker(id)`.
 *
 * lutc_par on the main instance: with nthreads <= 1 it calls part `task` as (0, 1, arg); else it
 * writes the task, nthreads, arg, kv_shared and the runtime dims into the control block (core.ts
 * CTL), zeroes the done counter, bumps the generation and notifies the workers, runs its own share
 * (id 0), then spins until the done counter reaches nthreads - 1. It never blocks: a browser's main
 * thread may not, and in Node a main thread blocked in memory.atomic.wait32 stalled the workers
 * (measured: Node 20, every run hung). worker(id) loops: it waits for a new generation (spinning
 * SPIN times, then memory.atomic.wait32), copies the dims and kv_shared into its own globals, runs
 * its share (id, nthreads, arg) and increments the done counter; a negative task returns. Every
 * barrier is sequentially consistent (wasm atomics), so the main thread's stores before the dispatch
 * are visible to the parts, and theirs to the main thread after it.
 */
function addThreading(ctx: Ctx, kv: boolean): void {
  const m = ctx.mod;
  const { i32, none } = binaryen;
  const c = (v: number) => m.i32.const(v);
  const at = (off: number) => c(CTL + off);
  const nDims = ctx.plan.dimSources.length;
  m.addGlobal(NT_GLOBAL, i32, true, c(1));
  m.addGlobalExport(NT_GLOBAL, NT_GLOBAL);
  const parts = ctx.parts;
  m.addTable('parts', Math.max(1, parts.length), Math.max(1, parts.length));
  if (parts.length) m.addActiveElementSegment('parts', 'parts_elems', parts, c(0));
  const partType = binaryen.createType([i32, i32, i32]);
  const callPart = (task: binaryen.ExpressionRef, args: binaryen.ExpressionRef[]) => m.call_indirect('parts', task, args, partType, none);
  // lutc_par(task, arg): locals 2 = nt, 3 = v
  {
    const [TASK, ARG, NT, V] = [0, 1, 2, 3];
    const g = (l: number) => m.local.get(l, i32);
    const body: binaryen.ExpressionRef[] = [
      m.local.set(NT, m.global.get(NT_GLOBAL, i32)),
      m.if(m.i32.le_s(g(NT), c(1)), m.block(null, [callPart(g(TASK), [c(0), c(1), g(ARG)]), m.return()])),
      m.i32.store(0, 4, at(CTL_TASK), g(TASK)),
      m.i32.store(0, 4, at(CTL_NT), g(NT)),
      m.i32.store(0, 4, at(CTL_ARG), g(ARG)),
      ...(kv ? [m.i32.store(0, 4, at(CTL_KV), m.global.get(KV_SHARED_GLOBAL, i32))] : []),
      ...Array.from({ length: nDims }, (_, i) => m.i32.store(0, 4, at(CTL_DIMS + 4 * i), m.global.get(`dim${i}`, i32))),
      m.i32.atomic.store(0, at(CTL_DONE), c(0)),
      m.drop(m.i32.atomic.rmw.add(0, at(CTL_GEN), c(1))),
      m.drop(m.memory.atomic.notify(at(CTL_GEN), m.i32.sub(g(NT), c(1)))),
      callPart(g(TASK), [c(0), g(NT), g(ARG)]),
      m.loop(
        'wait',
        m.block(null, [m.local.set(V, m.i32.atomic.load(0, at(CTL_DONE))), m.if(m.i32.ne(g(V), m.i32.sub(g(NT), c(1))), m.br('wait'))]),
      ),
    ];
    m.addFunction(PAR_FN, binaryen.createType([i32, i32]), none, [i32, i32], m.block(null, body));
  }
  // worker(id): locals 1 = seen, 2 = g, 3 = task, 4 = nt, 5 = spin
  {
    const [ID, SEEN, G, TASK, NT, SP] = [0, 1, 2, 3, 4, 5];
    const g = (l: number) => m.local.get(l, i32);
    const body = m.loop(
      'next',
      m.block(null, [
        m.local.set(SP, c(0)),
        m.loop(
          'idle',
          m.block(null, [
            m.local.set(G, m.i32.atomic.load(0, at(CTL_GEN))),
            m.if(
              m.i32.eq(g(G), g(SEEN)),
              m.block(null, [
                m.if(
                  m.i32.ge_u(g(SP), c(SPIN)),
                  m.drop(m.memory.atomic.wait32(at(CTL_GEN), g(SEEN), i64Const(m, -1n))),
                  m.local.set(SP, m.i32.add(g(SP), c(1))),
                ),
                m.br('idle'),
              ]),
            ),
          ]),
        ),
        m.local.set(SEEN, g(G)),
        m.local.set(TASK, m.i32.load(0, 4, at(CTL_TASK))),
        m.if(m.i32.lt_s(g(TASK), c(0)), m.return()),
        m.local.set(NT, m.i32.load(0, 4, at(CTL_NT))),
        ...(kv ? [m.global.set(KV_SHARED_GLOBAL, m.i32.load(0, 4, at(CTL_KV)))] : []),
        ...Array.from({ length: nDims }, (_, i) => m.global.set(`dim${i}`, m.i32.load(0, 4, at(CTL_DIMS + 4 * i)))),
        callPart(g(TASK), [g(ID), g(NT), m.i32.load(0, 4, at(CTL_ARG))]),
        m.drop(m.i32.atomic.rmw.add(0, at(CTL_DONE), c(1))),
        m.br('next'),
      ]),
    );
    m.addFunction('worker', binaryen.createType([i32]), none, [i32, i32, i32, i32, i32], body);
    m.addFunctionExport('worker', 'worker');
  }
}

/** What `lutc inspect` prints for the wasm target: memory plan without building the module. */
export interface PlanSummary {
  steps: number;
  /** Peak activation memory (the arena) in bytes. */
  arenaBytes: number;
  /** Activation bytes without liveness reuse. */
  unplannedBytes: number;
  weightBytes: number;
  inputs: { name: string; dtype: DType; shape: number[] }[];
  outputs: { name: string; dtype: DType; shape: number[] }[];
  /** Ops of the graph the wasm target does not render (empty when it compiles). */
  unsupported: string[];
}

/** Summarizes the static memory plan of `g` (graph after runPipeline, dims bound). */
export function planSummary(g: Graph): PlanSummary {
  const plan = planModel(g, { runtimeDims: true });
  const io = (p: (typeof plan.inputs)[number]) => ({ name: p.value.name, dtype: p.dtype, shape: p.shape });
  return {
    steps: plan.steps.length,
    arenaBytes: plan.arenaBytes,
    unplannedBytes: plan.unplannedBytes,
    weightBytes: plan.weightBytes,
    inputs: plan.inputs.map(io),
    outputs: plan.outputs.map(io),
    unsupported: [...new Set(plan.steps.filter((s) => !familyOf(WASM_RENDERER, s.node.op)).map((s) => s.node.op))],
  };
}
