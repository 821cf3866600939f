/**
 * Core of the whole-model WASM emitter: the emission context (one binaryen module, the static memory
 * map, compile-time extra constants and per-step scratch), typed scalar loads/stores per dtype, loop
 * nests over strided views, and `emitMap` -- the one elementwise engine behind unary/binary ops,
 * broadcasting, copies, transposes, slices and epilogues. Sizes, strides and addresses are `Dim`s
 * (ir/dim-expr.ts): a number is a compile-time constant baked into the step's function, a dim
 * expression is rendered as i32 code over the `dim<i>` globals (one per plan.dimSources entry, set by
 * model.mjs before each run). One function serves both: when every dim is a number, emitMap,
 * emitCopy and nest emit the constant forms (counted loops, constant increments, no guards), so a
 * static model gets the same code as before runtime dims existed.
 */
import binaryen from 'binaryen';
import { type DiagCode, fail, nodeLoc } from '../../../base/diagnostics.js';
import { dimEquals, dimFloorDiv, dimMin, dimMul, dimSub, dimSymbols, foldDim } from '../../../ir/dim-expr.js';
import type { Dim, DType, Node } from '../../../ir/types.js';
import { kernelByteSize, type ModelPlan, type Placement, type PlanStep } from '../../model-plan.js';
import { type Expr, FnBuilder } from '../builder.js';

/** Scalar compute kind of a dtype in compiled kernels (f16/bf16 compute and store as f32). */
export type Kind = 'f32' | 'f64' | 'i32' | 'i64';

export function kindOf(dt: DType): Kind {
  switch (dt) {
    case 'f32':
    case 'f16':
    case 'bf16':
      return 'f32';
    case 'f64':
      return 'f64';
    case 'i64':
    case 'u64':
      return 'i64';
    default:
      return 'i32';
  }
}
export const typeOfKind = (k: Kind): number => binaryen[k];

/** A strided view over memory: element (i0, i1, ...) of the iteration shape is at addr + Σ i_d strides[d] elements. */
export interface View {
  addr: number;
  dtype: DType;
  /** Strides in elements, one per iteration dim (0 = broadcast). */
  strides: number[];
}

/** Row-major strides in elements (ir/tensor.ts `strides`). */
export { strides as contiguous } from '../../../ir/tensor.js';

import { strides as contiguous } from '../../../ir/tensor.js';

/** Strides of a tensor of `inShape` broadcast (numpy, right-aligned) to `outShape`. */
export function broadcastStrides(inShape: readonly number[], outShape: readonly number[]): number[] {
  const st = contiguous(inShape);
  const r = outShape.length;
  return outShape.map((_, i) => {
    const j = i - (r - inShape.length);
    return j < 0 || inShape[j] === 1 ? 0 : st[j]!;
  });
}

export const numelOf = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
const align = (x: number, a = 64) => Math.ceil(x / a) * a;

/** Options of the whole-model emitter. */
export interface EmitOptions {
  /** Use relaxed SIMD in the LUT kernels (needs --experimental-wasm-relaxed-simd in Node 20). */
  relaxedSimd?: boolean;
  /**
   * Build the threaded module (model-mt.wasm): a shared imported memory, the atomics feature, and the
   * rows of each lut.matmul and the heads of group_query_attention split across `nthreads` instances
   * (see `Ctx.addPart` and module.ts `addThreading`). Off: the module is exactly the single-thread one.
   */
  threaded?: boolean;
  /** Threaded module: the multiply-adds from which a step is split (default PAR_MIN_WORK; tests use 0). */
  parMinWork?: number;
}

/**
 * Threaded module: the control block the main instance and the workers share (byte address; below
 * the arena, which starts at 1024). Words: generation (the futex workers wait on), task, nthreads,
 * done counter, arg, kv_shared, then one word per runtime dim (the workers' `dim<i>` globals are
 * their own, so each task carries the main instance's values).
 */
export const CTL = 256;
export const CTL_GEN = 0,
  CTL_TASK = 4,
  CTL_NT = 8,
  CTL_DONE = 12,
  CTL_ARG = 16,
  CTL_KV = 20,
  CTL_DIMS = 32;
