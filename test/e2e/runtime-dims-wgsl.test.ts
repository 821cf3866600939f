/**
 * Runtime dims on the WGSL target (Dawn on SwiftShader): every golden case of
 * test/helpers/runtime-dims.ts, plus four of this file (the other runtime-dim renderers over
 * [2, seq, 8]; the norms, split, range, gather and gemm; 8-bit matmul_nbits; the LUT linear with int8
 * tables), compiled once with its bounds and run at each of its shapes (size 0 included) through
 * backends/wgsl/run.ts `loadGraph` (one also through `openArtifact`), against onnxruntime or the
 * interpreter with the case's tolerance (checkCase: F32_EXACT, LUT_VS_INTERP); a dim beyond its
 * bound is LUT5009 and inputs whose shapes contradict each other (or the compiled static dims) are
 * LUT5006, thrown by run before any dispatch; a model with an op the backend does not render over
 * runtime dims is LUT5004 naming the op and the dim.
 * The two test decoders (test/helpers/compiled-decoders.ts: builder layout 12 tokens, optimum layout
 * 32 tokens) greedy-decode through ONE wgsl artifact with onnxruntime-node's tokens and last-position
 * logits within LOGITS_TOL (1e-4) of max|ref| (measured 3.9e-7 and 4.6e-7). The fused
 * group_query_attention kernel against onnxruntime: eight static cases and one runtime-dims artifact
 * over prompt, decode and continued-prompt shapes (GQA_WGSL below), and its LUT5008 run-time check.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import '../../ir/ops/index.js';
import { compileModel } from '../../backends/wgsl/compile.js';
import { type NodeGpu, openNodeGpu } from '../../backends/wgsl/device.js';
import { renderModel } from '../../backends/wgsl/model-shaders.js';
import { type HostModel, loadArtifact, loadGraph, openArtifact } from '../../backends/wgsl/run.js';
import { LutcError } from '../../base/diagnostics.js';
import { OnnxBuilder } from '../../compiler/onnx/builder.js';
import { importOnnx } from '../../compiler/onnx/index.js';
import { runPipeline } from '../../compiler/pipeline.js';
import { makeTensor } from '../../ir/tensor.js';
import type { Graph, Tensor } from '../../ir/types.js';
import { COMPILED_DECODERS, checkCompiledDecoder, int8ArgmaxAgreement, lowerDecoder } from '../helpers/compiled-decoders.js';
import { buildBuilderDecoder, greedyOrt } from '../helpers/decoders.js';
import { buildDynamicLinear, buildMatMulNBits, randomInput } from '../helpers/models.js';
import { runOrt } from '../helpers/ort.js';
import { checkCase, lowerCase, RUNTIME_DIMS_CASES, type RuntimeDimsCase } from '../helpers/runtime-dims.js';
import { maxRel } from '../helpers/tolerance.js';

let gpu: NodeGpu;
beforeAll(async () => {
  gpu = await openNodeGpu();
});
afterAll(() => gpu?.release());

const load = (g: Graph) => loadGraph(gpu.device, g);

/** The diagnostic codes of a rejected promise (or a throwing call). */
async function codesOf(p: Promise<unknown> | (() => unknown)): Promise<string[]> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    if (e instanceof LutcError) return e.diagnostics.map((d) => d.code);
    throw e;
  }
  return [];
}

/** a [n, 4] + b [n, 4] with one runtime dim n shared by both inputs. */
function sharedDimModel(): Graph {
  const b = new OnnxBuilder({ opset: 17 });
  const x = b.input('a', 'f32', ['n', 4]);
  const y = b.input('b', 'f32', ['n', 4]);
  const [s] = b.node('Add', [x, y], { outputs: ['y'] });
  b.output(s!, 'f32', ['n', 4]);
  const g = importOnnx(b.toBytes(), { file: 'model.onnx' });
  g.meta = { ...g.meta, dimBounds: { n: 8 } };
  runPipeline(g, { target: 'wgsl' });
  return g;
}

