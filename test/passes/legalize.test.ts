/**
 * Pass `legalize` as a mechanism (test/ops-targets/op-target.test.ts checks every rule on every
 * target): it expands to a fixed point through rules that produce ops needing rules themselves, keeps
 * graph output names, leaves a node whose rule declines for the backend to diagnose, folds constant
 * operands, does nothing for ref, and reports a rule that does not terminate (LUT4050) or gives a
 * result of the wrong type (LUT4051) as an internal error naming the rule. The rule table is the
 * union of the families in passes/legalize/*.ts, whose op keys are disjoint and name ops of the op table.
 */
import { describe, expect, it } from 'vitest';
import { LutcError } from '../../base/diagnostics.js';
import { runPipeline } from '../../compiler/pipeline.js';
import { GraphBuilder, newGraph } from '../../ir/graph.js';
import { interpret } from '../../ir/interpret.js';
import { addNode } from '../../ir/lut/build.js';
import '../../ir/ops/index.js';
import { findOp } from '../../ir/optable.js';
import { makeTensor } from '../../ir/tensor.js';
import type { Graph } from '../../ir/types.js';
import { verifyGraph } from '../../ir/verify.js';
import { legalizeGraph, nativeOps, RULE_FAMILIES, RULES, type Rule } from '../../passes/legalize.js';
import { F32_EXACT, maxRel } from '../helpers/tolerance.js';

/** x [2, 3] -> op -> y (a graph output). */
function oneOp(op: string, attrs = {}): Graph {
  const g = newGraph('g');
  const b = new GraphBuilder(g);
  const x = b.input('x', { dtype: 'f32', shape: [2, 3] });
  g.outputs.push(addNode(b, op, [x], attrs, `${op}0`, ['y']).outputs[0]!);
  return g;
}

const codeOf = (f: () => unknown): string | undefined => {
  try {
    f();
  } catch (e) {
    if (e instanceof LutcError) return e.diagnostics[0]!.code;
    throw e;
  }
  return undefined;
};

const x = { x: makeTensor('f32', [2, 3], [-2, -0.5, 0, 0.25, 1, 3]) };

describe('legalize', () => {
  it('expands to a fixed point (hard_swish -> clip, argmin -> reduce_min -> reduce_max) and keeps output names', () => {
    for (const [op, attrs] of [
      ['hard_swish', {}],
      ['argmin', { axis: 1 }],
    ] as const) {
      const g = oneOp(op, attrs);
      const want = interpret(g, x);
      const done = legalizeGraph(g, { target: 'wasm', native: nativeOps('wasm') });
      verifyGraph(g);
      expect(done[0]).toBe(op);
      expect(g.nodes.every((n) => nativeOps('wasm').has(n.op))).toBe(true);
      expect(g.outputs.map((v) => v.name)).toEqual(['y']);
      // hard_swish: f32 rounding per step (a few ulps); argmin: exactly
      expect(maxRel(interpret(g, x)[0]!, want[0]!)).toBeLessThanOrEqual(op === 'argmin' ? 0 : F32_EXACT);
    }
    expect(legalizeGraph(oneOp('argmin', { axis: 1 }), { target: 'c', native: nativeOps('c') })).toEqual([
      'argmin',
      'reduce_min',
      'reduce_min',
    ]);
  });

  it('runs in the pipeline for artifact targets only; the nodes it adds name the rewritten node', () => {
    const g = oneOp('elu');
    runPipeline(g, { target: 'ref' });
    expect(g.nodes.map((n) => n.op)).toEqual(['elu']);
    runPipeline(g, { target: 'c' });
    expect(g.nodes.some((n) => n.op === 'elu')).toBe(false);
    expect(g.nodes.every((n) => n.loc?.kind === 'node' && n.loc.node === 'elu0')).toBe(true);
  });

  it('leaves a node whose rule declines (pads known only at run time) for the backend to diagnose', () => {
    const g = newGraph('g');
    const b = new GraphBuilder(g);
    const v = b.input('x', { dtype: 'f32', shape: [3] });
    const p = b.input('p', { dtype: 'i64', shape: [2] });
    g.outputs.push(addNode(b, 'pad', [v, p, null, null], {}, 'pad0').outputs[0]!);
    expect(legalizeGraph(g, { target: 'c', native: nativeOps('c') })).toEqual([]);
    expect(g.nodes.map((n) => n.op)).toEqual(['pad']);
  });

  it('folds a node whose operands are all constants through fold-constants (its result, a graph output, keeps its name)', () => {
    const g = newGraph('g');
    const b = new GraphBuilder(g);
    g.outputs.push(addNode(b, 'constant', [], { value: makeTensor('f32', [2], [1, 2]) }, 'k').outputs[0]!);
    const name = g.outputs[0]!.name;
    legalizeGraph(g, { target: 'wasm', native: nativeOps('wasm') });
    expect(g.nodes).toEqual([]);
    expect(g.outputs[0]!.name).toBe(name);
    expect(Array.from(g.outputs[0]!.const!.data)).toEqual([1, 2]);
  });

  it('a rule that reaches its own op again, or gives a wrong type, is an internal error naming it', () => {
    const loop: Record<string, Rule> = {
      elu: { summary: '', rewrite: (r) => [r.op('selu', [r.x()])] },
      selu: { summary: '', rewrite: (r) => [r.op('elu', [r.x()])] },
    };
    const native = new Set(['add']);
    expect(codeOf(() => legalizeGraph(oneOp('elu'), { target: 'c', native, rules: loop }))).toBe('LUT4050');
    const wrong: Record<string, Rule> = { elu: { summary: '', rewrite: (r) => [r.cast(r.x(), 'i32')] } };
    expect(codeOf(() => legalizeGraph(oneOp('elu'), { target: 'c', native: nativeOps('c'), rules: wrong }))).toBe('LUT4051');
  });

  it('has no rule for an op every target renders natively (rules are for what some target lacks)', () => {
    const everywhere = Object.keys(RULES).filter((op) => ['c', 'wasm', 'wgsl'].every((t) => nativeOps(t).has(op)));
    expect(everywhere).toEqual([]);
  });

  it('assembles RULES from the families: op keys disjoint across families, every op in the op table', () => {
    const seen = new Map<string, string>();
    const dup: string[] = [];
    for (const [family, rules] of Object.entries(RULE_FAMILIES)) {
      expect(Object.keys(rules).length, family).toBeGreaterThan(0);
      for (const op of Object.keys(rules)) {
        if (seen.has(op)) dup.push(`${op}: ${seen.get(op)} and ${family}`);
        seen.set(op, family);
      }
    }
    expect(dup).toEqual([]);
    expect(Object.keys(RULES).sort()).toEqual([...seen.keys()].sort());
    for (const [op, rule] of Object.entries(RULES)) {
      expect(RULE_FAMILIES[seen.get(op)!]![op], op).toBe(rule);
      expect(findOp(op), `rule for unknown op '${op}'`).toBeDefined();
      expect(rule.summary.length, op).toBeGreaterThan(0);
    }
  });
});
