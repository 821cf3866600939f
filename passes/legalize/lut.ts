/**
 * Legalize rules for the LUT layers (ir/ops/lut.ts): lut.gemm (the fused form of `lut.tables: 'kernel'`
 * targets) for the other targets as lut.table + lut.pack (packed at compile time for the target's
 * vecBytes) + lut.matmul, declining unless q, scales and zeros are constants; lut.pack of constant
 * operands folded by its interpreter. One `Rule` per op in `LUT_RULES`; passes/legalize.ts assembles
 * the table.
 */
import { getTarget } from '../../backends/target.js';
import { interpPack } from '../../ir/lut/interp.js';
import { foldConstants } from './helpers.js';
import type { Rule } from './rewriter.js';

/** The LUT-layer rules, one per op. */
export const LUT_RULES: Readonly<Record<string, Rule>> = {
  'lut.gemm': {
    summary: "lut.table(x) + lut.pack(q, scales, zeros) (packed here for the target's vecBytes) + lut.matmul",
    rewrite(r) {
      const a = r.attrs;
      const [q, s, z] = [r.x('q'), r.x('scales'), r.x('zeros')];
      if (!q.const || !s.const || !z.const) return undefined;
      const { activation, gelu_approximate, leaky_relu_alpha, tables, ...dims } = a;
      const geo = { ...dims, vec_bytes: getTarget(r.target).lut.vecBytes, k_tile: 0 };
      const t = r.ops('lut.table', [r.x('x')], { k: a.k!, group_size: a.group_size!, tables: tables! });
      const packed = interpPack([q.const, s.const, z.const], geo).map((w) => r.tensor(w));
      const epi = [r.in('bias'), r.in('residual'), r.in('channel_scale')];
      return [
        r.op('lut.matmul', [...t, ...packed, ...epi], {
          ...geo,
          tables: tables!,
          activation: activation!,
          gelu_approximate: gelu_approximate!,
          leaky_relu_alpha: leaky_relu_alpha!,
        }),
      ];
    },
  },
  'lut.pack': {
    summary: 'constant operands: packed at compile time by its interpreter (bitplane-layout folds it first)',
    rewrite: (r) => foldConstants(r),
  },
};
