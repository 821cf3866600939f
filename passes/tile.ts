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
 *
 * Tuned plans (`lutc tune`, compiler/tune-cache.ts): with `opts.tuned`, each lut.matmul's layer
 * (n, k, bits, group, tables, M) is looked up; a hit's layout and K-tile replace the budget's (the
 * global `PassContext.tile` overrides still win: layout/vecThreshold over its layout, tileK/tileM over
 * its K-tile; a K-tile that is not whole segments of this layer is not taken; k_tile 0 where the
 * target reads one K-tile). A miss plans the layer as without a cache. lut.gemm layers (C's fused
 * kernel, which plans its own loops) are looked up and recorded; their one knob is the threads: with
 * a model on N > 1 threads, an entry whose winner ran on 1 (at M = 1, or at the prefill bucket) sets
 * lut.gemm `threads_m1` / `threads_mn` to 'one'. Every lookup is appended to
 * `PassContext.tuned` (runPipeline says how many layers took tuned plans). A layer's vector-LUT
 * choice for the kernels that pick per call (wasm with a runtime M) is the entry at its M, or at
 * VEC_PROBE_M when its M is smaller: lut.matmul `vec_lut` 'on' / 'off' (left 'auto' on a miss or
 * under a global layout override).
 */

import { getTarget } from '../backends/target.js';
import type { TunedPlan } from '../compiler/options.js';
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

/**
 * The plan for one layer with a tuned entry `t` (exported for tests): its layout and K-tile, except
 * where the global overrides `ov` decide (see the header).
 */
export function planTuned(attrs: Record<string, unknown>, m: number, target: string, t: TunedPlan, ov: PassContext['tile'] = {}): TilePlan {
  const byLayout = ov.layout !== undefined || ov.vecThreshold !== undefined;
  const base = planTile(attrs, m, target, byLayout ? ov : { ...ov, layout: t.layout });
  if (ov.tileK || ov.tileM) return base;
  const g = geometryOf({ ...(attrs as object), k_tile: 0 } as never);
  const segCP = g.segment / 8;
  if (!Number.isInteger(t.kTile) || t.kTile < 0 || t.kTile % segCP !== 0) return base;
  const kTile = t.kTile >= g.nChunkPairs || !getTarget(target).lut.kTiles ? 0 : t.kTile;
  return { layout: base.layout, kTile };
}

/** Rows (tokens) of a lut.gemm: its output's leading dims (symbols through bindings; unknown = 1). */
function gemmRows(n: Node, bindings: Record<string, number>): number {
  return n.outputs[0]!.type.shape.slice(0, -1).reduce<number>((p, d) => p * (typeof d === 'number' ? d : (bindings[d] ?? 1)), 1);
}

/**
 * The M at which a layer's vector-LUT choice is looked up when its own M is smaller (decode, or a
 * runtime M bound from 1): compiler/tune.ts's default prefill bucket. The kernel then runs the
 * measured winner for every call at or above the target's threshold.
 */
const VEC_PROBE_M = 32;

/** Asks `ctx.opts.tuned` about one layer and records the answer in `ctx.tuned` (unless `record` is false). */
function askTuned(ctx: PassContext, n: Node, a: Record<string, unknown>, m: number, record = true): TunedPlan | undefined {
  const tuned = ctx.opts.tuned;
  if (!tuned) return undefined;
  const plan = tuned.lookup({
    n: a.n as number,
    k: a.k as number,
    bits: a.bits as number,
    groupSize: a.group_size as number,
    tables: (a.tables as 'i8' | 'f32' | undefined) ?? 'i8',
    m,
  });
  if (record) (ctx.tuned ??= []).push({ node: n.name, op: n.op, ...(plan ? { plan } : {}) });
  return plan;
}

export const tile: Pass = {
  name: 'tile',
  summary: 'choose table layout (scalar or Vec-LUT) and K-tile of every lut.matmul per target',
  run(g: Graph, ctx: PassContext): void {
    const bindings = { ...(g.meta?.dimBindings ?? {}), ...(ctx.opts.dimBindings ?? {}) };
    const tableLayout = new Map<Node, 'token' | 'vec'>();
    const kTiles = getTarget(ctx.opts.target).lut.kTiles;
    for (const mm of g.nodes) {
      if (mm.op === 'lut.gemm' && ctx.opts.tuned) {
        const a = resolveAttrs(findOp('lut.gemm')!, mm);
        const rows = gemmRows(mm, bindings);
        askTuned(ctx, mm, a, rows);
        // the fused kernel's one knob: a layer whose measured winner ran on 1 thread (of the model's
        // N > 1) runs on 1, at decode (M = 1) and at the prefill bucket (VEC_PROBE_M, or its own M)
        if ((ctx.opts.threads ?? 1) > 1) {
          if (askTuned(ctx, mm, a, 1, false)?.threads === 1) mm.attrs.threads_m1 = 'one';
          if (askTuned(ctx, mm, a, Math.max(rows, VEC_PROBE_M), false)?.threads === 1) mm.attrs.threads_mn = 'one';
        }
      }
      if (mm.op !== 'lut.matmul') continue;
      const a = resolveAttrs(findOp('lut.matmul')!, mm);
      const m = tokens(mm, bindings);
      const tuned = askTuned(ctx, mm, a, m);
      const plan = tuned ? planTuned(a, m, ctx.opts.target, tuned, ctx.tile) : planTile(a, m, ctx.opts.target, ctx.tile);
      const tp = mm.inputs[0]!.producer;
      // all consumers of one table build share its layout: the first decides
      const layout = (tp && tableLayout.get(tp)) ?? plan.layout;
      if (tp) tableLayout.set(tp, layout);
      mm.attrs.table_layout = layout;
      // a kernel that picks per call (wasm, runtime M) takes the measured winner at the prefill M
      const probe = m >= VEC_PROBE_M ? tuned : askTuned(ctx, mm, a, Math.max(m, VEC_PROBE_M), false);
      if (probe && !ctx.tile?.layout) mm.attrs.vec_lut = probe.layout === 'vec' ? 'on' : 'off';
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
