/**
 * Tensor helpers shared by the importer, interpreters, passes and backends: allocation per dtype,
 * element counts, strides, the float16/bfloat16 rounding that keeps f16/bf16 values stored in
 * Float32Array exactly representable in their type, and lazy tensors.
 *
 * Lazy tensors (`lazyTensor`): a constant whose bytes are read (external data) or derived (unpacked,
 * repacked weights) when something reads `data`, so a graph of a large model holds shapes and
 * recipes, not bytes. Invariants: `data` is a getter that returns the same values on every access
 * (the loader is deterministic); what it returns is held only by one module-level cache bounded to
 * LAZY_CACHE_BYTES (least recently used out first, the LAZY_CACHE_MIN most recent always kept, so a
 * loop reading `t.data[i]` does not reload), never by the graph; writes into a lazy tensor's `data`
 * are lost when it leaves the cache (constants are never written in place). Spreading a lazy tensor
 * (`{ ...t }`) materializes it into a plain tensor.
 */
import type { Dim, DType, Tensor, TensorData } from './types.js';

export const FLOAT_DTYPES: ReadonlySet<DType> = new Set(['f32', 'f16', 'bf16', 'f64']);
export const INT_DTYPES: ReadonlySet<DType> = new Set(['i4', 'u4', 'i8', 'u8', 'i16', 'u16', 'i32', 'u32', 'i64', 'u64']);

export function isFloat(dt: DType): boolean {
  return FLOAT_DTYPES.has(dt);
}

/** ONNX TensorProto.DataType numbers of the dtypes lutc has (the IR's Cast `to` uses them too). */
export const ONNX_DTYPES: Readonly<Record<number, DType>> = {
  1: 'f32',
  2: 'u8',
  3: 'i8',
  4: 'u16',
  5: 'i16',
  6: 'i32',
  7: 'i64',
  9: 'bool',
  10: 'f16',
  11: 'f64',
  12: 'u32',
  13: 'u64',
  16: 'bf16',
  21: 'u4',
  22: 'i4',
};

/**
 * Value range of a dtype as doubles: integers exactly (i64/u64 bounds round to 2^63/2^64, see
 * ir/types.ts), bool [0, 1], floats unbounded.
 */
export function intRange(dt: DType): [number, number] {
  switch (dt) {
    case 'bool':
      return [0, 1];
    case 'i4':
      return [-8, 7];
    case 'u4':
      return [0, 15];
    case 'i8':
      return [-128, 127];
    case 'u8':
      return [0, 255];
    case 'i16':
      return [-32768, 32767];
    case 'u16':
      return [0, 65535];
    case 'i32':
      return [-(2 ** 31), 2 ** 31 - 1];
    case 'u32':
      return [0, 2 ** 32 - 1];
    case 'i64':
      return [-(2 ** 63), 2 ** 63];
    case 'u64':
      return [0, 2 ** 64];
    default:
      return [-Infinity, Infinity];
  }
}

/** Allocates zeroed storage for `n` elements of `dtype` (see the storage table in `ir/types.ts`). */
export function allocData(dtype: DType, n: number): TensorData {
  switch (dtype) {
    case 'f32':
    case 'f16':
    case 'bf16':
      return new Float32Array(n);
    case 'f64':
    case 'i64':
    case 'u64':
      return new Float64Array(n);
    case 'i4':
    case 'i8':
      return new Int8Array(n);
    case 'u4':
    case 'u8':
    case 'bool':
      return new Uint8Array(n);
    case 'i16':
      return new Int16Array(n);
    case 'u16':
      return new Uint16Array(n);
    case 'i32':
      return new Int32Array(n);
    case 'u32':
      return new Uint32Array(n);
  }
}

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Row-major strides in elements. */
export function strides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i]!;
  }
  return s;
}

export function makeTensor(dtype: DType, shape: number[], data?: TensorData | ArrayLike<number>): Tensor {
  const n = numel(shape);
  const out = allocData(dtype, n);
  if (data) {
    if (data.length !== n) throw new RangeError(`tensor data has ${data.length} elements, shape [${shape}] needs ${n}`);
    (out as Float64Array).set(data as ArrayLike<number>);
    if (dtype === 'f16' || dtype === 'bf16') roundInPlace(dtype, out as Float32Array);
  }
  return { dtype, shape: [...shape], data: out };
}

export function scalar(dtype: DType, v: number): Tensor {
  return makeTensor(dtype, [], [v]);
}

/** True when every dim is a known number. */
export function isStaticShape(shape: readonly Dim[]): shape is number[] {
  return shape.every((d) => typeof d === 'number');
}

export function shapeToString(shape: readonly Dim[]): string {
  return `[${shape.join(', ')}]`;
}

// ---- float16 / bfloat16 ---------------------------------------------------------------------------

const f32buf = new Float32Array(1);
const u32buf = new Uint32Array(f32buf.buffer);

