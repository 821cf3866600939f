/**
 * A whole model as WGSL: model-plan.ts's plan (with WGSL's storage sizes: one 32-bit word per element,
 * packed LUT weights as bytes), one or more compute shaders per step in plan order, and the weight
 * blob in that storage format. This is what compile.ts writes out and what the null-backend
 * validation tests check. Steps dispatch through backends/render.ts over `RENDERERS`. Anything this
 * backend cannot run is a coded diagnostic naming the node (LUT5003 for an op without a renderer,
 * LUT5200-5299 otherwise), never a wrong result; every such
 * diagnostic of a model is collected (plan, steps, weights) and thrown together in one LutcError.
 *
 * Runtime dims (`--max-dim`): the plan is made with `runtimeDims: true` (slots sized for the bounds);
 * a step with runtime-dim placements renders only through an op in `RUNTIME_DIM_OPS` (whose
 * renderers read the dims from the DIMS uniform, shader-common.ts) and is LUT5004 naming the op and
 * the dim otherwise, or where a renderer meets a case it does not handle. A static plan renders
 * exactly as it did before runtime dims.
 */
import { type Diagnostic, diag, LutcError, nodeLoc } from '../../base/diagnostics.js';
import { hasTrait, isCompileTimeOperand } from '../../ir/optable.js';
import { numel } from '../../ir/tensor.js';
import type { DType, Graph, Node, Value } from '../../ir/types.js';
import { type CachePair, gqaCachePairs, type ModelPlan, type Placement, type PlanStep, planModel } from '../model-plan.js';
import { type RenderedSteps, type Renderer, rendererOps, renderSteps } from '../render.js';
import { LUT_OPS, renderLut } from './lut-steps.js';
import { ATTENTION_OPS, renderAttention } from './ops-attention.js';
import { DATA_OPS, renderData } from './ops-data.js';
import { ELEMENTWISE_OPS, renderElementwise } from './ops-elementwise.js';
import { LINEAR_OPS, renderLinear } from './ops-linear.js';
import { REDUCE_OPS, renderReduceOps } from './ops-reduce.js';
import { dimsDecl, type Kernel, KV_SHARED_SYM, kindOf, type StepCtx, stepCtx, usesDims } from './shader-common.js';

export interface WgslModel {
  plan: ModelPlan;
  /** Dispatches in order. */
  kernels: Kernel[];
  /** The weight blob in WGSL storage format, `plan.weightBytes` long. */
  weights: Uint8Array;
}

/**
 * Whether operand `i` of `n` is read at compile time only, never loaded by a shader: the op table's
 * compile-time operands (axes, shapes, slice bounds) and every operand of a 'shape-only' op; clip's
 * bounds and trilu's k, which this backend's renderers read from constants.
 */
const compileTimeOnly = (n: Node, i: number) =>
  isCompileTimeOperand(n.op, i) || hasTrait(n.op, 'shape-only') || n.op === 'clip' || n.op === 'trilu';

/** Values stored as raw bytes: the packed weights of lut.matmul (operand 3). */
function byteValues(g: Graph): Set<Value> {
  const s = new Set<Value>();
  for (const n of g.nodes) if (n.op === 'lut.matmul' && n.inputs[3]) s.add(n.inputs[3]);
  return s;
}

/** Node to blame for a value in diagnostics: its producer, else its first consumer. */
function blame(g: Graph, v: Value): Node | undefined {
  return v.producer ?? g.nodes.find((n) => n.inputs.includes(v));
}

/** The presents the shared buffer keeps (none for a static model: its shapes cannot grow). */
/** The cache pairs the shared past/present buffer serves (models with runtime dims only). */
export function kvSharedPairs(g: Graph): CachePair[] {
  const runtime = g.inputs.some((v) => v.type.shape.some((d) => typeof d === 'string'));
  return runtime ? gqaCachePairs(g) : [];
}
function kvSharedPresents(g: Graph): Set<Value> {
  return new Set(kvSharedPairs(g).map((p) => p.present));
}

