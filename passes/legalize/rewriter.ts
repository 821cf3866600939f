/**
 * The rewriter handed to the legalize rules (passes/legalize.ts runs them) and the rule types: a
 * `Rewriter` sees one node (its resolved attributes, its operands by position or name) and builds new
 * nodes, located at that node, and constants into the graph being rewritten; a `Rule` is one op's
 * decomposition, `rewrite(rewriter) -> results` (one value per result, null only for results nobody
 * reads), or undefined to decline. Imports nothing of the pass or the rule families
 * (passes/legalize/*.ts import this file, passes/legalize.ts imports them all), so there is no cycle.
 * Runtime dims: a new node's 0-D/1-D integer results get the `dimValues` its op's symbolic evaluation
 * gives (as shape inference sets them) when some element is a dim expression, so a rule can build
 * Range/Reshape operands from `dim(v, axis)`; `reshapeTo` reshapes to dims that may be runtime symbols
 * (0 copies a symbol standing at the same position, -1 infers one other). Static shapes build exactly
 * the nodes `reshape` builds.
 */
import { fail, nodeLoc } from '../../base/diagnostics.js';
import { canonicalDim } from '../../ir/dim-expr.js';
import type { GraphBuilder } from '../../ir/graph.js';
import { addNode, inferCtxOf } from '../../ir/lut/build.js';
import { storer } from '../../ir/ops/numeric.js';
import { findOp, operandIndex, resolveAttrs } from '../../ir/optable.js';
import { isStaticShape, makeTensor, numel, ONNX_DTYPES } from '../../ir/tensor.js';
import type { Attrs, Dim, DType, Node, Tensor, Value } from '../../ir/types.js';

/** Targets that compute in float64 (WGSL has no f64 type: docs/wgsl.md). */
const HAS_F64: ReadonlySet<string> = new Set(['c', 'wasm']);

/** What a rule sees: the node, its resolved attributes, and builders for new nodes and constants. */
export class Rewriter {
  readonly attrs: Attrs;
  constructor(
    readonly b: GraphBuilder,
    readonly node: Node,
    readonly target: string,
    private readonly live: (v: Value) => boolean,
  ) {
    this.attrs = resolveAttrs(findOp(node.op)!, node);
  }

  /** Position of operand `i`: a position, or an operand name of the op (ir/optable.ts `operandIndex`). */
  private at(i: number | string): number {
    return typeof i === 'number' ? i : operandIndex(this.node.op, i);
  }

  /** Operand i, by position or name (null when omitted). */
  in(i: number | string): Value | null {
    return this.node.inputs[this.at(i)] ?? null;
  }

  /** Operand i, by position or name, which the op requires. */
  x(i: number | string = 0): Value {
    return this.node.inputs[this.at(i)]!;
  }

  /** Whether result i is read (by a node or as a graph output); unknown results count as read. */
  used(i: number): boolean {
    const v = this.node.outputs[i];
    return !!v && this.live(v);
  }

  /** Whether the target computes in float64. */
  get hasF64(): boolean {
    return HAS_F64.has(this.target);
  }

  /** A new node of `op` (types by its shape rule), located at the rewritten node; its results. */
  ops(op: string, inputs: (Value | null)[], attrs: Attrs = {}): Value[] {
    const n = addNode(this.b, op, inputs, attrs, `${this.node.name}_${op}`);
    n.loc = this.node.loc ?? nodeLoc(this.node);
    setDimValues(n);
    return n.outputs;
  }

  /** A new node's first result. */
  op(op: string, inputs: (Value | null)[], attrs: Attrs = {}): Value {
    return this.ops(op, inputs, attrs)[0]!;
  }

  /** A constant tensor. */
  tensor(t: Tensor): Value {
    return this.b.constant(`${this.node.name}_c`, t);
  }

  /** A rank-0 constant of `dtype` (stored as the dtype stores it: ints wrap, f16 rounds). */
  scalar(dtype: DType, v: number): Value {
    return this.tensor(makeTensor(dtype, [], [storer(dtype)(v)]));
  }

  /** A rank-0 constant of `like`'s dtype. */
  k(like: Value, v: number): Value {
    return this.scalar(like.type.dtype, v);
  }

