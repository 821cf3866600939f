/**
 * Helpers for the shape, linear and control op definitions: products and unification of possibly
 * symbolic dims, reading integer-valued constant inputs, and per-dtype float rounding at stores.
 * Shape functions of these ops take an error callback so the same code serves the static shape rule
 * (LUT1110-1116 by kind of problem via InferCtx, `ruleErr`) and the interpreter (LUT305x via
 * InterpCtx) with one meaning.
 */
import type { DiagCode } from '../../base/diagnostics.js';
import { roundTo } from '../tensor.js';
import type { Dim, DType, Tensor } from '../types.js';
import { normalizeAxis } from './util.js';

/**
 * What kind of problem a shape function found. The static shape rule gives each kind its own code
 * (`SHAPE_RULE_CODES`); the interpreter's run-time codes ignore it.
 */
export type ShapeErrorKind = 'shape' | 'dtype' | 'axis' | 'const' | 'value' | 'arity';

/** Reports an error of `kind` (default 'shape') and does not return (`ctx.error` bound to a code). */
export type ErrFn = (message: string, kind?: ShapeErrorKind) => never;

/** The static shape rule's code per kind of problem (docs/diagnostics.md, LUT1110-1116). */
export const SHAPE_RULE_CODES = {
  shape: 'LUT1110',
  dtype: 'LUT1112',
  axis: 'LUT1113',
  const: 'LUT1114',
  value: 'LUT1115',
  arity: 'LUT1116',
} as const satisfies Record<ShapeErrorKind, DiagCode>;

/** The ErrFn of a static shape rule (`InferCtx`): each kind raises its own code; `prefix` starts every message. */
export function ruleErr(ctx: { error(code: DiagCode, message: string): never }, prefix = ''): ErrFn {
  return (m, kind = 'shape') => ctx.error(SHAPE_RULE_CODES[kind], prefix + m);
}

/** A fresh symbolic dim (InferCtx.freshDim); at run time every dim is known, so it is never called there. */
export type FreshFn = () => Dim;

/**
 * Product of dims: a number when all are known; the one symbol itself when the rest multiply to 1;
 * otherwise a fresh symbol (the product of symbols is not itself representable as a Dim).
 */
export function dimProduct(dims: readonly Dim[], fresh: FreshFn): Dim {
  let n = 1;
  const syms: string[] = [];
  for (const d of dims) {
    if (typeof d === 'number') n *= d;
    else syms.push(d);
  }
  if (syms.length === 0) return n;
  if (n === 0) return 0;
  if (syms.length === 1 && n === 1) return syms[0]!;
  return fresh();
}

/**
 * Two dims that must be equal: the known one wins over a symbol; two different symbols keep the first
 * (the model asserts they are equal). Returns null when two known sizes differ.
 */
export function unifyDim(a: Dim, b: Dim): Dim | null {
  if (typeof a === 'number' && typeof b === 'number') return a === b ? a : null;
  if (typeof a === 'number') return a;
  if (typeof b === 'number') return b;
  return a;
}

/** Elements of an integer-valued tensor (i64 stored as float64) as plain numbers. */
export function intsOf(t: Tensor): number[] {
  return Array.from(t.data as ArrayLike<number>);
}

/** Shape as numbers; at run time every dim is known, the cast documents that. */
export function concrete(shape: readonly Dim[]): number[] {
  return shape as number[];
}

/**
 * The rounding applied when a float result is stored in `dtype`: f32 rounds to single precision,
 * f16/bf16 to their precision (their storage is a Float32Array, see ir/types.ts), f64 keeps it.
 */
export function storeRounder(dtype: DType): (v: number) => number {
  switch (dtype) {
    case 'f32':
      return Math.fround;
    case 'f16':
      return (v) => roundTo('f16', v);
    case 'bf16':
      return (v) => roundTo('bf16', v);
    default:
      return (v) => v;
  }
}

/** Copies a tensor (interpreters never alias inputs into outputs, so later in-place edits stay local). */
export function cloneTensor(t: Tensor, shape: number[] = t.shape): Tensor {
  return { dtype: t.dtype, shape: [...shape], data: t.data.slice() };
}

/** ONNX TensorProto.DataType codes for the dtypes lutc stores (QuantizeLinear's output_dtype, Cast). */

/** Normalizes a list of axes against `rank`, rejecting out-of-range and repeated axes. */
export function normalizeAxes(axes: readonly number[], rank: number, err: ErrFn): number[] {
  const out = axes.map((a) => {
    const n = normalizeAxis(a, rank);
    if (n < 0) err(`axis ${a} is out of range for rank ${rank}`, 'axis');
    return n;
  });
  if (new Set(out).size !== out.length) err(`axes [${axes.join(', ')}] repeat an axis`, 'axis');
  return out;
}
