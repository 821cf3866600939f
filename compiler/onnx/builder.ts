/**
 * A small programmatic ONNX model builder (ModelProto bytes out). Tests use it to make models without
 * Python; users may use it to build models by hand. It does no validation of op semantics: that is the
 * importer's job, and tests rely on being able to build broken models.
 *
 *   const b = new OnnxBuilder({ opset: 17 });
 *   const x = b.input('x', 'f32', [1, 'batch', 64]);
 *   const w = b.initializer('w', tensor);
 *   const [y] = b.node('MatMul', [x, w]);
 *   b.output(y!, 'f32');
 *   const bytes = b.toBytes();
 */
import type { DType, Tensor } from '../../ir/types.js';
import {
  OnnxAttrType as AT,
  type IAttributeProto,
  type IGraphProto,
  type IModelProto,
  type INodeProto,
  type IValueInfoProto,
  onnx,
  type TensorProto,
} from './proto.js';
import { dtypeToOnnx, tensorToProto } from './tensor.js';

export { tensorToProto } from './tensor.js';

/** Element type: a lutc dtype, or an ONNX TensorProto.DataType number (for types lutc lacks). */
export type ElemType = DType | number;
/** A dim: a size, a symbol (dim_param), or null for an unnamed unknown dim. */
export type BuilderDim = number | string | null;

/** Explicitly typed attribute values, for when a plain number would be ambiguous. */
export type TypedAttr = { f: number } | { i: number } | { floats: number[] } | { ints: number[] } | { s: string } | { strings: string[] };

/**
 * Attribute value: integers become INT, other numbers FLOAT (use `{ f: 1 }` / `b.float(1)` for a
 * float that happens to be integral); arrays likewise (all integers -> INTS). Strings, Tensors and
 * subgraphs (`b.subgraph()`) map to STRING, TENSOR, GRAPH.
 */
export type BuilderAttr = number | number[] | string | string[] | Tensor | OnnxGraphBuilder | TypedAttr;

export interface NodeOptions {
  attrs?: Record<string, BuilderAttr>;
  domain?: string;
  /** Number of outputs (default 1), or their names. */
  outputs?: number | string[];
  name?: string;
}

/** Builds one GraphProto: the main graph or an If branch. */
export class OnnxGraphBuilder {
  readonly inputs: IValueInfoProto[] = [];
  readonly outputs: IValueInfoProto[] = [];
  readonly valueInfo: IValueInfoProto[] = [];
  readonly initializers: TensorProto[] = [];
  readonly nodes: INodeProto[] = [];
  protected counter = 0;

  constructor(
    readonly name = 'main',
    protected readonly prefix = '',
  ) {}

  /** Declares a graph input; returns its name. */
  input(name: string, elem: ElemType, shape?: BuilderDim[]): string {
    this.inputs.push(valueInfo(name, elem, shape));
    return name;
  }

  /** Adds an initializer (raw_data encoding, or typed fields with `{ raw: false }`); returns its name. */
  initializer(name: string, t: Tensor, opts: { raw?: boolean } = {}): string {
    this.initializers.push(tensorToProto(t, name, opts));
    return name;
  }

  /** Appends a node; returns its output names. Use '' in `inputs` for an omitted optional input. */
  node(opType: string, inputs: string[], opts: NodeOptions = {}): string[] {
    const name = opts.name ?? `${this.prefix}${opType}_${this.counter++}`;
    const outs = Array.isArray(opts.outputs) ? opts.outputs : Array.from({ length: opts.outputs ?? 1 }, (_, i) => `${name}_out${i}`);
    const attribute = Object.entries(opts.attrs ?? {}).map(([k, v]) => attrProto(k, v));
    this.nodes.push({ opType, input: inputs, output: outs, name, domain: opts.domain ?? '', attribute });
    return outs;
  }

  /** Declares a graph output (element type, optional shape). */
  output(name: string, elem: ElemType, shape?: BuilderDim[]): void {
    this.outputs.push(valueInfo(name, elem, shape));
  }

  /** Records a type for an intermediate value (ONNX value_info). */
  annotate(name: string, elem: ElemType, shape?: BuilderDim[]): void {
    this.valueInfo.push(valueInfo(name, elem, shape));
  }