/**
 * The other renderers that take runtime dims, over x [2, seq, 8]: a reduction over the runtime axis
 * and one keeping it, softmax across it (a static row count, runtime length) and log-softmax along
 * the last axis (runtime rows), a slice with a negative start on it, a transpose, Shape + Expand.
 * seq = 70 exceeds a workgroup (64): the row loops stride.
 */
function buildOpsModel(): Uint8Array {
  const b = new OnnxBuilder({ opset: 18 }); // ReduceMax takes its axes as an input from 18
  const x = b.input('x', 'f32', [2, 'seq', 8]);
  const i64 = (name: string, v: number[]) => b.initializer(name, makeTensor('i64', [v.length], v));
  const [rs] = b.node('ReduceSum', [x, i64('ax1', [1])], { attrs: { keepdims: 1 }, outputs: ['rs'] });
  const [sl] = b.node('Slice', [x, i64('st', [-2]), i64('en', [1000]), i64('ax', [1])], { outputs: ['sl'] });
  const [sm] = b.node('Softmax', [x], { attrs: { axis: 1 }, outputs: ['sm'] });
  const [ls] = b.node('LogSoftmax', [x], { attrs: { axis: -1 } });
  const [tr] = b.node('Transpose', [ls!], { attrs: { perm: [1, 2, 0] }, outputs: ['tr'] });
  const [mx] = b.node('ReduceMax', [x, i64('ax2', [2])], { attrs: { keepdims: 0 }, outputs: ['mx'] });
  const [sh] = b.node('Shape', [x]);
  const [ex] = b.node('Expand', [b.initializer('one', makeTensor('f32', [1, 1, 1], [1.5])), sh!], { outputs: ['ex'] });
  b.output(rs!, 'f32', [2, 1, 8]);
  b.output(sl!, 'f32', [2, null, 8]);
  b.output(sm!, 'f32', [2, 'seq', 8]);
  b.output(tr!, 'f32', ['seq', 8, 2]);
  b.output(mx!, 'f32', [2, 'seq']);
  b.output(ex!, 'f32', [2, 'seq', 8]);
  return b.toBytes();
}

const OPS_CASE: RuntimeDimsCase = {
  name: 'reduce / softmax / slice / transpose / expand over [2, seq, 8]',
  model: buildOpsModel,
  bounds: { seq: 70 },
  oracle: 'ort',
  runs: [0, 1, 2, 5, 70].map((s, i) => ({ x: s === 0 ? makeTensor('f32', [2, 0, 8]) : randomInput([2, s, 8], 60 + i) })),
};

/** The LUT case with int8 tables and 2-bit weights (the default tables): the same runtime M path. */
const LUT_I8_CASE: RuntimeDimsCase = {
  name: 'LUT linear (2-bit, int8 tables) [batch, seq, 64]',
  model: () => buildDynamicLinear(64, 24, 7),
  bounds: { batch: 2, seq: 40 },
  pipeline: { bits: 2 },
  oracle: 'ref',
  runs: [
    [1, 0],
    [1, 1],
    [2, 17],
    [2, 40],
  ].map(([b, s], i) => ({ x: s === 0 ? makeTensor('f32', [b!, 0, 64]) : randomInput([b!, s!, 64], 70 + i) })),
};

/**
 * The norms, split, range, gather and gemm over runtime dims, x [2, seq, 8] and y [n, 8]: layer
 * norm, simplified layer norm and the skip variant (its residual output too) over runtime rows,
 * split of the last axis, Range(0, seq) from Shape, a gather of runtime indices, gemm with transB,
 * alpha, beta and a bias row.
 */
