/**
 * `lutc run --target ref`: the run entry of the reference target (backends/ref/target.ts) interprets
 * the compiled graph with ir/interpret.ts, reporting progress on long runs through `opts.progress`
 * (silent for the first second, then at most two lines a second), and the interpreter's wall time
 * through `opts.onRun`; `openArtifact` is the same as a compile-once loader (`lutc generate`).
 */

import { interpret, progressReporter } from '../../ir/interpret.js';
import type { Graph, Tensor } from '../../ir/types.js';
import type { LoadedArtifact, RunOptions } from '../target-info.js';

/** Interprets `graph` (after runPipeline) on `inputs`; outputs in graph-output order. */
export function runArtifact(graph: Graph, inputs: Record<string, Tensor>, opts: RunOptions): Tensor[] {
  const log = opts.progress;
  const t0 = performance.now();
  const outs = interpret(graph, inputs, log ? { onNode: progressReporter(log) } : {});
  opts.onRun?.({ ms: performance.now() - t0 });
  return outs;
}

/** The interpreter as a loaded artifact: nothing to build, each run interprets the graph. */
export function openArtifact(graph: Graph, opts: RunOptions): LoadedArtifact {
  return { run: async (inputs) => runArtifact(graph, inputs, opts), close: () => {} };
}
