/**
 * Pass `legalize` (artifact targets; a no-op for `ref`): rewrites every node whose op the target does
 * not render natively into ops it does, by one decomposition rule per op written once over graph ops
 * (TVM relax's LegalizeOps, tinygrad's late rewrite patterns): `RULES` maps an op name to
 * `rewrite(rewriter) -> results`. A rule may produce ops that are themselves rewritten (the pass
 * expands to a fixed point, depth first); a rule whose expansion reaches its own op again, or nests
 * deeper than MAX_DEPTH, is an internal error (LUT4050) naming the rule. Constant folding is the
 * `fold-constants` pass's (run just before); a node the expansion reaches (a rule's output included)
 * whose operands are all constants is folded through that pass's `foldConstantNode`, with its policy
 * (so Constant never needs a kernel; Shape and Size of static shapes become constants by their rules). A rule returns undefined when it cannot handle a node (pads computed at
 * run time, scatter indices computed at run time, ...): the node stays, and the backend then reports
 * its one coded "op not supported by the target" diagnostic naming it (LUT5003, on every target).
 *
 * The interpreters in ir/ops/ are the specification: each rule computes its op's interpreter exactly
 * for integer and bool results, and within float rounding for floats (each intermediate is rounded to
 * the operand type where the interpreter rounds once); test/ops-targets/op-target.test.ts checks every
 * op on every target. Rewritten nodes carry the original node's location, so diagnostics about them
 * name the node the user wrote. The native op sets come from the target registry (`nativeOps`).
 */
import { fail, LutcError, nodeLoc } from '../base/diagnostics.js';
import { GraphBuilder, removeDeadNodes, replaceAllUses, subgraphs, useLists } from '../ir/graph.js';
import { addNode, inferCtxOf, takeOverValue } from '../ir/lut/build.js';
import { interpPack } from '../ir/lut/interp.js';
import { findOp, hasTrait, type InterpCtx, operandIndex, resolveAttrs } from '../ir/optable.js';
import '../ir/ops/index.js';
import { getTarget } from '../backends/target.js';
import { intsOf } from '../ir/ops/dims.js';
import { isFloatType, storer } from '../ir/ops/numeric.js';
import { padsPerAxis, sourceIndex } from '../ir/ops/pad.js';
import { normalizeAxis } from '../ir/ops/util.js';
import { intRange, isStaticShape, makeTensor, numel, ONNX_DTYPES, strides } from '../ir/tensor.js';
import type { Attrs, DType, Graph, Node, Tensor, Value } from '../ir/types.js';
import { foldConstantNode } from './fold-constants.js';
import type { Pass } from './pass.js';

// ---- what each target renders ---------------------------------------------------------------------

/**
 * The ops target `target` renders natively (backends/target.ts: its backend's kernel tables); every
 * op for `ref`. The one place this pass reads the backends.
 */
export function nativeOps(target: string): ReadonlySet<string> {
  return getTarget(target).nativeOps;
}

/** Targets that compute in float64 (WGSL has no f64 type: docs/wgsl.md). */
const HAS_F64: ReadonlySet<string> = new Set(['c', 'wasm']);

// ---- the rewriter handed to rules -----------------------------------------------------------------

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

/** Static shape of `v`, or undefined when a dim is symbolic. */
function staticShape(v: Value): number[] | undefined {
  return isStaticShape(v.type.shape) ? [...v.type.shape] : undefined;
}

// ---- rules ------------------------------------------------------------------------------------------

/** Results of a rewritten node, one per result (null only for results nobody reads), or undefined to decline. */
export type RuleResult = (Value | null)[] | undefined;
export interface Rule {
  /** The decomposition in one line, for docs/op-support.md. */
  summary: string;
  rewrite(r: Rewriter): RuleResult;
}

const f32attr = (r: Rewriter, k: string) => Math.fround(r.attrs[k] as number);
const isFloatV = (v: Value) => isFloatType(v.type.dtype);
const signedInt = (dt: DType) => ['i4', 'i8', 'i16', 'i32', 'i64'].includes(dt);

/** reduce_sum / reduce_max / ... node over the same axes operand and attributes as the rewritten reduction. */
function reduceLike(r: Rewriter, op: string, x: Value, keepdims = r.attrs.keepdims as number): Value {
  return r.op(op, [x, r.in('axes')], { keepdims, noop_with_empty_axes: r.attrs.noop_with_empty_axes as number });
}

/** The normalized `axis` attribute of a node over rank `rank`. */
const axisOf = (r: Rewriter, rank: number) => normalizeAxis(r.attrs.axis as number, rank);

