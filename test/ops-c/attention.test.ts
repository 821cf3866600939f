/**
 * com.microsoft RotaryEmbedding (ir/ops/attention.ts) against onnxruntime-node's CPU kernel on random
 * inputs: [B, S, N*H] and [B, N, S, H] inputs, half-split and interleaved, per-token position ids and a
 * scalar start offset, a partial rotary dim (the rest passed through). Tolerance ROTARY_ORT: ORT rounds
 * x·cos and sign·x'·sin to float before adding (two roundings), the interpreter rounds once from double:
 * |Δ| <= 2 ulp of the larger product, below 4e-7 of max|y| for these |x|, |cos|, |sin| <= 1 (measured
 * up to 1.2e-7). Bad caches and positions are diagnosed.
 * com.microsoft GatherBlockQuantized against onnxruntime-node: uint8 data with 2, 4 and 8 bits per
 * value (with and without packed zero points), int4/uint4 data, f32 and f16 scales, 1-D and 2-D
 * indices with negative entries. Exact: (q - zp) is an exact small integer and one product is rounded
 * once to the scales' type by both.
 */
import { describe, expect, it } from 'vitest';
import type { LutcError } from '../../base/diagnostics.js';
import { importOnnx } from '../../compiler/onnx/index.js';
import { interpret } from '../../ir/interpret.js';
import { makeTensor } from '../../ir/tensor.js';
import type { Tensor } from '../../ir/types.js';
import { OnnxBuilder } from '../helpers/onnx-builder.js';
import { runOrt } from '../helpers/ort.js';
import { maxRel } from '../helpers/tolerance.js';

const ROTARY_ORT = 4e-7;

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

interface Case {
  name: string;
  input: number[];
  maxPos: number;
  rotary: number;
  interleaved: 0 | 1;
  numHeads?: number;
  rotaryDimAttr?: number;
  /** Per-token position ids (true) or one start offset. */
  perToken: boolean;
}

function build(c: Case): { bytes: Uint8Array; feeds: Record<string, Tensor> } {
  const next = rng(c.input.reduce((a, b) => a * 31 + b, c.rotary + c.interleaved));
  const b = new OnnxBuilder({ opset: 17, domains: { 'com.microsoft': 1 } });
  const [B, S] = [c.input[0]!, c.input.length === 4 ? c.input[2]! : c.input[1]!];
  b.input('x', 'f32', c.input);
  b.input('pos', 'i64', c.perToken ? [B, S] : [1]);
  const half = c.rotary / 2;
  // cos/sin of real angles, as exporters store them
  const ang = Array.from({ length: c.maxPos * half }, (_, i) => Math.floor(i / half) * 10000 ** (-(i % half) / half));
  b.initializer('cos', makeTensor('f32', [c.maxPos, half], ang.map(Math.cos)));
  b.initializer('sin', makeTensor('f32', [c.maxPos, half], ang.map(Math.sin)));
  const attrs: Record<string, number> = { interleaved: c.interleaved };
  if (c.numHeads) attrs.num_heads = c.numHeads;
  if (c.rotaryDimAttr) attrs.rotary_embedding_dim = c.rotaryDimAttr;
  b.node('RotaryEmbedding', ['x', 'pos', 'cos', 'sin'], { domain: 'com.microsoft', attrs, outputs: ['y'] });
  b.output('y', 'f32', c.input);
  const n = c.input.reduce((a, v) => a * v, 1);
  const x = makeTensor(
    'f32',
    c.input,
    Array.from({ length: n }, () => next() * 2 - 1),
  );
  const positions = c.perToken ? Array.from({ length: B * S }, () => Math.floor(next() * c.maxPos)) : [Math.floor(next() * (c.maxPos - S))];
  return { bytes: b.toBytes(), feeds: { x, pos: makeTensor('i64', c.perToken ? [B, S] : [1], positions) } };
}

