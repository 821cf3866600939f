/**
 * Text in and out of `lutc generate`: a Hugging Face tokenizer (tokenizer.json, plus
 * tokenizer_config.json when present) loaded with @huggingface/tokenizers, the maintained pure-JS
 * implementation transformers.js uses. `loadTokenizer(path)` takes the tokenizer.json file or the
 * folder holding it; anything missing, unreadable or malformed is LUT6044 naming the file, never a
 * stack trace (also when a malformed part only fails in encode or decode). `TextStream` turns the
 * generated ids into text increments (each call returns what the decoded text gained, so
 * multi-token characters appear once complete).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { fail } from '../base/diagnostics.js';

export interface LoadedTokenizer {
  encode(text: string): number[];
  decode(ids: readonly number[]): string;
  /** The end-of-sequence id the config names (tokenizer_config.json eos_token), if any. */
  eosTokenId?: number;
}

function readJson(file: string, what: string): Record<string, unknown> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    return fail('LUT6044', `cannot read the ${what} '${file}': ${(e as Error).message}`, { kind: 'file', file });
  }
  try {
    const v = JSON.parse(text) as unknown;
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('not a JSON object');
    return v as Record<string, unknown>;
  } catch (e) {
    return fail('LUT6044', `the ${what} '${file}' is not valid JSON: ${(e as Error).message}`, { kind: 'file', file });
  }
}

/** The tokenizer at `p` (a tokenizer.json, or a folder with one); LUT6044 for anything it cannot use. */
export function loadTokenizer(p: string): LoadedTokenizer {
  const isDir = fs.existsSync(p) && fs.statSync(p).isDirectory();
  const file = isDir ? path.join(p, 'tokenizer.json') : p;
  if (!fs.existsSync(file))
    fail('LUT6044', `no tokenizer at '${file}' (give --tokenizer tokenizer.json or its folder)`, { kind: 'file', file });
  const json = readJson(file, 'tokenizer');
  const cfgFile = path.join(path.dirname(file), 'tokenizer_config.json');
  const config = fs.existsSync(cfgFile) ? readJson(cfgFile, 'tokenizer config') : {};
  let tok: Tokenizer;
  try {
    tok = new Tokenizer(json, config);
  } catch (e) {
    return fail('LUT6044', `'${file}' is not a tokenizer tokenizers.js reads: ${(e as Error).message}`, { kind: 'file', file });
  }
  const eos = config.eos_token;
  const eosText = typeof eos === 'string' ? eos : eos && typeof eos === 'object' ? (eos as { content?: unknown }).content : undefined;
  let eosTokenId: number | undefined;
  if (typeof eosText === 'string') {
    const ids = tok.encode(eosText, { add_special_tokens: false }).ids;
    if (ids.length === 1) eosTokenId = ids[0];
  }
  return {
    encode: (text) => {
      try {
        return tok.encode(text).ids;
      } catch (e) {
        return fail('LUT6044', `the tokenizer '${file}' cannot encode the prompt: ${(e as Error).message}`, { kind: 'file', file });
      }
    },
    // tokenizers.js checks a model's parts only when they run: a broken one throws from decode too
    decode: (ids) => {
      try {
        return tok.decode([...ids], { skip_special_tokens: true });
      } catch (e) {
        return fail('LUT6044', `the tokenizer '${file}' cannot decode ids: ${(e as Error).message}`, { kind: 'file', file });
      }
    },
    ...(eosTokenId !== undefined && { eosTokenId }),
  };
}

/** Incremental detokenization: `push(id)` returns the text the sequence gained. */
export class TextStream {
  private readonly ids: number[] = [];
  private shown = '';
  constructor(private readonly tok: LoadedTokenizer) {}
  push(id: number): string {
    this.ids.push(id);
    const text = this.tok.decode(this.ids);
    // hold back an incomplete character (U+FFFD) until the next token completes it
    if (text.endsWith('\uFFFD')) return '';
    // what the text gained past the part already shown (a decoder may re-space earlier text: the
    // common prefix is kept, what was shown cannot be taken back)
    let k = 0;
    while (k < text.length && k < this.shown.length && text[k] === this.shown[k]) k++;
    const out = text.slice(Math.max(k, this.shown.length));
    this.shown = text;
    return out;
  }
  get text(): string {
    return this.tok.decode(this.ids);
  }
}
