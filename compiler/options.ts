/**
 * Options shared by `compile`, `run`, `kernel` and the library API. The CLI parses flags into this
 * shape; passes and backends read it. The target names come from the registry (backends/target.ts),
 * which also says which target-specific options each target reads. Keep it in step with docs/cli.md
 * and `lutc --help`.
 */
import type { QuantBits } from '../ir/lut/quantize.js';

/** A `--target` name; what each target is and which options it reads: the registry, backends/target.ts. */
export type Target = 'ref' | 'wasm' | 'wgsl' | 'c';

/** `--bits` values: the weight quantizer's bit widths (ir/lut/quantize.ts). */
export type BitsOption = QuantBits;
export const BITS_OPTIONS: readonly BitsOption[] = [1, 1.58, 2, 3, 4];

export interface CompileOptions {
  target: Target;
  /** Quantize float linear layers to this many bits (absent: only already-quantized layers become LUT). */
  bits?: BitsOption;
  /** Quantization group along K (default 128; clamped to K). */
  groupSize?: number;
  /** Symmetric quantization instead of the default asymmetric min/max. */
  symmetric?: boolean;
  /** Table precision: int8 tables (fast path, default) or float tables (exact up to summation order). */
  tables?: 'i8' | 'f32';
  /** Print the IR after the named pass, or after every pass with 'all'. */
  printIrAfter?: string;
  /** Verify the IR after every pass (default true; `--no-verify` sets false). */
  verify?: boolean;
  /** Symbolic dimension bindings (`--shape NAME=D0,...` binds input shapes; `--dim SYM=N` binds symbols). */
  dimBindings?: Record<string, number>;
  /** Explicit shapes for graph inputs, by input name. */
  inputShapes?: Record<string, number[]>;
  /**
   * Runtime dims (`--max-dim SYM=N`): symbols that stay symbolic through the pipeline, each with the
   * upper bound the artifact's memory is planned for. A symbol neither bound nor given a bound is
   * frozen to 1 (said through `progress`).
   */
  maxDims?: Record<string, number>;
  /** Memory limit of the import in bytes (`--max-tensor-bytes`; default 8 GiB): tensors beyond it are LUT1008. */
  maxTensorBytes?: number;
  // Target-specific options: which target reads each (and for which commands) is its TargetInfo's
  // `options` schema (backends/<t>/target.ts); setting one for another target is an error.
  /** C (run): OpenMP threads of the generated code (1 = none). */
  threads?: number;
  /** C: embed the weight blob in model.c (default: only small models). */
  embedWeights?: boolean | 'auto';
  /** C: force an ISA path instead of the C compiler's predefined macros. */
  isa?: 'scalar' | 'avx2' | 'avx512' | 'neon';
  /** WASM (kernel only so far): extra features, e.g. 'relaxed-simd' (Node 20 needs --experimental-wasm-relaxed-simd). */
  wasmFeatures?: string[];
  /**
   * Tuned per-layer tile plans (`lutc tune`, compiler/tune-cache.ts): the tile pass asks it for each LUT
   * layer and takes the plan it returns; undefined (no entry with the layer's whole key) = the pass's
   * own plan, so a compile without a matching entry is the same as one without a cache.
   */
  tuned?: TunedLookup;
  /**
   * A tune-cache file (`lutc tune`) `compile` reads into `tuned` (targets c and wasm; a missing file
   * is no cache, a corrupt one a warning). The library reads none unless given; `lutc compile` passes
   * the default path (compiler/tune-cache.ts defaultCachePath) unless --no-tune-cache.
   */
  tuneCache?: string;
  /** Called with progress messages for stderr. */
  progress?(msg: string): void;
}

/** What the tile pass asks a tune cache about one LUT layer (the rest of the key is the lookup's). */
export interface TuneLayer {
  n: number;
  k: number;
  bits: number;
  groupSize: number;
  tables: 'i8' | 'f32';
  /** The layer's tokens (M) in this compile; the cache keys on its bucket (tune-cache.ts mBucket). */
  m: number;
}

/** A tuned plan of one layer and M bucket (what `lutc tune` measured fastest). */
export interface TunedPlan {
  /** Table layout: scalar LUT ('token') or Vec-LUT ('vec'). */
  layout: 'token' | 'vec';
  /** Chunk pairs per K-tile (0 = whole K). */
  kTile: number;
  /** Threads the winner ran on (informational for the tile pass: the artifact's threads are global). */
  threads: number;
}

/** A tune-cache lookup: the plan for a layer, or undefined (a miss: the pass plans it itself). */
export interface TunedLookup {
  lookup(layer: TuneLayer): TunedPlan | undefined;
  /** Where the entries came from (said in the compile's progress line). */
  source: string;
}

/** One LUT-mpGEMM kernel for `lutc kernel` and the library's kernel-only mode. */
export interface KernelRequest {
  n: number;
  k: number;
  /** Tokens per call (default 1). */
  m?: number;
  bits: 1 | 2 | 3 | 4;
  /** Weight group along K (default 128, or K when K < 128). */
  groupSize?: number;
  tables?: 'i8' | 'f32';
  /** C only: force an ISA path (default: chosen by the C compiler's predefined macros). */
  isa?: 'scalar' | 'avx2' | 'avx512' | 'neon';
  /** WASM only: extra features, e.g. 'relaxed-simd'. */
  wasmFeatures?: string[];
  /** Exported symbol prefix (default `lutc`). */
  name?: string;
}
