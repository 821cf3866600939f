/**
 * `lutc compile --target wgsl` (the WGSL target's compile entry, backends/wgsl/target.ts): the WGSL
 * artifact of a compiled graph (after runPipeline), rendered in memory -- model.mjs (host module with
 * the shaders inline), model.d.ts, weights.bin (the constant blob in WGSL storage format),
 * manifest.json and, for reading and debugging, every distinct shader as shaders/NNN.wgsl.
 * `compileModel` writes it with the shared writer (compiler/artifact.ts).
 * The arena and the weights are one storage buffer each; a plan whose buffer exceeds MAX_WGSL_BUFFER
 * (2^32 - 4 bytes: the most any WebGPU implementation binds -- wgpu and Dawn cap
 * maxStorageBufferBindingSize there -- and the reach of the shaders' u32 offsets) is LUT5209 ("shapes
 * too large") at compile time; a device with lower limits is reported when the artifact loads.
 */
import { fail } from '../../base/diagnostics.js';
import { writeArtifact } from '../../compiler/artifact.js';
import type { CompileOptions } from '../../compiler/options.js';
import type { Graph } from '../../ir/types.js';
import type { ArtifactFiles, CompiledArtifact } from '../target-info.js';
import { dispatchTable, manifestOf, renderDts, renderHostModule } from './host-module.js';
import { renderModel } from './model-shaders.js';

/** The largest storage buffer a WGSL artifact may need (bytes; see the header). */
export const MAX_WGSL_BUFFER = 2 ** 32 - 4;

/** Renders the artifact of `graph` in memory (LutcError LUT52xx for what WGSL cannot run). */
export function compileArtifact(graph: Graph, opts: CompileOptions): CompiledArtifact {
  opts.progress?.(`wgsl: rendering ${graph.nodes.length} nodes`);
  const m = renderModel(graph);
  for (const [what, bytes] of [
    ['activation arena', m.plan.arenaBytes],
    ['weight buffer', m.plan.weightBytes],
  ] as const)
    if (bytes > MAX_WGSL_BUFFER)
      fail(
        'LUT5209',
        `shapes too large: the ${what} needs ${bytes} bytes in one storage buffer; WebGPU binds at most ${MAX_WGSL_BUFFER}`,
        graph.meta?.file ? { kind: 'file', file: graph.meta.file } : undefined,
      );
  const { shaders } = dispatchTable(m);
  const manifest = manifestOf(m, shaders.length);
  const files: ArtifactFiles = {
    'model.mjs': renderHostModule(m, manifest),
    'model.d.ts': renderDts(manifest),
    'weights.bin': m.weights,
    'manifest.json': JSON.stringify(manifest, null, 2) + '\n',
  };
  shaders.forEach((s, i) => (files[`shaders/${String(i).padStart(3, '0')}.wgsl`] = s));
  opts.progress?.(
    `wgsl: ${m.kernels.length} dispatches, ${shaders.length} shaders, arena ${m.plan.arenaBytes} B, weights ${m.plan.weightBytes} B`,
  );
  // shaders of an earlier, larger model would otherwise stay next to these
  return { files, remove: ['shaders'] };
}

/** Renders the artifact and writes it into `outDir` (compiler/artifact.ts); returns the written paths. */
export async function compileModel(graph: Graph, opts: CompileOptions, outDir: string): Promise<{ files: string[] }> {
  return { files: writeArtifact(compileArtifact(graph, opts), outDir) };
}
