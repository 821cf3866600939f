/**
 * C kernels of the elementwise graph ops (ir/ops/elementwise.ts, math.ts): broadcasting binary
 * arithmetic, comparisons and logic, variadic max/min, where, pow, bit_shift, unary math and
 * activations, ceil / floor / round and trigonometry (libm in double), clip and cast.
 * Semantics follow the op table's interpreters: float math is done in double and rounded once at the
 * store (for + - * / that equals float arithmetic exactly), integers wrap (computed in 64-bit unsigned,
 * so no signed overflow is ever undefined behaviour), integer division by zero gives 0, float->int
 * casts truncate and saturate with NaN -> 0. `unaryExpr` / `floatBinaryExpr` are the one definition
 * of each op's scalar expression; lut.matmul's fused epilogue (kernels-lut.ts) renders with them too.
 * erf is libm's double erf (a few ulp of double at most), far inside one f32 rounding.
 */
import type { Attrs, DType } from '../../../ir/types.js';
import { inputIndex, VIEW_OPS } from '../../model-plan.js';
import { broadcastStrides, cLiteral, ctype, isFloatDt, isSignedInt, type StepCtx, stridedLoop, stridesOf } from './cgen.js';

type Kernel = (c: StepCtx) => string;

/** Stores an integer-valued C expression (int64/uint64) into `dt`, wrapping like the interpreter. */
export function intStore(dt: DType, e: string): string {
  if (dt === 'i4') return `(int8_t)(((int)((uint64_t)(${e}) & 15u) ^ 8) - 8)`;
  if (dt === 'u4') return `(uint8_t)((uint64_t)(${e}) & 15u)`;
  if (dt === 'bool') return `(uint8_t)((${e}) != 0)`;
  return `(${ctype(dt)})(${e})`;
}

/** A C expression converting double `e` to `dt` as the interpreter's storer does (floats round, ints wrap). */
export function storeFromDouble(dt: DType, e: string): string {
  if (isFloatDt(dt)) return `(${ctype(dt)})(${e})`;
  if (dt === 'bool') return `(uint8_t)((${e}) != 0)`;
  return intStore(dt, `lutc_d2i64(${e})`);
}

/** The elementwise loop over the broadcast of the node's inputs into output 0. */
function broadcastMap(c: StepCtx, expr: (v: string[]) => string): string {
  const out = c.outP(0);
  const shape = c.sh(out);
  const ins = c.step.inputs.map((p, i) => ({ p, i })).filter((x) => x.p !== null);
  const ops = [{ strides: stridesOf(shape) }, ...ins.map((x) => ({ strides: broadcastStrides(c.sh(x.p!), shape, c.requireEqual) }))];
  return stridedLoop(
    shape,
    ops,
    (idx) => `${c.out(0)}[${idx[0]}] = ${expr(ins.map((x, k) => `${c.in(x.i)}[${idx[k + 1]}]`))};`,
    c.omp(out.bytes / 4, '', c.numel(out)),
  );
}

const wide = (dt: DType, v: string) => (isSignedInt(dt) ? `(uint64_t)(int64_t)${v}` : `(uint64_t)${v}`);

function arith(op: '+' | '-' | '*', name: 'add' | 'sub' | 'mul'): Kernel {
  return (c) => {
    const dt = c.outP(0).dtype;
    if (isFloatDt(dt)) return broadcastMap(c, ([a, b]) => floatBinaryExpr(name, a!, b!)!);
    return broadcastMap(c, ([a, b]) => intStore(dt, `${wide(dt, a!)} ${op} ${wide(dt, b!)}`));
  };
}

const div: Kernel = (c) => {
  const dt = c.outP(0).dtype;
  if (isFloatDt(dt)) return broadcastMap(c, ([a, b]) => floatBinaryExpr('div', a!, b!)!);
  if (dt === 'i64') return broadcastMap(c, ([a, b]) => `lutc_div_i64(${a}, ${b})`);
  if (dt === 'u64') return broadcastMap(c, ([a, b]) => `(${b} == 0 ? (uint64_t)0 : ${a} / ${b})`);
  return broadcastMap(c, ([a, b]) => intStore(dt, `(${b} == 0 ? (int64_t)0 : (int64_t)${a} / (int64_t)${b})`));
};

