/**
 * Legalize rules for normalizations (ir/ops/norm.ts: skip_layer_norm over layer_norm) and quantization
 * (ir/ops/quant.ts: quantize_linear of f32, per-tensor or per-axis, exact: f32 division, halves to
 * even, clipped to the output type's range; dynamic_quantize_linear's data-derived parameters in the
 * same f32 steps as onnxruntime; matmul_integer as float32 matmuls that are exact: every partial sum is
 * an integer below 2^24, by splitting B - zp into 16·hi + lo nibbles and K into chunks of 4096 when
 * K·255² could reach 2^24). One `Rule` per op in `NORM_RULES`; passes/legalize.ts assembles the table.
 */
import { intRange } from '../../ir/tensor.js';
import type { Dim, Value } from '../../ir/types.js';
import { axisOf, staticShape } from './helpers.js';
import type { Rule } from './rewriter.js';

/** The normalization and quantization rules, one per op. */
export const NORM_RULES: Readonly<Record<string, Rule>> = {
  skip_layer_norm: {
    summary: 'S = input + skip (+ bias); [output, mean, inv_std_var] = layer_norm(S, gamma, beta, axis -1); input_skip_bias_sum = S',
    rewrite(r) {
      let s = r.add(r.x('input'), r.x('skip'));
      if (r.in('bias')) s = r.add(s, r.x('bias'));
      const [y, mean, inv] = r.ops('layer_norm', [s, r.x('gamma'), r.in('beta')], {
        axis: -1,
        epsilon: r.attrs.epsilon as number,
        stash_type: 1,
      });
      return [y!, mean!, inv!, s];
    },
  },
  quantize_linear: {
    summary: 'f32, per-tensor or per-axis scale: cast(clip(round(x / scale) + zero_point, lo, hi)) (exact: f32 division, halves to even)',
    rewrite(r) {
      const [x, s, zp] = [r.x('x'), r.x('y_scale'), r.in('y_zero_point')];
      const out = r.node.outputs[0]!.type.dtype;
      const xs = staticShape(x);
      if (x.type.dtype !== 'f32' || s.type.dtype !== 'f32' || (r.attrs.block_size as number) > 0 || !xs) return undefined;
      // a per-axis scale (and zero point) broadcast along its axis
      const perAxis = s.type.shape.length === 1 && s.type.shape[0] !== 1;
      const a = perAxis ? axisOf(r, xs.length) : 0;
      const along = (v: Value) => (perAxis ? r.reshape(v, [xs[a]!, ...Array<number>(xs.length - a - 1).fill(1)]) : v);
      let q = r.un('round', r.div(x, along(s)));
      if (zp) q = r.add(q, along(r.cast(zp, 'f32')));
      const [lo, hi] = intRange(out);
      return [r.cast(r.op('clip', [q, r.scalar('f32', lo), r.scalar('f32', hi)]), out)];
    },
  },
  dynamic_quantize_linear: {
    summary:
      'min/max = reduce_min/max(x) with 0; scale = where(max == min, 1, (max - min) / 255); zp = round(clip(-min / scale, 0, 255)); y = cast(clip(round(x / scale) + zp, 0, 255)) (f32 steps as onnxruntime)',
    rewrite(r) {
      const x = r.x('x');
      const f = (v: number) => r.scalar('f32', v);
      const all = (op: string) => r.op(op, [x], { keepdims: 0 });
      const mn = r.op('min', [all('reduce_min'), f(0)]);
      const mx = r.op('max', [all('reduce_max'), f(0)]);
      const scale = r.where(r.equal(mx, mn), f(1), r.div(r.sub(mx, mn), f(255)));
      const zp = r.un('round', r.op('clip', [r.un('neg', r.div(mn, scale)), f(0), f(255)]));
      const y = r.op('clip', [r.add(r.un('round', r.div(x, scale)), zp), f(0), f(255)]);
      return [r.cast(y, 'u8'), scale, r.cast(zp, 'u8')];
    },
  },
  matmul_integer: {
    summary:
      'a = f32(A) - a_zp, b = f32(B) - b_zp; K·255² < 2^24: i32(matmul(a, b)); else b = 16·hi + lo (hi = floor(b / 16)) and per K-chunk of 4096 i32(matmul(a, hi))·16 + i32(matmul(a, lo)), summed in i32 (exact)',
    rewrite(r) {
      const [A, B, azp, bzp] = [r.x('A'), r.x('B'), r.in('a_zero_point'), r.in('b_zero_point')];
      const f32 = (v: Value) => r.cast(v, 'f32');
      const a = azp ? r.sub(f32(A), f32(r.reshape(azp, []))) : f32(A);
      const b = bzp ? r.sub(f32(B), f32(bzp)) : f32(B);
      const [ra, rb] = [A.type.shape.length, B.type.shape.length];
      const K: Dim = A.type.shape[ra - 1]!;
      if (typeof K !== 'number') return undefined;
      const i32 = (v: Value) => r.cast(v, 'i32');
      if (K * 255 * 255 < 2 ** 24) return [i32(r.op('matmul', [a, b]))];
      const hi = r.un('floor', r.div(b, r.scalar('f32', 16)));
      const lo = r.sub(b, r.mul(hi, r.scalar('f32', 16)));
      // |a| <= 255, |hi| <= 16, |lo| <= 15: a chunk of 4096 keeps every partial sum below 4096·255·16 < 2^24
      const CH = 4096;
      let acc: Value | undefined;
      for (let k0 = 0; k0 < K; k0 += CH) {
        const k1 = Math.min(K, k0 + CH);
        const ac = K <= CH ? a : r.slice(a, ra - 1, k0, k1);
        const part = (w: Value) => i32(r.op('matmul', [ac, K <= CH ? w : r.slice(w, rb === 1 ? 0 : rb - 2, k0, k1)]));
        const y = r.add(r.mul(part(hi), r.scalar('i32', 16)), part(lo));
        acc = acc ? r.add(acc, y) : y;
      }
      return [acc!];
    },
  },
};
