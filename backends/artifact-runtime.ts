/**
 * What the JavaScript glue of every compiled artifact shares (the wasm model.mjs and the WGSL host
 * module embed `RUNTIME_JS` verbatim), so both check feeds and report run-time failures identically
 * (docs/wasm-model.md, "Runtime API"):
 * - `checkFeeds(specs, feeds)` validates `run(feeds)`: every key a model input (else LUT5005), every
 *   input present (LUT5005), a value that is a typed array of the class its dtype takes (`ARRAY_OF`),
 *   a plain array (converted), or `{ data, shape }` (LUT5007 for any other value or typed-array
 *   class), the compiled element count and, when given, the compiled shape (LUT5006). It returns each
 *   input's data as its dtype's typed array, in spec order. f16 inputs also take HALF_TYPE (a
 *   Uint16Array of binary16 bits, a Float16Array) and become f32 values (`halfIn`); f16 outputs
 *   leave through `halfOut` as HALF_ARRAY (Float16Array where the engine has it, else bits).
 * - `lutcError(code, message, extra)` is the Error they throw: message `LUTnnnn: ...`, `code` property,
 *   and for LUT5008 (a Gather index out of range, reported by the kernels) the `node` name.
 * `GENERATE_JS` is model.generate of decoder artifacts (both loaders), over `decoderMeta`'s roles.
 * And for the lutc side (`lutc run`): `artifactFeed` turns an IR tensor's data into what checkFeeds
 * accepts, `artifactValues` an output's data back into values, and `rethrowCoded` turns such an Error into a located LutcError. Imports base/, ir/ and
 * compiler/generate.ts (decoderIO, the one recognizer of decoder I/O).
 */
import { type DiagCode, fail, isDiagCode, LutcError, nodeLoc } from '../base/diagnostics.js';
import { seededRandom } from '../base/random.js';
import { type DecoderIO, decoderIO, pickToken } from '../compiler/generate.js';
import { jsDim } from '../ir/dim-expr.js';
import { f16BitsToNumber } from '../ir/tensor.js';
import type { DType, Graph } from '../ir/types.js';
import type { ModelPlan, Placement } from './model-plan.js';

/** The typed-array class each dtype's input and output data is held in. */
export const ARRAY_OF: Record<string, string> = {
  f32: 'Float32Array',
  f16: 'Float32Array',
  bf16: 'Float32Array',
  f64: 'Float64Array',
  i64: 'BigInt64Array',
  u64: 'BigUint64Array',
  i32: 'Int32Array',
  u32: 'Uint32Array',
  i16: 'Int16Array',
  u16: 'Uint16Array',
  i8: 'Int8Array',
  i4: 'Int8Array',
  u8: 'Uint8Array',
  u4: 'Uint8Array',
  bool: 'Uint8Array',
};

/**
 * The typed array an f16 input or output is given / returned in by run(): the engine's Float16Array
 * where it has one, else a Uint16Array of IEEE binary16 bits (as onnxruntime-web returns float16).
 * Inside, the artifacts hold f16 values as f32 (ARRAY_OF); RUNTIME_JS's halfIn / halfOut convert at
 * the API boundary. The d.ts names both (`HALF_TYPE`).
 */
export const HALF_TYPE = 'Uint16Array | Float16ArrayLike';
/** The d.ts declaration of `Float16ArrayLike` (Float16Array is not in every TypeScript lib yet). */
export const HALF_DTS = `/** A Float16Array (engines that have one), else f16 I/O is a Uint16Array of IEEE binary16 bits. */
export type Float16ArrayLike = ArrayLike<number> & ArrayBufferView & { readonly BYTES_PER_ELEMENT: 2 };
`;

/** The d.ts type of an input's or output's data for `dtype` (f16: HALF_TYPE, else ARRAY_OF's class). */
export function ioArrayType(dtype: string): string {
  return dtype === 'f16' ? HALF_TYPE : (ARRAY_OF[dtype] ?? 'Float32Array');
}

/** HALF_DTS when any of `dtypes` is f16 (the d.ts then uses Float16ArrayLike), else ''. */
export function halfDts(dtypes: readonly string[]): string {
  return dtypes.includes('f16') ? HALF_DTS : '';
}

