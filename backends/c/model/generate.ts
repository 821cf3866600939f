/**
 * `model_generate` of the C artifact (model.h / model.c): text generation with a decoder export
 * inside the artifact, as a library call. For a graph compiler/generate.ts `decoderIO` recognizes,
 * compiled with runtime sequence dims, model.c gets the loop of compiler/generate.ts `generate`: the
 * prompt in one model_run from an empty cache, then one token per run, each present the next past
 * (the shared past/present buffer mode, `kv_capacity`, where every cache pair is a GroupQueryAttention
 * one: one buffer per pair, only new rows written; else two buffers per cache tensor swapped by
 * pointer), until `max_new_tokens` or an end-of-sequence id. Every buffer lives in the caller's
 * workspace (`model_generate_workspace_size()` bytes: model_run's workspace, the step I/O, the cache
 * and the sampler's scratch), so a call allocates nothing and calls on distinct workspaces are
 * independent, as model_run's are. Threads: model_set_threads, as for model_run.
 *
 * Tokens are `lutc_pick_token`'s (SAMPLER_C), a port of compiler/generate.ts `pickToken` and
 * base/random.ts `seededRandom` (mulberry32) operation for operation in double and uint32, with a
 * stable merge sort (descending logit, ties by index: the comparator's total order, so any correct
 * sort gives JavaScript's order) and `lutc_exp`, fdlibm's exp algorithm, the one JavaScript engines'
 * Math.exp implements (libm's exp may differ in the last bit): for the same logits, options and seed
 * the C artifact picks the tokens compiler/generate.ts picks (built with the required
 * -ffp-contract=off).
 *
 * Contract: model_generate returns MODEL_OK, MODEL_ERR_ARGS (NULL or misaligned workspace, no
 * prompt, max_new_tokens < 1, sampling out of range, or a model that cannot generate:
 * MODEL_CAN_GENERATE 0, the reason in MODEL_GENERATE_WHY), MODEL_ERR_DIM_BOUND before any run when the
 * prompt or prompt + max_new_tokens - 1 exceeds a compiled bound (model_last_error: the input, its dim,
 * the length needed, the bound), MODEL_ERR_NAN (the logits hold NaN: model_last_error's index is the
 * vocabulary entry, lutc's LUT6043), or what a model_run returned. A model that is not such a decoder
 * (or one compiled with static shapes) still declares model_generate: it returns MODEL_ERR_ARGS.
 */
import { LutcError } from '../../../base/diagnostics.js';
import { type DecoderIO, decoderIO } from '../../../compiler/generate.js';
import type { Dim, Graph } from '../../../ir/types.js';
import { cString, ctype } from './cgen.js';
import type { CIo } from './harness.js';

/**
 * The sampler (static C, part of model.c): `lutc_random` is seededRandom's generator on a uint32
 * state, `lutc_exp` fdlibm's exp, `lutc_pick_token` pickToken (a NaN at i returns -1 - i). Scratch:
 * `order` and `tmp` V int32 each, `w` V doubles (sampling only).
 */