/**
 * Multiply-adds below which a step is not split (the barrier would cost more than it saves): 2^19,
 * a 1024 x 512 gemv. Measured on the 2-core test machine (loaded): a split decode step paid ~30 us
 * per barrier, ~ what a thread saves on half of that gemv.
 */
export const PAR_MIN_WORK = 1 << 19;
/** The most runtime dims a threaded module carries in the control block. */
export const CTL_MAX_DIMS = (1024 - CTL - CTL_DIMS) / 4;
/** Exported mutable i32 global of the threaded module: the thread count (model.mjs sets it). */
export const NT_GLOBAL = 'nthreads';
/** The dispatcher of the threaded module: `lutc_par(task, arg)` runs part `task` on every thread, then returns. */
export const PAR_FN = 'lutc_par';

/**
 * Emission state for one model. Memory map (byte addresses, 64-aligned), fixed in two phases: every
 * step is first *prepared* (registers its compile-time constants and scratch), then *emitted* once
 * the map is final, so every address is a constant in the code:
 *   [arenaBase = 1024, +arenaBytes)   the plan's activation arena (liveness-reused, model-plan.ts)
 *   [weightsBase, +weightBytes)       constants of the plan (model-plan.ts weightBlob)
 *   [extraBase, +extraBytes)          constants the emitter derives (padded LUT bias, repacked LUT
 *                                     weights, transposed Gemm weights, dequantized NBits weights)
 *   [scratchBase, +scratchBytes)      per-step scratch (steps run one at a time, so all share it)
 * Weights and extras form one blob (`weightImage`): a data segment or the side file weights.bin.
 */
/** Globals a failed run-time check sets: nonzero flag, and the offending value (i64). */
export const ERR_GLOBAL = 'lutc_err';
/**
 * The exported mutable i32 global `kv_shared` (only in modules with cache pairs, model-plan.ts
 * gqaCachePairs): model.mjs sets it to 1 for a run in the shared past/present buffer mode, where each
 * pair's present slot (pinned by the plan, so it survives between runs) holds the past rows too, at
 * the cache's bound rows per head, and the kernel writes only the new rows.
 */
export const KV_SHARED_GLOBAL = 'kv_shared';
export const ERR_VALUE_GLOBAL = 'lutc_err_value';

export class Ctx {
  readonly arenaBase = 1024;
  readonly extraBlobs: { off: number; bytes: Uint8Array }[] = [];
  extraBytes = 0;
  scratchBytes = 0;
  private helpers = new Set<string>();
  /** WASM features the module needs (reported in manifest.json). */
  readonly features: Set<string> = new Set(['simd128', 'bulk-memory', 'nontrapping-fptoint', 'sign-ext']);
  /** JS imports used (module 'm'): names of Math functions. */
  readonly imports = new Set<string>();
  /** Threaded module: the part functions `(id, nt, arg)`, by task index (module.ts puts them in a table), and their nodes. */
  readonly parts: string[] = [];
  readonly partNodes: string[] = [];
  /** Threaded module: the multiply-adds from which a step is split (EmitOptions.parMinWork). */
  get parMinWork(): number {
    return this.opts.parMinWork ?? PAR_MIN_WORK;
  }
  /**
   * Steps with a run-time check (Gather indices) and their axis size. A failing check sets the
   * ERR_GLOBAL / ERR_VALUE_GLOBAL globals and returns from its step; `run` then returns the step's
   * index + 1 (module.ts), which model.mjs reports as LUT5008.
   */
  readonly checks = new Map<PlanStep, number>();
  constructor(
    readonly mod: binaryen.Module,
    readonly plan: ModelPlan,
    readonly opts: EmitOptions,
  ) {}

  /** The wasm global holding runtime dim `sym` (set by model.mjs before each run), by its plan.dimSources index. */
  dimGlobal(sym: string): string {
    const i = this.plan.dimSources.findIndex((s) => s.sym === sym);
    if (i < 0) throw new Error(`internal: runtime dim '${sym}' has no source`);
    return `dim${i}`;
  }