/** Plans `g` with WGSL storage sizes; every float64 value is one LUT5211, all thrown together. */
export function planWgsl(g: Graph): ModelPlan {
  const bytes = byteValues(g);
  const file = g.meta?.file;
  const f64 = new Map<Value, Diagnostic>();
  const plan = planModel(g, {
    runtimeDims: true,
    // the shared past/present buffer's presents (models with runtime dims): kept from run to run
    pinned: kvSharedPresents(g),
    byteSize(v: Value, dtype: DType, shape: number[]) {
      if (dtype === 'f64' && !f64.has(v)) {
        const n = blame(g, v);
        f64.set(
          v,
          diag(
            'LUT5211',
            `value '${v.name}' is float64, which WGSL cannot compute in; convert the model to float32`,
            n ? nodeLoc(n, file) : undefined,
          ),
        );
      }
      return bytes.has(v) ? numel(shape) : numel(shape) * 4;
    },
  });
  if (f64.size) throw new LutcError([...f64.values()]);
  return plan;
}

/** Integer range of words holding `dt` (i64/u64 are held in 32 bits: docs/wgsl.md). */
function wordRange(dt: DType): [number, number] {
  return kindOf(dt) === 'i' ? [-(2 ** 31), 2 ** 31 - 1] : [0, 2 ** 32 - 1];
}

/** The weight blob: floats as f32, ints as i32/u32 words, packed LUT weights as bytes (LUT5212s collected). */
function wgslWeights(g: Graph, plan: ModelPlan): Uint8Array {
  const diags: Diagnostic[] = [];
  const blob = new Uint8Array(plan.weightBytes);
  const bytes = byteValues(g);
  const file = g.meta?.file;
  const shaderRead = (v: Value) => g.nodes.some((n) => n.inputs.some((x, i) => x === v && !compileTimeOnly(n, i)));
  for (const c of plan.constants) {
    const t = c.value.const!;
    let words: Uint8Array;
    let reported = false;
    if (bytes.has(c.value)) words = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    else if (kindOf(c.dtype) === 'f') words = new Uint8Array(Float32Array.from(t.data as ArrayLike<number>).buffer);
    else {
      const [lo, hi] = wordRange(c.dtype);
      const out = kindOf(c.dtype) === 'i' ? new Int32Array(t.data.length) : new Uint32Array(t.data.length);
      for (let i = 0; i < t.data.length; i++) {
        const v = t.data[i]!;
        if (v < lo || v > hi) {
          // Sentinels such as INT64_MAX slice ends are read at compile time only; data the shaders read must fit.
          if (!reported && shaderRead(c.value)) {
            reported = true;
            const n = blame(g, c.value);
            diags.push(
              diag(
                'LUT5212',
                `constant '${c.value.name}' (${c.dtype}) holds ${v}, outside the 32-bit range the WGSL backend stores ${c.dtype} in`,
                n ? nodeLoc(n, file) : undefined,
              ),
            );
          }
          out[i] = v < lo ? lo : hi;
        } else out[i] = v;
      }
      words = new Uint8Array(out.buffer);
    }
    blob.set(words, c.offset);
  }
  if (diags.length) throw new LutcError(diags);
  return blob;
}

/**
 * The WGSL renderer: op families, the ops each handles (its dispatch table) and its renderer, which
 * returns undefined for an op outside its set (test/backends/target.test.ts checks the sets).
 */
export const RENDERERS: Renderer<StepCtx, Kernel[] | undefined> = [
  { name: 'elementwise', ops: ELEMENTWISE_OPS, render: renderElementwise },
  { name: 'reduce', ops: REDUCE_OPS, render: renderReduceOps },
  { name: 'data', ops: DATA_OPS, render: renderData },
  { name: 'linear', ops: LINEAR_OPS, render: renderLinear },
  { name: 'lut', ops: LUT_OPS, render: renderLut },
  { name: 'attention', ops: ATTENTION_OPS, render: renderAttention },
];

/** Graph ops the WGSL backend renders (backends/wgsl/target.ts `nativeOps` must equal it). */
export const SUPPORTED_OPS: readonly string[] = rendererOps(RENDERERS);

