/**
 * The pass registry: every pass by its command-line name (= its file name in passes/). The pipeline
 * (compiler/pipeline.ts) is a list of these names; tests run single passes by name too.
 */
import { fail } from '../compiler/diagnostics.js';
import type { CompileOptions } from '../compiler/options.js';
import type { LayerDecision } from '../compiler/pipeline.js';
import type { Graph } from '../ir/types.js';
import type { VecBytes } from '../ir/lut/geometry.js';
import { lowerLinear } from './lower-linear.js';
import { tablePrecompute } from './table-precompute.js';
import { hoistTablePrecompute } from './hoist-table-precompute.js';
import { fuseOps } from './fuse-ops.js';
import { tile } from './tile.js';
import { bitplaneLayout } from './bitplane-layout.js';

/** Tile choices forced by the user or `lutc tune` (0 or absent = the pass decides). */
export interface TileOverrides {
  tileM?: number;
  tileN?: number;
  /** Chunk pairs (8 activations) per K-tile. */
  tileK?: number;
  /** Force the table layout instead of choosing by M. */
  layout?: 'token' | 'vec';
  /** Tokens at or above which the Vec-LUT layout is chosen (default 8). */
  vecThreshold?: number;
}

/** What every pass sees besides the graph. */
export interface PassContext {
  opts: CompileOptions;
  /** lower-linear appends one decision per linear layer. */
  decisions: LayerDecision[];
  tile?: TileOverrides;
  /** Lookup width override for bitplane-layout (default per target). */
  vecBytes?: VecBytes;
}

export interface Pass {
  name: string;
  summary: string;
  run(g: Graph, ctx: PassContext): void;
}

const PASSES: readonly Pass[] = [lowerLinear, tablePrecompute, hoistTablePrecompute, fuseOps, tile, bitplaneLayout];
const BY_NAME = new Map(PASSES.map((p) => [p.name, p]));

/** The pass named `name`; an unknown name is a diagnosed error (LUT4001) listing the known ones. */
export function getPass(name: string): Pass {
  const p = BY_NAME.get(name);
  if (!p) fail('LUT4001', `unknown pass '${name}' (known: ${[...BY_NAME.keys()].join(', ')})`);
  return p;
}

export function allPasses(): readonly Pass[] {
  return PASSES;
}

/** A fresh context for running passes outside the pipeline (tests, tools). */
export function passContext(opts: Partial<CompileOptions> = {}, extra: Partial<PassContext> = {}): PassContext {
  return { opts: { target: 'ref', ...opts }, decisions: [], ...extra };
}
