/**
 * conv against a direct convolution written here: every output sums x[n, g*Cg + c, o*s - pad + k*d]
 * * w[m, c, k] over in-bounds taps, float64. Pads for auto_pad are derived here from the ONNX text.
 * Tolerance 1e-6 * max|ref|: both sides sum exact float64 products (order differs), then round to
 * float32 once (2^-24 relative); a wrong tap, pad or group is O(max|ref|).
 */
import { describe, expect, it } from 'vitest';
import type { Tensor } from '../../ir/types.js';
import { buildNode, expectCode, maxErr, randomF32, rng, run1 } from './helpers.js';

interface Spec {
  kernel: number[];
  strides: number[];
  dil: number[];
  pads: number[];
  group: number;
  autoPad?: string;
}

function directConv(x: Tensor, w: Tensor, b: Tensor | null, p: Spec): { shape: number[]; data: Float64Array } {
  const sp = x.shape.length - 2;
  const ins = x.shape.slice(2);
  const [N, C, M] = [x.shape[0]!, x.shape[1]!, w.shape[0]!];
  const pads = [...p.pads];
  const outs = ins.map((inD, i) => {
    const ek = p.dil[i]! * (p.kernel[i]! - 1) + 1;
    if (p.autoPad === 'VALID') {
      pads[i] = pads[sp + i] = 0;
      return Math.floor((inD - ek) / p.strides[i]!) + 1;
    }
    if (p.autoPad === 'SAME_UPPER' || p.autoPad === 'SAME_LOWER') {
      const o = Math.ceil(inD / p.strides[i]!);
      const total = Math.max(0, (o - 1) * p.strides[i]! + ek - inD);
      const small = Math.floor(total / 2);
      pads[i] = p.autoPad === 'SAME_UPPER' ? small : total - small;
      pads[sp + i] = total - pads[i]!;
      return o;
    }
    return Math.floor((inD + pads[i]! + pads[sp + i]! - ek) / p.strides[i]!) + 1;
  });
  const [OH, OW] = sp === 1 ? [1, outs[0]!] : [outs[0]!, outs[1]!];
  const [H, W] = sp === 1 ? [1, ins[0]!] : [ins[0]!, ins[1]!];
  const [KH, KW] = sp === 1 ? [1, p.kernel[0]!] : [p.kernel[0]!, p.kernel[1]!];
  const at = (arr: number[], i: number, d1: number) => (sp === 1 ? d1 : arr[i]!);
  const Cg = C / p.group,
    Mg = M / p.group;
  const data = new Float64Array(N * M * OH * OW);
  for (let n = 0; n < N; n++)
    for (let m = 0; m < M; m++)
      for (let oh = 0; oh < OH; oh++)
        for (let ow = 0; ow < OW; ow++) {
          let s = b ? b.data[m]! : 0;
          for (let c = 0; c < Cg; c++)
            for (let kh = 0; kh < KH; kh++)
              for (let kw = 0; kw < KW; kw++) {
                const ih = oh * at(p.strides, 0, 1) - at(pads, 0, 0) + kh * at(p.dil, 0, 1);
                const iw = ow * p.strides[sp - 1]! - pads[sp - 1]! + kw * p.dil[sp - 1]!;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                const ic = Math.floor(m / Mg) * Cg + c;
                s += x.data[((n * C + ic) * H + ih) * W + iw]! * w.data[((m * Cg + c) * KH + kh) * KW + kw]!;
              }
          data[((n * M + m) * OH + oh) * OW + ow] = s;
        }
  return { shape: [N, M, ...outs], data };
}

