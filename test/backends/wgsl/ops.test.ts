/**
 * Single graph ops through the WGSL backend: each case is a one-node ONNX model, compiled and run on
 * SwiftShader and compared with the reference interpreter (float: max|y - ref| <= F32_EXACT max|ref|
 * of test/helpers/tolerance.ts, measured <= 1.8e-7; integer and bool results: exactly). Every shader of every case, and of the
 * LUT steps over a sweep of shapes and options, must also validate on Dawn's null backend.
 */

import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import '../../../ir/ops/index.js';
import { type NodeGpu, openNodeGpu } from '../../../backends/wgsl/device.js';
import { renderModel } from '../../../backends/wgsl/model-shaders.js';
import { importOnnx } from '../../../compiler/onnx/index.js';
import { runPipeline } from '../../../compiler/pipeline.js';
import { interpret } from '../../../ir/interpret.js';
import { makeTensor } from '../../../ir/tensor.js';
import type { DType, Tensor } from '../../../ir/types.js';
import { buildMlp, randomInput, seeded } from '../../helpers/models.js';
import { type BuilderAttr, OnnxBuilder } from '../../helpers/onnx-builder.js';
import { F32_EXACT } from '../../helpers/tolerance.js';
import { relMax, runWgsl } from './helpers.js';

let gpu: NodeGpu;
let nullGpu: NodeGpu;
beforeAll(async () => {
  gpu = await openNodeGpu();
  nullGpu = await openNodeGpu({ backend: 'null' });
});
afterAll(() => {
  gpu?.release();
  nullGpu?.release();
});

interface In {
  name: string;
  t: Tensor;
  init?: boolean;
}
const f32 = (name: string, shape: number[], seed = 1, scale = 2): In => {
  const t = randomInput(shape, seed);
  for (let i = 0; i < t.data.length; i++) t.data[i]! *= scale;
  return { name, t };
};
const ints = (name: string, dtype: DType, shape: number[], vals: number[], init = true): In => ({
  name,
  t: makeTensor(dtype, shape, vals),
  init,
});

function model(op: string, ins: In[], attrs: Record<string, BuilderAttr> = {}, nOut = 1, opset = 18, domain?: string) {
  const b = new OnnxBuilder({ opset, ...(domain ? { domains: { [domain]: 1 } } : {}) } as never);
  const names = ins.map((i) => (i.init ? b.initializer(i.name, i.t) : i.name === '' ? '' : b.input(i.name, i.t.dtype, i.t.shape)));
  const outs = b.node(op, names, { attrs, outputs: Array.from({ length: nOut }, (_, i) => `y${i}`), domain } as never);
  for (const o of outs) b.output(o, 0 as never);
  const g = importOnnx(b.toBytes());
  runPipeline(g, { target: 'wgsl' });
  const feeds: Record<string, Tensor> = {};
  for (const i of ins) if (!i.init && i.name) feeds[i.name] = i.t;
  return { g, feeds };
}

