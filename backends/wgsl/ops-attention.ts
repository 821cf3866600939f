/**
 * WGSL renderer of the attention contrib op group_query_attention (ir/ops/attention.ts's
 * groupQueryAttention is the semantics; backends/c/model/kernels-attention.ts the C twin), fused, for
 * static and runtime dims alike (S, past P and cache T read from the DIMS uniform; the host sizes
 * both dispatches), BNSH cache layout, packed or separate QKV. Two dispatches per step:
 *   present  one invocation per element of present_key/present_value [B, Nkv, T, H]: past rows below
 *            past_b, the new K (rotated at position past_b + s when do_rotary; the first prompt's
 *            padding at position 1) / V rows from there, zeros after. It also runs the step's checks
 *            (seqlens_k[b] + 1 outside [S, T], a past longer than the cache given, a position beyond the
 *            cos/sin rows, a continued prompt with batch > 1): the value goes to the status buffer and
 *            the host throws LUT5008 (the size it names is T at its bound).
 *   attend   one invocation per (batch, head, query): its rotated query row in registers, then one
 *            streaming pass over the keys it sees (causal, optional local window; the lutc-internal
 *            causal 0: all tb keys, no batch check for a continued prompt; + attention_bias
 *            after the softcap) with an online softmax (running max, rescaled sum and P·V row;
 *            smooth_softmax starts from the extra zero logit), reading the present rows just
 *            written. No S×T buffer.
 * Shared past/present buffer (the node's cache pairs, a model with runtime dims, the run's DIMS flag
 * set): present rows are the cache's bound apart, the past rows are already there and only rows from
 * past_b on are written (docs/wgsl.md).
 * Numerics: f32 throughout (the interpreter uses double): rotation x·cos + sign·x'·sin rounded per
 * operation, dot products, exp (ops-elementwise.ts expf) and P·V accumulated in f32.
 */

import { numel } from '../../ir/tensor.js';
import type { Dim } from '../../ir/types.js';
import { inputIndex } from '../model-plan.js';
import { MATH_LIB } from './ops-elementwise.js';
import {
  accessors,
  dimsOf,
  f,
  grid1Of,
  type Kernel,
  KV_SHARED_SYM,
  loadFn,
  main1,
  numelD,
  STATUS_DECL,
  type StepCtx,
  u,
} from './shader-common.js';

export const ATTENTION_OPS = new Set(['group_query_attention']);

