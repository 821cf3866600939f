/**
 * The ONNX importer's entry points. Decodes a ModelProto, checks it, imports the graph (import-graph.ts),
 * then runs shape inference and constant folding (ir/infer.ts), so callers get a graph where every
 * value has a dtype and known rank, constants are folded, and nodes are topologically sorted.
 * Memory: decoded tensor data (initializers, tensor attributes, external data) is charged to one
 * budget of `maxTensorBytes` before it is allocated, and after inference every value with a static
 * shape must fit it too (a declared or inferred size a backend would plan memory for); both LUT1008.
 * Subgraphs nest at most MAX_GRAPH_DEPTH deep (LUT1009), so no model exhausts the stack.
 *
 * Diagnostic codes: LUT1000-1199 (what each means: base/diagnostic-codes.ts, docs/diagnostics.md).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DiagnosticBag, fail, type Location, nodeLoc } from '../../base/diagnostics.js';
// the importer maps nodes through the op table, so loading it is part of importing
import '../../ir/ops/index.js';
import { removeDeadNodes, subgraphs } from '../../ir/graph.js';
import { inferGraph } from '../../ir/infer.js';
import { allocData, numel } from '../../ir/tensor.js';
import type { Graph, Value } from '../../ir/types.js';
import { bindInputDims, type ImportState, importGraph } from './import-graph.js';
import { type IGraphProto, type ModelProto, onnx, toNum } from './proto.js';
import { DEFAULT_MAX_TENSOR_BYTES, dtypeFromOnnx } from './tensor.js';

export { OnnxBuilder, OnnxGraphBuilder } from './builder.js';
export { DEFAULT_MAX_TENSOR_BYTES, dtypeFromOnnx, dtypeToOnnx, readTensorPb, tensorFromProto, tensorToProto } from './tensor.js';

export interface ImportOptions {
  /** Model path, for diagnostics. */
  file?: string;
  /** Folder external data must stay in (defaults to the file's folder). */
  baseDir?: string;
  /** Symbolic dim -> size (`--shape` style bindings by symbol). */
  dimBindings?: Record<string, number>;
  /** Input name -> concrete shape; also binds the symbols it matches. */
  inputShapes?: Record<string, number[]>;
  /** Memory limit in bytes (`--max-tensor-bytes`; default DEFAULT_MAX_TENSOR_BYTES, 8 GiB): LUT1008 beyond it. */
  maxTensorBytes?: number;
}

