/**
 * The LLM-export ops of issue 12 that reach the targets through the shared legalize layer, golden
 * against onnxruntime-node on the same ONNX model, on ref (the interpreter) and on every target (C,
 * WASM, WGSL on SwiftShader), each model compiled once and run at every feed set of its case:
 * - com.microsoft MultiHeadAttention: past/present (BNSH), bias, 2-D key_padding_mask, attention_bias,
 *   unidirectional, BNSH cross-attention keys; a runtime-dims case (sequence and past runtime, causal:
 *   the legalize rule puts it on the fused group_query_attention, the others stay the generic chain;
 *   test/ops-c/mha-fused.test.ts asserts each path);
 * - ai.onnx RotaryEmbedding (opset 23): 3-D with position_ids, 4-D without (per-token caches,
 *   interleaved, partial rotary); runtime sequence;
 * - com.microsoft RotaryEmbedding and GatherBlockQuantized with a runtime sequence (input_ids [1, seq]);
 * - DynamicQuantizeLinear + MatMulInteger + Cast + Mul (transformers.js q8), K = 300 (the nibble split)
 *   and K = 4100 (two K-chunks) with a runtime sequence.
 * Tolerances: integer results (uint8 y and zero point, int32 MatMulInteger) exactly; float results
 * within FLOAT_TOL · max|ref| = F32_EXACT (2e-6), the f32-rounding class: rotary (ORT rounds the two
 * products before adding, <= 2 ulp), attention (ORT's f32 dot products and MLAS softmax vs lutc's
 * kernels), the q8 output (two f32 multiplies of an exact int32). Measured (printed after the run):
 * ref, C, WASM 1.7e-7, WGSL 2.3e-7 of max|ref|: the bound is 8x over; a scale 0.1% off fails it. The lowered graph of each target holds none of the op (legalized, not a fallback).
 * Bad input is a coded diagnostic naming the node: shapes that do not fit (LUT1110), forms onnxruntime
 * has but lutc does not take (packed QKV, per-row zero points: LUT1115), and a runtime-dims form the
 * legalize rule cannot express (a causal mask for a runtime query length over keys of another length:
 * the target's LUT5003, nothing compiled).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import '../../ir/ops/index.js';
import { emitModel } from '../../backends/c/model/emit.js';
import { openArtifact as openC } from '../../backends/c/run.js';
import { buildModelModule } from '../../backends/wasm/model/module.js';
import { openArtifact as openWasm } from '../../backends/wasm/run.js';
import { type NodeGpu, openNodeGpu } from '../../backends/wgsl/device.js';
import { renderModel } from '../../backends/wgsl/model-shaders.js';
import { loadGraph } from '../../backends/wgsl/run.js';
import { LutcError } from '../../base/diagnostics.js';
import { OnnxBuilder } from '../../compiler/onnx/builder.js';
import { importOnnx } from '../../compiler/onnx/index.js';
import { runPipeline } from '../../compiler/pipeline.js';
import { interpret } from '../../ir/interpret.js';
import { isFloat, makeTensor } from '../../ir/tensor.js';
import type { DType, Graph, Tensor } from '../../ir/types.js';
import { seeded, uniform } from '../helpers/models.js';
import { maxAbsDiff, runOrt } from '../helpers/ort.js';
import { type LoadedArtifact, lowerCase, type RuntimeDimsCase } from '../helpers/runtime-dims.js';
import { F32_EXACT } from '../helpers/tolerance.js';

const FLOAT_TOL = F32_EXACT;

const rand = (shape: number[], seed: number, scale = 1): Tensor => uniform(shape, scale, seeded(seed));
const ints = (dtype: DType, shape: number[], vals: number[]): Tensor => makeTensor(dtype, shape, vals);

interface LlmCase extends RuntimeDimsCase {
  /** The IR op that must be legalized away on the targets. */
  op: string;
}

// ---- MultiHeadAttention ------------------------------------------------------------------------------

