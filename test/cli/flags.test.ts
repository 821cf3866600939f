/**
 * Every flag does what --help says or is rejected, and every ignored request is a warning (through
 * `main()`): `--isa` changes model.c and `run --isa` for a path the host cannot run is LUT5163;
 * `--wasm-features` for whole models and `inspect` warns; `bench --threads` is a usage error; a `--dim`
 * symbol the model lacks gets the same warning from compile, run, inspect and bench; `--bits` /
 * `--group-size` on a layer that does not take them (f16 activations, MatMulNBits weights, a group
 * larger than K) is a warning naming the layer and why.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { OnnxBuilder } from '../../compiler/onnx/builder.js';
import { makeTensor } from '../../ir/tensor.js';
import { buildMatMulNBits } from '../helpers/models.js';
import { lutc, root, tmpDir } from './helpers.js';

const MLP = path.join(root, 'examples/mlp.onnx');
const work = tmpDir();
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));
let counter = 0;
const fresh = (name = 'd') => path.join(work, `${name}-${counter++}`);

/** x f16 [1, 64] -> MatMul (f16 weights) -> y: a layer the pipeline does not lower (f16 activations). */
function f16Model(dtype: 'f16' | 'f64' = 'f16'): string {
  const b = new OnnxBuilder({ opset: 17 });
  const x = b.input('x', dtype, [1, 64]);
  const w = b.initializer(
    'w',
    makeTensor(
      dtype,
      [64, 8],
      Array.from({ length: 64 * 8 }, (_, i) => ((i % 7) - 3) / 8),
    ),
  );
  const [y] = b.node('MatMul', [x, w], { outputs: ['y'], name: 'half_mm' });
  b.output(y!, dtype, [1, 8]);
  const f = path.join(work, `${dtype}.onnx`);
  fs.writeFileSync(f, b.toBytes());
  return f;
}

function nbitsModel(): string {
  const f = path.join(work, 'nbits.onnx');
  fs.writeFileSync(f, buildMatMulNBits({ k: 64, n: 16, bits: 4, blockSize: 32 }).bytes);
  return f;
}

describe('--isa', () => {
  it('changes model.c: neon and scalar artifacts differ in the pinned path', async () => {
    const srcs: string[] = [];
    for (const isa of ['neon', 'scalar']) {
      const dir = fresh('isa');
      const r = await lutc('compile', MLP, '--target', 'c', '--bits', '2', '--isa', isa, '-o', dir);
      expect(r.code, r.stderr).toBe(0);
      srcs.push(fs.readFileSync(path.join(dir, 'model.c'), 'utf8'));
    }
    expect(srcs[0]).toContain('/* forced: neon */');
    expect(srcs[1]).toContain('/* forced: scalar */');
    expect(srcs[0]).not.toBe(srcs[1]);
  });

  it('run --isa for a path this host cannot execute is LUT5163 naming the ISA and host, nothing written', async () => {
    const isa = process.arch === 'arm64' ? 'avx2' : 'neon';
    const out = fresh('run');
    const r = await lutc('run', MLP, '--target', 'c', '--bits', '2', '--isa', isa, '--out', out);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(
      new RegExp(`error LUT5163: --isa ${isa}: .*this host \\(${process.arch}\\), which cannot run the ${isa} path`),
    );
    expect(r.stderr).not.toContain('LUT5110');
    expect(fs.existsSync(out)).toBe(false);
  });

  it.runIf(process.arch === 'x64')('run --isa avx2 with flags lacking -mavx2 is LUT5163 with the prelude reason', async () => {
    const saved = process.env.LUTC_C_FLAGS;
    process.env.LUTC_C_FLAGS = '-O1';
    try {
      const r = await lutc('run', MLP, '--target', 'c', '--bits', '2', '--isa', 'avx2');
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toMatch(
        /error LUT5163: --isa avx2: the C compiler cannot build the avx2 path with -O1 on this host: lutc: AVX2 path needs -mavx2/,
      );
    } finally {
      if (saved === undefined) delete process.env.LUTC_C_FLAGS;
      else process.env.LUTC_C_FLAGS = saved;
    }
  });
});

