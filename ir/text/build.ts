/**
 * Turns the syntax tree of IR text into a Graph: resolves value names through nested scopes (a branch
 * graph sees the values its enclosing graphs defined before it), checks ops, arities, attribute names
 * and kinds against the op table, decodes tensor literals, and records text locations (Node.loc, and a
 * side table for values and `return`s that the verifier reads). Errors are collected, not thrown one by
 * one, so a file with several mistakes reports them all.
 */
import { type DiagCode, DiagnosticBag, type Location } from '../../base/diagnostics.js';
import { type AttrSpec, findOp, type OpDef } from '../optable.js';
import { intRange, isFloat, numel } from '../tensor.js';
import type { Attrs, AttrValue, Dim, DType, Graph, Node, Tensor, TensorType, Value } from '../types.js';
import { arity } from './arity.js';
import type { AstAttr, AstAttrValue, AstGraph, AstNode, AstNum, AstTensor, AstType, Named, Pos } from './grammar.js';
import { decodeBase64, elementValue, parseFloatText, tensorFromBytes } from './literals.js';

/** Diagnostic codes of the lexer, parser and builder (LUT2000-2099). */
export const ParseCode = {
  lex: 'LUT2001',
  syntax: 'LUT2002',
  unknownOp: 'LUT2003',
  unknownAttr: 'LUT2004',
  attrKind: 'LUT2005',
  undefinedValue: 'LUT2006',
  duplicateValue: 'LUT2007',
  operandCount: 'LUT2008',
  resultCount: 'LUT2009',
  unknownDtype: 'LUT2010',
  tensorSize: 'LUT2011',
  elided: 'LUT2012',
  badNumber: 'LUT2013',
  duplicateAttr: 'LUT2014',
  badString: 'LUT2015',
  meta: 'LUT2016',
  typeCount: 'LUT2017',
  constResults: 'LUT2018',
} as const satisfies Record<string, DiagCode>;

export const DTYPES: ReadonlySet<string> = new Set<DType>([
  'f32',
  'f16',
  'bf16',
  'f64',
  'i4',
  'u4',
  'i8',
  'u8',
  'i16',
  'u16',
  'i32',
  'u32',
  'i64',
  'u64',
  'bool',
]);

const locs = new WeakMap<object, Location>();
/** Where a value was defined or a graph's `return` stood, when the graph came from text. */
export function textLocOf(x: Value | Graph): Location | undefined {
  return locs.get(x);
}

class Scope {
  readonly map = new Map<string, Value>();
  constructor(readonly parent?: Scope) {}
  lookup(name: string): Value | undefined {
    return this.map.get(name) ?? this.parent?.lookup(name);
  }
}

/** Builds the graph of a parsed file; throws LutcError with every problem found. */
export function buildGraph(ast: AstGraph, file: string): Graph {
  const b = new Builder(file);
  const g = b.graph(ast, undefined, true);
  b.bag.throwIfErrors();
  return g;
}

/** Builds a type outside a graph (for `parseType`). */
export function buildType(ast: AstType, file: string): TensorType {
  const b = new Builder(file);
  const t = b.type(ast);
  b.bag.throwIfErrors();
  return t;
}

class Builder {
  readonly bag = new DiagnosticBag();
  /** Every value name in the file with where it was defined: names are unique across nested graphs. */
  private readonly defined = new Map<string, Pos>();
  private readonly nodeNames = new Set<string>();
  private nameCounter = 0;
  constructor(private readonly file: string) {}

  private loc(p: Pos): Location {
    return { kind: 'text', file: this.file, line: p.line, col: p.col };
  }
  private err(code: DiagCode, msg: string, p: Pos): void {
    this.bag.error(code, msg, this.loc(p));
  }

