/**
 * Ops added for real exports (ir/ops/math.ts, axis.ts, pad.ts, scatter.ts, the added reductions and
 * skip_layer_norm) checked against onnxruntime-node on the same one-node model: above all the
 * com.microsoft contrib ops (Gelu, FastGelu, BiasGelu, QuickGelu, SkipLayerNormalization), which
 * libonnx-testdata does not cover, and forms that it does not exercise (Pad with an axes input and
 * negative pads, Pad at opset 10, Mod of negative ints, ties in ArgMax, large ReduceLogSumExp inputs,
 * old-opset Dropout / Not / Abs).
 *
 * Tolerances as in ort-ops-a.test.ts: float32 rtol 1e-5 + atol 1e-6 (ORT's own exp/erf/tanh are a few
 * ulps from our double-accurate ones), f16 rtol 2^-9 + atol 1e-4, integers and bools exactly.
 */

import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import '../../ir/ops/index.js';
import { type BuilderAttr, OnnxBuilder } from '../../compiler/onnx/builder.js';
import { importOnnx } from '../../compiler/onnx/index.js';
import { interpret } from '../../ir/interpret.js';
import { f16BitsToNumber, makeTensor, numberToF16Bits } from '../../ir/tensor.js';
import type { DType, Tensor } from '../../ir/types.js';

interface Case {
  name: string;
  op: string;
  domain?: string;
  opset?: number;
  /** Inputs; `{ init }` makes the tensor an initializer (ORT needs some operands constant). */
  inputs: (Tensor | { init: Tensor } | null)[];
  attrs?: Record<string, BuilderAttr>;
  /** Result dtypes; null leaves that (optional) result unrequested. */
  outputs: (DType | null)[];
}

function rng(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32) * 6 - 3;
}
const rnd = (dtype: DType, shape: number[], seed: number) =>
  makeTensor(dtype, shape, Array.from({ length: shape.reduce((a, b) => a * b, 1) }, rng(seed)));
const f32 = (shape: number[], seed: number) => rnd('f32', shape, seed);
const f16 = (shape: number[], seed: number) => rnd('f16', shape, seed);
const T = makeTensor;
const i64 = (...v: number[]) => ({ init: T('i64', [v.length], v) });

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
  const d = t.data;
  const data =
    t.dtype === 'f16'
      ? Uint16Array.from(d, numberToF16Bits)
      : t.dtype === 'i64'
        ? BigInt64Array.from(d, (v) => BigInt(v))
        : t.dtype === 'bool'
          ? Uint8Array.from(d)
          : d;
  return new ort.Tensor(ORT_TYPE[t.dtype]!, data as Float32Array, t.shape);
}

function fromOrt(t: ort.Tensor): number[] {
  if (t.type === 'float16') return Array.from(t.data as Uint16Array, f16BitsToNumber);
  if (t.type === 'int64') return Array.from(t.data as BigInt64Array, Number);
  if (t.type === 'bool') return Array.from(t.data as Uint8Array, (v) => (v ? 1 : 0));
  return Array.from(t.data as ArrayLike<number>);
}

