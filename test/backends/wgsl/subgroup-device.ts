/**
 * A WebGPU device with the 'subgroups' feature for the subgroup tests (device.ts's openNodeGpu
 * requests no features). SwiftShader offers subgroups (size 4); the Dawn instance must stay
 * referenced while in use and be dropped at the end (docs/wgsl.md, "Running without a GPU").
 */
import { existsSync } from 'node:fs';
import { SWIFTSHADER_ICD } from '../../../backends/wgsl/device.js';

export interface SubgroupGpu {
  device: GPUDevice;
  release(): void;
}

export async function openSubgroupGpu(): Promise<SubgroupGpu> {
  if (!existsSync(SWIFTSHADER_ICD)) throw new Error(`WGSL tests need SwiftShader: apt-get install chromium (${SWIFTSHADER_ICD} missing)`);
  const mod = (await import('webgpu')) as unknown as { create(o: string[]): GPU; globals: object };
  Object.assign(globalThis, mod.globals);
  let gpu: GPU | undefined = mod.create([]);
  const adapter = (await gpu.requestAdapter())!;
  if (!adapter.features.has('subgroups')) throw new Error('this adapter offers no subgroups (SwiftShader does)');
  const device = await adapter.requestDevice({
    requiredFeatures: ['subgroups' as GPUFeatureName],
    requiredLimits: { maxStorageBuffersPerShaderStage: adapter.limits.maxStorageBuffersPerShaderStage },
  });
  return {
    device,
    release() {
      device.destroy();
      gpu = undefined;
    },
  };
}
