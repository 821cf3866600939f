/**
 * Shared pieces of the whole-model C emitter: C types per dtype, literals, identifiers, the per-step
 * rendering context handed to every kernel, and the strided loop-nest generator that elementwise,
 * broadcast, transpose, slice and reduction kernels are all written with (static shapes become
 * constants; dims that are contiguous for every operand are merged so inner loops stay long and
 * unit-stride, which is what lets the C compiler vectorize them).
 *
 * Runtime dims (--max-dim): kernels see a shape as `CD[]`, each dim a number (static) or a `SymDim`,
 * a dim expression (ir/dim-expr.ts) whose `toString()` is its parenthesized C expression over the
 * step's `D` array (`D[k]`: the k-th runtime dim of the plan's dimSources), so `${dim}` in a template
 * is valid C and a static shape renders exactly as it always did. `dmul`/`dadd`/`prod` fold numbers
 * and stay symbolic otherwise; a kernel that needs static numbers asks `StepCtx.staticShape` (LUT5004
 * for a runtime dim).
 */
import { type DiagCode, fail, nodeLoc } from '../../../base/diagnostics.js';
import { dimAdd, dimEquals, dimMul, dimSub, foldDim } from '../../../ir/dim-expr.js';
import type { Attrs, Dim, DType, Node, Tensor } from '../../../ir/types.js';
import type { Placement, PlanStep } from '../../model-plan.js';

/** The C element type a dtype is stored as in the artifact (f16/bf16 computed and stored as float). */
export function ctype(dt: DType): string {
  switch (dt) {
    case 'f32':
    case 'f16':
    case 'bf16':
      return 'float';
    case 'f64':
      return 'double';
    case 'i4':
    case 'i8':
      return 'int8_t';
    case 'u4':
    case 'u8':
    case 'bool':
      return 'uint8_t';
    case 'i16':
      return 'int16_t';
    case 'u16':
      return 'uint16_t';
    case 'i32':
      return 'int32_t';
    case 'u32':
      return 'uint32_t';
    case 'i64':
      return 'int64_t';
    case 'u64':
      return 'uint64_t';
  }
}

export const isFloatDt = (dt: DType): boolean => dt === 'f32' || dt === 'f16' || dt === 'bf16' || dt === 'f64';
export const isSignedInt = (dt: DType): boolean => dt === 'i4' || dt === 'i8' || dt === 'i16' || dt === 'i32' || dt === 'i64';

/** numpy descr of the bytes the artifact reads and writes for a dtype (f16/bf16 travel as f32). */
export function npyDescr(dt: DType): string {
  switch (dt) {
    case 'f32':
    case 'f16':
    case 'bf16':
      return '<f4';
    case 'f64':
      return '<f8';
    case 'i4':
    case 'i8':
      return '|i1';
    case 'u4':
    case 'u8':
      return '|u1';
    case 'bool':
      return '|b1';
    case 'i16':
      return '<i2';
    case 'u16':
      return '<u2';
    case 'i32':
      return '<i4';
    case 'u32':
      return '<u4';
    case 'i64':
      return '<i8';
    case 'u64':
      return '<u8';
  }
}

/**
 * A C literal for `v` as a `dt` value. Doubles print with 17 significant digits so the C compiler
 * reads back the exact double the TypeScript side holds (attributes like epsilon stay bit-identical).
 */
export function cLiteral(v: number, dt: DType): string {
  if (isFloatDt(dt)) {
    if (Number.isNaN(v)) return '(0.0/0.0)';
    if (!Number.isFinite(v)) return v > 0 ? '(1.0/0.0)' : '(-1.0/0.0)';
    const s = v.toPrecision(17);
    const d = /[.eE]/.test(s) ? s : `${s}.0`;
    return dt === 'f64' ? d : `((float)${d})`;
  }
  if (dt === 'bool') return v ? '1' : '0';
  if (dt === 'i64') {
    if (v >= 2 ** 63) return 'INT64_MAX';
    if (v <= -(2 ** 63)) return 'INT64_MIN';
    return `INT64_C(${Math.trunc(v)})`;
  }
  if (dt === 'u64') return v >= 2 ** 64 ? 'UINT64_MAX' : `UINT64_C(${Math.trunc(v)})`;
  if (dt === 'u32') return `${Math.trunc(v)}u`;
  if (dt === 'i32' && v === -2147483648) return '(-2147483647 - 1)';
  return `${Math.trunc(v)}`;
}

