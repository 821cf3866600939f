/**
 * Pass `fuse-attention`: decomposed attention (optimum / transformers.js exports, torch SDPA) onto the
 * fused group_query_attention kernel, so the Concat(past, new) KV outputs become GQA presents (which
 * the shared past/present buffer serves: backends/model-plan.ts gqaCachePairs). Per Softmax over the
 * last axis it matches exactly
 *
 *   scores = MatMul(Q, Kt) [· c | / c, c a constant scalar; or SDPA's Mul(Q, √c) and Mul(Kt, √c)]
 *            [+ mask, mask broadcastable to [B|1, 1|Hq, S, T]]
 *   Kt     = Transpose(K, perm [0, 1, 3, 2]);  out = MatMul(Softmax(scores), V)
 *   K, V   = Concat(past, new, axis 2), optionally through repeat_kv (Unsqueeze axis 2 → Expand
 *            [B, Hkv, n, T, D] → Reshape [B, Hkv·n, T, D])
 *   Q [B, Hq, S, D] f32, new [B, Hkv, S, D], past a graph input [B, Hkv, P, D]
 *
 * with every intermediate (scores, softmax, Kt, repeat_kv) read by the chain alone, and rewrites it as
 * one group_query_attention (q/k/v as [B, S, H·D] by Transpose + Reshape, past as given,
 * total_sequence_length = P + S and seqlens_k = [P + S - 1] · B from the shapes, attention_bias = the
 * mask (a mask whose key dim is another symbol is reshaped to P + S: the IR's broadcast already takes
 * two symbols meeting to be equal), scale, kv_num_heads, causal 0): its presents take over the Concat
 * results (names and other readers kept), its output goes back to [B, Hq, S, D] (or straight to
 * [B, S, Hq, D] when the only reader was that Transpose). Anything else is left unchanged. Runtime
 * dims are built with the legalize Rewriter (`dim`, `reshapeTo`). Numerics: GQA computes the scores,
 * softmax and P·V in double and rounds once (the chain rounds each op to f32): within a few f32 ulps.
 * Target-independent (ref included). No diagnostics: a form it cannot fuse stays as it was.
 */

import { dimEquals } from '../ir/dim-expr.js';
import { GraphBuilder, removeDeadNodes, topoSort, useLists } from '../ir/graph.js';
import { takeOverValue } from '../ir/lut/build.js';
import '../ir/ops/index.js';
import { makeTensor, numel } from '../ir/tensor.js';
import type { Dim, Graph, Node, Value } from '../ir/types.js';
import { Rewriter } from './legalize/rewriter.js';
import type { Pass } from './pass.js';

interface KvSource {
  concat: Node;
  past: Value;
  fresh: Value;
  /** query heads per KV head (1 without repeat_kv) */
  rep: number;
}

/** The match of one softmax's chain. */
interface AttentionMatch {
  softmax: Node;
  q: Value;
  k: KvSource;
  v: KvSource;
  mask: Value | null;
  scale: number;
  out: Node;
}

const sameDim = (a: Dim | undefined, b: Dim | undefined): boolean => a !== undefined && b !== undefined && dimEquals(a, b) === true;

/** A constant rank-0 (or one-element) float scalar's value, else undefined. */
function scalarConst(v: Value | null | undefined): number | undefined {
  const t = v?.const;
  if (!t || numel(t.shape) !== 1 || !['f32', 'f16', 'f64', 'bf16'].includes(t.dtype)) return undefined;
  return Number(t.data[0]);
}

function intsOf(v: Value | null | undefined): number[] | undefined {
  const t = v?.const;
  return t ? Array.from(t.data as ArrayLike<number | bigint>, Number) : undefined;
}

