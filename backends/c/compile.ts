/**
 * `lutc compile --target c` (the C target's compile entry, backends/c/target.ts): the whole-model C
 * artifact (model.h, model.c, main.c, Makefile, weights.bin unless embedded) of a graph that went
 * through runPipeline, rendered fully in memory (backends/c/model/emit.ts), so a diagnosed error
 * leaves no partial output. `compileModel` writes it with the shared writer (compiler/artifact.ts).
 */
import { writeArtifact } from '../../compiler/artifact.js';
import type { Graph } from '../../ir/types.js';
import type { CompiledArtifact } from '../target-info.js';
import { type CModelOptions, emitModel } from './model/emit.js';

/**
 * Renders the artifact of `graph` in memory (reads `embedWeights`, `isa` and `threads`: the artifact's
 * default thread count, MODEL_THREADS; LutcError LUT5003, LUT515x).
 */
export function compileArtifact(graph: Graph, opts: CModelOptions): CompiledArtifact {
  const emitted = emitModel(graph, opts);
  opts.progress?.(
    `c: ${emitted.plan.steps.length} steps, workspace ${emitted.workspaceBytes} bytes, weights ${emitted.plan.weightBytes} bytes${emitted.embedded ? ' (embedded)' : ''}`,
  );
  // A weights.bin left over from an earlier, non-embedded compile would be stale.
  return { files: emitted.files, remove: emitted.embedded ? ['weights.bin'] : [] };
}

/** Renders the artifact and writes it into `outDir` (compiler/artifact.ts); returns the written paths. */
export async function compileModel(graph: Graph, opts: CModelOptions, outDir: string): Promise<{ files: string[] }> {
  return { files: writeArtifact(compileArtifact(graph, opts), outDir) };
}
