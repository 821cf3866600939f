/**
 * Attention contrib ops of the whole-model module (ir/ops/attention.ts): group_query_attention as one
 * fused kernel over the BNSH cache layout (onnxruntime-genai exports), for static and runtime dims
 * alike; it mirrors the C kernel (backends/c/model/kernels-attention.ts). Per batch: the new q/k/v
 * rows copied (packed or separate QKV) into scratch [heads, S, H] as f32 and rotated at positions
 * past_b + s (do_rotary; half-split or interleaved pairs), present = past rows below past_b, the new
 * rows from there, zeros after; then per query head and query, the scores of the keys it sees
 * (causal, optional local window; causal 0, lutc-internal: all tb keys, batch > 1 allowed with a
 * continued prompt) into an O(T) f64 scratch row, softcap, + attention_bias (its
 * [s, t] entry of batch b or 0, head n or 0), softmax (smooth: one extra zero logit) and P·V. No S×T or T×T buffer. Shared past/present buffer (the node's cache pairs in
 * model-plan.ts gqaCachePairs, and the `kv_shared` global set for the run): the present slots hold
 * their bound rows per head, the past rows are already there, and only the new rows (and zeros after
 * them) are written (docs/wasm-model.md, "Runtime dims").
 *
 * Numerics are the interpreter's (groupQueryAttention): rotation in f64 rounded once to f32, dot
 * products, softmax (math.ts exp_f64, tanh_f64) and P·V in f64, each output rounded once to f32.
 * Run-time checks (never a trap): seqlens_k[b] + 1 outside [S, T], a past longer than the cache
 * given, or a position beyond the cos/sin rows set ERR_GLOBAL / ERR_VALUE_GLOBAL (the offending
 * value) and return from the step; model.mjs reports LUT5008 naming the node, with the compile-time
 * bound of the cache rows (or of the cos/sin rows, when rotary) as the size.
 * Threaded module (EmitOptions.threaded): per batch, the query-head loop is a part function split
 * across threads (each head its own score row), the rest as above on the calling thread.
 */
import binaryen from 'binaryen';
import type { Dim } from '../../../ir/types.js';
import { gqaCachePairs, type PlanStep, stepInput } from '../../model-plan.js';
import type { Expr, FnBuilder } from '../builder.js';
import {
  type Ctx,
  dimsOf,
  dimVal,
  type Emit,
  ERR_GLOBAL,
  ERR_VALUE_GLOBAL,
  i64Const,
  isStaticDims,
  KV_SHARED_GLOBAL,
  kindOf,
  noRuntimeDims,
  type StepHandler,
  unsupported,
} from './core.js';
import { expFn, tanhFn } from './math.js';

export const ATTENTION_OPS: ReadonlySet<string> = new Set(['group_query_attention']);

/** Prepares an attention step. */
export const attentionStep: StepHandler = (ctx, step): Emit => {
  if (step.node.op === 'group_query_attention') return gqaStep(ctx, step);
  return unsupported(step.node, ctx.plan.graph.meta?.file, `op '${step.node.op}' is not supported`, 'LUT5003');
};

const align = (x: number) => Math.ceil(x / 64) * 64;

/** The nodes whose cache pairs the shared past/present buffer serves, per graph (computed once). */
const sharedNodes = new WeakMap<object, Set<object>>();
function servesSharedKv(ctx: Ctx, step: PlanStep): boolean {
  const g = ctx.plan.graph;
  let set = sharedNodes.get(g);
  if (!set) sharedNodes.set(g, (set = new Set(gqaCachePairs(g).map((p) => p.node))));
  return set.has(step.node);
}

