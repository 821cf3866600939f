/**
 * Legalize rules for normalizations (ir/ops/norm.ts: skip_layer_norm over layer_norm) and quantization
 * (ir/ops/quant.ts: quantize_linear of f32, per-tensor or per-axis, exact: f32 division, halves to
 * even, clipped to the output type's range). One `Rule` per op in `NORM_RULES`; passes/legalize.ts
 * assembles the table.
 */
import { intRange } from '../../ir/tensor.js';
import type { Value } from '../../ir/types.js';
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
};
