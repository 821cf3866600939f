/**
 * Dim expressions (ir/dim-expr.ts) and the runtime shape arithmetic of shape inference: canonical
 * forms, evaluation and bounds against direct arithmetic on random values, and the Shape -> Gather ->
 * Concat -> Reshape / Range / Slice / Expand chains of exported decoders resolving to dim expressions
 * with the dims left symbolic.
 */
import { describe, expect, it } from 'vitest';
import { importOnnx } from '../../compiler/onnx/index.js';
import {
  canonicalDim,
  dimAdd,
  dimCompare,
  dimExactDiv,
  dimFloorDiv,
  dimMax,
  dimMin,
  dimMul,
  dimSub,
  dimSymbols,
  dimUpperBound,
  evalDim,
} from '../../ir/dim-expr.js';
import { makeTensor } from '../../ir/tensor.js';
import type { Dim } from '../../ir/types.js';
import { OnnxBuilder } from '../helpers/onnx-builder.js';

describe('dim expressions', () => {
  it('are canonical: equal expressions are equal strings', () => {
    expect(dimAdd('b', 'a')).toBe(dimAdd('a', 'b'));
    expect(dimAdd('a', 'b')).toBe('a + b');
    expect(dimMul('seq', dimMul(2, 'batch'))).toBe('2*batch*seq');
    expect(dimSub(dimAdd('past', 'seq'), 'past')).toBe('seq');
    expect(dimAdd('past', 1)).toBe('past + 1');
    expect(dimSub(2, 'x')).toBe('0 - x + 2');
    expect(canonicalDim('past_sequence_length + 1')).toBe('past_sequence_length + 1');
    expect(canonicalDim('1 + past_sequence_length')).toBe('past_sequence_length + 1');
    expect(canonicalDim('batch size')).toBe('batch size'); // an odd dim_param stays one symbol
    expect(dimAdd('batch size', 1)).toBe('`batch size` + 1');
    expect(dimSymbols(dimAdd('batch size', 'seq'))).toEqual(['batch size', 'seq']);
    for (const d of ['a + b', '2*a*b - c + 3', 'floor(a + 1 / 2)', 'max(0, a - 1)', 'min(4096, t)'])
      expect(canonicalDim(canonicalDim(d))).toBe(canonicalDim(d));
  });

  it('simplify min, max, floor division and exact division where the sizes decide them', () => {
    expect(dimMax('a', 0)).toBe('a');
    expect(dimMin(dimAdd('a', 1), 'a')).toBe('a');
    expect(dimMin('t', 4096)).toBe('min(4096, t)');
    expect(dimFloorDiv(dimMul(4, 'a'), 2)).toBe('2*a');
    expect(dimFloorDiv('a', 2)).toBe('floor(a / 2)');
    expect(dimExactDiv(dimMul(dimMul('b', 's'), 4096), dimMul('b', 32))).toBe('128*s');
    expect(dimExactDiv(dimAdd('a', 1), 'a')).toBeUndefined();
    expect(dimCompare(dimAdd('a', 1), 'a')).toBe(1);
    expect(dimCompare('a', -1)).toBe(1);
    expect(dimCompare('a', 0)).toBe('ge');
    expect(dimCompare('a', 'b')).toBeUndefined();
  });

  it('evaluate and bound like direct arithmetic (200 random environments)', () => {
    let seed = 12345;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let t = 0; t < 200; t++) {
      const env = { a: rnd(50), b: rnd(50), c: rnd(9) + 1 };
      const k = rnd(5) + 1;
      const cases: [Dim, number][] = [
        [dimAdd(dimMul('a', 'b'), 3), env.a * env.b + 3],
        [dimSub(dimMul(2, 'a'), 'b'), 2 * env.a - env.b],
        [dimFloorDiv(dimAdd('a', 'c'), k)!, Math.floor((env.a + env.c) / k)],
        [dimMax(dimSub('a', 'b'), 0), Math.max(env.a - env.b, 0)],
        [dimMin(dimAdd('a', 'c'), 'b'), Math.min(env.a + env.c, env.b)],
      ];
      for (const [d, want] of cases) {
        expect(evalDim(d, env)).toBe(want);
        expect(evalDim(canonicalDim(String(d)), env)).toBe(want);
        expect(dimUpperBound(d, { a: 50, b: 50, c: 10 })!).toBeGreaterThanOrEqual(want);
      }
    }
    expect(evalDim('a + q', { a: 1 })).toBeUndefined();
    expect(dimUpperBound('a + q', { a: 1 })).toBeUndefined();
    expect(dimUpperBound(dimAdd('past', 'seq'), { past: 2048, seq: 1 })).toBe(2049);
  });
});

