/**
 * Golden tests of the reference path (import + interpreter, `lutc run --target ref`) against
 * onnxruntime-node on the same ONNX model (docs/architecture.md): generated MLPs at several opsets, Gemm and
 * MatMul forms, the Llama-style block, dynamic-shape models, MatMulNBits models (2/4-bit, with and
 * without zero points and bias), the bundled examples/ and examples/torch/ models, and the Llama block
 * through the whole `--target ref` pipeline with f32 tables (RMSNorm fused into the table build).
 *
 * Tolerance: max|y - ref| <= F32_EXACT * max|ref| (test/helpers/tolerance.ts). Both sides compute in
 * float32 and differ only in summation order and in the approximations of exp/sqrt/sigmoid: the
 * rounding error of a dot product is ~sqrt(K) * 2^-24 of its scale (at worst K * 2^-24 of sum|x||w|);
 * measured 8.2e-8 .. 5.0e-7 (the hidden-128 decode step). Small numeric bugs fail too: an RMSNorm
 * epsilon read 10x wrong moves the Llama outputs by ~1.6e-5; a dropped bias, a wrong nibble order or a
 * transposed weight moves outputs by O(1) of their scale.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import '../../ir/ops/index.js';
import { importOnnx } from '../../compiler/onnx/index.js';
import type { CompileOptions } from '../../compiler/options.js';
import { runPipeline } from '../../compiler/pipeline.js';
import { quantizeOnnx } from '../../compiler/quantize-onnx.js';
import { interpret } from '../../ir/interpret.js';
import type { Tensor } from '../../ir/types.js';
import {
  buildDequantizedLinear,
  buildDynamicLinear,
  buildLlamaBlock,
  buildMatMulNBits,
  buildMlp,
  type NBitsOptions,
  OPSETS,
  randomInput,
} from '../helpers/models.js';
import { maxAbsDiff, runOrt } from '../helpers/ort.js';
import { F32_EXACT } from '../helpers/tolerance.js';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');

/** Runs lutc's importer + interpreter; with `pipeline`, the compile pipeline in between (`lutc run --target ref`). */
function runRef(bytes: Uint8Array, inputs: Record<string, Tensor>, bindShapes = true, pipeline?: CompileOptions): Tensor[] {
  const inputShapes = bindShapes ? Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, v.shape])) : undefined;
  const g = importOnnx(bytes, { file: 'model.onnx', inputShapes });
  return interpret(pipeline ? runPipeline(g, pipeline).graph : g, inputs);
}

async function expectGolden(
  bytes: Uint8Array,
  inputs: Record<string, Tensor>,
  ref?: Uint8Array | string,
  pipeline?: CompileOptions,
): Promise<void> {
  const ours = runRef(bytes, inputs, true, pipeline);
  const theirs = await runOrt(ref ?? bytes, inputs);
  expect(ours.length).toBe(theirs.length);
  ours.forEach((y, i) => {
    const r = theirs[i]!;
    expect(y.dtype).toBe(r.dtype);
    expect(y.shape).toEqual(r.shape);
    const { diff, scale } = maxAbsDiff(y, r);
    expect(scale).toBeGreaterThan(0); // an all-zero reference would make the test vacuous
    expect(diff, `output ${i}: max|diff| ${diff} vs scale ${scale}`).toBeLessThanOrEqual(F32_EXACT * scale);
  });
}

describe('generated MLPs vs onnxruntime', () => {
  for (const opset of OPSETS) {
    for (const gemm of [false, true]) {
      it(`opset ${opset} ${gemm ? 'Gemm' : 'MatMul+Add'}`, async () => {
        const bytes = buildMlp({ dims: [32, 48, 17, 5], seed: opset, opset, gemm });
        await expectGolden(bytes, { x: randomInput([3, 32], 11) });
      });
    }
  }
  it('odd sizes, batch 1', async () => {
    await expectGolden(buildMlp({ dims: [7, 13, 3], seed: 9 }), { x: randomInput([1, 7], 12) });
  });
  it('symbolic batch left unbound at import still interprets', () => {
    const bytes = buildMlp({ dims: [8, 4], seed: 4 });
    const x = randomInput([2, 8], 1);
    const a = runRef(bytes, { x }, false)[0]!;
    const b = runRef(bytes, { x }, true)[0]!;
    expect(Array.from(a.data)).toEqual(Array.from(b.data));
  });
});

