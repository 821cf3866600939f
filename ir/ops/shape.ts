/**
 * Op definitions: shape and data-movement ops whose result shape is a function of input shapes and
 * constant inputs: reshape, flatten, transpose, squeeze, unsqueeze, expand, shape, constant,
 * constant_of_shape, range, identity. Operands follow the opset-21 forms (axes and shapes are inputs);
 * the importer upgrades older opsets. Each op's shape function is shared by its static shape rule and
 * its interpreter, so the two cannot disagree. Slicing, gathering and joining ops live in
 * `ir/ops/slice.ts` (imported below).
 */

import { dimCeilDiv, dimEquals, dimExactDiv, dimMax, dimSub } from '../dim-expr.js';
import { defineOp, type InferCtx } from '../optable.js';
import { allocData, makeTensor, numel, strides } from '../tensor.js';
import type { Dim, Tensor, TensorType } from '../types.js';
import {
  cloneTensor,
  concrete,
  dimProduct,
  dimsOfInput,
  type ErrFn,
  type FreshFn,
  intsOf,
  movedDims,
  normalizeAxes,
  ruleErr,
  storeRounder,
} from './dims.js';
import { broadcastShapes, broadcastTo } from './util.js';
import './slice.js';

/** First input's type; required operands are never null once the verifier's arity check has run. */
function in0(ctx: InferCtx): TensorType {
  return ctx.inputs[0]!;
}

/** Type of a result whose rank is known but whose dims depend on values not known statically. */
function freshShape(ctx: InferCtx, rank: Dim | undefined, what: string): Dim[] {
  if (typeof rank !== 'number') ctx.error('LUT1114', `the rank of the result depends on ${what}, which is not a constant of static length`);
  return Array.from({ length: rank }, () => ctx.freshDim());
}

// ---- reshape ----------------------------------------------------------------------------------------

/**
 * Reshape's result: 0 copies the input dim (unless allowzero), one -1 takes what is left. Entries
 * may be dim expressions (a shape computed from runtime dims), which are sizes. The -1 is the exact
 * quotient of the element counts as dim expressions (ir/dim-expr.ts), or a fresh dim when it does
 * not divide symbolically.
 */
export function reshapeDims(inShape: readonly Dim[], spec: readonly Dim[], allowzero: boolean, fresh: FreshFn, err: ErrFn): Dim[] {
  const out: Dim[] = [];
  let neg = -1;
  for (let i = 0; i < spec.length; i++) {
    const v = spec[i]!;
    if (typeof v === 'string') out.push(v);
    else if (v === 0 && !allowzero) {
      if (i >= inShape.length) err(`shape[${i}] = 0 copies input dim ${i}, but the input has rank ${inShape.length}`);
      out.push(inShape[i]!);
    } else if (v === -1) {
      if (neg >= 0) err('shape has more than one -1', 'value');
      neg = i;
      out.push(0);
    } else if (v < 0 || !Number.isInteger(v)) err(`shape[${i}] = ${v} is not a size`, 'value');
    else out.push(v);
  }
  if (allowzero && neg >= 0 && spec.includes(0)) err('with allowzero = 1 the shape may not hold both 0 and -1', 'value');
  const total = dimProduct(inShape);
  const known = dimProduct(out.filter((_, i) => i !== neg));
  const shown = () => `[${spec.join(', ')}]`;
  if (neg >= 0) {
    if (typeof total === 'number' && typeof known === 'number') {
      if (known === 0 || total % known !== 0)
        err(`cannot reshape [${inShape.join(', ')}] to ${shown()}: ${total} elements do not divide by ${known}`);
      out[neg] = total / known;
    } else out[neg] = known === 0 ? fresh() : (dimExactDiv(total, known) ?? fresh());
  } else if (dimEquals(total, known) === false) {
    err(`cannot reshape [${inShape.join(', ')}] (${total} elements) to [${out.join(', ')}] (${known} elements)`);
  }
  return out;
}

