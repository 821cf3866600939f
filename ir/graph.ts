/**
 * Graph construction and traversal helpers shared by the importer, parser, passes and backends:
 * a builder that keeps names unique, use lists, topological ordering with cycle diagnostics, and
 * rewiring. Passes mutate graphs through these, so invariants (one producer per value, nodes in
 * topological order) are kept in one place.
 */
import { fail, nodeLoc } from '../base/diagnostics.js';
import type { Attrs, Graph, Node, Tensor, TensorType, Value } from './types.js';

export function newGraph(name: string): Graph {
  return { name, inputs: [], outputs: [], constants: [], nodes: [] };
}

/** Creates values and nodes in a graph with names unique across the graph and its nested graphs. */
export class GraphBuilder {
  private readonly used = new Set<string>();
  private counter = 0;
  constructor(readonly graph: Graph) {
    for (const n of allValueNames(graph)) this.used.add(n);
  }

  /** `base` if unused, else `base_1`, `base_2`, ... */
  uniqueName(base: string): string {
    let name = base || `v${this.counter++}`;
    while (this.used.has(name)) name = `${base || 'v'}_${++this.counter}`;
    this.used.add(name);
    return name;
  }

  input(name: string, type: TensorType): Value {
    const v: Value = { name: this.uniqueName(name), type, producer: null };
    this.graph.inputs.push(v);
    return v;
  }

  constant(name: string, t: Tensor): Value {
    const v: Value = { name: this.uniqueName(name), type: { dtype: t.dtype, shape: [...t.shape] }, producer: null, const: t };
    this.graph.constants.push(v);
    return v;
  }

  /** Appends a node; result values are created from `outTypes` and named `<nodeName>_out<i>` unless given. */
  node(
    op: string,
    inputs: (Value | null)[],
    attrs: Attrs,
    outTypes: TensorType[],
    opts: { name?: string; outNames?: string[] } = {},
  ): Node {
    const name = this.uniqueName(opts.name ?? op);
    const node: Node = { op, name, inputs, outputs: [], attrs };
    node.outputs = outTypes.map((t, i) => ({
      name: this.uniqueName(opts.outNames?.[i] ?? `${name}_out${i}`),
      type: t,
      producer: node,
    }));
    this.graph.nodes.push(node);
    return node;
  }
}

/** Every value name in a graph and its nested graphs (If branches). */
export function allValueNames(g: Graph): string[] {
  const out: string[] = [];
  for (const v of g.inputs) out.push(v.name);
  for (const v of g.constants) out.push(v.name);
  for (const n of g.nodes) {
    for (const v of n.outputs) out.push(v.name);
    for (const sub of subgraphs(n)) out.push(...allValueNames(sub));
  }
  return out;
}

/** Graphs held in a node's attributes (If's then/else branches). */
export function subgraphs(n: Node): Graph[] {
  const out: Graph[] = [];
  for (const v of Object.values(n.attrs)) if (isGraph(v)) out.push(v);
  return out;
}

export function isGraph(v: unknown): v is Graph {
  return typeof v === 'object' && v !== null && 'nodes' in v && 'inputs' in v && 'outputs' in v;
}

/** Map from value to the nodes using it (in this graph only; uses inside subgraphs count for their node). */
export function useLists(g: Graph): Map<Value, Node[]> {
  const uses = new Map<Value, Node[]>();
  const add = (v: Value, n: Node) => {
    const l = uses.get(v);
    if (l) {
      if (!l.includes(n)) l.push(n);
    } else uses.set(v, [n]);
  };
  for (const n of g.nodes) {
    for (const v of n.inputs) if (v) add(v, n);
    for (const sub of subgraphs(n)) for (const v of capturedValues(sub)) add(v, n);
  }
  return uses;
}

/** Values a (sub)graph uses that it neither defines nor receives as inputs: its outer-scope captures. */
export function capturedValues(g: Graph): Value[] {
  const defined = new Set<Value>([...g.inputs, ...g.constants]);
  const out = new Set<Value>();
  for (const n of g.nodes) {
    for (const v of n.inputs) if (v && !defined.has(v)) out.add(v);
    for (const sub of subgraphs(n)) for (const v of capturedValues(sub)) if (!defined.has(v)) out.add(v);
    for (const v of n.outputs) defined.add(v);
  }
  for (const v of g.outputs) if (!defined.has(v)) out.add(v);
  return [...out];
}

/**
 * Sorts `g.nodes` topologically (stable: keeps the given order where it is already valid).
 * A cycle is a diagnosed error (LUT1105) naming a node on it.
 */
export function topoSort(g: Graph, file?: string): void {
  const producerIndex = new Map<Value, Node>();
  for (const n of g.nodes) for (const v of n.outputs) producerIndex.set(v, n);
  const state = new Map<Node, 1 | 2>(); // 1 visiting, 2 done
  const order: Node[] = [];
  const deps = (n: Node): Node[] => {
    const out: Node[] = [];
    const vals = [...n.inputs, ...subgraphs(n).flatMap(capturedValues)];
    for (const v of vals) {
      const p = v && producerIndex.get(v);
      if (p) out.push(p);
    }
    return out;
  };
  for (const root of g.nodes) {
    if (state.get(root) === 2) continue;
    // iterative DFS so deep graphs cannot overflow the JS stack
    const stack: { n: Node; it: Node[]; i: number }[] = [{ n: root, it: deps(root), i: 0 }];
    state.set(root, 1);
    while (stack.length) {
      const top = stack[stack.length - 1]!;
      if (top.i < top.it.length) {
        const d = top.it[top.i++]!;
        const s = state.get(d);
        if (s === 1) fail('LUT1105', `the graph has a cycle through node '${d.name}'`, nodeLoc(d, file));
        if (s === undefined) {
          state.set(d, 1);
          stack.push({ n: d, it: deps(d), i: 0 });
        }
      } else {
        state.set(top.n, 2);
        order.push(top.n);
        stack.pop();
      }
    }
  }
  g.nodes = order;
}

/** Replaces every use of `from` by `to` in `g` (node operands, graph outputs, nested graphs). */
export function replaceAllUses(g: Graph, from: Value, to: Value): void {
  for (const n of g.nodes) {
    n.inputs = n.inputs.map((v) => (v === from ? to : v));
    for (const sub of subgraphs(n)) replaceAllUses(sub, from, to);
  }
  g.outputs = g.outputs.map((v) => (v === from ? to : v));
}

/** Removes nodes whose results are unused and constants nobody reads. Returns how many nodes went. */
export function removeDeadNodes(g: Graph): number {
  let removed = 0;
  for (;;) {
    const uses = useLists(g);
    const live = new Set(g.outputs);
    const before = g.nodes.length;
    g.nodes = g.nodes.filter((n) => n.outputs.some((v) => live.has(v) || (uses.get(v)?.length ?? 0) > 0));
    removed += before - g.nodes.length;
    if (g.nodes.length === before) break;
  }
  const uses = useLists(g);
  const outs = new Set(g.outputs);
  g.constants = g.constants.filter((v) => outs.has(v) || (uses.get(v)?.length ?? 0) > 0);
  return removed;
}
