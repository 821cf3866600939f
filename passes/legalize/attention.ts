/**
 * Legalize rules for the attention family (ir/ops/attention.ts): rotary_embedding becomes gathers of
 * the cos/sin rows at the positions, slices of each head's rotated part, x·cos ∓ x'·sin and a concat
 * back (half-split: the two halves; interleaved: the even and odd elements through a trailing pair
 * axis), with the unrotated rest of the head passed through; rotary_embedding_onnx shares that
 * rotation (`rotateRows`). multi_head_attention, decided per node: where its form allows
 * (`mhaFusable`: self attention on [B, S, N·H] q/k/v, one head size, causal or S = 1, and batch 1,
 * S = 1 or no past), one group_query_attention node (`mhaOnGqa`), the fused kernel every compiled
 * target renders, written against the BNSH cache (kv_num_heads = num_heads, no rotary, seqlens_k and
 * total_sequence_length computed from the shapes, the bias slices added to q/k/v first,
 * key_padding_mask and attention_bias as GQA's additive attention_bias; present = past ‖ new, P + S
 * rows, as MultiHeadAttention's); every other form (BNSH cross-attention keys, bidirectional S > 1, a
 * prompt continuing a past with batch > 1, mask dims not provably [B, P + S], ...) the generic chain
 * (`mhaChain`):
 * transposes to BNSH, concat with the past, matmul, scale, attention_bias and the additive padding
 * mask, the float32 lowest value on future keys (onnxruntime leaves them out whatever
 * mask_filter_value), softmax and matmul. gather_block_quantized becomes gathers, unpacking and a
 * dequantize. Float products and sums are rounded as onnxruntime's kernels round them. Batch and
 * sequence dims may be runtime dims: reshapes copy them by position (`Rewriter.reshapeTo`); positions,
 * causal masks and GQA's lengths come from `Rewriter.dim`. One `Rule` per op in `ATTENTION_RULES`;
 * passes/legalize.ts assembles the table. No diagnostic codes: a form a rule cannot express is
 * declined (the target's LUT5003 names the node).
 */

import { dimEquals } from '../../ir/dim-expr.js';
import {
  blockQuantGeometry,
  type MhaLayout,
  mhaLayout,
  onnxRotaryGeometry,
  type RotaryGeometry,
  rotaryGeometry,
} from '../../ir/ops/attention.js';
import { isStaticShape, makeTensor } from '../../ir/tensor.js';
import type { Dim, Value } from '../../ir/types.js';
import type { Rewriter, Rule } from './rewriter.js';

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

/**
 * The float32 lowest value: the chain's addend for future keys. onnxruntime's MultiHeadAttention leaves
 * future keys out of the softmax whatever mask_filter_value is (measured on onnxruntime-node 1.30:
 * with mask_filter_value -2 its causal result is group_query_attention's to 7e-8, not the additive
 * -2's), so they must weigh exactly 0: exp(lowest - max) is 0 in float32 and double.
 */
const F32_LOWEST = -3.4028234663852886e38;

/**
 * Whether a MultiHeadAttention node maps onto group_query_attention's fused kernel (true), or why not:
 * GQA takes q/k/v [B, S, N·H] with the key's sequence the query's (self attention: present = past ‖
 * S new rows), one head size, an additive mask only as its attention_bias [B or 1, N or 1, S, T]
 * (MHA's attention_bias plus where(padded, mask_filter_value, 0), so their dims must provably be
 * those), and is always causal with query s at position P + s, which equals MultiHeadAttention's
 * when unidirectional (both leave future keys out, whatever mask_filter_value) or S = 1 (one query
 * sees every key either way); a prompt continuing a past (S > 1, P > 0) needs batch 1 there, so
 * B = 1, S = 1 or P = 0 must hold statically. Every compiled target renders group_query_attention
 * natively (ref runs multi_head_attention itself, so never gets here).
 */
export function mhaFusable(r: Rewriter, g: MhaLayout): true | string {
  const [q, k] = [r.x('query'), r.x('key')];
  const [B, S] = q.type.shape;
  if (g.bnshKv) return 'key and value are BNSH (cross attention on projected keys)';
  const [kpm, ab] = [r.in('key_padding_mask'), r.in('attention_bias')];
  // GQA's attention_bias is [B or 1, N or 1, S, T] with T the present length, provably
  if (kpm && !(kpm.type.shape[0] === B && dimEquals(kpm.type.shape[1]!, g.total) === true))
    return 'a key_padding_mask whose dims are not provably [batch, past + sequence]';
  const [b0, , s0, t0] = ab?.type.shape ?? [];
  if (ab && !((b0 === 1 || b0 === B) && s0 === S && dimEquals(t0!, g.total) === true))
    return 'an attention_bias whose dims are not provably [batch or 1, heads or 1, sequence, past + sequence]';
  if (g.vHeadSize !== g.headSize) return 'the value head size differs from the query head size';
  if (k.type.shape[1] !== S) return 'the key sequence is not the query sequence';
  if (S !== 1 && r.attrs.unidirectional !== 1) return 'bidirectional attention over more than one query';
  if (S !== 1 && B !== 1 && g.past !== 0) return 'a prompt that may continue a past with a batch that may exceed 1';
  return true;
}

/**
 * MultiHeadAttention as group_query_attention (`mhaFusable` holds): q/k/v (+ their bias slices) as
 * given, past/present BNSH, kv_num_heads = num_heads, no rotary; total_sequence_length = P + S and
 * seqlens_k = [T - 1] * B computed from the shapes (runtime dims through `Rewriter.dim`);
 * attention_bias = MHA's attention_bias + where(key_padding_mask == 0, mask_filter_value, 0), expanded
 * to [B, 1, S, T] when only the mask is given and S may exceed 1.
 */
