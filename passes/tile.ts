/**
 * Pass `tile`: the kernel plan of every lut.matmul that shapes the graph, shared by all backends.
 * Attributes set: table_layout ('token' scalar LUT for small M, 'vec' Vec-LUT for M >= 8 tokens,
 * where one weight index selects a vector of tokens) and k_tile (also on the lut.pack producing the
 * weights, since the packed order follows K-tiles). Row and token tiles and the loop nest are each
 * backend's own (no attribute: none read a plan for them), so the plan's token tile only sizes K-tiles.
 *
 * Budgets come from each target's TargetInfo (`tile`, backends/<t>/target.ts): CPU targets (c, wasm,
 * ref) keep one K-tile of tables for a token tile (16 tokens vec, 4 token) in half of a 32 KiB L1;
 * WGSL keeps the K-tile's tables in the 16 KiB of workgroup memory every WebGPU device guarantees.
 * The Vec-LUT threshold (8 tokens) is the target's `tile.vecMinTokens`. K-tiles are whole table
 * segments so integer accumulators flush at tile ends; every shape gets a plan (K through the padded
 * geometry). A target whose kernel reads one K-tile (`lut.kTiles` false: wasm) gets k_tile 0. Values
 * already set on a node and `PassContext.tile` overrides win, except over that k_tile 0.
 */

import { getTarget } from '../backends/target.js';
import { geometryOf } from '../ir/lut/attrs.js';
import { inferNode } from '../ir/lut/build.js';
import { findOp, operand, resolveAttrs } from '../ir/optable.js';
import type { Graph, Node } from '../ir/types.js';
import type { Pass, PassContext } from './pass.js';

/** Tokens of a lut.matmul from its tables' leading dims (symbols through dimBindings; unknown = 1). */
function tokens(mm: Node, bindings: Record<string, number>): number {
  const t = operand(mm, 'tables')!.type.shape;
  const lead = mm.attrs.table_layout === 'vec' ? t.slice(2) : t.slice(0, -2);
  return lead.reduce<number>((p, d) => p * (typeof d === 'number' ? d : (bindings[d] ?? 1)), 1);
}

export interface TilePlan {
  layout: 'token' | 'vec';
  /** Chunk pairs per K-tile; 0 = whole K. */
  kTile: number;
}

/** The plan for one layer (exported for `lutc kernel` and tests). */
export function planTile(attrs: Record<string, unknown>, m: number, target: string, ov: PassContext['tile'] = {}): TilePlan {
  const g = geometryOf({ ...(attrs as object), k_tile: 0 } as never);
  const { tile: budget, lut } = getTarget(target);
  const layout = ov.layout ?? (m >= (ov.vecThreshold ?? budget.vecMinTokens) ? 'vec' : 'token');
  // tokens whose tables one K-tile holds: a Vec-LUT vector of 16, or a few scalar-LUT tokens
  const tileM = ov.tileM || (layout === 'vec' ? Math.min(m, 16) : Math.min(m, 4));
  const entryBytes = attrs.tables === 'f32' ? 4 : 1;
  const segCP = g.segment / 8;
  let kTile = ov.tileK || Math.floor(budget.tableBytes / (2 * 16 * entryBytes * tileM) / segCP) * segCP;
  kTile = Math.max(segCP, kTile);
  if (kTile >= g.nChunkPairs || !lut.kTiles) kTile = 0;
  return { layout, kTile };
}

export const tile: Pass = {
  name: 'tile',
  summary: 'choose table layout (scalar or Vec-LUT) and K-tile of every lut.matmul per target',
  run(g: Graph, ctx: PassContext): void {
    const bindings = { ...(g.meta?.dimBindings ?? {}), ...(ctx.opts.dimBindings ?? {}) };
    const tableLayout = new Map<Node, 'token' | 'vec'>();
    const kTiles = getTarget(ctx.opts.target).lut.kTiles;
    for (const mm of g.nodes) {
      if (mm.op !== 'lut.matmul') continue;
      const a = resolveAttrs(findOp('lut.matmul')!, mm);
      const plan = planTile(a, tokens(mm, bindings), ctx.opts.target, ctx.tile);
      const tp = mm.inputs[0]!.producer;
      // all consumers of one table build share its layout: the first decides
      const layout = (tp && tableLayout.get(tp)) ?? plan.layout;
      if (tp) tableLayout.set(tp, layout);
      mm.attrs.table_layout = layout;
      const pack = operand(mm, 'weights')!.producer;
      // The K-tile is part of the packed layout: it can only change while weights are still lut.pack
      // (a target whose kernel reads one K-tile gets k_tile 0 even over a value set on the node).
      if (pack?.op === 'lut.pack' && (!mm.attrs.k_tile || !kTiles)) {
        mm.attrs.k_tile = plan.kTile;
        pack.attrs.k_tile = plan.kTile;
      }
    }
    for (const [tp, layout] of tableLayout) if (tp.op === 'lut.table' || tp.op === 'lut.norm_table') tp.attrs.layout = layout;
    retype(g);
  },
};

/** Re-infers result types of table builds and matmuls after layout changes (in graph order). */
function retype(g: Graph): void {
  for (const n of g.nodes) {
    if (!n.op.startsWith('lut.')) continue;
    const types = inferNode(n);
    n.outputs.forEach((v, i) => (v.type = types[i]!));
  }
}
