/**
 * A WebGPU device for Node: Dawn's bindings from the optional `webgpu` package, on whatever adapter
 * the machine has (SwiftShader's Vulkan from Debian's chromium on a GPU-less machine, see
 * docs/wgsl.md). Browsers pass their own GPUDevice to the artifact and never load this file.
 * `adapterInfo` names the adapter (describeAdapter: vendor, architecture, device, description, and
 * `[SwiftShader: CPU emulation]` when it is SwiftShader), which `lutc run --target wgsl` prints.
 */
import { existsSync } from 'node:fs';
import { fail } from '../../base/diagnostics.js';

/** Where Debian's chromium keeps SwiftShader's Vulkan driver and its own Vulkan loader. */
export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';
export const CHROMIUM_LIB = '/usr/lib/chromium';

/**
 * Environment a Node process needs to reach SwiftShader: LD_LIBRARY_PATH is read by the dynamic loader
 * only at process start, so callers spawn children with it (tests set it in vitest.config.ts).
 */
export function swiftshaderEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  if (!existsSync(SWIFTSHADER_ICD)) return env;
  const lib = env.LD_LIBRARY_PATH ? `${CHROMIUM_LIB}:${env.LD_LIBRARY_PATH}` : CHROMIUM_LIB;
  return {
    ...env,
    LD_LIBRARY_PATH: lib,
    VK_ICD_FILENAMES: env.VK_ICD_FILENAMES ?? SWIFTSHADER_ICD,
    XDG_RUNTIME_DIR: env.XDG_RUNTIME_DIR ?? '/tmp',
  };
}

/**
 * One line naming an adapter from its GPUAdapterInfo: the non-empty fields as `vendor X, architecture
 * Y, device Z, description W` (or `unknown adapter`), marked `[SwiftShader: CPU emulation]` when any
 * field says SwiftShader, so a CPU run is never mistaken for a GPU one.
 */
export function describeAdapter(info: Partial<Pick<GPUAdapterInfo, 'vendor' | 'architecture' | 'device' | 'description'>>): string {
  const fields = (['vendor', 'architecture', 'device', 'description'] as const)
    .map((k) => [k, String(info[k] ?? '').trim()] as const)
    .filter(([, v]) => v !== '');
  const text = fields.map(([k, v]) => `${k} ${v}`).join(', ') || 'unknown adapter';
  return fields.some(([, v]) => /swiftshader/i.test(v)) ? `${text} [SwiftShader: CPU emulation]` : text;
}

export interface NodeGpu {
  device: GPUDevice;
  /** The adapter, as describeAdapter names it. */
  adapterInfo: string;
  features: string[];
  /** Drops the Dawn instance so the process can exit (it must stay referenced while in use). */
  release(): void;
}

let kept: unknown[] = [];

/** Opens a device. `backend: 'null'` gives Dawn's validation-only adapter (no execution). */
export async function openNodeGpu(opts: { backend?: 'null' } = {}): Promise<NodeGpu> {
  let mod: { create(o: string[]): GPU; globals: object };
  try {
    mod = (await import('webgpu')) as unknown as typeof mod;
  } catch {
    fail('LUT5201', "WebGPU in Node needs the optional package 'webgpu' (npm install webgpu@0.6.2)");
  }
  Object.assign(globalThis, mod.globals);
  const gpu = mod.create(opts.backend === 'null' ? ['backend=null'] : []);
  kept.push(gpu);
  const adapter = await gpu.requestAdapter();
  if (!adapter)
    fail(
      'LUT5202',
      'no WebGPU adapter: on a machine without a GPU install chromium (SwiftShader) and run with LD_LIBRARY_PATH=/usr/lib/chromium',
    );
  const limits: Record<string, number> = {};
  for (const k of [
    'maxStorageBuffersPerShaderStage',
    'maxComputeWorkgroupStorageSize',
    'maxStorageBufferBindingSize',
    'maxBufferSize',
    'maxComputeWorkgroupsPerDimension',
  ] as const)
    limits[k] = adapter.limits[k];
  const features = [...adapter.features] as string[];
  const device = await adapter.requestDevice({ requiredLimits: limits });
  const info = adapter.info;
  return {
    device,
    adapterInfo: describeAdapter(info),
    features,
    release() {
      device.destroy();
      kept = kept.filter((g) => g !== gpu);
    },
  };
}
