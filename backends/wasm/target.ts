/**
 * The WASM SIMD target's `TargetInfo` (registered in backends/target.ts): static facts and lazy entry
 * points only, so reading it never loads binaryen. `nativeOps` must equal the step handlers of
 * backends/wasm/model/module.ts (`SUPPORTED_OPS`) plus the view ops the memory plan aliases
 * (backends/model-plan.ts `VIEW_OPS`); test/backends/target.test.ts checks it. Nodes whose operands
 * are all constants were folded by the pipeline (passes/fold-constants.ts), whatever their op; a
 * Shape left in the graph reads runtime dims (--max-dim).
 */
import { COMMON_NATIVE_OPS, type TargetInfo } from '../target-info.js';

/** The WASM target. */
export const wasmTarget: TargetInfo = {
  name: 'wasm',
  summary: 'one WebAssembly SIMD128 module per model (model.wasm + model.mjs loader), for browsers and Node',
  nativeOps: new Set([...COMMON_NATIVE_OPS, 'lut.matmul', 'lut.norm_table', 'lut.table', 'shape', 'group_query_attention']),
  // 16-byte lookups (i8x16.swizzle) over one K-tile: the whole-model kernel (addLutGemm) reads the graph's
  // packed weights as they are, so tile and bitplane-layout plan and pack exactly that geometry
  lut: { tables: 'graph', vecBytes: 16, kTiles: false },
  // the graph's Vec-LUT layout from 8 tokens (passes/tile.ts); the kernel-only module's vector-LUT
  // path (plan.ts vecTile) from one whole 16-token tile (veclut.ts VEC_TILE)
  tile: { tableBytes: 16 << 10, vecMinTokens: 8, kernelVecMinTokens: 16 },
  int64: 'int64',
  options: {
    // compile: N > 1 adds the threaded module model-mt.wasm (load()'s default); run/bench: the threads it runs on
    threads: { affects: ['compile', 'run', 'bench'], otherwise: 'threads change how the artifact runs, not the plan' },
    // compile/run/bench: the artifact gains model-relaxed.wasm, which load() picks where the engine runs it
    wasmFeatures: { affects: ['kernel', 'compile', 'run', 'bench'], otherwise: 'relaxed SIMD changes the kernels, not the plan' },
  },
  compile: () => import('./compile.js'),
  run: () => import('./run.js'),
  kernel: () => import('./kernel.js'),
  bench: () => import('./bench.js'),
};
