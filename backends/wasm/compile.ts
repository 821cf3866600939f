/**
 * `lutc compile --target wasm`: writes the whole-model artifact (backends/wasm/model/) for a graph
 * after runPipeline. Every file is rendered in memory first; unsupported ops fail with coded
 * diagnostics (LUT5050..) before anything is written.
 */
import type { CompileOptions } from '../../compiler/options.js';
import type { Graph } from '../../ir/types.js';
import { writeArtifact, type WasmCompileOptions } from './model/index.js';

/** Writes model.wasm, model.mjs, model.d.ts, manifest.json (and weights.bin for large models) to `outDir`. */
export async function compileModel(graph: Graph, opts: CompileOptions, outDir: string): Promise<{ files: string[] }> {
  opts.progress?.('wasm: building the model module');
  const files = writeArtifact(graph, opts as WasmCompileOptions, outDir);
  return { files };
}
