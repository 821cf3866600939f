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
import { fail } from '../../base/diagnostics.js';
import type { GenerateOptions, GenerateResult } from '../../compiler/generate.js';
import { allocData } from '../../ir/tensor.js';
import type { Graph, Tensor } from '../../ir/types.js';
import { artifactFeed, artifactValues, rethrowCoded } from '../artifact-runtime.js';
import type { LoadedArtifact, RunOptions } from '../target-info.js';
import { compileModel } from './compile.js';
import type { ArtifactOutputs, LoadedModel } from './model/files.js';
import { loadArtifactModule, type WasmCompileOptions } from './model/index.js';

/** A compiled and loaded artifact: `run` takes inputs by graph-input name, returns outputs in graph-output order. */
/** backends/target-info.ts's LoadedArtifact (close frees nothing for wasm). */
export type LoadedWasmArtifact = LoadedArtifact;

/**
 * `--wasm-features relaxed-simd` asked for, but the loaded module is the SIMD128 one (the engine does
 * not validate relaxed ops, e.g. Node 20 without --experimental-wasm-relaxed-simd, or the artifact has
 * no relaxed module): a warning, never silence (results are bit-identical either way).
 */
function warnNoRelaxed(model: { relaxedSimd?: boolean }, opts: WasmCompileOptions & RunOptions): void {
  if (opts.wasmFeatures?.includes('relaxed-simd') && !model.relaxedSimd)
    opts.progress?.(
      'warning: --wasm-features relaxed-simd: this engine does not run relaxed SIMD (Node 20 needs --experimental-wasm-relaxed-simd) or the model has no relaxed module; ran the SIMD128 module (bit-identical results)',
    );
}

/** Compiles `graph` (after runPipeline) into a temporary folder, loads its model.mjs and removes the folder. */
async function compileAndLoad(graph: Graph, opts: WasmCompileOptions & RunOptions): Promise<LoadedModel> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lutc-wasm-'));
  try {
    await compileModel(graph, opts, dir);
    const model = await loadArtifactModule(dir, { threads: opts.threads });
    warnNoRelaxed(model, opts);
    return model;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Compiles `graph` (after runPipeline) into a temporary folder once and loads its model.mjs. */
export async function openArtifact(graph: Graph, opts: WasmCompileOptions & RunOptions): Promise<LoadedWasmArtifact> {
  const model = await compileAndLoad(graph, opts);
  // The shared past/present buffer (cache pairs): a past that is the Tensor this artifact returned as
  // its present last run is already in the cache and goes in as { shape } alone; presents come back
  // lazily (read from the cache when their data is first touched). A run that does not continue the
  // chain first reads every present still lazy, since it may overwrite the cache.
  const pairs = (model.kvPairs ?? []).map(([i, o]) => ({ past: graph.inputs[i]!.name, present: o }));
  let last = new Map<string, Tensor>();
  let lazy: (() => void)[] = [];
  return {
    async run(inputs) {
      const feeds: Record<string, unknown> = {};
      const chained = pairs.length > 0 && pairs.every((p) => last.get(p.past) === inputs[p.past]);
      if (!chained) for (const force of lazy.splice(0)) force();
      for (const v of graph.inputs) {
        const t = inputs[v.name];
        if (!t) throw new Error(`runArtifact: missing input '${v.name}'`);
        feeds[v.name] = chained && last.has(v.name) ? { shape: t.shape } : { data: artifactFeed(t.dtype, t.data), shape: t.shape };
      }
      const t0 = performance.now();
      let res: ArtifactOutputs;
      try {
        res = pairs.length ? model.run(feeds, { kvShared: true }) : model.run(feeds);
      } catch (e) {
        rethrowCoded(e, graph);
      }
      opts.onRun?.({ ms: performance.now() - t0 });
      const toTensor = (dtype: Tensor['dtype'], o: ArtifactOutputs[string]): Tensor['data'] => {
        const src = artifactValues(dtype, o.data);
        const data = allocData(dtype, src.length);
        for (let i = 0; i < src.length; i++) (data as Float64Array)[i] = Number(src[i]!);
        return data;
      };
      const presents = new Set(pairs.map((p) => p.present));
      const outs = graph.outputs.map((v, i): Tensor => {
        const o = res[v.name]!;
        if (!presents.has(i)) return { dtype: v.type.dtype, shape: o.shape, data: toTensor(v.type.dtype, o) };
        let data: Tensor['data'] | undefined;
        const t = { dtype: v.type.dtype, shape: o.shape } as Tensor;
        Object.defineProperty(t, 'data', { enumerable: true, get: () => (data ??= toTensor(v.type.dtype, o)) });
        lazy.push(() => void t.data);
        return t;
      });
      last = new Map(pairs.map((p) => [p.past, outs[p.present]!]));
      return outs;
    },
    close() {
      lazy = [];
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

/**
 * Greedy generation inside the artifact (RunModule.generate): model.mjs's `generate`, the cache in
 * the shared past/present buffer where every pair has one, so it never leaves linear memory. Coded
 * run-time errors become located LutcErrors.
 */
export async function generate(
  graph: Graph,
  opts: WasmCompileOptions & RunOptions,
  prompt: readonly number[],
  gen: GenerateOptions,
): Promise<GenerateResult> {
  const model = await compileAndLoad(graph, opts);
  if (!model.generate)
    fail('LUT6041', 'generate --target wasm: the compiled model is no decoder with runtime dims (model.mjs has no generate)');
  try {
    const r = await model.generate(prompt, { ...gen, eosTokenIds: [...(gen.eosTokenIds ?? [])] });
    return { tokens: r.tokens, logits: [], prefillMs: r.prefillMs, decodeMs: r.decodeMs, promptTokens: prompt.length };
  } catch (e) {
    rethrowCoded(e, graph);
  } finally {
    model.destroy();
  }
}
