/**
 * Part-A ops that libonnx-testdata does not cover (Gelu, ORT's SimplifiedLayerNormalization and
 * com.microsoft SkipSimplifiedLayerNormalization, f16 arithmetic, integer division and wrap, Not /
 * Softplus at a modern opset, ReduceMean with an axes input), checked against onnxruntime-node on the
 * same one-node model: the model goes through the importer and the reference interpreter and must agree
 * with ORT's outputs.
 *
 * Tolerances: float32 rtol 1e-5 + atol 1e-6 (ORT accumulates in float and uses its own exp/erf/tanh
 * approximations, a few ulps from our double-accurate results; 1e-5 is ~80 f32 ulps, far below any
 * real bug); f16 results rtol 2^-9 (two f16 ulps: ORT and we may round a near-tie differently once
 * through float); integers and bools exactly.
 */

import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import '../../ir/ops/index.js';
import { OnnxBuilder } from '../../compiler/onnx/builder.js';
import { importOnnx } from '../../compiler/onnx/index.js';
import { interpret } from '../../ir/interpret.js';
import { f16BitsToNumber, makeTensor, numberToF16Bits } from '../../ir/tensor.js';
import type { DType, Tensor } from '../../ir/types.js';

type Attr = Parameters<OnnxBuilder['node']>[2] extends infer O ? (O extends { attrs?: infer A } ? A : never) : never;

interface Case {
  name: string;
  op: string;
  domain?: string;
  opset?: number;
  inputs: (Tensor | null)[];
  attrs?: Attr;
  outputs: DType[];
}

function rng(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32) * 6 - 3;
}
const rnd = (dtype: DType, shape: number[], seed: number) =>
  makeTensor(dtype, shape, Array.from({ length: shape.reduce((a, b) => a * b, 1) }, rng(seed)));

const ORT_TYPE: Partial<Record<DType, ort.Tensor.Type>> = {
  f32: 'float32',
  f16: 'float16',
  i32: 'int32',
  i64: 'int64',
  i8: 'int8',
  u8: 'uint8',
  bool: 'bool',
};

function toOrt(t: Tensor): ort.Tensor {
  const type = ORT_TYPE[t.dtype]!;
  const d = t.data;
  const data =
    t.dtype === 'f16'
      ? Uint16Array.from(d, numberToF16Bits)
      : t.dtype === 'i64'
        ? BigInt64Array.from(d, (v) => BigInt(v))
        : t.dtype === 'bool'
          ? Uint8Array.from(d)
          : d;
  return new ort.Tensor(type, data as Float32Array, t.shape);
}

function fromOrt(t: ort.Tensor): number[] {
  if (t.type === 'float16') return Array.from(t.data as Uint16Array, f16BitsToNumber);
  if (t.type === 'int64') return Array.from(t.data as BigInt64Array, Number);
  if (t.type === 'bool') return Array.from(t.data as Uint8Array, (v) => (v ? 1 : 0));
  return Array.from(t.data as ArrayLike<number>);
}

const f32 = (shape: number[], seed: number) => rnd('f32', shape, seed);
const f16 = (shape: number[], seed: number) => rnd('f16', shape, seed);