/** Decodes an IEEE binary16 bit pattern. */
export function f16BitsToNumber(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** Encodes to binary16 with round-to-nearest-even (overflow to infinity, as IEEE). */
export function numberToF16Bits(v: number): number {
  if (Number.isNaN(v)) return 0x7e00;
  const sign = v < 0 || Object.is(v, -0) ? 0x8000 : 0;
  let a = Math.abs(v);
  if (a === Infinity) return sign | 0x7c00;
  if (a >= 65520) return sign | 0x7c00; // rounds to infinity
  if (a < 2 ** -24 * 0.5) return sign; // rounds to zero (ties to even: exactly half -> 0)
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  if (2 ** (e + 1) <= a) e++;
  if (e < -14) {
    // subnormal: units of 2^-24
    const m = roundHalfEven(a / 2 ** -24);
    return sign | m; // m may reach 1024 = smallest normal, which is the right encoding
  }
  let m = roundHalfEven((a / 2 ** e - 1) * 1024);
  if (m === 1024) {
    m = 0;
    e++;
    if (e > 15) return sign | 0x7c00;
  }
  a = 0;
  return sign | ((e + 15) << 10) | m;
}

export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

export function bf16BitsToNumber(b: number): number {
  u32buf[0] = (b & 0xffff) << 16;
  return f32buf[0]!;
}

/** Encodes to bfloat16 with round-to-nearest-even. */
export function numberToBf16Bits(v: number): number {
  f32buf[0] = v;
  const x = u32buf[0]!;
  if ((x & 0x7f800000) === 0x7f800000 && x & 0x7fffff) return 0x7fc0;
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

/** Rounds a value to f16/bf16 precision (returns a float32 value). */
export function roundTo(dtype: 'f16' | 'bf16', v: number): number {
  return dtype === 'f16' ? f16BitsToNumber(numberToF16Bits(v)) : bf16BitsToNumber(numberToBf16Bits(v));
}

export function roundInPlace(dtype: 'f16' | 'bf16', a: Float32Array): void {
  for (let i = 0; i < a.length; i++) a[i] = roundTo(dtype, a[i]!);
}

/** Byte width of one element as stored in ONNX raw_data / .npy (i4/u4 report 1: callers pack). */
export function dtypeByteSize(dtype: DType): number {
  switch (dtype) {
    case 'f64':
    case 'i64':
    case 'u64':
      return 8;
    case 'f32':
    case 'i32':
    case 'u32':
      return 4;
    case 'f16':
    case 'bf16':
    case 'i16':
    case 'u16':
      return 2;
    default:
      return 1;
  }
}

// ---- lazy tensors -----------------------------------------------------------------------------------

/** Bytes of loaded lazy-tensor data the cache keeps beyond its LAZY_CACHE_MIN most recent entries. */
export const LAZY_CACHE_BYTES = 16 * 2 ** 20;
/** The most recently used entries the cache always keeps, whatever their size (a loader reading two sources). */
export const LAZY_CACHE_MIN = 3;

const lazyCache = new Map<object, { value: unknown; bytes: number }>();
let lazyCacheBytes = 0;
let lastKey: object | undefined;
let lastValue: unknown;

/** The value of lazy key `key`: from the cache, else from `load` (then cached, older entries evicted). */
function lazyValue<T>(key: object, load: () => T, bytesOf: (v: T) => number): T {
  if (key === lastKey) return lastValue as T;
  let e = lazyCache.get(key);
  if (e) {
    lazyCache.delete(key); // most recent last
    lazyCache.set(key, e);
  } else {
    const value = load();
    e = { value, bytes: bytesOf(value) };
    lazyCache.set(key, e);
    lazyCacheBytes += e.bytes;
    for (const [k, v] of lazyCache) {
      if (lazyCache.size <= LAZY_CACHE_MIN || lazyCacheBytes <= LAZY_CACHE_BYTES) break;
      lazyCache.delete(k);
      lazyCacheBytes -= v.bytes;
    }
  }
  lastKey = key;
  lastValue = e.value;
  return e.value as T;
}

/** Empties the lazy-tensor cache (tests; a caller that wants the memory back between compiles). */
export function clearLazyCache(): void {
  lazyCache.clear();
  lazyCacheBytes = 0;
  lastKey = lastValue = undefined;
}

const LAZY = Symbol('lutc.lazy');

/**
 * A tensor of `dtype` and `shape` whose `data` comes from `load` on access (see the header): `load`
 * must return `numel(shape)` elements in `dtype`'s storage (allocData's array type), the same ones
 * every time.
 */
export function lazyTensor(dtype: DType, shape: number[], load: () => TensorData): Tensor {
  const t = { dtype, shape: [...shape] } as Tensor & { [LAZY]: true };
  const n = numel(shape);
  const checked = (): TensorData => {
    const d = load();
    if (d.length !== n) throw new RangeError(`lutc bug: lazy tensor loaded ${d.length} elements, shape [${shape}] needs ${n}`);
    return d;
  };
  Object.defineProperty(t, 'data', { enumerable: true, get: () => lazyValue(t, checked, (d) => d.byteLength) });
  Object.defineProperty(t, LAZY, { value: true });
  return t;
}

/** True for a tensor made by lazyTensor (its bytes are not held by the graph). */
export function isLazy(t: Tensor): boolean {
  return (t as { [LAZY]?: true })[LAZY] === true;
}

/**
 * A loader shared by several lazy tensors computed together (an op's outputs): `all()` returns the
 * tensors of one `load` call, cached like lazy data (so outputs read one after another load once);
 * `lazyTensor(dt, shape, () => all()[i].data)` is output i.
 */
export function lazyGroup(load: () => Tensor[]): () => Tensor[] {
  const key = {};
  return () => lazyValue(key, load, (ts) => ts.reduce((a, t) => a + t.data.byteLength, 0));
}
