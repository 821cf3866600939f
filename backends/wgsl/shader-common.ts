/**
 * What every WGSL step shader of a compiled model shares: the two bindings (the activation arena,
 * read-write, and the constant weight blob, read-only, both `array<u32>`), element accessors with the
 * static word offsets of model-plan.ts's placements baked in, index math from static strides, literals
 * and the 1-D grid every elementwise shader uses.
 *
 * Storage (docs/wgsl.md): every element is one 32-bit word -- floats (f32, and f16/bf16 computed in
 * f32 and rounded to their type on store) as f32 bits, signed ints (i4..i32, and i64 held as i32) as
 * i32, unsigned ints and bool as u32 -- except the packed LUT weights, which stay bytes. One binding
 * layout for every step lets the host build one bind group and record the whole model in one pass.
 *
 * Runtime dims (a plan with `Placement.dims`): the dims of a run are in a small uniform buffer
 * (binding 3, `DIMS`: one u32 per symbol, in the plan's `dimSources` order) written once per run by
 * the host. `StepCtx.dim` renders a dim as a u32 WGSL expression over it (a number stays the literal
 * `u()` gives, so a static step renders exactly as without runtime dims), `dimsOf` is a placement's
 * dims, and the Dim-generic helpers (coords, bcastIndex, operandIndex, main1 with a `Dim` count)
 * give byte-identical text for all-number shapes. A kernel of a runtime step sets `groupsJs`, the
 * host's JS expression of its workgroup counts over the run's dims `d` (a zero count skips it).
 */
import { type DiagCode, fail, nodeLoc } from '../../base/diagnostics.js';
import { dimMul, dimSymbols, foldDim, jsDim } from '../../ir/dim-expr.js';
import { opOf, resolveAttrs } from '../../ir/optable.js';
import { strides } from '../../ir/tensor.js';
import type { Attrs, Dim, DType, Node, Tensor } from '../../ir/types.js';
import { inputIndex, type Placement } from '../model-plan.js';

/** WGSL scalar kind an element is computed in. */
export type Kind = 'f' | 'i' | 'u';
export const WGSL_TYPE: Record<Kind, string> = { f: 'f32', i: 'i32', u: 'u32' };

/** Invocations per workgroup of the 1-D shaders (SwiftShader allows at most 256). */
export const WG = 64;

/** The kind a dtype is computed in; f64 has no WGSL type and is diagnosed by the caller. */
export function kindOf(dt: DType): Kind {
  if (dt === 'f32' || dt === 'f16' || dt === 'bf16' || dt === 'f64') return 'f';
  if (dt === 'i4' || dt === 'i8' || dt === 'i16' || dt === 'i32' || dt === 'i64') return 'i';
  return 'u';
}

/** One compute dispatch of a step. */
export interface Kernel {
  /** Node name and part, for error messages and the manifest. */
  label: string;
  code: string;
  groups: [number, number, number];
  /** A run-time check the shader reports into STATUS_DECL's buffer (Gather indices): step id, node, op, axis size. */
  check?: { step: number; node: string; op: string; size: number };
  /**
   * Runtime dims: the workgroup counts as a JS expression over the run's dims `d` (the host module's
   * `g1(n)` is grid1 for a runtime count, [0, 1, 1] for none); `groups` is then the count at the bounds.
   */
  groupsJs?: string;
}

/**
 * The status buffer (binding 2) of shaders with run-time checks. The host sets S[0] = 0xffffffff
 * before each run; a failing check does `atomicMin(&S[0], step)` and, when that lowered it, stores
 * the offending value (i32 bits) in S[1]. Dispatches run in order, so S[0] ends as the first failing
 * step. The host module reads it back with the outputs and throws LUT5008.
 */
export const STATUS_DECL = '@group(0) @binding(2) var<storage, read_write> S: array<atomic<u32>, 4>;\n';

/** What an op renderer sees: the node, resolved attributes, planned operands and a located error. */
export interface StepCtx {
  node: Node;
  attrs: Attrs;
  ins: (Placement | null)[];
  outs: Placement[];
  /** Throws a coded diagnostic located at the node. */
  fail(code: DiagCode, message: string): never;
  /** Input i's constant value, if it is a constant. */
  constOf(i: number): Tensor | undefined;
  /** The step's index in the plan (the id run-time checks report). */
  step: number;
  /** A dim as a u32 WGSL expression (numbers: `u(n)`; symbols read DIMS, see the header). */
  dim: DimFn;
  /** The symbol of the first runtime dim of the step's placements (undefined for a static step). */
  runtime?: string;
  /** A group_query_attention whose cache pairs the shared past/present buffer serves (its DIMS flag). */
  kvShared?: boolean;
}

