/**
 * lut.gemm in whole-model C: each layer calls the tuned per-layer kernel that backends/c/render.ts
 * renders (the same renderer as `lutc kernel --target c`: AVX-512 VNNI / AVX2 / NEON / scalar chosen
 * by the C compiler's predefined macros, -DLUTC_ISA or `--isa`; no second copy of the algorithm here).
 *
 * A lut.gemm step reads its activation x and the canonical weights of lut-weights.ts (emit.ts
 * swaps its q for the stored bit stream). model_load_weights (the loader rendered here) unpacks each
 * layer's q bits and calls the layer kernel's `*_pack` into model-owned memory, so the packed layout
 * is the one of the ISA the C compiler chose. The step then runs `*_gemm(x -> y)` with the bias in
 * the kernel and the rest of the fused epilogue (channel scale, activation, residual: the graph-op
 * stages of ir/lut/epilogue.ts, each the expression of kernels-elementwise.ts for that op) as a
 * post-loop over y, in interp.ts interpMatmul's order.
 *
 * One rendered kernel per distinct (N, K, bits, group, tables); one packed copy per layer. The loader
 * also saves and reuses that packed layout as an image (`lutc_lut_save` / `lutc_lut_use`: model.h's
 * model_save_packed / model_load_packed, the harness's weights.packed.bin), checked by a header of
 * the ISA, the blob's hash, the layer count and the size.
 */

import { epilogueStages, foldStages, GEMM_EPILOGUE_OPERAND } from '../../../ir/lut/epilogue.js';
import { type Bits, lutGeometry } from '../../../ir/lut/geometry.js';
import type { Attrs } from '../../../ir/types.js';
import type { CIsa } from '../csrc-prelude.js';
import { planFromRequest, renderKernel } from '../render.js';
import { deq, dmul, isSym, prod, type StepCtx } from './cgen.js';
import { floatBinaryExpr, unaryExpr } from './kernels-elementwise.js';
import { LUT_Q, LUT_SCALES, LUT_ZEROS } from './lut-weights.js';

interface Layer {
  prefix: string;
  m: number;
  bits: number;
  nk: number;
  qOff: number;
  sOff: number;
  zOff: number;
  scratch: number;
}

/**
 * Upper bound of the kernel's `*_scratch_bytes(m)` over every ISA build (csrc-driver.ts: int8 or f32
 * tables, the AVX-512 x4 table replica, the padded activation row, alignment slack). The loader checks
 * the real value against it at load time (MODEL_ERR_INTERNAL), so the workspace size can be a
 * compile-time constant (MODEL_WORKSPACE_BYTES) and the kernel never mallocs per call.
 */
export function lutScratchBound(k: number, groupSize: number, bits: Bits, m: number): number {
  const g = lutGeometry({ n: 1, k, bits, groupSize, vecBytes: 16 });
  const i8 = m * g.nChunks * 16 + 2 * m * g.nSegments * 4;
  const f32 = m * g.nChunks * 64 + m * g.nSegments * 4;
  return Math.max(i8, f32) + m * g.nChunks * 64 + g.kPad * 4 + 256;
}

/**
 * The threads argument of a lut.gemm call: the model's (`lutc_threads`), or 1 where lutc tune's entry
 * said one thread wins (lut.gemm threads_m1 for M = 1, threads_mn for M > 1; passes/tile.ts), chosen
 * per call when M is a runtime dim.
 */
function threadsArg(a: Attrs, m: string | number): string {
  const t1 = a.threads_m1 === 'one' ? '1' : 'lutc_threads';
  const tn = a.threads_mn === 'one' ? '1' : 'lutc_threads';
  if (t1 === tn) return t1;
  if (typeof m === 'number') return m > 1 ? tn : t1;
  return `((${m}) > 1 ? ${tn} : ${t1})`;
}

/** Collects the LUT layers of one model while its steps render; then renders kernels and loader. */
export class LutLayers {
  private readonly kernels = new Map<string, { prefix: string; decls: string; defs: string }>();
  private readonly layers: Layer[] = [];

  /**
   * `base`: symbol prefix unique to this model (kernel functions are external symbols); `isa`: the
   * ISA path every kernel is pinned to (absent: chosen by the C compiler's predefined macros).
   */
  constructor(
    private readonly base: string,
    private readonly isa?: CIsa,
  ) {}

  get count(): number {
    return this.layers.length;
  }

