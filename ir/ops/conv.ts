/**
 * Op definition: conv (ONNX Conv) for 1-D and 2-D float inputs: auto_pad NOTSET / SAME_UPPER /
 * SAME_LOWER / VALID, strides, dilations, groups, explicit pads, optional bias. 1-D runs through the
 * 2-D kernel with a unit height. Accumulation is float64 per output, rounded once at the store, as
 * in the matmul oracle (ir/ops/linear.ts).
 */
import { defineOp } from '../optable.js';
import { allocData, isFloat, numel } from '../tensor.js';
import type { Attrs, Dim } from '../types.js';
import { type ErrFn, type FreshFn, ruleErr, storeRounder, unifyDim } from './dims.js';

/** Resolved convolution geometry: result shape and, where the input is static, the pads used. */
export interface ConvGeometry {
  shape: Dim[];
  /** Per spatial axis: begin pad, stride, dilation, kernel size. */
  axes: { pad: number; stride: number; dilation: number; kernel: number }[];
}

/** Result shape and effective pads of a conv, following ONNX's auto_pad rules. */
export function convGeometry(x: readonly Dim[], w: readonly Dim[], attrs: Attrs, fresh: FreshFn, err: ErrFn): ConvGeometry {
  const sp = x.length - 2;
  if (sp < 1 || sp > 2) err(`conv supports 1-D and 2-D inputs ([N, C, L] or [N, C, H, W]); got rank ${x.length}`);
  if (w.length !== x.length) err(`weight rank ${w.length} differs from input rank ${x.length}`);
  const group = attrs.group as number;
  if (!(group >= 1)) err(`group = ${group} must be >= 1`, 'value');
  const [C, M, Cg] = [x[1]!, w[0]!, w[1]!];
  if (typeof C === 'number' && typeof Cg === 'number' && C !== Cg * group)
    err(`input channels ${C} != weight channels ${Cg} x group ${group}`);
  if (typeof M === 'number' && M % group !== 0) err(`output channels ${M} do not divide by group ${group}`);
  const ks = (attrs.kernel_shape as number[] | undefined) ?? w.slice(2);
  const strides = (attrs.strides as number[] | undefined) ?? new Array<number>(sp).fill(1);
  const dil = (attrs.dilations as number[] | undefined) ?? new Array<number>(sp).fill(1);
  const pads = (attrs.pads as number[] | undefined) ?? new Array<number>(2 * sp).fill(0);
  if (ks.length !== sp || strides.length !== sp || dil.length !== sp || pads.length !== 2 * sp)
    err(`kernel_shape, strides, dilations need ${sp} entries and pads ${2 * sp}`, 'value');
  if ([...strides, ...dil].some((v) => !(v >= 1)) || pads.some((v) => v < 0)) err('strides and dilations must be >= 1, pads >= 0', 'value');
  const autoPad = attrs.auto_pad as string;
  const shape: Dim[] = [x[0]!, M];
  const axes: ConvGeometry['axes'] = [];
  for (let i = 0; i < sp; i++) {
    const k = ks[i]!;
    if (unifyDim(k, w[2 + i]!) === null) err(`kernel_shape [${ks.join(', ')}] differs from the weight's [${w.slice(2).join(', ')}]`);
    const [s, d, inD] = [strides[i]!, dil[i]!, x[2 + i]!];
    if (typeof k !== 'number' || typeof inD !== 'number') {
      shape.push(fresh());
      axes.push({ pad: 0, stride: s, dilation: d, kernel: typeof k === 'number' ? k : 0 });
      continue;
    }
    const ek = d * (k - 1) + 1;
    let out: number;
    let pb = 0;
    if (autoPad === 'NOTSET') {
      pb = pads[i]!;
      out = Math.floor((inD + pb + pads[sp + i]! - ek) / s) + 1;
    } else if (autoPad === 'VALID') {
      out = Math.floor((inD - ek) / s) + 1;
    } else {
      out = Math.ceil(inD / s);
      const total = Math.max(0, (out - 1) * s + ek - inD);
      pb = autoPad === 'SAME_UPPER' ? Math.floor(total / 2) : Math.ceil(total / 2);
    }
    if (out < 1) err(`spatial axis ${i}: the (dilated) kernel of ${ek} does not fit an input of ${inD} with these pads`);
    shape.push(out);
    axes.push({ pad: pb, stride: s, dilation: d, kernel: k });
  }
  return { shape, axes };
}