  /** A nested graph for If branches; pass it as an attribute value. Its node names get a prefix. */
  subgraph(name: string): OnnxGraphBuilder {
    return new OnnxGraphBuilder(name, `${name}/`);
  }

  /** A FLOAT attribute even when the value is integral. */
  float(v: number): { f: number } {
    return { f: v };
  }

  /** A FLOATS attribute even when every value is integral. */
  floats(v: number[]): { floats: number[] } {
    return { floats: v };
  }

  toGraphProto(): IGraphProto {
    return {
      name: this.name,
      input: this.inputs,
      output: this.outputs,
      valueInfo: this.valueInfo,
      initializer: this.initializers,
      node: this.nodes,
    };
  }
}

export interface OnnxBuilderOptions {
  /** ai.onnx opset version. */
  opset: number;
  /** Other domains, e.g. `{ 'com.microsoft': 1 }`. */
  domains?: Record<string, number>;
  irVersion?: number;
  producer?: string;
}

/** Builds a ModelProto: the main graph plus opset imports. */
export class OnnxBuilder extends OnnxGraphBuilder {
  constructor(readonly opts: OnnxBuilderOptions) {
    super('main');
  }

  /** The ModelProto as a plain object, for tests that want to tamper with it before encoding. */
  toModelProto(): IModelProto {
    const opsetImport = [{ domain: '', version: this.opts.opset }];
    for (const [domain, version] of Object.entries(this.opts.domains ?? {})) opsetImport.push({ domain, version });
    return {
      irVersion: this.opts.irVersion ?? 8,
      producerName: this.opts.producer ?? 'lutc-builder',
      opsetImport,
      graph: this.toGraphProto(),
    };
  }

  /** Serialized ModelProto. */
  toBytes(): Uint8Array {
    return encodeModel(this.toModelProto());
  }
}

/** Serializes a ModelProto object. */
export function encodeModel(m: IModelProto): Uint8Array {
  return onnx.ModelProto.encode(onnx.ModelProto.create(m)).finish();
}

function valueInfo(name: string, elem: ElemType, shape?: BuilderDim[]): IValueInfoProto {
  const elemType = typeof elem === 'number' ? elem : dtypeToOnnx(elem);
  const tensorType: { elemType: number; shape?: { dim: { dimValue?: number; dimParam?: string }[] } } = { elemType };
  if (shape) tensorType.shape = { dim: shape.map((d) => (d === null ? {} : typeof d === 'number' ? { dimValue: d } : { dimParam: d })) };
  return { name, type: { tensorType } };
}

function isTensor(v: object): v is Tensor {
  return 'dtype' in v && 'shape' in v && 'data' in v;
}

const utf8 = new TextEncoder();

/** Builds an AttributeProto from a builder attribute value (see BuilderAttr for the typing rules). */
export function attrProto(name: string, v: BuilderAttr): IAttributeProto {
  if (typeof v === 'number') return Number.isInteger(v) ? { name, type: AT.INT, i: v } : { name, type: AT.FLOAT, f: v };
  if (typeof v === 'string') return { name, type: AT.STRING, s: utf8.encode(v) };
  if (Array.isArray(v)) {
    if (v.every((x) => typeof x === 'string')) return { name, type: AT.STRINGS, strings: (v as string[]).map((s) => utf8.encode(s)) };
    const nums = v as number[];
    return nums.every(Number.isInteger) ? { name, type: AT.INTS, ints: nums } : { name, type: AT.FLOATS, floats: nums };
  }
  if (v instanceof OnnxGraphBuilder) return { name, type: AT.GRAPH, g: v.toGraphProto() };
  if (isTensor(v)) return { name, type: AT.TENSOR, t: tensorToProto(v, name) };
  if ('f' in v) return { name, type: AT.FLOAT, f: v.f };
  if ('i' in v) return { name, type: AT.INT, i: v.i };
  if ('floats' in v) return { name, type: AT.FLOATS, floats: v.floats };
  if ('ints' in v) return { name, type: AT.INTS, ints: v.ints };
  if ('s' in v) return { name, type: AT.STRING, s: utf8.encode(v.s) };
  return { name, type: AT.STRINGS, strings: v.strings.map((s) => utf8.encode(s)) };
}