function mhaOnGqa(r: Rewriter, g: MhaLayout): Value[] {
  const [q0, k0, v0] = [r.x('query'), r.x('key'), r.x('value')];
  const [bias, pk, pv] = [r.in('bias'), r.in('past_key'), r.in('past_value')];
  const { heads: N, headSize: H } = g;
  const D = N * H;
  let [q, k, v] = [q0, k0, v0];
  if (bias) {
    q = r.add(q, r.slice(bias, 0, 0, D));
    k = r.add(k, r.slice(bias, 0, D, 2 * D));
    v = r.add(v, r.slice(bias, 0, 2 * D, 3 * D));
  }
  const [B, S] = q0.type.shape as [Dim, Dim];
  // GQA's attention_bias [B or 1, N or 1, S, T]: MHA's attention_bias + where(padded, mask_filter_value, 0)
  // (rounded once, as MultiHeadAttention's interpreter and onnxruntime add them)
  let addend: Value | null = r.in('attention_bias');
  const kpm = r.in('key_padding_mask');
  if (kpm) {
    const padded = r.op('unsqueeze', [r.equal(kpm, r.scalar('i32', 0)), r.i64([1, 2])]);
    let m = r.where(padded, r.scalar('f32', r.attrs.mask_filter_value as number), r.scalar('f32', 0)); // [B, 1, 1, T]
    if (addend) m = r.add(addend, m);
    else if (S !== 1) {
      const to =
        typeof S === 'number'
          ? r.i64([1, 1, S, 1])
          : r.op('concat', [r.i64([1, 1]), r.reshape(r.dim(q0, 1), [1]), r.i64([1])], { axis: 0 });
      m = r.op('expand', [m, to]); // [B, 1, S, T]
    }
    addend = m;
  }
  const T = g.total;
  let total: Value;
  let seqlens: Value;
  if (typeof T === 'number') {
    total = r.tensor(makeTensor('i32', [1], [T]));
    seqlens =
      typeof B === 'number'
        ? r.tensor(makeTensor('i32', [B], new Array<number>(B).fill(T - 1)))
        : r.op('expand', [r.tensor(makeTensor('i32', [1], [T - 1])), r.reshape(r.dim(q0, 0), [1])]);
  } else {
    const t64 = pk ? r.add(r.dim(pk, 2), r.dim(k0, 1)) : r.dim(k0, 1);
    total = r.cast(r.reshape(t64, [1]), 'i32');
    const last = r.sub(total, r.tensor(makeTensor('i32', [1], [1])));
    seqlens = B === 1 ? last : r.op('expand', [last, typeof B === 'number' ? r.i64([B]) : r.reshape(r.dim(q0, 0), [1])]);
  }
  const ins = [q, k, v, pk, pv, seqlens, total, ...(addend ? [null, null, null, addend] : [])];
  return r.ops('group_query_attention', ins, {
    num_heads: N,
    kv_num_heads: N,
    scale: r.attrs.scale as number,
  });
}

/**
 * MultiHeadAttention as a chain of generic ops (every form `mhaLayout` takes): q/k/v (+ bias) to BNSH,
 * present = concat(past, new), softmax(q·kᵀ·scale + attention_bias + the additive mask)·v. Declines
 * (undefined) a causal mask for a runtime query length over keys of another length.
 */
function mhaChain(r: Rewriter, g: MhaLayout): Value[] | undefined {
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
  // the additive mask: attention_bias, mask_filter_value where the key is padding, and (unidirectional,
  // S > 1) the float32 lowest value where it is in the future (onnxruntime leaves those keys out)
  let addend: Value | undefined = ab ?? undefined;
  const plus = (m: Value) => {
    addend = addend ? r.add(addend, m) : m;
  };
  if (kpm) {
    const padded = r.op('unsqueeze', [r.equal(kpm, r.scalar('i32', 0)), r.i64([1, 2])]);
    plus(r.where(padded, r.scalar('f32', r.attrs.mask_filter_value as number), r.scalar('f32', 0)));
  }
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
    plus(r.where(future, r.scalar('f32', F32_LOWEST), r.scalar('f32', 0)));
  }
  if (addend) scores = r.add(scores, addend);
  const p = r.op('softmax', [scores], { axis: -1 });
  const o = r.op('transpose', [r.op('matmul', [p, V])], { perm: [0, 2, 1, 3] });
  return [r.reshapeTo(o, [B, S, N * Hv]), K, V];
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
      'onto the fused group_query_attention where its form allows (q/k/v [B, S, D] with L = S, equal head sizes, causal or S = 1, batch 1 or S = 1 or no past; kv_num_heads = num_heads, seqlens_k = T - 1 and total_sequence_length = T from the shapes, attention_bias = MHA attention_bias + where(padded, mask_filter_value, 0)); else q/k/v (+ bias) to BNSH, present = concat(past, new) on the sequence axis, softmax(q·kᵀ·scale + attention_bias + where(padded, mask_filter_value, 0) + where(future, float32 lowest, 0))·v, back to [B, S, N·Hv] (sequence dims may be runtime)',
    rewrite(r) {
      const g = mhaLayout(
        r.node.inputs.map((v) => v?.type ?? null),
        r.attrs.num_heads as number,
      );
      if (typeof g === 'string') return undefined;
      return mhaFusable(r, g) === true ? mhaOnGqa(r, g) : mhaChain(r, g);
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
