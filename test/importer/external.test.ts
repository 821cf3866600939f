/**
 * External-data initializers: read by range from inside the model's folder; locations that escape it
 * (`..`, absolute, symlink to outside) are diagnosed (LUT1005) and no graph comes back.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LutcError } from '../../base/diagnostics.js';
import { encodeModel, OnnxBuilder } from '../../compiler/onnx/builder.js';
import { importOnnxFile } from '../../compiler/onnx/index.js';
import { onnx } from '../../compiler/onnx/proto.js';
import { readTensorPb, tensorToProto } from '../../compiler/onnx/tensor.js';
import { makeTensor } from '../../ir/tensor.js';

let root: string;
let modelDir: string;

beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'lutc-ext-'));
  modelDir = path.join(root, 'model');
  fs.mkdirSync(modelDir);
  // weights.bin: 16 junk bytes, then 3 float32 values, then junk: offset/length must be honoured
  const buf = Buffer.alloc(16 + 12 + 8, 0xee);
  buf.writeFloatLE(1.5, 16);
  buf.writeFloatLE(-2, 20);
  buf.writeFloatLE(4, 24);
  fs.writeFileSync(path.join(modelDir, 'weights.bin'), buf);
  fs.writeFileSync(path.join(root, 'outside.bin'), buf);
  fs.symlinkSync(path.join(root, 'outside.bin'), path.join(modelDir, 'link.bin'));
  fs.mkdirSync(path.join(modelDir, 'sub'));
  fs.copyFileSync(path.join(modelDir, 'weights.bin'), path.join(modelDir, 'sub', 'w.bin'));
});

afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

/** A model whose only output is an external initializer stored at `location`. */
function writeModel(location: string, offset = 16, length?: number): string {
  const b = new OnnxBuilder({ opset: 17 });
  b.output('w', 'f32', [3]);
  const m = b.toModelProto();
  const ext = [
    { key: 'location', value: location },
    { key: 'offset', value: String(offset) },
  ];
  if (length !== undefined) ext.push({ key: 'length', value: String(length) });
  m.graph!.initializer = [onnx.TensorProto.create({ name: 'w', dims: [3], dataType: 1, dataLocation: 1, externalData: ext })];
  const file = path.join(modelDir, 'model.onnx');
  fs.writeFileSync(file, encodeModel(m));
  return file;
}

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    if (e instanceof LutcError) return e.diagnostics[0]!.code;
    throw e;
  }
  return undefined;
}

describe('external data', () => {
  it('reads the byte range inside the folder', () => {
    const g = importOnnxFile(writeModel('weights.bin', 16, 12));
    expect(Array.from(g.outputs[0]!.const!.data)).toEqual([1.5, -2, 4]);
    const g2 = importOnnxFile(writeModel('sub/w.bin', 16));
    expect(Array.from(g2.outputs[0]!.const!.data)).toEqual([1.5, -2, 4]);
  });

  it('refuses locations outside the folder', () => {
    expect(codeOf(() => importOnnxFile(writeModel('../outside.bin')))).toBe('LUT1005');
    expect(codeOf(() => importOnnxFile(writeModel('sub/../../outside.bin')))).toBe('LUT1005');
    expect(codeOf(() => importOnnxFile(writeModel(path.join(root, 'outside.bin'))))).toBe('LUT1005');
    expect(codeOf(() => importOnnxFile(writeModel('link.bin')))).toBe('LUT1005');
  });

  it('diagnoses missing files, bad ranges and lengths', () => {
    expect(codeOf(() => importOnnxFile(writeModel('nope.bin')))).toBe('LUT1006');
    expect(codeOf(() => importOnnxFile(writeModel('weights.bin', 30)))).toBe('LUT1006');
    expect(codeOf(() => importOnnxFile(writeModel('weights.bin', 16, 8)))).toBe('LUT1004');
    expect(codeOf(() => importOnnxFile(writeModel('weights.bin', -1)))).toBe('LUT1006');
    expect(codeOf(() => importOnnxFile(writeModel('sub')))).toBe('LUT1006');
  });

  it('reads a serialized TensorProto .pb file', () => {
    const file = path.join(modelDir, 'input_0.pb');
    fs.writeFileSync(file, onnx.TensorProto.encode(tensorToProto(makeTensor('i64', [2], [3, -4]), 'x')).finish());
    const t = readTensorPb(file);
    expect(t).toMatchObject({ dtype: 'i64', shape: [2] });
    expect(Array.from(t.data)).toEqual([3, -4]);
    fs.writeFileSync(file, new Uint8Array([0x0a, 0xff]));
    expect(codeOf(() => readTensorPb(file))).toBe('LUT1001');
    expect(codeOf(() => readTensorPb(path.join(modelDir, 'missing.pb')))).toBe('LUT1000');
  });
});
