/**
 * C kernels of the data-movement graph ops that survive folding (ir/ops/shape.ts, ir/ops/slice.ts):
 * transpose, expand, slice, concat, split, gather, trilu, range, constant_of_shape, shape. Every index
 * computation is a strided loop nest over the shape (runtime dims as C expressions of `D`; a slice
 * start on a runtime dim is clamped in C as sliceAxis does); operands that steer the copy
 * (slice starts/ends/axes/steps, split sizes) must be constants, which they are once shapes are bound
 * (a runtime-valued one is a LUT5152 diagnostic). Gather indices and trilu's k may be runtime values.
 */
import { sliceAxis } from '../../../ir/ops/slice.js';
import type { Dim } from '../../../ir/types.js';
import { inputIndex, kernelByteSize } from '../../model-plan.js';
import {
  broadcastStrides,
  type CD,
  cLiteral,
  ctype,
  dadd,
  dmul,
  intsOfConst,
  isSym,
  normAxis,
  prod,
  type StepCtx,
  stridedLoop,
  stridesOf,
  toCD,
} from './cgen.js';

type Kernel = (c: StepCtx) => string;

/** The constant value of operand `name`, or LUT5152 naming which operand had to be constant. */
function constInts(c: StepCtx, name: string): number[] {
  const t = c.constOf(inputIndex(c, name));
  if (!t)
    return c.unsupported(
      `${c.node.op}: operand '${name}' is computed at run time; the C backend needs it constant (bind shapes with --shape)`,
    );
  return intsOfConst(t);
}

const transpose: Kernel = (c) => {
  const x = c.sh(c.inP(0)!);
  const r = x.length;
  const perm = (c.attrs.perm as number[] | undefined) ?? [...Array(r).keys()].reverse();
  const xs = stridesOf(x);
  const out = c.outP(0);
  return stridedLoop(
    c.sh(out),
    [{ strides: stridesOf(c.sh(out)) }, { strides: perm.map((p) => xs[p]!) }],
    ([o, i]) => `${c.out(0)}[${o}] = ${c.in(0)}[${i}];`,
    c.omp(out.bytes / 4, '', c.numel(out)),
  );
};

const expand: Kernel = (c) => {
  const out = c.sh(c.outP(0));
  return stridedLoop(
    out,
    [{ strides: stridesOf(out) }, { strides: broadcastStrides(c.sh(c.inP(0)!), out, c.requireEqual) }],
    ([o, i]) => `${c.out(0)}[${o}] = ${c.in(0)}[${i}];`,
  );
};

/**
 * The values of operand `name` as dims: its constant values, or the dim expressions shape inference
 * knows it holds (`Value.dimValues`: Shape of a runtime-dim tensor and arithmetic on it); LUT5152 otherwise.
 */
function dimInts(c: StepCtx, name: string): Dim[] {
  const v = c.node.inputs[inputIndex(c, name)];
  if (v && !v.const && v.dimValues) return v.dimValues;
  return constInts(c, name);
}

const slice: Kernel = (c) => {
  const x = c.sh(c.inP(0)!);
  const r = x.length;
  const starts = dimInts(c, 'starts');
  const ends = dimInts(c, 'ends');
  const axes = c.inP(inputIndex(c, 'axes')) ? constInts(c, 'axes').map((a) => normAxis(a, r)) : starts.map((_, i) => i);
  const steps = c.inP(inputIndex(c, 'steps')) ? constInts(c, 'steps') : starts.map(() => 1);
  const xs = stridesOf(x);
  // first element per axis: a number for a static dim, sliceAxis's clamp in C for a runtime one
  const first = new Array<number | string>(r).fill(0);
  const step = new Array<number>(r).fill(1);
  axes.forEach((ax, i) => {
    const d = x[ax]!;
    const s0 = starts[i]!;
    const e0 = ends[i]!;
    first[ax] =
      isSym(d) || typeof s0 !== 'number' || typeof e0 !== 'number'
        ? `lutc_slice_start(${typeof s0 === 'number' ? cLiteral(s0, 'i64') : toCD(s0)}, ${d}, ${steps[i]!})`
        : sliceAxis(d, s0, e0, steps[i]!).start;
    step[ax] = steps[i]!;
  });
  const out = c.sh(c.outP(0));
  const staticBase = first.every((f) => typeof f === 'number') && xs.every((s) => !isSym(s));
  const base = staticBase
    ? first.reduce<number>((acc, f, i) => acc + (f as number) * (xs[i] as number), 0)
    : first
        .map((f, i) => (f === 0 ? '' : `${typeof f === 'number' && f < 0 ? `(${f})` : f} * ${xs[i]}`))
        .filter(Boolean)
        .join(' + ');
  return stridedLoop(
    out,
    [{ strides: stridesOf(out) }, { strides: xs.map((s, i) => dmul(s, step[i]!)), base }],
    ([o, i]) => `${c.out(0)}[${o}] = ${c.in(0)}[${i}];`,
  );
};

const concat: Kernel = (c) => {
  const out = c.sh(c.outP(0));
  const a = normAxis(c.attrs.axis as number, out.length);
  const outer = prod(out.slice(0, a));
  const esz = kernelByteSize(c.outP(0).dtype);
  const parts: string[] = [];
  let at: CD = 0;
  const rowBytes = dmul(prod(out.slice(a)), esz);
  c.step.inputs.forEach((p, i) => {
    if (!p) return;
    const b = dmul(prod(c.sh(p).slice(a)), esz);
    if (b !== 0)
      parts.push(`memcpy((unsigned char *)${c.out(0)} + o * ${rowBytes} + ${at}, (const unsigned char *)${c.in(i)} + o * ${b}, ${b});`);
    at = dadd(at, b);
  });
  return `for (ptrdiff_t o = 0; o < ${outer}; o++) {\n  ${parts.join('\n  ')}\n}`;
};

