/**
 * Text generation over a decoder graph with a KV cache: the loop an LLM export needs, written once
 * over a `StepRunner` (feeds -> outputs) so any target that can run a step can generate.
 *
 * `decoderIO` recognizes the I/O of onnxruntime-genai and optimum / transformers.js exports:
 * `input_ids` [batch, sequence]; optional `attention_mask` [batch, total] and `position_ids`
 * [batch, sequence]; cache inputs `past_key_values.N.key|value` (or `past.N.key|value`) paired with
 * outputs `present.N.key|value` (or `present_key_values.N.*`); a `logits` output [batch, sequence,
 * vocab] (else the first output). Anything else is LUT6041 naming what is missing.
 *
 * `generate` runs the prompt in one step from an empty cache (each past input starts with its
 * sequence dim 0; batch 1), then one token per step, feeding every present back as its past and
 * growing the mask by one, until `maxNewTokens` or an end-of-sequence id. Each token is `pickToken`'s:
 * greedy (the first maximum) by default, or sampled (temperature, top-k, top-p) from base/random.ts's
 * seeded generator; NaN logits are LUT6043. `pickToken` and the generator are plain functions whose
 * source the artifacts' model.generate embeds (backends/artifact-runtime.ts GENERATE_JS), so one seed
 * gives one algorithm everywhere. Times are wall clock per phase (prefill = the prompt step).
 */
import { fail } from '../base/diagnostics.js';
import { seededRandom } from '../base/random.js';
import { makeTensor } from '../ir/tensor.js';
import type { Dim, DType, Graph, Tensor, Value } from '../ir/types.js';

/** One cache tensor: the past input and the present output that feeds it next step. */
export interface CacheSlot {
  past: string;
  present: string;
  dtype: DType;
  /** The past input's declared shape (symbols: batch first, then the sequence dim). */
  shape: Dim[];
}

export interface DecoderIO {
  inputIds: string;
  idsDtype: DType;
  attentionMask?: string;
  positionIds?: string;
  cache: CacheSlot[];
  logits: string;
  /** Graph output names in order (what a StepRunner returns). */
  outputs: string[];
}

const PAST = /^(?:past_key_values|past)\.(\d+)\.(key|value)$/;
const PRESENT = /^(?:present|present_key_values)\.(\d+)\.(key|value)$/;

/** The decoder I/O of `g`, or LUT6041 naming what does not fit. */
export function decoderIO(g: Graph, file?: string): DecoderIO {
  const loc = file ? { kind: 'file' as const, file } : undefined;
  const byName = new Map(g.inputs.map((v) => [v.name, v]));
  const ids = byName.get('input_ids');
  if (!ids) fail('LUT6041', "generate: the model has no 'input_ids' input (not a decoder export)", loc);
  if (ids.type.dtype !== 'i64' && ids.type.dtype !== 'i32')
    fail('LUT6041', `generate: input_ids is ${ids.type.dtype}, not int64/int32`, loc);
  const presents = new Map<string, Value>();
  for (const v of g.outputs) {
    const m = PRESENT.exec(v.name);
    if (m) presents.set(`${m[1]}.${m[2]}`, v);
  }
  const cache: CacheSlot[] = [];
  const known = new Set(['input_ids', 'attention_mask', 'position_ids']);
  for (const v of g.inputs) {
    const m = PAST.exec(v.name);
    if (!m) {
      if (!known.has(v.name))
        fail(
          'LUT6041',
          `generate: input '${v.name}' is not one a decoder step feeds (input_ids, attention_mask, position_ids, past_key_values.N.key/value)`,
          loc,
        );
      continue;
    }
    const out = presents.get(`${m[1]}.${m[2]}`);
    if (!out) fail('LUT6041', `generate: cache input '${v.name}' has no matching present.${m[1]}.${m[2]} output`, loc);
    if (v.type.shape.length !== 4)
      fail('LUT6041', `generate: cache input '${v.name}' must be [batch, heads, past, head_size], got [${v.type.shape}]`, loc);
    cache.push({ past: v.name, present: out.name, dtype: v.type.dtype, shape: [...v.type.shape] });
  }
  const logits = g.outputs.find((v) => v.name === 'logits') ?? g.outputs[0];
  if (!logits) fail('LUT6041', 'generate: the model has no outputs', loc);
  return {
    inputIds: ids.name,
    idsDtype: ids.type.dtype,
    attentionMask: byName.has('attention_mask') ? 'attention_mask' : undefined,
    positionIds: byName.has('position_ids') ? 'position_ids' : undefined,
    cache,
    logits: logits.name,
    outputs: g.outputs.map((v) => v.name),
  };
}

/** Runs one decoder step: graph outputs in graph-output order. */
export type StepRunner = (feeds: Record<string, Tensor>) => Tensor[] | Promise<Tensor[]>;

/** Sampling (absent or temperature 0: greedy). */
export interface SamplingOptions {
  /** Softmax temperature; 0 (the default) is greedy. */
  temperature?: number;
  /** Keep the K most likely tokens (0: all). */
  topK?: number;
  /** Keep the most likely tokens whose probabilities sum to at least P (1: all). */
  topP?: number;
  /** Seed of base/random.ts's generator (default 0). */
  seed?: number;
}

