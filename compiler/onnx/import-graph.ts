/**
 * GraphProto -> IR Graph. Resolves value names through nested scopes (If branches see outer values),
 * maps each node to the op table generically (`findOpByOnnx`), converts attributes by their declared
 * types, applies opset upgrades, and turns Constant nodes and initializers into constants (their
 * decoded bytes charged to the import's memory budget, `ImportState.budget`, LUT1008). Problems
 * that do not stop the walk (unsupported ops, bad attributes, undefined names) are collected so that a
 * user sees all of them at once.
 */
import { type DiagnosticBag, fail, type Location } from '../../base/diagnostics.js';
import { newGraph } from '../../ir/graph.js';
import { findOpByOnnx } from '../../ir/optable.js';
import type { Dim, Graph, Node, Tensor, TensorType, Value } from '../../ir/types.js';
import { type AttrContext, constantNodeValue, convertAttrs } from './attrs.js';
import { type IAttributeProto, type IGraphProto, type ITensorProto, type IValueInfoProto, toNum } from './proto.js';
import { dtypeFromOnnx, onnxTypeName, type TensorBudget, tensorFromProto } from './tensor.js';
import { opsetProblem, type RawNode, upgradeNode } from './upgrade.js';

/** State shared by the whole model's import. */
export interface ImportState {
  file?: string;
  baseDir?: string;
  opsets: Map<string, number>;
  bag: DiagnosticBag;
  /** Symbol -> size, from the user and from `inputShapes`. */
  bindings: Record<string, number>;
  inputShapes: Record<string, number[]>;
  /** Value names defined so far (a repeat outside the scope chain is a sibling branch's: renamed). */
  names: Set<string>;
  /** Every value name written anywhere in the model, so fresh names never collide with later ones. */
  reserved: Set<string>;
  fresh: number;
  /** Memory budget of the tensors this import decodes (initializers, tensor attributes). */
  budget: TensorBudget;
}

/** Name -> value, with the enclosing graph's scope as parent. */
class Scope {
  readonly map = new Map<string, Value>();
  constructor(readonly parent?: Scope) {}
  lookup(name: string): Value | undefined {
    return this.map.get(name) ?? this.parent?.lookup(name);
  }
}

const PLACEHOLDER: TensorType = { dtype: 'f32', shape: [] };

function fileLoc(st: ImportState): Location | undefined {
  return st.file ? { kind: 'file', file: st.file } : undefined;
}

/** A value name not used anywhere in the model. */
export function freshName(st: ImportState, base: string): string {
  let name = base;
  while (st.names.has(name) || st.reserved.has(name)) name = `${base}__${st.fresh++}`;
  st.names.add(name);
  return name;
}

