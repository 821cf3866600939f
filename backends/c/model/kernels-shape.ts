/**
 * C kernels of the data-movement graph ops that survive folding (ir/ops/shape.ts, ir/ops/slice.ts):
 * transpose, expand, slice, concat, split, gather, trilu, range, constant_of_shape, shape. Shapes are
 * static, so every index computation is a constant-stride loop nest; operands that steer the copy
 * (slice starts/ends/axes/steps, split sizes) must be constants, which they are once shapes are bound
 * (a runtime-valued one is a LUT5152 diagnostic). Gather indices and trilu's k may be runtime values.
 */
import { sliceAxis } from '../../../ir/ops/slice.js';
import { inputIndex } from '../../model-plan.js';
import { broadcastStrides, cLiteral, ctype, intsOfConst, normAxis, prod, type StepCtx, stridedLoop, stridesOf } from './cgen.js';

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
  const x = c.inP(0)!;
  const r = x.shape.length;
  const perm = (c.attrs.perm as number[] | undefined) ?? [...Array(r).keys()].reverse();
  const xs = stridesOf(x.shape);
  const out = c.outP(0);
  return stridedLoop(
    out.shape,
    [{ strides: stridesOf(out.shape) }, { strides: perm.map((p) => xs[p]!) }],
    ([o, i]) => `${c.out(0)}[${o}] = ${c.in(0)}[${i}];`,
    c.omp(out.bytes / 4),
  );
};

const expand: Kernel = (c) => {
  const out = c.outP(0);
  return stridedLoop(
    out.shape,
    [{ strides: stridesOf(out.shape) }, { strides: broadcastStrides(c.inP(0)!.shape, out.shape) }],
    ([o, i]) => `${c.out(0)}[${o}] = ${c.in(0)}[${i}];`,
  );
};

const slice: Kernel = (c) => {
  const x = c.inP(0)!;
  const r = x.shape.length;
  const starts = constInts(c, 'starts');
  const ends = constInts(c, 'ends');
  const axes = c.inP(inputIndex(c, 'axes')) ? constInts(c, 'axes').map((a) => normAxis(a, r)) : starts.map((_, i) => i);
  const steps = c.inP(inputIndex(c, 'steps')) ? constInts(c, 'steps') : starts.map(() => 1);
  const xs = stridesOf(x.shape);
  const first = new Array<number>(r).fill(0);
  const step = new Array<number>(r).fill(1);
  axes.forEach((ax, i) => {
    first[ax] = sliceAxis(x.shape[ax]!, starts[i]!, ends[i]!, steps[i]!).start;
    step[ax] = steps[i]!;
  });
  const out = c.outP(0);
  const base = first.reduce((acc, f, i) => acc + f * xs[i]!, 0);
  return stridedLoop(
    out.shape,
    [{ strides: stridesOf(out.shape) }, { strides: xs.map((s, i) => s * step[i]!), base }],
    ([o, i]) => `${c.out(0)}[${o}] = ${c.in(0)}[${i}];`,
  );
};

const concat: Kernel = (c) => {
  const out = c.outP(0);
  const a = normAxis(c.attrs.axis as number, out.shape.length);
  const outer = prod(out.shape.slice(0, a));
  const esz = out.bytes / Math.max(1, prod(out.shape));
  const parts: string[] = [];
  let at = 0;
  const rowBytes = prod(out.shape.slice(a)) * esz;
  c.step.inputs.forEach((p, i) => {
    if (!p) return;
    const b = prod(p.shape.slice(a)) * esz;
    if (b > 0)
      parts.push(`memcpy((unsigned char *)${c.out(0)} + o * ${rowBytes} + ${at}, (const unsigned char *)${c.in(i)} + o * ${b}, ${b});`);
    at += b;
  });
  return `for (ptrdiff_t o = 0; o < ${outer}; o++) {\n  ${parts.join('\n  ')}\n}`;
};

const split: Kernel = (c) => {
  const x = c.inP(0)!;
  const a = normAxis(c.attrs.axis as number, x.shape.length);
  const outer = prod(x.shape.slice(0, a));
  const esz = x.bytes / Math.max(1, prod(x.shape));
  const rowBytes = prod(x.shape.slice(a)) * esz;
  const parts: string[] = [];
  let at = 0;
  c.step.outputs.forEach((p, i) => {
    const b = prod(p.shape.slice(a)) * esz;
    if (b > 0) parts.push(`memcpy(${c.out(i)} + o * ${b / esz}, (const unsigned char *)${c.in(0)} + o * ${rowBytes} + ${at}, ${b});`);
    at += b;
  });
  return `for (ptrdiff_t o = 0; o < ${outer}; o++) {\n  ${parts.join('\n  ')}\n}`;
};

/**
 * Gather: an out-of-range index makes model_run return LUTC_ERR_INDEX with the index and axis size in
 * model_last_error() (the interpreter's LUT3051; the harness prints LUT5008).
 */
const gather: Kernel = (c) => {
  const x = c.inP(0)!;
  const ii = inputIndex(c, 'indices');
  const idx = c.inP(ii)!;
  const a = normAxis(c.attrs.axis as number, x.shape.length);
  const d = x.shape[a]!;
  const outer = prod(x.shape.slice(0, a));
  const inner = prod(x.shape.slice(a + 1));
  const ni = prod(idx.shape);
  const esz = x.bytes / Math.max(1, prod(x.shape));
  return `for (ptrdiff_t o = 0; o < ${outer}; o++)
  for (ptrdiff_t j = 0; j < ${ni}; j++) {
    int64_t i = (int64_t)${c.in(ii)}[j];
    if (i < -${d} || i >= ${d}) { lutc_err.index = (long long)i; lutc_err.size = ${d}; return LUTC_ERR_INDEX; }
    if (i < 0) i += ${d};
    memcpy(${c.out(0)} + (o * ${ni} + j) * ${inner}, ${c.in(0)} + (o * ${d} + (ptrdiff_t)i) * ${inner}, ${inner * esz});
  }`;
};

const trilu: Kernel = (c) => {
  const x = c.inP(0)!;
  const r = x.shape.length;
  const [rows, cols] = [x.shape[r - 2]!, x.shape[r - 1]!];
  const mats = prod(x.shape) / Math.max(1, rows * cols);
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
  const n = prod(out.shape);
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
  return `for (ptrdiff_t i = 0; i < ${prod(out.shape)}; i++) ${c.out(0)}[i] = ${cLiteral(val, out.dtype)};`;
};

/** Shape of a static-shaped input (normally folded away; kept for graphs that arrive unfolded). */
const shape: Kernel = (c) => {
  const dims = c.inP(0)!.shape;
  const r = dims.length;
  const clamp = (v: number) => Math.min(r, Math.max(0, v < 0 ? v + r : v));
  const s = clamp(c.attrs.start as number);
  const e = Math.max(s, clamp((c.attrs.end as number | undefined) ?? r));
  return (
    dims
      .slice(s, e)
      .map((d, i) => `${c.out(0)}[${i}] = ${cLiteral(d, 'i64')};`)
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