export const SAMPLER_C = `/* base/random.ts seededRandom (mulberry32): the next uniform [0, 1) of state *a */
static double lutc_random(uint32_t *a) {
  uint32_t t;
  *a += 0x6d2b79f5u;
  t = *a;
  t = (t ^ (t >> 15)) * (t | 1u);
  t ^= t + (t ^ (t >> 7)) * (t | 61u);
  return (double)(t ^ (t >> 14)) / 4294967296.0;
}

/* exp(x) by fdlibm's algorithm (argument reduction by k ln2, a degree-5 rational approximation,
   exp(1) exact), bit for bit what JavaScript's Math.exp returns; needs -ffp-contract=off. */
static double lutc_exp(double x) {
  static const double half[2] = {0.5, -0.5};
  static const double ln2hi[2] = {6.93147180369123816490e-01, -6.93147180369123816490e-01};
  static const double ln2lo[2] = {1.90821492927058770002e-10, -1.90821492927058770002e-10};
  const double invln2 = 1.44269504088896338700e+00;
  const double p1 = 1.66666666666666019037e-01, p2 = -2.77777777770155933842e-03, p3 = 6.61375632143793436117e-05;
  const double p4 = -1.65339022054652515390e-06, p5 = 4.13813679705723846039e-08;
  const double twom1000 = 9.33263618503218878990e-302, two1023 = 8.988465674311579539e307;
  uint64_t bits;
  double hi = 0, lo = 0, t, c, y, twopk;
  int k = 0, xsb;
  uint32_t hx;
  memcpy(&bits, &x, sizeof bits);
  hx = (uint32_t)(bits >> 32);
  xsb = (int)(hx >> 31);
  hx &= 0x7fffffffu;
  if (hx >= 0x40862e42u) {
    if (hx >= 0x7ff00000u) {
      if (((hx & 0xfffffu) | (uint32_t)bits) != 0) return x + x; /* NaN */
      return xsb == 0 ? x : 0.0;
    }
    if (x > 7.09782712893383973096e+02) return HUGE_VAL;
    if (x < -7.45133219101941108420e+02) return 0.0;
  }
  if (hx > 0x3fd62e42u) {
    if (hx < 0x3ff0a2b2u) {
      if (x == 1.0) return 2.718281828459045;
      hi = x - ln2hi[xsb];
      lo = ln2lo[xsb];
      k = 1 - xsb - xsb;
    } else {
      k = (int)(invln2 * x + half[xsb]);
      t = (double)k;
      hi = x - t * ln2hi[0];
      lo = t * ln2lo[0];
    }
    x = hi - lo;
  } else if (hx < 0x3e300000u) {
    return 1.0 + x;
  }
  t = x * x;
  bits = (uint64_t)(0x3ff00000u + ((uint32_t)(k >= -1021 ? k : k + 1000) << 20)) << 32;
  memcpy(&twopk, &bits, sizeof twopk);
  c = x - t * (p1 + t * (p2 + t * (p3 + t * (p4 + t * p5))));
  if (k == 0) return 1.0 - ((x * c) / (c - 2.0) - x);
  y = 1.0 - ((lo - (x * c) / (2.0 - c)) - hi);
  if (k >= -1021) return k == 1024 ? y * 2.0 * two1023 : y * twopk;
  return y * twopk * twom1000;
}

/* pickToken: temperature <= 0 the first maximum; else the tokens by descending logit (ties by
   index), the first top_k (0: all), softmax at temperature in double, the shortest prefix reaching
   top_p, renormalized, and the token where lutc_random falls in the cumulative sum. A NaN at i: -1 - i. */
static int64_t lutc_pick_token(const float *row, int V, double temperature, int top_k, double top_p, uint32_t *rng,
                               int32_t *order, int32_t *tmp, double *w) {
  int best = 0, n, keep, k;
  double top, total = 0, cum, mass = 0, u;
  for (int i = 0; i < V; i++) {
    if (row[i] != row[i]) return -1 - (int64_t)i;
    if (row[i] > row[best]) best = i;
  }
  if (!(temperature > 0)) return best;
  /* stable bottom-up merge sort of 0..V-1, descending by logit (so ties stay in index order) */
  for (int i = 0; i < V; i++) order[i] = i;
  for (int64_t width = 1; width < V; width *= 2) {
    for (int64_t lo = 0; lo < V; lo += 2 * width) {
      const int64_t mid = lo + width < V ? lo + width : V, hi = lo + 2 * width < V ? lo + 2 * width : V;
      int64_t i = lo, j = mid, o = lo;
      while (i < mid && j < hi) tmp[o++] = row[order[j]] > row[order[i]] ? order[j++] : order[i++];
      while (i < mid) tmp[o++] = order[i++];
      while (j < hi) tmp[o++] = order[j++];
    }
    { int32_t *s = order; order = tmp; tmp = s; }
  }
  keep = top_k > 0 && top_k < V ? top_k : V;
  top = (double)row[order[0]];
  for (k = 0; k < keep; k++) w[k] = lutc_exp(((double)row[order[k]] - top) / temperature);
  for (k = 0; k < keep; k++) total += w[k];
  n = keep;
  if (top_p < 1) {
    cum = 0;
    for (n = 0; n < keep;) {
      cum += w[n] / total;
      n++;
      if (cum >= top_p) break;
    }
  }
  for (k = 0; k < n; k++) mass += w[k];
  u = lutc_random(rng) * mass;
  cum = 0;
  for (k = 0; k < n; k++) {
    cum += w[k];
    if (u < cum) return order[k];
  }
  return order[n - 1];
}`;

