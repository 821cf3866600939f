/**
 * Pass `table-precompute`: one table build per distinct activation tensor and table configuration.
 * lower-linear emits a lut.table per layer; layers reading the same activations with the same K, group
 * (hence the same padding and segments), precision and layout -- Q/K/V, gate/up -- share the first one.
 * Bits and N do not enter the tables, so layers of different widths and bit counts share too.
 */

import { replaceAllUses } from '../ir/graph.js';
import { findOp, resolveAttrs } from '../ir/optable.js';
import type { Graph, Node, Value } from '../ir/types.js';
import type { Pass } from './pass.js';

const TABLE_OPS = new Set(['lut.table', 'lut.norm_table']);

/** Key of a table build: its operands' identities and its resolved attributes. */
function tableKey(n: Node, ids: Map<Value, number>): string {
  const attrs = resolveAttrs(findOp(n.op)!, n);
  const ops = n.inputs.map((v) => {
    if (!v) return '-';
    if (!ids.has(v)) ids.set(v, ids.size);
    return ids.get(v);
  });
  return `${n.op}(${ops.join(',')})${JSON.stringify(attrs, Object.keys(attrs).sort())}`;
}

export const tablePrecompute: Pass = {
  name: 'table-precompute',
  summary: 'share one lut.table among all layers reading the same activations with the same table configuration',
  run(g: Graph): void {
    const ids = new Map<Value, number>();
    const first = new Map<string, Node>();
    const dead = new Set<Node>();
    for (const n of g.nodes) {
      if (!TABLE_OPS.has(n.op)) continue;
      const key = tableKey(n, ids);
      const keep = first.get(key);
      if (!keep) {
        first.set(key, n);
        continue;
      }
      n.outputs.forEach((v, i) => replaceAllUses(g, v, keep.outputs[i]!));
      dead.add(n);
    }
    g.nodes = g.nodes.filter((n) => !dead.has(n));
  },
};