defineOp({
  name: 'reshape',
  onnx: { domain: '', type: 'Reshape' },
  summary: 'Same elements in a new shape; 0 copies an input dim (unless allowzero), -1 is inferred.',
  inputs: [{ name: 'data' }, { name: 'shape', compileTime: true }],
  outputs: [{ name: 'reshaped' }],
  attrs: { allowzero: { type: 'int', default: 0 } },
  traits: ['view'],
  infer(ctx) {
    const x = in0(ctx);
    const spec = dimsOfInput(ctx, 1);
    if (!spec) return [{ dtype: x.dtype, shape: freshShape(ctx, ctx.inputs[1]!.shape[0], 'the shape input') }];
    const shape = reshapeDims(x.shape, spec, ctx.attrs.allowzero === 1, () => ctx.freshDim(), ruleErr(ctx));
    return [{ dtype: x.dtype, shape }];
  },
  dimValues: movedDims([0]),
  interp([x, s], ctx) {
    const shape = reshapeDims(
      x!.shape,
      intsOf(s!),
      ctx.attrs.allowzero === 1,
      () => 0,
      (m) => ctx.error('LUT3050', m),
    );
    return [cloneTensor(x!, concrete(shape))];
  },
});

// ---- flatten ----------------------------------------------------------------------------------------

function flattenDims(shape: readonly Dim[], axis: number, err: ErrFn): Dim[] {
  const r = shape.length;
  const a = axis < 0 ? axis + r : axis;
  if (a < 0 || a > r) err(`axis ${axis} is out of range for rank ${r}`, 'axis');
  return [dimProduct(shape.slice(0, a)), dimProduct(shape.slice(a))];
}

defineOp({
  name: 'flatten',
  onnx: { domain: '', type: 'Flatten' },
  summary: 'Reshapes to 2-D: dims before axis form the rows, the rest the columns.',
  inputs: [{ name: 'input' }],
  outputs: [{ name: 'output' }],
  attrs: { axis: { type: 'int', default: 1 } },
  traits: ['view'],
  dimValues: movedDims([0]),
  infer(ctx) {
    const x = in0(ctx);
    return [{ dtype: x.dtype, shape: flattenDims(x.shape, ctx.attrs.axis as number, ruleErr(ctx)) }];
  },
  interp([x], ctx) {
    const shape = flattenDims(x!.shape, ctx.attrs.axis as number, (m) => ctx.error('LUT3050', m));
    return [cloneTensor(x!, concrete(shape))];
  },
});

// ---- transpose --------------------------------------------------------------------------------------

function permOf(rank: number, perm: number[] | undefined, err: ErrFn): number[] {
  const p = perm ?? Array.from({ length: rank }, (_, i) => rank - 1 - i);
  const seen = new Set(p);
  if (p.length !== rank || seen.size !== rank || p.some((v) => v < 0 || v >= rank || !Number.isInteger(v)))
    err(`perm [${p.join(', ')}] is not a permutation of the ${rank} axes`, 'value');
  return p;
}

/** Materializes `x` with its axes reordered: output axis i is input axis perm[i]. */
export function transposeTensor(x: Tensor, perm: readonly number[]): Tensor {
  const shape = perm.map((p) => x.shape[p]!);
  const n = numel(shape);
  const out = allocData(x.dtype, n);
  const st = strides(x.shape);
  const pst = perm.map((p) => st[p]!);
  const r = shape.length;
  const ctr = new Array<number>(r).fill(0);
  const src = x.data;
  // Odometer over the output, tracking the input offset incrementally: no per-element division.
  let off = 0;
  for (let i = 0; i < n; i++) {
    out[i] = src[off]!;
    for (let a = r - 1; a >= 0; a--) {
      ctr[a]!++;
      off += pst[a]!;
      if (ctr[a]! < shape[a]!) break;
      off -= pst[a]! * shape[a]!;
      ctr[a] = 0;
    }
  }
  return { dtype: x.dtype, shape, data: out };
}

defineOp({
  name: 'transpose',
  onnx: { domain: '', type: 'Transpose' },
  summary: 'Permutes axes (default: reverses them).',
  inputs: [{ name: 'data' }],
  outputs: [{ name: 'transposed' }],
  attrs: { perm: { type: 'ints' } },
  dimValues: movedDims([0]),
  infer(ctx) {
    const x = in0(ctx);
    const p = permOf(x.shape.length, ctx.attrs.perm as number[] | undefined, ruleErr(ctx));
    return [{ dtype: x.dtype, shape: p.map((i) => x.shape[i]!) }];
  },
  interp([x], ctx) {
    return [
      transposeTensor(
        x!,
        permOf(x!.shape.length, ctx.attrs.perm as number[] | undefined, (m) => ctx.error('LUT3052', m)),
      ),
    ];
  },
});

