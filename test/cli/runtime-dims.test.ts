/**
 * `--max-dim SYM=N` (runtime dims): inspect shows each input symbol as runtime, frozen or unbound and
 * plans memory for the bounds; compile keeps the dim symbolic through the pipeline, and a backend that
 * does not render runtime dims yet says so (LUT5004) and writes nothing; flag misuse is a usage error.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
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
    expect(small.dims).toEqual([{ symbol: 'seq', kind: 'runtime', bound: 16 }]);
    expect(frozen.dims).toEqual([{ symbol: 'seq', kind: 'frozen', size: 64 }]);
    expect(big.memory.peakBytes).toBeGreaterThan(small.memory.peakBytes);
    const text = await lutc('inspect', LLAMA, '--max-dim', 'seq=16');
    expect(text.stdout).toMatch(/dims:\n {2}seq +runtime +<= 16/);
    expect(text.stdout).toContain('memory plan (for the runtime dims at their bounds)');
  });

  for (const target of ['wasm', 'c', 'wgsl']) {
    it(`compile --target ${target}: LUT5004 names the runtime dim, nothing written`, async () => {
      const out = path.join(tmpDir(), 'art');
      const r = await lutc('compile', LLAMA, '--target', target, '--max-dim', 'seq=64', '-o', out);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/error LUT5004: value '[^']+' has the runtime dim 'seq' \(--max-dim seq=64\)/);
      expect(fs.existsSync(out)).toBe(false);
    });
  }

  it('a symbol the model does not have is a warning; the others are frozen with a note', async () => {
    const out = path.join(tmpDir(), 'art');
    const r = await lutc('compile', LLAMA, '--target', 'c', '--max-dim', 'sq=64', '-o', out);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain("warning: --max-dim sq: the model's inputs have no dim 'sq' (ignored)");
    expect(r.stderr).toContain("note: symbolic dim 'seq' is not bound: compiling with seq = 1");
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
