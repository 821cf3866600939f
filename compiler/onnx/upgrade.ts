/**
 * Opset upgrades: rewrites nodes written against older ai.onnx opsets into the canonical IR forms,
 * which follow the latest opset (attributes that later became inputs become constant inputs; old
 * Softmax semantics become flatten + softmax + reshape). This is the only per-op code in the importer;
 * everything else is mapped generically through the op table. Also says which opset versions lutc
 * accepts at all.
 */

import type { Location } from '../../base/diagnostics.js';
import { makeTensor } from '../../ir/tensor.js';
import type { Tensor } from '../../ir/types.js';
import { OnnxAttrType as AT, type IAttributeProto, toNum } from './proto.js';

/** An ONNX node before it is mapped onto the op table. */
export interface RawNode {
  opType: string;
  /** '' for ai.onnx. */
  domain: string;
  name: string;
  /** '' marks an omitted optional input. */
  inputs: string[];
  outputs: string[];
  attrs: Map<string, IAttributeProto>;
  loc: Location;
  /** Already diagnosed (unsupported opset): keeps its results defined but is not mapped. */
  rejected?: boolean;
}

export interface UpgradeCtx {
  /** Opset version the node's domain is imported at. */
  version: number;
  /** Registers a constant in the node's graph; returns its value name. */
  constant(base: string, t: Tensor): string;
  /** A value name unused anywhere in the model. */
  fresh(base: string): string;
}

/**
 * ai.onnx versions accepted by default: 7 introduced numpy broadcasting (older arithmetic nodes carry
 * `broadcast` attrs). Ops whose semantics were already lutc's before 7 are listed in OP_MIN_OPSET.
 */
export const AI_ONNX_MIN = 7;
/** Newest ai.onnx opset whose changes to the supported ops have been reviewed. */
export const AI_ONNX_MAX = 23;
/** Versions accepted for other domains. */
const DOMAIN_RANGE: Record<string, [number, number]> = { 'com.microsoft': [1, 1] };

/**
 * The oldest ai.onnx opset at which an op already means what lutc implements, for ops where that is
 * older than AI_ONNX_MIN. A model at opset v runs each op's newest version <= v, so an entry of 1 says
 * every version of the op agrees with lutc (later versions only widened the types, allowed negative
 * axes, or moved attributes to inputs, which upgradeNode rewrites). Entries of 6 are ops whose version
 * 1 had the `consumed_inputs` attribute (an in-place hint dropped in version 6); other entries name the
 * version whose signature lutc (after upgradeNode) handles. Each was checked against onnx/Changelog.md.
 */
const OP_MIN_OPSET: Record<string, number> = {
  Not: 1,
  Softplus: 1,
  Softsign: 1,
  Identity: 1,
  Shape: 1,
  Size: 1,
  Transpose: 1,
  Flatten: 1,
  Gather: 1,
  MatMul: 1,
  Squeeze: 1,
  Unsqueeze: 1,
  Slice: 1,
  Softmax: 1,
  LogSoftmax: 1,
  Hardmax: 1,
  ArgMax: 1,
  ArgMin: 1,
  ReduceSum: 1,
  ReduceMean: 1,
  ReduceMax: 1,
  ReduceMin: 1,
  ReduceProd: 1,
  ReduceL1: 1,
  ReduceL2: 1,
  ReduceLogSum: 1,
  ReduceLogSumExp: 1,
  ReduceSumSquare: 1,
  Split: 2,
  Pad: 2,
  Concat: 4,
  Reshape: 5,
  Abs: 6,
  Neg: 6,
  Ceil: 6,
  Floor: 6,
  Exp: 6,
  Log: 6,
  Sqrt: 6,
  Reciprocal: 6,
  Relu: 6,
  LeakyRelu: 6,
  Sigmoid: 6,
  Tanh: 6,
  Elu: 6,
  Selu: 6,
  HardSigmoid: 6,
  Clip: 6,
  Cast: 6,
  Tile: 6,
};

/**
 * Why a domain/version pair is unsupported for `opType` (when given), or undefined when it is
 * supported.
 */
export function opsetProblem(domain: string, version: number | undefined, opType?: string): string | undefined {
  if (version === undefined) return `the model imports no opset for domain '${domain || 'ai.onnx'}'`;
  const aiMin = (opType !== undefined && OP_MIN_OPSET[opType]) || AI_ONNX_MIN;
  const [lo, hi] = domain === '' ? [aiMin, AI_ONNX_MAX] : (DOMAIN_RANGE[domain] ?? [1, Infinity]);
  if (version < lo || version > hi) {
    const what = domain === '' && opType !== undefined ? ` for ${opType}` : '';
    return `opset ${version} of domain '${domain || 'ai.onnx'}' is not supported${what} (lutc supports ${lo}..${hi})`;
  }
  return undefined;
}

const REDUCE_OPS = new Set([
  'ReduceMean',
  'ReduceMax',
  'ReduceMin',
  'ReduceProd',
  'ReduceL1',
  'ReduceL2',
  'ReduceLogSum',
  'ReduceLogSumExp',
  'ReduceSumSquare',
]);

