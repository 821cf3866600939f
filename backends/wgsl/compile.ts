/**
 * `lutc compile --target wgsl`: writes the WGSL artifact of a compiled graph (after runPipeline) --
 * DIR/model.mjs (host module with the shaders inline), model.d.ts, weights.bin (the constant blob in
 * WGSL storage format) and manifest.json -- and, for reading and debugging, every distinct shader as
 * DIR/shaders/NNN.wgsl. The CLI loads this file dynamically (compiler/cli/stages.ts).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CompileOptions } from '../../compiler/options.js';
import type { Graph } from '../../ir/types.js';
import { renderModel } from './model-shaders.js';
import { dispatchTable, manifestOf, renderDts, renderHostModule } from './host-module.js';

/** Writes the artifact into `outDir`; returns the files written (paths relative to outDir). */
export async function compileModel(graph: Graph, opts: CompileOptions, outDir: string): Promise<{ files: string[] }> {
  opts.progress?.(`wgsl: rendering ${graph.nodes.length} nodes`);
  const m = renderModel(graph);
  const { shaders } = dispatchTable(m);
  const manifest = manifestOf(m, shaders.length);
  mkdirSync(join(outDir, 'shaders'), { recursive: true });
  const files: Record<string, string | Uint8Array> = {
    'model.mjs': renderHostModule(m, manifest),
    'model.d.ts': renderDts(manifest),
    'weights.bin': m.weights,
    'manifest.json': JSON.stringify(manifest, null, 2) + '\n',
  };
  shaders.forEach((s, i) => (files[`shaders/${String(i).padStart(3, '0')}.wgsl`] = s));
  for (const [name, data] of Object.entries(files)) writeFileSync(join(outDir, name), data);
  opts.progress?.(`wgsl: ${m.kernels.length} dispatches, ${shaders.length} shaders, arena ${m.plan.arenaBytes} B, weights ${m.plan.weightBytes} B`);
  return { files: Object.keys(files) };
}
