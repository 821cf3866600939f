/**
 * Resource limits of the importer (issue 16, item 4): tensor data a model declares is charged to one
 * memory budget before it is allocated or read (initializers, external data), and every value with a
 * static shape must fit it after inference (declared input dims). Going over is LUT1008, and raising
 * the limit (`maxTensorBytes`, the CLI's `--max-tensor-bytes`) lets the same model through.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LutcError } from '../../base/diagnostics.js';
import { parseByteSize } from '../../compiler/cli/args.js';
import { encodeModel, OnnxBuilder } from '../../compiler/onnx/builder.js';
import { DEFAULT_MAX_TENSOR_BYTES, type ImportOptions, importOnnx } from '../../compiler/onnx/index.js';
import { onnx } from '../../compiler/onnx/proto.js';
import { makeTensor } from '../../ir/tensor.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lutc-limits-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function codeOf(bytes: Uint8Array, opts: ImportOptions = {}): string {
  try {
    importOnnx(bytes, opts);
    return 'ok';
  } catch (e) {
    if (e instanceof LutcError) return e.diagnostics[0]!.code;
    throw e;
  }
}

/** Two f32 initializers of 64 elements (256 bytes each), added: 512 bytes of tensor data. */
function twoInitializers(): Uint8Array {
  const b = new OnnxBuilder({ opset: 17 });
  const a = b.initializer('a', makeTensor('f32', [64], new Array(64).fill(1)));
  const c = b.initializer('c', makeTensor('f32', [64], new Array(64).fill(2)), { raw: true });
  const x = b.input('x', 'f32', [64]);
  const [s] = b.node('Add', [x, a]);
  const [t] = b.node('Add', [s!, c]);
  b.output(t!, 'f32');
  return b.toBytes();
}

describe('importer memory limit (LUT1008)', () => {
  it('the default is 8 GiB', () => {
    expect(DEFAULT_MAX_TENSOR_BYTES).toBe(8 * 1024 ** 3);
  });

  it('initializers are charged together: under the limit imports, over it is LUT1008, raising it lets it through', () => {
    const m = twoInitializers();
    expect(codeOf(m)).toBe('ok');
    // one tensor fits 300 bytes, both together do not
    expect(codeOf(m, { maxTensorBytes: 300 })).toBe('LUT1008');
    expect(codeOf(m, { maxTensorBytes: 1024 })).toBe('ok');
    expect(codeOf(m, { maxTensorBytes: 0 })).toBe('LUT1008');
  });

  it('external data over the limit is refused before it is read', () => {
    const modelDir = path.join(dir, 'ext');
    fs.mkdirSync(modelDir, { recursive: true });
    fs.writeFileSync(path.join(modelDir, 'w.bin'), new Uint8Array(4096));
    const b = new OnnxBuilder({ opset: 17 });
    b.output('w', 'u8', [4096]);
    const proto = b.toModelProto();
    const ext = [
      { key: 'location', value: 'w.bin' },
      { key: 'length', value: '4096' },
    ];
    proto.graph!.initializer = [onnx.TensorProto.create({ name: 'w', dims: [4096], dataType: 2, dataLocation: 1, externalData: ext })];
    const bytes = encodeModel(proto);
    const opts = { file: path.join(modelDir, 'm.onnx'), baseDir: modelDir };
    expect(codeOf(bytes, opts)).toBe('ok');
    expect(codeOf(bytes, { ...opts, maxTensorBytes: 4095 })).toBe('LUT1008');
    // a length far beyond any file is the budget's (or the file-size check's) LUT, never an allocation
    proto.graph!.initializer[0]!.dims = [2 ** 31 - 2];
    proto.graph!.initializer[0]!.externalData![1]!.value = String(2 ** 31 - 2);
    expect(codeOf(encodeModel(proto), { ...opts, maxTensorBytes: 2 ** 20 })).toBe('LUT1008');
    expect(codeOf(encodeModel(proto), opts)).toBe('LUT1006');
  });

  it('a declared input shape whose values would exceed the limit is LUT1008, not an allocation later', () => {
    const b = new OnnxBuilder({ opset: 17 });
    const x = b.input('x', 'f32', [65536, 65536]);
    const [y] = b.node('Relu', [x]);
    b.output(y!, 'f32');
    const m = b.toBytes();
    expect(codeOf(m)).toBe('LUT1008');
    expect(codeOf(m, { maxTensorBytes: 2 ** 35 })).toBe('ok');
    // a symbolic dim bound to a huge size, too
    const s = new OnnxBuilder({ opset: 17 });
    const xs = s.input('x', 'f32', ['n', 4096]);
    const [ys] = s.node('Relu', [xs]);
    s.output(ys!, 'f32');
    expect(codeOf(s.toBytes(), { dimBindings: { n: 2 ** 20 }, maxTensorBytes: 2 ** 30 })).toBe('LUT1008');
    expect(codeOf(s.toBytes(), { dimBindings: { n: 16 }, maxTensorBytes: 2 ** 30 })).toBe('ok');
  });

  it('--max-tensor-bytes takes a byte count with an optional K/M/G/T suffix', () => {
    expect(parseByteSize('compile', 'max-tensor-bytes', '512')).toBe(512);
    expect(parseByteSize('compile', 'max-tensor-bytes', '16G')).toBe(16 * 1024 ** 3);
    expect(parseByteSize('compile', 'max-tensor-bytes', '3MiB')).toBe(3 * 1024 ** 2);
    for (const bad of ['', '0', '-1', '1.5G', '8X', 'G'])
      expect(() => parseByteSize('compile', 'max-tensor-bytes', bad)).toThrow(/LUT6003/);
  });
});