/** q/k/v [B, S|L, 8] (2 heads of 4), optional past [B, 2, P, 4], bias, mask [B, P+L], attention_bias. */
function buildMha(o: {
  B: number | string;
  S: number | string;
  P?: number | string;
  bias?: boolean;
  mask?: boolean;
  attnBias?: boolean;
  unidirectional?: boolean;
  scale?: number;
  bnshKv?: number;
}): Uint8Array {
  const b = new OnnxBuilder({ opset: 17, domains: { 'com.microsoft': 1 } });
  const { B, S, P } = o;
  const total = o.bnshKv ?? (P === undefined ? S : typeof P === 'number' && typeof S === 'number' ? P + S : `${P} + ${S}`);
  b.input('q', 'f32', [B, S, 8]);
  if (o.bnshKv) {
    b.input('k', 'f32', [B, 2, o.bnshKv, 4]);
    b.input('v', 'f32', [B, 2, o.bnshKv, 4]);
  } else {
    b.input('k', 'f32', [B, S, 8]);
    b.input('v', 'f32', [B, S, 8]);
  }
  if (o.bias) b.initializer('bias', rand([24], 7, 0.5));
  if (o.mask) b.input('mask', 'i32', [B, total]);
  if (o.attnBias) b.input('ab', 'f32', [1, 2, S, total]);
  if (P !== undefined) {
    b.input('pk', 'f32', [B, 2, P, 4]);
    b.input('pv', 'f32', [B, 2, P, 4]);
  }
  const attrs: Record<string, number | { f: number }> = { num_heads: 2 };
  if (o.unidirectional) attrs.unidirectional = 1;
  if (o.scale) attrs.scale = { f: o.scale };
  const ins = [
    'q',
    'k',
    'v',
    o.bias ? 'bias' : '',
    o.mask ? 'mask' : '',
    o.attnBias ? 'ab' : '',
    P !== undefined ? 'pk' : '',
    P !== undefined ? 'pv' : '',
  ];
  while (ins[ins.length - 1] === '') ins.pop();
  b.node('MultiHeadAttention', ins, { domain: 'com.microsoft', attrs, outputs: ['y', 'present_k', 'present_v'] });
  b.output('y', 'f32', [B, S, 8]);
  b.output('present_k', 'f32', [B, 2, total, 4]);
  b.output('present_v', 'f32', [B, 2, total, 4]);
  return b.toBytes();
}

function mhaFeeds(B: number, S: number, P: number | undefined, o: { mask?: number[]; attnBias?: boolean; bnshKv?: number }, seed: number) {
  const f: Record<string, Tensor> = { q: rand([B, S, 8], seed) };
  if (o.bnshKv) {
    f.k = rand([B, 2, o.bnshKv, 4], seed + 1);
    f.v = rand([B, 2, o.bnshKv, 4], seed + 2);
  } else {
    f.k = rand([B, S, 8], seed + 1);
    f.v = rand([B, S, 8], seed + 2);
  }
  const T = (P ?? 0) + S;
  if (o.mask) f.mask = ints('i32', [B, T], o.mask);
  if (o.attnBias) f.ab = rand([1, 2, S, T], seed + 3, 2);
  if (P !== undefined) {
    f.pk = rand([B, 2, P, 4], seed + 4);
    f.pv = rand([B, 2, P, 4], seed + 5);
  }
  return f;
}

// ---- RotaryEmbedding ---------------------------------------------------------------------------------

const angles = (rows: number, half: number) =>
  Array.from({ length: rows * half }, (_, i) => Math.floor(i / half) * 10000 ** (-(i % half) / half));

/** ai.onnx RotaryEmbedding (opset 23): x [B, S, 16] (2 heads of 8) with position_ids, or [B, 2, S, 8] with per-token caches. */
function buildOnnxRotary(o: { fourD: boolean; interleaved: boolean; partial?: number; S: number | string }): Uint8Array {
  const b = new OnnxBuilder({ opset: 23 });
  const half = (o.partial ?? 8) / 2;
  const xs = o.fourD ? [1, 2, o.S, 8] : [1, o.S, 16];
  b.input('x', 'f32', xs);
  const ins = ['x', 'cos', 'sin'];
  if (o.fourD) {
    b.input('cos', 'f32', [1, o.S, half]);
    b.input('sin', 'f32', [1, o.S, half]);
  } else {
    const a = angles(32, half);
    b.initializer('cos', makeTensor('f32', [32, half], a.map(Math.cos)));
    b.initializer('sin', makeTensor('f32', [32, half], a.map(Math.sin)));
    b.input('pos', 'i64', [1, o.S]);
    ins.push('pos');
  }
  const attrs: Record<string, number> = { interleaved: o.interleaved ? 1 : 0 };
  if (!o.fourD) attrs.num_heads = 2;
  if (o.partial) attrs.rotary_embedding_dim = o.partial;
  b.node('RotaryEmbedding', ins, { attrs, outputs: ['y'] });
  b.output('y', 'f32', xs);
  return b.toBytes();
}

