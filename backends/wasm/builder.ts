/**
 * Small helpers over binaryen's expression API for the WASM backend: typed locals per function,
 * v128 splat constants, relaxed-SIMD ops (binaryen.js exposes their op codes but no wrappers), and
 * counted loops. Kernel generators (tables.ts, lookup.ts) and a later whole-model emitter share these,
 * so every function lutc renders is built the same way.
 */
import binaryen from 'binaryen';

/** A binaryen expression reference. */
export type Expr = number;

const B = binaryen as unknown as Record<string, unknown>;
type RawBinary = (mod: number, op: number, a: Expr, b: Expr) => Expr;
type RawTernary = (mod: number, op: number, a: Expr, b: Expr, c: Expr) => Expr;

/** Builds one function: hands out locals, remembers their types, and adds the function at the end. */
export class FnBuilder {
  private readonly vars: number[] = [];
  private labelId = 0;
  constructor(
    readonly mod: binaryen.Module,
    private readonly params: number[],
  ) {}

  /** Index of parameter `i`. */
  param(i: number): number {
    return i;
  }
  /** A fresh local of `type` (binaryen.i32, binaryen.v128, ...). */
  local(type: number): number {
    this.vars.push(type);
    return this.params.length + this.vars.length - 1;
  }
  private typeOf(i: number): number {
    return i < this.params.length ? this.params[i]! : this.vars[i - this.params.length]!;
  }
  get(i: number): Expr {
    return this.mod.local.get(i, this.typeOf(i));
  }
  set(i: number, e: Expr): Expr {
    return this.mod.local.set(i, e);
  }
  tee(i: number, e: Expr): Expr {
    return this.mod.local.tee(i, e, this.typeOf(i));
  }
  /** `local += c` for an i32 local. */
  incr(i: number, c: number): Expr {
    return this.set(i, this.mod.i32.add(this.get(i), this.mod.i32.const(c)));
  }
  /** A label unique within this function. */
  label(base: string): string {
    return `${base}${this.labelId++}`;
  }
  /**
   * `for (counter = 0; counter < count; counter++) body` as a do-while; `count` must be >= 1 (callers
   * know their trip counts, which are shape constants or a runtime M that is checked first).
   */
  loop(counter: number, count: Expr, body: Expr[]): Expr {
    const m = this.mod;
    const l = this.label('L');
    return m.block(null, [
      this.set(counter, m.i32.const(0)),
      m.loop(l, m.block(null, [...body, this.incr(counter, 1), m.br(l, m.i32.lt_u(this.get(counter), count))])),
    ]);
  }
  /** `repeat (count) body` with a compile-time count: straight-line when 1, else a counted loop. */
  repeat(count: number, body: Expr[]): Expr {
    if (count <= 0) return this.mod.nop();
    if (count === 1) return this.mod.block(null, body);
    return this.loop(this.local(binaryen.i32), this.mod.i32.const(count), body);
  }
  /** Adds the function to the module (not exported). */
  finish(name: string, results: number, body: Expr[]): binaryen.FunctionRef {
    const m = this.mod;
    return m.addFunction(
      name,
      binaryen.createType(this.params),
      results,
      this.vars,
      m.block(null, body, results === binaryen.none ? binaryen.none : results),
    );
  }
}

/** v128 constant from 16 bytes. */
export function v128Bytes(mod: binaryen.Module, bytes: ArrayLike<number>): Expr {
  return mod.v128.const(Array.from(bytes, (b) => b & 255));
}
/** v128 constant from 8 i16 lanes. */
export function v128I16(mod: binaryen.Module, lanes: number[]): Expr {
  const b = new Uint8Array(new Int16Array(lanes.map((v) => (v << 16) >> 16)).buffer);
  return v128Bytes(mod, b);
}
/** v128 constant from 4 i32 lanes. */
export function v128I32(mod: binaryen.Module, lanes: number[]): Expr {
  return v128Bytes(mod, new Uint8Array(new Int32Array(lanes).buffer));
}
/** v128 constant from 4 f32 lanes. */
export function v128F32(mod: binaryen.Module, lanes: number[]): Expr {
  return v128Bytes(mod, new Uint8Array(new Float32Array(lanes).buffer));
}
export const splat8 = (mod: binaryen.Module, v: number): Expr => v128Bytes(mod, new Array(16).fill(v));
export const splat16 = (mod: binaryen.Module, v: number): Expr => v128I16(mod, new Array(8).fill(v));
export const splat32 = (mod: binaryen.Module, v: number): Expr => v128I32(mod, new Array(4).fill(v));
export const splatF32 = (mod: binaryen.Module, v: number): Expr => v128F32(mod, new Array(4).fill(v));

/** Byte mask for a v128 shuffle that picks 32-bit lanes (0-3 left, 4-7 right). */
export function lanes32(l: number[]): number[] {
  return l.flatMap((x) => [4 * x, 4 * x + 1, 4 * x + 2, 4 * x + 3]);
}
/** Byte mask for a v128 shuffle that picks 16-bit lanes (0-7 left, 8-15 right). */
export function lanes16(l: number[]): number[] {
  return l.flatMap((x) => [2 * x, 2 * x + 1]);
}

/** `i8x16.relaxed_swizzle` (one `pshufb` on x64 V8; indices must be < 16 or >= 128 for determinism). */
export function relaxedSwizzle(mod: binaryen.Module, table: Expr, idx: Expr): Expr {
  return (B._BinaryenBinary as RawBinary)(mod.ptr, B.RelaxedSwizzleVecI8x16 as number, table, idx);
}
/** `i16x8.relaxed_dot_i8x16_i7x16_s`: pairwise a*b with b in [0, 127] (deterministic there). */
export function relaxedDot16(mod: binaryen.Module, a: Expr, b7: Expr): Expr {
  return (B._BinaryenBinary as RawBinary)(mod.ptr, B.RelaxedDotI8x16I7x16SToVecI16x8 as number, a, b7);
}
/** `i32x4.relaxed_dot_i8x16_i7x16_add_s`. */
export function relaxedDot32Add(mod: binaryen.Module, a: Expr, b7: Expr, acc: Expr): Expr {
  return (B._BinaryenSIMDTernary as RawTernary)(mod.ptr, B.RelaxedDotI8x16I7x16AddSToVecI32x4 as number, a, b7, acc);
}

/** binaryen feature set for a kernel: SIMD128 always, relaxed SIMD on request. */
export function featureSet(relaxed: boolean): number {
  const F = binaryen.Features;
  return F.MVP | F.SIMD128 | F.MutableGlobals | F.SignExt | (relaxed ? F.RelaxedSIMD : 0);
}
