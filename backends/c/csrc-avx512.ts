/**
 * C text of the AVX-512 row-block path with int32 accumulation and the epilogue kept in registers
 * (used when LUTC_ISA == 2 for 2-bit weights in the row-dword layout and for 3/4-bit weights; 1-bit
 * and 2-bit shapes whose table segments are an odd number of chunk pairs keep csrc-accum.ts's core).
 *
 * One row block is 16 rows; one 64-byte weight vector holds each row's 4 bytes in one dword, so
 * `vpdpbusd` (plane weights as the unsigned operand, lookups signed: no u8 bias) adds exactly one
 * row's lookups into its int32 lane, with no int16 stage and no flush interval:
 *  - 2-bit, row-dword layout (geometry.ts `rowDwords`): a dword is [cp0 plane0, cp0 plane1, cp1
 *    plane0, cp1 plane1] over chunk pairs 2v, 2v+1 = chunks 4v..4v+3, whose four 16-entry tables are
 *    64 contiguous bytes: one load is a `vpermb` table. Index bits 4-5 pick the chunk: the low nibble
 *    of byte j belongs to chunk 4v + 2(j%4 >= 2), the high nibble to the next one, so the indices are
 *    (v & 15) | selL and ((v >> 4) & 15) | selH, one `vpternlogd` each.
 *  - 4 planes: a dword is a row's 4 planes of one chunk pair; the lookups read each chunk's table
 *    repeated 4 times (64 bytes, PFX_replicate), so bits 4-5 of the raw byte select identical copies:
 *    the byte indexes the low chunk as is and (v >> 4) the high one, no masking, plain loads.
 * Without VNNI the dot product is `vpmaddubsw` + `vpmaddwd` by ones (int16 pairs <= 12 * 127: safe).
 *
 * Per segment the int32 sums are converted and folded into y in registers, in combine()'s float
 * order: y = y + ((tsHalf * A) * sw + xsum * swz) (no FMA: -ffp-contract=off), so y stays identical
 * to the reference's combine() given the same A. With A set (test hook) the raw sums are stored.
 *
 * Loop order (PFX_rows): token tiles of G_VMT, then K-blocks of segments whose tables for the tile fit
 * in ~16 KiB of L1, then row blocks; partial y lives in y between K-blocks (reloading a float is
 * exact, so the order of additions per row is unchanged). For M = 1 there is one K-block. Callers
 * give row-block ranges (G_RBC blocks, ~256 KiB of weights) so a range's weights stay in L2 while every token tile and K-block passes over them.
 */

