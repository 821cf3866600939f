/**
 * `lutc quantize` writes the weights `lutc run --bits` computes with: onnxruntime-node on the quantized
 * file equals `lutc run --target ref --bits B --tables f32` on the float model within F32_EXACT of
 * max|y| (both compute s * (q - z) in f32; only summation order differs). Cases that used to differ:
 * float weights on an exact ternary grid (run keeps the grid, quantize rounded them to 4-bit RTN),
 * K not a multiple of the group (K = 257, group 32), and an If whose branch reads an outer
 * initializer that a main-graph MatMul also uses (the written model lost the initializer, so
 * onnxruntime refused it). Also: help, parser and errors name the same flags.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import '../../ir/ops/index.js';
import { LutcError } from '../../base/diagnostics.js';
import { readNpyFile, writeNpyFile } from '../../compiler/npy.js';
import { OnnxBuilder } from '../../compiler/onnx/builder.js';
import { onnx } from '../../compiler/onnx/proto.js';
import { checkOnnxStructure, quantizeOnnx, validateQuantized } from '../../compiler/quantize-onnx.js';
import { makeTensor } from '../../ir/tensor.js';
import type { Tensor } from '../../ir/types.js';
import { randomInput } from '../helpers/models.js';
import { maxAbsDiff, runOrt } from '../helpers/ort.js';
import { F32_EXACT } from '../helpers/tolerance.js';
import { expectCleanDiagnostics, lutc, tmpDir } from './helpers.js';

const work = tmpDir();
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));
let counter = 0;
const fresh = (name: string) => path.join(work, `${name}-${counter++}`);

/** Deterministic weights [K, N] (MatMul's layout) in [-1, 1). */
function weights(k: number, n: number, seed: number): Tensor {
  return randomInput([k, n], seed);
}

/** Ternary weights [K, N]: every column (output channel) holds only {-a, 0, a} for its own a. */
function ternaryWeights(k: number, n: number, seed: number): Tensor {
  const r = randomInput([k, n], seed);
  const d = new Float32Array(k * n);
  for (let kk = 0; kk < k; kk++)
    for (let c = 0; c < n; c++) {
      const v = r.data[kk * n + c]!;
      d[kk * n + c] = Math.fround((0.05 + 0.01 * c) * (v < -0.33 ? -1 : v > 0.33 ? 1 : 0));
    }
  return makeTensor('f32', [k, n], d);
}

function linearModel(w: Tensor, m: number): Uint8Array {
  const [k, n] = w.shape as [number, number];
  const b = new OnnxBuilder({ opset: 17 });
  const x = b.input('x', 'f32', [m, k]);
  const [y] = b.node('MatMul', [x, b.initializer('w', w)], { name: 'mm' });
  const [z] = b.node('Relu', [y!]);
  b.output(z!, 'f32', [m, n]);
  return b.toBytes();
}

/** Gemm(x, W^T, C) with transB = 1, alpha and beta (lower-linear folds alpha into W and beta into the bias). */
function gemmModel(k: number, n: number, m: number, alpha: number, beta: number): Uint8Array {
  const b = new OnnxBuilder({ opset: 17 });
  const x = b.input('x', 'f32', [m, k]);
  const w = b.initializer('w', randomInput([n, k], 21));
  const c = b.initializer('c', randomInput([n], 22));
  const [y] = b.node('Gemm', [x, w, c], { name: 'gemm', attrs: { transB: 1, alpha: b.float(alpha), beta: b.float(beta) } });
  b.output(y!, 'f32', [m, n]);
  return b.toBytes();
}

/**
 * y0 = x W (main graph); y1 = If(cond, then: relu(x W), else: x V). W is read by the main graph and
 * the then-branch (an outer-scope initializer), V only by the else-branch.
 */
function ifModel(k: number, n: number, m: number): Uint8Array {
  const b = new OnnxBuilder({ opset: 17 });
  const x = b.input('x', 'f32', [m, k]);
  const cond = b.input('cond', 'bool', [1]);
  const w = b.initializer('verifier.weight', weights(k, n, 11));
  const v = b.initializer('other.weight', weights(k, n, 12));
  const [y0] = b.node('MatMul', [x, w], { name: 'main_mm' });
  const t = b.subgraph('then');
  const [tm] = t.node('MatMul', [x, w], { name: 'then_mm' });
  const [tr] = t.node('Relu', [tm!], { outputs: ['then_out'] });
  t.output(tr!, 'f32', [m, n]);
  const e = b.subgraph('else');
  const [em] = e.node('MatMul', [x, v], { name: 'else_mm', outputs: ['else_out'] });
  e.output(em!, 'f32', [m, n]);
  const [y1] = b.node('If', [cond], { attrs: { then_branch: t, else_branch: e }, name: 'if' });
  b.output(y0!, 'f32', [m, n]);
  b.output(y1!, 'f32', [m, n]);
  return b.toBytes();
}

