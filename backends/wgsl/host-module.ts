/**
 * The host module of a WGSL artifact: `model.mjs`, an ES module with no imports that runs the whole
 * model on a GPUDevice (given, or navigator.gpu's in a browser): one arena buffer, one weight buffer
 * (weights.bin, fetched next to the module in browsers, read with fs in Node), one bind group, one
 * pipeline per distinct shader, and the dispatch sequence recorded in a single compute pass.
 * `load({ device, weights })` then `await run(feeds)`: the runtime API shared with the wasm artifact
 * (docs/wasm-model.md, "Runtime API"; feed checks and coded errors from backends/artifact-runtime.ts).
 * run writes inputs into their arena slots, dispatches, and reads outputs back by name as typed
 * arrays (int64 as BigInt64Array: the arena holds int64 as int32, docs/wgsl.md), together with the
 * status buffer (binding 2) that Gather shaders write an out-of-range index into (LUT5008). Also
 * renders model.d.ts and manifest.json.
 *
 * Runtime dims (a plan with `dimSources`): the module also embeds `RT` (artifact-runtime.ts
 * runtimeDimsJs) and `GRID` (per step sized by the dims: its workgroups as a function of them);
 * run binds the dims from the feeds' shapes (bindDims: LUT5009 beyond a bound, LUT5006 for
 * contradicting shapes), writes only the runtime element count of each input, the dims into the
 * uniform at binding 3 (shader-common.ts), skips dispatches with no workgroups, and reads back each
 * output's runtime element count with its runtime shape. The module of a static plan is exactly
 * what it was before runtime dims (`RUNTIME` untouched; the runtime variant is derived from it).
 */
import { type LutLayerSummary, lutLayers } from '../../ir/lut/attrs.js';
import type { Dim } from '../../ir/types.js';
import { type DecoderMeta, decoderMeta, GENERATE_JS, halfDts, ioArrayType, RUNTIME_JS, runtimeDimsJs } from '../artifact-runtime.js';
import type { Placement } from '../model-plan.js';
import { kvSharedPairs, type WgslModel } from './model-shaders.js';
import { WG } from './shader-common.js';

/** One graph input or output as the host module sees it. */
export interface IoSpec {
  name: string;
  dtype: string;
  shape: number[];
  /** Byte offset in its buffer. */
  offset: number;
  buffer: 'arena' | 'weights';
  /** Its dims when it has runtime dims (`shape` is then the bound its slot is sized for). */
  dims?: Dim[];
}

export interface Manifest {
  format: 'lutc-wgsl-1';
  inputs: IoSpec[];
  outputs: IoSpec[];
  arenaBytes: number;
  weightBytes: number;
  /** LUT layers: node, n, k, bits, group size, table precision, fused activation (as in the wasm manifest). */
  layers: LutLayerSummary[];
  bits: number[];
  /** WebGPU features the shaders need (none: core WebGPU suffices). */
  features: string[];
  dispatches: number;
  shaders: number;
  /** Runtime dims and their bounds (`--max-dim`); absent for a static model. */
  runtimeDims?: Record<string, number>;
  /** The shared past/present buffer's cache pairs, [input index, output index] (runtime-dim models only). */
  kvPairs?: [number, number][];
  /** A decoder's roles for model.generate (artifact-runtime.ts decoderMeta; runtime-dim models only). */
  decoder?: DecoderMeta;
}

const io = (p: Placement): IoSpec => ({
  name: p.value.name,
  dtype: p.dtype,
  shape: p.shape,
  offset: p.offset,
  buffer: p.region === 'weights' ? 'weights' : 'arena',
  ...(p.dims && { dims: p.dims }),
});