/** Imports a (sub)graph. `parent` is the enclosing graph's scope for If branches. */
export function importGraph(gp: IGraphProto, st: ImportState, parent?: Scope): Graph {
  const g = newGraph(gp.name || (parent ? 'branch' : 'main'));
  const scope = new Scope(parent);
  const define = (name: string, v: Value, loc: Location | undefined): void => {
    if (scope.lookup(name)) {
      st.bag.error('LUT1100', `value '${name}' is defined more than once`, loc);
      return;
    }
    // a name reused by a sibling branch is legal ONNX; IR names must be unique, so rename this one
    if (st.names.has(name)) v.name = freshName(st, name);
    st.names.add(v.name);
    scope.map.set(name, v);
  };

  const inits = new Set<string>();
  for (const t of gp.initializer ?? []) {
    const name = t.name ?? '';
    if (!name) fail('LUT1007', 'an initializer has no name', fileLoc(st));
    const tensor = tensorFromProto(t, { file: st.file, baseDir: st.baseDir, loc: fileLoc(st), budget: st.budget });
    addConstant(g, define, name, tensor, fileLoc(st));
    inits.add(name);
  }
  if ((gp.sparseInitializer ?? []).length) st.bag.error('LUT1002', 'sparse initializers are not supported', fileLoc(st));

  for (const vi of gp.input ?? []) {
    const name = vi.name ?? '';
    if (inits.has(name)) continue; // IR < 4 lists initializers as inputs too; the initializer wins
    if (!name) fail('LUT1007', 'a graph input has no name', fileLoc(st));
    const v: Value = { name, type: inputType(vi, st, !parent), producer: null };
    define(name, v, fileLoc(st));
    g.inputs.push(v);
  }
  if (!parent) {
    for (const name of Object.keys(st.inputShapes)) {
      if (!g.inputs.some((v) => v.name === name))
        st.bag.error('LUT1108', `--shape names '${name}', which is not a graph input`, fileLoc(st));
    }
  }

  // Expand nodes: Constant nodes become constants, older-opset forms become canonical ones.
  const raw: RawNode[] = [];
  (gp.node ?? []).forEach((np, i) => {
    const opType = np.opType ?? '';
    const domain = np.domain === 'ai.onnx' ? '' : (np.domain ?? '');
    const name = np.name || `${opType}_${i}`;
    const loc: Location = { kind: 'node', file: st.file, node: name, opType };
    const attrs = new Map<string, IAttributeProto>();
    for (const a of np.attribute ?? []) attrs.set(a.name ?? '', a);
    const node: RawNode = { opType, domain, name, inputs: [...(np.input ?? [])], outputs: [...(np.output ?? [])], attrs, loc };
    const problem = opsetProblem(domain, st.opsets.get(domain), opType);
    if (problem && findOpByOnnx(domain, opType)) {
      st.bag.error('LUT1102', `${opType}: ${problem}`, loc);
      raw.push({ ...node, rejected: true }); // keep its results defined so nothing downstream cascades
      return;
    }
    if (opType === 'Constant' && domain === '') {
      const t = constantNodeValue(attrs, attrCtx(st, loc, opType, scope));
      const out = node.outputs[0];
      if (t && out) addConstant(g, define, out, t, loc);
      return;
    }
    raw.push(
      ...upgradeNode(node, {
        version: st.opsets.get(domain) ?? 0,
        constant: (base, t) => {
          const n = freshName(st, base);
          addConstant(g, define, n, t, loc);
          return n;
        },
        fresh: (base) => freshName(st, base),
      }),
    );
  });

  // Pass 1: every node's results exist before any input is resolved, so node order does not matter here.
  const nodes: { r: RawNode; node: Node }[] = [];
  for (const r of raw) {
    const node: Node = { op: '', name: r.name, inputs: [], outputs: [], attrs: {}, loc: r.loc };
    r.outputs.forEach((out, i) => {
      // an empty name is an omitted optional result; trailing ones are dropped
      if (!out && r.outputs.slice(i).every((o) => !o)) return;
      const v: Value = { name: out || freshName(st, `${r.name}_unused${i}`), type: PLACEHOLDER, producer: node };
      if (out) define(out, v, r.loc);
      node.outputs.push(v);
    });
    nodes.push({ r, node });
    g.nodes.push(node);
  }

  // Pass 2: map ops, resolve inputs, convert attributes (subgraphs import here, seeing every outer name).
  for (const { r, node } of nodes) {
    if (r.rejected) {
      node.op = `${r.domain || 'ai.onnx'}.${r.opType}`;
      continue;
    }
    const def = findOpByOnnx(r.domain, r.opType);
    const inputs = r.inputs.map((name) => {
      if (!name) return null;
      const v = scope.lookup(name);
      if (!v) st.bag.error('LUT1104', `input '${name}' is not produced by any node, initializer or graph input`, r.loc);
      return v ?? null;
    });
    if (!def) {
      const version = st.opsets.get(r.domain);
      st.bag.error('LUT1101', `unsupported operator ${r.domain || 'ai.onnx'}.${r.opType} (opset ${version ?? 'not imported'})`, r.loc);
      node.op = `${r.domain || 'ai.onnx'}.${r.opType}`;
      continue;
    }
    node.op = def.name;
    const variadic = def.inputs.some((o) => o.variadic);
    if (!variadic && inputs.length > def.inputs.length) {
      st.bag.error('LUT1109', `${r.opType} takes at most ${def.inputs.length} inputs, got ${inputs.length}`, r.loc);
    }
    def.inputs.forEach((spec, i) => {
      if (!spec.optional && !spec.variadic && !r.inputs[i]) st.bag.error('LUT1109', `${r.opType} needs input ${i} ('${spec.name}')`, r.loc);
      // a required variadic operand takes one or more inputs, none of them omitted
      if (spec.variadic && !spec.optional && (r.inputs.length <= i || r.inputs.slice(i).some((name) => !name)))
        st.bag.error('LUT1109', `${r.opType} needs one or more inputs '${spec.name}' from input ${i} on, none of them empty`, r.loc);
    });
    while (!variadic && inputs.length < def.inputs.length) inputs.push(null);
    if (!def.outputs.some((o) => o.variadic) && node.outputs.length > def.outputs.length) {
      st.bag.error('LUT1109', `${r.opType} has at most ${def.outputs.length} outputs, got ${node.outputs.length}`, r.loc);
    }
    node.inputs = inputs;
    node.attrs = convertAttrs(def, r.attrs, attrCtx(st, r.loc, r.opType, scope));
  }

  for (const vi of gp.output ?? []) {
    const name = vi.name ?? '';
    const v = scope.lookup(name);
    if (!v) st.bag.error('LUT1106', `graph output '${name}' is never produced`, fileLoc(st));
    else g.outputs.push(v);
  }
  return g;
}

