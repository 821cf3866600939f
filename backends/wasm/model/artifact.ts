/**
 * The wasm artifact of a whole model: model.wasm, model.mjs (ES module loader: `load(opts)`, then
 * `run(feeds) -> outputs` (synchronous; `await` gives the WGSL artifact's form), the runtime API shared
 * with the WGSL artifact: feeds are checked and
 * run-time failures thrown as coded Errors by backends/artifact-runtime.ts's RUNTIME_JS; fs in Node,
 * fetch in browsers, chosen at run time), model.d.ts,
 * weights.bin (only when the weights are too large for a data segment; streamed into memory at
 * load), and manifest.json (inputs, outputs, LUT layers, bits, required features, memory plan).
 * With runtime dims the manifest and model.d.ts show each value's dims and the bounds, and run()
 * binds the dims from the feeds' shapes (see loaderSource); a static model's files are unchanged.
 * docs/wasm-model.md documents the files and the API.
 */

import { LutcError } from '../../../base/diagnostics.js';
import { type DecoderIO, decoderIO } from '../../../compiler/generate.js';
import { dimSymbols } from '../../../ir/dim-expr.js';
import { lutLayers } from '../../../ir/lut/attrs.js';
import type { Dim, Graph } from '../../../ir/types.js';
import { ARRAY_OF, RUNTIME_JS, runtimeDimsJs } from '../../artifact-runtime.js';
import { JS_MATH } from './math.js';
import { buildModelModule, type IoSlot, type ModelBuildOptions, type ModelModule } from './module.js';

/** Emitted files by name. */
export type ArtifactFiles = Record<string, string | Uint8Array>;

/** manifest.json. */
export interface Manifest {
  format: 'lutc-wasm-model';
  version: 1;
  name: string;
  /** `shape`: the static shape, or with runtime dims the bounds, `dims` then the dim expressions. */
  inputs: { name: string; dtype: string; shape: number[]; dims?: Dim[] }[];
  outputs: { name: string; dtype: string; shape: number[]; dims?: Dim[] }[];
  /** Runtime dims (--max-dim) and their bounds, absent for a static model (the WGSL manifest's form). */
  runtimeDims?: Record<string, number>;
  layers: { node: string; n: number; k: number; bits: number; groupSize: number; tables: string; activation: string }[];
  bits: number[];
  features: string[];
  imports: string[];
  memory: { totalBytes: number; peakActivationBytes: number; scratchBytes: number; weightBytes: number };
  weights: 'inline' | 'weights.bin';
}

/** Builds the module and renders every artifact file. */
export function emitArtifact(g: Graph, opts: ModelBuildOptions = {}): { files: ArtifactFiles; module: ModelModule; manifest: Manifest } {
  const mm = buildModelModule(g, opts);
  const layers = lutLayers(g);
  const io = (s: IoSlot) => ({ name: s.name, dtype: s.dtype, shape: s.shape, ...(s.dims && { dims: s.dims }) });
  const sources = mm.plan.dimSources;
  const manifest: Manifest = {
    format: 'lutc-wasm-model',
    version: 1,
    name: g.name,
    inputs: mm.inputs.map(io),
    outputs: mm.outputs.map(io),
    ...(sources.length && { runtimeDims: Object.fromEntries(sources.map((d) => [d.sym, d.bound])) }),
    layers,
    bits: [...new Set(layers.map((l) => l.bits))].sort(),
    features: mm.features,
    imports: mm.imports,
    memory: {
      totalBytes: mm.memoryBytes,
      peakActivationBytes: mm.arenaBytes,
      scratchBytes: mm.scratchBytes,
      weightBytes: mm.weights.length,
    },
    weights: mm.inline ? 'inline' : 'weights.bin',
  };
  const files: ArtifactFiles = {
    'model.wasm': mm.wasm,
    'model.mjs': loaderSource(mm, manifest),
    'model.d.ts': dtsSource(mm),
    'manifest.json': JSON.stringify(manifest, null, 2) + '\n',
  };
  if (!mm.inline) files['weights.bin'] = mm.weights;
  return { files, module: mm, manifest };
}

