/**
 * Ops under the `test.` prefix for exercising the printer, parser and verifier independently of the
 * real op files (which evolve). Importing this module registers them once per test file.
 */

import { isGraph } from '../../../ir/graph.js';
import { defineOp, findOp, type OpDef } from '../../../ir/optable.js';
import type { TensorType } from '../../../ir/types.js';

const same = (ctx: { inputs: (TensorType | null)[] }) => [ctx.inputs[0]!];

function def(d: Omit<OpDef, 'summary' | 'interp'> & Partial<OpDef>): void {
  if (!findOp(d.name)) defineOp({ summary: d.name, interp: () => [], ...d });
}

/** test.unary: one of every attribute kind, none required. */
def({
  name: 'test.unary',
  inputs: [{ name: 'x' }],
  outputs: [{ name: 'y' }],
  attrs: {
    i: { type: 'int', default: 0 },
    f: { type: 'float', default: 1 },
    s: { type: 'string' },
    mode: { type: 'string', default: 'a', oneOf: ['a', 'b'] },
    is: { type: 'ints' },
    fs: { type: 'floats' },
    ss: { type: 'strings' },
    t: { type: 'tensor' },
    g: { type: 'graph' },
  },
  infer: same,
});

/** test.add: two operands of one dtype (its verify says so with the op code for differing dtypes, LUT1112). */
def({
  name: 'test.add',
  inputs: [{ name: 'a' }, { name: 'b' }],
  outputs: [{ name: 'c' }],
  attrs: {},
  infer: same,
  verify(ctx) {
    if (ctx.inputs[0]?.dtype !== ctx.inputs[1]?.dtype) ctx.error('LUT1112', 'test.add operands differ in dtype');
  },
});

/** test.opt: trailing optional operands and an optional second result. */
def({
  name: 'test.opt',
  inputs: [{ name: 'a' }, { name: 'b', optional: true }, { name: 'c', optional: true }],
  outputs: [{ name: 'y' }, { name: 'z', optional: true }],
  attrs: { n: { type: 'int', required: true } },
  infer: (ctx) => [ctx.inputs[0]!, { dtype: 'i64', shape: [] }],
});

/** test.var: variadic operands and results, one result per operand. */
def({
  name: 'test.var',
  inputs: [{ name: 'xs', variadic: true }],
  outputs: [{ name: 'ys', variadic: true }],
  attrs: {},
  infer: (ctx) => ctx.inputs.map((t) => t!),
});

/** test.fresh: a result whose single dim the shape rule cannot know. */
def({
  name: 'test.fresh',
  inputs: [{ name: 'x' }],
  outputs: [{ name: 'y' }],
  attrs: {},
  infer: (ctx) => [{ dtype: ctx.inputs[0]!.dtype, shape: [ctx.freshDim()] }],
});

/** test.if: If-like, results typed like then_branch's outputs. */
def({
  name: 'test.if',
  inputs: [{ name: 'cond' }],
  outputs: [{ name: 'outs', variadic: true }],
  attrs: { then_branch: { type: 'graph', required: true }, else_branch: { type: 'graph', required: true } },
  infer(ctx) {
    const g = ctx.attrs.then_branch;
    return isGraph(g) ? g.outputs.map((v) => v.type) : [];
  },
});