/** Quantizes `model`, then compares onnxruntime on the written file with `lutc run --target ref` on the float one. */
async function compare(model: Uint8Array, inputs: Record<string, Tensor>, flags: string[]): Promise<{ worst: number; q: string }> {
  const src = `${fresh('float')}.onnx`;
  fs.writeFileSync(src, model);
  const q = `${fresh('quant')}.onnx`;
  const r = await lutc('quantize', src, ...flags, '-o', q);
  expect(r.code, r.stderr).toBe(0);
  expect(r.stdout.trim()).toBe(q);
  const args: string[] = [];
  for (const [name, t] of Object.entries(inputs)) {
    const f = `${fresh(name)}.npy`;
    writeNpyFile(f, t);
    args.push('--input', `${name}=${f}`);
  }
  const out = fresh('out');
  const run = await lutc('run', src, '--target', 'ref', ...flags, '--tables', 'f32', ...args, '--out', out);
  expect(run.code, run.stderr).toBe(0);
  const files = (JSON.parse(fs.readFileSync(path.join(out, 'outputs.json'), 'utf8')) as { file: string }[]).map((o) =>
    readNpyFile(path.join(out, o.file)),
  );
  const ort = await runOrt(q, inputs);
  expect(ort.length).toBe(files.length);
  let worst = 0;
  for (let i = 0; i < files.length; i++) {
    const { diff, scale } = maxAbsDiff(ort[i]!, files[i]!);
    expect(scale).toBeGreaterThan(0);
    worst = Math.max(worst, diff / scale);
  }
  return { worst, q };
}

/** Op types of the main graph and of every subgraph, in order. */
function opTypes(file: string): string[] {
  const out: string[] = [];
  const walk = (g: InstanceType<typeof onnx.GraphProto>) => {
    for (const n of g.node) {
      out.push(n.opType ?? '');
      for (const a of n.attribute) if (a.g) walk(a.g as InstanceType<typeof onnx.GraphProto>);
    }
  };
  walk(onnx.ModelProto.decode(fs.readFileSync(file)).graph as InstanceType<typeof onnx.GraphProto>);
  return out;
}

describe('lutc quantize writes the weights lutc run --bits uses', () => {
  // Tolerance: F32_EXACT * max|y| (same f32 weights on both sides, summation order only).
  it('ternary float weights keep their exact 3-level grid (as run does), not 4-bit RTN', async () => {
    const w = ternaryWeights(64, 16, 3);
    const { worst, q } = await compare(linearModel(w, 4), { x: randomInput([4, 64], 4) }, ['--bits', '4', '--group-size', '32']);
    expect(worst).toBeLessThanOrEqual(F32_EXACT);
    expect(opTypes(q)).toContain('MatMulNBits');
  });

  it('K = 257 with group 32 (a partial last group)', async () => {
    for (const fmt of [
      ['--bits', '4'],
      ['--bits', '3'],
      ['--bits', '2'],
      ['--bits', '1.58'],
      ['--bits', '4', '--symmetric'],
    ]) {
      const { worst } = await compare(linearModel(weights(257, 24, 5), 3), { x: randomInput([3, 257], 6) }, [...fmt, '--group-size', '32']);
      expect(worst, fmt.join(' ')).toBeLessThanOrEqual(F32_EXACT);
    }
  });

  it('Gemm with transB, alpha and beta (K = 257, group 32)', async () => {
    for (const [alpha, beta] of [
      [1, 1],
      [0.5, 2],
      [1.5, 0],
    ] as const) {
      const { worst, q } = await compare(gemmModel(257, 16, 2, alpha, beta), { x: randomInput([2, 257], 8) }, [
        '--bits',
        '4',
        '--group-size',
        '32',
      ]);
      expect(worst, `alpha ${alpha} beta ${beta}`).toBeLessThanOrEqual(F32_EXACT);
      expect(opTypes(q)).not.toContain('Gemm');
    }
  });

  it('an If branch reading a quantized outer initializer: the model loads and matches for both branches', async () => {
    const model = ifModel(64, 8, 2);
    for (const c of [1, 0]) {
      const inputs = { x: randomInput([2, 64], 7), cond: makeTensor('bool', [1], new Uint8Array([c])) };
      const { worst, q } = await compare(model, inputs, ['--bits', '4', '--group-size', '32']);
      expect(worst, `cond ${c}`).toBeLessThanOrEqual(F32_EXACT);
      // every linear layer, the branches' too, was quantized (as lutc run --bits lowers them)
      expect(opTypes(q).filter((t) => t === 'MatMul')).toEqual([]);
    }
  });
});

