/**
 * A tiny decoder-only LLM (Llama) in the layout optimum exports (what transformers.js `model_q4.onnx`
 * files contain: attention decomposed into plain ONNX ops, position_ids an input, int4 linears as
 * com.microsoft MatMulNBits), with seeded random weights; its per-step feeds; and a greedy decoder
 * that runs it in onnxruntime-node with a growing KV cache.
 *
 * Graph (per layer i):
 *   inputs  input_ids i64 [batch_size, sequence_length], attention_mask i64 [batch_size, total_sequence_length],
 *           position_ids i64 [batch_size, sequence_length],
 *           past_key_values.{i}.key / .value f32 [batch_size, kv_heads, past_sequence_length, head_size]
 *   outputs logits f32 [batch_size, sequence_length, vocab],
 *           present.{i}.key / .value f32 [batch_size, kv_heads, total_sequence_length, head_size]
 *   embed   Gather(float table [vocab, hidden], input_ids)
 *   norm    RMSNorm as torch.onnx exports LlamaRMSNorm: Mul(weight, Mul(x, 1 / Sqrt(ReduceMean(Pow(x, 2),
 *           axes [-1]) + eps))); 1 / s is Div(1, s) in the layers and Reciprocal(s) in the final norm
 *   mask    built once: key_pos = Range(0, Gather(Shape(attention_mask), 1), 1) as [1, 1, 1, T];
 *           allowed = And(LessOrEqual(key_pos, position_ids as [B, 1, S, 1]), Equal(attention_mask as
 *           [B, 1, 1, T], 1)); bias = Where(allowed, 0, f32 lowest) [B, 1, S, T]
 *   rotary  cos/sin tables [max_pos, head_size] (HF's cat(freqs, freqs), theta 10000) gathered by
 *           position_ids and unsqueezed to [B, 1, S, H]; x * cos + rotate_half(x) * sin with rotate_half =
 *           Concat(Neg(Slice(x, H/2..H)), Slice(x, 0..H/2)) on the last axis (constant starts / ends;
 *           ends H, not torch's INT64_MAX: compiler/onnx/tensor.ts writes i64 initializers from doubles,
 *           and 2^63 - 1 rounds to 2^63, which setBigInt64 wraps to INT64_MIN)
 *   layer   q/k/v MatMulNBits -> Reshape to [B, S, heads, H] (shape tensor from Shape / Gather / Unsqueeze
 *           / Concat at run time) -> Transpose to BNSH -> rotary on q, k; present = Concat(past, new,
 *           axis 2); repeat_kv = Reshape(Expand(Unsqueeze(present, 2), [B, KV, heads/KV, T, H]),
 *           [B, heads, T, H]) with both shapes from Shape(present) at run time;
 *           Softmax(MatMul(q, Transpose(k)) * 1/sqrt(H) + bias) -> MatMul(v) -> Transpose -> Reshape to
 *           [B, S, hidden] (run-time shape) -> o_proj MatMulNBits -> residual Add; post norm -> gate / up
 *           MatMulNBits, down MatMulNBits(gate * Sigmoid(gate) * up) -> residual Add
 *   head    final norm -> lm_head MatMulNBits -> logits
 * Every MatMulNBits is bits 4, block 32, accuracy_level 0, asymmetric (packed uint8 zero points),
 * packed as docs/onnx-inputs.md specifies (the same packing as test/helpers/decoders.ts, which does
 * not export it). Opset 17 (ReduceMean's axes an attribute, Unsqueeze's an input).
 * Invariants: the same options give byte-identical models; greedyOrtOptimum feeds each step's present
 * back as the next past (first step: past of length 0), grows attention_mask by one 1 per step and
 * sets position_ids to past .. past + S - 1.
 */
