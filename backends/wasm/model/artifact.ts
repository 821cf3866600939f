/**
 * The wasm artifact of a whole model: model.wasm, model.mjs (ES module loader: `load(opts)`, then
 * `run(feeds) -> outputs` (synchronous; `await` gives the WGSL artifact's form), the runtime API shared
 * with the WGSL artifact: feeds are checked and
 * run-time failures thrown as coded Errors by backends/artifact-runtime.ts's RUNTIME_JS; fs in Node,
 * fetch in browsers, chosen at run time), model.d.ts,
 * weights.bin (only when the weights are too large for a data segment; streamed into memory at
 * load; with `streamWeights` a StreamedFile, computed constant by constant as it is written), and manifest.json (inputs, outputs, LUT layers, bits, required features, memory plan).
 * With runtime dims the manifest and model.d.ts show each value's dims and the bounds, and run()
 * binds the dims from the feeds' shapes (see loaderSource); a static model's files are unchanged.
 * With `threads` N > 1 it also writes model-mt.wasm (the threaded module, the same memory map) and
 * model.mjs's load({ threads }) runs it on N threads (THREADS_JS), else the unchanged model.wasm.
 * docs/wasm-model.md documents the files and the API.
 */

import { diag, LutcError } from '../../../base/diagnostics.js';
import { dimSymbols } from '../../../ir/dim-expr.js';
import { lutLayers } from '../../../ir/lut/attrs.js';
import type { Dim, Graph } from '../../../ir/types.js';
import { ARRAY_OF, decoderMeta, GENERATE_JS, halfDts, ioArrayType, RUNTIME_JS, runtimeDimsJs } from '../../artifact-runtime.js';
import type { ArtifactFiles } from '../../target-info.js';
import { CTL, CTL_GEN, CTL_TASK } from './core.js';
import { JS_MATH } from './math.js';
import { buildModelModule, type IoSlot, type ModelBuildOptions, type ModelModule } from './module.js';

/** Emitted files by name (weights.bin a StreamedFile with ModelBuildOptions.streamWeights). */
export type { ArtifactFiles };

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
  /** The threaded module (compile --threads N, N > 1): its file, load()'s default thread count, features, memory. */
  threads?: { module: 'model-mt.wasm'; default: number; features: string[]; totalBytes: number; split: string[] };
  /** The relaxed-SIMD modules (--wasm-features relaxed-simd), chosen by load() where the engine has the feature. */
  relaxedSimd?: { module: 'model-relaxed.wasm'; features: string[]; threadsModule?: 'model-mt-relaxed.wasm'; threadsTotalBytes?: number };
}

