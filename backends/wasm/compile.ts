/**
 * `lutc compile --target wasm` (the WASM target's compile entry, backends/wasm/target.ts): the
 * whole-model artifact of backends/wasm/model/ (model.wasm, model.mjs, model.d.ts, manifest.json,
 * weights.bin for large models, model-mt.wasm / model-relaxed.wasm / model-mt-relaxed.wasm with
 * --threads N / --wasm-features relaxed-simd) of a graph after runPipeline, rendered in memory; unsupported ops fail
 * with coded diagnostics (LUT5003, LUT5051..) before anything exists; weights.bin is a StreamedFile
 * (target-info.ts) computed as it is written. `compileModel` writes it with the shared
 * writer (compiler/artifact.ts).
 */
import { writeArtifact } from '../../compiler/artifact.js';
import type { Graph } from '../../ir/types.js';
import type { CompiledArtifact } from '../target-info.js';
import { emitArtifact, type WasmCompileOptions, wasmOptions } from './model/index.js';

/** Renders the artifact of `graph` in memory. */
export function compileArtifact(graph: Graph, opts: WasmCompileOptions): CompiledArtifact {
  opts.progress?.('wasm: building the model module');
  // weights.bin streams (written constant by constant, compiler/artifact.ts) rather than sitting in memory
  const { files } = emitArtifact(graph, { ...wasmOptions(opts), streamWeights: true });
  // stale files of an earlier build (weights.bin of a larger model, variant modules of one with
  // --threads / --wasm-features) must not linger next to this one
  const optional = ['weights.bin', 'model-mt.wasm', 'model-relaxed.wasm', 'model-mt-relaxed.wasm'];
  return { files, remove: optional.filter((f) => !files[f]) };
}

/** Renders the artifact and writes it into `outDir` (compiler/artifact.ts); returns the written paths. */
export async function compileModel(graph: Graph, opts: WasmCompileOptions, outDir: string): Promise<{ files: string[] }> {
  return { files: writeArtifact(compileArtifact(graph, opts), outDir) };
}