import { type DecoderOptions, nbitsWeights } from '../../bench/llm-model.js';
import { OnnxBuilder } from '../../compiler/onnx/builder.js';
import { makeTensor } from '../../ir/tensor.js';
import type { Tensor } from '../../ir/types.js';
import { argmax, emptyPast, greedyOrt, lastLogits, presentsAsPast } from './decoders.js';
import { seeded, uniform } from './models.js';

export { argmax, emptyPast, lastLogits, presentsAsPast };

/** The builder decoder's size options (bench/llm-model.ts); the optimum layout is 4-bit, SiLU, accuracy_level 0. */
export type OptimumDecoderOptions = Omit<DecoderOptions, 'bits' | 'ternary' | 'mlpAct' | 'accuracyLevel'>;

/** The model dims greedyOrtOptimum and emptyPast need (defaults: the builder's). */
export interface OptimumDims {
  layers?: number;
  kvHeads?: number;
  headSize?: number;
}

const MS = 'com.microsoft';
/** The most negative f32: torch.finfo(float32).min, the fill optimum's exported masks use. */
const F32_LOWEST = -3.4028234663852886e38;

/**
 * Builds the decoder; returns ModelProto bytes. Defaults: vocab 64, hidden 64, 4 heads of 16, 2 KV
 * heads, MLP 128, 2 layers, 64 positions, eps 1e-5, seed 21.
 */
