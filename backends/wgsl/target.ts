/**
 * The WGSL (WebGPU) target's `TargetInfo` (registered in backends/target.ts): static facts and lazy
 * entry points only, so reading it never loads the `webgpu` package. `nativeOps` must equal the op
 * sets that backends/wgsl/model-shaders.ts dispatches on (`SUPPORTED_OPS`), each handled by its
 * renderer; test/backends/target.test.ts checks both.
 */
import { COMMON_NATIVE_OPS, type TargetInfo } from '../target-info.js';

/** The WGSL target. */
export const wgslTarget: TargetInfo = {
  name: 'wgsl',
  summary: 'WGSL compute shaders + a model.mjs host module for WebGPU (browsers; Dawn in Node)',
  nativeOps: new Set([
    ...COMMON_NATIVE_OPS,
    'group_query_attention',
    'lut.matmul',
    'lut.norm_table',
    'lut.table',
    'quantize_linear',
    'shape',
  ]),
  // u32x4 words of 16 bytes; the shaders read the packed weights as they are (any K-tile, either layout)
  lut: { tables: 'graph', vecBytes: 16, kTiles: true },
  // a K-tile of tables in the 16 KiB of workgroup memory every WebGPU device guarantees
  tile: { tableBytes: 16 << 10, vecMinTokens: 8 },
  // WGSL has no 64-bit integers: i64/u64 live in 32-bit words (docs/wgsl.md); out-of-range values are diagnosed
  int64: 'int32',
  options: {},
  compile: () => import('./compile.js'),
  run: () => import('./run.js'),
  kernel: () => import('./kernel.js'),
};