  get weightsBase(): number {
    return align(this.arenaBase + this.plan.arenaBytes);
  }
  get extraBase(): number {
    return align(this.weightsBase + this.plan.weightBytes);
  }
  /** Valid in the emit phase (after every step was prepared). */
  get scratchBase(): number {
    return align(this.extraBase + this.extraBytes);
  }
  get memoryEnd(): number {
    return this.scratchBase + this.scratchBytes;
  }

  /** Adds a compile-time constant (prepare phase); returns its absolute address. */
  addExtra(bytes: Uint8Array): number {
    const off = this.extraBytes;
    this.extraBlobs.push({ off, bytes });
    this.extraBytes = align(off + bytes.length);
    return this.extraBase + off;
  }
  /** Reserves scratch (prepare phase) from scratch offset `at`; returns the offset after it. */
  scratch(at: number, bytes: number): number {
    this.scratchBytes = Math.max(this.scratchBytes, align(at + bytes));
    return align(at + bytes);
  }
  /** Absolute address of a placement. */
  addrOf(p: Placement): number {
    return (p.region === 'weights' ? this.weightsBase : this.arenaBase) + p.offset;
  }
  /**
   * Threaded module (emit phase): adds part function `name(id, nt, arg)` built by `build` (its
   * runtime-dim prologue included; `id` in [0, nt) is the thread, `arg` what the dispatch passed)
   * and returns the call that runs it on every thread with one barrier (`lutc_par(task, arg)`), or,
   * when the run-time condition `worth` is false, the part alone as (0, 1, arg) on this thread.
   */
  addPart(
    node: string,
    name: string,
    build: (f: FnBuilder, id: number, nt: number, arg: number) => Expr[],
    arg: () => Expr = () => this.mod.i32.const(0),
    worth?: Expr,
  ): Expr {
    const { i32 } = binaryen;
    const m = this.mod;
    const f = new FnBuilder(m, [i32, i32, i32]);
    const body = build(f, 0, 1, 2);
    body.unshift(...stepPrologue(f));
    f.finish(name, binaryen.none, body.length ? body : [m.nop()]);
    this.parts.push(name);
    this.partNodes.push(node);
    const par = m.call(PAR_FN, [m.i32.const(this.parts.length - 1), arg()], binaryen.none);
    // `worth` false: too little work to pay for a barrier, the whole part on this thread
    return worth === undefined ? par : m.if(worth, par, m.call(name, [m.i32.const(0), m.i32.const(1), arg()], binaryen.none));
  }
  /** Adds a helper function once (math routines etc.); returns its name. */
  once(name: string, build: () => void): string {
    if (!this.helpers.has(name)) {
      this.helpers.add(name);
      build();
    }
    return name;
  }
}

/** Typed scalar load of one element of `dt` at `ptr + off` as its compute kind. */
export function loadScalar(m: binaryen.Module, dt: DType, ptr: Expr, off = 0): Expr {
  switch (dt) {
    case 'f32':
    case 'f16':
    case 'bf16':
      return m.f32.load(off, 4, ptr);
    case 'f64':
      return m.f64.load(off, 8, ptr);
    case 'i64':
    case 'u64':
      return m.i64.load(off, 8, ptr);
    case 'i32':
    case 'u32':
      return m.i32.load(off, 4, ptr);
    case 'i16':
      return m.i32.load16_s(off, 2, ptr);
    case 'u16':
      return m.i32.load16_u(off, 2, ptr);
    case 'i8':
    case 'i4':
      return m.i32.load8_s(off, 1, ptr);
    default:
      return m.i32.load8_u(off, 1, ptr);
  }
}

/** Typed scalar store of a compute-kind value as `dt` (integer stores wrap; bool stores v != 0 as given). */
export function storeScalar(m: binaryen.Module, dt: DType, ptr: Expr, v: Expr, off = 0): Expr {
  switch (dt) {
    case 'f32':
    case 'f16':
    case 'bf16':
      return m.f32.store(off, 4, ptr, v);
    case 'f64':
      return m.f64.store(off, 8, ptr, v);
    case 'i64':
    case 'u64':
      return m.i64.store(off, 8, ptr, v);
    case 'i32':
    case 'u32':
      return m.i32.store(off, 4, ptr, v);
    case 'i16':
    case 'u16':
      return m.i32.store16(off, 2, ptr, v);
    default:
      return m.i32.store8(off, 1, ptr, v);
  }
}