describe('Llama-style block vs onnxruntime', () => {
  for (const opset of [17, 21]) {
    it(`opset ${opset}, seq 5`, async () => {
      await expectGolden(buildLlamaBlock({ opset, seed: 3 }), { x: randomInput([1, 5, 64], 21) });
    });
  }
  it('hidden 128, 8 heads, seq 1 (decode step)', async () => {
    await expectGolden(buildLlamaBlock({ hidden: 128, heads: 8, ffn: 256, seed: 4 }), { x: randomInput([1, 1, 128], 22) });
  });
  it('--bits 4 --tables f32 through the pipeline (RMSNorm fused into lut.norm_table) vs the quantized model', async () => {
    // quantizeOnnx writes the very weights --bits 4 chooses, so onnxruntime runs the same quantized
    // block with its RMSNorm as primitives; lutc runs the lowered, fused program (epsilon now an attribute).
    const float = buildLlamaBlock({ opset: 17, seed: 3 });
    const q = quantizeOnnx(float, { bits: 4, groupSize: 32 });
    const x = { x: randomInput([1, 5, 64], 23) };
    const g = importOnnx(float, { file: 'model.onnx', inputShapes: { x: x.x.shape } });
    const lowered = runPipeline(g, { target: 'ref', bits: 4, groupSize: 32, tables: 'f32' }).graph;
    expect(lowered.nodes.filter((n) => n.op === 'lut.norm_table')).toHaveLength(2);
    const [y] = interpret(lowered, x);
    const [r] = await runOrt(q, x);
    const { diff, scale } = maxAbsDiff(y!, r!);
    expect(diff, `max|diff| ${diff} vs scale ${scale}`).toBeLessThanOrEqual(F32_EXACT * scale);
  });
});

describe('dynamic shapes', () => {
  it('[batch, seq, K] linear at two different shapes', async () => {
    const bytes = buildDynamicLinear(24, 10);
    await expectGolden(bytes, { x: randomInput([2, 3, 24], 31) });
    await expectGolden(bytes, { x: randomInput([1, 7, 24], 32) });
  });
});

describe('MatMulNBits (docs/onnx-inputs.md packing) vs onnxruntime', () => {
  const cases: NBitsOptions[] = [];
  for (const bits of [2, 4] as const) {
    for (const zeroPoints of [false, true]) {
      for (const bias of [false, true]) cases.push({ k: 64, n: 24, bits, blockSize: 32, zeroPoints, bias });
    }
  }
  // K not a multiple of the block (zero-padded), odd N, several leading dims.
  cases.push({ k: 40, n: 7, bits: 4, blockSize: 16, zeroPoints: true, bias: true, lead: [2, 'seq'] });
  cases.push({ k: 100, n: 9, bits: 2, blockSize: 64, zeroPoints: true });
  for (const o of cases) {
    const name = `bits ${o.bits} K ${o.k} N ${o.n} block ${o.blockSize}${o.zeroPoints ? ' zp' : ''}${o.bias ? ' bias' : ''}`;
    it(name, async () => {
      const { bytes, weights } = buildMatMulNBits(o);
      const lead = (o.lead ?? ['batch']).map((d) => (typeof d === 'number' ? d : 3));
      const inputs = { A: randomInput([...lead, o.k], 41) };
      // Against ORT on the NBits model itself (onnxruntime-node 1.30 runs 2- and 4-bit on CPU) and on
      // the float model with the dequantized weights: if the test's packing and lutc's unpacking shared
      // a mistake, the second comparison would still catch it.
      await expectGolden(bytes, inputs);
      await expectGolden(bytes, inputs, buildDequantizedLinear(o, weights));
      // The full `lutc run --target ref --tables f32` path: lowered to lut.* ops with float tables,
      // which are exact up to summation order, so the same float32 tolerance holds.
      await expectGolden(bytes, inputs, undefined, { target: 'ref', tables: 'f32' });
    });
  }
});

describe('bundled examples vs onnxruntime', () => {
  const shapes: Record<string, Record<string, number[]>> = {
    'examples/mlp.onnx': { x: [4, 64] },
    'examples/llama-block.onnx': { x: [1, 6, 64] },
  };
  for (const [file, ins] of Object.entries(shapes)) {
    it(file, async () => {
      const bytes = fs.readFileSync(path.join(root, file));
      await expectGolden(bytes, Object.fromEntries(Object.entries(ins).map(([k, s], i) => [k, randomInput(s, 50 + i)])));
    });
  }
  const torchDir = path.join(root, 'examples/torch');
  const torchModels = fs.existsSync(torchDir)
    ? fs
        .readdirSync(torchDir)
        .filter((f) => f.endsWith('.onnx'))
        .sort()
    : [];
  it('examples/torch has the PyTorch exports', () => {
    expect(torchModels).toEqual(expect.arrayContaining(['llama_block.onnx', 'mlp.onnx']));
  });
  for (const f of torchModels) {
    it(`examples/torch/${f}`, async () => {
      const bytes = fs.readFileSync(path.join(torchDir, f));
      // The exports' inputs: mlp x [batch, 64]; llama_block x [batch, seq, 64] (see export.py).
      const shape = f.startsWith('mlp') ? [2, 64] : [2, 5, 64];
      await expectGolden(bytes, { x: randomInput(shape, 60) });
    });
  }
});
