/**
 * The op table: every IR op, graph-level and `lut.*`, is declared exactly once here through `defineOp`
 * (operands, results, typed attributes, shape rule, verifier, interpreter). The printer, parser,
 * verifier, importer, interpreter and passes all read these declarations; none of them repeats an op
 * fact. Op definitions live in `ir/ops/*.ts` and register themselves when `ir/ops/index.ts` is loaded.
 */
import { fail, nodeLoc, type DiagCode, type Location } from '../base/diagnostics.js';
import type { AttrValue, Attrs, Graph, Node, Tensor, TensorType } from './types.js';

export type AttrType = 'int' | 'float' | 'string' | 'ints' | 'floats' | 'strings' | 'tensor' | 'graph';

export interface AttrSpec {
  type: AttrType;
  /** Value when absent; attributes without a default and not `required` are optional (absent = undefined). */
  default?: AttrValue;
  required?: boolean;
  /** For 'string' attributes with a closed set of values. */
  oneOf?: readonly string[];
}

export interface OperandSpec {
  name: string;
  /** May be omitted (null in `Node.inputs`); only trailing operands of ONNX ops are optional in practice. */
  optional?: boolean;
  /** Takes all remaining operands (Concat, Max, Min; at most one, the last). */
  variadic?: boolean;
}

/** What a shape rule sees. */
export interface InferCtx {
  node: Node;
  /** Input types; null for omitted optional inputs. */
  inputs: (TensorType | null)[];
  /** Attributes with defaults filled. */
  attrs: Attrs;
  /** Value of input i when it is a constant (or folded), for Reshape's shape, Slice's starts, ... */
  constInput(i: number): Tensor | undefined;
  /** A fresh symbolic dim for sizes that cannot be known statically (e.g. data-dependent). */
  freshDim(hint?: string): string;
  /** Throws a coded diagnostic located at the node. */
  error(code: DiagCode, message: string): never;
}

/** What an interpreter kernel sees. */
export interface InterpCtx {
  node: Node;
  attrs: Attrs;
  /** Runs a nested graph (If branches) with the current environment visible. */
  runGraph(g: Graph): Tensor[];
  /** Throws a coded diagnostic located at the node. */
  error(code: DiagCode, message: string): never;
}

export interface OpDef {
  /** IR name: snake_case for graph ops (`layer_norm`), `lut.` prefix for LUT ops. */
  name: string;
  /** The ONNX op this was imported from, when it maps one-to-one (`{ domain: '', type: 'LayerNormalization' }`). */
  onnx?: { domain: string; type: string };
  summary: string;
  inputs: OperandSpec[];
  outputs: OperandSpec[];
  attrs: Record<string, AttrSpec>;
  /** Shape rule: result types from input types, attributes and constant inputs. */
  infer(ctx: InferCtx): TensorType[];
  /** Extra structural checks beyond arity, attribute types and the shape rule. */
  verify?(ctx: InferCtx): void;
  /** Reference semantics. Inputs are null where an optional operand is omitted. */
  interp(inputs: (Tensor | null)[], ctx: InterpCtx): Tensor[];
  /**
   * Folds from input *types* alone when inputs are not constant (Shape of a static-shaped tensor):
   * returns the result tensors, or undefined when it cannot. Used by shape inference.
   */
  foldFromTypes?(ctx: InferCtx): Tensor[] | undefined;
  /** False for ops that must not be constant-folded (none yet besides control flow). */
  foldable?: boolean;
}

const table = new Map<string, OpDef>();

/** Registers an op. Throws on a duplicate name: that is a programming error, not a user error. */
export function defineOp(def: OpDef): OpDef {
  if (table.has(def.name)) throw new Error(`op '${def.name}' defined twice`);
  const variadic = def.inputs.findIndex((o) => o.variadic);
  if (variadic >= 0 && variadic !== def.inputs.length - 1) throw new Error(`op '${def.name}': variadic operand must be last`);
  table.set(def.name, def);
  return def;
}

/** The op named `name`, or undefined. */
export function findOp(name: string): OpDef | undefined {
  return table.get(name);
}

/** The op of a node; a node with an op unknown to the table is a diagnosed error (LUT2101). */
export function opOf(node: Node, loc?: Location): OpDef {
  const def = table.get(node.op);
  if (!def) fail('LUT2101', `unknown op '${node.op}'`, loc ?? nodeLoc(node));
  return def;
}

/** The IR op imported from ONNX op `type` in `domain` ('' or 'ai.onnx' = the default domain). */
export function findOpByOnnx(domain: string, type: string): OpDef | undefined {
  const d = domain === 'ai.onnx' ? '' : domain;
  for (const def of table.values()) if (def.onnx && def.onnx.type === type && def.onnx.domain === d) return def;
  return undefined;
}

export function allOps(): OpDef[] {
  return [...table.values()];
}

/** Attributes of a node with the op's defaults filled in. */
export function resolveAttrs(def: OpDef, node: Node): Attrs {
  const out: Attrs = {};
  for (const [k, spec] of Object.entries(def.attrs)) {
    const v = node.attrs[k];
    if (v !== undefined) out[k] = v;
    else if (spec.default !== undefined) out[k] = spec.default;
  }
  return out;
}