const C_KEYWORDS = new Set(
  (
    'auto break case char const continue default do double else enum extern float for goto if inline int long ' +
    'register restrict return short signed sizeof static struct switch typedef union unsigned void volatile while main'
  ).split(' '),
);

/** A C identifier made from `name` ([A-Za-z0-9_], not starting with a digit, not a keyword), unique in `used`. */
export function cIdent(name: string, used: Set<string>): string {
  let base = name.replace(/[^A-Za-z0-9_]/g, '_');
  if (!base || /^[0-9]/.test(base)) base = `v_${base}`;
  if (C_KEYWORDS.has(base)) base = `${base}_`;
  let id = base;
  for (let i = 1; used.has(id); i++) id = `${base}_${i}`;
  used.add(id);
  return id;
}

/** A C string literal. */
export function cString(s: string): string {
  return `"${s.replace(/[\\"]/g, (c) => `\\${c}`).replace(/[^\x20-\x7e]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`)}"`;
}

// ---- runtime dims --------------------------------------------------------------------------------

/** Index of each runtime dim in the steps' `D` array, set per emitted model (`setRuntimeDims`). */
let dimSlots = new Map<string, number>();

/** Sets the runtime dims of the model being emitted (its plan's dimSources order). */
export function setRuntimeDims(syms: readonly string[]): void {
  dimSlots = new Map(syms.map((s, i) => [s, i]));
}

/** The C expression (int64_t) of a dim expression over the runtime dims, parenthesized where compound. */
export function cDimExpr(d: Dim): string {
  return foldDim<string>(d, {
    num: (n) => (n < 0 ? `(${n})` : String(n)),
    sym: (name) => {
      const k = dimSlots.get(name);
      if (k === undefined) throw new Error(`lutc bug: runtime dim '${name}' has no slot`);
      return `D[${k}]`;
    },
    add: (a, b) => `(${a} + ${b})`,
    sub: (a, b) => `(${a} - ${b})`,
    mul: (a, b) => `(${a} * ${b})`,
    floorDiv: (a, k) => `lutc_floordiv(${a}, ${k})`,
    min: (a, b) => `lutc_mini(${a}, ${b})`,
    max: (a, b) => `lutc_maxi(${a}, ${b})`,
  });
}

/** A runtime dim as kernels see it: `${d}` renders its C expression. */
export class SymDim {
  constructor(readonly dim: string) {}
  toString(): string {
    return cDimExpr(this.dim);
  }
}

/** A dim in a C kernel: a number (static) or a runtime dim expression. */
export type CD = number | SymDim;

const rawDim = (d: CD): Dim => (typeof d === 'number' ? d : d.dim);
/** A Dim as a kernel dim (canonical expressions that are constants become numbers). */
export const toCD = (d: Dim): CD => (typeof d === 'number' ? d : wrap(dimAdd(d, 0)));
const wrap = (d: Dim): CD => (typeof d === 'number' ? d : new SymDim(d));
export const dmul = (a: CD, b: CD): CD => (typeof a === 'number' && typeof b === 'number' ? a * b : wrap(dimMul(rawDim(a), rawDim(b))));
export const dadd = (a: CD, b: CD): CD => (typeof a === 'number' && typeof b === 'number' ? a + b : wrap(dimAdd(rawDim(a), rawDim(b))));
export const dsub = (a: CD, b: CD): CD => (typeof a === 'number' && typeof b === 'number' ? a - b : wrap(dimSub(rawDim(a), rawDim(b))));
/** a == b for every value of the runtime dims (false when unknown). */
export const deq = (a: CD, b: CD): boolean =>
  typeof a === 'number' && typeof b === 'number' ? a === b : dimEquals(rawDim(a), rawDim(b)) === true;
