/**
 * Shared pieces of the whole-model C emitter: C types per dtype, literals, identifiers, the per-step
 * rendering context handed to every kernel, and the strided loop-nest generator that elementwise,
 * broadcast, transpose, slice and reduction kernels are all written with (static shapes become
 * constants; dims that are contiguous for every operand are merged so inner loops stay long and
 * unit-stride, which is what lets the C compiler vectorize them).
 */
import { type DiagCode, fail, nodeLoc } from '../../../base/diagnostics.js';
import type { Attrs, DType, Node, Tensor } from '../../../ir/types.js';
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
  /** The value of input i when it is a compile-time constant. */
  constOf(i: number): Tensor | undefined;
  /** LUT5151: this node cannot be compiled by the C backend (thrown before any file is written). */
  unsupported(msg: string): never;
  /** Requests `bytes` of per-step scratch; returns a `unsigned char *` expression to it. */
  scratch(bytes: number): string;
  /** `#pragma omp parallel for ...` line (with a size threshold), or '' to stay serial. */
  omp(work: number, clauses?: string): string;
}

/** Throws a C-backend diagnostic naming the node (default LUT5151: a node form the C backend cannot compile). */
export function unsupportedAt(node: Node, file: string | undefined, msg: string, code: DiagCode = 'LUT5151'): never {
  return fail(code, msg, nodeLoc(node, file));
}

/** Row-major strides of a shape. */
export function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) s[i] = s[i + 1]! * shape[i + 1]!;
  return s;
}

/** Strides of `inShape` broadcast (numpy, right-aligned) to `outShape`: 0 along broadcast dims. */
export function broadcastStrides(inShape: readonly number[], outShape: readonly number[]): number[] {
  const st = stridesOf(inShape);
  const off = outShape.length - inShape.length;
  return outShape.map((_, d) => {
    const j = d - off;
    if (j < 0) return 0;
    return inShape[j] === 1 ? 0 : st[j]!;
  });
}

/** One operand of a strided loop: element strides per loop dim and a base element offset. */
export interface Operand {
  strides: number[];
  base?: number;
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
 * contiguous across them. `omp` is placed before the outermost loop when given.
 */
export function stridedLoop(shape: readonly number[], ops: Operand[], body: (idx: string[]) => string, omp = ''): string {
  let dims = shape.map((n, d) => ({ n, s: ops.map((o) => o.strides[d]!) })).filter((x) => x.n !== 1);
  if (dims.some((x) => x.n === 0)) return '/* empty */';
  const merged: typeof dims = [];
  for (const d of dims) {
    const last = merged[merged.length - 1];
    if (last?.s.every((s, i) => s === d.s[i]! * d.n)) merged[merged.length - 1] = { n: last.n * d.n, s: d.s };
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
export function prod(shape: readonly number[]): number {
  return shape.reduce((p, d) => p * d, 1);
}

/** Normalized axis (negative counts from the end). */
export function normAxis(a: number, rank: number): number {
  return a < 0 ? a + rank : a;
}

/** Integer values of a constant tensor (axes, starts, ...). */
export function intsOfConst(t: Tensor): number[] {
  return Array.from(t.data as ArrayLike<number>, (v) => Number(v));
}
