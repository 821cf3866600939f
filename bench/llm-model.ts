/**
 * The decoder models the LLM benchmark (bench/llm.ts) and the tests (test/helpers/decoders.ts) build:
 * a decoder-only LLM in the layout onnxruntime-genai's model builder exports for CPU int4
 * (src/python/py/models/builder.py: io float32, GroupQueryAttention with rotary inside attention, so
 * no position_ids input), with seeded random weights, at any size (the tests' tiny default, or the
 * Llama-3.2-1B shape of the benchmark).
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
 * Every MatMulNBits is bits 4 (or 2; ternary codes for the BitNet shape), block 32, accuracy_level 0
 * (or as asked: the benchmark uses the exports' 4),
 * asymmetric (packed uint8 zero points, as MatMul4BitsQuantizer's default), packed as
 * docs/onnx-inputs.md specifies. The MLP gate is SiLU (Llama) or squared ReLU (BitNet). cos/sin caches are
 * [max_pos, head_size / 2] from theta 10000, as the builder computes them.
 * Invariant: the same options give byte-identical models.
 */
import { seededRandom as seeded } from '../base/random.js';
import { encodeModel, OnnxBuilder } from '../compiler/onnx/builder.js';
import type { IModelProto } from '../compiler/onnx/proto.js';
import { makeTensor } from '../ir/tensor.js';
import type { Tensor } from '../ir/types.js';

/** The Llama-3.2-1B shape (hidden, heads, MLP, layers; vocab 32000): bench:llm's `llama`, bench:compile's `llama1b`. */
export const LLAMA_1B = { vocab: 32000, hidden: 2048, heads: 32, kvHeads: 8, headSize: 64, intermediate: 8192, layers: 16 } as const;

/** The BitNet-b1.58-2B shape (ternary codes as 2-bit MatMulNBits, squared-ReLU MLP; vocab 32000, not its 128256). */
export const BITNET_2B = {
  vocab: 32000,
  hidden: 2560,
  heads: 20,
  kvHeads: 5,
  headSize: 128,
  intermediate: 6912,
  layers: 30,
  bits: 2,
  ternary: true,
  mlpAct: 'relu2',
} as const;

/**
 * Llama-3-8B's layers (hidden 4096, 32 layers, 32/8 heads of 128, MLP 14336) at 2 bits, vocab 32000 (a
 * 128256-row float embedding would add 2.1 GB of f32 that is not the quantized layers this shape measures).
 */
export const LLAMA_8B_2BIT = {
  vocab: 32000,
  hidden: 4096,
  heads: 32,
  kvHeads: 8,
  headSize: 128,
  intermediate: 14336,
  layers: 32,
  bits: 2,
} as const;

/** A float tensor uniform in [-scale, scale) (examples/models.ts's, filled in place: the benchmark's tables are large). */
function uniform(shape: number[], scale: number, next: () => number): Tensor {
  const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < data.length; i++) data[i] = (next() * 2 - 1) * scale;
  return makeTensor('f32', shape, data);
}

export interface DecoderOptions {
  vocab?: number;
  hidden?: number;
  heads?: number;
  kvHeads?: number;
  headSize?: number;
  intermediate?: number;
  layers?: number;
  maxPos?: number;
  /** RMSNorm epsilon of every norm (the config's rms_norm_eps). */
  eps?: number;
  seed?: number;
  /** MatMulNBits bits of every linear layer (default 4). */
  bits?: 2 | 4;
  /** Ternary weights (BitNet b1.58): 2-bit codes 0..2 around zero point 1 (needs bits 2). */
  ternary?: boolean;
  /** The MLP's gate activation: SiLU (Llama, default) or squared ReLU (BitNet). */
  mlpAct?: 'silu' | 'relu2';
  /** MatMulNBits accuracy_level (default 0, exact in onnxruntime; exports use 4: int8 activations). */
  accuracyLevel?: number;
  /** The token embedding [vocab, hidden] (default: seeded uniform in [-1, 1)). */
  embedding?: Float32Array;
  /** The lm_head as float weights [hidden, vocab] (row k, column n), quantized to 4-bit MatMulNBits (default: seeded random codes). */
  lmHead?: Float32Array;
  /** Scale of every attention and MLP weight (default 1): small values leave the residual to the embedding. */
  layerScale?: number;
  /**
   * The attention input layout: 'packed' (default: one QKV MatMulNBits, rotary inside
   * GroupQueryAttention) or 'rotary-nodes' (the older onnxruntime-genai WebGPU exports: separate q/k/v
   * MatMulNBits, two com.microsoft RotaryEmbedding nodes fed by a `position_ids` input, then
   * GroupQueryAttention with separate key/value and do_rotary 0).
   */
  attention?: 'packed' | 'rotary-nodes';
  /**
   * MatMulNBits without zero_points (the default 2^(bits-1)), as onnxruntime-genai's builder writes int4
   * by default (default false: seeded zero points near the middle; ternary keeps its zero point 1).
   */
  symmetric?: boolean;
  /** GroupQueryAttention local_window_size (default -1: none). */
  localWindow?: number;
  /**
   * The linear layers' form: 'nbits' (default: MatMulNBits) or 'q8' (the transformers.js q8/int8
   * exports: DynamicQuantizeLinear of the activation, MatMulInteger with uint8 weights and a per-tensor
   * zero point, Cast to float, Mul by the two scales).
   */
  linear?: 'nbits' | 'q8';
  /**
   * The token embedding as com.microsoft GatherBlockQuantized over the lm_head's own 4-bit weights
   * (a tied embedding, as transformers.js q4 exports store it) instead of a float table.
   */
  tiedEmbedding?: boolean;
  /**
   * The model's float type (default 'f32'): 'f16' makes every float tensor half precision, as the
   * q4f16 / WebGPU fp16 exports have it: weights' scales, norms, the embedding, the rotary caches,
   * activations and the float graph I/O (past/present, logits).
   */
  float?: 'f32' | 'f16';
}

