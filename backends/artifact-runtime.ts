/**
 * What the JavaScript glue of every compiled artifact shares (the wasm model.mjs and the WGSL host
 * module embed `RUNTIME_JS` verbatim), so both check feeds and report run-time failures identically
 * (docs/wasm-model.md, "Runtime API"):
 * - `checkFeeds(specs, feeds)` validates `run(feeds)`: every key a model input (else LUT5005), every
 *   input present (LUT5005), a value that is a typed array of the class its dtype takes (`ARRAY_OF`),
 *   a plain array (converted), or `{ data, shape }` (LUT5007 for any other value or typed-array
 *   class), the compiled element count and, when given, the compiled shape (LUT5006). It returns each
 *   input's data as its dtype's typed array, in spec order.
 * - `lutcError(code, message, extra)` is the Error they throw: message `LUTnnnn: ...`, `code` property,
 *   and for LUT5008 (a Gather index out of range, reported by the kernels) the `node` name.
 * And for the lutc side (`lutc run`): `artifactFeed` turns an IR tensor's data into what checkFeeds
 * accepts, and `rethrowCoded` turns such an Error into a located LutcError. Imports only base/ and ir/.
 */
import { type DiagCode, fail, isDiagCode, nodeLoc } from '../base/diagnostics.js';
import { jsDim } from '../ir/dim-expr.js';
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

/** JavaScript source shared by the artifacts' glue modules (no imports, plain ES2020). */
export const RUNTIME_JS = String.raw`
const ARRAY_OF = ${JSON.stringify(ARRAY_OF)};

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
 */
function checkFeeds(specs, feeds, shapes) {
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
    let data = v;
    let shape;
    if (!ArrayBuffer.isView(v) && !Array.isArray(v)) {
      if (typeof v !== 'object' || v.data === undefined)
        throw lutcError('LUT5007', 'input ' + name + ' is a ' + kindOfValue(v) + '; give a ' + ARRAY_OF[s.dtype] + ' or { data, shape }');
      data = v.data;
      shape = v.shape;
    }
    const C = globalThis[ARRAY_OF[s.dtype]];
    if (!(Array.isArray(data) || (ArrayBuffer.isView(data) && data instanceof C)))
      throw lutcError('LUT5007', 'input ' + name + ' is ' + describe(s) + ', which takes a ' + ARRAY_OF[s.dtype] + ' (or a plain array); got a ' + kindOfValue(data));
    if (shape !== undefined && (!Array.isArray(shape) || shape.length !== s.shape.length || shape.some((d, k) => d !== s.shape[k])))
      throw lutcError('LUT5006', 'input ' + name + ' has shape [' + (Array.isArray(shape) ? shape.join(', ') : String(shape)) + '], the model ' + (spec.dims ? 'takes ' : 'was compiled for ') + describe(s));
    const n = s.shape.reduce((a, b) => a * b, 1);
    if (data.length !== n)
      throw lutcError('LUT5006', 'input ' + name + ' has ' + data.length + ' elements, the model ' + (spec.dims ? 'takes ' : 'was compiled for ') + n + ' (' + describe(s) + ')');
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
