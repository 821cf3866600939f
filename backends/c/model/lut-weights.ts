/**
 * The canonical, ISA-independent form in which whole-model C stores a LUT layer's weights in the
 * weight blob, derived at lutc-compile time from the lowered graph's packed constants:
 *
 *   q       u8 bit stream: value (n*K + k) at bit (n*K + k) * bits, LSB first, plus one pad byte
 *   scales  f32 [N, nGroups] = sw                        (exact: the graph's sw is the scale)
 *   zeros   f32 [N, nGroups], chosen so that the kernel's packer computes the graph's swz bit for bit
 *
 * Why not the graph's packed bytes: bitplane-layout packs for the C target's lut.vecBytes (32), while the C
 * kernel's layout follows the ISA the C compiler targets (16 scalar/NEON, 32 AVX2, 64 AVX-512 with
 * the row-dword variant), so model_load_weights repacks with the rendered `*_pack` at load time.
 * Why search for zeros: the graph holds swz = fround(s * fround(mid - z)), not z; `*_pack` computes
 * exactly that expression in float (C99 with -ffp-contract=off), so any z that reproduces swz is as
 * good as the original one, and one always exists (the original). The search is checked here, by
 * evaluating the packer's expression with Math.fround, so a miss is a diagnosed error, never a
 * silently different scale.
 */
import { fail, type Location } from '../../../base/diagnostics.js';
import { packedIndex, type LutGeometry } from '../../../ir/lut/geometry.js';

const fr = Math.fround;

/** One LUT layer's weights as stored in the blob. */
export interface CanonicalWeights {
  q: Uint8Array;
  scales: Float32Array;
  zeros: Float32Array;
}

const f32 = new Float32Array(1);
const i32 = new Int32Array(f32.buffer);

/** The float32 `steps` ulps away from `x` (through zero across signs; enough for a local search). */
function stepF32(x: number, steps: number): number {
  f32[0] = x;
  let b = i32[0]!;
  for (let i = 0; i < Math.abs(steps); i++) {
    const up = steps > 0;
    if (b === 0 && !up) b = -2147483647; // +0 -> -smallest
    else if (b === -2147483648 && up) b = 1; // -0 -> +smallest
    else b += (b >= 0) === up ? 1 : -1;
  }
  i32[0] = b;
  return f32[0]!;
}

/**
 * A float32 zero point z with fround(s * fround(mid - z)) identical (sign of zero included) to
 * `swz`, or undefined when a local search finds none.
 */
export function recoverZero(s: number, swz: number, mid: number): number | undefined {
  if (!Number.isFinite(s) || !Number.isFinite(swz)) return undefined;
  const ds = new Set<number>();
  const d0 = s === 0 ? 1 : fr(swz / s);
  for (let i = -4; i <= 4; i++) ds.add(stepF32(d0, i));
  if (s === 0) ds.add(-1);
  for (const d of ds) {
    if (!Object.is(fr(s * d), swz)) continue;
    const z0 = fr(mid - d);
    for (let i = 0; i <= 8; i++)
      for (const z of i === 0 ? [z0] : [stepF32(z0, i), stepF32(z0, -i)]) if (Object.is(fr(mid - z), d)) return z;
  }
  return undefined;
}

/**
 * Canonical weights of a layer from its packed constants (geometry `g` of the node: vec_bytes and
 * k_tile as bitplane-layout and tile set them). `loc` names the node in a diagnostic.
 */
export function canonicalWeights(g: LutGeometry, packed: Uint8Array, sw: Float32Array, swz: Float32Array, loc?: Location): CanonicalWeights {
  const q = new Uint8Array(Math.ceil((g.n * g.k * g.bits) / 8) + 1);
  for (let row = 0; row < g.n; row++)
    for (let c = 0; c < Math.ceil(g.k / 4); c++)
      for (let plane = 0; plane < g.bits; plane++) {
        const nib = packedIndex(g, packed, row, plane, c);
        if (nib === 0) continue;
        for (let t = 0; t < 4 && 4 * c + t < g.k; t++) {
          if (!((nib >> t) & 1)) continue;
          const bit = (row * g.k + 4 * c + t) * g.bits + plane;
          q[bit >> 3] = q[bit >> 3]! | (1 << (bit & 7));
        }
      }
  const scales = new Float32Array(g.n * g.nGroups);
  const zeros = new Float32Array(g.n * g.nGroups);
  const mid = ((1 << g.bits) - 1) / 2;
  for (let n = 0; n < g.n; n++)
    for (let gi = 0; gi < g.nGroups; gi++) {
      const s = sw[gi * g.nPad + n]!, t = swz[gi * g.nPad + n]!;
      const z = recoverZero(s, t, mid);
      if (z === undefined) fail('LUT5153', `row ${n}, group ${gi}: no float zero point reproduces the packed scales (sw ${s}, swz ${t}) in the C packer`, loc);
      scales[n * g.nGroups + gi] = s;
      zeros[n * g.nGroups + gi] = z;
    }
  return { q, scales, zeros };
}
