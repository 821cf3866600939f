/**
 * Threads in the whole-model wasm artifact (docs/wasm-model.md, "Threads"): an artifact emitted with
 * `threads: 2` carries model-mt.wasm, and `load({ threads: 2 })` runs it on the main thread plus one
 * worker sharing one memory (lut.matmul rows and group_query_attention heads split, one barrier per
 * split step). Results must be bit-identical to `load({ threads: 1 })` (model.wasm, the unchanged
 * single-thread module): every output compared byte for byte (Float32Array bits), on the builder
 * decoder (GroupQueryAttention, runtime dims) with int8 and f32 tables through a prompt of 37 tokens
 * (the vector-LUT path at int8) and decode steps in the shared past/present buffer mode, through
 * model.generate, and on the static Llama block. These models are below the work threshold from which
 * steps are split (PAR_MIN_WORK), so the test builds with parMinWork 0: every lut.matmul and every
 * GroupQueryAttention split. No tolerance: the split changes no operation's order.
 * A model without model-mt.wasm falls back to 1 thread with a warning naming the reason.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import '../../../ir/ops/index.js';
import { emitArtifact } from '../../../backends/wasm/model/index.js';
import { inputSymbols } from '../../../compiler/input-dims.js';
import { importOnnx } from '../../../compiler/onnx/index.js';
import { runPipeline } from '../../../compiler/pipeline.js';
import type { Graph } from '../../../ir/types.js';
import { buildBuilderDecoder } from '../../helpers/decoders.js';

interface Out {
  data: ArrayLike<number | bigint> & { buffer: ArrayBufferLike; byteOffset: number; byteLength: number };
  shape: number[];
}
interface Model {
  run(feeds: Record<string, unknown>, opts?: { kvShared?: boolean }): Record<string, Out>;
  generate(prompt: number[], opts: { maxNewTokens: number }): Promise<{ tokens: number[] }>;
  threads: number;
  destroy(): void;
}
type Loader = { load(opts?: { threads?: number; warn?: (m: string) => void }): Promise<Model> };

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

/**
 * Emits and imports the artifact. With threads every step that can be split is (parMinWork 0: these
 * models are below the default work threshold), and the test checks both kinds were split.
 */
async function emit(g: Graph, threads?: number): Promise<Loader> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lutc-threads-'));
  dirs.push(dir);
  const { files, manifest } = emitArtifact(g, threads ? { threads, parMinWork: 0 } : {});
  if (threads) {
    const ops = new Set(manifest.threads!.split.map((name) => g.nodes.find((n) => n.name === name)!.op));
    expect(ops.has('lut.matmul')).toBe(true);
    if (g.nodes.some((n) => n.op === 'group_query_attention')) expect(ops.has('group_query_attention')).toBe(true);
  }
  for (const [name, body] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), body);
  return (await import(pathToFileURL(path.join(dir, 'model.mjs')).href)) as Loader;
}

const bytesOf = (o: Out) => Buffer.from(new Uint8Array(o.data.buffer, o.data.byteOffset, o.data.byteLength));

function expectSame(a: Record<string, Out>, b: Record<string, Out>, what: string): void {
  expect(Object.keys(b)).toEqual(Object.keys(a));
  for (const k of Object.keys(a)) {
    expect(b[k]!.shape, `${what}: ${k} shape`).toEqual(a[k]!.shape);
    expect(bytesOf(b[k]!).equals(bytesOf(a[k]!)), `${what}: ${k} bytes`).toBe(true);
  }
}

function decoderGraph(tables: 'i8' | 'f32'): Graph {
  const bytes = buildBuilderDecoder({ seed: 21, hidden: 64, heads: 4, kvHeads: 2, headSize: 16, layers: 2 });
  const g = importOnnx(bytes, { dimBindings: { batch_size: 1 } });
  g.meta = { ...g.meta, dimBounds: Object.fromEntries([...inputSymbols(g)].map((s) => [s, 48])) };
  return runPipeline(g, { target: 'wasm', tables }).graph;
}