const CASES: Case[] = [
  { name: 'Gelu exact', op: 'Gelu', opset: 20, inputs: [f32([3, 5], 1)], outputs: ['f32'] },
  { name: 'Gelu tanh', op: 'Gelu', opset: 20, inputs: [f32([3, 5], 2)], attrs: { approximate: 'tanh' }, outputs: ['f32'] },
  { name: 'Softplus opset 17', op: 'Softplus', inputs: [f32([8], 3)], outputs: ['f32'] },
  { name: 'Not opset 17', op: 'Not', inputs: [makeTensor('bool', [4], [0, 1, 1, 0])], outputs: ['bool'] },
  { name: 'Erf f32', op: 'Erf', inputs: [f32([16], 4)], outputs: ['f32'] },
  { name: 'Add f16 broadcast', op: 'Add', inputs: [f16([2, 3], 5), f16([3], 6)], outputs: ['f16'] },
  { name: 'Mul f16', op: 'Mul', inputs: [f16([6], 7), f16([6], 8)], outputs: ['f16'] },
  {
    name: 'Div int32 truncates',
    op: 'Div',
    inputs: [makeTensor('i32', [4], [-7, 7, -9, 9]), makeTensor('i32', [4], [2, -2, 4, 4])],
    outputs: ['i32'],
  },
  { name: 'Sub uint8 wraps', op: 'Sub', inputs: [makeTensor('u8', [2], [0, 5]), makeTensor('u8', [2], [1, 10])], outputs: ['u8'] },
  { name: 'Sigmoid f16', op: 'Sigmoid', inputs: [f16([8], 9)], outputs: ['f16'] },
  { name: 'Softmax f16', op: 'Softmax', inputs: [f16([2, 5], 10)], outputs: ['f16'] },
  {
    name: 'ReduceMean axes input',
    op: 'ReduceMean',
    opset: 18,
    inputs: [f32([2, 3, 4], 11), makeTensor('i64', [2], [0, -1])],
    outputs: ['f32'],
  },
  {
    name: 'ReduceMax keepdims 0',
    op: 'ReduceMax',
    opset: 18,
    inputs: [f32([2, 3, 4], 12), makeTensor('i64', [1], [1])],
    attrs: { keepdims: 0 },
    outputs: ['f32'],
  },
  {
    name: 'Clip int8',
    op: 'Clip',
    inputs: [makeTensor('i8', [4], [-100, -3, 3, 100]), makeTensor('i8', [], [-5]), makeTensor('i8', [], [50])],
    outputs: ['i8'],
  },
  { name: 'Cast f32 -> f16', op: 'Cast', inputs: [f32([8], 13)], attrs: { to: 10 }, outputs: ['f16'] },
  { name: 'Cast f32 -> i32', op: 'Cast', inputs: [f32([8], 14)], attrs: { to: 6 }, outputs: ['i32'] },
  { name: 'LayerNormalization f16', op: 'LayerNormalization', inputs: [f16([3, 8], 15), f16([8], 16), f16([8], 17)], outputs: ['f16'] },
  {
    name: 'SimplifiedLayerNormalization',
    op: 'SimplifiedLayerNormalization',
    inputs: [f32([2, 3, 8], 18), f32([8], 19)],
    attrs: { epsilon: { f: 1e-6 } },
    outputs: ['f32', 'f32'],
  },
  {
    name: 'SkipSimplifiedLayerNormalization with bias',
    op: 'SkipSimplifiedLayerNormalization',
    domain: 'com.microsoft',
    inputs: [f32([2, 3, 8], 20), f32([2, 3, 8], 21), f32([8], 22), f32([8], 23)],
    attrs: { epsilon: { f: 1e-5 } },
    outputs: ['f32', 'f32', 'f32', 'f32'],
  },
  {
    name: 'SkipSimplifiedLayerNormalization f16',
    op: 'SkipSimplifiedLayerNormalization',
    domain: 'com.microsoft',
    inputs: [f16([1, 4, 8], 24), f16([1, 4, 8], 25), f16([8], 26)],
    attrs: { epsilon: { f: 1e-5 } },
    outputs: ['f16', 'f32', 'f32', 'f16'],
  },
];

function buildModel(c: Case): { bytes: Uint8Array; feeds: Record<string, Tensor>; outs: string[] } {
  const b = new OnnxBuilder({ opset: c.opset ?? 17, domains: { 'com.microsoft': 1 } });
  const feeds: Record<string, Tensor> = {};
  const names = c.inputs.map((t, i) => {
    if (!t) return '';
    const n = b.input(`in${i}`, t.dtype, t.shape);
    feeds[n] = t;
    return n;
  });
  const outs = c.outputs.map((_, i) => `out${i}`);
  b.node(c.op, names, { domain: c.domain ?? '', attrs: c.attrs ?? {}, outputs: outs });
  c.outputs.forEach((dt, i) => b.output(outs[i]!, dt));
  return { bytes: b.toBytes(), feeds, outs };
}

describe('part-A ops against onnxruntime-node', () => {
  for (const c of CASES) {
    it(c.name, async () => {
      const { bytes, feeds, outs } = buildModel(c);
      const session = await ort.InferenceSession.create(bytes);
      const ortFeeds = Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, toOrt(t)]));
      const want = await session.run(ortFeeds);
      const got = interpret(importOnnx(bytes), feeds);
      outs.forEach((name, i) => {
        const g = got[i]!;
        const w = want[name]!;
        expect(g.dtype, name).toBe(c.outputs[i]);
        expect(g.shape, name).toEqual([...w.dims]);
        const wv = fromOrt(w);
        const float = g.dtype === 'f32' || g.dtype === 'f16';
        const [rtol, atol] = g.dtype === 'f16' ? [2 ** -9, 1e-4] : [1e-5, 1e-6];
        wv.forEach((v, j) => {
          const x = g.data[j]!;
          if (!float) expect(x, `${name}[${j}]`).toBe(v);
          else expect(Math.abs(x - v), `${name}[${j}]: lutc ${x}, ORT ${v}`).toBeLessThanOrEqual(atol + rtol * Math.abs(v));
        });
      });
    });
  }
});