/** JavaScript source shared by the artifacts' glue modules (no imports, plain ES2020). */
export const RUNTIME_JS = String.raw`
const ARRAY_OF = ${JSON.stringify(ARRAY_OF)};

// f16 I/O (HALF_TYPE): Float16Array where the engine has it, else Uint16Array of binary16 bits
const HALF_ARRAY = typeof Float16Array === 'function' ? Float16Array : Uint16Array;
/** Decodes an IEEE binary16 bit pattern (ir/tensor.ts f16BitsToNumber). */
function f16BitsToNumber(h) {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}
/** Encodes to binary16, round to nearest even (as ir/tensor.ts numberToF16Bits: through float32 bits). */
function numberToF16Bits(v) {
  const f = new Float32Array([v]);
  const x = new Uint32Array(f.buffer)[0];
  const sign = (x >>> 16) & 0x8000;
  const e = (x >>> 23) & 0xff;
  const m = x & 0x7fffff;
  if (e === 255) return sign | (m ? 0x7e00 : 0x7c00);
  const he = e - 127 + 15;
  if (he >= 31) return sign | 0x7c00;
  if (he <= 0) {
    if (he < -10) return sign;
    const mm = m | 0x800000;
    const shift = 14 - he;
    let r = mm >>> shift;
    const rest = mm & ((1 << shift) - 1), half = 1 << (shift - 1);
    if (rest > half || (rest === half && (r & 1))) r++;
    return sign | r;
  }
  let r = (he << 10) | (m >>> 13);
  const rest = m & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (r & 1))) r++;
  return sign | r;
}
/** An f16 input's data as the f32 values the artifact holds: bits from a Uint16Array, values from anything else. */
function halfIn(data) {
  const out = new Float32Array(data.length);
  const bits = data instanceof Uint16Array;
  for (let i = 0; i < data.length; i++) out[i] = bits ? f16BitsToNumber(data[i]) : Number(data[i]);
  return out;
}
/** f16 output values (f32 in the artifact) in HALF_ARRAY. */
function halfOut(values) {
  if (HALF_ARRAY !== Uint16Array) return HALF_ARRAY.from(values);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = numberToF16Bits(values[i]);
  return out;
}
/** An output's data as numbers (f16 bits decoded), for the loops that read logits. */
function valuesOf(t) {
  return t.dtype === 'f16' && t.data instanceof Uint16Array ? Float32Array.from(t.data, f16BitsToNumber) : t.data;
}

/** A coded Error: message 'LUTnnnn: ...', with code (and extra fields such as node). */
function lutcError(code, message, extra) {
  const e = new Error(code + ': ' + message);
  e.code = code;
  if (extra) Object.assign(e, extra);
  return e;
}

const describe = (s) => s.dtype + ' [' + s.shape.join(', ') + ']';
const kindOfValue = (v) => (v === null ? 'null' : ArrayBuffer.isView(v) ? v.constructor.name : Array.isArray(v) ? 'Array' : typeof v);

/**
 * The runtime dims of a run (symbol -> size) read from the feeds' shapes, for a model compiled with
 * runtime dims (rt: { sources: [[sym, input, axis, bound]], inputShape: [(d) => shape] }); checks each
 * symbol against its bound (LUT5009) and every input's shape against the shape its dims give (LUT5006).
 * Returns the env and each input's expected shape, which checkFeeds then holds the data to.
 */
function bindDims(specs, feeds, rt) {
  const d = {};
  const given = specs.map((s) => {
    const v = feeds && feeds[s.name];
    if (v && !ArrayBuffer.isView(v) && !Array.isArray(v) && typeof v === 'object' && Array.isArray(v.shape)) return v.shape;
    if (v && (ArrayBuffer.isView(v) || Array.isArray(v)) && s.shape.length === 1) return [v.length];
    return undefined;
  });
  for (const [sym, input, axis, bound] of rt.sources) {
    const s = specs[input];
    const shape = given[input];
    if (shape === undefined) {
      if (feeds && typeof feeds === 'object' && feeds[s.name] !== undefined && feeds[s.name] !== null)
        throw lutcError('LUT5006', 'input ' + JSON.stringify(s.name) + ' has runtime dims (' + s.dims.join(', ') + '): give it as { data, shape }');
      continue; // missing: checkFeeds names it
    }
    const n = shape[axis];
    if (!Number.isInteger(n) || n < 0)
      throw lutcError('LUT5006', 'input ' + JSON.stringify(s.name) + ' has shape [' + shape.join(', ') + ']: dim ' + axis + ' (' + sym + ') is not a size');
    if (n > bound)
      throw lutcError('LUT5009', 'input ' + JSON.stringify(s.name) + ': runtime dim ' + sym + ' = ' + n + ' is beyond its compiled bound ' + bound + ' (--max-dim ' + sym + '=N)');
    d[sym] = n;
  }
  const shapes = specs.map((s, i) => {
    if (rt.sources.some((x) => d[x[0]] === undefined)) return s.shape;
    const want = rt.inputShape[i](d);
    const shape = given[i];
    if (shape !== undefined && (shape.length !== want.length || shape.some((x, k) => x !== want[k])))
      throw lutcError('LUT5006', 'input ' + JSON.stringify(s.name) + ' has shape [' + shape.join(', ') + '], but its dims (' + s.dims.join(', ') + ') are [' + want.join(', ') + '] for ' + Object.keys(d).map((k) => k + '=' + d[k]).join(', '));
    return want;
  });
  return { d, shapes };
}

/**
 * Validates run(feeds) against the input specs; returns each input's data as its dtype's typed array.
 * shapes: each input's expected shape when the model has runtime dims (bindDims), else the specs'.
 * kept: names of inputs whose data is already in the artifact (the shared KV buffer's pasts given as
 * { shape } alone): present but not checked for data; their entry is null.
 */
function checkFeeds(specs, feeds, shapes, kept) {
  const names = specs.map((s) => s.name);
  const list = names.map((n) => JSON.stringify(n)).join(', ') || 'none';
  if (!feeds || typeof feeds !== 'object' || Array.isArray(feeds) || ArrayBuffer.isView(feeds))
    throw lutcError('LUT5005', 'run() takes an object of inputs by name; the model\'s inputs: ' + list);
  for (const k of Object.keys(feeds))
    if (!names.includes(k)) throw lutcError('LUT5005', 'unknown input ' + JSON.stringify(k) + '; the model\'s inputs: ' + list);
  return specs.map((spec, i) => {
    const s = shapes ? { ...spec, shape: shapes[i] } : spec;
    const name = JSON.stringify(s.name);
    const v = feeds[s.name];
    if (v === undefined || v === null) throw lutcError('LUT5005', 'input ' + name + ' (' + describe(s) + ') is missing');
    if (kept && kept.has(s.name)) return null;
    let data = v;
    let shape;
    if (!ArrayBuffer.isView(v) && !Array.isArray(v)) {
      if (typeof v !== 'object' || v.data === undefined)
        throw lutcError('LUT5007', 'input ' + name + ' is a ' + kindOfValue(v) + '; give a ' + ARRAY_OF[s.dtype] + ' or { data, shape }');
      data = v.data;
      shape = v.shape;
    }
    const half = s.dtype === 'f16';
    const C = globalThis[ARRAY_OF[s.dtype]];
    const fits = (x) => x instanceof C || (half && (x instanceof Uint16Array || x instanceof HALF_ARRAY));
    if (!(Array.isArray(data) || (ArrayBuffer.isView(data) && fits(data))))
      throw lutcError('LUT5007', 'input ' + name + ' is ' + describe(s) + ', which takes a ' + (half ? HALF_ARRAY.name + ', a Uint16Array of float16 bits, a Float32Array' : ARRAY_OF[s.dtype]) + ' (or a plain array); got a ' + kindOfValue(data));
    if (shape !== undefined && (!Array.isArray(shape) || shape.length !== s.shape.length || shape.some((d, k) => d !== s.shape[k])))
      throw lutcError('LUT5006', 'input ' + name + ' has shape [' + (Array.isArray(shape) ? shape.join(', ') : String(shape)) + '], the model ' + (spec.dims ? 'takes ' : 'was compiled for ') + describe(s));
    const n = s.shape.reduce((a, b) => a * b, 1);
    if (data.length !== n)
      throw lutcError('LUT5006', 'input ' + name + ' has ' + data.length + ' elements, the model ' + (spec.dims ? 'takes ' : 'was compiled for ') + n + ' (' + describe(s) + ')');
    if (half && !(data instanceof C)) return halfIn(data);
    if (data instanceof C) return data;
    const out = new C(n);
    const big = C === BigInt64Array || C === BigUint64Array;
    for (let i = 0; i < n; i++) {
      const x = Number(data[i]);
      if (big && !Number.isFinite(x)) throw lutcError('LUT5007', 'input ' + name + ': element ' + i + ' (' + data[i] + ') is not an integer');
      out[i] = big ? BigInt(Math.trunc(x)) : x;
    }
    return out;
  });
}

/** The Error of a kernel's failed run-time check (check: [node, op, axis size]). */
function indexError(check, value) {
  return lutcError('LUT5008', 'node ' + JSON.stringify(check[0]) + ' (' + check[1] + '): index ' + value + ' is out of range for an axis of size ' + check[2], { node: check[0] });
}
`;