/** Builds the module and renders every artifact file. */
export function emitArtifact(g: Graph, opts: ModelBuildOptions = {}): { files: ArtifactFiles; module: ModelModule; manifest: Manifest } {
  const mm = buildModelModule(g, { ...opts, threaded: false, relaxedSimd: false });
  const nThreads = opts.threads && opts.threads > 1 ? Math.floor(opts.threads) : 0;
  const mt = nThreads ? buildModelModule(g, { ...opts, threaded: true, relaxedSimd: false }) : undefined;
  const layers = lutLayers(g);
  // relaxed modules (--wasm-features relaxed-simd) unless a 1-bit layer reads int8 tables (model/lut.ts)
  const relaxed = !!opts.relaxedSimd && !layers.some((l) => l.bits === 1 && l.tables === 'i8');
  const rx = relaxed ? buildModelModule(g, { ...opts, threaded: false, relaxedSimd: true }) : undefined;
  const rxmt = relaxed && nThreads ? buildModelModule(g, { ...opts, threaded: true, relaxedSimd: true }) : undefined;
  // every module shares model.mjs's meta: the same plan, so the same I/O and weight addresses
  for (const x of [mt, rx, rxmt])
    if (
      x &&
      (x.weightsBase !== mm.weightsBase ||
        x.weightBytes !== mm.weightBytes ||
        x.inline !== mm.inline ||
        x.inputs.some((s, i) => s.addr !== mm.inputs[i]!.addr) ||
        x.outputs.some((s, i) => s.addr !== mm.outputs[i]!.addr))
    )
      throw new LutcError(diag('LUT5090', 'internal: a variant wasm module does not share the memory map of model.wasm'));
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
      weightBytes: mm.weightBytes,
    },
    weights: mm.inline ? 'inline' : 'weights.bin',
    ...(mt && {
      threads: { module: 'model-mt.wasm' as const, default: nThreads, features: mt.features, totalBytes: mt.memoryBytes, split: mt.split },
    }),
    ...(rx && {
      relaxedSimd: {
        module: 'model-relaxed.wasm' as const,
        features: rx.features,
        ...(rxmt && { threadsModule: 'model-mt-relaxed.wasm' as const, threadsTotalBytes: rxmt.memoryBytes }),
      },
    }),
  };
  const files: ArtifactFiles = {
    'model.wasm': mm.wasm,
    ...(mt && { 'model-mt.wasm': mt.wasm }),
    ...(rx && { 'model-relaxed.wasm': rx.wasm }),
    ...(rxmt && { 'model-mt-relaxed.wasm': rxmt.wasm }),
    'model.mjs': loaderSource(mm, manifest),
    'model.d.ts': dtsSource(mm),
    'manifest.json': JSON.stringify(manifest, null, 2) + '\n',
  };
  if (!mm.inline) files['weights.bin'] = mm.weightsFile ?? mm.weights;
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
  const decoder = decoderMeta(mm.plan, mm.kvPairs);
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
    weightBytes: mm.weightBytes,
    inline: mm.inline,
    memoryBytes: mm.memoryBytes,
    /** the threaded module model-mt.wasm: load()'s default thread count and its memory (a shared one) */
    ...(man.threads && { threads: { default: man.threads.default, memoryBytes: man.threads.totalBytes } }),
    /** the relaxed-SIMD modules: model-relaxed.wasm (and model-mt-relaxed.wasm's memory) */
    ...(man.relaxedSimd && { relaxed: { threadsMemoryBytes: man.relaxedSimd.threadsTotalBytes ?? 0 } }),
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

${RUNTIME_JS}${decoder ? GENERATE_JS : ''}
${THREADS_JS}
/**
 * Instantiates the model. Options: { wasm, weights } as bytes or URLs (default: model.wasm and
 * weights.bin next to this file; wasmFiles: { 'model-mt.wasm': bytes or URL, ... } for the variants);
 * the relaxed-SIMD module where the artifact has one and the engine runs it (relaxedSimd: false
 * forbids it); { threads: N } runs on N threads (model-mt.wasm, a shared memory
 * and N - 1 workers; default meta.threads.default, else 1), falling back to 1 with a warning where
 * that cannot run (see threadsUnavailable). Returns { run(inputs) -> outputs, inputs, outputs, memory, threads, relaxedSimd }.
 */
export async function load(opts = {}) {
  let threads = Math.max(1, Math.floor(Number(opts.threads ?? (meta.threads ? meta.threads.default : 1)) || 1));
  if (threads > 1) {
    const why = threadsUnavailable();
    if (why) {
      (opts.warn ?? console.warn)('lutc model: threads: ' + threads + ' requested, but ' + why + '; running on 1 thread');
      threads = 1;
    }
  }
  // relaxed SIMD where the artifact has it and this engine validates a relaxed op (bit-identical results)
  // (not when model.wasm's bytes were given but no relaxed module's)
  const rxFile = threads > 1 ? 'model-mt-relaxed.wasm' : 'model-relaxed.wasm';
  const relaxed = !!meta.relaxed && opts.relaxedSimd !== false && (threads === 1 || meta.relaxed.threadsMemoryBytes > 0) &&
    (!opts.wasm || !!(opts.wasmFiles && opts.wasmFiles[rxFile])) && WebAssembly.validate(RELAXED_PROBE);
  const imports = { m: MATH_IMPORTS };
  let shared;
  if (threads > 1) {
    const pages = (relaxed ? meta.relaxed.threadsMemoryBytes : meta.threads.memoryBytes) / 65536;
    shared = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
    imports.env = { memory: shared };
  }
  const file = (threads > 1 ? 'model-mt' : 'model') + (relaxed ? '-relaxed' : '') + '.wasm';
  const bytes = await readAll((opts.wasmFiles && opts.wasmFiles[file]) ?? (file === 'model.wasm' ? opts.wasm : undefined) ?? here('./' + file));
  const module = await WebAssembly.compile(bytes);
  const instance = await WebAssembly.instantiate(module, imports);
  const ex = instance.exports;
  if (!meta.inline) await streamWeights(opts.weights ?? here('./weights.bin'), ex.memory);
  let workers = [];
  if (threads > 1) {
    ex.nthreads.value = threads;
    workers = await startWorkers(module, shared, threads);
  }
  /**
   * Runs the model. feeds: { name: TypedArray | number[] | { data, shape } } (checked: LUT5005-5007);
   * returns { name: { data, shape, dtype } } in graph-output order. A Gather index out of range throws
   * LUT5008 (error.node names the node). Synchronous (as it always was); \`await model.run(feeds)\`
   * works the same and is the form the WGSL artifact needs (docs/wasm-model.md, "Runtime API").
   */
${dyn ? DYN_RUN : STATIC_RUN}${dyn && decoder ? '  const generate = makeGenerate(meta.decoder, meta.inputs, (f, o) => run(f, o));\n' : ''}  return { run, ${dyn && decoder ? 'generate, ' : ''}inputs, outputs, memory: ex.memory, exports: ex, threads, relaxedSimd: relaxed, destroy() { stopWorkers(workers, ex.memory); workers = []; } };
}

