/**
 * Helpers of the whole-model C tests: an "ops" model that keeps most graph ops alive after folding
 * (they all depend on the inputs), import + pipeline in one call, the C run, and the error measures
 * the tolerances are stated in (relMax = max|y - ref| / max|ref| and relL2, re-exported from
 * test/helpers/tolerance.ts, which holds the tolerances).
 */
import { type BuilderAttr, OnnxBuilder } from '../../../compiler/onnx/builder.js';
import { importOnnx } from '../../../compiler/onnx/index.js';
import type { CompileOptions } from '../../../compiler/options.js';
import { runPipeline } from '../../../compiler/pipeline.js';
import { interpret } from '../../../ir/interpret.js';
import { buildTables, interpPack, lutAccumulators } from '../../../ir/lut/interp.js';
import { combine } from '../../../ir/lut/reference.js';
import { findOp, resolveAttrs } from '../../../ir/optable.js';
import '../../../ir/ops/index.js';
import { type CRunOptions, runArtifact } from '../../../backends/c/run.js';
import { makeTensor } from '../../../ir/tensor.js';
import type { Graph, Tensor, Value } from '../../../ir/types.js';
import { seeded, uniform } from '../../helpers/models.js';

/** Fast-to-compile flags for tests (the kernels are the same at -O3; the build cache keeps binaries). */
export const TEST_FLAGS = ['-O1', '-march=native'];

/** Imports, binds dims, runs the pipeline for target c. */
export function lowered(bytes: Uint8Array, opts: Partial<CompileOptions> = {}, dimBindings: Record<string, number> = {}): Graph {
  const g = importOnnx(bytes, { file: 'test.onnx', dimBindings });
  runPipeline(g, { target: 'c', ...opts });
  return g;
}

/** Runs the C artifact with test flags. */
export function runC(g: Graph, inputs: Record<string, Tensor>, opts: Partial<CRunOptions> = {}): Promise<Tensor[]> {
  return runArtifact(g, inputs, { target: 'c', cflags: TEST_FLAGS, ...opts } as CRunOptions);
}

export function runRef(g: Graph, inputs: Record<string, Tensor>): Tensor[] {
  return interpret(g, inputs);
}

export { maxRel as relMax, relL2 } from '../../helpers/tolerance.js';

/** Bitwise equality of two tensors' values (same dtype and shape). */
export function sameBits(a: Tensor, b: Tensor): boolean {
  if (a.dtype !== b.dtype || a.shape.join(',') !== b.shape.join(',')) return false;
  for (let i = 0; i < a.data.length; i++) if (!Object.is(a.data[i], b.data[i])) return false;
  return true;
}

/**
 * A model whose every op depends on the inputs (so none folds away): x f32 [2,3,5,7], y f32 [5,1],
 * ids i64 [4]. Odd sizes everywhere; outputs cover broadcasting arithmetic, comparisons/where/cast,
 * unary math, reductions, softmax, layer_norm, transpose, slice, split/concat, gather, expand, trilu,
 * batched and 2-D matmul, gemm, conv 1-D/2-D/grouped, quantize/dequantize, clip, pow, max/min.
 */
