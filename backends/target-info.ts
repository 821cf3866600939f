/**
 * The shape of a target: the `TargetInfo` interface each backends/<t>/target.ts fills in, the entry
 * point module interfaces, and the vocabulary of target-specific options. Types and static data only,
 * so per-target files and the registry (backends/target.ts) import it without importing each other.
 */

import type { GenerateOptions, GenerateResult } from '../compiler/generate.js';
import type { CompileOptions, KernelRequest, Target } from '../compiler/options.js';
import type { VecBytes } from '../ir/lut/geometry.js';
import type { Graph, Tensor } from '../ir/types.js';

/** Every target name (`--target`; the names are declared with the options, compiler/options.ts). */
export type TargetName = Target;

/**
 * A file too large to hold in memory (a large model's weights.bin): `size` bytes, produced in order by
 * `chunks()` (each call starts over and computes them again; the chunks may be views that the next
 * step reuses, so copy one to keep it). compiler/artifact.ts writeArtifact writes it chunk by chunk;
 * `artifactFileBytes` (compiler/artifact.ts) gathers it into one Uint8Array for a caller that wants
 * the bytes in memory.
 */
export interface StreamedFile {
  readonly size: number;
  chunks(): Iterable<Uint8Array>;
}

/**
 * Artifact files: path relative to the artifact folder ('/'-separated) -> contents, in memory (string,
 * Uint8Array) or streamed (StreamedFile: the weights of a large model).
 */
export type ArtifactFiles = Record<string, string | Uint8Array | StreamedFile>;

/** What a backend's compile entry returns: the whole artifact (nothing is written; large weights as a StreamedFile). */
export interface CompiledArtifact {
  files: ArtifactFiles;
  /**
   * Paths an earlier artifact of this target may have left in the same folder that must not sit next
   * to this one (e.g. `weights.bin` once the weights are embedded, old `shaders/`); writeArtifact
   * removes them before the new files land.
   */
  remove?: readonly string[];
}

/** `backends/<t>/compile.ts`: renders the artifact of a graph after runPipeline. */
export interface CompileModule {
  compileArtifact(graph: Graph, opts: CompileOptions): Promise<CompiledArtifact> | CompiledArtifact;
}
/** What a target's run reports about the call itself (`lutc run` prints it on stderr). */
export interface RunReport {
  /** Wall time of the model's run call in ms: not the compile, build, load or device set-up. */
  ms: number;
  /** The device that ran it, where the target has a choice (wgsl: the WebGPU adapter). */
  device?: string;
}

/** Options of a target's run: CompileOptions, plus where to report the run's time and device. */
export interface RunOptions extends CompileOptions {
  /** Called once, after the model's run call, with its wall time and device. */
  onRun?(report: RunReport): void;
}

/** A graph compiled (and built) once for a target, run any number of times (runtime dims: any in-bounds shape). */
export interface LoadedArtifact {
  run(inputs: Record<string, Tensor>): Promise<Tensor[]>;
  /** Frees what loading took (build folders, devices). */
  close(): void | Promise<void>;
}

/** `backends/<t>/run.ts`: runs a graph after runPipeline through the target; outputs in graph-output order. */
export interface RunModule {
  runArtifact(graph: Graph, inputs: Record<string, Tensor>, opts: RunOptions): Promise<Tensor[]> | Tensor[];
  /** Compiles once for many runs (`lutc generate`); absent where the target has no such loader yet. */
  openArtifact?(graph: Graph, opts: RunOptions): LoadedArtifact | Promise<LoadedArtifact>;
  /**
   * Greedy generation inside the artifact (the KV cache never leaves it; compiler/generate.ts's
   * semantics), where the target has it: `lutc generate` prefers it to a step loop over openArtifact.
   * The result carries no logits.
   */
  generate?(graph: Graph, opts: RunOptions, prompt: readonly number[], gen: GenerateOptions): Promise<GenerateResult>;
}
/** `backends/<t>/kernel.ts`: kernel-only mode (one LUT-mpGEMM layer). */
export interface KernelModule {
  emitKernel(req: KernelRequest): { files: ArtifactFiles } | Promise<{ files: ArtifactFiles }>;
}
/**
 * `backends/<t>/bench.ts`: benchmarks a model file against onnxruntime. Returns the report, and in
 * `failed` the peers whose outputs disagree with lutc's (the CLI then exits 1, LUT6013).
 */
export interface BenchModule {
  benchModel(modelPath: string, opts: CompileOptions, log: (msg: string) => void): Promise<string | { report: string; failed: string[] }>;
}

/** The commands (CLI and library) that take target options. */
export type TargetCommand = 'compile' | 'run' | 'bench' | 'inspect' | 'kernel';

/** CompileOptions / KernelRequest fields that only some targets read. */
export type TargetOptionKey = 'threads' | 'embedWeights' | 'isa' | 'wasmFeatures';

/** One target-specific option: its flags and help, the same for every target that reads it. */
export interface TargetOptionSpec {
  /** Flag of compile/run/bench/inspect (without `--`). */
  flag: string;
  /** Argument placeholder in --help (absent for booleans). */
  arg?: string;
  /** Flag of `lutc kernel` (and its argument placeholder), when the kernel request has the field. */
  kernel?: { flag: string; arg?: string };
  /** One-line help (what it does where it applies). */
  help: string;
}

