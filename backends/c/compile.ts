/**
 * `lutc compile --target c` (the C target's compile entry, backends/c/target.ts): the whole-model C
 * artifact (model.h, model.c, main.c, Makefile, weights.bin unless embedded) of a graph that went
 * through runPipeline, rendered in memory (backends/c/model/emit.ts), so a diagnosed error leaves no
 * partial output; weights.bin is a StreamedFile (target-info.ts), computed constant by constant as it
 * is written, so no stage holds the whole blob. `compileModel` writes it with the shared writer (compiler/artifact.ts).
 */
import { writeArtifact } from '../../compiler/artifact.js';
import type { Graph } from '../../ir/types.js';
import type { ArtifactFiles, CompiledArtifact } from '../target-info.js';
import { type CModelOptions, emitModel } from './model/emit.js';

/**
 * Renders the artifact of `graph` in memory (reads `embedWeights`, `isa` and `threads`: the artifact's
 * default thread count, MODEL_THREADS; LutcError LUT5003, LUT515x).
 */
export function compileArtifact(graph: Graph, opts: CModelOptions): CompiledArtifact {
  // weights.bin streams (written constant by constant, compiler/artifact.ts) rather than sitting in memory
  const emitted = emitModel(graph, { ...opts, streamWeights: true });
  opts.progress?.(
    `c: ${emitted.plan.steps.length} steps, workspace ${emitted.workspaceBytes} bytes, weights ${emitted.plan.weightBytes} bytes${emitted.embedded ? ' (embedded)' : ''}`,
  );
  // A weights.bin left over from an earlier, non-embedded compile would be stale.
  const files: ArtifactFiles = { ...emitted.files };
  if (emitted.weights) files['weights.bin'] = emitted.weights;
  return { files, remove: emitted.embedded ? ['weights.bin'] : [] };
}

/** Renders the artifact and writes it into `outDir` (compiler/artifact.ts); returns the written paths. */
export async function compileModel(graph: Graph, opts: CModelOptions, outDir: string): Promise<{ files: string[] }> {
  return { files: writeArtifact(compileArtifact(graph, opts), outDir) };
}