const x34 = () => f32('x', [3, 4, 5], 2);
const CASES: [string, () => ReturnType<typeof model>][] = [
  ...['Sqrt', 'Exp', 'Log', 'Erf', 'Tanh', 'Sigmoid', 'Softplus', 'Neg', 'Abs', 'Relu', 'Reciprocal'].map(
    (op): [string, () => ReturnType<typeof model>] => [
      op,
      () =>
        model(op, [
          op === 'Sqrt' || op === 'Log'
            ? {
                name: 'x',
                t: makeTensor(
                  'f32',
                  [7, 9],
                  randomInput([7, 9], 3).data.map((v) => Math.abs(v) + 0.1),
                ),
              }
            : f32('x', [7, 9], 3, 4),
        ]),
    ],
  ),
  ['Gelu', () => model('Gelu', [f32('x', [50], 4, 4)], {}, 1, 20)],
  ['Gelu tanh', () => model('Gelu', [f32('x', [50], 4, 4)], { approximate: 'tanh' }, 1, 20)],
  ['LeakyRelu', () => model('LeakyRelu', [f32('x', [30], 5)], { alpha: { f: 0.2 } } as never)],
  ...['Add', 'Sub', 'Mul', 'Div', 'Max', 'Min'].map((op): [string, () => ReturnType<typeof model>] => [
    `${op} broadcast`,
    () => model(op, [x34(), f32('b', [4, 1], 6)]),
  ]),
  ['Pow', () => model('Pow', [f32('x', [3, 5], 7), ints('p', 'f32', [1], [2])])],
  [
    'Div int (x / 0 = 0)',
    () => model('Div', [ints('a', 'i32', [6], [7, -7, 9, 0, 5, -8], false), ints('b', 'i32', [6], [2, 2, 0, 3, -5, 3])]),
  ],
  ['Less + Where', () => model('Less', [x34(), f32('b', [5], 8)])],
  ['Where', () => model('Where', [ints('c', 'bool', [4, 1], [1, 0, 1, 0]), x34(), f32('b', [5], 9)])],
  ['Cast f32->i32', () => model('Cast', [f32('x', [20], 10, 300)], { to: 6 })],
  ['Cast f32->u8', () => model('Cast', [f32('x', [20], 10, 300)], { to: 2 })],
  ['Cast i64->f32', () => model('Cast', [ints('x', 'i64', [4], [-3, 0, 5, 1 << 20], false)], { to: 1 })],
  ['Cast f32->bool', () => model('Cast', [ints('x', 'f32', [4], [0, -0.5, 2, 0], false)], { to: 9 })],
  ['Clip', () => model('Clip', [f32('x', [20], 11), ints('lo', 'f32', [], [-0.5]), ints('hi', 'f32', [], [0.7])])],
  ['ReduceSum axes 1', () => model('ReduceSum', [x34(), ints('a', 'i64', [1], [1])], { keepdims: 0 })],
  ['ReduceMean all', () => model('ReduceMean', [x34()], { keepdims: 1 })],
  ['ReduceMax axes -1', () => model('ReduceMax', [x34(), ints('a', 'i64', [1], [-1])])],
  ['Softmax', () => model('Softmax', [f32('x', [3, 70], 12, 5)], { axis: -1 })],
  ['LogSoftmax axis 0', () => model('LogSoftmax', [x34()], { axis: 0 })],
  [
    'LayerNormalization',
    () => model('LayerNormalization', [f32('x', [3, 100], 13), f32('s', [100], 14), f32('b', [100], 15)], { axis: -1 }),
  ],
  [
    'SimplifiedLayerNormalization',
    () => model('SimplifiedLayerNormalization', [f32('x', [2, 3, 40], 16), f32('s', [40], 17)], { axis: -1 }),
  ],
  [
    'SkipSimplifiedLayerNormalization',
    () =>
      model(
        'SkipSimplifiedLayerNormalization',
        [f32('x', [2, 3, 40], 18), f32('k', [2, 3, 40], 19), f32('g', [40], 20)],
        {},
        4,
        18,
        'com.microsoft',
      ),
  ],
  ['MatMul batched broadcast', () => model('MatMul', [f32('a', [2, 1, 5, 19], 21), f32('b', [3, 19, 17], 22)])],
  ['MatMul 1-D', () => model('MatMul', [f32('a', [19], 23), f32('b', [19, 6], 24)])],
  [
    'Gemm transA transB C',
    () =>
      model('Gemm', [f32('a', [20, 9], 25), f32('b', [18, 20], 26), f32('c', [18], 27)], {
        transA: 1,
        transB: 1,
        alpha: { f: 0.5 },
        beta: { f: 2 },
      } as never),
  ],
  ['Transpose', () => model('Transpose', [x34()], { perm: [2, 0, 1] })],
  ['Concat', () => model('Concat', [x34(), f32('b', [3, 2, 5], 28)], { axis: 1 })],
  [
    'Slice negative step',
    () =>
      model('Slice', [
        x34(),
        ints('s', 'i64', [2], [-1, 3]),
        ints('e', 'i64', [2], [-100, 0]),
        ints('a', 'i64', [2], [2, 1]),
        ints('t', 'i64', [2], [-2, -1]),
      ]),
  ],
  ['Split', () => model('Split', [x34(), ints('s', 'i64', [2], [1, 3])], { axis: 1 }, 2)],
  ['Gather', () => model('Gather', [x34(), ints('i', 'i64', [2, 2], [0, -1, 2, 1])], { axis: 1 })],
  ['Gather runtime ids', () => model('Gather', [f32('e', [10, 6], 29), ints('i', 'i64', [3], [9, 0, -2], false)], { axis: 0 })],
  ['Expand', () => model('Expand', [f32('x', [3, 1], 30), ints('s', 'i64', [3], [2, 3, 4])])],
  ['Trilu', () => model('Trilu', [f32('x', [2, 5, 6], 31), ints('k', 'i64', [], [1])], { upper: 0 })],
  [
    'Conv 2-D grouped strided padded',
    () =>
      model('Conv', [f32('x', [1, 4, 7, 6], 32), f32('w', [6, 2, 3, 2], 33), f32('b', [6], 34)], {
        group: 2,
        strides: [2, 1],
        pads: [1, 0, 1, 1],
        dilations: [1, 2],
      }),
  ],
  [
    'Conv 1-D SAME_UPPER',
    () => model('Conv', [f32('x', [2, 3, 9], 35), f32('w', [4, 3, 3], 36)], { auto_pad: 'SAME_UPPER', strides: [2] }),
  ],
  [
    'DequantizeLinear per-axis + MatMul',
    () =>
      model(
        'DequantizeLinear',
        [
          ints(
            'q',
            'i8',
            [4, 6],
            Array.from({ length: 24 }, (_, i) => ((i * 37) % 255) - 127),
            false,
          ),
          ints('s', 'f32', [6], [0.1, 0.2, 0.3, 0.05, 0.5, 1]),
          ints('z', 'i8', [6], [0, 1, -3, 4, 0, 2]),
        ],
        { axis: 1 },
      ),
  ],
  ['QuantizeLinear', () => model('QuantizeLinear', [f32('x', [30], 37, 20), ints('s', 'f32', [], [0.1]), ints('z', 'u8', [], [128])])],
];

