/**
 * com.microsoft RotaryEmbedding (ir/ops/attention.ts) against onnxruntime-node's CPU kernel on random
 * inputs: [B, S, N*H] and [B, N, S, H] inputs, half-split and interleaved, per-token position ids and a
 * scalar start offset, a partial rotary dim (the rest passed through). Tolerance ROTARY_ORT: ORT rounds
 * x·cos and sign·x'·sin to float before adding (two roundings), the interpreter rounds once from double:
 * |Δ| <= 2 ulp of the larger product, below 4e-7 of max|y| for these |x|, |cos|, |sin| <= 1 (measured
 * up to 1.2e-7). Bad caches and positions are diagnosed.
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