const MS = 'com.microsoft';
const CASES: Case[] = [
  // com.microsoft contrib ops
  { name: 'ms Gelu', op: 'Gelu', domain: MS, inputs: [f32([3, 7], 1)], outputs: ['f32'] },
  { name: 'FastGelu with bias', op: 'FastGelu', domain: MS, inputs: [f32([2, 3, 8], 2), f32([8], 3)], outputs: ['f32'] },
  { name: 'FastGelu without bias', op: 'FastGelu', domain: MS, inputs: [f32([4, 8], 4)], outputs: ['f32'] },
  { name: 'BiasGelu', op: 'BiasGelu', domain: MS, inputs: [f32([2, 3, 8], 5), f32([8], 6)], outputs: ['f32'] },
  { name: 'QuickGelu default alpha', op: 'QuickGelu', domain: MS, inputs: [f32([16], 7)], outputs: ['f32'] },
  { name: 'QuickGelu alpha 1', op: 'QuickGelu', domain: MS, inputs: [f32([16], 8)], attrs: { alpha: { f: 1 } }, outputs: ['f32'] },
  {
    name: 'SkipLayerNormalization beta + bias, all results',
    op: 'SkipLayerNormalization',
    domain: MS,
    inputs: [f32([2, 3, 8], 9), f32([2, 3, 8], 10), f32([8], 11), f32([8], 12), f32([8], 13)],
    attrs: { epsilon: { f: 1e-5 } },
    outputs: ['f32', 'f32', 'f32', 'f32'],
  },
  {
    name: 'SkipLayerNormalization gamma only, sum result',
    op: 'SkipLayerNormalization',
    domain: MS,
    inputs: [f32([1, 4, 16], 14), f32([1, 4, 16], 15), f32([16], 16)],
    outputs: ['f32', null, null, 'f32'],
  },
  {
    name: 'SkipLayerNormalization f16',
    op: 'SkipLayerNormalization',
    domain: MS,
    inputs: [f16([1, 4, 8], 17), f16([1, 4, 8], 18), f16([8], 19), f16([8], 20)],
    attrs: { epsilon: { f: 1e-5 } },
    outputs: ['f16'],
  },
  // ai.onnx forms the conformance data does not reach
  {
    name: 'Pad reflect with axes',
    op: 'Pad',
    opset: 18,
    inputs: [f32([2, 3, 4], 21), i64(2, 3), null, i64(-1)],
    attrs: { mode: 'reflect' },
    outputs: ['f32'],
  },
  {
    name: 'Pad edge with negative pads',
    op: 'Pad',
    opset: 18,
    inputs: [f32([3, 4], 22), i64(1, -1, -2, 2)],
    attrs: { mode: 'edge' },
    outputs: ['f32'],
  },
  { name: 'Pad wrap', op: 'Pad', opset: 19, inputs: [f32([3, 4], 23), i64(1, 2, 2, 3)], attrs: { mode: 'wrap' }, outputs: ['f32'] },
  {
    name: 'Pad constant value int32',
    op: 'Pad',
    opset: 18,
    inputs: [T('i32', [2, 2], [1, 2, 3, 4]), i64(1, 0, 0, 1), { init: T('i32', [], [-7]) }],
    outputs: ['i32'],
  },
  {
    name: 'Pad opset 10 attributes',
    op: 'Pad',
    opset: 10,
    inputs: [f32([2, 3], 24)],
    attrs: { pads: [0, 1, 1, 0], value: { f: 2.5 } },
    outputs: ['f32'],
  },
  {
    name: 'Mod int32 Python sign',
    op: 'Mod',
    opset: 13,
    inputs: [T('i32', [6], [-7, 7, -7, 7, 0, 5]), T('i32', [6], [3, -3, -3, 3, 4, -5])],
    outputs: ['i32'],
  },
  { name: 'Mod f16 fmod', op: 'Mod', opset: 13, inputs: [f16([8], 25), f16([8], 26)], attrs: { fmod: 1 }, outputs: ['f16'] },
  { name: 'HardSwish', op: 'HardSwish', opset: 14, inputs: [f32([16], 27)], outputs: ['f32'] },
  { name: 'Mish', op: 'Mish', opset: 18, inputs: [f32([16], 28)], outputs: ['f32'] },
  {
    name: 'Round halves to even',
    op: 'Round',
    opset: 11,
    inputs: [T('f32', [8], [-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 2.4, -2.6])],
    outputs: ['f32'],
  },
  { name: 'Sign int32', op: 'Sign', opset: 13, inputs: [T('i32', [4], [-5, 0, 3, -1])], outputs: ['i32'] },
  { name: 'PRelu per channel', op: 'PRelu', opset: 16, inputs: [f32([2, 3, 4], 29), f32([3, 1], 30)], outputs: ['f32'] },
  { name: 'Elu opset 6', op: 'Elu', opset: 6, inputs: [f32([10], 31)], attrs: { alpha: { f: 0.7 } }, outputs: ['f32'] },
  { name: 'Abs opset 6', op: 'Abs', opset: 6, inputs: [f32([6], 32)], outputs: ['f32'] },
  {
    name: 'ReduceLogSumExp large inputs',
    op: 'ReduceLogSumExp',
    opset: 18,
    inputs: [T('f32', [2, 3], [100, 200, 300, -1000, 0, 1]), i64(1)],
    outputs: ['f32'],
  },
  { name: 'ReduceL2', op: 'ReduceL2', opset: 18, inputs: [f32([2, 3, 4], 33), i64(0, 2)], attrs: { keepdims: 0 }, outputs: ['f32'] },
  { name: 'ReduceMin int32', op: 'ReduceMin', opset: 18, inputs: [T('i32', [2, 3], [5, -2, 9, 4, 4, 1]), i64(-1)], outputs: ['i32'] },
  { name: 'ReduceProd opset 13 attribute', op: 'ReduceProd', opset: 13, inputs: [f32([2, 3], 34)], attrs: { axes: [0] }, outputs: ['f32'] },
  {
    name: 'CumSum exclusive reverse',
    op: 'CumSum',
    opset: 14,
    inputs: [f32([2, 5], 35), { init: T('i64', [], [1]) }],
    attrs: { exclusive: 1, reverse: 1 },
    outputs: ['f32'],
  },
  {
    name: 'ArgMax ties, last index',
    op: 'ArgMax',
    opset: 13,
    inputs: [T('f32', [2, 4], [1, 3, 3, 0, 2, 2, 2, 2])],
    attrs: { axis: 1, select_last_index: 1 },
    outputs: ['i64'],
  },
  {
    name: 'ArgMin ties, first index',
    op: 'ArgMin',
    opset: 13,
    inputs: [T('i32', [2, 4], [1, 0, 0, 5, 2, 2, 2, 2])],
    attrs: { axis: -1, keepdims: 0 },
    outputs: ['i64'],
  },
  { name: 'Tile', op: 'Tile', opset: 13, inputs: [f32([2, 3], 36), i64(2, 3)], outputs: ['f32'] },
  {
    name: 'GatherElements negative indices',
    op: 'GatherElements',
    opset: 13,
    inputs: [f32([3, 4], 37), T('i64', [2, 4], [0, -1, 2, 1, -3, 0, 1, 2])],
    outputs: ['f32'],
  },
  {
    name: 'ScatterND add',
    op: 'ScatterND',
    opset: 18,
    inputs: [f32([4, 3], 38), { init: T('i64', [3, 1], [1, 3, 1]) }, f32([3, 3], 39)],
    attrs: { reduction: 'add' },
    outputs: ['f32'],
  },
  {
    name: 'ScatterElements mul axis 1',
    op: 'ScatterElements',
    opset: 18,
    inputs: [f32([2, 4], 40), { init: T('i64', [2, 2], [0, 3, -1, 1]) }, f32([2, 2], 41)],
    attrs: { axis: 1, reduction: 'mul' },
    outputs: ['f32'],
  },
  {
    name: 'IsInf positive only',
    op: 'IsInf',
    opset: 10,
    inputs: [T('f32', [4], [Infinity, -Infinity, NaN, 1])],
    attrs: { detect_negative: 0 },
    outputs: ['bool'],
  },
  {
    name: 'BitShift right uint8',
    op: 'BitShift',
    opset: 11,
    inputs: [T('u8', [4], [255, 16, 3, 128]), T('u8', [4], [1, 4, 0, 7])],
    attrs: { direction: 'RIGHT' },
    outputs: ['u8'],
  },
  {
    name: 'Dropout opset 9 (ratio attribute, mask of the data type)',
    op: 'Dropout',
    opset: 9,
    inputs: [f32([2, 3], 42)],
    attrs: { ratio: { f: 0.3 } },
    outputs: ['f32', 'f32'],
  },
  { name: 'Dropout opset 11 with mask', op: 'Dropout', opset: 11, inputs: [f32([2, 3], 45)], outputs: ['f32', 'bool'] },
  { name: 'Dropout opset 13 with mask', op: 'Dropout', opset: 13, inputs: [f32([2, 3], 43)], outputs: ['f32', 'bool'] },
  { name: 'CastLike int32 -> f16', op: 'CastLike', opset: 15, inputs: [T('i32', [4], [-3, 0, 7, 2049]), f16([1], 44)], outputs: ['f16'] },
];

