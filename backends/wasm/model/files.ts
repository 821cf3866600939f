/**
 * Writing and loading whole-model artifacts: `writeArtifact` builds every file in memory first (so a
 * diagnosed error writes nothing) and then writes them into the folder; `loadArtifactModule` imports
 * an emitted model.mjs from a folder (what `lutc run --target wasm` and the benchmark use).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { CompileOptions } from '../../../compiler/options.js';
import type { Graph } from '../../../ir/types.js';
import { emitArtifact } from './artifact.js';
import type { ModelBuildOptions } from './module.js';

/** CompileOptions plus the wasm-only knobs (not on the CLI yet). */
export interface WasmCompileOptions extends CompileOptions {
  /** Weight images up to this many bytes are inlined as a data segment (default 4 MiB). */
  inlineWeightsMax?: number;
  /** Skip binaryen -O3 (faster builds for tests). */
  optimize?: boolean;
}

/** The emitter options carried by compile options. */
export function wasmOptions(opts: Partial<WasmCompileOptions>): ModelBuildOptions {
  return { inlineWeightsMax: opts.inlineWeightsMax, optimize: opts.optimize };
}

/** Builds the artifact of `g` and writes it to `outDir`; returns the written paths. */
export function writeArtifact(g: Graph, opts: Partial<WasmCompileOptions>, outDir: string): string[] {
  const { files } = emitArtifact(g, wasmOptions(opts));
  fs.mkdirSync(outDir, { recursive: true });
  const written: string[] = [];
  for (const [name, data] of Object.entries(files)) {
    const p = path.join(outDir, name);
    fs.writeFileSync(p, data);
    written.push(p);
  }
  // a stale weights.bin from an earlier, larger build must not linger next to an inline module
  if (!files['weights.bin'] && fs.existsSync(path.join(outDir, 'weights.bin'))) fs.rmSync(path.join(outDir, 'weights.bin'));
  return written;
}

/** The loaded-model interface of model.mjs. */
export interface LoadedModel {
  run(feeds: Record<string, unknown>): Record<string, { data: ArrayLike<number | bigint>; shape: number[]; dtype: string }>;
}

/** Imports `dir/model.mjs` and loads it. */
export async function loadArtifactModule(dir: string): Promise<LoadedModel> {
  const mod = (await import(pathToFileURL(path.join(path.resolve(dir), 'model.mjs')).href)) as { load(): Promise<LoadedModel> };
  return mod.load();
}
