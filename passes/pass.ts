/**
 * What a pass is and what it sees: the `Pass` interface, the `PassContext` every pass receives
 * (options, the layer decisions lower-linear appends, tile and lookup-width overrides, the tuned
 * plans the tile pass took) and
 * `LayerDecision`. Types only, so that passes, passes/registry.ts and compiler/pipeline.ts share them
 * without importing one another.
 */
import type { CompileOptions, TunedPlan } from '../compiler/options.js';
import type { VecBytes } from '../ir/lut/geometry.js';
import type { Graph } from '../ir/types.js';

/** What lowering decided for one linear layer, for `lutc inspect`. */
export interface LayerDecision {
  node: string;
  op: string;
  lowered: boolean;
  /** Why it was or was not lowered. */
  reason: string;
  n?: number;
  k?: number;
  bits?: number;
  groupSize?: number;
  /** Bytes of lookup tables per token for this layer's activation. */
  tableBytes?: number;
  /**
   * A weight-quantization request (`--bits`, `--group-size`) this layer did not take as given, and
   * why: not lowered, weights already quantized, or a group clamped to K (runPipeline says it as a
   * `warning:` through `progress`).
   */
  warning?: string;
}

/** Tile choices forced by the user or `lutc tune` (0 or absent = the pass decides). */
export interface TileOverrides {
  /** Tokens whose tables one K-tile must hold (sizes the K-tile). */
  tileM?: number;
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
  /**
   * The tile pass appends every LUT layer it asked `opts.tuned` about, with the plan it took (absent:
   * a miss); runPipeline says how many took tuned plans.
   */
  tuned?: { node: string; op: string; plan?: TunedPlan }[];
  /** Lookup width override for bitplane-layout (default per target). */
  vecBytes?: VecBytes;
}

/** One pass: its command-line name (= its file name in passes/), a one-line summary, and its body. */
export interface Pass {
  name: string;
  summary: string;
  run(g: Graph, ctx: PassContext): void;
}