export function manifestOf(m: WgslModel, shaderCount: number): Manifest {
  const layers = lutLayers(m.plan.graph);
  const g = m.plan.graph;
  const kvPairs = kvSharedPairs(g).map((p): [number, number] => [g.inputs.indexOf(p.past), g.outputs.indexOf(p.present)]);
  const decoder = decoderMeta(m.plan, kvPairs);
  return {
    format: 'lutc-wgsl-1',
    inputs: m.plan.inputs.map(io),
    outputs: m.plan.outputs.map(io),
    arenaBytes: m.plan.arenaBytes,
    weightBytes: m.plan.weightBytes,
    layers,
    bits: [...new Set(layers.map((l) => l.bits))].sort(),
    features: [],
    dispatches: m.kernels.length,
    shaders: shaderCount,
    ...(m.plan.dimSources.length > 0 && { runtimeDims: m.plan.runtimeDims }),
    ...(kvPairs.length && { kvPairs }),
    ...(decoder && { decoder }),
  };
}

/** Distinct shader sources and, per dispatch, [shader index, x, y, z, label]. */
export function dispatchTable(m: WgslModel): { shaders: string[]; steps: [number, number, number, number, string][] } {
  const idx = new Map<string, number>();
  const shaders: string[] = [];
  const steps = m.kernels.map((k): [number, number, number, number, string] => {
    let i = idx.get(k.code);
    if (i === undefined) {
      i = shaders.length;
      idx.set(k.code, i);
      shaders.push(k.code);
    }
    return [i, ...k.groups, k.label];
  });
  return { shaders, steps };
}