// ---- squeeze / unsqueeze ----------------------------------------------------------------------------

/** Squeeze's result; without axes every dim known to be 1 goes (symbols are assumed not to be 1). */
function squeezeDims(shape: readonly Dim[], axes: number[] | undefined, err: ErrFn): Dim[] {
  if (!axes) return shape.filter((d) => d !== 1);
  const ax = normalizeAxes(axes, shape.length, err);
  for (const a of ax) if (typeof shape[a] === 'number' && shape[a] !== 1) err(`cannot squeeze axis ${a} of size ${shape[a]}`);
  return shape.filter((_, i) => !ax.includes(i));
}

defineOp({
  name: 'squeeze',
  onnx: { domain: '', type: 'Squeeze' },
  summary: 'Removes size-1 axes (the given ones, or all).',
  inputs: [{ name: 'data' }, { name: 'axes', optional: true, compileTime: true }],
  outputs: [{ name: 'squeezed' }],
  attrs: {},
  traits: ['view'],
  dimValues: movedDims([0]),
  infer(ctx) {
    const x = in0(ctx);
    const axesT = ctx.constInput(1);
    if (ctx.inputs[1] && !axesT) {
      const n = ctx.inputs[1].shape[0];
      return [{ dtype: x.dtype, shape: freshShape(ctx, typeof n === 'number' ? x.shape.length - n : undefined, 'the axes input') }];
    }
    return [{ dtype: x.dtype, shape: squeezeDims(x.shape, axesT && intsOf(axesT), ruleErr(ctx)) }];
  },
  interp([x, axes], ctx) {
    const shape = squeezeDims(x!.shape, axes ? intsOf(axes) : undefined, (m) => ctx.error('LUT3052', m));
    return [cloneTensor(x!, concrete(shape))];
  },
});

function unsqueezeDims(shape: readonly Dim[], axes: number[], err: ErrFn): Dim[] {
  const r = shape.length + axes.length;
  const ax = normalizeAxes(axes, r, err);
  const out: Dim[] = [];
  let j = 0;
  for (let i = 0; i < r; i++) out.push(ax.includes(i) ? 1 : shape[j++]!);
  return out;
}

defineOp({
  name: 'unsqueeze',
  onnx: { domain: '', type: 'Unsqueeze' },
  summary: 'Inserts size-1 axes at the given positions of the result.',
  inputs: [{ name: 'data' }, { name: 'axes', compileTime: true }],
  outputs: [{ name: 'expanded' }],
  attrs: {},
  traits: ['view'],
  dimValues: movedDims([0]),
  infer(ctx) {
    const x = in0(ctx);
    const axesT = ctx.constInput(1);
    if (!axesT) {
      const n = ctx.inputs[1]!.shape[0];
      return [{ dtype: x.dtype, shape: freshShape(ctx, typeof n === 'number' ? x.shape.length + n : undefined, 'the axes input') }];
    }
    return [{ dtype: x.dtype, shape: unsqueezeDims(x.shape, intsOf(axesT), ruleErr(ctx)) }];
  },
  interp([x, axes], ctx) {
    return [cloneTensor(x!, concrete(unsqueezeDims(x!.shape, intsOf(axes!), (m) => ctx.error('LUT3052', m))))];
  },
});

// ---- expand -----------------------------------------------------------------------------------------

defineOp({
  name: 'expand',
  onnx: { domain: '', type: 'Expand' },
  summary: 'Broadcasts the input against a shape (numpy rules in both directions).',
  inputs: [{ name: 'input' }, { name: 'shape', compileTime: true }],
  outputs: [{ name: 'output' }],
  attrs: {},
  infer(ctx) {
    const x = in0(ctx);
    const s = dimsOfInput(ctx, 1);
    if (!s) {
      const n = ctx.inputs[1]!.shape[0];
      return [
        { dtype: x.dtype, shape: freshShape(ctx, typeof n === 'number' ? Math.max(n, x.shape.length) : undefined, 'the shape input') },
      ];
    }
    const shape = broadcastShapes([x.shape, s]);
    if (typeof shape === 'string') return ctx.error('LUT1110', shape);
    return [{ dtype: x.dtype, shape }];
  },
  dimValues: movedDims([0]),
  interp([x, s], ctx) {
    const shape = broadcastShapes([x!.shape, intsOf(s!)]);
    if (typeof shape === 'string') return ctx.error('LUT3052', shape);
    return [broadcastTo(x!, concrete(shape))];
  },
});

