/**
 * Runtime dims on the wasm target: each case of test/helpers/runtime-dims.ts, and a few more here
 * (Gather, LayerNormalization, Split, Gemm, a reduction and a softmax over the runtime axis; an MLP
 * of Gemms over a runtime batch; the Llama block with --bits 4, whose RMSNorm is fused into the LUT
 * table build), is compiled once (backends/wasm/run.ts openArtifact: the artifact `lutc compile`
 * writes, loaded once) and run at every runtime shape of the case, size 0 included, against its
 * oracle (tolerances: the helper's; F32_EXACT for runArtifact vs the interpreter). Bad shapes are
 * coded errors from run(), before any step runs: a dim beyond its bound is LUT5009, two inputs that
 * give one dim two sizes (or a shape that contradicts a static dim) LUT5006. An op whose kernel does
 * not take runtime dims is LUT5004 at compile time. The manifest shows the dims and bounds.
 */
import { describe, expect, it } from 'vitest';
import '../../ir/ops/index.js';
import * as fs from 'node:fs';
import { emitArtifact } from '../../backends/wasm/model/index.js';
import { openArtifact, runArtifact } from '../../backends/wasm/run.js';
import { LutcError } from '../../base/diagnostics.js';
import { OnnxBuilder } from '../../compiler/onnx/builder.js';
import { importOnnx } from '../../compiler/onnx/index.js';
import { runPipeline } from '../../compiler/pipeline.js';
import { buildMlp } from '../../examples/models.js';
import { interpret } from '../../ir/interpret.js';
import { makeTensor } from '../../ir/tensor.js';
import type { Graph, Tensor } from '../../ir/types.js';
import { randomInput, seeded, uniform } from '../helpers/models.js';
import { maxAbsDiff } from '../helpers/ort.js';
import { checkCase, lowerCase, RUNTIME_DIMS_CASES, type RuntimeDimsCase } from '../helpers/runtime-dims.js';
import { F32_EXACT } from '../helpers/tolerance.js';

const load = (g: Graph) => openArtifact(g, { target: 'wasm' });

describe('runtime dims on wasm: one artifact, every shape in the bounds', () => {
  for (const c of RUNTIME_DIMS_CASES) it(c.name, async () => checkCase(c, 'wasm', load), 120_000);
});

/**
 * ids [1, seq] -> Gather (embedding [32, 16]) -> LayerNormalization -> Split in halves -> Mul ->
 * Reshape [seq, 8] -> Gemm (transB, bias) -> y; ReduceSum and Softmax over the runtime axis of y.
 */
function buildEmbedOps(): Uint8Array {
  const next = seeded(5);
  const b = new OnnxBuilder({ opset: 17 });
  const ids = b.input('ids', 'i64', [1, 'seq']);
  const [e] = b.node('Gather', [b.initializer('emb', uniform([32, 16], 1, next)), ids], { attrs: { axis: 0 } });
  const [ln] = b.node(
    'LayerNormalization',
    [e!, b.initializer('g', uniform([16], 1, next)), b.initializer('bt', uniform([16], 0.1, next))],
    {
      attrs: { axis: -1, epsilon: 1e-5 },
    },
  );
  const [h0, h1] = b.node('Split', [ln!, b.initializer('sp', makeTensor('i64', [2], [8, 8]))], {
    attrs: { axis: -1 },
    outputs: ['h0', 'h1'],
  });
  const [p] = b.node('Mul', [h0!, h1!]);
  const [r] = b.node('Reshape', [p!, b.initializer('shp', makeTensor('i64', [2], [-1, 8]))]);
  const [y] = b.node('Gemm', [r!, b.initializer('w', uniform([6, 8], 0.5, next)), b.initializer('c', uniform([6], 0.1, next))], {
    attrs: { transB: 1 },
    outputs: ['y'],
  });
  b.node('ReduceSum', [y!, b.initializer('ax', makeTensor('i64', [1], [0]))], { attrs: { keepdims: 1 }, outputs: ['ysum'] });
  b.node('Softmax', [y!], { attrs: { axis: 0 }, outputs: ['ysm'] });
  b.output(y!, 'f32', ['seq', 6]);
  b.output('ysum', 'f32', [1, 6]);
  b.output('ysm', 'f32', ['seq', 6]);
  return b.toBytes();
}

const ids = (s: number, seed: number): Tensor => {
  const next = seeded(seed);
  return makeTensor(
    'i64',
    [1, s],
    Array.from({ length: s }, () => Math.floor(next() * 32)),
  );
};

/**
 * Ops beyond the shared cases, each with a runtime dim (ReduceSum and Softmax over it, Gather's
 * indices, the norms' and LUT kernels' row counts): same oracles and tolerances as the shared cases.
 */
