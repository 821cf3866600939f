/**
 * The bundled generation example (examples/tiny-llm/, written by examples/make-examples.ts): a tiny
 * decoder in onnxruntime-genai's builder layout (bench/llm-model.ts: int4 MatMulNBits, packed QKV,
 * GroupQueryAttention with rotary) and its byte-level BPE tokenizer, both made from
 * examples/tiny-llm/corpus.txt:
 * - the tokenizer: GPT-2's byte-to-unicode alphabet (256 ids), then BPE merges learned from the
 *   corpus (the most frequent adjacent pair each round, ties by the pair's text), then
 *   `<|endoftext|>`; pre-tokenized by the GPT-2 split that @huggingface/tokenizers' ByteLevel uses.
 * - the model: hidden size = the vocabulary rounded up to two heads of 32, a one-hot token embedding, random attention and MLP weights
 *   at a small scale, and an lm_head holding log P(next | current) of the corpus's token bigrams
 *   (add-0.1 smoothing), quantized to 4 bits: what it writes is a bigram model's text in this
 *   corpus's word pieces, carried by a real transformer's machinery (every layer runs).
 * Deterministic: the same corpus gives byte-identical files.
 */
import { Tokenizer } from '@huggingface/tokenizers';
import { buildBuilderDecoder } from '../bench/llm-model.js';

/** GPT-2's reversible byte -> printable character map. */
function bytesToUnicode(): string[] {
  const bs: number[] = [];
  for (let i = 33; i <= 126; i++) bs.push(i);
  for (let i = 161; i <= 172; i++) bs.push(i);
  for (let i = 174; i <= 255; i++) bs.push(i);
  const cs = [...bs];
  let n = 0;
  for (let b = 0; b < 256; b++)
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n++);
    }
  const out: string[] = new Array(256);
  bs.forEach((b, i) => {
    out[b] = String.fromCharCode(cs[i]!);
  });
  return out;
}

/** GPT-2's pre-tokenizer split (ByteLevel with use_regex). */
const SPLIT = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

export interface TinyLlm {
  model: Uint8Array;
  tokenizer: Record<string, unknown>;
  tokenizerConfig: Record<string, unknown>;
  config: Record<string, unknown>;
  vocab: number;
}

/** Builds the tokenizer (`merges` BPE merges) and the model from `corpus`. */
export function buildTinyLlm(corpus: string, merges = 255, seed = 5): TinyLlm {
  const byteChar = bytesToUnicode();
  const enc = new TextEncoder();
  const words = new Map<string, number>();
  for (const w of corpus.match(SPLIT) ?? []) {
    const s = Array.from(enc.encode(w), (b) => byteChar[b]!).join('\u0001');
    words.set(s, (words.get(s) ?? 0) + 1);
  }
  // words as symbol lists; each round merges the most frequent adjacent pair
  let split = [...words].map(([w, n]) => ({ syms: w.split('\u0001'), n }));
  const mergeList: string[] = [];
  const vocab: Record<string, number> = {};
  byteChar.forEach((c, i) => {
    vocab[c] = i;
  });
  for (let r = 0; r < merges; r++) {
    const pairs = new Map<string, number>();
    for (const { syms, n } of split)
      for (let i = 0; i + 1 < syms.length; i++) {
        const k = `${syms[i]} ${syms[i + 1]}`;
        pairs.set(k, (pairs.get(k) ?? 0) + n);
      }
    let best = '';
    let bestN = 0;
    for (const [k, n] of pairs) if (n > bestN || (n === bestN && k < best)) [best, bestN] = [k, n];
    if (bestN < 2) break;
    const [a, b] = best.split(' ') as [string, string];
    mergeList.push(best);
    vocab[a + b] = 256 + r;
    split = split.map(({ syms, n }) => {
      const out: string[] = [];
      for (let i = 0; i < syms.length; i++) {
        if (i + 1 < syms.length && syms[i] === a && syms[i + 1] === b) {
          out.push(a + b);
          i++;
        } else out.push(syms[i]!);
      }
      return { syms: out, n };
    });
  }
  const eos = 256 + mergeList.length;
  const V = eos + 1;
  const tokenizer = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [
      { id: eos, content: '<|endoftext|>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true },
    ],
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: null,
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab: { ...vocab, '<|endoftext|>': eos },
      merges: mergeList,
    },
  };
  const tokenizerConfig = { eos_token: '<|endoftext|>', model_max_length: 256 };
  // the corpus's token bigrams, through the tokenizer as it will run
  const tok = new Tokenizer(tokenizer, tokenizerConfig);
  const ids = corpus.split('\n').flatMap((line) => (line ? [...tok.encode(line).ids, eos] : []));
  const counts = new Float64Array(V * V);
  for (let i = 0; i + 1 < ids.length; i++) counts[ids[i]! * V + ids[i + 1]!]! += 1;
  const headSize = 32;
  const D = Math.ceil(V / (2 * headSize)) * 2 * headSize; // at least the vocabulary (one-hot rows), heads a multiple of the 2 KV heads
  const lmHead = new Float32Array(D * V);
  for (let cur = 0; cur < V; cur++) {
    let total = 0;
    for (let nx = 0; nx < V; nx++) total += counts[cur * V + nx]! + 0.1;
    // row `cur` of the [hidden, vocab] weights: the final norm scales a one-hot row by sqrt(D)
    for (let nx = 0; nx < V; nx++) lmHead[cur * V + nx] = Math.log((counts[cur * V + nx]! + 0.1) / total) / Math.sqrt(D);
  }
  const embedding = new Float32Array(V * D);
  for (let v = 0; v < V; v++) embedding[v * D + v] = 1;
  const model = buildBuilderDecoder({
    vocab: V,
    hidden: D,
    heads: D / headSize,
    kvHeads: 2,
    headSize,
    intermediate: D,
    layers: 2,
    maxPos: 256,
    seed,
    embedding,
    lmHead,
    layerScale: 0.02,
  });
  const config = { model_type: 'llama', vocab_size: V, hidden_size: D, max_position_embeddings: 256, eos_token_id: eos };
  return { model, tokenizer, tokenizerConfig, config, vocab: V };
}