/** What model_generate renders from: the decoder's I/O, or why the model cannot generate. */
export type GenerateSupport = { io: DecoderIO; why?: undefined } | { io?: undefined; why: string };

/** The decoder I/O of `g` when model_generate can run it (a decoder with runtime sequence dims). */
export function generateSupport(g: Graph, ins: CIo[]): GenerateSupport {
  let io: DecoderIO;
  try {
    io = decoderIO(g);
  } catch (e) {
    const why = e instanceof LutcError ? (e.diagnostics[0]?.message ?? 'not a decoder') : String(e);
    return { why: why.replace(/^generate: /, '') };
  }
  const dyn = (name: string) => !!ins.find((x) => x.name === name)?.placement.dims;
  if (!dyn(io.inputIds) || io.cache.some((c) => !dyn(c.past)))
    return { why: 'the model was compiled with static shapes; compile it with runtime sequence dims (--max-dim)' };
  return { io };
}

/** model.h's generation API (always declared; MODEL_CAN_GENERATE says whether it can run). */
export function renderGenerateDecl(support: GenerateSupport): string {
  return `
/* Generation (decoder exports compiled with runtime sequence dims; docs/c-model.md "model_generate").
   MODEL_CAN_GENERATE 0: model_generate returns MODEL_ERR_ARGS, for the reason MODEL_GENERATE_WHY. */
#define MODEL_CAN_GENERATE ${support.io ? 1 : 0}
#define MODEL_GENERATE_WHY ${cString(support.why ?? '')}
#define MODEL_ERR_NAN 10           /* model_generate: the logits hold NaN (index: the vocabulary entry; lutc's LUT6043) */
/* Sampling (compiler/generate.ts pickToken; NULL or temperature 0: greedy, the first maximum).
   top_k: keep the K most likely tokens (0: all); top_p: keep the most likely tokens whose
   probabilities reach it, in (0, 1] (0 is taken as 1: a zeroed struct keeps all); seed: base/random.ts's
   generator, so one seed gives the tokens lutc generate gives on every target. */
typedef struct model_sampling { double temperature; int top_k; double top_p; uint32_t seed; } model_sampling;
/* Called with each new token as it is produced; return 0 to go on, nonzero to stop after it. */
typedef int (*model_token_fn)(int64_t token, void *user);
/* Bytes of workspace model_generate needs (model_run's, the step I/O, the KV cache, the sampler's
   scratch; 0 when MODEL_CAN_GENERATE is 0); align it to 64 bytes (16 at least). */
size_t model_generate_workspace_size(void);
/* Generates up to max_new_tokens tokens after the n_prompt ids of prompt: the prompt in one model_run
   from an empty cache, then one token per run, the KV cache kept in the workspace, stopping after a
   token of eos_ids (n_eos ids; it is included) or when on_token returns nonzero. tokens (NULL, or room
   for max_new_tokens) gets the new tokens, *n_tokens (NULL allowed) their count, also on error;
   on_token (NULL allowed) each as it comes, with user. Needs prompt + max_new_tokens - 1 within the
   compiled bounds (else MODEL_ERR_DIM_BOUND before any run). Returns MODEL_OK, MODEL_ERR_ARGS,
   MODEL_ERR_DIM_BOUND, MODEL_ERR_NAN or a failed model_run's code (model_last_error() says more). */
int model_generate(const int64_t *prompt, int n_prompt, int max_new_tokens, const int64_t *eos_ids, int n_eos,
                   const model_sampling *sampling, int64_t *tokens, int *n_tokens, model_token_fn on_token, void *user,
                   void *workspace);
`;
}

const align64 = (x: number) => Math.ceil(x / 64) * 64;
const dimName = (d: Dim | undefined) => (d === undefined ? '?' : String(d));

/**
 * model.c's model_generate and model_generate_workspace_size. `modelWs`: model_workspace_size();
 * `sharedPresents`: the presents of emit.ts's kvPairs (the shared past/present buffer mode when every
 * cache pair is one).
 */
