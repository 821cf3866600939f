/**
 * Sampling and model configs in `lutc generate` (compiler/generate.ts pickToken, compiler/model-config.ts):
 * pickToken's greedy, top-k, top-p and temperature rules and its NaN report; one seed gives the same
 * sampled tokens on ref, wasm and wgsl (the artifacts' model.generate embeds the same pickToken and
 * generator) and on c (whose model_generate ports them to C); the sampling flags are usage
 * errors without --temperature; the eos ids and the context length of generation_config.json /
 * config.json beside the model are honoured (a prompt past the context is LUT6041).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { seededRandom } from '../../base/random.js';
import { pickToken } from '../../compiler/generate.js';
import { buildBuilderDecoder } from '../helpers/decoders.js';
import { lutc, tmpDir } from './helpers.js';

const work = tmpDir();
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

describe('pickToken', () => {
  const row = Float32Array.from([1, 3, 2, 3, -1]);
  const never = () => {
    throw new Error('greedy draws nothing');
  };
  it('temperature 0 is the first maximum and draws nothing; a NaN at i is -1 - i', () => {
    expect(pickToken(row, 0, 0, 1, never)).toBe(1);
    expect(pickToken(Float32Array.from([0, Number.NaN, 1]), 0.7, 0, 1, never)).toBe(-2);
  });
  it('top-k 1 and a tiny top-p keep only the first maximum', () => {
    const r = seededRandom(1);
    for (let i = 0; i < 50; i++) {
      expect(pickToken(row, 1, 1, 1, r)).toBe(1);
      expect(pickToken(row, 1, 0, 1e-6, r)).toBe(1);
    }
  });
  it('temperature 1 samples the softmax: frequencies within 3 sigma of the probabilities over 20000 draws', () => {
    const r = seededRandom(7);
    const n = 20000;
    const hist = new Array(5).fill(0);
    for (let i = 0; i < n; i++) hist[pickToken(row, 1, 0, 1, r)]++;
    const w = Array.from(row, (x) => Math.exp(x));
    const z = w.reduce((a, b) => a + b, 0);
    w.forEach((x, i) => {
      const p = x / z;
      expect(Math.abs(hist[i] / n - p), `token ${i}`).toBeLessThanOrEqual(3 * Math.sqrt((p * (1 - p)) / n) + 1e-9);
    });
  });
  it('top-k 2 never picks outside the two most likely (ties by index: 1 and 3)', () => {
    const r = seededRandom(3);
    const seen = new Set<number>();
    for (let i = 0; i < 500; i++) seen.add(pickToken(row, 5, 2, 1, r));
    expect([...seen].sort()).toEqual([1, 3]);
  });
});

describe('lutc generate --temperature', () => {
  const model = path.join(work, 'decoder.onnx');
  fs.writeFileSync(model, buildBuilderDecoder({ seed: 21 }));
  const args = ['--input-ids', '5,17,42,3', '--max-new-tokens', '10', '--temperature', '1.5', '--top-k', '20', '--seed', '9', '--json'];
  const tokensOf = async (...extra: string[]) => {
    const r = await lutc('generate', model, ...args, ...extra);
    expect(r.code, r.stderr).toBe(0);
    return (JSON.parse(r.stdout) as { tokens: number[] }).tokens;
  };
  it('one seed, the same sampled tokens on every target; another seed, other tokens', async () => {
    const ref = await tokensOf();
    expect(new Set(ref).size).toBeGreaterThan(3);
    for (const t of ['wasm', 'wgsl', 'c']) expect(await tokensOf('--target', t), t).toEqual(ref);
    const r = await lutc('generate', model, ...args.slice(0, -3), '--seed', '10', '--json');
    expect((JSON.parse(r.stdout) as { tokens: number[] }).tokens).not.toEqual(ref);
  }, 120_000);

  for (const [flags, msg] of [
    [['--top-k', '5'], 'generate: --top-k only apply when sampling: add --temperature T (T > 0)'],
    [['--temperature', '0', '--seed', '1'], 'generate: --seed only apply when sampling'],
    [['--temperature=-1'], "generate: invalid --temperature '-1'; expected a number >= 0"],
    [['--temperature', '1', '--top-p', '0'], "generate: invalid --top-p '0'; expected a number in (0, 1]"],
  ] as const)
    it(`usage error: ${flags.join(' ')}`, async () => {
      const r = await lutc('generate', model, '--input-ids', '1,2', ...flags);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(msg);
    });
});

describe('lutc generate: the model config beside the model', () => {
  it("generation_config.json's eos_token_id stops generation; config.json's context length bounds the prompt", async () => {
    const dir = path.join(work, 'cfg');
    fs.mkdirSync(dir);
    const model = path.join(dir, 'model.onnx');
    fs.writeFileSync(model, buildBuilderDecoder({ seed: 21 }));
    const free = await lutc('generate', model, '--input-ids', '5,17,42,3', '--max-new-tokens', '8', '--json');
    const tokens = (JSON.parse(free.stdout) as { tokens: number[] }).tokens;
    fs.writeFileSync(path.join(dir, 'generation_config.json'), JSON.stringify({ eos_token_id: [tokens[2]] }));
    const stopped = await lutc('generate', model, '--input-ids', '5,17,42,3', '--max-new-tokens', '8', '--json');
    expect((JSON.parse(stopped.stdout) as { tokens: number[] }).tokens).toEqual(tokens.slice(0, tokens.indexOf(tokens[2]!) + 1));
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ max_position_embeddings: 6 }));
    const long = await lutc('generate', model, '--input-ids', '5,17,42,3', '--max-new-tokens', '4');
    expect(long.code).toBe(1);
    expect(long.stderr).toContain("exceed the model's context length 6");
    fs.writeFileSync(path.join(dir, 'config.json'), '{ "max_position_embeddings": "many" }');
    const bad = await lutc('generate', model, '--input-ids', '5,17', '--max-new-tokens', '2');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/error LUT6044: the model config '.*config\.json': max_position_embeddings must be a positive integer/);
  });
});