/** True when the dim is a runtime dim (not a number). */
export const isSym = (d: CD): d is SymDim => typeof d !== 'number';

/** C helpers of runtime dim expressions (model.c). */
export const DIM_HELPERS = `static int64_t lutc_floordiv(int64_t a, int64_t k) { return a >= 0 ? a / k : -((-a + k - 1) / k); }
static int64_t lutc_mini(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t lutc_maxi(int64_t a, int64_t b) { return a > b ? a : b; }
/* ir/ops/slice.ts sliceAxis's first index on an axis of runtime size d */
static int64_t lutc_slice_start(int64_t s, int64_t d, int64_t step) {
  if (s < 0) s += d;
  if (step > 0) return s < 0 ? 0 : s > d ? d : s;
  s = s < 0 ? 0 : s;
  return s > d - 1 ? d - 1 : s;
}`;

/** What a kernel renderer sees for one plan step. */
export interface StepCtx {
  step: PlanStep;
  node: Node;
  /** Attributes with the op's defaults filled. */
  attrs: Attrs;
  /** Typed pointer variable of input i (`i0`, ...), declared by the step prologue. */
  in(i: number): string;
  out(i: number): string;
  inP(i: number): Placement | null;
  outP(i: number): Placement;
  /** A placement's shape with runtime dims as `SymDim`s (static shapes: the numbers). */
  sh(p: Placement): CD[];
  /** A placement's element count (runtime when its shape has runtime dims). */
  numel(p: Placement): CD;
  /** A placement's static shape; LUT5004 naming the op when it has runtime dims (kernels not yet written for them). */
  staticShape(p: Placement): number[];
  /**
   * Requires a == b at run time (two runtime dims the shape rules took as equal, e.g. broadcast
   * operands): the step returns MODEL_ERR_SHAPE first when they differ. Numbers must be equal already.
   */
  requireEqual(a: CD, b: CD): void;
  /** The value of input i when it is a compile-time constant. */
  constOf(i: number): Tensor | undefined;
  /** LUT5151: this node cannot be compiled by the C backend (thrown before any file is written). */
  unsupported(msg: string): never;
  /** Requests `bytes` of per-step scratch; returns a `unsigned char *` expression to it. */
  scratch(bytes: number): string;
  /**
   * `#pragma omp parallel for ...` line, or '' to stay serial: `work` (at the dims' bounds) below the
   * threshold renders none; `runWork`, the same measure as a runtime-dim expression, adds an `if` so a
   * run whose actual work is below it (a decode step of a prefill-sized bound) stays on one thread.
   */
  omp(work: number, clauses?: string, runWork?: CD): string;
  /** This step's index in the plan (unique per model: names of helper functions). */
  stepId: number;
  /** Top-level C (helper types and functions, e.g. the tasks of `lutc_par`) emitted before this step's function. */
  helper(code: string): void;
}

/** Throws a C-backend diagnostic naming the node (default LUT5151: a node form the C backend cannot compile). */
export function unsupportedAt(node: Node, file: string | undefined, msg: string, code: DiagCode = 'LUT5151'): never {
  return fail(code, msg, nodeLoc(node, file));
}

/** Row-major strides of a shape. */
export function stridesOf(shape: readonly number[]): number[];
export function stridesOf(shape: readonly CD[]): CD[];
export function stridesOf(shape: readonly CD[]): CD[] {
  const s = new Array<CD>(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) s[i] = dmul(s[i + 1]!, shape[i + 1]!);
  return s;
}

/**
 * Strides of `inShape` broadcast (numpy, right-aligned) to `outShape`: 0 along broadcast dims. A
 * runtime dim of the input is never taken as a broadcast 1: it must equal the output's dim, which
 * `requireEqual` checks at run time when that is not known at compile time.
 */