export function renderGenerateSource(
  support: GenerateSupport,
  ins: CIo[],
  outs: CIo[],
  sharedPresents: ReadonlySet<string>,
  modelWs: number,
): string {
  const io = support.io;
  if (!io)
    return `
size_t model_generate_workspace_size(void) { return 0; }
int model_generate(const int64_t *prompt, int n_prompt, int max_new_tokens, const int64_t *eos_ids, int n_eos,
                   const model_sampling *sampling, int64_t *tokens, int *n_tokens, model_token_fn on_token, void *user,
                   void *workspace) {
  (void)prompt; (void)n_prompt; (void)max_new_tokens; (void)eos_ids; (void)n_eos; (void)sampling; (void)tokens;
  (void)on_token; (void)user; (void)workspace;
  if (n_tokens) *n_tokens = 0;
  return MODEL_ERR_ARGS; /* MODEL_CAN_GENERATE 0: MODEL_GENERATE_WHY */
}
`;
  const inOf = (name: string) => ins.find((x) => x.name === name)!;
  const outOf = (name: string) => outs.find((x) => x.name === name)!;
  const ids = inOf(io.inputIds);
  const mask = io.attentionMask ? inOf(io.attentionMask) : undefined;
  const pos = io.positionIds ? inOf(io.positionIds) : undefined;
  const logits = outOf(io.logits);
  const V = logits.placement.shape[logits.placement.shape.length - 1]!;
  const T = (x: CIo) => ctype(x.placement.dtype);
  const cache = io.cache.map((c, k) => ({ k, past: inOf(c.past), present: outOf(c.present) }));
  const kvShared = cache.length > 0 && cache.every((c) => sharedPresents.has(c.present.name));
  const others = outs.filter((o) => o !== logits && !cache.some((c) => c.present === o));
  // shared mode: every present's rows per head at the bound of its sequence dim
  const capacity = Math.max(1, ...cache.map((c) => c.present.placement.shape[2] ?? 1));

  // the workspace: model_run's, then each buffer at a 64-byte offset
  let off = align64(modelWs);
  const at = (bytes: number) => {
    const o = off;
    off += align64(bytes + 1);
    return o;
  };
  const idsAt = at(ids.placement.bytes);
  const maskAt = mask ? at(mask.placement.bytes) : 0;
  const posAt = pos ? at(pos.placement.bytes) : 0;
  const logitsAt = at(logits.placement.bytes);
  const kvAt = cache.map((c) => {
    const bytes = kvShared ? c.present.placement.bytes : Math.max(c.past.placement.bytes, c.present.placement.bytes);
    const a = at(bytes);
    return [a, kvShared ? a : at(bytes)] as const;
  });
  const othersAt = others.map((o) => at(o.placement.bytes));
  const orderAt = at(4 * V);
  const tmpAt = at(4 * V);
  const wAt = at(8 * V);
  const total = off;

  // the bounds a call needs: the prompt in one run, prompt + new - 1 tokens in the last
  const bound = (x: CIo, axis: number, need: string) =>
    `  if (${need} > ${x.placement.shape[axis]}) { lutc_err.node = ${cString(x.name)}; lutc_err.op = ${cString(dimName(x.placement.dims?.[axis]))}; lutc_err.index = (long long)(${need}); lutc_err.size = ${x.placement.shape[axis]}; return MODEL_ERR_DIM_BOUND; }`;
  const checks = [
    bound(ids, 1, 'n_prompt'),
    ...(pos ? [bound(pos, 1, 'n_prompt')] : []),
    ...(mask ? [bound(mask, 1, 'last')] : []),
    ...cache.flatMap((c) => [bound(c.past, 2, 'last - 1'), bound(c.present, 2, 'last')]),
  ];
  const setShape = (x: CIo, dims: string[]) => dims.map((d, a) => `in.${x.field}_shape[${a}] = ${d};`).join(' ');
  const ptr = (o: number) => `(void *)(G + ${o})`;
  return `
${SAMPLER_C}

size_t model_generate_workspace_size(void) { return ${total}; }
int model_generate(const int64_t *prompt, int n_prompt, int max_new_tokens, const int64_t *eos_ids, int n_eos,
                   const model_sampling *sampling, int64_t *tokens, int *n_tokens, model_token_fn on_token, void *user,
                   void *workspace) {
  unsigned char *G = (unsigned char *)workspace;
  const double temperature = sampling ? sampling->temperature : 0;
  const int top_k = sampling ? sampling->top_k : 0;
  const double top_p = sampling && sampling->top_p != 0 ? sampling->top_p : 1;
  uint32_t rng = sampling ? sampling->seed : 0;
  int made = 0, rc;
  int64_t past = 0, S = n_prompt, last;
  if (n_tokens) *n_tokens = 0;
  if (!G || ((uintptr_t)G & 15u) || !prompt || n_prompt < 1 || max_new_tokens < 1 || n_eos < 0 || (n_eos > 0 && !eos_ids)) return MODEL_ERR_ARGS;
  if (!(temperature >= 0) || top_k < 0 || !(top_p > 0 && top_p <= 1)) return MODEL_ERR_ARGS;
  last = (int64_t)n_prompt + max_new_tokens - 1;
${checks.join('\n')}
  model_inputs in;
  model_outputs out;
  memset(&in, 0, sizeof in);
  memset(&out, 0, sizeof out);
  ${T(ids)} *ids = (${T(ids)} *)${ptr(idsAt)};
  in.${ids.field} = ids;
${
  mask
    ? `  ${T(mask)} *mask = (${T(mask)} *)${ptr(maskAt)};
  in.${mask.field} = mask;
  for (int64_t i = 0; i < last; i++) mask[i] = 1;
`
    : ''
}${
  pos
    ? `  ${T(pos)} *pos = (${T(pos)} *)${ptr(posAt)};
  in.${pos.field} = pos;
`
    : ''
}  float *logits = (float *)${ptr(logitsAt)};
  out.${logits.field} = logits;
${
  kvShared
    ? `  /* one buffer per cache pair, past and present alike (model_inputs.kv_capacity): new rows only */
  in.kv_capacity = ${capacity};`
    : '  /* two buffers per cache tensor: the present written this run is the past of the next */'
}
  void *kv[${Math.max(1, cache.length)}][2];
${cache.map((c) => `  kv[${c.k}][0] = ${ptr(kvAt[c.k]![0])}; kv[${c.k}][1] = ${ptr(kvAt[c.k]![1])};`).join('\n')}
${others.map((o, i) => `  out.${o.field} = (${T(o)} *)${ptr(othersAt[i]!)};`).join('\n')}
  (void)kv;
  for (int64_t i = 0; i < S; i++) ids[i] = (${T(ids)})prompt[i];
  while (made < max_new_tokens) {
    ${setShape(ids, ['1', 'S'])}
${mask ? `    ${setShape(mask, ['1', 'past + S'])}\n` : ''}${
  pos
    ? `    ${setShape(pos, ['1', 'S'])}
    for (int64_t i = 0; i < S; i++) pos[i] = (${T(pos)})(past + i);
`
    : ''
}${cache
  .map(
    (c) =>
      `    in.${c.past.field} = (const ${T(c.past)} *)kv[${c.k}][made & 1]; out.${c.present.field} = (${T(c.present)} *)kv[${c.k}][(made + 1) & 1]; ${setShape(c.past, ['1', String(c.past.placement.shape[1]), 'past', String(c.past.placement.shape[3])])}`,
  )
  .join('\n')}
    if ((rc = model_run(&in, &out, G)) != MODEL_OK) return rc;
    const int64_t id = lutc_pick_token(logits + (S - 1) * ${V}, ${V}, temperature, top_k, top_p, &rng, (int32_t *)${ptr(orderAt)}, (int32_t *)${ptr(tmpAt)}, (double *)${ptr(wAt)});
    if (id < 0) { lutc_err.node = "logits"; lutc_err.op = "generate"; lutc_err.index = -1 - id; lutc_err.size = ${V}; return MODEL_ERR_NAN; }
    if (tokens) tokens[made] = id;
    made++;
    if (n_tokens) *n_tokens = made;
    int stop = on_token ? on_token(id, user) != 0 : 0;
    for (int e = 0; e < n_eos; e++) stop |= eos_ids[e] == id;
    if (stop) break;
    past += S;
    S = 1;
    ids[0] = (${T(ids)})id;
  }
  return MODEL_OK;
}
`;
}
