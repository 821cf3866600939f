/**
 * C text of the per-kernel driver: the weight packer (the C twin of geometry.ts packWeights and
 * reference.ts packScales), the row-block loop with its float epilogue (reference.ts combine's order,
 * so y is bit-identical to combine() given the same A, tsHalf and xsum), the public entry points and
 * the test hooks. The packed layout is geometry.ts's with kTileCP = whole K: vector (rb, v) at byte
 * (rb * G_NVK + v) * G_VEC, v = cp / G_CPV (G_CPV = 2 in the row-dword layout of AVX-512 2-bit builds,
 * where each row's 4 bytes are [cp0 plane0, cp0 plane1, cp1 plane0, cp1 plane1]; else 1).
 * Threads (`PFX_gemm`'s `threads`, when built with -fopenmp): ranges of row blocks are tasks, at least
 * 4 per thread, handed out one at a time after the tables are built once: by OpenMP
 * (`schedule(dynamic, 1)`), or, where the including file defines LUTC_POOL (the whole-model C, emit.ts),
 * by its `lutc_par` pool. Each y element is computed by one thread in the single-thread order, so every
 * thread count gives the same bits.
 */

/** Driver C. Uses G_* macros; `PFX_` becomes the kernel prefix. */
export const C_DRIVER = String.raw`
size_t PFX_vec_bytes(void) { return G_VEC; }
/* The packed vectors, then a 64-byte trailer: u32 1 when every zero point of the real rows is the same
   value z0, and f32 c = mid - z0 (then swz = s * c, the same float product the packer stores, so the
   AVX-512 path computes swz from sw in registers instead of streaming it: 4 fewer bytes per group). */
size_t PFX_packed_bytes(void) { return G_TRAILER + 64; }

/* Byte of row r (within its block), plane i, chunk pair cp, relative to the row block's first vector. */
#define PFX_WB(cp, r, i) ((size_t)((cp) / G_CPV) * G_VEC + (size_t)(r) * G_CPV * G_PLANES + ((cp) % G_CPV) * G_PLANES + (i))
size_t PFX_scales_len(void) { return (size_t)G_NGROUPS * G_NPAD; }
int PFX_isa(void) { return LUTC_ISA; }

void PFX_pack(const uint8_t *q, const float *scales, const float *zeros, uint8_t *packed, float *sw, float *swz) {
  memset(packed, 0, PFX_packed_bytes());
  /* Per row, 8 codes at a time as one 64-bit word (code t in byte t); bit p of every byte gathered
     into one byte by a multiply: ((v >> p) & 0x0101..01) * 0x0102040810204080 puts byte t's bit at
     bit 56 + t and nothing else there (every partial product has its own bit), so >> 56 is the byte. */
  for (int rb = 0; rb < G_NRB; rb++)
    for (int r = 0; r < G_ROWS; r++) {
      const int row = rb * G_ROWS + r;
      if (row >= G_N) continue;
      const uint8_t *qr = q + (size_t)row * G_K;
      uint8_t *pb = packed + (size_t)rb * G_NVK * G_VEC;
      for (int cp = 0; cp < G_NCP; cp++) {
        uint64_t v = 0;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        if (cp * 8 + 8 <= G_K) memcpy(&v, qr + cp * 8, 8); /* code t in byte t */
        else
#endif
          for (int t = 0; t < 8 && cp * 8 + t < G_K; t++) v |= (uint64_t)qr[cp * 8 + t] << (8 * t);
        for (int plane = 0; plane < G_BITS; plane++)
          pb[PFX_WB(cp, r, plane)] = (uint8_t)((((v >> plane) & 0x0101010101010101ull) * 0x0102040810204080ull) >> 56);
      }
    }
  const float mid = (float)((1 << G_BITS) - 1) / 2.0f;
  memset(sw, 0, sizeof(float) * PFX_scales_len());
  memset(swz, 0, sizeof(float) * PFX_scales_len());
  /* [N][groups] -> row-block major (G_SI): per row block, G_ROWS source lines, one write run */
  for (int n0 = 0; n0 < G_N; n0 += G_ROWS)
    for (int g = 0; g < G_NGROUPS; g++)
      for (int n = n0; n < n0 + G_ROWS && n < G_N; n++) {
        const float s = scales[(size_t)n * G_NGROUPS + g];
        sw[G_SI(g, n)] = s;
        swz[G_SI(g, n)] = s * (mid - zeros[(size_t)n * G_NGROUPS + g]);
      }
  uint32_t uniform = 1;
  for (size_t i = 1; i < (size_t)G_N * G_NGROUPS && uniform; i++) uniform = zeros[i] == zeros[0];
  const float zc = mid - zeros[0];
  memcpy(packed + G_TRAILER, &uniform, 4);
  memcpy(packed + G_TRAILER + 4, &zc, 4);
}

/* Integer tables of m tokens; xpad: G_KPAD floats of scratch. */
static void PFX_tables(const float *x, int m, float *xpad, int8_t *tq, float *tsh, float *xs) {
  for (int t = 0; t < m; t++)
    PFX_tables1(PFX_padded(x + (size_t)t * G_K, xpad), tq + (size_t)t * G_NCHUNKS * 16, tsh + (size_t)t * G_NSEG, xs + (size_t)t * G_NSEG);
}

#if !G_V /* else csrc-avx512.ts's PFX_rows */
/* One row block for all m tokens, in tiles of G_MT tokens. With A set, writes the raw accumulators
   A[m][N][G_NSEG] instead of y. */
static void PFX_rowblock(const uint8_t *packed, const int8_t *tq, const float *tsh, const float *xs, const float *sw,
                         const float *swz, const float *bias, float *y, int32_t *A, int m, int rb) {
  const uint8_t *w = packed + (size_t)rb * G_NVK * G_VEC;
  const size_t ts = (size_t)G_NCHUNKS * 16;
  for (int t0 = 0; t0 < m; t0 += G_MT) {
    const int mt = m - t0 < G_MT ? m - t0 : G_MT;
    float yacc[G_MT * G_ROWS];
    int32_t a32[G_MT * G_ROWS];
    memset(yacc, 0, sizeof(float) * (size_t)mt * G_ROWS);
    for (int s = 0; s < G_NSEG; s++) {
      PFX_core_n(w, tq + (size_t)t0 * ts, ts, a32, s * (G_SEG / 8), (s + 1) * (G_SEG / 8), mt);
      if (A) {
        for (int t = 0; t < mt; t++)
          for (int r = 0; r < G_ROWS && rb * G_ROWS + r < G_N; r++)
            A[((size_t)(t0 + t) * G_N + rb * G_ROWS + r) * G_NSEG + s] = a32[t * G_ROWS + r];
        continue;
      }
      /* y += (tsHalf * A) * sw + xsum * swz, in combine()'s order (exact while |A| < 2^24). */
      const size_t go = G_SI(s / (G_GROUP / G_SEG), (size_t)rb * G_ROWS);
      const float *swg = sw + go, *swzg = swz + go;
      for (int t = 0; t < mt; t++) {
        const float th = tsh[(size_t)(t0 + t) * G_NSEG + s], xv = xs[(size_t)(t0 + t) * G_NSEG + s];
        float *ya = yacc + t * G_ROWS;
        const int32_t *aa = a32 + t * G_ROWS;
        for (int r = 0; r < G_ROWS; r++) ya[r] = ya[r] + ((th * (float)aa[r]) * swg[r] + xv * swzg[r]);
      }
    }
    if (A) continue;
    for (int t = 0; t < mt; t++)
      for (int r = 0; r < G_ROWS && rb * G_ROWS + r < G_N; r++) {
        const int n = rb * G_ROWS + r;
        y[(size_t)(t0 + t) * G_N + n] = bias ? yacc[t * G_ROWS + r] + bias[n] : yacc[t * G_ROWS + r];
      }
  }
}
#endif

/* Float-table row block (scalar): accumulators in reference.ts accumulateF32's order. */
static void PFX_rowblock_f32(const uint8_t *packed, const float *tf, const float *xs, const float *sw, const float *swz,
                             const float *bias, float *y, float *A, int m, int rb) {
  const uint8_t *w = packed + (size_t)rb * G_NVK * G_VEC;
  for (int t = 0; t < m; t++)
    for (int r = 0; r < G_ROWS && rb * G_ROWS + r < G_N; r++) {
      const int n = rb * G_ROWS + r;
      float v = 0.0f;
      for (int s = 0; s < G_NSEG; s++) {
        float acc = 0.0f;
        for (int c = s * (G_SEG / 4); c < (s + 1) * (G_SEG / 4); c++) {
          const float *tb = tf + ((size_t)t * G_NCHUNKS + c) * 16;
          for (int i = 0; i < G_BITS; i++) {
            const uint8_t b = w[PFX_WB(c >> 1, r, i)];
            acc = acc + tb[(c & 1) ? b >> 4 : b & 15] * (float)(1 << i);
          }
        }
        if (A) { A[((size_t)t * G_N + n) * G_NSEG + s] = acc; continue; }
        const size_t gi = G_SI(s / (G_GROUP / G_SEG), n);
        v = v + ((0.5f * acc) * sw[gi] + xs[(size_t)t * G_NSEG + s] * swz[gi]);
      }
      if (!A) y[(size_t)t * G_N + n] = bias ? v + bias[n] : v;
    }
}

size_t PFX_scratch_bytes(int m) {
  const size_t mm = m > 0 ? (size_t)m : 1;
  const size_t i8 = mm * G_NCHUNKS * 16 + 2 * mm * G_NSEG * sizeof(float);
  const size_t f32 = mm * G_NCHUNKS * 16 * sizeof(float) + mm * G_NSEG * sizeof(float);
  return (i8 > f32 ? i8 : f32) + (G_V && !G_RDW ? mm * G_NCHUNKS * 64 : 0) + G_KPAD * sizeof(float) + 128;
}

/* The parallel work of one call: row-block ranges of rbc blocks (one task each). */
typedef struct {
  const uint8_t *packed;
  const void *tab; /* int8 tables (tq) or float tables (tf) */
  const float *tsh, *xs, *sw, *swz, *bias;
  float *y;
  int m, rbc;
} PFX_job;

static void PFX_task(void *ctx, int i) {
  const PFX_job *j = (const PFX_job *)ctx;
  const int r0 = i * j->rbc, r1 = G_NRB - r0 < j->rbc ? G_NRB : r0 + j->rbc;
#if G_F32
  for (int rb = r0; rb < r1; rb++) PFX_rowblock_f32(j->packed, (const float *)j->tab, j->xs, j->sw, j->swz, j->bias, j->y, NULL, j->m, rb);
#elif G_V
  PFX_rows(j->packed, (const int8_t *)j->tab, j->tsh, j->xs, j->sw, j->swz, j->bias, j->y, NULL, j->m, r0, r1);
#else
  for (int rb = r0; rb < r1; rb++) PFX_rowblock(j->packed, (const int8_t *)j->tab, j->tsh, j->xs, j->sw, j->swz, j->bias, j->y, NULL, j->m, rb);
#endif
}

int PFX_gemm(const uint8_t *packed, const float *sw, const float *swz, const float *bias, const float *x, float *y, int m,
             void *scratch, int threads) {
  if (m <= 0) return m < 0 ? -1 : 0;
  void *own = NULL;
  if (!scratch) { own = malloc(PFX_scratch_bytes(m)); if (!own) return -2; scratch = own; }
  float *xpad = (float *)scratch; /* G_KPAD floats first keeps every later table 4-byte aligned */
  char *rest = (char *)(xpad + G_KPAD);
  PFX_job job = { packed, NULL, NULL, NULL, sw, swz, bias, y, m, 1 };
#if G_F32
  float *tf = (float *)rest, *xs = tf + (size_t)m * G_NCHUNKS * 16;
  for (int t = 0; t < m; t++) PFX_tables1_f32(PFX_padded(x + (size_t)t * G_K, xpad), tf + (size_t)t * G_NCHUNKS * 16, xs + (size_t)t * G_NSEG);
  job.tab = tf;
  job.xs = xs;
#else
  float *tsh = (float *)rest, *xs = tsh + (size_t)m * G_NSEG;
  /* tables on a 64-byte boundary: the AVX-512 row-dword path loads each 4-chunk table whole */
  int8_t *tq = (int8_t *)(((uintptr_t)(xs + (size_t)m * G_NSEG) + 63) & ~(uintptr_t)63);
  PFX_tables(x, m, xpad, tq, tsh, xs);
#  if G_V && !G_RDW
  int8_t *tq4 = tq + (((size_t)m * G_NCHUNKS * 16 + 63) & ~(size_t)63);
  PFX_replicate(tq, m, tq4);
  tq = tq4;
#  endif
  job.tab = tq;
  job.tsh = tsh;
  job.xs = xs;
#endif
  /* Tasks: ranges of row blocks. AVX-512: at most G_RBC blocks (~256 KiB of weights, which stay in L2
     across token tiles); elsewhere all of them. With threads, at least 4 tasks per thread, handed out
     one at a time, so a thread slowed by other load leaves its share to the others (a row's sums do
     not depend on its range or thread: the bits are the same for any thread count). */
#if G_V && !G_F32
  int rbc = G_RBC;
#else
  int rbc = G_NRB;
#endif
  if (threads > 1) {
    const int want = (G_NRB + 4 * threads - 1) / (4 * threads);
    rbc = want < 1 ? 1 : want < rbc ? want : rbc;
  }
  job.rbc = rbc;
  const int ntask = (G_NRB + rbc - 1) / rbc;
#if defined(LUTC_POOL)
  lutc_par(threads, ntask, PFX_task, &job); /* the whole model's thread pool (emit.ts) */
#else
#  ifdef _OPENMP
#    pragma omp parallel for schedule(dynamic, 1) num_threads(threads > 0 ? threads : 1)
#  endif
  for (int i = 0; i < ntask; i++) PFX_task(&job, i);
  (void)threads;
#endif
  free(own);
  return 0;
}

/* ---- test hooks: the bit-exact pieces, layouts as in ir/lut/reference.ts ---- */
void PFX_build_tables(const float *x, int m, int8_t *tq, float *tsh, float *xs) {
  float *xpad = (float *)malloc(sizeof(float) * G_KPAD);
  PFX_tables(x, m, xpad, tq, tsh, xs);
  free(xpad);
}
void PFX_accumulate(const uint8_t *packed, const int8_t *tq, int m, int32_t *A) {
#if G_V && !G_RDW
  int8_t *tq4 = (int8_t *)malloc((size_t)m * G_NCHUNKS * 64);
  if (!tq4) return;
  PFX_replicate(tq, m, tq4);
  PFX_rows(packed, tq4, NULL, NULL, NULL, NULL, NULL, NULL, A, m, 0, G_NRB);
  free(tq4);
#elif G_V
  PFX_rows(packed, tq, NULL, NULL, NULL, NULL, NULL, NULL, A, m, 0, G_NRB);
#else
  for (int rb = 0; rb < G_NRB; rb++) PFX_rowblock(packed, tq, NULL, NULL, NULL, NULL, NULL, NULL, A, m, rb);
#endif
}
void PFX_build_tables_f32(const float *x, int m, float *tf, float *xs) {
  float *xpad = (float *)malloc(sizeof(float) * G_KPAD);
  for (int t = 0; t < m; t++) PFX_tables1_f32(PFX_padded(x + (size_t)t * G_K, xpad), tf + (size_t)t * G_NCHUNKS * 16, xs + (size_t)t * G_NSEG);
  free(xpad);
}
void PFX_accumulate_f32(const uint8_t *packed, const float *tf, int m, float *A) {
  for (int rb = 0; rb < G_NRB; rb++) PFX_rowblock_f32(packed, tf, NULL, NULL, NULL, NULL, NULL, A, m, rb);
}
#undef PFX_WB
`;