const BLOCK = 32;

/**
 * The MatMulNBits inputs B, scales, zero_points of a random `bits`-bit [K, N] weight (block 32, packed
 * uint8 zero points); `ternary`: codes 0..2 with zero point 1 (values -1, 0, 1 times the scale);
 * `symmetric` (not ternary): B and scales only, the default zero point 2^(bits-1).
 */
export function nbitsWeights(
  b: OnnxBuilder,
  name: string,
  K: number,
  N: number,
  next: () => number,
  bits = 4,
  ternary = false,
  scaleMul = 1,
  scaleType: 'f32' | 'f16' = 'f32',
  symmetric = false,
): string[] {
  const kBlocks = Math.ceil(K / BLOCK);
  const blob = (BLOCK * bits) / 8;
  const levels = 2 ** bits;
  const B = new Uint8Array(N * kBlocks * blob);
  for (let n = 0; n < N; n++)
    for (let k = 0; k < K; k++) {
      const q = Math.floor(next() * (ternary ? 3 : levels));
      const i = k % BLOCK;
      B[(n * kBlocks + Math.floor(k / BLOCK)) * blob + ((i * bits) >> 3)]! |= q << ((i * bits) & 7);
    }
  const scales = Float32Array.from({ length: N * kBlocks }, () => ((0.5 + next()) / levels / Math.sqrt(K)) * 2 * scaleMul);
  // symmetric (onnxruntime-genai's int4 default): no zero_points input, MatMulNBits' default 2^(bits-1)
  if (symmetric && !ternary)
    return [
      b.initializer(`${name}.qweight`, makeTensor('u8', [N, kBlocks, blob], B)),
      b.initializer(`${name}.scales`, makeTensor(scaleType, [N, kBlocks], scales)),
    ];
  const zpRow = Math.ceil((kBlocks * bits) / 8);
  const ZP = new Uint8Array(N * zpRow);
  for (let n = 0; n < N; n++)
    for (let kb = 0; kb < kBlocks; kb++) {
      // zero points near the middle, as a quantizer finds them for roughly symmetric weights
      const z = ternary ? 1 : bits === 4 ? 6 + Math.floor(next() * 4) : 1 + Math.floor(next() * 2);
      ZP[n * zpRow + ((kb * bits) >> 3)]! |= z << ((kb * bits) & 7);
    }
  return [
    b.initializer(`${name}.qweight`, makeTensor('u8', [N, kBlocks, blob], B)),
    b.initializer(`${name}.scales`, makeTensor(scaleType, [N, kBlocks], scales)),
    b.initializer(`${name}.qzeros`, makeTensor('u8', [N, zpRow], ZP)),
  ];
}

/**
 * MatMulNBits inputs of float weights `w` [K, N] (row k, column n): 4 bits, block 32 along K,
 * asymmetric per block (scale = (max - min) / 15, zero point round(-min / scale) in 0..15), packed as
 * nbitsWeights packs (low nibble first, uint8 zero points two per byte).
 */