/** Prefill `prompt` then `steps` single-token steps (shared buffer), collecting every run's outputs. */
function decode(model: Model, prompt: number[], steps: number): Record<string, Out>[] {
  const outs: Record<string, Out>[] = [];
  const layers = 2;
  let feeds: Record<string, unknown> = {};
  for (let i = 0; i < layers; i++)
    for (const kv of ['key', 'value']) feeds[`past_key_values.${i}.${kv}`] = { data: new Float32Array(0), shape: [1, 2, 0, 16] };
  let ids = prompt;
  let total = 0;
  for (let s = 0; s <= steps; s++) {
    total += ids.length;
    const out = model.run(
      {
        ...feeds,
        input_ids: { data: BigInt64Array.from(ids, BigInt), shape: [1, ids.length] },
        attention_mask: { data: new BigInt64Array(total).fill(1n), shape: [1, total] },
      },
      { kvShared: true },
    );
    // read the lazy presents now: the next shared run overwrites the cache
    for (const o of Object.values(out)) void o.data;
    outs.push(out);
    feeds = {};
    for (let i = 0; i < layers; i++)
      for (const kv of ['key', 'value']) feeds[`past_key_values.${i}.${kv}`] = { shape: out[`present.${i}.${kv}`]!.shape };
    const logits = out.logits!.data as Float32Array;
    const V = out.logits!.shape[2]!;
    let best = 0;
    for (let v = 1; v < V; v++) if (logits[logits.length - V + v]! > logits[logits.length - V + best]!) best = v;
    ids = [best];
  }
  return outs;
}

describe('wasm whole model: threads', () => {
  for (const tables of ['i8', 'f32'] as const)
    it(`builder decoder (${tables} tables): 2 threads bit-identical to 1 (prefill 37, 6 decode steps, generate)`, async () => {
      const mod = await emit(decoderGraph(tables), 2);
      const one = await mod.load({ threads: 1 });
      const two = await mod.load({ threads: 2 });
      try {
        expect(one.threads).toBe(1);
        expect(two.threads).toBe(2);
        const prompt = Array.from({ length: 37 }, (_, i) => (i * 7 + 3) % 64);
        const a = decode(one, prompt, 6);
        const b = decode(two, prompt, 6);
        a.forEach((o, s) => expectSame(o, b[s]!, `step ${s}`));
        const ga = await one.generate(prompt.slice(0, 5), { maxNewTokens: 8 });
        const gb = await two.generate(prompt.slice(0, 5), { maxNewTokens: 8 });
        expect(gb.tokens).toEqual(ga.tokens);
        expect(ga.tokens.length).toBe(8);
      } finally {
        one.destroy();
        two.destroy();
      }
    }, 120_000);

  it('static Llama block (4-bit, M = 8): 2 threads bit-identical to 1', async () => {
    const g0 = importOnnx(fs.readFileSync(path.join(__dirname, '../../../examples/llama-block.onnx')), { inputShapes: { x: [1, 8, 64] } });
    const mod = await emit(runPipeline(g0, { target: 'wasm', bits: 4 }).graph, 2);
    const one = await mod.load({ threads: 1 });
    const two = await mod.load({ threads: 2 });
    try {
      expect(two.threads).toBe(2);
      const x = Float32Array.from({ length: 8 * 64 }, (_, i) => Math.sin(i * 0.37) * 2);
      for (let r = 0; r < 3; r++) expectSame(one.run({ x }), two.run({ x }), `run ${r}`);
    } finally {
      one.destroy();
      two.destroy();
    }
  }, 120_000);

  it('an artifact without model-mt.wasm runs on 1 thread and says why', async () => {
    const g0 = importOnnx(fs.readFileSync(path.join(__dirname, '../../../examples/llama-block.onnx')), { inputShapes: { x: [1, 8, 64] } });
    const mod = await emit(runPipeline(g0, { target: 'wasm', bits: 4 }).graph);
    const warned: string[] = [];
    const m = await mod.load({ threads: 2, warn: (s) => warned.push(s) });
    expect(m.threads).toBe(1);
    expect(warned.join('\n')).toMatch(/threads: 2 requested, but this artifact has no threaded module .*running on 1 thread/);
    m.destroy();
  }, 120_000);
});