function onnxRotaryFeeds(fourD: boolean, S: number, half: number, seed: number): Record<string, Tensor> {
  if (!fourD) {
    const next = seeded(seed + 1);
    return {
      x: rand([1, S, 16], seed),
      pos: ints(
        'i64',
        [1, S],
        Array.from({ length: S }, () => Math.floor(next() * 32)),
      ),
    };
  }
  const a = Array.from({ length: S * half }, (_, i) => (3 + Math.floor(i / half)) * 10000 ** (-(i % half) / half));
  return {
    x: rand([1, 2, S, 8], seed),
    cos: makeTensor('f32', [1, S, half], a.map(Math.cos)),
    sin: makeTensor('f32', [1, S, half], a.map(Math.sin)),
  };
}

/** com.microsoft RotaryEmbedding on x [batch, seq, 16] (2 heads of 8) with per-token positions, or [1, seq, 16] and a start offset. */
function buildMsRotary(perToken: boolean): Uint8Array {
  const b = new OnnxBuilder({ opset: 17, domains: { 'com.microsoft': 1 } });
  const B = perToken ? 'batch' : 1;
  b.input('x', 'f32', [B, 'seq', 16]);
  b.input('pos', 'i64', perToken ? [B, 'seq'] : [1]);
  const a = angles(24, 4);
  b.initializer('cos', makeTensor('f32', [24, 4], a.map(Math.cos)));
  b.initializer('sin', makeTensor('f32', [24, 4], a.map(Math.sin)));
  b.node('RotaryEmbedding', ['x', 'pos', 'cos', 'sin'], {
    domain: 'com.microsoft',
    attrs: { interleaved: perToken ? 0 : 1 },
    outputs: ['y'],
  });
  b.output('y', 'f32', [B, 'seq', 16]);
  return b.toBytes();
}

// ---- GatherBlockQuantized, q8 linear -------------------------------------------------------------------

/** input_ids [1, seq] -> GatherBlockQuantized (uint8, 4 bits, block 16, packed zero points) of a [20, 32] table. */
function buildGbq(): Uint8Array {
  const next = seeded(11);
  const b = new OnnxBuilder({ opset: 17, domains: { 'com.microsoft': 1 } });
  b.input('ids', 'i64', [1, 'seq']);
  b.initializer(
    'data',
    ints(
      'u8',
      [20, 16],
      Array.from({ length: 320 }, () => Math.floor(next() * 256)),
    ),
  );
  b.initializer(
    'scales',
    makeTensor(
      'f32',
      [20, 2],
      Array.from({ length: 40 }, () => 0.01 + 0.1 * next()),
    ),
  );
  b.initializer(
    'zp',
    ints(
      'u8',
      [20, 1],
      Array.from({ length: 20 }, () => Math.floor(next() * 256)),
    ),
  );
  b.node('GatherBlockQuantized', ['data', 'ids', 'scales', 'zp'], {
    domain: 'com.microsoft',
    attrs: { bits: 4, block_size: 16, gather_axis: 0, quantize_axis: 1 },
    outputs: ['y'],
  });
  b.output('y', 'f32', [1, 'seq', 32]);
  return b.toBytes();
}

/** The transformers.js q8 linear: DynamicQuantizeLinear(x) -> MatMulInteger(y, W, zp, w_zp) -> Cast -> Mul(scale) -> Mul(w_scale). */
function buildQ8(K: number, N: number, seq: number | string): Uint8Array {
  const next = seeded(K + N);
  const b = new OnnxBuilder({ opset: 17 });
  b.input('x', 'f32', [1, seq, K]);
  b.node('DynamicQuantizeLinear', ['x'], { outputs: ['xq', 'xs', 'xz'] });
  b.initializer(
    'w',
    ints(
      'u8',
      [K, N],
      Array.from({ length: K * N }, () => Math.floor(next() * 256)),
    ),
  );
  b.initializer(
    'wz',
    ints(
      'u8',
      [N],
      Array.from({ length: N }, () => 100 + Math.floor(next() * 56)),
    ),
  );
  b.initializer(
    'ws',
    makeTensor(
      'f32',
      [N],
      Array.from({ length: N }, () => 0.001 + 0.01 * next()),
    ),
  );
  b.node('MatMulInteger', ['xq', 'w', 'xz', 'wz'], { outputs: ['acc'] });
  b.node('Cast', ['acc'], { attrs: { to: 1 }, outputs: ['accf'] });
  b.node('Mul', ['accf', 'xs'], { outputs: ['m1'] });
  b.node('Mul', ['m1', 'ws'], { outputs: ['y'] });
  b.output('xq', 'u8', [1, seq, K]);
  b.output('xz', 'u8', []);
  b.output('xs', 'f32', []);
  b.output('acc', 'i32', [1, seq, N]);
  b.output('y', 'f32', [1, seq, N]);
  return b.toBytes();
}

