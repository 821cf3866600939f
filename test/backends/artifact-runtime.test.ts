/**
 * The runtime API shared by the wasm and WGSL artifacts (docs/wasm-model.md, "Runtime API"):
 * `await load(opts)`, `await model.run(feeds)` with typed arrays or `{ data, shape }`, outputs by name;
 * bad feeds (LUT5005-5007) and out-of-range Gather indices (LUT5008) thrown as coded Errors. And
 * `lutc run --target wasm|wgsl|c` on an out-of-range index: exit 1, LUT5008 at the node, no outputs.
 * The WGSL cases run on the SwiftShader device vitest.config.ts sets up (as test/backends/wgsl/ does).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import '../../ir/ops/index.js';
import { compileModel as compileWasm } from '../../backends/wasm/compile.js';
import { compileModel as compileWgsl } from '../../backends/wgsl/compile.js';
import { type NodeGpu, openNodeGpu } from '../../backends/wgsl/device.js';
import { writeNpyFile } from '../../compiler/npy.js';
import { importOnnx } from '../../compiler/onnx/index.js';
import { runPipeline } from '../../compiler/pipeline.js';
import { interpret } from '../../ir/interpret.js';
import { makeTensor } from '../../ir/tensor.js';
import { lutc } from '../cli/helpers.js';
import { OnnxBuilder } from '../helpers/onnx-builder.js';

/** y = Gather(x [4, 3], ids [2], axis 0): one native gather step. */
function gatherModel(): Uint8Array {
  const b = new OnnxBuilder({ opset: 17 });
  const x = b.input('x', 'f32', [4, 3]);
  const ids = b.input('ids', 'i64', [2]);
  const [y] = b.node('Gather', [x, ids], { axis: 0, outputs: ['y'], name: 'gath' });
  b.output(y!, 'f32', [2, 3]);
  return b.toBytes();
}

const X = Float32Array.from({ length: 12 }, (_, i) => i * 0.5 - 1);

type Outputs = Record<string, { data: ArrayLike<number>; shape: number[]; dtype: string }>;
interface Model {
  /** wasm: synchronous; wgsl: a Promise. */
  run(feeds: unknown): Outputs | Promise<Outputs>;
  inputs: { name: string; dtype: string; shape: number[] }[];
  outputs: { name: string; dtype: string; shape: number[] }[];
  destroy(): void;
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'lutc-artifact-rt-'));
let gpu: NodeGpu;
const models: Record<string, Model> = {};
beforeAll(async () => {
  const bytes = gatherModel();
  fs.writeFileSync(path.join(work, 'gather.onnx'), bytes);
  gpu = await openNodeGpu();
  for (const target of ['wasm', 'wgsl'] as const) {
    const g = importOnnx(bytes);
    runPipeline(g, { target });
    const dir = path.join(work, target);
    if (target === 'wasm') await compileWasm(g, { target, optimize: false }, dir);
    else await compileWgsl(g, { target }, dir);
    const mod = (await import(pathToFileURL(path.join(dir, 'model.mjs')).href)) as { load(o?: object): Promise<Model> };
    models[target] = await mod.load(target === 'wgsl' ? { device: gpu.device } : {});
  }
}, 120_000);
afterAll(() => {
  models.wgsl?.destroy();
  gpu?.release();
  fs.rmSync(work, { recursive: true, force: true });
});

/** The interpreter's y for these indices. */
function expected(ids: number[]): number[] {
  const g = importOnnx(gatherModel());
  const [y] = interpret(g, { x: makeTensor('f32', [4, 3], Array.from(X)), ids: makeTensor('i64', [2], ids) });
  return Array.from(y!.data as ArrayLike<number>);
}

/** What `await f()` throws (wasm's run throws synchronously, wgsl's rejects), or a failure when it does not. */
async function rejection(f: () => unknown): Promise<{ code?: string; message: string; node?: string }> {
  try {
    await f();
  } catch (e) {
    return e as { code?: string; message: string; node?: string };
  }
  throw new Error('expected run() to reject');
}