export function buildOptimumDecoder(opts: OptimumDecoderOptions = {}): Uint8Array {
  const V = opts.vocab ?? 64;
  const D = opts.hidden ?? 64;
  const NH = opts.heads ?? 4;
  const KV = opts.kvHeads ?? 2;
  const H = opts.headSize ?? 16;
  const I = opts.intermediate ?? 128;
  const L = opts.layers ?? 2;
  const P = opts.maxPos ?? 64;
  const eps = opts.eps ?? 1e-5;
  const next = seeded(opts.seed ?? 21);
  const b = new OnnxBuilder({ opset: 17, domains: { [MS]: 1 } });

  b.input('input_ids', 'i64', ['batch_size', 'sequence_length']);
  b.input('attention_mask', 'i64', ['batch_size', 'total_sequence_length']);
  b.input('position_ids', 'i64', ['batch_size', 'sequence_length']);
  for (let i = 0; i < L; i++)
    for (const kv of ['key', 'value']) b.input(`past_key_values.${i}.${kv}`, 'f32', ['batch_size', KV, 'past_sequence_length', H]);

  // constants, each once (as exporters' Constant nodes, here initializers)
  const consts = new Map<string, string>();
  const i64 = (v: number[], scalar = false): string => {
    const key = `i64${scalar ? 's' : ''}[${v.join(',')}]`;
    let n = consts.get(key);
    if (!n) {
      n = b.initializer(`/model/constants/INT64/${key}`, makeTensor('i64', scalar ? [] : [v.length], v));
      consts.set(key, n);
    }
    return n;
  };
  const f32 = (v: number): string => {
    const key = `f32(${v})`;
    let n = consts.get(key);
    if (!n) {
      n = b.initializer(`/model/constants/FLOAT/${v}`, makeTensor('f32', [], [v]));
      consts.set(key, n);
    }
    return n;
  };
  const op = (type: string, inputs: string[], attrs?: Parameters<OnnxBuilder['node']>[2]): string => b.node(type, inputs, attrs)[0]!;
  const unsqueeze = (x: string, axes: number[]) => op('Unsqueeze', [x, i64(axes)]);
  /** Dim `axis` of `x`'s run-time shape, as a [1] i64 tensor (Shape -> Gather -> Unsqueeze). */
  const dimOf = (x: string, axis: number) => unsqueeze(op('Gather', [op('Shape', [x]), i64([axis], true)], { attrs: { axis: 0 } }), [0]);

  const linear = (name: string, x: string, K: number, N: number, out?: string): string =>
    b.node('MatMulNBits', [x, ...nbitsWeights(b, name, K, N, next)], {
      domain: MS,
      attrs: { K, N, bits: 4, block_size: 32, accuracy_level: 0 },
      name: `${name}/MatMul`,
      ...(out ? { outputs: [out] } : {}),
    })[0]!;
  const rmsNorm = (name: string, x: string, reciprocal = false): string => {
    const g = uniform([D], 0.2, next);
    for (let j = 0; j < D; j++) g.data[j] = Math.fround(1 + g.data[j]!);
    const w = b.initializer(`${name}.weight`, g);
    const variance = op('ReduceMean', [op('Pow', [x, f32(2)])], { attrs: { axes: [-1], keepdims: 1 } });
    const s = op('Sqrt', [op('Add', [variance, f32(eps)])]);
    const inv = reciprocal ? op('Reciprocal', [s]) : op('Div', [f32(1), s]);
    return op('Mul', [w, op('Mul', [x, inv])]);
  };

  const embeds = op('Gather', [b.initializer('model.embed_tokens.weight', uniform([V, D], 1, next)), 'input_ids']);

  // causal + padding bias [B, 1, S, T]
  const T = op('Gather', [op('Shape', ['attention_mask']), i64([1], true)], { attrs: { axis: 0 } });
  const keyPos = unsqueeze(op('Range', [i64([0], true), T, i64([1], true)]), [0, 1, 2]);
  const causal = op('LessOrEqual', [keyPos, unsqueeze('position_ids', [1, 3])]);
  const notPad = op('Equal', [unsqueeze('attention_mask', [1, 2]), i64([1], true)]);
  const bias = op('Where', [op('And', [causal, notPad]), f32(0), f32(F32_LOWEST)]);

  // rotary tables [P, H]: emb = cat(freqs, freqs), freqs[t, j] = t * theta^(-2j/H)
  const half = H / 2;
  const ang = Array.from({ length: P * H }, (_, i) => Math.floor(i / H) * 10000 ** (-(2 * ((i % H) % half)) / H));
  const cosT = b.initializer('model.rotary_emb.cos', makeTensor('f32', [P, H], ang.map(Math.cos)));
  const sinT = b.initializer('model.rotary_emb.sin', makeTensor('f32', [P, H], ang.map(Math.sin)));
  const cos = unsqueeze(op('Gather', [cosT, 'position_ids']), [1]);
  const sin = unsqueeze(op('Gather', [sinT, 'position_ids']), [1]);
  const rotary = (x: string): string => {
    const x1 = op('Slice', [x, i64([0]), i64([half]), i64([-1])]);
    const x2 = op('Slice', [x, i64([half]), i64([H]), i64([-1])]);
    const rot = op('Concat', [op('Neg', [x2]), x1], { attrs: { axis: -1 } });
    return op('Add', [op('Mul', [x, cos]), op('Mul', [rot, sin])]);
  };
  /** [B, S, n*H] -> [B, n, S, H], the [B, S, n, H] shape read from `x` at run time. */
  const toHeads = (x: string, n: number): string => {
    const shape = op('Concat', [dimOf(x, 0), dimOf(x, 1), i64([n]), i64([H])], { attrs: { axis: 0 } });
    return op('Transpose', [op('Reshape', [x, shape])], { attrs: { perm: [0, 2, 1, 3] } });
  };
  /** HF's repeat_kv: [B, KV, T, H] -> [B, NH, T, H] by Unsqueeze + Expand + Reshape, shapes from Shape(x). */
  const repeatKv = (x: string): string => {
    const [bd, td] = [dimOf(x, 0), dimOf(x, 2)];
    const expandShape = op('Concat', [bd, i64([KV]), i64([NH / KV]), td, i64([H])], { attrs: { axis: 0 } });
    const expanded = op('Expand', [unsqueeze(x, [2]), expandShape]);
    return op('Reshape', [expanded, op('Concat', [bd, i64([NH]), td, i64([H])], { attrs: { axis: 0 } })]);
  };

  let hidden = embeds;
  for (let i = 0; i < L; i++) {
    const pre = `/model/layers.${i}`;
    const normed = rmsNorm(`model.layers.${i}.input_layernorm`, hidden);
    const q = rotary(toHeads(linear(`${pre}/self_attn/q_proj`, normed, D, NH * H), NH));
    const k = rotary(toHeads(linear(`${pre}/self_attn/k_proj`, normed, D, KV * H), KV));
    const v = toHeads(linear(`${pre}/self_attn/v_proj`, normed, D, KV * H), KV);
    const presentK = b.node('Concat', [`past_key_values.${i}.key`, k], { attrs: { axis: 2 }, outputs: [`present.${i}.key`] })[0]!;
    const presentV = b.node('Concat', [`past_key_values.${i}.value`, v], { attrs: { axis: 2 }, outputs: [`present.${i}.value`] })[0]!;
    const kT = op('Transpose', [repeatKv(presentK)], { attrs: { perm: [0, 1, 3, 2] } });
    const scores = op('Add', [op('Mul', [op('MatMul', [q, kT]), f32(Math.fround(1 / Math.sqrt(H)))]), bias]);
    const probs = op('Softmax', [scores], { attrs: { axis: -1 } });
    const ctx = op('Transpose', [op('MatMul', [probs, repeatKv(presentV)])], { attrs: { perm: [0, 2, 1, 3] } });
    const merged = op('Reshape', [ctx, op('Concat', [dimOf(ctx, 0), dimOf(ctx, 1), i64([NH * H])], { attrs: { axis: 0 } })]);
    const attnOut = op('Add', [hidden, linear(`${pre}/self_attn/o_proj`, merged, NH * H, D)]);
    const post = rmsNorm(`model.layers.${i}.post_attention_layernorm`, attnOut);
    const gate = linear(`${pre}/mlp/gate_proj`, post, D, I);
    const up = linear(`${pre}/mlp/up_proj`, post, D, I);
    const act = op('Mul', [op('Mul', [gate, op('Sigmoid', [gate])]), up]);
    hidden = op('Add', [attnOut, linear(`${pre}/mlp/down_proj`, act, I, D)]);
  }
  linear('/lm_head', rmsNorm('model.norm', hidden, true), D, V, 'logits');

  b.output('logits', 'f32', ['batch_size', 'sequence_length', V]);
  for (let i = 0; i < L; i++)
    for (const kv of ['key', 'value']) b.output(`present.${i}.${kv}`, 'f32', ['batch_size', KV, 'total_sequence_length', H]);
  return b.toBytes();
}

/**
 * The feeds of one decode step, batch 1: `ids` new tokens after `total - ids.length` cached ones
 * (attention_mask all ones of length `total`, position_ids total - ids.length .. total - 1), and `past`.
 */
export function stepFeedsOptimum(ids: number[], total: number, past: Record<string, Tensor>): Record<string, Tensor> {
  const start = total - ids.length;
  return {
    input_ids: makeTensor('i64', [1, ids.length], ids),
    attention_mask: makeTensor('i64', [1, total], new Array(total).fill(1)),
    position_ids: makeTensor(
      'i64',
      [1, ids.length],
      ids.map((_, j) => start + j),
    ),
    ...past,
  };
}

/**
 * Greedy decoding in onnxruntime-node (single thread, optimizations off as runOrt): step 0 runs the
 * whole prompt with empty past, then one token per step with present fed back as past; `steps`
 * tokens. Returns the tokens and each step's last-position logits.
 */
export function greedyOrtOptimum(
  bytes: Uint8Array,
  promptIds: number[],
  steps: number,
  dims: OptimumDims = {},
): Promise<{ tokens: number[]; logits: Float32Array[] }> {
  return greedyOrt(bytes, promptIds, steps, dims, stepFeedsOptimum);
}