function buildNormsModel(): Uint8Array {
  const b = new OnnxBuilder({ opset: 17, domains: { 'com.microsoft': 1 } });
  const x = b.input('x', 'f32', [2, 'seq', 8]);
  const y = b.input('y', 'f32', ['n', 8]);
  const ids = b.input('ids', 'i64', ['n']);
  const w = (name: string, shape: number[], seed: number) => b.initializer(name, randomInput(shape, seed));
  const [ln] = b.node('LayerNormalization', [x, w('g1', [8], 1), w('b1', [8], 2)], { attrs: { axis: -1 }, outputs: ['ln'] });
  const [rms] = b.node('SimplifiedLayerNormalization', [x, w('g2', [8], 3)], {
    attrs: { axis: -1, epsilon: b.float(1e-5) },
    outputs: ['rms'],
  });
  const [sk, , , res] = b.node('SkipSimplifiedLayerNormalization', [x, ln!, w('g3', [8], 4)], {
    domain: 'com.microsoft',
    attrs: { epsilon: b.float(1e-5) },
    outputs: ['sk', '', '', 'res'],
  });
  const [s0, s1] = b.node('Split', [x, b.initializer('sp', makeTensor('i64', [2], [3, 5]))], { attrs: { axis: 2 }, outputs: ['s0', 's1'] });
  const [sh] = b.node('Shape', [x]);
  const [len] = b.node('Gather', [sh!, b.initializer('one', makeTensor('i64', [], [1]))], { attrs: { axis: 0 } });
  const [rg] = b.node('Range', [b.initializer('zero', makeTensor('i64', [], [0])), len!, b.initializer('d1', makeTensor('i64', [], [1]))], {
    outputs: ['rg'],
  });
  const [ga] = b.node('Gather', [w('emb', [5, 8], 5), ids], { attrs: { axis: 0 }, outputs: ['ga'] });
  const [gm] = b.node('Gemm', [y, w('wt', [6, 8], 6), w('c', [6], 7)], {
    attrs: { transB: 1, alpha: b.float(0.5), beta: b.float(2) },
    outputs: ['gm'],
  });
  b.output(ln!, 'f32', [2, 'seq', 8]);
  b.output(rms!, 'f32', [2, 'seq', 8]);
  b.output(sk!, 'f32', [2, 'seq', 8]);
  b.output(res!, 'f32', [2, 'seq', 8]);
  b.output(s0!, 'f32', [2, 'seq', 3]);
  b.output(s1!, 'f32', [2, 'seq', 5]);
  b.output(rg!, 'i64', ['seq']);
  b.output(ga!, 'f32', ['n', 8]);
  b.output(gm!, 'f32', ['n', 6]);
  return b.toBytes();
}

const NORMS_CASE: RuntimeDimsCase = {
  name: 'norms / split / range / gather / gemm over runtime dims',
  model: buildNormsModel,
  bounds: { seq: 70, n: 9 },
  oracle: 'ort',
  runs: [
    [0, 0],
    [1, 1],
    [5, 3],
    [70, 9],
  ].map(([s, n], i) => ({
    x: s === 0 ? makeTensor('f32', [2, 0, 8]) : randomInput([2, s!, 8], 80 + i),
    y: n === 0 ? makeTensor('f32', [0, 8]) : randomInput([n!, 8], 90 + i),
    ids: makeTensor(
      'i64',
      [n!],
      Array.from({ length: n! }, (_, j) => ((j * 3) % 9) - 4),
    ),
  })),
};

/**
 * MatMulNBits with 8-bit weights (not lowered to LUT ops) over A [batch, seq, 40], under --tables f32:
 * the exact float path, dequantized on the fly (the int8 path: test/ops-c/matmul-nbits8.test.ts).
 */
const NBITS_CASE: RuntimeDimsCase = {
  name: 'matmul_nbits (8-bit, zero points, bias, --tables f32) [batch, seq, 40]',
  model: () => buildMatMulNBits({ k: 40, n: 12, bits: 8, blockSize: 16, zeroPoints: true, bias: true, lead: ['batch', 'seq'] }).bytes,
  bounds: { batch: 2, seq: 6 },
  pipeline: { tables: 'f32' },
  oracle: 'ort',
  runs: [
    [1, 0],
    [1, 1],
    [2, 6],
  ].map(([b, s], i) => ({ A: s === 0 ? makeTensor('f32', [b!, 0, 40]) : randomInput([b!, s!, 40], 100 + i) })),
};

