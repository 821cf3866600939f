/**
 * Pass `hoist-table-precompute`: places every table build directly after the producer of its
 * activations (or at the top for graph inputs), so it runs once before its first consumer and never
 * inside a consumer's tile loops: lut.matmul only reads tables, the kernel plan of `tile` iterates
 * over weights and tables already built. The order of everything else is kept.
 */

import { operand } from '../ir/optable.js';
import type { Graph, Node } from '../ir/types.js';
import type { Pass } from './pass.js';

const TABLE_OPS = new Set(['lut.table', 'lut.norm_table']);

export const hoistTablePrecompute: Pass = {
  name: 'hoist-table-precompute',
  summary: 'move each table build right after the producer of its activations, before its first consumer',
  run(g: Graph): void {
    const tables = g.nodes.filter((n) => TABLE_OPS.has(n.op));
    const rest = g.nodes.filter((n) => !TABLE_OPS.has(n.op));
    const order: Node[] = [...rest];
    // Tables whose activation has no producer here (graph input, constant) go first, in their order.
    let top = 0;
    for (const t of tables) {
      const p = operand(t, 'x')?.producer;
      const at = p ? order.indexOf(p) : -1;
      if (at < 0) order.splice(top++, 0, t);
      else {
        // after the producer and after tables already hoisted there (keeps their relative order)
        let i = at + 1;
        while (i < order.length && TABLE_OPS.has(order[i]!.op) && operand(order[i]!, 'x')?.producer === p) i++;
        order.splice(i, 0, t);
      }
    }
    g.nodes = order;
  },
};
