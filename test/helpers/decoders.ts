/**
 * (The builder itself, buildBuilderDecoder, lives in bench/llm-model.ts, which the LLM benchmark
 * shares; it is re-exported here.)
 * A tiny decoder-only LLM in the layout onnxruntime-genai's model builder exports for CPU int4
 * (src/python/py/models/builder.py, io float32, GroupQueryAttention with rotary inside attention, so
 * no position_ids input), with seeded random weights; and a greedy decoder that runs it step by step
 * in onnxruntime-node the way onnxruntime-genai does on CPU (no shared past/present buffer).
 *
 * Graph (names as the builder's, per layer i):
 *   inputs  input_ids i64 [batch, sequence_length], attention_mask i64 [batch, total_sequence_length],
 *           past_key_values.{i}.key / .value f32 [batch, kv_heads, past_sequence_length, head_size]
 *   outputs logits f32 [batch, sequence_length, vocab], present.{i}.key / .value
 *           f32 [batch, kv_heads, total_sequence_length, head_size]
 *   embed   Gather(float table [vocab, hidden], input_ids)
 *   mask    seqlens_k = Cast<int32>(ReduceSum(attention_mask, axes [1], keepdims 0) - 1),
 *           total_seq_len = Cast<int32>(Gather(Shape(attention_mask), 1))
 *   layer   input norm: SimplifiedLayerNormalization (layer 0) or com.microsoft
 *           SkipSimplifiedLayerNormalization(previous MLP out, residual) (output 0 = normed, 3 = residual);
 *           packed QKV MatMulNBits (N = (heads + 2 kv_heads) head_size) -> GroupQueryAttention(qkv, '', '',
 *           past k/v, seqlens_k, total_seq_len, cos_cache, sin_cache; do_rotary 1, scale 1/sqrt(head_size))
 *           -> o_proj MatMulNBits -> SkipSimplifiedLayerNormalization(o_proj, residual) -> gate/up
 *           MatMulNBits, act = gate * Sigmoid(gate), down MatMulNBits(act * up)
 *   head    SkipSimplifiedLayerNormalization(last down, residual) output 0 only -> lm_head MatMulNBits
 * Every MatMulNBits is bits 4, block 32, accuracy_level 0, asymmetric (packed uint8 zero points, as
 * MatMul4BitsQuantizer's default), packed as docs/onnx-inputs.md specifies. cos/sin caches are
 * [max_pos, head_size / 2] from theta 10000, as the builder computes them.
 * Invariants: the same options give byte-identical models; greedyOrt feeds each step's present back
 * as the next past (first step: past of length 0) and grows attention_mask by one 1 per step.
 */
import * as ort from 'onnxruntime-node';
import { makeTensor } from '../../ir/tensor.js';
import type { Tensor } from '../../ir/types.js';
import { fromOrt, toOrt } from './ort.js';

export { buildBuilderDecoder, type DecoderOptions } from '../../bench/llm-model.js';

/** The argmax of `v` (first of equal maxima). */
export function argmax(v: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < v.length; i++) if (v[i]! > v[best]!) best = i;
  return best;
}

/** The feeds of one decode step: `ids` new tokens after `total - ids.length` cached ones, batch 1. */
export function stepFeeds(ids: number[], total: number, past: Record<string, Tensor>): Record<string, Tensor> {
  return {
    input_ids: makeTensor('i64', [1, ids.length], ids),
    attention_mask: makeTensor('i64', [1, total], new Array(total).fill(1)),
    ...past,
  };
}

/** Past tensors of length 0 for every `past_key_values.*` input of the model's graph (kv shape [1, kvHeads, 0, headSize]). */
export function emptyPast(layers: number, kvHeads: number, headSize: number, float: 'f32' | 'f16' = 'f32'): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (let i = 0; i < layers; i++)
    for (const kv of ['key', 'value']) out[`past_key_values.${i}.${kv}`] = makeTensor(float, [1, kvHeads, 0, headSize]);
  return out;
}

/** Presents (by output name) as the next step's pasts. */
export function presentsAsPast(outs: Record<string, Tensor>): Record<string, Tensor> {
  const past: Record<string, Tensor> = {};
  for (const [k, v] of Object.entries(outs)) {
    const m = /^present\.(\d+)\.(key|value)$/.exec(k);
    if (m) past[`past_key_values.${m[1]}.${m[2]}`] = v;
  }
  return past;
}

/** The last sequence position's row of logits [1, S, V]. */
export function lastLogits(logits: Tensor): Float32Array {
  const V = logits.shape[2]!;
  const S = logits.shape[1]!;
  return Float32Array.from(logits.data.subarray((S - 1) * V, S * V));
}

/**
 * Greedy decoding in onnxruntime-node (single thread, optimizations off as runOrt): step 0 runs the
 * whole prompt with empty past, then one token per step with present fed back as past; `steps`
 * tokens. Returns the tokens and each step's last-position logits.
 */
export async function greedyOrt(
  bytes: Uint8Array,
  promptIds: number[],
  steps: number,
  dims: { layers?: number; kvHeads?: number; headSize?: number; float?: 'f32' | 'f16' } = {},
  feedsOf: (ids: number[], total: number, past: Record<string, Tensor>) => Record<string, Tensor> = stepFeeds,
): Promise<{ tokens: number[]; logits: Float32Array[] }> {
  const session = await ort.InferenceSession.create(bytes, {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'disabled',
  });
  try {
    let past = emptyPast(dims.layers ?? 2, dims.kvHeads ?? 2, dims.headSize ?? 16, dims.float);
    let ids = promptIds;
    let total = promptIds.length;
    const tokens: number[] = [];
    const logits: Float32Array[] = [];
    for (let s = 0; s < steps; s++) {
      const feeds: Record<string, ort.Tensor> = {};
      for (const [k, v] of Object.entries(feedsOf(ids, total, past))) feeds[k] = toOrt(v);
      const res = await session.run(feeds);
      const outs: Record<string, Tensor> = {};
      for (const n of session.outputNames) outs[n] = fromOrt(res[n]!);
      const last = lastLogits(outs.logits!);
      logits.push(last);
      const tok = argmax(last);
      tokens.push(tok);
      past = presentsAsPast(outs);
      ids = [tok];
      total += 1;
    }
    return { tokens, logits };
  } finally {
    await session.release();
  }
}