const TYPED = ARRAY_OF;

/**
 * model.mjs. With runtime dims (plan.dimSources) `run` first binds the dims from the feeds' shapes
 * (RUNTIME_JS bindDims: LUT5009 beyond a bound, LUT5006 contradicting shapes), checks the feeds
 * against those shapes, sets the module's `dim<i>` globals, copies in and out only the runtime
 * element counts and returns each output with its runtime shape; a static model's run is unchanged.
 */
function loaderSource(mm: ModelModule, man: Manifest): string {
  const dyn = mm.plan.dimSources.length > 0;
  const decoder = decoderMeta(mm);
  const slot = (s: IoSlot) => ({
    name: s.name,
    dtype: s.dtype,
    shape: s.shape,
    ...(dyn && { dims: s.dims ?? s.shape }),
    addr: s.addr,
    bytes: s.bytes,
    array: TYPED[s.dtype],
  });
  const meta = {
    inputs: mm.inputs.map(slot),
    outputs: mm.outputs.map(slot),
    ...(dyn && { dims: mm.plan.dimSources.map((d) => d.sym) }),
    ...(dyn && mm.kvPairs.length && { kvPairs: mm.kvPairs }),
    ...(dyn && decoder && { decoder }),
    weightsBase: mm.weightsBase,
    weightBytes: mm.weights.length,
    inline: mm.inline,
    memoryBytes: mm.memoryBytes,
    /** run()'s return value - 1 -> [node, op, axis size] of the failed check. */
    checks: Object.fromEntries(mm.checks.map((c) => [c.step, [c.node, c.op, c.size]])),
  };
  return `// Generated by lutc (target wasm, whole model). API: docs/wasm-model.md in the lutc repository.
// Model '${man.name}': ${man.layers.length} LUT layer(s)${man.bits.length ? `, bits ${man.bits.join('/')}` : ''}; peak activation memory ${man.memory.peakActivationBytes} bytes.
// Usage: import { load } from './model.mjs'; const model = await load(); const out = await model.run({ ${mm.inputs.map((s) => `'${s.name}': ...`).join(', ')} });
export const meta = ${JSON.stringify(meta)};
${
  dyn
    ? `export const inputs = meta.inputs.map(({ name, dtype, shape, dims }) => ({ name, dtype, shape, dims }));
export const outputs = meta.outputs.map(({ name, dtype, shape, dims }) => ({ name, dtype, shape, dims }));
/** Runtime dims: where run() reads each from the feeds, and each input's and output's shape from them. */
const rt = ${runtimeDimsJs(mm.plan)};`
    : `export const inputs = meta.inputs.map(({ name, dtype, shape }) => ({ name, dtype, shape }));
export const outputs = meta.outputs.map(({ name, dtype, shape }) => ({ name, dtype, shape }));`
}
const isNode = typeof process !== 'undefined' && !!(process.versions && process.versions.node);
const here = (f) => new URL(f, import.meta.url);

async function readAll(src) {
  if (src instanceof Uint8Array || src instanceof ArrayBuffer) return src;
  if (isNode && String(src).startsWith('file:')) return (await import('node:fs/promises')).readFile(src);
  const res = await fetch(src);
  if (!res.ok) throw new Error('lutc model: cannot fetch ' + src + ': ' + res.status);
  return new Uint8Array(await res.arrayBuffer());
}

/** Streams weights.bin into linear memory at meta.weightsBase without holding a second copy. */
async function streamWeights(src, memory) {
  const dst = new Uint8Array(memory.buffer, meta.weightsBase, meta.weightBytes);
  if (src instanceof Uint8Array || src instanceof ArrayBuffer) return void dst.set(new Uint8Array(src));
  let at = 0;
  if (isNode && String(src).startsWith('file:')) {
    const fs = await import('node:fs/promises');
    const fh = await fs.open(src, 'r');
    try {
      while (at < dst.length) {
        const { bytesRead } = await fh.read(dst, at, Math.min(1 << 22, dst.length - at), at);
        if (bytesRead === 0) break;
        at += bytesRead;
      }
    } finally { await fh.close(); }
  } else {
    const res = await fetch(src);
    if (!res.ok || !res.body) throw new Error('lutc model: cannot fetch ' + src);
    const reader = res.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      dst.set(value, at);
      at += value.length;
    }
  }
  if (at !== dst.length) throw new Error('lutc model: weights.bin has ' + at + ' bytes, expected ' + dst.length);
}

${RUNTIME_JS}
/**
 * Instantiates the model. Options: { wasm, weights } as bytes or URLs (default: model.wasm and
 * weights.bin next to this file). Returns { run(inputs) -> outputs, inputs, outputs, memory }.
 */
export async function load(opts = {}) {
  const bytes = await readAll(opts.wasm ?? here('./model.wasm'));
  const { instance } = await WebAssembly.instantiate(bytes, { m: { ${JS_MATH.map((f) => `${f}: Math.${f}`).join(', ')} } });
  const ex = instance.exports;
  if (!meta.inline) await streamWeights(opts.weights ?? here('./weights.bin'), ex.memory);
  /**
   * Runs the model. feeds: { name: TypedArray | number[] | { data, shape } } (checked: LUT5005-5007);
   * returns { name: { data, shape, dtype } } in graph-output order. A Gather index out of range throws
   * LUT5008 (error.node names the node). Synchronous (as it always was); \`await model.run(feeds)\`
   * works the same and is the form the WGSL artifact needs (docs/wasm-model.md, "Runtime API").
   */
${dyn ? DYN_RUN : STATIC_RUN}${dyn && decoder ? GENERATE : ''}  return { run, ${dyn && decoder ? 'generate, ' : ''}inputs, outputs, memory: ex.memory, exports: ex, destroy() {} };
}

let loaded;
/** Convenience: loads once with defaults, then runs. */
export async function run(feeds) {
  loaded = loaded ?? (await load());
  return loaded.run(feeds);
}
`;
}

