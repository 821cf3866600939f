/**
 * Core of the whole-model WASM emitter: the emission context (one binaryen module, the static memory
 * map, compile-time extra constants and per-step scratch), typed scalar loads/stores per dtype, loop
 * nests over strided views, and `emitMap` -- the one elementwise engine behind unary/binary ops,
 * broadcasting, copies, transposes, slices and epilogues. Shapes are static, so every loop bound,
 * stride and address is a compile-time constant baked into the step's function.
 */
import binaryen from 'binaryen';
import { type DiagCode, fail, nodeLoc } from '../../../base/diagnostics.js';
import type { DType, Node } from '../../../ir/types.js';
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
}

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

/** Removes size-1 dims and merges dims that are contiguous in every view. */
export function mergeDims(shape: readonly number[], strides: readonly number[][]): { shape: number[]; strides: number[][] } {
  const keep = shape.map((d, i) => i).filter((i) => shape[i] !== 1);
  let sh = keep.map((i) => shape[i]!);
  let st = strides.map((s) => keep.map((i) => s[i]!));
  for (let i = sh.length - 2; i >= 0; i--) {
    if (st.every((s) => s[i] === s[i + 1]! * sh[i + 1]!)) {
      sh = [...sh.slice(0, i), sh[i]! * sh[i + 1]!, ...sh.slice(i + 2)];
      st = st.map((s) => [...s.slice(0, i), s[i + 1]!, ...s.slice(i + 2)]);
    }
  }
  return { shape: sh, strides: st };
}

/**
 * Nested loops over `shape` (compile-time sizes >= 1); per operand a pointer local starting at
 * `bases[j]` (constant byte address) and advancing `byteStrides[j][d]` per step of dim d. `inner`
 * gets the pointer locals valid for the current index.
 */
export function nest(f: FnBuilder, shape: number[], bases: number[], byteStrides: number[][], inner: (ptrs: number[]) => Expr[]): Expr {
  const m = f.mod;
  const { i32 } = binaryen;
  const ptrs = bases.map(() => f.local(i32));
  const init = bases.map((b, j) => f.set(ptrs[j]!, m.i32.const(b | 0)));
  const level = (d: number): Expr[] => {
    if (d === shape.length) return inner(ptrs);
    const saved = ptrs.map(() => f.local(i32));
    const body: Expr[] = [
      ...saved.map((s, j) => f.set(s, f.get(ptrs[j]!))),
      ...level(d + 1),
      ...saved.map((s, j) => f.set(ptrs[j]!, m.i32.add(f.get(s), m.i32.const(byteStrides[j]![d]!)))),
    ];
    if (shape[d] === 1) return level(d + 1);
    return [f.loop(f.local(i32), m.i32.const(shape[d]!), body)];
  };
  return m.block(null, [...init, ...level(0)]);
}

/** Scalar builder: `get(j)` reads operand j (a fresh local.get each call), returns the output value. */
export type ScalarFn = (get: (j: number) => Expr, f: FnBuilder) => Expr;
/** Vector builder over f32x4 operands (same contract). */
export type VectorFn = (get: (j: number) => Expr, f: FnBuilder) => Expr;

/**
 * out[idx] = scalar(ins[0][idx], ins[1][idx], ...) over `shape`; operands are views with their own
 * strides (broadcast = 0). `inKinds` are the kinds the scalar fn expects (operands are converted).
 * A SIMD path (f32x4) runs when `vector` is given, every operand is f32-stored and the merged inner
 * dim is unit-stride for the output and unit- or zero-stride for each input.
 */