function gqaStep(ctx: Ctx, step: PlanStep): Emit {
  const n = step.node;
  const file = ctx.plan.graph.meta?.file;
  const a = n.attrs;
  const [N, Nkv] = [a.num_heads as number, a.kv_num_heads as number];
  const q = step.inputs[0]!;
  for (const p of [q, ...step.outputs])
    if (kindOf(p.dtype) !== 'f32') unsupported(n, file, `group_query_attention on ${p.dtype} (only float32 kernels)`, 'LUT5055');
  const [B, S, D] = dimsOf(q) as [Dim, Dim, Dim];
  if (typeof D !== 'number') return noRuntimeDims(ctx, step, 'a runtime hidden size');
  const kP = stepInput(step, 'key');
  const vP = stepInput(step, 'value');
  const packed = !kP;
  const H = packed ? D / (N + 2 * Nkv) : D / N;
  const heads = N + 2 * Nkv;
  const pkP = stepInput(step, 'past_key');
  const pvP = stepInput(step, 'past_value');
  const P: Dim = pkP ? dimsOf(pkP)[2]! : 0;
  const T: Dim = dimsOf(step.outputs[1]!)[2]!;
  const seqP = stepInput(step, 'seqlens_k')!;
  // attention_bias [B or 1, N or 1, S, T] (the shape rule holds its last dim to the present length)
  const abP = stepInput(step, 'attention_bias');
  const abDims = abP ? dimsOf(abP) : [];
  const totP = stepInput(step, 'total_sequence_length')!;
  const rotary = a.do_rotary === 1;
  const cosP = rotary ? stepInput(step, 'cos_cache') : null;
  const sinP = rotary ? stepInput(step, 'sin_cache') : null;
  if (rotary && (!cosP || !sinP)) return unsupported(n, file, 'group_query_attention: do_rotary needs cos_cache and sin_cache', 'LUT5051');
  if (cosP && !isStaticDims(dimsOf(cosP))) return noRuntimeDims(ctx, step, 'runtime cos/sin cache rows');
  const half = cosP ? cosP.shape[1]! : 0;
  const maxPos = cosP ? cosP.shape[0]! : 0;
  const R = half * 2;
  if (R > H) return unsupported(n, file, `group_query_attention: rotary dim ${R} exceeds the head size ${H}`);
  const inter = a.rotary_interleaved === 1;
  // attributes the node leaves out take the op table's defaults
  const scale = (a.scale as number | undefined) ?? 0;
  const alpha = scale === 0 ? 1 / Math.sqrt(H) : scale;
  const softcap = (a.softcap as number | undefined) ?? 0;
  const W = (a.local_window_size as number | undefined) ?? -1;
  const smooth = a.smooth_softmax === 1;
  // causal 0 (lutc-internal, passes/fuse-attention.ts): every query sees keys [0, tb); causal 1 code unchanged
  const causal = (a.causal as number | undefined) !== 0;
  // scratch: the new rows [heads, S, H] as f32 (S at its bound), then one row of T scores in f64
  const sBound = q.shape[1]!;
  const tBound = step.outputs[1]!.shape[2]!;
  const rowsBytes = align(heads * sBound * H * 4);
  // threaded module: one score row per query head (the heads run on several threads at once)
  const threads = !!ctx.opts.threaded;
  const scoreRow = align(Math.max(1, tBound + 1) * 8);
  ctx.scratch(0, rowsBytes + (threads ? N * scoreRow : Math.max(1, tBound + 1) * 8));
  // LUT5008's size: the cache rows (seqlens_k, past checks); the cos/sin rows when rotary bounds it first
  ctx.checks.set(step, rotary ? Math.min(maxPos, tBound) : tBound);
  const segs: { addr: number; srcHeads: number; count: number; dst: number }[] = packed
    ? [{ addr: ctx.addrOf(q), srcHeads: heads, count: heads, dst: 0 }]
    : [
        { addr: ctx.addrOf(q), srcHeads: N, count: N, dst: 0 },
        { addr: ctx.addrOf(kP!), srcHeads: Nkv, count: Nkv, dst: N },
        { addr: ctx.addrOf(vP!), srcHeads: Nkv, count: Nkv, dst: N + Nkv },
      ];
  const nodeName = n.name.replace(/[^A-Za-z0-9_]/g, '_');
  /** The step (no `part`), or the threaded module's part `(id, nt, arg = batch)`: thread id's query heads of one batch. */
  const build = (f: FnBuilder, part?: { id: number; nt: number; arg: number }): Expr[] => {
    const m = f.mod;
    const { i32, i64, f64 } = binaryen;
    const c = (v: number) => m.i32.const(v);
    const g = (l: number) => f.get(l);
    const add = (...xs: Expr[]) => xs.reduce((x, y) => m.i32.add(x, y));
    const mul = (x: Expr, y: Expr) => m.i32.mul(x, y);
    const Bv = () => dimVal(ctx, f, B),
      Sv = () => dimVal(ctx, f, S),
      Tv = () => dimVal(ctx, f, T),
      Pv = () => dimVal(ctx, f, P);
    const HB = H * 4;
    // rows per cache head: T, or in the shared past/present buffer mode (kv_shared set) the bound
    const shared = servesSharedKv(ctx, step);
    const TS = (): Expr => (shared ? m.select(m.global.get(KV_SHARED_GLOBAL, i32), c(tBound), Tv()) : Tv());
    /** `for (counter = 0; counter < count; counter++) body`, skipped when count <= 0. */
    const forE = (counter: number, count: () => Expr, body: Expr[]): Expr =>
      m.if(m.i32.gt_s(count(), c(0)), f.loop(counter, count(), body));
    const fail = (v: Expr): Expr => m.block(null, [m.global.set(ERR_GLOBAL, c(1)), m.global.set(ERR_VALUE_GLOBAL, v), m.return()]);
    const I = () => f.local(i32),
      F = () => f.local(f64);
    const [b, s, j, nn, gg, t, h, k] = [I(), I(), I(), I(), I(), I(), I(), I()];
    const [tb, pb, first, p, x, base, lo, cnt, kr, vr, qr] = [I(), I(), I(), I(), I(), I(), I(), I(), I(), I(), I()];
    const tb64 = f.local(i64);
    const [dot, sc, mx, sum, acc, xa, xb, cv, sv] = [F(), F(), F(), F(), F(), F(), F(), F(), F()];
    const rows = ctx.scratchBase;
    const scores = ctx.scratchBase + rowsBytes;
    const res: Expr[] = [];
    // first prompt: S == total (no past); a prompt continuing a past needs batch 1
    res.push(f.set(first, m.i64.eq(m.i64.extend_s(Sv()), m.i64.extend_s(m.i32.load(0, 4, c(ctx.addrOf(totP)))))));
    if (causal)
      res.push(m.if(m.i32.and(m.i32.and(m.i32.gt_s(Sv(), c(1)), m.i32.eqz(g(first))), m.i32.ne(Bv(), c(1))), fail(m.i64.extend_s(Bv()))));
    const perBatch: Expr[] = [];
    // tb = seqlens_k[b] + 1 in [S, T]; pb = first ? 0 : tb - S, at most P
    perBatch.push(
      f.set(tb64, m.i64.add(m.i64.extend_s(m.i32.load(0, 4, add(c(ctx.addrOf(seqP)), m.i32.shl(g(b), c(2))))), i64Const(m, 1n))),
      m.if(m.i32.or(m.i64.gt_s(g(tb64), m.i64.extend_s(Tv())), m.i64.lt_s(g(tb64), m.i64.extend_s(Sv()))), fail(g(tb64))),
      f.set(tb, m.i32.wrap(g(tb64))),
      f.set(pb, m.select(g(first), c(0), m.i32.sub(g(tb), Sv()))),
      m.if(m.i32.gt_s(g(pb), Pv()), fail(m.i64.extend_s(g(pb)))),
    );
    // the new rows: rows[(dst + j) * S + s] = src[(b * S + s) * srcHeads + j], H floats each
    for (const sg of segs)
      perBatch.push(
        forE(s, Sv, [
          f.loop(j, c(sg.count), [
            m.memory.copy(
              add(c(rows), mul(add(mul(add(c(sg.dst), g(j)), Sv()), g(s)), c(HB))),
              add(c(sg.addr), mul(add(mul(add(mul(g(b), Sv()), g(s)), c(sg.srcHeads)), g(j)), c(HB))),
              c(HB),
            ),
          ]),
        ]),
      );
    if (rotary) {
      // pairs (ia, ib): half-split (k, k + half) or interleaved (2k, 2k + 1); x_a' = x_a c - x_b s, x_b' = x_b c + x_a s
      const ia = () => add(g(x), inter ? m.i32.shl(g(k), c(3)) : m.i32.shl(g(k), c(2)));
      const ib = () => add(g(x), inter ? add(m.i32.shl(g(k), c(3)), c(4)) : add(m.i32.shl(g(k), c(2)), c(half * 4)));
      const rot: Expr[] = [
        f.set(xa, m.f64.promote(m.f32.load(0, 4, ia()))),
        f.set(xb, m.f64.promote(m.f32.load(0, 4, ib()))),
        f.set(cv, m.f64.promote(m.f32.load(0, 4, add(c(ctx.addrOf(cosP!)), m.i32.shl(add(mul(g(p), c(half)), g(k)), c(2)))))),
        f.set(sv, m.f64.promote(m.f32.load(0, 4, add(c(ctx.addrOf(sinP!)), m.i32.shl(add(mul(g(p), c(half)), g(k)), c(2)))))),
        m.f32.store(0, 4, ia(), m.f32.demote(m.f64.sub(m.f64.mul(g(xa), g(cv)), m.f64.mul(g(xb), g(sv))))),
        m.f32.store(0, 4, ib(), m.f32.demote(m.f64.add(m.f64.mul(g(xb), g(cv)), m.f64.mul(g(xa), g(sv))))),
      ];
      perBatch.push(
        forE(s, Sv, [
          f.set(p, m.select(g(first), m.select(m.i32.lt_s(g(s), g(tb)), g(s), c(1)), add(g(pb), g(s)))),
          m.if(m.i32.ge_s(g(p), c(maxPos)), fail(m.i64.extend_s(g(p)))),
          f.loop(nn, c(N + Nkv), [
            f.set(x, add(c(rows), mul(add(mul(g(nn), Sv()), g(s)), c(HB)))),
            ...(half > 0 ? [f.loop(k, c(half), rot)] : []),
          ]),
        ]),
      );
    }
    // present = past rows [0, pb), the new rows [pb, tb), zeros [tb, T); shared: the past rows are
    // already there (TS rows apart) and only the new rows (and the zeros) are written
    const notShared = (e: Expr): Expr => (shared ? m.if(m.i32.eqz(m.global.get(KV_SHARED_GLOBAL, i32)), e) : e);
    for (const [out, past, head] of [
      [step.outputs[1]!, pkP, N],
      [step.outputs[2]!, pvP, N + Nkv],
    ] as const) {
      const body: Expr[] = [f.set(base, add(c(ctx.addrOf(out)), mul(mul(add(mul(g(b), c(Nkv)), g(gg)), TS()), c(HB))))];
      if (past)
        body.push(
          notShared(
            m.memory.copy(g(base), add(c(ctx.addrOf(past)), mul(mul(add(mul(g(b), c(Nkv)), g(gg)), Pv()), c(HB))), mul(g(pb), c(HB))),
          ),
        );
      body.push(
        m.memory.copy(
          add(g(base), mul(g(pb), c(HB))),
          add(c(rows), mul(mul(c(head), Sv()), c(HB)), mul(mul(g(gg), Sv()), c(HB))),
          mul(Sv(), c(HB)),
        ),
        m.memory.fill(add(g(base), mul(g(tb), c(HB))), c(0), mul(m.i32.sub(Tv(), g(tb)), c(HB))),
      );
      perBatch.push(f.loop(gg, c(Nkv), body));
    }
    // per query head and query: scores over keys [lo, pb + s], softmax, P·V
    const kvRow = (cache: number, row: Expr) => add(c(cache), mul(add(mul(add(mul(g(b), c(Nkv)), g(gg)), TS()), row), c(HB)));
    const capped = (e: Expr): Expr =>
      softcap > 0 ? m.f64.mul(m.f64.const(softcap), m.call(tanhFn(ctx), [m.f64.div(e, m.f64.const(softcap))], f64)) : e;
    const scoreAt = (i: Expr) =>
      threads ? add(c(scores), mul(g(nn), c(scoreRow)), m.i32.shl(i, c(3))) : add(c(scores), m.i32.shl(i, c(3)));
    // + attention_bias[b or 0, n or 0, s, lo + t] after the softcap (onnxruntime's order)
    const biased = (e: Expr): Expr => {
      if (!abP) return e;
      const bi = abDims[0] === 1 ? c(0) : g(b);
      const ni = abDims[1] === 1 ? c(0) : g(nn);
      const row = add(mul(add(mul(bi, c(abDims[1] === 1 ? 1 : N)), ni), Sv()), g(s));
      const at = add(c(ctx.addrOf(abP)), m.i32.shl(add(mul(row, dimVal(ctx, f, abDims[3]!)), g(lo), g(t)), c(2)));
      return m.f64.add(e, m.f64.promote(m.f32.load(0, 4, at)));
    };
    const PK = ctx.addrOf(step.outputs[1]!),
      PV = ctx.addrOf(step.outputs[2]!);
    const exp = expFn(ctx);
    const query: Expr[] = [
      // last = pb + s; lo = max(0, last - W + 1) with a window; cnt = last - lo + 1 >= 1
      f.set(
        lo,
        W > 0 ? m.select(m.i32.gt_s(m.i32.sub(add(g(pb), g(s)), c(W - 1)), c(0)), m.i32.sub(add(g(pb), g(s)), c(W - 1)), c(0)) : c(0),
      ),
      f.set(cnt, causal ? m.i32.sub(add(g(pb), g(s), c(1)), g(lo)) : g(tb)),
      f.set(qr, add(c(rows), mul(add(mul(g(nn), Sv()), g(s)), c(HB)))),
      f.set(mx, m.f64.const(smooth ? 0 : -Infinity)),
      f.set(kr, kvRow(PK, g(lo))),
      f.loop(t, g(cnt), [
        f.set(dot, m.f64.const(0)),
        f.loop(h, c(H), [
          f.set(
            dot,
            m.f64.add(
              g(dot),
              m.f64.mul(
                m.f64.promote(m.f32.load(0, 4, add(g(qr), m.i32.shl(g(h), c(2))))),
                m.f64.promote(m.f32.load(0, 4, add(g(kr), m.i32.shl(g(h), c(2))))),
              ),
            ),
          ),
        ]),
        f.set(sc, biased(capped(m.f64.mul(g(dot), m.f64.const(alpha))))),
        m.f64.store(0, 8, scoreAt(g(t)), g(sc)),
        f.set(mx, m.select(m.f64.gt(g(sc), g(mx)), g(sc), g(mx))),
        f.incr(kr, HB),
      ]),
      f.set(sum, smooth ? m.call(exp, [m.f64.neg(g(mx))], f64) : m.f64.const(0)),
      f.loop(t, g(cnt), [
        f.set(sc, m.call(exp, [m.f64.sub(m.f64.load(0, 8, scoreAt(g(t))), g(mx))], f64)),
        m.f64.store(0, 8, scoreAt(g(t)), g(sc)),
        f.set(sum, m.f64.add(g(sum), g(sc))),
      ]),
      f.loop(h, c(H), [
        f.set(acc, m.f64.const(0)),
        f.set(vr, add(kvRow(PV, g(lo)), m.i32.shl(g(h), c(2)))),
        f.loop(t, g(cnt), [
          f.set(acc, m.f64.add(g(acc), m.f64.mul(m.f64.load(0, 8, scoreAt(g(t))), m.f64.promote(m.f32.load(0, 4, g(vr)))))),
          f.incr(vr, HB),
        ]),
        m.f32.store(
          0,
          4,
          add(c(ctx.addrOf(step.outputs[0]!)), mul(add(mul(add(mul(g(b), Sv()), g(s)), c(N)), g(nn)), c(HB)), m.i32.shl(g(h), c(2))),
          m.f32.demote(m.f64.div(g(acc), g(sum))),
        ),
      ]),
    ];
    const heads = (from: Expr, to: Expr): Expr[] => {
      const lbl = f.label('N');
      const end = f.local(i32);
      return [
        f.set(nn, from),
        f.set(end, to),
        m.block(`${lbl}x`, [
          m.loop(
            lbl,
            m.block(null, [
              m.br(`${lbl}x`, m.i32.ge_u(g(nn), g(end))),
              f.set(gg, m.i32.div_u(g(nn), c(N / Nkv))),
              forE(s, Sv, query),
              f.incr(nn, 1),
              m.br(lbl),
            ]),
          ),
        ]),
      ];
    };
    if (part) {
      // thread `id` of `nt`: query heads [id N / nt, (id + 1) N / nt) of batch `arg` (the step checked it)
      const share = (i: Expr) => m.i32.div_u(mul(i, c(N)), g(part.nt));
      return [
        f.set(b, g(part.arg)),
        f.set(first, m.i64.eq(m.i64.extend_s(Sv()), m.i64.extend_s(m.i32.load(0, 4, c(ctx.addrOf(totP)))))),
        f.set(tb, m.i32.add(m.i32.load(0, 4, add(c(ctx.addrOf(seqP)), m.i32.shl(g(b), c(2)))), c(1))),
        f.set(pb, m.select(g(first), c(0), m.i32.sub(g(tb), Sv()))),
        ...heads(share(g(part.id)), share(add(g(part.id), c(1)))),
      ];
    }
    if (threads)
      perBatch.push(
        ctx.addPart(
          n.name,
          `part_gqa_${ctx.parts.length}_${nodeName}`,
          (pf, id, nt, arg) => build(pf, { id, nt, arg }),
          () => g(b),
          // split only when the scores and P.V (about S T N H multiply-adds) pay for the barrier
          m.i32.ge_s(mul(Sv(), Tv()), c(Math.ceil(ctx.parMinWork / (N * H)))),
        ),
      );
    else perBatch.push(f.loop(nn, c(N), [f.set(gg, m.i32.div_u(g(nn), c(N / Nkv))), forE(s, Sv, query)]));
    res.push(forE(b, Bv, perBatch));
    return res;
  };
  return (f: FnBuilder) => build(f);
}
