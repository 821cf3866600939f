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
 *  - 4 planes: a dword is a row's 4 planes of one chunk pair; each chunk's table is broadcast to all
 *    four quarters (`vbroadcasti32x4`), so bits 4-5 of the raw byte select identical copies: the byte
 *    indexes the low chunk as is and (v >> 4) the high one, no masking.
 * Without VNNI the dot product is `vpmaddubsw` + `vpmaddwd` by ones (int16 pairs <= 12 * 127: safe).
 *
 * Per segment the int32 sums are converted and folded into y in registers, in combine()'s float
 * order: y = y + ((tsHalf * A) * sw + xsum * swz) (no FMA: -ffp-contract=off), so y stays identical
 * to the reference's combine() given the same A. With A set (test hook) the raw sums are stored.
 *
 * Loop order (PFX_rows): token tiles of G_VMT, then K-blocks of segments whose tables for the tile fit
 * in ~16 KiB of L1, then row blocks; partial y lives in y between K-blocks (reloading a float is
 * exact, so the order of additions per row is unchanged). For M = 1 and K <= 4096 there is one
 * K-block. Callers give row-block ranges (G_RBC blocks, ~256 KiB of weights) so a range's weights stay
 * in L2 while every token tile and K-block passes over them.
 */

/** C for the AVX-512 int32 row-block path; defines G_V to 1 where it applies. */
export const C_AVX512 = String.raw`
#if LUTC_ISA == 2 && (G_RDW || G_PLANES == 4)
#  define G_V 1
#  define G_VMT 8 /* token tile: 8 tokens' accumulators + y vectors fit the 32 zmm registers */
#  define G_RBC (262144 / (G_NVK * 64) > 0 ? 262144 / (G_NVK * 64) : 1)
#  if defined(__AVX512VNNI__)
#    define PFX_DOT(acc, wpl, x) _mm512_dpbusd_epi32((acc), (wpl), (x))
#  else
#    define PFX_DOT(acc, wpl, x) _mm512_add_epi32((acc), _mm512_madd_epi16(_mm512_maddubs_epi16((wpl), (x)), _mm512_set1_epi16(1)))
#  endif

/* Lookups of vector vi (row block base w) for mt tokens into accumulator bank b of each token. */
LUTC_INLINE void PFX_vstep(const uint8_t *w, int vi, const int8_t *tq, size_t ts, __m512i acc[][4], int b, const int mt) {
  const __m512i v = _mm512_loadu_si512((const void *)(w + (size_t)vi * 64));
#if G_RDW
  const __m512i wpl = _mm512_set1_epi32(0x02010201);
  const __m512i m0f = _mm512_set1_epi8(0x0f);
  const __m512i selL = _mm512_set1_epi32(0x20200000), selH = _mm512_set1_epi32(0x30301010);
  const __m512i il = _mm512_ternarylogic_epi32(v, m0f, selL, 0xEA); /* (v & 15) | selL */
  const __m512i ih = _mm512_ternarylogic_epi32(_mm512_srli_epi16(v, 4), m0f, selH, 0xEA);
  for (int t = 0; t < mt; t++) {
    const __m512i T = _mm512_loadu_si512((const void *)(tq + (size_t)t * ts + (size_t)vi * 64));
    acc[t][b] = PFX_DOT(acc[t][b], wpl, _mm512_permutexvar_epi8(il, T));
    acc[t][b + 1] = PFX_DOT(acc[t][b + 1], wpl, _mm512_permutexvar_epi8(ih, T));
  }
#else
  const __m512i wpl = _mm512_set1_epi32(G_BITS == 4 ? 0x08040201 : 0x00040201);
  const __m512i hi = _mm512_srli_epi16(v, 4);
  for (int t = 0; t < mt; t++) {
    const int8_t *tb = tq + (size_t)t * ts + (size_t)vi * 32;
    const __m512i L = _mm512_permutexvar_epi8(v, _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)tb)));
    const __m512i H = _mm512_permutexvar_epi8(hi, _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)(tb + 16))));
    acc[t][b] = PFX_DOT(acc[t][b], wpl, L);
    acc[t][b + 1] = PFX_DOT(acc[t][b + 1], wpl, H);
  }
#endif
}

/* Segments s0..s1-1 of row block rb for tokens t0..t0+mt-1. first: y starts at 0 (else it holds the
   previous K-blocks' partial sums); last: add bias and finish. */
LUTC_INLINE void PFX_vblock(const uint8_t *packed, const int8_t *tq, const float *tsh, const float *xs, const float *sw,
                            const float *swz, const float *bias, float *y, int32_t *A, int t0, const int mt, int rb, int s0,
                            int s1) {
  const uint8_t *w = packed + (size_t)rb * G_NVK * 64;
  const size_t ts = (size_t)G_NCHUNKS * 16;
  const int8_t *tqt = tq + (size_t)t0 * ts;
  const int nr = G_N - rb * 16 < 16 ? G_N - rb * 16 : 16;
  const __mmask16 km = (__mmask16)((1u << nr) - 1u);
  float *yb = y ? y + (size_t)t0 * G_N + (size_t)rb * 16 : NULL;
  __m512 ya[G_VMT];
  for (int t = 0; t < mt; t++) ya[t] = s0 == 0 || !yb ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(km, yb + (size_t)t * G_N);
  enum { SEGV = G_SEG / 8 / G_CPV };
  for (int s = s0; s < s1; s++) {
    __m512i acc[G_VMT][4];
    for (int t = 0; t < mt; t++) acc[t][0] = acc[t][1] = acc[t][2] = acc[t][3] = _mm512_setzero_si512();
    int vi = s * SEGV;
    const int ve = vi + SEGV;
    /* One or two tokens: two banks of accumulators (even/odd vectors) so no vpdpbusd waits on the
       previous one's result; more tokens already interleave independent chains. */
    if (mt <= 2)
      for (; vi + 1 < ve; vi += 2) { PFX_vstep(w, vi, tqt, ts, acc, 0, mt); PFX_vstep(w, vi + 1, tqt, ts, acc, 2, mt); }
    for (; vi < ve; vi++) PFX_vstep(w, vi, tqt, ts, acc, 0, mt);
    for (int t = 0; t < mt; t++) {
      const __m512i a = _mm512_add_epi32(_mm512_add_epi32(acc[t][0], acc[t][1]), _mm512_add_epi32(acc[t][2], acc[t][3]));
      if (A) {
        int32_t tmp[16];
        _mm512_storeu_si512((void *)tmp, a);
        for (int r = 0; r < nr; r++) A[((size_t)(t0 + t) * G_N + (size_t)rb * 16 + r) * G_NSEG + s] = tmp[r];
        continue;
      }
      const size_t go = (size_t)(s / (G_GROUP / G_SEG)) * G_NPAD + (size_t)rb * 16;
      const __m512 th = _mm512_set1_ps(tsh[(size_t)(t0 + t) * G_NSEG + s]), xv = _mm512_set1_ps(xs[(size_t)(t0 + t) * G_NSEG + s]);
      const __m512 p = _mm512_mul_ps(_mm512_mul_ps(th, _mm512_cvtepi32_ps(a)), _mm512_loadu_ps(sw + go));
      ya[t] = _mm512_add_ps(ya[t], _mm512_add_ps(p, _mm512_mul_ps(xv, _mm512_loadu_ps(swz + go))));
    }
  }
  if (!yb) return;
  const __m512 bv = bias && s1 == G_NSEG ? _mm512_maskz_loadu_ps(km, bias + (size_t)rb * 16) : _mm512_setzero_ps();
  for (int t = 0; t < mt; t++)
    _mm512_mask_storeu_ps(yb + (size_t)t * G_N, km, bias && s1 == G_NSEG ? _mm512_add_ps(ya[t], bv) : ya[t]);
}

static void PFX_vblock_n(const uint8_t *packed, const int8_t *tq, const float *tsh, const float *xs, const float *sw,
                         const float *swz, const float *bias, float *y, int32_t *A, int t0, int mt, int rb, int s0, int s1) {
  switch (mt) {
#  define PFX_VB(n) case n: PFX_vblock(packed, tq, tsh, xs, sw, swz, bias, y, A, t0, n, rb, s0, s1); break;
    PFX_VB(1) PFX_VB(2) PFX_VB(3) PFX_VB(4) PFX_VB(5) PFX_VB(6) PFX_VB(7) PFX_VB(8)
#  undef PFX_VB
    default: break;
  }
}

/* Row blocks rb0..rb1-1 for all m tokens (y, or the raw accumulators A when A is set). */
static void PFX_rows(const uint8_t *packed, const int8_t *tq, const float *tsh, const float *xs, const float *sw,
                     const float *swz, const float *bias, float *y, int32_t *A, int m, int rb0, int rb1) {
  for (int t0 = 0; t0 < m; t0 += G_VMT) {
    const int mt = m - t0 < G_VMT ? m - t0 : G_VMT;
    int kb = 16384 / (mt * (G_SEG / 4) * 16); /* segments whose tables (mt tokens) fit in 16 KiB */
    if (kb < 1) kb = 1;
    for (int s0 = 0; s0 < G_NSEG; s0 += kb)
      for (int rb = rb0; rb < rb1; rb++)
        PFX_vblock_n(packed, tq, tsh, xs, sw, swz, bias, y, A, t0, mt, rb, s0, G_NSEG - s0 < kb ? G_NSEG : s0 + kb);
  }
}
#  undef PFX_DOT
#else
#  define G_V 0
#endif
`;