const CASES: LlmCase[] = [
  {
    name: 'MultiHeadAttention: past 2, bias, key_padding_mask, attention_bias, unidirectional',
    op: 'multi_head_attention',
    model: () => buildMha({ B: 2, S: 3, P: 2, bias: true, mask: true, attnBias: true, unidirectional: true }),
    bounds: {},
    oracle: 'ort',
    runs: [mhaFeeds(2, 3, 2, { mask: [1, 1, 1, 1, 0, 1, 0, 1, 1, 1], attnBias: true }, 1)],
  },
  {
    name: 'MultiHeadAttention: BNSH cross-attention keys (L = 5), scale 0.3, key_padding_mask',
    op: 'multi_head_attention',
    model: () => buildMha({ B: 2, S: 2, bnshKv: 5, scale: 0.3, mask: true }),
    bounds: {},
    oracle: 'ort',
    runs: [{ ...mhaFeeds(2, 2, undefined, { bnshKv: 5 }, 2), mask: ints('i32', [2, 5], [1, 0, 1, 1, 0, 0, 0, 1, 0, 0]) }],
  },
  {
    name: 'MultiHeadAttention runtime dims: q/k/v [1, seq, 8], past [1, 2, past, 4], unidirectional',
    op: 'multi_head_attention',
    model: () => buildMha({ B: 1, S: 'seq', P: 'past', unidirectional: true }),
    bounds: { seq: 4, past: 8 },
    oracle: 'ort',
    runs: [
      [0, 4],
      [3, 1],
      [5, 3],
      [8, 4],
    ].map(([p, s], i) => mhaFeeds(1, s!, p!, {}, 10 + i)),
  },
  {
    name: 'MultiHeadAttention runtime dims: batch, seq and past runtime, key_padding_mask [batch, past + seq], bias',
    op: 'multi_head_attention',
    model: () => buildMha({ B: 'batch', S: 'seq', P: 'past', mask: true, bias: true }),
    bounds: { batch: 2, seq: 4, past: 6 },
    oracle: 'ort',
    runs: [
      [1, 0, 3],
      [2, 4, 1],
      [2, 6, 4],
    ].map(([b, p, s], i) => {
      const T = p! + s!;
      // every row keeps its first key (a fully masked row is ~1e-3 sensitive: see the interpreter)
      const mask = Array.from({ length: b! * T }, (_, j) => (j % T === 0 || (j * 7 + i) % 3 !== 0 ? 1 : 0));
      return mhaFeeds(b!, s!, p!, { mask }, 70 + i);
    }),
  },
  {
    name: 'ai.onnx RotaryEmbedding [B, S, N*H] with position_ids, half-split',
    op: 'rotary_embedding_onnx',
    model: () => buildOnnxRotary({ fourD: false, interleaved: false, S: 5 }),
    bounds: {},
    oracle: 'ort',
    runs: [onnxRotaryFeeds(false, 5, 4, 20)],
  },
  {
    name: 'ai.onnx RotaryEmbedding [B, N, S, H] without position_ids, interleaved, rotary_embedding_dim 4',
    op: 'rotary_embedding_onnx',
    model: () => buildOnnxRotary({ fourD: true, interleaved: true, partial: 4, S: 3 }),
    bounds: {},
    oracle: 'ort',
    runs: [onnxRotaryFeeds(true, 3, 2, 21)],
  },
  {
    name: 'ai.onnx RotaryEmbedding runtime dims: x [1, seq, 16], position_ids [1, seq]',
    op: 'rotary_embedding_onnx',
    model: () => buildOnnxRotary({ fourD: false, interleaved: true, S: 'seq' }),
    bounds: { seq: 6 },
    oracle: 'ort',
    runs: [1, 4, 6].map((s, i) => onnxRotaryFeeds(false, s, 4, 22 + i)),
  },
  {
    name: 'com.microsoft RotaryEmbedding runtime dims: per-token positions [batch, seq]',
    op: 'rotary_embedding',
    model: () => buildMsRotary(true),
    bounds: { batch: 3, seq: 8 },
    oracle: 'ort',
    runs: [
      [1, 1],
      [2, 5],
      [3, 8],
    ].map(([b, s], i) => {
      const next = seeded(30 + i);
      const pos = Array.from({ length: b! * s! }, () => Math.floor(next() * 24));
      return { x: rand([b!, s!, 16], 30 + i), pos: ints('i64', [b!, s!], pos) };
    }),
  },
  {
    name: 'com.microsoft RotaryEmbedding runtime dims: start offset, interleaved',
    op: 'rotary_embedding',
    model: () => buildMsRotary(false),
    bounds: { seq: 8 },
    oracle: 'ort',
    runs: [
      [1, 0],
      [6, 3],
      [8, 16],
    ].map(([s, p0], i) => ({ x: rand([1, s!, 16], 40 + i), pos: ints('i64', [1], [p0!]) })),
  },
  {
    name: 'GatherBlockQuantized runtime dims: input_ids [1, seq], uint8 4-bit, packed zero points',
    op: 'gather_block_quantized',
    model: buildGbq,
    bounds: { seq: 6 },
    oracle: 'ort',
    runs: [[3], [0, 19, 7, 7, 2, 11]].map((v) => ({ ids: ints('i64', [1, v.length], v) })),
  },
  {
    name: 'q8 linear (DynamicQuantizeLinear + MatMulInteger + Cast + Mul), K = 300',
    op: 'matmul_integer',
    model: () => buildQ8(300, 5, 3),
    bounds: {},
    oracle: 'ort',
    runs: [{ x: rand([1, 3, 300], 50, 3) }],
  },
  {
    name: 'q8 linear runtime dims: x [1, seq, 4100] (two K-chunks)',
    op: 'matmul_integer',
    model: () => buildQ8(4100, 3, 'seq'),
    bounds: { seq: 4 },
    oracle: 'ort',
    runs: [1, 4].map((s, i) => ({ x: rand([1, s, 4100], 60 + i, 2) })),
  },
];