/** Converts a value between compute kinds (float -> int truncates and saturates; int -> int wraps). */
export function convert(m: binaryen.Module, from: Kind, to: Kind, e: Expr, unsignedFrom = false): Expr {
  if (from === to) return e;
  switch (`${from}>${to}`) {
    case 'f32>f64':
      return m.f64.promote(e);
    case 'f64>f32':
      return m.f32.demote(e);
    case 'f32>i32':
      return m.i32.trunc_s_sat.f32(e);
    case 'f64>i32':
      return m.i32.trunc_s_sat.f64(e);
    case 'f32>i64':
      return m.i64.trunc_s_sat.f32(e);
    case 'f64>i64':
      return m.i64.trunc_s_sat.f64(e);
    case 'i32>f32':
      return unsignedFrom ? m.f32.convert_u.i32(e) : m.f32.convert_s.i32(e);
    case 'i32>f64':
      return unsignedFrom ? m.f64.convert_u.i32(e) : m.f64.convert_s.i32(e);
    case 'i64>f32':
      return unsignedFrom ? m.f32.convert_u.i64(e) : m.f32.convert_s.i64(e);
    case 'i64>f64':
      return unsignedFrom ? m.f64.convert_u.i64(e) : m.f64.convert_s.i64(e);
    case 'i32>i64':
      return unsignedFrom ? m.i64.extend_u(e) : m.i64.extend_s(e);
    case 'i64>i32':
      return m.i32.wrap(e);
  }
  throw new Error(`convert ${from}>${to}`);
}

/** A constant of a compute kind. */
export function constOf(m: binaryen.Module, k: Kind, v: number): Expr {
  switch (k) {
    case 'f32':
      return m.f32.const(v);
    case 'f64':
      return m.f64.const(v);
    case 'i32':
      return m.i32.const(v | 0);
    case 'i64': {
      // binaryen >= 1xx: i64.const takes one bigint (its .d.ts still says (low, high))
      const b = BigInt.asIntN(64, BigInt(Math.trunc(Math.max(Math.min(v, 9.2e18), -9.2e18))));
      return i64Const(m, b);
    }
  }
}

/** An i64 constant from a bigint. */
export function i64Const(m: binaryen.Module, v: bigint): Expr {
  return (m.i64.const as unknown as (v: bigint) => Expr)(v);
}

/**
 * A node the wasm target cannot compile, naming it: LUT5050 by default (a form of the op it does not
 * take: dtype, attributes, operands), LUT5003 for an op it has no kernel for, or a more specific code.
 */
export function unsupported(n: Node, file: string | undefined, why: string, code: DiagCode = 'LUT5050'): never {
  return fail(code, `wasm target: ${why}`, nodeLoc(n, file));
}

/** Scalar builder: `get(j)` reads operand j (a fresh local.get each call), returns the output value. */
export type ScalarFn = (get: (j: number) => Expr, f: FnBuilder) => Expr;
/** Vector builder over f32x4 operands (same contract). */
export type VectorFn = (get: (j: number) => Expr, f: FnBuilder) => Expr;

export const isUnsigned = (dt: DType): boolean =>
  dt === 'u8' || dt === 'u16' || dt === 'u32' || dt === 'u64' || dt === 'u4' || dt === 'bool';

/** A fresh function builder for a step: no parameters, no results. */
export function stepFn(ctx: Ctx): FnBuilder {
  return new FnBuilder(ctx.mod, []);
}

/** Contiguous view of a placement over its own shape (or `shape` when given, same numel). */
export function viewOf(ctx: Ctx, p: Placement, shape: readonly number[] = p.shape): View {
  return { addr: ctx.addrOf(p), dtype: p.dtype, strides: contiguous(shape) };
}

