/**
 * The shared whole-model plan: every value placed, no two values that are live at the same step
 * overlap in the arena, views alias their source, and reuse makes the arena smaller than the sum.
 * The overlap check takes every pair of arena values (no deduplication): a pair may share bytes only
 * when both are views of one root value (then they have its exact placement); any other pair whose
 * lifetimes [from, until] intersect must have disjoint byte ranges. Float and LUT-lowered graphs
 * (lut.table's three outputs share a lifetime).
 */

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { type ModelPlan, planModel, VIEW_OPS } from '../../backends/model-plan.js';
import { LutcError } from '../../base/diagnostics.js';
import { importOnnx } from '../../compiler/onnx/index.js';
import { runPipeline } from '../../compiler/pipeline.js';
import type { Graph, Value } from '../../ir/types.js';

/** The value a view chain aliases (itself when it is not a view of an arena value). */
function aliasRoot(v: Value): Value {
  const p = v.producer;
  return p && VIEW_OPS.has(p.op) && p.inputs[0] && !p.inputs[0].const ? aliasRoot(p.inputs[0]) : v;
}

/** Every pair of arena placements: live at a common step => disjoint bytes, unless views of one root. */
function expectNoLiveOverlap(plan: ModelPlan): number {
  const arena = [...plan.placements.entries()].filter(([, p]) => p.region === 'arena');
  let pairs = 0;
  for (let a = 0; a < arena.length; a++)
    for (let b = a + 1; b < arena.length; b++) {
      const [vx, x] = arena[a]!,
        [vy, y] = arena[b]!;
      pairs++;
      if (aliasRoot(vx) === aliasRoot(vy)) {
        expect([y.offset, y.from, y.until], `${vy.name} aliases ${vx.name}`).toEqual([x.offset, x.from, x.until]);
        continue;
      }
      const timeOverlap = x.from <= y.until && y.from <= x.until;
      const memOverlap = x.offset < y.offset + y.bytes && y.offset < x.offset + x.bytes;
      if (timeOverlap && memOverlap)
        expect.fail(
          `${vx.name} [${x.from}, ${x.until}] @${x.offset}+${x.bytes} and ${vy.name} [${y.from}, ${y.until}] @${y.offset}+${y.bytes} overlap in time and memory`,
        );
    }
  return pairs;
}

function llama(bits?: 4): Graph {
  const dims = { seq: 8, batch: 1 };
  const g = importOnnx(readFileSync('examples/llama-block.onnx'), { file: 'llama-block.onnx', dimBindings: dims });
  // the graph LUT form (C's is one lut.gemm per layer, with no table steps)
  if (bits) runPipeline(g, { target: 'wasm', bits, dimBindings: dims });
  return g;
}

describe('model plan', () => {
  it('places the LUT-lowered Llama block (multi-output lut.table steps) without overlaps among live values', () => {
    const g = llama(4);
    expect(g.nodes.some((n) => n.op === 'lut.table' || n.op === 'lut.norm_table')).toBe(true);
    const plan = planModel(g);
    expect(expectNoLiveOverlap(plan)).toBeGreaterThan(0);
  });

  it('places the Llama-style example block without overlaps among live values', () => {
    const g = llama();
    const plan = planModel(g);
    expect(plan.arenaBytes).toBeLessThan(plan.unplannedBytes);
    // Every arena operand is live when a step reads it.
    const nodeIndex = new Map(g.nodes.map((n, i) => [n, i]));
    for (const s of plan.steps) {
      const i = nodeIndex.get(s.node)!;
      for (const p of s.inputs)
        if (p && p.region === 'arena') expect(p.from <= i && i <= p.until, `${p.value.name} live at ${i}`).toBe(true);
    }
    // No two placements that are live at the same time share bytes (views: their root's exact bytes).
    expect(expectNoLiveOverlap(plan)).toBeGreaterThan(0);
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

  it('plans runtime dims for their bounds: slots sized at the bound, placements carry the dim expressions', () => {
    const bytes = readFileSync('examples/llama-block.onnx');
    const bound = 48;
    const g = importOnnx(bytes, { file: 'llama-block.onnx' });
    g.meta = { ...g.meta, dimBounds: { seq: bound } };
    runPipeline(g, { target: 'ref' });
    // a consumer that does not render runtime dims gets LUT5004, naming the dim
    expect(() => planModel(g)).toThrow(/LUT5004[\s\S]*'seq'/);
    const plan = planModel(g, { runtimeDims: true });
    expect(plan.runtimeDims).toEqual({ seq: bound });
    const frozen = importOnnx(bytes, { file: 'llama-block.onnx', dimBindings: { seq: bound } });
    runPipeline(frozen, { target: 'ref' });
    const fplan = planModel(frozen);
    // every value the graph frozen at the bound also has gets the same slot size (the runtime graph
    // keeps its shape arithmetic as steps, so it has a few more small values)
    const fsize = new Map([...fplan.placements.values()].map((p) => [p.value.name, p.bytes]));
    let same = 0;
    for (const p of plan.placements.values()) {
      const want = fsize.get(p.value.name);
      if (want === undefined) continue;
      expect(p.bytes, p.value.name).toBe(want);
      same++;
    }
    expect(same).toBeGreaterThan(40);
    expect(plan.arenaBytes).toBeGreaterThanOrEqual(fplan.arenaBytes);
    const runtime = [...plan.placements.values()].filter((p) => p.dims);
    expect(runtime.length).toBeGreaterThan(10);
    for (const p of runtime) {
      expect(p.dims!.length).toBe(p.shape.length);
      expect(p.dims!.some((d) => typeof d === 'string')).toBe(true);
    }
    expect(expectNoLiveOverlap(plan)).toBeGreaterThan(0);
    const x = plan.inputs[0]!;
    expect(x.dims).toEqual([1, 'seq', 64]);
    expect(x.shape).toEqual([1, bound, 64]);
  });
});
