/**
 * The bundled generation example (`npm run example`): the checked-in examples/tiny-llm files are
 * exactly what examples/tiny-llm.ts builds from its corpus (regenerated, byte for byte); compiled to
 * wasm by the CLI, examples/generate.mjs streams text and prints lutc's and both peers' decode
 * rates; the sampled tokens are those of `lutc generate --target ref` with the same settings.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildTinyLlm } from '../../examples/tiny-llm.js';
import { lutc, tmpDir } from '../cli/helpers.js';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const files = path.join(root, 'examples/tiny-llm');
const work = tmpDir();
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

describe('the generation example', () => {
  it('examples/tiny-llm is what examples/tiny-llm.ts builds from its corpus', () => {
    const t = buildTinyLlm(fs.readFileSync(path.join(files, 'corpus.txt'), 'utf8'));
    expect(Buffer.compare(fs.readFileSync(path.join(files, 'model.onnx')), Buffer.from(t.model))).toBe(0);
    for (const [name, v] of [
      ['tokenizer.json', t.tokenizer],
      ['tokenizer_config.json', t.tokenizerConfig],
      ['config.json', t.config],
    ] as const)
      expect(JSON.parse(fs.readFileSync(path.join(files, name), 'utf8')), name).toEqual(v);
  });

  it("compiles to wasm and generates: text on stdout, lutc and peer rates; the tokens are the reference target's", async () => {
    const out = path.join(work, 'art');
    const c = await lutc('compile', path.join(files, 'model.onnx'), '--target', 'wasm', '-o', out);
    expect(c.code, c.stderr).toBe(0);
    const prompt = 'The compiler reads the model and';
    const text = execFileSync(process.execPath, [path.join(root, 'examples/generate.mjs'), out, prompt], { encoding: 'utf8' });
    expect(text.startsWith(prompt)).toBe(true);
    expect(text).toMatch(/lutc wasm: prefill \d+ tokens in [\d.]+ ms, decode \d+ tokens at [\d.]+ tokens\/s/);
    expect(text).toMatch(/onnxruntime-node: decode \d+ tokens at [\d.]+ tokens\/s; lutc wasm is [\d.]+x/);
    expect(text).toMatch(/onnxruntime-web: decode \d+ tokens at [\d.]+ tokens\/s; lutc wasm is [\d.]+x/);
    const ref = await lutc(
      'generate',
      path.join(files, 'model.onnx'),
      '--prompt',
      prompt,
      '--max-new-tokens',
      '48',
      '--temperature',
      '0.8',
      '--top-k',
      '20',
      '--seed',
      '1',
    );
    expect(ref.code, ref.stderr).toBe(0);
    const generated = text.slice(prompt.length, text.indexOf('\n\nlutc wasm:'));
    expect(generated.length).toBeGreaterThan(20);
    expect(generated).toBe(ref.stdout.replace(/\n$/, ''));
  }, 120_000);
});