export interface GenerateOptions extends SamplingOptions {
  maxNewTokens: number;
  /** End-of-sequence ids: generation stops after producing one (it is included in `tokens`). */
  eosTokenIds?: readonly number[];
  /** Called with each new token as it is produced. */
  onToken?(id: number): void;
}

export interface GenerateResult {
  /** The new tokens (not the prompt). */
  tokens: number[];
  /** Logits at the last position of each step (one per new token). */
  logits: Float32Array[];
  prefillMs: number;
  /** Wall time of the steps after the prompt step. */
  decodeMs: number;
  promptTokens: number;
}

/**
 * The next token from one row of logits: with temperature 0 the index of the first maximum; else the
 * tokens by descending logit (ties by index), the first `topK` (0: all), softmax at `temperature` in
 * double, the shortest prefix whose probability reaches `topP`, renormalized, and the token where
 * `rand()` falls in the cumulative sum. A NaN at index i gives -1 - i. Self-contained (no imports,
 * only Math): its source is embedded in the artifacts' JavaScript (artifact-runtime.ts GENERATE_JS).
 */
export function pickToken(row: ArrayLike<number>, temperature: number, topK: number, topP: number, rand: () => number): number {
  const V = row.length;
  let best = 0;
  for (let i = 0; i < V; i++) {
    if (Number.isNaN(row[i])) return -1 - i;
    if (row[i]! > row[best]!) best = i;
  }
  if (!(temperature > 0)) return best;
  const order = Array.from({ length: V }, (_, i) => i).sort((a, b) => row[b]! - row[a]! || a - b);
  const keep = topK > 0 && topK < V ? order.slice(0, topK) : order;
  const top = row[keep[0]!]!;
  const w = keep.map((i) => Math.exp((row[i]! - top) / temperature));
  const total = w.reduce((a, b) => a + b, 0);
  let n = keep.length;
  if (topP < 1) {
    let cum = 0;
    for (n = 0; n < keep.length; ) {
      cum += w[n]! / total;
      n++;
      if (cum >= topP) break;
    }
  }
  let mass = 0;
  for (let k = 0; k < n; k++) mass += w[k]!;
  const u = rand() * mass;
  let cum = 0;
  for (let k = 0; k < n; k++) {
    cum += w[k]!;
    if (u < cum) return keep[k]!;
  }
  return keep[n - 1]!;
}

/** The last logits row of `t` ([.., S, V] flattened). */
function lastRow(t: Tensor): Float32Array {
  const V = t.shape[t.shape.length - 1]!;
  const off = t.data.length - V;
  return Float32Array.from(t.data.subarray(off, off + V) as ArrayLike<number>);
}

/** Greedy generation from `prompt` (token ids) through `run`. */
export async function generate(io: DecoderIO, run: StepRunner, prompt: readonly number[], opts: GenerateOptions): Promise<GenerateResult> {
  if (prompt.length === 0) fail('LUT6041', 'generate: the prompt has no tokens');
  const outIndex = new Map(io.outputs.map((n, i) => [n, i]));
  let past: Record<string, Tensor> = {};
  for (const c of io.cache) {
    const shape = c.shape.map((d, i) => (typeof d === 'number' ? d : i === 0 ? 1 : 0));
    past[c.past] = makeTensor(c.dtype, shape);
  }
  const tokens: number[] = [];
  const logits: Float32Array[] = [];
  let pastLen = 0;
  let step = [...prompt];
  let prefillMs = 0;
  let decodeMs = 0;
  const eos = new Set(opts.eosTokenIds ?? []);
  const rand = seededRandom(opts.seed ?? 0);
  while (tokens.length < opts.maxNewTokens) {
    const S = step.length;
    const feeds: Record<string, Tensor> = { ...past, [io.inputIds]: makeTensor(io.idsDtype, [1, S], step) };
    if (io.attentionMask) feeds[io.attentionMask] = makeTensor('i64', [1, pastLen + S], new Array(pastLen + S).fill(1));
    if (io.positionIds)
      feeds[io.positionIds] = makeTensor(
        'i64',
        [1, S],
        step.map((_, i) => pastLen + i),
      );
    const t0 = performance.now();
    const outs = await run(feeds);
    const ms = performance.now() - t0;
    if (pastLen === 0) prefillMs = ms;
    else decodeMs += ms;
    const row = lastRow(outs[outIndex.get(io.logits)!]!);
    const id = pickToken(row, opts.temperature ?? 0, opts.topK ?? 0, opts.topP ?? 1, rand);
    if (id < 0) fail('LUT6043', `generate: the logits hold NaN (vocabulary entry ${-1 - id})`);
    tokens.push(id);
    logits.push(row);
    opts.onToken?.(id);
    if (eos.has(id)) break;
    past = {};
    for (const c of io.cache) past[c.past] = outs[outIndex.get(c.present)!]!;
    pastLen += S;
    step = [id];
  }
  return { tokens, logits, prefillMs, decodeMs, promptTokens: prompt.length };
}
