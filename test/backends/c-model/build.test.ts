/**
 * The C artifact as files: clean under -Wall -Wextra -Werror (with and without OpenMP, embedded and
 * side-file weights), clean under AddressSanitizer + UndefinedBehaviorSanitizer on odd shapes, the
 * generated Makefile from a fresh folder holding only the emitted files, the weights hash check,
 * diagnostics before any file is written, and the CLI's `compile` / `run --target c`. LUT outputs are
 * held to the interpreter within LUT_VS_INTERP · max|y|, float outputs within F32_EXACT · max|ref|
 * (test/helpers/tolerance.ts; lut.test.ts states why, and where they are exact).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileModel } from '../../../backends/c/compile.js';
import { emitModel } from '../../../backends/c/model/emit.js';
import { buildModelBinary, parseHarnessTime } from '../../../backends/c/run.js';
import { STRICT_FLAGS } from '../../../backends/c/toolchain.js';
import { LutcError } from '../../../base/diagnostics.js';
import { captureIO } from '../../../compiler/cli/io.js';
import { main } from '../../../compiler/cli.js';
import { readNpyFile, writeNpyFile } from '../../../compiler/npy.js';
import { runPipeline } from '../../../compiler/pipeline.js';
import { GraphBuilder } from '../../../ir/graph.js';
import { parseGraph } from '../../../ir/parser.js';
import { makeTensor } from '../../../ir/tensor.js';
import type { Graph, Value } from '../../../ir/types.js';
import { COMPILED_DECODERS, lowerDecoder } from '../../helpers/compiled-decoders.js';
import { buildMlp, randomInput } from '../../helpers/models.js';
import { lowerCase, RUNTIME_DIMS_CASES } from '../../helpers/runtime-dims.js';
import { F32_EXACT, LUT_VS_INTERP } from '../../helpers/tolerance.js';
import { buildOpsModel, lowered, opsInputs, relMax, runC, runRef } from './helpers.js';

const tmp = (p: string) => fs.mkdtempSync(path.join(tmpdir(), `lutc-cmodel-${p}-`));
const oddLut = () => lowered(buildMlp({ dims: [45, 37, 19], batch: 3, seed: 8 }), { bits: 3, groupSize: 16 });

describe('c model: build hygiene', () => {
  it('compiles with -Wall -Wextra -Werror (ops model, LUT model; OpenMP; side-file weights)', () => {
    const graphs = [
      lowered(buildOpsModel()),
      oddLut(),
      lowered(fs.readFileSync('examples/llama-block.onnx'), { bits: 4 }, { seq: 4, batch: 1 }),
      // runtime dims (--max-dim): the dim prologue, D-indexed loops and the harness's shape handling
      ...RUNTIME_DIMS_CASES.map((c) => lowerCase(c, 'c')),
      // a decoder: the harness's generate mode too
      ...COMPILED_DECODERS.map((c) => lowerDecoder(c.model(), 'c')),
    ];
    for (const g of graphs)
      for (const omp of [false, true]) {
        const e = emitModel(g, { target: 'c', embedWeights: omp });
        expect(() => buildModelBinary(e.files, [...STRICT_FLAGS, '-O1', '-march=native', ...(omp ? ['-fopenmp'] : [])])).not.toThrow();
      }
  });

  it('runs clean under -fsanitize=address,undefined on odd shapes', async () => {
    const san = ['-O1', '-g', '-fno-omit-frame-pointer', '-fsanitize=address,undefined', '-fno-sanitize-recover=all'];
    const g = oddLut();
    const ins = { x: randomInput([3, 45], 21) };
    const got = await runC(g, ins, { cflags: san, embedWeights: false });
    expect(relMax(got[0]!, runRef(g, ins)[0]!)).toBeLessThanOrEqual(LUT_VS_INTERP); // LUT layers: lut.test.ts
    const ops = lowered(buildOpsModel());
    const oi = opsInputs(5);
    const og = await runC(ops, oi, { cflags: san });
    const ref = runRef(ops, oi);
    expect(og.length).toBe(ref.length);
    og.forEach((t, i) => expect(relMax(t, ref[i]!), ops.outputs[i]!.name).toBeLessThanOrEqual(F32_EXACT));
  });

  it('builds with the generated Makefile from a fresh folder and runs the harness', async () => {
    const g = oddLut();
    const dir = tmp('make');
    const { files } = await compileModel(g, { target: 'c', embedWeights: false } as never, dir);
    expect(files.map((f) => path.basename(f)).sort()).toEqual(['Makefile', 'main.c', 'model.c', 'model.h', 'weights.bin']);
    expect(fs.readdirSync(dir).sort()).toEqual(['Makefile', 'main.c', 'model.c', 'model.h', 'weights.bin']);
    execFileSync('make', ['-C', dir, 'CFLAGS=-O1'], { stdio: 'pipe' });
    const x = randomInput([3, 45], 22);
    writeNpyFile(path.join(dir, 'x.npy'), x);
    const out = path.join(dir, 'out');
    fs.mkdirSync(out);
    execFileSync(path.join(dir, 'model'), ['-o', out, `x=${path.join(dir, 'x.npy')}`], { stdio: 'pipe' });
    const list = JSON.parse(fs.readFileSync(path.join(out, 'outputs.json'), 'utf8')) as {
      name: string;
      file: string;
      shape: number[];
      dtype: string;
    }[];
    expect(list).toEqual([{ name: 'y', file: 'y.npy', shape: [3, 19], dtype: 'f32' }]);
    expect(relMax(readNpyFile(path.join(out, 'y.npy')), runRef(g, { x })[0]!)).toBeLessThanOrEqual(LUT_VS_INTERP);
    // -r N prints the wall time per run, in µs below 1 ms (never "0.000 ms"), which lutc run parses.
    const timed = spawnSync(path.join(dir, 'model'), ['-o', out, '-r', '20', `x=${path.join(dir, 'x.npy')}`], { encoding: 'utf8' });
    expect(timed.status, timed.stderr).toBe(0);
    expect(timed.stderr).toMatch(/^model: \d+\.\d\d us per run \(wall time, 20 runs\)$/m);
    const ms = parseHarnessTime(timed.stderr)!;
    expect(ms).toBeGreaterThan(0);
    expect(ms).toBeLessThan(1);
    expect(ms * 1000).toBeCloseTo(Number(/model: ([\d.]+) us/.exec(timed.stderr)![1]), 6);
    expect(parseHarnessTime('model: 1.234 ms per run (wall time, 3 runs)\n')).toBe(1.234);
    expect(parseHarnessTime('')).toBeUndefined();
    // A weights.bin from another model is refused (hash), not silently used.
    const w = fs.readFileSync(path.join(dir, 'weights.bin'));
    w[100] = w[100]! ^ 1;
    fs.writeFileSync(path.join(dir, 'weights.bin'), w);
    const r = spawnSync(path.join(dir, 'model'), ['-o', out, path.join(dir, 'x.npy')], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/hash/);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('diagnoses an unsupported op (LUT5003, naming the node) before writing any file', async () => {
    const g = oddLut();
    const b = new GraphBuilder(g);
    const n = b.node('constant', [], { value: makeTensor('f32', [2], [1, 2]) }, [{ dtype: 'f32', shape: [2] }], { name: 'odd_const' });
    g.outputs.push(n.outputs[0]!);
    const dir = path.join(tmp('diag'), 'out');
    let err: unknown;
    try {
      await compileModel(g, { target: 'c' }, dir);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(LutcError);
    const d = (err as LutcError).diagnostics[0]!;
    expect(d.code).toBe('LUT5003');
    expect(d.loc).toMatchObject({ kind: 'node', node: 'odd_const' });
    expect(fs.existsSync(dir)).toBe(false);
  });
});

describe('c model: LUT form diagnostics', () => {
  const codes = (g: Graph): string[] => {
    try {
      emitModel(g, { target: 'c' });
    } catch (e) {
      if (e instanceof LutcError) return e.diagnostics.map((d) => d.code);
      throw e;
    }
    return [];
  };

  it('the graph LUT form (lut.table + lut.matmul: the ref pipeline, 16-byte vectors) runs as scalar C', async () => {
    const g = lowered(buildMlp({ dims: [45, 19], batch: 3, seed: 8 }), { bits: 3, groupSize: 16, target: 'ref' });
    expect(g.nodes.filter((n) => n.op.startsWith('lut.')).map((n) => n.op)).toEqual(['lut.table', 'lut.matmul']);
    expect(codes(g)).toEqual([]);
    const x = randomInput([3, 45], 23);
    expect(relMax((await runC(g, { x }))[0]!, runRef(g, { x })[0]!)).toBeLessThanOrEqual(LUT_VS_INTERP);
  });

  it('a lut.pack with run-time operands has no C kernel (bitplane-layout folds only constants): LUT5003', () => {
    const g = parseGraph(`graph @rt(%x: f32[2, 16], %q: u8[4, 16]) {
  %s = const f32[4, 1] [0.5, 0.25, 1.0, 2.0]
  %z = const f32[4, 1] [1.0, 1.0, 2.0, 1.0]
  %w, %sw, %swz = lut.pack(%q, %s, %z) {n = 4, k = 16, bits = 2, group_size = 16} : u8[32], f32[1, 8], f32[1, 8] @pack_rt
  %t, %ts, %xs = lut.table(%x) {k = 16, group_size = 16} : i8[2, 4, 16], f32[2, 1], f32[2, 1] @table_rt
  %y = lut.matmul(%t, %ts, %xs, %w, %sw, %swz) {n = 4, k = 16, bits = 2, group_size = 16} : f32[2, 4] @matmul_rt
  return %y
}`);
    runPipeline(g, { target: 'c' });
    expect(codes(g)).toEqual(['LUT5003']);
  });

  it('lut.gemm weights computed at run time are LUT5152: C stores the canonical q/scales/zeros', () => {
    const g = oddLut();
    const gm = g.nodes.find((n) => n.op === 'lut.gemm')!;
    const q: Value = { name: 'q_rt', type: gm.inputs[1]!.type, producer: null };
    g.inputs.push(q);
    gm.inputs[1] = q;
    expect(codes(g)).toEqual(['LUT5152']);
  });
});

describe('c model: CLI', () => {
  it('lutc run --target c writes the same outputs as --target ref (bits 4)', async () => {
    const base = tmp('cli');
    const io = captureIO();
    const floatArgs = ['examples/mlp.onnx', '--shape', 'x=2,64', '--seed', '3'];
    const common = [...floatArgs, '--bits', '4'];
    expect(await main(['run', ...common, '--target', 'c', '--out', path.join(base, 'c')], io), io.stderr).toBe(0);
    expect(await main(['run', ...common, '--target', 'ref', '--out', path.join(base, 'ref')], captureIO())).toBe(0);
    const jc = JSON.parse(fs.readFileSync(path.join(base, 'c', 'outputs.json'), 'utf8')) as { file: string }[];
    const jr = JSON.parse(fs.readFileSync(path.join(base, 'ref', 'outputs.json'), 'utf8')) as { file: string }[];
    expect(jc).toEqual(jr);
    for (const f of jc)
      expect(relMax(readNpyFile(path.join(base, 'c', f.file)), readNpyFile(path.join(base, 'ref', f.file)))).toBeLessThanOrEqual(
        LUT_VS_INTERP,
      );
    // --bits 4 took effect: the float model (no --bits) differs by 4-bit weight error, far above 1e-5.
    expect(await main(['run', ...floatArgs, '--target', 'ref', '--out', path.join(base, 'float')], captureIO())).toBe(0);
    for (const f of jc)
      expect(relMax(readNpyFile(path.join(base, 'float', f.file)), readNpyFile(path.join(base, 'ref', f.file)))).toBeGreaterThan(1e-3);
    const cio = captureIO();
    expect(
      await main(['compile', 'examples/mlp.onnx', '--target', 'c', '--shape', 'x=2,64', '-o', path.join(base, 'art')], cio),
      cio.stderr,
    ).toBe(0);
    expect(fs.existsSync(path.join(base, 'art', 'model.c'))).toBe(true);
    fs.rmSync(base, { recursive: true, force: true });
  });
});