describe('--wasm-features and --threads', () => {
  it('run --target wasm --wasm-features relaxed-simd where the engine lacks relaxed SIMD: warned, the SIMD128 module runs', async () => {
    // Node 20 validates relaxed ops only with --experimental-wasm-relaxed-simd (the CLI runs without it)
    const r = await lutc('run', MLP, '--target', 'wasm', '--wasm-features', 'relaxed-simd');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^warning: --wasm-features relaxed-simd: this engine does not run relaxed SIMD .*; ran the SIMD128 module/m);
  });

  it('inspect --target wasm --wasm-features relaxed-simd warns', async () => {
    const r = await lutc('inspect', MLP, '--target', 'wasm', '--wasm-features', 'relaxed-simd');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^warning: inspect: --wasm-features has no effect on 'inspect --target wasm'/m);
  });

  it('bench --threads: wasm reads it (the artifact on N workers); a target that does not is a usage error', async () => {
    const r = await lutc('bench', MLP, '--threads', '2', '--bits', '2');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/lutc wasm/);
    const bad = await lutc('run', MLP, '--target', 'ref', '--threads', '2');
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim()).toMatch(/^lutc: error LUT6003: run: --threads applies to --target wasm, c only, not ref$/);
  });
});

describe('--dim for a symbol the model lacks: the same warning everywhere', () => {
  const warning = "warning: --dim nosuch: the model's inputs have no dim 'nosuch' (ignored)";
  it('compile', async () => {
    const r = await lutc('compile', MLP, '--target', 'c', '--dim', 'nosuch=3', '-o', fresh('c'));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr.split('\n')).toContain(warning);
  });
  it('run', async () => {
    const r = await lutc('run', MLP, '--target', 'ref', '--dim', 'nosuch=3');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr.split('\n')).toContain(warning);
  });
  it('inspect', async () => {
    const r = await lutc('inspect', MLP, '--dim', 'nosuch=3');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr.split('\n')).toContain(warning);
  });
  it('a symbol the model has is not warned about', async () => {
    const r = await lutc('run', MLP, '--target', 'ref', '--dim', 'batch=2');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toContain('warning:');
  });
  it('bench', async () => {
    const r = await lutc('bench', MLP, '--dim', 'nosuch=3');
    expect(r.stderr.split('\n')).toContain(warning);
  }, 120_000);
});

describe('--bits / --group-size a layer does not take: a warning naming the layer and why', () => {
  it('f16 activations: lowered with --bits (through casts), no warning; f64 activations: not lowered, warned', async () => {
    const r = await lutc('inspect', f16Model(), '--bits', '2', '--json');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toContain('warning:');
    const layers = (JSON.parse(r.stdout) as { layers: { node: string; lowered: boolean; bits?: number }[] }).layers;
    expect(layers).toMatchObject([{ node: 'half_mm', lowered: true, bits: 2 }]);
    const r64 = await lutc('inspect', f16Model('f64'), '--bits', '2', '--json');
    expect(r64.code, r64.stderr).toBe(0);
    expect(r64.stderr).toMatch(
      /^warning: layer 'half_mm' \(matmul\) is not lowered, so --bits 2 does not apply: activations are f64; only f32, f16 and bf16 layers are lowered$/m,
    );
    const plain = await lutc('inspect', f16Model('f64'), '--json');
    expect(plain.stderr).not.toContain('warning:');
  });

  it('MatMulNBits weights keep their own bits: warned, and the artifact is the one without --bits', async () => {
    const model = nbitsModel();
    const a = fresh('nb');
    const b = fresh('nb');
    const ra = await lutc('compile', model, '--target', 'c', '-o', a);
    const rb = await lutc('compile', model, '--target', 'c', '--bits', '2', '--group-size', '16', '-o', b);
    expect(ra.code, ra.stderr).toBe(0);
    expect(rb.code, rb.stderr).toBe(0);
    expect(ra.stderr).not.toContain('warning:');
    expect(rb.stderr).toMatch(
      /^warning: layer '[^']+' \(matmul_nbits\): --bits 2 and --group-size 16 ignored: its weights are already quantized \(MatMulNBits bits=4 block_size=32\) and keep their own bits and group$/m,
    );
    expect(fs.readFileSync(path.join(b, 'model.c'), 'utf8')).toBe(fs.readFileSync(path.join(a, 'model.c'), 'utf8'));
  });

  it('--group-size larger than K: warned with the layer, K and the group used', async () => {
    const r = await lutc('run', MLP, '--target', 'ref', '--bits', '2', '--group-size', '256');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^warning: layer 'fc0' \(matmul\): --group-size 256 is larger than K = 64: one group of 64 per row is used$/m);
    const r2 = await lutc('inspect', MLP, '--bits', '2', '--json');
    expect(r2.stderr).not.toContain('warning:'); // the default group (128) is clamped silently
    const layers = JSON.parse((await lutc('inspect', MLP, '--bits', '2', '--group-size', '256', '--json')).stdout).layers;
    expect(layers[0]).toMatchObject({ node: 'fc0', k: 64, groupSize: 64 });
    expect(layers[0].warning).toMatch(/--group-size 256 is larger than K = 64/);
  });
});
