/**
 * AttributeProto -> IR attribute values, driven by each op's declared `AttrSpec` types (no per-op
 * code), plus the normalization of Constant nodes' value_* attributes into tensors.
 */
import type { DiagnosticBag, Location } from '../../base/diagnostics.js';
import type { AttrSpec, OpDef } from '../../ir/optable.js';
import { makeTensor } from '../../ir/tensor.js';
import type { Attrs, AttrValue, Graph, Tensor } from '../../ir/types.js';
import { OnnxAttrType as AT, type IAttributeProto, type IGraphProto, type ITensorProto, toNum } from './proto.js';

/**
 * Attributes a supported op may carry without lutc declaring them, because they cannot change the
 * result for the types lutc handles. Any other undeclared attribute is an error (LUT1103): silently
 * ignoring one could change semantics.
 */
const HARMLESS: Record<string, readonly string[]> = {
  // Cast.saturate only affects float8 targets, which lutc has no dtype for.
  Cast: ['saturate'],
  // Precision of the mean/variance computation: lutc computes norms in f32 or better anyway.
  LayerNormalization: ['stash_type'],
  SimplifiedLayerNormalization: ['stash_type'],
  SkipSimplifiedLayerNormalization: [],
};

export interface AttrContext {
  bag: DiagnosticBag;
  loc: Location;
  opType: string;
  tensor(t: ITensorProto): Tensor;
  graph(g: IGraphProto): Graph;
}

const utf8 = new TextDecoder('utf-8', { fatal: false });

/** The attribute's kind; old writers leave `type` unset, so fall back to which field is filled. */
function kindOf(a: IAttributeProto): number {
  if (a.type) return a.type;
  if (a.g) return AT.GRAPH;
  if (a.t) return AT.TENSOR;
  if (a.s?.length) return AT.STRING;
  if (a.ints?.length) return AT.INTS;
  if (a.floats?.length) return AT.FLOATS;
  if (a.strings?.length) return AT.STRINGS;
  if (a.f) return AT.FLOAT;
  return AT.INT;
}

const KIND_NAME: Record<number, string> = Object.fromEntries(Object.entries(AT).map(([k, v]) => [v, k]));

/** Converts a node's attributes to IR attributes per `def.attrs`; problems go to the bag. */
export function convertAttrs(def: OpDef, raw: Map<string, IAttributeProto>, ctx: AttrContext): Attrs {
  const out: Attrs = {};
  for (const [name, a] of raw) {
    const spec = def.attrs[name];
    if (!spec) {
      if (!HARMLESS[ctx.opType]?.includes(name)) ctx.bag.error('LUT1103', `attribute '${name}' is not supported on ${ctx.opType}`, ctx.loc);
      continue;
    }
    if (a.refAttrName) {
      ctx.bag.error(
        'LUT1103',
        `attribute '${name}' refers to a function attribute ('${a.refAttrName}'), which lutc does not support`,
        ctx.loc,
      );
      continue;
    }
    const v = convertOne(name, a, spec, ctx);
    if (v !== undefined) out[name] = v;
  }
  for (const [name, spec] of Object.entries(def.attrs)) {
    if (spec.required && out[name] === undefined && !raw.has(name))
      ctx.bag.error('LUT1103', `required attribute '${name}' is missing`, ctx.loc);
  }
  return out;
}

function convertOne(name: string, a: IAttributeProto, spec: AttrSpec, ctx: AttrContext): AttrValue | undefined {
  const kind = kindOf(a);
  const bad = (): undefined => {
    ctx.bag.error('LUT1103', `attribute '${name}' is ${KIND_NAME[kind] ?? `type ${kind}`}, expected ${spec.type}`, ctx.loc);
    return undefined;
  };
  switch (spec.type) {
    case 'int':
      return kind === AT.INT ? toNum(a.i) : bad();
    case 'float':
      // integral floats written as INT by hand-made models mean the same number
      return kind === AT.FLOAT ? (a.f ?? 0) : kind === AT.INT ? toNum(a.i) : bad();
    case 'ints':
      return kind === AT.INTS ? (a.ints ?? []).map((x) => toNum(x)) : bad();
    case 'floats':
      return kind === AT.FLOATS ? [...(a.floats ?? [])] : kind === AT.INTS ? (a.ints ?? []).map((x) => toNum(x)) : bad();
    case 'string': {
      if (kind !== AT.STRING) return bad();
      const s = utf8.decode(a.s ?? new Uint8Array());
      if (spec.oneOf && !spec.oneOf.includes(s)) {
        ctx.bag.error('LUT1103', `attribute '${name}' is '${s}', expected one of ${spec.oneOf.map((x) => `'${x}'`).join(', ')}`, ctx.loc);
        return undefined;
      }
      return s;
    }
    case 'strings':
      return kind === AT.STRINGS ? (a.strings ?? []).map((s) => utf8.decode(s)) : bad();
    case 'tensor':
      return kind === AT.TENSOR && a.t ? ctx.tensor(a.t) : bad();
    case 'graph':
      return kind === AT.GRAPH && a.g ? ctx.graph(a.g) : bad();
  }
}

/**
 * The tensor a Constant node holds. `value_float(s)` / `value_int(s)` become f32 / i64 tensors
 * (scalar or 1-D); string and sparse constants are not supported (LUT1002). Returns undefined after
 * reporting to the bag.
 */
export function constantNodeValue(raw: Map<string, IAttributeProto>, ctx: AttrContext): Tensor | undefined {
  const set = [...raw.keys()];
  if (set.length !== 1) {
    ctx.bag.error('LUT1103', `Constant needs exactly one value attribute, got ${set.length ? set.join(', ') : 'none'}`, ctx.loc);
    return undefined;
  }
  const [name, a] = [...raw][0]!;
  switch (name) {
    case 'value':
      return a.t ? ctx.tensor(a.t) : (ctx.bag.error('LUT1103', `Constant 'value' is not a tensor`, ctx.loc), undefined);
    case 'value_float':
      return makeTensor('f32', [], [a.f ?? 0]);
    case 'value_floats':
      return makeTensor('f32', [a.floats?.length ?? 0], a.floats ?? []);
    case 'value_int':
      return makeTensor('i64', [], [toNum(a.i)]);
    case 'value_ints':
      return makeTensor(
        'i64',
        [a.ints?.length ?? 0],
        (a.ints ?? []).map((x) => toNum(x)),
      );
    case 'value_string':
    case 'value_strings':
    case 'sparse_value':
      ctx.bag.error('LUT1002', `Constant '${name}' is not supported (lutc has no string or sparse tensors)`, ctx.loc);
      return undefined;
    default:
      ctx.bag.error('LUT1103', `attribute '${name}' is not supported on Constant`, ctx.loc);
      return undefined;
  }
}
