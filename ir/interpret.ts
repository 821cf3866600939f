/**
 * Reference interpreter: runs any graph (graph-level and `lut.*` ops alike) by calling each op's
 * `interp` from the op table in topological order. It is `lutc run --target ref` and the oracle the
 * backends are tested against. Nested graphs (If branches) see the enclosing environment. Also the
 * throttled progress callback for long runs (`progressReporter`). An allocation V8 refuses inside an
 * op is LUT3060 (shapes too large) naming the node; any other non-diagnostic exception is a bug.
 */
import { fail, LutcError, nodeLoc } from '../base/diagnostics.js';
import { type InterpCtx, opOf, resolveAttrs } from './optable.js';
import type { Graph, Node, Tensor, Value } from './types.js';

export interface InterpretOptions {
  /** Called after each node, e.g. for progress on stderr or tracing. */
  onNode?(node: Node, index: number, total: number): void;
}

/**
 * Progress for long interpreter runs: silent for the first second (short runs print nothing), then
 * one line per ~0.5 s naming the node being run.
 */
export function progressReporter(log: (msg: string) => void): (node: Node, index: number, total: number) => void {
  const start = Date.now();
  let last = start;
  return (node, index, total) => {
    const now = Date.now();
    if (now - start < 1000 || now - last < 500) return;
    last = now;
    log(`[${index + 1}/${total}] ${node.op} '${node.name}' (${((now - start) / 1000).toFixed(1)} s)`);
  };
}

/** Environment: value -> tensor, with a parent for nested graphs. */
class Env {
  private readonly map = new Map<Value, Tensor>();
  constructor(private readonly parent?: Env) {}
  get(v: Value): Tensor | undefined {
    return this.map.get(v) ?? this.parent?.get(v);
  }
  set(v: Value, t: Tensor): void {
    this.map.set(v, t);
  }
}

/**
 * Runs `graph` on `inputs` (by graph-input name). Returns the graph outputs in order.
 * Missing inputs and shape/dtype mismatches are diagnosed (LUT3001/LUT3002) before any node runs.
 */
export function interpret(graph: Graph, inputs: Record<string, Tensor>, opts: InterpretOptions = {}): Tensor[] {
  const file = graph.meta?.file;
  const env = new Env();
  for (const v of graph.inputs) {
    const t = inputs[v.name];
    if (!t) fail('LUT3001', `missing input '${v.name}'`, file ? { kind: 'file', file } : undefined);
    checkInput(v, t, graph.meta?.dimBindings ?? {}, file);
    env.set(v, t);
  }
  return runGraph(graph, env, opts, file);
}

function checkInput(v: Value, t: Tensor, bindings: Record<string, number>, file?: string): void {
  const loc = file ? ({ kind: 'file', file } as const) : undefined;
  if (t.dtype !== v.type.dtype) fail('LUT3002', `input '${v.name}' has dtype ${t.dtype}, the model expects ${v.type.dtype}`, loc);
  const want = v.type.shape;
  const ok =
    want.length === t.shape.length &&
    want.every((d, i) => (typeof d === 'number' ? d === t.shape[i] : bindings[d] === undefined || bindings[d] === t.shape[i]));
  if (!ok) fail('LUT3002', `input '${v.name}' has shape [${t.shape}], the model expects [${want}]`, loc);
}

function runGraph(graph: Graph, env: Env, opts: InterpretOptions, file?: string): Tensor[] {
  for (const c of graph.constants) env.set(c, c.const!);
  graph.nodes.forEach((node, idx) => {
    const def = opOf(node, nodeLoc(node, file));
    const ins = node.inputs.map((v) => {
      if (!v) return null;
      const t = env.get(v);
      if (!t) fail('LUT3003', `value '${v.name}' is used before it is computed`, nodeLoc(node, file));
      return t;
    });
    const ctx: InterpCtx = {
      node,
      attrs: resolveAttrs(def, node),
      runGraph: (g) => runGraph(g, new Env(env), opts, file),
      error: (code, message) => fail(code, message, nodeLoc(node, file)),
    };
    let outs: Tensor[];
    try {
      outs = def.interp(ins, ctx);
    } catch (e) {
      if (e instanceof LutcError) throw e;
      // An allocation V8 refuses (a huge --dim) is a diagnosed "shapes too large", not a crash.
      if (e instanceof RangeError && /Invalid (typed )?array length|Array buffer allocation/.test(e.message))
        fail('LUT3060', `shapes too large to run: ${e.message}`, nodeLoc(node, file));
      // A kernel bug must still name the node it happened in.
      throw new Error(`internal error in ${node.op} '${node.name}': ${(e as Error).message}`, { cause: e });
    }
    node.outputs.forEach((v, i) => {
      const t = outs[i];
      if (t) env.set(v, t);
    });
    opts.onNode?.(node, idx, graph.nodes.length);
  });
  return graph.outputs.map((v) => {
    const t = env.get(v);
    if (!t) fail('LUT3003', `graph output '${v.name}' was never computed`, file ? { kind: 'file', file } : undefined);
    return t;
  });
}
