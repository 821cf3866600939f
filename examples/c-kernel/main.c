/* Minimal use of a lutc kernel-only C kernel (N=64, K=256, 2-bit, group 128): pack random weights,
 * run y = x . W^T, and compare with a plain float computation of the dequantized weights.
 *
 *   make -C examples/c-kernel && examples/c-kernel/demo
 *
 * kernel.h / kernel.c are generated (by the Makefile) with
 *   lutc kernel --n 64 --k 256 --bits 2 --target c -o examples/c-kernel
 * (or emitKernel({ n: 64, k: 256, bits: 2 }) from backends/c/kernel.ts). */
#include "kernel.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define N 64
#define K 256
#define G 128
#define NG (K / G)

int main(void) {
  static uint8_t q[N * K];
  static float scales[N * NG], zeros[N * NG], x[K], y[N];
  srand(1);
  for (int i = 0; i < N * K; i++) q[i] = (uint8_t)(rand() & 3);
  for (int i = 0; i < N * NG; i++) { scales[i] = 0.01f + (float)(rand() % 100) / 1000.0f; zeros[i] = 1.5f; }
  for (int i = 0; i < K; i++) x[i] = (float)rand() / (float)RAND_MAX * 2.0f - 1.0f;

  /* Packed sizes depend on the ISA this build picked (lutc_isa(): 0 scalar, 1 AVX2, 2 AVX-512, 3 NEON). */
  uint8_t *packed = malloc(lutc_packed_bytes());
  float *sw = malloc(sizeof(float) * lutc_scales_len()), *swz = malloc(sizeof(float) * lutc_scales_len());
  void *scratch = malloc(lutc_scratch_bytes(1));
  lutc_pack(q, scales, zeros, packed, sw, swz);
  if (lutc_gemm(packed, sw, swz, NULL, x, y, 1, scratch, 1) != 0) return 1;

  double err = 0, ref = 0;
  for (int n = 0; n < N; n++) {
    double acc = 0;
    for (int k = 0; k < K; k++) acc += x[k] * scales[n * NG + k / G] * (q[n * K + k] - zeros[n * NG + k / G]);
    err = fmax(err, fabs(acc - y[n]));
    ref = fmax(ref, fabs(acc));
  }
  printf("isa %d: y[0] = %f, max error %.2e of max |y| (int8 tables: ~1e-2 expected)\n", lutc_isa(), y[0], err / ref);
  free(packed); free(sw); free(swz); free(scratch);
  return err / ref < 3e-2 ? 0 : 1;
}