// ---- runtime dims -------------------------------------------------------------------------------------
//
// With runtime dims (backends/model-plan.ts `Placement.dims`) sizes, strides and addresses are `Dim`s:
// numbers, or dim expressions over the runtime dims (ir/dim-expr.ts), rendered as i32 code over the
// `dim<i>` globals. Each step function evaluates each distinct expression once into a local (its
// prologue, `stepPrologue`), since the globals do not change during a run. The functions below take
// Dims and emit constants (the static forms) for numbers.

/** A strided view whose address and strides may be dim expressions (bytes for addr, elements for strides). */
export interface DView {
  addr: Dim;
  dtype: DType;
  strides: Dim[];
}

export const isStaticDims = (ds: readonly Dim[]): ds is number[] => ds.every((d) => typeof d === 'number');

/** A placement's shape in dims (its runtime dims, else its static shape). */
export const dimsOf = (p: Placement): Dim[] => p.dims ?? p.shape;

/** Product of dims. */
export const numelD = (s: readonly Dim[]): Dim => s.reduce<Dim>((a, b) => dimMul(a, b), 1);

/** Row-major strides (in elements) of a shape of dims. */
export function contiguousD(shape: readonly Dim[]): Dim[] {
  const st: Dim[] = new Array(shape.length);
  let acc: Dim = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    st[i] = acc;
    acc = dimMul(acc, shape[i]!);
  }
  return st;
}

/**
 * Strides of a tensor of dims `inShape` broadcast (right-aligned) to `outShape`: 0 where the input dim
 * is 1, its own stride where it is (provably) the output dim or another constant, and for a symbolic
 * dim that may be 1 at run time while the output's is not, `stride * min(1, d - 1)` (0 when d = 1).
 */
export function broadcastStridesD(inShape: readonly Dim[], outShape: readonly Dim[]): Dim[] {
  const st = contiguousD(inShape);
  const r = outShape.length;
  return outShape.map((o, i) => {
    const j = i - (r - inShape.length);
    if (j < 0 || inShape[j] === 1) return 0;
    const d = inShape[j]!;
    if (typeof d === 'number' || dimEquals(d, o) === true) return st[j]!;
    return dimMul(st[j]!, dimMin(1, dimSub(d, 1)));
  });
}

interface Prologue {
  sets: Expr[];
  cache: Map<string, number>;
}
const prologues = new WeakMap<FnBuilder, Prologue>();

/** The runtime-dim locals a step function computes first (empty for static steps). */
export function stepPrologue(f: FnBuilder): Expr[] {
  return prologues.get(f)?.sets ?? [];
}

/** A dim as an i32 expression: a constant, or a local of the step's prologue holding its value. */
export function dimVal(ctx: Ctx, f: FnBuilder, d: Dim): Expr {
  const m = f.mod;
  if (typeof d === 'number') return m.i32.const(d | 0);
  let p = prologues.get(f);
  if (!p) prologues.set(f, (p = { sets: [], cache: new Map() }));
  let l = p.cache.get(d);
  if (l === undefined) {
    l = f.local(binaryen.i32);
    p.sets.push(f.set(l, dimExpr(ctx, m, d)()));
    p.cache.set(d, l);
  }
  return f.get(l);
}

/** A dim as an i32 expression over the runtime-dim globals (a thunk: each call builds fresh nodes). */
export function dimExpr(ctx: Ctx, m: binaryen.Module, d: Dim): () => Expr {
  return foldDim<() => Expr>(d, {
    num: (n) => () => m.i32.const(n | 0),
    sym: (s) => () => m.global.get(ctx.dimGlobal(s), binaryen.i32),
    add: (a, b) => () => m.i32.add(a(), b()),
    sub: (a, b) => () => m.i32.sub(a(), b()),
    mul: (a, b) => () => m.i32.mul(a(), b()),
    // floor division of a possibly negative value: (a - (a < 0 ? k - 1 : 0)) / k
    floorDiv: (a, k) => () =>
      m.i32.div_s(m.i32.sub(a(), m.select(m.i32.lt_s(a(), m.i32.const(0)), m.i32.const(k - 1), m.i32.const(0))), m.i32.const(k)),
    min: (a, b) => () => m.select(m.i32.lt_s(a(), b()), a(), b()),
    max: (a, b) => () => m.select(m.i32.gt_s(a(), b()), a(), b()),
  });
}