let loaded;
/** Convenience: loads once with defaults, then runs. */
export async function run(feeds) {
  loaded = loaded ?? (await load());
  return loaded.run(feeds);
}
`;
}

/**
 * model.mjs's threads support (load({ threads })): the checks, the workers' code and their start and
 * stop. A worker instantiates model-mt.wasm on the shared memory and enters the module's `worker(id)`
 * loop, which never returns until stopWorkers posts the negative task (module.ts addThreading);
 * Node's workers are unref'd, so an idle model does not keep the process alive.
 */
const THREADS_JS = `/** A module using i8x16.relaxed_swizzle: validates only where relaxed SIMD is on. */
const RELAXED_PROBE = new Uint8Array([${[0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 43, 1, 41, 0, 253, 12, ...new Array(16).fill(0), 253, 12, ...new Array(16).fill(0), 253, 128, 2, 11].join(',')}]);
const MATH_IMPORTS = { ${JS_MATH.map((f) => `${f}: Math.${f}`).join(', ')} };
/** Why threads cannot run here (undefined when they can). */
function threadsUnavailable() {
  if (!meta.threads) return 'this artifact has no threaded module (compile it with --threads N)';
  if (typeof SharedArrayBuffer === 'undefined' || (!isNode && !globalThis.crossOriginIsolated))
    return 'SharedArrayBuffer is unavailable (a browser page needs cross-origin isolation: serve it with Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp)';
  if (!isNode && typeof Worker === 'undefined') return 'Web Workers are unavailable';
  return undefined;
}
const WORKER_BODY = ${JSON.stringify('const inst = new WebAssembly.Instance(d.module, { env: { memory: d.memory }, m: { ' + JS_MATH.map((f) => `${f}: Math.${f}`).join(', ') + ' } }); ')};
async function startWorkers(module, memory, n) {
  const ids = Array.from({ length: n - 1 }, (_, i) => i + 1);
  if (isNode) {
    const { Worker } = await import('node:worker_threads');
    const src = "const { parentPort, workerData: d } = require('node:worker_threads'); " + WORKER_BODY + "parentPort.postMessage(0); inst.exports.worker(d.id);";
    return Promise.all(ids.map((id) => new Promise((ok, no) => {
      const w = new Worker(src, { eval: true, workerData: { module, memory, id } });
      w.once('error', no);
      w.once('message', () => {
        w.off('error', no);
        w.on('error', (e) => console.error('lutc model: worker ' + id + ' failed: ' + (e && e.message)));
        w.unref();
        ok(w);
      });
    })));
  }
  const url = URL.createObjectURL(new Blob(["onmessage = (e) => { const d = e.data; " + WORKER_BODY + "postMessage(0); inst.exports.worker(d.id); };"], { type: 'text/javascript' }));
  try {
    return await Promise.all(ids.map((id) => new Promise((ok, no) => {
      const w = new Worker(url);
      w.onerror = (e) => no(new Error('lutc model: worker ' + id + ' failed: ' + e.message));
      w.onmessage = () => { w.onmessage = null; ok(w); };
      w.postMessage({ module, memory, id });
    })));
  } finally { URL.revokeObjectURL(url); }
}
/** Posts the negative task (the workers' loops return) and ends the workers. */
function stopWorkers(workers, memory) {
  if (!workers.length) return;
  const ctl = new Int32Array(memory.buffer, ${CTL}, 8);
  Atomics.store(ctl, ${CTL_TASK / 4}, -1);
  Atomics.add(ctl, ${CTL_GEN / 4}, 1);
  Atomics.notify(ctl, ${CTL_GEN / 4});
  for (const w of workers) w.terminate();
}
`;

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
      const out = new C(copy.buffer);
      res[s.name] = { data: s.dtype === 'f16' ? halfOut(out) : out, shape: s.shape.slice(), dtype: s.dtype };
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
              copy = s.dtype === 'f16' ? halfOut(new C(u.buffer)) : new C(u.buffer);
            }
            return copy;
          },
        };
        return;
      }
      const copy = new Uint8Array(bytes);
      copy.set(new Uint8Array(ex.memory.buffer, s.addr, bytes));
      const out = new C(copy.buffer);
      res[s.name] = { data: s.dtype === 'f16' ? halfOut(out) : out, shape, dtype: s.dtype };
    });
    return res;
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
      ? `  /** ${doc(s)}: give its shape */\n  ${JSON.stringify(s.name)}: { data: ${ioArrayType(s.dtype)}${s.dtype.match(/64/) && !s.dtype.startsWith('f') ? '' : ' | ArrayLike<number>'}; shape: number[] };`
      : `  /** ${doc(s)} */\n  ${JSON.stringify(s.name)}: ${ioArrayType(s.dtype)}${s.dtype.match(/64/) && !s.dtype.startsWith('f') ? '' : ' | ArrayLike<number>'} | { data: ${ioArrayType(s.dtype)} | ArrayLike<number>; shape?: number[] };`;
  const outField = (s: IoSlot) =>
    `  /** ${doc(s)} */\n  ${JSON.stringify(s.name)}: { data: ${ioArrayType(s.dtype)}; shape: number[]; dtype: ${JSON.stringify(s.dtype)} };`;
  return `// Generated by lutc (target wasm, whole model). API: docs/wasm-model.md.
