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
 * growing the mask by one; greedy (first maximum; NaN logits are LUT6043) until `maxNewTokens` or
 * an end-of-sequence id. Times are wall clock per phase (prefill = the prompt step).
 */
import { fail } from '../base/diagnostics.js';
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

export interface GenerateOptions {
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

/** Index of the first maximum of logits row `row` of `t` ([.., S, V] flattened); LUT6043 for NaN. */
function argmaxLast(t: Tensor): { id: number; row: Float32Array } {
  const V = t.shape[t.shape.length - 1]!;
  const off = t.data.length - V;
  const row = Float32Array.from(t.data.subarray(off, off + V) as ArrayLike<number>);
  let best = 0;
  for (let i = 0; i < V; i++) {
    if (Number.isNaN(row[i]!)) fail('LUT6043', `generate: the logits hold NaN (vocabulary entry ${i})`);
    if (row[i]! > row[best]!) best = i;
  }
  return { id: best, row };
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
    const { id, row } = argmaxLast(outs[outIndex.get(io.logits)!]!);
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
