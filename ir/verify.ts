/**
 * IR verifier: checks a Graph against the op table and SSA rules, collecting every problem before it
 * throws (one LutcError, codes LUT2101-2199). Run after import, after parsing and after every pass.
 * Checks: known ops, operand/result counts, attributes (required, declared, kind, oneOf), SSA (each
 * value defined once, uses after definitions, producer links, graph outputs defined), nested graphs
 * with the enclosing scope visible, result types equal to the op's shape rule, and the op's own verify.
 */
import { type DiagCode, DiagnosticBag, diag, type Location, LutcError, nodeLoc } from '../base/diagnostics.js';
import { isGraph, subgraphs } from './graph.js';
import { type AttrSpec, findOp, hasTrait, type InferCtx, type InterpCtx, type OpDef, resolveAttrs } from './optable.js';
import { printType } from './printer.js';
import { isLazy, numel } from './tensor.js';
import { arity } from './text/arity.js';
import { DTYPES, textLocOf } from './text/build.js';
import type { AttrValue, Dim, Graph, Node, Tensor, TensorType, Value } from './types.js';

/** Diagnostic codes of the verifier. LUT2101 (unknown op) is shared with `opOf` in ir/optable.ts. */
export const VerifyCode = {
  unknownOp: 'LUT2101',
  operandCount: 'LUT2102',
  missingOperand: 'LUT2103',
  resultCount: 'LUT2104',
  missingAttr: 'LUT2105',
  unknownAttr: 'LUT2106',
  attrKind: 'LUT2107',
  attrOneOf: 'LUT2108',
  definedTwice: 'LUT2109',
  undefinedValue: 'LUT2110',
  badProducer: 'LUT2111',
  undefinedOutput: 'LUT2112',
  typeMismatch: 'LUT2113',
  shapeRuleFailed: 'LUT2114',
  badConstant: 'LUT2115',
  duplicateName: 'LUT2116',
  inferCount: 'LUT2117',
  badType: 'LUT2118',
  useBeforeDef: 'LUT2119',
} as const satisfies Record<string, DiagCode>;

export interface VerifyOptions {
  /** File named in node locations (defaults to `g.meta.file`). */
  file?: string;
}

/** Throws one LutcError carrying every problem found in `g` and its nested graphs. */
export function verifyGraph(g: Graph, opts: VerifyOptions = {}): void {
  const v = new Verifier(opts.file ?? g.meta?.file);
  v.graph(g, undefined);
  v.bag.throwIfErrors();
}

/** Values visible at a point: this graph's definitions so far, then the enclosing graphs'. */
class Scope {
  readonly defs = new Set<Value>();
  constructor(readonly parent?: Scope) {}
  has(v: Value): boolean {
    return this.defs.has(v) || (this.parent?.has(v) ?? false);
  }
}

/** Largest constant (in elements) the verifier evaluates to follow shape computations. */
const FOLD_LIMIT = 4096;

class Verifier {
  readonly bag = new DiagnosticBag();
  private readonly defined = new Set<Value>();
  private readonly byName = new Map<string, Value>();
  /** Values known from constant folding (Shape of a static tensor, shape arithmetic on constants). */
  private readonly folded = new Map<Value, Tensor>();
  private readonly fresh = new Set<string>();
  private freshCounter = 0;
  constructor(private readonly file: string | undefined) {}

  private graphLoc(g: Graph): Location | undefined {
    return textLocOf(g) ?? (this.file ? { kind: 'file', file: this.file } : undefined);
  }

  graph(g: Graph, parent: Scope | undefined): void {
    const scope = new Scope(parent);
    const later = new Set<Value>(g.nodes.flatMap((n) => n.outputs));
    for (const v of g.inputs) {
      const loc = textLocOf(v) ?? this.graphLoc(g);
      if (v.producer) this.bag.error(VerifyCode.badProducer, `graph input %${v.name} has a producer ('${v.producer.name}')`, loc);
      this.define(v, scope, loc);
    }
    for (const v of g.constants) {
      const loc = textLocOf(v) ?? this.graphLoc(g);
      if (v.producer) this.bag.error(VerifyCode.badProducer, `constant %${v.name} has a producer ('${v.producer.name}')`, loc);
      if (!v.const) this.bag.error(VerifyCode.badConstant, `constant %${v.name} has no value`, loc);
      else if (
        v.const.dtype !== v.type.dtype ||
        !sameDims(v.const.shape, v.type.shape) ||
        // a lazy constant (ir/tensor.ts) checks its length when loaded: reading it here would load it
        (!isLazy(v.const) && v.const.data.length !== v.const.shape.reduce((a, b) => a * b, 1))
      ) {
        this.bag.error(
          VerifyCode.badConstant,
          `constant %${v.name} is typed ${printType(v.type)} but holds ${printType(v.const)} with ${v.const.data.length} elements`,
          loc,
        );
      }
      this.define(v, scope, loc);
    }
    for (const n of g.nodes) this.node(n, scope, later);
    g.outputs.forEach((v, i) => {
      if (!scope.has(v))
        this.bag.error(
          VerifyCode.undefinedOutput,
          `graph @${g.name} output ${i} (%${v.name}) is not defined in the graph or an enclosing one`,
          this.graphLoc(g),
        );
    });
  }

