/**
 * The test decoders (onnxruntime-genai builder layout, test/helpers/decoders.ts, also in its older
 * WebGPU form with RotaryEmbedding nodes and position_ids, with a sliding window, and with a tied
 * GatherBlockQuantized embedding, with q8 linear layers (DynamicQuantizeLinear + MatMulInteger), and
 * in q4f16 (every float tensor f16, as the WebGPU fp16 / transformers.js q4f16 exports);
 * optimum layout, test/helpers/optimum-decoder.ts) greedy-decoded through ONE compiled artifact per target: imported
 * once with the batch frozen to 1 and every other input symbol a runtime dim (bound `MAX_LENGTH`),
 * lowered with f32 tables, opened once (the target's `openArtifact`), and driven by lutc's own
 * generation loop (compiler/generate.ts, the loop `lutc generate` runs), from an empty cache.
 * `checkCompiledDecoder` compares with onnxruntime-node's greedy loop: the same tokens, and at every
 * step the last-position logits within `LOGITS_TOL` of max|ref|.
 *
 * Tolerance: 1e-4 of max|ref| (the bound for compiled targets). The interpreter meets 2e-6
 * (F32_EXACT) on these models; compiled kernels sum in other orders in float (matmul, LUT f32 tables)
 * over at most 2 layers of K <= 128: measured 1.4e-7 .. 4.3e-7 per step on c (both decoders).
 */
import { expect } from 'vitest';
import type { LoadedArtifact } from '../../backends/target-info.js';
import { decoderIO, generate, pickToken } from '../../compiler/generate.js';
import { inputSymbols } from '../../compiler/input-dims.js';
import { importOnnx } from '../../compiler/onnx/index.js';
import { runPipeline } from '../../compiler/pipeline.js';
import { makeTensor } from '../../ir/tensor.js';
import type { Graph, Tensor } from '../../ir/types.js';
import { buildBuilderDecoder, greedyOrt, stepFeeds } from './decoders.js';
import { buildOptimumDecoder, greedyOrtOptimum } from './optimum-decoder.js';
import { maxRel } from './tolerance.js';

export const LOGITS_TOL = 1e-4;
/** The bound of every sequence dim. */
export const MAX_LENGTH = 48;
const PROMPT = [5, 17, 42, 3, 60, 9];

export interface CompiledDecoderCase {
  name: string;
  model: () => Uint8Array;
  steps: number;
  reference: (bytes: Uint8Array, prompt: number[], steps: number) => Promise<{ tokens: number[]; logits: Float32Array[] }>;
  /** The logits bound of this layout, where its numerics differ from LOGITS_TOL's (stated at the case). */
  logitsTol?: number;
}

/**
 * The q4f16 bound: every activation of that model is f16, so each op's result is rounded to f16
 * (unit roundoff 2^-11 = 4.9e-4). lutc computes linear layers, norms and attention in f32 and rounds
 * to f16 where the model's types say; onnxruntime's CPU runs some ops in f16 and others in f32 behind
 * inserted casts, so the two differ by a few f16 roundings over 2 layers. Bound: 4 roundoffs of
 * max|ref| (2e-3); measured 4.2e-4 .. 9.9e-4 on c and wasm.
 */
export const F16_LOGITS_TOL = 4 * 2 ** -11;

/** The builder's step feeds plus position_ids (past + i), for the layout with RotaryEmbedding nodes. */
const withPositions = (ids: number[], total: number, past: Record<string, Tensor>): Record<string, Tensor> => ({
  ...stepFeeds(ids, total, past),
  position_ids: makeTensor(
    'i64',
    [1, ids.length],
    ids.map((_, i) => total - ids.length + i),
  ),
});

export const COMPILED_DECODERS: CompiledDecoderCase[] = [
  {
    name: 'onnxruntime-genai builder layout (GroupQueryAttention), 12 tokens',
    model: () => buildBuilderDecoder({ seed: 21 }),
    steps: 12,
    reference: greedyOrt,
  },
  {
    name: 'older onnxruntime-genai WebGPU layout (q/k/v MatMulNBits, RotaryEmbedding nodes, position_ids), 12 tokens',
    model: () => buildBuilderDecoder({ seed: 21, attention: 'rotary-nodes' }),
    steps: 12,
    reference: (b, p, s) => greedyOrt(b, p, s, {}, withPositions),
  },
  {
    name: 'builder layout with a sliding window (local_window_size 4), 12 tokens',
    model: () => buildBuilderDecoder({ seed: 21, localWindow: 4 }),
    steps: 12,
    reference: greedyOrt,
  },
  {
    name: 'builder layout with a tied GatherBlockQuantized embedding (4-bit, the lm_head weights), 12 tokens',
    model: () => buildBuilderDecoder({ seed: 1, tiedEmbedding: true }),
    steps: 12,
    reference: greedyOrt,
  },
  {
    name: 'builder layout with q8 linear layers (DynamicQuantizeLinear + MatMulInteger + Cast + Mul), 12 tokens',
    model: () => buildBuilderDecoder({ seed: 21, linear: 'q8' }),
    steps: 12,
    reference: greedyOrt,
  },
  {
    name: 'q4f16 builder layout (f16 scales, norms, embedding, rotary caches, activations, past/present and logits), 12 tokens',
    model: () => buildBuilderDecoder({ seed: 21, float: 'f16' }),
    steps: 12,
    reference: (b, p, s) => greedyOrt(b, p, s, { float: 'f16' }),
    logitsTol: F16_LOGITS_TOL,
  },
  {
    name: 'optimum layout (decomposed attention, dynamic reshapes, Range/Where mask), 32 tokens',
    model: () => buildOptimumDecoder(),
    steps: 32,
    reference: (b, p, s) => greedyOrtOptimum(b, p, s),
  },
];