describe('WGSL single ops vs the interpreter (SwiftShader)', () => {
  for (const [name, make] of CASES) {
    it(name, async () => {
      const { g, feeds } = make();
      const got = await runWgsl(gpu.device, g, feeds);
      const ref = interpret(g, feeds);
      got.forEach((t, i) => {
        expect(t.dtype).toBe(ref[i]!.dtype);
        expect(t.shape).toEqual(ref[i]!.shape);
        if (t.dtype === 'f32') expect(relMax(t, ref[i]!)).toBeLessThanOrEqual(F32_EXACT);
        else expect(Array.from(t.data)).toEqual(Array.from(ref[i]!.data));
      });
    });
  }
});

/** Every shader of `g` compiles and makes a pipeline on Dawn's validation-only backend. */
async function validateAll(g: Parameters<typeof renderModel>[0]): Promise<void> {
  const dev = nullGpu.device;
  const layout = dev.createBindGroupLayout({
    entries: [
      { binding: 0, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'storage' } },
      { binding: 1, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'read-only-storage' } },
      // the run-time check status (shader-common.ts STATUS_DECL), as the host module lays it out
      { binding: 2, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'storage' } },
    ],
  });
  const pl = dev.createPipelineLayout({ bindGroupLayouts: [layout] });
  for (const k of renderModel(g).kernels) {
    dev.pushErrorScope('validation');
    const module = dev.createShaderModule({ code: k.code });
    const info = await module.getCompilationInfo();
    const errs = info.messages.filter((m) => m.type === 'error').map((m) => `${k.label} ${m.lineNum}:${m.linePos} ${m.message}`);
    dev.createComputePipeline({ layout: pl, compute: { module, entryPoint: 'main' } });
    const err = await dev.popErrorScope();
    expect(errs.concat(err ? [`${k.label}: ${err.message}`] : [])).toEqual([]);
  }
}

describe('WGSL shaders validate on the null backend', () => {
  it('every op case', async () => {
    for (const [, make] of CASES) await validateAll(make().g);
  });

  it('LUT steps over random shapes, bits, group sizes, table precisions', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 70 }),
        fc.integer({ min: 1, max: 300 }),
        fc.integer({ min: 1, max: 5 }),
        fc.constantFrom(1, 2, 3, 4),
        fc.constantFrom(8, 16, 32, 64, 128, 1024),
        fc.constantFrom('i8', 'f32'),
        async (n, k, m, bits, gs, tables) => {
          const bytes = buildMlp({ dims: [k, n], batch: m, seed: n + k } as never);
          const g = importOnnx(bytes);
          runPipeline(g, { target: 'wgsl', bits: bits as 1 | 2 | 3 | 4, groupSize: gs, tables: tables as 'i8' | 'f32' });
          await validateAll(g);
        },
      ),
      { numRuns: 25, seed: 42 },
    );
  });
});

void seeded;
