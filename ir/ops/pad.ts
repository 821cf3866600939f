/**
 * Data-movement ops that grow or copy a tensor: pad (constant / reflect / edge / wrap; pads,
 * constant_value and axes as inputs, opset-18+ form; older forms are upgraded by the importer), tile,
 * size, and dropout in inference mode (the identity; training with a nonzero ratio would need random
 * numbers and is a run-time error). Shape rules need pads / repeats as constants to know the result
 * dims; otherwise the rank is kept and the dims are fresh symbols.
 */
import { defineOp, type InferCtx } from '../optable.js';
import { allocData, makeTensor, numel, strides } from '../tensor.js';
import type { Dim, Tensor } from '../types.js';
import { dimProduct, type ErrFn, intsOf, movedDims, normalizeAxes, ruleErr } from './dims.js';
import { ALL_TYPES, FLOAT_TYPES, NUMERIC_TYPES, operandType, storer } from './numeric.js';

// ---- pad --------------------------------------------------------------------------------------------

/** Per-axis [begin, end] pads for every axis of a rank-`rank` tensor, from ONNX's pads and axes (also read by passes/legalize.ts). */
export function padsPerAxis(rank: number, pads: number[], axes: number[] | null, err: ErrFn): [number[], number[]] {
  const ax = axes ? normalizeAxes(axes, rank, err) : [...Array(rank).keys()];
  if (pads.length !== 2 * ax.length) err(`pads has ${pads.length} elements, expected 2 * ${ax.length}`);
  const begin = new Array<number>(rank).fill(0);
  const end = new Array<number>(rank).fill(0);
  ax.forEach((a, i) => {
    begin[a] = pads[i]!;
    end[a] = pads[i + ax.length]!;
  });
  return [begin, end];
}

/** Maps a coordinate outside [0, d) back into it per mode; -1 means "use the constant" (also read by passes/legalize.ts). */
export function sourceIndex(i: number, d: number, mode: string): number {
  if (i >= 0 && i < d) return i;
  switch (mode) {
    case 'edge':
      return i < 0 ? 0 : d - 1;
    case 'wrap':
      return ((i % d) + d) % d;
    case 'reflect': {
      if (d === 1) return 0;
      const p = 2 * (d - 1); // numpy's reflect: period 2(d-1), no edge repeated
      const m = ((i % p) + p) % p;
      return m < d ? m : p - m;
    }
    default:
      return -1;
  }
}

