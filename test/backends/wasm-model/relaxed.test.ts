/**
 * Relaxed SIMD in the whole-model wasm artifact (docs/wasm-model.md, "Relaxed SIMD"): an artifact
 * emitted with `relaxedSimd` (CLI `--wasm-features relaxed-simd`) carries model-relaxed.wasm (and,
 * with threads, model-mt-relaxed.wasm) next to the SIMD128 modules, and load() picks the relaxed one
 * where WebAssembly.validate accepts a relaxed op. Node 20 runs relaxed SIMD only with
 * --experimental-wasm-relaxed-simd, so a child node with that flag loads the artifact in every
 * combination -- SIMD128 (relaxedSimd: false) and relaxed, 1 and 2 threads -- and prints a digest of
 * every output's bytes; all must be equal (no tolerance: the relaxed kernels' integer sums are exact
 * and the float epilogue runs the same operations), and the relaxed loads must report relaxedSimd.
 * Models: the builder decoder (int8 tables: the relaxed dot path, prefill of 37 tokens and greedy
 * decode steps in the shared buffer; f32 tables: relaxed swizzle) and the static 4-bit Llama block.
 * In this process (no flag on Node 20) load() falls back to SIMD128 where the engine lacks it.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import '../../../ir/ops/index.js';
import { emitArtifact } from '../../../backends/wasm/model/index.js';
import { engineHasRelaxedSimd } from '../../../backends/wasm/module.js';
import { inputSymbols } from '../../../compiler/input-dims.js';
import { importOnnx } from '../../../compiler/onnx/index.js';
import { runPipeline } from '../../../compiler/pipeline.js';
import type { Graph } from '../../../ir/types.js';
import { buildBuilderDecoder } from '../../helpers/decoders.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

/** The child: loads `dir` in each combination, runs the case, prints one JSON line per load. */
const CHILD = `
import { createHash } from 'node:crypto';
const [dir, kind] = process.argv.slice(2);
const { load } = await import(new URL('file://' + dir + '/model.mjs').href);
const digest = (out) => { const h = createHash('sha256'); for (const k of Object.keys(out)) { const d = out[k].data; h.update(k + ':' + out[k].shape.join(',') + ':'); h.update(new Uint8Array(d.buffer, d.byteOffset, d.byteLength)); } return h.digest('hex'); };
for (const [threads, relaxedSimd] of [[1, false], [1, true], [2, false], [2, true]]) {
  const m = await load({ threads, relaxedSimd, warn: () => {} });
  const res = { threads: m.threads, relaxed: m.relaxedSimd, digests: [] };
  if (kind === 'block') {
    const x = Float32Array.from({ length: 8 * 64 }, (_, i) => Math.sin(i * 0.37) * 2);
    res.digests.push(digest(m.run({ x })));
  } else {
    const past = {};
    for (let i = 0; i < 2; i++) for (const kv of ['key', 'value']) past['past_key_values.' + i + '.' + kv] = { data: new Float32Array(0), shape: [1, 2, 0, 16] };
    const ids = Array.from({ length: 37 }, (_, i) => (i * 7 + 3) % 64);
    const out = m.run({ ...past, input_ids: { data: BigInt64Array.from(ids, BigInt), shape: [1, 37] }, attention_mask: { data: new BigInt64Array(37).fill(1n), shape: [1, 37] } });
    res.digests.push(digest(out));
    const g = await m.generate(ids.slice(0, 9), { maxNewTokens: 8 });
    res.digests.push(g.tokens.join(','));
  }
  m.destroy();
  console.log(JSON.stringify(res));
}
`;

async function emit(g: Graph): Promise<string> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lutc-relaxed-'));
  dirs.push(dir);
  const { files, manifest } = emitArtifact(g, { relaxedSimd: true, threads: 2, parMinWork: 0 });
  expect(manifest.relaxedSimd?.features).toContain('relaxed-simd');
  expect(files['model-relaxed.wasm']).toBeDefined();
  expect(files['model-mt-relaxed.wasm']).toBeDefined();
  for (const [name, body] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), body);
  fs.writeFileSync(path.join(dir, 'child.mjs'), CHILD);
  return dir;
}

interface ChildRes {
  threads: number;
  relaxed: boolean;
  digests: string[];
}

function runChild(dir: string, kind: string, flags: string[]): ChildRes[] {
  const out = execFileSync(process.execPath, [...flags, path.join(dir, 'child.mjs'), dir, kind], { encoding: 'utf8' });
  return out
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as ChildRes);
}

function decoderGraph(tables: 'i8' | 'f32'): Graph {
  const bytes = buildBuilderDecoder({ seed: 21, hidden: 64, heads: 4, kvHeads: 2, headSize: 16, layers: 2 });
  const g = importOnnx(bytes, { dimBindings: { batch_size: 1 } });
  g.meta = { ...g.meta, dimBounds: Object.fromEntries([...inputSymbols(g)].map((s) => [s, 48])) };
  return runPipeline(g, { target: 'wasm', tables }).graph;
}

function blockGraph(): Graph {
  const g0 = importOnnx(fs.readFileSync(path.join(__dirname, '../../../examples/llama-block.onnx')), { inputShapes: { x: [1, 8, 64] } });
  return runPipeline(g0, { target: 'wasm', bits: 4 }).graph;
}

const CASES: { name: string; graph: () => Graph; kind: string }[] = [
  { name: 'builder decoder, int8 tables (relaxed dot)', graph: () => decoderGraph('i8'), kind: 'decoder' },
  { name: 'builder decoder, f32 tables (relaxed swizzle)', graph: () => decoderGraph('f32'), kind: 'decoder' },
  { name: 'static Llama block, 4-bit', graph: blockGraph, kind: 'block' },
];

describe('wasm whole model: relaxed SIMD chosen at load, bit-identical to SIMD128', () => {
  for (const c of CASES)
    it(`${c.name}: SIMD128 and relaxed, 1 and 2 threads`, async () => {
      const dir = await emit(c.graph());
      const res = runChild(dir, c.kind, ['--experimental-wasm-relaxed-simd']);
      expect(res.map((r) => [r.threads, r.relaxed])).toEqual([
        [1, false],
        [1, true],
        [2, false],
        [2, true],
      ]);
      for (const r of res.slice(1)) expect(r.digests).toEqual(res[0]!.digests);
    }, 180_000);

  it('load() picks relaxed SIMD only where the engine runs it', async () => {
    const dir = await emit(blockGraph());
    const mod = (await import(pathToFileURL(path.join(dir, 'model.mjs')).href)) as {
      load(o?: object): Promise<{ relaxedSimd: boolean; destroy(): void }>;
    };
    const m = await mod.load();
    expect(m.relaxedSimd).toBe(engineHasRelaxedSimd());
    m.destroy();
  }, 120_000);
});
