/**
 * lutc's library API: each stage of the compiler, typed and documented, for programs that drive lutc
 * without the CLI. The stages compose exactly as the CLI composes them:
 *
 *   import { importOnnxFile, runPipeline, interpret, readNpyFile } from 'lutc';
 *   const g = importOnnxFile('examples/mlp.onnx', { inputShapes: { x: [1, 64] } });
 *   const { graph, decisions } = runPipeline(g, { target: 'ref', bits: 4 });
 *   const [y] = interpret(graph, { x: readNpyFile('x.npy') });
 *
 * or as whole jobs, the same code `lutc compile` / `lutc kernel` run (compiler/api.ts):
 *
 *   import { compile, writeArtifact, emitKernel } from 'lutc';
 *   writeArtifact(await compile('examples/mlp.onnx', { target: 'wasm', bits: 2 }), 'out');
 *   const { files } = await emitKernel({ target: 'c', n: 4096, k: 4096, bits: 2 });
 *
 * Every user error is thrown as a `LutcError` carrying coded `Diagnostic`s (format them with
 * `formatDiagnostic`); any other exception is a bug in lutc.
 */

// Loading the op table is a side effect every stage below depends on.
import '../ir/ops/index.js';

export type {
  LutForm,
  OptionCheck,
  TargetCommand,
  TargetInfo,
  TargetName,
  TargetOptionKey,
  TargetOptionSpec,
  TargetOptionUse,
  TileBudget,
} from '../backends/target.js';
// ---- targets: what each one is, reads and provides (backends/target.ts) ------------------------------
export { allTargets, artifactTargets, checkTargetOptions, getTarget, kernelTargets, TARGET_OPTIONS, TARGETS } from '../backends/target.js';
export type { DiagCode, Diagnostic, Location, Severity } from '../base/diagnostics.js';
// ---- diagnostics and options ------------------------------------------------------------------------
export { DIAGNOSTICS, DiagnosticBag, diag, fail, formatDiagnostic, isDiagCode, LutcError } from '../base/diagnostics.js';
export type { InterpretOptions } from '../ir/interpret.js';
export { interpret } from '../ir/interpret.js';
export type { OpDef } from '../ir/optable.js';
export { allOps, findOp } from '../ir/optable.js';
export { parseGraph } from '../ir/parser.js';
export type { PrintOptions } from '../ir/printer.js';
export { printGraph } from '../ir/printer.js';
export { isFloat, makeTensor, numel, scalar } from '../ir/tensor.js';
// ---- IR -----------------------------------------------------------------------------------------------
export type { Attrs, AttrValue, Dim, DType, Graph, ModelMeta, Node, Tensor, TensorData, TensorType, Value } from '../ir/types.js';
export type { VerifyOptions } from '../ir/verify.js';
export { verifyGraph } from '../ir/verify.js';
export type { ArtifactFiles, CompiledArtifact, CompileRequest, CompileResult, EmitKernelRequest } from './api.js';
// ---- whole jobs: compile a model to artifact files, write them, emit one kernel ------------------------
export { compile, emitKernel, writeArtifact } from './api.js';
export type { InspectReport } from './cli/inspect.js';
export { inspectGraph } from './cli/inspect.js';
export type { CliIO } from './cli.js';
export { captureIO, main, version } from './cli.js';
// ---- files and the CLI ----------------------------------------------------------------------------------
export { readNpy, readNpyFile, writeNpy, writeNpyFile } from './npy.js';
export { OnnxBuilder, OnnxGraphBuilder } from './onnx/builder.js';
export type { ImportOptions } from './onnx/index.js';
// ---- stages -------------------------------------------------------------------------------------------
export { importOnnx, importOnnxFile } from './onnx/index.js';
export type { BitsOption, CompileOptions, KernelRequest, Target } from './options.js';
export { BITS_OPTIONS } from './options.js';
export type { LayerDecision, PipelineResult } from './pipeline.js';
export { runPipeline } from './pipeline.js';
export type { QuantizeOnnxOptions } from './quantize-onnx.js';
export { quantizeOnnx } from './quantize-onnx.js';
export type { TuneOptions, TuneResult, TuneRow } from './tune.js';
export { tune } from './tune.js';
export type { TuneEntry, TuneKey } from './tune-cache.js';
export { defaultCachePath, readTuneCache, writeTuneCache } from './tune-cache.js';
