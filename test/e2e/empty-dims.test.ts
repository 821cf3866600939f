/**
 * Size-0 dims on every target: the first decode step of an LLM has an empty past cache. A decoder-like
 * step (KV Concat with the past along the sequence axis, scores x · presentᵀ, Softmax, a reduction
 * and an elementwise op over the past itself) compiled with past_len = 0 and with past_len = 3 runs
 * on ref, wasm, c and wgsl and equals onnxruntime-node within F32_EXACT (float MatMul/Softmax/
 * ReduceSum: every target's f32 kernels are within it of a double-accurate result). An empty
 * reduction is its identity (ReduceSum over no elements is 0).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readNpyFile, writeNpyFile } from '../../compiler/npy.js';
import { makeTensor } from '../../ir/tensor.js';
import type { Tensor } from '../../ir/types.js';
import { lutc, tmpDir } from '../cli/helpers.js';
import { OnnxBuilder } from '../helpers/onnx-builder.js';
import { runOrt } from '../helpers/ort.js';
import { F32_EXACT, maxRel } from '../helpers/tolerance.js';

const OUTPUTS = ['present', 'probs', 'psum', 'pscaled'];

function decoderStep(): Uint8Array {
  const b = new OnnxBuilder({ opset: 17 });
  b.input('past', 'f32', [1, 2, 'past_len', 8]);
  b.input('x', 'f32', [1, 2, 1, 8]);
  b.initializer('half', makeTensor('f32', [], [0.5]));
  b.node('Concat', ['past', 'x'], { attrs: { axis: 2 }, outputs: ['present'] });
  const [t] = b.node('Transpose', ['present'], { attrs: { perm: [0, 1, 3, 2] } });
  const [s] = b.node('MatMul', ['x', t!]);
  b.node('Softmax', [s!], { attrs: { axis: -1 }, outputs: ['probs'] });
  b.node('ReduceSum', ['past', b.initializer('ax', makeTensor('i64', [1], [2]))], { attrs: { keepdims: 1 }, outputs: ['psum'] });
  b.node('Mul', ['past', 'half'], { outputs: ['pscaled'] });
  for (const o of OUTPUTS) b.output(o, 'f32');
  return b.toBytes();
}

function values(shape: number[], seed: number): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return makeTensor(
    'f32',
    shape,
    Array.from({ length: n }, (_, i) => Math.sin(seed * 7.1 + i * 0.37)),
  );
}

const work = tmpDir();
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

describe('size-0 dims (an empty past cache)', () => {
  const bytes = decoderStep();
  const model = path.join(work, 'step.onnx');
  fs.writeFileSync(model, bytes);
  for (const past of [0, 3]) {
    for (const target of ['ref', 'wasm', 'c', 'wgsl']) {
      it(`${target}, past_len = ${past}: equal to onnxruntime`, async () => {
        const feeds = { past: values([1, 2, past, 8], 1), x: values([1, 2, 1, 8], 2) };
        const want = await runOrt(bytes, feeds);
        const files = Object.entries(feeds).map(([name, t]) => {
          const f = path.join(work, `${target}-${past}-${name}.npy`);
          writeNpyFile(f, t);
          return `${name}=${f}`;
        });
        const out = path.join(work, `${target}-${past}-out`);
        const r = await lutc('run', model, '--target', target, '--input', files[0]!, '--input', files[1]!, '--out', out);
        expect(r.code, r.stderr).toBe(0);
        OUTPUTS.forEach((name, i) => {
          const got = readNpyFile(path.join(out, `${name}.npy`));
          expect(got.shape, name).toEqual(want[i]!.shape);
          if (got.data.length) expect(maxRel(got, want[i]!), name).toBeLessThanOrEqual(F32_EXACT);
        });
        if (past === 0) expect(Array.from(readNpyFile(path.join(out, 'psum.npy')).data)).toEqual(new Array(16).fill(0));
      });
    }
  }
});
