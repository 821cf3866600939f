/**
 * More elementwise ops that real exports use: rounding, sign, trigonometry, the remaining ONNX
 * activations (HardSigmoid, HardSwish, Elu, Selu, Celu, ThresholdedRelu, Shrink, Softsign, Mish,
 * PRelu), IsNaN / IsInf, Mod, Xor, BitShift, Sum / Mean, CastLike, and onnxruntime's com.microsoft
 * Gelu family (Gelu, FastGelu, BiasGelu, QuickGelu). Built on the factories of ir/ops/elementwise.ts;
 * kernels compute in doubles and store through `storer`, as there. Float attributes are float32 in
 * ONNX, so they are rounded with Math.fround before use (ORT computes with the float value).
 */
import { defineOp } from '../optable.js';
import { roundHalfEven } from '../tensor.js';
import type { Attrs, DType, Tensor } from '../types.js';
import { binaryOp, inferBroadcast, mapBinary, mapUnary, unaryOp, variadicOp } from './elementwise.js';
import {
  ALL_TYPES,
  BOOL_TYPES,
  castConverter,
  FLOAT_TYPES,
  geluErf,
  geluTanh,
  NUMERIC_TYPES,
  operandType,
  sameDtype,
  sigmoid,
  softplus,
} from './numeric.js';

const f32 = (at: Attrs, k: string): number => Math.fround(at[k] as number);

// ---- rounding, sign, trigonometry -------------------------------------------------------------------

/** Float-only unary math without attributes. */
const floatUnary = (name: string, onnx: string, summary: string, f: (x: number) => number) =>
  unaryOp({ name, onnx, summary, types: FLOAT_TYPES, kernel: () => f });

floatUnary('ceil', 'Ceil', 'smallest integer >= X', Math.ceil);
floatUnary('floor', 'Floor', 'largest integer <= X', Math.floor);
floatUnary('round', 'Round', 'nearest integer, halves to even (as ONNX and std::nearbyint)', roundHalfEven);
floatUnary('sin', 'Sin', 'sine', Math.sin);
floatUnary('cos', 'Cos', 'cosine', Math.cos);
floatUnary('tan', 'Tan', 'tangent', Math.tan);
floatUnary('asin', 'Asin', 'arcsine', Math.asin);
floatUnary('acos', 'Acos', 'arccosine', Math.acos);
floatUnary('atan', 'Atan', 'arctangent', Math.atan);
floatUnary('sinh', 'Sinh', 'hyperbolic sine', Math.sinh);
floatUnary('cosh', 'Cosh', 'hyperbolic cosine', Math.cosh);
floatUnary('asinh', 'Asinh', 'inverse hyperbolic sine', Math.asinh);
floatUnary('acosh', 'Acosh', 'inverse hyperbolic cosine', Math.acosh);
floatUnary('atanh', 'Atanh', 'inverse hyperbolic tangent', Math.atanh);
unaryOp({
  name: 'sign',
  onnx: 'Sign',
  summary: '-1, 0 or 1 by the sign of X (NaN stays NaN)',
  types: NUMERIC_TYPES,
  kernel: () => (x) => (x > 0 ? 1 : x < 0 ? -1 : x === 0 ? 0 : NaN),
});

// ---- activations ------------------------------------------------------------------------------------

