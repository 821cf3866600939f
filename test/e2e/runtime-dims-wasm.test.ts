/**
 * Runtime dims on the wasm target: each case of test/helpers/runtime-dims.ts, and a few more here
 * (Gather, LayerNormalization, Split, Gemm, a reduction and a softmax over the runtime axis; an
 * unlowered MatMulNBits and a Range over the runtime axis; an MLP of Gemms over a runtime batch; the
 * Llama block with --bits 4, whose RMSNorm is fused into the LUT table build), is compiled once (backends/wasm/run.ts openArtifact: the artifact `lutc compile`
 * writes, loaded once) and run at every runtime shape of the case, size 0 included, against its
 * oracle (tolerances: the helper's; F32_EXACT for runArtifact vs the interpreter). Bad shapes are
 * coded errors from run(), before any step runs: a dim beyond its bound is LUT5009, two inputs that
 * give one dim two sizes (or a shape that contradicts a static dim) LUT5006. An op whose kernel does
 * not take runtime dims is LUT5004 at compile time. The manifest shows the dims and bounds. The two
 * test decoders (test/helpers/compiled-decoders.ts: builder layout with GroupQueryAttention, optimum
 * layout) greedy-decode through one artifact with onnxruntime-node's tokens and logits within 1e-4 of
 * max|ref|; GroupQueryAttention's run-time checks are LUT5008 naming the node, never a trap. A LUT
 * linear with a runtime M runs below, at and above the vector-LUT threshold (16 rows) through one
 * artifact vs the interpreter (LUT_VS_INTERP), for bits 2 and 4 with int8 and f32 tables.
 */
import binaryen from 'binaryen';
import { describe, expect, it } from 'vitest';
import '../../ir/ops/index.js';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { emitArtifact } from '../../backends/wasm/model/index.js';
import { openArtifact, runArtifact } from '../../backends/wasm/run.js';
import { LutcError } from '../../base/diagnostics.js';
import { inputSymbols } from '../../compiler/input-dims.js';
import { OnnxBuilder } from '../../compiler/onnx/builder.js';
import { importOnnx } from '../../compiler/onnx/index.js';
import { runPipeline } from '../../compiler/pipeline.js';
import { buildMlp } from '../../examples/models.js';
import { interpret } from '../../ir/interpret.js';
import { makeTensor } from '../../ir/tensor.js';
import type { Graph, Tensor } from '../../ir/types.js';
import { COMPILED_DECODERS, checkCompiledDecoder, int8ArgmaxAgreement, LOGITS_TOL, lowerDecoder } from '../helpers/compiled-decoders.js';
import { buildBuilderDecoder } from '../helpers/decoders.js';
import { buildDynamicLinear, randomInput, seeded, uniform } from '../helpers/models.js';
import { maxAbsDiff } from '../helpers/ort.js';
import { checkCase, lowerCase, RUNTIME_DIMS_CASES, type RuntimeDimsCase, runOutcome } from '../helpers/runtime-dims.js';
import { F32_EXACT, maxRel } from '../helpers/tolerance.js';

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

/**
 * x [1, seq, 32] -> MatMulNBits (8 bits, block 16, packed zero points, bias; its weights use values
 * above 15, so it is not LUT-lowered and runs as a float matmul) -> y; and Range(0, seq, 1) -> r.
 */