/** The largest float error seen per target (max|diff| / max|ref|), printed after the run to restate FLOAT_TOL. */
const WORST = new Map<string, number>();

/** Every output of `got` against onnxruntime's: integers exactly, floats within FLOAT_TOL · max|ref|. */
function compare(label: string, got: Tensor[], want: Tensor[]): void {
  expect(got.length, label).toBe(want.length);
  got.forEach((y, i) => {
    const w = want[i]!;
    expect(y.shape, `${label}: output ${i} shape`).toEqual(w.shape);
    if (!isFloat(w.dtype)) {
      expect(Array.from(y.data), `${label}: output ${i}`).toEqual(Array.from(w.data));
      return;
    }
    const { diff, scale } = maxAbsDiff(y, w);
    const kind = label.split(' ')[0]!;
    WORST.set(kind, Math.max(WORST.get(kind) ?? 0, scale > 0 ? diff / scale : 0));
    expect(diff, `${label}: output ${i}: max|diff| ${diff} vs scale ${scale}`).toBeLessThanOrEqual(FLOAT_TOL * scale);
  });
}

const shapes = (feeds: Record<string, Tensor>) =>
  Object.entries(feeds)
    .map(([k, v]) => `${k}[${v.shape}]`)
    .join(' ');

async function check(c: LlmCase, target: 'c' | 'wasm' | 'wgsl', load: (g: Graph) => Promise<LoadedArtifact>): Promise<void> {
  const g = lowerCase(c, target);
  expect(
    g.nodes.map((n) => n.op),
    'legalized',
  ).not.toContain(c.op);
  const art = await load(g);
  try {
    for (const feeds of c.runs) compare(`${target} ${shapes(feeds)}`, await art.run(feeds), await runOrt(c.model(), feeds));
  } finally {
    await art.close?.();
  }
}

let gpu: NodeGpu | undefined;
beforeAll(async () => {
  gpu = await openNodeGpu();
});
afterAll(() => {
  gpu?.release();
  console.log(`largest float error / max|ref|: ${[...WORST].map(([k, v]) => `${k} ${v.toExponential(2)}`).join(', ')}`);
});

const LOADERS = {
  c: async (g: Graph) => openC(g, { target: 'c', cflags: ['-O1'] } as never),
  wasm: (g: Graph) => openWasm(g, { target: 'wasm' }),
  wgsl: (g: Graph) => loadGraph(gpu!.device, g),
} as const;