/** Imports a model file. Reads the file once; external data is read by range from its folder. */
export function importOnnxFile(file: string, opts: ImportOptions = {}): Graph {
  let bytes: Uint8Array;
  try {
    bytes = fs.readFileSync(file);
  } catch (e) {
    fail('LUT1000', `cannot read model: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { kind: 'file', file });
  }
  return importOnnx(bytes, { ...opts, file: opts.file ?? file, baseDir: opts.baseDir ?? path.dirname(file) });
}

/** Imports ModelProto bytes into a shape-inferred, constant-folded, topologically sorted graph. */
export function importOnnx(bytes: Uint8Array, opts: ImportOptions = {}): Graph {
  const file = opts.file;
  const loc: Location | undefined = file ? { kind: 'file', file } : undefined;
  const model = decodeModel(bytes, loc);
  if (!model.graph) fail('LUT1007', 'the model has no graph', loc);

  const opsets = new Map<string, number>();
  for (const o of model.opsetImport ?? []) opsets.set(o.domain === 'ai.onnx' ? '' : (o.domain ?? ''), toNum(o.version));
  // IR version 3 and older carried no opset imports; such files meant ai.onnx opset 1
  if (!opsets.has('') && toNum(model.irVersion) < 3) opsets.set('', 1);

  const st: ImportState = {
    file,
    baseDir: opts.baseDir ?? (file ? path.dirname(file) : undefined),
    opsets,
    bag: new DiagnosticBag(),
    bindings: { ...(opts.dimBindings ?? {}) },
    inputShapes: opts.inputShapes ?? {},
    names: new Set(),
    reserved: collectNames(model.graph, loc),
    fresh: 0,
    budget: { limit: opts.maxTensorBytes ?? DEFAULT_MAX_TENSOR_BYTES, used: 0 },
  };
  if (!(st.budget.limit > 0)) fail('LUT1008', `the memory limit must be a positive number of bytes, got ${st.budget.limit}`, loc);
  for (const [k, v] of Object.entries(st.bindings)) {
    if (!Number.isSafeInteger(v) || v < 0) fail('LUT1108', `dim '${k}' is bound to invalid size ${v}`, loc);
  }
  const g = importGraph(model.graph, st);
  st.bag.throwIfErrors();
  // the symbols the model's inputs declare, before any binding (a --dim for another one is warned about)
  const inputSymbols = [...new Set(g.inputs.flatMap((v) => v.type.shape.filter((d): d is string => typeof d === 'string')))];
  bindInputDims(g, st.bindings);

  const meta: NonNullable<Graph['meta']> = { opsets: Object.fromEntries(opsets), dimBindings: st.bindings, inputSymbols };
  if (file) meta.file = file;
  if (model.producerName) meta.producer = model.producerVersion ? `${model.producerName} ${model.producerVersion}` : model.producerName;
  g.meta = meta;

  inferGraph(g, { file });
  removeDeadNodes(g);
  checkDeclaredOutputs(g, model.graph, loc);
  checkValueSizes(g, st.budget.limit, file);
  return g;
}

/** Every value of `g` (and its subgraphs) with a static shape takes at most `limit` bytes, else LUT1008. */
function checkValueSizes(g: Graph, limit: number, file: string | undefined): void {
  const check = (v: Value, where: Location | undefined) => {
    const shape = v.type.shape;
    if (!shape.every((d): d is number => typeof d === 'number')) return;
    const bytes = numel(shape) * allocData(v.type.dtype, 0).BYTES_PER_ELEMENT;
    if (bytes > limit)
      fail(
        'LUT1008',
        `value '${v.name}' (shape [${shape.join(', ')}] of ${v.type.dtype}) needs ${bytes} bytes, more than the limit of ${limit} (raise it with --max-tensor-bytes)`,
        where,
      );
  };
  const walk = (sub: Graph) => {
    const gloc: Location | undefined = file ? { kind: 'file', file } : undefined;
    for (const v of sub.inputs) check(v, gloc);
    for (const n of sub.nodes) {
      for (const v of n.outputs) check(v, nodeLoc(n, file));
      for (const inner of subgraphs(n)) walk(inner);
    }
  };
  walk(g);
}

function decodeModel(bytes: Uint8Array, loc: Location | undefined): ModelProto {
  try {
    return onnx.ModelProto.decode(bytes);
  } catch (e) {
    // protobufjs throws RangeError on truncation and Error on bad wire types; both mean a broken file
    return fail('LUT1001', `not a valid ONNX model (protobuf decoding failed: ${(e as Error).message})`, loc);
  }
}

/**
 * Deepest nesting of subgraphs accepted (LUT1009 beyond): far beyond real models, and far within the
 * stack of the recursive importer, inference and passes (about 1000 levels overflowed it).
 */
const MAX_GRAPH_DEPTH = 64;

/** All value names the proto mentions, in every nested graph; LUT1009 for nesting beyond MAX_GRAPH_DEPTH. */
function collectNames(g: IGraphProto, loc: Location | undefined, out = new Set<string>(), depth = 0): Set<string> {
  if (depth > MAX_GRAPH_DEPTH) fail('LUT1009', `subgraphs are nested more than ${MAX_GRAPH_DEPTH} deep`, loc);
  for (const t of g.initializer ?? []) if (t.name) out.add(t.name);
  for (const v of g.input ?? []) if (v.name) out.add(v.name);
  for (const n of g.node ?? []) {
    for (const o of n.output ?? []) if (o) out.add(o);
    for (const a of n.attribute ?? []) {
      if (a.g) collectNames(a.g, loc, out, depth + 1);
      for (const sg of a.graphs ?? []) collectNames(sg, loc, out, depth + 1);
    }
  }
  return out;
}

/** A declared output element type that contradicts inference means the model or an op rule is wrong. */
function checkDeclaredOutputs(g: Graph, gp: IGraphProto, loc: Location | undefined): void {
  const bag = new DiagnosticBag();
  (gp.output ?? []).forEach((vi, i) => {
    const v = g.outputs[i];
    const elem = vi.type?.tensorType?.elemType;
    if (!v || !elem) return;
    const declared = dtypeFromOnnx(elem);
    if (declared && declared !== v.type.dtype) {
      bag.error('LUT1111', `output '${vi.name}' is declared ${declared} but computes ${v.type.dtype}`, loc);
    }
  });
  bag.throwIfErrors();
}
