/**
 * The canonical, ISA-independent form in which whole-model C stores a LUT layer's weights in the
 * weight blob, taken as they are from the q/scales/zeros operands of the layer's lut.gemm (the C
 * target's TargetInfo LUT form is `tables: 'kernel'`, so lower-linear emits lut.gemm and nothing packs
 * them in the graph):
 *
 *   q       u8 bit stream: value (n*K + k) at bit (n*K + k) * bits, LSB first, plus one pad byte
 *           (the lut.gemm's q [N, K] u8, bits per value instead of a byte)
 *   scales  f32 [N, nGroups]: the lut.gemm's scales
 *   zeros   f32 [N, nGroups]: the lut.gemm's zeros
 *
 * `withCanonicalQ` gives the emitter a copy of the graph whose lut.gemm nodes read the bit stream in
 * place of q (a lazy constant, ir/tensor.ts lazyTensor: packed when read, not held); operands that are
 * not constants are LUT5152.
 *
 * model_load_weights packs them with the rendered `*_pack` for the ISA the C compiler targets; its
 * sw = s and swz = fround(s * fround(mid - z)) (C99, -ffp-contract=off) are ir/lut/reference.ts
 * packScales' expressions, so the C kernel sees the interpreter's packed scales bit for bit.
 */
import { type DiagnosticBag, nodeLoc } from '../../../base/diagnostics.js';
import { geometryOf } from '../../../ir/lut/attrs.js';
import type { LutGeometry } from '../../../ir/lut/geometry.js';
import { qBitStream } from '../../../ir/lut/weights.js';
import { findOp, resolveAttrs } from '../../../ir/optable.js';
import { lazyTensor } from '../../../ir/tensor.js';
import type { Graph, Node, Value } from '../../../ir/types.js';

/** One LUT layer's weights as stored in the blob. */
export interface CanonicalWeights {
  q: Uint8Array;
  scales: Float32Array;
  zeros: Float32Array;
}

/** Canonical weights of a layer (geometry `g` of its node) from the lut.gemm operands q [N, K], scales, zeros [N, nGroups]. */
export function canonicalWeights(
  g: LutGeometry,
  qv: ArrayLike<number>,
  scales: ArrayLike<number>,
  zeros: ArrayLike<number>,
): CanonicalWeights {
  const q = new Uint8Array(Math.ceil((g.n * g.k * g.bits) / 8) + 1);
  const mask = (1 << g.bits) - 1;
  if (8 % g.bits === 0) {
    // 1, 2, 4 bits: a value never straddles a byte (the same bits as the general loop, faster)
    for (let i = 0; i < g.n * g.k; i++) {
      const bit = i * g.bits;
      q[bit >> 3] = q[bit >> 3]! | ((qv[i]! & mask) << (bit & 7));
    }
    return { q, scales: Float32Array.from(scales), zeros: Float32Array.from(zeros) };
  }
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

/** lut.gemm operand positions of the weights (ir/ops/lut.ts). */
export const LUT_Q = 1,
  LUT_SCALES = 2,
  LUT_ZEROS = 3;

/**
 * A shallow copy of `g` (the caller's graph is not touched) whose lut.gemm nodes read their q as the
 * canonical bit stream (a new blob constant; the [N, K] q drops out of the blob when nothing else
 * reads it). A lut.gemm whose q/scales/zeros are not constants is LUT5152 in `bag`, and keeps its form.
 */
export function withCanonicalQ(g: Graph, bag: DiagnosticBag): Graph {
  const added = new Map<string, Value>();
  const nodes = g.nodes.map((node): Node => {
    if (node.op !== 'lut.gemm') return node;
    const [q, s, z] = [node.inputs[LUT_Q], node.inputs[LUT_SCALES], node.inputs[LUT_ZEROS]];
    if (!q?.const || !s?.const || !z?.const) {
      bag.error(
        'LUT5152',
        'lut.gemm q, scales and zeros must be constants (the C backend stores them and packs them at load time): they are computed at run time',
        nodeLoc(node, g.meta?.file),
      );
      return node;
    }
    const geo = geometryOf({ ...resolveAttrs(findOp('lut.gemm')!, node), vec_bytes: 16, k_tile: 0 });
    const key = `${q.name}/${geo.bits}`;
    let cq = added.get(key);
    if (!cq) {
      // lazy (ir/tensor.ts): packed from q when the blob is written, so no stage holds every layer's stream
      const qt = q.const;
      const len = Math.ceil((geo.n * geo.k * geo.bits) / 8) + 1;
      cq = {
        name: `${q.name}/c.q`,
        type: { dtype: 'u8', shape: [len] },
        producer: null,
        const: lazyTensor('u8', [len], () => {
          const stream = qBitStream(qt, geo.bits); // MatMulNBits B already is this stream: no unpack, no repack
          if (!stream) return canonicalWeights(geo, qt.data as ArrayLike<number>, [], []).q;
          const out = new Uint8Array(len);
          out.set(stream.subarray(0, len - 1));
          return out;
        }),
      };
      added.set(key, cq);
    }
    const inputs = [...node.inputs];
    inputs[LUT_Q] = cq;
    return { ...node, inputs };
  });
  const used = new Set<Value>(g.outputs);
  for (const n of nodes) for (const v of n.inputs) if (v) used.add(v);
  const constants = [...g.constants, ...added.values()].filter((c) => used.has(c));
  return { ...g, nodes, constants };
}