/** C for the AVX-512 int32 row-block path; defines G_V to 1 where it applies. */
export const C_AVX512 = String.raw`
#if LUTC_ISA == 2 && (G_RDW || G_PLANES == 4)
#  define G_V 1
#  define G_VMT 4 /* tokens per tile */
#  define G_RBT 4 /* row blocks per tile, at most */
#  define G_TQB (G_RDW ? 16 : 64) /* table bytes per chunk as the lookups read them */
#  define G_RBC (262144 / (G_NVK * 64) > 0 ? 262144 / (G_NVK * 64) : 1)
#  if defined(__AVX512VNNI__)
#    define PFX_DOT(acc, wpl, x) _mm512_dpbusd_epi32((acc), (wpl), (x))
#  else
#    define PFX_DOT(acc, wpl, x) _mm512_add_epi32((acc), _mm512_madd_epi16(_mm512_maddubs_epi16((wpl), (x)), _mm512_set1_epi16(1)))
#  endif

/* Lookups of vector vi for mt tokens x nrb row blocks (weights w + b * G_NVK * 64): one weight load and
   index computation per row block, table loads per token shared by all row blocks of the tile.
   tq: the tile's first token's tables, ts bytes apart (G_TQB bytes per chunk, see the file comment). */
LUTC_INLINE void PFX_vstep(const uint8_t *w, int vi, const int8_t *tq, size_t ts, __m512i acc[][G_RBT][2], const int mt,
                           const int nrb) {
#if G_RDW
  const __m512i m0f = _mm512_set1_epi8(0x0f), wpl = _mm512_set1_epi32(0x02010201);
  const __m512i selL = _mm512_set1_epi32(0x20200000), selH = _mm512_set1_epi32(0x30301010);
  __m512i T[G_VMT];
  for (int t = 0; t < mt; t++) T[t] = _mm512_loadu_si512((const void *)(tq + (size_t)t * ts + (size_t)vi * 64));
#else
  const __m512i wpl = _mm512_set1_epi32(G_BITS == 4 ? 0x08040201 : 0x00040201);
  __m512i TL[G_VMT], TH[G_VMT];
  for (int t = 0; t < mt; t++) {
    TL[t] = _mm512_loadu_si512((const void *)(tq + (size_t)t * ts + (size_t)vi * 128));
    TH[t] = _mm512_loadu_si512((const void *)(tq + (size_t)t * ts + (size_t)vi * 128 + 64));
  }
#endif
  for (int b = 0; b < nrb; b++) {
    __m512i v = _mm512_loadu_si512((const void *)(w + (size_t)b * G_NVK * 64 + (size_t)vi * 64));
    __asm__("" : "+v"(v)); /* one load: else GCC folds a second load of v into vpsrlw (loads are a limit) */
#if G_RDW
    const __m512i il = _mm512_ternarylogic_epi32(v, m0f, selL, 0xEA); /* (v & 15) | selL */
    const __m512i ih = _mm512_ternarylogic_epi32(_mm512_srli_epi16(v, 4), m0f, selH, 0xEA);
    for (int t = 0; t < mt; t++) {
      acc[t][b][0] = PFX_DOT(acc[t][b][0], wpl, _mm512_permutexvar_epi8(il, T[t]));
      acc[t][b][1] = PFX_DOT(acc[t][b][1], wpl, _mm512_permutexvar_epi8(ih, T[t]));
    }
#else
    const __m512i hi = _mm512_srli_epi16(v, 4);
    for (int t = 0; t < mt; t++) {
      acc[t][b][0] = PFX_DOT(acc[t][b][0], wpl, _mm512_permutexvar_epi8(v, TL[t]));
      acc[t][b][1] = PFX_DOT(acc[t][b][1], wpl, _mm512_permutexvar_epi8(hi, TH[t]));
    }
#endif
  }
}

#if !G_RDW
/* 4 planes: each chunk's 16-entry table repeated 4 times (64 bytes), so vpermb's index bits 4-5 (the
   other nibble's low bits) pick identical copies and the raw byte is the index: no masking, and a
   plain 64-byte load instead of vbroadcasti32x4 (which costs a shuffle uop on Zen4 and made the
   lookups ~1.7x slower in a microbenchmark). */
static void PFX_replicate(const int8_t *tq, int m, int8_t *tq4) {
  for (size_t c = 0; c < (size_t)m * G_NCHUNKS; c++)
    _mm512_storeu_si512((void *)(tq4 + c * 64), _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)(tq + c * 16))));
}
#endif

/* Segments s0..s1-1 of row blocks rb0..rb0+nrb-1 for tokens t0..t0+mt-1. At s0 = 0 y starts from 0,
   else from the previous K-blocks' partial sums in y; bias is added after the last segment. */
LUTC_INLINE void PFX_vblock(const uint8_t *packed, const int8_t *tq, const float *tsh, const float *xs, const float *sw,
                            const float *swz, const float *bias, float *y, int32_t *A, int t0, const int mt, int rb0,
                            const int nrb, int s0, int s1, const int zu, const float zc) {
  const uint8_t *w = packed + (size_t)rb0 * G_NVK * 64;
  const size_t ts = (size_t)G_NCHUNKS * G_TQB;
  const int8_t *tqt = tq + (size_t)t0 * ts;
  __m512 ya[G_VMT][G_RBT];
  for (int t = 0; t < mt; t++)
    for (int b = 0; b < nrb; b++) {
      const int rb = rb0 + b, nr = G_N - rb * 16 < 16 ? G_N - rb * 16 : 16;
      ya[t][b] = s0 == 0 || !y ? _mm512_setzero_ps()
                               : _mm512_maskz_loadu_ps((__mmask16)((1u << nr) - 1u), y + (size_t)(t0 + t) * G_N + (size_t)rb * 16);
    }
  enum { SEGV = G_SEG / 8 / G_CPV };
  for (int s = s0; s < s1; s++) {
    __m512i acc[G_VMT][G_RBT][2];
    for (int t = 0; t < mt; t++)
      for (int b = 0; b < nrb; b++) acc[t][b][0] = acc[t][b][1] = _mm512_setzero_si512();
    for (int vi = s * SEGV; vi < (s + 1) * SEGV; vi++) PFX_vstep(w, vi, tqt, ts, acc, mt, nrb);
    for (int t = 0; t < mt; t++)
      for (int b = 0; b < nrb; b++) {
        const int rb = rb0 + b;
        const __m512i a = _mm512_add_epi32(acc[t][b][0], acc[t][b][1]);
        if (A) {
          int32_t tmp[16];
          _mm512_storeu_si512((void *)tmp, a);
          for (int r = 0; r < 16 && rb * 16 + r < G_N; r++) A[((size_t)(t0 + t) * G_N + (size_t)rb * 16 + r) * G_NSEG + s] = tmp[r];
          continue;
        }
        /* y + ((tsHalf * A) * sw + xsum * swz): combine()'s order, no FMA */
        const size_t go = G_SI(s / (G_GROUP / G_SEG), (size_t)rb * 16);
        const __m512 th = _mm512_set1_ps(tsh[(size_t)(t0 + t) * G_NSEG + s]), xv = _mm512_set1_ps(xs[(size_t)(t0 + t) * G_NSEG + s]);
        const __m512 swv = _mm512_loadu_ps(sw + go);
        /* uniform zero points (pack's trailer): swz = s * c computed here, the packer's same product */
        const __m512 swzv = zu ? _mm512_mul_ps(swv, _mm512_set1_ps(zc)) : _mm512_loadu_ps(swz + go);
        const __m512 p = _mm512_mul_ps(_mm512_mul_ps(th, _mm512_cvtepi32_ps(a)), swv);
        ya[t][b] = _mm512_add_ps(ya[t][b], _mm512_add_ps(p, _mm512_mul_ps(xv, swzv)));
      }
  }
  if (A || !y) return;
  for (int b = 0; b < nrb; b++) {
    const int rb = rb0 + b, nr = G_N - rb * 16 < 16 ? G_N - rb * 16 : 16;
    const __mmask16 km = (__mmask16)((1u << nr) - 1u);
    const int fin = bias && s1 == G_NSEG;
    const __m512 bv = fin ? _mm512_maskz_loadu_ps(km, bias + (size_t)rb * 16) : _mm512_setzero_ps();
    for (int t = 0; t < mt; t++) _mm512_mask_storeu_ps(y + (size_t)(t0 + t) * G_N + (size_t)rb * 16, km, fin ? _mm512_add_ps(ya[t][b], bv) : ya[t][b]);
  }
}

/* Tile shapes (tokens x row blocks) with at most 8 pairs of accumulators, so accumulators, tables and
   indices stay in the 32 zmm registers: 1-2 tokens x 4 row blocks, 3-4 tokens x 2 row blocks. */
static void PFX_vblock_n(const uint8_t *packed, const int8_t *tq, const float *tsh, const float *xs, const float *sw,
                         const float *swz, const float *bias, float *y, int32_t *A, int t0, int mt, int rb, int nrb, int s0, int s1,
                         int zu, float zc) {
  /* zu specialized: the uniform-zero build never loads swz, the other never multiplies */
#  define PFX_VB(m, r, u) case m * 8 + r: PFX_vblock(packed, tq, tsh, xs, sw, swz, bias, y, A, t0, m, rb, r, s0, s1, u, zc); break;
#  define PFX_VBS(u) PFX_VB(1, 1, u) PFX_VB(1, 4, u) PFX_VB(2, 1, u) PFX_VB(2, 4, u) PFX_VB(3, 1, u) PFX_VB(3, 2, u) PFX_VB(4, 1, u) PFX_VB(4, 2, u)
  if (zu) switch (mt * 8 + nrb) {
      PFX_VBS(1)
      default: break;
    }
  else switch (mt * 8 + nrb) {
      PFX_VBS(0)
      default: break;
    }
#  undef PFX_VBS
#  undef PFX_VB
}

/* Row blocks rb0..rb1-1 for all m tokens (y, or the raw accumulators A when A is set). */
static void PFX_rows(const uint8_t *packed, const int8_t *tq, const float *tsh, const float *xs, const float *sw,
                     const float *swz, const float *bias, float *y, int32_t *A, int m, int rb0, int rb1) {
  uint32_t zu;
  float zc;
  memcpy(&zu, packed + G_TRAILER, 4); /* pack's trailer (csrc-driver.ts) */
  memcpy(&zc, packed + G_TRAILER + 4, 4);
  if (!sw) zu = 0; /* the accumulator hook */
  for (int t0 = 0; t0 < m; t0 += G_VMT) {
    const int mt = m - t0 < G_VMT ? m - t0 : G_VMT, tile = mt <= 2 ? 4 : 2;
    /* M > 1: segments whose tables (mt tokens) fit in 16 KiB of L1; one token: the whole K in one pass
       (its tables, <= 16 bytes per activation, stay in L1/L2; K-blocks cut each row block's weight run
       into pieces the prefetchers restart on: a 4-layer 1B-shaped decode step 11.6 -> 10.3 ms) */
    int kb = mt == 1 ? G_NSEG : 16384 / (mt * (G_SEG / 4) * G_TQB);
    if (kb < 1) kb = 1;
    for (int s0 = 0; s0 < G_NSEG; s0 += kb) {
      const int s1 = G_NSEG - s0 < kb ? G_NSEG : s0 + kb;
      int rb = rb0;
      for (; rb + tile <= rb1; rb += tile) PFX_vblock_n(packed, tq, tsh, xs, sw, swz, bias, y, A, t0, mt, rb, tile, s0, s1, (int)zu, zc);
      for (; rb < rb1; rb++) PFX_vblock_n(packed, tq, tsh, xs, sw, swz, bias, y, A, t0, mt, rb, 1, s0, s1, (int)zu, zc);
    }
  }
}
#  undef PFX_DOT
#else
#  define G_V 0
#endif
`;
