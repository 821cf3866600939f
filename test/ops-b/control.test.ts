/**
 * `if`: branches capture outer values, the condition is a runtime input, only the chosen branch runs,
 * and result types merge the branches' types (differing dims become fresh symbols).
 */
import { describe, expect, it } from 'vitest';
import { GraphBuilder, newGraph } from '../../ir/graph.js';
import { interpret } from '../../ir/interpret.js';
import { makeTensor } from '../../ir/tensor.js';
import type { Graph, Value } from '../../ir/types.js';
import { expectCode, inferNode } from './helpers.js';
import '../../ir/ops/index.js';

/** Outer graph: y = if cond then matmul(x, w) else transpose(x) (or a constant of another shape/rank). */
function build(elseShape: 'same' | 'wider' | 'rank') {
  const g = newGraph('main');
  const b = new GraphBuilder(g);
  const cond = b.input('cond', { dtype: 'bool', shape: [] });
  const x = b.input('x', { dtype: 'f32', shape: [2, 2] });
  const w = b.constant('w', makeTensor('f32', [2, 2], [1, 2, 3, 4]));
  const branch = (name: string, fill: (bb: GraphBuilder, sub: Graph) => Value): Graph => {
    const sub = newGraph(name);
    const bb = new GraphBuilder(sub);
    sub.outputs = [fill(bb, sub)];
    return sub;
  };
  const thenG = branch('then', (bb) => bb.node('matmul', [x, w], {}, [{ dtype: 'f32', shape: [2, 2] }]).outputs[0]!);
  const elseG = branch('else', (bb) => {
    if (elseShape === 'same') return bb.node('transpose', [x], {}, [{ dtype: 'f32', shape: [2, 2] }]).outputs[0]!;
    const c = bb.constant('c', makeTensor('f32', elseShape === 'wider' ? [2, 3] : [6], [9, 9, 9, 9, 9, 9]));
    return bb.node('identity', [c], {}, [{ dtype: 'f32', shape: [...c.type.shape] }]).outputs[0]!;
  });
  const node = b.node('if', [cond], { then_branch: thenG, else_branch: elseG }, [{ dtype: 'f32', shape: [2, 2] }]);
  g.outputs = [node.outputs[0]!];
  return { g, node };
}

describe('if', () => {
  it('runs the branch the runtime condition picks, with outer values visible', () => {
    const { g } = build('same');
    const x = makeTensor('f32', [2, 2], [1, 0, 0, 2]);
    const yes = interpret(g, { cond: makeTensor('bool', [], [1]), x })[0]!;
    expect(Array.from(yes.data)).toEqual([1, 2, 6, 8]); // [[1,0],[0,2]] · [[1,2],[3,4]]
    const no = interpret(g, { cond: makeTensor('bool', [], [0]), x: makeTensor('f32', [2, 2], [1, 2, 3, 4]) })[0]!;
    expect(Array.from(no.data)).toEqual([1, 3, 2, 4]);
  });
  it('infers merged types: equal dims stay, differing dims become fresh symbols', () => {
    expect(inferNode(build('same').node)[0]!.shape).toEqual([2, 2]);
    const merged = inferNode(build('wider').node)[0]!.shape;
    expect(merged[0]).toBe(2);
    expect(typeof merged[1]).toBe('string');
  });
  it('diagnoses branches whose ranks differ', () => {
    expectCode(() => inferNode(build('rank').node), 'LUT1120');
  });
});