function addConstant(
  g: Graph,
  define: (n: string, v: Value, l: Location | undefined) => void,
  name: string,
  t: Tensor,
  loc: Location | undefined,
): void {
  const v: Value = { name, type: { dtype: t.dtype, shape: [...t.shape] }, producer: null, const: t };
  define(name, v, loc);
  g.constants.push(v);
}

function attrCtx(st: ImportState, loc: Location, opType: string, scope: Scope): AttrContext {
  return {
    bag: st.bag,
    loc,
    opType,
    tensor: (t: ITensorProto) => tensorFromProto(t, { file: st.file, baseDir: st.baseDir, loc, budget: st.budget }),
    graph: (sub: IGraphProto) => importGraph(sub, st, scope),
  };
}

/** Type of a graph input, with symbols bound by `dimBindings` and `inputShapes`. */
function inputType(vi: IValueInfoProto, st: ImportState, isMain: boolean): TensorType {
  const name = vi.name ?? '';
  const loc = fileLoc(st);
  const tt = vi.type?.tensorType;
  if (!tt) fail('LUT1107', `input '${name}' is not a tensor (sequences, maps and optionals are not supported)`, loc);
  const dtype = dtypeFromOnnx(tt.elemType ?? 0);
  if (!dtype) fail('LUT1002', `input '${name}' has element type ${onnxTypeName(tt.elemType ?? 0)}, which lutc does not support`, loc);
  const given = isMain ? st.inputShapes[name] : undefined;
  if (!tt.shape) {
    if (given) return { dtype, shape: [...given] };
    fail('LUT1107', `input '${name}' has no shape in the model; give one with --shape ${name}=D0,D1,...`, loc);
  }
  const dims = (tt.shape.dim ?? []).map((d, i): Dim => {
    if (Object.hasOwn(d, 'dimValue')) {
      const n = toNum(d.dimValue);
      if (!Number.isSafeInteger(n) || n < 0) fail('LUT1003', `input '${name}' has invalid dim ${n}`, loc);
      return n;
    }
    if (d.dimParam) return d.dimParam;
    return freshName(st, `${name}_dim${i}`);
  });
  if (given) {
    if (given.length !== dims.length)
      fail('LUT1108', `--shape gives '${name}' rank ${given.length}, the model says rank ${dims.length}`, loc);
    dims.forEach((d, i) => {
      const want = given[i]!;
      if (!Number.isSafeInteger(want) || want < 0) fail('LUT1108', `--shape for '${name}' has invalid dim ${want}`, loc);
      if (typeof d === 'number') {
        if (d !== want) fail('LUT1108', `--shape gives '${name}' dim ${i} = ${want}, the model fixes it at ${d}`, loc);
      } else {
        const bound = st.bindings[d];
        if (bound !== undefined && bound !== want)
          fail('LUT1108', `dim '${d}' of '${name}' is ${want} here but bound to ${bound} elsewhere`, loc);
        st.bindings[d] = want;
      }
    });
  }
  return { dtype, shape: dims };
}

/** Applies symbol bindings to every graph input (after all inputs bound their symbols). */
export function bindInputDims(g: Graph, bindings: Record<string, number>): void {
  for (const v of g.inputs)
    v.type = {
      dtype: v.type.dtype,
      shape: v.type.shape.map((d) => (typeof d === 'string' && bindings[d] !== undefined ? bindings[d]! : d)),
    };
}
