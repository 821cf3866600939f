/**
 * Pass `fold-constants` (every target, `ref` included): replaces each node whose operands are all
 * constants, or whose results follow from its operand types alone (shape, size of static shapes), by
 * constants computed with the op's own interpreter. It is the pipeline's one constant folder: the
 * policy is ir/infer.ts `foldNode` (the importer's), and `legalize` folds the nodes its rules create
 * through `foldConstantNode` below, so no backend folds steps of its own.
 *
 * Never folded: ops with the trait 'no-fold' (control flow) or holding subgraphs; `lut.*` ops (their
 * weights are packed per target by bitplane-layout or by the backend); results over
 * FOLD_LIMIT_BYTES (16 MiB) each, except 'view' ops (the same bytes as their operand), so folding
 * cannot blow up an artifact; weight ops (dequantize_linear, matmul, ...) beyond the importer's small
 * limits, so quantized weights stay quantized. A node whose interpreter rejects its constants (a
 * coded diagnostic) is left in place. Nodes inside If branches are not visited.
 */
import { LutcError } from '../base/diagnostics.js';
import { removeDeadNodes } from '../ir/graph.js';
import { foldNode } from '../ir/infer.js';
import { hasTrait } from '../ir/optable.js';
import '../ir/ops/index.js';
import type { Graph, Node } from '../ir/types.js';
import type { Pass } from './pass.js';

/** Largest result (bytes, per result) the pass folds into a constant. */
export const FOLD_LIMIT_BYTES = 16 * 2 ** 20;

/**
 * Folds `node` (typed, in `g`) when the policy above allows: its results become constants of `g`
 * and the caller drops the node. True when folded.
 */
export function foldConstantNode(g: Graph, node: Node): boolean {
  if (node.op.startsWith('lut.')) return false;
  try {
    return foldNode(g, node, { limitBytes: hasTrait(node.op, 'view') ? undefined : FOLD_LIMIT_BYTES });
  } catch (e) {
    if (e instanceof LutcError) return false;
    throw e;
  }
}

export const foldConstants: Pass = {
  name: 'fold-constants',
  summary: 'replaces nodes whose operands are constants (or whose results follow from their types) by constants, up to 16 MiB per result',
  run(g: Graph): void {
    const folded = new Set<Node>();
    for (const n of g.nodes) if (foldConstantNode(g, n)) folded.add(n);
    if (!folded.size) return;
    g.nodes = g.nodes.filter((n) => !folded.has(n));
    removeDeadNodes(g);
  },
};