/**
 * The `rt` argument of RUNTIME_JS's bindDims for a plan with runtime dims, as JavaScript source
 * (`null` for a static plan): the dims' source axes and bounds, and each input's and output's shape
 * as a function of the dims (ir/dim-expr.ts jsDim).
 */
export function runtimeDimsJs(plan: ModelPlan): string {
  if (plan.dimSources.length === 0) return 'null';
  const shapeFn = (p: Placement) => `(d) => [${(p.dims ?? p.shape).map((x) => jsDim(x)).join(', ')}]`;
  return `{
  sources: ${JSON.stringify(plan.dimSources.map((s) => [s.sym, s.input, s.axis, s.bound]))},
  inputShape: [${plan.inputs.map(shapeFn).join(', ')}],
  outputShape: [${plan.outputs.map(shapeFn).join(', ')}],
}`;
}

/** An IR tensor's data as run(feeds) takes it for `dtype` (the interpreter keeps i64 as doubles). */
export function artifactFeed(dtype: DType, data: ArrayLike<number | bigint>): ArrayLike<number | bigint> {
  const name = ARRAY_OF[dtype]!;
  if ((data as object).constructor?.name === name) return data;
  const C = (globalThis as unknown as Record<string, new (n: number) => (number | bigint)[]>)[name]!;
  const big = dtype === 'i64' || dtype === 'u64';
  const out = new C(data.length);
  for (let i = 0; i < data.length; i++) out[i] = big ? BigInt(Math.trunc(Number(data[i]))) : Number(data[i]);
  return out;
}