describe('validation before the write', () => {
  it('checkOnnxStructure refuses a branch reading a name no scope defines, and a value defined twice', () => {
    const bad = new OnnxBuilder({ opset: 17 });
    const x = bad.input('x', 'f32', [1, 4]);
    const cond = bad.input('cond', 'bool', [1]);
    const t = bad.subgraph('then');
    t.node('MatMul', [x, 'gone.weight'], { outputs: ['t_out'] });
    t.output('t_out', 'f32', [1, 4]);
    const e = bad.subgraph('else');
    e.node('Identity', [x], { outputs: ['e_out'] });
    e.output('e_out', 'f32', [1, 4]);
    const [y] = bad.node('If', [cond], { attrs: { then_branch: t, else_branch: e } });
    bad.output(y!, 'f32', [1, 4]);
    expect(() => checkOnnxStructure(bad.toBytes())).toThrow(/LUT4035.*'gone\.weight'.*not defined/s);
    const twice = new OnnxBuilder({ opset: 17 });
    const a = twice.input('a', 'f32', [2]);
    twice.node('Relu', [a], { outputs: ['r'] });
    twice.node('Neg', [a], { outputs: ['r'] });
    twice.output('r', 'f32', [2]);
    expect(() => checkOnnxStructure(twice.toBytes())).toThrow(/LUT4035.*'r'.*defined twice/s);
    // the model the quantizer writes for the If case passes the same check (and loads in onnxruntime above)
    expect(() => checkOnnxStructure(quantizeOnnx(ifModel(32, 4, 1), { bits: 4, groupSize: 16 }))).not.toThrow();
  });

  it("validateQuantized runs lutc's importer on the written bytes: a model it refuses is LUT4035", () => {
    const b = new OnnxBuilder({ opset: 17 });
    const x = b.input('x', 'f32', [2, 3]);
    const [y] = b.node('MatMul', [x, b.initializer('w', randomInput([4, 5], 1))]);
    b.output(y!, 'f32', [2, 5]);
    let err: unknown;
    try {
      validateQuantized(b.toBytes(), path.join(work, 'never.onnx'));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(LutcError);
    const codes = (err as LutcError).diagnostics.map((d) => d.code);
    expect(codes[0]).toBe('LUT4035');
    expect(codes.length).toBeGreaterThan(1);
  });
});

describe('lutc quantize flags', () => {
  it('help lists every --bits value and the output flag the parser and the error name', async () => {
    const h = await lutc('quantize', '--help');
    expect(h.code).toBe(0);
    expect(h.stdout).toContain('--bits 1|1.58|2|3|4');
    expect(h.stdout).toContain('-o, --out FILE');
    const src = `${fresh('float')}.onnx`;
    fs.writeFileSync(src, linearModel(weights(32, 8, 1), 1));
    const r = await lutc('quantize', src, '--bits', '4');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--out');
    const long = `${fresh('q')}.onnx`;
    const ok = await lutc('quantize', src, '--bits', '1', '--out', long);
    expect(ok.code, ok.stderr).toBe(0);
    expect(fs.existsSync(long)).toBe(true);
  });

  it('a bad --bits is a coded usage error and writes nothing', async () => {
    const src = `${fresh('float')}.onnx`;
    fs.writeFileSync(src, linearModel(weights(32, 8, 1), 1));
    const out = `${fresh('q')}.onnx`;
    const r = await lutc('quantize', src, '--bits', '5', '-o', out);
    expect(r.code).not.toBe(0);
    expectCleanDiagnostics(r.stderr);
    expect(fs.existsSync(out)).toBe(false);
  });
});