floatUnary('softsign', 'Softsign', 'X / (1 + |X|)', (x) => x / (1 + Math.abs(x)));
floatUnary('mish', 'Mish', 'X * tanh(softplus(X))', (x) => x * Math.tanh(softplus(x)));
unaryOp({
  name: 'hard_sigmoid',
  onnx: 'HardSigmoid',
  summary: 'max(0, min(1, alpha * X + beta))',
  types: FLOAT_TYPES,
  attrs: { alpha: { type: 'float', default: 0.2 }, beta: { type: 'float', default: 0.5 } },
  kernel: (_, at) => {
    const [a, b] = [f32(at, 'alpha'), f32(at, 'beta')];
    return (x) => Math.max(0, Math.min(1, a * x + b));
  },
});
unaryOp({
  name: 'hard_swish',
  onnx: 'HardSwish',
  summary: 'X * max(0, min(1, X / 6 + 0.5))',
  types: FLOAT_TYPES,
  kernel: () => (x) => x * Math.max(0, Math.min(1, x / 6 + 0.5)),
});
unaryOp({
  name: 'elu',
  onnx: 'Elu',
  summary: 'X < 0 ? alpha * (e^X - 1) : X',
  types: FLOAT_TYPES,
  attrs: { alpha: { type: 'float', default: 1 } },
  kernel: (_, at) => {
    const a = f32(at, 'alpha');
    return (x) => (x < 0 ? a * Math.expm1(x) : x);
  },
});
unaryOp({
  name: 'selu',
  onnx: 'Selu',
  summary: 'gamma * (X > 0 ? X : alpha * (e^X - 1))',
  types: FLOAT_TYPES,
  // The defaults are ONNX's float32 constants, written exactly.
  // biome-ignore lint/correctness/noPrecisionLoss: exact decimal expansions of float32 values
  attrs: { alpha: { type: 'float', default: 1.67326319217681884765625 }, gamma: { type: 'float', default: 1.05070102214813232421875 } },
  kernel: (_, at) => {
    const [a, g] = [f32(at, 'alpha'), f32(at, 'gamma')];
    return (x) => (x > 0 ? g * x : g * a * Math.expm1(x));
  },
});
unaryOp({
  name: 'celu',
  onnx: 'Celu',
  summary: 'max(0, X) + min(0, alpha * (e^(X / alpha) - 1))',
  types: FLOAT_TYPES,
  attrs: { alpha: { type: 'float', default: 1 } },
  kernel: (_, at) => {
    const a = f32(at, 'alpha');
    return (x) => Math.max(0, x) + Math.min(0, a * Math.expm1(x / a));
  },
});
unaryOp({
  name: 'thresholded_relu',
  onnx: 'ThresholdedRelu',
  summary: 'X > alpha ? X : 0',
  types: FLOAT_TYPES,
  attrs: { alpha: { type: 'float', default: 1 } },
  kernel: (_, at) => {
    const a = f32(at, 'alpha');
    return (x) => (x > a ? x : 0);
  },
});
unaryOp({
  name: 'shrink',
  onnx: 'Shrink',
  summary: 'X < -lambd ? X + bias : X > lambd ? X - bias : 0',
  types: NUMERIC_TYPES,
  attrs: { bias: { type: 'float', default: 0 }, lambd: { type: 'float', default: 0.5 } },
  kernel: (_, at) => {
    const [b, l] = [f32(at, 'bias'), f32(at, 'lambd')];
    return (x) => (x < -l ? x + b : x > l ? x - b : 0);
  },
});

defineOp({
  name: 'prelu',
  onnx: { domain: '', type: 'PRelu' },
  summary: 'X < 0 ? slope * X : X; slope broadcasts to X (one-directionally)',
  inputs: [{ name: 'X' }, { name: 'slope' }],
  outputs: [{ name: 'Y' }],
  attrs: {},
  traits: ['elementwise'],
  infer(ctx) {
    const x = operandType(ctx, 0, NUMERIC_TYPES);
    const s = operandType(ctx, 1, NUMERIC_TYPES);
    sameDtype(ctx, [0, 1]);
    const out = inferBroadcast(ctx, [x, s]);
    if (out.length !== x.shape.length || out.some((d, i) => typeof x.shape[i] === 'number' && d !== x.shape[i])) {
      ctx.error('LUT1110', `prelu: slope of shape [${s.shape}] does not broadcast to X's shape [${x.shape}]`);
    }
    return [{ dtype: x.dtype, shape: [...x.shape] }];
  },
  interp([x, s], ctx) {
    return [mapBinary(ctx, x!, s!, x!.dtype, (v, a) => (v < 0 ? a * v : v))];
  },
});

// ---- predicates -------------------------------------------------------------------------------------

defineOp({
  name: 'is_nan',
  onnx: { domain: '', type: 'IsNaN' },
  summary: 'X is NaN, bool result',
  inputs: [{ name: 'X' }],
  outputs: [{ name: 'Y' }],
  attrs: {},
  traits: ['elementwise', 'unary'],
  infer(ctx) {
    const x = operandType(ctx, 0, FLOAT_TYPES);
    return [{ dtype: 'bool', shape: [...x.shape] }];
  },
  interp: ([x]) => [mapUnary(x!, 'bool', (v) => (v !== v ? 1 : 0))],
});

