/**
 * Pass `fuse-ops`: fuses the table build into its producer and float epilogues into lut.matmul (and
 * lut.gemm, the kernel-table form of targets with `lut.tables: 'kernel'`: steps 1 and 3 only, since
 * its kernel builds the tables of the activations it reads).
 *
 * 1. RMSNorm written as primitives (PyTorch's export: Pow(x,2) | Mul(x,x) -> ReduceMean(last axis,
 *    keepdims) -> Add(eps) -> Sqrt -> Div(x, .) | Mul(x, Reciprocal(.)) | Mul(x, Div(1, .)) -> Mul(gamma))
 *    feeding a table build (or a lut.gemm) becomes simplified_layer_norm. This one step changes rounding (by a few f32
 *    ulps of the normalized activations); everything else below is bit-exact.
 * 2. simplified_layer_norm / layer_norm over the last axis feeding a lut.table becomes one
 *    lut.norm_table that emits the normalized activations (still available to other users, e.g. the
 *    residual stream) and the tables in one pass over the row.
 * 3. Epilogues of a lut.matmul whose result has a single user, in the fixed order
 *    y = act((lut + bias) * channel_scale) + residual: Add of an N-element constant (bias), Mul by an
 *    N-element constant (per-channel scale), one activation (a unary graph op of ir/lut/epilogue.ts
 *    EPILOGUE_ACTIVATIONS: Relu, Sigmoid, Gelu, Tanh, ..., or SiLU written x * sigmoid(x)), and Add of
 *    a tensor of y's shape (residual). A stage is fused only while the order allows it.
 * The fused interpreters run the graph ops' own kernels, so the output does not change.
 */
import { GraphBuilder, removeDeadNodes, replaceAllUses, topoSort, useLists } from '../ir/graph.js';
import { addNode, attrOr, takeOverValue } from '../ir/lut/build.js';
import { activationAttrsFor, EPILOGUE_ACTIVATIONS, epilogueOperandsOf } from '../ir/lut/epilogue.js';
import { findOp, operand, resolveAttrs } from '../ir/optable.js';
import { numel } from '../ir/tensor.js';
import type { Attrs, Graph, Node, Value } from '../ir/types.js';
import type { Pass } from './pass.js';

type Uses = Map<Value, Node[]>;

const constScalar = (v: Value | null | undefined): number | undefined =>
  v?.const && numel(v.const.shape) === 1 ? Number(v.const.data[0]) : undefined;

/** The node producing `v` if it has op `op` (or one of `op`). */
function prod(v: Value | null | undefined, ...ops: string[]): Node | undefined {
  const p = v?.producer;
  return p && ops.includes(p.op) ? p : undefined;
}

/** True when `v` is read only by `n` (and is not a graph output). */
function onlyUse(uses: Uses, outs: Set<Value>, v: Value, n: Node): boolean {
  const u = uses.get(v) ?? [];
  return !outs.has(v) && u.length === 1 && u[0] === n;
}