/** run() of a static model (shapes are the compiled ones). */
const STATIC_RUN = `  function run(feeds) {
    const data = checkFeeds(meta.inputs, feeds);
    meta.inputs.forEach((s, i) => {
      const t = data[i];
      new Uint8Array(ex.memory.buffer, s.addr, s.bytes).set(new Uint8Array(t.buffer, t.byteOffset, s.bytes));
    });
    const rc = ex.run();
    if (rc) throw indexError(meta.checks[rc - 1], ex.err_value.value);
    const res = {};
    for (const s of meta.outputs) {
      const C = globalThis[s.array];
      const copy = new Uint8Array(s.bytes);
      copy.set(new Uint8Array(ex.memory.buffer, s.addr, s.bytes));
      res[s.name] = { data: new C(copy.buffer), shape: s.shape.slice(), dtype: s.dtype };
    }
    return res;
  }
`;

/**
 * run() of a model with runtime dims (see loaderSource). `run(feeds, { kvShared: true })` (models with
 * meta.kvPairs): each pair's present slot is the cache, its bound rows per head: a past feed given
 * as `{ shape }` alone is already there (the present of the previous shared run), one with data is
 * copied in; the kernel writes only the new rows, and each present comes back with a lazy `data`
 * (copied out when read).
 */
const DYN_RUN = `  function run(feeds, opts) {
    const shared = !!(opts && opts.kvShared);
    if (shared && !meta.kvPairs) throw lutcError('LUT5005', 'run(feeds, { kvShared: true }): the model has no cache pairs a shared buffer serves (GroupQueryAttention past/present graph inputs and outputs)');
    const kept = new Set();
    let f = feeds;
    if (shared && feeds && typeof feeds === 'object') {
      f = { ...feeds };
      for (const [i] of meta.kvPairs) {
        const s = meta.inputs[i];
        const v = feeds[s.name];
        if (!v || typeof v !== 'object' || ArrayBuffer.isView(v) || Array.isArray(v) || v.data !== undefined || !Array.isArray(v.shape)) continue;
        // already in the cache: checked as a view of memory, never copied
        const n = v.shape.reduce((a, b) => a * b, 1);
        f[s.name] = { data: new globalThis[s.array](ex.memory.buffer, 0, Number.isInteger(n) && n >= 0 ? Math.min(n, ex.memory.buffer.byteLength >> 2) : 0), shape: v.shape };
        kept.add(i);
      }
    }
    const { d, shapes } = bindDims(meta.inputs, f, rt);
    const data = checkFeeds(meta.inputs, f, shapes);
    meta.dims.forEach((sym, i) => { ex['dim' + i].value = d[sym]; });
    if (meta.kvPairs) ex.kv_shared.value = shared ? 1 : 0;
    const pastOf = new Map(shared ? meta.kvPairs : []);
    meta.inputs.forEach((s, i) => {
      if (kept.has(i)) return;
      const t = data[i];
      const src = new Uint8Array(t.buffer, t.byteOffset, t.byteLength);
      if (!pastOf.has(i)) return void new Uint8Array(ex.memory.buffer, s.addr, t.byteLength).set(src);
      // a past with data in the shared mode: into the present's slot, its bound rows per head
      const o = meta.outputs[pastOf.get(i)];
      const [B, G, P, H] = shapes[i];
      if (P > o.shape[2]) throw lutcError('LUT5009', 'input ' + JSON.stringify(s.name) + ': past length ' + P + ' is beyond the cache capacity ' + o.shape[2] + ' of ' + JSON.stringify(o.name));
      const row = H * t.BYTES_PER_ELEMENT;
      for (let k = 0; k < B * G; k++)
        new Uint8Array(ex.memory.buffer, o.addr + k * o.shape[2] * row, P * row).set(src.subarray(k * P * row, (k + 1) * P * row));
    });
    const rc = ex.run();
    if (rc) throw indexError(meta.checks[rc - 1], ex.err_value.value);
    const res = {};
    const presents = new Set(shared ? meta.kvPairs.map((p) => p[1]) : []);
    meta.outputs.forEach((s, i) => {
      const C = globalThis[s.array];
      const shape = rt.outputShape[i](d);
      const bytes = shape.reduce((a, b) => a * b, 1) * C.BYTES_PER_ELEMENT;
      if (presents.has(i)) {
        // the cache itself: read lazily, rows of each head bound apart in memory
        let copy;
        const [B, G, T, H] = shape;
        const row = H * C.BYTES_PER_ELEMENT;
        res[s.name] = {
          shape, dtype: s.dtype,
          get data() {
            if (!copy) {
              const u = new Uint8Array(bytes);
              for (let k = 0; k < B * G; k++) u.set(new Uint8Array(ex.memory.buffer, s.addr + k * s.shape[2] * row, T * row), k * T * row);
              copy = new C(u.buffer);
            }
            return copy;
          },
        };
        return;
      }
      const copy = new Uint8Array(bytes);
      copy.set(new Uint8Array(ex.memory.buffer, s.addr, bytes));
      res[s.name] = { data: new C(copy.buffer), shape, dtype: s.dtype };
    });
    return res;
  }
`;

