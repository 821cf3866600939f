/**
 * WGSL renderers of reductions (reduce_sum / reduce_mean / reduce_max / reduce_prod), softmax /
 * log_softmax and the norms (layer_norm, simplified_layer_norm, skip_simplified_layer_norm). Reductions: one
 * invocation per output element. Softmax and norms: one workgroup per row (lane), 64 invocations
 * striding over it and a tree reduction in workgroup memory, so a decode step's single long row still
 * spreads over a workgroup. Statistics accumulate in f32 (the interpreter uses f64: tolerance, not
 * bits); variances take two passes like the interpreter, so there is no cancellation.
 * Runtime dims: sizes and strides read the DIMS uniform (shader-common.ts) and the host sizes the
 * dispatch; a norm's row count may be runtime, its normalized dims must be static (LUT5004 otherwise).
 */

import { jsDim } from '../../ir/dim-expr.js';
import { normalizeAxis } from '../../ir/ops/util.js';
import { numel, strides } from '../../ir/tensor.js';
import type { Dim } from '../../ir/types.js';
import { inputIndex } from '../model-plan.js';
import { MATH_LIB } from './ops-elementwise.js';
import {
  accessors,
  bcastIndex,
  constInts,
  coords,
  dimsOf,
  f,
  grid1Of,
  HEADER,
  type Kernel,
  kindOf,
  lit,
  main1,
  numelD,
  type StepCtx,
  sameShape,
  stridesD,
  u,
  WG,
} from './shader-common.js';

export const REDUCE_OPS = new Set([
  'reduce_sum',
  'reduce_mean',
  'reduce_max',
  'reduce_prod',
  'softmax',
  'log_softmax',
  'layer_norm',
  'simplified_layer_norm',
  'skip_simplified_layer_norm',
]);

function renderReduce(c: StepCtx): Kernel[] {
  const x = c.ins[0]!;
  const out = c.outs[0]!;
  const k = kindOf(x.dtype);
  const xd: readonly Dim[] = c.runtime ? dimsOf(x) : x.shape;
  const rank = xd.length;
  const axesIn = constInts(c, 'axes', 'the reduction axes');
  let red: number[];
  if (!axesIn || axesIn.length === 0) red = c.attrs.noop_with_empty_axes === 1 ? [] : [...Array(rank).keys()];
  else red = [...new Set(axesIn.map((a) => normalizeAxis(a, rank)))].sort((a, b) => a - b);
  const kept = xd.map((d, i) => (red.includes(i) ? 1 : d));
  const st: readonly Dim[] = c.runtime ? stridesD(xd) : strides(x.shape);
  const d = c.dim;
  const cc = coords(kept, 'i', 'c', d);
  // Offset of the output element's first input element: kept coordinates times x's strides.
  const baseTerms = kept.map((n, a) => (n === 1 ? '' : `c${a} * ${d(st[a]!)}`)).filter(Boolean);
  const R = numelD(red.map((a) => xd[a]!));
  let dec = '    var rr = r;\n';
  const terms: string[] = [];
  for (let j = red.length - 1; j >= 0; j--) {
    const a = red[j]!;
    dec += `    let r${a} = rr % ${d(xd[a]!)}; rr = rr / ${d(xd[a]!)};\n`;
    terms.push(`r${a} * ${d(st[a]!)}`);
  }
  const T = k === 'f' ? 'f32' : k === 'i' ? 'i32' : 'u32';
  const op = c.node.op;
  if (op === 'reduce_mean' && k !== 'f' && typeof R !== 'number')
    c.fail('LUT5004', `an integer reduce_mean over the runtime dim '${c.runtime}' is not rendered by the WGSL backend yet`);
  const init =
    op === 'reduce_max' ? (k === 'f' ? f(-Infinity) : k === 'i' ? 'i32(-2147483647 - 1)' : '0u') : lit(k, op === 'reduce_prod' ? 1 : 0);
  const step =
    op === 'reduce_max'
      ? k === 'f'
        ? 'acc = fmx(acc, v);'
        : 'acc = max(acc, v);'
      : op === 'reduce_prod'
        ? 'acc = acc * v;'
        : 'acc = acc + v;';
  const fin =
    op === 'reduce_mean'
      ? k === 'f'
        ? `acc / ${typeof R === 'number' ? f(R) : `f32(${d(R)})`}`
        : R === 0
          ? lit(k, 0)
          : `acc / ${lit(k, R as number)}`
      : 'acc';
  // An empty reduction (a size-0 axis) is its initial value; the loop's index math would divide by 0.
  const loop =
    R === 0
      ? ''
      : `  let base = ${baseTerms.length ? baseTerms.join(' + ') : '0u'};
  for (var r = 0u; r < ${d(R)}; r++) {
${dec}    _ = rr;
    let v = in0(base + ${terms.length ? terms.join(' + ') : '0u'});
    ${step}
  }
`;
  const body = `${cc.code}  var acc: ${T} = ${init};
${loop}  out0(i, ${fin});`;
  const n = numelD(dimsOf(out));
  return [{ label: c.node.name, code: main1(n, body, accessors(c) + MATH_LIB, d), ...grid1Of(n, numel(out.shape)) }];
}