/** Matches x / sqrt(mean(x^2) + eps) * gamma ending at `xn`; returns x, gamma, eps. */
function matchRmsPrimitives(xn: Value, uses: Uses, outs: Set<Value>): { x: Value; gamma: Value; eps: number } | undefined {
  const mg = prod(xn, 'mul');
  if (!mg) return undefined;
  for (const gi of [0, 1]) {
    const gamma = mg.inputs[gi]!,
      a = mg.inputs[1 - gi]!;
    if (gamma.const?.shape.length !== 1 || !a || !onlyUse(uses, outs, a, mg)) continue;
    const an = a.producer;
    if (!an) continue;
    // a = x / d  or  a = x * r with r = 1/d (Reciprocal or Div(1, d))
    // [x, d, the node reading d]: d (the sqrt result) must have no other user either
    const cands: [Value, Value, Node][] = [];
    if (an.op === 'div') cands.push([an.inputs[0]!, an.inputs[1]!, an]);
    if (an.op === 'mul') {
      for (const ri of [0, 1]) {
        const r = an.inputs[ri]!;
        const rn = prod(r, 'reciprocal', 'div');
        if (!rn || !onlyUse(uses, outs, r, an)) continue;
        if (rn.op === 'reciprocal') cands.push([an.inputs[1 - ri]!, rn.inputs[0]!, rn]);
        else if (constScalar(rn.inputs[0]) === 1) cands.push([an.inputs[1 - ri]!, rn.inputs[1]!, rn]);
      }
    }
    for (const [x, d, dUser] of cands) {
      const sq = prod(d, 'sqrt');
      const ad = prod(sq?.inputs[0], 'add');
      if (!sq || !ad || !x) continue;
      const ei = constScalar(ad.inputs[1]) !== undefined ? 1 : 0;
      const eps = constScalar(ad.inputs[ei]);
      const rm = prod(ad.inputs[1 - ei], 'reduce_mean');
      if (eps === undefined || !rm || attrOr(rm, 'keepdims', 1) === 0) continue;
      const rank = x.type.shape.length;
      const axes = operand(rm, 'axes')?.const?.data;
      if (axes?.length !== 1 || (Number(axes[0]) !== -1 && Number(axes[0]) !== rank - 1)) continue;
      const p = prod(rm.inputs[0], 'pow', 'mul');
      if (!p || p.inputs[0] !== x || (p.op === 'pow' ? constScalar(p.inputs[1]) !== 2 : p.inputs[1] !== x)) continue;
      if (gamma.const.shape[0] !== x.type.shape[rank - 1] || x.type.dtype !== 'f32' || gamma.const.dtype !== 'f32') continue;
      const chain: [Value, Node][] = [
        [p.outputs[0]!, rm],
        [rm.outputs[0]!, ad],
        [ad.outputs[0]!, sq],
        [d, dUser],
      ];
      if (!chain.every(([v, n]) => onlyUse(uses, outs, v, n))) continue;
      return { x, gamma, eps };
    }
  }
  return undefined;
}

const EPILOGUE_STAGE = { bias: 1, scale: 2, act: 3, residual: 4 } as const;

/** The stage an epilogue op would add to `mm` (result `y`), the operand to attach, or undefined. */
function matchEpilogue(
  mm: Node,
  y: Value,
  c: Node,
  uses: Uses,
  outs: Set<Value>,
): { stage: keyof typeof EPILOGUE_STAGE; operand?: Value; act?: string; actAttrs?: Attrs; out: Value; extra?: Node } | undefined {
  const n = mm.attrs.n as number;
  const other = c.inputs[0] === y ? c.inputs[1] : c.inputs[0];
  const perChannel = (v: Value | null | undefined) =>
    !!v?.const &&
    v.const.dtype === 'f32' &&
    numel(v.const.shape) === n &&
    v.const.shape.slice(0, -1).every((d) => d === 1) &&
    v.const.shape.length <= y.type.shape.length;
  const sameShape = (v: Value | null | undefined) =>
    !!v && v.type.dtype === 'f32' && v.type.shape.length === y.type.shape.length && v.type.shape.every((d, i) => d === y.type.shape[i]);
  const out = c.outputs[0]!;
  if (c.op === 'add' && other !== y) {
    if (perChannel(other)) return { stage: 'bias', operand: other!, out };
    if (sameShape(other)) return { stage: 'residual', operand: other!, out };
  }
  if (c.op === 'mul' && other !== y && perChannel(other)) return { stage: 'scale', operand: other!, out };
  if (EPILOGUE_ACTIVATIONS.includes(c.op) && c.inputs.length === 1 && c.inputs[0] === y) {
    // gelu keeps printing its approximation (also when it is the default), as before
    const attrs = c.op === 'gelu' ? { approximate: attrOr(c, 'approximate', 'none'), ...c.attrs } : c.attrs;
    return { stage: 'act', act: c.op, actAttrs: activationAttrsFor(c.op, attrs), out };
  }
  return undefined;
}

/** SiLU: y used by exactly sigmoid(y) and mul(y, sigmoid(y)). */
function matchSilu(y: Value, uses: Uses, outs: Set<Value>): { mul: Node; sig: Node } | undefined {
  const u = uses.get(y) ?? [];
  if (u.length !== 2 || outs.has(y)) return undefined;
  const sig = u.find((n) => n.op === 'sigmoid');
  const mul = u.find((n) => n.op === 'mul');
  if (!sig || !mul || !onlyUse(uses, outs, sig.outputs[0]!, mul)) return undefined;
  const ins = mul.inputs;
  if (!((ins[0] === y && ins[1] === sig.outputs[0]) || (ins[1] === y && ins[0] === sig.outputs[0]))) return undefined;
  return { mul, sig };
}

