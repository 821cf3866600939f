/**
 * `lutc run --target ref`: the run entry of the reference target (backends/ref/target.ts) interprets
 * the compiled graph with ir/interpret.ts, reporting progress on long runs through `opts.progress`
 * (silent for the first second, then at most two lines a second).
 */

import type { CompileOptions } from '../../compiler/options.js';
import { interpret, progressReporter } from '../../ir/interpret.js';
import type { Graph, Tensor } from '../../ir/types.js';

/** Interprets `graph` (after runPipeline) on `inputs`; outputs in graph-output order. */
export function runArtifact(graph: Graph, inputs: Record<string, Tensor>, opts: CompileOptions): Tensor[] {
  const log = opts.progress;
  return interpret(graph, inputs, log ? { onNode: progressReporter(log) } : {});
}
