/**
 * Legalize rules for the attention family (ir/ops/attention.ts): rotary_embedding becomes gathers of
 * the cos/sin rows at the positions, slices of each head's rotated part, x·cos ∓ x'·sin and a concat
 * back (half-split: the two halves; interleaved: the even and odd elements through a trailing pair
 * axis), with the unrotated rest of the head passed through. Float products and sums are rounded as
 * onnxruntime's kernel rounds them. One `Rule` per op in `ATTENTION_RULES`; passes/legalize.ts
 * assembles the table.
 */

import { inferCtxOf } from '../../ir/lut/build.js';
import { blockQuantGeometry, rotaryGeometry } from '../../ir/ops/attention.js';
import { dimsOfInput } from '../../ir/ops/dims.js';
import { isStaticShape, makeTensor } from '../../ir/tensor.js';
import type { Value } from '../../ir/types.js';
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
  group_query_attention: {
    summary:
      'static total length: BNSH q/k/v, rotary_embedding at past_b + s, present = where(t < past_b, past, gather_elements(new, t - past_b)), KV heads expanded, causal/window mask, softcap, softmax, P·V',
    rewrite(r) {
      const q0 = r.x('query');
      const ctx = inferCtxOf(r.node);
      const totalDims = dimsOfInput(ctx, 6);
      const types = [q0, r.in('key'), r.in('past_key')].filter((v): v is Value => !!v);
      if (totalDims?.length !== 1 || typeof totalDims[0] !== 'number' || !types.every((v) => isStaticShape(v.type.shape))) return undefined;
      const total = totalDims[0];
      const [B, S, D] = q0.type.shape as number[];
      const [N, Nkv] = [r.attrs.num_heads as number, r.attrs.kv_num_heads as number];
      const G = N / Nkv;
      const packed = !r.in('key');
      const H = packed ? D! / (N + 2 * Nkv) : D! / N;
      const pastK = r.in('past_key');
      const P = pastK ? (pastK.type.shape as number[])[2]! : 0;
      const T = Math.max(total, P);
      const firstPrompt = S === total;
      const bnsh = (x: Value, heads: number) => r.op('transpose', [r.reshape(x, [B!, S!, heads, H])], { perm: [0, 2, 1, 3] });
      const heads = (off: number, n: number) => bnsh(r.slice(q0, 2, off * H, (off + n) * H), n);
      let [q, k, v]: [Value, Value, Value] = packed
        ? [heads(0, N), heads(N, Nkv), heads(N + Nkv, Nkv)]
        : [bnsh(q0, N), bnsh(r.x('key'), Nkv), bnsh(r.x('value'), Nkv)];
      const iota = (n: number, shape: number[]) =>
        r.tensor(
          makeTensor(
            'i64',
            shape,
            Array.from({ length: n }, (_, i) => i),
          ),
        );
      // past length per batch [B, 1] (int64): 0 for the first prompt, else seqlens_k + 1 - S
      const pastLen = firstPrompt
        ? r.scalar('i64', 0)
        : r.reshape(r.add(r.cast(r.x('seqlens_k'), 'i64'), r.scalar('i64', 1 - S!)), [B!, 1]);
      if (r.attrs.do_rotary === 1) {
        const pos = firstPrompt ? iota(S!, [1, S!]) : r.add(pastLen, iota(S!, [1, S!]));
        const posB = firstPrompt ? r.op('expand', [pos, r.i64([B!, S!])]) : pos;
        const rot = (x: Value) =>
          r.op('rotary_embedding', [x, posB, r.x('cos_cache'), r.x('sin_cache')], { interleaved: r.attrs.rotary_interleaved as number });
        q = rot(q);
        k = rot(k);
      }
      // present [B, Nkv, T, H]: past rows below past_b, the S new rows from past_b, zeros after
      const t = iota(T, [1, T]); // [1, T]
      const rel = r.sub(t, pastLen); // [B|1, T]
      const inNew = r.op('and', [r.op('greater_or_equal', [rel, r.scalar('i64', 0)]), r.less(rel, r.scalar('i64', S!))]);
      const pick = r.op('clip', [rel, r.scalar('i64', 0), r.scalar('i64', S! - 1)]);
      const idx = r.op('expand', [r.reshape(pick, [pick.type.shape[0] as number, 1, T, 1]), r.i64([B!, Nkv, T, H])]);
      const mask4 = (m: Value) => r.reshape(m, [m.type.shape[0] as number, 1, T, 1]);
      const present = (fresh: Value, past: Value | null) => {
        const taken = r.op('gather_elements', [fresh, idx], { axis: 2 });
        const zero = r.k(fresh, 0);
        let old: Value = zero;
        if (past && !firstPrompt) {
          const padded = T > P ? r.op('concat', [past, r.fill(zero, [B!, Nkv, T - P, H])], { axis: 2 }) : past;
          old = r.where(mask4(r.less(rel, r.scalar('i64', 0))), padded, zero);
        }
        return r.where(mask4(inNew), taken, old);
      };
      const pk = present(k, pastK);
      const pv = present(v, r.in('past_value'));
      // KV heads to their query groups: [B, Nkv, T, H] -> [B, N, T, H]
      const grouped = (x: Value) =>
        G === 1 ? x : r.reshape(r.op('expand', [r.reshape(x, [B!, Nkv, 1, T, H]), r.i64([B!, Nkv, G, T, H])]), [B!, N, T, H]);
      const scale = (r.attrs.scale as number) === 0 ? 1 / Math.sqrt(H) : (r.attrs.scale as number);
      let scores = r.mul(r.op('matmul', [q, r.op('transpose', [grouped(pk)], { perm: [0, 1, 3, 2] })]), r.k(q, scale)); // [B, N, S, T]
      const softcap = r.attrs.softcap as number;
      if (softcap > 0) scores = r.mul(r.un('tanh', r.mul(scores, r.k(q, 1 / softcap))), r.k(q, softcap));
      // query s sees keys t <= past_b + s (and > past_b + s - W for a local window W)
      const last = r.add(r.reshape(pastLen, [pastLen.type.shape.length ? B! : 1, 1, 1, 1]), iota(S!, [1, 1, S!, 1])); // [B|1, 1, S, 1]
      const tt = iota(T, [1, 1, 1, T]);
      let valid = r.op('less_or_equal', [tt, last]);
      const W = r.attrs.local_window_size as number;
      if (W > 0) valid = r.op('and', [valid, r.greater(tt, r.sub(last, r.scalar('i64', W)))]);
      const masked = r.where(valid, scores, r.k(q, Number.NEGATIVE_INFINITY));
      let probs: Value;
      if (r.attrs.smooth_softmax === 1) {
        const withSink = r.op('concat', [masked, r.fill(r.k(q, 0), [B!, N, S!, 1])], { axis: 3 });
        probs = r.slice(r.op('softmax', [withSink], { axis: 3 }), 3, 0, T);
      } else probs = r.op('softmax', [masked], { axis: 3 });
      const o = r.op('matmul', [probs, grouped(pv)]); // [B, N, S, H]
      const out = r.reshape(r.op('transpose', [o], { perm: [0, 2, 1, 3] }), [B!, S!, N * H]);
      return [out, pk, pv];
    },
  },
};
