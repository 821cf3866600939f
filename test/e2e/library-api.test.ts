/**
 * The library API (compiler/index.ts) as the README shows it: every stage reachable from one import,
 * and the README snippet's flow (import -> pipeline -> interpret -> .npy) working end to end.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as lutc from '../../compiler/index.js';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');

describe('compiler/index.ts', () => {
  it('exports every stage', () => {
    for (const name of ['importOnnx', 'importOnnxFile', 'parseGraph', 'printGraph', 'verifyGraph', 'interpret', 'runPipeline',
      'quantizeOnnx', 'readNpy', 'writeNpy', 'readNpyFile', 'writeNpyFile', 'formatDiagnostic', 'main', 'OnnxBuilder']) {
      expect(typeof (lutc as Record<string, unknown>)[name], name).toBe('function');
    }
    expect(lutc.LutcError.prototype).toBeInstanceOf(Error);
  });

  it('the README snippet: import, lower to 2-bit LUT, interpret, write .npy; the IR round-trips', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lutc-lib-'));
    const x = lutc.makeTensor('f32', [1, 64], Array.from({ length: 64 }, (_, i) => Math.sin(i)));
    lutc.writeNpyFile(path.join(dir, 'x.npy'), x);
    const g = lutc.importOnnxFile(path.join(root, 'examples/mlp.onnx'), { inputShapes: { x: [1, 64] } });
    const { graph } = lutc.runPipeline(g, { target: 'ref', bits: 2, groupSize: 32 });
    const [y] = lutc.interpret(graph, { x: lutc.readNpyFile(path.join(dir, 'x.npy')) });
    lutc.writeNpyFile(path.join(dir, 'y.npy'), y!);
    expect(lutc.readNpyFile(path.join(dir, 'y.npy')).shape).toEqual([1, 10]);
    // printGraph -> parseGraph -> verifyGraph accepts the lowered graph and computes the same values
    const again = lutc.parseGraph(lutc.printGraph(graph), 'mlp.lut');
    lutc.verifyGraph(again);
    const [y2] = lutc.interpret(again, { x });
    expect(Array.from(y2!.data)).toEqual(Array.from(y!.data));
    fs.rmSync(dir, { recursive: true });
  });

  it('user errors are LutcErrors with formatted codes', () => {
    try {
      lutc.importOnnx(new Uint8Array([1, 2, 3]), { file: 'junk.onnx' });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(lutc.LutcError);
      expect(lutc.formatDiagnostic((e as lutc.LutcError).diagnostics[0]!)).toMatch(/^junk\.onnx: error LUT1\d{3}: /);
    }
  });
});
