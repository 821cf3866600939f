/**
 * Pass `lower-linear`: turns linear layers with constant low-bit weights into LUT ops and records a
 * LayerDecision for every linear layer (matmul, gemm, matmul_nbits), lowered or not, with the reason.
 *
 *   y = matmul(x, W)   ==>   weights, sw, swz = lut.pack(q, scales, zeros)      (constants; folded later)
 *                            tables, tscale, xsum = lut.table(x)
 *                            y = lut.matmul(tables, tscale, xsum, weights, sw, swz, bias?, residual?)
 *
 * or, for a target whose LUT form is `tables: 'kernel'` (TargetInfo `lut`, backends/<t>/target.ts: C),
 * whose kernel builds its tables and packs its weights itself:
 *
 *                      ==>   y = lut.gemm(x, q, scales, zeros, bias?, residual?)   (q/scales/zeros constants)
 *
 * Sources (ir/lut/weights.ts): MatMulNBits (bit-exact, bias kept), DequantizeLinear -> MatMul, float
 * weights on an exact ternary grid (lossless), other float weights only with `--bits`. Gemm: transA = 0;
 * alpha scales float weights before quantization (alpha != 1 with already-quantized weights is left
 * float); beta * C becomes the bias when C has N elements, or the residual when C has y's shape.
 * f32 activations are lowered as they are; f16/bf16 ones (fp16 exports: q4f16) through a cast to f32
 * before the LUT ops and a cast back after them (the LUT kernels compute in f32 and round once to the
 * layer's dtype; compiled targets hold f16 as f32 anyway), with f16 weights, scales and bias read as
 * the values they hold. The result value keeps the original node's name and uses.
 * MatMulNBits weights become lazy constants (ir/lut/weights.ts weightsFromNBits: computed from the
 * model's B, scales and zero points when a later stage reads them, then dropped), so lowering a large
 * model adds no copy of its weights.
 * 8-bit MatMulNBits whose values do not fit 4 bits (no LUT form: LUT planes take 1..4 bits) stays a
 * matmul_nbits: under `--tables i8` (the default) it gets `compute = 'i8'`, the int8-activation path
 * (ir/ops/linear.ts nbitsI8, docs/lut-format.md), when i8ComputeProblem allows it; under `--tables
 * f32`, or when it does not, it keeps the exact float path. Its decision says which (lowered: false).
 * A layer that does not take `--bits` / `--group-size` as given (not lowered, except activation x
 * activation products; weights already quantized or ternary; a group larger than K, clamped to K) gets
 * a `warning` in its decision naming the layer and why.
 */
import { getTarget } from '../backends/target.js';
import { nodeLoc } from '../base/diagnostics.js';
import { type Phase, startPhase } from '../compiler/progress.js';
import { GraphBuilder, removeDeadNodes, subgraphs, topoSort } from '../ir/graph.js';
import { tableBytesPerToken } from '../ir/lut/attrs.js';
import { addNode, attrOr, takeOverValue } from '../ir/lut/build.js';
import { type WeightResult, weightRows, weightsFromDQ, weightsFromFloat, weightsFromNBits } from '../ir/lut/weights.js';
import { i8ComputeProblem } from '../ir/ops/linear.js';
import { operand } from '../ir/optable.js';
import { makeTensor, numel } from '../ir/tensor.js';
import type { Graph, Node, Value } from '../ir/types.js';
import type { LayerDecision, Pass, PassContext } from './pass.js';

const LINEAR_OPS = new Set(['matmul', 'gemm', 'matmul_nbits']);

interface Plan {
  x: Value;
  weights: WeightResult;
  bias?: Value;
  residual?: Value;
}

/** Activation dtypes a layer is lowered for (f16/bf16 through casts around the f32 LUT ops). */
const LOWERED_ACTIVATIONS = new Set(['f32', 'f16', 'bf16']);
/** ONNX data type codes of the casts around a half-precision layer. */
const ONNX_DTYPE = { f32: 1, f16: 10, bf16: 16 } as const;

