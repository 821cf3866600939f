/**
 * Elementwise graph ops: numpy-broadcasting binary arithmetic, comparisons and logic, variadic
 * max/min, where, unary math and activations, clip and cast. Every op is one call of a factory
 * (`binaryOp`, `unaryOp`) or a short `defineOp`, so the op facts (operands, traits, dtype rule, shape
 * rule, kernel) sit in one line or two each; the factories set the traits of their kind
 * ('elementwise' + 'binary-broadcast' or 'unary', 'commutative' where the spec says so). Kernels compute in doubles and store through `storer`, which
 * rounds to f32/f16/bf16 or wraps integers as ONNX/ORT do.
 */

import { dimAdd, dimCompare, dimFloorDiv, dimMax, dimMin, dimMul, dimNonNegative, dimSub } from '../dim-expr.js';
import { type AttrSpec, defineOp, type InferCtx, type InterpCtx } from '../optable.js';
import { allocData, numel } from '../tensor.js';
import type { Attrs, Dim, DType, Tensor, TensorType } from '../types.js';
import { elementwiseDims } from './dims.js';
import {
  ALL_TYPES,
  BOOL_TYPES,
  castConverter,
  erf,
  FLOAT_TYPES,
  geluErf,
  geluTanh,
  NUMERIC_TYPES,
  ONNX_DTYPES,
  operandType,
  SIGNED_TYPES,
  sameDtype,
  sigmoid,
  softplus,
  storer,
} from './numeric.js';
import { broadcastIndex, broadcastShapes } from './util.js';

// ---- broadcasting helpers ------------------------------------------------------------------------

/** Shape rule of a broadcasting op: the numpy broadcast of `types` (symbolic dims allowed), or LUT1110. */
export function inferBroadcast(ctx: InferCtx, types: readonly TensorType[]): Dim[] {
  const r = broadcastShapes(types.map((t) => t.shape));
  if (typeof r === 'string') ctx.error('LUT1110', `${ctx.node.op}: ${r}`);
  return r;
}

