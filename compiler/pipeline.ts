/**
 * The compile pipeline: the ordered list of passes run on an imported graph, and what it reports.
 * (Stub until the LUT passes land: returns the graph unchanged.)
 */
import type { Graph } from '../ir/types.js';
import type { CompileOptions } from './options.js';

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
}

export interface PipelineResult {
  graph: Graph;
  decisions: LayerDecision[];
  /** IR text after each pass selected by `printIrAfter`. */
  irDumps: { pass: string; text: string }[];
}

/** Runs the pipeline for `opts.target` on `g` (mutated in place and returned). */
export function runPipeline(g: Graph, _opts: CompileOptions): PipelineResult {
  return { graph: g, decisions: [], irDumps: [] };
}