  graph(ast: AstGraph, parent: Scope | undefined, top: boolean): Graph {
    const scope = new Scope(parent);
    const g: Graph = { name: ast.name, inputs: [], outputs: [], constants: [], nodes: [] };
    if (top) g.meta = this.meta(ast);
    else if (ast.meta.length) this.err(ParseCode.meta, 'only the top-level graph may have meta', ast.meta[0]![2]);
    for (const p of ast.params) g.inputs.push(this.define(scope, p, this.type(p.type), null));
    for (const s of ast.stmts) {
      if (s.kind === 'const') {
        if (s.results.length !== 1) this.err(ParseCode.constResults, `a const defines exactly one value, not ${s.results.length}`, s);
        const t = this.tensor(s.tensor);
        const v = this.define(scope, s.results[0]!, { dtype: t.dtype, shape: [...t.shape] }, null);
        v.const = t;
        g.constants.push(v);
      } else g.nodes.push(this.node(s, scope));
    }
    g.outputs = ast.returns.map((r) => this.use(scope, r));
    locs.set(g, this.loc(ast.returnPos));
    return g;
  }

  private meta(ast: AstGraph): Graph['meta'] {
    const meta: NonNullable<Graph['meta']> = { file: this.file };
    for (const [k, v, p] of ast.meta) {
      if (k === 'producer' && v.kind === 'string') meta.producer = v.value;
      else if ((k === 'opsets' || k === 'dim_bindings') && v.kind === 'dict')
        meta[k === 'opsets' ? 'opsets' : 'dimBindings'] = Object.fromEntries(v.entries);
      else this.err(ParseCode.meta, `unknown meta entry '${k}' (expected producer = "...", opsets = {...}, dim_bindings = {...})`, p);
    }
    return meta;
  }

  private define(scope: Scope, n: Named, type: TensorType, producer: Node | null): Value {
    const prev = this.defined.get(n.name);
    if (prev) this.err(ParseCode.duplicateValue, `value %${n.name} is already defined at ${prev.line}:${prev.col}`, n);
    else this.defined.set(n.name, { line: n.line, col: n.col });
    const v: Value = { name: n.name, type, producer };
    scope.map.set(n.name, v);
    locs.set(v, this.loc(n));
    return v;
  }

  private use(scope: Scope, n: Named): Value {
    const v = scope.lookup(n.name);
    if (v) return v;
    this.err(ParseCode.undefinedValue, `use of undefined value %${n.name}`, n);
    return { name: n.name, type: { dtype: 'f32', shape: [] }, producer: null };
  }

  type(ast: AstType): TensorType {
    if (!DTYPES.has(ast.dtype)) this.err(ParseCode.unknownDtype, `unknown dtype '${ast.dtype}'`, ast);
    const shape: Dim[] = ast.dims.map(({ dim, pos }) => {
      if (typeof dim === 'number' && !(Number.isSafeInteger(dim) && dim >= 0))
        this.err(ParseCode.badNumber, `dimension ${dim} is not a size`, pos);
      return dim;
    });
    return { dtype: (DTYPES.has(ast.dtype) ? ast.dtype : 'f32') as DType, shape };
  }

  tensor(ast: AstTensor): Tensor {
    const { dtype, shape } = this.type(ast.type);
    const dims: number[] = [];
    for (const d of shape) {
      if (typeof d === 'number') dims.push(d);
      else {
        this.err(ParseCode.badNumber, `a tensor literal needs a static shape, not symbol '${d}'`, ast);
        dims.push(0);
      }
    }
    const n = numel(dims);
    const empty: Tensor = { dtype, shape: dims, data: new Float32Array(0) };
    if (ast.body.kind === 'elided') {
      this.err(ParseCode.elided, 'an elided constant (dense_elided, from a dump printed with elideConstantsOver) cannot be read back', ast);
      return empty;
    }
    if (ast.body.kind === 'dense') {
      const bytes = decodeBase64(ast.body.b64);
      if (!bytes) {
        this.err(ParseCode.badString, 'dense<...> holds invalid base64', ast.body.pos);
        return empty;
      }
      const t = tensorFromBytes(dtype, dims, bytes, n);
      if (!t)
        this.err(
          ParseCode.tensorSize,
          `dense<...> holds ${bytes.length} bytes, ${dtype}[${dims.join(', ')}] needs ${n} elements`,
          ast.body.pos,
        );
      return t ?? empty;
    }
    const items = ast.body.items;
    if (items.length !== n) {
      this.err(ParseCode.tensorSize, `tensor literal has ${items.length} elements, ${dtype}[${dims.join(', ')}] needs ${n}`, ast);
      return empty;
    }
    const t: Tensor = { dtype, shape: dims, data: new Float64Array(0) };
    const vals = items.map((it) => this.element(dtype, it));
    t.data = tensorFromValues(dtype, vals);
    return t;
  }