  /** A 1-D int64 constant. */
  i64(v: readonly number[]): Value {
    return this.tensor(makeTensor('i64', [v.length], v));
  }

  add(a: Value, b: Value): Value {
    return this.op('add', [a, b]);
  }
  sub(a: Value, b: Value): Value {
    return this.op('sub', [a, b]);
  }
  mul(a: Value, b: Value): Value {
    return this.op('mul', [a, b]);
  }
  div(a: Value, b: Value): Value {
    return this.op('div', [a, b]);
  }
  where(c: Value, a: Value, b: Value): Value {
    return this.op('where', [c, a, b]);
  }
  less(a: Value, b: Value): Value {
    return this.op('less', [a, b]);
  }
  greater(a: Value, b: Value): Value {
    return this.op('greater', [a, b]);
  }
  equal(a: Value, b: Value): Value {
    return this.op('equal', [a, b]);
  }
  not(a: Value): Value {
    return this.op('not', [a]);
  }
  un(op: string, a: Value): Value {
    return this.op(op, [a]);
  }

  /** cast to `to`. */
  cast(a: Value, to: DType): Value {
    return a.type.dtype === to ? a : this.op('cast', [a], { to: onnxCode(to) });
  }

  /** `a` reshaped to the static shape `shape`. */
  reshape(a: Value, shape: readonly number[]): Value {
    return this.op('reshape', [a, this.i64(shape)]);
  }

  /** `a` sliced to [start, end) along `axis`. */
  slice(a: Value, axis: number, start: number, end: number): Value {
    return this.op('slice', [a, this.i64([start]), this.i64([end]), this.i64([axis])]);
  }

  /** `a` reshaped to `dims`, which may hold runtime dims of `a` (copied by position, or one inferred). */
  reshapeTo(a: Value, dims: readonly Dim[]): Value {
    if (isStaticShape(dims)) return this.reshape(a, dims);
    let inferred = false;
    const spec = dims.map((d, i) => {
      if (typeof d === 'number') return d;
      if (a.type.shape[i] === d) return 0;
      if (inferred) return fail('LUT4052', `internal: reshape of [${a.type.shape}] to [${dims}] has two dims to infer`, nodeLoc(this.node));
      inferred = true;
      return -1;
    });
    const y = this.reshape(a, spec);
    if (y.type.shape.join() !== dims.join())
      fail('LUT4052', `internal: reshape of [${a.type.shape}] to [${dims}] gave [${y.type.shape}]`, nodeLoc(this.node));
    return y;
  }

  /** Dim `axis` of `v` as a rank-0 int64: a constant when static, else Shape(v)[axis] carrying its dim value. */
  dim(v: Value, axis: number): Value {
    const d = v.type.shape[axis]!;
    if (typeof d === 'number') return this.scalar('i64', d);
    return this.reshape(this.op('shape', [v], { start: axis, end: axis + 1 }), []);
  }

  /** A block of `shape` filled with rank-0 `fill` (a broadcast, not a materialized constant). */
  fill(fill: Value, shape: readonly number[]): Value {
    return this.op('expand', [fill, this.i64(shape)]);
  }
}

/** A new node's 0-D/1-D integer results' dim values by its op's symbolic evaluation (ir/infer.ts sets them alike). */
function setDimValues(n: Node): void {
  const def = findOp(n.op)!;
  const dv = def.dimValues?.(inferCtxOf(n), def);
  if (!dv) return;
  n.outputs.forEach((v, i) => {
    const d = dv[i];
    const shape = v.type.shape;
    if (d?.some((x) => typeof x === 'string') && shape.length <= 1 && isStaticShape(shape) && numel(shape) === d.length)
      v.dimValues = d.map(canonicalDim);
  });
}

/** ONNX data-type code of `dt` (Cast's `to`). */
function onnxCode(dt: DType): number {
  for (const [k, v] of Object.entries(ONNX_DTYPES)) if (v === dt) return Number(k);
  return fail('LUT4052', `internal: no ONNX data type for ${dt}`);
}

/** Results of a rewritten node, one per result (null only for results nobody reads), or undefined to decline. */
export type RuleResult = (Value | null)[] | undefined;
export interface Rule {
  /** The decomposition in one line, for docs/op-support.md. */
  summary: string;
  rewrite(r: Rewriter): RuleResult;
}