function buildNBitsRange(): Uint8Array {
  const next = seeded(9);
  const [K, N, bs] = [32, 6, 16];
  const b = new OnnxBuilder({ opset: 17, domains: { 'com.microsoft': 1 } });
  const x = b.input('x', 'f32', [1, 'seq', K]);
  const q = makeTensor(
    'u8',
    [N, K / bs, bs],
    Array.from({ length: N * K }, () => Math.floor(next() * 256)),
  );
  const scales = makeTensor(
    'f32',
    [N * (K / bs)],
    Array.from({ length: N * (K / bs) }, () => 0.001 + 0.01 * next()),
  );
  const zp = makeTensor(
    'u8',
    [N * (K / bs)],
    Array.from({ length: N * (K / bs) }, () => 120 + Math.floor(next() * 16)),
  );
  const [y] = b.node(
    'MatMulNBits',
    [x, b.initializer('q', q), b.initializer('s', scales), b.initializer('zp', zp), '', b.initializer('bias', uniform([N], 0.1, next))],
    { domain: 'com.microsoft', attrs: { K, N, bits: 8, block_size: bs, accuracy_level: 0 }, outputs: ['y'] },
  );
  const [sh] = b.node('Shape', [x]);
  const [len] = b.node('Gather', [sh!, b.initializer('one', makeTensor('i64', [], [1]))], { attrs: { axis: 0 } });
  b.node('Range', [b.initializer('r0', makeTensor('i64', [], [0])), len!, b.initializer('r1', makeTensor('i64', [], [1]))], {
    outputs: ['r'],
  });
  b.output(y!, 'f32', [1, 'seq', N]);
  b.output('r', 'i64', ['seq']);
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
    name: 'MatMulNBits (8 bits: the int8 path, vs the interpreter) and Range over seq',
    model: buildNBitsRange,
    bounds: { seq: 12 },
    oracle: 'ref',
    runs: [1, 0, 7, 12].map((s, i) => ({ x: randomInput([1, s, 32], 90 + i) })),
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

/**
 * A LUT linear x [batch, seq, 64] -> [batch, seq, 18] whose row count M = batch * seq is a runtime dim
 * bounded by 40 (>= 2x VEC_MIN_TOKENS = 16; N = 18 pads y to nPad through scratch): one artifact per
 * (bits, tables) run at M = 0, 1, 15 (scalar-LUT), 16 (one vector tile), 17 and 40 (tiles plus a
 * scalar tail) against the interpreter on the same lowered graph. Tolerance LUT_VS_INTERP (checkCase)
 * for f32 and int8 tables alike: it is the one the int8 wasm LUT model tests use
 * (test/backends/wasm-model/model.test.ts), integer accumulators being bit-identical.
 * Which gemms are rendered: int8 tables at 3-4 bits (plan.ts vecTile) add the vector-LUT gemm and its
 * tile function (2 functions) over the same model bounded below the threshold; 2 bits and f32 tables
 * stay scalar-LUT for every M.
 */
describe('runtime dims on wasm: LUT layers choose scalar- or vector-LUT per call from M', () => {
  for (const bits of [2, 4] as const)
    for (const tables of ['i8', 'f32'] as const) {
      const c = (bound: number, rows: [number, number][]): RuntimeDimsCase => ({
        name: `LUT linear --bits ${bits} --tables ${tables}, M <= ${bound}`,
        model: () => buildDynamicLinear(64, 18, 11),
        bounds: { batch: 2, seq: bound / 2 },
        pipeline: { bits, tables },
        oracle: 'ref',
        runs: rows.map(([b, s], i) => ({ x: randomInput([b, s, 64], 100 + i) })),
      });
      const per = c(40, [
        [1, 0],
        [1, 1],
        [1, 15],
        [1, 16],
        [1, 17],
        [2, 20],
      ]);
      it(`${per.name}: M = 0, 1, 15, 16, 17, 40 vs the interpreter`, async () => checkCase(per, 'wasm', load), 120_000);
      it(`${per.name}: ${bits === 4 && tables === 'i8' ? 'renders both gemms' : 'renders the scalar-LUT gemm only'}`, () => {
        const fns = (cc: RuntimeDimsCase) =>
          binaryen.readBinary(emitArtifact(lowerCase(cc, 'wasm'), { optimize: false }).module.wasm).getNumFunctions();
        expect(fns(per) - fns(c(14, [])), 'functions over the model bounded by 14 rows').toBe(bits === 4 && tables === 'i8' ? 2 : 0);
      });
    }
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
  const codeOf = async (g: Graph, feeds: Record<string, Tensor>) => runOutcome(await load(g), feeds);

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

describe('decoders through one wasm artifact (runtime sequence dims, from an empty cache)', () => {
  // test/helpers/compiled-decoders.ts: the same tokens as onnxruntime-node, logits within LOGITS_TOL (1e-4) of max|ref| every step
  for (const c of COMPILED_DECODERS) it(c.name, async () => checkCompiledDecoder(c, 'wasm', load), 240_000);

  // int8 tables (the default): argmax within 95% of onnxruntime's over every layout, teacher-forced
  it('int8 tables: the argmax agrees with onnxruntime-node on >= 95% of the steps of every layout', async () => {
    const r = await int8ArgmaxAgreement('wasm', load);
    expect(r.agree / r.steps, r.misses.join('; ')).toBeGreaterThanOrEqual(0.95);
  }, 480_000);
});

/**
 * GroupQueryAttention's run-time checks (backends/wasm/model/attention.ts) on the builder decoder:
 * seqlens_k (ReduceSum(attention_mask) - 1) + 1 outside [S, T] and a position beyond the cos/sin
 * rows are LUT5008 naming the node, never a trap; the same artifact then runs valid feeds.
 */
describe('runtime dims on wasm: GroupQueryAttention run-time checks', () => {
  /** Batch B (ids and mask repeated per row), pasts of length P filled with sin(i). */
  const feeds = (g: Graph, ids: number[], mask: number[], B = 1, P = 0): Record<string, Tensor> => {
    const rep = (v: number[]) => Array.from({ length: B }, () => v).flat();
    const f: Record<string, Tensor> = {
      input_ids: makeTensor('i64', [B, ids.length], rep(ids)),
      attention_mask: makeTensor('i64', [B, mask.length], rep(mask)),
    };
    for (const v of g.inputs)
      if (v.name.startsWith('past_key_values.')) {
        const sh = v.type.shape.map((d, i) => (i === 0 ? B : i === 2 ? P : (d as number)));
        f[v.name] = makeTensor(
          'f32',
          sh,
          Array.from({ length: sh.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(i)),
        );
      }
    return f;
  };
  const codeOf = async (art: Awaited<ReturnType<typeof load>>, f: Record<string, Tensor>) => {
    try {
      await art.run(f);
      return 'ok';
    } catch (e) {
      expect(e).toBeInstanceOf(LutcError);
      const d = (e as LutcError).diagnostics[0]!;
      return `${d.code} at ${d.loc?.kind === 'node' ? d.loc.node : '?'}: ${d.message}`;
    }
  };
  const gqaNode = /^LUT5008 at \/model\/layers\.0\/attn\/GroupQueryAttention: index /;

  it('seqlens_k + 1 outside [S, T]: LUT5008 with the value; valid feeds still run', async () => {
    const g = lowerDecoder(buildBuilderDecoder({ seed: 21 }), 'wasm');
    const art = await load(g);
    try {
      // an all-zero mask: seqlens_k + 1 = 0 < S = 3
      expect(await codeOf(art, feeds(g, [5, 17, 42], [0, 0, 0]))).toMatch(new RegExp(`${gqaNode.source}0 is out of range`));
      // a mask shorter than the prompt: seqlens_k + 1 = 2 < S = 3
      expect(await codeOf(art, feeds(g, [5, 17, 42], [1, 1]))).toMatch(new RegExp(`${gqaNode.source}2 is out of range`));
      expect(await codeOf(art, feeds(g, [5, 17, 42], [1, 1, 1]))).toBe('ok');
    } finally {
      art.close();
    }
  }, 120_000);

  it('a runtime batch: one artifact vs the interpreter at batch 1-3, with and without a past', async () => {
    // batch, sequence and past all runtime dims (bound 16); the tolerance is the decoders' (LOGITS_TOL: f32 tables)
    const bytes = buildBuilderDecoder({ seed: 21 });
    const lower = (target: 'wasm' | 'ref') => {
      const g = importOnnx(bytes);
      g.meta = { ...g.meta, dimBounds: Object.fromEntries([...inputSymbols(g)].map((s) => [s, 16])) };
      return runPipeline(g, { target, tables: 'f32' }).graph;
    };
    const [g, ref] = [lower('wasm'), lower('ref')];
    const art = await load(g);
    try {
      for (const [B, S, P] of [
        [2, 3, 0],
        [2, 1, 4],
        [3, 1, 2],
        [1, 4, 3],
      ] as const) {
        const f = feeds(
          g,
          Array.from({ length: S }, (_, i) => (i * 7 + B) % 50),
          new Array(P + S).fill(1),
          B,
          P,
        );
        const got = await art.run(f);
        const want = interpret(ref, f);
        got.forEach((t, i) => {
          expect(t.shape, `B ${B} S ${S} P ${P} output ${i}`).toEqual(want[i]!.shape);
          expect(maxRel(t.data, want[i]!.data), `B ${B} S ${S} P ${P} output ${i}`).toBeLessThanOrEqual(LOGITS_TOL);
        });
      }
      // a prompt continuing a past needs batch 1 (as onnxruntime): LUT5008 with the batch
      expect(await codeOf(art, feeds(g, [1, 2, 3], [1, 1, 1, 1, 1], 2, 2))).toMatch(new RegExp(`${gqaNode.source}2 is out of range`));
    } finally {
      art.close();
    }
  }, 120_000);

  it('a position beyond the cos/sin rows: LUT5008 with the position', async () => {
    const g = lowerDecoder(buildBuilderDecoder({ seed: 21, maxPos: 8 }), 'wasm');
    const art = await load(g);
    try {
      const ids = (n: number) => Array.from({ length: n }, (_, i) => i + 1);
      expect(await codeOf(art, feeds(g, ids(9), new Array(9).fill(1)))).toMatch(new RegExp(`${gqaNode.source}8 is out of range`));
      expect(await codeOf(art, feeds(g, ids(8), new Array(8).fill(1)))).toBe('ok');
    } finally {
      art.close();
    }
  }, 120_000);

  it('the shared past/present buffer (model.mjs run(feeds, { kvShared: true })): only new rows written, the same bytes as the dense run', async () => {
    const g = lowerDecoder(buildBuilderDecoder({ seed: 21 }), 'wasm');
    const { files } = emitArtifact(g, { optimize: false });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lutc-kv-'));
    for (const [name, data] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), data);
    const mod = await import(pathToFileURL(path.join(dir, 'model.mjs')).href);
    const model = await mod.load();
    fs.rmSync(dir, { recursive: true, force: true });
    expect(mod.meta.kvPairs.length).toBe(4); // 2 layers x key/value
    const spec = mod.meta.inputs as { name: string; dims: (number | string)[] }[];
    const stepFeeds = (ids: number[], P: number, past: Record<string, { data?: Float32Array; shape: number[] }>) => {
      const f: Record<string, unknown> = {
        input_ids: { data: BigInt64Array.from(ids, BigInt), shape: [1, ids.length] },
        attention_mask: { data: new BigInt64Array(P + ids.length).fill(1n), shape: [1, P + ids.length] },
      };
      for (const s of spec)
        if (s.name.startsWith('past'))
          f[s.name] = past[s.name] ?? { data: new Float32Array(0), shape: [1, s.dims[1] as number, 0, s.dims[3] as number] };
      return f;
    };
    type Out = Record<string, { data: Float32Array; shape: number[] }>;
    const presentsAsPast = (o: Out, withData: boolean) =>
      Object.fromEntries(
        Object.entries(o)
          .filter(([k]) => k.startsWith('present'))
          .map(([k, v]) => [k.replace('present', 'past_key_values'), withData ? { data: v.data, shape: v.shape } : { shape: v.shape }]),
      );
    // dense chain vs shared chain over 4 steps (prompt of 3, then one token each)
    const steps = [[5, 17, 42], [7], [9], [11]];
    let dense: Out = {};
    let shared: Out = {};
    let P = 0;
    for (const ids of steps) {
      const d: Out = model.run(stepFeeds(ids, P, presentsAsPast(dense, true)));
      const sh: Out = model.run(stepFeeds(ids, P, P === 0 ? {} : presentsAsPast(shared, false)), { kvShared: true });
      for (const [k, v] of Object.entries(d)) {
        expect(sh[k]!.shape, `${k} at past ${P}`).toEqual(v.shape);
        expect(Array.from(sh[k]!.data), `${k} at past ${P}`).toEqual(Array.from(v.data)); // bit-identical: same kernel, same order
      }
      [dense, shared, P] = [d, sh, P + ids.length];
    }
    // a past given with data in the shared mode is copied into the cache: the same as the dense run
    const again: Out = model.run(stepFeeds([13], P, presentsAsPast(dense, true)), { kvShared: true });
    const ref: Out = model.run(stepFeeds([13], P, presentsAsPast(dense, true)));
    expect(Array.from(again.logits!.data)).toEqual(Array.from(ref.logits!.data));
    // a past longer than the cache's capacity: LUT5009, no write
    const cap = (mod.meta.outputs as { name: string; shape: number[] }[]).find((o) => o.name === 'present.0.key')!.shape[2]!;
    const over = { ...stepFeeds([13], cap + 1, {}) } as Record<string, unknown>;
    for (const s of spec)
      if (s.name.startsWith('past')) over[s.name] = { data: new Float32Array(2 * (cap + 1) * 16), shape: [1, 2, cap + 1, 16] };
    expect(() => model.run(over, { kvShared: true })).toThrow(/LUT5009/);
  }, 120_000);

  it('kvShared on a model without cache pairs is LUT5005', async () => {
    const g = lowerCase(RUNTIME_DIMS_CASES[0]!, 'wasm');
    const { files } = emitArtifact(g, { optimize: false });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lutc-kv-'));
    for (const [name, data] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), data);
    const model = await (await import(pathToFileURL(path.join(dir, 'model.mjs')).href)).load();
    fs.rmSync(dir, { recursive: true, force: true });
    expect(() => model.run({}, { kvShared: true })).toThrow(/^LUT5005: run\(feeds, \{ kvShared: true \}\): the model has no cache pairs/);
  });
});