export const lowerLinear: Pass = {
  name: 'lower-linear',
  summary: 'lower linear layers with constant low-bit weights to lut.pack + lut.table + lut.matmul',
  run(g: Graph, ctx: PassContext): void {
    const phase = startPhase('lowering linear layers', g.nodes.filter((n) => LINEAR_OPS.has(n.op)).length, 'layers');
    try {
      lowerGraph(g, ctx, phase);
    } finally {
      phase.end();
    }
  },
};

/**
 * Lowers the linear layers of `g` and, first, of every subgraph (If branches; only `--target ref` runs
 * a runtime If), so `lutc run --bits` quantizes branch layers as `lutc quantize` does.
 */
function lowerGraph(g: Graph, ctx: PassContext, phase?: Phase): void {
  const b = new GraphBuilder(g);
  for (const node of [...g.nodes]) {
    for (const sub of subgraphs(node)) lowerGraph(sub, ctx);
    if (!LINEAR_OPS.has(node.op)) continue;
    const plan = planNode(b, node, ctx);
    const d: LayerDecision = { node: node.name, op: node.op, lowered: false, reason: '' };
    if ('reason' in plan) d.reason = plan.reason;
    else if (!plan.weights.ok) d.reason = plan.weights.reason;
    if (!('reason' in plan) && !plan.weights.ok && node.op === 'matmul_nbits' && attrOr(node, 'bits', 4) === 8)
      Object.assign(d, int8Decision(node, ctx, d.reason));
    else if (!('reason' in plan) && plan.weights.ok) {
      const qm = plan.weights.qm;
      emit(b, node, plan, ctx);
      Object.assign(d, {
        lowered: true,
        reason: plan.weights.how,
        n: qm.n,
        k: qm.k,
        bits: qm.bits,
        groupSize: qm.groupSize,
        tableBytes: tableBytesPerToken(qm.k, qm.groupSize, ctx.opts.tables ?? 'i8'),
      });
    }
    const warning = requestWarning(d, plan, ctx);
    if (warning) d.warning = warning;
    ctx.decisions.push(d);
    phase?.tick();
  }
  removeDeadNodes(g);
  topoSort(g);
}

/**
 * An 8-bit MatMulNBits left unlowered: under `--tables i8` it takes `compute = 'i8'` (the int8 path)
 * when it can; the decision's reason says which path it runs and why.
 */
function int8Decision(node: Node, ctx: PassContext, why: string): Partial<LayerDecision> {
  const [K, N, bs] = [attrOr(node, 'K', 0), attrOr(node, 'N', 0), attrOr(node, 'block_size', 0)];
  const shape = { n: N, k: K, bits: 8, groupSize: bs };
  const tables = ctx.opts.tables ?? 'i8';
  if (tables !== 'i8') return { ...shape, reason: `${why}; --tables ${tables}: runs the exact float path (dequantized weights)` };
  const zp = operand(node, 'zero_points');
  const bad = i8ComputeProblem(node.attrs, operand(node, 'A')!.type.dtype, zp?.type.dtype, !!operand(node, 'g_idx'));
  if (bad) return { ...shape, reason: `${why}; not on the int8 path (${bad}): runs the exact float path` };
  node.attrs.compute = 'i8';
  return {
    ...shape,
    reason: `8-bit MatMulNBits block_size=${bs}: int8 path (activations quantized to int8 per row and block, integer dot products; --tables f32 keeps it exact)`,
  };
}

/** Why a layer's decision is not what `--bits` / `--group-size` asked for (undefined: it is, or nothing was asked). */
function requestWarning(d: LayerDecision, plan: Plan | NotLowered, ctx: PassContext): string | undefined {
  const { bits, groupSize } = ctx.opts;
  const asked = [bits !== undefined && `--bits ${bits}`, groupSize !== undefined && `--group-size ${groupSize}`]
    .filter(Boolean)
    .join(' and ');
  if (!asked) return undefined;
  const layer = `layer '${d.node}' (${d.op})`;
  if ('reason' in plan) return plan.weightless ? undefined : `${layer} is not lowered, so ${asked} does not apply: ${plan.reason}`;
  const w = plan.weights;
  if (!w.ok) return `${layer} is not lowered, so ${asked} does not apply: ${w.reason}`;
  if (w.from === 'nbits' || w.from === 'dq')
    return `${layer}: ${asked} ignored: its weights are already quantized (${w.how}) and keep their own bits and group`;
  if (w.from === 'ternary' && bits !== undefined) return `${layer}: --bits ${bits} ignored: its float weights are on an exact ${w.how}`;
  if (w.from === 'bits' && groupSize !== undefined && groupSize > w.qm.k)
    return `${layer}: --group-size ${groupSize} is larger than K = ${w.qm.k}: one group of ${w.qm.groupSize} per row is used`;
  return undefined;
}

