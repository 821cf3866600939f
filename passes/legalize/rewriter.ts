/**
 * The rewriter handed to the legalize rules (passes/legalize.ts runs them) and the rule types: a
 * `Rewriter` sees one node (its resolved attributes, its operands by position or name) and builds new
 * nodes, located at that node, and constants into the graph being rewritten; a `Rule` is one op's
 * decomposition, `rewrite(rewriter) -> results` (one value per result, null only for results nobody
 * reads), or undefined to decline. Imports nothing of the pass or the rule families
 * (passes/legalize/*.ts import this file, passes/legalize.ts imports them all), so there is no cycle.
 */
import { fail, nodeLoc } from '../../base/diagnostics.js';
import type { GraphBuilder } from '../../ir/graph.js';
import { addNode } from '../../ir/lut/build.js';
import { storer } from '../../ir/ops/numeric.js';
import { findOp, operandIndex, resolveAttrs } from '../../ir/optable.js';
import { makeTensor, ONNX_DTYPES } from '../../ir/tensor.js';
import type { Attrs, DType, Node, Tensor, Value } from '../../ir/types.js';

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

  /** A block of `shape` filled with rank-0 `fill` (a broadcast, not a materialized constant). */
  fill(fill: Value, shape: readonly number[]): Value {
    return this.op('expand', [fill, this.i64(shape)]);
  }
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