describe('runtime dims: WGSL', () => {
  for (const c of RUNTIME_DIMS_CASES) it(c.name, () => checkCase(c, 'wgsl', load));
  it(OPS_CASE.name, () => checkCase(OPS_CASE, 'wgsl', load));
  it(LUT_I8_CASE.name, () => checkCase(LUT_I8_CASE, 'wgsl', load));
  it(NORMS_CASE.name, () => checkCase(NORMS_CASE, 'wgsl', load));
  it(NBITS_CASE.name, () => checkCase(NBITS_CASE, 'wgsl', load));
  it('openArtifact (a device of its own, released by close): the dynamic linear case', () =>
    checkCase(RUNTIME_DIMS_CASES[0]!, 'wgsl', (g) => openArtifact(g, { target: 'wgsl' })));

  it('a dim beyond its bound: LUT5009 from run', async () => {
    const art = await load(lowerCase(RUNTIME_DIMS_CASES[0]!, 'wgsl')); // batch <= 3, seq <= 8
    try {
      expect(await codesOf(art.run({ x: randomInput([1, 9, 32], 1) }))).toEqual(['LUT5009']);
      expect(await codesOf(art.run({ x: randomInput([4, 1, 32], 2) }))).toEqual(['LUT5009']);
      // the artifact still runs in bounds afterwards
      const [y] = await art.run({ x: randomInput([2, 3, 32], 3) });
      expect(y!.shape).toEqual([2, 3, 16]);
    } finally {
      art.close();
    }
  });

  it('contradicting shapes: LUT5006 from run', async () => {
    const art = await load(sharedDimModel());
    try {
      expect(await codesOf(art.run({ a: randomInput([2, 4], 1), b: randomInput([3, 4], 2) }))).toEqual(['LUT5006']);
      expect(await codesOf(art.run({ a: randomInput([2, 4], 1), b: randomInput([2, 5], 2) }))).toEqual(['LUT5006']);
      const a = randomInput([3, 4], 3);
      const b = randomInput([3, 4], 4);
      const [y] = await art.run({ a, b });
      expect(y!.shape).toEqual([3, 4]);
      expect(Array.from(y!.data)).toEqual(Array.from(a.data, (v, i) => Math.fround(v + b.data[i]!)));
    } finally {
      art.close();
    }
  });

  it('an op without a runtime-dims renderer: LUT5004 naming the op and the dim', async () => {
    const b = new OnnxBuilder({ opset: 17 });
    const x = b.input('x', 'f32', ['len', 8]);
    const [y] = b.node('QuantizeLinear', [x, b.initializer('s', makeTensor('f32', [], [0.05]))], { outputs: ['y'] });
    b.output(y!, 'u8', ['len', 8]);
    const g = importOnnx(b.toBytes(), { file: 'model.onnx' });
    g.meta = { ...g.meta, dimBounds: { len: 16 } };
    runPipeline(g, { target: 'wgsl' });
    let err: unknown;
    try {
      renderModel(g);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(LutcError);
    expect((err as LutcError).diagnostics[0]!.code).toBe('LUT5004');
    expect((err as LutcError).message).toMatch(/quantize_linear with the runtime dim 'len'/);
  });
});

describe('decoders through one WGSL artifact (runtime sequence dims, from an empty cache)', () => {
  for (const c of COMPILED_DECODERS)
    it(c.name, async () => checkCompiledDecoder(c, 'wgsl', (g) => loadGraph(gpu.device, g, { target: 'wgsl', tables: 'f32' })), 240_000);

  // int8 tables (the default): argmax within 95% of onnxruntime's over every layout, teacher-forced
  it('int8 tables: the argmax agrees with onnxruntime-node on >= 95% of the steps of every layout', async () => {
    const r = await int8ArgmaxAgreement('wgsl', (g) => loadGraph(gpu.device, g, { target: 'wgsl', tables: 'i8' }));
    expect(r.agree / r.steps, r.misses.join('; ')).toBeGreaterThanOrEqual(0.95);
  }, 480_000);
});

/**
 * GQA_WGSL: the fused group_query_attention kernel (backends/wgsl/ops-attention.ts) vs
 * onnxruntime-node's CPU kernel. Both compute in float from the same inputs (ORT: a float GEMM for
 * Q·Kᵀ, float softmax and P·V; WGSL: f32 dot products, an online softmax with expf, f32 P·V); each
 * output is a convex combination of V rows, so the difference is a few float roundings of max|v|:
 * measured up to 2.1e-7 of max|y| over these cases and results; 2e-6 (F32_EXACT) bounds it.
 */
const GQA_WGSL = 2e-6;
const [N, Nkv, H] = [4, 2, 16];

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

interface GqaCase {
  name: string;
  B: number;
  S: number;
  /** Past rows (0: no past inputs). */
  P: number;
  /** seqlens_k + 1 per batch. */
  totals: number[];
  packed?: boolean;
  rotary?: 'half' | 'interleaved';
  attrs?: Record<string, number | { f: number }>;
}

const GQA_CASES: GqaCase[] = [
  { name: 'first prompt, separate q/k/v, no past', B: 1, S: 5, P: 0, totals: [5] },
  { name: 'decode step after 6 tokens (growing cache), batch 2', B: 2, S: 1, P: 6, totals: [7, 7] },
  { name: 'packed QKV with rotary, first prompt, batch 2', B: 2, S: 4, P: 0, totals: [4, 4], packed: true, rotary: 'half' },
  {
    name: 'shared-buffer mode: past of capacity 12, 7 valid rows, interleaved rotary',
    B: 1,
    S: 1,
    P: 12,
    totals: [8],
    rotary: 'interleaved',
  },
  { name: 'prompt continuing a past', B: 1, S: 3, P: 4, totals: [7], rotary: 'half' },
  { name: 'local_window_size 3', B: 1, S: 6, P: 0, totals: [6], attrs: { local_window_size: 3 } },
  { name: 'local window in decode', B: 1, S: 1, P: 9, totals: [10], attrs: { local_window_size: 4 } },
  {
    name: 'softcap, smooth_softmax and an explicit scale',
    B: 1,
    S: 4,
    P: 2,
    totals: [6],
    attrs: { softcap: { f: 2 }, smooth_softmax: 1, scale: { f: 0.4 } },
  },
];

/** cos/sin caches [32, H / 2] as onnxruntime-genai computes them (theta 10000). */
function rotaryCaches(b: OnnxBuilder): void {
  const half = H / 2;
  const ang = Array.from({ length: 32 * half }, (_, i) => Math.floor(i / half) * 10000 ** (-(i % half) / half));
  b.initializer('cos', makeTensor('f32', [32, half], ang.map(Math.cos)));
  b.initializer('sin', makeTensor('f32', [32, half], ang.map(Math.sin)));
}

/** The feeds of a case (seeded); `mask`: an attention_mask of the total length instead of seqlens_k / total. */
function gqaFeeds(c: GqaCase, mask = false): Record<string, Tensor> {
  const next = lcg(c.S * 13 + c.P * 7 + c.B);
  const rand = (shape: number[]) =>
    makeTensor(
      'f32',
      shape,
      Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => next() * 2 - 1),
    );
  const feeds: Record<string, Tensor> = {};
  if (c.packed) feeds.query = rand([c.B, c.S, (N + 2 * Nkv) * H]);
  else {
    feeds.query = rand([c.B, c.S, N * H]);
    feeds.key = rand([c.B, c.S, Nkv * H]);
    feeds.value = rand([c.B, c.S, Nkv * H]);
  }
  if (c.P || mask) {
    feeds.past_key = rand([c.B, Nkv, c.P, H]);
    feeds.past_value = rand([c.B, Nkv, c.P, H]);
  }
  if (mask) feeds.attention_mask = makeTensor('i64', [1, c.totals[0]!], new Array(c.totals[0]!).fill(1));
  else
    feeds.seqlens_k = makeTensor(
      'i32',
      [c.B],
      c.totals.map((t) => t - 1),
    );
  return feeds;
}

