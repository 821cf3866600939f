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
    const b = new OnnxBuilder({ opset: 17, domains: { 'com.microsoft': 1 } });
    b.initializer('data', makeTensor('u8', [4, 16], new Uint8Array(64)));
    b.initializer('scales', makeTensor('f32', [4, 3], new Float32Array(12)));
    b.input('idx', 'i64', [2]);
    b.node('GatherBlockQuantized', ['data', 'idx', 'scales'], {
      domain: 'com.microsoft',
      attrs: { bits: 4, block_size: 16, quantize_axis: 1 },
      outputs: ['y'],
    });
    b.output('y', 'f32');
    expect(() => importOnnx(b.toBytes())).toThrow(/LUT1110[\s\S]*scales \[4,3\] must be \[4,2\]/);
    const ok = new OnnxBuilder({ opset: 17, domains: { 'com.microsoft': 1 } });
    ok.initializer('data', makeTensor('u8', [4, 16], new Uint8Array(64)));
    ok.initializer('scales', makeTensor('f32', [4, 2], new Float32Array(8)));
    ok.input('idx', 'i64', [2]);
    ok.node('GatherBlockQuantized', ['data', 'idx', 'scales'], {
      domain: 'com.microsoft',
      attrs: { bits: 4, block_size: 16, quantize_axis: 1 },
      outputs: ['y'],
    });
    ok.output('y', 'f32');
    const g = importOnnx(ok.toBytes());
    expect(() => interpret(g, { idx: makeTensor('i64', [2], [1, 4]) })).toThrow(
      /LUT3051[\s\S]*index 4 is out of range for an axis of size 4/,
    );
  });
});