// ---- shape ------------------------------------------------------------------------------------------

/** The [start, end) range of dims that Shape returns, clamped as ONNX specifies. */
function shapeRange(rank: number, start: number, end: number | undefined): [number, number] {
  const clamp = (v: number) => Math.min(rank, Math.max(0, v < 0 ? v + rank : v));
  const s = clamp(start);
  return [s, Math.max(s, clamp(end ?? rank))];
}

defineOp({
  name: 'shape',
  onnx: { domain: '', type: 'Shape' },
  summary: "The input's shape (dims start..end) as a 1-D int64 tensor.",
  inputs: [{ name: 'data' }],
  outputs: [{ name: 'shape' }],
  attrs: { start: { type: 'int', default: 0 }, end: { type: 'int' } },
  traits: ['shape-only'],
  infer(ctx) {
    const [s, e] = shapeRange(in0(ctx).shape.length, ctx.attrs.start as number, ctx.attrs.end as number | undefined);
    return [{ dtype: 'i64', shape: [e - s] }];
  },
  // A static-shaped input makes the result a constant even though the data is unknown: this is what
  // lets Shape -> Gather -> Concat -> Reshape chains in exported models resolve during shape inference.
  foldFromTypes(ctx) {
    const shape = in0(ctx).shape;
    const [s, e] = shapeRange(shape.length, ctx.attrs.start as number, ctx.attrs.end as number | undefined);
    const dims = shape.slice(s, e);
    if (!dims.every((d) => typeof d === 'number')) return undefined;
    return [makeTensor('i64', [dims.length], dims as number[])];
  },
  // Runtime dims: the result's elements are those dims (Shape -> Gather -> Reshape then resolves to them).
  dimValues(ctx) {
    const shape = in0(ctx).shape;
    const [s, e] = shapeRange(shape.length, ctx.attrs.start as number, ctx.attrs.end as number | undefined);
    return [shape.slice(s, e)];
  },
  interp([x], ctx) {
    const [s, e] = shapeRange(x!.shape.length, ctx.attrs.start as number, ctx.attrs.end as number | undefined);
    return [makeTensor('i64', [e - s], x!.shape.slice(s, e))];
  },
});

// ---- constant / constant_of_shape -------------------------------------------------------------------

/** The tensor a Constant node holds, from whichever of its value attributes is set. */
function constantValue(attrs: Record<string, unknown>, err: ErrFn): Tensor {
  const set = ['value', 'value_float', 'value_floats', 'value_int', 'value_ints'].filter((k) => attrs[k] !== undefined);
  if (set.length !== 1) err(`exactly one value attribute must be set (value, value_float(s), value_int(s)); found ${set.length}`, 'value');
  const v = attrs[set[0]!];
  switch (set[0]) {
    case 'value_float':
      return makeTensor('f32', [], [v as number]);
    case 'value_floats':
      return makeTensor('f32', [(v as number[]).length], v as number[]);
    case 'value_int':
      return makeTensor('i64', [], [v as number]);
    case 'value_ints':
      return makeTensor('i64', [(v as number[]).length], v as number[]);
    default:
      return v as Tensor;
  }
}

defineOp({
  name: 'constant',
  onnx: { domain: '', type: 'Constant' },
  summary: 'A constant tensor (the importer normally turns these into graph constants).',
  inputs: [],
  outputs: [{ name: 'output' }],
  attrs: {
    value: { type: 'tensor' },
    value_float: { type: 'float' },
    value_floats: { type: 'floats' },
    value_int: { type: 'int' },
    value_ints: { type: 'ints' },
  },
  infer(ctx) {
    const t = constantValue(ctx.attrs, ruleErr(ctx));
    return [{ dtype: t.dtype, shape: [...t.shape] }];
  },
  interp(_, ctx) {
    return [cloneTensor(constantValue(ctx.attrs, (m) => ctx.error('LUT3052', m)))];
  },
});

/** ConstantOfShape's fill value: the attribute, or float32 zero. */
function fillValue(attrs: Record<string, unknown>): Tensor {
  return (attrs.value as Tensor | undefined) ?? makeTensor('f32', [1], [0]);
}

