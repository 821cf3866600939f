/**
 * The pass registry: every pass by its command-line name (= its file name in passes/). The pipeline
 * (compiler/pipeline.ts) is a list of these names; tests run single passes by name too. The types a
 * pass implements and receives are in passes/pass.ts (re-exported here).
 */
import { fail } from '../base/diagnostics.js';
import type { CompileOptions } from '../compiler/options.js';
import { bitplaneLayout } from './bitplane-layout.js';
import { foldConstants } from './fold-constants.js';
import { fuseAttention } from './fuse-attention.js';
import { fuseOps } from './fuse-ops.js';
import { hoistTablePrecompute } from './hoist-table-precompute.js';
import { legalize } from './legalize.js';
import { lowerLinear } from './lower-linear.js';
import type { Pass, PassContext } from './pass.js';
import { tablePrecompute } from './table-precompute.js';
import { tile } from './tile.js';

export type { LayerDecision, Pass, PassContext, TileOverrides } from './pass.js';

const PASSES: readonly Pass[] = [
  lowerLinear,
  tablePrecompute,
  hoistTablePrecompute,
  fuseOps,
  tile,
  bitplaneLayout,
  foldConstants,
  fuseAttention,
  legalize,
];
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