const CASES: Case[] = [
  { name: '[B,S,N*H] half-split, per-token positions', input: [2, 5, 24], maxPos: 32, rotary: 8, interleaved: 0, perToken: true },
  { name: '[B,S,N*H] interleaved, start offset', input: [1, 7, 32], maxPos: 20, rotary: 16, interleaved: 1, perToken: false },
  { name: '[B,N,S,H] half-split, start offset', input: [2, 3, 4, 12], maxPos: 16, rotary: 12, interleaved: 0, perToken: false },
  { name: '[B,N,S,H] interleaved, per-token', input: [1, 2, 6, 8], maxPos: 10, rotary: 8, interleaved: 1, perToken: true },
  {
    name: 'partial rotary dim (num_heads, rotary_embedding_dim): the rest passes through',
    input: [1, 4, 32],
    maxPos: 8,
    rotary: 4,
    interleaved: 0,
    numHeads: 2,
    rotaryDimAttr: 4,
    perToken: true,
  },
];

describe('rotary_embedding (com.microsoft RotaryEmbedding) vs onnxruntime', () => {
  for (const c of CASES) {
    it(c.name, async () => {
      const { bytes, feeds } = build(c);
      const [want] = await runOrt(bytes, feeds);
      const g = importOnnx(bytes);
      expect(g.nodes.map((n) => n.op)).toEqual(['rotary_embedding']);
      const [got] = interpret(g, feeds);
      expect(got!.shape).toEqual(want!.shape);
      expect(maxRel(got!, want!)).toBeLessThanOrEqual(ROTARY_ORT);
      // not the identity: the rotation moved the values
      expect(maxRel(got!, feeds.x!)).toBeGreaterThan(1e-2);
    });
  }

  it('diagnoses a cache that does not fit and a position outside the cache', () => {
    const { bytes, feeds } = build(CASES[0]!);
    const g = importOnnx(bytes);
    feeds.pos!.data[3] = 32;
    try {
      interpret(g, feeds);
      expect.fail('expected LUT3051');
    } catch (e) {
      expect((e as LutcError).diagnostics[0]!.code).toBe('LUT3051');
      expect((e as LutcError).diagnostics[0]!.message).toContain('position 32 is outside the cos/sin cache of 32 rows');
    }
    const b = new OnnxBuilder({ opset: 17, domains: { 'com.microsoft': 1 } });
    b.input('x', 'f32', [1, 2, 10]);
    b.input('pos', 'i64', [1]);
    b.initializer('cos', makeTensor('f32', [4, 4], new Float32Array(16)));
    b.initializer('sin', makeTensor('f32', [4, 4], new Float32Array(16)));
    b.node('RotaryEmbedding', ['x', 'pos', 'cos', 'sin'], { domain: 'com.microsoft', outputs: ['y'] });
    b.output('y', 'f32');
    expect(() => importOnnx(b.toBytes())).toThrow(/LUT1110[\s\S]*hidden size 10 does not split into heads of 8/);
  });
});

