/**
 * Helpers of the WGSL model tests: compile a graph into a temporary artifact, load its model.mjs onto
 * a shared SwiftShader device (one per test file), run it, and compare with tolerances.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileModel } from '../../../backends/wgsl/compile.js';
import { loadArtifact, runLoaded } from '../../../backends/wgsl/run.js';
import type { Graph, Tensor } from '../../../ir/types.js';

/** Compiles `g` and runs the artifact on `device`; the temp folder is removed afterwards. */
export async function runWgsl(device: GPUDevice, g: Graph, inputs: Record<string, Tensor>): Promise<Tensor[]> {
  const dir = mkdtempSync(join(tmpdir(), 'lutc-wgsl-test-'));
  try {
    await compileModel(g, { target: 'wgsl' }, dir);
    const m = await loadArtifact(dir, device);
    try {
      return await runLoaded(m, g, inputs);
    } finally {
      m.destroy();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** max|a-b| / max|b| (Infinity on NaN mismatch or shape mismatch). */
export function relMax(a: Tensor, b: Tensor): number {
  if (a.shape.join() !== b.shape.join()) return Infinity;
  let d = 0;
  let s = 0;
  for (let i = 0; i < b.data.length; i++) {
    const [x, y] = [Number(a.data[i]), Number(b.data[i])];
    if (Number.isNaN(x) !== Number.isNaN(y)) return Infinity;
    if (!Number.isNaN(y)) d = Math.max(d, Math.abs(x - y));
    if (Number.isFinite(y)) s = Math.max(s, Math.abs(y));
  }
  return s === 0 ? d : d / s;
}

/** ||a - b||_2 / ||b||_2. */
export function relL2(a: Tensor, b: Tensor): number {
  let n = 0;
  let d = 0;
  for (let i = 0; i < b.data.length; i++) {
    d += (Number(a.data[i]) - Number(b.data[i])) ** 2;
    n += Number(b.data[i]) ** 2;
  }
  return Math.sqrt(d / Math.max(n, 1e-30));
}
