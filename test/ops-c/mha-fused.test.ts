/**
 * com.microsoft MultiHeadAttention on the fused attention kernel (passes/legalize/attention.ts
 * `mhaFusable` / `mhaOnGqa`: one group_query_attention node, kv_num_heads = num_heads) and on the
 * generic chain it keeps for the forms GQA cannot express, golden against onnxruntime-node's CPU
 * MultiHeadAttention on the same ONNX model, on every target (C, WASM, WGSL on SwiftShader) and on the
 * interpreter twice: the 'ref' graph (MultiHeadAttention's interpreter) and the legalized graph
 * (group_query_attention's interpreter), so both interpreters are held to onnxruntime and to each other.
 * Fused: decode S = 1 over a past (bias, scale, batch 2; bidirectional and causal are one thing at
 * S = 1), a causal prompt S > 1 from a size-0 past and over a past, runtime dims (batch, sequence and
 * past; prompt from size-0 past, decode, a continued prompt), mask_filter_value -2 (onnxruntime leaves
 * future keys out whatever it is, as GQA does), key_padding_mask and attention_bias as GQA's
 * attention_bias (decode, causal prompts, runtime dims). Chain: a causal prompt continuing a past with
 * batch 2 (mask, attention_bias, mask_filter_value -2: additive for padding only), bidirectional
 * prompts (mask; runtime dims with attention_bias), BNSH cross-attention keys. GroupQueryAttention
 * itself with attention_bias and softcap against onnxruntime's GQA pins the bias semantics the fused
 * path relies on (added after the softcap). Each case asserts its path on every target (the
 * legalized graph holds group_query_attention and no softmax, or a softmax and no
 * group_query_attention), and the present outputs' shapes (P + L rows: onnxruntime's MHA present).
 * FileCheck tests pin the legalized graphs of fusable nodes (with and without a mask) and a
 * non-fusable one.
 * Tolerance F32_EXACT (2e-6 of max|ref|, test/helpers/tolerance.ts): the same function in float32
 * with other summation orders; the fused kernel differs from onnxruntime's MHA beyond that only in
 * leaving the scores unrounded (onnxruntime and MHA's interpreter round q·k·scale to float32,
 * group_query_attention keeps it in double on C/WASM and the interpreter): a relative 2^-24 per score,
 * |Δp| <= |score|·6e-8 for |score| of a few units here, within the same class. Future keys weigh 0 in
 * both; padded keys (mask_filter_value, every row keeps an unpadded key) weigh ~0. Measured (printed
 * after the run, per target and path): C and WASM 1.7e-7, WGSL 2.2e-7, the interpreters 1.7e-7 and to
 * each other 8.8e-8 of max|ref|; the bound is 9x over.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import '../../ir/ops/index.js';
import { openArtifact as openC } from '../../backends/c/run.js';
import { openArtifact as openWasm } from '../../backends/wasm/run.js';
import { type NodeGpu, openNodeGpu } from '../../backends/wgsl/device.js';
import { loadGraph } from '../../backends/wgsl/run.js';
import { OnnxBuilder } from '../../compiler/onnx/builder.js';
import { importOnnx } from '../../compiler/onnx/index.js';
import { runPipeline } from '../../compiler/pipeline.js';
import { interpret } from '../../ir/interpret.js';
import { printGraph } from '../../ir/printer.js';
import { makeTensor } from '../../ir/tensor.js';
import type { Graph, Tensor } from '../../ir/types.js';
import { checkLines } from '../helpers/filecheck.js';
import { seeded, uniform } from '../helpers/models.js';
import { maxAbsDiff, runOrt } from '../helpers/ort.js';
import { type LoadedArtifact, lowerCase, type RuntimeDimsCase } from '../helpers/runtime-dims.js';
import { F32_EXACT } from '../helpers/tolerance.js';

const rand = (shape: number[], seed: number, scale = 1): Tensor => uniform(shape, scale, seeded(seed));

interface MhaOpts {
  B: number | string;
  S: number | string;
  /** Past length (absent: no past inputs). */
  P?: number | string;
  bias?: boolean;
  mask?: boolean;
  attnBias?: boolean;
  unidirectional?: boolean;
  scale?: number;
  maskFilter?: number;
  /** BNSH key/value of this many rows (cross attention, no past). */
  bnshKv?: number;
}

