/**
 * The diagnostics table: every code lutc raises, with its severity, the stage that raises it and a
 * one-line title (what the code means; each diagnostic's message adds the particulars). It is the one
 * list of codes: `DiagCode` is its key type, and `diag`, `fail`, `DiagnosticBag.error`, the op
 * contexts' `error` and the CLI's `usage` take a `DiagCode`, so an unknown code does not compile.
 * docs/diagnostics.md is generated from it (`npm run docs:diagnostics`); test/repo/diagnostics.test.ts
 * checks that the page is current, that every code here is raised somewhere and every code raised is
 * here. A new code: add it here in its owner's range, then regenerate the page. Imports nothing.
 *
 * Code ranges (one owner per range; `DIAGNOSTIC_RANGES` below is the same list as data):
 *   LUT1000-1099  ONNX file decoding, external data (compiler/onnx/)
 *   LUT1100-1199  importer and shape rules: ops, opsets, attributes, shapes (compiler/onnx/, ir/ops/, ir/infer.ts)
 *   LUT2000-2099  IR text lexer, parser and builder (ir/parser.ts, ir/text/)
 *   LUT2100-2199  IR verifier (ir/verify.ts)
 *   LUT3000-3199  interpreters (graph and LUT ops) at run time (ir/interpret.ts, ir/ops/)
 *   LUT4000-4199  passes, lowering, quantizer, LUT op shape rules (compiler/pipeline.ts, passes/, ir/lut/, ir/ops/lut.ts)
 *   LUT5000-5009  every compiled target: model plan, target support (backends/model-plan.ts, backends/<t>/)
 *   LUT5010-5099  wasm backend (backends/wasm/)
 *   LUT5100-5199  c backend (backends/c/)
 *   LUT5200-5299  wgsl backend (backends/wgsl/)
 *   LUT6000-6099  CLI, options, artifacts, .npy files (compiler/cli*, compiler/api.ts, compiler/artifact.ts, compiler/npy.ts)
 */

/** Diagnostic severity. */
export type Severity = 'error' | 'warning' | 'note';

/** The stage a code belongs to (its range's owner). */
export type DiagStage = 'onnx' | 'import' | 'ir-text' | 'verify' | 'interp' | 'passes' | 'targets' | 'wasm' | 'c' | 'wgsl' | 'cli';

/** One row of the table. */
export interface DiagnosticInfo {
  severity: Severity;
  stage: DiagStage;
  /** What the code means, in one line (the message of each diagnostic gives the particulars). */
  title: string;
}

/** The code ranges and their owners, in order (the header comment lists the same). */
export const DIAGNOSTIC_RANGES: readonly { from: number; to: number; stage: DiagStage; title: string; owner: string }[] = [
  { from: 1000, to: 1099, stage: 'onnx', title: 'ONNX file decoding, external data', owner: 'compiler/onnx/' },
  {
    from: 1100,
    to: 1199,
    stage: 'import',
    title: 'importer and shape rules: ops, opsets, attributes, shapes',
    owner: 'compiler/onnx/, ir/ops/, ir/infer.ts',
  },
  { from: 2000, to: 2099, stage: 'ir-text', title: 'IR text lexer, parser and builder', owner: 'ir/parser.ts, ir/text/' },
  { from: 2100, to: 2199, stage: 'verify', title: 'IR verifier', owner: 'ir/verify.ts' },
  { from: 3000, to: 3199, stage: 'interp', title: 'interpreters (graph and LUT ops) at run time', owner: 'ir/interpret.ts, ir/ops/' },
  {
    from: 4000,
    to: 4199,
    stage: 'passes',
    title: 'passes, lowering, quantizer, LUT op shape rules',
    owner: 'compiler/pipeline.ts, passes/, ir/lut/, ir/ops/lut.ts',
  },
  {
    from: 5000,
    to: 5009,
    stage: 'targets',
    title: 'every compiled target: model plan, target support',
    owner: 'backends/model-plan.ts, backends/<t>/',
  },
  { from: 5010, to: 5099, stage: 'wasm', title: 'wasm backend', owner: 'backends/wasm/' },
  { from: 5100, to: 5199, stage: 'c', title: 'c backend', owner: 'backends/c/' },
  { from: 5200, to: 5299, stage: 'wgsl', title: 'wgsl backend', owner: 'backends/wgsl/' },
  {
    from: 6000,
    to: 6099,
    stage: 'cli',
    title: 'CLI, options, artifacts, .npy files',
    owner: 'compiler/cli*, compiler/api.ts, compiler/artifact.ts, compiler/npy.ts',
  },
];

