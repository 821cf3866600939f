/**
 * Decomposed attention (the optimum / transformers.js form: Concat(past, new) KV cache, repeat_kv by
 * Unsqueeze/Expand/Reshape, Softmax(MatMul(Q, Transpose(K)) · scale + mask) · V) fused by
 * passes/fuse-attention.ts onto group_query_attention with causal 0, golden against onnxruntime-node
 * running the decomposed ONNX model: the interpreter on the unfused graph (the chain) and on the fused
 * one (GQA's causal-0 interpreter), and every compiled target's fused kernel (C, WASM, WGSL on
 * SwiftShader). Cases: a prompt S = 3 continuing a past of 4 with batch 2 (the form causal 1 rejects),
 * 4 query heads on 2 KV heads, a padding mask (lowest float on padded keys, each row keeps key 0);
 * runtime dims (batch, sequence, past: prompt from a size-0 past, decode, a continued prompt) with a
 * Div scale and a causal + padding mask. Each case asserts the fused path (one
 * group_query_attention with causal 0, no softmax).
 * Tolerance F32_EXACT (2e-6 of max|ref|, test/helpers/tolerance.ts): the same function in float32
 * with other summation orders; GQA keeps the scores, softmax and P·V in double (f32 on WGSL) where
 * onnxruntime rounds each op to f32: a relative 2^-24 per score, |Δp| <= |score|·6e-8 for scores of a
 * few units; padded keys weigh exactly 0 in both (exp(lowest - max) underflows).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import '../../ir/ops/index.js';
import { openArtifact as openC } from '../../backends/c/run.js';
import { openArtifact as openWasm } from '../../backends/wasm/run.js';
import { type NodeGpu, openNodeGpu } from '../../backends/wgsl/device.js';
import { loadGraph } from '../../backends/wgsl/run.js';
import { OnnxBuilder } from '../../compiler/onnx/builder.js';
import { importOnnx } from '../../compiler/onnx/index.js';
import { runPasses } from '../../compiler/pipeline.js';
import { interpret } from '../../ir/interpret.js';
import { makeTensor } from '../../ir/tensor.js';
import type { Graph, Tensor } from '../../ir/types.js';
import { passContext } from '../../passes/registry.js';
import { seeded, uniform } from '../helpers/models.js';
import { maxAbsDiff, runOrt } from '../helpers/ort.js';
import { type LoadedArtifact, lowerCase, type RuntimeDimsCase } from '../helpers/runtime-dims.js';
import { F32_EXACT } from '../helpers/tolerance.js';

const rand = (shape: number[], seed: number, scale = 1): Tensor => uniform(shape, scale, seeded(seed));
const F32_LOWEST = -3.4028234663852886e38;
const D = 8;

/**
 * q [B, HQ, S, 8], k/v [B, HKV, S, 8], past [B, HKV, P, 8], mask [B, 1, S, P + S] (f32, additive);
 * repeat_kv when HQ > HKV (Expand/Reshape shapes from Shape(present) at run time, as optimum).
 */
function buildDecomposed(B: number | string, S: number | string, P: number | string, HQ: number, HKV: number, div: boolean): Uint8Array {
  const b = new OnnxBuilder({ opset: 17 });
  const T = typeof P === 'number' && typeof S === 'number' ? P + S : `${P} + ${S}`;
  b.input('q', 'f32', [B, HQ, S, D]);
  b.input('k', 'f32', [B, HKV, S, D]);
  b.input('v', 'f32', [B, HKV, S, D]);
  b.input('pk', 'f32', [B, HKV, P, D]);
  b.input('pv', 'f32', [B, HKV, P, D]);
  b.input('mask', 'f32', [B, 1, S, T]);
  const i64 = (name: string, v: number[], scalar = false) => b.initializer(name, makeTensor('i64', scalar ? [] : [v.length], v));
  const op = (type: string, ins: string[], attrs?: Parameters<OnnxBuilder['node']>[2]) => b.node(type, ins, attrs)[0]!;
  const [ax2, zero, two] = [i64('ax2', [2]), i64('zero', [0]), i64('two', [2], true)];
  const dimOf = (x: string, axis: string) => op('Unsqueeze', [op('Gather', [op('Shape', [x]), axis], { attrs: { axis: 0 } }), zero]);
  const ax0 = i64('ax0s', [0], true);
  const repeatKv = (x: string) => {
    if (HQ === HKV) return x;
    const [bd, td] = [dimOf(x, ax0), dimOf(x, two)];
    const es = op('Concat', [bd, i64(`kv_${x}`, [HKV]), i64(`n_${x}`, [HQ / HKV]), td, i64(`d_${x}`, [D])], { attrs: { axis: 0 } });
    const rs = op('Concat', [bd, i64(`hq_${x}`, [HQ]), td, i64(`d2_${x}`, [D])], { attrs: { axis: 0 } });
    return op('Reshape', [op('Expand', [op('Unsqueeze', [x, ax2]), es]), rs]);
  };
  const presentK = b.node('Concat', ['pk', 'k'], { attrs: { axis: 2 }, outputs: ['present_k'] })[0]!;
  const presentV = b.node('Concat', ['pv', 'v'], { attrs: { axis: 2 }, outputs: ['present_v'] })[0]!;
  const kt = op('Transpose', [repeatKv(presentK)], { attrs: { perm: [0, 1, 3, 2] } });
  const s0 = op('MatMul', ['q', kt]);
  const scaled = div
    ? op('Div', [s0, b.initializer('c', makeTensor('f32', [], [Math.sqrt(D)]))])
    : op('Mul', [s0, b.initializer('c', makeTensor('f32', [], [Math.fround(1 / Math.sqrt(D))]))]);
  const p = op('Softmax', [op('Add', [scaled, 'mask'])], { attrs: { axis: -1 } });
  b.node('MatMul', [p, repeatKv(presentV)], { outputs: ['y'] });
  b.output('y', 'f32', [B, HQ, S, D]);
  b.output('present_k', 'f32', [B, HKV, T, D]);
  b.output('present_v', 'f32', [B, HKV, T, D]);
  return b.toBytes();
}