/** The concrete broadcast shape of run-time tensors; a mismatch (possible with symbolic dims) is LUT3010. */
function runtimeBroadcast(ctx: InterpCtx, ts: readonly Tensor[]): number[] {
  const r = broadcastShapes(ts.map((t) => t.shape));
  if (typeof r === 'string') ctx.error('LUT3010', `${ctx.node.op}: at run time ${r}`);
  return r as number[];
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Flat source index per output element, or null when the tensor already has the output shape. */
function indexFor(t: Tensor, shape: number[]): Int32Array | null {
  return sameShape(t.shape, shape) ? null : broadcastIndex(t.shape, shape);
}

/** `f` over two broadcast tensors, each result stored as `outDtype`. */
export function mapBinary(ctx: InterpCtx, a: Tensor, b: Tensor, outDtype: DType, f: (x: number, y: number) => number): Tensor {
  const shape = runtimeBroadcast(ctx, [a, b]);
  const n = numel(shape);
  const out = allocData(outDtype, n);
  const st = storer(outDtype);
  const ai = indexFor(a, shape);
  const bi = indexFor(b, shape);
  const ad = a.data;
  const bd = b.data;
  for (let i = 0; i < n; i++) out[i] = st(f(ad[ai ? ai[i]! : i]!, bd[bi ? bi[i]! : i]!));
  return { dtype: outDtype, shape, data: out };
}

/** `f` over one tensor, results stored as `outDtype`. */
export function mapUnary(x: Tensor, outDtype: DType, f: (v: number) => number): Tensor {
  const out = allocData(outDtype, x.data.length);
  const st = storer(outDtype);
  const d = x.data;
  for (let i = 0; i < d.length; i++) out[i] = st(f(d[i]!));
  return { dtype: outDtype, shape: [...x.shape], data: out };
}

// ---- binary ops ----------------------------------------------------------------------------------

export interface BinarySpec {
  name: string;
  onnx: string;
  summary: string;
  /** Operand dtypes allowed (both operands share one, ONNX's `T`). */
  types: readonly DType[];
  /** Comparison ops produce bool. */
  bool?: boolean;
  /** A op B = B op A (trait 'commutative'). */
  commutative?: boolean;
  /** The kernel for operand dtype `dt`. */
  kernel(dt: DType): (a: number, b: number) => number;
  /** The op on dims (runtime shape arithmetic, `OpDef.dimValues`); absent: not evaluated on dims. */
  dims?: (a: Dim, b: Dim) => Dim | boolean | undefined;
}

/** Defines a broadcasting binary op from its spec (exported for ir/ops/math.ts). */
export function binaryOp(s: BinarySpec): void {
  defineOp({
    name: s.name,
    onnx: { domain: '', type: s.onnx },
    summary: s.summary,
    inputs: [{ name: 'A' }, { name: 'B' }],
    outputs: [{ name: 'C' }],
    attrs: {},
    traits: ['elementwise', 'binary-broadcast', ...(s.commutative ? (['commutative'] as const) : [])],
    infer(ctx) {
      const a = operandType(ctx, 0, s.types);
      const b = operandType(ctx, 1, s.types);
      const dt = sameDtype(ctx, [0, 1]);
      return [{ dtype: s.bool ? 'bool' : dt, shape: inferBroadcast(ctx, [a, b]) }];
    },
    interp([a, b], ctx) {
      return [mapBinary(ctx, a!, b!, s.bool ? 'bool' : a!.dtype, s.kernel(a!.dtype))];
    },
    ...(s.dims ? { dimValues: elementwiseDims(([a, b]) => s.dims!(a!, b!)) } : {}),
  });
}

const isInt = (dt: DType) => !FLOAT_TYPES.includes(dt);

binaryOp({
  name: 'add',
  onnx: 'Add',
  summary: 'A + B',
  types: NUMERIC_TYPES,
  commutative: true,
  kernel: () => (a, b) => a + b,
  dims: dimAdd,
});
binaryOp({ name: 'sub', onnx: 'Sub', summary: 'A - B', types: NUMERIC_TYPES, kernel: () => (a, b) => a - b, dims: dimSub });
binaryOp({
  name: 'mul',
  onnx: 'Mul',
  summary: 'A * B',
  types: NUMERIC_TYPES,
  commutative: true,
  // 32-bit products can exceed 2^53 in a double; Math.imul gives the exact low 32 bits that C keeps.
  kernel: (dt) => (dt === 'i32' ? Math.imul : dt === 'u32' ? (a, b) => Math.imul(a, b) >>> 0 : (a, b) => a * b),
  dims: dimMul,
});
binaryOp({
  name: 'div',
  onnx: 'Div',
  summary: 'A / B; integers truncate toward zero (x / 0 gives 0: ORT leaves it undefined)',
  types: NUMERIC_TYPES,
  kernel: (dt) => (isInt(dt) ? (a, b) => (b === 0 ? 0 : Math.trunc(a / b)) : (a, b) => a / b),
  // sizes are >= 0, so truncation is floor division
  dims: (a, b) => (dimNonNegative(a) ? dimFloorDiv(a, b) : undefined),
});

// NaN propagates through max/min as in numpy (ONNX's reference).
const maxOf = (a: number, b: number) => (a !== a || b !== b ? NaN : a > b ? a : b);
const minOf = (a: number, b: number) => (a !== a || b !== b ? NaN : a < b ? a : b);

/** The orders of dimCompare that decide a comparison true and false (others: undecided). */
type Order = ReturnType<typeof dimCompare>;
const decide =
  (yes: readonly Order[], no: readonly Order[]) =>
  (a: Dim, b: Dim): boolean | undefined => {
    const r = dimCompare(a, b);
    return yes.includes(r) ? true : no.includes(r) ? false : undefined;
  };

const cmp = (
  name: string,
  onnx: string,
  types: readonly DType[],
  f: (a: number, b: number) => boolean,
  commutative = false,
  dims?: BinarySpec['dims'],
) =>
  binaryOp({
    name,
    onnx,
    summary: `elementwise ${onnx}, bool result`,
    types,
    bool: true,
    commutative,
    kernel: () => (a, b) => (f(a, b) ? 1 : 0),
    dims,
  });
cmp('equal', 'Equal', ALL_TYPES, (a, b) => a === b, true, decide([0], [1, -1]));
cmp('less', 'Less', NUMERIC_TYPES, (a, b) => a < b, false, decide([-1], [0, 1, 'ge']));
cmp('greater', 'Greater', NUMERIC_TYPES, (a, b) => a > b, false, decide([1], [0, -1, 'le']));
cmp('greater_or_equal', 'GreaterOrEqual', NUMERIC_TYPES, (a, b) => a >= b, false, decide([1, 0, 'ge'], [-1]));
cmp('less_or_equal', 'LessOrEqual', NUMERIC_TYPES, (a, b) => a <= b, false, decide([-1, 0, 'le'], [1]));
cmp('and', 'And', BOOL_TYPES, (a, b) => a !== 0 && b !== 0, true);
cmp('or', 'Or', BOOL_TYPES, (a, b) => a !== 0 || b !== 0, true);

defineOp({
  name: 'pow',
  onnx: { domain: '', type: 'Pow' },
  summary: "X ^ Y; the exponent may have another numeric dtype; the result has X's dtype (ints truncate)",
  inputs: [{ name: 'X' }, { name: 'Y' }],
  outputs: [{ name: 'Z' }],
  attrs: {},
  traits: ['elementwise', 'binary-broadcast'],
  infer(ctx) {
    const x = operandType(ctx, 0, ['f32', 'f16', 'bf16', 'f64', 'i32', 'i64']);
    const y = operandType(ctx, 1, NUMERIC_TYPES);
    return [{ dtype: x.dtype, shape: inferBroadcast(ctx, [x, y]) }];
  },
  interp([x, y], ctx) {
    return [mapBinary(ctx, x!, y!, x!.dtype, Math.pow)];
  },
});

/** Variadic max/min (commutative): every operand shares a dtype and broadcasts together. */
export function variadicOp(name: string, onnx: string, f: (a: number, b: number) => number, dims?: (a: Dim, b: Dim) => Dim): void {
  defineOp({
    name,
    onnx: { domain: '', type: onnx },
    summary: `elementwise ${onnx} of one or more broadcast operands (NaN propagates)`,
    inputs: [{ name: 'data_0', variadic: true }],
    outputs: [{ name: onnx.toLowerCase() }],
    attrs: {},
    traits: ['elementwise', 'commutative'],
    infer(ctx) {
      if (ctx.inputs.length === 0) ctx.error('LUT1116', `${name}: needs at least one operand`);
      const types = ctx.inputs.map((_, i) => operandType(ctx, i, NUMERIC_TYPES));
      const dt = sameDtype(
        ctx,
        types.map((_, i) => i),
      );
      return [{ dtype: dt, shape: inferBroadcast(ctx, types) }];
    },
    interp(ins, ctx) {
      let acc = ins[0]!;
      if (ins.length === 1) acc = mapUnary(acc, acc.dtype, (v) => v);
      for (let i = 1; i < ins.length; i++) acc = mapBinary(ctx, acc, ins[i]!, acc.dtype, f);
      return [acc];
    },
    ...(dims ? { dimValues: elementwiseDims((xs) => xs.reduce(dims)) } : {}),
  });
}
variadicOp('max', 'Max', maxOf, dimMax);
variadicOp('min', 'Min', minOf, dimMin);

defineOp({
  name: 'where',
  onnx: { domain: '', type: 'Where' },
  summary: 'condition ? X : Y, all three broadcast',
  inputs: [{ name: 'condition' }, { name: 'X' }, { name: 'Y' }],
  outputs: [{ name: 'output' }],
  attrs: {},
  traits: ['elementwise'],
  infer(ctx) {
    const c = operandType(ctx, 0, BOOL_TYPES);
    const x = operandType(ctx, 1, ALL_TYPES);
    const y = operandType(ctx, 2, ALL_TYPES);
    const dt = sameDtype(ctx, [1, 2]);
    return [{ dtype: dt, shape: inferBroadcast(ctx, [c, x, y]) }];
  },
  interp([c, x, y], ctx) {
    const shape = runtimeBroadcast(ctx, [c!, x!, y!]);
    const n = numel(shape);
    const out = allocData(x!.dtype, n);
    const [ci, xi, yi] = [indexFor(c!, shape), indexFor(x!, shape), indexFor(y!, shape)];
    for (let i = 0; i < n; i++) {
      out[i] = c!.data[ci ? ci[i]! : i] ? x!.data[xi ? xi[i]! : i]! : y!.data[yi ? yi[i]! : i]!;
    }
    return [{ dtype: x!.dtype, shape, data: out }];
  },
  dimValues: elementwiseDims(([c, x, y]) => (typeof c === 'number' ? (c ? x : y) : undefined)),
});

// ---- unary ops -----------------------------------------------------------------------------------

export interface UnarySpec {
  name: string;
  onnx: string;
  summary: string;
  types: readonly DType[];
  attrs?: Record<string, AttrSpec>;
  /** ONNX domain of the op; '' (ai.onnx) when absent. */
  domain?: string;
  /** The kernel for input dtype `dt` and resolved attributes. */
  kernel(dt: DType, attrs: Attrs): (x: number) => number;
}

/** Defines a same-shape, same-dtype unary op from its spec (exported for ir/ops/math.ts). */
export function unaryOp(s: UnarySpec): void {
  defineOp({
    name: s.name,
    onnx: { domain: s.domain ?? '', type: s.onnx },
    summary: s.summary,
    inputs: [{ name: 'X' }],
    outputs: [{ name: 'Y' }],
    attrs: s.attrs ?? {},
    traits: ['elementwise', 'unary'],
    infer(ctx) {
      const x = operandType(ctx, 0, s.types);
      return [{ dtype: x.dtype, shape: [...x.shape] }];
    },
    interp([x], ctx) {
      return [mapUnary(x!, x!.dtype, s.kernel(x!.dtype, ctx.attrs))];
    },
  });
}

/** Shorthand for float-only unary math with no attributes. */
const floatUnary = (name: string, onnx: string, summary: string, f: (x: number) => number) =>
  unaryOp({ name, onnx, summary, types: FLOAT_TYPES, kernel: () => f });

floatUnary('sqrt', 'Sqrt', 'square root', Math.sqrt);
floatUnary('reciprocal', 'Reciprocal', '1 / X', (x) => 1 / x);
floatUnary('exp', 'Exp', 'e^X', Math.exp);
floatUnary('log', 'Log', 'natural logarithm', Math.log);
floatUnary('erf', 'Erf', 'error function', erf);
floatUnary('tanh', 'Tanh', 'hyperbolic tangent', Math.tanh);
// Both forms avoid exp overflow: exp of a large positive argument never happens.
floatUnary('sigmoid', 'Sigmoid', '1 / (1 + e^-X)', sigmoid);
floatUnary('softplus', 'Softplus', 'log(1 + e^X)', softplus);
unaryOp({ name: 'neg', onnx: 'Neg', summary: '-X (ints wrap)', types: SIGNED_TYPES, kernel: () => (x) => -x });
unaryOp({ name: 'abs', onnx: 'Abs', summary: '|X| (ints wrap: abs(INT_MIN) = INT_MIN)', types: NUMERIC_TYPES, kernel: () => Math.abs });
unaryOp({ name: 'relu', onnx: 'Relu', summary: 'max(0, X), NaN kept', types: SIGNED_TYPES, kernel: () => (x) => (x < 0 ? 0 : x) });
unaryOp({
  name: 'leaky_relu',
  onnx: 'LeakyRelu',
  summary: 'X < 0 ? alpha * X : X',
  types: FLOAT_TYPES,
  attrs: { alpha: { type: 'float', default: 0.01 } },
  kernel: (_, at) => {
    const alpha = Math.fround(at.alpha as number); // the attribute is a float32 in ONNX
    return (x) => (x < 0 ? alpha * x : x);
  },
});

unaryOp({
  name: 'gelu',
  onnx: 'Gelu',
  summary: "0.5 X (1 + erf(X / sqrt 2)), or the tanh approximation when approximate = 'tanh'",
  types: FLOAT_TYPES,
  attrs: { approximate: { type: 'string', default: 'none', oneOf: ['none', 'tanh'] } },
  kernel: (_, at) => (at.approximate === 'tanh' ? geluTanh : geluErf),
});
unaryOp({ name: 'not', onnx: 'Not', summary: 'logical not', types: BOOL_TYPES, kernel: () => (x) => (x ? 0 : 1) });

defineOp({
  name: 'clip',
  onnx: { domain: '', type: 'Clip' },
  summary: 'min(max(input, min), max); absent bounds are unbounded; min > max gives max everywhere, as ONNX says',
  inputs: [{ name: 'input' }, { name: 'min', optional: true }, { name: 'max', optional: true }],
  outputs: [{ name: 'output' }],
  attrs: {},
  traits: ['elementwise'],
  infer(ctx) {
    const x = operandType(ctx, 0, NUMERIC_TYPES);
    sameDtype(ctx, [0, 1, 2]);
    for (const i of [1, 2]) {
      const t = ctx.inputs[i];
      if (t?.shape.some((d) => d !== 1))
        ctx.error('LUT1110', `clip: bound ${i === 1 ? 'min' : 'max'} must be a scalar, got shape [${t.shape}]`);
    }
    return [{ dtype: x.dtype, shape: [...x.shape] }];
  },
  interp([x, lo, hi], ctx) {
    const bound = (t: Tensor | null, dflt: number, what: string): number => {
      if (!t) return dflt;
      if (t.data.length !== 1) ctx.error('LUT3011', `clip: ${what} must hold one element, has ${t.data.length}`);
      return t.data[0]!;
    };
    const l = bound(lo ?? null, -Infinity, 'min');
    const h = bound(hi ?? null, Infinity, 'max');
    return [mapUnary(x!, x!.dtype, (v) => (v !== v ? v : Math.min(Math.max(v, l), h)))];
  },
});

defineOp({
  name: 'cast',
  onnx: { domain: '', type: 'Cast' },
  summary: 'converts to the ONNX data type `to` (float->int truncates and saturates, ints wrap, ->bool is != 0)',
  inputs: [{ name: 'input' }],
  outputs: [{ name: 'output' }],
  // `saturate` only concerns float8 types, which lutc has none of; it is accepted so models carrying it import.
  attrs: { to: { type: 'int', required: true }, saturate: { type: 'int', default: 1 } },
  traits: ['elementwise', 'unary'],
  infer(ctx) {
    const x = operandType(ctx, 0, ALL_TYPES);
    const to =
      ONNX_DTYPES[ctx.attrs.to as number] ?? ctx.error('LUT1002', `cast: target data type ${String(ctx.attrs.to)} is not supported`);
    return [{ dtype: to, shape: [...x.shape] }];
  },
  interp([x], ctx) {
    const to =
      ONNX_DTYPES[ctx.attrs.to as number] ?? ctx.error('LUT3012', `cast: target data type ${String(ctx.attrs.to)} is not supported`);
    if (x!.dtype === to) return [{ dtype: to, shape: [...x!.shape], data: x!.data.slice() }];
    return [mapUnary(x!, to, castConverter(x!.dtype, to))];
  },
  // sizes stay sizes through an integer cast (int64 <-> int32 index math of exporters)
  dimValues: (ctx, def) => {
    const to = ONNX_DTYPES[ctx.attrs.to as number];
    return to && INT_DIM_TYPES.has(to) ? elementwiseDims(([x]) => x)(ctx, def) : undefined;
  },
});

const INT_DIM_TYPES: ReadonlySet<DType> = new Set(['i32', 'i64', 'u32', 'u64']);
