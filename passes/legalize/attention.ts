/**
 * Legalize rules for the attention family (ir/ops/attention.ts): rotary_embedding becomes gathers of
 * the cos/sin rows at the positions, slices of each head's rotated part, x·cos ∓ x'·sin and a concat
 * back (half-split: the two halves; interleaved: the even and odd elements through a trailing pair
 * axis), with the unrotated rest of the head passed through. Float products and sums are rounded as
 * onnxruntime's kernel rounds them. One `Rule` per op in `ATTENTION_RULES`; passes/legalize.ts
 * assembles the table.
 */

import { blockQuantGeometry, rotaryGeometry } from '../../ir/ops/attention.js';
import { isStaticShape, makeTensor } from '../../ir/tensor.js';
import type { Rule } from './rewriter.js';

/** The attention rules, one per op. */
export const ATTENTION_RULES: Readonly<Record<string, Rule>> = {
  rotary_embedding: {
    summary:
      'gather(cos/sin, positions), per head: slice the rotated part, x1·cos − x2·sin ‖ x2·cos + x1·sin (half-split, or even/odd pairs when interleaved), concat the rest back',
    rewrite(r) {
      const [x, pos, cos, sin] = [r.x('input'), r.x('position_ids'), r.x('cos_cache'), r.x('sin_cache')];
      if (![x, pos, cos].every((v) => isStaticShape(v.type.shape))) return undefined;
      const shape = x.type.shape as number[];
      const g = rotaryGeometry(shape, cos.type.shape, r.attrs.num_heads as number, r.attrs.rotary_embedding_dim as number);
      if (typeof g === 'string') return undefined;
      const { batch: B, seq: S, heads: N, headSize: H, rotary: R, transposed } = g;
      const half = R / 2;
      // positions [B|1, S]: per token, or the start offset plus 0..S-1
      const P =
        (pos.type.shape as number[]).reduce((a, b) => a * b, 1) === 1
          ? r.add(
              r.reshape(pos, [1, 1]),
              r.tensor(
                makeTensor(
                  'i64',
                  [1, S],
                  Array.from({ length: S }, (_, i) => i),
                ),
              ),
            )
          : pos;
      const pb = (P.type.shape as number[])[0]!;
      // cos/sin rows, shaped to broadcast against [B, S, N, half] or [B, N, S, half]
      const rows = (cache: typeof cos) => {
        const t = r.op('gather', [cache, P], { axis: 0 });
        return r.reshape(t, transposed ? [pb, 1, S, half] : [pb, S, 1, half]);
      };
      const [C, Sn] = [rows(cos), rows(sin)];
      const x4 = transposed ? x : r.reshape(x, [B, S, N, H]);
      const lead = transposed ? [B, N, S] : [B, S, N];
      const xr = R < H ? r.slice(x4, 3, 0, R) : x4;
      let out: typeof x;
      if (r.attrs.interleaved === 1) {
        const pairs = r.reshape(xr, [...lead, half, 2]);
        const e = r.reshape(r.slice(pairs, 4, 0, 1), [...lead, half]);
        const o = r.reshape(r.slice(pairs, 4, 1, 2), [...lead, half]);
        const oe = r.sub(r.mul(e, C), r.mul(o, Sn));
        const oo = r.add(r.mul(o, C), r.mul(e, Sn));
        const both = r.op('concat', [r.reshape(oe, [...lead, half, 1]), r.reshape(oo, [...lead, half, 1])], { axis: 4 });
        out = r.reshape(both, [...lead, R]);
      } else {
        const x1 = r.slice(xr, 3, 0, half);
        const x2 = r.slice(xr, 3, half, R);
        out = r.op('concat', [r.sub(r.mul(x1, C), r.mul(x2, Sn)), r.add(r.mul(x2, C), r.mul(x1, Sn))], { axis: 3 });
      }
      if (R < H) out = r.op('concat', [out, r.slice(x4, 3, R, H)], { axis: 3 });
      return [transposed ? out : r.reshape(out, shape)];
    },
  },
  gather_block_quantized: {
    summary:
      'gather axis 0, quantize axis last: gather(data/scales/zero_points, indices), unpack (bit_shift, mod 2^bits), (cast(q) - zp[block]) * scale[block]',
    rewrite(r) {
      const [data, idx, scales] = [r.x('data'), r.x('indices'), r.x('scales')];
      const zp = r.in('zero_points');
      const geo = blockQuantGeometry(data.type, scales.type, zp?.type ?? null, r.attrs as never);
      if (typeof geo === 'string' || !isStaticShape(idx.type.shape)) return undefined;
      const { comp, bits, gatherAxis, quantAxis, logical } = geo;
      if (gatherAxis !== 0 || quantAxis !== logical.length - 1) return undefined;
      const last = logical.length - 1 + idx.type.shape.length - 1; // the quantize axis in the gathered rows
      const lead = [...(idx.type.shape as number[]), ...logical.slice(1, -1)];
      // values of packed rows [..., W] -> [..., W * comp], low bits first
      const unpack = (rows: typeof data, width: number): typeof data => {
        if (comp === 1) return rows;
        const dt = rows.type.dtype;
        const parts = Array.from({ length: comp }, (_, k) => {
          const shifted = k === 0 ? rows : r.op('bit_shift', [rows, r.scalar(dt, k * bits)], { direction: 'RIGHT' });
          return r.reshape(r.op('mod', [shifted, r.scalar(dt, 1 << bits)]), [...lead, width, 1]);
        });
        return r.reshape(r.op('concat', parts, { axis: last + 1 }), [...lead, width * comp]);
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
