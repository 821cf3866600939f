/**
 * An onnxruntime-genai-builder-layout int4 decoder (test/helpers/decoders.ts: float embedding Gather,
 * SimplifiedLayerNormalization / SkipSimplifiedLayerNormalization, packed-QKV MatMulNBits,
 * GroupQueryAttention with rotary and a KV cache, SiLU-gated MLP, lm_head MatMulNBits) decoded
 * greedily for 8 steps: (1) onnxruntime-node runs it with a growing cache; (2) lutc's interpreter,
 * importing the model with each step's concrete input shapes and feeding its own presents back,
 * yields the same tokens and, every step, last-position logits within F32_EXACT (2e-6) of max|ref|.
 * Tolerance: ORT computes the int4 GEMMs in float (MLAS on dequantized weights, accuracy_level 0) and
 * GQA's softmax and P·V in float, the interpreter accumulates in double and rounds to float: the same
 * f32-rounding class as F32_EXACT, measured 9.5e-8 .. 3.7e-7 per step over seeds 11-13. A looser 1e-4
 * would not do: one RMSNorm epsilon read 10x wrong moves these logits by only 1.0e-4 .. 2.1e-4.
 */
import { describe, expect, it } from 'vitest';
import { importOnnx } from '../../compiler/onnx/index.js';
import { interpret } from '../../ir/interpret.js';
import type { Tensor } from '../../ir/types.js';
import { argmax, buildBuilderDecoder, emptyPast, greedyOrt, lastLogits, presentsAsPast, stepFeeds } from '../helpers/decoders.js';
import { F32_EXACT, maxRel } from '../helpers/tolerance.js';

const PROMPT = [5, 17, 42, 3, 60, 9];
const STEPS = 8;

describe('onnxruntime-genai builder decoder (int4, GQA + KV cache)', () => {
  const bytes = buildBuilderDecoder();

  it('onnxruntime-node greedy-decodes 8 tokens; lutc interpret matches tokens and logits each step', async () => {
    const ref = await greedyOrt(bytes, PROMPT, STEPS);
    expect(ref.tokens).toHaveLength(STEPS);
    expect(ref.logits).toHaveLength(STEPS);
    for (const l of ref.logits) {
      expect(l).toHaveLength(64);
      expect(l.every(Number.isFinite)).toBe(true);
    }
    // the logits depend on the step (the cache is used): not one repeated row
    expect(maxRel(ref.logits[1]!, ref.logits[STEPS - 1]!)).toBeGreaterThan(1e-2);

    let past: Record<string, Tensor> = emptyPast(2, 2, 16);
    let ids = PROMPT;
    let total = PROMPT.length;
    const tokens: number[] = [];
    const errs: number[] = [];
    for (let s = 0; s < STEPS; s++) {
      const feeds = stepFeeds(ids, total, past);
      const inputShapes = Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, v.shape]));
      const g = importOnnx(bytes, { inputShapes });
      const outs = interpret(g, feeds);
      const named: Record<string, Tensor> = {};
      g.outputs.forEach((o, i) => {
        named[o.name] = outs[i]!;
      });
      expect(named.logits!.shape).toEqual([1, ids.length, 64]);
      expect(named['present.0.key']!.shape).toEqual([1, 2, total, 16]);
      const last = lastLogits(named.logits!);
      errs.push(maxRel(last, ref.logits[s]!));
      const tok = argmax(last);
      tokens.push(tok);
      past = presentsAsPast(named);
      ids = [tok];
      total += 1;
    }
    expect(tokens).toEqual(ref.tokens);
    for (let s = 0; s < STEPS; s++)
      expect(errs[s], `step ${s} (all: ${errs.map((e) => e.toExponential(2))})`).toBeLessThanOrEqual(F32_EXACT);
  });
});