export function buildOpsModel(seed = 7): Uint8Array {
  const next = seeded(seed);
  const b = new OnnxBuilder({ opset: 20 });
  const x = b.input('x', 'f32', [2, 3, 5, 7]);
  const y = b.input('y', 'f32', [5, 1]);
  const ids = b.input('ids', 'i64', [4]);
  const c = (name: string, t: Tensor) => b.initializer(name, t);
  const i64 = (name: string, v: number[]) => c(name, makeTensor('i64', [v.length], v));
  const f32 = (name: string, shape: number[], scale = 1) => c(name, uniform(shape, scale, next));
  const one = (op: string, ins: string[], attrs?: Record<string, BuilderAttr>) => b.node(op, ins, attrs ? { attrs } : {})[0]!;
  const outs: [string, string, (string | number)[]][] = [];
  const out = (name: string, v: string, dt: string, shape: number[]) => {
    const [o] = b.node('Identity', [v], { outputs: [name] });
    outs.push([o!, dt, shape]);
  };
  // elementwise with broadcasting
  const a = one('Add', [x, y]);
  const m = one('Mul', [a, f32('w7', [7])]);
  const d = one('Div', [one('Sub', [m, x]), one('Add', [one('Abs', [x]), c('one', makeTensor('f32', [], [1]))])]);
  out('arith', d, 'f32', [2, 3, 5, 7]);
  const un = [
    one('Erf', [x]),
    one('Tanh', [x]),
    one('Sigmoid', [x]),
    one('Exp', [x]),
    one('Log', [one('Add', [one('Abs', [x]), c('half', makeTensor('f32', [], [0.5]))])]),
    one('Sqrt', [one('Abs', [x])]),
    one('Neg', [x]),
    one('Relu', [x]),
    one('LeakyRelu', [x], { alpha: 0.1 }),
    one('Gelu', [x]),
    one('Gelu', [x], { approximate: 'tanh' }),
    one('Softplus', [x]),
    one('Reciprocal', [one('Add', [one('Abs', [x]), c('two', makeTensor('f32', [], [2]))])]),
    one('Clip', [x, c('lo', makeTensor('f32', [], [-0.3])), c('hi', makeTensor('f32', [], [0.4]))]),
    one('Pow', [x, c('p2', makeTensor('f32', [], [2]))]),
    one('Max', [x, y, f32('z7', [7])]),
    one('Min', [x, y]),
  ];
  out('unary', one('Concat', un, { axis: 1 }), 'f32', [2, 3 * un.length, 5, 7]);
  // comparisons, logic, where, casts (int arithmetic on the way)
  const lt = one('Less', [x, y]);
  const both = one('And', [lt, one('Not', [one('Equal', [x, y])])]);
  const either = one('Or', [both, one('GreaterOrEqual', [x, f32('z7b', [7])])]);
  out('where', one('Where', [either, x, y]), 'f32', [2, 3, 5, 7]);
  const xi = one('Cast', [one('Mul', [x, c('ten', makeTensor('f32', [], [10]))])], { to: 7 });
  const ia = one('Div', [one('Sub', [one('Mul', [xi, i64('three', [3])]), i64('seven', [7])]), i64('four', [4])]);
  out('ints', ia, 'i64', [2, 3, 5, 7]);
  out('flags', either, 'bool', [2, 3, 5, 7]);
  out('castf', one('Cast', [one('Cast', [x], { to: 6 })], { to: 1 }), 'f32', [2, 3, 5, 7]);
  // reductions, softmax, norm
  out('rsum', one('ReduceSum', [x, i64('ax13', [1, 3])], { keepdims: 1 }), 'f32', [2, 1, 5, 1]);
  out('rmean', one('ReduceMean', [x, i64('ax2', [2])], { keepdims: 0 }), 'f32', [2, 3, 7]);
  out('rmax', one('ReduceMax', [x, i64('axm1', [-1])], { keepdims: 1 }), 'f32', [2, 3, 5, 1]);
  const t = one('Transpose', [x], { perm: [0, 2, 1, 3] });
  out('softmax', one('Softmax', [t], { axis: -1 }), 'f32', [2, 5, 3, 7]);
  out('logsoftmax', one('LogSoftmax', [t], { axis: 1 }), 'f32', [2, 5, 3, 7]);
  out('layernorm', one('LayerNormalization', [x, f32('g7', [7]), f32('b7', [7])], { axis: -1, epsilon: 1e-5 }), 'f32', [2, 3, 5, 7]);
  // data movement
  const sl = one('Slice', [x, i64('st', [1, 0]), i64('en', [3, 100]), i64('sax', [1, 3]), i64('sst', [1, 2])]);
  const [s1, s2] = b.node('Split', [x, i64('sp', [1, 2])], { attrs: { axis: 1 }, outputs: 2 });
  out('slice', sl, 'f32', [2, 2, 5, 4]);
  out('splitcat', one('Concat', [s2!, s1!], { axis: 1 }), 'f32', [2, 3, 5, 7]);
  out('gather', one('Gather', [x, ids], { axis: 3 }), 'f32', [2, 3, 5, 4]);
  out('expand', one('Expand', [y, i64('eshape', [2, 1, 5, 3])]), 'f32', [2, 1, 5, 3]);
  out('trilu', one('Trilu', [x], { upper: 0 }), 'f32', [2, 3, 5, 7]);
  // matmul: activation x weight (batched 4-D), activation x activation (attention-like), gemm
  out('mm', one('MatMul', [x, f32('wm', [7, 4])]), 'f32', [2, 3, 5, 4]);
  out('mmaa', one('MatMul', [x, one('Transpose', [x], { perm: [0, 1, 3, 2] })]), 'f32', [2, 3, 5, 5]);
  const x2 = one('Reshape', [x, i64('r2', [30, 7])]);
  out('gemm', one('Gemm', [x2, f32('wg', [9, 7]), f32('cg', [9])], { transB: 1, alpha: 0.5, beta: { f: 2 } }), 'f32', [30, 9]);
  out('gemmta', one('Gemm', [one('Transpose', [x2], { perm: [1, 0] }), f32('wg2', [7, 3])], { transA: 1 }), 'f32', [30, 3]);
  // conv 1-D (strided, dilated, padded), 2-D, grouped 2-D with SAME_UPPER
  const x1 = one('Reshape', [x, i64('r1', [2, 3, 35])]);
  out(
    'conv1d',
    one('Conv', [x1, f32('wc1', [4, 3, 3]), f32('bc1', [4])], { strides: [2], dilations: [2], pads: [1, 2] }),
    'f32',
    [2, 4, 17],
  );
  out('conv2d', one('Conv', [x, f32('wc2', [6, 3, 3, 3], 0.5)], { pads: [1, 1, 1, 1] }), 'f32', [2, 6, 5, 7]);
  out(
    'convg',
    one('Conv', [x, f32('wc3', [3, 1, 2, 2]), f32('bc3', [3])], { group: 3, strides: [2, 2], auto_pad: 'SAME_UPPER' }),
    'f32',
    [2, 3, 3, 4],
  );
  // quantize -> dequantize at run time
  const q = one('QuantizeLinear', [x, c('qs', makeTensor('f32', [], [0.02])), c('qz', makeTensor('i8', [], [3]))]);
  out(
    'qdq',
    one('DequantizeLinear', [q, c('qs2', makeTensor('f32', [], [0.02])), c('qz2', makeTensor('i8', [], [3]))]),
    'f32',
    [2, 3, 5, 7],
  );
  for (const [name, dt] of outs) b.output(name, dt as 'f32');
  return b.toBytes();
}