const RUNTIME = `
// WebGPU enum values, so the module works without GPUBufferUsage & co. in scope (Node).
const STORAGE = 0x80, COPY_SRC = 0x4, COPY_DST = 0x8, MAP_READ = 0x1, COMPUTE = 0x4;

const SIGNED = new Set(['i4', 'i8', 'i16', 'i32', 'i64']);
const FLOAT = new Set(['f32', 'f16', 'bf16']);
const OUT_ARRAY = { f32: Float32Array, f16: Float32Array, bf16: Float32Array, i8: Int8Array, i4: Int8Array, u8: Uint8Array, u4: Uint8Array, bool: Uint8Array, i16: Int16Array, u16: Uint16Array, i32: Int32Array, u32: Uint32Array };

const numel = (shape) => shape.reduce((a, b) => a * b, 1);

/** An input (checked by checkFeeds) as 32-bit words in its dtype's storage (int64 must fit int32: LUT5007). */
function toWords(spec, data) {
  const n = numel(spec.shape);
  if (FLOAT.has(spec.dtype)) return Float32Array.from(data, Number);
  const out = SIGNED.has(spec.dtype) ? new Int32Array(n) : new Uint32Array(n);
  const [lo, hi] = SIGNED.has(spec.dtype) ? [-2147483648, 2147483647] : [0, 4294967295];
  for (let i = 0; i < n; i++) {
    const v = Number(data[i]);
    if (!(v >= lo && v <= hi)) throw lutcError('LUT5007', 'input ' + JSON.stringify(spec.name) + ': ' + spec.dtype + ' value ' + data[i] + ' does not fit the 32-bit words this WGSL artifact computes in');
    out[i] = spec.dtype === 'bool' ? (v !== 0 ? 1 : 0) : v;
  }
  return out;
}

/** Output words -> the dtype's typed array (int64 as BigInt64Array, f16 as HALF_ARRAY (RUNTIME_JS halfOut), bf16 as Float32Array). */
function fromWords(spec, buf) {
  const n = numel(spec.shape);
  if (spec.dtype === 'i64') return BigInt64Array.from(new Int32Array(buf, 0, n), BigInt);
  if (spec.dtype === 'u64') return BigUint64Array.from(new Uint32Array(buf, 0, n), BigInt);
  const words = FLOAT.has(spec.dtype) ? new Float32Array(buf, 0, n) : SIGNED.has(spec.dtype) ? new Int32Array(buf, 0, n) : new Uint32Array(buf, 0, n);
  return spec.dtype === 'f16' ? halfOut(words) : OUT_ARRAY[spec.dtype].from(words);
}

async function readWeights(opts) {
  if (opts && opts.weights) return new Uint8Array(opts.weights);
  const url = new URL('./weights.bin', import.meta.url);
  if (url.protocol === 'file:' && typeof process !== 'undefined' && process.versions && process.versions.node) {
    const fs = await import('node:fs/promises');
    return new Uint8Array(await fs.readFile(url));
  }
  const res = await fetch(url);
  if (!res.ok) throw new Error('lutc model: cannot fetch ' + url + ': HTTP ' + res.status);
  return new Uint8Array(await res.arrayBuffer());
}

async function defaultDevice() {
  const gpu = typeof navigator !== 'undefined' ? navigator.gpu : undefined;
  if (!gpu) throw new Error('lutc model: no GPUDevice was given and navigator.gpu is not available (in Node pass a device, e.g. from the "webgpu" package; in a browser enable WebGPU)');
  const adapter = await gpu.requestAdapter();
  if (!adapter) throw new Error('lutc model: navigator.gpu gave no adapter');
  const need = Math.max(MANIFEST.arenaBytes, MANIFEST.weightBytes, 4);
  const requiredLimits = {};
  if (need > 134217728) {
    requiredLimits.maxStorageBufferBindingSize = Math.min(adapter.limits.maxStorageBufferBindingSize, need);
    requiredLimits.maxBufferSize = Math.min(adapter.limits.maxBufferSize, need);
  }
  return adapter.requestDevice({ requiredLimits });
}

function buffer(device, bytes, data) {
  const size = Math.max(4, Math.ceil(bytes / 4) * 4);
  const b = device.createBuffer({ size, usage: STORAGE | COPY_SRC | COPY_DST, mappedAtCreation: !!data });
  if (data) { new Uint8Array(b.getMappedRange()).set(data.subarray(0, bytes)); b.unmap(); }
  return b;
}

const INPUTS = MANIFEST.inputs.map(({ name, dtype, shape }) => ({ name, dtype, shape }));
const OUTPUTS = MANIFEST.outputs.map(({ name, dtype, shape }) => ({ name, dtype, shape }));
export { INPUTS as inputs, OUTPUTS as outputs };

/**
 * Loads the model. opts.device: the GPUDevice (default: navigator.gpu's); opts.weights: the
 * weights.bin bytes, when the caller fetched them itself. load(device, opts), the older form, still works.
 */
export async function load(opts = {}, legacy = {}) {
  if (opts && typeof opts.createBuffer === 'function') opts = { ...legacy, device: opts };
  opts = opts || {};
  const device = opts.device || (await defaultDevice());
  const lim = device.limits.maxStorageBufferBindingSize;
  if (MANIFEST.arenaBytes > lim || MANIFEST.weightBytes > lim)
    throw new RangeError('lutc model: needs storage buffers of ' + Math.max(MANIFEST.arenaBytes, MANIFEST.weightBytes) + ' bytes, the device allows ' + lim + ' (request a higher maxStorageBufferBindingSize)');
  const blob = await readWeights(opts);
  if (blob.length < MANIFEST.weightBytes) throw new RangeError('lutc model: weights.bin has ' + blob.length + ' bytes, the model needs ' + MANIFEST.weightBytes);
  const arena = buffer(device, MANIFEST.arenaBytes);
  const weights = buffer(device, MANIFEST.weightBytes, blob);
  // binding 2: the run-time check status (S[0] = first failing step or 0xffffffff, S[1] = its value)
  const status = buffer(device, 16);
  const layout = device.createBindGroupLayout({ entries: [
    { binding: 0, visibility: COMPUTE, buffer: { type: 'storage' } },
    { binding: 1, visibility: COMPUTE, buffer: { type: 'read-only-storage' } },
    { binding: 2, visibility: COMPUTE, buffer: { type: 'storage' } },
  ] });
  const pipelineLayout = device.createPipelineLayout({ bindGroupLayouts: [layout] });
  const bindGroup = device.createBindGroup({ layout, entries: [
    { binding: 0, resource: { buffer: arena } },
    { binding: 1, resource: { buffer: weights } },
    { binding: 2, resource: { buffer: status } },
  ] });
  const hasChecks = Object.keys(CHECKS).length > 0;
  const pipelines = await Promise.all(SHADERS.map(async (code, i) => {
    device.pushErrorScope('validation');
    const module = device.createShaderModule({ code, label: 'lutc shader ' + i });
    const info = await module.getCompilationInfo();
    const errs = info.messages.filter((m) => m.type === 'error');
    const p = await device.createComputePipelineAsync({ layout: pipelineLayout, compute: { module, entryPoint: 'main' } }).catch((e) => e);
    const err = await device.popErrorScope();
    if (errs.length || err || p instanceof Error) {
      const where = STEPS.filter((s) => s[0] === i).map((s) => s[4]).join(', ');
      throw new Error('lutc model: shader ' + i + ' (' + where + ') failed: ' + (errs.map((m) => m.lineNum + ':' + m.linePos + ' ' + m.message).join('; ') || (err && err.message) || p.message));
    }
    return p;
  }));
  let queue = Promise.resolve();
  async function runOnce(feeds) {
    const data = checkFeeds(MANIFEST.inputs, feeds);
    const words = MANIFEST.inputs.map((spec, i) => toWords(spec, data[i]));
    MANIFEST.inputs.forEach((spec, i) => { if (words[i].byteLength) device.queue.writeBuffer(arena, spec.offset, words[i]); });
    if (hasChecks) device.queue.writeBuffer(status, 0, new Uint32Array([0xffffffff, 0, 0, 0]));
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass();
    pass.setBindGroup(0, bindGroup);
    for (const [s, x, y, z] of STEPS) {
      pass.setPipeline(pipelines[s]);
      pass.dispatchWorkgroups(x, y, z);
    }
    pass.end();
    let total = 0;
    const at = MANIFEST.outputs.map((o) => { const a = total; total += Math.max(4, numel(o.shape) * 4); return a; });
    const statusAt = total;
    if (hasChecks) total += 16;
    const rb = device.createBuffer({ size: Math.max(4, total), usage: MAP_READ | COPY_DST });
    MANIFEST.outputs.forEach((o, i) => {
      const bytes = numel(o.shape) * 4;
      if (bytes) enc.copyBufferToBuffer(o.buffer === 'weights' ? weights : arena, o.offset, rb, at[i], bytes);
    });
    if (hasChecks) enc.copyBufferToBuffer(status, 0, rb, statusAt, 16);
    device.queue.submit([enc.finish()]);
    await rb.mapAsync(MAP_READ);
    const all = rb.getMappedRange().slice(0);
    rb.unmap();
    rb.destroy();
    if (hasChecks) {
      const st = new Uint32Array(all, statusAt, 4);
      if (st[0] !== 0xffffffff) throw indexError(CHECKS[st[0]], new Int32Array(all, statusAt, 4)[1]);
    }
    const res = {};
    MANIFEST.outputs.forEach((o, i) => {
      res[o.name] = { data: fromWords(o, all.slice(at[i], at[i] + Math.max(4, numel(o.shape) * 4))), shape: o.shape.slice(), dtype: o.dtype };
    });
    return res;
  }
  return {
    manifest: MANIFEST,
    inputs: INPUTS,
    outputs: OUTPUTS,
    /**
     * Runs the model: feeds { name: TypedArray | number[] | { data, shape } } (checked: LUT5005-5007),
     * resolves to { name: { data, shape, dtype } }; a Gather index out of range rejects with LUT5008.
     * Calls are serialized (they share one arena).
     */
    run(feeds) {
      const r = queue.then(() => runOnce(feeds));
      queue = r.catch(() => undefined);
      return r;
    },
    destroy() { arena.destroy(); weights.destroy(); status.destroy(); },
  };
}
`;