const e = <S extends DiagStage>(stage: S, title: string) => ({ severity: 'error', stage, title }) as const;

/** Every diagnostic code, by code. */
export const DIAGNOSTICS = {
  // ---- LUT1000-1099 ONNX file decoding, external data -------------------------------------------------
  LUT1000: e('onnx', 'cannot read the model file'),
  LUT1001: e('onnx', 'not a valid ONNX model or TensorProto (protobuf decoding failed)'),
  LUT1002: e('onnx', 'element type or tensor form lutc does not support (string, sparse, segmented, ...)'),
  LUT1003: e('onnx', 'invalid dim, or more elements than lutc supports (2^31 - 1)'),
  LUT1004: e('onnx', 'tensor data size does not match its shape and element type'),
  LUT1005: e('onnx', "external data location outside the model's folder"),
  LUT1006: e('onnx', 'external data cannot be located or read'),
  LUT1007: e('onnx', 'structurally incomplete model (no graph, unnamed input or initializer)'),
  LUT1008: e('onnx', 'model tensors need more memory than the limit (--max-tensor-bytes, default 8 GiB)'),
  LUT1009: e('onnx', 'subgraphs nested deeper than lutc supports (64 levels)'),
  // ---- LUT1100-1199 importer and shape rules ----------------------------------------------------------
  LUT1100: e('import', 'value defined more than once'),
  LUT1101: e('import', 'unsupported ONNX operator'),
  LUT1102: e('import', 'unsupported opset version of an operator'),
  LUT1103: e('import', 'bad, unknown or missing attribute'),
  LUT1104: e('import', 'input not produced by any node, initializer or graph input'),
  LUT1105: e('import', 'the graph has a cycle'),
  LUT1106: e('import', 'graph output never produced'),
  LUT1107: e('import', 'graph input is not a tensor or has no shape'),
  LUT1108: e('import', '--shape or dim binding contradicts the model'),
  LUT1109: e('import', 'wrong number of node inputs or outputs for the operator'),
  LUT1110: e('import', 'operand shapes do not fit together (broadcast, rank or dim mismatch)'),
  LUT1111: e('import', 'declared output type contradicts inference'),
  LUT1112: e('import', 'operand dtype not accepted by the op, or operand dtypes differ'),
  LUT1113: e('import', 'axis out of range for the operand rank, or repeated'),
  LUT1114: e('import', 'result rank depends on an operand that is not a constant of static length'),
  LUT1115: e('import', 'invalid attribute or constant operand value'),
  LUT1116: e('import', 'wrong number of operands or results for the shape rule'),
  LUT1117: e('import', 'shapes cannot be evaluated at compile time'),
  LUT1120: e('import', 'op form lutc does not support (attribute values or result ranks outside what it implements)'),
  LUT1121: e('import', 'matmul_nbits g_idx (act-order) other than the identity grouping'),
  LUT1123: e('import', 'conv over other than 1 or 2 spatial dims'),
  // ---- LUT2000-2099 IR text ---------------------------------------------------------------------------
  LUT2001: e('ir-text', 'unexpected character'),
  LUT2002: e('ir-text', 'syntax error'),
  LUT2003: e('ir-text', 'unknown op'),
  LUT2004: e('ir-text', 'op has no such attribute'),
  LUT2005: e('ir-text', 'attribute value of the wrong kind'),
  LUT2006: e('ir-text', 'use of an undefined value'),
  LUT2007: e('ir-text', 'value defined twice'),
  LUT2008: e('ir-text', 'wrong number of operands, or a required operand elided'),
  LUT2009: e('ir-text', 'wrong number of results'),
  LUT2010: e('ir-text', 'unknown dtype'),
  LUT2011: e('ir-text', 'tensor literal size does not match its type'),
  LUT2012: e('ir-text', 'elided constant cannot be read back'),
  LUT2013: e('ir-text', 'invalid number: dimension not a size, or symbolic shape in a literal'),
  LUT2014: e('ir-text', 'attribute given twice'),
  LUT2015: e('ir-text', 'invalid string or base64 literal'),
  LUT2016: e('ir-text', 'invalid meta entry'),
  LUT2017: e('ir-text', 'result and type counts differ'),
  LUT2018: e('ir-text', 'a const defines other than one value'),
  // ---- LUT2100-2199 IR verifier -----------------------------------------------------------------------
  LUT2101: e('verify', 'unknown op'),
  LUT2102: e('verify', 'wrong number of operands'),
  LUT2103: e('verify', 'required operand missing'),
  LUT2104: e('verify', 'wrong number of results'),
  LUT2105: e('verify', 'required attribute missing'),
  LUT2106: e('verify', 'undeclared attribute'),
  LUT2107: e('verify', 'attribute of the wrong kind'),
  LUT2108: e('verify', 'attribute value not one of the allowed values'),
  LUT2109: e('verify', 'value defined twice'),
  LUT2110: e('verify', 'use of an undefined value'),
  LUT2111: e('verify', "value's producer link is wrong"),
  LUT2112: e('verify', 'graph output not defined'),
  LUT2113: e('verify', "result type differs from the op's shape rule"),
  LUT2114: e('verify', "the op's shape rule rejects its operands"),
  LUT2115: e('verify', 'malformed constant'),
  LUT2116: e('verify', 'duplicate value name'),
  LUT2117: e('verify', 'shape rule gave the wrong number of results'),
  LUT2118: e('verify', 'malformed type'),
  LUT2119: e('verify', 'value used before its definition'),
  // ---- LUT3000-3199 interpreters at run time ----------------------------------------------------------
  LUT3001: e('interp', 'graph input not given'),
  LUT3002: e('interp', 'input dtype or shape differs from the model'),
  LUT3003: e('interp', 'value used before it is computed, or graph output never computed'),
  LUT3010: e('interp', 'operand shapes do not broadcast at run time'),
  LUT3011: e('interp', 'clip bound does not hold one element'),
  LUT3012: e('interp', 'cast target data type not supported'),
  LUT3020: e('interp', 'reduction axes invalid at run time'),
  LUT3021: e('interp', 'softmax-family axis out of range at run time'),
  LUT3030: e('interp', 'norm axis out of range at run time'),
  LUT3050: e('interp', 'reshape or flatten impossible at run time'),
  LUT3051: e('interp', 'gather index out of range'),
  LUT3052: e('interp', 'shape, slice or quantization operands invalid at run time'),
  LUT3053: e('interp', 'matmul_nbits g_idx other than the identity grouping at run time'),
  LUT3054: e('interp', 'linear or conv operand shapes invalid at run time'),
  LUT3055: e('interp', 'if condition does not hold one element'),
  LUT3060: e('interp', 'shapes too large: a value the interpreter cannot allocate'),
  LUT3100: e('interp', 'argmax/argmin axis out of range or empty'),
  LUT3101: e('interp', 'cumsum axis out of range'),
  LUT3102: e('interp', 'hardmax axis out of range'),
  LUT3103: e('interp', 'pad operands invalid at run time'),
  LUT3104: e('interp', 'tile repeats invalid at run time'),
  LUT3105: e('interp', 'dropout in training mode'),
  LUT3106: e('interp', 'gather/scatter index out of range'),
  // ---- LUT4000-4199 passes, lowering, quantizer -------------------------------------------------------
  LUT4001: e('passes', 'unknown pass name'),
  LUT4002: e('passes', 'internal: the IR is invalid after a pass'),
  LUT4030: e('passes', 'invalid quantization group size'),
  LUT4031: e('passes', 'invalid --bits value'),
  LUT4032: e('passes', 'lutc quantize: the model has no graph'),
  LUT4033: e('passes', 'lutc quantize: the group size needs a format the model opset cannot hold'),
  LUT4034: e('passes', 'lutc quantize: 1-bit float zero points need MatMulNBits (power-of-two group size)'),
  LUT4035: e('passes', 'lutc quantize: internal: the quantized model fails validation (nothing is written)'),
  LUT4050: e('passes', 'internal: a legalize rule does not terminate'),
  LUT4051: e('passes', 'internal: a legalize rule gave a wrong or missing result'),
  LUT4052: e('passes', 'internal: legalize folding failed'),
  LUT4100: e('passes', 'lut.* op attributes or operands inconsistent with its geometry'),
  // ---- LUT5000-5009 every compiled target --------------------------------------------------------------
  LUT5001: e('targets', 'symbolic dim left unbound: bind it with --shape or --dim, or bound it with --max-dim'),
  LUT5002: e('targets', 'runtime if not supported by compiled targets'),
  LUT5003: e('targets', 'op not supported by the target'),
  LUT5004: e('targets', 'runtime dims (--max-dim) not yet rendered by this target: freeze them with --dim'),
  LUT5005: e('targets', 'artifact run(): input missing, or a name the model has no input of'),
  LUT5006: e('targets', 'artifact run(): input of another shape or element count than compiled for'),
  LUT5007: e('targets', "artifact run(): input not a typed array of its dtype's class, a plain array or { data, shape }"),
  LUT5008: e('targets', 'compiled model at run time: a Gather index out of range for its axis'),
  LUT5009: e('targets', 'compiled model at run time: a runtime dim beyond its compiled bound (--max-dim)'),
  // ---- LUT5010-5099 wasm ------------------------------------------------------------------------------
  LUT5010: e('wasm', 'kernel shape N, K not positive integers'),
  LUT5011: e('wasm', 'kernel tokens per call M out of range (1..4096)'),
  LUT5012: e('wasm', 'kernel bits outside 1..4'),
  LUT5013: e('wasm', 'kernel group size not a multiple of 8 (or >= K)'),
  LUT5014: e('wasm', "kernel tables neither 'i8' nor 'f32'"),
  LUT5015: e('wasm', 'unknown wasm feature'),
  LUT5016: e('wasm', 'kernel name not an identifier'),
  LUT5017: e('wasm', 'kernel plan override out of range'),
  LUT5018: e('wasm', 'kernel buffers exceed 4 GiB of wasm32 memory'),
  LUT5050: e('wasm', 'op form (dtype, attributes, operands) the wasm target cannot compile'),
  LUT5051: e('wasm', 'operand must be a constant for the wasm target'),
  LUT5053: e('wasm', 'broadcast norm scale or bias that is not a constant'),
  LUT5054: e('wasm', 'blocked dequantize_linear on a run-time value'),
  LUT5055: e('wasm', 'op on data other than float32'),
  LUT5056: e('wasm', 'matmul_nbits with run-time weights'),
  LUT5057: e('wasm', 'matmul_nbits with g_idx'),
  LUT5058: e('wasm', "the model needs more than wasm32's 4 GiB of linear memory"),
  LUT5060: e('wasm', 'lut.matmul with run-time weights or scales, or packed for another kernel geometry'),
  LUT5070: e('wasm', "lutc bench --target wasm needs the optional package 'onnxruntime-web'"),
  LUT5090: e('wasm', 'internal: the generated wasm module is invalid'),
  LUT5091: e('wasm', 'internal: the wasm module no longer validates after binaryen -O3'),
  LUT5092: e('wasm', 'internal: the engine rejects the emitted wasm module'),
  // ---- LUT5100-5199 c ---------------------------------------------------------------------------------
  LUT5100: e('c', 'kernel shape N, K not positive integers'),
  LUT5101: e('c', 'kernel N*K exceeds 2^31 - 1 weights'),
  LUT5102: e('c', 'kernel bits outside 1..4'),
  LUT5103: e('c', 'kernel group size not a multiple of 8 (or >= K)'),
  LUT5104: e('c', 'kernel m not a positive integer'),
  LUT5105: e('c', 'kernel name not a C identifier'),
  LUT5106: e('c', 'unknown ISA'),
  LUT5107: e('c', 'shapes too large: the plan exceeds what the C artifact addresses (int row counts, exact offsets)'),
  LUT5110: e('c', 'the C compiler failed'),
  LUT5151: e('c', 'node form the C backend cannot compile'),
  LUT5152: e('c', 'operand must be a constant for the C backend'),
  LUT5161: e('c', 'input missing or of another shape than compiled for'),
  LUT5162: e('c', 'the compiled model failed at run time'),
  LUT5163: e('c', 'run --isa: an ISA path this host cannot build or execute'),
  LUT5170: e('c', "lutc bench --target c needs the package 'onnxruntime-node' (its peer), which is not installed"),
  // ---- LUT5200-5299 wgsl ------------------------------------------------------------------------------
  LUT5201: e('wgsl', "WebGPU in Node needs the optional package 'webgpu'"),
  LUT5202: e('wgsl', 'no WebGPU adapter'),
  LUT5204: e('wgsl', 'op on a dtype the WGSL backend does not support'),
  LUT5205: e('wgsl', 'cast to i64 can exceed the i32 range WGSL holds i64 in'),
  LUT5206: e('wgsl', 'matmul batch exceeds one dispatch'),
  LUT5207: e('wgsl', 'dequantize scale layout the WGSL backend cannot take'),
  LUT5208: e('wgsl', 'conv geometry the WGSL backend cannot take'),
  LUT5209: e('wgsl', 'shapes too large: a storage buffer beyond the 4 GiB WebGPU binds'),
  LUT5211: e('wgsl', 'float64 value: WGSL cannot compute in f64'),
  LUT5212: e('wgsl', 'constant outside the 32-bit range WGSL stores it in'),
  LUT5213: e('wgsl', 'operand must be a constant for the WGSL backend'),
  LUT5220: e('wgsl', 'input missing'),
  LUT5230: e('wgsl', 'kernel: --isa and --relaxed-simd do not apply to wgsl'),
  LUT5231: e('wgsl', 'kernel: M exceeds one gemm dispatch'),
  LUT5232: e('wgsl', 'kernel: invalid LUT geometry'),
  // ---- LUT6000-6099 CLI, options, .npy ----------------------------------------------------------------
  LUT6000: e('cli', 'unknown command'),
  LUT6001: e('cli', 'unknown option or malformed flags'),
  LUT6002: e('cli', 'missing argument or required option'),
  LUT6003: e('cli', 'invalid option value, or an option the target does not read'),
  LUT6004: e('cli', 'unexpected extra argument'),
  LUT6005: e('cli', 'input binding: unknown name, given twice, or too many'),
  LUT6006: e('cli', 'cannot read the model file'),
  LUT6007: e('cli', 'input dtype or values do not fit the model'),
  LUT6008: e('cli', 'input shape mismatch'),
  LUT6009: e('cli', 'shapes too large: a tensor this process cannot allocate'),
  LUT6010: e('cli', 'the target has no such part (ref: no artifact, no kernel mode)'),
  LUT6011: e('cli', 'none of the requested targets has a model benchmark (lutc bench)'),
  LUT6012: e('cli', 'output folder or file cannot be written'),
  LUT6013: e('cli', "bench: onnxruntime's outputs disagree with lutc's"),
  LUT6020: e('cli', 'not a .npy file'),
  LUT6021: e('cli', 'unsupported .npy format version'),
  LUT6022: e('cli', 'malformed .npy header'),
  LUT6023: e('cli', 'unsupported .npy dtype'),
  LUT6024: e('cli', 'truncated .npy data'),
  LUT6025: e('cli', 'invalid .npy shape'),
  LUT6026: e('cli', 'cannot read the .npy file'),
  LUT6040: e('cli', "run --compare ort: the package 'onnxruntime-node' is missing or cannot run the model"),
  LUT6041: e('cli', 'generate: the model is not a decoder export lutc recognizes (input_ids, cache pairs, logits)'),
  LUT6042: e('cli', 'generate: the target cannot run a growing KV cache yet (static-shaped artifacts)'),
  LUT6043: e('cli', 'generate: the logits hold NaN'),
  LUT6044: e(
    'cli',
    'generate: the tokenizer (tokenizer.json, tokenizer_config.json) is missing, unreadable or not one tokenizers.js reads',
  ),
} as const satisfies Record<string, DiagnosticInfo>;

/** A diagnostic code: a key of `DIAGNOSTICS`. */
export type DiagCode = keyof typeof DIAGNOSTICS;

/** True when `s` is a code of the table. */
export function isDiagCode(s: string): s is DiagCode {
  return Object.hasOwn(DIAGNOSTICS, s);
}