/** The first runtime dim symbol of the step's placements, if any (for LUT5004 messages). */
export function stepRuntimeSym(step: PlanStep): string | undefined {
  for (const p of [...step.inputs, ...step.outputs]) for (const d of p?.dims ?? []) if (typeof d !== 'number') return dimSymbols(d)[0];
  return undefined;
}

/** LUT5004: a form of a step the wasm target does not render with runtime dims yet, naming the op and the dim. */
export function noRuntimeDims(ctx: Ctx, step: PlanStep, what = ''): never {
  const sym = stepRuntimeSym(step) ?? '?';
  const bound = ctx.plan.runtimeDims[sym];
  return unsupported(
    step.node,
    ctx.plan.graph.meta?.file,
    `op '${step.node.op}'${what ? ` (${what})` : ''} does not render the runtime dim '${sym}' yet (--max-dim ${sym}=${bound}): freeze it with --dim ${sym}=N`,
    'LUT5004',
  );
}

/** True when a step reads or writes a value with runtime dims. */
export const hasRuntimeDims = (step: PlanStep): boolean => [...step.inputs, ...step.outputs].some((p) => p?.dims !== undefined);

/** Removes size-1 dims and merges dims that are (provably) contiguous in every view. */
export function mergeDims(shape: readonly Dim[], strides: readonly Dim[][]): { shape: Dim[]; strides: Dim[][] } {
  const keep = shape.map((_, i) => i).filter((i) => shape[i] !== 1);
  let sh = keep.map((i) => shape[i]!);
  let st = strides.map((s) => keep.map((i) => s[i]!));
  for (let i = sh.length - 2; i >= 0; i--) {
    if (st.every((s) => dimEquals(s[i]!, dimMul(s[i + 1]!, sh[i + 1]!)) === true)) {
      sh = [...sh.slice(0, i), dimMul(sh[i]!, sh[i + 1]!), ...sh.slice(i + 2)];
      st = st.map((s) => [...s.slice(0, i), s[i + 1]!, ...s.slice(i + 2)]);
    }
  }
  return { shape: sh, strides: st };
}

/**
 * `for (i = 0; i < count; i++) body` for a dim count: straight-line for 1, a counted loop for a
 * constant, and for a runtime count a loop guarded by count > 0 unless `nonEmpty` (the caller checked).
 */
export function loopD(ctx: Ctx, f: FnBuilder, count: Dim, body: Expr[], nonEmpty = false, counter = f.local(binaryen.i32)): Expr {
  const m = f.mod;
  if (typeof count === 'number') {
    if (count <= 0) return m.nop();
    if (count === 1) return m.block(null, [f.set(counter, m.i32.const(0)), ...body]);
    return f.loop(counter, m.i32.const(count), body);
  }
  const loop = f.loop(counter, dimVal(ctx, f, count), body);
  return nonEmpty ? loop : m.if(m.i32.gt_s(dimVal(ctx, f, count), m.i32.const(0)), loop);
}

/** A loop whose body does not read its counter: a counted loop for a constant count (>= 1), else loopD's guarded loop. */
const counted = (ctx: Ctx, f: FnBuilder, count: Dim, body: Expr[]): Expr =>
  typeof count === 'number' ? f.loop(f.local(binaryen.i32), f.mod.i32.const(count), body) : loopD(ctx, f, count, body);

/**
 * `counted` with `body` built only when it runs at all: nothing for a constant 0 and the body alone
 * for 1 (the forms of the static kernels).
 */
function repeat(ctx: Ctx, f: FnBuilder, count: Dim, body: () => Expr[]): Expr | undefined {
  if (typeof count === 'number' && count <= 0) return undefined;
  const b = body();
  return count === 1 ? f.mod.block(null, b) : counted(ctx, f, count, b);
}

/** `local += by` for an i32 local and a dim. */
const incrD = (ctx: Ctx, f: FnBuilder, l: number, by: Dim): Expr =>
  typeof by === 'number' ? f.incr(l, by) : f.set(l, f.mod.i32.add(f.get(l), dimVal(ctx, f, by)));

