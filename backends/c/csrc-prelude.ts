/**
 * C text shared by every LUT kernel in one translation unit: ISA selection by predefined macros
 * (overridable with -DLUTC_ISA=0..3 or a forced `isa`), includes, and helpers. Guarded so a
 * whole-model emitter can paste several kernels after one prelude.
 *
 * ISA numbers: 0 scalar (16-byte vectors), 1 AVX2 (32), 2 AVX-512 BW+VBMI (64, VNNI used when
 * present), 3 AArch64 NEON (16). The packed weight layout follows the ISA's vector width, so weights
 * must be packed by the same build that runs them (the C packer does that).
 */

/** The numeric `LUTC_ISA` value of each path. */
export const ISA_NUM = { scalar: 0, avx2: 1, avx512: 2, neon: 3 } as const;
export type CIsa = keyof typeof ISA_NUM;

/** Vector bytes of the packed layout per ISA: the `vecBytes` to give geometry.ts for that path. */
export const ISA_VEC: Record<CIsa, 16 | 32 | 64> = { scalar: 16, avx2: 32, avx512: 64, neon: 16 };

/** Prelude text. `forced` pins the ISA unless the build defines LUTC_ISA itself. */
export function cPrelude(forced?: CIsa): string {
  const force = forced ? `#ifndef LUTC_ISA\n#define LUTC_ISA ${ISA_NUM[forced]} /* forced: ${forced} */\n#endif\n` : '';
  return `${force}#ifndef LUTC_PRELUDE_DONE
#define LUTC_PRELUDE_DONE
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#ifndef LUTC_ISA
#  if defined(__AVX512VBMI__) && defined(__AVX512BW__)
#    define LUTC_ISA 2
#  elif defined(__AVX2__)
#    define LUTC_ISA 1
#  elif defined(__ARM_NEON) && defined(__aarch64__)
#    define LUTC_ISA 3
#  else
#    define LUTC_ISA 0
#  endif
#endif
#if LUTC_ISA == 2
#  if !(defined(__AVX512VBMI__) && defined(__AVX512BW__))
#    error "lutc: AVX-512 path needs AVX512BW and AVX512VBMI (e.g. -march=native on Zen4/Ice Lake)"
#  endif
#  include <immintrin.h>
#  define LUTC_VEC 64
#elif LUTC_ISA == 1
#  if !defined(__AVX2__)
#    error "lutc: AVX2 path needs -mavx2"
#  endif
#  include <immintrin.h>
#  define LUTC_VEC 32
#elif LUTC_ISA == 3
#  if !(defined(__ARM_NEON) && defined(__aarch64__))
#    error "lutc: NEON path needs AArch64"
#  endif
#  include <arm_neon.h>
#  define LUTC_VEC 16
#elif LUTC_ISA == 0
#  define LUTC_VEC 16
#else
#  error "lutc: LUTC_ISA must be 0 (scalar), 1 (avx2), 2 (avx512) or 3 (neon)"
#endif
#if defined(__GNUC__)
#  define LUTC_INLINE static inline __attribute__((always_inline))
#else
#  define LUTC_INLINE static inline
#endif
/* Table entries must be rounded exactly as ir/lut/reference.ts does: build with -ffp-contract=off
   (GCC ignores #pragma STDC FP_CONTRACT) and never with -ffast-math. */
/* Round half to even for |f| < 2^22 under the default rounding mode (the reference's roundHalfEven).
   Adding and removing 1.5 * 2^23 leaves f rounded to an integer; without -ffast-math the compiler
   may not fold it away. */
static inline float lutc_rne(float f) { return (f + 12582912.0f) - 12582912.0f; }
#endif /* LUTC_PRELUDE_DONE */
`;
}
