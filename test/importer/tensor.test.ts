/**
 * TensorProto decoding: every dtype from raw_data and from the typed fields (round trip through
 * tensorToProto), plus the coded errors for hostile tensors.
 */
import { describe, expect, it } from 'vitest';
import { LutcError } from '../../base/diagnostics.js';
import { onnx } from '../../compiler/onnx/proto.js';
import { dtypeFromOnnx, dtypeToOnnx, tensorFromProto, tensorToProto } from '../../compiler/onnx/tensor.js';
import { makeTensor } from '../../ir/tensor.js';
import type { DType, Tensor } from '../../ir/types.js';

const SAMPLES: Record<DType, number[]> = {
  f32: [0, -1.5, 3.25, 1e-30, -Infinity],
  f16: [0, -1.5, 65504, 2 ** -24, -2],
  bf16: [0, -1.5, 3.0e38, 1.0078125, 256],
  f64: [0, -1.5, 1e300, Math.PI, -0],
  i8: [-128, 127, 0, -1, 5],
  u8: [0, 255, 1, 128, 7],
  i16: [-32768, 32767, 0, -2, 9],
  u16: [0, 65535, 1, 40000, 3],
  i32: [-(2 ** 31), 2 ** 31 - 1, 0, -7, 12345],
  u32: [0, 2 ** 32 - 1, 1, 3e9, 8],
  i64: [-(2 ** 53), 2 ** 53, 0, -1, 9007199254740],
  u64: [0, 2 ** 53, 1, 2 ** 40, 17],
  bool: [0, 1, 1, 0, 1],
  i4: [-8, 7, 0, -1, 3],
  u4: [0, 15, 8, 1, 9],
};

/** Encodes and decodes through bytes, so protobufjs' Long handling is exercised too. */
function roundTrip(t: Tensor, raw: boolean): Tensor {
  const p = tensorToProto(t, 'w', { raw });
  const bytes = onnx.TensorProto.encode(p).finish();
  return tensorFromProto(onnx.TensorProto.decode(bytes));
}

function code(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    if (e instanceof LutcError) return e.diagnostics[0]!.code;
    throw e;
  }
  return undefined;
}

describe('tensorFromProto', () => {
  for (const [dtype, vals] of Object.entries(SAMPLES) as [DType, number[]][]) {
    for (const raw of [true, false]) {
      it(`${dtype} from ${raw ? 'raw_data' : 'typed fields'}`, () => {
        const t = makeTensor(dtype, [5], vals);
        const back = roundTrip(t, raw);
        expect(back.dtype).toBe(dtype);
        expect(back.shape).toEqual([5]);
        expect(Array.from(back.data)).toEqual(Array.from(t.data));
      });
    }
  }

  it('packs int4 two per byte, low nibble first, odd counts padded', () => {
    const t = makeTensor('i4', [3], [-1, 7, -8]);
    const p = tensorToProto(t, 'q');
    expect(Array.from(p.rawData)).toEqual([0x7f, 0x08]);
    expect(Array.from(tensorFromProto(p).data)).toEqual([-1, 7, -8]);
  });

  it('reads f16 from int32_data bits and bool from nonzero bytes', () => {
    const p = onnx.TensorProto.create({ dims: [2], dataType: 10, int32Data: [0x3c00, 0xc000] });
    expect(Array.from(tensorFromProto(p).data)).toEqual([1, -2]);
    const b = onnx.TensorProto.create({ dims: [3], dataType: 9, rawData: new Uint8Array([0, 2, 1]) });
    expect(Array.from(tensorFromProto(b).data)).toEqual([0, 1, 1]);
  });

  it('keeps scalars and empty tensors', () => {
    expect(roundTrip(makeTensor('f32', [], [2.5]), true)).toMatchObject({ shape: [] });
    expect(roundTrip(makeTensor('i64', [0, 3]), true).shape).toEqual([0, 3]);
  });

  it('maps dtypes both ways', () => {
    for (const d of Object.keys(SAMPLES) as DType[]) expect(dtypeFromOnnx(dtypeToOnnx(d))).toBe(d);
    expect(dtypeToOnnx('i4')).toBe(22);
    expect(dtypeToOnnx('u4')).toBe(21);
    expect(dtypeFromOnnx(8)).toBeUndefined(); // STRING
  });

  it('diagnoses hostile tensors', () => {
    const raw = (n: number) => new Uint8Array(n);
    expect(code(() => tensorFromProto({ name: 'a', dims: [3], dataType: 1, rawData: raw(8) }))).toBe('LUT1004');
    expect(code(() => tensorFromProto({ name: 'a', dims: [3], dataType: 1, floatData: [1, 2] }))).toBe('LUT1004');
    expect(code(() => tensorFromProto({ name: 'a', dims: [-1], dataType: 1 }))).toBe('LUT1003');
    expect(code(() => tensorFromProto({ name: 'a', dims: [1 << 20, 1 << 20], dataType: 1, rawData: raw(4) }))).toBe('LUT1003');
    expect(code(() => tensorFromProto({ name: 'a', dims: [1], dataType: 8 }))).toBe('LUT1002');
    expect(code(() => tensorFromProto({ name: 'a', dims: [1], dataType: 99 }))).toBe('LUT1002');
    expect(code(() => tensorFromProto({ name: 'a', dims: [1], dataType: 17, rawData: raw(1) }))).toBe('LUT1002');
    // external data without a folder to resolve it in
    expect(
      code(() =>
        tensorFromProto({ name: 'a', dims: [1], dataType: 1, dataLocation: 1, externalData: [{ key: 'location', value: 'w.bin' }] }),
      ),
    ).toBe('LUT1006');
  });
});