/** `text` with `from` replaced by `to`, which must occur exactly once (the runtime variant's edits of RUNTIME). */
function edit(text: string, from: string, to: string): string {
  const i = text.indexOf(from);
  if (i < 0 || text.indexOf(from, i + 1) >= 0) throw new Error(`internal: host module edit: ${JSON.stringify(from.slice(0, 60))}`);
  return text.slice(0, i) + to + text.slice(i + from.length);
}

/**
 * RUNTIME for a model with runtime dims: the dims uniform at binding 3, and a run that binds the
 * dims, writes and reads back runtime-sized data and sizes the steps in GRID from the dims.
 */
const RUNTIME_DIMS = [
  ['const STORAGE = 0x80,', 'const UNIFORM = 0x40;\nconst STORAGE = 0x80,'],
  [
    'const INPUTS = MANIFEST.inputs.map(({ name, dtype, shape }) => ({ name, dtype, shape }));\nconst OUTPUTS = MANIFEST.outputs.map(({ name, dtype, shape }) => ({ name, dtype, shape }));',
    'const INPUTS = MANIFEST.inputs.map(({ name, dtype, shape, dims }) => ({ name, dtype, shape, ...(dims && { dims }) }));\nconst OUTPUTS = MANIFEST.outputs.map(({ name, dtype, shape, dims }) => ({ name, dtype, shape, ...(dims && { dims }) }));',
  ],
  [
    `  const status = buffer(device, 16);`,
    `  const status = buffer(device, 16);
  // binding 3: the run's runtime dims, one u32 each in RT.sources order (the shaders' DIMS uniform)
  const dimWords = Math.max(4, Math.ceil(RT.sources.length / 4) * 4);
  const dimsBuf = device.createBuffer({ size: dimWords * 4, usage: UNIFORM | COPY_DST });`,
  ],
  [
    `    { binding: 2, visibility: COMPUTE, buffer: { type: 'storage' } },\n  ] });`,
    `    { binding: 2, visibility: COMPUTE, buffer: { type: 'storage' } },\n    { binding: 3, visibility: COMPUTE, buffer: { type: 'uniform' } },\n  ] });`,
  ],
  [
    `    { binding: 2, resource: { buffer: status } },\n  ] });`,
    `    { binding: 2, resource: { buffer: status } },\n    { binding: 3, resource: { buffer: dimsBuf } },\n  ] });`,
  ],
  [
    `    const data = checkFeeds(MANIFEST.inputs, feeds);
    const words = MANIFEST.inputs.map((spec, i) => toWords(spec, data[i]));
    MANIFEST.inputs.forEach((spec, i) => { if (words[i].byteLength) device.queue.writeBuffer(arena, spec.offset, words[i]); });`,
    `    const { d, shapes } = bindDims(MANIFEST.inputs, feeds, RT);
    const data = checkFeeds(MANIFEST.inputs, feeds, shapes);
    const ins = MANIFEST.inputs.map((spec, i) => ({ ...spec, shape: shapes[i] }));
    const words = ins.map((spec, i) => toWords(spec, data[i]));
    ins.forEach((spec, i) => { if (words[i].byteLength) device.queue.writeBuffer(arena, spec.offset, words[i]); });
    const dv = new Uint32Array(dimWords);
    RT.sources.forEach(([sym], k) => { dv[k] = d[sym]; });
    device.queue.writeBuffer(dimsBuf, 0, dv);`,
  ],
  [
    `    for (const [s, x, y, z] of STEPS) {
      pass.setPipeline(pipelines[s]);
      pass.dispatchWorkgroups(x, y, z);
    }`,
    `    STEPS.forEach(([s, x, y, z], j) => {
      const g = GRID[j] ? GRID[j](d) : [x, y, z];
      if (g[0] === 0 || g[1] === 0 || g[2] === 0) return; // an empty runtime dim: nothing to compute
      pass.setPipeline(pipelines[s]);
      pass.dispatchWorkgroups(g[0], g[1], g[2]);
    });`,
  ],
  [
    `    let total = 0;
    const at = MANIFEST.outputs.map(`,
    `    const outs = MANIFEST.outputs.map((o, i) => ({ ...o, shape: RT.outputShape[i](d) }));
    let total = 0;
    const at = outs.map(`,
  ],
  [
    `    MANIFEST.outputs.forEach((o, i) => {
      const bytes`,
    `    outs.forEach((o, i) => {
      const bytes`,
  ],
  [
    `    MANIFEST.outputs.forEach((o, i) => {
      res[o.name]`,
    `    outs.forEach((o, i) => {
      res[o.name]`,
  ],
  [
    `destroy() { arena.destroy(); weights.destroy(); status.destroy(); },`,
    `destroy() { arena.destroy(); weights.destroy(); status.destroy(); dimsBuf.destroy(); },`,
  ],
  [
    `    run(feeds) {
      const r = queue.then(() => runOnce(feeds));`,
    `    run(feeds, opts) {
      if (opts && opts.kvShared && !MANIFEST.kvPairs) return Promise.reject(lutcError('LUT5005', 'run(feeds, { kvShared: true }): the model has no cache pairs a shared buffer serves (GroupQueryAttention past/present graph inputs and outputs)'));
      const r = queue.then(() => runOnce(feeds, opts));`,
  ],
  ['  return {\n    manifest: MANIFEST,', '  const model = {\n    manifest: MANIFEST,'],
  [
    '    destroy() { arena.destroy(); weights.destroy(); status.destroy(); dimsBuf.destroy(); },\n  };\n}',
    '    destroy() { arena.destroy(); weights.destroy(); status.destroy(); dimsBuf.destroy(); },\n  };\n  // decoders: greedy generation in the artifact (artifact-runtime.ts GENERATE_JS)\n  if (MANIFEST.decoder) model.generate = makeGenerate(MANIFEST.decoder, MANIFEST.inputs, (f, o) => model.run(f, o));\n  return model;\n}',
  ],
].reduce((text, [from, to]) => edit(text, from!, to!), RUNTIME);

