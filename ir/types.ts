/**
 * Core data types of lutc's one IR: tensors, values, nodes, graphs. Graph-level ops (matmul, add, ...)
 * and `lut.*` ops live in the same structures; what an op means is declared once in the op table
 * (`ir/optable.ts`), never here.
 */
import type { Location } from '../base/diagnostics.js';

/**
 * Element types. Storage (see `ir/tensor.ts`): f32/f16/bf16 -> Float32Array holding values already
 * rounded to the type; f64 -> Float64Array; i64/u64 -> Float64Array (exact to 2^53, which every shape
 * and index in practice is; INT64_MAX sentinels in Slice round to 2^63 and still clamp correctly);
 * i4/u4 -> Int8Array/Uint8Array, one element per byte (unpacked at import); bool -> Uint8Array (0/1).
 */
export type DType = 'f32' | 'f16' | 'bf16' | 'f64' | 'i4' | 'u4' | 'i8' | 'u8' | 'i16' | 'u16' | 'i32' | 'u32' | 'i64' | 'u64' | 'bool';

export type TensorData = Float32Array | Float64Array | Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array | Uint32Array;

/** A dimension: a known size, or a symbol (ONNX dim_param, or one made by shape inference). */
export type Dim = number | string;

export interface TensorType {
  dtype: DType;
  shape: Dim[];
}

/** A concrete tensor. `shape` is row-major; `data.length` equals the product of `shape`. */
export interface Tensor {
  dtype: DType;
  shape: number[];
  data: TensorData;
}

/** Attribute values. Which of these an attribute holds is declared by its op (`AttrSpec.type`). */
export type AttrValue = number | string | number[] | string[] | Tensor | Graph;
export type Attrs = Record<string, AttrValue>;

/** An SSA value: a graph input, a constant, or the result of exactly one node. */
export interface Value {
  /** Unique within its graph and every graph nested in it (ONNX tensor names are kept as they are). */
  name: string;
  type: TensorType;
  /** The node producing it; null for graph inputs and constants. */
  producer: Node | null;
  /** Set for constants (initializers, folded values). */
  const?: Tensor;
  /**
   * Set by shape inference on a 0-D or 1-D integer value whose elements are known as dims but not
   * all as numbers (Shape of a tensor with runtime dims, and the Gather/Concat/arithmetic on it):
   * its elements as dim expressions (ir/dim-expr.ts). Shape rules read it through `dimsInput`.
   */
  dimValues?: Dim[];
}

export interface Node {
  /** IR op name from the op table, e.g. `matmul`, `layer_norm`, `lut.matmul`. */
  op: string;
  /** Node name (ONNX node name, or generated); used in diagnostics. */
  name: string;
  /** Operands in the op's declared order; null marks an omitted optional operand. */
  inputs: (Value | null)[];
  outputs: Value[];
  /** Only attributes set explicitly; `resolveAttrs` in the op table fills defaults. */
  attrs: Attrs;
  /** Where the node came from (ONNX node, IR text position). */
  loc?: Location;
}

export interface Graph {
  name: string;
  inputs: Value[];
  outputs: Value[];
  /** Constants used by this graph (producer null, `const` set), in a stable order. */
  constants: Value[];
  /** Nodes in topological order. */
  nodes: Node[];
  /** Model-level facts carried along; absent on subgraphs. */
  meta?: ModelMeta;
}

export interface ModelMeta {
  /** Path of the file the graph came from, for diagnostics. */
  file?: string;
  /** ONNX opset imports, domain ('' = ai.onnx) -> version. */
  opsets?: Record<string, number>;
  producer?: string;
  /** Symbolic dims bound by the user (`--shape`) or by inputs; symbol -> size. */
  dimBindings?: Record<string, number>;
  /** The symbols the model's inputs declare, before any binding (set by the ONNX importer). */
  inputSymbols?: string[];
  /**
   * Runtime dims: symbols left symbolic in the artifact, with their upper bounds (`--max-dim SYM=N`);
   * the memory plan is sized for the bounds (backends/model-plan.ts).
   */
  dimBounds?: Record<string, number>;
}