/** Rewrites one node into canonical-form nodes (usually just itself, possibly modified). */
export function upgradeNode(n: RawNode, ctx: UpgradeCtx): RawNode[] {
  if (n.domain !== '') return [n];
  const v = ctx.version;
  switch (n.opType) {
    case 'Squeeze':
    case 'Unsqueeze':
      if (v < 13) attrToInput(n, ctx, 'axes', 1, 'i64');
      return [n];
    case 'ReduceSum':
      if (v < 13) attrToInput(n, ctx, 'axes', 1, 'i64');
      return [n];
    case 'Split':
      if (v < 13) attrToInput(n, ctx, 'split', 1, 'i64');
      return [n];
    case 'Clip':
      // Clip < 11 only took float tensors; min/max become f32 scalars (f16 models use opset >= 11 in practice)
      if (v < 11) {
        attrToInput(n, ctx, 'min', 1, 'f32');
        attrToInput(n, ctx, 'max', 2, 'f32');
      }
      return [n];
    case 'Slice':
      if (v < 10) {
        attrToInput(n, ctx, 'starts', 1, 'i64');
        attrToInput(n, ctx, 'ends', 2, 'i64');
        attrToInput(n, ctx, 'axes', 3, 'i64');
      }
      return [n];
    case 'Softmax':
    case 'LogSoftmax':
    case 'Hardmax':
      return v < 13 ? legacySoftmax(n, ctx) : [n];
    case 'Pad':
      // Pad 2..10: pads and the float `value` are attributes (the IR converts value to data's dtype).
      if (v < 11) {
        attrToInput(n, ctx, 'pads', 1, 'i64');
        attrToInput(n, ctx, 'value', 2, 'f32');
      }
      return [n];
    case 'Dropout':
      return v < 12 ? legacyDropout(n, ctx) : [n];
    default:
      if (REDUCE_OPS.has(n.opType) && v < 18) attrToInput(n, ctx, 'axes', 1, 'i64');
      return [n];
  }
}

/** Moves attribute `attr` (if present) to input slot `slot` as a 1-D (ints/floats) or scalar constant. */
function attrToInput(n: RawNode, ctx: UpgradeCtx, attr: string, slot: number, dtype: 'i64' | 'f32'): void {
  const a = n.attrs.get(attr);
  if (!a) return;
  n.attrs.delete(attr);
  let t: Tensor;
  if (a.type === AT.FLOAT || a.type === AT.INT) {
    t = makeTensor(dtype, [], [a.type === AT.FLOAT ? (a.f ?? 0) : toNum(a.i)]);
  } else {
    const vals = a.type === AT.FLOATS ? (a.floats ?? []) : (a.ints ?? []).map((x) => toNum(x));
    t = makeTensor(dtype, [vals.length], vals);
  }
  while (n.inputs.length < slot) n.inputs.push('');
  n.inputs[slot] = ctx.constant(`${n.name}_${attr}`, t);
}

/**
 * Softmax before opset 13 normalizes over the flattened trailing dims [axis, rank) (axis default 1);
 * from 13 it is over one axis (default -1). Old form = reshape(softmax13(flatten(x, axis), -1), shape(x)).
 * An explicit axis of -1 means the same in both, so it stays one node.
 */
function legacySoftmax(n: RawNode, ctx: UpgradeCtx): RawNode[] {
  const a = n.attrs.get('axis');
  const axis = a ? toNum(a.i) : 1;
  const setAxis = (m: Map<string, IAttributeProto>, value: number) => m.set('axis', { name: 'axis', type: AT.INT, i: value });
  if (axis === -1) return [n];
  const x = n.inputs[0] ?? '';
  const flat = ctx.fresh(`${n.name}_flat`);
  const sm = ctx.fresh(`${n.name}_2d`);
  const shape = ctx.fresh(`${n.name}_shape`);
  const mk = (
    opType: string,
    suffix: string,
    inputs: string[],
    outputs: string[],
    attrs = new Map<string, IAttributeProto>(),
  ): RawNode => ({
    opType,
    domain: '',
    name: `${n.name}/${suffix}`,
    inputs,
    outputs,
    attrs,
    loc: n.loc,
  });
  const flattenAttrs = new Map<string, IAttributeProto>();
  setAxis(flattenAttrs, axis);
  const smAttrs = new Map<string, IAttributeProto>();
  setAxis(smAttrs, -1);
  return [
    mk('Flatten', 'flatten', [x], [flat], flattenAttrs),
    mk(n.opType, 'softmax', [flat], [sm], smAttrs),
    mk('Shape', 'shape', [x], [shape]),
    mk('Reshape', 'reshape', [sm, shape], [n.outputs[0] ?? '']),
  ];
}

/**
 * Dropout before opset 12 has `ratio` as an attribute (it becomes an f32 input; inference ignores it
 * anyway). Its mask in inference is all false in onnxruntime (IdentityOp fills it with zeros; checked
 * with onnxruntime-node), where opset 12+ gives all true, so a requested mask becomes Not(mask); before
 * opset 10 the mask has the data's type instead of bool, so it is then re-typed with CastLike(_, data).
 */
function legacyDropout(n: RawNode, ctx: UpgradeCtx): RawNode[] {
  attrToInput(n, ctx, 'ratio', 1, 'f32');
  const mask = n.outputs[1];
  if (!mask) return [n];
  const mk = (opType: string, suffix: string, inputs: string[], output: string): RawNode => ({
    opType,
    domain: '',
    name: `${n.name}/${suffix}`,
    inputs,
    outputs: [output],
    attrs: new Map(),
    loc: n.loc,
  });
  const trueMask = ctx.fresh(`${n.name}_mask_true`);
  n.outputs[1] = trueMask;
  if (ctx.version >= 10) return [n, mk('Not', 'mask_not', [trueMask], mask)];
  const falseMask = ctx.fresh(`${n.name}_mask_false`);
  return [n, mk('Not', 'mask_not', [trueMask], falseMask), mk('CastLike', 'mask_cast', [falseMask, n.inputs[0] ?? ''], mask)];
}
