/**
 * Op definitions: control flow. `if` holds its branches as 'graph' attributes; branch nodes may read
 * outer-scope values directly (captures), branches have no inputs. Its result types merge the two
 * branches' output types; the interpreter runs only the chosen branch. The importer inlines Ifs with
 * a constant condition, so `if` is never constant-folded (trait 'no-fold').
 */
import { defineOp } from '../optable.js';
import type { Dim, Graph, TensorType } from '../types.js';
import { cloneTensor } from './dims.js';

/** One merged dim: equal dims stay, differing ones become a fresh symbol (known only at run time). */
function mergeDim(a: Dim, b: Dim, fresh: () => Dim): Dim {
  return a === b ? a : fresh();
}

defineOp({
  name: 'if',
  onnx: { domain: '', type: 'If' },
  summary: 'Runs then_branch or else_branch by a boolean scalar condition; results are the branch outputs.',
  inputs: [{ name: 'cond' }],
  outputs: [{ name: 'outputs', variadic: true }],
  attrs: { then_branch: { type: 'graph', required: true }, else_branch: { type: 'graph', required: true } },
  traits: ['no-fold'],
  infer(ctx) {
    const c = ctx.inputs[0]!;
    if (c.shape.some((d) => typeof d === 'number' && d !== 1))
      ctx.error('LUT1110', `the condition must hold one element, it is [${c.shape.join(', ')}]`);
    const t = ctx.attrs.then_branch as Graph;
    const e = ctx.attrs.else_branch as Graph;
    const n = ctx.node.outputs.length;
    if (t.outputs.length !== n || e.outputs.length !== n)
      ctx.error('LUT1116', `the node has ${n} outputs, then_branch ${t.outputs.length} and else_branch ${e.outputs.length}`);
    // A constant condition selects one branch's types exactly.
    const cv = ctx.constInput(0);
    if (cv) return (cv.data[0] ? t : e).outputs.map((v) => ({ dtype: v.type.dtype, shape: [...v.type.shape] }));
    return t.outputs.map((tv, i): TensorType => {
      const [a, b] = [tv.type, e.outputs[i]!.type];
      if (a.dtype !== b.dtype) ctx.error('LUT1112', `output ${i}: then_branch gives ${a.dtype}, else_branch ${b.dtype}`);
      if (a.shape.length !== b.shape.length)
        ctx.error(
          'LUT1120',
          `output ${i}: the branches give ranks ${a.shape.length} and ${b.shape.length}; outputs whose rank depends on the condition are not supported`,
        );
      return { dtype: a.dtype, shape: a.shape.map((d, j) => mergeDim(d, b.shape[j]!, () => ctx.freshDim())) };
    });
  },
  interp([cond], ctx) {
    if (cond!.data.length !== 1) ctx.error('LUT3055', `the condition must hold one element, it has ${cond!.data.length}`);
    const branch = (cond!.data[0] ? ctx.attrs.then_branch : ctx.attrs.else_branch) as Graph;
    // A branch may return an outer value as is; copy so results never alias another value's storage.
    return ctx.runGraph(branch).map((t) => cloneTensor(t));
  },
});