/** An int64 iota [0, len) shaped to broadcast along axis `a` of a rank-`rank` tensor. */
function iotaAlong(r: Rewriter, len: number, a: number, rank: number): Value {
  const shape = [len, ...Array<number>(rank - a - 1).fill(1)];
  return r.tensor(
    makeTensor(
      'i64',
      shape,
      Array.from({ length: len }, (_, i) => i),
    ),
  );
}

/**
 * Index of the first (or, with `last`, the last) element along axis `a` equal to `m` (the axis'
 * max or min, keepdims), as int64 with the reduced axis kept or dropped per `keep`.
 */
function indexOf(r: Rewriter, x: Value, m: Value, a: number, keep: number, last: boolean): Value {
  const shape = staticShape(x)!;
  const iota = iotaAlong(r, shape[a]!, a, shape.length);
  const hit = r.equal(x, m);
  const sel = r.where(hit, iota, r.scalar('i64', last ? -1 : shape[a]!));
  return r.op(last ? 'reduce_max' : 'reduce_min', [sel, r.i64([a])], { keepdims: keep });
}

/** argmax / argmin: the extreme by reduce_max / reduce_min, then the first (last) index equal to it. */
function argRule(extreme: 'reduce_max' | 'reduce_min'): Rule {
  return {
    summary: `m = ${extreme}(x, axis, keepdims); reduce_min(where(x == m, iota, len)) (reduce_max(where(.., iota, -1)) with select_last_index)`,
    rewrite(r) {
      const x = r.x();
      const shape = staticShape(x);
      if (!shape) return undefined;
      const a = axisOf(r, shape.length);
      if (shape[a] === 0) return undefined;
      const m = r.op(extreme, [x, r.i64([a])], { keepdims: 1 });
      return [indexOf(r, x, m, a, r.attrs.keepdims as number, r.attrs.select_last_index !== 0)];
    },
  };
}

/** An elementwise rule from a one-line formula over x and the node's attributes. */
function unary(summary: string, f: (r: Rewriter, x: Value) => Value | undefined): Rule {
  return {
    summary,
    rewrite: (r) => {
      const y = f(r, r.x());
      return y ? [y] : undefined;
    },
  };
}

/** e^x - 1 (the interpreters use expm1: the same value up to f32 rounding of e^x near 1). */
const expm1 = (r: Rewriter, x: Value) => r.sub(r.un('exp', x), r.k(x, 1));

/**
 * Writers of a scatter with constant indices, from the op's own interpreter: scattering the update
 * positions 0..U-1 into a tensor of -1s with reduction 'max' gives, per data element, the last update
 * written to it; removing those and repeating peels the writes one layer at a time (last first).
 * Returns the layers as int64 tensors shaped like data (-1: not written in this layer).
 */
function scatterLayers(node: Node, data: Value, idx: Tensor, updates: Value, reduction: string): Tensor[] | undefined {
  const ds = staticShape(data),
    us = staticShape(updates);
  if (!ds || !us) return undefined;
  const def = findOp(node.op)!;
  const attrs = { ...resolveAttrs(def, node), reduction: 'max' };
  const ctx: InterpCtx = {
    node,
    attrs,
    runGraph: () => fail('LUT4052', 'internal: scatter has no subgraph'),
    error: (code, message) => fail(code, message, nodeLoc(node)),
  };
  const u = numel(us);
  const remaining = makeTensor(
    'f64',
    us,
    Array.from({ length: u }, (_, i) => i),
  );
  const blank = makeTensor('f64', ds, new Float64Array(numel(ds)).fill(-1));
  const layers: Tensor[] = [];
  for (let round = 0; round < 64; round++) {
    const [w] = def.interp([blank, idx, remaining], ctx);
    if (!w!.data.some((v) => v >= 0)) return layers;
    layers.push(makeTensor('i64', ds, w!.data));
    if (reduction === 'none') return layers; // only the last write survives
    for (const v of w!.data) if (v >= 0) remaining.data[v] = -1;
  }
  return undefined; // more than 64 writes to one element: not worth unrolling
}

