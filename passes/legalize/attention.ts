/**
 * Legalize rules for the attention family (ir/ops/attention.ts): rotary_embedding becomes gathers of
 * the cos/sin rows at the positions, slices of each head's rotated part, x·cos ∓ x'·sin and a concat
 * back (half-split: the two halves; interleaved: the even and odd elements through a trailing pair
 * axis), with the unrotated rest of the head passed through; rotary_embedding_onnx shares that
 * rotation (`rotateRows`). multi_head_attention becomes transposes to BNSH, concat with the past,
 * matmul, scale, the additive mask and attention_bias, softmax and matmul (a graph of generic ops, not
 * a fused kernel). gather_block_quantized becomes gathers, unpacking and a dequantize. Float products
 * and sums are rounded as onnxruntime's kernels round them. Batch and sequence dims may be runtime
 * dims: reshapes copy them by position (`Rewriter.reshapeTo`), positions and causal masks come from
 * Range over `Rewriter.dim`; static shapes build exactly the nodes they built before. One `Rule` per
 * op in `ATTENTION_RULES`; passes/legalize.ts assembles the table.
 */

import { blockQuantGeometry, mhaLayout, onnxRotaryGeometry, type RotaryGeometry, rotaryGeometry } from '../../ir/ops/attention.js';
import { isStaticShape, makeTensor } from '../../ir/tensor.js';
import type { Dim, Value } from '../../ir/types.js';
import type { Rewriter, Rule } from './rewriter.js';

/** The attention rules, one per op. */
/**
 * x rotated by per-token cos/sin rows C, Sn ([B|1, S, R/2], dims possibly runtime): each head's first R
 * values as x1·cos − x2·sin ‖ x2·cos + x1·sin (half-split) or even/odd pairs (interleaved), the rest
 * passed through. Reshapes copy runtime dims by position, so [B, S] may be runtime symbols.
 */
function rotateRows(
  r: Rewriter,
  x: Value,
  [cos, sin]: [Value, Value],
  rowsOf: (cache: Value) => Value,
  g: RotaryGeometry,
  interleaved: boolean,
): Value {
  const shape = x.type.shape;
  const { heads: N, headSize: H, rotary: R, transposed } = g;
  const [B, S] = [shape[0]!, transposed ? shape[2]! : shape[1]!];
  const half = R / 2;
  // cos/sin rows, shaped to broadcast against [B, S, N, half] or [B, N, S, half]
  const rows = (cache: Value) => {
    const t = rowsOf(cache);
    const pb = t.type.shape[0]!;
    return r.reshapeTo(t, transposed ? [pb, 1, S, half] : [pb, S, 1, half]);
  };
  const [C, Sn] = [rows(cos), rows(sin)];
  const x4 = transposed ? x : r.reshapeTo(x, [B, S, N, H]);
  const lead = transposed ? [B, N, S] : [B, S, N];
  const xr = R < H ? r.slice(x4, 3, 0, R) : x4;
  let out: Value;
  if (interleaved) {
    const pairs = r.reshapeTo(xr, [...lead, half, 2]);
    const e = r.reshapeTo(r.slice(pairs, 4, 0, 1), [...lead, half]);
    const o = r.reshapeTo(r.slice(pairs, 4, 1, 2), [...lead, half]);
    const oe = r.sub(r.mul(e, C), r.mul(o, Sn));
    const oo = r.add(r.mul(o, C), r.mul(e, Sn));
    const both = r.op('concat', [r.reshapeTo(oe, [...lead, half, 1]), r.reshapeTo(oo, [...lead, half, 1])], { axis: 4 });
    out = r.reshapeTo(both, [...lead, R]);
  } else {
    const x1 = r.slice(xr, 3, 0, half);
    const x2 = r.slice(xr, 3, half, R);
    out = r.op('concat', [r.sub(r.mul(x1, C), r.mul(x2, Sn)), r.add(r.mul(x2, C), r.mul(x1, Sn))], { axis: 3 });
  }
  if (R < H) out = r.op('concat', [out, r.slice(x4, 3, R, H)], { axis: 3 });
  return transposed ? out : r.reshapeTo(out, shape);
}