function buildModel(c: Case): { bytes: Uint8Array; feeds: Record<string, Tensor>; outs: (string | null)[] } {
  const b = new OnnxBuilder({ opset: c.opset ?? 17, domains: { [MS]: 1 } });
  const feeds: Record<string, Tensor> = {};
  const names = c.inputs.map((t, i) => {
    if (!t) return '';
    if ('init' in t) return b.initializer(`c${i}`, t.init);
    const n = b.input(`in${i}`, t.dtype, t.shape);
    feeds[n] = t;
    return n;
  });
  while (names.length && names[names.length - 1] === '') names.pop();
  const outs = c.outputs.map((dt, i) => (dt ? `out${i}` : null));
  b.node(c.op, names, { domain: c.domain ?? '', attrs: c.attrs ?? {}, outputs: outs.map((o) => o ?? '') });
  c.outputs.forEach((dt, i) => dt && b.output(outs[i]!, dt));
  return { bytes: b.toBytes(), feeds, outs };
}

describe('ops added for real exports, against onnxruntime-node', () => {
  for (const c of CASES) {
    it(c.name, async () => {
      const { bytes, feeds, outs } = buildModel(c);
      const session = await ort.InferenceSession.create(bytes);
      const ortFeeds = Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, toOrt(t)]));
      const want = await session.run(ortFeeds);
      const got = interpret(importOnnx(bytes), feeds);
      // The graph's outputs are the requested results, in order.
      const requested = outs.filter((o): o is string => o !== null);
      requested.forEach((name, i) => {
        const g = got[i]!;
        const w = want[name]!;
        expect(g.dtype, name).toBe(c.outputs[outs.indexOf(name)]);
        expect(g.shape, name).toEqual([...w.dims]);
        const wv = fromOrt(w);
        const float = g.dtype === 'f32' || g.dtype === 'f16';
        const [rtol, atol] = g.dtype === 'f16' ? [2 ** -9, 1e-4] : [1e-5, 1e-6];
        wv.forEach((v, j) => {
          const x = g.data[j]!;
          if (!float || !Number.isFinite(v)) expect(x, `${name}[${j}]`).toBe(v);
          else expect(Math.abs(x - v), `${name}[${j}]: lutc ${x}, ORT ${v}`).toBeLessThanOrEqual(atol + rtol * Math.abs(v));
        });
      });
    });
  }
});
