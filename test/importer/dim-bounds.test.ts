/**
 * compiler/input-dims.ts: what each unbound input symbol becomes. The bound a model states (the rows
 * of a GroupQueryAttention cos cache, of a position table) caps the sequence symbols; a `--max-dim`
 * above it is clamped with a warning; the default applies below it; batch symbols the model states
 * nothing about get the default.
 */
import { describe, expect, it } from 'vitest';
import { buildBuilderDecoder } from '../../bench/llm-model.js';
import { DEFAULT_MAX_DIM, decideRuntimeDims, modelDimBounds } from '../../compiler/input-dims.js';
import { OnnxBuilder } from '../../compiler/onnx/builder.js';
import { importOnnx } from '../../compiler/onnx/index.js';
import { makeTensor } from '../../ir/tensor.js';

const decoder = (maxPos: number) =>
  importOnnx(buildBuilderDecoder({ vocab: 64, hidden: 32, heads: 4, kvHeads: 2, headSize: 8, intermediate: 48, layers: 1, maxPos }));

describe('runtime dim bounds (compiler/input-dims.ts)', () => {
  it("a GQA cos cache's rows bound the sequence, past and present symbols; batch gets none", () => {
    const g = decoder(48);
    const stated = modelDimBounds(g);
    expect(Object.fromEntries([...stated].map(([k, v]) => [k, v.bound]))).toEqual({
      sequence_length: 48,
      past_sequence_length: 48,
      total_sequence_length: 48,
    });
    expect(stated.get('sequence_length')!.why).toMatch(/the 48 rows of '.*' \(cos cache of node '.*'\)/);
    const d = decideRuntimeDims(g);
    expect(d.bounds).toEqual({ batch_size: DEFAULT_MAX_DIM, sequence_length: 48, past_sequence_length: 48, total_sequence_length: 48 });
    expect(d.defaulted.sort()).toEqual(['batch_size', 'past_sequence_length', 'sequence_length', 'total_sequence_length']);
    expect(d.messages).toContain(
      "note: runtime dim 'batch_size' has bound 256 (the default); set it with --max-dim batch_size=N, or freeze it with --dim batch_size=N",
    );
  });

  it('the default caps a larger stated bound; --max-dim is kept below it and clamped above it', () => {
    const g = decoder(4096);
    const d = decideRuntimeDims(g, { sequence_length: 100, total_sequence_length: 5000 });
    expect(d.bounds.past_sequence_length).toBe(DEFAULT_MAX_DIM);
    expect(d.bounds.sequence_length).toBe(100);
    expect(d.bounds.total_sequence_length).toBe(4096);
    expect(d.defaulted).not.toContain('sequence_length');
    expect(
      d.messages.some((m) => m.startsWith("note: runtime dim 'past_sequence_length' has bound 256 (the default; the model allows 4096")),
    ).toBe(true);
    expect(d.messages.filter((m) => m.startsWith('warning:'))).toEqual([
      expect.stringMatching(/^warning: --max-dim total_sequence_length=5000 is beyond the model's bound 4096 \(.*\): using 4096$/),
    ]);
  });

  it('a position table gathered by a position* input bounds its sequence axis, a token table does not', () => {
    const b = new OnnxBuilder({ opset: 17 });
    const ids = b.input('input_ids', 'i64', ['batch', 'seq']);
    const pos = b.input('position_ids', 'i64', ['batch', 'seq']);
    const wte = b.initializer('wte', makeTensor('f32', [1000, 4], new Array(4000).fill(0.5)));
    const wpe = b.initializer('wpe', makeTensor('f32', [32, 4], new Array(128).fill(0.25)));
    const [t] = b.node('Gather', [wte, ids], { name: 'tok' });
    const [p] = b.node('Gather', [wpe, pos], { name: 'pos' });
    const [y] = b.node('Add', [t!, p!], { name: 'add' });
    b.output(y!, 'f32', ['batch', 'seq', 4]);
    const stated = modelDimBounds(importOnnx(b.toBytes()));
    expect([...stated.keys()]).toEqual(['seq']);
    expect(stated.get('seq')).toEqual({ bound: 32, why: "the 32 rows of 'wpe' (position table gathered by node 'pos')" });
  });
});