function matchAttention(g: Graph, sm: Node, uses: Map<Value, Node[]>, outs: Set<Value>): AttentionMatch | undefined {
  /** v is read by `by` alone (and is no graph output). */
  const only = (v: Value | null | undefined, by: Node): v is Value =>
    !!v && !outs.has(v) && (uses.get(v)?.length ?? 0) === 1 && uses.get(v)![0] === by;
  const prod = (v: Value | null | undefined, op: string): Node | undefined => (v?.producer?.op === op ? v.producer : undefined);
  const x0 = sm.inputs[0];
  if (x0?.type.shape.length !== 4 || x0.type.dtype !== 'f32') return undefined;
  const axis = (sm.attrs.axis as number | undefined) ?? -1;
  if (axis !== -1 && axis !== 3) return undefined;
  const softOut = sm.outputs[0]!;
  const readers = uses.get(softOut) ?? [];
  if (outs.has(softOut) || readers.length !== 1 || readers[0]!.op !== 'matmul' || readers[0]!.inputs[0] !== softOut) return undefined;
  const out = readers[0]!;
  // scores: [mask add] over [scale] over matmul(q, kt)
  let scale = 1;
  let mask: Value | null = null;
  let x: Value = x0;
  let user: Node = sm;
  /** peels a mul/div by a constant scalar off `x` */
  const peelScale = (): boolean => {
    const p = x.producer;
    if (!p || !only(x, user)) return false;
    if (p.op === 'mul') {
      for (const [i, j] of [
        [0, 1],
        [1, 0],
      ] as const) {
        const c = scalarConst(p.inputs[j]);
        if (c !== undefined && p.inputs[i]!.type.shape.length === 4) {
          scale *= c;
          x = p.inputs[i]!;
          user = p;
          return true;
        }
      }
    }
    if (p.op === 'div') {
      const c = scalarConst(p.inputs[1]);
      if (c !== undefined && c !== 0) {
        scale /= c;
        x = p.inputs[0]!;
        user = p;
        return true;
      }
    }
    return false;
  };
  const addP = x.producer;
  if (addP?.op === 'add' && only(x, user)) {
    // the scores side leads to matmul (through at most one scale op); the other side is the mask
    const leads = (v: Value) => {
      const p = v.producer;
      if (p?.op === 'matmul') return true;
      return (p?.op === 'mul' || p?.op === 'div') && p.inputs.some((w) => w?.producer?.op === 'matmul');
    };
    const [a, b] = addP.inputs as [Value, Value];
    const [sc, mk] = leads(a) ? [a, b] : leads(b) ? [b, a] : [undefined, undefined];
    if (!sc || !mk) return undefined;
    mask = mk;
    x = sc;
    user = addP;
  }
  peelScale();
  const mm = x.producer;
  if (mm?.op !== 'matmul' || !only(x, user)) return undefined;
  let q = mm.inputs[0]!;
  let kt = mm.inputs[1]!;
  // SDPA: Mul(Q, √c) and Mul(Kt, √c)
  const ktMul = kt.producer;
  if (ktMul?.op === 'mul' && only(kt, mm)) {
    const ck = scalarConst(ktMul.inputs[1]) ?? scalarConst(ktMul.inputs[0]);
    const qMul = q.producer;
    const cq = qMul?.op === 'mul' ? (scalarConst(qMul.inputs[1]) ?? scalarConst(qMul.inputs[0])) : undefined;
    if (ck === undefined || cq === undefined || !only(q, mm)) return undefined;
    scale *= ck * cq;
    kt = scalarConst(ktMul.inputs[1]) !== undefined ? ktMul.inputs[0]! : ktMul.inputs[1]!;
    q = scalarConst(qMul!.inputs[1]) !== undefined ? qMul!.inputs[0]! : qMul!.inputs[1]!;
    if (!only(kt, ktMul)) return undefined;
  } else if (!only(kt, mm)) return undefined;
  const tr = kt.producer;
  if (tr?.op !== 'transpose' || (tr.attrs.perm as number[] | undefined)?.join() !== '0,1,3,2') return undefined;
  const Kr = tr.inputs[0]!;
  const kSrc = kvSource(Kr, tr, only, prod);
  const vSrc = kvSource(out.inputs[1]!, out, only, prod);
  if (!kSrc || !vSrc) return undefined;
  // shapes: Q [B, Hq, S, D], new [B, Hkv, S, D], past [B, Hkv, P, D]
  const [B, Hq, S, D] = q.type.shape;
  if (q.type.shape.length !== 4 || q.type.dtype !== 'f32' || typeof Hq !== 'number' || typeof D !== 'number') return undefined;
  for (const src of [kSrc, vSrc]) {
    const [nb, nh, ns, nd] = src.fresh.type.shape;
    const [pb, ph, , pd] = src.past.type.shape;
    if (src.fresh.type.shape.length !== 4 || src.past.type.shape.length !== 4) return undefined;
    if (src.fresh.type.dtype !== 'f32' || src.past.type.dtype !== 'f32') return undefined;
    if (!sameDim(nb, B) || !sameDim(pb, B) || nh !== ph || typeof nh !== 'number' || nd !== D || pd !== D || !sameDim(ns, S))
      return undefined;
    if (nh * src.rep !== Hq) return undefined;
    if (!g.inputs.includes(src.past)) return undefined;
  }
  if (kSrc.fresh.type.shape[1] !== vSrc.fresh.type.shape[1] || kSrc.rep !== vSrc.rep) return undefined;
  if (sameDim(kSrc.past.type.shape[2], vSrc.past.type.shape[2]) !== true) return undefined;
  if (kSrc.concat === vSrc.concat) return undefined;
  if (mask) {
    const ms = mask.type.shape;
    if (mask.type.dtype !== 'f32' || ms.length > 4) return undefined;
    const m4 = [...new Array<Dim>(4 - ms.length).fill(1), ...ms];
    const T = kSrc.concat.outputs[0]!.type.shape[2];
    if (!(m4[0] === 1 || sameDim(m4[0], B)) || !(m4[1] === 1 || m4[1] === Hq)) return undefined;
    if (!sameDim(m4[2], S)) return undefined;
    if (!sameDim(m4[3], T) && typeof m4[3] !== 'string') return undefined;
  }
  return { softmax: sm, q, k: kSrc, v: vSrc, mask, scale, out };
}