const cmp =
  (op: string): Kernel =>
  (c) =>
    broadcastMap(c, ([a, b]) => `(uint8_t)(${a} ${op} ${b})`);
const logic =
  (op: string): Kernel =>
  (c) =>
    broadcastMap(c, ([a, b]) => `(uint8_t)((${a} != 0) ${op} (${b} != 0))`);

/** max/min over any number of operands, NaN propagating for floats (numpy's rule, as the interpreter). */
function extremum(greater: boolean): Kernel {
  return (c) => {
    const dt = c.outP(0).dtype;
    const T = ctype(dt);
    const rel = greater ? '>' : '<';
    return broadcastMap(c, (vs) => {
      let e = `(${T})${vs[0]}`;
      for (const v of vs.slice(1))
        e = isFloatDt(dt) ? `lutc_${greater ? 'max' : 'min'}_${dt === 'f64' ? 'd' : 'f'}(${e}, ${v})` : `(${v} ${rel} ${e} ? ${v} : ${e})`;
      return e;
    });
  };
}

/** bit_shift on unsigned ints: shifts of the type's width or more give 0 (C leaves them undefined). */
const bitShift: Kernel = (c) => {
  const dt = c.outP(0).dtype;
  const bits = ({ u8: 8, u16: 16, u32: 32, u64: 64 } as Record<string, number>)[dt] ?? 64;
  const op = c.attrs.direction === 'LEFT' ? '<<' : '>>';
  return broadcastMap(c, ([a, b]) => intStore(dt, `(${b} >= ${bits} ? (uint64_t)0 : (uint64_t)${a} ${op} ${b})`));
};

const where: Kernel = (c) => broadcastMap(c, ([cond, x, y]) => `(${cond} ? ${x} : ${y})`);

const pow: Kernel = (c) => {
  const dt = c.outP(0).dtype;
  return broadcastMap(c, ([a, b]) => storeFromDouble(dt, `pow((double)${a}, (double)${b})`));
};

/** Trigonometric ops, each libm's double function of the same name. */
const TRIG = ['sin', 'cos', 'tan', 'asin', 'acos', 'atan', 'sinh', 'cosh', 'asinh', 'acosh', 'atanh'];

/** Float unary functions in double, each the interpreter's formula (`a`: the op's attributes). */
const FLOAT_UNARY: Record<string, (x: string, a: Attrs) => string> = {
  sqrt: (x) => `sqrt(${x})`,
  reciprocal: (x) => `1.0 / ${x}`,
  exp: (x) => `exp(${x})`,
  log: (x) => `log(${x})`,
  erf: (x) => `erf(${x})`,
  tanh: (x) => `tanh(${x})`,
  sigmoid: (x) => `lutc_sigmoid(${x})`,
  softplus: (x) => `(${x} > 0 ? ${x} + log1p(exp(-${x})) : log1p(exp(${x})))`,
  gelu: (x, a) => (a.approximate === 'tanh' ? `lutc_gelu_tanh(${x})` : `lutc_gelu(${x})`),
  leaky_relu: (x, a) => `(${x} < 0 ? ${cLiteral(Math.fround((a.alpha as number | undefined) ?? 0.01), 'f64')} * ${x} : ${x})`,
  // rounding (nearbyint rounds halves to even in the default rounding mode) and libm trigonometry
  ceil: (x) => `ceil(${x})`,
  floor: (x) => `floor(${x})`,
  round: (x) => `nearbyint(${x})`,
  ...Object.fromEntries(TRIG.map((f) => [f, (x: string) => `${f}(${x})`])),
};

/**
 * The C expression of unary op `name` (attributes `a`) on a value `v` of dtype `dt`, stored as `dt`:
 * the one definition of each unary op, used by the standalone kernels and by lut.matmul's fused
 * epilogue (kernels-lut.ts). `v` may be evaluated more than once.
 */