/** scatter_elements / scatter_nd with constant indices: per layer, y = where(written, combine(y, gather(updates)), y). */
const scatterRule: Rule = {
  summary:
    "constant indices only: per layer of writes (found by the op's interpreter), y = where(written, combine(y, gather(updates, writer)), y)",
  rewrite(r) {
    const [data, idxV, upd] = [r.x('data'), r.x('indices'), r.x('updates')];
    if (!idxV.const) return undefined;
    const reduction = r.attrs.reduction as string;
    let layers: Tensor[] | undefined;
    try {
      layers = scatterLayers(r.node, data, idxV.const, upd, reduction);
    } catch (e) {
      if (e instanceof LutcError) return undefined; // indices out of range: the interpreter's run-time error
      throw e;
    }
    if (!layers) return undefined;
    const flat = r.reshape(upd, [numel(staticShape(upd)!)]);
    const combine: Record<string, string> = { add: 'add', mul: 'mul', max: 'max', min: 'min' };
    let y = data;
    for (const L of layers) {
      const mask = r.tensor(
        makeTensor(
          'bool',
          L.shape,
          L.data.map((v) => (v >= 0 ? 1 : 0)),
        ),
      );
      const src = r.tensor(
        makeTensor(
          'i64',
          L.shape,
          L.data.map((v) => Math.max(v, 0)),
        ),
      );
      const g = r.op('gather', [flat, src], { axis: 0 });
      y = r.where(mask, reduction === 'none' ? g : r.op(combine[reduction]!, [y, g]), y);
    }
    return [y];
  },
};