/**
 * The decoder roles of the model's I/O for model.generate (compiler/generate.ts decoderIO: input_ids,
 * attention_mask, position_ids, the past/present pairs, logits), or undefined when it is no decoder.
 */
function decoderMeta(mm: ModelModule) {
  let io: DecoderIO;
  try {
    io = decoderIO(mm.plan.graph);
  } catch (e) {
    if (e instanceof LutcError) return undefined;
    throw e;
  }
  const ins = mm.plan.graph.inputs.map((v) => v.name);
  const outs = mm.plan.graph.outputs.map((v) => v.name);
  const shared = new Set(mm.kvPairs.map(([i]) => i));
  return {
    inputIds: io.inputIds,
    attentionMask: io.attentionMask,
    positionIds: io.positionIds,
    logits: io.logits,
    cache: io.cache.map((c) => ({ past: c.past, present: c.present })),
    /** every pair served by the shared buffer: generate runs kvShared */
    shared: io.cache.length > 0 && io.cache.every((c) => shared.has(ins.indexOf(c.past)) && outs.includes(c.present)),
  };
}

/**
 * model.generate (decoders with runtime dims): greedy generation, batch 1, the loop of
 * compiler/generate.ts (prompt in one step from an empty cache, then one token per step, mask of ones,
 * positions past + i; the first maximum; NaN logits LUT6043), in the shared past/present buffer mode
 * when every cache pair has it, so the cache never leaves linear memory.
 */
