/**
 * Per-op opset floors (compiler/onnx/upgrade.ts OP_MIN_OPSET) and the importer upgrades added with the
 * new ops: opset-1 models of ops that never changed meaning import; ops whose old versions differ stay
 * rejected with LUT1102 naming the op and its accepted range; Pad 2..10 and Dropout < 12 are rewritten.
 */
import { describe, expect, it } from 'vitest';
import { LutcError } from '../../base/diagnostics.js';
import { OnnxBuilder } from '../../compiler/onnx/builder.js';
import { importOnnx } from '../../compiler/onnx/index.js';
import { interpret } from '../../ir/interpret.js';
import { makeTensor } from '../../ir/tensor.js';
import type { DType, Tensor } from '../../ir/types.js';

/** One-node model at `opset`; returns the importer's diagnostics (codes + messages) or the outputs. */
function oneNode(
  opset: number,
  op: string,
  input: Tensor,
  attrs: Record<string, number | number[] | { f: number }> = {},
  outs: DType[] = [input.dtype],
) {
  const b = new OnnxBuilder({ opset });
  b.input('x', input.dtype, input.shape);
  const names = outs.map((_, i) => `y${i}`);
  b.node(op, ['x'], { attrs, outputs: names });
  outs.forEach((dt, i) => b.output(names[i]!, dt));
  try {
    return { outs: interpret(importOnnx(b.toBytes(), { file: 'm.onnx' }), { x: input }) };
  } catch (e) {
    if (!(e instanceof LutcError)) throw e;
    return { errors: e.diagnostics.map((d) => `${d.code}: ${d.message}`) };
  }
}

const f32 = (v: number[]) => makeTensor('f32', [v.length], v);

describe('per-op opset floors', () => {
  it('accepts opset-1 Not, Softsign and Softplus', () => {
    expect(Array.from(oneNode(1, 'Not', makeTensor('bool', [2], [0, 1])).outs![0]!.data)).toEqual([1, 0]);
    expect(Array.from(oneNode(1, 'Softsign', f32([1, -3])).outs![0]!.data)).toEqual([0.5, -0.75]);
    expect(oneNode(1, 'Softplus', f32([0])).outs![0]!.data[0]).toBeCloseTo(Math.LN2, 6);
  });

  it('accepts opset-1 reductions with the axes attribute, and opset-6 activations', () => {
    const r = oneNode(1, 'ReduceMin', makeTensor('f32', [2, 2], [4, 1, 3, 2]), { axes: [1], keepdims: 0 });
    expect(Array.from(r.outs![0]!.data)).toEqual([1, 2]);
    expect(Array.from(oneNode(6, 'Elu', f32([1, 0])).outs![0]!.data)).toEqual([1, 0]);
  });

  it('still rejects versions whose meaning differs, naming the op and its range', () => {
    expect(oneNode(5, 'Abs', f32([1])).errors).toEqual([
      expect.stringMatching(/^LUT1102: Abs: opset 5 .* for Abs \(lutc supports 6\.\.23\)/),
    ]);
    expect(oneNode(6, 'Add', f32([1])).errors?.[0]).toMatch(/^LUT1102: Add: .*supports 7\.\.23/);
    expect(oneNode(1, 'Pad', f32([1]), { pads: [1, 1] }).errors?.[0]).toMatch(/^LUT1102: Pad: .*supports 2\.\.23/);
  });
});

describe('upgrades of the new ops', () => {
  it('Pad 2..10: pads and value attributes', () => {
    const r = oneNode(2, 'Pad', f32([1, 2]), { pads: [1, 2], value: { f: 9 } });
    expect(Array.from(r.outs![0]!.data)).toEqual([9, 1, 2, 9, 9]);
  });

  it('Dropout < 12: ratio attribute; the mask is all false (as onnxruntime), typed like the data before 10', () => {
    const r9 = oneNode(9, 'Dropout', f32([1, 2]), { ratio: { f: 0.2 } }, ['f32', 'f32']).outs!;
    expect(Array.from(r9[0]!.data)).toEqual([1, 2]);
    expect(r9[1]!.dtype).toBe('f32');
    expect(Array.from(r9[1]!.data)).toEqual([0, 0]);
    const r11 = oneNode(11, 'Dropout', f32([1, 2]), {}, ['f32', 'bool']).outs!;
    expect(Array.from(r11[1]!.data)).toEqual([0, 0]);
    const r13 = oneNode(13, 'Dropout', f32([1, 2]), {}, ['f32', 'bool']).outs!;
    expect(Array.from(r13[1]!.data)).toEqual([1, 1]);
  });
});