  private define(v: Value, scope: Scope, loc: Location | undefined): void {
    this.checkType(v, loc);
    if (this.defined.has(v)) this.bag.error(VerifyCode.definedTwice, `value %${v.name} is defined more than once`, loc);
    const other = this.byName.get(v.name);
    if (other && other !== v) this.bag.error(VerifyCode.duplicateName, `two different values are named %${v.name}`, loc);
    this.defined.add(v);
    this.byName.set(v.name, v);
    scope.defs.add(v);
  }

  private checkType(v: Value, loc: Location | undefined): void {
    const t = v.type;
    const bad =
      !DTYPES.has(t.dtype) ||
      !Array.isArray(t.shape) ||
      t.shape.some((d) => (typeof d === 'number' ? !(Number.isSafeInteger(d) && d >= 0) : typeof d !== 'string' || d === ''));
    if (bad) this.bag.error(VerifyCode.badType, `value %${v.name} has an invalid type ${JSON.stringify(t)}`, loc);
  }

  private node(n: Node, scope: Scope, later: Set<Value>): void {
    const loc = nodeLoc(n, this.file);
    const before = this.bag.items.length;
    n.inputs.forEach((v, i) => {
      if (!v || scope.has(v)) return;
      if (later.has(v))
        this.bag.error(
          VerifyCode.useBeforeDef,
          `operand ${i} (%${v.name}) is used before the node that defines it (nodes must be in topological order)`,
          loc,
        );
      else this.bag.error(VerifyCode.undefinedValue, `operand ${i} (%${v.name}) is not defined in this graph or an enclosing one`, loc);
    });
    const def = findOp(n.op);
    if (!def) this.bag.error(VerifyCode.unknownOp, `unknown op '${n.op}'`, loc);
    else {
      this.arity(n, def, loc);
      this.attrs(n, def, loc);
    }
    for (const sub of subgraphs(n)) this.graph(sub, scope);
    n.outputs.forEach((v, i) => {
      if (v.producer !== n)
        this.bag.error(
          VerifyCode.badProducer,
          `result ${i} (%${v.name}) names ${v.producer ? `'${v.producer.name}'` : 'no node'} as its producer`,
          loc,
        );
      this.define(v, scope, loc);
    });
    // The shape rule only makes sense on a structurally sound node.
    if (def && this.bag.items.length === before) this.types(n, def, loc);
  }

  private arity(n: Node, def: OpDef, loc: Location): void {
    const a = arity(def);
    const k = n.inputs.length;
    if (k < a.inMin || k > a.inMax)
      this.bag.error(VerifyCode.operandCount, `'${n.op}' takes ${rangeText(a.inMin, a.inMax)} operand(s), the node has ${k}`, loc);
    n.inputs.forEach((v, i) => {
      const spec = def.inputs[Math.min(i, def.inputs.length - 1)];
      if (!v && spec && !spec.optional)
        this.bag.error(VerifyCode.missingOperand, `operand ${i} ('${spec.name}') of '${n.op}' is required but omitted`, loc);
    });
    const r = n.outputs.length;
    if (r < a.outMin || r > a.outMax)
      this.bag.error(VerifyCode.resultCount, `'${n.op}' has ${rangeText(a.outMin, a.outMax)} result(s), the node has ${r}`, loc);
  }

  private attrs(n: Node, def: OpDef, loc: Location): void {
    for (const [k, v] of Object.entries(n.attrs)) {
      const spec = def.attrs[k];
      if (!spec) {
        this.bag.error(VerifyCode.unknownAttr, `'${n.op}' has no attribute '${k}'`, loc);
        continue;
      }
      if (!kindOk(spec.type, v))
        this.bag.error(VerifyCode.attrKind, `attribute '${k}' must be of kind ${spec.type}, not ${describe(v)}`, loc);
      else if (spec.oneOf && typeof v === 'string' && !spec.oneOf.includes(v)) {
        this.bag.error(
          VerifyCode.attrOneOf,
          `attribute '${k}' is "${v}", expected one of ${spec.oneOf.map((s) => `"${s}"`).join(', ')}`,
          loc,
        );
      }
    }
    for (const [k, spec] of Object.entries(def.attrs)) {
      if (spec.required && n.attrs[k] === undefined)
        this.bag.error(VerifyCode.missingAttr, `'${n.op}' requires attribute '${k}' (${spec.type})`, loc);
    }
  }

  private ctx(n: Node, def: OpDef, loc: Location): InferCtx {
    return {
      node: n,
      inputs: n.inputs.map((v) => (v ? v.type : null)),
      attrs: resolveAttrs(def, n),
      constInput: (i) => {
        const v = n.inputs[i];
        return v ? (v.const ?? this.folded.get(v)) : undefined;
      },
      freshDim: (hint) => {
        const s = `?${hint ?? 'fresh'}#${this.freshCounter++}`;
        this.fresh.add(s);
        return s;
      },
      error: (code, message) => {
        throw new LutcError(diag(code, message, loc));
      },
    };
  }

