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
 */
import binaryen from 'binaryen';
import { diag, LutcError } from '../../../base/diagnostics.js';
import type { Dim, DType, Graph } from '../../../ir/types.js';
import { gqaCachePairs, type ModelPlan, planModel, weightBlob } from '../../model-plan.js';
import { familyOf, type Renderer, rendererOps, renderSteps } from '../../render.js';
import { FnBuilder } from '../builder.js';
import { ATTENTION_OPS, attentionStep } from './attention.js';
import { CONV_OPS, convStep } from './conv.js';
import {
  Ctx,
  type Emit,
  type EmitOptions,
  ERR_GLOBAL,
  ERR_VALUE_GLOBAL,
  hasRuntimeDims,
  i64Const,
  KV_SHARED_GLOBAL,
  noRuntimeDims,
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
  /** Weights + derived constants, to be placed at `weightsBase` (already inside `wasm` when `inline`). */
  weights: Uint8Array;
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
    mod.setFeatures(F.MVP | F.SIMD128 | F.BulkMemory | F.BulkMemoryOpt | F.NontrappingFPToInt | F.SignExt | F.MutableGlobals);
    const ctx = new Ctx(mod, plan, opts);
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
          `the model needs ${memoryBytes} bytes of linear memory, more than wasm32's 4 GiB`,
          file ? { kind: 'file', file } : undefined,
        ),
      );
    const image = new Uint8Array(ctx.extraBase - ctx.weightsBase + ctx.extraBytes);
    image.set(weightBlob(plan), 0);
    for (const x of ctx.extraBlobs) image.set(x.bytes, ctx.extraBase - ctx.weightsBase + x.off);
    const inline = image.length <= (opts.inlineWeightsMax ?? 4 * 2 ** 20);
    const pages = memoryBytes / PAGE;
    mod.setMemory(
      pages,
      pages,
      'memory',
      inline && image.length ? [{ offset: mod.i32.const(ctx.weightsBase), data: image, passive: false }] : [],
    );
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
    if (!WebAssembly.validate(wasm as Uint8Array<ArrayBuffer>))
      throw new LutcError(diag('LUT5092', 'internal: the engine rejects the emitted wasm module'));
    const slot = (p: (typeof plan.inputs)[number]): IoSlot => ({
      name: p.value.name,
      dtype: p.dtype,
      shape: p.shape,
      addr: ctx.addrOf(p),
      bytes: p.bytes,
      ...(p.dims && { dims: p.dims }),
    });
    return {
      wasm,
      weights: image,
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
    };
  } finally {
    mod.dispose();
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