/**
 * Ops whose renderers take runtime dims (the DIMS uniform); a runtime-dim step of any other op is
 * LUT5004. Every elementwise op (one shared shader), reductions, softmax and the norms (runtime rows),
 * matmul, gemm and matmul_nbits, the data ops below, group_query_attention, and the lut ops with a
 * runtime row count. Not yet: conv, dequantize_linear, quantize_linear and the view-op copies.
 */
export const RUNTIME_DIM_OPS: ReadonlySet<string> = new Set([
  ...ELEMENTWISE_OPS,
  ...REDUCE_OPS,
  ...ATTENTION_OPS,
  ...LUT_OPS,
  'matmul',
  'transpose',
  'slice',
  'concat',
  'expand',
  'trilu',
  'constant_of_shape',
  'shape',
  'gather',
  'split',
  'range',
  'gemm',
  'matmul_nbits',
]);

/**
 * Renders `steps` through the shared dispatcher (backends/render.ts): kernels per step, diagnostics
 * collected. `syms`: the plan's runtime dims in DIMS order (its dimSources), then KV_SHARED_SYM when
 * `sharedNodes` (the GQA nodes of the shared past/present buffer) is not empty.
 */
function renderWgslSteps(
  steps: readonly PlanStep[],
  file?: string,
  syms: readonly string[] = [],
  sharedNodes: ReadonlySet<Node> = new Set(),
): RenderedSteps<Kernel[]> {
  const index = new Map(steps.map((s, i) => [s, i]));
  return renderSteps(
    'wgsl',
    steps,
    RENDERERS,
    (family, step) => {
      // A step whose results are all empty (a size-0 dim, e.g. an empty past cache) has nothing to compute.
      if (step.outputs.every((o) => numel(o.shape) === 0)) return [];
      const c = stepCtx(step.node, step.inputs, step.outputs, file, index.get(step), syms);
      if (sharedNodes.has(step.node) && c.runtime) c.kvShared = true;
      if (c.runtime && !RUNTIME_DIM_OPS.has(step.node.op)) {
        const r = c.runtime;
        c.fail(
          'LUT5004',
          `${step.node.op} with the runtime dim '${r}' is not rendered by the WGSL backend yet: freeze it with --dim ${r}=N`,
        );
      }
      const k = family.render(c, step);
      if (!k) throw new Error(`internal: the WGSL renderer of '${step.node.op}' (in its op set) rendered nothing`);
      if (!c.runtime) return k;
      return k.map((x) => (usesDims(x.code) ? { ...x, code: x.code + dimsDecl(syms.length) } : x));
    },
    file,
  );
}

/** Renders one planned step (exported for tests of single ops); LutcError with its diagnostics. */
export function renderStep(node: Node, ins: (Placement | null)[], outs: Placement[], file?: string): Kernel[] {
  const r = renderWgslSteps([{ node, inputs: ins, outputs: outs }], file);
  if (r.diagnostics.length) throw new LutcError(r.diagnostics);
  return r.results[0]!;
}

/**
 * Plans and renders `g` (after runPipeline, all shapes static). Every step and the weight blob are
 * tried; all their diagnostics are thrown together in one LutcError, as the C and WASM backends do.
 */
export function renderModel(g: Graph): WgslModel {
  const plan = planWgsl(g);
  const diags: Diagnostic[] = [];
  const collect = <T>(f: () => T): T | undefined => {
    try {
      return f();
    } catch (e) {
      if (!(e instanceof LutcError)) throw e;
      diags.push(...e.diagnostics);
      return undefined;
    }
  };
  const sharedNodes = new Set(kvSharedPairs(g).map((p) => p.node));
  const steps = renderWgslSteps(
    plan.steps,
    g.meta?.file,
    [...plan.dimSources.map((d) => d.sym), ...(sharedNodes.size ? [KV_SHARED_SYM] : [])],
    sharedNodes,
  );
  diags.push(...steps.diagnostics);
  const kernels = steps.results.flatMap((k) => k ?? []);
  const weights = collect(() => wgslWeights(g, plan));
  if (diags.length || !weights) throw new LutcError(diags);
  return { plan, kernels, weights };
}
