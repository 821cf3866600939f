/**
 * C kernels of the attention contrib ops (ir/ops/attention.ts): group_query_attention as one fused
 * kernel written against the BNSH cache layout (onnxruntime-genai exports), for static and runtime
 * dims alike. Per batch: the new q/k/v rows gathered (packed or separate QKV) into scratch and
 * rotated at positions past_b + s (do_rotary; half-split or interleaved), present = past rows below
 * past_b, the new rows from there, zeros after; then per query head and query, the scores of the keys
 * it sees (causal, optional local window; with the lutc-internal causal 0 every key of the batch row,
 * and a continued prompt may have batch > 1) into an O(T) scratch row, softcap, + attention_bias (its
 * [s, t] entry of batch b or 0, head n or 0), softmax (smooth: one extra zero logit) and P·V. No S×T or T×T buffer. In the shared past/present buffer mode
 * (model_inputs.kv_capacity > 0 and the same buffer given as past and present) the cache rows are
 * kv_capacity apart, the past rows stay where they are and only the S new rows are written: a decode
 * step touches O(new rows) of the cache besides reading it.
 *
 * Numerics are the interpreter's (groupQueryAttention): rotation in double rounded once to float,
 * dot products (8 partial sums: the order differs from the interpreter's only in double), softmax and
 * P·V in double (each h summed over the keys in order), each output rounded once to float. Threads
 * (lutc_threads, the model's `lutc_par` pool of emit.ts, from 2^16 work up): the present copy is one
 * task per KV head and the attention one per query head (helper functions of the step, a struct of
 * the step's locals), each head's score row its own scratch row, each output element computed by one
 * thread in the single-thread order (bit-identical for any thread count). Run-time checks:
 * seqlens_k[b] + 1 outside [S, T], a past longer than the cache given, or a position beyond the
 * cos/sin rows make model_run return LUTC_ERR_INDEX (the harness's LUT5008) with the value and limit.
 */
import { inputIndex } from '../../model-plan.js';
import { type CD, cLiteral, type StepCtx } from './cgen.js';

type Kernel = (c: StepCtx) => string;