/**
 * RUNTIME_DIMS for a model with shared-buffer cache pairs (MANIFEST.kvPairs): the DIMS word after the
 * dims is the run's kvShared flag; `run(feeds, { kvShared: true })` keeps each pair's present slot as
 * the cache (its bound rows per head): a past given as { shape } alone is there already, one with
 * data is written in per head; the presents are not read back (each has `read()`: a Promise of its
 * data); and model.generate (decoders) runs that way.
 */
const RUNTIME_KV = [
  [
    'const dimWords = Math.max(4, Math.ceil(RT.sources.length / 4) * 4);',
    'const dimWords = Math.max(4, Math.ceil((RT.sources.length + 1) / 4) * 4);',
  ],
  [
    '  async function runOnce(feeds) {',
    "  async function runOnce(feeds, opts) {\n    const shared = !!(opts && opts.kvShared);\n    const kept = new Set();\n    const pastOf = new Map(shared ? MANIFEST.kvPairs : []);\n    if (shared && feeds && typeof feeds === 'object')\n      for (const [i] of MANIFEST.kvPairs) {\n        const v = feeds[MANIFEST.inputs[i].name];\n        if (v && typeof v === 'object' && !ArrayBuffer.isView(v) && !Array.isArray(v) && v.data === undefined && Array.isArray(v.shape)) kept.add(MANIFEST.inputs[i].name);\n      }",
  ],
  [
    `    const data = checkFeeds(MANIFEST.inputs, feeds, shapes);
    const ins = MANIFEST.inputs.map((spec, i) => ({ ...spec, shape: shapes[i] }));
    const words = ins.map((spec, i) => toWords(spec, data[i]));
    ins.forEach((spec, i) => { if (words[i].byteLength) device.queue.writeBuffer(arena, spec.offset, words[i]); });`,
    `    const data = checkFeeds(MANIFEST.inputs, feeds, shapes, kept);
    const ins = MANIFEST.inputs.map((spec, i) => ({ ...spec, shape: shapes[i] }));
    const words = ins.map((spec, i) => (data[i] === null ? null : toWords(spec, data[i])));
    ins.forEach((spec, i) => {
      if (!words[i] || !words[i].byteLength) return;
      if (!pastOf.has(i)) return void device.queue.writeBuffer(arena, spec.offset, words[i]);
      // a past with data in the shared mode: into its present's slot, the bound rows per head
      const o = MANIFEST.outputs[pastOf.get(i)];
      const [B, G, P, H] = spec.shape;
      if (P > o.shape[2]) throw lutcError('LUT5009', 'input ' + JSON.stringify(spec.name) + ': past length ' + P + ' is beyond the cache capacity ' + o.shape[2] + ' of ' + JSON.stringify(o.name));
      for (let k = 0; k < B * G; k++) device.queue.writeBuffer(arena, o.offset + k * o.shape[2] * H * 4, words[i], k * P * H, P * H);
    });`,
  ],
  [
    '    RT.sources.forEach(([sym], k) => { dv[k] = d[sym]; });',
    '    RT.sources.forEach(([sym], k) => { dv[k] = d[sym]; });\n    dv[RT.sources.length] = shared ? 1 : 0;',
  ],
  [
    '    const outs = MANIFEST.outputs.map((o, i) => ({ ...o, shape: RT.outputShape[i](d) }));',
    '    const kvOut = new Set(shared ? MANIFEST.kvPairs.map((p) => p[1]) : []);\n    const outs = MANIFEST.outputs.map((o, i) => ({ ...o, shape: kvOut.has(i) ? [0] : RT.outputShape[i](d) }));',
  ],
  [
    `    outs.forEach((o, i) => {
      res[o.name]`,
    `    outs.forEach((o, i) => {
      if (kvOut.has(i)) {
        // the cache itself stays on the device: read() copies it out (rows of each head the bound apart)
        const shape = RT.outputShape[i](d);
        const spec = MANIFEST.outputs[i];
        const [B, G, T, H] = shape;
        res[o.name] = { shape, dtype: o.dtype, read: () => queue.then(async () => {
          const n = B * G * spec.shape[2] * H;
          const rb = device.createBuffer({ size: Math.max(4, n * 4), usage: MAP_READ | COPY_DST });
          const e = device.createCommandEncoder();
          if (n) e.copyBufferToBuffer(arena, spec.offset, rb, 0, n * 4);
          device.queue.submit([e.finish()]);
          await rb.mapAsync(MAP_READ);
          const all = new Float32Array(rb.getMappedRange().slice(0));
          rb.unmap();
          rb.destroy();
          const out = new Float32Array(B * G * T * H);
          for (let k = 0; k < B * G; k++) out.set(all.subarray(k * spec.shape[2] * H, k * spec.shape[2] * H + T * H), k * T * H);
          return o.dtype === 'f16' ? halfOut(out) : out;
        }) };
        return;
      }
      res[o.name]`,
  ],
].reduce((text, [from, to]) => edit(text, from!, to!), RUNTIME_DIMS);