const GENERATE = `  /**
   * Greedy generation (batch 1): generate(promptIds, { maxNewTokens = 16, eosTokenIds = [], onToken })
   * -> { tokens, prefillMs, decodeMs } (tokens: the new ids, an end-of-sequence id included).
   */
  async function generate(prompt, opts = {}) {
    const dec = meta.decoder;
    const ids = Array.from(prompt ?? [], Number);
    if (!ids.length || ids.some((x) => !Number.isInteger(x) || x < 0))
      throw lutcError('LUT5007', 'generate(prompt): the prompt must be a non-empty array of token ids (non-negative integers)');
    const maxNew = opts.maxNewTokens ?? 16;
    const eos = new Set(opts.eosTokenIds ?? []);
    const spec = (name) => meta.inputs.find((s) => s.name === name);
    const IdArray = globalThis[spec(dec.inputIds).array];
    const big = IdArray === BigInt64Array;
    const idFeed = (xs) => ({ data: IdArray.from(xs, (x) => (big ? BigInt(x) : x)), shape: [1, xs.length] });
    let past = {};
    for (const c of dec.cache) {
      const s = spec(c.past);
      past[c.past] = { data: new globalThis[s.array](0), shape: s.dims.map((d, i) => (typeof d === 'number' ? d : i === 0 ? 1 : 0)) };
    }
    const tokens = [];
    let pastLen = 0, step = ids, prefillMs = 0, decodeMs = 0;
    while (tokens.length < maxNew) {
      const S = step.length;
      const feeds = { ...past, [dec.inputIds]: idFeed(step) };
      if (dec.attentionMask) feeds[dec.attentionMask] = { data: new BigInt64Array(pastLen + S).fill(1n), shape: [1, pastLen + S] };
      if (dec.positionIds) feeds[dec.positionIds] = { data: BigInt64Array.from(step, (_, i) => BigInt(pastLen + i)), shape: [1, S] };
      const t0 = performance.now();
      const out = run(feeds, dec.shared ? { kvShared: true } : undefined);
      const ms = performance.now() - t0;
      if (pastLen === 0) prefillMs = ms; else decodeMs += ms;
      const l = out[dec.logits];
      const V = l.shape[l.shape.length - 1];
      const off = l.data.length - V;
      let best = 0;
      for (let i = 0; i < V; i++) {
        const x = l.data[off + i];
        if (Number.isNaN(x)) throw lutcError('LUT6043', 'generate: the logits hold NaN (vocabulary entry ' + i + ')');
        if (x > l.data[off + best]) best = i;
      }
      tokens.push(best);
      if (opts.onToken) opts.onToken(best);
      if (eos.has(best)) break;
      past = {};
      for (const c of dec.cache) {
        const o = out[c.present];
        past[c.past] = dec.shared ? { shape: o.shape } : { data: o.data, shape: o.shape };
      }
      pastLen += S;
      step = [best];
    }
    return { tokens, prefillMs, decodeMs };
  }
`;

