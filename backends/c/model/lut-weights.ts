/**
 * The canonical, ISA-independent form in which whole-model C stores a LUT layer's weights in the
 * weight blob, taken as they are from the operands of the layer's lut.pack (bitplane-layout leaves it
 * unfolded for the C target, whose TargetInfo LUT form is `weights: 'canonical'`):
 *
 *   q       u8 bit stream: value (n*K + k) at bit (n*K + k) * bits, LSB first, plus one pad byte
 *           (the pack's q [N, K] u8, bits per value instead of a byte)
 *   scales  f32 [N, nGroups]: the pack's scales
 *   zeros   f32 [N, nGroups]: the pack's zeros
 *
 * model_load_weights packs them with the rendered `*_pack` for the ISA the C compiler targets; its
 * sw = s and swz = fround(s * fround(mid - z)) (C99, -ffp-contract=off) are ir/lut/reference.ts
 * packScales' expressions, so the C kernel sees the interpreter's packed scales bit for bit.
 */
import type { LutGeometry } from '../../../ir/lut/geometry.js';

/** One LUT layer's weights as stored in the blob. */
export interface CanonicalWeights {
  q: Uint8Array;
  scales: Float32Array;
  zeros: Float32Array;
}

/** Canonical weights of a layer (geometry `g` of its node) from the lut.pack operands q [N, K], scales, zeros [N, nGroups]. */
export function canonicalWeights(
  g: LutGeometry,
  qv: ArrayLike<number>,
  scales: ArrayLike<number>,
  zeros: ArrayLike<number>,
): CanonicalWeights {
  const q = new Uint8Array(Math.ceil((g.n * g.k * g.bits) / 8) + 1);
  const mask = (1 << g.bits) - 1;
  for (let i = 0; i < g.n * g.k; i++) {
    const v = qv[i]! & mask;
    for (let plane = 0; plane < g.bits; plane++) {
      if (!((v >> plane) & 1)) continue;
      const bit = i * g.bits + plane;
      q[bit >> 3] = q[bit >> 3]! | (1 << (bit & 7));
    }
  }
  return { q, scales: Float32Array.from(scales), zeros: Float32Array.from(zeros) };
}
