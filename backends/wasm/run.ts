/**
 * `lutc run --target wasm`: runs the model through exactly the artifact `lutc compile` writes: the
 * files are emitted into a fresh temporary folder, its model.mjs is imported and loaded, and the folder
 * is removed (the loaded module holds everything it needs). Inputs and outputs are lutc Tensors (i64
 * as doubles, bool as 0/1 bytes); with runtime dims each input's shape sets them and each output
 * comes back with its runtime shape. `openArtifact` compiles and loads once and runs many times
 * (any in-bounds shapes); `runArtifact` is one load and one run. The wall time of the artifact's
 * `run` call alone (inputs copied in, outputs out) goes to `opts.onRun`. The artifact's coded
 * run-time errors (bad feeds LUT5005-5007, a Gather index out of range LUT5008, a runtime dim beyond
 * its bound LUT5009) become located LutcErrors, so `lutc run` exits 1 and writes nothing.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { allocData } from '../../ir/tensor.js';
import type { Graph, Tensor } from '../../ir/types.js';
import { artifactFeed, rethrowCoded } from '../artifact-runtime.js';
import type { LoadedArtifact, RunOptions } from '../target-info.js';
import { compileModel } from './compile.js';
import type { ArtifactOutputs } from './model/files.js';
import { loadArtifactModule, type WasmCompileOptions } from './model/index.js';

/** A compiled and loaded artifact: `run` takes inputs by graph-input name, returns outputs in graph-output order. */
/** backends/target-info.ts's LoadedArtifact (close frees nothing for wasm). */
export type LoadedWasmArtifact = LoadedArtifact;

/** Compiles `graph` (after runPipeline) into a temporary folder once and loads its model.mjs. */
export async function openArtifact(graph: Graph, opts: WasmCompileOptions & RunOptions): Promise<LoadedWasmArtifact> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lutc-wasm-'));
  let model: Awaited<ReturnType<typeof loadArtifactModule>>;
  try {
    await compileModel(graph, opts, dir);
    model = await loadArtifactModule(dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return {
    async run(inputs) {
      const feeds: Record<string, unknown> = {};
      for (const v of graph.inputs) {
        const t = inputs[v.name];
        if (!t) throw new Error(`runArtifact: missing input '${v.name}'`);
        feeds[v.name] = { data: artifactFeed(t.dtype, t.data), shape: t.shape };
      }
      const t0 = performance.now();
      let res: ArtifactOutputs;
      try {
        res = model.run(feeds);
      } catch (e) {
        rethrowCoded(e, graph);
      }
      opts.onRun?.({ ms: performance.now() - t0 });
      return graph.outputs.map((v) => {
        const o = res[v.name]!;
        const data = allocData(v.type.dtype, o.data.length);
        for (let i = 0; i < o.data.length; i++) (data as Float64Array)[i] = Number(o.data[i]!);
        return { dtype: v.type.dtype, shape: o.shape, data };
      });
    },
    close() {
      model.destroy();
    },
  };
}

/** Runs `graph` (after runPipeline) on `inputs` (by graph-input name); outputs in graph-output order. */
export async function runArtifact(graph: Graph, inputs: Record<string, Tensor>, opts: WasmCompileOptions & RunOptions): Promise<Tensor[]> {
  const art = await openArtifact(graph, opts);
  try {
    return await art.run(inputs);
  } finally {
    art.close();
  }
}