function fuseEpilogues(g: Graph, mm: Node, dead: Set<Node>): void {
  const at = epilogueOperandsOf(mm.op);
  let stage = 0;
  if (mm.inputs[at.bias]) stage = EPILOGUE_STAGE.bias;
  if (mm.inputs[at.residual]) stage = EPILOGUE_STAGE.residual;
  for (;;) {
    const uses = useLists(g);
    const outs = new Set(g.outputs);
    const y = mm.outputs[0]!;
    if ((mm.attrs.activation ?? 'none') === 'none' && stage < EPILOGUE_STAGE.act) {
      const s = matchSilu(y, uses, outs);
      if (s) {
        mm.attrs.activation = 'silu';
        stage = EPILOGUE_STAGE.act;
        takeOverValue(mm, 0, s.mul.outputs[0]!);
        dead.add(s.mul).add(s.sig);
        s.mul.outputs = [];
        s.sig.outputs = [];
        continue;
      }
    }
    const u = uses.get(y) ?? [];
    if (u.length !== 1 || outs.has(y)) return;
    const c = u[0]!;
    const m = matchEpilogue(mm, y, c, uses, outs);
    if (!m || EPILOGUE_STAGE[m.stage] <= stage) return;
    if (m.stage === 'bias') setOperand(mm, at.bias, m.operand!);
    if (m.stage === 'residual') setOperand(mm, at.residual, m.operand!);
    if (m.stage === 'scale') setOperand(mm, at.channel_scale, m.operand!);
    if (m.act) Object.assign(mm.attrs, { activation: m.act, ...m.actAttrs });
    stage = EPILOGUE_STAGE[m.stage];
    takeOverValue(mm, 0, m.out);
    c.outputs = [];
    dead.add(c);
  }
}

function setOperand(n: Node, i: number, v: Value): void {
  while (n.inputs.length <= i) n.inputs.push(null);
  n.inputs[i] = v;
}

export const fuseOps: Pass = {
  name: 'fuse-ops',
  summary: 'fuse table builds into their RMSNorm/LayerNorm producer and bias/scale/activation/residual into lut.matmul',
  run(g: Graph): void {
    const b = new GraphBuilder(g);
    const dead = new Set<Node>();
    // 1 + 2: norms feeding table builds
    for (const t of [...g.nodes]) {
      if (t.op !== 'lut.table' && t.op !== 'lut.gemm') continue;
      let xn = t.inputs[0]!;
      const uses = useLists(g);
      const prim = matchRmsPrimitives(xn, uses, new Set(g.outputs));
      if (prim) {
        const old = xn.producer!;
        const norm = addNode(b, 'simplified_layer_norm', [prim.x, prim.gamma], { axis: -1, epsilon: prim.eps }, `${old.name}.rms`);
        takeOverValue(norm, 0, xn);
        old.outputs = [];
      }
      if (t.op === 'lut.gemm') continue; // its kernel builds the tables: no norm_table (step 2)
      xn = t.inputs[0]!;
      const p = prod(xn, 'simplified_layer_norm', 'layer_norm');
      if (!p || p.outputs[0] !== xn || xn.type.dtype !== 'f32') continue;
      const u2 = useLists(g);
      if (p.outputs.slice(1).some((v) => (u2.get(v)?.length ?? 0) > 0 || g.outputs.includes(v))) continue;
      const pa = resolveAttrs(findOp(p.op)!, p);
      const rank = xn.type.shape.length;
      if (pa.axis !== -1 && pa.axis !== rank - 1) continue;
      const ta = resolveAttrs(findOp('lut.table')!, t);
      const nt = addNode(
        b,
        'lut.norm_table',
        [...p.inputs],
        {
          ...ta,
          norm: p.op === 'layer_norm' ? 'layer' : 'rms',
          axis: -1,
          epsilon: pa.epsilon!,
          stash_type: pa.stash_type!,
        },
        `${p.name}.table`,
      );
      while (nt.inputs.length > 2 && nt.inputs[nt.inputs.length - 1] === null) nt.inputs.pop();
      takeOverValue(nt, 0, xn);
      t.outputs.forEach((v, i) => replaceAllUses(g, v, nt.outputs[i + 1]!));
      p.outputs = [];
      t.outputs = [];
      dead.add(p).add(t);
    }
    // 3: epilogues
    for (const n of g.nodes) if ((n.op === 'lut.matmul' || n.op === 'lut.gemm') && !dead.has(n)) fuseEpilogues(g, n, dead);
    g.nodes = g.nodes.filter((n) => !dead.has(n));
    removeDeadNodes(g);
    topoSort(g);
  },
};