const r = rng(33);
const cases: { name: string; x: number[]; w: number[]; spec: Spec; bias: boolean }[] = [
  { name: '1-D plain', x: [1, 2, 9], w: [3, 2, 3], spec: { kernel: [3], strides: [1], dil: [1], pads: [0, 0], group: 1 }, bias: false },
  {
    name: '1-D pads/stride/dilation + bias',
    x: [2, 2, 11],
    w: [4, 2, 3],
    spec: { kernel: [3], strides: [2], dil: [2], pads: [2, 1], group: 1 },
    bias: true,
  },
  {
    name: '1-D depthwise SAME_UPPER stride 2',
    x: [1, 4, 10],
    w: [4, 1, 4],
    spec: { kernel: [4], strides: [2], dil: [1], pads: [0, 0], group: 4, autoPad: 'SAME_UPPER' },
    bias: true,
  },
  {
    name: '2-D plain',
    x: [1, 3, 6, 7],
    w: [2, 3, 3, 3],
    spec: { kernel: [3, 3], strides: [1, 1], dil: [1, 1], pads: [0, 0, 0, 0], group: 1 },
    bias: false,
  },
  {
    name: '2-D asymmetric pads, stride, dilation, group 2',
    x: [2, 4, 9, 8],
    w: [6, 2, 3, 2],
    spec: { kernel: [3, 2], strides: [2, 1], dil: [2, 3], pads: [1, 0, 2, 3], group: 2 },
    bias: true,
  },
  {
    name: '2-D SAME_LOWER stride 2',
    x: [1, 2, 7, 6],
    w: [3, 2, 2, 3],
    spec: { kernel: [2, 3], strides: [2, 2], dil: [1, 1], pads: [0, 0, 0, 0], group: 1, autoPad: 'SAME_LOWER' },
    bias: false,
  },
  {
    name: '2-D SAME_UPPER dilation 2',
    x: [1, 2, 5, 5],
    w: [2, 2, 3, 3],
    spec: { kernel: [3, 3], strides: [1, 1], dil: [2, 2], pads: [0, 0, 0, 0], group: 1, autoPad: 'SAME_UPPER' },
    bias: true,
  },
  {
    name: '2-D VALID stride 3',
    x: [1, 1, 10, 8],
    w: [2, 1, 3, 2],
    spec: { kernel: [3, 2], strides: [3, 3], dil: [1, 1], pads: [0, 0, 0, 0], group: 1, autoPad: 'VALID' },
    bias: false,
  },
];

describe('conv', () => {
  for (const c of cases)
    it(c.name, () => {
      const x = randomF32(c.x, r),
        w = randomF32(c.w, r);
      const b = c.bias ? randomF32([c.w[0]!], r) : null;
      const attrs: Record<string, number[] | number | string> = {
        strides: c.spec.strides,
        dilations: c.spec.dil,
        group: c.spec.group,
        kernel_shape: c.spec.kernel,
      };
      if (c.spec.autoPad) attrs.auto_pad = c.spec.autoPad;
      else attrs.pads = c.spec.pads;
      const y = run1('conv', [x, w, b], attrs);
      const want = directConv(x, w, b, c.spec);
      expect(y.shape).toEqual(want.shape);
      const { err, ref } = maxErr(y.data, want.data);
      expect(err).toBeLessThanOrEqual(1e-6 * ref);
    });
  it('defaults kernel_shape, strides, dilations and pads', () => {
    const x = randomF32([1, 2, 5, 5], r),
      w = randomF32([3, 2, 2, 2], r);
    const y = run1('conv', [x, w, null]);
    const want = directConv(x, w, null, { kernel: [2, 2], strides: [1, 1], dil: [1, 1], pads: [0, 0, 0, 0], group: 1 });
    expect(y.shape).toEqual([1, 3, 4, 4]);
    expect(maxErr(y.data, want.data).err).toBeLessThanOrEqual(1e-6 * maxErr(y.data, want.data).ref);
  });
  it('diagnoses channel/group mismatches and 3-D convolution', () => {
    expectCode(() => buildNode('conv', [randomF32([1, 3, 4], r), randomF32([2, 2, 3], r)]), 'LUT1110');
    expectCode(() => buildNode('conv', [randomF32([1, 4, 4], r), randomF32([3, 2, 3], r)], { group: 2 }), 'LUT1110');
    expectCode(() => buildNode('conv', [randomF32([1, 1, 2, 2, 2], r), randomF32([1, 1, 1, 1, 1], r)]), 'LUT1123');
  });
});