/** A static GroupQueryAttention model of a case: total_sequence_length a constant (folded, as a static compile folds Shape(mask)). */
function gqaStaticModel(c: GqaCase): Uint8Array {
  const b = new OnnxBuilder({ opset: 17, domains: { 'com.microsoft': 1 } });
  const feeds = gqaFeeds(c);
  const inputs: string[] = [];
  for (const name of ['query', 'key', 'value', 'past_key', 'past_value', 'seqlens_k']) {
    const t = feeds[name];
    if (t) b.input(name, t.dtype, t.shape);
    inputs.push(t ? name : '');
  }
  b.initializer('total', makeTensor('i32', [], [Math.max(...c.totals)]));
  inputs.push('total');
  const attrs: Record<string, number | { f: number }> = { num_heads: N, kv_num_heads: Nkv, ...c.attrs };
  if (c.rotary) {
    rotaryCaches(b);
    inputs.push('cos', 'sin');
    attrs.do_rotary = 1;
    if (c.rotary === 'interleaved') attrs.rotary_interleaved = 1;
  }
  b.node('GroupQueryAttention', inputs, { domain: 'com.microsoft', attrs, outputs: ['out', 'present_key', 'present_value'] });
  for (const o of ['out', 'present_key', 'present_value']) b.output(o, 'f32');
  return b.toBytes();
}