export function nbitsFromFloat(
  b: OnnxBuilder,
  name: string,
  w: Float32Array,
  K: number,
  N: number,
  scaleType: 'f32' | 'f16' = 'f32',
): string[] {
  const kBlocks = Math.ceil(K / BLOCK);
  const blob = BLOCK / 2;
  const B = new Uint8Array(N * kBlocks * blob);
  const scales = new Float32Array(N * kBlocks);
  const zpRow = Math.ceil(kBlocks / 2);
  const ZP = new Uint8Array(N * zpRow);
  for (let n = 0; n < N; n++)
    for (let kb = 0; kb < kBlocks; kb++) {
      let lo = 0;
      let hi = 0;
      for (let k = kb * BLOCK; k < Math.min(K, (kb + 1) * BLOCK); k++) {
        lo = Math.min(lo, w[k * N + n]!);
        hi = Math.max(hi, w[k * N + n]!);
      }
      const scale = Math.fround((hi - lo) / 15 || 1);
      const zp = Math.min(15, Math.max(0, Math.round(-lo / scale)));
      scales[n * kBlocks + kb] = scale;
      ZP[n * zpRow + (kb >> 1)]! |= zp << ((kb & 1) * 4);
      for (let k = kb * BLOCK; k < Math.min(K, (kb + 1) * BLOCK); k++) {
        const q = Math.min(15, Math.max(0, Math.round(w[k * N + n]! / scale) + zp));
        const i = k % BLOCK;
        B[(n * kBlocks + kb) * blob + (i >> 1)]! |= q << ((i & 1) * 4);
      }
    }
  return [
    b.initializer(`${name}.qweight`, makeTensor('u8', [N, kBlocks, blob], B)),
    b.initializer(`${name}.scales`, makeTensor(scaleType, [N, kBlocks], scales)),
    b.initializer(`${name}.qzeros`, makeTensor('u8', [N, zpRow], ZP)),
  ];
}

/** Builds the decoder; returns ModelProto bytes. Defaults: vocab 64, hidden 64, 4 heads of 16, 2 KV heads, MLP 128, 2 layers, 64 positions. */
export function buildBuilderDecoder(opts: DecoderOptions = {}): Uint8Array {
  return encodeModel(buildBuilderDecoderProto(opts));
}

/**
 * The decoder as a ModelProto object, not yet serialized: what bench:compile writes with external data
 * for models past protobuf's 2 GiB message limit (an 8B-shaped model). Same options as buildBuilderDecoder.
 */