/**
 * The pseudo-symbol whose DIMS word (after the runtime dims') is a run's shared past/present buffer
 * flag (models with runtime dims and cache pairs: model-plan.ts gqaCachePairs).
 */
export const KV_SHARED_SYM = '__kv_shared';

/** Renders a dim as a u32 WGSL expression. */
export type DimFn = (d: Dim) => string;

/** The uniform of runtime dims (binding 3): symbol i of the plan's `dimSources` is DIMS[i / 4][i % 4]. */
export const dimsDecl = (count: number): string =>
  `@group(0) @binding(3) var<uniform> DIMS: array<vec4u, ${Math.max(1, Math.ceil(count / 4))}>;\n`;

/** Whether a shader reads the runtime dims (it then needs `dimsDecl`). */
export const usesDims = (code: string): boolean => /\bDIMS\[/.test(code);

const NOT_UNSIGNED = new Error('not a u32 polynomial');

/**
 * The dim renderer over runtime-dim symbols `syms` (in DIMS order): a number is `u(n)`, a symbol its
 * DIMS word, a polynomial with non-negative coefficients u32 arithmetic over them, any other
 * expression i32 arithmetic (floor division floors) converted to u32.
 */
export function dimFn(syms: readonly string[], fail: (sym: string) => never): DimFn {
  const word = (s: string) => {
    const k = syms.indexOf(s);
    if (k < 0) fail(s);
    return `DIMS[${k >> 2}].${'xyzw'[k & 3]}`;
  };
  const unsigned = (d: Dim): string | undefined => {
    // sums of products with non-negative coefficients stay in u32 (no conversions)
    const no = (): string => {
      throw NOT_UNSIGNED;
    };
    try {
      return foldDim<string>(d, {
        num: (n) => u(n),
        sym: word,
        add: (a, b) => `(${a} + ${b})`,
        mul: (a, b) => `(${a} * ${b})`,
        sub: no,
        floorDiv: no,
        min: no,
        max: no,
      });
    } catch (e) {
      if (e === NOT_UNSIGNED) return undefined;
      throw e;
    }
  };
  return (d) => {
    if (typeof d === 'number') return u(d);
    if (syms.includes(d)) return word(d);
    const ud = unsigned(d);
    if (ud !== undefined) return ud;
    const e = foldDim<string>(d, {
      num: (n) => `${n}`,
      sym: (s) => `i32(${word(s)})`,
      add: (a, b) => `(${a} + ${b})`,
      sub: (a, b) => `(${a} - ${b})`,
      mul: (a, b) => `(${a} * ${b})`,
      floorDiv: (a, k) => `select(${a} / ${k}, (${a} - ${k - 1}) / ${k}, ${a} < 0)`,
      min: (a, b) => `min(${a}, ${b})`,
      max: (a, b) => `max(${a}, ${b})`,
    });
    return `u32(${e})`;
  };
}

/** The dim renderer of a static step: every dim is a number. */
export const staticDim: DimFn = (d) => {
  if (typeof d !== 'number') throw new Error(`internal: runtime dim '${d}' in a static WGSL step`);
  return u(d);
};

/** A placement's shape in dims (its runtime dims, else its static shape). */
export const dimsOf = (p: Placement): Dim[] => p.dims ?? p.shape;

/** The element count of dims (a number when they all are). */
export const numelD = (ds: readonly Dim[]): Dim => ds.reduce<Dim>((a, b) => dimMul(a, b), 1);

/** Row-major strides of dims (numbers when they all are: ir/tensor.ts `strides`). */
export function stridesD(ds: readonly Dim[]): Dim[] {
  const out: Dim[] = new Array(ds.length);
  let acc: Dim = 1;
  for (let i = ds.length - 1; i >= 0; i--) {
    out[i] = acc;
    acc = dimMul(acc, ds[i]!);
  }
  return out;
}

/** The host's workgroup counts of a 1-D shader over `n` invocations (JS over the run's dims `d`). */
export const grid1Js = (n: Dim): string => `g1(${jsDim(n)})`;

/** The fields of a 1-D kernel over `n` invocations: static `groups`, and `groupsJs` when `n` is a runtime dim. */
export function grid1Of(n: Dim, bound: number): Pick<Kernel, 'groups' | 'groupsJs'> {
  return typeof n === 'number' ? { groups: grid1(n) } : { groups: grid1(bound), groupsJs: grid1Js(n) };
}

export function stepCtx(
  node: Node,
  ins: (Placement | null)[],
  outs: Placement[],
  file?: string,
  step = 0,
  syms: readonly string[] = [],
): StepCtx {
  const loc = nodeLoc(node, file);
  const first = [...ins, ...outs].flatMap((p) => p?.dims ?? []).find((d) => typeof d === 'string');
  const runtime = first === undefined ? undefined : (dimSymbols(first)[0] ?? String(first));
  return {
    step,
    node,
    runtime,
    dim: runtime
      ? dimFn(syms, (s) => fail('LUT5004', `${node.op}: runtime dim '${s}' is not one the run reads from an input`, loc))
      : staticDim,
    ins,
    outs,
    attrs: resolveAttrs(opOf(node), node),
    fail: (code, message) => fail(code, message, loc),
    constOf: (i) => node.inputs[i]?.const,
  };
}

/** The compile-time value of operand `name`, which this backend needs as a constant (axes, starts, ...). */
export function constInts(c: StepCtx, name: string, what: string): number[] | undefined {
  const i = inputIndex(c, name);
  if (!c.node.inputs[i]) return undefined;
  const t = c.constOf(i);
  if (!t) c.fail('LUT5213', `the WGSL backend needs ${what} (input ${i}) to be a constant; it is computed at run time`);
  return Array.from(t.data as ArrayLike<number>);
}

export const HEADER = `@group(0) @binding(0) var<storage, read_write> A: array<u32>;
@group(0) @binding(1) var<storage, read> W: array<u32>;
// Non-finite constants as private variables: WGSL rejects inf/NaN in constant expressions.
var<private> NANB: u32 = 0x7fc00000u;
var<private> INFB: u32 = 0x7f800000u;
var<private> NINFB: u32 = 0xff800000u;
`;

/** A u32 literal. */
export const u = (v: number): string => `${v >>> 0}u`;

/** An f32 literal (exact for the f32 value of `v`). */
export function f(v: number): string {
  const x = Math.fround(v);
  if (Number.isNaN(x)) return 'bitcast<f32>(NANB)';
  if (x === Infinity) return 'bitcast<f32>(INFB)';
  if (x === -Infinity) return 'bitcast<f32>(NINFB)';
  const s = Object.is(x, -0) ? '-0.0' : Number.isInteger(x) && Math.abs(x) < 1e21 ? `${x}.0` : x.toExponential(9);
  return `f32(${s})`;
}

/** A literal of kind `k`. */
export function lit(k: Kind, v: number): string {
  if (k === 'f') return f(v);
  if (k === 'i') return `i32(${Math.trunc(v) | 0})`;
  return u(Math.trunc(v) >>> 0);
}

/** Word offset of a placement (placements are 64-byte aligned). */
export const wordOff = (p: Placement): number => p.offset / 4;

/** `fn name(i: u32) -> T`: element i of placement `p`, converted to its kind. */
export function loadFn(name: string, p: Placement): string {
  const buf = p.region === 'weights' ? 'W' : 'A';
  const k = kindOf(p.dtype);
  const word = `${buf}[${u(wordOff(p))} + i]`;
  const v = k === 'f' ? `bitcast<f32>(${word})` : k === 'i' ? `bitcast<i32>(${word})` : word;
  return `fn ${name}(i: u32) -> ${WGSL_TYPE[k]} { return ${v}; }\n`;
}

/** `fn name(i: u32, v: T)`: stores element i of `p`, rounding/wrapping to its dtype as the interpreter does. */
export function storeFn(name: string, p: Placement): string {
  const k = kindOf(p.dtype);
  let v: string;
  switch (p.dtype) {
    case 'f16':
      v = 'bitcast<u32>(unpack2x16float(pack2x16float(vec2f(v, 0.0))).x)';
      break;
    case 'bf16':
      v = 'rbf16(v)';
      break;
    case 'i8':
      v = 'bitcast<u32>((v << 24u) >> 24u)';
      break;
    case 'i16':
      v = 'bitcast<u32>((v << 16u) >> 16u)';
      break;
    case 'i4':
      v = 'bitcast<u32>((v << 28u) >> 28u)';
      break;
    case 'u8':
      v = 'v & 0xffu';
      break;
    case 'u16':
      v = 'v & 0xffffu';
      break;
    case 'u4':
      v = 'v & 0xfu';
      break;
    case 'bool':
      v = 'select(0u, 1u, v != 0u)';
      break;
    default:
      v = k === 'u' ? 'v' : 'bitcast<u32>(v)';
  }
  const bf =
    p.dtype === 'bf16'
      ? `fn rbf16(v: f32) -> u32 { let x = bitcast<u32>(v); if ((x & 0x7f800000u) == 0x7f800000u && (x & 0x7fffffu) != 0u) { return x; } return ((x + 0x7fffu + ((x >> 16u) & 1u)) >> 16u) << 16u; }\n`
      : '';
  return `${bf}fn ${name}(i: u32, v: ${WGSL_TYPE[k]}) { A[${u(wordOff(p))} + i] = ${v}; }\n`;
}

/** Accessors in0.., out0.. for every present operand of a step (absent optional ones are skipped). */
export function accessors(c: StepCtx): string {
  let s = '';
  c.ins.forEach((p, i) => {
    if (p) s += loadFn(`in${i}`, p);
  });
  c.outs.forEach((p, i) => {
    s += storeFn(`out${i}`, p);
  });
  return s;
}

/** Workgroups for `n` invocations of a WG-wide 1-D shader (split over y past 65535 groups). */
export function grid1(n: number): [number, number, number] {
  const g = Math.max(1, Math.ceil(n / WG));
  return g <= 65535 ? [g, 1, 1] : [65535, Math.ceil(g / 65535), 1];
}

/** A 1-D shader over `n` invocations (a dim: rendered by `dim`): `body` sees `i: u32` (the invocation's flat index). */
export function main1(n: Dim, body: string, decls = '', dim: DimFn = staticDim): string {
  return `${HEADER}${decls}
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * ${u(WG)};
  if (i >= ${dim(n)}) { return; }
${body}
}
`;
}

/**
 * Statements decomposing flat index `idx` of `shape` into coordinates `${p}0..` (row-major);
 * unit dims get a literal 0. Returns the code and the coordinate expressions.
 */
export function coords(shape: readonly Dim[], idx = 'i', p = 'c', dim: DimFn = staticDim): { code: string; c: string[] } {
  const c: string[] = [];
  let code = `  var ${p}r = ${idx};\n`;
  for (let a = shape.length - 1; a >= 0; a--) {
    const d = shape[a]!;
    if (d === 1) {
      c[a] = '0u';
      continue;
    }
    code += `  let ${p}${a} = ${p}r % ${dim(d)}; ${p}r = ${p}r / ${dim(d)};\n`;
    c[a] = `${p}${a}`;
  }
  code += `  _ = ${p}r;\n`;
  return { code, c };
}

/**
 * Flat index into a tensor of `inShape` broadcast (numpy rules) to the output coordinates `c`. A
 * runtime input dim not known to equal the output's is 1 or the output's at run time: its coordinate
 * is `c % dim` (0 or c).
 */
export function bcastIndex(inShape: readonly Dim[], outShape: readonly Dim[], c: readonly string[], dim: DimFn = staticDim): string {
  const st = inShape.every((d) => typeof d === 'number') ? strides(inShape as number[]) : stridesD(inShape);
  const off = outShape.length - inShape.length;
  const terms: string[] = [];
  inShape.forEach((d, j) => {
    if (d === 1) return;
    const s = st[j]!;
    const cj = typeof d === 'number' || d === outShape[j + off] ? c[j + off]! : `(${c[j + off]!} % ${dim(d)})`;
    terms.push(s === 1 ? cj : `${cj} * ${dim(s)}`);
  });
  return terms.length ? terms.join(' + ') : '0u';
}

export const sameShape = (a: readonly Dim[], b: readonly Dim[]): boolean => a.length === b.length && a.every((d, i) => d === b[i]);

/** Index expression of an operand in an elementwise op: `i` when shapes match, else broadcast math. */
export function operandIndex(inShape: readonly Dim[], outShape: readonly Dim[], c: readonly string[], dim: DimFn = staticDim): string {
  return sameShape(inShape, outShape) ? 'i' : bcastIndex(inShape, outShape, c, dim);
}

/** Converts expression `e` of kind `from` to kind `to` (value conversion, as WGSL's constructors do). */
export function conv(e: string, from: Kind, to: Kind): string {
  return from === to ? e : `${WGSL_TYPE[to]}(${e})`;
}