/**
 * A GroupQueryAttention model over runtime dims as onnxruntime-genai exports it: q/k/v [1, seq, *],
 * past [1, 2, past, 16], attention_mask [1, total] giving seqlens_k and total_sequence_length,
 * half-split rotary.
 */
function gqaRuntimeModel(): Uint8Array {
  const b = new OnnxBuilder({ opset: 17, domains: { 'com.microsoft': 1 } });
  b.input('query', 'f32', [1, 'seq', N * H]);
  b.input('key', 'f32', [1, 'seq', Nkv * H]);
  b.input('value', 'f32', [1, 'seq', Nkv * H]);
  b.input('past_key', 'f32', [1, Nkv, 'past', H]);
  b.input('past_value', 'f32', [1, Nkv, 'past', H]);
  b.input('attention_mask', 'i64', [1, 'total']);
  const [sum] = b.node('ReduceSum', ['attention_mask', b.initializer('one', makeTensor('i64', [1], [1]))], { attrs: { keepdims: 0 } });
  const [sl] = b.node('Sub', [sum!, b.initializer('i1', makeTensor('i64', [], [1]))]);
  const [sk] = b.node('Cast', [sl!], { attrs: { to: 6 } });
  const [shape] = b.node('Shape', ['attention_mask']);
  const [tot] = b.node('Gather', [shape!, 'i1'], { attrs: { axis: 0 } });
  const [tot32] = b.node('Cast', [tot!], { attrs: { to: 6 } });
  rotaryCaches(b);
  b.node('GroupQueryAttention', ['query', 'key', 'value', 'past_key', 'past_value', sk!, tot32!, 'cos', 'sin'], {
    domain: 'com.microsoft',
    attrs: { num_heads: N, kv_num_heads: Nkv, do_rotary: 1 },
    outputs: ['out', 'present_key', 'present_value'],
  });
  for (const o of ['out', 'present_key', 'present_value']) b.output(o, 'f32');
  return b.toBytes();
}

/** Each result's shape equals onnxruntime's and its values are within GQA_WGSL of max|ort|. */
function expectNearOrt(got: Tensor[], want: Tensor[]): void {
  for (let i = 0; i < 3; i++) {
    expect(got[i]!.shape, `result ${i}`).toEqual(want[i]!.shape);
    expect(maxRel(got[i]!, want[i]!), `result ${i}`).toBeLessThanOrEqual(GQA_WGSL);
  }
}