describe('LLM-export ops vs onnxruntime-node on ref and every target', () => {
  for (const c of CASES) {
    it(`ref: ${c.name}`, async () => {
      const g = lowerCase(c, 'ref');
      for (const feeds of c.runs) compare(`ref ${shapes(feeds)}`, interpret(g, feeds), await runOrt(c.model(), feeds));
    });
    for (const t of ['c', 'wasm', 'wgsl'] as const) it(`${t}: ${c.name}`, async () => check(c, t, LOADERS[t]), 240_000);
  }
});

/** The first diagnostic `f` throws, as `CODE: message`. */
function diagnosed(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(LutcError);
    const d = (e as LutcError).diagnostics[0]!;
    return `${d.code}: ${d.message} @${d.loc?.kind === 'node' ? d.loc.node : ''}`;
  }
  throw new Error('no diagnostic');
}

/** One node of `op` over inputs of the given shapes (f32 unless typed), as ONNX bytes. */
function oneNode(
  op: string,
  domain: string | undefined,
  inputs: [string, DType, (number | string)[]][],
  attrs: Record<string, number>,
  outs: string[],
  opset = 17,
): Uint8Array {
  const b = new OnnxBuilder({ opset, domains: { 'com.microsoft': 1 } });
  for (const [name, dt, shape] of inputs) if (name) b.input(name, dt, shape);
  b.node(
    op,
    inputs.map(([n]) => n),
    { domain, attrs, outputs: outs, name: 'bad' },
  );
  for (const o of outs) b.output(o, 'f32');
  return b.toBytes();
}

describe('bad input: coded diagnostics naming the node', () => {
  it('MultiHeadAttention: a hidden size that does not split into num_heads; packed QKV', () => {
    const q = ['q', 'f32', [1, 2, 10]] as [string, DType, number[]];
    const kv = (n: string): [string, DType, number[]] => [n, 'f32', [1, 2, 10]];
    expect(
      diagnosed(() => importOnnx(oneNode('MultiHeadAttention', 'com.microsoft', [q, kv('k'), kv('v')], { num_heads: 4 }, ['y']))),
    ).toMatch(/^LUT1110: multi_head_attention: the query hidden size 10 must be static and split into 4 heads @bad/);
    expect(diagnosed(() => importOnnx(oneNode('MultiHeadAttention', 'com.microsoft', [q], { num_heads: 2 }, ['y'])))).toMatch(
      /^LUT1115: multi_head_attention: key and value must be given \(packed QKV\/KV is not supported\) @bad/,
    );
  });

  it('MatMulInteger: per-row a_zero_point; ai.onnx RotaryEmbedding: a 3-D input without num_heads', () => {
    const mi = oneNode(
      'MatMulInteger',
      undefined,
      [
        ['a', 'u8', [3, 4]],
        ['b', 'u8', [4, 2]],
        ['az', 'u8', [3]],
      ],
      {},
      ['y'],
    );
    expect(diagnosed(() => importOnnx(mi))).toMatch(
      /^LUT1115: matmul_integer: a_zero_point must be a scalar .*per-row zero points are not supported/,
    );
    const rot = oneNode(
      'RotaryEmbedding',
      undefined,
      [
        ['x', 'f32', [1, 3, 16]],
        ['c', 'f32', [8, 4]],
        ['s', 'f32', [8, 4]],
        ['p', 'i64', [1, 3]],
      ],
      {},
      ['y'],
      23,
    );
    expect(diagnosed(() => importOnnx(rot))).toMatch(/^LUT1110: rotary_embedding_onnx: a 3-D input needs num_heads @bad/);
  });

  it('MultiHeadAttention unidirectional with a runtime query length over BNSH keys of another length: LUT5003 on every target', () => {
    const bytes = buildMha({ B: 1, S: 'seq', bnshKv: 5, unidirectional: true });
    for (const target of ['c', 'wasm', 'wgsl'] as const) {
      const g = importOnnx(bytes, { file: 'model.onnx' });
      g.meta = { ...g.meta, dimBounds: { seq: 4 } };
      runPipeline(g, { target });
      expect(g.nodes.map((n) => n.op)).toContain('multi_head_attention'); // the rule declined
      const render = () =>
        target === 'c' ? emitModel(g, { target: 'c' }) : target === 'wasm' ? buildModelModule(g, { optimize: false }) : renderModel(g);
      expect(diagnosed(render), target).toMatch(/^LUT5003: .*multi_head_attention.*@MultiHeadAttention_0/);
    }
  });
});
