/**
 * Helpers for the shape, linear and control op definitions: products and unification of possibly
 * symbolic dims, reading integer-valued constant inputs, and per-dtype float rounding at stores.
 * Shape functions of these ops take an error callback so the same code serves the static shape rule
 * (LUT1110-1116 by kind of problem via InferCtx, `ruleErr`) and the interpreter (LUT305x via
 * InterpCtx) with one meaning.
 */
import type { DiagCode } from '../../base/diagnostics.js';
import { dimMul } from '../dim-expr.js';
import type { InferCtx, OpDef } from '../optable.js';
import { makeTensor, roundTo } from '../tensor.js';
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

/** Product of dims: a number when all are known, else the product expression (ir/dim-expr.ts). */
export function dimProduct(dims: readonly Dim[]): Dim {
  return dims.reduce<Dim>((acc, d) => dimMul(acc, d), 1);
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

// ---- dim values: small integer tensors known as dims ------------------------------------------------

const INT_OR_BOOL: ReadonlySet<DType> = new Set(['i8', 'u8', 'i16', 'u16', 'i32', 'u32', 'i64', 'u64', 'bool']);

/**
 * The elements of input `i` as dims when it is a 0-D/1-D integer value known that way: a constant's
 * values, or the `dimValues` shape inference gave it (Shape of a tensor with runtime dims and what is
 * computed from it). Undefined otherwise.
 */
export function dimsOfInput(ctx: InferCtx, i: number): Dim[] | undefined {
  const v = ctx.node.inputs[i];
  if (!v) return undefined;
  const t = ctx.constInput(i);
  if (t) return t.shape.length <= 1 && INT_OR_BOOL.has(t.dtype) ? intsOf(t) : undefined;
  return v.dimValues;
}

/** A dim-level kernel: the result element, or undefined when it depends on the runtime dims. */
export type DimKernel = (xs: Dim[]) => Dim | boolean | undefined;

/**
 * `OpDef.dimValues` of an elementwise op over 0-D/1-D dim values (numpy broadcasting of length-1
 * operands): applies `f` per element. Undefined unless some operand is a dim value (constants alone
 * are folded by the interpreter) and every element is decided.
 */
export function elementwiseDims(f: DimKernel): NonNullable<OpDef['dimValues']> {
  return (ctx) => {
    const node = ctx.node;
    if (!node.inputs.some((v) => v?.dimValues)) return undefined;
    const ins = node.inputs.map((_, i) => dimsOfInput(ctx, i));
    if (ins.some((x) => !x)) return undefined;
    const xs = ins as Dim[][];
    const len = Math.max(...xs.map((x) => x.length));
    if (xs.some((x) => x.length !== 1 && x.length !== len)) return undefined;
    const out: Dim[] = [];
    for (let k = 0; k < len; k++) {
      const r = f(xs.map((x) => (x.length === 1 ? x[0]! : x[k]!)));
      if (r === undefined) return undefined;
      out.push(typeof r === 'boolean' ? (r ? 1 : 0) : r);
    }
    return [out];
  };
}

/**
 * `OpDef.dimValues` of a data-movement op (gather, slice, concat, reshape, ...): the operands in
 * `moved` ('all', or their indices) that are dim values are replaced by tensors of element indices
 * into one pool of dims, the op's own interpreter runs on those, and each result index is mapped back.
 * So every movement op's meaning on dim values is its interpreter's: nothing is written twice.
 */
export function movedDims(moved: readonly number[] | 'all'): NonNullable<OpDef['dimValues']> {
  return (ctx, def) => {
    const node = ctx.node;
    const idx = moved === 'all' ? node.inputs.map((_, i) => i) : moved;
    if (!idx.some((i) => node.inputs[i]?.dimValues)) return undefined;
    const pool: Dim[] = [];
    const ins: (Tensor | null)[] = [];
    for (let i = 0; i < node.inputs.length; i++) {
      const v = node.inputs[i];
      if (!v) {
        ins.push(null);
        continue;
      }
      if (idx.includes(i)) {
        const d = dimsOfInput(ctx, i);
        const shape = v.type.shape;
        if (!d || !shape.every((x) => typeof x === 'number')) return undefined;
        ins.push(
          makeTensor(
            v.type.dtype === 'bool' ? 'i64' : v.type.dtype,
            shape as number[],
            d.map((_, k) => pool.length + k),
          ),
        );
        pool.push(...d);
      } else {
        const c = ctx.constInput(i);
        if (!c) return undefined;
        ins.push(c);
      }
    }
    let outs: Tensor[];
    try {
      outs = def.interp(ins, {
        node,
        attrs: ctx.attrs,
        runGraph: () => {
          throw new Error('no subgraph');
        },
        error: (_code, message) => {
          throw new Error(message);
        },
      });
    } catch {
      return undefined; // the op fails on these values: its run-time check reports it
    }
    return outs.map((t) => (t.shape.length <= 1 ? Array.from(t.data as ArrayLike<number>, (k) => pool[k]!) : undefined));
  };
}