/** `if (n > 0) body` for a dim n (the body alone for a positive constant, nothing for 0). */
export function ifNonEmpty(ctx: Ctx, f: FnBuilder, n: Dim, body: Expr[]): Expr {
  const m = f.mod;
  if (typeof n === 'number') return n > 0 ? m.block(null, body) : m.nop();
  return m.if(m.i32.gt_s(dimVal(ctx, f, n), m.i32.const(0)), m.block(null, body));
}

/** `body` when `numel` is a constant (the caller returned early for 0), else `if (numel > 0) body`. */
const guardNumel = (ctx: Ctx, f: FnBuilder, numel: Dim, body: Expr): Expr =>
  typeof numel === 'number' ? body : ifNonEmpty(ctx, f, numel, [body]);

/**
 * Nested loops over `shape` (sizes >= 1 at run time: callers check numel > 0 first); per operand a
 * pointer local starting at `bases[j]` (byte address) and advancing `byteStrides[j][d]` per step of
 * dim d; sizes, addresses and strides are dims (constants in the code when numbers). `inner` gets the
 * pointer locals valid for the current index.
 */
export function nest(ctx: Ctx, f: FnBuilder, shape: Dim[], bases: Dim[], byteStrides: Dim[][], inner: (ptrs: number[]) => Expr[]): Expr {
  const m = f.mod;
  const { i32 } = binaryen;
  const ptrs = bases.map(() => f.local(i32));
  const init = bases.map((b, j) => f.set(ptrs[j]!, dimVal(ctx, f, b)));
  const level = (d: number): Expr[] => {
    if (d === shape.length) return inner(ptrs);
    if (shape[d] === 1) return level(d + 1);
    const saved = ptrs.map(() => f.local(i32));
    const body: Expr[] = [
      ...saved.map((s, j) => f.set(s, f.get(ptrs[j]!))),
      ...level(d + 1),
      ...saved.map((s, j) => f.set(ptrs[j]!, m.i32.add(f.get(s), dimVal(ctx, f, byteStrides[j]![d]!)))),
    ];
    return [loopD(ctx, f, shape[d]!, body, true)];
  };
  return m.block(null, [...init, ...level(0)]);
}

/**
 * out[idx] = scalar(ins[0][idx], ins[1][idx], ...) over `shape`; operands are views with their own
 * strides (broadcast = 0). `inKinds` are the kinds the scalar fn expects (operands are converted).
 * A SIMD path (f32x4) runs when `vector` is given, every operand is f32-stored and the merged inner
 * dim is unit-stride for the output and unit- or zero-stride for each input (and, when constant, >= 4).
 * With runtime dims the whole map is guarded by numel > 0.
 */