export function buildBuilderDecoderProto(opts: DecoderOptions = {}): IModelProto {
  const V = opts.vocab ?? 64;
  const D = opts.hidden ?? 64;
  const NH = opts.heads ?? 4;
  const KV = opts.kvHeads ?? 2;
  const H = opts.headSize ?? 16;
  const I = opts.intermediate ?? 128;
  const L = opts.layers ?? 2;
  const P = opts.maxPos ?? 64;
  const eps = opts.eps ?? 1e-5;
  const next = seeded(opts.seed ?? 11);
  const bits = opts.bits ?? 4;
  if (opts.ternary && bits !== 2) throw new Error('ternary weights are 2-bit codes');
  const b = new OnnxBuilder({ opset: 17, domains: { 'com.microsoft': 1 } });
  const ms = 'com.microsoft';
  const ft = opts.float ?? 'f32';
  if (ft === 'f16' && opts.linear === 'q8') throw new Error('the q8 layout is float32');
  // every float initializer in the model's float type (f16: values rounded as the file stores them)
  const init = (name: string, t: Tensor) => b.initializer(name, t.dtype === 'f32' && ft !== 'f32' ? makeTensor(ft, t.shape, t.data) : t);

  b.input('input_ids', 'i64', ['batch_size', 'sequence_length']);
  b.input('attention_mask', 'i64', ['batch_size', 'total_sequence_length']);
  const rotaryNodes = opts.attention === 'rotary-nodes';
  if (rotaryNodes) b.input('position_ids', 'i64', ['batch_size', 'sequence_length']);
  for (let i = 0; i < L; i++) {
    for (const kv of ['key', 'value']) b.input(`past_key_values.${i}.${kv}`, ft, ['batch_size', KV, 'past_sequence_length', H]);
  }

  const layerScale = opts.layerScale ?? 1;
  const linear = (name: string, x: string, K: number, N: number, float?: Float32Array): string => {
    if (opts.linear === 'q8' && !float) {
      const [xq, xs, xz] = b.node('DynamicQuantizeLinear', [x], {
        name: `${name}/DynamicQuantizeLinear`,
        outputs: [`${name}/x_q`, `${name}/x_scale`, `${name}/x_zero_point`],
      }) as [string, string, string];
      const w = Uint8Array.from({ length: K * N }, () => Math.floor(next() * 256));
      const wq = b.initializer(`${name}.weight_quantized`, makeTensor('u8', [K, N], w));
      const wz = b.initializer(`${name}.weight_zero_point`, makeTensor('u8', [], [128]));
      const ws = b.initializer(`${name}.weight_scale`, makeTensor('f32', [], [Math.fround((2 * layerScale) / 128 / Math.sqrt(K))]));
      const [acc] = b.node('MatMulInteger', [xq, wq, xz, wz], { name: `${name}/MatMulInteger` });
      const [f] = b.node('Cast', [acc!], { attrs: { to: 1 }, name: `${name}/Cast` });
      const [sc] = b.node('Mul', [xs, ws], { name: `${name}/scale` });
      return b.node('Mul', [f!, sc!], { name: `${name}/Mul` })[0]!;
    }
    const weights = float
      ? nbitsFromFloat(b, name, float, K, N, ft)
      : nbitsWeights(b, name, K, N, next, bits, opts.ternary, layerScale, ft, opts.symmetric);
    const [y] = b.node('MatMulNBits', [x, ...weights], {
      domain: ms,
      attrs: { K, N, bits: float ? 4 : bits, block_size: BLOCK, accuracy_level: opts.accuracyLevel ?? 0 },
      name: `${name}/MatMul`,
    });
    return y!;
  };
  const gamma = (name: string) => {
    const g = uniform([D], 0.2, next);
    for (let j = 0; j < D; j++) g.data[j] = Math.fround(1 + g.data[j]!);
    return init(name, g);
  };
  const skipNorm = (name: string, x: string, skip: string, last = false): [string, string] => {
    const outs = b.node('SkipSimplifiedLayerNormalization', [x, skip, gamma(`${name}.weight`)], {
      domain: ms,
      attrs: { epsilon: b.float(eps) },
      outputs: last ? [`${name}/output_0`] : [`${name}/output_0`, '', '', `${name}/output_3`],
      name: `${name}/SkipLayerNorm`,
    });
    return [outs[0]!, outs[3] ?? ''];
  };

  // /model/embed_tokens
  // a tied embedding reads the lm_head's 4-bit weights (made first, so both use the same ones)
  const lmHeadWeights = opts.tiedEmbedding
    ? opts.lmHead
      ? nbitsFromFloat(b, '/lm_head', opts.lmHead, D, V, ft)
      : nbitsWeights(b, '/lm_head', D, V, next, 4, false, 1, ft)
    : undefined;
  let embeds: string;
  if (lmHeadWeights) {
    if (bits !== 4) throw new Error('a tied embedding shares the 4-bit lm_head');
    const [q, sc, zp] = lmHeadWeights as [string, string, string];
    const [flat] = b.node('Reshape', [q, b.initializer('/model/embed_tokens/shape', makeTensor('i64', [2], [V, D / 2]))]);
    [embeds] = b.node('GatherBlockQuantized', [flat!, 'input_ids', sc, zp], {
      domain: ms,
      attrs: { bits: 4, block_size: BLOCK, gather_axis: 0, quantize_axis: 1 },
      name: '/model/embed_tokens/GatherBlockQuantized',
    }) as [string];
  } else {
    const embedTable = opts.embedding ? makeTensor('f32', [V, D], opts.embedding) : uniform([V, D], 1, next);
    [embeds] = b.node('Gather', [init('model.embed_tokens.weight', embedTable), 'input_ids'], {
      name: '/model/embed_tokens/Gather',
    }) as [string];
  }

  // /model/attn_mask_reformat
  const [sum] = b.node('ReduceSum', ['attention_mask', b.initializer('/model/constants/INT64/[1]', makeTensor('i64', [1], [1]))], {
    attrs: { keepdims: 0 },
  });
  const one = b.initializer('/model/constants/INT64/1', makeTensor('i64', [], [1]));
  const [sub] = b.node('Sub', [sum!, one]);
  const [seqlensK] = b.node('Cast', [sub!], { attrs: { to: 6 } });
  const [shape] = b.node('Shape', ['attention_mask']);
  const [tot] = b.node('Gather', [shape!, one], { attrs: { axis: 0 } });
  const [totalSeqLen] = b.node('Cast', [tot!], { attrs: { to: 6 } });

  // rotary caches: inv_freq = theta^(-2j/H), cos/sin(t * inv_freq), t = 0 .. max_pos-1
  const half = H / 2;
  const ang = Array.from({ length: P * half }, (_, i) => Math.floor(i / half) * 10000 ** (-(2 * (i % half)) / H));
  const cos = init('cos_cache', makeTensor('f32', [P, half], ang.map(Math.cos)));
  const sin = init('sin_cache', makeTensor('f32', [P, half], ang.map(Math.sin)));

  let residual = embeds;
  let layerIn = '';
  for (let i = 0; i < L; i++) {
    const pre = `/model/layers.${i}`;
    let normed: string;
    if (i === 0) {
      [normed] = b.node('SimplifiedLayerNormalization', [embeds, gamma(`model.layers.${i}.input_layernorm.weight`)], {
        attrs: { epsilon: b.float(eps), axis: -1, stash_type: 1 },
        name: `${pre}/input_layernorm/LayerNorm`,
      }) as [string];
    } else {
      [normed, residual] = skipNorm(`${pre}/input_layernorm`, layerIn, residual);
    }
    const gqaAttrs = {
      num_heads: NH,
      kv_num_heads: KV,
      scale: b.float(1 / Math.sqrt(H)),
      local_window_size: opts.localWindow ?? -1,
      softcap: b.float(0),
      do_rotary: rotaryNodes ? 0 : 1,
      rotary_interleaved: 0,
    };
    let gqaIn: string[];
    if (rotaryNodes) {
      const rope = (x: string, heads: number, what: string) =>
        b.node('RotaryEmbedding', [x, 'position_ids', cos, sin], {
          domain: ms,
          attrs: { interleaved: 0, num_heads: heads },
          name: `${pre}/attn/${what}_rotary/RotaryEmbedding`,
        })[0]!;
      const q = rope(linear(`${pre}/attn/q_proj`, normed, D, NH * H), NH, 'q');
      const k = rope(linear(`${pre}/attn/k_proj`, normed, D, KV * H), KV, 'k');
      const v = linear(`${pre}/attn/v_proj`, normed, D, KV * H);
      gqaIn = [q, k, v];
    } else gqaIn = [linear(`${pre}/attn/qkv_proj`, normed, D, (NH + 2 * KV) * H), '', ''];
    const [attn] = b.node(
      'GroupQueryAttention',
      [...gqaIn, `past_key_values.${i}.key`, `past_key_values.${i}.value`, seqlensK!, totalSeqLen!, ...(rotaryNodes ? [] : [cos, sin])],
      {
        domain: ms,
        attrs: gqaAttrs,
        outputs: [`${pre}/attn/GroupQueryAttention/output_0`, `present.${i}.key`, `present.${i}.value`],
        name: `${pre}/attn/GroupQueryAttention`,
      },
    );
    const o = linear(`${pre}/attn/o_proj`, attn!, NH * H, D);
    const [post, res2] = skipNorm(`${pre}/post_attention_layernorm`, o, residual);
    residual = res2;
    const gate = linear(`${pre}/mlp/gate_proj`, post, D, I);
    const up = linear(`${pre}/mlp/up_proj`, post, D, I);
    let act: string | undefined;
    if (opts.mlpAct === 'relu2') {
      const [r] = b.node('Relu', [gate]);
      [act] = b.node('Mul', [r!, r!]);
    } else {
      const [sig] = b.node('Sigmoid', [gate]);
      [act] = b.node('Mul', [gate, sig!]);
    }
    const [gated] = b.node('Mul', [act!, up]);
    layerIn = linear(`${pre}/mlp/down_proj`, gated!, I, D);
  }
  const [finalNorm] = skipNorm('/model/layers.final_norm_layernorm', layerIn, residual, true);
  const logits = lmHeadWeights
    ? b.node('MatMulNBits', [finalNorm, ...lmHeadWeights], {
        domain: ms,
        attrs: { K: D, N: V, bits: 4, block_size: BLOCK, accuracy_level: opts.accuracyLevel ?? 0 },
        name: '/lm_head/MatMul',
      })[0]!
    : linear('/lm_head', finalNorm, D, V, opts.lmHead);
  b.node('Identity', [logits], { outputs: ['logits'] });

  b.output('logits', ft, ['batch_size', 'sequence_length', V]);
  for (let i = 0; i < L; i++) {
    for (const kv of ['key', 'value']) b.output(`present.${i}.${kv}`, ft, ['batch_size', KV, 'total_sequence_length', H]);
  }
  return b.toModelProto();
}