const split: Kernel = (c) => {
  const x = c.sh(c.inP(0)!);
  const a = normAxis(c.attrs.axis as number, x.length);
  const outer = prod(x.slice(0, a));
  const esz = kernelByteSize(c.inP(0)!.dtype);
  const rowBytes = dmul(prod(x.slice(a)), esz);
  const parts: string[] = [];
  let at: CD = 0;
  c.step.outputs.forEach((p, i) => {
    const row = prod(c.sh(p).slice(a));
    const b = dmul(row, esz);
    if (b !== 0) parts.push(`memcpy(${c.out(i)} + o * ${row}, (const unsigned char *)${c.in(0)} + o * ${rowBytes} + ${at}, ${b});`);
    at = dadd(at, b);
  });
  return `for (ptrdiff_t o = 0; o < ${outer}; o++) {\n  ${parts.join('\n  ')}\n}`;
};

/**
 * Gather: an out-of-range index makes model_run return LUTC_ERR_INDEX with the index and axis size in
 * model_last_error() (the interpreter's LUT3051; the harness prints LUT5008).
 */
const gather: Kernel = (c) => {
  const x = c.sh(c.inP(0)!);
  const ii = inputIndex(c, 'indices');
  const a = normAxis(c.attrs.axis as number, x.length);
  const d = x[a]!;
  const outer = prod(x.slice(0, a));
  const inner = prod(x.slice(a + 1));
  const ni = c.numel(c.inP(ii)!);
  const esz = kernelByteSize(c.inP(0)!.dtype);
  return `for (ptrdiff_t o = 0; o < ${outer}; o++)
  for (ptrdiff_t j = 0; j < ${ni}; j++) {
    int64_t i = (int64_t)${c.in(ii)}[j];
    if (i < -${d} || i >= ${d}) { lutc_err.index = (long long)i; lutc_err.size = ${d}; return LUTC_ERR_INDEX; }
    if (i < 0) i += ${d};
    memcpy(${c.out(0)} + (o * ${ni} + j) * ${inner}, ${c.in(0)} + (o * ${d} + (ptrdiff_t)i) * ${inner}, ${dmul(inner, esz)});
  }`;
};

const trilu: Kernel = (c) => {
  const x = c.sh(c.inP(0)!);
  const r = x.length;
  const [rows, cols] = [x[r - 2]!, x[r - 1]!];
  const mats = prod(x.slice(0, r - 2));
  const ki = inputIndex(c, 'k');
  const k = c.inP(ki) ? `(int64_t)${c.in(ki)}[0]` : '0';
  const keep = c.attrs.upper !== 0 ? '(int64_t)(j - i) >= k' : '(int64_t)(j - i) <= k';
  return `const int64_t k = ${k};
for (ptrdiff_t b = 0; b < ${mats}; b++)
  for (ptrdiff_t i = 0; i < ${rows}; i++)
    for (ptrdiff_t j = 0; j < ${cols}; j++) {
      const ptrdiff_t e = (b * ${rows} + i) * ${cols} + j;
      ${c.out(0)}[e] = ${keep} ? ${c.in(0)}[e] : 0;
    }`;
};

/** Range: start + i*delta in double, rounded once to the result type (the interpreter's rule). */
const range: Kernel = (c) => {
  const out = c.outP(0);
  const T = ctype(out.dtype);
  const n = c.numel(out);
  const conv = T === 'float' || T === 'double' ? `(${T})v` : `(${T})lutc_d2i64(v)`;
  return `const double s0 = (double)${c.in(inputIndex(c, 'start'))}[0], dl = (double)${c.in(inputIndex(c, 'delta'))}[0];
for (ptrdiff_t i = 0; i < ${n}; i++) {
  const double v = s0 + (double)i * dl;
  ${c.out(0)}[i] = ${conv};
}`;
};

const constantOfShape: Kernel = (c) => {
  const out = c.outP(0);
  const v = c.attrs.value as { data: ArrayLike<number> } | undefined;
  const val = v ? Number(v.data[0] ?? 0) : 0;
  return `for (ptrdiff_t i = 0; i < ${c.numel(out)}; i++) ${c.out(0)}[i] = ${cLiteral(val, out.dtype)};`;
};

/** Shape of the input: its static dims as constants (normally folded away), runtime dims from `D`. */
const shape: Kernel = (c) => {
  const dims = c.sh(c.inP(0)!);
  const r = dims.length;
  const clamp = (v: number) => Math.min(r, Math.max(0, v < 0 ? v + r : v));
  const s = clamp(c.attrs.start as number);
  const e = Math.max(s, clamp((c.attrs.end as number | undefined) ?? r));
  return (
    dims
      .slice(s, e)
      .map((d, i) => `${c.out(0)}[${i}] = ${isSym(d) ? `(int64_t)${d}` : cLiteral(d, 'i64')};`)
      .join('\n') || '/* empty */'
  );
};

export const SHAPE_KERNELS: Record<string, Kernel> = {
  transpose,
  expand,
  slice,
  concat,
  split,
  gather,
  trilu,
  range,
  constant_of_shape: constantOfShape,
  shape,
};
