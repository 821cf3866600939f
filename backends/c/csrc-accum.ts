/**
 * (On AVX-512 this core serves only 1-bit weights and 2-bit ones whose table segments are an odd
 * number of chunk pairs; the other AVX-512 builds use csrc-avx512.ts.)
 * C text of the lookup-accumulate core: for one row block (G_ROWS rows = one packed vector per chunk
 * pair), a range of chunk pairs (c0 < c1) and a tile of `mt` tokens, sets the integer accumulators
 *   A[t, r] += Σ_cp Σ_{planes i < bits} 2^i (Tq[t, 2cp, lo_i(r)] + Tq[t, 2cp+1, hi_i(r)])
 * in a32[t * G_ROWS + r] (overwriting: no zeroing needed by the caller). Each weight vector's indices are computed once and reused by every token
 * of the tile (the M > 1 reuse).
 *
 * Overflow bounds (|lookup| <= 127, plane weights 1, 2, 4, 8; a chunk pair adds two lookups per plane):
 *  - planes 1: int16 lanes gain <= 2*127 = 254 per chunk pair -> widen every 128 pairs (32512).
 *  - planes 2: maddubs gives l0 + 2 l1 per row, <= 2*381 = 762 per pair -> widen every 43 (32766).
 *  - planes 4 without VNNI: int16 lanes (l0 + 2 l1), (4 l2 + 8 l3) <= 2*1524 = 3048 per pair -> every 10.
 *  - planes 4 with VNNI (vpdpbusd) and NEON/scalar: int32 from the start, no limit for any real K.
 * maddubs/dpbusd take the plane weights as the unsigned operand and the lookups as the signed one,
 * so the tables need no u8 bias. 3-bit weights (4 stored planes) give plane 3 weight 0.
 *
 * Lookup index trick (AVX-512 VBMI): each chunk's 16-entry table is broadcast to all four 16-byte
 * quarters of a zmm (one vbroadcasti32x4 load); vpermb reads index bits 0-5 and bits 4-5 then only
 * choose among identical copies, so the raw weight byte is the low-nibble index and (v >> 4 as u16)
 * the high-nibble one: no masking at all (measured ~2 ALU ops of ~9 per vector saved vs masking
 * indices into a 32-byte two-chunk table).
 */