defineOp({
  name: 'is_inf',
  onnx: { domain: '', type: 'IsInf' },
  summary: 'X is +inf (if detect_positive) or -inf (if detect_negative), bool result',
  inputs: [{ name: 'X' }],
  outputs: [{ name: 'Y' }],
  attrs: { detect_negative: { type: 'int', default: 1 }, detect_positive: { type: 'int', default: 1 } },
  traits: ['elementwise', 'unary'],
  infer(ctx) {
    const x = operandType(ctx, 0, FLOAT_TYPES);
    return [{ dtype: 'bool', shape: [...x.shape] }];
  },
  interp([x], ctx) {
    const neg = ctx.attrs.detect_negative !== 0;
    const pos = ctx.attrs.detect_positive !== 0;
    return [mapUnary(x!, 'bool', (v) => ((pos && v === Infinity) || (neg && v === -Infinity) ? 1 : 0))];
  },
});

// ---- integer-flavoured binary ops -------------------------------------------------------------------

/** Remainder with the divisor's sign (Python's %, ONNX Mod with fmod = 0). x % 0 is 0 (ORT: undefined). */
function pyMod(a: number, b: number): number {
  if (b === 0) return 0;
  const r = a % b;
  return r !== 0 && r < 0 !== b < 0 ? r + b : r;
}

defineOp({
  name: 'mod',
  onnx: { domain: '', type: 'Mod' },
  summary: 'remainder: fmod = 1 takes the sign of A (C fmod), fmod = 0 that of B (integers only, as ONNX requires)',
  inputs: [{ name: 'A' }, { name: 'B' }],
  outputs: [{ name: 'C' }],
  attrs: { fmod: { type: 'int', default: 0 } },
  traits: ['elementwise', 'binary-broadcast'],
  infer(ctx) {
    const a = operandType(ctx, 0, NUMERIC_TYPES);
    const b = operandType(ctx, 1, NUMERIC_TYPES);
    const dt = sameDtype(ctx, [0, 1]);
    if (ctx.attrs.fmod === 0 && FLOAT_TYPES.includes(dt)) ctx.error('LUT1115', `mod: fmod must be 1 for floating-point operands (${dt})`);
    return [{ dtype: dt, shape: inferBroadcast(ctx, [a, b]) }];
  },
  interp([a, b], ctx) {
    const isF = FLOAT_TYPES.includes(a!.dtype);
    // Integer fmod by zero is undefined in C; 0 as for Div.
    const f = ctx.attrs.fmod !== 0 ? (x: number, y: number) => (!isF && y === 0 ? 0 : x % y) : pyMod;
    return [mapBinary(ctx, a!, b!, a!.dtype, f)];
  },
});

binaryOp({
  name: 'xor',
  onnx: 'Xor',
  summary: 'logical exclusive or',
  types: BOOL_TYPES,
  bool: true,
  commutative: true,
  kernel: () => (a, b) => ((a !== 0) !== (b !== 0) ? 1 : 0),
});

const UINT_BITS: Partial<Record<DType, number>> = { u8: 8, u16: 16, u32: 32, u64: 64 };

defineOp({
  name: 'bit_shift',
  onnx: { domain: '', type: 'BitShift' },
  summary: "X << Y or X >> Y (direction 'LEFT' / 'RIGHT') on unsigned ints; shifts of the full width or more give 0",
  inputs: [{ name: 'X' }, { name: 'Y' }],
  outputs: [{ name: 'Z' }],
  attrs: { direction: { type: 'string', required: true, oneOf: ['LEFT', 'RIGHT'] } },
  traits: ['elementwise', 'binary-broadcast'],
  infer(ctx) {
    const x = operandType(ctx, 0, Object.keys(UINT_BITS) as DType[]);
    const y = operandType(ctx, 1, Object.keys(UINT_BITS) as DType[]);
    const dt = sameDtype(ctx, [0, 1]);
    return [{ dtype: dt, shape: inferBroadcast(ctx, [x, y]) }];
  },
  interp([x, y], ctx) {
    const bits = UINT_BITS[x!.dtype]!;
    const left = ctx.attrs.direction === 'LEFT';
    // Doubles hold u64 only to 2^53 (see ir/types.ts); the storer wraps left shifts to the width.
    const f = (a: number, s: number) => (s >= bits ? 0 : left ? a * 2 ** s : Math.floor(a / 2 ** s));
    return [mapBinary(ctx, x!, y!, x!.dtype, f)];
  },
});

// ---- variadic sum / mean, cast_like -----------------------------------------------------------------

variadicOp('sum', 'Sum', (a, b) => a + b);