/** The decomposition rules, one per op. */
export const RULES: Readonly<Record<string, Rule>> = {
  // ---- LUT layers (ir/ops/lut.ts): the fused form of `lut.tables: 'kernel'` targets, for the others
  'lut.gemm': {
    summary: "lut.table(x) + lut.pack(q, scales, zeros) (packed here for the target's vecBytes) + lut.matmul",
    rewrite(r) {
      const a = r.attrs;
      const [q, s, z] = [r.x('q'), r.x('scales'), r.x('zeros')];
      if (!q.const || !s.const || !z.const) return undefined;
      const { activation, gelu_approximate, leaky_relu_alpha, tables, ...dims } = a;
      const geo = { ...dims, vec_bytes: getTarget(r.target).lut.vecBytes, k_tile: 0 };
      const t = r.ops('lut.table', [r.x('x')], { k: a.k!, group_size: a.group_size!, tables: tables! });
      const packed = interpPack([q.const, s.const, z.const], geo).map((w) => r.tensor(w));
      const epi = [r.in('bias'), r.in('residual'), r.in('channel_scale')];
      return [
        r.op('lut.matmul', [...t, ...packed, ...epi], {
          ...geo,
          tables: tables!,
          activation: activation!,
          gelu_approximate: gelu_approximate!,
          leaky_relu_alpha: leaky_relu_alpha!,
        }),
      ];
    },
  },
  // ---- activations (ir/ops/math.ts)
  elu: unary('where(x < 0, alpha * (exp(x) - 1), x)', (r, x) =>
    r.where(r.less(x, r.k(x, 0)), r.mul(r.k(x, f32attr(r, 'alpha')), expm1(r, x)), x),
  ),
  selu: unary('where(x > 0, gamma * x, gamma * alpha * (exp(x) - 1))', (r, x) => {
    const [a, g] = [f32attr(r, 'alpha'), f32attr(r, 'gamma')];
    return r.where(r.greater(x, r.k(x, 0)), r.mul(r.k(x, g), x), r.mul(r.k(x, g * a), expm1(r, x)));
  }),
  celu: unary('relu(x) + min(0, alpha * (exp(x / alpha) - 1))', (r, x) => {
    const a = f32attr(r, 'alpha');
    return r.add(r.un('relu', x), r.op('min', [r.k(x, 0), r.mul(r.k(x, a), expm1(r, r.div(x, r.k(x, a))))]));
  }),
  thresholded_relu: unary('where(x > alpha, x, 0)', (r, x) => r.where(r.greater(x, r.k(x, f32attr(r, 'alpha'))), x, r.k(x, 0))),
  shrink: unary('where(x < -lambd, x + bias, where(x > lambd, x - bias, 0)) (integers: integral bias and lambd only)', (r, x) => {
    const [b, l] = [f32attr(r, 'bias'), f32attr(r, 'lambd')];
    if (!isFloatV(x) && !(signedInt(x.type.dtype) && Number.isInteger(b) && Number.isInteger(l))) return undefined;
    const z = r.k(x, 0);
    return r.where(r.less(x, r.k(x, -l)), r.add(x, r.k(x, b)), r.where(r.greater(x, r.k(x, l)), r.sub(x, r.k(x, b)), z));
  }),
  hard_sigmoid: unary('clip(alpha * x + beta, 0, 1)', (r, x) =>
    r.op('clip', [r.add(r.mul(x, r.k(x, f32attr(r, 'alpha'))), r.k(x, f32attr(r, 'beta'))), r.k(x, 0), r.k(x, 1)]),
  ),
  hard_swish: unary('x * clip(x / 6 + 0.5, 0, 1)', (r, x) =>
    r.mul(x, r.op('clip', [r.add(r.div(x, r.k(x, 6)), r.k(x, 0.5)), r.k(x, 0), r.k(x, 1)])),
  ),
  softsign: unary('x / (1 + |x|)', (r, x) => r.div(x, r.add(r.un('abs', x), r.k(x, 1)))),
  mish: unary('x * tanh(softplus(x))', (r, x) => r.mul(x, r.un('tanh', r.un('softplus', x)))),
  sign: unary('where(x > 0, 1, where(x < 0, -1, x)) (0 and NaN stay)', (r, x) =>
    r.where(r.greater(x, r.k(x, 0)), r.k(x, 1), r.where(r.less(x, r.k(x, 0)), r.k(x, -1), x)),
  ),
  prelu: {
    summary: 'where(x < 0, slope * x, x)',
    rewrite: (r) => [r.where(r.less(r.x(0), r.k(r.x(0), 0)), r.mul(r.x('slope'), r.x(0)), r.x(0))],
  },
  ms_gelu: unary('gelu(x)', (r, x) => r.op('gelu', [x])),
  quick_gelu: unary('x * sigmoid(alpha * x)', (r, x) => r.mul(x, r.un('sigmoid', r.mul(x, r.k(x, f32attr(r, 'alpha')))))),
  fast_gelu: {
    summary: "gelu(x (+ bias), approximate = 'tanh')",
    rewrite: (r) => [r.op('gelu', [r.in('bias') ? r.add(r.x(0), r.x('bias')) : r.x(0)], { approximate: 'tanh' })],
  },
  bias_gelu: { summary: 'gelu(x + bias)', rewrite: (r) => [r.op('gelu', [r.add(r.x(0), r.x('bias'))])] },

  // ---- predicates and integer ops
  is_nan: unary('not(x == x)', (r, x) => r.not(r.equal(x, x))),
  is_inf: unary('|x| == inf (x == inf, x == -inf for one sign; x > inf, always false, for neither)', (r, x) => {
    const [neg, pos] = [r.attrs.detect_negative !== 0, r.attrs.detect_positive !== 0];
    if (pos && neg) return r.equal(r.un('abs', x), r.k(x, Infinity));
    if (pos || neg) return r.equal(x, r.k(x, pos ? Infinity : -Infinity));
    return r.greater(x, r.k(x, Infinity));
  }),
  xor: { summary: 'not(a == b) on bools', rewrite: (r) => [r.not(r.equal(r.x(0), r.x(1)))] },
  mod: {
    summary:
      'integers: r = a - b * (a / b) (0 where b = 0), + b where r and b differ in sign (fmod = 0); floats: the same in float64 with trunc (exact for |a / b| < 2^29)',
    rewrite(r) {
      const [a, b] = [r.x(0), r.x(1)];
      const dt = a.type.dtype;
      if (!isFloatType(dt)) {
        const rem = r.where(r.equal(b, r.k(b, 0)), r.k(a, 0), r.sub(a, r.mul(b, r.div(a, b))));
        if (r.attrs.fmod !== 0) return [rem];
        const differ = r.not(r.equal(r.less(rem, r.k(a, 0)), r.less(b, r.k(b, 0))));
        const fix = r.op('and', [r.not(r.equal(rem, r.k(a, 0))), differ]);
        return [r.where(fix, r.add(rem, b), rem)];
      }
      // fmod of f32 (f16, bf16) operands in float64: the quotient is exact enough to truncate
      // correctly, and b * trunc(a / b) and the difference are exact, for |a / b| < 2^29.
      if (!r.hasF64 || dt === 'f64') return undefined;
      const [a64, b64] = [r.cast(a, 'f64'), r.cast(b, 'f64')];
      const q = r.div(a64, b64);
      const t = r.where(r.less(q, r.scalar('f64', 0)), r.un('ceil', q), r.un('floor', q));
      const rem = r.sub(a64, r.mul(b64, t));
      // x % inf = x (b * trunc(a / inf) would be inf * 0 = NaN)
      return [r.cast(r.where(r.equal(r.un('abs', b64), r.scalar('f64', Infinity)), a64, rem), dt)];
    },
  },

  // ---- variadic and casts
  sum: { summary: 'add(add(x0, x1), ...)', rewrite: (r) => [r.node.inputs.slice(1).reduce<Value>((acc, v) => r.add(acc, v!), r.x(0))] },
  mean: {
    summary: 'add(add(x0, x1), ...) / n',
    rewrite: (r) => {
      const ins = r.node.inputs as Value[];
      if (ins.length === 1) return [ins[0]!];
      return [
        r.div(
          ins.slice(1).reduce<Value>((acc, v) => r.add(acc, v), ins[0]!),
          r.k(ins[0]!, ins.length),
        ),
      ];
    },
  },
  cast_like: { summary: "cast(x, to = target's dtype)", rewrite: (r) => [r.cast(r.x(0), r.x('target_type').type.dtype)] },
  dropout: {
    summary: 'output = data; mask = a constant all-true tensor (inference only)',
    rewrite(r) {
      const t = r.in('training_mode');
      if (t && !t.const) return undefined; // training_mode known only at run time
      const x = r.x();
      if (!r.used(1)) return [x, null];
      const shape = staticShape(x);
      if (!shape) return undefined;
      return [x, r.tensor(makeTensor('bool', shape, new Uint8Array(numel(shape)).fill(1)))];
    },
  },

  // ---- reductions (ir/ops/reduce.ts)
  reduce_min: {
    summary:
      "floats: -reduce_max(-x); integers: c - reduce_max(c - x), c = -1 (signed) or the type's max (unsigned), which cannot overflow",
    rewrite(r) {
      const x = r.x();
      const dt = x.type.dtype;
      if (isFloatType(dt)) return [r.un('neg', reduceLike(r, 'reduce_max', r.un('neg', x)))];
      const c = r.k(x, signedInt(dt) ? -1 : intRange(dt)[1]);
      return [r.sub(c, reduceLike(r, 'reduce_max', r.sub(c, x)))];
    },
  },
  reduce_l1: { summary: 'reduce_sum(|x|)', rewrite: (r) => [reduceLike(r, 'reduce_sum', r.un('abs', r.x()))] },
  reduce_sum_square: { summary: 'reduce_sum(x * x)', rewrite: (r) => [reduceLike(r, 'reduce_sum', r.mul(r.x(), r.x()))] },
  reduce_l2: {
    summary: 'sqrt(reduce_sum(x * x)) (floats)',
    rewrite: (r) => (isFloatV(r.x()) ? [r.un('sqrt', reduceLike(r, 'reduce_sum', r.mul(r.x(), r.x())))] : undefined),
  },
  reduce_log_sum: {
    summary: 'log(reduce_sum(x)) (floats)',
    rewrite: (r) => (isFloatV(r.x()) ? [r.un('log', reduceLike(r, 'reduce_sum', r.x()))] : undefined),
  },
  reduce_log_sum_exp: {
    summary: 'm = reduce_max(x, keepdims) (0 where it is -inf); log(reduce_sum(exp(x - m))) + m (floats)',
    rewrite(r) {
      const x = r.x();
      const out = staticShape(r.node.outputs[0]!);
      if (!isFloatV(x) || !out) return undefined;
      const m = reduceLike(r, 'reduce_max', x, 1);
      const ms = r.where(r.equal(m, r.k(x, -Infinity)), r.k(x, 0), m);
      const s = reduceLike(r, 'reduce_sum', r.un('exp', r.sub(x, ms)));
      const mo = r.attrs.keepdims !== 0 ? ms : r.reshape(ms, out);
      return [r.add(r.un('log', s), mo)];
    },
  },

  // ---- norms (ir/ops/norm.ts)
  skip_layer_norm: {
    summary: 'S = input + skip (+ bias); [output, mean, inv_std_var] = layer_norm(S, gamma, beta, axis -1); input_skip_bias_sum = S',
    rewrite(r) {
      let s = r.add(r.x('input'), r.x('skip'));
      if (r.in('bias')) s = r.add(s, r.x('bias'));
      const [y, mean, inv] = r.ops('layer_norm', [s, r.x('gamma'), r.in('beta')], {
        axis: -1,
        epsilon: r.attrs.epsilon as number,
        stash_type: 1,
      });
      return [y!, mean!, inv!, s];
    },
  },

  // ---- quantization (ir/ops/quant.ts)
  quantize_linear: {
    summary: 'f32, per-tensor or per-axis scale: cast(clip(round(x / scale) + zero_point, lo, hi)) (exact: f32 division, halves to even)',
    rewrite(r) {
      const [x, s, zp] = [r.x('x'), r.x('y_scale'), r.in('y_zero_point')];
      const out = r.node.outputs[0]!.type.dtype;
      const xs = staticShape(x);
      if (x.type.dtype !== 'f32' || s.type.dtype !== 'f32' || (r.attrs.block_size as number) > 0 || !xs) return undefined;
      // a per-axis scale (and zero point) broadcast along its axis
      const perAxis = s.type.shape.length === 1 && s.type.shape[0] !== 1;
      const a = perAxis ? axisOf(r, xs.length) : 0;
      const along = (v: Value) => (perAxis ? r.reshape(v, [xs[a]!, ...Array<number>(xs.length - a - 1).fill(1)]) : v);
      let q = r.un('round', r.div(x, along(s)));
      if (zp) q = r.add(q, along(r.cast(zp, 'f32')));
      const [lo, hi] = intRange(out);
      return [r.cast(r.op('clip', [q, r.scalar('f32', lo), r.scalar('f32', hi)]), out)];
    },
  },

  // ---- along one axis (ir/ops/axis.ts)
  argmax: argRule('reduce_max'),
  argmin: argRule('reduce_min'),
  hardmax: {
    summary: 'cast(iota == argmax(x, axis, keepdims), dtype of x)',
    rewrite(r) {
      const x = r.x();
      const shape = staticShape(x);
      if (!shape) return undefined;
      const a = axisOf(r, shape.length);
      if (shape[a] === 0) return [x];
      const m = r.op('reduce_max', [x, r.i64([a])], { keepdims: 1 });
      const idx = indexOf(r, x, m, a, 1, false);
      return [r.cast(r.equal(iotaAlong(r, shape[a]!, a, shape.length), idx), x.type.dtype)];
    },
  },
  cumsum: {
    summary:
      'constant axis, static shape: log2(n) steps y = y + shift(y, 2^k) (shift = slice + concat with zeros); exclusive shifts x by one first',
    rewrite(r) {
      const x = r.x();
      const shape = staticShape(x);
      const axisT = r.x('axis').const;
      if (!shape || !axisT) return undefined;
      const a = normalizeAxis(axisT.data[0]!, shape.length);
      const len = shape[a]!;
      const rev = r.attrs.reverse !== 0;
      const zero = r.k(x, 0);
      // y shifted by d along the axis toward the scan direction, zeros filling the start
      const shift = (y: Value, d: number): Value => {
        if (d >= len) return r.fill(zero, shape);
        const zs = r.fill(
          zero,
          shape.map((s, i) => (i === a ? d : s)),
        );
        return rev
          ? r.op('concat', [r.slice(y, a, d, len), zs], { axis: a })
          : r.op('concat', [zs, r.slice(y, a, 0, len - d)], { axis: a });
      };
      let y = r.attrs.exclusive !== 0 ? shift(x, 1) : x;
      for (let d = 1; d < len; d *= 2) y = r.add(y, shift(y, d));
      return [y];
    },
  },

  // ---- data movement (ir/ops/pad.ts, scatter.ts)
  pad: {
    summary:
      "constant pads: 'constant' crops with slice and pads with concat of broadcast fill blocks; 'reflect' / 'edge' / 'wrap' gather each padded axis by a constant index map",
    rewrite(r) {
      const x = r.x();
      const shape = staticShape(x);
      const pads = r.x('pads').const;
      const axesV = r.in('axes');
      if (!shape || !pads || (axesV && !axesV.const)) return undefined;
      const [b, e] = padsPerAxis(shape.length, intsOf(pads), axesV ? intsOf(axesV.const!) : null, (m) =>
        fail('LUT1110', `pad: ${m}`, nodeLoc(r.node)),
      );
      const mode = r.attrs.mode as string;
      let y = x;
      const cur = [...shape];
      if (mode !== 'constant') {
        for (let a = 0; a < shape.length; a++) {
          if (b[a] === 0 && e[a] === 0) continue;
          const d = shape[a]!;
          const n = d + b[a]! + e[a]!;
          if (d === 0 && n > 0) return undefined; // the interpreter's run-time error
          y = r.op('gather', [y, r.i64(Array.from({ length: n }, (_, o) => sourceIndex(o - b[a]!, d, mode)))], { axis: a });
        }
        return [y];
      }
      const cv = r.in('constant_value');
      let fill: Value;
      if (!cv) fill = r.k(x, 0);
      else if (cv.const) fill = r.k(x, cv.const.data[0]!);
      else fill = r.cast(r.reshape(cv, []), x.type.dtype);
      for (let a = 0; a < shape.length; a++) {
        const [lo, hi] = [b[a]!, e[a]!];
        if (lo < 0 || hi < 0) {
          y = r.slice(y, a, Math.max(0, -lo), cur[a]! - Math.max(0, -hi));
          cur[a] = cur[a]! - Math.max(0, -lo) - Math.max(0, -hi);
        }
        const parts: Value[] = [];
        if (lo > 0)
          parts.push(
            r.fill(
              fill,
              cur.map((s, i) => (i === a ? lo : s)),
            ),
          );
        parts.push(y);
        if (hi > 0)
          parts.push(
            r.fill(
              fill,
              cur.map((s, i) => (i === a ? hi : s)),
            ),
          );
        if (parts.length > 1) y = r.op('concat', parts, { axis: a });
        cur[a] = cur[a]! + Math.max(0, lo) + Math.max(0, hi);
      }
      return [y];
    },
  },
  tile: {
    summary: 'constant repeats: concat of repeats[i] copies along each axis i',
    rewrite(r) {
      const x = r.x();
      const reps = r.x('repeats').const;
      if (!reps || !staticShape(x) || intsOf(reps).some((v) => v < 1)) return undefined;
      let y = x;
      intsOf(reps).forEach((n, a) => {
        if (n > 1) y = r.op('concat', Array<Value>(n).fill(y), { axis: a });
      });
      return [y];
    },
  },
  gather_elements: {
    summary: 'gather(reshape(data, [-1]), (indices + dim where < 0) * stride[axis] + constant offsets of the other coordinates)',
    rewrite(r) {
      const [data, idx] = [r.x('data'), r.x('indices')];
      const ds = staticShape(data),
        is = staticShape(idx);
      if (!ds || !is) return undefined;
      const a = axisOf(r, ds.length);
      const st = strides(ds);
      const idt = idx.type.dtype;
      // offset of each index element's coordinates on every axis but `a`
      const n = numel(is);
      const base = new Array<number>(n);
      const ist = strides(is);
      for (let i = 0; i < n; i++) {
        let off = 0;
        for (let ax = 0; ax < is.length; ax++) if (ax !== a) off += (Math.floor(i / ist[ax]!) % is[ax]!) * st[ax]!;
        base[i] = off;
      }
      const k = r.where(r.less(idx, r.scalar(idt, 0)), r.add(idx, r.scalar(idt, ds[a]!)), idx);
      const flatIdx = r.add(r.mul(k, r.scalar(idt, st[a]!)), r.tensor(makeTensor(idt, is, base)));
      return [r.op('gather', [r.reshape(data, [numel(ds)]), flatIdx], { axis: 0 })];
    },
  },
  scatter_elements: scatterRule,
  scatter_nd: scatterRule,

  // ---- values known at compile time
  constant: { summary: 'its value as a graph constant', rewrite: (r) => foldConstants(r) },
  shape: { summary: 'static shape: a constant', rewrite: (r) => foldTypes(r) },
  size: { summary: 'static shape: a constant', rewrite: (r) => foldTypes(r) },
  'lut.pack': {
    summary: 'constant operands: packed at compile time by its interpreter (bitplane-layout folds it first)',
    rewrite: (r) => foldConstants(r),
  },

  // ---- control flow
  if: {
    summary: 'condition known only at run time, branches of equal static types: both branches inlined, where(cond, then, else)',
    rewrite(r) {
      const t = r.attrs.then_branch as Graph;
      const e = r.attrs.else_branch as Graph;
      const same = t.outputs.every((v, i) => {
        const w = e.outputs[i]!;
        return v.type.dtype === w.type.dtype && isStaticShape(v.type.shape) && v.type.shape.join() === w.type.shape.join();
      });
      if (!same || r.x('cond').const) return undefined;
      for (const br of [t, e]) {
        r.b.graph.constants.push(...br.constants);
        r.b.graph.nodes.push(...br.nodes);
      }
      const cond = r.reshape(r.x('cond'), []);
      return t.outputs.map((v, i) => r.where(cond, v, e.outputs[i]!));
    },
  },
};