  private kernelFor(a: Attrs, m: number): string {
    const key = [a.n, a.k, a.bits, a.group_size, a.tables].join(',');
    let kr = this.kernels.get(key);
    if (!kr) {
      const prefix = `${this.base}_k${this.kernels.size}`;
      const plan = planFromRequest({
        n: a.n as number,
        k: a.k as number,
        m,
        bits: a.bits as Bits,
        groupSize: a.group_size as number,
        tables: a.tables as 'i8' | 'f32',
        name: prefix,
        ...(this.isa ? { isa: this.isa } : {}),
      });
      kr = { prefix, ...renderKernel(plan) };
      this.kernels.set(key, kr);
    }
    return kr.prefix;
  }

  /** The lut.gemm step. */
  readonly gemm = (c: StepCtx): string => {
    const a = c.attrs;
    const n = a.n as number,
      k = a.k as number,
      bits = a.bits as Bits;
    // m: the rows of this run (a runtime dim expression or a number); mMax: at the dims' bounds,
    // what the kernel plan, the scratch bound and the loader's check are sized for
    const out = c.outP(0);
    const m = prod(c.sh(out).slice(0, -1));
    const mMax = Math.max(1, prod(out.shape) / n);
    if (!deq(c.numel(c.inP(0)!), dmul(m, k)))
      c.unsupported(`lut.gemm activation [${c.sh(c.inP(0)!).join(', ')}] does not hold ${m} rows of K=${k}`);
    const prefix = this.kernelFor(a, mMax);
    const j = this.layers.length;
    const scratch = lutScratchBound(k, a.group_size as number, bits, mMax);
    this.layers.push({
      prefix,
      m: mMax,
      bits,
      nk: n * k,
      qOff: c.inP(LUT_Q)!.offset,
      sOff: c.inP(LUT_SCALES)!.offset,
      zOff: c.inP(LUT_ZEROS)!.offset,
      scratch,
    });
    // Fused epilogue stages after the kernel's y = lut(x) + bias (ir/lut/epilogue.ts), each rendered by
    // the elementwise renderer's expression for its op; value 0 is y, stage i writes v<i+1>.
    const stages = epilogueStages(a, (i) => !!c.inP(i), GEMM_EPILOGUE_OPERAND);
    let epi = '';
    const operand = (i: number) => (i === GEMM_EPILOGUE_OPERAND.channel_scale ? `${c.in(i)}[n]` : `${c.in(i)}[t * ${n} + n]`);
    const last = foldStages(stages, 'y', operand, (s, args, i) => {
      const e = args.length === 1 ? unaryExpr(s.op, 'f32', s.attrs, args[0]!) : floatBinaryExpr(s.op, args[0]!, args[1]!);
      if (e === undefined) c.unsupported(`lut.gemm epilogue stage '${s.op}' has no C rendering`);
      epi += `const float v${i + 1} = ${e};\n    `;
      return `v${i + 1}`;
    });
    if (stages.length) epi += `y = ${last};\n    `;
    const call = `/* N=${n} K=${k} bits=${bits} group=${String(a.group_size)} tables=${String(a.tables)} M=${m}: ${prefix} (docs/c-kernel.md) */
if (${prefix}_gemm(lutc_pk[${j}], lutc_sw[${j}], lutc_swz[${j}], ${c.inP(GEMM_EPILOGUE_OPERAND.bias) ? c.in(GEMM_EPILOGUE_OPERAND.bias) : 'NULL'}, ${c.in(0)}, ${c.out(0)}, ${isSym(m) ? `(int)${m}` : m}, ${c.scratch(scratch)}, ${threadsArg(a, isSym(m) ? `(int)${m}` : (m as number))}) != 0)
  return MODEL_ERR_INTERNAL;`;
    if (!epi) return call;
    // Fused epilogue after the kernel's y = lut(x) + bias, in interpMatmul's order.
    return `${call}
${c.omp(mMax * n * 8, '', dmul(m, n))}
for (ptrdiff_t t = 0; t < ${m}; t++)
  for (ptrdiff_t n = 0; n < ${n}; n++) {
    float y = ${c.out(0)}[t * ${n} + n];
    ${epi}${c.out(0)}[t * ${n} + n] = y;
  }`;
  };

  /** Prototypes and definitions of every rendered kernel (each pastes the guarded ISA prelude). */
  renderKernels(): string {
    return [...this.kernels.values()].map((kr) => `${kr.decls}\n${kr.defs}`).join('\n');
  }