/** Why a layer is not lowered; `weightless`: it has no weights at all (an activation x activation product). */
interface NotLowered {
  reason: string;
  weightless?: boolean;
}

/** What to lower `node` into, or why not. */
function planNode(b: GraphBuilder, node: Node, ctx: PassContext): Plan | NotLowered {
  const x = operand(node, 'A');
  if (!x || !LOWERED_ACTIVATIONS.has(x.type.dtype))
    return { reason: `activations are ${x?.type.dtype ?? 'missing'}; only f32, f16 and bf16 layers are lowered` };
  const loc = nodeLoc(node);
  if (node.op === 'matmul_nbits') {
    const w = weightsFromNBits(node);
    const bias = operand(node, 'bias') ?? undefined;
    if (bias && bias.type.dtype !== x.type.dtype) return { reason: `bias is ${bias.type.dtype}, the activations ${x.type.dtype}` };
    return { x, weights: w, bias };
  }
  const W = operand(node, 'B');
  if (!W) return { reason: 'no weight operand' };
  if (node.op === 'matmul') {
    if (!W.const && W.producer?.op !== 'dequantize_linear')
      return { reason: 'weight is not a constant (an activation x activation product): runs as a float matmul', weightless: true };
    if (W.type.shape.length !== 2 || x.type.shape.length < 1) return { reason: 'weight is not a 2-D matrix (batched matmul)' };
    return { x, weights: weightOf(W, false, 1, ctx, loc) };
  }
  // gemm
  if (attrOr(node, 'transA', 0) !== 0) return { reason: 'gemm with transA = 1 is not lowered' };
  const alpha = attrOr(node, 'alpha', 1),
    beta = attrOr(node, 'beta', 1);
  const weights = weightOf(W, attrOr(node, 'transB', 0) !== 0, alpha, ctx, loc);
  const C = operand(node, 'C') ?? undefined;
  if (!C || beta === 0) return { x, weights };
  if (!weights.ok) return { x, weights };
  const n = weights.qm.n;
  const outShape = node.outputs[0]!.type.shape;
  if (C.const && numel(C.const.shape) === n && C.const.shape.length <= 2 && (C.const.shape.length < 2 || C.const.shape[0] === 1)) {
    const data = Float32Array.from(C.const.data as ArrayLike<number>, (v) => Math.fround(beta * v));
    return { x, weights, bias: b.constant(`${node.name}.bias`, makeTensor('f32', [n], data)) };
  }
  if (
    beta === 1 &&
    C.type.dtype === x.type.dtype &&
    C.type.shape.length === outShape.length &&
    C.type.shape.every((d, i) => d === outShape[i])
  ) {
    return { x, weights, residual: C };
  }
  return { reason: 'gemm C is neither a bias of N elements nor a residual of the output shape (with beta = 1)' };
}

/** Weights of a matmul/gemm operand: DequantizeLinear of a constant, or a float constant. */
function weightOf(W: Value, transposed: boolean, alpha: number, ctx: PassContext, loc: ReturnType<typeof nodeLoc>): WeightResult {
  const p = W.producer;
  if (p?.op === 'dequantize_linear') {
    if (transposed || alpha !== 1) return { ok: false, reason: 'DequantizeLinear weights with transB or alpha != 1 are not lowered' };
    return weightsFromDQ(p);
  }
  if (!W.const) return { ok: false, reason: 'weight is not a constant' };
  if (!LOWERED_ACTIVATIONS.has(W.const.dtype))
    return { ok: false, reason: `constant weight of type ${W.const.dtype} is not lowered (f32, f16 and bf16 only)` };
  if (W.const.shape.length !== 2) return { ok: false, reason: 'weight is not a 2-D matrix' };
  const { w, n, k } = weightRows(W.const, transposed);
  if (alpha !== 1) for (let i = 0; i < w.length; i++) w[i] = Math.fround(alpha * w[i]!);
  return weightsFromFloat(w, n, k, ctx.opts, loc);
}