describe('gather_block_quantized (com.microsoft GatherBlockQuantized) vs onnxruntime', () => {
  interface GCase {
    name: string;
    dtype: 'u8' | 'i4' | 'u4';
    bits: 2 | 4 | 8;
    /** Logical [V, K]. */
    vk: [number, number];
    block: number;
    zp: boolean;
    scales: 'f32' | 'f16';
    indices: number[];
    idxShape: number[];
  }
  const cases: GCase[] = [
    {
      name: 'uint8 4-bit, packed zero points, f32',
      dtype: 'u8',
      bits: 4,
      vk: [10, 64],
      block: 32,
      zp: true,
      scales: 'f32',
      indices: [3, 0, 9, -1],
      idxShape: [4],
    },
    {
      name: 'uint8 4-bit, default zero point 8, 2-D indices',
      dtype: 'u8',
      bits: 4,
      vk: [6, 48],
      block: 16,
      zp: false,
      scales: 'f32',
      indices: [1, 5, 2, 2, 0, -6],
      idxShape: [2, 3],
    },
    {
      name: 'uint8 2-bit with zero points (K not a block multiple)',
      dtype: 'u8',
      bits: 2,
      vk: [5, 40],
      block: 16,
      zp: true,
      scales: 'f32',
      indices: [4, 1],
      idxShape: [2],
    },
    {
      name: 'uint8 8-bit, f16 scales',
      dtype: 'u8',
      bits: 8,
      vk: [7, 32],
      block: 16,
      zp: true,
      scales: 'f16',
      indices: [6, 0, 3],
      idxShape: [3],
    },
    {
      name: 'int4 with int4 zero points',
      dtype: 'i4',
      bits: 4,
      vk: [8, 32],
      block: 16,
      zp: true,
      scales: 'f32',
      indices: [7, 2],
      idxShape: [1, 2],
    },
    {
      name: 'uint4, no zero points',
      dtype: 'u4',
      bits: 4,
      vk: [4, 64],
      block: 32,
      zp: false,
      scales: 'f32',
      indices: [0, 3, 1],
      idxShape: [3],
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const next = rng(c.vk[0] * 7 + c.vk[1] + c.bits);
      const [V, K] = c.vk;
      const comp = c.dtype === 'u8' ? 8 / c.bits : 1;
      const nb = Math.ceil(K / c.block);
      const lo = c.dtype === 'i4' ? -8 : 0;
      const hi = c.dtype === 'u8' && comp === 1 ? 256 : c.dtype === 'u8' ? 1 << c.bits : c.dtype === 'i4' ? 8 : 16;
      const q = (n: number) => Array.from({ length: n }, () => lo + Math.floor(next() * (hi - lo)));
      const pack = (vals: number[], rows: number, cols: number) => {
        const w = Math.ceil(cols / comp);
        const out = new Array<number>(rows * w).fill(0);
        for (let r = 0; r < rows; r++)
          for (let k = 0; k < cols; k++) out[r * w + Math.floor(k / comp)]! |= vals[r * cols + k]! << ((k % comp) * c.bits);
        return { data: out, shape: [rows, w] };
      };
      const b = new OnnxBuilder({ opset: 17, domains: { 'com.microsoft': 1 } });
      const dq = pack(q(V * K), V, K);
      b.initializer('data', makeTensor(c.dtype, dq.shape, dq.data));
      b.initializer(
        'scales',
        makeTensor(
          c.scales,
          [V, nb],
          Array.from({ length: V * nb }, () => 0.01 + next() * 0.1),
        ),
      );
      const ins = ['data', 'idx', 'scales'];
      if (c.zp) {
        const zq = pack(q(V * nb), V, nb);
        b.initializer('zp', makeTensor(c.dtype, zq.shape, zq.data));
        ins.push('zp');
      }
      b.input('idx', 'i64', c.idxShape);
      b.node('GatherBlockQuantized', ins, {
        domain: 'com.microsoft',
        attrs: { bits: c.bits, block_size: c.block, quantize_axis: 1 },
        outputs: ['y'],
      });
      b.output('y', c.scales);
      const bytes = b.toBytes();
      const feeds = { idx: makeTensor('i64', c.idxShape, c.indices) };
      const [want] = await runOrt(bytes, feeds);
      const g = importOnnx(bytes);
      const [got] = interpret(g, feeds);
      expect(got!.shape).toEqual([...c.idxShape, K]);
      expect(want!.shape).toEqual(got!.shape);
      expect(Array.from(got!.data)).toEqual(Array.from(want!.data));
      expect(new Set(Array.from(got!.data)).size).toBeGreaterThan(4);
    });
  }

  it('diagnoses bad layouts and out-of-range indices', () => {
    /** uint8 4-bit data [4, 16] (32 values a row, 2 blocks of 16) with scales of `scaleCols` blocks. */
    const model = (scaleCols: number) => {
      const b = new OnnxBuilder({ opset: 17, domains: { 'com.microsoft': 1 } });
      b.initializer('data', makeTensor('u8', [4, 16], new Uint8Array(64)));
      b.initializer('scales', makeTensor('f32', [4, scaleCols], new Float32Array(4 * scaleCols)));
      b.input('idx', 'i64', [2]);
      b.node('GatherBlockQuantized', ['data', 'idx', 'scales'], {
        domain: 'com.microsoft',
        attrs: { bits: 4, block_size: 16, quantize_axis: 1 },
        outputs: ['y'],
      });
      b.output('y', 'f32');
      return b.toBytes();
    };
    expect(() => importOnnx(model(3))).toThrow(/LUT1110[\s\S]*scales \[4,3\] must be \[4,2\]/);
    const g = importOnnx(model(2));
    expect(() => interpret(g, { idx: makeTensor('i64', [2], [1, 4]) })).toThrow(
      /LUT3051[\s\S]*index 4 is out of range for an axis of size 4/,
    );
  });
});