describe('group_query_attention on WGSL (fused kernel) vs onnxruntime', () => {
  for (const c of GQA_CASES)
    it(`static: ${c.name}`, async () => {
      const bytes = gqaStaticModel(c);
      const feeds = gqaFeeds(c);
      const want = await runOrt(bytes, feeds);
      const g = importOnnx(bytes);
      runPipeline(g, { target: 'wgsl' });
      expect(g.nodes.map((n) => n.op)).toContain('group_query_attention'); // native: legalize kept it
      const art = await load(g);
      try {
        expectNearOrt(await art.run(feeds), want);
      } finally {
        art.close();
      }
    });

  it('runtime dims: one artifact for a first prompt, decode steps and a continued prompt', async () => {
    const bytes = gqaRuntimeModel();
    const g = importOnnx(bytes);
    g.meta = { ...g.meta, dimBounds: { seq: 8, past: 16, total: 24 } };
    runPipeline(g, { target: 'wgsl' });
    const art = await load(g);
    try {
      const runs: GqaCase[] = [
        { name: 'prompt', B: 1, S: 5, P: 0, totals: [5] },
        { name: 'decode', B: 1, S: 1, P: 5, totals: [6] },
        { name: 'decode at the bounds', B: 1, S: 1, P: 16, totals: [17] },
        { name: 'continued prompt', B: 1, S: 8, P: 6, totals: [14] },
      ];
      for (const c of runs) {
        const feeds = gqaFeeds(c, true);
        expectNearOrt(await art.run(feeds), await runOrt(bytes, feeds));
      }
      // seqlens_k + 1 beyond the cache the dims give (a mask longer than past + seq): LUT5008 from run
      const bad = gqaFeeds({ name: 'bad', B: 1, S: 1, P: 2, totals: [6] }, true);
      expect(await codesOf(art.run(bad))).toEqual(['LUT5008']);
    } finally {
      art.close();
    }
  });
});

describe('the shared past/present buffer on wgsl (run(feeds, { kvShared: true }))', () => {
  it("a decode chain through the device-kept cache gives the dense run's logits; presents read back alike; model.generate runs it", async () => {
    const g = lowerDecoder(buildBuilderDecoder({ seed: 21 }), 'wgsl');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lutc-kv-wgsl-'));
    let model: HostModel;
    try {
      await compileModel(g, { target: 'wgsl' }, dir);
      expect(JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')).kvPairs).toHaveLength(4);
      model = await loadArtifact(dir, gpu.device);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    type Out = Record<string, { data?: Float32Array; shape: number[]; read?: () => Promise<Float32Array> }>;
    const run = model.run as unknown as (f: Record<string, unknown>, o?: { kvShared: boolean }) => Promise<Out>;
    const pastNames = g.inputs.filter((v) => v.name.startsWith('past')).map((v) => v.name);
    const stepFeeds = (ids: number[], P: number, past: Record<string, unknown>) => {
      const f: Record<string, unknown> = {
        input_ids: { data: BigInt64Array.from(ids, BigInt), shape: [1, ids.length] },
        attention_mask: { data: new BigInt64Array(P + ids.length).fill(1n), shape: [1, P + ids.length] },
      };
      for (const n of pastNames) f[n] = past[n] ?? { data: new Float32Array(0), shape: [1, 2, 0, 16] };
      return f;
    };
    const asPast = (o: Out, shared: boolean) =>
      Object.fromEntries(
        pastNames.map((n) => {
          const p = o[n.replace('past_key_values', 'present')]!;
          return [n, shared ? { shape: p.shape } : { data: p.data, shape: p.shape }];
        }),
      );
    let dense: Out = {};
    let shared: Out = {};
    let P = 0;
    for (const ids of [[5, 17, 42], [7], [9], [11]]) {
      const d = await run(stepFeeds(ids, P, P === 0 ? {} : asPast(dense, false)));
      const sh = await run(stepFeeds(ids, P, P === 0 ? {} : asPast(shared, true)), { kvShared: true });
      expect(Array.from(sh.logits!.data!), `logits at past ${P}`).toEqual(Array.from(d.logits!.data!)); // same shaders, same order
      for (const n of pastNames) {
        const k = n.replace('past_key_values', 'present');
        expect(sh[k]!.shape).toEqual(d[k]!.shape);
        expect(Array.from(await sh[k]!.read!()), `${k} at past ${P}`).toEqual(Array.from(d[k]!.data!));
      }
      [dense, shared, P] = [d, sh, P + ids.length];
    }
    const gen = await (model as Required<HostModel>).generate([5, 17, 42, 3], { maxNewTokens: 12 });
    expect(gen.tokens).toEqual((await greedyOrt(buildBuilderDecoder({ seed: 21 }), [5, 17, 42, 3], 12)).tokens);
    model.destroy();
  }, 120_000);
});
