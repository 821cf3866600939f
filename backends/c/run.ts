/**
 * `lutc run --target c`: renders the model (backends/c/model/emit.ts), builds the harness with the
 * system C compiler into a cache keyed by a hash of the sources, compiler and flags (toolchain.ts
 * buildC: a hit reuses the binary), runs it on .npy inputs in a temporary folder and reads the
 * outputs back through the outputs.json it writes. Weights travel as a side file at run time
 * (or are embedded in model.c, then part of the hash), so a cached binary never runs stale weights.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fail } from '../../base/diagnostics.js';
import { readNpyFile, writeNpy } from '../../compiler/npy.js';
import { makeTensor } from '../../ir/tensor.js';
import type { Graph, Tensor } from '../../ir/types.js';
import { type CModelOptions, emitModel } from './model/emit.js';
import { buildC } from './toolchain.js';

/** Options of runArtifact beyond CompileOptions. */
export interface CRunOptions extends CModelOptions {
  /** Compiler flags (default: $LUTC_C_FLAGS split on spaces, else -O2 -march=native). */
  cflags?: string[];
  /** OpenMP threads (> 1 builds with -fopenmp). */
  threads?: number;
}

/** Default optimization flags: -O2 compiles noticeably faster than -O3 for the same kernels here. */
export function defaultCFlags(): string[] {
  const env = process.env.LUTC_C_FLAGS?.trim();
  return env ? env.split(/\s+/) : ['-O2', '-march=native'];
}

/** Builds (or reuses) the harness binary for an emitted model; returns its path. */
export function buildModelBinary(files: Record<string, string | Uint8Array>, flags: string[]): string {
  const sources: Record<string, string> = {};
  for (const f of ['model.h', 'model.c', 'main.c']) sources[f] = files[f] as string;
  return buildC({ sources, flags, ldflags: ['-lm'] });
}

/** Tensor as the artifact reads it: f16/bf16 travel as f32 (the artifact computes them in f32). */
function toKernelDtype(t: Tensor): Tensor {
  return t.dtype === 'f16' || t.dtype === 'bf16' ? makeTensor('f32', t.shape, t.data) : t;
}

/** Runs `graph` (after runPipeline) through the C artifact; outputs in graph-output order. */
export async function runArtifact(graph: Graph, inputs: Record<string, Tensor>, opts: CRunOptions): Promise<Tensor[]> {
  const emitted = emitModel(graph, opts);
  const threads = opts.threads ?? 1;
  const flags = [...(opts.cflags ?? defaultCFlags()), ...(threads > 1 ? ['-fopenmp'] : [])];
  opts.progress?.(`c: building ${emitted.plan.steps.length} steps with ${flags.join(' ')}`);
  const exe = buildModelBinary(emitted.files, flags);
  const dir = fs.mkdtempSync(path.join(tmpdir(), 'lutc-c-run-'));
  try {
    const args: string[] = ['-o', dir, '-t', String(threads)];
    if (!emitted.embedded) {
      fs.writeFileSync(path.join(dir, 'weights.bin'), emitted.files['weights.bin']!);
      args.push('-w', path.join(dir, 'weights.bin'));
    }
    emitted.inputs.forEach((io, i) => {
      const t = inputs[io.name];
      if (!t) fail('LUT5161', `input '${io.name}' was not given`);
      if (t.shape.join(',') !== io.placement.shape.join(','))
        fail('LUT5161', `input '${io.name}' has shape [${t.shape}], the model was compiled for [${io.placement.shape}]`);
      const f = path.join(dir, `in${i}.npy`);
      fs.writeFileSync(f, writeNpy(toKernelDtype(t)));
      args.push(f); // positional, in graph-input order: names may contain '='
    });
    try {
      execFileSync(exe, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (e) {
      const err = e as { stderr?: Buffer; message: string };
      fail('LUT5162', `the compiled model failed: ${err.stderr?.toString().trim() || err.message}`);
    }
    const list = JSON.parse(fs.readFileSync(path.join(dir, 'outputs.json'), 'utf8')) as { file: string }[];
    return graph.outputs.map((v, i) => {
      const t = readNpyFile(path.join(dir, list[i]!.file));
      return t.dtype === v.type.dtype ? t : makeTensor(v.type.dtype, t.shape, t.data);
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