/** q/k/v [B, S, 8] (2 heads of 4), optional past [B, 2, P, 4], bias [24], mask [B, P+S], attention_bias [1, 2, S, P+S]. */
function buildMha(o: MhaOpts): Uint8Array {
  const b = new OnnxBuilder({ opset: 17, domains: { 'com.microsoft': 1 } });
  const { B, S, P } = o;
  const total = o.bnshKv ?? (P === undefined ? S : typeof P === 'number' && typeof S === 'number' ? P + S : `${P} + ${S}`);
  b.input('q', 'f32', [B, S, 8]);
  b.input('k', 'f32', o.bnshKv ? [B, 2, o.bnshKv, 4] : [B, S, 8]);
  b.input('v', 'f32', o.bnshKv ? [B, 2, o.bnshKv, 4] : [B, S, 8]);
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
  if (o.maskFilter !== undefined) attrs.mask_filter_value = { f: o.maskFilter };
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

/** Feeds for B, S, P (undefined: no past); mask rows keep their first key (a fully masked row is ~1e-3 sensitive). */
function feeds(B: number, S: number, P: number | undefined, o: { mask?: boolean; attnBias?: boolean; bnshKv?: number }, seed: number) {
  const f: Record<string, Tensor> = { q: rand([B, S, 8], seed) };
  f.k = o.bnshKv ? rand([B, 2, o.bnshKv, 4], seed + 1) : rand([B, S, 8], seed + 1);
  f.v = o.bnshKv ? rand([B, 2, o.bnshKv, 4], seed + 2) : rand([B, S, 8], seed + 2);
  const T = o.bnshKv ?? (P ?? 0) + S;
  if (o.mask)
    f.mask = makeTensor(
      'i32',
      [B, T],
      Array.from({ length: B * T }, (_, j) => (j % T === 0 || (j * 5 + seed) % 3 !== 0 ? 1 : 0)),
    );
  if (o.attnBias) f.ab = rand([1, 2, S, T], seed + 3, 2);
  if (P !== undefined) {
    f.pk = rand([B, 2, P, 4], seed + 4);
    f.pv = rand([B, 2, P, 4], seed + 5);
  }
  return f;
}

/**
 * GroupQueryAttention itself with attention_bias [1, 2, 3, 5] and softcap 1.5 (onnxruntime adds the
 * bias after the softcap): q [1, 3, 16] (2 heads of 8: onnxruntime's CPU kernel wants head sizes of
 * 8k), k/v [1, 3, 8] (1 KV head), past [1, 1, 2, 8],
 * seqlens_k [4] and total_sequence_length 5 as constants.
 */
function buildGqaBias(): Uint8Array {
  const b = new OnnxBuilder({ opset: 17, domains: { 'com.microsoft': 1 } });
  b.input('q', 'f32', [1, 3, 16]);
  b.input('k', 'f32', [1, 3, 8]);
  b.input('v', 'f32', [1, 3, 8]);
  b.input('pk', 'f32', [1, 1, 2, 8]);
  b.input('pv', 'f32', [1, 1, 2, 8]);
  b.initializer('seqlens', makeTensor('i32', [1], [4]));
  b.initializer('total', makeTensor('i32', [1], [5]));
  b.input('ab', 'f32', [1, 2, 3, 5]);
  b.node('GroupQueryAttention', ['q', 'k', 'v', 'pk', 'pv', 'seqlens', 'total', '', '', '', 'ab'], {
    domain: 'com.microsoft',
    attrs: { num_heads: 2, kv_num_heads: 1, softcap: { f: 1.5 } },
    outputs: ['y', 'present_k', 'present_v'],
  });
  b.output('y', 'f32', [1, 3, 16]);
  b.output('present_k', 'f32', [1, 1, 5, 8]);
  b.output('present_v', 'f32', [1, 1, 5, 8]);
  return b.toBytes();
}

interface MhaCase extends RuntimeDimsCase {
  /** The path the legalize rule must take on every target ('gqa': a GroupQueryAttention model, native). */
  path: 'fused' | 'chain' | 'gqa';
}

const CASES: MhaCase[] = [
  {
    name: 'decode S = 1 over past 5, batch 2, bias, scale 0.3 (bidirectional)',
    path: 'fused',
    model: () => buildMha({ B: 2, S: 1, P: 5, bias: true, scale: 0.3 }),
    bounds: {},
    oracle: 'ort',
    runs: [feeds(2, 1, 5, {}, 1)],
  },
  {
    name: 'decode S = 1 over past 4, unidirectional, no bias',
    path: 'fused',
    model: () => buildMha({ B: 1, S: 1, P: 4, unidirectional: true }),
    bounds: {},
    oracle: 'ort',
    runs: [feeds(1, 1, 4, {}, 2)],
  },
  {
    name: 'causal prompt S = 4 from a size-0 past, batch 2, bias',
    path: 'fused',
    model: () => buildMha({ B: 2, S: 4, P: 0, unidirectional: true, bias: true }),
    bounds: {},
    oracle: 'ort',
    runs: [feeds(2, 4, 0, {}, 3)],
  },
  {
    name: 'causal prompt S = 3 continuing past 3',
    path: 'fused',
    model: () => buildMha({ B: 1, S: 3, P: 3, unidirectional: true }),
    bounds: {},
    oracle: 'ort',
    runs: [feeds(1, 3, 3, {}, 4)],
  },
  {
    name: 'causal prompt S = 5 without past inputs, batch 2',
    path: 'fused',
    model: () => buildMha({ B: 2, S: 5, unidirectional: true }),
    bounds: {},
    oracle: 'ort',
    runs: [feeds(2, 5, undefined, {}, 5)],
  },
  {
    name: 'runtime dims: q/k/v [1, seq, 8], past [1, 2, past, 4], unidirectional (prompt from size-0 past, decode, continued prompt)',
    path: 'fused',
    model: () => buildMha({ B: 1, S: 'seq', P: 'past', unidirectional: true }),
    bounds: { seq: 4, past: 8 },
    oracle: 'ort',
    runs: [
      [0, 4],
      [4, 1],
      [5, 3],
      [8, 4],
    ].map(([p, s], i) => feeds(1, s!, p!, {}, 10 + i)),
  },
  {
    name: 'runtime dims: decode [batch, 1, 8] over past [batch, 2, past, 4], bias',
    path: 'fused',
    model: () => buildMha({ B: 'batch', S: 1, P: 'past', bias: true }),
    bounds: { batch: 3, past: 7 },
    oracle: 'ort',
    runs: [
      [1, 0],
      [3, 4],
      [2, 7],
    ].map(([b, p], i) => feeds(b!, 1, p!, {}, 20 + i)),
  },
  {
    name: 'runtime dims: causal prompt [batch, seq, 8], no past',
    path: 'fused',
    model: () => buildMha({ B: 'batch', S: 'seq', unidirectional: true }),
    bounds: { batch: 2, seq: 5 },
    oracle: 'ort',
    runs: [
      [1, 1],
      [2, 5],
    ].map(([b, s], i) => feeds(b!, s!, undefined, {}, 25 + i)),
  },
  {
    name: 'key_padding_mask (attention_bias of the fused kernel), decode S = 1 over past 4, batch 2',
    path: 'fused',
    model: () => buildMha({ B: 2, S: 1, P: 4, mask: true }),
    bounds: {},
    oracle: 'ort',
    runs: [feeds(2, 1, 4, { mask: true }, 30)],
  },
  {
    name: 'attention_bias, decode S = 1 over past 3, batch 2',
    path: 'fused',
    model: () => buildMha({ B: 2, S: 1, P: 3, attnBias: true }),
    bounds: {},
    oracle: 'ort',
    runs: [feeds(2, 1, 3, { attnBias: true }, 31)],
  },
  {
    name: 'attention_bias and key_padding_mask, causal prompt S = 3 over past 2, bias',
    path: 'fused',
    model: () => buildMha({ B: 1, S: 3, P: 2, attnBias: true, mask: true, unidirectional: true, bias: true }),
    bounds: {},
    oracle: 'ort',
    runs: [feeds(1, 3, 2, { attnBias: true, mask: true }, 32)],
  },
  {
    name: 'key_padding_mask with mask_filter_value -2, causal prompt S = 4 from a size-0 past, batch 2',
    path: 'fused',
    model: () => buildMha({ B: 2, S: 4, P: 0, mask: true, maskFilter: -2, unidirectional: true }),
    bounds: {},
    oracle: 'ort',
    runs: [feeds(2, 4, 0, { mask: true }, 37)],
  },
  {
    name: 'causal prompt S = 3 over past 1, mask_filter_value -2 (onnxruntime leaves future keys out whatever it is)',
    path: 'fused',
    model: () => buildMha({ B: 1, S: 3, P: 1, unidirectional: true, maskFilter: -2 }),
    bounds: {},
    oracle: 'ort',
    runs: [feeds(1, 3, 1, {}, 34)],
  },
  {
    name: 'runtime dims: key_padding_mask [1, past + seq], causal, q/k/v [1, seq, 8] (prompt from size-0 past, decode, continued prompt)',
    path: 'fused',
    model: () => buildMha({ B: 1, S: 'seq', P: 'past', mask: true, unidirectional: true }),
    bounds: { seq: 4, past: 6 },
    oracle: 'ort',
    runs: [
      [0, 4],
      [5, 1],
      [6, 3],
    ].map(([p, s], i) => feeds(1, s!, p!, { mask: true }, 40 + i)),
  },
  {
    name: 'runtime dims: decode [batch, 1, 8], key_padding_mask [batch, past + 1], attention_bias [1, 2, 1, past + 1]',
    path: 'fused',
    model: () => buildMha({ B: 'batch', S: 1, P: 'past', mask: true, attnBias: true }),
    bounds: { batch: 3, past: 7 },
    oracle: 'ort',
    runs: [
      [1, 0],
      [3, 4],
      [2, 7],
    ].map(([b, p], i) => feeds(b!, 1, p!, { mask: true, attnBias: true }, 45 + i)),
  },
  {
    name: 'chain: attention_bias and key_padding_mask, causal prompt S = 3 continuing past 2 with batch 2',
    path: 'chain',
    model: () => buildMha({ B: 2, S: 3, P: 2, attnBias: true, mask: true, unidirectional: true }),
    bounds: {},
    oracle: 'ort',
    runs: [feeds(2, 3, 2, { attnBias: true, mask: true }, 32)],
  },
  {
    name: 'chain: key_padding_mask with mask_filter_value -2 (additive; future keys left out), causal prompt S = 3 over past 2, batch 2',
    path: 'chain',
    model: () => buildMha({ B: 2, S: 3, P: 2, mask: true, maskFilter: -2, unidirectional: true }),
    bounds: {},
    oracle: 'ort',
    runs: [feeds(2, 3, 2, { mask: true }, 36)],
  },
  {
    name: 'chain: bidirectional prompt S = 3 over past 2, key_padding_mask',
    path: 'chain',
    model: () => buildMha({ B: 1, S: 3, P: 2, mask: true }),
    bounds: {},
    oracle: 'ort',
    runs: [feeds(1, 3, 2, { mask: true }, 33)],
  },
  {
    name: 'chain: runtime dims: bidirectional [batch, seq, 8] over past [batch, 2, past, 4], attention_bias',
    path: 'chain',
    model: () => buildMha({ B: 'batch', S: 'seq', P: 'past', attnBias: true }),
    bounds: { batch: 2, seq: 3, past: 4 },
    oracle: 'ort',
    runs: [
      [1, 0, 3],
      [2, 4, 2],
    ].map(([b, p, s], i) => feeds(b!, s!, p!, { attnBias: true }, 50 + i)),
  },
  {
    name: 'GroupQueryAttention with attention_bias after softcap 1.5, prompt S = 3 over past 2',
    path: 'gqa',
    model: buildGqaBias,
    bounds: {},
    oracle: 'ort',
    runs: [
      {
        q: rand([1, 3, 16], 60, 2),
        k: rand([1, 3, 8], 61, 2),
        v: rand([1, 3, 8], 62),
        pk: rand([1, 1, 2, 8], 63, 2),
        pv: rand([1, 1, 2, 8], 64),
        ab: rand([1, 2, 3, 5], 65, 2),
      },
    ],
  },
  {
    name: 'chain: BNSH cross-attention keys (L = 5), S = 1',
    path: 'chain',
    model: () => buildMha({ B: 2, S: 1, bnshKv: 5 }),
    bounds: {},
    oracle: 'ort',
    runs: [feeds(2, 1, undefined, { bnshKv: 5 }, 35)],
  },
];

/** The largest float error seen per kind (max|diff| / max|ref|), printed after the run. */
const WORST = new Map<string, number>();

function compare(kind: string, label: string, got: Tensor[], want: Tensor[]): void {
  expect(got.length, label).toBe(want.length);
  got.forEach((y, i) => {
    const w = want[i]!;
    // present_key/present_value: [B, N, P + L, H] as onnxruntime's MHA (GQA's max(total, past) equals it)
    expect(y.shape, `${label}: output ${i} shape`).toEqual(w.shape);
    const { diff, scale } = maxAbsDiff(y, w);
    WORST.set(kind, Math.max(WORST.get(kind) ?? 0, scale > 0 ? diff / scale : 0));
    expect(diff, `${label}: output ${i}: max|diff| ${diff} vs scale ${scale}`).toBeLessThanOrEqual(F32_EXACT * scale);
  });
}

const shapes = (f: Record<string, Tensor>) =>
  Object.entries(f)
    .map(([k, v]) => `${k}[${v.shape}]`)
    .join(' ');

/** The legalized graph takes the case's path: one group_query_attention and no softmax, or the chain. */
function expectPath(c: MhaCase, g: Graph, target: string): void {
  const ops = g.nodes.map((n) => n.op);
  expect(ops, target).not.toContain('multi_head_attention');
  if (c.path !== 'chain') {
    expect(ops.filter((o) => o === 'group_query_attention').length, target).toBe(1);
    expect(ops, target).not.toContain('softmax');
    const gqa = g.nodes.find((n) => n.op === 'group_query_attention')!;
    if (c.path === 'fused') expect(gqa.attrs.kv_num_heads, target).toBe(gqa.attrs.num_heads);
  } else {
    expect(ops, target).toContain('softmax');
    expect(ops, target).not.toContain('group_query_attention');
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

const LOADERS: Record<'c' | 'wasm' | 'wgsl', (g: Graph) => Promise<LoadedArtifact>> = {
  c: async (g) => openC(g, { target: 'c', cflags: ['-O1'] } as never),
  wasm: (g) => openWasm(g, { target: 'wasm' }),
  wgsl: (g) => loadGraph(gpu!.device, g),
};

describe('MultiHeadAttention, fused onto group_query_attention or the chain, vs onnxruntime-node', () => {
  for (const c of CASES) {
    it(`interpreters: ${c.name}`, async () => {
      const ref = lowerCase(c, 'ref'); // the model's own op (multi_head_attention's interpreter)
      const legal = lowerCase(c, 'c'); // the legalized graph: group_query_attention's interpreter when fused
      expectPath(c, legal, 'c');
      for (const f of c.runs) {
        const want = await runOrt(c.model(), f);
        const a = interpret(ref, f);
        const b = interpret(legal, f);
        compare('ref', `ref ${shapes(f)}`, a, want);
        compare(`ref-${c.path}`, `legalized ${shapes(f)}`, b, want);
        compare(`ref-vs-${c.path}`, `interpreters ${shapes(f)}`, b, a);
      }
    });
    for (const t of ['c', 'wasm', 'wgsl'] as const)
      it(`${t}: ${c.name}`, async () => {
        const g = lowerCase(c, t);
        expectPath(c, g, t);
        const art = await LOADERS[t](g);
        try {
          for (const f of c.runs) compare(`${t}-${c.path}`, `${t} ${shapes(f)}`, await art.run(f), await runOrt(c.model(), f));
        } finally {
          await art.close?.();
        }
      }, 240_000);
  }
});

describe('the legalized graph (FileCheck)', () => {
  const legalized = (o: MhaOpts, bounds: Record<string, number> = {}) => {
    const g = importOnnx(buildMha(o), { file: 'model.onnx' });
    g.meta = { ...g.meta, dimBounds: bounds };
    runPipeline(g, { target: 'wasm' });
    return printGraph(g, { elideConstantsOver: 4 });
  };
  it('a fusable node (causal, runtime sequence and past) is one group_query_attention, no softmax', () => {
    const text = legalized({ B: 1, S: 'seq', P: 'past', unidirectional: true }, { seq: 4, past: 8 });
    checkLines(text, [
      'CHECK-NOT: softmax',
      'CHECK: group_query_attention(%q, %k, %v, %pk, %pv,',
      'CHECK-SAME: {num_heads = 2, kv_num_heads = 2, scale = 0.0}',
      'CHECK-SAME: f32[1, seq, 8], f32[1, 2, "past + seq", 4], f32[1, 2, "past + seq", 4]',
      'CHECK-NOT: softmax',
      'CHECK-NOT: matmul',
    ]);
  });
  it('a fusable node with key_padding_mask: the mask becomes the attention_bias operand, no softmax', () => {
    const text = legalized({ B: 2, S: 1, P: 4, mask: true });
    checkLines(text, [
      'CHECK: [[SL:%[A-Za-z0-9_]+]] = const i32[2] [4, 4]',
      'CHECK: [[EQ:%[A-Za-z0-9_]+]] = equal(%mask,',
      'CHECK: [[PAD:%[A-Za-z0-9_]+]] = unsqueeze([[EQ]],',
      'CHECK-SAME: bool[2, 1, 1, 5]',
      'CHECK: [[AB:%[A-Za-z0-9_]+]] = where([[PAD]],',
      'CHECK-NOT: softmax',
      'CHECK: group_query_attention(%q, %k, %v, %pk, %pv, [[SL]], {{%[A-Za-z0-9_]+}}, _, _, _, [[AB]])',
      'CHECK-SAME: f32[2, 1, 8], f32[2, 2, 5, 4], f32[2, 2, 5, 4]',
    ]);
  });
  it('a non-fusable node (bidirectional prompt over a past) keeps the chain: matmul, softmax, matmul, no group_query_attention', () => {
    const text = legalized({ B: 1, S: 3, P: 2, mask: true });
    checkLines(text, [
      'CHECK-NOT: group_query_attention',
      'CHECK: matmul(',
      'CHECK: softmax(',
      'CHECK: matmul(',
      'CHECK-NOT: group_query_attention',
    ]);
  });
});