export function emitMap(
  f: FnBuilder,
  shape: number[],
  out: View,
  ins: View[],
  scalar: ScalarFn,
  vector?: VectorFn,
  inKinds?: Kind[],
): Expr {
  const m = f.mod;
  if (numelOf(shape) === 0) return m.nop();
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
  const innerSt = st.map((s, j) => s[s.length - 1]! * bytes[j]!);
  const outerSt = st.map((s, j) => s.slice(0, -1).map((x) => x * bytes[j]!));
  const kinds = inKinds ?? ins.map((v) => kindOf(v.dtype));
  const simdOk =
    vector &&
    L >= 4 &&
    views.every((v) => kindOf(v.dtype) === 'f32') &&
    kinds.every((k) => k === 'f32') &&
    st[0]![st[0]!.length - 1] === 1 &&
    st.slice(1).every((s) => s[s.length - 1] === 1 || s[s.length - 1] === 0);
  const { i32, v128 } = binaryen;
  const vals = ins.map((v, j) => f.local(typeOfKind(kinds[j]!)));
  const vvals = ins.map(() => f.local(v128));
  return nest(
    f,
    outer,
    views.map((v) => v.addr),
    outerSt,
    (ptrs) => {
      const p = ptrs.map(() => f.local(i32));
      const res: Expr[] = p.map((l, j) => f.set(l, f.get(ptrs[j]!)));
      let rest = L;
      if (simdOk) {
        const nv = Math.floor(L / 4);
        rest = L - nv * 4;
        ins.forEach((_, j) => {
          if (innerSt[j + 1] === 0) res.push(f.set(vvals[j]!, m.v128.load32_splat(0, 4, f.get(p[j + 1]!))));
        });
        const body: Expr[] = [];
        ins.forEach((_, j) => {
          if (innerSt[j + 1] !== 0) body.push(f.set(vvals[j]!, m.v128.load(0, 4, f.get(p[j + 1]!))));
        });
        body.push(
          m.v128.store(
            0,
            4,
            f.get(p[0]!),
            vector!((j) => f.get(vvals[j]!), f),
          ),
        );
        p.forEach((l, j) => {
          if (innerSt[j]) body.push(f.incr(l, innerSt[j]! * 4));
        });
        res.push(f.loop(f.local(i32), m.i32.const(nv), body));
      }
      if (rest > 0) {
        const body: Expr[] = ins.map((v, j) =>
          f.set(vals[j]!, convert(m, kindOf(v.dtype), kinds[j]!, loadScalar(m, v.dtype, f.get(p[j + 1]!)), isUnsigned(v.dtype))),
        );
        body.push(
          storeScalar(
            m,
            out.dtype,
            f.get(p[0]!),
            scalar((j) => f.get(vals[j]!), f),
          ),
        );
        p.forEach((l, j) => {
          if (innerSt[j]) body.push(f.incr(l, innerSt[j]!));
        });
        res.push(rest === 1 ? m.block(null, body) : f.loop(f.local(i32), m.i32.const(rest), body));
      }
      return res;
    },
  );
}

export const isUnsigned = (dt: DType): boolean =>
  dt === 'u8' || dt === 'u16' || dt === 'u32' || dt === 'u64' || dt === 'u4' || dt === 'bool';

/**
 * Copies a strided view into another over `shape` (same dtype): memory.copy per contiguous row when
 * the merged inner dim is unit-stride on both sides, else an element loop.
 */
export function emitCopy(f: FnBuilder, shape: number[], out: View, src: View): Expr {
  const m = f.mod;
  if (numelOf(shape) === 0) return m.nop();
  const merged = mergeDims(shape, [out.strides, src.strides]);
  const sh = merged.shape.length ? merged.shape : [1];
  const st = merged.shape.length ? merged.strides : [[1], [1]];
  const b = kernelByteSize(out.dtype);
  if (st[0]!.at(-1) === 1 && st[1]!.at(-1) === 1 && kernelByteSize(src.dtype) === b) {
    const L = sh.at(-1)!;
    return nest(
      f,
      sh.slice(0, -1),
      [out.addr, src.addr],
      st.map((s) => s.slice(0, -1).map((x) => x * b)),
      (p) => [m.memory.copy(f.get(p[0]!), f.get(p[1]!), m.i32.const(L * b))],
    );
  }
  return emitMap(
    f,
    shape,
    out,
    [src],
    (get) => get(0),
    (get) => get(0),
  );
}

/** A fresh function builder for a step: no parameters, no results. */
export function stepFn(ctx: Ctx): FnBuilder {
  return new FnBuilder(ctx.mod, []);
}

/** Contiguous view of a placement over its own shape (or `shape` when given, same numel). */
export function viewOf(ctx: Ctx, p: Placement, shape: readonly number[] = p.shape): View {
  return { addr: ctx.addrOf(p), dtype: p.dtype, strides: contiguous(shape) };
}

/** Emits a prepared step's body (emit phase: the memory map is final). */
export type Emit = (f: FnBuilder) => Expr[];
/** Prepares one plan step: registers extras and scratch, returns its emitter. */
export type StepHandler = (ctx: Ctx, step: PlanStep) => Emit;