defineOp({
  name: 'pad',
  onnx: { domain: '', type: 'Pad' },
  summary:
    "pads (or, with negative pads, crops) each axis; mode 'constant' fills constant_value (default 0), 'reflect' mirrors without the edge, 'edge' repeats it, 'wrap' wraps around",
  inputs: [
    { name: 'data' },
    { name: 'pads', compileTime: true },
    { name: 'constant_value', optional: true },
    { name: 'axes', optional: true, compileTime: true },
  ],
  outputs: [{ name: 'output' }],
  attrs: { mode: { type: 'string', default: 'constant', oneOf: ['constant', 'reflect', 'edge', 'wrap'] } },
  infer(ctx) {
    const x = operandType(ctx, 0, ALL_TYPES);
    const p = operandType(ctx, 1, ['i64']);
    if (p.shape.length !== 1) ctx.error('LUT1110', `pad: pads must be 1-D, got [${p.shape}]`);
    const cv = ctx.inputs[2];
    // ONNX types constant_value like data; opset 2-10's float `value` attribute arrives as an f32
    // scalar (compiler/onnx/upgrade.ts), so any numeric dtype is accepted and converted on use.
    if (cv && (cv.shape.length > 1 || cv.shape.some((d) => d !== 1)))
      ctx.error('LUT1110', `pad: constant_value must be a scalar, got [${cv.shape}]`);
    if (ctx.inputs[3]) operandType(ctx, 3, ['i32', 'i64']);
    const err = ruleErr(ctx, 'pad: ');
    const pc = ctx.constInput(1);
    const ac = ctx.inputs[3] ? ctx.constInput(3) : null;
    if (!pc || ac === undefined) return [{ dtype: x.dtype, shape: x.shape.map(() => ctx.freshDim('padded')) }];
    const [b, e] = padsPerAxis(x.shape.length, intsOf(pc), ac ? intsOf(ac) : null, err);
    const shape: Dim[] = x.shape.map((d, i) => {
      if (b[i] === 0 && e[i] === 0) return d;
      if (typeof d !== 'number') return ctx.freshDim('padded');
      const n = d + b[i]! + e[i]!;
      if (n < 0) err(`axis ${i} of size ${d} cropped by ${-b[i]! - e[i]!}`);
      return n;
    });
    return [{ dtype: x.dtype, shape }];
  },
  interp([x, p, cv, axes], ctx) {
    const X = x!;
    const err: ErrFn = (m) => ctx.error('LUT3103', `pad: ${m}`);
    const [b, e] = padsPerAxis(X.shape.length, intsOf(p!), axes ? intsOf(axes) : null, err);
    const mode = ctx.attrs.mode as string;
    const shape = X.shape.map((d, i) => d + b[i]! + e[i]!);
    if (shape.some((d) => d < 0)) err(`pads crop an axis below size 0 (result [${shape}])`);
    X.shape.forEach((d, i) => {
      if (d === 0 && mode !== 'constant' && shape[i]! > 0) err(`mode '${mode}' cannot pad axis ${i}, which is empty`);
    });
    if (cv && cv.data.length !== 1) err(`constant_value must hold one element, has ${cv.data.length}`);
    const fill = storer(X.dtype)(cv ? cv.data[0]! : 0);
    const n = numel(shape);
    const out = allocData(X.dtype, n);
    const rank = shape.length;
    const inStr = strides(X.shape);
    // Source index per output coordinate, per axis (-1: constant), then an odometer over the output.
    const maps = shape.map((d, a) => Int32Array.from({ length: d }, (_, o) => sourceIndex(o - b[a]!, X.shape[a]!, mode)));
    const ctr = new Array<number>(rank).fill(0);
    for (let i = 0; i < n; i++) {
      let off = 0;
      for (let a = 0; a < rank; a++) {
        const s = maps[a]![ctr[a]!]!;
        if (s < 0) {
          off = -1;
          break;
        }
        off += s * inStr[a]!;
      }
      out[i] = off < 0 ? fill : X.data[off]!;
      for (let a = rank - 1; a >= 0; a--) {
        if (++ctr[a]! < shape[a]!) break;
        ctr[a] = 0;
      }
    }
    return [{ dtype: X.dtype, shape, data: out }];
  },
});

// ---- tile -------------------------------------------------------------------------------------------

defineOp({
  name: 'tile',
  onnx: { domain: '', type: 'Tile' },
  summary: 'repeats the input repeats[i] times along each axis i',
  inputs: [{ name: 'input' }, { name: 'repeats', compileTime: true }],
  outputs: [{ name: 'output' }],
  attrs: {},
  dimValues: movedDims([0]),
  infer(ctx) {
    const x = operandType(ctx, 0, ALL_TYPES);
    const r = operandType(ctx, 1, ['i64']);
    if (r.shape.length !== 1 || (typeof r.shape[0] === 'number' && r.shape[0] !== x.shape.length)) {
      ctx.error('LUT1110', `tile: repeats must be 1-D with one entry per axis (${x.shape.length}), got [${r.shape}]`);
    }
    const c = ctx.constInput(1);
    if (!c) return [{ dtype: x.dtype, shape: x.shape.map(() => ctx.freshDim('tiled')) }];
    const reps = intsOf(c);
    if (reps.some((v) => v < 0)) ctx.error('LUT1115', `tile: repeats [${reps}] must not be negative`);
    return [
      { dtype: x.dtype, shape: x.shape.map((d, i) => (reps[i] === 1 ? d : typeof d === 'number' ? d * reps[i]! : ctx.freshDim('tiled'))) },
    ];
  },
  interp([x, r], ctx) {
    const X = x!;
    const reps = intsOf(r!);
    if (reps.length !== X.shape.length || reps.some((v) => v < 0)) {
      ctx.error('LUT3104', `tile: repeats [${reps}] must have one non-negative entry per axis of [${X.shape}]`);
    }
    const shape = X.shape.map((d, i) => d * reps[i]!);
    const n = numel(shape);
    const out = allocData(X.dtype, n);
    const inStr = strides(X.shape);
    const rank = shape.length;
    const ctr = new Array<number>(rank).fill(0);
    for (let i = 0; i < n; i++) {
      let off = 0;
      for (let a = 0; a < rank; a++) off += (ctr[a]! % X.shape[a]!) * inStr[a]!;
      out[i] = X.data[off]!;
      for (let a = rank - 1; a >= 0; a--) {
        if (++ctr[a]! < shape[a]!) break;
        ctr[a] = 0;
      }
    }
    return [{ dtype: X.dtype, shape, data: out }];
  },
});

