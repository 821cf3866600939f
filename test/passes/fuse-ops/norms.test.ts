/**
 * fuse-ops on graph-level norms: layer_norm (with bias) and simplified_layer_norm feeding projections
 * become one lut.norm_table whose interpreter runs the norm op's own kernel, so the output is bit-exact;
 * a norm whose extra results (Mean, InvStdDev) are used is left alone.
 */
import { describe, expect, it } from 'vitest';
import '../../../ir/ops/index.js';
import { interpret } from '../../../ir/interpret.js';
import { passContext } from '../../../passes/registry.js';
import { buildGraph, op, randTensor, rng } from '../../lut/util.js';
import { runVerified } from '../util.js';

function normGraph(kind: 'layer_norm' | 'simplified_layer_norm', useStats: boolean) {
  const r = rng(kind.length);
  const k = 48;
  return buildGraph((b) => {
    const x = b.input('x', { dtype: 'f32', shape: [3, k] });
    const ins = [x, b.constant('gamma', randTensor(r, [k])), ...(kind === 'layer_norm' ? [b.constant('beta', randTensor(r, [k]))] : [])];
    const outs = op(b, kind, ins, { epsilon: 1e-5 }, kind === 'layer_norm' ? 3 : 2);
    const [q] = op(b, 'matmul', [outs[0]!, b.constant('wq', randTensor(r, [k, 16]))]);
    const [v] = op(b, 'matmul', [outs[0]!, b.constant('wv', randTensor(r, [k, 8]))]);
    return useStats ? [q!, v!, outs[1]!] : [q!, v!, outs[0]!];
  });
}

describe('fuse-ops: norms', () => {
  for (const kind of ['layer_norm', 'simplified_layer_norm'] as const) {
    it(`${kind} + shared table build -> one lut.norm_table, bit-exact`, () => {
      const g = normGraph(kind, false);
      const ctx = passContext({ bits: 4, groupSize: 16 });
      for (const p of ['lower-linear', 'table-precompute', 'hoist-table-precompute']) runVerified(g, p, ctx);
      const x = randTensor(rng(1), [3, 48]);
      const want = interpret(g, { x }).map((t) => Array.from(t.data));
      runVerified(g, 'fuse-ops', ctx);
      expect(g.nodes.filter((n) => n.op === 'lut.norm_table')).toHaveLength(1);
      expect(g.nodes.some((n) => n.op === kind || n.op === 'lut.table')).toBe(false);
      expect(g.nodes.find((n) => n.op === 'lut.norm_table')!.attrs.norm).toBe(kind === 'layer_norm' ? 'layer' : 'rms');
      expect(interpret(g, { x }).map((t) => Array.from(t.data))).toEqual(want);
    });
  }
  it('leaves a norm alone when its statistics output is used', () => {
    const g = normGraph('layer_norm', true);
    const ctx = passContext({ bits: 4, groupSize: 16 });
    for (const p of ['lower-linear', 'table-precompute', 'hoist-table-precompute', 'fuse-ops']) runVerified(g, p, ctx);
    expect(g.nodes.some((n) => n.op === 'lut.norm_table')).toBe(false);
    expect(g.nodes.filter((n) => n.op === 'lut.table')).toHaveLength(1);
  });
});