/** Workgroup-wide sum and max over one value per invocation (call from uniform control flow). */
const WG_LIB = `
var<workgroup> red: array<f32, ${WG}>;
fn wsum(v: f32, li: u32) -> f32 {
  red[li] = v;
  workgroupBarrier();
  for (var s = ${u(WG / 2)}; s > 0u; s = s >> 1u) {
    if (li < s) { red[li] = red[li] + red[li + s]; }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}
fn wmax(v: f32, li: u32) -> f32 {
  red[li] = v;
  workgroupBarrier();
  for (var s = ${u(WG / 2)}; s > 0u; s = s >> 1u) {
    if (li < s) { red[li] = fmx(red[li], red[li + s]); }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}
`;

/**
 * A shader with one workgroup per row: `body` sees `row`, `li` (0..WG-1). A runtime row count is
 * read from DIMS and the host sizes the grid (`gr(rows)`: x up to 65535, then y).
 */
function perRow(c: StepCtx, rows: Dim, body: string, extra = ''): Kernel {
  const rt = typeof rows !== 'number';
  const gx = rt ? 65535 : Math.min(rows, 65535);
  const code = `${HEADER}${accessors(c)}${MATH_LIB}${WG_LIB}${extra}
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) li: u32${rt ? ', @builtin(num_workgroups) nwg: vec3u' : ''}) {
  let row = wid.x + wid.y * ${rt ? 'nwg.x' : u(gx)};
  if (row >= ${c.dim(rows)}) { return; }
${body}
}
`;
  if (!rt) return { label: c.node.name, code, groups: [gx, Math.ceil(rows / gx), 1] };
  return { label: c.node.name, code, groups: [1, 1, 1], groupsJs: `gr(${jsDim(rows)})` };
}

function renderSoftmax(c: StepCtx): Kernel[] {
  if (c.runtime) return renderSoftmaxRuntime(c);
  const x = c.ins[0]!;
  const axis = normalizeAxis(c.attrs.axis as number, x.shape.length);
  const len = x.shape[axis]!;
  const inner = numel(x.shape.slice(axis + 1));
  const lanes = numel(x.shape) / Math.max(1, len);
  return [perRow(c, lanes, softmaxBody(c, u(len * inner), u(inner), u(len)))];
}

/** Softmax over runtime dims: the same body with the row length, inner stride and row count from DIMS. */
function renderSoftmaxRuntime(c: StepCtx): Kernel[] {
  const xd = dimsOf(c.ins[0]!);
  const axis = normalizeAxis(c.attrs.axis as number, xd.length);
  const len = xd[axis]!;
  const inner = numelD(xd.slice(axis + 1));
  const lanes = numelD(xd.filter((_, a) => a !== axis));
  const d = c.dim;
  return [perRow(c, lanes, softmaxBody(c, d(numelD([len, inner])), d(inner), d(len)))];
}