const gqa: Kernel = (c) => {
  const a = c.attrs;
  const [N, Nkv] = [a.num_heads as number, a.kv_num_heads as number];
  const q = c.inP(0)!;
  const [B, S, D] = c.sh(q) as [CD, CD, CD];
  if (typeof D !== 'number') return c.staticShape(q) as never;
  const packed = !c.inP(inputIndex(c, 'key'));
  const H = packed ? D / (N + 2 * Nkv) : D / N;
  const heads = N + 2 * Nkv;
  const pkP = c.inP(inputIndex(c, 'past_key'));
  const P: CD = pkP ? c.sh(pkP)[2]! : 0;
  const T = c.sh(c.outP(1))[2]!;
  const [iK, iV, iPK, iPV, iSeq, iTot] = ['key', 'value', 'past_key', 'past_value', 'seqlens_k', 'total_sequence_length'].map((n) =>
    inputIndex(c, n),
  ) as [number, number, number, number, number, number];
  const [iCos, iSin] = [inputIndex(c, 'cos_cache'), inputIndex(c, 'sin_cache')];
  // attention_bias [B or 1, N or 1, S, T] (the shape rule holds its last dim to the present length)
  const abP = c.inP(inputIndex(c, 'attention_bias'));
  const abDims = abP ? c.sh(abP) : [];
  const biased = abP
    ? `x += (double)j_->ab[((${abDims[0] === 1 ? '0' : 'b'} * ${abDims[1] === 1 ? 1 : N} + ${abDims[1] === 1 ? '0' : 'n'}) * S + s) * j_->BT + t];\n          `
    : '';
  const rotary = a.do_rotary === 1;
  const half = rotary ? c.staticShape(c.inP(iCos)!)[1]! : 0;
  const maxPos = rotary ? c.staticShape(c.inP(iCos)!)[0]! : 0;
  const R = half * 2;
  if (R > H) return c.unsupported(`group_query_attention: rotary dim ${R} exceeds the head size ${H}`);
  const inter = a.rotary_interleaved === 1;
  const alpha = (a.scale as number) === 0 ? 1 / Math.sqrt(H) : (a.scale as number);
  const softcap = a.softcap as number;
  const W = a.local_window_size as number;
  const smooth = a.smooth_softmax === 1;
  // causal 0 (lutc-internal, passes/fuse-attention.ts): every query sees keys [0, tb); causal 1 code unchanged
  const causal = (a.causal as number | undefined) !== 0;
  // scratch: the new rows [heads, S, H] as float, then one row of T scores in double per query head
  // (the head loop runs on lutc_threads threads, one head per thread at a time)
  const sBound = q.shape[1]!;
  const tBound = c.outP(1).shape[2]!;
  const rowsBytes = Math.ceil((heads * sBound * H * 4) / 64) * 64;
  const scRow = Math.max(1, tBound + 1);
  const scr = c.scratch(rowsBytes + N * scRow * 8);
  const Q = c.in(0);
  // element (b, s, head, h) of the new rows in the input layout
  const src = packed
    ? `${Q}[((b * S + s) * ${heads} + n) * ${H} + h]`
    : `(n < ${N} ? ${Q}[((b * S + s) * ${N} + n) * ${H} + h] : n < ${N + Nkv} ? ${c.in(iK)}[((b * S + s) * ${Nkv} + (n - ${N})) * ${H} + h] : ${c.in(iV)}[((b * S + s) * ${Nkv} + (n - ${N + Nkv})) * ${H} + h])`;
  const rot = rotary
    ? `
  for (ptrdiff_t s = 0; s < S; s++) {
    const int64_t p = first ? (s < tb ? s : 1) : pb + s;
    if (p >= ${maxPos}) { lutc_err.index = (long long)p; lutc_err.size = ${maxPos}; return LUTC_ERR_INDEX; }
    const float *cs = ${c.in(iCos)} + p * ${half}, *sn = ${c.in(iSin)} + p * ${half};
    for (ptrdiff_t n = 0; n < ${N + Nkv}; n++) {
      float *x = rows + (n * S + s) * ${H};
      float xr[${R}];
      memcpy(xr, x, sizeof xr);
      for (int i = 0; i < ${R}; i++) {
        const int k = ${inter ? 'i >> 1' : `i % ${half}`}, j = ${inter ? 'i ^ 1' : `(i + ${half}) % ${R}`};
        const double sign = ${inter ? '(i % 2 == 0) ? -1.0 : 1.0' : `i < ${half} ? -1.0 : 1.0`};
        x[i] = (float)((double)xr[i] * (double)cs[k] + sign * (double)xr[j] * (double)sn[k]);
      }
    }
  }`
    : '';
  const capped = softcap > 0 ? `x = ${cLiteral(softcap, 'f64')} * tanh(x / ${cLiteral(softcap, 'f64')});\n          ` : '';
  // Threads: the copy and the head loop are tasks (one KV head / one query head each) of the model's
  // pool, each head's score row its own scratch row; every element is computed by one thread.
  const job = `lutc_gqa${c.stepId}`;
  const unpack = `const ${job} *j_ = (const ${job} *)ctx_;
  const float *rows = j_->rows;
  float *PK = j_->PK, *PV = j_->PV, *${c.out(0)} = j_->out;
  const ptrdiff_t b = j_->b, S = j_->S, T = j_->T, TS = j_->TS, PS = j_->PS;
  const int64_t pb = j_->pb, tb = j_->tb;
  const int shared = j_->shared;
  (void)j_->ab; (void)j_->BT;
  (void)rows; (void)PK; (void)PV; (void)${c.out(0)}; (void)b; (void)S; (void)T; (void)TS; (void)PS; (void)pb; (void)tb; (void)shared;${pkP ? `\n  const float *${c.in(iPK)} = j_->pk, *${c.in(iPV)} = j_->pv;\n  (void)${c.in(iPK)}; (void)${c.in(iPV)};` : ''}`;
  c.helper(`#ifndef LUTC_GQA_VEC
/* GNU C vectors (GCC, Clang) for the attention's double dot products and P·V: each lane does the
   scalar code's multiply and add in its order, so the results are the scalar loops' bits */
#  if defined(__GNUC__)
#    define LUTC_GQA_VEC 1
typedef float lutc_v8f __attribute__((vector_size(32)));
typedef double lutc_v8d __attribute__((vector_size(64)));
static const lutc_v8d lutc_v8d_zero = {0, 0, 0, 0, 0, 0, 0, 0};
#  else
#    define LUTC_GQA_VEC 0
#  endif
#endif
typedef struct {
  const float *rows;
  float *PK, *PV, *out;
  double *scAll;
  const float *pk, *pv;
  ptrdiff_t b, S, T, TS, PS;
  int64_t pb, tb;
  int shared;
  const float *ab;
  ptrdiff_t BT;
} ${job};
static void ${job}_copy(void *ctx_, int g_) {
  ${unpack}
  const ptrdiff_t g = g_;
  /* whole rows by memcpy: the past block (contiguous per KV head), the new rows, zeros after tb */
  float *dk = PK + (b * ${Nkv} + g) * TS * ${H}, *dv = PV + (b * ${Nkv} + g) * TS * ${H};
  ${
    pkP
      ? `if (!shared && pb > 0) {
    memcpy(dk, ${c.in(iPK)} + (b * ${Nkv} + g) * PS * ${H}, (size_t)pb * ${H} * sizeof(float));
    memcpy(dv, ${c.in(iPV)} + (b * ${Nkv} + g) * PS * ${H}, (size_t)pb * ${H} * sizeof(float));
  }`
      : '/* no past: pb is 0 */'
  }
  for (ptrdiff_t t = pb; t < tb; t++) {
    memcpy(dk + t * ${H}, rows + ((${N} + g) * S + (t - pb)) * ${H}, ${H} * sizeof(float));
    memcpy(dv + t * ${H}, rows + ((${N + Nkv} + g) * S + (t - pb)) * ${H}, ${H} * sizeof(float));
  }
  if (!shared && tb < T) {
    memset(dk + tb * ${H}, 0, (size_t)(T - tb) * ${H} * sizeof(float));
    memset(dv + tb * ${H}, 0, (size_t)(T - tb) * ${H} * sizeof(float));
  }
}
static void ${job}_heads(void *ctx_, int n_) {
  ${unpack}
  const ptrdiff_t n = n_;
    double *sc = j_->scAll + n * ${scRow};
    const ptrdiff_t g = n / ${N / Nkv};
    for (ptrdiff_t s = 0; s < S; s++) {
      const int64_t last = ${causal ? 'pb + s' : 'tb - 1'};
      const int64_t lo = ${W > 0 ? `last - ${W - 1} > 0 ? last - ${W - 1} : 0` : '0'};
      const float *qr = rows + (n * S + s) * ${H};
      double m = ${smooth ? '0.0' : '-1.0/0.0'};
      for (int64_t t = lo; t <= last; t++) {
        const float *kr = PK + ((b * ${Nkv} + g) * TS + t) * ${H};
        /* 8 independent partial sums, lane l over h = l mod 8, then a fixed tree: with GNU vectors one
           8-double vector (the same mul and add per lane: the same bits as the scalar loop) */
        ptrdiff_t h = 0;
#if LUTC_GQA_VEC
        lutc_v8d part = lutc_v8d_zero;
        for (; h + 8 <= ${H}; h += 8) {
          lutc_v8f a, k8;
          memcpy(&a, qr + h, sizeof a);
          memcpy(&k8, kr + h, sizeof k8);
          part = part + __builtin_convertvector(a, lutc_v8d) * __builtin_convertvector(k8, lutc_v8d);
        }
#else
        double part[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        for (; h + 8 <= ${H}; h += 8)
          for (int l = 0; l < 8; l++) part[l] += (double)qr[h + l] * (double)kr[h + l];
#endif
        double dot = ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7]));
        for (; h < ${H}; h++) dot += (double)qr[h] * (double)kr[h];
        double x = dot * ${cLiteral(alpha, 'f64')};
        ${capped}${biased}sc[t - lo] = x;
        m = x > m ? x : m;
      }
      double sum = ${smooth ? 'exp(-m)' : '0.0'};
      for (int64_t t = lo; t <= last; t++) { sc[t - lo] = exp(sc[t - lo] - m); sum += sc[t - lo]; }
      /* P·V key by key, every h at once (unit stride; each h sums over t in order, as the interpreter) */
${
  H % 8 === 0
    ? `#if LUTC_GQA_VEC
      /* the H accumulators as ${H / 8} vectors of 8 doubles, in registers across the keys */
      lutc_v8d acc[${H / 8}];
      for (int i = 0; i < ${H / 8}; i++) acc[i] = lutc_v8d_zero;
      for (int64_t t = lo; t <= last; t++) {
        const float *vr = PV + ((b * ${Nkv} + g) * TS + t) * ${H};
        const lutc_v8d p = lutc_v8d_zero + sc[t - lo];
        for (int i = 0; i < ${H / 8}; i++) {
          lutc_v8f v8;
          memcpy(&v8, vr + 8 * i, sizeof v8);
          acc[i] = acc[i] + p * __builtin_convertvector(v8, lutc_v8d);
        }
      }
      for (ptrdiff_t h = 0; h < ${H}; h++) ${c.out(0)}[((b * S + s) * ${N} + n) * ${H} + h] = (float)(acc[h / 8][h % 8] / sum);
#else
`
    : ''
}      double acc[${H}];
      for (ptrdiff_t h = 0; h < ${H}; h++) acc[h] = 0.0;
      for (int64_t t = lo; t <= last; t++) {
        const float *vr = PV + ((b * ${Nkv} + g) * TS + t) * ${H};
        const double p = sc[t - lo];
        for (ptrdiff_t h = 0; h < ${H}; h++) acc[h] += p * (double)vr[h];
      }
      for (ptrdiff_t h = 0; h < ${H}; h++) ${c.out(0)}[((b * S + s) * ${N} + n) * ${H} + h] = (float)(acc[h] / sum);${H % 8 === 0 ? '\n#endif' : ''}
    }
}`);
  return `const ptrdiff_t B = ${B}, S = ${S}, T = ${T}, P = ${P};
const int64_t total = (int64_t)${c.in(iTot)}[0];
const int first = (int64_t)S == total;
float *rows = (float *)${scr};
double *scAll = (double *)(${scr} + ${rowsBytes});
float *PK = ${c.out(1)}, *PV = ${c.out(2)};
/* shared past/present buffer (model_inputs.kv_capacity): past and present are one buffer of
   kv_capacity rows per head; the past rows are already in it and only the new rows are written */
const int shared = ${pkP ? `R->kvcap > 0 && (const void *)PK == (const void *)${c.in(iPK)} && (const void *)PV == (const void *)${c.in(iPV)}` : '0'};
const ptrdiff_t TS = shared ? (ptrdiff_t)R->kvcap : T, PS = shared ? (ptrdiff_t)R->kvcap : P;
if (shared && T > TS) { lutc_err.index = (long long)T; lutc_err.size = (long long)TS; return MODEL_ERR_SHAPE; }
(void)PS;
(void)P;
${causal ? 'if (S > 1 && !first && B != 1) { lutc_err.index = (long long)B; lutc_err.size = 1; return LUTC_ERR_INDEX; }\n' : ''}for (ptrdiff_t b = 0; b < B; b++) {
  const int64_t tb = (int64_t)${c.in(iSeq)}[b] + 1;
  if (tb > T || tb < S) { lutc_err.index = (long long)tb; lutc_err.size = (long long)T; return LUTC_ERR_INDEX; }
  const int64_t pb = first ? 0 : tb - S;
  if (pb > P) { lutc_err.index = (long long)pb; lutc_err.size = (long long)P; return LUTC_ERR_INDEX; }
  for (ptrdiff_t n = 0; n < ${heads}; n++)
    for (ptrdiff_t s = 0; s < S; s++)
      for (ptrdiff_t h = 0; h < ${H}; h++) rows[(n * S + s) * ${H} + h] = ${src};${rot}
  {
    /* the present copy by KV head, then the attention by query head: tasks of the model's pool
       (lutc_par; serial below 2^16 work or on one thread) */
    ${job} j_ = { rows, PK, PV, ${c.out(0)}, scAll, ${pkP ? `${c.in(iPK)}, ${c.in(iPV)}` : 'NULL, NULL'}, b, S, T, TS, PS, pb, tb, shared, ${abP ? `${c.in(inputIndex(c, 'attention_bias'))}, ${abDims[3]}` : 'NULL, 0'} };
    const int64_t cw = (int64_t)${Nkv} * (shared ? S : T) * ${H}, hw = (int64_t)${N} * S * (pb + S) * ${H};
    lutc_par(cw >= 65536 ? lutc_threads : 1, ${Nkv}, ${job}_copy, &j_);
    lutc_par(hw >= 65536 ? lutc_threads : 1, ${N}, ${job}_heads, &j_);
  }
}`;
};

export const ATTENTION_KERNELS: Record<string, Kernel> = {
  group_query_attention: gqa,
};