describe('group_query_attention (com.microsoft GroupQueryAttention) vs onnxruntime', () => {
  it('types present as max(total, past) when total_sequence_length comes from the attention mask (onnxruntime-genai)', () => {
    const b = new OnnxBuilder({ opset: 17, domains: { 'com.microsoft': 1 } });
    b.input('q', 'f32', [1, 'seq', 64]);
    b.input('k', 'f32', [1, 'seq', 32]);
    b.input('v', 'f32', [1, 'seq', 32]);
    b.input('past_k', 'f32', [1, 2, 'past', 16]);
    b.input('past_v', 'f32', [1, 2, 'past', 16]);
    b.input('attention_mask', 'i64', [1, 'total']);
    const [sum] = b.node('ReduceSum', ['attention_mask', b.initializer('one', makeTensor('i64', [1], [1]))], { attrs: { keepdims: 0 } });
    const [sl] = b.node('Sub', [sum!, b.initializer('i1', makeTensor('i64', [], [1]))]);
    const [sk] = b.node('Cast', [sl!], { attrs: { to: 6 } });
    const [shape] = b.node('Shape', ['attention_mask']);
    const [tot] = b.node('Gather', [shape!, 'i1'], { attrs: { axis: 0 } });
    const [tot32] = b.node('Cast', [tot!], { attrs: { to: 6 } });
    b.node('GroupQueryAttention', ['q', 'k', 'v', 'past_k', 'past_v', sk!, tot32!], {
      domain: 'com.microsoft',
      attrs: { num_heads: 4, kv_num_heads: 2 },
      outputs: ['out', 'pk', 'pv'],
    });
    for (const o of ['out', 'pk', 'pv']) b.output(o, 'f32');
    const g = importOnnx(b.toBytes());
    expect(g.outputs[0]!.type.shape).toEqual([1, 'seq', 64]);
    expect(g.outputs[1]!.type.shape).toEqual([1, 2, 'max(past, total)', 16]);
  });

  /**
   * GQA_ORT: ORT computes Q·Kᵀ by a float GEMM and the softmax and P·V in float; the interpreter in
   * double from the same float inputs: each output is a convex combination of V rows, so the error is a
   * few float roundings of max|v| (measured up to 3e-7 of max|y|); 2e-6 (F32_EXACT) bounds it.
   */
  const GQA_ORT = 2e-6;
  interface QCase {
    name: string;
    B: number;
    S: number;
    /** Past buffer rows (0: no past inputs). */
    P: number;
    /** seqlens_k + 1 per batch. */
    totals: number[];
    packed?: boolean;
    rotary?: 'half' | 'interleaved';
    attrs?: Record<string, number | { f: number }>;
  }
  const [N, Nkv, H] = [4, 2, 16];
  const cases: QCase[] = [
    { name: 'first prompt, separate q/k/v, no past', B: 1, S: 5, P: 0, totals: [5] },
    { name: 'decode step after 6 tokens (growing cache)', B: 2, S: 1, P: 6, totals: [7, 7] },
    { name: 'packed QKV with rotary, first prompt, batch 2', B: 2, S: 4, P: 0, totals: [4, 4], packed: true, rotary: 'half' },
    {
      name: 'shared-buffer mode: past of capacity 12, 7 valid rows, interleaved rotary',
      B: 1,
      S: 1,
      P: 12,
      totals: [8],
      rotary: 'interleaved',
    },
    { name: 'prompt continuing a past (subsequent prompt)', B: 1, S: 3, P: 4, totals: [7] },
    { name: 'local_window_size 3', B: 1, S: 6, P: 0, totals: [6], attrs: { local_window_size: 3 } },
    { name: 'local window in decode', B: 1, S: 1, P: 9, totals: [10], attrs: { local_window_size: 4 } },
    {
      name: 'softcap, smooth_softmax and an explicit scale',
      B: 1,
      S: 4,
      P: 2,
      totals: [6],
      attrs: { softcap: { f: 2 }, smooth_softmax: 1, scale: { f: 0.4 } },
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const next = rng(c.S * 13 + c.P * 7 + c.B);
      const rand = (shape: number[]) =>
        makeTensor(
          'f32',
          shape,
          Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => next() * 2 - 1),
        );
      const b = new OnnxBuilder({ opset: 17, domains: { 'com.microsoft': 1 } });
      const feeds: Record<string, Tensor> = {};
      const inputs: string[] = [];
      const add = (name: string, t: Tensor | null) => {
        if (!t) {
          inputs.push('');
          return;
        }
        b.input(name, t.dtype, t.shape);
        feeds[name] = t;
        inputs.push(name);
      };
      if (c.packed) {
        add('query', rand([c.B, c.S, (N + 2 * Nkv) * H]));
        add('key', null);
        add('value', null);
      } else {
        add('query', rand([c.B, c.S, N * H]));
        add('key', rand([c.B, c.S, Nkv * H]));
        add('value', rand([c.B, c.S, Nkv * H]));
      }
      add('past_key', c.P ? rand([c.B, Nkv, c.P, H]) : null);
      add('past_value', c.P ? rand([c.B, Nkv, c.P, H]) : null);
      add(
        'seqlens_k',
        makeTensor(
          'i32',
          [c.B],
          c.totals.map((t) => t - 1),
        ),
      );
      add('total_sequence_length', makeTensor('i32', [], [Math.max(...c.totals)]));
      const attrs: Record<string, number | { f: number }> = { num_heads: N, kv_num_heads: Nkv, ...c.attrs };
      if (c.rotary) {
        const maxPos = 32;
        const half = H / 2;
        const ang = Array.from({ length: maxPos * half }, (_, i) => Math.floor(i / half) * 10000 ** (-(i % half) / half));
        b.initializer('cos', makeTensor('f32', [maxPos, half], ang.map(Math.cos)));
        b.initializer('sin', makeTensor('f32', [maxPos, half], ang.map(Math.sin)));
        inputs.push('cos', 'sin');
        attrs.do_rotary = 1;
        if (c.rotary === 'interleaved') attrs.rotary_interleaved = 1;
      }
      while (inputs[inputs.length - 1] === '') inputs.pop();
      b.node('GroupQueryAttention', inputs, { domain: 'com.microsoft', attrs, outputs: ['out', 'present_key', 'present_value'] });
      for (const o of ['out', 'present_key', 'present_value']) b.output(o, 'f32');
      const bytes = b.toBytes();
      const want = await runOrt(bytes, feeds);
      const g = importOnnx(bytes);
      const got = interpret(g, feeds);
      for (let i = 0; i < 3; i++) {
        expect(got[i]!.shape, `result ${i}`).toEqual(want[i]!.shape);
        expect(maxRel(got[i]!, want[i]!), `result ${i}`).toBeLessThanOrEqual(GQA_ORT);
      }
      // total_sequence_length is run-time data here: the present length is a fresh dim until run time
      expect(g.outputs[1]!.type.shape.slice(0, 2)).toEqual([c.B, Nkv]);
      expect(typeof g.outputs[1]!.type.shape[2]).toBe('string');
    });
  }
});