describe('runtime shape arithmetic in shape inference', () => {
  const i64 = (v: number[]) => makeTensor('i64', [v.length], v);

  it('resolves the Shape -> Gather -> Unsqueeze -> Concat -> Reshape chain of a split-heads to dim expressions', () => {
    const b = new OnnxBuilder({ opset: 17 });
    b.input('x', 'f32', ['batch', 'seq', 64]);
    const [sh] = b.node('Shape', ['x']);
    const [bd] = b.node('Gather', [sh!, b.initializer('i0', makeTensor('i64', [], [0]))], { attrs: { axis: 0 } });
    const [sd] = b.node('Gather', [sh!, b.initializer('i1', makeTensor('i64', [], [1]))], { attrs: { axis: 0 } });
    const [bu] = b.node('Unsqueeze', [bd!, b.initializer('ax', i64([0]))]);
    const [su] = b.node('Unsqueeze', [sd!, 'ax']);
    const [spec] = b.node('Concat', [bu!, su!, b.initializer('heads', i64([4, 16]))], { attrs: { axis: 0 } });
    const [y] = b.node('Reshape', ['x', spec!]);
    const [t] = b.node('Transpose', [y!], { attrs: { perm: [0, 2, 1, 3] } });
    // a -1 solved symbolically: [batch*seq, -1]
    const [bs] = b.node('Mul', [bd!, sd!]);
    const [bsu] = b.node('Unsqueeze', [bs!, 'ax']);
    const [spec2] = b.node('Concat', [bsu!, b.initializer('m1', i64([-1]))], { attrs: { axis: 0 } });
    const [flat] = b.node('Reshape', ['x', spec2!]);
    b.output(t!, 'f32');
    b.output(flat!, 'f32');
    const g = importOnnx(b.toBytes());
    expect(g.outputs[0]!.type.shape).toEqual(['batch', 4, 'seq', 16]);
    expect(g.outputs[1]!.type.shape).toEqual(['batch*seq', 64]);
    // the reshapes read their shape operands as dim values
    const rs = g.nodes.filter((n) => n.op === 'reshape');
    expect(rs.map((n) => n.inputs[1]!.dimValues)).toEqual([
      ['batch', 'seq', 4, 16],
      ['batch*seq', -1],
    ]);
  });

  it('gives Range, Slice of a cache, Expand and ConstantOfShape dim-expression shapes (a decoder mask and rotary slice)', () => {
    const b = new OnnxBuilder({ opset: 17 });
    b.input('past', 'f32', [1, 2, 'past_len', 8]);
    b.input('x', 'f32', [1, 'seq', 8]);
    b.initializer('cos_cache', makeTensor('f32', [4096, 8], new Float32Array(4096 * 8)));
    const [ps] = b.node('Shape', ['past'], { attrs: { start: 2, end: 3 } });
    const [xs] = b.node('Shape', ['x'], { attrs: { start: 1, end: 2 } });
    const [total] = b.node('Add', [ps!, xs!]);
    const [totalScalar] = b.node('Squeeze', [total!, b.initializer('ax0', i64([0]))]);
    const [pos] = b.node('Range', [
      b.initializer('zero', makeTensor('i64', [], [0])),
      totalScalar!,
      b.initializer('one', makeTensor('i64', [], [1])),
    ]);
    const [cos] = b.node('Slice', ['cos_cache', b.initializer('s0', i64([0])), total!, b.initializer('a0', i64([0]))]);
    const [ones] = b.node('ConstantOfShape', [b.node('Concat', [xs!, total!], { attrs: { axis: 0 } })[0]!], {
      attrs: { value: makeTensor('f32', [1], [1]) },
    });
    const [eq] = b.node('Equal', [total!, b.initializer('neg1', i64([-1]))]);
    b.output(pos!, 'i64');
    b.output(cos!, 'f32');
    b.output(ones!, 'f32');
    b.output(eq!, 'bool');
    const g = importOnnx(b.toBytes());
    expect(g.outputs[0]!.type.shape).toEqual(['past_len + seq']);
    expect(g.outputs[1]!.type.shape).toEqual(['min(4096, past_len + seq)', 8]);
    expect(g.outputs[2]!.type.shape).toEqual(['seq', 'past_len + seq']);
    // a size is never -1: Equal folds to a constant false
    expect(g.outputs[3]!.const?.data[0]).toBe(0);
  });

  it('folds dim values that are all numbers to constants (dims bound at import)', () => {
    const b = new OnnxBuilder({ opset: 17 });
    b.input('x', 'f32', ['batch', 64]);
    const [sh] = b.node('Shape', ['x']);
    const [d] = b.node('Gather', [sh!, b.initializer('i1', makeTensor('i64', [], [1]))], { attrs: { axis: 0 } });
    b.output(d!, 'i64');
    const g = importOnnx(b.toBytes());
    expect(g.nodes.some((n) => n.op === 'gather')).toBe(false);
    expect(g.outputs[0]!.const?.data[0]).toBe(64);
  });
});