export function emitMap(
  ctx: Ctx,
  f: FnBuilder,
  shape: Dim[],
  out: DView,
  ins: DView[],
  scalar: ScalarFn,
  vector?: VectorFn,
  inKinds?: Kind[],
): Expr {
  const m = f.mod;
  const numel = numelD(shape);
  if (numel === 0) return m.nop();
  const views = [out, ...ins];
  const merged = mergeDims(
    shape,
    views.map((v) => v.strides),
  );
  let sh = merged.shape;
  let st = merged.strides;
  if (sh.length === 0) {
    sh = [1];
    st = st.map(() => [0]);
  }
  const L = sh[sh.length - 1]!;
  const outer = sh.slice(0, -1);
  const bytes = views.map((v) => kernelByteSize(v.dtype));
  const innerSt = st.map((s, j) => dimMul(s[s.length - 1]!, bytes[j]!));
  const outerSt = st.map((s, j) => s.slice(0, -1).map((x) => dimMul(x, bytes[j]!)));
  const kinds = inKinds ?? ins.map((v) => kindOf(v.dtype));
  const simdOk =
    vector &&
    (typeof L !== 'number' || L >= 4) &&
    views.every((v) => kindOf(v.dtype) === 'f32') &&
    kinds.every((k) => k === 'f32') &&
    st[0]![st[0]!.length - 1] === 1 &&
    st.slice(1).every((s) => s[s.length - 1] === 1 || s[s.length - 1] === 0);
  const { i32, v128 } = binaryen;
  const vals = ins.map((_, j) => f.local(typeOfKind(kinds[j]!)));
  const vvals = ins.map(() => f.local(v128));
  const body = nest(
    ctx,
    f,
    outer,
    views.map((v) => v.addr),
    outerSt,
    (ptrs) => {
      const p = ptrs.map(() => f.local(i32));
      const res: Expr[] = p.map((l, j) => f.set(l, f.get(ptrs[j]!)));
      let rest: Dim = L;
      if (simdOk) {
        const nv = dimFloorDiv(L, 4)!;
        rest = dimSub(L, dimMul(nv, 4));
        ins.forEach((_, j) => {
          if (innerSt[j + 1] === 0) res.push(f.set(vvals[j]!, m.v128.load32_splat(0, 4, f.get(p[j + 1]!))));
        });
        const vb: Expr[] = [];
        ins.forEach((_, j) => {
          if (innerSt[j + 1] !== 0) vb.push(f.set(vvals[j]!, m.v128.load(0, 4, f.get(p[j + 1]!))));
        });
        vb.push(
          m.v128.store(
            0,
            4,
            f.get(p[0]!),
            vector!((j) => f.get(vvals[j]!), f),
          ),
        );
        p.forEach((l, j) => {
          if (innerSt[j] !== 0) vb.push(incrD(ctx, f, l, dimMul(innerSt[j]!, 4)));
        });
        res.push(counted(ctx, f, nv, vb));
      }
      const tail = repeat(ctx, f, rest, () => {
        const sb: Expr[] = ins.map((v, j) =>
          f.set(vals[j]!, convert(m, kindOf(v.dtype), kinds[j]!, loadScalar(m, v.dtype, f.get(p[j + 1]!)), isUnsigned(v.dtype))),
        );
        sb.push(
          storeScalar(
            m,
            out.dtype,
            f.get(p[0]!),
            scalar((j) => f.get(vals[j]!), f),
          ),
        );
        p.forEach((l, j) => {
          if (innerSt[j] !== 0) sb.push(incrD(ctx, f, l, innerSt[j]!));
        });
        return sb;
      });
      if (tail !== undefined) res.push(tail);
      return res;
    },
  );
  return guardNumel(ctx, f, numel, body);
}

/**
 * Copies a strided view into another over `shape` (same dtype): memory.copy per contiguous row when
 * the merged inner dim is unit-stride on both sides, else an element loop (emitMap).
 */
export function emitCopy(ctx: Ctx, f: FnBuilder, shape: Dim[], out: DView, src: DView): Expr {
  const m = f.mod;
  const numel = numelD(shape);
  if (numel === 0) return m.nop();
  const merged = mergeDims(shape, [out.strides, src.strides]);
  const sh = merged.shape.length ? merged.shape : [1];
  const st = merged.shape.length ? merged.strides : [[1], [1]];
  const b = kernelByteSize(out.dtype);
  if (st[0]!.at(-1) === 1 && st[1]!.at(-1) === 1 && kernelByteSize(src.dtype) === b) {
    const L = sh.at(-1)!;
    const body = nest(
      ctx,
      f,
      sh.slice(0, -1),
      [out.addr, src.addr],
      st.map((s) => s.slice(0, -1).map((x) => dimMul(x, b))),
      (p) => [m.memory.copy(f.get(p[0]!), f.get(p[1]!), dimVal(ctx, f, dimMul(L, b)))],
    );
    return guardNumel(ctx, f, numel, body);
  }
  return emitMap(
    ctx,
    f,
    shape,
    out,
    [src],
    (get) => get(0),
    (get) => get(0),
  );
}

/** A contiguous DView of a placement over its dims (or `shape`). */
export function viewOfD(ctx: Ctx, p: Placement, shape: readonly Dim[] = dimsOf(p)): DView {
  return { addr: ctx.addrOf(p), dtype: p.dtype, strides: contiguousD(shape) };
}

/** Emits a prepared step's body (emit phase: the memory map is final). */
export type Emit = (f: FnBuilder) => Expr[];
/** Prepares one plan step: registers extras and scratch, returns its emitter. */
export type StepHandler = (ctx: Ctx, step: PlanStep) => Emit;
