/**
 * Static shape inference and constant folding over a graph. Walks nodes in topological order, asks
 * each op's shape rule (`infer` in the op table) for its result types, and folds a node away when its
 * inputs are constants (running the op's `interp`) or its result follows from input types alone
 * (`foldFromTypes`, e.g. Shape of a static-shaped tensor). That is what collapses the
 * Shape -> Gather -> Unsqueeze -> Concat -> Reshape chains of PyTorch exports. If nodes recurse into their
 * branches; an If whose condition is constant is replaced by the taken branch. `foldNode` is the same
 * fold of one node, exported for the `fold-constants` pass (passes/fold-constants.ts), so import and
 * the pipeline share one folding policy (trait 'no-fold', weight ops, size limits).
 */
import { fail, LutcError, nodeLoc } from '../base/diagnostics.js';
import { canonicalDim } from './dim-expr.js';
import { replaceAllUses, subgraphs, topoSort } from './graph.js';
import { findOp, hasTrait, type InferCtx, type InterpCtx, type OpDef, operand, opOf, resolveAttrs } from './optable.js';
import { dtypeByteSize, isStaticShape, makeTensor, numel } from './tensor.js';
import type { Graph, Node, Tensor, TensorType, Value } from './types.js';

export interface InferOptions {
  /** Model file, for diagnostics. */
  file?: string;
  /** Constant-fold (default true). */
  fold?: boolean;
  /** Largest result (elements) folding may create; bigger results stay nodes. Default 2^20. */
  foldLimit?: number;
}

/**
 * Ops folded only when their result is tiny: folding them over weights would erase the quantized
 * form (DequantizeLinear of int4 weights) or bake a float GEMM into a blob that lower-linear then
 * cannot see. Shape-sized results (index math) still fold.
 */
const WEIGHT_OPS = new Set(['dequantize_linear', 'quantize_linear', 'matmul', 'matmul_nbits', 'gemm', 'conv']);
const SMALL_FOLD = 4096;
/** Never folded into a matrix, whatever its size: lower-linear reads the quantized form from it. */
const KEEP_QUANTIZED = new Set(['dequantize_linear']);

/**
 * Infers every value's type in `g` (and its If branches) and folds constants, in place.
 * Shape-rule errors are diagnostics located at the node (the rule's own code: LUT1110-1116 by kind of
 * problem, LUT1117 for shapes too large to evaluate); a cycle is LUT1105. Folded nodes disappear; their results become entries of `g.constants`.
 */
export function inferGraph(g: Graph, opts: InferOptions = {}): void {
  const st: State = { file: opts.file ?? g.meta?.file, fold: opts.fold !== false, limit: opts.foldLimit ?? 2 ** 20, fresh: 0 };
  inferBody(g, st);
}

interface State {
  file?: string;
  fold: boolean;
  limit: number;
  /** Largest result in bytes folding may create (each result); no limit when absent. */
  limitBytes?: number;
  fresh: number;
}

/**
 * Folds one typed node of `g` in place when the folding policy allows it: every operand constant (or
 * its results known from input types, `foldFromTypes`), not 'no-fold', no subgraphs, every result
 * static and within `limitBytes` (and the element limits for weight ops). Its results become
 * constants of `g` (`g.constants`, producer null); the caller removes the node. True when folded.
 */
export function foldNode(g: Graph, node: Node, opts: { limitBytes?: number; file?: string } = {}): boolean {
  const st: State = { file: opts.file ?? g.meta?.file, fold: true, limit: Infinity, limitBytes: opts.limitBytes, fresh: 0 };
  const def = opOf(node, nodeLoc(node, st.file));
  return tryFold(g, node, def, makeCtx(node, def, st), st);
}

function inferBody(g: Graph, st: State): void {
  topoSort(g, st.file);
  const subst = new Map<Value, Value>();
  const kept: Node[] = [];
  for (const node of g.nodes) {
    node.inputs = node.inputs.map((v) => (v && subst.get(v)) ?? v);
    for (const sub of subgraphs(node)) {
      for (const [from, to] of subst) replaceAllUses(sub, from, to);
      inferBody(sub, st);
    }
    const def = opOf(node, nodeLoc(node, st.file));
    const ctx = makeCtx(node, def, st);
    const types = runRule(node, st, () => {
      def.verify?.(ctx);
      return def.infer(ctx);
    });
    if (types.length < node.outputs.length) {
      fail(
        'LUT1116',
        `shape rule of '${def.name}' gave ${types.length} results for ${node.outputs.length} outputs`,
        nodeLoc(node, st.file),
      );
    }
    node.outputs.forEach((v, i) => (v.type = types[i]!));
    if (def.name === 'if' && inlineConstantIf(g, node, kept, subst)) continue;
    if (st.fold && tryFold(g, node, def, ctx, st)) continue;
    if (setDimValues(g, node, def, ctx, st)) continue;
    kept.push(node);
  }
  g.nodes = kept;
  g.outputs = g.outputs.map((v) => subst.get(v) ?? v);
}

