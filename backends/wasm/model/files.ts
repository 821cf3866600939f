/**
 * The wasm compile options (`WasmCompileOptions`, and the emitter options they carry) and loading a
 * written artifact: `loadArtifactModule` imports an emitted model.mjs from a folder (what
 * `lutc run --target wasm` and the benchmark use). Writing goes through backends/wasm/compile.ts
 * and the shared writer (compiler/artifact.ts).
 */
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { SamplingOptions } from '../../../compiler/generate.js';
import type { CompileOptions } from '../../../compiler/options.js';
import type { ModelBuildOptions } from './module.js';

/** CompileOptions (`threads` N > 1: the artifact gains model-mt.wasm, load()'s default) plus the wasm-only knobs (not on the CLI yet). */
export interface WasmCompileOptions extends CompileOptions {
  /** Weight images up to this many bytes are inlined as a data segment (default 4 MiB). */
  inlineWeightsMax?: number;
  /** Skip binaryen -O3 (faster builds for tests). */
  optimize?: boolean;
}

/** The emitter options carried by compile options. */
export function wasmOptions(opts: Partial<WasmCompileOptions>): ModelBuildOptions {
  return {
    inlineWeightsMax: opts.inlineWeightsMax,
    optimize: opts.optimize,
    ...(opts.threads && opts.threads > 1 && { threads: opts.threads }),
    ...(opts.wasmFeatures?.includes('relaxed-simd') && { relaxedSimd: true }),
  };
}

/** One output of run(): its data (the dtype's typed array), shape and dtype. */
export type ArtifactOutputs = Record<string, { data: ArrayLike<number | bigint>; shape: number[]; dtype: string }>;

/** The loaded-model interface of model.mjs (docs/wasm-model.md, "Runtime API"). */
export interface LoadedModel {
  /** Synchronous (the WGSL artifact's returns a Promise; `await` suits both). */
  run(feeds: Record<string, unknown>, opts?: { kvShared?: boolean }): ArtifactOutputs;
  /** `shape`: compiled shape (the bounds with runtime dims, `dims` then giving the dim expressions). */
  inputs: { name: string; dtype: string; shape: number[]; dims?: (number | string)[] }[];
  outputs: { name: string; dtype: string; shape: number[]; dims?: (number | string)[] }[];
  destroy(): void;
  /** The thread count it runs on (1 unless load({ threads }) and the artifact's model-mt.wasm could run). */
  threads: number;
  /** Whether it loaded a relaxed-SIMD module (the artifact has one and the engine runs relaxed SIMD). */
  relaxedSimd: boolean;
  /** model.mjs generate (decoders with runtime dims only). */
  generate?(
    prompt: readonly number[],
    opts: SamplingOptions & { maxNewTokens?: number; eosTokenIds?: number[]; onToken?(id: number): void },
  ): Promise<{ tokens: number[]; prefillMs: number; decodeMs: number }>;
  /** The shared-buffer cache pairs, [input index, output index] (model.mjs `meta.kvPairs`; absent without). */
  kvPairs?: [number, number][];
}

/** model.mjs load() options this side passes (docs/wasm-model.md): threads, and where the fallback warning goes. */
export interface LoadOptions {
  threads?: number;
  relaxedSimd?: boolean;
  warn?: (msg: string) => void;
}

/** Imports `dir/model.mjs` and loads it. */
export async function loadArtifactModule(dir: string, opts: LoadOptions = {}): Promise<LoadedModel> {
  const mod = (await import(pathToFileURL(path.join(path.resolve(dir), 'model.mjs')).href)) as {
    load(opts?: LoadOptions): Promise<LoadedModel>;
    meta: { kvPairs?: [number, number][] };
  };
  const model = await mod.load(opts);
  return mod.meta.kvPairs ? { ...model, run: model.run, kvPairs: mod.meta.kvPairs } : model;
}
