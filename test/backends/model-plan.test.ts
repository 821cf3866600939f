/**
 * The shared whole-model plan: every value placed, no two values that are live at the same step
 * overlap in the arena, views alias their source, and reuse makes the arena smaller than the sum.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { importOnnx } from '../../compiler/onnx/index.js';
import { planModel, VIEW_OPS } from '../../backends/model-plan.js';
import { LutcError } from '../../compiler/diagnostics.js';

describe('model plan', () => {
  it('places the Llama-style example block without overlaps among live values', () => {
    const g = importOnnx(readFileSync('examples/llama-block.onnx'), { file: 'llama-block.onnx', dimBindings: { seq: 8, batch: 1 } });
    const plan = planModel(g);
    expect(plan.arenaBytes).toBeLessThan(plan.unplannedBytes);
    // Every arena operand is live when a step reads it.
    const nodeIndex = new Map(g.nodes.map((n, i) => [n, i]));
    for (const s of plan.steps) {
      const i = nodeIndex.get(s.node)!;
      for (const p of s.inputs) if (p && p.region === 'arena') expect(p.from <= i && i <= p.until, `${p.value.name} live at ${i}`).toBe(true);
    }
    // No two placements that are live at the same time share bytes.
    const arena = [...new Set(plan.placements.values())].filter((p) => p.region === 'arena');
    const seen = new Map<string, (typeof arena)[number]>();
    for (const p of arena) seen.set(`${p.offset}:${p.from}:${p.until}`, p); // views repeat their source
    const live = [...seen.values()];
    for (let a = 0; a < live.length; a++)
      for (let b = a + 1; b < live.length; b++) {
        const x = live[a]!, y = live[b]!;
        const timeOverlap = x.from <= y.until && y.from <= x.until;
        const memOverlap = x.offset < y.offset + y.bytes && y.offset < x.offset + x.bytes;
        if (timeOverlap && memOverlap) expect.fail(`${x.value.name} and ${y.value.name} overlap in time and memory`);
      }
    for (const s of plan.steps) expect(VIEW_OPS.has(s.node.op)).toBe(false);
  });

  it('diagnoses an unbound symbolic dim', () => {
    const g = importOnnx(readFileSync('examples/llama-block.onnx'), { file: 'llama-block.onnx' });
    try {
      planModel(g);
      expect.fail('expected a diagnostic');
    } catch (e) {
      expect(e).toBeInstanceOf(LutcError);
      expect((e as LutcError).diagnostics[0]!.code).toBe('LUT5001');
    }
  });
});