function makeCtx(node: Node, def: OpDef, st: State): InferCtx {
  return {
    node,
    inputs: node.inputs.map((v) => (v ? v.type : null)),
    attrs: resolveAttrs(def, node),
    constInput: (i) => node.inputs[i]?.const,
    freshDim: (hint) => `${hint ?? 'd'}__${st.fresh++}`,
    error: (code, message) => fail(code, message, nodeLoc(node, st.file)),
  };
}

/** Runs a shape rule or interpreter; non-diagnostic exceptions are bugs and say which node hit them. */
function runRule<T>(node: Node, st: State, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof LutcError) throw e;
    if (e instanceof RangeError && /Invalid (typed )?array length|Array buffer allocation/.test(e.message)) {
      fail('LUT1117', `shapes too large to evaluate: ${e.message}`, nodeLoc(node, st.file));
    }
    throw new Error(`internal error in ${node.op} '${node.name}': ${(e as Error).message}`, { cause: e });
  }
}

function tryFold(g: Graph, node: Node, def: OpDef, ctx: InferCtx, st: State): boolean {
  if (hasTrait(def, 'no-fold') || subgraphs(node).length > 0) return false;
  let outs: Tensor[] | undefined;
  const allConst = node.inputs.every((v) => v === null || v.const !== undefined);
  const keep = KEEP_QUANTIZED.has(def.name) && node.outputs[0]!.type.shape.length >= 2;
  const cap = keep ? -1 : WEIGHT_OPS.has(def.name) ? SMALL_FOLD : st.limit;
  const small = node.outputs.every(
    (v) =>
      isStaticShape(v.type.shape) &&
      numel(v.type.shape) <= cap &&
      (st.limitBytes === undefined || numel(v.type.shape) * dtypeByteSize(v.type.dtype) <= st.limitBytes),
  );
  if (allConst && small) {
    const ictx: InterpCtx = {
      node,
      attrs: ctx.attrs,
      runGraph: () => fail('LUT1117', 'cannot fold a node holding a subgraph', nodeLoc(node, st.file)),
      error: ctx.error,
    };
    outs = runRule(node, st, () =>
      def.interp(
        node.inputs.map((v) => v?.const ?? null),
        ictx,
      ),
    );
  } else if (def.foldFromTypes) {
    outs = runRule(node, st, () => def.foldFromTypes!(ctx));
  }
  if (!outs || outs.length < node.outputs.length) return false;
  node.outputs.forEach((v, i) => {
    const t = outs![i]!;
    v.const = t;
    v.producer = null;
    v.type = { dtype: t.dtype, shape: [...t.shape] };
    g.constants.push(v);
  });
  return true;
}

/**
 * Sets the `dimValues` of a node's 0-D/1-D integer results from its op's symbolic evaluation
 * (`OpDef.dimValues`: runtime shape arithmetic on dim expressions). When folding and every element of
 * every result is a number, the node folds to constants instead (true).
 */
function setDimValues(g: Graph, node: Node, def: OpDef, ctx: InferCtx, st: State): boolean {
  for (const v of node.outputs) delete v.dimValues;
  const dv = def.dimValues && runRule(node, st, () => def.dimValues!(ctx, def));
  if (!dv) return false;
  node.outputs.forEach((v, i) => {
    const d = dv[i];
    const shape = v.type.shape;
    if (d && shape.length <= 1 && isStaticShape(shape) && numel(shape) === d.length && DIM_VALUE_TYPES.has(v.type.dtype))
      v.dimValues = d.map(canonicalDim);
  });
  if (!st.fold || !node.outputs.every((v) => v.dimValues?.every((x) => typeof x === 'number'))) return false;
  for (const v of node.outputs) {
    v.const = makeTensor(v.type.dtype, v.type.shape as number[], v.dimValues as number[]);
    delete v.dimValues;
    v.producer = null;
    g.constants.push(v);
  }
  return true;
}

const DIM_VALUE_TYPES: ReadonlySet<string> = new Set(['i32', 'i64', 'u32', 'u64', 'bool']);

/**
 * Replaces an If with a constant condition by the nodes of the taken branch. Its results keep their
 * names: uses are redirected to the branch results, and graph outputs get an identity node.
 */
function inlineConstantIf(g: Graph, node: Node, kept: Node[], subst: Map<Value, Value>): boolean {
  const cond = operand(node, 'cond')?.const;
  if (cond?.data.length !== 1) return false;
  const branch = node.attrs[cond.data[0] ? 'then_branch' : 'else_branch'] as Graph | undefined;
  if (!branch || branch.outputs.length < node.outputs.length) return false;
  g.constants.push(...branch.constants);
  kept.push(...branch.nodes);
  for (const n of branch.nodes) n.loc ??= nodeLoc(n);
  const outputs = new Set(g.outputs);
  node.outputs.forEach((v, i) => {
    const r = branch.outputs[i]!;
    if (outputs.has(v) && findOp('identity')) {
      // keep the user-visible output name: v becomes identity(r)
      const id: Node = { op: 'identity', name: `${node.name}/out${i}`, inputs: [r], outputs: [v], attrs: {}, loc: node.loc };
      v.producer = id;
      v.type = r.type as TensorType;
      if (r.const) {
        v.const = r.const;
        v.producer = null;
        g.constants.push(v);
      } else kept.push(id);
    } else subst.set(v, r);
  });
  return true;
}
