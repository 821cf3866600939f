/**
 * fuse-attention on the optimum-layout test decoder (test/helpers/optimum-decoder.ts, 2 layers): one
 * group_query_attention (causal 0, 4 heads on 2 KV heads) per layer and no softmax left, the presents
 * (graph outputs present.{i}.key/value) produced by those nodes, and after the whole wasm pipeline
 * every cache pair served by the shared past/present buffer (backends/model-plan.ts gqaCachePairs).
 * The interpreter's logits of the fused graph against the unfused one: GQA computes scores, softmax
 * and P·V in double where the chain rounds each op to f32, a few f32 ulps per attention output that
 * 2 layers of K <= 128 carry to the logits: bound 1e-5 of max|output| per output.
 * The FileCheck cases (fuse-attention.lut) pin the rewritten IR and the forms left alone.
 */
import { describe, expect, it } from 'vitest';
import { gqaCachePairs } from '../../backends/model-plan.js';
import { importOnnx } from '../../compiler/onnx/index.js';
import { runPasses } from '../../compiler/pipeline.js';
import { interpret } from '../../ir/interpret.js';
import { passContext } from '../../passes/registry.js';
import { lowerDecoder } from '../helpers/compiled-decoders.js';
import { buildOptimumDecoder, emptyPast, stepFeedsOptimum } from '../helpers/optimum-decoder.js';
import { maxAbsDiff } from '../helpers/ort.js';

describe('fuse-attention on the optimum decoder', () => {
  it('one group_query_attention (causal 0) per layer, no softmax; presents from it; interpreter output kept', () => {
    const bytes = buildOptimumDecoder();
    const before = importOnnx(bytes, { dimBindings: { batch_size: 1 } });
    const g = importOnnx(bytes, { dimBindings: { batch_size: 1 } });
    runPasses(g, ['fuse-attention'], passContext({ target: 'ref' }));
    const gqa = g.nodes.filter((n) => n.op === 'group_query_attention');
    expect(gqa.length).toBe(2);
    expect(g.nodes.filter((n) => n.op === 'softmax').length).toBe(0);
    for (const n of gqa) expect([n.attrs.causal, n.attrs.num_heads, n.attrs.kv_num_heads]).toEqual([0, 4, 2]);
    for (const v of g.outputs.filter((o) => o.name.startsWith('present.'))) expect(v.producer?.op).toBe('group_query_attention');
    // a prompt of 3 then one decode step over it, through both graphs
    const past0 = emptyPast(2, 2, 16);
    const f1 = stepFeedsOptimum([5, 17, 42], 3, past0);
    const [a, b] = [interpret(before, f1), interpret(g, f1)];
    const present = (outs: typeof a) =>
      Object.fromEntries(
        g.outputs.flatMap((o, i) => (o.name.startsWith('present.') ? [[o.name.replace('present.', 'past_key_values.'), outs[i]!]] : [])),
      );
    const f2 = stepFeedsOptimum([9], 4, present(a));
    for (const [x, y] of [
      [a, b],
      [interpret(before, f2), interpret(g, f2)],
    ])
      x!.forEach((t, i) => {
        expect(y![i]!.shape).toEqual(t.shape);
        const { diff, scale } = maxAbsDiff(y![i]!, t);
        expect(diff, `output ${i}`).toBeLessThanOrEqual(1e-5 * scale);
      });
  });

  it('the whole wasm pipeline fuses both layers and every cache pair gets the shared buffer', () => {
    const g = lowerDecoder(buildOptimumDecoder(), 'wasm');
    expect(g.nodes.filter((n) => n.op === 'softmax').length).toBe(0);
    expect(gqaCachePairs(g).map((p) => `${p.past.name}>${p.present.name}`)).toEqual(
      [0, 1].flatMap((i) => ['key', 'value'].map((kv) => `past_key_values.${i}.${kv}>present.${i}.${kv}`)),
    );
  });
});