/**
 * Replaces `node` by lut.pack + lut.table + lut.matmul (targets whose LUT form is `tables: 'kernel'`:
 * one lut.gemm); its result value keeps its name and uses.
 */
function emit(b: GraphBuilder, node: Node, given: Plan, ctx: PassContext): void {
  if (!given.weights.ok) return;
  const qm = given.weights.qm;
  const geo = { n: qm.n, k: qm.k, bits: qm.bits, group_size: qm.groupSize, vec_bytes: 16, k_tile: 0 };
  const tables = ctx.opts.tables ?? 'i8';
  // a half-precision layer: its activation (and bias, residual) to f32, the LUT result back
  const half = given.x.type.dtype === 'f16' || given.x.type.dtype === 'bf16' ? (given.x.type.dtype as 'f16' | 'bf16') : undefined;
  const toF32 = (v: Value | undefined, what: string): Value | undefined => {
    if (!v || !half) return v;
    if (v.const)
      return b.constant(
        `${node.name}.${what}_f32`,
        makeTensor('f32', [...v.const.shape], Float32Array.from(v.const.data as ArrayLike<number>)),
      );
    return addNode(b, 'cast', [v], { to: ONNX_DTYPE.f32 }, `${node.name}.${what}_f32`).outputs[0]!;
  };
  const plan = { ...given, x: toF32(given.x, 'x')!, bias: toF32(given.bias, 'bias'), residual: toF32(given.residual, 'residual') };
  const result = (op: Node): void => {
    const last = half ? addNode(b, 'cast', [op.outputs[0]!], { to: ONNX_DTYPE[half] }, `${node.name}.y_${half}`) : op;
    takeOverValue(last, 0, node.outputs[0]!);
  };
  // lazy weights (MatMulNBits) stay lazy: the graph holds their recipe, not their bytes
  const lazy = given.weights.tensors;
  const q = b.constant(`${node.name}.q`, lazy?.q ?? makeTensor('u8', [qm.n, qm.k], qm.q));
  const s = b.constant(`${node.name}.scales`, lazy?.scales ?? makeTensor('f32', [qm.n, qm.nGroups], qm.scales));
  const z = b.constant(`${node.name}.zeros`, lazy?.zeros ?? makeTensor('f32', [qm.n, qm.nGroups], qm.zeros));
  if (getTarget(ctx.opts.target).lut.tables === 'kernel') {
    // the target's kernel builds the tables and packs the weights itself: one fused op reading x
    const { vec_bytes: _v, k_tile: _k, ...dims } = geo;
    const gm = addNode(
      b,
      'lut.gemm',
      [plan.x, q, s, z, plan.bias ?? null, plan.residual ?? null, null],
      { ...dims, tables },
      `${node.name}.lut`,
    );
    trimOptional(gm);
    result(gm);
    node.outputs = [];
    node.inputs = [];
    return;
  }
  const pack = addNode(b, 'lut.pack', [q, s, z], { ...geo }, `${node.name}.pack`);
  const tab = addNode(b, 'lut.table', [plan.x], { k: qm.k, group_size: qm.groupSize, tables }, `${node.name}.table`);
  const mm = addNode(
    b,
    'lut.matmul',
    [...tab.outputs, ...pack.outputs, plan.bias ?? null, plan.residual ?? null, null],
    { ...geo, tables },
    `${node.name}.lut`,
  );
  trimOptional(mm);
  result(mm);
  node.outputs = [];
  node.inputs = [];
}

/** Drops trailing omitted optional operands so printed IR stays short. */
export function trimOptional(n: Node): void {
  while (n.inputs.length && n.inputs[n.inputs.length - 1] === null) n.inputs.pop();
}
