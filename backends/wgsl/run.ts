/**
 * `lutc run --target wgsl`: compiles the graph into a temporary folder and runs exactly that artifact
 * (model.mjs + weights.bin) on a WebGPU device in Node (Dawn through the optional `webgpu` package;
 * SwiftShader on machines without a GPU, see device.ts). Outputs come back as IR tensors in
 * graph-output order (int64 as float64-stored i64 tensors, as the interpreter stores them). The wall
 * time of the artifact's `run` (uploads, dispatches, read-back) and the adapter go to `opts.onRun`.
 * `loadGraph` is the compile-once form: one artifact loaded onto a device, run on many feeds (of any
 * in-bounds shape when the graph has runtime dims: outputs then have the run's shapes);
 * `openArtifact` is the same on a device of its own (the targets' compile-once loader).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { fail } from '../../base/diagnostics.js';
import type { GenerateOptions, GenerateResult, SamplingOptions } from '../../compiler/generate.js';
import type { CompileOptions } from '../../compiler/options.js';
import { allocData } from '../../ir/tensor.js';
import type { DType, Graph, Tensor } from '../../ir/types.js';
import { artifactFeed, artifactValues, rethrowCoded } from '../artifact-runtime.js';
import type { RunOptions } from '../target-info.js';
import { compileModel } from './compile.js';
import { openNodeGpu } from './device.js';

/** The host module's API (model.mjs), as far as Node callers use it (docs/wasm-model.md, "Runtime API"). */
export interface HostModel {
  run(feeds: Record<string, unknown>): Promise<Record<string, { dtype: string; shape: number[]; data: ArrayLike<number | bigint> }>>;
  inputs: { name: string; dtype: string; shape: number[] }[];
  outputs: { name: string; dtype: string; shape: number[] }[];
  destroy(): void;
  /** model.generate (decoders with runtime dims: artifact-runtime.ts GENERATE_JS). */
  generate?(
    prompt: readonly number[],
    opts: SamplingOptions & { maxNewTokens?: number; eosTokenIds?: number[]; onToken?(id: number): void },
  ): Promise<{ tokens: number[]; prefillMs: number; decodeMs: number }>;
}

/** Imports a compiled artifact's model.mjs and loads it onto `device`. */
export async function loadArtifact(dir: string, device: GPUDevice): Promise<HostModel> {
  const mod = (await import(pathToFileURL(join(dir, 'model.mjs')).href)) as { load(o: { device: GPUDevice }): Promise<HostModel> };
  return mod.load({ device });
}

/**
 * Runs a loaded artifact on IR tensors; returns IR tensors in graph-output order. The artifact's
 * coded errors (LUT5005-5008) become LutcErrors located at their node.
 */
export async function runLoaded(model: HostModel, graph: Graph, inputs: Record<string, Tensor>): Promise<Tensor[]> {
  const feed: Record<string, unknown> = {};
  for (const v of graph.inputs) {
    const t = inputs[v.name];
    if (!t) fail('LUT5220', `input '${v.name}' is missing`);
    feed[v.name] = { data: artifactFeed(t.dtype, t.data), shape: t.shape };
  }
  const res = await model.run(feed).catch((e: unknown) => rethrowCoded(e, graph));
  return graph.outputs.map((v) => {
    const o = res[v.name]!;
    const src = artifactValues(o.dtype, o.data);
    const data = allocData(o.dtype as DType, src.length);
    for (let i = 0; i < src.length; i++) data[i] = Number(src[i]!);
    return { dtype: o.dtype as DType, shape: o.shape, data };
  });
}

/** A compiled graph loaded once onto a device: `run` takes IR tensors (any in-bounds shape for runtime dims). */
export interface LoadedGraph {
  run(feeds: Record<string, Tensor>): Promise<Tensor[]>;
  /** Frees the model's GPU buffers (the device stays the caller's). */
  close(): void;
}

/**
 * Compiles `graph` (after runPipeline) once into a temporary artifact, loads its model.mjs onto
 * `device` (the folder is removed once loaded) and returns a runner over the same code paths as
 * `runArtifact`: coded artifact errors (LUT5005-5009) become LutcErrors.
 */
export async function loadGraph(device: GPUDevice, graph: Graph, opts: CompileOptions = { target: 'wgsl' }): Promise<LoadedGraph> {
  const dir = mkdtempSync(join(tmpdir(), 'lutc-wgsl-'));
  let model: HostModel;
  try {
    await compileModel(graph, opts, dir);
    model = await loadArtifact(dir, device);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return { run: (feeds) => runLoaded(model, graph, feeds), close: () => model.destroy() };
}

/** `loadGraph` on a Dawn device of its own (RunModule's compile-once loader): close releases both. */
export async function openArtifact(graph: Graph, opts: CompileOptions & RunOptions): Promise<LoadedGraph> {
  const gpu = await openNodeGpu();
  try {
    const model = await loadGraph(gpu.device, graph, opts);
    return {
      run: (feeds) => model.run(feeds),
      close: () => {
        model.close();
        gpu.release();
      },
    };
  } catch (e) {
    gpu.release();
    throw e;
  }
}

/** Compiles `graph` (after runPipeline) to a temporary artifact and runs it on Dawn. */
export async function runArtifact(graph: Graph, inputs: Record<string, Tensor>, opts: CompileOptions & RunOptions): Promise<Tensor[]> {
  const gpu = await openNodeGpu();
  try {
    const model = await loadGraph(gpu.device, graph, opts);
    try {
      const t0 = performance.now();
      const outs = await model.run(inputs);
      opts.onRun?.({ ms: performance.now() - t0, device: gpu.adapterInfo });
      return outs;
    } finally {
      model.close();
    }
  } finally {
    gpu.release();
  }
}

/**
 * Greedy generation inside the artifact (RunModule.generate): model.mjs's `generate` on a Dawn device
 * of its own, the cache in the shared past/present buffer on the device where every pair has one (no
 * cache round trip per token). Coded run-time errors become located LutcErrors.
 */
export async function generate(
  graph: Graph,
  opts: CompileOptions & RunOptions,
  prompt: readonly number[],
  gen: GenerateOptions,
): Promise<GenerateResult> {
  const gpu = await openNodeGpu();
  const dir = mkdtempSync(join(tmpdir(), 'lutc-wgsl-gen-'));
  try {
    let model: HostModel;
    try {
      await compileModel(graph, opts, dir);
      model = await loadArtifact(dir, gpu.device);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    try {
      if (!model.generate)
        fail('LUT6041', 'generate --target wgsl: the compiled model is no decoder with runtime dims (model.mjs has no generate)');
      const r = await model
        .generate(prompt, { ...gen, eosTokenIds: [...(gen.eosTokenIds ?? [])] })
        .catch((e: unknown) => rethrowCoded(e, graph));
      return { tokens: r.tokens, logits: [], prefillMs: r.prefillMs, decodeMs: r.decodeMs, promptTokens: prompt.length };
    } finally {
      model.destroy();
    }
  } finally {
    gpu.release();
  }
}