export function broadcastStrides(inShape: readonly number[], outShape: readonly number[]): number[];
export function broadcastStrides(inShape: readonly CD[], outShape: readonly CD[], requireEqual?: (a: CD, b: CD) => void): CD[];
export function broadcastStrides(inShape: readonly CD[], outShape: readonly CD[], requireEqual?: (a: CD, b: CD) => void): CD[] {
  const st = stridesOf(inShape);
  const off = outShape.length - inShape.length;
  return outShape.map((od, d) => {
    const j = d - off;
    if (j < 0) return 0;
    if (inShape[j] === 1) return 0;
    if (!deq(inShape[j]!, od)) requireEqual?.(inShape[j]!, od);
    return st[j]!;
  });
}

/** One operand of a strided loop: element strides per loop dim and a base element offset. */
export interface Operand {
  strides: CD[];
  /** A constant, a dim, or a C expression. */
  base?: CD | string;
}

/**
 * Loop-variable numbering. Reset by `resetLoopIds` at the start of every model emission, so the same
 * graph gives the same C text however many models this process emitted before.
 */
let loopCounter = 0;

/** Restarts loop-variable numbering (called once per emitted model). */
export function resetLoopIds(): void {
  loopCounter = 0;
}

/**
 * A loop nest over `shape` with one running index per operand. `body(idx)` gets C expressions of each
 * operand's element index. Size-1 dims are dropped and adjacent dims merged where every operand is
 * contiguous across them (for runtime dims: where that holds for every value of the dims).
 * `omp` is placed before the outermost loop when given.
 */
export function stridedLoop(shape: readonly CD[], ops: Operand[], body: (idx: string[]) => string, omp = ''): string {
  let dims = shape.map((n, d) => ({ n, s: ops.map((o) => o.strides[d]!) })).filter((x) => x.n !== 1);
  if (dims.some((x) => x.n === 0)) return '/* empty */';
  const merged: typeof dims = [];
  for (const d of dims) {
    const last = merged[merged.length - 1];
    if (last?.s.every((s, i) => deq(s, dmul(d.s[i]!, d.n)))) merged[merged.length - 1] = { n: dmul(last.n, d.n), s: d.s };
    else merged.push({ ...d });
  }
  dims = merged;
  const id = loopCounter++;
  const vars = dims.map((_, d) => `j${id}_${d}`);
  const idx = ops.map((o, i) => {
    const terms = dims.map((d, k) => (d.s[i] === 0 ? '' : d.s[i] === 1 ? vars[k]! : `${vars[k]} * ${d.s[i]}`)).filter(Boolean);
    if (o.base) terms.unshift(String(o.base));
    return terms.length ? terms.join(' + ') : '0';
  });
  let code = body(idx);
  for (let d = dims.length - 1; d >= 0; d--) {
    code = `for (ptrdiff_t ${vars[d]} = 0; ${vars[d]} < ${dims[d]!.n}; ${vars[d]}++) {\n${indent(code)}\n}`;
  }
  if (dims.length === 0) code = `{\n${indent(code)}\n}`;
  return omp && dims.length ? `${omp}\n${code}` : code;
}

export function indent(s: string, by = '  '): string {
  return s
    .split('\n')
    .map((l) => (l ? by + l : l))
    .join('\n');
}

/** Product of dims. */
export function prod(shape: readonly number[]): number;
export function prod(shape: readonly CD[]): CD;
export function prod(shape: readonly CD[]): CD {
  return shape.reduce<CD>((p, d) => dmul(p, d), 1);
}

/** Normalized axis (negative counts from the end). */
export function normAxis(a: number, rank: number): number {
  return a < 0 ? a + rank : a;
}

/** Integer values of a constant tensor (axes, starts, ...). */
export function intsOfConst(t: Tensor): number[] {
  return Array.from(t.data as ArrayLike<number>, (v) => Number(v));
}