/** Core C for all ISAs (selected by LUTC_ISA). Uses G_* macros; `PFX_` becomes the kernel prefix. */
export const C_ACCUM = String.raw`
#if LUTC_ISA == 2
#  define G_MT 8
#  if G_PLANES == 1
#    define G_FLUSH 128
#  elif G_PLANES == 2
#    define G_FLUSH 43
#  elif defined(__AVX512VNNI__)
#    define G_FLUSH G_NCP
#  else
#    define G_FLUSH 10
#  endif
LUTC_INLINE void PFX_core(const uint8_t *w, const int8_t *tq, size_t ts, int32_t *a32, int c0, int c1, const int mt) {
#if G_PLANES == 2
  const __m512i wpl = _mm512_set1_epi16(0x0201);
#elif G_PLANES == 4
  const __m512i wpl = _mm512_set1_epi32(G_BITS == 4 ? 0x08040201 : 0x00040201);
#endif
  for (int cb = c0; cb < c1; cb += G_FLUSH) {
    const int ce = c1 - cb > G_FLUSH ? cb + G_FLUSH : c1;
    __m512i acc[G_MT];
#if G_PLANES == 1
    __m512i acc2[G_MT];
    for (int t = 0; t < mt; t++) acc2[t] = _mm512_setzero_si512();
#endif
    for (int t = 0; t < mt; t++) acc[t] = _mm512_setzero_si512();
    for (int cp = cb; cp < ce; cp++) {
      const __m512i v = _mm512_loadu_si512((const void *)(w + (size_t)cp * 64));
      const __m512i hi = _mm512_srli_epi16(v, 4);
      for (int t = 0; t < mt; t++) {
        const int8_t *tb = tq + (size_t)t * ts + (size_t)cp * 32;
        const __m512i L = _mm512_permutexvar_epi8(v, _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)tb)));
        const __m512i H = _mm512_permutexvar_epi8(hi, _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)(tb + 16))));
#if G_PLANES == 1
        acc[t] = _mm512_add_epi16(acc[t], _mm512_add_epi16(_mm512_srai_epi16(_mm512_slli_epi16(L, 8), 8), _mm512_srai_epi16(_mm512_slli_epi16(H, 8), 8)));
        acc2[t] = _mm512_add_epi16(acc2[t], _mm512_add_epi16(_mm512_srai_epi16(L, 8), _mm512_srai_epi16(H, 8)));
#elif G_PLANES == 2 || !defined(__AVX512VNNI__)
        acc[t] = _mm512_add_epi16(acc[t], _mm512_add_epi16(_mm512_maddubs_epi16(wpl, L), _mm512_maddubs_epi16(wpl, H)));
#else
        /* The two dot products chain on a fresh zero, not on acc: only a 1-cycle add depends on the
           previous chunk pair, so vpdpbusd's latency overlaps across iterations. */
        acc[t] = _mm512_add_epi32(acc[t], _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), wpl, L), wpl, H));
#endif
      }
    }
    for (int t = 0; t < mt; t++) {
      int32_t *a = a32 + t * G_ROWS;
#if G_PLANES == 1
      int16_t e[32], o[32];
      _mm512_storeu_si512((void *)e, acc[t]);
      _mm512_storeu_si512((void *)o, acc2[t]);
      if (cb == c0) memset(a, 0, sizeof(int32_t) * G_ROWS);
      for (int i = 0; i < 32; i++) { a[2 * i] += e[i]; a[2 * i + 1] += o[i]; }
#elif G_PLANES == 2
      const __m512i w0 = _mm512_cvtepi16_epi32(_mm512_castsi512_si256(acc[t])), w1 = _mm512_cvtepi16_epi32(_mm512_extracti64x4_epi64(acc[t], 1));
      _mm512_storeu_si512((void *)a, cb == c0 ? w0 : _mm512_add_epi32(_mm512_loadu_si512((const void *)a), w0));
      _mm512_storeu_si512((void *)(a + 16), cb == c0 ? w1 : _mm512_add_epi32(_mm512_loadu_si512((const void *)(a + 16)), w1));
#else
#  if defined(__AVX512VNNI__)
      const __m512i w0 = acc[t];
#  else
      const __m512i w0 = _mm512_madd_epi16(acc[t], _mm512_set1_epi16(1));
#  endif
      _mm512_storeu_si512((void *)a, cb == c0 ? w0 : _mm512_add_epi32(_mm512_loadu_si512((const void *)a), w0));
#endif
    }
  }
}
#elif LUTC_ISA == 1
#  define G_MT 4
#  if G_PLANES == 1
#    define G_FLUSH 128
#  elif G_PLANES == 2
#    define G_FLUSH 43
#  else
#    define G_FLUSH 10
#  endif
LUTC_INLINE void PFX_core(const uint8_t *w, const int8_t *tq, size_t ts, int32_t *a32, int c0, int c1, const int mt) {
  const __m256i m0f = _mm256_set1_epi8(0x0f);
#if G_PLANES == 2
  const __m256i wpl = _mm256_set1_epi16(0x0201);
#elif G_PLANES == 4
  const __m256i wpl = _mm256_set1_epi32(G_BITS == 4 ? 0x08040201 : 0x00040201);
#endif
  for (int cb = c0; cb < c1; cb += G_FLUSH) {
    const int ce = c1 - cb > G_FLUSH ? cb + G_FLUSH : c1;
    __m256i acc[G_MT];
#if G_PLANES == 1
    __m256i acc2[G_MT];
    for (int t = 0; t < mt; t++) acc2[t] = _mm256_setzero_si256();
#endif
    for (int t = 0; t < mt; t++) acc[t] = _mm256_setzero_si256();
    for (int cp = cb; cp < ce; cp++) {
      const __m256i v = _mm256_loadu_si256((const __m256i *)(w + (size_t)cp * 32));
      const __m256i lo = _mm256_and_si256(v, m0f), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m0f);
      for (int t = 0; t < mt; t++) {
        const int8_t *tb = tq + (size_t)t * ts + (size_t)cp * 32;
        const __m256i L = _mm256_shuffle_epi8(_mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)tb)), lo);
        const __m256i H = _mm256_shuffle_epi8(_mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(tb + 16))), hi);
#if G_PLANES == 1
        acc[t] = _mm256_add_epi16(acc[t], _mm256_add_epi16(_mm256_srai_epi16(_mm256_slli_epi16(L, 8), 8), _mm256_srai_epi16(_mm256_slli_epi16(H, 8), 8)));
        acc2[t] = _mm256_add_epi16(acc2[t], _mm256_add_epi16(_mm256_srai_epi16(L, 8), _mm256_srai_epi16(H, 8)));
#else
        acc[t] = _mm256_add_epi16(acc[t], _mm256_add_epi16(_mm256_maddubs_epi16(wpl, L), _mm256_maddubs_epi16(wpl, H)));
#endif
      }
    }
    for (int t = 0; t < mt; t++) {
      int32_t *a = a32 + t * G_ROWS;
#if G_PLANES == 1
      int16_t e[16], o[16];
      _mm256_storeu_si256((__m256i *)e, acc[t]);
      _mm256_storeu_si256((__m256i *)o, acc2[t]);
      if (cb == c0) memset(a, 0, sizeof(int32_t) * G_ROWS);
      for (int i = 0; i < 16; i++) { a[2 * i] += e[i]; a[2 * i + 1] += o[i]; }
#elif G_PLANES == 2
      const __m256i w0 = _mm256_cvtepi16_epi32(_mm256_castsi256_si128(acc[t])), w1 = _mm256_cvtepi16_epi32(_mm256_extracti128_si256(acc[t], 1));
      _mm256_storeu_si256((__m256i *)a, cb == c0 ? w0 : _mm256_add_epi32(_mm256_loadu_si256((const __m256i *)a), w0));
      _mm256_storeu_si256((__m256i *)(a + 8), cb == c0 ? w1 : _mm256_add_epi32(_mm256_loadu_si256((const __m256i *)(a + 8)), w1));
#else
      const __m256i w0 = _mm256_madd_epi16(acc[t], _mm256_set1_epi16(1));
      _mm256_storeu_si256((__m256i *)a, cb == c0 ? w0 : _mm256_add_epi32(_mm256_loadu_si256((const __m256i *)a), w0));
#endif
    }
  }
}
#elif LUTC_ISA == 3
#  define G_MT 2
/* NEON: lookups widened to int16 per byte position (lo + hi <= 254), weighted by the byte's plane and
   accumulated in int32 per byte position; rows are summed over their planes once per call. */
LUTC_INLINE void PFX_core(const uint8_t *w, const int8_t *tq, size_t ts, int32_t *a32, int c0, int c1, const int mt) {
  static const int16_t pw[8] = {
#define PW(j) ((j) % G_PLANES < G_BITS ? 1 << ((j) % G_PLANES) : 0)
    PW(0), PW(1), PW(2), PW(3), PW(4), PW(5), PW(6), PW(7)
#undef PW
  };
  const int16x8_t wv = vld1q_s16(pw);
  const uint8x16_t m0f = vdupq_n_u8(0x0f);
  int32x4_t acc[G_MT][4];
  for (int t = 0; t < mt; t++) for (int i = 0; i < 4; i++) acc[t][i] = vdupq_n_s32(0);
  for (int cp = c0; cp < c1; cp++) {
    const uint8x16_t v = vld1q_u8(w + (size_t)cp * 16);
    const uint8x16_t lo = vandq_u8(v, m0f), hi = vshrq_n_u8(v, 4);
    for (int t = 0; t < mt; t++) {
      const int8_t *tb = tq + (size_t)t * ts + (size_t)cp * 32;
      const int8x16_t L = vqtbl1q_s8(vld1q_s8(tb), lo), H = vqtbl1q_s8(vld1q_s8(tb + 16), hi);
      const int16x8_t s0 = vaddl_s8(vget_low_s8(L), vget_low_s8(H)), s1 = vaddl_high_s8(L, H);
      acc[t][0] = vmlal_s16(acc[t][0], vget_low_s16(s0), vget_low_s16(wv));
      acc[t][1] = vmlal_high_s16(acc[t][1], s0, wv);
      acc[t][2] = vmlal_s16(acc[t][2], vget_low_s16(s1), vget_low_s16(wv));
      acc[t][3] = vmlal_high_s16(acc[t][3], s1, wv);
    }
  }
  memset(a32, 0, sizeof(int32_t) * (size_t)mt * G_ROWS);
  for (int t = 0; t < mt; t++) {
    int32_t pos[16];
    for (int i = 0; i < 4; i++) vst1q_s32(pos + 4 * i, acc[t][i]);
    for (int j = 0; j < 16; j++) a32[t * G_ROWS + j / G_PLANES] += pos[j];
  }
}
#else
#  define G_MT 4
/* Portable scalar: the reference's sum, one byte (row, plane) at a time. */
LUTC_INLINE void PFX_core(const uint8_t *w, const int8_t *tq, size_t ts, int32_t *a32, int c0, int c1, const int mt) {
  memset(a32, 0, sizeof(int32_t) * (size_t)mt * G_ROWS);
  for (int cp = c0; cp < c1; cp++) {
    const uint8_t *v = w + (size_t)cp * G_VEC;
    for (int t = 0; t < mt; t++) {
      const int8_t *tb = tq + (size_t)t * ts + (size_t)cp * 32;
      int32_t *a = a32 + t * G_ROWS;
      for (int j = 0; j < G_VEC; j++) {
        const int p = j % G_PLANES;
        if (p < G_BITS) a[j / G_PLANES] += (tb[v[j] & 15] + tb[16 + (v[j] >> 4)]) * (1 << p);
      }
    }
  }
}
#endif

#if !G_V /* else csrc-avx512.ts's PFX_rows replaces the core and row-block loop */
/* Dispatch on the tile size so each PFX_core instance has a constant mt (its loops unroll and the
   accumulators stay in registers). */
static void PFX_core_n(const uint8_t *w, const int8_t *tq, size_t ts, int32_t *a32, int c0, int c1, int mt) {
  switch (mt) {
    case 1: PFX_core(w, tq, ts, a32, c0, c1, 1); break;
    case 2: PFX_core(w, tq, ts, a32, c0, c1, 2); break;
#if G_MT >= 4
    case 3: PFX_core(w, tq, ts, a32, c0, c1, 3); break;
    case 4: PFX_core(w, tq, ts, a32, c0, c1, 4); break;
#endif
#if G_MT >= 8
    case 5: PFX_core(w, tq, ts, a32, c0, c1, 5); break;
    case 6: PFX_core(w, tq, ts, a32, c0, c1, 6); break;
    case 7: PFX_core(w, tq, ts, a32, c0, c1, 7); break;
    case 8: PFX_core(w, tq, ts, a32, c0, c1, 8); break;
#endif
    default: break;
  }
}
#endif
`;
