/**
 * The C target's `TargetInfo` (registered in backends/target.ts): static facts and lazy entry points
 * only, so reading it loads no part of the C backend. `nativeOps` must equal the kernel table of
 * backends/c/model/emit.ts (`SUPPORTED_OPS`; test/backends/target.test.ts checks it).
 */
import { COMMON_NATIVE_OPS, type TargetInfo } from '../target-info.js';

/** The C target. */
export const cTarget: TargetInfo = {
  name: 'c',
  summary: 'C99 (libc + libm, optional OpenMP): model.h/model.c, a .npy harness and a Makefile; AVX-512/AVX2/NEON/scalar LUT kernels',
  nativeOps: new Set([
    ...COMMON_NATIVE_OPS,
    'lut.gemm',
    'lut.table',
    'lut.norm_table',
    'lut.matmul',
    'quantize_linear',
    'shape',
    'group_query_attention',
  ]),
  // one lut.gemm per layer: each layer kernel builds its own tables, and model.c stores its ISA-independent
  // q/scales/zeros operands that the kernel's packer packs at load time for the compiled ISA. The graph
  // form (lut.table, lut.norm_table, lut.matmul: hand-written IR) has scalar C kernels too.
  lut: { tables: 'kernel', vecBytes: 32, kTiles: true },
  // one K-tile of tables in half of a 32 KiB L1
  tile: { tableBytes: 16 << 10, vecMinTokens: 8 },
  int64: 'int64',
  options: {
    // compile: the artifact's default threads (MODEL_THREADS; model_set_threads / the harness's -t override it)
    threads: { affects: ['compile', 'run', 'bench'], otherwise: 'threads change how the artifact runs, not the plan' },
    embedWeights: { affects: ['compile', 'run'], otherwise: 'only artifacts embed weights' },
    isa: { affects: ['compile', 'run', 'kernel', 'bench'], otherwise: 'the pipeline does not depend on the ISA' },
  },
  compile: () => import('./compile.js'),
  run: () => import('./run.js'),
  kernel: () => import('./kernel.js'),
  bench: () => import('./bench.js'),
};