/** The target-specific options (the schema's vocabulary; each TargetInfo says which it reads). */
export const TARGET_OPTIONS: Readonly<Record<TargetOptionKey, TargetOptionSpec>> = {
  threads: {
    flag: 'threads',
    arg: 'N',
    help: "threads the artifact runs on (compile: its default; C: an OpenMP build, model_set_threads / the harness's -t override it)",
  },
  embedWeights: { flag: 'embed-weights', help: 'embed the weights in model.c (default: only small models)' },
  isa: {
    flag: 'isa',
    arg: 'scalar|avx2|avx512|neon',
    kernel: { flag: 'isa', arg: 'scalar|avx2|avx512|neon' },
    help: "force an ISA path (default: the C compiler's macros)",
  },
  wasmFeatures: {
    flag: 'wasm-features',
    arg: 'relaxed-simd',
    kernel: { flag: 'relaxed-simd' },
    help: 'use relaxed SIMD (Node 20: --experimental-wasm-relaxed-simd)',
  },
};

/** How one target uses one of its options. */
export interface TargetOptionUse {
  /** Commands whose result the option changes on this target. */
  affects: readonly TargetCommand[];
  /** Why it does nothing for the other commands: given there, it is accepted with this warning on stderr. */
  otherwise?: string;
}

/** passes/tile.ts budgets of one target. */
export interface TileBudget {
  /** Bytes of one K-tile of tables for a token tile (half of L1 on CPUs; WGSL: the guaranteed workgroup memory). */
  tableBytes: number;
  /** Tokens at or above which the Vec-LUT table layout is chosen. */
  vecMinTokens: number;
  /**
   * Tokens at or above which a target's kernel-only module (`lutc kernel`) takes its vector-LUT path,
   * where that differs from `vecMinTokens` (wasm: one whole 16-token tile, backends/wasm/plan.ts).
   */
  kernelVecMinTokens?: number;
}

/**
 * The LUT form a target consumes, decided in the passes (lower-linear, tile, bitplane-layout) so
 * weights are packed once, for the form its backend reads as it is.
 */
export interface LutForm {
  /**
   * `graph`: lower-linear emits lut.table + lut.pack + lut.matmul; tables are built (and shared,
   * fused into norms) in the graph and bitplane-layout folds lut.pack for `vecBytes` / K-tiles.
   * `kernel`: lower-linear emits one lut.gemm(x, q, scales, zeros) per layer; the backend's fused
   * kernel builds its own tables and packs the ISA-independent q/scales/zeros at load time, so
   * `vecBytes` and `kTiles` concern only hand-written graph-form IR.
   */
  tables: 'graph' | 'kernel';
  /** Lookup width the packed bit-plane weights are laid out for (passes/bitplane-layout.ts). */
  vecBytes: VecBytes;
  /**
   * Whether the kernel reads K-tiled packed weights: false = one K-tile (passes/tile.ts sets k_tile 0
   * on every lut.matmul whose weights are still lut.pack, whatever its plan or overrides).
   */
  kTiles: boolean;
}

/** One target. */
export interface TargetInfo {
  name: TargetName;
  /** One line for --help and docs. */
  summary: string;
  /**
   * IR op names the backend renders itself for runtime operands (kernel tables; a test checks they
   * agree exactly with backends' dispatch). An op outside the set is a coded diagnostic of the backend.
   */
  nativeOps: ReadonlySet<string>;
  lut: LutForm;
  tile: TileBudget;
  /**
   * int64/uint64 values: `int64` held in 64 bits; `int32` held in 32-bit words (values outside int32
   * are diagnosed, never wrapped); `float64` held in doubles, exact to 2^53 (the interpreter).
   */
  int64: 'int64' | 'int32' | 'float64';
  /** The target-specific options it reads (the options schema); any other one given for it is a usage error. */
  options: Readonly<Partial<Record<TargetOptionKey, TargetOptionUse>>>;
  /** Whole-model artifact (absent: the target has none, i.e. `ref`). */
  compile?: () => Promise<CompileModule>;
  /** Runs a compiled graph (ref: the interpreter). */
  run: () => Promise<RunModule>;
  /** Kernel-only mode. */
  kernel?: () => Promise<KernelModule>;
  /** Whole-model benchmark against onnxruntime. */
  bench?: () => Promise<BenchModule>;
}

/**
 * Graph ops every compiled backend (c, wasm, wgsl) renders natively; each target's `nativeOps` is this
 * list plus its own (test/backends/target.test.ts checks every set against the backend's dispatch).
 */
export const COMMON_NATIVE_OPS: readonly string[] = [
  'abs',
  'acos',
  'acosh',
  'add',
  'and',
  'asin',
  'asinh',
  'atan',
  'atanh',
  'bit_shift',
  'cast',
  'ceil',
  'clip',
  'concat',
  'constant_of_shape',
  'conv',
  'cos',
  'cosh',
  'dequantize_linear',
  'div',
  'equal',
  'erf',
  'exp',
  'expand',
  'flatten',
  'floor',
  'gather',
  'gelu',
  'gemm',
  'greater',
  'greater_or_equal',
  'identity',
  'layer_norm',
  'leaky_relu',
  'less',
  'less_or_equal',
  'log',
  'log_softmax',
  'matmul',
  'matmul_nbits',
  'max',
  'min',
  'mul',
  'neg',
  'not',
  'or',
  'pow',
  'range',
  'reciprocal',
  'reduce_max',
  'reduce_mean',
  'reduce_prod',
  'reduce_sum',
  'relu',
  'reshape',
  'round',
  'sigmoid',
  'simplified_layer_norm',
  'sin',
  'sinh',
  'skip_simplified_layer_norm',
  'slice',
  'softmax',
  'softplus',
  'split',
  'sqrt',
  'squeeze',
  'sub',
  'tan',
  'tanh',
  'transpose',
  'trilu',
  'unsqueeze',
  'where',
];