/** Inputs of the ops model (ids include a negative index). */
export function opsInputs(seed = 3): Record<string, Tensor> {
  const next = seeded(seed);
  return { x: uniform([2, 3, 5, 7], 1, next), y: uniform([5, 1], 1, next), ids: makeTensor('i64', [4], [0, 6, -1, 3]) };
}

/**
 * What the C model computes for a one-layer LUT graph (x -> lut.gemm + bias), from the interpreter's
 * own integer pieces: its int8/f32 tables and table scales (lut.table's build of x), its accumulators
 * A (interp.ts lutAccumulators on the weights as lut.pack packs the node's q/scales/zeros), then
 * combine() on the kernel's xsum, which csrc-tables.ts sums chunk by chunk (Σ_c ((x0+x1)+x2)+x3)
 * instead of the reference's sequential order. Equal bits mean: the kernel's tables and integers are
 * the interpreter's, and its float epilogue follows combine()'s order.
 */
export function lutKernelOracle(g: Graph, x: Tensor): Tensor {
  const gm = g.nodes.find((n) => n.op === 'lut.gemm')!;
  const a = resolveAttrs(findOp('lut.gemm')!, gm);
  const attrs = { ...a, vec_bytes: 16, k_tile: 0, table_layout: 'token' };
  const [tables, tscale] = buildTables(x, { k: a.k!, group_size: a.group_size!, tables: a.tables!, layout: 'token' });
  const w = interpPack(
    gm.inputs.slice(1, 4).map((v) => v!.const!),
    attrs,
  );
  const ins = [tables!, tscale!, null, ...w, gm.inputs[4]?.const ?? null];
  const { g: geo, m, acc } = lutAccumulators(ins, attrs);
  const xs = new Float32Array(m * geo.nSegments);
  const xv = x.data as Float32Array;
  const at = (t: number, kk: number) => (kk < geo.k ? xv[t * geo.k + kk]! : 0);
  for (let t = 0; t < m; t++)
    for (let s = 0; s < geo.nSegments; s++) {
      let sum = 0;
      for (let c = (s * geo.segment) / 4; c < ((s + 1) * geo.segment) / 4; c++) {
        const f = Math.fround;
        sum = f(sum + f(f(f(at(t, 4 * c) + at(t, 4 * c + 1)) + at(t, 4 * c + 2)) + at(t, 4 * c + 3)));
      }
      xs[t * geo.nSegments + s] = sum;
    }
  const f32 = (v: Tensor | null) => v!.data as Float32Array;
  const y = combine(geo, acc, f32(tscale!), xs, { sw: f32(ins[4]!), swz: f32(ins[5]!) }, m, ins[6] ? f32(ins[6]) : undefined);
  return makeTensor('f32', gm.outputs[0]!.type.shape as number[], y);
}