/** The host's grid helpers of runtime-dim steps: g1 (1-D shaders, shader-common.ts grid1) and gr (one workgroup per row). */
const GRID_JS = `
/** Workgroups of a 1-D shader over n invocations (none for n = 0). */
function g1(n) {
  if (n <= 0) return [0, 1, 1];
  const g = Math.ceil(n / ${WG});
  return g <= 65535 ? [g, 1, 1] : [65535, Math.ceil(g / 65535), 1];
}
/** One workgroup per row over n rows (none for n = 0). */
function gr(n) {
  if (n <= 0) return [0, 1, 1];
  const gx = Math.min(n, 65535);
  return [gx, Math.ceil(n / gx), 1];
}
`;

/** The text of model.mjs. */
export function renderHostModule(m: WgslModel, manifest: Manifest): string {
  const { shaders, steps } = dispatchTable(m);
  const rt = m.plan.dimSources.length > 0;
  const grid = m.kernels.flatMap((k, j) => (k.groupsJs ? [`  ${j}: (d) => ${k.groupsJs},`] : [])).join('\n');
  const dims = rt
    ? `/** Runtime dims: [symbol, input, axis, bound] sources, each input's and output's shape from the dims d. */
const RT = ${runtimeDimsJs(m.plan)};
/** Workgroups of the steps sized by the runtime dims: step -> (d) => [x, y, z]. */
const GRID = {
${grid}
};
${GRID_JS}`
    : '';
  return `// Generated by lutc (WGSL target). Runs the model ${JSON.stringify(m.plan.graph.name)} on a WebGPU device.
// ${rt ? "Shaders and buffer offsets are static, sized for the runtime dims' bounds; dispatches follow the dims of each run" : 'Shaders, the dispatch sequence and buffer offsets are static'}; weights are in weights.bin.
export const MANIFEST = ${JSON.stringify(manifest)};
const SHADERS = ${JSON.stringify(shaders)};
/** [shader index, workgroups x, y, z, node]. */
const STEPS = ${JSON.stringify(steps)};
/** Run-time checks by step id: [node, op, axis size]. */
const CHECKS = ${JSON.stringify(Object.fromEntries(m.kernels.flatMap((k) => (k.check ? [[k.check.step, [k.check.node, k.check.op, k.check.size]]] : []))))};
${dims}${RUNTIME_JS}${rt ? (manifest.kvPairs ? RUNTIME_KV : RUNTIME_DIMS) : RUNTIME}${manifest.decoder ? GENERATE_JS : ''}`;
}