defineOp({
  name: 'mean',
  onnx: { domain: '', type: 'Mean' },
  summary: 'elementwise mean of one or more broadcast operands (summed in the operand type, as ORT)',
  inputs: [{ name: 'data_0', variadic: true }],
  outputs: [{ name: 'mean' }],
  attrs: {},
  traits: ['elementwise', 'commutative'],
  infer(ctx) {
    if (ctx.inputs.length === 0) ctx.error('LUT1116', 'mean: needs at least one operand');
    const types = ctx.inputs.map((_, i) => operandType(ctx, i, FLOAT_TYPES));
    return [
      {
        dtype: sameDtype(
          ctx,
          types.map((_, i) => i),
        ),
        shape: inferBroadcast(ctx, types),
      },
    ];
  },
  interp(ins, ctx) {
    let acc: Tensor = ins[0]!;
    for (let i = 1; i < ins.length; i++) acc = mapBinary(ctx, acc, ins[i]!, acc.dtype, (a, b) => a + b);
    return [mapUnary(acc, acc.dtype, (v) => v / ins.length)];
  },
});

defineOp({
  name: 'cast_like',
  onnx: { domain: '', type: 'CastLike' },
  summary: "cast to target_type's dtype, with Cast's conversion rules",
  inputs: [{ name: 'input' }, { name: 'target_type' }],
  outputs: [{ name: 'output' }],
  attrs: { saturate: { type: 'int', default: 1 } }, // float8-only, as on cast
  infer(ctx) {
    const x = operandType(ctx, 0, ALL_TYPES);
    const t = operandType(ctx, 1, ALL_TYPES);
    return [{ dtype: t.dtype, shape: [...x.shape] }];
  },
  interp([x, t]) {
    const to = t!.dtype;
    if (x!.dtype === to) return [{ dtype: to, shape: [...x!.shape], data: x!.data.slice() }];
    return [mapUnary(x!, to, castConverter(x!.dtype, to))];
  },
});

// ---- com.microsoft Gelu family ----------------------------------------------------------------------

unaryOp({
  name: 'ms_gelu',
  onnx: 'Gelu',
  domain: 'com.microsoft',
  summary: 'onnxruntime contrib Gelu: 0.5 X (1 + erf(X / sqrt 2))',
  types: FLOAT_TYPES,
  kernel: () => geluErf,
});
unaryOp({
  name: 'quick_gelu',
  onnx: 'QuickGelu',
  domain: 'com.microsoft',
  summary: 'X * sigmoid(alpha * X)',
  types: FLOAT_TYPES,
  attrs: { alpha: { type: 'float', default: 1.702 } },
  kernel: (_, at) => {
    const a = f32(at, 'alpha');
    return (x) => x * sigmoid(a * x);
  },
});

/**
 * A bias-add-then-activation contrib op: bias is 1-D over X's last dim. The sum is rounded to X's
 * type before the activation, as ORT forms it in T.
 */
function biasActOp(name: string, onnx: string, summary: string, biasOptional: boolean, act: (x: number) => number): void {
  defineOp({
    name,
    onnx: { domain: 'com.microsoft', type: onnx },
    summary,
    inputs: [{ name: 'X' }, { name: 'bias', optional: biasOptional }],
    outputs: [{ name: 'Y' }],
    attrs: {},
    traits: ['elementwise'],
    infer(ctx) {
      const x = operandType(ctx, 0, FLOAT_TYPES);
      const b = ctx.inputs[1];
      sameDtype(ctx, [0, 1]);
      const last = x.shape[x.shape.length - 1];
      if (b && (b.shape.length !== 1 || (typeof b.shape[0] === 'number' && typeof last === 'number' && b.shape[0] !== last))) {
        ctx.error('LUT1110', `${name}: bias must be 1-D over X's last dim ${String(last)}, got [${b.shape}]`);
      }
      return [{ dtype: x.dtype, shape: [...x.shape] }];
    },
    interp([x, b], ctx) {
      if (!b) return [mapUnary(x!, x!.dtype, act)];
      const sum = mapBinary(ctx, x!, b, x!.dtype, (v, c) => v + c);
      return [mapUnary(sum, x!.dtype, act)];
    },
  });
}
biasActOp('fast_gelu', 'FastGelu', 'tanh-approximated Gelu of X (+ optional bias over the last dim)', true, geluTanh);
biasActOp('bias_gelu', 'BiasGelu', 'exact (erf) Gelu of A + B, B over the last dim', false, geluErf);
