/**
 * `lutc generate`: on a tiny decoder in onnxruntime-genai's builder layout (packed-QKV int4
 * MatMulNBits -> GroupQueryAttention with rotary, Simplified/SkipSimplified norms, the seqlens_k and
 * total_sequence_length subgraphs; test/helpers/decoders.ts) the reference target's greedy tokens are
 * onnxruntime-node's, token for token, over 12 steps from an empty cache; --json's shape and rates;
 * the eos stop; --target c (generating inside the artifact), wasm and wgsl (one artifact with runtime
 * dims, run per step) give the same tokens; and the coded errors (text prompts, missing ids, a bound
 * too small, non-decoder models).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildBuilderDecoder, greedyOrt } from '../helpers/decoders.js';
import { lutc, tmpDir } from './helpers.js';

const work = tmpDir();
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));
const model = path.join(work, 'decoder.onnx');
const bytes = buildBuilderDecoder({ seed: 21 });
fs.writeFileSync(model, bytes);
const PROMPT = [5, 17, 42, 3];

describe('lutc generate', () => {
  it('--target ref: the same greedy tokens as onnxruntime-node (12 steps from an empty cache)', async () => {
    const want = await greedyOrt(bytes, PROMPT, 12);
    const r = await lutc('generate', model, '--input-ids', PROMPT.join(','), '--max-new-tokens', '12');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim().split(' ').map(Number)).toEqual(want.tokens);
    expect(new Set(want.tokens).size).toBeGreaterThan(1);
    expect(r.stderr).toMatch(/generate: prefill 4 tokens in [\d.]+ ms \([\d.]+ tokens\/s\), decode 11 tokens in [\d.]+ ms/);
  });

  it('--json prints one object; --eos stops after the first end-of-sequence id', async () => {
    const want = await greedyOrt(bytes, PROMPT, 6);
    const r = await lutc('generate', model, '--input-ids', PROMPT.join(','), '--max-new-tokens', '6', '--json');
    expect(r.code, r.stderr).toBe(0);
    const o = JSON.parse(r.stdout) as { tokens: number[]; prefill_tokens_per_s: number; decode_tokens_per_s: number };
    expect(o.tokens).toEqual(want.tokens);
    expect(o.prefill_tokens_per_s).toBeGreaterThan(0);
    expect(o.decode_tokens_per_s).toBeGreaterThan(0);
    const eos = want.tokens[2]!;
    const firstEos = want.tokens.indexOf(eos);
    const s = await lutc('generate', model, '--input-ids', PROMPT.join(','), '--max-new-tokens', '6', '--eos', String(eos), '--json');
    expect((JSON.parse(s.stdout) as { tokens: number[] }).tokens).toEqual(want.tokens.slice(0, firstEos + 1));
  });

  it('--target c: one artifact with runtime dims generates the same tokens as onnxruntime-node', async () => {
    const want = await greedyOrt(bytes, PROMPT, 12);
    const r = await lutc(
      'generate',
      model,
      '--target',
      'c',
      '--input-ids',
      PROMPT.join(','),
      '--max-new-tokens',
      '12',
      '--max-length',
      '32',
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim().split(' ').map(Number)).toEqual(want.tokens);
    expect(r.stderr).toMatch(/decode 11 tokens in [\d.]+ ms .*\(target c\)/);
    // a bound below what the run needs is a usage error before any work
    const s = await lutc(
      'generate',
      model,
      '--target',
      'c',
      '--input-ids',
      PROMPT.join(','),
      '--max-new-tokens',
      '12',
      '--max-length',
      '8',
    );
    expect(s.code).toBe(2);
    expect(s.stderr).toMatch(/error LUT6003: generate: --max-length 8 is below the prompt/);
  });

  for (const t of ['wasm', 'wgsl'])
    it(`--target ${t}: one artifact with runtime dims generates the same tokens as onnxruntime-node`, async () => {
      const want = await greedyOrt(bytes, PROMPT, 12);
      const r = await lutc('generate', model, '--target', t, '--input-ids', PROMPT.join(','), '--max-new-tokens', '12');
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.trim().split(' ').map(Number)).toEqual(want.tokens);
      expect(r.stderr).toMatch(new RegExp(`decode 11 tokens in [\\d.]+ ms .*\\(target ${t}\\)`));
    });

  it('usage errors: a text prompt, no ids, bad ids; a non-decoder model is LUT6041', async () => {
    for (const [argv, code] of [
      [['--prompt', 'hello'], 'LUT6003'],
      [[], 'LUT6002'],
      [['--input-ids', '1,x'], 'LUT6003'],
    ] as const) {
      const r = await lutc('generate', model, ...argv);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(new RegExp(`^lutc: error ${code}: generate`));
    }
    const r = await lutc('generate', 'examples/mlp.onnx', '--input-ids', '1');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/error LUT6041: generate: the model has no 'input_ids' input/);
  });
});
