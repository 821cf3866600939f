/**
 * A runtime If on every target, in the shape of openWakeWord's hey_jarvis: the condition is computed
 * from the model's own first-stage score, and the then-branch runs a small verifier MLP whose weights are
 * initializers of the OUTER graph (used only inside the branch), while the else-branch returns a constant.
 * Inputs are chosen so that both branches are taken. Each target's `lutc run` output is compared with
 * onnxruntime-node on the same ONNX file: F32_EXACT (the graph is float MatMul/Add/Sigmoid/ReduceMax;
 * every target's f32 kernels are within it of a double-accurate result), the branch choice exactly.
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

const K = 16;
const H = 8;

function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
}
const f32 = (shape: number[], next: () => number, scale = 1) =>
  makeTensor(
    'f32',
    shape,
    Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => next() * scale),
  );

/** score = max(x · w0); if score > 0: sigmoid(relu(x · w1 + b1) · w2) else the constant [[-1]]. */
function heyJarvisLike(): Uint8Array {
  const next = seeded(7);
  const b = new OnnxBuilder({ opset: 17 });
  b.input('x', 'f32', [1, K]);
  b.initializer('w0', f32([K, 1], next));
  b.initializer('verifier.w1', f32([K, H], next));
  b.initializer('verifier.b1', f32([H], next, 0.1));
  b.initializer('verifier.w2', f32([H, 1], next));
  b.initializer('zero', makeTensor('f32', [], [0]));
  const [s] = b.node('MatMul', ['x', 'w0']);
  const [score] = b.node('ReduceMax', [s!], { attrs: { keepdims: 0 } });
  const [cond] = b.node('Greater', [score!, 'zero']);
  const then = b.subgraph('then');
  const [h] = then.node('MatMul', ['x', 'verifier.w1']);
  const [hb] = then.node('Add', [h!, 'verifier.b1']);
  const [r] = then.node('Relu', [hb!]);
  const [o] = then.node('MatMul', [r!, 'verifier.w2']);
  const [y] = then.node('Sigmoid', [o!], { outputs: ['then_y'] });
  then.output(y!, 'f32', [1, 1]);
  const els = b.subgraph('else');
  els.initializer('minus_one', makeTensor('f32', [1, 1], [-1]));
  const [e] = els.node('Identity', ['minus_one'], { outputs: ['else_y'] });
  els.output(e!, 'f32', [1, 1]);
  b.node('If', [cond!], { attrs: { then_branch: then, else_branch: els }, outputs: ['verified'] });
  b.node('Identity', [score!], { outputs: ['score'] });
  b.output('verified', 'f32', [1, 1]);
  b.output('score', 'f32', []);
  return b.toBytes();
}

const work = tmpDir();
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

describe('runtime If (hey_jarvis-style: outer initializers used inside the branch)', async () => {
  const bytes = heyJarvisLike();
  const model = path.join(work, 'if.onnx');
  fs.writeFileSync(model, bytes);
  // inputs for both branches: x and -x flip the sign of the first-stage score
  const base = f32([1, K], seeded(11));
  const neg = makeTensor(
    'f32',
    [1, K],
    Array.from(base.data, (v) => -v),
  );
  const inputs: Tensor[] = [base, neg];
  const want = await Promise.all(inputs.map((x) => runOrt(bytes, { x })));
  it('the inputs take both branches in onnxruntime', () => {
    const taken = want.map((w) => w[0]!.data[0] === -1);
    expect(taken.sort()).toEqual([false, true]);
  });
  for (const target of ['ref', 'wasm', 'c', 'wgsl']) {
    it(`${target}: both branches, equal to onnxruntime`, async () => {
      for (const [i, x] of inputs.entries()) {
        const xf = path.join(work, `${target}-x${i}.npy`);
        writeNpyFile(xf, x);
        const out = path.join(work, `${target}-out${i}`);
        const r = await lutc('run', model, '--target', target, '--input', `x=${xf}`, '--out', out);
        expect(r.code, r.stderr).toBe(0);
        const got = readNpyFile(path.join(out, 'verified.npy'));
        const w = want[i]![0]!;
        expect(got.shape).toEqual([1, 1]);
        if (w.data[0] === -1) expect(got.data[0]).toBe(-1);
        else expect(maxRel(got, w)).toBeLessThanOrEqual(F32_EXACT);
        expect(maxRel(readNpyFile(path.join(out, 'score.npy')), want[i]![1]!)).toBeLessThanOrEqual(F32_EXACT);
      }
    });
  }
});
