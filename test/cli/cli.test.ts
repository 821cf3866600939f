/**
 * The CLI contract (docs/cli.md), run in-process through `main()`: inputs by name and position,
 * outputs.json, exit codes 0/1/2, --help of every command, coded diagnostics without stack traces,
 * and no files in --out when anything fails.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import '../../ir/ops/index.js';
import { main } from '../../compiler/cli.js';
import { readNpyFile, writeNpyFile } from '../../compiler/npy.js';
import { OnnxBuilder } from '../../compiler/onnx/builder.js';
import { importOnnx } from '../../compiler/onnx/index.js';
import { interpret, progressReporter } from '../../ir/interpret.js';
import { printGraph } from '../../ir/printer.js';
import { makeTensor } from '../../ir/tensor.js';
import { buildMlp, randomInput } from '../helpers/models.js';
import { maxAbsDiff, runOrt } from '../helpers/ort.js';
import { F32_EXACT } from '../helpers/tolerance.js';
import { BAD_MODELS, expectCleanDiagnostics, lutc, root, tmpDir } from './helpers.js';

const MLP = path.join(root, 'examples/mlp.onnx');
const work = tmpDir();
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));
let counter = 0;
const fresh = (name = 'd') => path.join(work, `${name}-${counter++}`);

/** A model with two inputs (one named with '=' and '/'), and outputs whose names need sanitizing. */
function twoInputModel(): string {
  const b = new OnnxBuilder({ opset: 17 });
  const a = b.input('a=b', 'f32', ['n', 3]);
  const c = b.input('c', 'f32', [1, 3]);
  const [s] = b.node('Add', [a, c], { outputs: ['sum/0:x'] });
  const [p] = b.node('Mul', [a, c], { outputs: ['prod'] });
  b.output(s!, 'f32', ['n', 3]);
  b.output(p!, 'f32', ['n', 3]);
  const f = path.join(work, 'two.onnx');
  fs.writeFileSync(f, b.toBytes());
  return f;
}