/** The softmax body of one row (lane): `block` = len * inner, the row's `inner` stride and `len`, as u32 WGSL. */
function softmaxBody(c: StepCtx, block: string, inner: string, len: string): string {
  const at = (kk: string) => `(o * ${block} + ii + ${kk} * ${inner})`;
  const log = c.node.op === 'log_softmax';
  const body = `  let o = row / ${inner};
  let ii = row % ${inner};
  var m = ${f(-Infinity)};
  for (var k = li; k < ${len}; k += ${u(WG)}) { m = fmx(m, in0${at('k')}); }
  m = wmax(m, li);
  var s = 0.0;
  for (var k = li; k < ${len}; k += ${u(WG)}) { s += expf(in0${at('k')} - m); }
  s = wsum(s, li);
  let ls = logf(s);
  for (var k = li; k < ${len}; k += ${u(WG)}) {
    let z = in0${at('k')} - m;
    out0${at('k')}, ${log ? 'z - ls' : 'expf(z) / s'});
  }
  _ = ls;`;
  return body.replace(/out0\(/g, 'out0((').replace(/out0\(\(\(/g, 'out0((');
}

/** Index of a parameter (scale/bias) broadcast over the normalized dims, for element j of a row. */
function paramAt(shape: readonly number[], norm: readonly number[], j: string, prefix: string): { pre: string; idx: string } {
  if (numel(shape) === numel(norm) && sameShape(shape.slice(-norm.length), norm)) return { pre: '', idx: j };
  if (numel(shape) === 1) return { pre: '', idx: '0u' };
  const cc = coords(norm, j, prefix);
  return { pre: cc.code, idx: bcastIndex(shape, norm, cc.c) };
}

/** The scale and bias operand names of each norm op (the op table names them differently). */
const NORM_OPERANDS: Record<string, { scale: string; bias?: string }> = {
  layer_norm: { scale: 'Scale', bias: 'B' },
  simplified_layer_norm: { scale: 'scale' },
  skip_simplified_layer_norm: { scale: 'gamma', bias: 'bias' },
};

function renderNorm(c: StepCtx): Kernel[] {
  const op = c.node.op;
  const x = c.ins[0]!;
  const skip = op === 'skip_simplified_layer_norm';
  // runtime dims: the rows may be runtime (x's dims from DIMS); the normalized dims must be static
  const xd: readonly Dim[] = c.runtime ? dimsOf(x) : x.shape;
  const axis = skip ? xd.length - 1 : normalizeAxis(c.attrs.axis as number, xd.length);
  const normD = xd.slice(axis);
  const rt = normD.find((d) => typeof d !== 'number');
  if (rt !== undefined) c.fail('LUT5004', `${op} normalizing over the runtime dim '${rt}' is not rendered by the WGSL backend yet`);
  const norm = normD as number[];
  const h = numel(norm);
  const rows: Dim = c.runtime ? numelD(xd.slice(0, axis)) : numel(x.shape.slice(0, axis));
  const eps = f(c.attrs.epsilon as number);
  const names = NORM_OPERANDS[op]!;
  const scaleIn = inputIndex(c, names.scale);
  const sc = paramAt(c.ins[scaleIn]!.shape, norm, 'j', 'ps_');
  const biasIn = names.bias ? inputIndex(c, names.bias) : -1;
  const bi = biasIn >= 0 && c.ins[biasIn] ? paramAt(c.ins[biasIn]!.shape, norm, 'j', 'pb_') : undefined;
  const has = (o: number) => !!c.outs[o] && !!c.node.outputs[o];
  // x (or, for the skip variant, S = fround(input + skip) + bias) at element j of this row.
  let xv = 'in0(row * H + j)';
  let pre = '';
  if (skip) {
    const skipIn = inputIndex(c, 'skip');
    const sk = c.ins[skipIn]!;
    const skd: readonly Dim[] = c.runtime ? dimsOf(sk) : sk.shape;
    let skIdx = 'row * H + j';
    if (!sameShape(skd, xd)) {
      if (numelD(skd) === h) skIdx = 'j';
      else {
        const cc = coords(xd, 'row * H + j', 's_', c.dim);
        pre += cc.code;
        skIdx = bcastIndex(skd, xd, cc.c, c.dim);
      }
    }
    xv = `(in0(row * H + j) + in${skipIn}(${skIdx}))${bi ? ` + in${biasIn}(${bi.idx})` : ''}`;
    pre += bi ? bi.pre : '';
  }
  const xdef = `let xv = ${xv};`;
  const loop = (s: string) => `  for (var j = li; j < H; j += ${u(WG)}) {\n${pre}    ${xdef}\n    ${s}\n  }`;
  const sEnd = `${sc.pre}`;
  let body: string;
  if (op === 'layer_norm') {
    body = `${loop('s += xv;')}
  let mean = wsum(s, li) / ${f(h)};
${loop('let d = xv - mean; v += d * d;')}
  let is = 1.0 / sqrt(wsum(v, li) / ${f(h)} + ${eps});
${loop(`${sEnd}${bi ? bi.pre : ''}    out0(row * H + j, (xv - mean) * is * in${scaleIn}(${sc.idx})${bi ? ` + in${biasIn}(${bi.idx})` : ''});`)}
  if (li == 0u) {${has(1) ? ' out1(row, mean);' : ''}${has(2) ? ' out2(row, is);' : ''} }`;
  } else {
    body = `${loop('s += xv * xv;')}
  let is = 1.0 / sqrt(wsum(s, li) / ${f(h)} + ${eps});
${loop(`${sEnd}    out0(row * H + j, xv * is * in${scaleIn}(${sc.idx}));${skip && has(3) ? ' out3(row * H + j, xv);' : ''}`)}
  if (li == 0u) {${skip ? `${has(1) ? ' out1(row, 0.0);' : ''}${has(2) ? ' out2(row, is);' : ''}` : has(1) ? ' out1(row, is);' : ''} }`;
  }
  body = `  var s = 0.0;\n  var v = 0.0;\n  _ = v;\n${body}`;
  return [perRow(c, rows, body, `const H = ${u(h)};\n`)];
}

/** Renders a reduction, softmax or norm, or undefined when `op` is not one. */
export function renderReduceOps(c: StepCtx): Kernel[] | undefined {
  switch (c.node.op) {
    case 'reduce_sum':
    case 'reduce_mean':
    case 'reduce_max':
    case 'reduce_prod':
      return renderReduce(c);
    case 'softmax':
    case 'log_softmax':
      return renderSoftmax(c);
    case 'layer_norm':
    case 'simplified_layer_norm':
    case 'skip_simplified_layer_norm':
      return renderNorm(c);
  }
  return undefined;
}