  private element(dtype: DType, it: AstNum): number {
    if (isFloat(dtype)) return elementValue(dtype, it.text, it.kind === 'int');
    const range = intRange(dtype);
    const v = Number(it.text);
    if (it.kind !== 'int' || v < range[0] || v > range[1]) {
      this.err(ParseCode.badNumber, `${it.text} is not a ${dtype} value`, it);
      return 0;
    }
    return v;
  }

  private node(ast: AstNode, scope: Scope): Node {
    const def = findOp(ast.op);
    if (!def) this.err(ParseCode.unknownOp, `unknown op '${ast.op}'`, ast.opPos);
    const node: Node = { op: ast.op, name: '', inputs: [], outputs: [], attrs: {}, loc: this.loc(ast) };
    node.inputs = ast.operands.map((o) => (o ? this.use(scope, o) : null));
    if (def) this.checkArity(def, ast);
    node.attrs = this.attrs(ast.attrs, def, scope);
    if (ast.types.length !== ast.results.length) {
      this.err(ParseCode.typeCount, `${ast.results.length} result(s) but ${ast.types.length} type(s) after ':'`, ast.types[0] ?? ast.opPos);
    }
    const types = ast.types.map((t) => this.type(t));
    node.outputs = ast.results.map((r, i) => this.define(scope, r, types[i] ?? { dtype: 'f32', shape: [] }, node));
    node.name = ast.nodeName ?? this.freshNodeName(ast.op);
    this.nodeNames.add(node.name);
    return node;
  }

  private checkArity(def: OpDef, ast: AstNode): void {
    const a = arity(def);
    const n = ast.operands.length;
    if (n < a.inMin || n > a.inMax)
      this.err(ParseCode.operandCount, `'${def.name}' takes ${rangeText(a.inMin, a.inMax)} operand(s), not ${n}`, ast.opPos);
    else {
      ast.operands.forEach((o, i) => {
        const spec = def.inputs[Math.min(i, def.inputs.length - 1)]!;
        if (!o && !spec.optional)
          this.err(ParseCode.operandCount, `operand ${i} ('${spec.name}') of '${def.name}' is required and cannot be '_'`, ast.opPos);
      });
    }
    const r = ast.results.length;
    if (r < a.outMin || r > a.outMax)
      this.err(ParseCode.resultCount, `'${def.name}' has ${rangeText(a.outMin, a.outMax)} result(s), not ${r}`, ast);
  }

  private freshNodeName(op: string): string {
    let name: string;
    do name = `${op}_${this.nameCounter++}`;
    while (this.nodeNames.has(name));
    return name;
  }

  private attrs(list: AstAttr[], def: OpDef | undefined, scope: Scope): Attrs {
    const out: Attrs = {};
    for (const a of list) {
      if (a.key in out) {
        this.err(ParseCode.duplicateAttr, `attribute '${a.key}' is given twice`, a);
        continue;
      }
      const spec = def?.attrs[a.key];
      if (def && !spec) {
        const known = Object.keys(def.attrs);
        this.err(
          ParseCode.unknownAttr,
          `'${def.name}' has no attribute '${a.key}'${known.length ? ` (it has: ${known.join(', ')})` : ''}`,
          a,
        );
        continue;
      }
      const v = this.attrValue(a, spec, scope);
      if (v !== undefined) out[a.key] = v;
    }
    return out;
  }

