/**
 * C text of the table build (docs/lut-format.md, ir/lut/reference.ts): per token and table segment, the
 * absmax, the int8 scale, then every chunk's 16 symmetrized entries in the reference's fixed order
 *   T'[j] = ((s0 x0 + s1 x1) + s2 x2) + s3 x3,  q = roundHalfEven(T' * inv) clamped to +-127.
 * SIMD versions put the 16 entries j of one chunk in lanes and flip signs with XOR (negation is
 * exact), so every lane performs the reference's additions in the reference's order: bit-exact.
 * absmax is taken as max_j |T'_j|, which equals ((|x0|+|x1|)+|x2|)+|x3| exactly (the entry whose
 * signs match the activations' signs is that very sum; rounding is monotonic so no entry exceeds it).
 * xsum is accumulated per chunk as Σ_c (((x0+x1)+x2)+x3): a different order than the reference's
 * sequential sum (allowed: xsum is a float-epilogue input; the y tolerance covers it).
 *
 * Uses macros from csrc-kernel.ts (G_*) and the prelude; `PFX_` is replaced by the kernel prefix.
 */

/** Table-build C for all ISAs (selected by LUTC_ISA), plus the f32-table build. */
export const C_TABLES = String.raw`
/* Activations of one token, zero-padded to G_KPAD when K is not a whole number of groups. */
static const float *PFX_padded(const float *xt, float *xpad) {
  if (G_K == G_KPAD) return xt;
  memcpy(xpad, xt, sizeof(float) * G_K);
  memset(xpad + G_K, 0, sizeof(float) * (G_KPAD - G_K));
  return xpad;
}

/* Segment activation sums, chunk by chunk (see the file comment). */
static void PFX_xsums(const float *x, float *xs) {
  for (int s = 0; s < G_NSEG; s++) {
    float sum = 0.0f;
    for (int c = s * (G_SEG / 4); c < (s + 1) * (G_SEG / 4); c++) {
      const float *p = x + 4 * c;
      sum = sum + (((p[0] + p[1]) + p[2]) + p[3]);
    }
    xs[s] = sum;
  }
}

#if LUTC_ISA == 2
/* Lane j's sign masks: bit t of j clear -> negate x_t. */
LUTC_INLINE __m512 PFX_entries(const float *p, __m512i s0, __m512i s1, __m512i s2, __m512i s3) {
  __m512i v = _mm512_xor_si512(_mm512_castps_si512(_mm512_set1_ps(p[0])), s0);
  __m512 f = _mm512_add_ps(_mm512_castsi512_ps(v), _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(_mm512_set1_ps(p[1])), s1)));
  f = _mm512_add_ps(f, _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(_mm512_set1_ps(p[2])), s2)));
  return _mm512_add_ps(f, _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(_mm512_set1_ps(p[3])), s3)));
}
static void PFX_tables1(const float *x, int8_t *tq, float *tsh, float *xs) {
  const int m = (int)0x80000000u;
  const __m512i s0 = _mm512_setr_epi32(m, 0, m, 0, m, 0, m, 0, m, 0, m, 0, m, 0, m, 0);
  const __m512i s1 = _mm512_setr_epi32(m, m, 0, 0, m, m, 0, 0, m, m, 0, 0, m, m, 0, 0);
  const __m512i s2 = _mm512_setr_epi32(m, m, m, m, 0, 0, 0, 0, m, m, m, m, 0, 0, 0, 0);
  const __m512i s3 = _mm512_setr_epi32(m, m, m, m, m, m, m, m, 0, 0, 0, 0, 0, 0, 0, 0);
  const __m512i absm = _mm512_set1_epi32(0x7fffffff);
  for (int s = 0; s < G_NSEG; s++) {
    const int c0 = s * (G_SEG / 4), c1 = c0 + G_SEG / 4;
    __m512 mx = _mm512_setzero_ps();
    for (int c = c0; c < c1; c++)
      mx = _mm512_max_ps(mx, _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(PFX_entries(x + 4 * c, s0, s1, s2, s3)), absm)));
    const float absmax = _mm512_reduce_max_ps(mx);
    const float inv = absmax > 0.0f ? 127.0f / absmax : 0.0f;
    tsh[s] = (absmax / 127.0f) * 0.5f;
    const __m512 iv = _mm512_set1_ps(inv);
    for (int c = c0; c < c1; c++) {
      const __m512i q = _mm512_cvtps_epi32(_mm512_mul_ps(PFX_entries(x + 4 * c, s0, s1, s2, s3), iv)); /* RNE */
      _mm_storeu_si128((__m128i *)(tq + 16 * c), _mm512_cvtsepi32_epi8(q)); /* |q| <= 127 already */
    }
  }
  PFX_xsums(x, xs);
}
#elif LUTC_ISA == 1
/* Entries j = 0..7 and 8..15 share bits 0-2, so they share the first two additions. */
LUTC_INLINE void PFX_entries(const float *p, __m256 s0, __m256 s1, __m256 s2, __m256 *a, __m256 *b) {
  const __m256 pre = _mm256_add_ps(_mm256_add_ps(_mm256_xor_ps(_mm256_set1_ps(p[0]), s0), _mm256_xor_ps(_mm256_set1_ps(p[1]), s1)),
                                   _mm256_xor_ps(_mm256_set1_ps(p[2]), s2));
  const __m256 x3 = _mm256_set1_ps(p[3]);
  *a = _mm256_sub_ps(pre, x3);
  *b = _mm256_add_ps(pre, x3);
}
static float PFX_hmax8(__m256 v) {
  __m128 h = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  h = _mm_max_ps(h, _mm_movehl_ps(h, h));
  h = _mm_max_ss(h, _mm_shuffle_ps(h, h, 1));
  return _mm_cvtss_f32(h);
}
static void PFX_tables1(const float *x, int8_t *tq, float *tsh, float *xs) {
  const float m = -0.0f;
  const __m256 s0 = _mm256_setr_ps(m, 0, m, 0, m, 0, m, 0), s1 = _mm256_setr_ps(m, m, 0, 0, m, m, 0, 0);
  const __m256 s2 = _mm256_setr_ps(m, m, m, m, 0, 0, 0, 0), absm = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  for (int s = 0; s < G_NSEG; s++) {
    const int c0 = s * (G_SEG / 4), c1 = c0 + G_SEG / 4;
    __m256 mx = _mm256_setzero_ps(), a, b;
    for (int c = c0; c < c1; c++) {
      PFX_entries(x + 4 * c, s0, s1, s2, &a, &b);
      mx = _mm256_max_ps(mx, _mm256_max_ps(_mm256_and_ps(a, absm), _mm256_and_ps(b, absm)));
    }
    const float absmax = PFX_hmax8(mx);
    const float inv = absmax > 0.0f ? 127.0f / absmax : 0.0f;
    tsh[s] = (absmax / 127.0f) * 0.5f;
    const __m256 iv = _mm256_set1_ps(inv);
    for (int c = c0; c < c1; c++) {
      PFX_entries(x + 4 * c, s0, s1, s2, &a, &b);
      const __m256i qa = _mm256_cvtps_epi32(_mm256_mul_ps(a, iv)), qb = _mm256_cvtps_epi32(_mm256_mul_ps(b, iv));
      const __m128i a16 = _mm_packs_epi32(_mm256_castsi256_si128(qa), _mm256_extracti128_si256(qa, 1));
      const __m128i b16 = _mm_packs_epi32(_mm256_castsi256_si128(qb), _mm256_extracti128_si256(qb, 1));
      _mm_storeu_si128((__m128i *)(tq + 16 * c), _mm_packs_epi16(a16, b16));
    }
  }
  PFX_xsums(x, xs);
}
#else
/* Portable (scalar and NEON builds): the reference loop, entry by entry. */
static void PFX_tables1(const float *x, int8_t *tq, float *tsh, float *xs) {
  for (int s = 0; s < G_NSEG; s++) {
    const int c0 = s * (G_SEG / 4), c1 = c0 + G_SEG / 4;
    float absmax = 0.0f;
    for (int c = c0; c < c1; c++) {
      const float *p = x + 4 * c;
      const float v = ((fabsf(p[0]) + fabsf(p[1])) + fabsf(p[2])) + fabsf(p[3]);
      if (v > absmax) absmax = v;
    }
    const float inv = absmax > 0.0f ? 127.0f / absmax : 0.0f;
    tsh[s] = (absmax / 127.0f) * 0.5f;
    for (int c = c0; c < c1; c++) {
      const float *p = x + 4 * c;
      for (int j = 0; j < 16; j++) {
        float v = (j & 1) ? p[0] : -p[0];
        v = v + ((j & 2) ? p[1] : -p[1]);
        v = v + ((j & 4) ? p[2] : -p[2]);
        v = v + ((j & 8) ? p[3] : -p[3]);
        float q = lutc_rne(v * inv);
        q = q > 127.0f ? 127.0f : q < -127.0f ? -127.0f : q;
        tq[16 * c + j] = (int8_t)q;
      }
    }
  }
  PFX_xsums(x, xs);
}
#endif

/* Float tables (the exact path; scalar on every ISA). */
static void PFX_tables1_f32(const float *x, float *tf, float *xs) {
  for (int c = 0; c < G_NCHUNKS; c++) {
    const float *p = x + 4 * c;
    for (int j = 0; j < 16; j++) {
      float v = (j & 1) ? p[0] : -p[0];
      v = v + ((j & 2) ? p[1] : -p[1]);
      v = v + ((j & 4) ? p[2] : -p[2]);
      tf[16 * c + j] = v + ((j & 8) ? p[3] : -p[3]);
    }
  }
  PFX_xsums(x, xs);
}
`;