function checkShapeValues<D extends Dim>(dims: D[], err: ErrFn): D[] {
  for (const d of dims)
    if (typeof d === 'number' && (d < 0 || !Number.isInteger(d)))
      err(`shape [${dims.join(', ')}] holds a negative or fractional size`, 'value');
  return dims;
}

defineOp({
  name: 'constant_of_shape',
  onnx: { domain: '', type: 'ConstantOfShape' },
  summary: 'A tensor of the given shape filled with one value (default float32 0).',
  inputs: [{ name: 'shape', compileTime: true }],
  outputs: [{ name: 'output' }],
  attrs: { value: { type: 'tensor' } },
  infer(ctx) {
    const dtype = fillValue(ctx.attrs).dtype;
    const s = dimsOfInput(ctx, 0);
    if (!s) return [{ dtype, shape: freshShape(ctx, ctx.inputs[0]!.shape[0], 'the shape input') }];
    return [{ dtype, shape: checkShapeValues(s, ruleErr(ctx)) }];
  },
  interp([s], ctx) {
    const v = fillValue(ctx.attrs);
    const shape = checkShapeValues(intsOf(s!), (m) => ctx.error('LUT3052', m));
    const data = allocData(v.dtype, numel(shape));
    data.fill(v.data[0] ?? 0);
    return [{ dtype: v.dtype, shape, data }];
  },
});

// ---- range ------------------------------------------------------------------------------------------

function rangeLength(start: number, limit: number, delta: number, err: ErrFn): number {
  if (delta === 0) err('delta must not be zero', 'value');
  return Math.max(Math.ceil((limit - start) / delta), 0);
}

defineOp({
  name: 'range',
  onnx: { domain: '', type: 'Range' },
  summary: 'start, start + delta, ... up to (excluding) limit.',
  inputs: [
    { name: 'start', compileTime: true },
    { name: 'limit', compileTime: true },
    { name: 'delta', compileTime: true },
  ],
  outputs: [{ name: 'output' }],
  attrs: {},
  infer(ctx) {
    const dtype = in0(ctx).dtype;
    if (ctx.inputs.some((t) => t && numelDims(t.shape) !== 1)) ctx.error('LUT1110', 'start, limit and delta must be scalars');
    const [s, l, d] = [ctx.constInput(0), ctx.constInput(1), ctx.constInput(2)];
    if (s && l && d) return [{ dtype, shape: [rangeLength(s.data[0]!, l.data[0]!, d.data[0]!, ruleErr(ctx))] }];
    // Runtime dims: max(ceil((limit - start) / delta), 0) as a dim expression, for a constant positive delta.
    const [ds, dl] = [dimsOfInput(ctx, 0), dimsOfInput(ctx, 1)];
    const step = d?.data[0];
    if (ds?.length === 1 && dl?.length === 1 && step !== undefined && step > 0 && Number.isInteger(step)) {
      const n = dimCeilDiv(dimSub(dl[0]!, ds[0]!), step);
      if (n !== undefined) return [{ dtype, shape: [dimMax(n, 0)] }];
    }
    return [{ dtype, shape: [ctx.freshDim()] }];
  },
  interp([s, l, d], ctx) {
    const start = s!.data[0]!;
    const delta = d!.data[0]!;
    const n = rangeLength(start, l!.data[0]!, delta, (m) => ctx.error('LUT3052', m));
    const data = allocData(s!.dtype, n);
    // start + i*delta in float64, then rounded once to the result type (no accumulated drift).
    const round = storeRounder(s!.dtype);
    for (let i = 0; i < n; i++) data[i] = round(start + i * delta);
    return [{ dtype: s!.dtype, shape: [n], data }];
  },
});

function numelDims(shape: readonly Dim[]): number | undefined {
  let n = 1;
  for (const d of shape) {
    if (typeof d !== 'number') return undefined;
    n *= d;
  }
  return n;
}

// ---- identity ---------------------------------------------------------------------------------------

defineOp({
  name: 'identity',
  onnx: { domain: '', type: 'Identity' },
  summary: 'The input, unchanged.',
  inputs: [{ name: 'input' }],
  outputs: [{ name: 'output' }],
  attrs: {},
  traits: ['view'],
  dimValues: movedDims([0]),
  infer(ctx) {
    const x = in0(ctx);
    return [{ dtype: x.dtype, shape: [...x.shape] }];
  },
  interp([x]) {
    return [cloneTensor(x!)];
  },
});