/** The attention rules, one per op. */
export const ATTENTION_RULES: Readonly<Record<string, Rule>> = {
  rotary_embedding: {
    summary:
      'gather(cos/sin, positions), per head: slice the rotated part, x1·cos − x2·sin ‖ x2·cos + x1·sin (half-split, or even/odd pairs when interleaved), concat the rest back (batch and sequence may be runtime dims)',
    rewrite(r) {
      const [x, pos, cos, sin] = [r.x('input'), r.x('position_ids'), r.x('cos_cache'), r.x('sin_cache')];
      if (!isStaticShape(cos.type.shape) || !isStaticShape(pos.type.shape.slice(2))) return undefined;
      const g = rotaryGeometry(x.type.shape, cos.type.shape, r.attrs.num_heads as number, r.attrs.rotary_embedding_dim as number);
      if (typeof g === 'string') return undefined;
      const S = x.type.shape[g.transposed ? 2 : 1]!;
      // positions [B|1, S]: per token, or the start offset plus 0..S-1
      let P = pos;
      if (pos.type.shape.length < 2 || (pos.type.shape as number[]).reduce((a, b) => a * b, 1) === 1) {
        const p0 = r.reshape(pos, [1, 1]);
        const steps =
          typeof S === 'number'
            ? r.tensor(
                makeTensor(
                  'i64',
                  [1, S],
                  Array.from({ length: S }, (_, i) => i),
                ),
              )
            : r.reshapeTo(r.op('range', [r.scalar('i64', 0), r.dim(x, g.transposed ? 2 : 1), r.scalar('i64', 1)]), [1, S]);
        P = r.add(p0, steps);
      }
      const gather = (t: Value) => r.op('gather', [t, P], { axis: 0 });
      return [rotateRows(r, x, [cos, sin], gather, g, r.attrs.interleaved === 1)];
    },
  },
  rotary_embedding_onnx: {
    summary:
      "the com.microsoft rotary's decomposition: cos/sin rows gathered by position_ids (or the [B, S, R/2] caches as given), rotated per head",
    rewrite(r) {
      const [x, cos, sin, pos] = [r.x('X'), r.x('cos_cache'), r.x('sin_cache'), r.in('position_ids')];
      if (!isStaticShape(cos.type.shape.slice(pos ? 0 : 2))) return undefined;
      const g = onnxRotaryGeometry(x.type.shape, cos.type.shape, !!pos, r.attrs as never);
      if (typeof g === 'string') return undefined;
      const rows = (t: Value) => (pos ? r.op('gather', [t, pos], { axis: 0 }) : t);
      return [rotateRows(r, x, [cos, sin], rows, g, r.attrs.interleaved === 1)];
    },
  },
  multi_head_attention: {
    summary:
      'q/k/v (+ bias) to BNSH, present = concat(past, new) on the sequence axis, softmax(q·kᵀ·scale + attention_bias + where(padded or future, mask_filter_value, 0))·v, back to [B, S, N·Hv] (sequence dims may be runtime)',
    rewrite(r) {
      const ins = r.node.inputs;
      const g = mhaLayout(
        ins.map((v) => v?.type ?? null),
        r.attrs.num_heads as number,
      );
      if (typeof g === 'string') return undefined;
      const [q0, k0, v0] = [r.x('query'), r.x('key'), r.x('value')];
      const [bias, kpm, ab, pk, pv] = ['bias', 'key_padding_mask', 'attention_bias', 'past_key', 'past_value'].map((n) => r.in(n));
      const { heads: N, headSize: H, vHeadSize: Hv } = g;
      const D = N * H;
      const [B, S] = q0.type.shape as [Dim, Dim];
      let [q, k, v] = [q0, k0, v0];
      if (bias) {
        q = r.add(q, r.slice(bias, 0, 0, D));
        k = r.add(k, r.slice(bias, 0, D, 2 * D));
        v = r.add(v, r.slice(bias, 0, 2 * D, 2 * D + N * Hv));
      }
      const bnsh = (t: Value, h: number) =>
        r.op('transpose', [r.reshapeTo(t, [t.type.shape[0]!, t.type.shape[1]!, N, h])], { perm: [0, 2, 1, 3] });
      const Q = bnsh(q, H);
      let K = g.bnshKv ? k : bnsh(k, H);
      let V = g.bnshKv ? v : bnsh(v, Hv);
      if (pk && pv) {
        K = r.op('concat', [pk, K], { axis: 2 });
        V = r.op('concat', [pv, V], { axis: 2 });
      }
      const T = K.type.shape[2]!;
      const alpha = (r.attrs.scale as number) === 0 ? 1 / Math.sqrt(H) : (r.attrs.scale as number);
      let scores = r.mul(r.op('matmul', [Q, r.op('transpose', [K], { perm: [0, 1, 3, 2] })]), r.scalar('f32', alpha));
      // the additive mask: mask_filter_value where the key is padding or (unidirectional, S > 1) in the future
      let masked: Value | undefined;
      if (kpm) masked = r.op('unsqueeze', [r.equal(kpm, r.scalar('i32', 0)), r.i64([1, 2])]);
      if (r.attrs.unidirectional === 1 && S !== 1) {
        const L = (g.bnshKv ? k.type.shape[2] : k.type.shape[1])!;
        let future: Value;
        if (typeof S === 'number' && typeof T === 'number') {
          const P = T - (L as number);
          const bits = Array.from({ length: S * T }, (_, i) => (i % T > P + Math.floor(i / T) ? 1 : 0));
          future = r.tensor(makeTensor('bool', [S, T], bits));
        } else {
          // a runtime S stands for S > 1 only when it is the key's sequence too (self attention): rows P..T-1
          if (L !== S) return undefined;
          const [P, Td] = [pk ? r.dim(pk, 2) : r.scalar('i64', 0), r.dim(K, 2)];
          const rows = r.op('range', [P, Td, r.scalar('i64', 1)]);
          const cols = r.op('range', [r.scalar('i64', 0), Td, r.scalar('i64', 1)]);
          future = r.greater(r.op('unsqueeze', [cols, r.i64([0])]), r.op('unsqueeze', [rows, r.i64([1])]));
        }
        masked = masked ? r.op('or', [masked, future]) : future;
      }
      let addend: Value | undefined = ab ?? undefined;
      if (masked) {
        const m = r.where(masked, r.scalar('f32', r.attrs.mask_filter_value as number), r.scalar('f32', 0));
        addend = addend ? r.add(addend, m) : m;
      }
      if (addend) scores = r.add(scores, addend);
      const p = r.op('softmax', [scores], { axis: -1 });
      const o = r.op('transpose', [r.op('matmul', [p, V])], { perm: [0, 2, 1, 3] });
      return [r.reshapeTo(o, [B, S, N * Hv]), K, V];
    },
  },
  gather_block_quantized: {
    summary:
      'gather axis 0, quantize axis last: gather(data/scales/zero_points, indices), unpack (bit_shift, mod 2^bits), (cast(q) - zp[block]) * scale[block]',
    rewrite(r) {
      const [data, idx, scales] = [r.x('data'), r.x('indices'), r.x('scales')];
      const zp = r.in('zero_points');
      const geo = blockQuantGeometry(data.type, scales.type, zp?.type ?? null, r.attrs as never);
      if (typeof geo === 'string') return undefined;
      const { comp, bits, gatherAxis, quantAxis, logical } = geo;
      if (gatherAxis !== 0 || quantAxis !== logical.length - 1) return undefined;
      const last = logical.length - 1 + idx.type.shape.length - 1; // the quantize axis in the gathered rows
      const lead = [...idx.type.shape, ...logical.slice(1, -1)];
      // values of packed rows [..., W] -> [..., W * comp], low bits first
      const unpack = (rows: typeof data, width: number): typeof data => {
        if (comp === 1) return rows;
        const dt = rows.type.dtype;
        const parts = Array.from({ length: comp }, (_, k) => {
          const shifted = k === 0 ? rows : r.op('bit_shift', [rows, r.scalar(dt, k * bits)], { direction: 'RIGHT' });
          return r.reshapeTo(r.op('mod', [shifted, r.scalar(dt, 1 << bits)]), [...lead, width, 1]);
        });
        return r.reshapeTo(r.op('concat', parts, { axis: last + 1 }), [...lead, width * comp]);
      };
      const K = logical[logical.length - 1]!;
      const W = (data.type.shape as number[])[logical.length - 1]!;
      const q = r.cast(unpack(r.op('gather', [data, idx], { axis: 0 }), W), 'f32');
      const block = r.attrs.block_size as number;
      const perValue = r.tensor(
        makeTensor(
          'i64',
          [K],
          Array.from({ length: K }, (_, k) => Math.floor(k / block)),
        ),
      );
      // one scale (and zero point) per value: the row's block entries gathered by the value's block
      const spread = (v: typeof data) => r.op('gather', [v, perValue], { axis: last });
      const s = spread(r.cast(r.op('gather', [scales, idx], { axis: 0 }), 'f32'));
      let z: typeof data;
      if (zp) {
        const zw = (zp.type.shape as number[])[logical.length - 1]!;
        const zr = r.cast(unpack(r.op('gather', [zp, idx], { axis: 0 }), zw), 'f32');
        z = spread(zw * comp === geo.blocks ? zr : r.slice(zr, last, 0, geo.blocks));
      } else z = r.scalar('f32', data.type.dtype === 'u8' ? 1 << (bits - 1) : 0);
      return [r.cast(r.mul(r.sub(q, z), s), scales.type.dtype)];
    },
  },
};
