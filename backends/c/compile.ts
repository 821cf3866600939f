/**
 * `lutc compile --target c`: writes the whole-model C artifact (model.h, model.c, main.c, Makefile,
 * weights.bin unless embedded) for a graph that went through runPipeline. Rendering happens fully in
 * memory first (backends/c/model/emit.ts), so a diagnosed error leaves no partial output.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fail } from '../../compiler/diagnostics.js';
import type { CompileOptions } from '../../compiler/options.js';
import type { Graph } from '../../ir/types.js';
import { emitModel, type CModelOptions } from './model/emit.js';

/**
 * Compiles `graph` into `outDir`. Options beyond CompileOptions (`embedWeights`) are read when the
 * caller passes a CModelOptions. Returns the written paths.
 */
export async function compileModel(graph: Graph, opts: CompileOptions, outDir: string): Promise<{ files: string[] }> {
  const emitted = emitModel(graph, opts as CModelOptions);
  const written: string[] = [];
  try {
    fs.mkdirSync(outDir, { recursive: true });
    for (const [name, data] of Object.entries(emitted.files)) {
      const p = path.join(outDir, name);
      fs.writeFileSync(p, data);
      written.push(p);
    }
    // A weights.bin left over from an earlier, non-embedded compile would be stale: remove it.
    if (emitted.embedded) fs.rmSync(path.join(outDir, 'weights.bin'), { force: true });
  } catch (e) {
    fail('LUT5160', `cannot write the C artifact to '${outDir}': ${(e as Error).message}`);
  }
  opts.progress?.(`c: ${emitted.plan.steps.length} steps, workspace ${emitted.workspaceBytes} bytes, weights ${emitted.plan.weightBytes} bytes${emitted.embedded ? ' (embedded)' : ''} -> ${outDir}`);
  return { files: written };
}