  /** Runs `f`, turning a thrown LutcError into collected diagnostics and any other error into LUT2114. */
  private guard<T>(what: string, n: Node, loc: Location, f: () => T): T | undefined {
    try {
      return f();
    } catch (e) {
      if (e instanceof LutcError) for (const d of e.diagnostics) this.bag.add(d);
      else this.bag.error(VerifyCode.shapeRuleFailed, `${what} of '${n.op}' failed: ${(e as Error).message}`, loc);
      return undefined;
    }
  }

  private types(n: Node, def: OpDef, loc: Location): void {
    const ctx = this.ctx(n, def, loc);
    const inferred = this.guard('the shape rule', n, loc, () => def.infer(ctx));
    if (!inferred) return;
    // Shape rules may type omitted trailing optional results too (layer_norm's Mean): only fewer is wrong.
    if (inferred.length < n.outputs.length) {
      this.bag.error(
        VerifyCode.inferCount,
        `the shape rule of '${n.op}' gives ${inferred.length} result(s), the node has ${n.outputs.length}`,
        loc,
      );
      return;
    }
    let ok = true;
    n.outputs.forEach((v, i) => {
      const want = inferred[i]!;
      if (!this.typeMatches(want, v.type)) {
        ok = false;
        this.bag.error(
          VerifyCode.typeMismatch,
          `result ${i} (%${v.name}) is typed ${printType(v.type)}, the shape rule of '${n.op}' gives ${printType(this.showFresh(want))}`,
          loc,
        );
      }
    });
    if (def.verify) this.guard('verify', n, loc, () => def.verify!(ctx));
    if (ok) this.fold(n, def, ctx);
  }

  private typeMatches(want: TensorType, got: TensorType): boolean {
    if (want.dtype !== got.dtype || want.shape.length !== got.shape.length) return false;
    return want.shape.every((d, i) => (typeof d === 'string' && this.fresh.has(d)) || d === got.shape[i]);
  }

  private showFresh(t: TensorType): TensorType {
    return { dtype: t.dtype, shape: t.shape.map((d) => (typeof d === 'string' && this.fresh.has(d) ? '?' : d)) };
  }

  /** Records constant results so later shape rules see them (Reshape fed by Shape -> Concat). */
  private fold(n: Node, def: OpDef, ctx: InferCtx): void {
    if (hasTrait(def, 'no-fold') || subgraphs(n).length) return;
    const fromTypes = def.foldFromTypes ? this.quiet(() => def.foldFromTypes!(ctx)) : undefined;
    let outs = fromTypes;
    if (!outs) {
      const ins = n.inputs.map((v, i) => (v ? ctx.constInput(i) : null));
      const known = ins.every((t) => t === null || (t !== undefined && numel(t.shape) <= FOLD_LIMIT));
      const smallOut = n.outputs.every(
        (v) => v.type.shape.every((d) => typeof d === 'number') && (v.type.shape as number[]).reduce((a, b) => a * b, 1) <= FOLD_LIMIT,
      );
      if (!known || !smallOut) return;
      const ictx: InterpCtx = { node: n, attrs: ctx.attrs, runGraph: () => [], error: (code, message) => ctx.error(code, message) };
      outs = this.quiet(() => def.interp(ins as (Tensor | null)[], ictx));
    }
    outs?.forEach((t, i) => {
      const v = n.outputs[i];
      if (v && t && t.data.length <= FOLD_LIMIT) this.folded.set(v, t);
    });
  }

  private quiet<T>(f: () => T): T | undefined {
    try {
      return f();
    } catch {
      return undefined; // folding is best effort; the shape rule already judged the node
    }
  }
}

function sameDims(a: readonly Dim[], b: readonly Dim[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function rangeText(min: number, max: number): string {
  return max === Infinity ? `at least ${min}` : min === max ? String(min) : `${min} to ${max}`;
}

function isTensor(v: AttrValue): v is Tensor {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && 'dtype' in v && 'data' in v;
}

function kindOk(type: AttrSpec['type'], v: AttrValue): boolean {
  switch (type) {
    case 'int':
      return typeof v === 'number' && Number.isInteger(v);
    case 'float':
      return typeof v === 'number';
    case 'string':
      return typeof v === 'string';
    case 'ints':
      return Array.isArray(v) && v.every((x) => typeof x === 'number' && Number.isInteger(x));
    case 'floats':
      return Array.isArray(v) && v.every((x) => typeof x === 'number');
    case 'strings':
      return Array.isArray(v) && v.every((x) => typeof x === 'string');
    case 'tensor':
      return isTensor(v);
    case 'graph':
      return isGraph(v);
  }
}

function describe(v: AttrValue): string {
  if (typeof v === 'number') return Number.isInteger(v) ? `int ${v}` : `float ${v}`;
  if (typeof v === 'string') return 'a string';
  if (Array.isArray(v))
    return v.some((x) => typeof x === 'string')
      ? 'a list of strings'
      : v.every((x) => Number.isInteger(x))
        ? 'a list of ints'
        : 'a list of floats';
  return isGraph(v) ? 'a graph' : 'a tensor';
}