// ---- size -------------------------------------------------------------------------------------------

defineOp({
  name: 'size',
  onnx: { domain: '', type: 'Size' },
  summary: 'the number of elements of the input, an int64 scalar',
  inputs: [{ name: 'data' }],
  outputs: [{ name: 'size' }],
  attrs: {},
  traits: ['shape-only'],
  infer(ctx) {
    operandType(ctx, 0, ALL_TYPES);
    return [{ dtype: 'i64', shape: [] }];
  },
  foldFromTypes(ctx) {
    const s = ctx.inputs[0]!.shape;
    return s.every((d) => typeof d === 'number') ? [makeTensor('i64', [], [numel(s as number[])])] : undefined;
  },
  dimValues: (ctx) => [[dimProduct(ctx.inputs[0]!.shape)]],
  interp: ([x]) => [makeTensor('i64', [], [numel(x!.shape)])],
});

// ---- dropout ----------------------------------------------------------------------------------------

/** True when training_mode (absent = false) is set; a ratio of 0 makes training the identity too. */
function trainingDropout(ratio: Tensor | null, training: Tensor | null): boolean {
  return !!training && training.data[0] !== 0 && (ratio ? ratio.data[0]! : 0.5) !== 0;
}

defineOp({
  name: 'dropout',
  onnx: { domain: '', type: 'Dropout' },
  summary:
    'inference-mode dropout: output = data, mask all true; training_mode with a nonzero ratio is a run-time error (no random numbers)',
  inputs: [{ name: 'data' }, { name: 'ratio', optional: true }, { name: 'training_mode', optional: true, compileTime: true }],
  outputs: [{ name: 'output' }, { name: 'mask', optional: true }],
  attrs: { seed: { type: 'int' } },
  infer(ctx: InferCtx) {
    const x = operandType(ctx, 0, NUMERIC_TYPES);
    if (ctx.inputs[1]) operandType(ctx, 1, FLOAT_TYPES);
    if (ctx.inputs[2]) operandType(ctx, 2, ['bool']);
    const r = ctx.inputs[1] ? (ctx.constInput(1) ?? null) : null;
    const t = ctx.inputs[2] ? (ctx.constInput(2) ?? null) : null;
    if (t && trainingDropout(r, t))
      ctx.error('LUT1120', 'dropout: training_mode is true with a nonzero ratio; lutc compiles inference only');
    return [
      { dtype: x.dtype, shape: [...x.shape] },
      { dtype: 'bool', shape: [...x.shape] },
    ];
  },
  interp([x, r, t], ctx) {
    if (trainingDropout(r ?? null, t ?? null))
      ctx.error('LUT3105', 'dropout: training_mode is true with a nonzero ratio; lutc runs inference only');
    const X = x!;
    return [
      { dtype: X.dtype, shape: [...X.shape], data: X.data.slice() },
      { dtype: 'bool', shape: [...X.shape], data: allocData('bool', X.data.length).fill(1) },
    ];
  },
});