defineOp({
  name: 'conv',
  onnx: { domain: '', type: 'Conv' },
  summary: 'Grouped, strided, dilated, padded 1-D/2-D convolution with optional bias.',
  inputs: [{ name: 'X' }, { name: 'W' }, { name: 'B', optional: true }],
  outputs: [{ name: 'Y' }],
  attrs: {
    auto_pad: { type: 'string', default: 'NOTSET', oneOf: ['NOTSET', 'SAME_UPPER', 'SAME_LOWER', 'VALID'] },
    dilations: { type: 'ints' },
    group: { type: 'int', default: 1 },
    kernel_shape: { type: 'ints' },
    pads: { type: 'ints' },
    strides: { type: 'ints' },
  },
  infer(ctx) {
    const [x, w, b] = ctx.inputs;
    const r = x!.shape.length;
    if (r !== 3 && r !== 4) ctx.error('LUT1123', `conv over ${r - 2} spatial dims is not supported (1-D and 2-D are)`);
    if (!isFloat(x!.dtype) || w!.dtype !== x!.dtype || (b && b.dtype !== x!.dtype))
      ctx.error('LUT1112', `conv needs one float type for X, W and B, got ${ctx.inputs.map((t) => t?.dtype ?? '-').join(', ')}`);
    if (b && (b.shape.length !== 1 || unifyDim(b.shape[0]!, w!.shape[0]!) === null))
      ctx.error('LUT1110', `bias must be [${w!.shape[0]}], got [${b.shape.join(', ')}]`);
    return [{ dtype: x!.dtype, shape: convGeometry(x!.shape, w!.shape, ctx.attrs, () => ctx.freshDim(), ruleErr(ctx)).shape }];
  },
  interp([x, w, b], ctx) {
    const g = convGeometry(
      x!.shape,
      w!.shape,
      ctx.attrs,
      () => 0,
      (m) => ctx.error('LUT3054', m),
    );
    const shape = g.shape as number[];
    // 1-D is 2-D with a unit height: one kernel for both.
    const unit = { pad: 0, stride: 1, dilation: 1, kernel: 1 };
    const [ah, aw] = g.axes.length === 1 ? [unit, g.axes[0]!] : [g.axes[0]!, g.axes[1]!];
    const [N, C] = [x!.shape[0]!, x!.shape[1]!];
    const [H, Wd] = g.axes.length === 1 ? [1, x!.shape[2]!] : [x!.shape[2]!, x!.shape[3]!];
    const [OH, OW] = g.axes.length === 1 ? [1, shape[2]!] : [shape[2]!, shape[3]!];
    const M = w!.shape[0]!;
    const group = ctx.attrs.group as number;
    const [Cg, Mg] = [C / group, M / group];
    const [KH, KW] = [ah.kernel, aw.kernel];
    const X = x!.data;
    const Wt = w!.data;
    const round = storeRounder(x!.dtype);
    const out = allocData(x!.dtype, numel(shape));
    const acc = new Float64Array(OH * OW);
    for (let n = 0; n < N; n++)
      for (let m = 0; m < M; m++) {
        acc.fill(0);
        const grp = Math.floor(m / Mg);
        for (let c = 0; c < Cg; c++) {
          const xBase = (n * C + grp * Cg + c) * H * Wd;
          for (let kh = 0; kh < KH; kh++)
            for (let kw = 0; kw < KW; kw++) {
              const wv = Wt[((m * Cg + c) * KH + kh) * KW + kw]!;
              const offW = kw * aw.dilation - aw.pad;
              // Output columns whose input column lies inside the image: no per-element bounds test.
              const owLo = Math.max(0, Math.ceil(-offW / aw.stride));
              const owHi = Math.min(OW, Math.floor((Wd - 1 - offW) / aw.stride) + 1);
              for (let oh = 0; oh < OH; oh++) {
                const ih = oh * ah.stride - ah.pad + kh * ah.dilation;
                if (ih < 0 || ih >= H) continue;
                const xr = xBase + ih * Wd + offW;
                const ar = oh * OW;
                for (let ow = owLo; ow < owHi; ow++) acc[ar + ow]! += wv * X[xr + ow * aw.stride]!;
              }
            }
        }
        const bv = b ? b.data[m]! : 0;
        const oBase = (n * M + m) * OH * OW;
        for (let i = 0; i < OH * OW; i++) out[oBase + i] = round(acc[i]! + bv);
      }
    return [{ dtype: x!.dtype, shape, data: out }];
  },
});