/** Feeds; the mask is 0 or the lowest float: causal (key t <= P + s) when `causal`, padded keys (key 0 always kept). */
function feeds(B: number, S: number, P: number, HQ: number, HKV: number, causal: boolean, seed: number): Record<string, Tensor> {
  const T = P + S;
  const mask = new Array<number>(B * S * T);
  for (let bi = 0; bi < B; bi++)
    for (let s = 0; s < S; s++)
      for (let t = 0; t < T; t++) {
        const padded = t > 0 && (t * 7 + bi * 3 + seed) % 4 === 0;
        mask[(bi * S + s) * T + t] = padded || (causal && t > P + s) ? F32_LOWEST : 0;
      }
  return {
    q: rand([B, HQ, S, D], seed, 2),
    k: rand([B, HKV, S, D], seed + 1, 2),
    v: rand([B, HKV, S, D], seed + 2),
    pk: rand([B, HKV, P, D], seed + 3, 2),
    pv: rand([B, HKV, P, D], seed + 4),
    mask: makeTensor('f32', [B, 1, S, T], mask),
  };
}

const CASES: RuntimeDimsCase[] = [
  {
    name: 'prompt S = 3 continuing past 4, batch 2, 4 query heads on 2 KV heads (repeat_kv), padding mask, Mul scale',
    model: () => buildDecomposed(2, 3, 4, 4, 2, false),
    bounds: {},
    oracle: 'ort',
    runs: [feeds(2, 3, 4, 4, 2, false, 1)],
  },
  {
    name: 'runtime dims [batch, 4, seq, 8] over past [batch, 2, past, 8], repeat_kv, Div scale, causal + padding mask',
    model: () => buildDecomposed('batch', 'seq', 'past', 4, 2, true),
    bounds: { batch: 2, seq: 4, past: 6 },
    oracle: 'ort',
    runs: [
      [1, 4, 0],
      [2, 1, 5],
      [2, 3, 3],
    ].map(([b, s, p], i) => feeds(b!, s!, p!, 4, 2, true, 10 + i)),
  },
];

function compare(label: string, got: Tensor[], want: Tensor[]): void {
  expect(got.length, label).toBe(want.length);
  got.forEach((y, i) => {
    const w = want[i]!;
    expect(y.shape, `${label}: output ${i} shape`).toEqual(w.shape);
    const { diff, scale } = maxAbsDiff(y, w);
    expect(diff, `${label}: output ${i}: max|diff| ${diff} vs scale ${scale}`).toBeLessThanOrEqual(F32_EXACT * scale);
  });
}

function expectFused(g: Graph, label: string): void {
  const gqa = g.nodes.filter((n) => n.op === 'group_query_attention');
  expect(gqa.length, label).toBe(1);
  expect(gqa[0]!.attrs.causal, label).toBe(0);
  expect(
    g.nodes.map((n) => n.op),
    label,
  ).not.toContain('softmax');
}

let gpu: NodeGpu | undefined;
beforeAll(async () => {
  gpu = await openNodeGpu();
});
afterAll(() => gpu?.release());

const LOADERS: Record<'c' | 'wasm' | 'wgsl', (g: Graph) => Promise<LoadedArtifact>> = {
  c: async (g) => openC(g, { target: 'c', cflags: ['-O1'] } as never),
  wasm: (g) => openWasm(g, { target: 'wasm' }),
  wgsl: (g) => loadGraph(gpu!.device, g),
};

describe('decomposed attention fused onto group_query_attention (causal 0) vs onnxruntime-node', () => {
  for (const c of CASES) {
    it(`interpreters (chain and fused): ${c.name}`, async () => {
      const chain = importOnnx(c.model(), { file: 'model.onnx' });
      const fused = importOnnx(c.model(), { file: 'model.onnx' });
      runPasses(fused, ['fuse-attention'], passContext({ target: 'ref' }));
      expectFused(fused, 'ref');
      for (const f of c.runs) {
        const want = await runOrt(c.model(), f);
        compare('chain', interpret(chain, f), want);
        compare('fused', interpret(fused, f), want);
      }
    });
    for (const target of ['c', 'wasm', 'wgsl'] as const)
      it(`${target}: ${c.name}`, async () => {
        const g = lowerCase(c, target);
        expectFused(g, target);
        const art = await LOADERS[target](g);
        try {
          for (const f of c.runs)
            compare(`${target} ${JSON.stringify(Object.values(f).map((t) => t.shape))}`, await art.run(f), await runOrt(c.model(), f));
        } finally {
          await art.close?.();
        }
      }, 120_000);
  }
});