  /**
   * The loader: a table of layers (kernel entry points, blob offsets of the canonical weights, M and
   * the scratch bound), model-owned packed weights, `lutc_lut_load` / `lutc_lut_release`.
   */
  renderLoader(): string {
    const L = this.layers.length;
    if (L === 0)
      return 'static int lutc_lut_load(const unsigned char *W) { (void)W; return MODEL_OK; }\nstatic void lutc_lut_release(void) {}\nstatic size_t lutc_lut_bytes = 0;\nstatic int lutc_lut_ready = 1;\nstatic size_t lutc_lut_image_bytes(void) { return 0; }\nstatic int lutc_lut_save(unsigned char *out, uint32_t hash) { (void)out; (void)hash; return MODEL_OK; }\nstatic int lutc_lut_use(const unsigned char *img, size_t n, uint32_t hash) { (void)img; (void)hash; return n == 0 ? MODEL_OK : MODEL_ERR_PACKED; }';
    const rows = this.layers.map(
      (l) =>
        `  { ${l.prefix}_packed_bytes, ${l.prefix}_scales_len, ${l.prefix}_scratch_bytes, ${l.prefix}_pack, ${l.qOff}u, ${l.sOff}u, ${l.zOff}u, ${l.nk}u, ${l.scratch}u, ${l.bits}, ${l.m} }`,
    );
    return String.raw`/* LUT layers: canonical weights in the blob (q bits LSB first, scales, zeros: lut-weights.ts),
   repacked at load time by each layer kernel's packer for the ISA this file was compiled for. */
typedef struct lutc_layer {
  size_t (*packed_bytes)(void);
  size_t (*scales_len)(void);
  size_t (*scratch_bytes)(int);
  void (*pack)(const uint8_t *, const float *, const float *, uint8_t *, float *, float *);
  size_t q_off, s_off, z_off, nk, scratch_max;
  int bits, m;
} lutc_layer;
static const lutc_layer lutc_layers[${L}] = {
${rows.join(',\n')}
};
static unsigned char *lutc_lut_mem = NULL; /* one allocation holds every layer's packed weights, sw, swz */
static size_t lutc_lut_bytes = 0;
static const unsigned char *lutc_lut_payload = NULL; /* the 64-aligned start of that layout, wherever it lives */
static int lutc_lut_ready = 0;
static const uint8_t *lutc_pk[${L}];
static const float *lutc_sw[${L}], *lutc_swz[${L}];
#define LUTC_AL64(x) (((size_t)(x) + 63) & ~(size_t)63)
static void lutc_lut_release(void) {
  free(lutc_lut_mem);
  lutc_lut_mem = NULL;
  lutc_lut_bytes = 0;
  lutc_lut_payload = NULL;
  lutc_lut_ready = 0;
}
/* q[i] = the i-th bits-wide code of the LSB-first stream qs (which has a pad byte, so o/8 + 1 is in range).
   Widths 1, 2 and 4 take whole bytes, written out so the loops vectorize. */
static void lutc_unpack(const unsigned char *restrict qs, uint8_t *restrict q, size_t nk, int bits) {
  size_t i = 0;
  if (bits == 4) {
    const size_t nb = nk / 2;
    for (size_t j = 0; j < nb; j++) { q[2 * j] = (uint8_t)(qs[j] & 15u); q[2 * j + 1] = (uint8_t)(qs[j] >> 4); }
    i = 2 * nb;
  } else if (bits == 2) {
    const size_t nb = nk / 4;
    for (size_t j = 0; j < nb; j++) {
      const unsigned b = qs[j];
      q[4 * j] = (uint8_t)(b & 3u); q[4 * j + 1] = (uint8_t)((b >> 2) & 3u); q[4 * j + 2] = (uint8_t)((b >> 4) & 3u); q[4 * j + 3] = (uint8_t)(b >> 6);
    }
    i = 4 * nb;
  } else if (bits == 1) {
    const size_t nb = nk / 8;
    for (size_t j = 0; j < nb; j++)
      for (unsigned u = 0; u < 8; u++) q[8 * j + u] = (uint8_t)((qs[j] >> u) & 1u);
    i = 8 * nb;
  }
  const unsigned mask = (1u << bits) - 1u;
  for (; i < nk; i++) {
    const size_t o = i * (size_t)bits;
    q[i] = (uint8_t)((((unsigned)qs[o >> 3] | ((unsigned)qs[(o >> 3) + 1] << 8)) >> (o & 7)) & mask);
  }
}
static int lutc_lut_load(const unsigned char *W) {
  size_t total = 64, qmax = 1;
  for (int j = 0; j < ${L}; j++) {
    const lutc_layer *l = &lutc_layers[j];
    if (l->scratch_bytes(l->m) > l->scratch_max) return MODEL_ERR_INTERNAL; /* workspace bound too small: a lutc bug */
    total += LUTC_AL64(l->packed_bytes()) + 2 * LUTC_AL64(sizeof(float) * l->scales_len());
    if (l->nk > qmax) qmax = l->nk;
  }
  unsigned char *mem = (unsigned char *)malloc(total);
  uint8_t *q = (uint8_t *)malloc(qmax);
  if (!mem || !q) { free(mem); free(q); return MODEL_ERR_NO_MEMORY; }
  unsigned char *p = (unsigned char *)(((uintptr_t)mem + 63) & ~(uintptr_t)63);
  for (int j = 0; j < ${L}; j++) {
    const lutc_layer *l = &lutc_layers[j];
    const unsigned char *qs = W + l->q_off;
    lutc_unpack(qs, q, l->nk, l->bits);
    uint8_t *pk = (uint8_t *)p;
    p += LUTC_AL64(l->packed_bytes());
    float *sw = (float *)(void *)p;
    p += LUTC_AL64(sizeof(float) * l->scales_len());
    float *swz = (float *)(void *)p;
    p += LUTC_AL64(sizeof(float) * l->scales_len());
    l->pack(q, (const float *)(const void *)(W + l->s_off), (const float *)(const void *)(W + l->z_off), pk, sw, swz);
    lutc_pk[j] = pk;
    lutc_sw[j] = sw;
    lutc_swz[j] = swz;
  }
  free(q);
  free(lutc_lut_mem);
  lutc_lut_mem = mem;
  lutc_lut_bytes = total;
  lutc_lut_payload = (const unsigned char *)(((uintptr_t)mem + 63) & ~(uintptr_t)63);
  lutc_lut_ready = 1;
  return MODEL_OK;
}
/* The packed image (weights.packed.bin, model_save_packed): a 64-byte header (magic "LUTCPAK2": layout
   2, row-block-major scales and the pack trailer; u32 LUTC_ISA, u32 the blob's hash, u32 layer count, u32 0, u64 payload bytes, zeros), then the payload:
   the layers' packed weights, sw and swz in lutc_lut_load's layout (each part 64-byte aligned). */
static size_t lutc_lut_payload_bytes(void) {
  size_t total = 0;
  for (int j = 0; j < ${L}; j++)
    total += LUTC_AL64(lutc_layers[j].packed_bytes()) + 2 * LUTC_AL64(sizeof(float) * lutc_layers[j].scales_len());
  return total;
}
static size_t lutc_lut_image_bytes(void) { return 64 + lutc_lut_payload_bytes(); }
static void lutc_lut_header(unsigned char *h, uint32_t hash) {
  const uint32_t w[4] = {(uint32_t)LUTC_ISA, hash, ${L}u, 0u};
  const uint64_t pb = (uint64_t)lutc_lut_payload_bytes();
  memset(h, 0, 64);
  memcpy(h, "LUTCPAK2", 8);
  memcpy(h + 8, w, sizeof w);
  memcpy(h + 24, &pb, sizeof pb);
}
static int lutc_lut_save(unsigned char *out, uint32_t hash) {
  if (!lutc_lut_ready || !lutc_lut_payload) return MODEL_ERR_NO_WEIGHTS;
  lutc_lut_header(out, hash);
  memcpy(out + 64, lutc_lut_payload, lutc_lut_payload_bytes());
  return MODEL_OK;
}
/* Points every layer into img (no copy, no packing): MODEL_ERR_PACKED unless it is this model's image
   for this build's ISA (header equal to the one lutc_lut_save writes, size, 64-byte alignment). */
static int lutc_lut_use(const unsigned char *img, size_t n, uint32_t hash) {
  unsigned char want[64];
  lutc_lut_header(want, hash);
  if (!img || ((uintptr_t)img & 63u) != 0 || n != lutc_lut_image_bytes() || memcmp(img, want, 64) != 0) return MODEL_ERR_PACKED;
  const unsigned char *p = img + 64;
  for (int j = 0; j < ${L}; j++) {
    const lutc_layer *l = &lutc_layers[j];
    if (l->scratch_bytes(l->m) > l->scratch_max) return MODEL_ERR_INTERNAL;
    lutc_pk[j] = (const uint8_t *)p;
    p += LUTC_AL64(l->packed_bytes());
    lutc_sw[j] = (const float *)(const void *)p;
    p += LUTC_AL64(sizeof(float) * l->scales_len());
    lutc_swz[j] = (const float *)(const void *)p;
    p += LUTC_AL64(sizeof(float) * l->scales_len());
  }
  free(lutc_lut_mem);
  lutc_lut_mem = NULL;
  lutc_lut_bytes = 0;
  lutc_lut_payload = img + 64;
  lutc_lut_ready = 1;
  return MODEL_OK;
}`;
  }
}