/** K or V: Concat(past, new, axis 2), optionally through repeat_kv; each intermediate read by the chain alone. */
function kvSource(
  v0: Value,
  user: Node,
  only: (v: Value | null | undefined, by: Node) => v is Value,
  prod: (v: Value | null | undefined, op: string) => Node | undefined,
): KvSource | undefined {
  let v = v0;
  let rep = 1;
  const rs = prod(v, 'reshape');
  if (rs) {
    if (!only(v, user)) return undefined;
    const ex = prod(rs.inputs[0], 'expand');
    const un = ex && prod(ex.inputs[0], 'unsqueeze');
    if (!ex || !un || !only(rs.inputs[0], rs) || !only(ex.inputs[0], ex)) return undefined;
    const axes = intsOf(un.inputs[1]) ?? (un.attrs.axes as number[] | undefined);
    if (axes?.join() !== '2') return undefined;
    const es = ex.outputs[0]!.type.shape;
    const us = un.inputs[0]!.type.shape;
    const rsh = rs.outputs[0]!.type.shape;
    if (es.length !== 5 || us.length !== 4 || rsh.length !== 4) return undefined;
    const n = es[2];
    if (typeof n !== 'number' || es[1] !== us[1] || typeof us[1] !== 'number') return undefined;
    if (!sameDim(es[0], us[0]) || !sameDim(es[3], us[2]) || es[4] !== us[3]) return undefined;
    if (!sameDim(rsh[0], us[0]) || rsh[1] !== us[1] * n || !sameDim(rsh[2], us[2]) || rsh[3] !== us[3]) return undefined;
    rep = n;
    v = un.inputs[0]!;
  }
  const cc = prod(v, 'concat');
  if (cc?.inputs.length !== 2) return undefined;
  const ax = cc.attrs.axis as number;
  if (ax !== 2 && ax !== -2) return undefined;
  return { concat: cc, past: cc.inputs[0]!, fresh: cc.inputs[1]!, rep };
}