describe('help and version', () => {
  for (const cmd of ['run', 'inspect', 'compile', 'kernel', 'quantize', 'bench', 'generate']) {
    it(`${cmd} --help`, async () => {
      const r = await lutc(cmd, '--help');
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^usage: lutc ${cmd} `));
      expect(r.stderr).toBe('');
    });
  }
  it('lutc --help lists every command', async () => {
    const r = await lutc('--help');
    expect(r.code).toBe(0);
    for (const cmd of ['run', 'inspect', 'compile', 'kernel', 'quantize', 'bench', 'generate']) expect(r.stdout).toContain(`  ${cmd} `);
  });
  it('lutc --version prints package.json version', async () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string };
    expect((await lutc('--version')).stdout.trim()).toBe(pkg.version);
  });
  it('no command is a usage error (exit 2) that still prints help', async () => {
    const r = await lutc();
    expect(r.code).toBe(2);
    expect(r.stdout).toContain('usage: lutc');
  });
});

describe('usage errors exit 2 with a code', () => {
  const cases: [string, string[], string][] = [
    ['unknown command', ['frobnicate'], 'LUT6000'],
    ['unknown flag', ['run', MLP, '--target', 'ref', '--frob'], 'LUT6001'],
    ['unknown global flag', ['--frob'], 'LUT6001'],
    ['missing model', ['run', '--target', 'ref'], 'LUT6002'],
    ['missing --target', ['run', MLP], 'LUT6002'],
    ['--target foo', ['run', MLP, '--target', 'foo'], 'LUT6003'],
    ['compile --target ref', ['compile', MLP, '--target', 'ref'], 'LUT6003'],
    ['--bits 5', ['run', MLP, '--target', 'ref', '--bits', '5'], 'LUT6003'],
    ['--group-size abc', ['compile', MLP, '--target', 'c', '--group-size', 'abc'], 'LUT6003'],
    ['--tables f16', ['compile', MLP, '--target', 'c', '--tables', 'f16'], 'LUT6003'],
    ['--shape without =', ['run', MLP, '--target', 'ref', '--shape', 'x'], 'LUT6003'],
    ['--shape bad dim', ['run', MLP, '--target', 'ref', '--shape', 'x=2,b'], 'LUT6003'],
    ['extra argument', ['inspect', MLP, 'extra.onnx'], 'LUT6004'],
    ['kernel without --n', ['kernel', '--k', '64', '--bits', '2', '--target', 'c'], 'LUT6002'],
    ['kernel --isa on wasm', ['kernel', '--n', '8', '--k', '64', '--bits', '2', '--target', 'wasm', '--isa', 'avx2'], 'LUT6003'],
    ['quantize without -o', ['quantize', MLP, '--bits', '4'], 'LUT6002'],
  ];
  for (const [name, argv, code] of cases) {
    it(name, async () => {
      const out = fresh();
      const r = await lutc(...argv, ...(argv[0] === 'run' ? ['--out', out] : []));
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(new RegExp(`^lutc: error ${code}: `));
      expect(fs.existsSync(out)).toBe(false);
    });
  }
});

describe('run', () => {
  it('named input, outputs.json, and values equal the interpreter', async () => {
    const x = randomInput([3, 64], 7);
    const xf = path.join(work, 'x.npy');
    writeNpyFile(xf, x);
    const out = fresh('out');
    const r = await lutc('run', MLP, '--target', 'ref', '--input', `x=${xf}`, '--out', out);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^run: \d+\.\d+ (us|ms) \(target ref\)\n$/); // every input given: no notes, only the run time
    const listing = JSON.parse(fs.readFileSync(path.join(out, 'outputs.json'), 'utf8'));
    expect(listing).toEqual([{ name: 'y', file: 'y.npy', shape: [3, 10], dtype: 'f32' }]);
    const y = readNpyFile(path.join(out, 'y.npy'));
    const want = interpret(importOnnx(fs.readFileSync(MLP), { inputShapes: { x: [3, 64] } }), { x })[0]!;
    expect(Array.from(y.data)).toEqual(Array.from(want.data));
    // and onnxruntime agrees within F32_EXACT (test/helpers/tolerance.ts; measured 5.1e-7 here)
    const ref = (await runOrt(MLP, { x }))[0]!;
    const { diff, scale } = maxAbsDiff(y, ref);
    expect(diff).toBeLessThanOrEqual(F32_EXACT * scale);
  });

  it('positional inputs fill graph inputs in order after named ones; names split at the last =', async () => {
    const model = twoInputModel();
    const a = makeTensor('f32', [2, 3], [1, 2, 3, 4, 5, 6]);
    const c = makeTensor('f32', [1, 3], [10, 20, 30]);
    const af = path.join(work, 'a.npy');
    const cf = path.join(work, 'c.npy');
    writeNpyFile(af, a);
    writeNpyFile(cf, c);
    for (const args of [
      [af, cf],
      [`a=b=${af}`, cf],
      [`c=${cf}`, af],
    ]) {
      const out = fresh('out');
      const r = await lutc('run', model, '--target', 'ref', ...args.flatMap((s) => ['--input', s]), '--out', out);
      expect(r.code, r.stderr).toBe(0);
      const listing = JSON.parse(fs.readFileSync(path.join(out, 'outputs.json'), 'utf8'));
      expect(listing).toEqual([
        { name: 'sum/0:x', file: 'sum_0_x.npy', shape: [2, 3], dtype: 'f32' },
        { name: 'prod', file: 'prod.npy', shape: [2, 3], dtype: 'f32' },
      ]);
      expect(Array.from(readNpyFile(path.join(out, 'sum_0_x.npy')).data)).toEqual([11, 22, 33, 14, 25, 36]);
      expect(Array.from(readNpyFile(path.join(out, 'prod.npy')).data)).toEqual([10, 40, 90, 40, 100, 180]);
    }
  });

  it('missing inputs are seeded random, deterministic per seed, with a note', async () => {
    const runs = [];
    for (const seed of ['3', '3', '4']) {
      const out = fresh('out');
      const r = await lutc('run', MLP, '--target', 'ref', '--shape', 'x=2,64', '--seed', seed, '--out', out);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/note: input 'x' not given: using seeded random f32 \[2, 64\] \(seed \d\)/);
      runs.push(Array.from(readNpyFile(path.join(out, 'y.npy')).data));
    }
    expect(runs[0]).toEqual(runs[1]);
    expect(runs[0]).not.toEqual(runs[2]);
  });

  it('without --out prints a summary on stdout', async () => {
    const r = await lutc('run', MLP, '--target', 'ref');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^y: f32 \[1, 10\] = \[/);
    expect(r.stderr).toContain("symbolic dim 'batch'");
  });

  it('input .npy shapes bind symbolic dims (Llama block, seq 3)', async () => {
    const xf = path.join(work, 'lx.npy');
    writeNpyFile(xf, randomInput([1, 3, 64], 8));
    const out = fresh('out');
    const r = await lutc('run', path.join(root, 'examples/llama-block.onnx'), '--target', 'ref', '--input', xf, '--out', out);
    expect(r.code, r.stderr).toBe(0);
    expect(readNpyFile(path.join(out, 'y.npy')).shape).toEqual([1, 3, 64]);
  });

  const inputErrors: [string, () => string[], string][] = [
    ['unknown input name', () => ['--input', `nope=${path.join(work, 'x.npy')}`], 'LUT6005'],
    ['too many positional inputs', () => ['--input', path.join(work, 'x.npy'), '--input', path.join(work, 'x.npy')], 'LUT6005'],
    ['wrong shape', () => ['--input', path.join(work, 'bad-shape.npy')], 'LUT6008'],
    ['wrong dtype', () => ['--input', path.join(work, 'bad-dtype.npy')], 'LUT6007'],
    ['missing .npy', () => ['--input', path.join(work, 'missing.npy')], 'LUT6026'],
    ['malformed .npy', () => ['--input', path.join(work, 'garbage.npy')], 'LUT6020'],
  ];
  for (const [name, args, code] of inputErrors) {
    it(`${name}: exit 1, ${code}, nothing written`, async () => {
      writeNpyFile(path.join(work, 'x.npy'), randomInput([1, 64], 1));
      writeNpyFile(path.join(work, 'bad-shape.npy'), randomInput([1, 63], 1));
      writeNpyFile(path.join(work, 'bad-dtype.npy'), makeTensor('bool', [1, 64]));
      fs.writeFileSync(path.join(work, 'garbage.npy'), 'not numpy');
      const out = fresh('out');
      const r = await lutc('run', MLP, '--target', 'ref', ...args(), '--out', out);
      expect(r.code, r.stderr).toBe(1);
      expectCleanDiagnostics(r.stderr);
      expect(r.stderr).toContain(`error ${code}: `);
      expect(fs.existsSync(out)).toBe(false);
    });
  }

  it('an f64 .npy input for an f32 model is converted with a note', async () => {
    const xf = path.join(work, 'x64.npy');
    writeNpyFile(xf, makeTensor('f64', [1, 64], randomInput([1, 64], 2).data));
    const r = await lutc('run', MLP, '--target', 'ref', '--input', xf);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain("note: input 'x': converted f64 to f32");
  });
});

describe('bad model files: exit 1, coded diagnostic, no stack, nothing written', () => {
  for (const [name, make] of Object.entries(BAD_MODELS)) {
    for (const cmd of ['run', 'inspect', 'compile']) {
      it(`${cmd}: ${name}`, async () => {
        const dir = fresh('bad');
        fs.mkdirSync(dir);
        const model = make(dir);
        const out = path.join(dir, 'out');
        const argv =
          cmd === 'run'
            ? ['run', model, '--target', 'ref', '--out', out]
            : cmd === 'compile'
              ? ['compile', model, '--target', 'c', '-o', out]
              : ['inspect', model];
        const r = await lutc(...argv);
        expect(r.code, r.stderr).toBe(1);
        expectCleanDiagnostics(r.stderr);
        expect(r.stderr.startsWith(model), r.stderr).toBe(true); // diagnostics name the file
        expect(fs.existsSync(out)).toBe(false);
      });
    }
  }
  it('a missing model file', async () => {
    const r = await lutc('inspect', path.join(work, 'does-not-exist.onnx'));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/does-not-exist\.onnx: error LUT6006: /);
  });
});

describe('inspect', () => {
  it('shows the passes at work on a Llama-style block: Q/K/V share one table build fused into the RMSNorm, and the memory plan', async () => {
    const r = await lutc('inspect', path.join(root, 'examples/llama-block.onnx'), '--bits', '2', '--shape', 'x=1,8,64', '--json');
    expect(r.code, r.stderr).toBe(0);
    const rep = JSON.parse(r.stdout);
    const qkv = rep.lut.tables.find((t: { consumers: string[] }) => t.consumers.some((c) => c.startsWith('q_proj')));
    expect(qkv.fusedNorm).toBe('rms');
    expect(qkv.consumers.map((c: string) => c.split('.')[0]).sort()).toEqual(['k_proj', 'q_proj', 'v_proj']);
    const gate = rep.lut.kernels.find((k: { node: string }) => k.node.startsWith('gate_proj'));
    expect(gate.epilogue).toContain('silu');
    expect(rep.memory.peakBytes).toBeGreaterThan(0);
    expect(rep.memory.peakBytes).toBeLessThan(rep.memory.unplannedBytes);
  });
  it('--json facts of the MLP', async () => {
    const r = await lutc('inspect', MLP, '--json');
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.format).toBe('onnx');
    expect(j.inputs).toEqual([{ name: 'x', dtype: 'f32', shape: ['batch', 64] }]);
    expect(j.outputs).toEqual([{ name: 'y', dtype: 'f32', shape: ['batch', 10] }]);
    expect(j.ops.matmul).toBe(3);
    // 64x128 + 128 + 128x128 + 128 + 128x10 + 10 float32 parameters
    expect(j.parameters).toEqual({ count: 26122, bytes: 26122 * 4 });
    expect(Array.isArray(j.layers)).toBe(true);
  });
  it('text summary, with --bits decisions when the pipeline reports them', async () => {
    const r = await lutc('inspect', MLP, '--bits', '2', '--group-size', '32');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('parameters: 26,122');
    expect(r.stdout).toMatch(/linear layers: /);
  });
  it('a .lut file is parsed, verified and summarized; a broken one is a coded error', async () => {
    const g = importOnnx(fs.readFileSync(MLP), { inputShapes: { x: [2, 64] } });
    const lut = path.join(work, 'mlp.lut');
    fs.writeFileSync(lut, printGraph(g));
    const r = await lutc('inspect', lut, '--json');
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).format).toBe('lut');
    const bad = path.join(work, 'bad.lut');
    fs.writeFileSync(bad, 'graph @g( { this is not IR');
    const rb = await lutc('inspect', bad);
    expect(rb.code).toBe(1);
    expectCleanDiagnostics(rb.stderr);
    expect(rb.stderr).toMatch(/bad\.lut:\d+:\d+: error LUT2\d{3}: /);
  });
});

describe('compile, kernel, quantize, bench', () => {
  it('compile writes an artifact', async () => {
    const out = fresh('c');
    const r = await lutc('compile', MLP, '--target', 'c', '-o', out);
    expect(r.code, r.stderr).toBe(0);
    expect(fs.readdirSync(out).length).toBeGreaterThan(0);
  });
  it('compile --print-ir-after all prints IR on stdout; an unknown pass is a coded error', async () => {
    const r = await lutc('compile', MLP, '--target', 'wasm', '-o', fresh('w'), '--print-ir-after', 'all');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('// ----- IR after ');
    const bad = await lutc('compile', MLP, '--target', 'wasm', '-o', fresh('w'), '--print-ir-after', 'no-such-pass');
    expect(bad.code).toBe(1);
    expectCleanDiagnostics(bad.stderr);
  });
  it('kernel writes the kernel files and lists them on stdout', async () => {
    const out = fresh('k');
    const r = await lutc('kernel', '--n', '16', '--k', '64', '--bits', '2', '--target', 'c', '-o', out);
    expect(r.code, r.stderr).toBe(0);
    expect(fs.readdirSync(out).sort()).toEqual(['kernel.c', 'kernel.h']);
    expect(r.stdout.trim().split('\n').sort()).toEqual([path.join(out, 'kernel.c'), path.join(out, 'kernel.h')]);
  });
  it('quantize writes a model that lutc and onnxruntime run alike', async () => {
    const src = path.join(work, 'mlp32.onnx');
    fs.writeFileSync(src, buildMlp({ dims: [64, 32, 8], seed: 5 }));
    const q = path.join(work, 'mlp-q4.onnx');
    const r = await lutc('quantize', src, '--bits', '4', '--group-size', '32', '-o', q);
    expect(r.code, r.stderr).toBe(0);
    const x = randomInput([2, 64], 9);
    const ours = interpret(importOnnx(fs.readFileSync(q), { inputShapes: { x: [2, 64] } }), { x })[0]!;
    const ref = (await runOrt(q, { x }))[0]!;
    const { diff, scale } = maxAbsDiff(ours, ref);
    expect(diff).toBeLessThanOrEqual(F32_EXACT * scale); // measured 1.9e-7
  });
  it('quantize of a broken model is a coded error and writes nothing', async () => {
    const dir = fresh('bad');
    fs.mkdirSync(dir);
    const out = path.join(dir, 'q.onnx');
    const r = await lutc('quantize', BAD_MODELS.truncated!(dir), '--bits', '4', '-o', out);
    expect(r.code).toBe(1);
    expectCleanDiagnostics(r.stderr);
    expect(fs.existsSync(out)).toBe(false);
  });
  it('bench says what can be benchmarked (LUT6011 when nothing)', async () => {
    // wasm provides benchModel (backends/wasm/bench.ts): a report with both sides checked, exit 0
    const r = await lutc('bench', MLP);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^ {2}lutc wasm /m);
    expect(r.stdout).toMatch(/onnxruntime-web wasm \(the model file\).*max-abs \d\.\de[-+]\d+, rel-L2 vs lutc .* <= 0.001: ok/);
    expect(r.stdout).not.toContain('FAIL');
    // a MatMulNBits file as given (no --bits) runs on int8 tables: held to their tolerance, not float rounding's
    const q4 = `${fresh('bench-q4')}.onnx`;
    expect((await lutc('quantize', MLP, '--bits', '4', '-o', q4)).code).toBe(0);
    const q = await lutc('bench', q4, '--target', 'c', '-q');
    expect(q.code, q.stderr).toBe(0);
    expect(q.stderr).toBe('');
    expect(q.stdout).toMatch(/lutc c \(its quantized layers, --tables i8\)/);
    expect(q.stdout).toMatch(/onnxruntime-node \(the model file\) .*rel-L2 vs lutc .* <= 0.05: ok/);
    // c provides benchModel too (backends/c/bench.ts): the harness against onnxruntime-node, accuracy beside the speed
    const c = await lutc('bench', MLP, '--target', 'c', '--bits', '2');
    expect(c.code, c.stderr).toBe(0);
    expect(c.stdout).toMatch(/^ {2}lutc c +[\d.e+-]+ ms$/m);
    expect(c.stdout).toMatch(/onnxruntime-node \(float model\) .*lutc is [\d.]+x faster; max-abs .*\(other weights: not checked\)/);
    expect(c.stdout).toMatch(/onnxruntime-node \(MatMulNBits\) .*lutc is [\d.]+x faster; max-abs .*rel-L2 vs lutc .* <= 0.05: ok/);
    // wgsl can run models but has no benchModel: LUT6011, saying so
    const w = await lutc('bench', MLP, '--target', 'wgsl');
    expect(w.code).toBe(1);
    expectCleanDiagnostics(w.stderr);
    expect(w.stderr).toContain(
      "lutc: error LUT6011: lutc bench cannot measure wgsl: only wasm and c have a model benchmark against onnxruntime ('lutc run --target wgsl' runs the model)",
    );
    expect(w.stdout).toBe('');
  });
});

describe('progress on stderr', () => {
  it('silent for the first second, then at most one line per 0.5 s', () => {
    const lines: string[] = [];
    let now = 1_000_000;
    const spy = vi.spyOn(Date, 'now').mockImplementation(() => now);
    try {
      const report = progressReporter((m) => lines.push(m));
      const node = { op: 'matmul', name: 'fc0', inputs: [], outputs: [], attrs: {} };
      for (let i = 0; i < 40; i++) {
        now += 100; // 100 ms per node: 4 s in all
        report(node, i, 40);
      }
    } finally {
      spy.mockRestore();
    }
    // first report at t = 1.0 s (node 10), then every 0.5 s up to 4.0 s: nodes 10, 15, ..., 40
    expect(lines.length).toBe(7);
    expect(lines[0]).toBe("[10/40] matmul 'fc0' (1.0 s)");
  });
});

describe('internal errors', () => {
  it('an unexpected exception exits 70 with "internal error" and its stack', async () => {
    let stderr = '';
    // A stdout that throws stands in for any bug: main must not let it escape or call it a user error.
    const code = await main(['--version'], {
      out: () => {
        throw new TypeError('boom');
      },
      err: (s) => void (stderr += s),
      write: () => {},
    });
    expect(code).toBe(70);
    expect(stderr).toContain('lutc: internal error: TypeError: boom');
    expect(stderr).toMatch(/\n\s+at /);
  });
});
