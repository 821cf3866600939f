/**
 * Legalize rules for control flow (ir/ops/control.ts): `if` with a condition known only at run time
 * and branches of equal static types becomes both branches inlined and a `where` per result (a
 * constant condition is folded before, by fold-constants). One `Rule` per op in `CONTROL_RULES`;
 * passes/legalize.ts assembles the table.
 */
import { isStaticShape } from '../../ir/tensor.js';
import type { Graph } from '../../ir/types.js';
import type { Rule } from './rewriter.js';

/** The control-flow rules, one per op. */
export const CONTROL_RULES: Readonly<Record<string, Rule>> = {
  if: {
    summary: 'condition known only at run time, branches of equal static types: both branches inlined, where(cond, then, else)',
    rewrite(r) {
      const t = r.attrs.then_branch as Graph;
      const e = r.attrs.else_branch as Graph;
      const same = t.outputs.every((v, i) => {
        const w = e.outputs[i]!;
        return v.type.dtype === w.type.dtype && isStaticShape(v.type.shape) && v.type.shape.join() === w.type.shape.join();
      });
      if (!same || r.x('cond').const) return undefined;
      for (const br of [t, e]) {
        r.b.graph.constants.push(...br.constants);
        r.b.graph.nodes.push(...br.nodes);
      }
      const cond = r.reshape(r.x('cond'), []);
      return t.outputs.map((v, i) => r.where(cond, v, e.outputs[i]!));
    },
  },
};
