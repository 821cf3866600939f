/**
 * Helpers of the WGSL model tests: compile a graph into a temporary artifact, load its model.mjs onto
 * a shared SwiftShader device (one per test file), run it (also returning the artifact's
 * manifest.json, which lists its LUT layers), and compare with tolerances (relMax, relL2: the
 * measures of test/helpers/tolerance.ts, re-exported).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileModel } from '../../../backends/wgsl/compile.js';
import type { Manifest } from '../../../backends/wgsl/host-module.js';
import { loadArtifact, runLoaded } from '../../../backends/wgsl/run.js';
import type { Graph, Tensor } from '../../../ir/types.js';

/** Compiles `g` and runs the artifact on `device`; the temp folder is removed afterwards. */
export async function runWgsl(device: GPUDevice, g: Graph, inputs: Record<string, Tensor>): Promise<Tensor[]> {
  return (await runWgslArtifact(device, g, inputs)).outputs;
}

/** runWgsl, also returning the artifact's manifest.json as written (its `layers` are the LUT layers). */
export async function runWgslArtifact(
  device: GPUDevice,
  g: Graph,
  inputs: Record<string, Tensor>,
): Promise<{ outputs: Tensor[]; manifest: Manifest }> {
  const dir = mkdtempSync(join(tmpdir(), 'lutc-wgsl-test-'));
  try {
    await compileModel(g, { target: 'wgsl' }, dir);
    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Manifest;
    const m = await loadArtifact(dir, device);
    try {
      return { outputs: await runLoaded(m, g, inputs), manifest };
    } finally {
      m.destroy();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export { maxRel as relMax, relL2 } from '../../helpers/tolerance.js';