export function unaryExpr(name: string, dt: DType, a: Attrs, v: string): string {
  const f = FLOAT_UNARY[name];
  if (f) return `(${ctype(dt)})(${f('xd', a).replaceAll('xd', `((double)${v})`)})`;
  if (name === 'relu') return `(${v} < 0 ? (${ctype(dt)})0 : ${v})`;
  if (name === 'not') return `(uint8_t)(${v} == 0)`;
  if (name === 'neg') return isFloatDt(dt) ? `-${v}` : intStore(dt, `(uint64_t)0 - ${wide(dt, v)}`);
  // abs: |INT_MIN| wraps to INT_MIN, computed without overflow through unsigned negation.
  return isFloatDt(dt) ? `fabs(${v})` : isSignedInt(dt) ? `(${v} < 0 ? ${intStore(dt, `(uint64_t)0 - ${wide(dt, v)}`)} : ${v})` : v;
}

/** Unary ops this file renders. */
export const UNARY_OPS: readonly string[] = [...Object.keys(FLOAT_UNARY), 'relu', 'not', 'neg', 'abs'];

/** The float expression of binary arithmetic `op` (add, sub, mul, div) on float operands. */
export function floatBinaryExpr(op: string, a: string, b: string): string | undefined {
  const sym = ({ add: '+', sub: '-', mul: '*', div: '/' } as Record<string, string>)[op];
  return sym ? `${a} ${sym} ${b}` : undefined;
}

function unary(name: string): Kernel {
  return (c) => broadcastMap(c, ([v]) => unaryExpr(name, c.outP(0).dtype, c.attrs, v!));
}

const clip: Kernel = (c) => {
  const dt = c.outP(0).dtype;
  const T = ctype(dt);
  const bound = (name: string, dflt: string) => {
    const i = inputIndex(c, name);
    return c.inP(i) ? `${c.in(i)}[0]` : dflt;
  };
  const lo = bound('min', isFloatDt(dt) ? `(${T})(-1.0/0.0)` : 'lo_');
  const hi = bound('max', isFloatDt(dt) ? `(${T})(1.0/0.0)` : 'hi_');
  const x = c.in(0);
  const n = c.numel(c.outP(0));
  const decl = isFloatDt(dt)
    ? ''
    : `const ${T} lo_ = ${T === 'uint8_t' || T.startsWith('uint') ? '0' : `(${T})INT${T.slice(3, -2)}_MIN`};\nconst ${T} hi_ = ${T.startsWith('uint') ? `(${T})UINT${T.slice(4, -2)}_MAX` : `(${T})INT${T.slice(3, -2)}_MAX`};\n`;
  return `${decl}const ${T} lo = ${lo}, hi = ${hi};
for (ptrdiff_t i = 0; i < ${n}; i++) {
  const ${T} v = ${x}[i];
  ${T} t = v < lo ? lo : v;
  t = t > hi ? hi : t;
  ${c.out(0)}[i] = ${isFloatDt(dt) ? '(v != v) ? v : t' : 't'};
}`;
};

/** Cast: castConverter's rules (float->int truncates and saturates, NaN -> 0; ints wrap; ->bool is != 0). */
const cast: Kernel = (c) => {
  const from = c.inP(0)!.dtype;
  const to = c.outP(0).dtype;
  const T = ctype(to);
  const n = c.numel(c.outP(0));
  let e: string;
  if (to === 'bool') e = '(uint8_t)(v != 0)';
  else if (isFloatDt(to)) e = `(${T})v`;
  else if (isFloatDt(from))
    e = intStore(
      to,
      `lutc_f2int((double)v, ${cLiteral(rangeOf(to)[0], 'f64')}, ${cLiteral(rangeOf(to)[1], 'f64')}, ${to === 'u64' ? 1 : 0})`,
    );
  else e = intStore(to, isSignedInt(from) ? '(int64_t)v' : '(uint64_t)v');
  return `for (ptrdiff_t i = 0; i < ${n}; i++) {\n  const ${ctype(from)} v = ${c.in(0)}[i];\n  ${c.out(0)}[i] = ${e};\n}`;
};