const MORE_CASES: RuntimeDimsCase[] = [
  {
    name: 'Gather, LayerNormalization, Split, Gemm, ReduceSum and Softmax over seq',
    model: buildEmbedOps,
    bounds: { seq: 12 },
    oracle: 'ort',
    runs: [1, 0, 5, 12].map((s, i) => ({ ids: ids(s, 60 + i) })),
  },
  {
    name: 'MLP with Gemm [batch, 64]',
    model: () => buildMlp({ dims: [64, 40, 10], gemm: true, seed: 4 }),
    bounds: { batch: 9 },
    oracle: 'ort',
    runs: [1, 0, 6, 9].map((n, i) => ({ x: randomInput([n, 64], 70 + i) })),
  },
  {
    name: 'examples/llama-block.onnx --bits 4 (int8 tables, fused RMSNorm table build) [1, seq, 64]',
    model: () => fs.readFileSync('examples/llama-block.onnx'),
    bounds: { seq: 64 },
    pipeline: { bits: 4 },
    oracle: 'ref',
    runs: [1, 0, 17, 64].map((s, i) => ({ x: randomInput([1, s, 64], 80 + i) })),
  },
];

describe('runtime dims on wasm: more ops', () => {
  for (const c of MORE_CASES) it(c.name, async () => checkCase(c, 'wasm', load), 120_000);

  it('runArtifact (the lutc run path) takes runtime dims too', async () => {
    const c = RUNTIME_DIMS_CASES[0]!;
    const x = randomInput([2, 5, 32], 3);
    const [got] = await runArtifact(lowerCase(c, 'wasm'), { x }, { target: 'wasm' });
    const [want] = interpret(lowerCase(c, 'ref'), { x });
    expect(got!.shape).toEqual([2, 5, 16]);
    const { diff, scale } = maxAbsDiff(got!, want!);
    expect(diff).toBeLessThanOrEqual(F32_EXACT * scale);
  });
});

/** a [n, 4] + b [n, 4]: two inputs that both give the runtime dim n. */
function twoInputs(): Graph {
  const b = new OnnxBuilder({ opset: 17 });
  const x = b.input('a', 'f32', ['n', 4]);
  const y = b.input('b', 'f32', ['n', 4]);
  const [s] = b.node('Add', [x, y], { outputs: ['s'] });
  b.output(s!, 'f32', ['n', 4]);
  const g = importOnnx(b.toBytes(), { file: 'model.onnx' });
  g.meta = { ...g.meta, dimBounds: { n: 5 } };
  runPipeline(g, { target: 'wasm' });
  return g;
}

describe('runtime dims on wasm: bad shapes are coded errors', () => {
  const linear = RUNTIME_DIMS_CASES[0]!; // x [batch, seq, 32], batch <= 3, seq <= 8
  const codeOf = async (g: Graph, feeds: Record<string, Tensor>) => {
    const art = await load(g);
    try {
      await art.run(feeds);
      return 'ok';
    } catch (e) {
      expect(e).toBeInstanceOf(LutcError);
      return `${(e as LutcError).diagnostics[0]!.code}: ${(e as LutcError).diagnostics[0]!.message}`;
    } finally {
      art.close();
    }
  };

  it('a dim beyond its bound: LUT5009 naming the dim and the bound', async () => {
    const g = lowerCase(linear, 'wasm');
    expect(await codeOf(g, { x: randomInput([1, 9, 32], 1) })).toMatch(/^LUT5009: .*runtime dim seq = 9 is beyond its compiled bound 8/);
    expect(await codeOf(g, { x: randomInput([3, 8, 32], 1) })).toBe('ok'); // the bound itself runs
  });

  it('two inputs giving one dim two sizes: LUT5006; the same size runs', async () => {
    const g = twoInputs();
    expect(await codeOf(g, { a: randomInput([2, 4], 1), b: randomInput([3, 4], 2) })).toMatch(/^LUT5006: input "b" has shape \[3, 4\]/);
    expect(await codeOf(g, { a: randomInput([3, 4], 1), b: randomInput([3, 4], 2) })).toBe('ok');
  });

  it('a shape contradicting a static dim: LUT5006', async () => {
    expect(await codeOf(lowerCase(linear, 'wasm'), { x: randomInput([1, 2, 31], 1) })).toMatch(/^LUT5006: /);
  });

  it('an op whose kernel does not take runtime dims yet: LUT5004 naming the node, the op and the dim', () => {
    const b = new OnnxBuilder({ opset: 17 });
    const x = b.input('x', 'f32', ['n', 1, 4, 4]);
    const [y] = b.node('Conv', [x, b.initializer('w', uniform([2, 1, 3, 3], 1, seeded(1)))], { outputs: ['y'] });
    b.output(y!, 'f32', ['n', 2, 2, 2]);
    const g = importOnnx(b.toBytes(), { file: 'model.onnx' });
    g.meta = { ...g.meta, dimBounds: { n: 4 } };
    runPipeline(g, { target: 'wasm' });
    expect(() => emitArtifact(g, { optimize: false })).toThrow(
      /node 'Conv_0' \(Conv\): error LUT5004: wasm target: op 'conv' does not render the runtime dim 'n' yet \(--max-dim n=4\)/,
    );
  });

  it('the manifest shows the dims and the bounds', () => {
    const { manifest } = emitArtifact(lowerCase(linear, 'wasm'), { optimize: false });
    expect(manifest.inputs).toEqual([{ name: 'x', dtype: 'f32', shape: [3, 8, 32], dims: ['batch', 'seq', 32] }]);
    expect(manifest.runtimeDims).toEqual({ batch: 3, seq: 8 });
  });
});