  /** Converts an attribute by its declared kind; without a spec (unknown op) the literal's own kind is taken. */
  private attrValue(a: AstAttr, spec: AttrSpec | undefined, scope: Scope): AttrValue | undefined {
    const v = a.value;
    const kind = spec?.type ?? literalKind(v);
    const bad = (): undefined => {
      this.err(ParseCode.attrKind, `attribute '${a.key}' must be ${KIND_TEXT[kind]}, not ${describe(v)}`, a);
      return undefined;
    };
    switch (kind) {
      case 'int':
        return v.kind === 'num' && v.num.kind === 'int' ? Number(v.num.text) : bad();
      case 'float':
        return v.kind === 'num' ? parseFloatText(v.num.text, false) : bad();
      case 'string':
        return v.kind === 'string' ? v.value : bad();
      case 'ints':
        return v.kind === 'list' && v.items.every((x) => x.kind === 'num' && x.num.kind === 'int')
          ? v.items.map((x) => Number((x as { num: AstNum }).num.text))
          : bad();
      case 'floats':
        return v.kind === 'list' && v.items.every((x) => x.kind === 'num')
          ? v.items.map((x) => parseFloatText((x as { num: AstNum }).num.text, false))
          : bad();
      case 'strings':
        return v.kind === 'list' && v.items.every((x) => x.kind === 'string') ? v.items.map((x) => (x as { value: string }).value) : bad();
      case 'tensor':
        return v.kind === 'tensor' ? this.tensor(v.tensor) : bad();
      case 'graph':
        return v.kind === 'graph' ? this.graph(v.graph, scope, false) : bad();
    }
  }
}

const KIND_TEXT: Record<AttrSpec['type'], string> = {
  int: 'an integer',
  float: 'a float',
  string: 'a string',
  ints: 'a list of integers',
  floats: 'a list of floats',
  strings: 'a list of strings',
  tensor: 'a tensor literal',
  graph: 'a graph',
};

function literalKind(v: AstAttrValue): AttrSpec['type'] {
  switch (v.kind) {
    case 'num':
      return v.num.kind === 'int' ? 'int' : 'float';
    case 'string':
      return 'string';
    case 'tensor':
      return 'tensor';
    case 'graph':
      return 'graph';
    case 'list':
      if (v.items.some((x) => x.kind === 'string')) return 'strings';
      return v.items.some((x) => x.kind === 'num' && x.num.kind !== 'int') ? 'floats' : 'ints';
  }
}

function describe(v: AstAttrValue): string {
  switch (v.kind) {
    case 'num':
      return v.num.kind === 'int' ? `integer ${v.num.text}` : `float ${v.num.text}`;
    case 'string':
      return 'a string';
    case 'list':
      return `a list of ${literalKind(v)}`;
    case 'tensor':
      return 'a tensor literal';
    case 'graph':
      return 'a graph';
  }
}

function rangeText(min: number, max: number): string {
  return max === Infinity ? `at least ${min}` : min === max ? String(min) : `${min} to ${max}`;
}

function tensorFromValues(dtype: DType, vals: number[]): Tensor['data'] {
  switch (dtype) {
    case 'f32':
    case 'f16':
    case 'bf16':
      return Float32Array.from(vals);
    case 'f64':
    case 'i64':
    case 'u64':
      return Float64Array.from(vals);
    case 'i4':
    case 'i8':
      return Int8Array.from(vals);
    case 'u4':
    case 'u8':
    case 'bool':
      return Uint8Array.from(vals);
    case 'i16':
      return Int16Array.from(vals);
    case 'u16':
      return Uint16Array.from(vals);
    case 'i32':
      return Int32Array.from(vals);
    case 'u32':
      return Uint32Array.from(vals);
  }
}
