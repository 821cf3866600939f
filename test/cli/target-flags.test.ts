/**
 * Target-specific flags against each target's options schema (backends/target.ts), through `main()`:
 * a flag for another target is a usage error (exit 2, LUT6003, naming the flag and the targets it
 * applies to, nothing written) in compile, run, bench, inspect and kernel; a flag the target reads
 * but that does nothing for the command is a warning on stderr and the result is unchanged; and
 * `--isa` does reach whole-model C.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readNpyFile } from '../../compiler/npy.js';
import { lutc, root, tmpDir } from './helpers.js';

const MLP = path.join(root, 'examples/mlp.onnx');
const work = tmpDir();
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));
let counter = 0;
const fresh = (name = 'd') => path.join(work, `${name}-${counter++}`);

describe('a flag for another target is a usage error', () => {
  const cases: [string[], RegExp][] = [
    [['compile', MLP, '--target', 'wasm', '--isa', 'avx2'], /compile: --isa applies to --target c only, not wasm$/],
    [
      ['compile', MLP, '--target', 'c', '--wasm-features', 'relaxed-simd'],
      /compile: --wasm-features applies to --target wasm only, not c$/,
    ],
    [['compile', MLP, '--target', 'wgsl', '--threads', '2'], /compile: --threads applies to --target wasm, c only, not wgsl$/],
    [['compile', MLP, '--target', 'wasm', '--embed-weights'], /compile: --embed-weights applies to --target c only, not wasm$/],
    [
      ['compile', MLP, '--target', 'wgsl', '--embed-weights', '--isa', 'neon'],
      /--embed-weights applies to --target c only, not wgsl; --isa applies/,
    ],
    [['run', MLP, '--target', 'ref', '--threads', '2'], /run: --threads applies to --target wasm, c only, not ref$/],
    [['run', MLP, '--target', 'wgsl', '--isa', 'scalar'], /run: --isa applies to --target c only, not wgsl$/],
    [['bench', MLP, '--target', 'wasm', '--isa', 'avx2'], /bench: --isa applies to --target c only, not wasm$/],
    [['inspect', MLP, '--threads', '2'], /inspect: --threads applies to --target wasm, c only, not ref$/],
    [['inspect', MLP, '--target', 'wasm', '--embed-weights'], /inspect: --embed-weights applies to --target c only, not wasm$/],
    [
      ['kernel', '--n', '8', '--k', '64', '--bits', '2', '--target', 'c', '--relaxed-simd'],
      /kernel: --relaxed-simd applies to --target wasm only, not c$/,
    ],
    [
      ['kernel', '--n', '8', '--k', '64', '--bits', '2', '--target', 'wgsl', '--isa', 'avx2'],
      /kernel: --isa applies to --target c only, not wgsl$/,
    ],
  ];
  for (const [argv, msg] of cases) {
    it(argv.filter((a) => a !== MLP).join(' '), async () => {
      const out = fresh();
      const outFlag = { run: ['--out', out], compile: ['-o', out], kernel: ['-o', out] }[argv[0] as 'run'] ?? [];
      const r = await lutc(...argv, ...outFlag);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(/^lutc: error LUT6003: /);
      expect(r.stderr.trim()).toMatch(msg);
      expect(fs.existsSync(out)).toBe(false);
    });
  }
});

describe('a flag the target reads but that does nothing here is a warning', () => {
  it('compile --target c --threads: no warning; it bakes the default thread count (MODEL_THREADS)', async () => {
    const a = fresh('c');
    const b = fresh('c');
    const ra = await lutc('compile', MLP, '--target', 'c', '--bits', '2', '-o', a);
    const rb = await lutc('compile', MLP, '--target', 'c', '--bits', '2', '--threads', '4', '-o', b);
    expect(ra.code, ra.stderr).toBe(0);
    expect(rb.code, rb.stderr).toBe(0);
    expect(ra.stderr).not.toContain('warning:');
    expect(rb.stderr).not.toContain('warning:');
    expect(fs.readFileSync(path.join(b, 'model.h'), 'utf8')).toMatch(/^#define MODEL_THREADS 4$/m);
    expect(fs.readFileSync(path.join(a, 'model.h'), 'utf8')).toMatch(/^#define MODEL_THREADS 1$/m);
  });

  it('compile --target wasm --wasm-features relaxed-simd: no warning; the artifact gains model-relaxed.wasm', async () => {
    const out = fresh('w');
    const r = await lutc('compile', MLP, '--target', 'wasm', '--wasm-features', 'relaxed-simd', '-o', out);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toContain('warning:');
    expect(fs.existsSync(path.join(out, 'model-relaxed.wasm'))).toBe(true);
    expect(fs.existsSync(path.join(out, 'model.wasm'))).toBe(true);
  });

  it('inspect --target c --isa: warned, same report', async () => {
    const plain = await lutc('inspect', MLP, '--target', 'c', '--json');
    const r = await lutc('inspect', MLP, '--target', 'c', '--isa', 'avx2', '--json');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^warning: inspect: --isa has no effect on 'inspect --target c'/m);
    expect(r.stdout).toBe(plain.stdout);
  });
});

describe('--isa reaches whole-model C', () => {
  it('compile pins every LUT kernel to the ISA; run --isa scalar computes what the default build does', async () => {
    const dir = fresh('isa');
    const r = await lutc('compile', MLP, '--target', 'c', '--bits', '2', '--isa', 'scalar', '-o', dir);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toContain('warning:');
    const src = fs.readFileSync(path.join(dir, 'model.c'), 'utf8');
    expect(src).toContain('#define LUTC_ISA 0 /* forced: scalar */');
    const plain = fresh('isa');
    await lutc('compile', MLP, '--target', 'c', '--bits', '2', '-o', plain);
    expect(fs.readFileSync(path.join(plain, 'model.c'), 'utf8')).not.toContain('forced:');

    const outs: Float32Array[] = [];
    for (const extra of [[], ['--isa', 'scalar']]) {
      const out = fresh('run');
      const rr = await lutc('run', MLP, '--target', 'c', '--bits', '2', '--shape', 'x=2,64', '--seed', '3', '--out', out, ...extra);
      expect(rr.code, rr.stderr).toBe(0);
      outs.push(readNpyFile(path.join(out, 'y.npy')).data as Float32Array);
    }
    const [a, b] = outs as [Float32Array, Float32Array];
    const scale = Math.max(...Array.from(a, Math.abs));
    for (let i = 0; i < a.length; i++) expect(Math.abs(a[i]! - b[i]!)).toBeLessThanOrEqual(1e-5 * scale);
  });
});
