/**
 * Loads the optional parts of lutc the CLI drives (backends' run/compile/kernel entry points) by
 * dynamic import, so the CLI builds and works before a backend lands, and says so with a coded
 * diagnostic (LUT6010) instead of crashing. A module that exists but fails to load is a bug and is
 * rethrown (exit 70), never reported as "not available".
 */
import * as fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { fail } from '../diagnostics.js';
import type { CompileOptions, KernelRequest, Target } from '../options.js';
import type { Graph, Tensor } from '../../ir/types.js';

/** `backends/<target>/run.ts`: runs a model through the target's artifact. */
export interface RunModule {
  runArtifact(graph: Graph, inputs: Record<string, Tensor>, opts: CompileOptions): Promise<Tensor[]> | Tensor[];
}
/** `backends/<target>/compile.ts`: writes the artifact for a compiled graph. */
export interface CompileModule {
  compileModel(graph: Graph, opts: CompileOptions, outDir: string): Promise<{ files: string[] } | void> | { files: string[] } | void;
}
/** `backends/<target>/kernel.ts`: kernel-only mode. */
export interface KernelModule {
  emitKernel(req: KernelRequest): { files: Record<string, string | Uint8Array> } | Promise<{ files: Record<string, string | Uint8Array> }>;
}
/** `backends/<target>/bench.ts` (optional): benchmarks a model against onnxruntime. */
export interface BenchModule {
  benchModel(modelPath: string, opts: CompileOptions, log: (msg: string) => void): Promise<string>;
}

/**
 * Imports `rel` (relative to this file, `.js` spelling) when the module exists in this build,
 * else returns undefined. Works both from dist/ (compiled .js) and from sources under vitest/tsx (.ts).
 */
export async function optionalModule<T>(rel: string): Promise<T | undefined> {
  const url = new URL(rel, import.meta.url);
  const file = fileURLToPath(url);
  const candidates = [file, file.replace(/\.js$/, '.ts')];
  const found = candidates.find((f) => fs.existsSync(f));
  if (!found) return undefined;
  return (await import(found === file ? url.href : new URL(rel.replace(/\.js$/, '.ts'), import.meta.url).href)) as T;
}

/** Loads `backends/<target>/<part>.js` and checks it exports `fn`; undefined when absent. */
export async function backendPart<T>(target: Target, part: 'run' | 'compile' | 'kernel' | 'bench', fn: string): Promise<T | undefined> {
  const mod = await optionalModule<Record<string, unknown>>(`../../backends/${target}/${part}.js`);
  if (!mod || typeof mod[fn] !== 'function') return undefined;
  return mod as T;
}

/** LUT6010: the requested backend part is not in this build yet. */
export function notAvailable(target: Target, what: string): never {
  fail('LUT6010', `target '${target}' is not available yet: ${what} (backends/${target} has not landed in this build)`);
}
