/**
 * `lutc generate`: on a tiny decoder in onnxruntime-genai's builder layout (packed-QKV int4
 * MatMulNBits -> GroupQueryAttention with rotary, Simplified/SkipSimplified norms, the seqlens_k and
 * total_sequence_length subgraphs; test/helpers/decoders.ts) the reference target's greedy tokens are
 * onnxruntime-node's, token for token, over 12 steps from an empty cache; --json's shape and rates;
 * the eos stop; --target c (generating inside the artifact), wasm and wgsl (one artifact with runtime
 * dims, run per step) give the same tokens; text prompts through a tokenizer (a WordPiece fixture:
 * --prompt/--tokenizer, the eos_token of tokenizer_config.json, a tokenizer.json beside the model);
 * and the coded errors (tokenizers, prompts, a bound too small, non-decoder models).
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

  // a WordPiece tokenizer over the decoder's 64 ids: id i is the word `w<i>` (0 is [UNK])
  const tokDir = path.join(work, 'tok');
  fs.mkdirSync(tokDir);
  const vocab = Object.fromEntries(Array.from({ length: 64 }, (_, i) => [i === 0 ? '[UNK]' : `w${i}`, i]));
  const tokenizerJson = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [],
    normalizer: null,
    pre_tokenizer: { type: 'Whitespace' },
    post_processor: null,
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab },
  };
  fs.writeFileSync(path.join(tokDir, 'tokenizer.json'), JSON.stringify(tokenizerJson));
  const words = (ids: number[]) => ids.map((i) => `w${i}`).join(' ');

  it('--prompt with --tokenizer: encodes the text, streams the new text; --json adds it', async () => {
    const want = await greedyOrt(bytes, PROMPT, 8);
    const r = await lutc('generate', model, '--prompt', words(PROMPT), '--tokenizer', tokDir, '--max-new-tokens', '8');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(words(want.tokens));
    const j = await lutc(
      'generate',
      model,
      '--prompt',
      words(PROMPT),
      '--tokenizer',
      path.join(tokDir, 'tokenizer.json'),
      '--max-new-tokens',
      '8',
      '--json',
    );
    expect(j.code, j.stderr).toBe(0);
    const o = JSON.parse(j.stdout) as { tokens: number[]; text: string };
    expect(o.tokens).toEqual(want.tokens);
    expect(o.text).toBe(words(want.tokens));
  });

  it("the tokenizer config's eos_token stops generation; a tokenizer beside the model is found", async () => {
    const want = await greedyOrt(bytes, PROMPT, 8);
    const eos = want.tokens[2]!;
    const dir = path.join(work, 'with-tok');
    fs.mkdirSync(dir);
    fs.copyFileSync(model, path.join(dir, 'decoder.onnx'));
    fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(tokenizerJson));
    fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify({ eos_token: `w${eos}` }));
    const r = await lutc('generate', path.join(dir, 'decoder.onnx'), '--prompt', words(PROMPT), '--max-new-tokens', '8', '--json');
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as { tokens: number[] }).tokens).toEqual(want.tokens.slice(0, want.tokens.indexOf(eos) + 1));
  });

  it('a missing or malformed tokenizer is LUT6044 naming the file, nothing on stdout', async () => {
    const bad = path.join(work, 'bad-tokenizer.json');
    fs.writeFileSync(bad, '{"model": ');
    for (const [tok, msg] of [
      [path.join(work, 'nowhere'), /error LUT6044: no tokenizer at '.*nowhere'/],
      [bad, /error LUT6044: the tokenizer '.*bad-tokenizer.json' is not valid JSON/],
    ] as const) {
      const r = await lutc('generate', model, '--prompt', 'w5 w6', '--tokenizer', tok);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(msg);
      expect(r.stdout).toBe('');
    }
    // a text prompt with no tokenizer anywhere
    const r = await lutc('generate', model, '--prompt', 'w5 w6');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/error LUT6044: no tokenizer at/);
  });

  it('usage errors: both prompts, no prompt, bad ids; a non-decoder model is LUT6041', async () => {
    for (const [argv, code] of [
      [['--prompt', 'hello', '--input-ids', '1'], 'LUT6003'],
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
