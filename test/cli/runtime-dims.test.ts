/**
 * `--max-dim SYM=N` (runtime dims): inspect shows each input symbol as runtime, frozen or unbound and
 * plans memory for the bounds; compile keeps the dim symbolic through the pipeline and every artifact
 * (c harness, wasm and wgsl model.mjs) runs the smallest and the largest size and refuses one beyond
 * the bound (LUT5009); flag misuse is a usage error.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { readNpyFile, writeNpyFile } from '../../compiler/npy.js';
import { makeTensor } from '../../ir/tensor.js';
import { lutc, tmpDir } from './helpers.js';

const LLAMA = 'examples/llama-block.onnx';

describe('--max-dim', () => {
  it('inspect: the dim is runtime with its bound, and the memory plan grows with the bound', async () => {
    const peak = async (...flags: string[]) => {
      const r = await lutc('inspect', LLAMA, '--json', ...flags);
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(r.stdout) as { dims: unknown[]; memory: { peakBytes: number } };
    };
    const small = await peak('--max-dim', 'seq=16');
    const big = await peak('--max-dim', 'seq=64');
    const frozen = await peak('--dim', 'seq=64'); // the block's rotary tables have 64 rows
    // (the slot sizes of the values both have are equal: test/backends/model-plan.test.ts)
    expect(small.dims).toEqual([{ symbol: 'seq', kind: 'runtime', bound: 16, boundFrom: 'max-dim' }]);
    expect(frozen.dims).toEqual([{ symbol: 'seq', kind: 'frozen', size: 64 }]);
    // no flag: a runtime dim at the default bound (the block states none)
    expect((await peak()).dims).toEqual([{ symbol: 'seq', kind: 'runtime', bound: 256, boundFrom: 'default' }]);
    expect(big.memory.peakBytes).toBeGreaterThan(small.memory.peakBytes);
    const text = await lutc('inspect', LLAMA, '--max-dim', 'seq=16');
    expect(text.stdout).toMatch(/dims:\n {2}seq +runtime +<= 16/);
    expect(text.stdout).toContain('memory plan (for the runtime dims at their bounds)');
  });

  it('compile --target c: one artifact; its harness runs seq = 1 and seq = 64 and writes the shapes of each run', async () => {
    const out = path.join(tmpDir(), 'art');
    const r = await lutc('compile', LLAMA, '--target', 'c', '--max-dim', 'seq=64', '-o', out);
    expect(r.code, r.stderr).toBe(0);
    expect(fs.readFileSync(path.join(out, 'model.h'), 'utf8')).toContain("#define MODEL_DIM_0_MAX 64 /* runtime dim 'seq': x axis 1 */");
    execFileSync('make', ['-s', '-C', out, 'CFLAGS=-O1'], { stdio: 'pipe' });
    for (const seq of [1, 64]) {
      const x = path.join(out, `x${seq}.npy`);
      writeNpyFile(
        x,
        makeTensor(
          'f32',
          [1, seq, 64],
          Array.from({ length: seq * 64 }, (_, i) => Math.sin(i)),
        ),
      );
      const res = path.join(out, `res${seq}`);
      execFileSync(path.join(out, 'model'), [`x=${x}`, '-o', res], { stdio: 'pipe' });
      const list = JSON.parse(fs.readFileSync(path.join(res, 'outputs.json'), 'utf8')) as { shape: number[] }[];
      expect(list[0]!.shape).toEqual([1, seq, 64]);
      expect(readNpyFile(path.join(res, 'y.npy')).shape).toEqual([1, seq, 64]);
    }
    const big = path.join(out, 'x65.npy');
    writeNpyFile(big, makeTensor('f32', [1, 65, 64]));
    const bad = spawnSync(path.join(out, 'model'), [`x=${big}`, '-o', path.join(out, 'res65')], { encoding: 'utf8' });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain('LUT5009: input "x": runtime dim seq = 65 is beyond its compiled bound 64');
    expect(fs.existsSync(path.join(out, 'res65', 'outputs.json'))).toBe(false);
  });

  it('compile --target wgsl: one artifact; its model.mjs runs seq = 1 and seq = 64 on Dawn with their shapes, LUT5009 beyond', async () => {
    const out = path.join(tmpDir(), 'art');
    const r = await lutc('compile', LLAMA, '--target', 'wgsl', '--max-dim', 'seq=64', '-o', out);
    expect(r.code, r.stderr).toBe(0);
    const m = JSON.parse(fs.readFileSync(path.join(out, 'manifest.json'), 'utf8')) as {
      runtimeDims: Record<string, number>;
      inputs: { dims: unknown[]; shape: number[] }[];
    };
    expect(m.runtimeDims).toEqual({ seq: 64 });
    expect(m.inputs[0]).toMatchObject({ dims: [1, 'seq', 64], shape: [1, 64, 64] });
    // the host module's API on Dawn: { data, shape } in, { data, shape, dtype } out at the run's shape
    const { openNodeGpu } = await import('../../backends/wgsl/device.js');
    const gpu = await openNodeGpu();
    try {
      const mod = (await import(pathToFileURL(path.join(out, 'model.mjs')).href)) as {
        load(o: { device: GPUDevice }): Promise<{
          run(f: Record<string, unknown>): Promise<Record<string, { data: Float32Array; shape: number[]; dtype: string }>>;
          destroy(): void;
        }>;
      };
      const model = await mod.load({ device: gpu.device });
      for (const seq of [1, 64]) {
        const data = Float32Array.from({ length: seq * 64 }, (_, i) => Math.sin(i));
        const { y } = await model.run({ x: { data, shape: [1, seq, 64] } });
        expect(y!.shape).toEqual([1, seq, 64]);
        expect(y!.dtype).toBe('f32');
        expect(y!.data.length).toBe(seq * 64);
        expect(y!.data.every(Number.isFinite)).toBe(true);
      }
      await expect(model.run({ x: { data: new Float32Array(65 * 64), shape: [1, 65, 64] } })).rejects.toMatchObject({ code: 'LUT5009' });
      model.destroy();
    } finally {
      gpu.release();
    }
  });

  it('compile --target wasm: one artifact; its model.mjs runs seq = 1 and seq = 64 with their shapes, LUT5009 beyond', async () => {
    const out = path.join(tmpDir(), 'art');
    const r = await lutc('compile', LLAMA, '--target', 'wasm', '--max-dim', 'seq=64', '-o', out);
    expect(r.code, r.stderr).toBe(0);
    const m = JSON.parse(fs.readFileSync(path.join(out, 'manifest.json'), 'utf8')) as {
      runtimeDims: Record<string, number>;
      inputs: { dims: unknown[]; shape: number[] }[];
    };
    expect(m.runtimeDims).toEqual({ seq: 64 });
    expect(m.inputs[0]).toMatchObject({ dims: [1, 'seq', 64], shape: [1, 64, 64] });
    type Model = { run(f: object): Record<string, { shape: number[]; data: Float32Array }> };
    const { load } = (await import(new URL(`file://${path.join(out, 'model.mjs')}`).href)) as { load(): Promise<Model> };
    const model = await load();
    for (const seq of [1, 64]) {
      const x = Float32Array.from({ length: seq * 64 }, (_, i) => Math.sin(i));
      const res = Object.values(model.run({ x: { data: x, shape: [1, seq, 64] } }))[0]!;
      expect(res.shape).toEqual([1, seq, 64]);
      expect(res.data.length).toBe(seq * 64);
    }
    expect(() => model.run({ x: { data: new Float32Array(65 * 64), shape: [1, 65, 64] } })).toThrow(
      'LUT5009: input "x": runtime dim seq = 65 is beyond its compiled bound 64',
    );
  });

  it('a symbol the model does not have is a warning; the others stay runtime dims at the default bound, with a note', async () => {
    const out = path.join(tmpDir(), 'art');
    const r = await lutc('compile', LLAMA, '--target', 'c', '--max-dim', 'sq=64', '-o', out);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain("warning: --max-dim sq: the model's inputs have no dim 'sq' (ignored)");
    expect(r.stderr).toContain(
      "note: runtime dim 'seq' has bound 256 (the default); set it with --max-dim seq=N, or freeze it with --dim seq=N",
    );
    expect(fs.readFileSync(path.join(out, 'model.h'), 'utf8')).toContain("#define MODEL_DIM_0_MAX 256 /* runtime dim 'seq': x axis 1 */");
  });

  const usage: [string, string[]][] = [
    ['--dim and --max-dim on one symbol', ['compile', LLAMA, '--target', 'c', '--dim', 'seq=4', '--max-dim', 'seq=8']],
    ['--max-dim 0', ['compile', LLAMA, '--target', 'c', '--max-dim', 'seq=0']],
    ['--max-dim without =N', ['inspect', LLAMA, '--max-dim', 'seq']],
    ['--max-dim for run', ['run', LLAMA, '--target', 'ref', '--max-dim', 'seq=8']],
  ];
  for (const [name, argv] of usage) {
    it(`usage error: ${name}`, async () => {
      const out = path.join(tmpDir(), 'art');
      const r = await lutc(...argv, ...(argv[0] === 'inspect' ? [] : ['-o', out]));
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(/^lutc: error LUT6003: .*max-dim/);
      expect(fs.existsSync(out)).toBe(false);
    });
  }
});