/** The decoder graph for a target: batch 1, the other input symbols runtime dims up to MAX_LENGTH. */
export function lowerDecoder(bytes: Uint8Array, target: 'c' | 'wasm' | 'wgsl', tables: 'f32' | 'i8' = 'f32'): Graph {
  const probe = importOnnx(bytes);
  const batch = probe.inputs.find((v) => v.name === 'input_ids')!.type.shape[0];
  const g = importOnnx(bytes, typeof batch === 'string' ? { dimBindings: { [batch]: 1 } } : {});
  g.meta = { ...g.meta, dimBounds: Object.fromEntries([...inputSymbols(g)].map((s) => [s, MAX_LENGTH])) };
  return runPipeline(g, { target, tables }).graph;
}

/** Decodes `c` through one artifact from `open` and checks it against onnxruntime-node. */
export async function checkCompiledDecoder(
  c: CompiledDecoderCase,
  target: 'c' | 'wasm' | 'wgsl',
  open: (g: Graph) => Promise<LoadedArtifact> | LoadedArtifact,
): Promise<void> {
  const bytes = c.model();
  const ref = await c.reference(bytes, PROMPT, c.steps);
  const g = lowerDecoder(bytes, target);
  const art = await open(g);
  try {
    const got = await generate(decoderIO(g), (feeds) => art.run(feeds), PROMPT, { maxNewTokens: c.steps });
    expect(got.tokens).toEqual(ref.tokens);
    const errs = got.logits.map((l, s) => maxRel(l, ref.logits[s]!));
    for (const [s, e] of errs.entries())
      expect(e, `step ${s} (all: ${errs.map((x) => x.toExponential(1))})`).toBeLessThanOrEqual(c.logitsTol ?? LOGITS_TOL);
  } finally {
    await art.close();
  }
}

/**
 * The int8-table criterion: every layout of COMPILED_DECODERS lowered with int8 tables (the
 * default, activations quantized per table group) and run teacher-forced on onnxruntime-node's greedy
 * tokens (each step's logits are replaced, after lutc's argmax is recorded, by onnxruntime's, so both
 * follow one token path and every step is comparable). Returns lutc's argmax agreements over all
 * steps of all layouts; the caller asserts >= 95%. int8 tables round each activation group to 8 bits,
 * so a near-tie of the top two logits may flip: agreement, not equality, is the bound.
 */
export async function int8ArgmaxAgreement(
  target: 'c' | 'wasm' | 'wgsl',
  open: (g: Graph) => Promise<LoadedArtifact> | LoadedArtifact,
): Promise<{ agree: number; steps: number; misses: string[] }> {
  let agree = 0;
  let steps = 0;
  const misses: string[] = [];
  for (const c of COMPILED_DECODERS) {
    const bytes = c.model();
    const ref = await c.reference(bytes, PROMPT, c.steps);
    const g = lowerDecoder(bytes, target, 'i8');
    const io = decoderIO(g);
    const li = io.outputs.indexOf(io.logits);
    const art = await open(g);
    try {
      let s = 0;
      await generate(
        io,
        async (feeds) => {
          const outs = await art.run(feeds);
          const t = outs[li]!;
          const V = t.shape[t.shape.length - 1]!;
          const mine = pickToken(Float32Array.from(t.data.subarray(t.data.length - V) as ArrayLike<number>), 0, 0, 1, () => 0);
          steps++;
          if (mine === ref.tokens[s]) agree++;
          else misses.push(`${c.name} step ${s}: ${mine} vs ${ref.tokens[s]}`);
          outs[li] = makeTensor('f32', [1, 1, V], ref.logits[s]!);
          s++;
          return outs;
        },
        PROMPT,
        { maxNewTokens: c.steps },
      );
    } finally {
      await art.close();
    }
  }
  return { agree, steps, misses };
}