function renderGqa(c: StepCtx): Kernel[] {
  const a = c.attrs;
  const [N, Nkv] = [a.num_heads as number, a.kv_num_heads as number];
  const q = c.ins[0]!;
  const qd = dimsOf(q);
  const [B, S, D] = qd as [Dim, Dim, Dim];
  if (typeof D !== 'number') c.fail('LUT5004', `group_query_attention: the hidden dim '${D}' of the query must be static`);
  const [iK, iV, iPK, iPV, iSeq, iTot, iCos, iSin] = [
    'key',
    'value',
    'past_key',
    'past_value',
    'seqlens_k',
    'total_sequence_length',
    'cos_cache',
    'sin_cache',
  ].map((n) => inputIndex(c, n)) as [number, number, number, number, number, number, number, number];
  const packed = !c.ins[iK];
  // attention_bias [B or 1, N or 1, S, T] (the shape rule holds its last dim to the present length)
  const iAB = inputIndex(c, 'attention_bias');
  const abDims = c.ins[iAB] ? dimsOf(c.ins[iAB]!) : [];
  const H = packed ? D / (N + 2 * Nkv) : D / N;
  if (!Number.isInteger(H) || N % Nkv !== 0)
    c.fail('LUT5204', `group_query_attention: hidden size ${D} does not split into ${N} + 2 x ${Nkv} heads`);
  const heads = N + 2 * Nkv;
  const pk = c.ins[iPK];
  const P: Dim = pk ? dimsOf(pk)[2]! : 0;
  const T: Dim = dimsOf(c.outs[1]!)[2]!;
  const rotary = a.do_rotary === 1;
  const cosShape = rotary ? c.ins[iCos]!.shape : [0, 0];
  if (rotary && (c.ins[iCos]!.dims ?? []).some((x) => typeof x !== 'number'))
    c.fail('LUT5004', 'group_query_attention: the cos/sin caches must have static shapes');
  const [maxPos, half] = cosShape as [number, number];
  const R = half * 2;
  if (R > H) c.fail('LUT5204', `group_query_attention: rotary dim ${R} exceeds the head size ${H}`);
  const inter = a.rotary_interleaved === 1;
  const alpha = (a.scale as number) === 0 ? 1 / Math.sqrt(H) : (a.scale as number);
  const softcap = a.softcap as number;
  const W = a.local_window_size as number;
  const smooth = a.smooth_softmax === 1;
  // causal 0 (lutc-internal, passes/fuse-attention.ts): every query sees keys [0, tb); causal 1 code unchanged
  const causal = (a.causal as number | undefined) !== 0;
  const d = c.dim;
  const [dB, dS, dT, dP] = [d(B), d(S), d(T), d(P)];
  // the shared past/present buffer (a run with the flag set): cache rows are the bound apart, the
  // past rows are already in the present, only rows from past_b on are written
  const shared = c.kvShared === true;
  const tBound = c.outs[1]!.shape[2]!;
  const dTS = shared ? `select(${dT}, ${u(tBound)}, ${d(KV_SHARED_SYM)} != 0u)` : dT;
  // element (b, s, head, h) of the new rows in the input layout
  const src = packed
    ? `return in0(((b * ${dS} + s) * ${u(heads)} + n) * ${u(H)} + h);`
    : `if (n < ${u(N)}) { return in0(((b * ${dS} + s) * ${u(N)} + n) * ${u(H)} + h); }
  if (n < ${u(N + Nkv)}) { return in${iK}(((b * ${dS} + s) * ${u(Nkv)} + (n - ${u(N)})) * ${u(H)} + h); }
  return in${iV}(((b * ${dS} + s) * ${u(Nkv)} + (n - ${u(N + Nkv)})) * ${u(H)} + h);`;
  // element h of head n's new row s, rotated at position p (heads below N + Nkv: q and k)
  const rot = rotary
    ? `  if (h >= ${u(R)} || n >= ${u(N + Nkv)}) { return src(b, s, n, h); }
  let k = ${inter ? 'h >> 1u' : `h % ${u(half)}`};
  let j = ${inter ? 'h ^ 1u' : `(h + ${u(half)}) % ${u(R)}`};
  let sg = ${inter ? 'select(1.0, -1.0, h % 2u == 0u)' : `select(1.0, -1.0, h < ${u(half)})`};
  return src(b, s, n, h) * in${iCos}(p * ${u(half)} + k) + sg * src(b, s, n, j) * in${iSin}(p * ${u(half)} + k);`
    : '  _ = p;\n  return src(b, s, n, h);';
  // per batch: first prompt, total_b, past_b and the position of query s (i32; checked by the present kernel)
  const lib = `fn src(b: u32, s: u32, n: u32, h: u32) -> f32 {
  ${src}
}
fn rot(b: u32, s: u32, n: u32, h: u32, p: u32) -> f32 {
${rot}
}
fn isFirst() -> bool { return i32(${dS}) == in${iTot}(0u); }
fn totalB(b: u32) -> i32 { return in${iSeq}(b) + 1; }
fn pastB(b: u32) -> i32 { return select(totalB(b) - i32(${dS}), 0, isFirst()); }
fn posOf(b: u32, s: u32) -> i32 { return select(pastB(b) + i32(s), select(1, i32(s), i32(s) < totalB(b)), isFirst()); }
`;
  const decls = accessors(c) + MATH_LIB + lib;
  const report = (v: string) => `if (atomicMin(&S[0], ${c.step}u) > ${c.step}u) { atomicStore(&S[1], bitcast<u32>(${v})); }`;
  const past = (which: number) => `in${which}(((b * ${u(Nkv)} + g) * ${dP} + t) * ${u(H)} + h)`;
  const presentBody = `  let h = i % ${u(H)};
  let t = (i / ${u(H)}) % ${dT};
  let g = (i / (${u(H)} * ${dT})) % ${u(Nkv)};
  let b = i / (${u(H)} * ${dT} * ${u(Nkv)});
  let tb = totalB(b);
  let pb = pastB(b);
${causal ? `  if (i32(${dS}) > 1 && !isFirst() && ${dB} != 1u) { ${report(`i32(${dB})`)} return; }\n` : ''}  if (tb > i32(${dT}) || tb < i32(${dS})) { ${report('tb')} return; }
  if (pb > i32(${dP})) { ${report('pb')} return; }
  let ti = i32(t);${
    shared
      ? `
  if (${d(KV_SHARED_SYM)} != 0u && ti < pb) { return; }
  let o = ((b * ${u(Nkv)} + g) * ${dTS} + t) * ${u(H)} + h;`
      : '\n  let o = i;'
  }
  var kv = vec2f(0.0, 0.0);
  if (ti < pb) { ${pk ? `kv = vec2f(${past(iPK)}, ${past(iPV)});` : '/* no past: pb is 0 */'} }
  else if (ti < pb + i32(${dS})) {
    let s = u32(ti - pb);
    let p = posOf(b, s);
    ${rotary ? `if (p >= ${maxPos}) { ${report('p')} return; }` : ''}
    kv = vec2f(rot(b, s, ${u(N)} + g, h, u32(p)), src(b, s, ${u(N + Nkv)} + g, h));
  }
  out1(o, kv.x);
  out2(o, kv.y);`;
  const nPresent = numelD([B, Nkv, T, H]);
  const boundPresent = numel(c.outs[1]!.shape);
  const check = { step: c.step, node: c.node.name, op: c.node.op, size: c.outs[1]!.shape[2]! };
  const capped = softcap > 0 ? `\n      x = ${f(softcap)} * tanhf(x / ${f(softcap)});` : '';
  const biased = c.ins[iAB]
    ? `\n    x += in${iAB}(((${abDims[0] === 1 ? '0u' : 'b'} * ${u(abDims[1] === 1 ? 1 : N)} + ${abDims[1] === 1 ? '0u' : 'n'}) * ${dS} + s) * ${c.dim(abDims[3]!)} + u32(t));`
    : '';
  const attendBody = `  let s = i % ${dS};
  let n = (i / ${dS}) % ${u(N)};
  let b = i / (${dS} * ${u(N)});
  let g = n / ${u(N / Nkv)};
  let tb = totalB(b);
  let pb = pastB(b);
  let p = posOf(b, s);
  // a failed check (reported by the present kernel): nothing to attend over
  if (tb > i32(${dT}) || tb < i32(${dS}) || pb > i32(${dP})${rotary ? ` || p >= ${maxPos}` : ''}) { return; }
  var qr: array<f32, ${H}>;
  for (var h = 0u; h < ${u(H)}; h++) { qr[h] = rot(b, s, n, h, u32(p)); }
  let last = ${causal ? 'pb + i32(s)' : 'tb - 1'};
  let lo = ${W > 0 ? `max(0, last - ${W - 1})` : '0'};
  var m = 0.0;
  var l = ${smooth ? '1.0' : '0.0'};
  var acc: array<f32, ${H}>;
  for (var h = 0u; h < ${u(H)}; h++) { acc[h] = 0.0; }
  for (var t = lo; t <= last; t++) {
    let kb = ((b * ${u(Nkv)} + g) * ${dTS} + u32(t)) * ${u(H)};
    var dot = 0.0;
    for (var h = 0u; h < ${u(H)}; h++) { dot += qr[h] * pk(kb + h); }
    var x = dot * ${f(alpha)};${capped}${biased}${smooth ? '' : '\n    if (t == lo) { m = x; }'}
    let mn = max(m, x);
    let sc = expf(m - mn);
    let e = expf(x - mn);
    l = l * sc + e;
    for (var h = 0u; h < ${u(H)}; h++) { acc[h] = acc[h] * sc + e * pv(kb + h); }
    m = mn;
  }
  let ob = ((b * ${dS} + s) * ${u(N)} + n) * ${u(H)};
  for (var h = 0u; h < ${u(H)}; h++) { out0(ob + h, acc[h] / l); }`;
  const nAttend = numelD([B, S, N]);
  const boundAttend = numel(c.outs[0]!.shape) / H;
  return [
    {
      label: `${c.node.name}/present`,
      code: main1(nPresent, presentBody, decls + STATUS_DECL, d),
      ...grid1Of(nPresent, boundPresent),
      check,
    },
    {
      label: `${c.node.name}/attend`,
      code: main1(nAttend, attendBody, decls + loadFn('pk', c.outs[1]!) + loadFn('pv', c.outs[2]!), d),
      ...grid1Of(nAttend, boundAttend),
    },
  ];
}

/** Renders an attention op, or undefined when `op` is not one. */
export function renderAttention(c: StepCtx): Kernel[] | undefined {
  if (c.node.op === 'group_query_attention') return renderGqa(c);
  return undefined;
}