function dtsSource(mm: ModelModule): string {
  const bounds = mm.plan.runtimeDims;
  const doc = (s: IoSlot) =>
    s.dims
      ? `${s.dtype} [${s.dims.join(', ')}] (runtime dims: ${[...new Set(s.dims.flatMap((d) => dimSymbols(d)))].map((x) => `${x} <= ${bounds[x]}`).join(', ')})`
      : `${s.dtype} [${s.shape.join(', ')}]`;
  const field = (s: IoSlot) =>
    s.dims
      ? `  /** ${doc(s)}: give its shape */\n  ${JSON.stringify(s.name)}: { data: ${TYPED[s.dtype]}${s.dtype.match(/64/) && !s.dtype.startsWith('f') ? '' : ' | ArrayLike<number>'}; shape: number[] };`
      : `  /** ${doc(s)} */\n  ${JSON.stringify(s.name)}: ${TYPED[s.dtype]}${s.dtype.match(/64/) && !s.dtype.startsWith('f') ? '' : ' | ArrayLike<number>'} | { data: ${TYPED[s.dtype]} | ArrayLike<number>; shape?: number[] };`;
  const outField = (s: IoSlot) =>
    `  /** ${doc(s)} */\n  ${JSON.stringify(s.name)}: { data: ${TYPED[s.dtype]}; shape: number[]; dtype: ${JSON.stringify(s.dtype)} };`;
  return `// Generated by lutc (target wasm, whole model). API: docs/wasm-model.md.
export interface ModelInputs {
${mm.inputs.map(field).join('\n')}
}
export interface ModelOutputs {
${mm.outputs.map(outField).join('\n')}
}
export interface TensorInfo { name: string; dtype: string; shape: number[]${mm.plan.dimSources.length ? '; /** runtime dims: the dim expressions (shape: the bounds) */ dims: (number | string)[]' : ''} }
export interface LoadOptions {
  /** model.wasm as bytes or a URL (default: next to model.mjs). */
  wasm?: Uint8Array | ArrayBuffer | URL | string;
  /** weights.bin as bytes or a URL (only used when the weights are not inline). */
  weights?: Uint8Array | ArrayBuffer | URL | string;
}
/** Errors thrown by run(): message 'LUTnnnn: ...'; LUT5005-5007 bad feeds, LUT5008 a Gather index out of range (node set). */
export interface ModelError extends Error { code: string; node?: string }
export interface Model {
  /** Runs the model synchronously (\`await model.run(...)\`, the WGSL artifact's form, works too); throws a ModelError.${mm.kvPairs.length && mm.plan.dimSources.length ? " kvShared: the shared past/present buffer (docs/wasm-model.md): a past given as { shape } alone is the previous shared run's present; presents read lazily." : ''} */
  run(inputs: ModelInputs${mm.kvPairs.length && mm.plan.dimSources.length ? ', opts?: { kvShared?: boolean }' : ''}): ModelOutputs;
  inputs: TensorInfo[];
  outputs: TensorInfo[];
  memory: WebAssembly.Memory;
  /** Nothing to free for wasm (kept for parity with the WGSL artifact). */
  destroy(): void;${
    mm.plan.dimSources.length && decoderMeta(mm)
      ? `
  /** Greedy generation, batch 1 (docs/wasm-model.md): the new token ids (an end-of-sequence id included) and the phase times. */
  generate(prompt: ArrayLike<number>, opts?: { maxNewTokens?: number; eosTokenIds?: number[]; onToken?(id: number): void }): Promise<{ tokens: number[]; prefillMs: number; decodeMs: number }>;`
      : ''
  }
}
export declare const inputs: TensorInfo[];
export declare const outputs: TensorInfo[];
export declare function load(opts?: LoadOptions): Promise<Model>;
export declare function run(inputs: ModelInputs): Promise<ModelOutputs>;
`;
}