// ---- the pass ---------------------------------------------------------------------------------------

/** Deepest nesting of rule expansions before the pass gives up (no rule here nests more than 4). */
export const MAX_DEPTH = 16;

/** Folds a node whose operands are all constants with its interpreter; its results, or undefined. */
function foldConstants(r: Rewriter): RuleResult {
  const n = r.node;
  const def = findOp(n.op)!;
  if (hasTrait(def, 'no-fold') || subgraphs(n).length > 0 || !n.inputs.every((v) => !v || v.const)) return undefined;
  try {
    const outs = def.interp(
      n.inputs.map((v) => v?.const ?? null),
      {
        node: n,
        attrs: r.attrs,
        runGraph: () => fail('LUT4052', 'internal: no subgraph'),
        error: (code, message) => fail(code, message, nodeLoc(n)),
      },
    );
    return outs.map((t) => r.tensor(t));
  } catch (e) {
    if (e instanceof LutcError) return undefined;
    throw e;
  }
}

/** Results computed from input types alone (Shape, Size of static shapes). */
function foldTypes(r: Rewriter): RuleResult {
  const def = findOp(r.node.op)!;
  const outs = def.foldFromTypes?.(inferCtxOf(r.node));
  return outs?.map((t) => r.tensor(t));
}

export interface LegalizeOptions {
  /** The target (for rules that depend on it, e.g. float64 support). */
  target: string;
  /** Ops the target renders; nodes of other ops are rewritten. */
  native: ReadonlySet<string>;
  /** The rule table (default RULES); tests pass broken tables. */
  rules?: Readonly<Record<string, Rule>>;
}

