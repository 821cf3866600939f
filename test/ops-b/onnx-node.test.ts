/**
 * ONNX backend node tests (Debian libonnx-testdata) for the part-B ops, through the importer and the
 * reference interpreter. Skipped where the test data is not installed. Tolerance: exact for integer
 * outputs; 1e-4 * max|ref| + 1e-6 for float outputs (the project's golden tolerance; the expected
 * values come from numpy in float32/float64 with another summation order).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { importOnnxFile, readTensorPb } from '../../compiler/onnx/index.js';
import { interpret } from '../../ir/interpret.js';
import { isFloat } from '../../ir/tensor.js';
import type { Tensor } from '../../ir/types.js';

const ROOT = '/usr/share/libonnx-testdata/data/node';
const OPS =
  /^test_(reshape|flatten|transpose|squeeze|unsqueeze|concat|split|slice|gather_[0-9n2]|expand|shape|constant$|constantofshape|range_.*_delta$|tril|triu|identity$|matmul_|gemm|dequantizelinear|quantizelinear|conv_with|if$)/;
const tests = fs.existsSync(ROOT)
  ? fs
      .readdirSync(ROOT)
      .filter((d) => OPS.test(d))
      .sort()
  : [];

const byIndex = (prefix: string) => (a: string, b: string) => parseInt(a.slice(prefix.length), 10) - parseInt(b.slice(prefix.length), 10);

describe.skipIf(tests.length === 0)('ONNX node tests (part-B ops)', () => {
  for (const name of tests)
    it(name, () => {
      const dir = path.join(ROOT, name);
      const g = importOnnxFile(path.join(dir, 'model.onnx'));
      const ds = path.join(dir, 'test_data_set_0');
      const files = fs.readdirSync(ds);
      const feeds: Record<string, Tensor> = {};
      files
        .filter((f) => f.startsWith('input_'))
        .sort(byIndex('input_'))
        .forEach((f, i) => (feeds[g.inputs[i]!.name] = readTensorPb(path.join(ds, f))));
      const got = interpret(g, feeds);
      files
        .filter((f) => f.startsWith('output_'))
        .sort(byIndex('output_'))
        .forEach((f, i) => {
          const want = readTensorPb(path.join(ds, f));
          const y = got[i]!;
          expect(y.dtype).toBe(want.dtype);
          expect(y.shape).toEqual(want.shape);
          if (!isFloat(want.dtype)) return expect(Array.from(y.data)).toEqual(Array.from(want.data));
          let err = 0,
            ref = 0;
          for (let j = 0; j < want.data.length; j++) {
            err = Math.max(err, Math.abs(y.data[j]! - want.data[j]!));
            ref = Math.max(ref, Math.abs(want.data[j]!));
          }
          expect(err).toBeLessThanOrEqual(1e-4 * ref + 1e-6);
        });
    });
});
