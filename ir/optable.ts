/**
 * The op table: every IR op, graph-level and `lut.*`, is declared exactly once here through `defineOp`
 * (operands, results, typed attributes, traits, shape rule, verifier, interpreter). The printer,
 * parser, verifier, importer, interpreter, passes and backends all read these declarations; none of
 * them repeats an op fact. Traits (`OpTrait`, MLIR ODS style) and compile-time operands
 * (`OperandSpec.compileTime`) are the op properties passes and backends query (`hasTrait`,
 * `isCompileTimeOperand`) instead of keeping op lists; `operand(node, 'bias')` / `operandIndex` name
 * operands instead of numeric indices (an unknown name is a programming error: a thrown Error).
 * Op definitions live in `ir/ops/*.ts` and register themselves when `ir/ops/index.ts` is loaded;
 * test/ir/op-traits.test.ts checks every trait against the op's shape rule and interpreter.
 */
import { type DiagCode, fail, type Location, nodeLoc } from '../base/diagnostics.js';
import type { Attrs, AttrValue, Dim, Graph, Node, Tensor, TensorType, Value } from './types.js';

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
  /**
   * The operand's value, not only its type, decides the result's shape or meaning (Reshape's shape,
   * Slice's starts, reduction axes): compiled targets need it to be a constant (computed at run time
   * it leaves symbolic dims, LUT5001) and never load it in a kernel.
   */
  compileTime?: boolean;
}

/**
 * Op traits, checked against each op's shape rule and interpreter by test/ir/op-traits.test.ts:
 * - `elementwise`: every result element depends only on the operands' elements at the same
 *   (numpy-broadcast) index; the result shape is the broadcast of the operand shapes.
 * - `unary`: elementwise with exactly one operand (result shape = its shape).
 * - `binary-broadcast`: elementwise with exactly two operands, numpy broadcasting.
 * - `commutative`: swapping the (first two) operands gives the same result.
 * - `view`: no data movement: result 0 holds operand 0's elements in the same order (reshape,
 *   flatten, squeeze, unsqueeze, identity); the memory plan aliases it to its input.
 * - `shape-only`: the results depend only on the operands' types (shape, size), never their data.
 * - `no-fold`: never constant-folded (control flow).
 */
export type OpTrait = 'elementwise' | 'unary' | 'binary-broadcast' | 'commutative' | 'view' | 'shape-only' | 'no-fold';

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
  /**
   * Symbolic evaluation on dim values (ir/ops/dims.ts `dimsOfInput`): each 0-D/1-D integer result's
   * elements as dims (ir/dim-expr.ts), or undefined where not known. What lets the shape arithmetic of
   * exported models (Shape -> Gather -> Concat -> Reshape) resolve to dim expressions when dims are
   * runtime dims; shape inference folds a result whose elements all are numbers.
   */
  dimValues?(ctx: InferCtx, def: OpDef): (Dim[] | undefined)[] | undefined;
  /** The op's traits (absent: none). */
  traits?: readonly OpTrait[];
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

/** Whether op `op` (a name or a definition) has trait `t`; an unknown op name has none. */
export function hasTrait(op: string | OpDef, t: OpTrait): boolean {
  const def = typeof op === 'string' ? table.get(op) : op;
  return !!def?.traits?.includes(t);
}

/** The OperandSpec of operand position `i` of `def` (a variadic last operand covers the rest). */
function operandSpecAt(def: OpDef, i: number): OperandSpec | undefined {
  const last = def.inputs[def.inputs.length - 1];
  return def.inputs[i] ?? (last?.variadic ? last : undefined);
}

/** Whether operand position `i` of op `op` is a compile-time operand (`OperandSpec.compileTime`). */
export function isCompileTimeOperand(op: string, i: number): boolean {
  const def = table.get(op);
  return !!def && !!operandSpecAt(def, i)?.compileTime;
}

/**
 * Position of the operand named `name` of op `opName` (a variadic one: its first position). An
 * unknown op or operand name is a programming error (thrown Error), not a user diagnostic.
 */
export function operandIndex(opName: string, name: string): number {
  const def = table.get(opName);
  if (!def) throw new Error(`operandIndex: unknown op '${opName}'`);
  const i = def.inputs.findIndex((o) => o.name === name);
  if (i < 0) throw new Error(`operandIndex: op '${opName}' has no operand '${name}' (it has ${def.inputs.map((o) => o.name).join(', ')})`);
  return i;
}

/** The operand named `name` of `node` (null when omitted); unknown names throw, as in `operandIndex`. */
export function operand(node: Node, name: string): Value | null {
  return node.inputs[operandIndex(node.op, name)] ?? null;
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