/**
 * Rewrites every node of `g` whose op is not in `opts.native` by its rule, to a fixed point, in place.
 * Returns the ops rewritten (one entry per rewritten node, nested expansions included).
 */
export function legalizeGraph(g: Graph, opts: LegalizeOptions): string[] {
  const rules = opts.rules ?? RULES;
  const rewritten: string[] = [];
  const uses = useLists(g);
  const outs = new Set(g.outputs);
  const original = new Set(g.nodes);
  const live = (v: Value) => !v.producer || !original.has(v.producer) || outs.has(v) || (uses.get(v)?.length ?? 0) > 0;
  const b = new GraphBuilder(g);
  const subst = new Map<Value, Value>();
  const todo = g.nodes;
  g.nodes = [];

  const expand = (n: Node, chain: string[]): void => {
    n.inputs = n.inputs.map((v) => (v && subst.get(v)) ?? v);
    for (const sub of subgraphs(n)) for (const [from, to] of subst) replaceAllUses(sub, from, to);
    // constant operands: the fold-constants policy (its results are constants now; the node goes)
    if (n.inputs.every((v) => !v || v.const) && foldConstantNode(g, n)) return;
    if (opts.native.has(n.op)) {
      g.nodes.push(n);
      return;
    }
    if (chain.includes(n.op) || chain.length >= MAX_DEPTH) {
      fail(
        'LUT4050',
        `internal: the legalize rule for '${chain[0]}' does not terminate (expansion ${[...chain, n.op].join(' -> ')})`,
        nodeLoc(n, g.meta?.file),
      );
    }
    const rw = new Rewriter(b, n, opts.target, live);
    const mark = g.nodes.length;
    const nConst = g.constants.length;
    const rule = rules[n.op];
    const res = rule?.rewrite(rw);
    if (rule && !res) {
      g.nodes.length = mark; // a declining rule leaves nothing behind
      g.constants.length = nConst;
    }
    if (!res) {
      g.nodes.push(n);
      return;
    }
    const created = g.nodes.splice(mark);
    const mine = new Set(created);
    rewritten.push(n.op);
    const taken = new Map<Value, Value>(); // rule result -> the old result that took it over
    n.outputs.forEach((v, i) => {
      const r0 = res[i];
      if (!r0) {
        if (live(v))
          fail(
            'LUT4051',
            `internal: the legalize rule for '${n.op}' gave no value for result ${i}, which is used`,
            nodeLoc(n, g.meta?.file),
          );
        return;
      }
      const nv = taken.get(r0) ?? r0;
      const [ns, vs] = [nv.type.shape, v.type.shape];
      if (
        nv.type.dtype !== v.type.dtype ||
        ns.length !== vs.length ||
        ns.some((d, j) => typeof d === 'number' && typeof vs[j] === 'number' && d !== vs[j])
      ) {
        fail(
          'LUT4051',
          `internal: the legalize rule for '${n.op}' gave ${nv.type.dtype} [${nv.type.shape}] for result ${i}, expected ${v.type.dtype} [${v.type.shape}]`,
          nodeLoc(n, g.meta?.file),
        );
      }
      const p = nv.producer;
      if (!taken.has(r0) && p && mine.has(p)) {
        // the new value's producer takes over the old value, so its name and uses stay
        takeOverValue(p, p.outputs.indexOf(nv), v);
        taken.set(r0, v);
        for (const c of created) c.inputs = c.inputs.map((x) => (x === nv ? v : x));
        for (const c of created) for (const sub of subgraphs(c)) replaceAllUses(sub, nv, v);
      } else if (outs.has(v)) {
        // a graph output keeps its name: copy the existing value into it (a view op, free in the plan)
        const id = rw.ops('identity', [nv])[0]!;
        created.push(...g.nodes.splice(mark));
        takeOverValue(id.producer!, 0, v);
      } else subst.set(v, nv);
    });
    for (const c of created) expand(c, [...chain, n.op]);
  };

  for (const n of todo) expand(n, []);
  g.outputs = g.outputs.map((v) => subst.get(v) ?? v);
  removeDeadNodes(g);
  return rewritten;
}

export const legalize: Pass = {
  name: 'legalize',
  summary: 'rewrites ops the target does not render natively into ops it does (one rule per op, to a fixed point)',
  run(g, ctx) {
    if (ctx.opts.target === 'ref') return; // the interpreter runs every op
    legalizeGraph(g, { target: ctx.opts.target, native: nativeOps(ctx.opts.target) });
  },
};

/** Per-op status on a target for docs/op-support.md: native kernel, a legalize rule, or neither. */
export function opStatus(op: string, target: string): 'native' | 'rule' | 'none' {
  if (nativeOps(target).has(op)) return 'native';
  return RULES[op] ? 'rule' : 'none';
}