/** An output's data as IR tensor values (f16: bits of a Uint16Array decoded; Float16Array values as they are). */
export function artifactValues(dtype: string, data: ArrayLike<number | bigint>): ArrayLike<number | bigint> {
  return dtype === 'f16' && data instanceof Uint16Array ? Float32Array.from(data, f16BitsToNumber) : data;
}

/** Rethrows an artifact's coded Error (LUTnnnn, see RUNTIME_JS) as a LutcError located at its node; other errors as they are. */
export function rethrowCoded(e: unknown, graph: Graph): never {
  const err = e as { code?: unknown; message?: unknown; node?: unknown } | undefined;
  if (err && typeof err.code === 'string' && isDiagCode(err.code)) {
    const node = typeof err.node === 'string' ? graph.nodes.find((n) => n.name === err.node) : undefined;
    // the location names the node, so the message drops the API's `node "x" (op): ` prefix
    const msg = String(err.message)
      .replace(/^LUT\d{4}: /, '')
      .replace(node ? /^node "(?:[^"\\]|\\.)*" \([^)]*\): / : /^$/, '');
    fail(err.code as DiagCode, msg, node ? nodeLoc(node, graph.meta?.file) : undefined);
  }
  throw e;
}

/** The decoder roles model.generate needs (compiler/generate.ts decoderIO), and whether it runs the shared KV buffer. */
export interface DecoderMeta {
  inputIds: string;
  attentionMask?: string;
  positionIds?: string;
  logits: string;
  cache: { past: string; present: string }[];
  /** Every cache pair is served by the shared past/present buffer: generate runs kvShared. */
  shared: boolean;
}

/**
 * The decoder roles of `plan`'s graph I/O, or undefined when it is no decoder (or has no runtime
 * dims, so its cache cannot grow). `kvPairs`: the artifact's shared-buffer pairs [input, output].
 */