function rangeOf(dt: DType): [number, number] {
  const r: Record<string, [number, number]> = {
    i4: [-8, 7],
    u4: [0, 15],
    i8: [-128, 127],
    u8: [0, 255],
    i16: [-32768, 32767],
    u16: [0, 65535],
    i32: [-2147483648, 2147483647],
    u32: [0, 4294967295],
    i64: [-(2 ** 63), 2 ** 63],
    u64: [0, 2 ** 64],
  };
  return r[dt] ?? [0, 1];
}

/** A view op (trait 'view': reshape, ...) that planModel did not alias (its input is a constant): a plain copy. */
const copy: Kernel = (c) =>
  c.outP(0).dims
    ? `memcpy(${c.out(0)}, ${c.in(0)}, (size_t)${c.numel(c.outP(0))} * sizeof *${c.out(0)});`
    : `memcpy(${c.out(0)}, ${c.in(0)}, ${c.outP(0).bytes});`;

export const ELEMENTWISE_KERNELS: Record<string, Kernel> = {
  add: arith('+', 'add'),
  sub: arith('-', 'sub'),
  mul: arith('*', 'mul'),
  div,
  equal: cmp('=='),
  less: cmp('<'),
  greater: cmp('>'),
  greater_or_equal: cmp('>='),
  less_or_equal: cmp('<='),
  and: logic('&&'),
  or: logic('||'),
  max: extremum(true),
  min: extremum(false),
  where,
  pow,
  clip,
  cast,
  bit_shift: bitShift,
  ...Object.fromEntries(UNARY_OPS.map((n) => [n, unary(n)])),
  ...Object.fromEntries([...VIEW_OPS].map((n) => [n, copy])),
};

/** C helpers the elementwise kernels call (emitted once per model.c). */
export const ELEMENTWISE_HELPERS = String.raw`
static int64_t lutc_d2i64(double v) {
  if (v != v) return 0;
  if (v >= 9223372036854775807.0) return INT64_MAX;
  if (v <= -9223372036854775808.0) return INT64_MIN;
  return (int64_t)v;
}
/* float -> int: truncate toward zero, saturate to [lo, hi], NaN -> 0 (returned as a 64-bit pattern). */
static uint64_t lutc_f2int(double v, double lo, double hi, int u64) {
  if (v != v) return 0;
  v = trunc(v);
  if (v <= lo) v = lo;
  if (v >= hi) return u64 ? UINT64_MAX : (hi >= 9223372036854775807.0 ? (uint64_t)INT64_MAX : (uint64_t)(int64_t)hi);
  if (u64) return (uint64_t)v;
  return (uint64_t)(int64_t)v;
}
static int64_t lutc_div_i64(int64_t a, int64_t b) {
  if (b == 0) return 0;
  if (b == -1) return (int64_t)((uint64_t)0 - (uint64_t)a);
  return a / b;
}
static float lutc_max_f(float a, float b) { return (a != a || b != b) ? (float)(0.0/0.0) : (a > b ? a : b); }
static float lutc_min_f(float a, float b) { return (a != a || b != b) ? (float)(0.0/0.0) : (a < b ? a : b); }
static double lutc_max_d(double a, double b) { return (a != a || b != b) ? (0.0/0.0) : (a > b ? a : b); }
static double lutc_min_d(double a, double b) { return (a != a || b != b) ? (0.0/0.0) : (a < b ? a : b); }
/* Both forms avoid exp overflow, as the interpreter's sigmoid. */
static double lutc_sigmoid(double x) { return x >= 0 ? 1.0 / (1.0 + exp(-x)) : exp(x) / (1.0 + exp(x)); }
static double lutc_gelu(double x) { return 0.5 * x * (1.0 + erf(x * 0.70710678118654752440)); }
static double lutc_gelu_tanh(double x) { return 0.5 * x * (1.0 + tanh(0.79788456080286535588 * (x + 0.044715 * x * x * x))); }
`;