describe.each(['wasm', 'wgsl'])('%s artifact runtime API', (target) => {
  const m = () => models[target]!;

  it('lists inputs and outputs; run takes typed arrays or { data, shape } and returns outputs by name', async () => {
    expect(m().inputs).toEqual([
      { name: 'x', dtype: 'f32', shape: [4, 3] },
      { name: 'ids', dtype: 'i64', shape: [2] },
    ]);
    expect(m().outputs).toEqual([{ name: 'y', dtype: 'f32', shape: [2, 3] }]);
    const a = await m().run({ x: X, ids: BigInt64Array.from([1n, -1n]) }); // negative in range wraps
    expect(Object.keys(a)).toEqual(['y']);
    expect(a.y!.shape).toEqual([2, 3]);
    expect(a.y!.dtype).toBe('f32');
    expect(a.y!.data).toBeInstanceOf(Float32Array);
    expect(Array.from(a.y!.data)).toEqual(expected([1, -1]));
    const b = await m().run({ x: { data: X, shape: [4, 3] }, ids: { data: [3, -4], shape: [2] } });
    expect(Array.from(b.y!.data)).toEqual(expected([3, -4]));
  });

  it.each([
    ['an unknown input name', { x: X, ids: [0, 1], z: X }, 'LUT5005', 'unknown input "z"'],
    ['a missing input', { x: X }, 'LUT5005', 'input "ids" (i64 [2]) is missing'],
    ['feeds that are not an object', X, 'LUT5005', 'takes an object of inputs by name'],
    ['a wrong element count', { x: X.subarray(0, 6), ids: [0, 1] }, 'LUT5006', 'has 6 elements, the model was compiled for 12'],
    ['a shape other than the compiled one', { x: { data: X, shape: [3, 4] }, ids: [0, 1] }, 'LUT5006', 'has shape [3, 4]'],
    ['a Float64Array for f32', { x: Float64Array.from(X), ids: [0, 1] }, 'LUT5007', 'got a Float64Array'],
    ['an Int32Array for i64', { x: X, ids: Int32Array.from([0, 1]) }, 'LUT5007', 'takes a BigInt64Array'],
    ['a number', { x: 3, ids: [0, 1] }, 'LUT5007', 'is a number'],
  ])('%s is a coded error', async (_what, feeds, code, text) => {
    const e = await rejection(() => m().run(feeds));
    expect(e.code).toBe(code);
    expect(e.message.startsWith(`${code}: `), e.message).toBe(true);
    expect(e.message).toContain(text);
  });

  it.each([
    [4, 4],
    [-5, -5],
    [2 ** 32 + 1, target === 'wasm' ? 2 ** 32 + 1 : undefined], // wasm compares in i64; wgsl's int32 feed check refuses it
  ])('index %d out of range: LUT5008 naming the node', async (bad, reported) => {
    const e = await rejection(() => m().run({ x: X, ids: BigInt64Array.from([0n, BigInt(bad)]) }));
    if (reported === undefined) {
      expect(e.code).toBe('LUT5007');
      return;
    }
    expect(e.code).toBe('LUT5008');
    expect(e.node).toBe('gath');
    expect(e.message).toBe(`LUT5008: node "gath" (gather): index ${reported} is out of range for an axis of size 4`);
    // the model stays usable: the next run with valid indices succeeds
    const ok = await m().run({ x: X, ids: [2, 0] });
    expect(Array.from(ok.y!.data)).toEqual(expected([2, 0]));
  });
});

describe('lutc run on an out-of-range Gather index', () => {
  const inputs = (ids: number[]) => {
    const xf = path.join(work, 'x.npy');
    const idf = path.join(work, `ids-${ids.join('_')}.npy`);
    writeNpyFile(xf, makeTensor('f32', [4, 3], Array.from(X)));
    writeNpyFile(idf, makeTensor('i64', [2], ids));
    return ['--input', `x=${xf}`, '--input', `ids=${idf}`];
  };
  it.each(['wasm', 'wgsl', 'c'])(
    '--target %s: exit 1, LUT5008 at the node, no outputs',
    async (target) => {
      const out = path.join(work, `out-${target}`);
      const r = await lutc('run', path.join(work, 'gather.onnx'), '--target', target, ...inputs([1, 7]), '--out', out);
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toContain("node 'gath' (Gather): error LUT5008: index 7 is out of range for an axis of size 4");
      expect(r.stderr).not.toMatch(/internal error|RuntimeError/);
      expect(fs.existsSync(out)).toBe(false);
      // in range, negative included: exit 0
      const ok = await lutc('run', path.join(work, 'gather.onnx'), '--target', target, ...inputs([-1, 2]), '--out', out);
      expect(ok.code, ok.stderr).toBe(0);
      expect(fs.existsSync(path.join(out, 'y.npy'))).toBe(true);
    },
    120_000,
  );
});