/** Public declarations (kernel.h body); `PFX_` becomes the prefix. */
export const C_DECLS = String.raw`
/* Geometry of this build (depends on the ISA the C compiler picked: see PFX_vec_bytes). */
size_t PFX_vec_bytes(void);
size_t PFX_packed_bytes(void);
size_t PFX_scales_len(void);
int PFX_isa(void);
size_t PFX_scratch_bytes(int m);
/* q: [N][K] bytes in [0, 2^bits); scales, zeros: [N][nGroups] floats. Writes packed (PFX_packed_bytes)
   and sw, swz (PFX_scales_len floats each). */
void PFX_pack(const uint8_t *q, const float *scales, const float *zeros, uint8_t *packed, float *sw, float *swz);
/* y[m][N] = x[m][K] . W^T (+ bias[N] if not NULL). scratch: PFX_scratch_bytes(m) bytes or NULL
   (then malloc'd per call). threads: OpenMP threads when built with -fopenmp, else ignored.
   Returns 0, or < 0 on bad m / allocation failure. */
int PFX_gemm(const uint8_t *packed, const float *sw, const float *swz, const float *bias, const float *x, float *y, int m,
             void *scratch, int threads);
/* Test hooks: tq [m][nChunks][16], tsh/xs [m][nSeg], A [m][N][nSeg], tf [m][nChunks][16]. */
void PFX_build_tables(const float *x, int m, int8_t *tq, float *tsh, float *xs);
void PFX_accumulate(const uint8_t *packed, const int8_t *tq, int m, int32_t *A);
void PFX_build_tables_f32(const float *x, int m, float *tf, float *xs);
void PFX_accumulate_f32(const uint8_t *packed, const float *tf, int m, float *A);
`;