${halfDts([...mm.inputs, ...mm.outputs].map((x) => x.dtype))}export interface ModelInputs {
${mm.inputs.map(field).join('\n')}
}
export interface ModelOutputs {
${mm.outputs.map(outField).join('\n')}
}
export interface TensorInfo { name: string; dtype: string; shape: number[]${mm.plan.dimSources.length ? '; /** runtime dims: the dim expressions (shape: the bounds) */ dims: (number | string)[]' : ''} }
export interface LoadOptions {
  /** model.wasm as bytes or a URL (default: next to model.mjs). */
  wasm?: Uint8Array | ArrayBuffer | URL | string;
  /** The other modules by file name ('model-mt.wasm', 'model-relaxed.wasm', 'model-mt-relaxed.wasm'; default: next to model.mjs). */
  wasmFiles?: Record<string, Uint8Array | ArrayBuffer | URL | string>;
  /** Threads (docs/wasm-model.md, "Threads"; default: compile --threads N, else 1); falls back to 1 with a warning where they cannot run. */
  threads?: number;
  /** false: never the relaxed-SIMD module (default: where the artifact has one and the engine runs relaxed SIMD). */
  relaxedSimd?: boolean;
  /** Where the threads fallback message goes (default console.warn). */
  warn?(msg: string): void;
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
  /** The threads it runs on, and whether it loaded the relaxed-SIMD module. */
  threads: number;
  relaxedSimd: boolean;
  /** Ends the worker threads (nothing else to free for wasm; kept for parity with the WGSL artifact). */
  destroy(): void;${
    decoderMeta(mm.plan, mm.kvPairs)
      ? `
  /** Greedy generation, batch 1 (docs/wasm-model.md): the new token ids (an end-of-sequence id included) and the phase times. */
  generate(prompt: ArrayLike<number>, opts?: { maxNewTokens?: number; eosTokenIds?: number[]; temperature?: number; topK?: number; topP?: number; seed?: number; onToken?(id: number): void }): Promise<{ tokens: number[]; prefillMs: number; decodeMs: number }>;`
      : ''
  }
}
export declare const inputs: TensorInfo[];
export declare const outputs: TensorInfo[];
export declare function load(opts?: LoadOptions): Promise<Model>;
export declare function run(inputs: ModelInputs): Promise<ModelOutputs>;
`;
}
