/**
 * The ONNX importer's entry points. Decodes a ModelProto, checks it, imports the graph (import-graph.ts),
 * then runs shape inference and constant folding (ir/infer.ts), so callers get a graph where every
 * value has a dtype and known rank, constants are folded, and nodes are topologically sorted.
 *
 * Diagnostic codes: LUT1000-1199 (what each means: base/diagnostic-codes.ts, docs/diagnostics.md).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DiagnosticBag, fail, type Location } from '../../base/diagnostics.js';
// the importer maps nodes through the op table, so loading it is part of importing
import '../../ir/ops/index.js';
import { removeDeadNodes } from '../../ir/graph.js';
import { inferGraph } from '../../ir/infer.js';
import type { Graph } from '../../ir/types.js';
import { bindInputDims, type ImportState, importGraph } from './import-graph.js';
import { type IGraphProto, type ModelProto, onnx, toNum } from './proto.js';
import { dtypeFromOnnx } from './tensor.js';

export { OnnxBuilder, OnnxGraphBuilder } from './builder.js';
export { dtypeFromOnnx, dtypeToOnnx, readTensorPb, tensorFromProto, tensorToProto } from './tensor.js';

export interface ImportOptions {
  /** Model path, for diagnostics. */
  file?: string;
  /** Folder external data must stay in (defaults to the file's folder). */
  baseDir?: string;
  /** Symbolic dim -> size (`--shape` style bindings by symbol). */
  dimBindings?: Record<string, number>;
  /** Input name -> concrete shape; also binds the symbols it matches. */
  inputShapes?: Record<string, number[]>;
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
    reserved: collectNames(model.graph),
    fresh: 0,
  };
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
  return g;
}

function decodeModel(bytes: Uint8Array, loc: Location | undefined): ModelProto {
  try {
    return onnx.ModelProto.decode(bytes);
  } catch (e) {
    // protobufjs throws RangeError on truncation and Error on bad wire types; both mean a broken file
    return fail('LUT1001', `not a valid ONNX model (protobuf decoding failed: ${(e as Error).message})`, loc);
  }
}

/** All value names the proto mentions, in every nested graph. */
function collectNames(g: IGraphProto, out = new Set<string>()): Set<string> {
  for (const t of g.initializer ?? []) if (t.name) out.add(t.name);
  for (const v of g.input ?? []) if (v.name) out.add(v.name);
  for (const n of g.node ?? []) {
    for (const o of n.output ?? []) if (o) out.add(o);
    for (const a of n.attribute ?? []) {
      if (a.g) collectNames(a.g, out);
      for (const sg of a.graphs ?? []) collectNames(sg, out);
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