export function decoderMeta(plan: ModelPlan, kvPairs: readonly (readonly [number, number])[]): DecoderMeta | undefined {
  if (!plan.dimSources.length) return undefined;
  let io: DecoderIO;
  try {
    io = decoderIO(plan.graph);
  } catch (e) {
    if (e instanceof LutcError) return undefined;
    throw e;
  }
  const ins = plan.graph.inputs.map((v) => v.name);
  const outs = plan.graph.outputs.map((v) => v.name);
  const served = new Set(kvPairs.map(([i, o]) => `${ins[i]}>${outs[o]}`));
  return {
    inputIds: io.inputIds,
    ...(io.attentionMask && { attentionMask: io.attentionMask }),
    ...(io.positionIds && { positionIds: io.positionIds }),
    logits: io.logits,
    cache: io.cache.map((c) => ({ past: c.past, present: c.present })),
    shared: io.cache.length > 0 && io.cache.every((c) => served.has(`${c.past}>${c.present}`)),
  };
}

/**
 * model.generate of decoder artifacts (wasm and WGSL loaders; plain ES2020, after RUNTIME_JS):
 * `makeGenerate(dec, specs, run)` returns `generate(prompt, { maxNewTokens = 16, eosTokenIds = [],
 * temperature = 0, topK = 0, topP = 1, seed = 0, onToken })` -> Promise<{ tokens, prefillMs,
 * decodeMs }>, the loop of compiler/generate.ts: batch 1, the prompt in one step from an empty cache
 * (each past's sequence dim 0), then one token per step, a mask of ones, positions past + i, each
 * token compiler/generate.ts's `pickToken` (greedy, or sampled with base/random.ts's generator: both
 * embedded from their sources, so a seed means the same thing as in lutc), NaN logits LUT6043, in the
 * shared past/present buffer mode when `dec.shared` (the cache never leaves the artifact).
 */
export const GENERATE_JS = `
${seededRandom.toString()}
${pickToken.toString()}
function makeGenerate(dec, specs, run) {
  const spec = (name) => specs.find((s) => s.name === name);
  return async function generate(prompt, opts = {}) {
    const ids = Array.from(prompt ?? [], Number);
    if (!ids.length || ids.some((x) => !Number.isInteger(x) || x < 0))
      throw lutcError('LUT5007', 'generate(prompt): the prompt must be a non-empty array of token ids (non-negative integers)');
    const maxNew = opts.maxNewTokens ?? 16;
    const eos = new Set(opts.eosTokenIds ?? []);
    const rand = seededRandom(opts.seed ?? 0);
    const IdArray = globalThis[ARRAY_OF[spec(dec.inputIds).dtype]];
    const big = IdArray === BigInt64Array;
    const idFeed = (xs) => ({ data: IdArray.from(xs, (x) => (big ? BigInt(x) : x)), shape: [1, xs.length] });
    let past = {};
    for (const c of dec.cache) {
      const s = spec(c.past);
      past[c.past] = { data: s.dtype === 'f16' ? new HALF_ARRAY(0) : new globalThis[ARRAY_OF[s.dtype]](0), shape: s.dims.map((d, i) => (typeof d === 'number' ? d : i === 0 ? 1 : 0)) };
    }
    const tokens = [];
    let pastLen = 0, step = ids, prefillMs = 0, decodeMs = 0;
    while (tokens.length < maxNew) {
      const S = step.length;
      const feeds = { ...past, [dec.inputIds]: idFeed(step) };
      if (dec.attentionMask) feeds[dec.attentionMask] = { data: new BigInt64Array(pastLen + S).fill(1n), shape: [1, pastLen + S] };
      if (dec.positionIds) feeds[dec.positionIds] = { data: BigInt64Array.from(step, (_, i) => BigInt(pastLen + i)), shape: [1, S] };
      const t0 = performance.now();
      const out = await run(feeds, dec.shared ? { kvShared: true } : undefined);
      const ms = performance.now() - t0;
      if (pastLen === 0) prefillMs = ms; else decodeMs += ms;
      const l = out[dec.logits];
      const V = l.shape[l.shape.length - 1];
      const lv = valuesOf(l);
      const id = pickToken(lv.subarray(lv.length - V), opts.temperature ?? 0, opts.topK ?? 0, opts.topP ?? 1, rand);
      if (id < 0) throw lutcError('LUT6043', 'generate: the logits hold NaN (vocabulary entry ' + (-1 - id) + ')');
      tokens.push(id);
      if (opts.onToken) opts.onToken(id);
      if (eos.has(id)) break;
      past = {};
      for (const c of dec.cache) {
        const o = out[c.present];
        past[c.past] = dec.shared ? { shape: o.shape } : { data: o.data, shape: o.shape };
      }
      pastLen += S;
      step = [id];
    }
    return { tokens, prefillMs, decodeMs };
  };
}
`;
