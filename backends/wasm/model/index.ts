/**
 * The whole-model WASM emitter (issue 4 part 2): one binaryen module per model with the LUT kernels
 * of backends/wasm for lowered layers and f32x4 SIMD kernels for every other op, plus its artifact
 * (model.wasm, model.mjs, model.d.ts, weights.bin, manifest.json). See docs/wasm-model.md.
 */

export type { ArtifactFiles, Manifest } from './artifact.js';
export { emitArtifact } from './artifact.js';
export type { WasmCompileOptions } from './files.js';
export { loadArtifactModule, wasmOptions } from './files.js';
export type { IoSlot, ModelBuildOptions, ModelModule, PlanSummary } from './module.js';
export { buildModelModule, planSummary, SUPPORTED_OPS } from './module.js';