/** The text of model.d.ts. */
export function renderDts(manifest: Manifest): string {
  const ins = manifest.inputs
    .map(
      (i) =>
        `  /** ${i.dtype} [${(i.dims ?? i.shape).join(', ')}] */\n  ${JSON.stringify(i.name)}: ${ioArrayType(i.dtype)} | ${i.dtype.endsWith('64') ? '(number | bigint)[]' : 'number[]'} | { data: ${ioArrayType(i.dtype)} | ArrayLike<number>; shape?: number[] };`,
    )
    .join('\n');
  const outs = manifest.outputs
    .map(
      (o) =>
        `  /** ${o.dtype} [${(o.dims ?? o.shape).join(', ')}] */\n  ${JSON.stringify(o.name)}: { data: ${ioArrayType(o.dtype)}; shape: number[]; dtype: ${JSON.stringify(o.dtype)} };`,
    )
    .join('\n');
  return `// Generated by lutc (WGSL target). API: docs/wasm-model.md ("Runtime API") in the lutc repository.
/// <reference types="@webgpu/types" />
${halfDts([...manifest.inputs, ...manifest.outputs].map((x) => x.dtype))}export interface ModelInputs {
${ins}
}
export interface ModelOutputs {
${outs}
}
export interface TensorInfo { name: string; dtype: string; shape: number[] }
/** Errors thrown by run(): message 'LUTnnnn: ...'; LUT5005-5007 bad feeds, LUT5008 a Gather index out of range (node set). */
export interface ModelError extends Error { code: string; node?: string }
export interface LoadOptions {
  /** The device to run on (default: navigator.gpu's). */
  device?: GPUDevice;
  /** weights.bin's bytes (default: fetched or read next to model.mjs). */
  weights?: ArrayBuffer | Uint8Array;
}
export interface LoadedModel {
  readonly manifest: typeof MANIFEST;
  readonly inputs: TensorInfo[];
  readonly outputs: TensorInfo[];
  /** Runs the model on one set of inputs; outputs by name. Rejects with a ModelError. */
  run(inputs: ModelInputs): Promise<ModelOutputs>;
  /** Frees the model's GPU buffers. */
  destroy(): void;
}
export declare const MANIFEST: ${JSON.stringify(manifest)};
export declare const inputs: TensorInfo[];
export declare const outputs: TensorInfo[];
/** Loads the model (load(device, opts), the older form, is accepted too). */
export declare function load(opts?: LoadOptions): Promise<LoadedModel>;
export declare function load(device: GPUDevice, opts?: { weights?: ArrayBuffer | Uint8Array }): Promise<LoadedModel>;
`;
}
