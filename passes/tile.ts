/**
 * Pass `tile`: the kernel plan of every lut.matmul, shared by all backends (they differ only in how
 * they render it). Attributes set: table_layout ('token' scalar LUT for small M, 'vec' Vec-LUT for
 * M >= 8 tokens, where one weight index selects a vector of tokens), tile_m, tile_n, k_tile (also on the
 * lut.pack producing the weights, since the packed order follows K-tiles) and loop_order.
 *
 * Budgets come from each target's TargetInfo (`tile`, backends/<t>/target.ts): CPU targets (c, wasm,
 * ref) keep one K-tile of tables for tile_m tokens in half of a 32 KiB L1 (the other half streams
 * weights), and a tile_n x k_tile block of packed weights in half of a 1 MiB L2; WGSL keeps the
 * K-tile's tables in the 16 KiB of workgroup memory every WebGPU device guarantees, with 64 rows per
 * workgroup. The Vec-LUT threshold (8 tokens) is the target's `tile.vecMinTokens`. K-tiles are whole
 * table segments so integer accumulators flush at tile ends; every shape gets a plan (odd N, K through
 * the padded geometry). Values already set on a node and `PassContext.tile` overrides win.
 */
import type { Graph, Node } from '../ir/types.js';
import { geometryOf } from '../ir/lut/attrs.js';
import { inferNode } from '../ir/lut/build.js';
import { findOp, resolveAttrs } from '../ir/optable.js';
import { getTarget } from '../backends/target.js';
import type { Pass, PassContext } from './pass.js';

/** Tokens of a lut.matmul from its tables' leading dims (symbols through dimBindings; unknown = 1). */
function tokens(mm: Node, bindings: Record<string, number>): number {
  const t = mm.inputs[0]!.type.shape;
  const lead = mm.attrs.table_layout === 'vec' ? t.slice(2) : t.slice(0, -2);
  return lead.reduce<number>((p, d) => p * (typeof d === 'number' ? d : bindings[d] ?? 1), 1);
}

export interface TilePlan {
  layout: 'token' | 'vec';
  tileM: number;
  tileN: number;
  kTile: number;
  loopOrder: 'knm' | 'nkm';
}

/** The plan for one layer (exported for `lutc kernel` and tests). */
export function planTile(attrs: Record<string, unknown>, m: number, target: string, ov: PassContext['tile'] = {}): TilePlan {
  const g = geometryOf({ ...(attrs as object), k_tile: 0 } as never);
  const budget = getTarget(target).tile;
  const layout = ov.layout ?? (m >= (ov.vecThreshold ?? budget.vecMinTokens) ? 'vec' : 'token');
  const tileM = ov.tileM || (layout === 'vec' ? Math.min(m, 16) : Math.min(m, 4));
  const entryBytes = attrs.tables === 'f32' ? 4 : 1;
  const segCP = g.segment / 8;
  let kTile = ov.tileK || Math.floor(budget.tableBytes / (2 * 16 * entryBytes * tileM) / segCP) * segCP;
  kTile = Math.max(segCP, kTile);
  if (kTile >= g.nChunkPairs) kTile = 0;
  const kcp = kTile || g.nChunkPairs;
  let tileN = ov.tileN || budget.rows || Math.floor(budget.weightBytes / (kcp * g.planes));
  tileN = Math.min(g.nPad, Math.max(g.rowsPerVec, Math.floor(tileN / g.rowsPerVec) * g.rowsPerVec));
  // One token: tables of a K-tile are reused across all rows, so K-tiles go outermost; many tokens with
  // a whole-K tile: rows outermost keeps a row block's weights hot across token tiles.
  const loopOrder = layout === 'vec' && kTile === 0 ? 'nkm' : 'knm';
  return { layout, tileM, tileN, kTile, loopOrder };
}

export const tile: Pass = {
  name: 'tile',
  summary: 'choose table layout (scalar or Vec-LUT), M/N/K tiles and loop order of every lut.matmul per target',
  run(g: Graph, ctx: PassContext): void {
    const bindings = { ...(g.meta?.dimBindings ?? {}), ...(ctx.opts.dimBindings ?? {}) };
    const tableLayout = new Map<Node, 'token' | 'vec'>();
    for (const mm of g.nodes) {
      if (mm.op !== 'lut.matmul') continue;
      const a = resolveAttrs(findOp('lut.matmul')!, mm);
      const plan = planTile(a, tokens(mm, bindings), ctx.opts.target, ctx.tile);
      const tp = mm.inputs[0]!.producer;
      // all consumers of one table build share its layout: the first decides
      const layout = (tp && tableLayout.get(tp)) ?? plan.layout;
      if (tp) tableLayout.set(tp, layout);
      mm.attrs.table_layout = layout;
      mm.attrs.tile_m = mm.attrs.tile_m || plan.tileM;
      mm.attrs.tile_n = mm.attrs.tile_n || plan.tileN;
      mm.attrs.loop_order = mm.attrs.loop_order ?? plan.loopOrder;
      const pack = mm.inputs[3]!.producer;
      // The K-tile is part of the packed layout: it can only change while weights are still lut.pack.
      if (pack?.op === 'lut.pack' && !mm.attrs.k_tile) {
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