/** Rewrites one match; returns the nodes whose results were taken over (to be dropped). */
function rewrite(b: GraphBuilder, m: AttentionMatch, target: string, uses: Map<Value, Node[]>, outs: Set<Value>): Node[] {
  const r = new Rewriter(b, m.softmax, target, () => true);
  const [B, Hq, S, D] = m.q.type.shape as [Dim, number, Dim, number];
  const Hkv = m.k.fresh.type.shape[1] as number;
  const rows = (x: Value, heads: number) => r.reshapeTo(r.op('transpose', [x], { perm: [0, 2, 1, 3] }), [B, S, heads * D]);
  const q = rows(m.q, Hq);
  const k = rows(m.k.fresh, Hkv);
  const v = rows(m.v.fresh, Hkv);
  const T = m.k.concat.outputs[0]!.type.shape[2]!;
  // total = P + S, seqlens_k = [total - 1] * B (runtime dims through Shape)
  let total: Value;
  if (typeof T === 'number') total = r.tensor(makeTensor('i32', [1], [T]));
  else total = r.cast(r.reshape(r.add(r.dim(m.k.past, 2), r.dim(m.k.fresh, 2)), [1]), 'i32');
  const last = r.sub(total, r.tensor(makeTensor('i32', [1], [1])));
  const seqlens = B === 1 ? last : r.op('expand', [last, typeof B === 'number' ? r.i64([B]) : r.reshape(r.dim(m.q, 0), [1])]);
  let mask = m.mask;
  if (mask) {
    const ms = mask.type.shape;
    const m4 = [...new Array<Dim>(4 - ms.length).fill(1), ...ms];
    if (ms.length !== 4 || !sameDim(m4[3], T)) {
      // [b0, n0, S, T] with T the present length: a shape tensor of the dims (runtime ones from Shape)
      const piece = (d: Dim, from: Value | null, axis: number): Value =>
        typeof d === 'number' ? r.i64([d]) : r.reshape(r.dim(from!, axis), [1]);
      const tPiece = typeof T === 'number' ? r.i64([T]) : r.reshape(r.add(r.dim(m.k.past, 2), r.dim(m.k.fresh, 2)), [1]);
      const b0 = m4[0] === 1 ? r.i64([1]) : piece(B, m.q, 0);
      const shape = r.op('concat', [b0, r.i64([m4[1] as number]), piece(S, m.q, 2), tPiece], { axis: 0 });
      mask = r.op('reshape', [mask, shape]);
    }
  }
  const [o, pk, pv] = r.ops('group_query_attention', [q, k, v, m.k.past, m.v.past, seqlens, total, null, null, null, mask], {
    num_heads: Hq,
    kv_num_heads: Hkv,
    scale: Math.fround(m.scale),
    causal: 0,
  });
  const dropped: Node[] = [m.k.concat, m.v.concat];
  takeOverValue(pk!.producer!, 1, m.k.concat.outputs[0]!);
  takeOverValue(pv!.producer!, 2, m.v.concat.outputs[0]!);
  const bnsd = r.reshapeTo(o!, [B, S, Hq, D]);
  const res = m.out.outputs[0]!;
  const rd = uses.get(res) ?? [];
  const t = rd[0];
  if (!outs.has(res) && rd.length === 1 && t?.op === 'transpose' && (t.attrs.perm as number[] | undefined)?.join() === '0,2,1,3') {
    takeOverValue(bnsd.producer!, 0, t.outputs[0]!);
    dropped.push(t, m.out);
  } else {
    const back = r.op('transpose', [bnsd], { perm: [0, 2, 1, 3] });
    takeOverValue(back.producer!, 0, res);
    dropped.push(m.out);
  }
  return dropped;
}

/** Fuses every matching attention of `g` (top level); returns how many. */
export function fuseAttentionGraph(g: Graph, target: string): number {
  const uses = useLists(g);
  const outs = new Set(g.outputs);
  const matches: AttentionMatch[] = [];
  const claimed = new Set<Node>();
  for (const n of g.nodes) {
    if (n.op !== 'softmax') continue;
    const m = matchAttention(g, n, uses, outs);
    if (!m || claimed.has(m.k.concat) || claimed.has(m.v.concat)) continue;
    claimed.add(m.k.concat).add(m.v.concat);
    matches.push(m);
  }
  if (!matches.length) return 0;
  const b = new GraphBuilder(g);
  const dropped = new Set<Node>();
  for (const m of matches) for (const d of rewrite(b, m, target, uses, outs)) dropped.add(d);
  g.nodes = g.nodes.filter((n) => !dropped.has(n));
  topoSort(g, g.meta?.file);
  removeDeadNodes(g);
  return matches.length;
}

export const fuseAttention: Pass = {
  name: 'fuse-attention',
  summary: 'decomposed attention (Concat KV cache, repeat_kv, MatMul/Softmax/MatMul) -> group_query_attention (causal 0)',
  run(g, ctx) {
    fuseAttentionGraph(g, ctx.opts.target);
  },
};
