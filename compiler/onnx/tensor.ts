/**
 * ONNX TensorProto <-> lutc Tensor. Decodes every tensor type real models use, from `raw_data`
 * (little-endian) and from the typed fields, plus initializers stored in external data files. Input is
 * hostile until proven otherwise: dims, byte counts and external-data paths are all checked before
 * anything is allocated or read, and every problem is a coded diagnostic (LUT1002-LUT1008).
 * Memory: the bytes decoded tensors take are charged to a budget (`TensorBudget`, one per import;
 * default DEFAULT_MAX_TENSOR_BYTES) before anything is allocated or read; going over it is LUT1008.
 * External data of LAZY_EXTERNAL_MIN_BYTES or more is checked at import (location, file, range) but
 * read only when the tensor's `data` is read (a lazy tensor, ir/tensor.ts), and not kept by the graph.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fail, type Location } from '../../base/diagnostics.js';
import {
  allocData,
  bf16BitsToNumber,
  f16BitsToNumber,
  lazyTensor,
  numberToBf16Bits,
  numberToF16Bits,
  numel,
  ONNX_DTYPES,
} from '../../ir/tensor.js';
import type { DType, Tensor, TensorData } from '../../ir/types.js';
import { OnnxDataType as DT, type ITensorProto, type LongLike, onnx, type TensorProto, toNum } from './proto.js';

/** Tensors above this many elements are rejected: TypedArrays and our indexing stay below 2^31. */
export const MAX_ELEMENTS = 2 ** 31 - 1;

/** External tensors of at least this many bytes are lazy (read on access; ir/tensor.ts lazyTensor). */
export const LAZY_EXTERNAL_MIN_BYTES = 64 * 1024;

/** Default memory limit of an import (8 GiB): decoded tensor data in all, and any one value's static size. */
export const DEFAULT_MAX_TENSOR_BYTES = 2 ** 33;

/** The decoded-tensor bytes one import may still allocate: `used` grows with each tensor, up to `limit`. */
export interface TensorBudget {
  limit: number;
  used: number;
}

const FROM_ONNX: Readonly<Record<number, DType>> = ONNX_DTYPES;
const TO_ONNX = Object.fromEntries(Object.entries(FROM_ONNX).map(([k, v]) => [v, Number(k)])) as Record<DType, number>;
const ONNX_NAMES = Object.fromEntries(Object.entries(DT).map(([k, v]) => [v, k])) as Record<number, string>;

/** The lutc dtype of an ONNX TensorProto.DataType, or undefined when lutc has none (string, complex, float8). */
export function dtypeFromOnnx(t: number): DType | undefined {
  return FROM_ONNX[t];
}

/** The ONNX TensorProto.DataType number of a lutc dtype. */
export function dtypeToOnnx(d: DType): number {
  return TO_ONNX[d];
}

/** Human name of an ONNX data type number for messages (`FLOAT8E4M3FN`, or `data type 99`). */
export function onnxTypeName(t: number): string {
  return ONNX_NAMES[t] ?? `data type ${t}`;
}

/** Where a tensor comes from, for diagnostics and for resolving external data. */
export interface TensorContext {
  /** Model file path, for diagnostics. */
  file?: string;
  /** Folder external data must stay inside (the model's folder). Without it external data is refused. */
  baseDir?: string;
  /** Location to report (defaults to the file). */
  loc?: Location;
  /** The import's memory budget (absent: DEFAULT_MAX_TENSOR_BYTES for this tensor alone). */
  budget?: TensorBudget;
}

function locOf(ctx: TensorContext): Location | undefined {
  return ctx.loc ?? (ctx.file ? { kind: 'file', file: ctx.file } : undefined);
}

/** Checks dims (non-negative integers, element count below MAX_ELEMENTS) and returns them as numbers. */
export function checkDims(dims: readonly (number | LongLike)[], what: string, ctx: TensorContext): number[] {
  const out = dims.map((d) => toNum(d));
  let n = 1;
  for (const d of out) {
    if (!Number.isSafeInteger(d) || d < 0) fail('LUT1003', `${what} has invalid dim ${d} in [${out.join(', ')}]`, locOf(ctx));
    n *= d;
  }
  if (n > MAX_ELEMENTS)
    fail('LUT1003', `${what} has ${n} elements (shape [${out.join(', ')}]), more than lutc supports (2^31 - 1)`, locOf(ctx));
  return out;
}

/** Bytes `n` elements of `dtype` take in raw_data (int4/uint4 pack two per byte). */
export function rawByteLength(dtype: DType, n: number): number {
  switch (dtype) {
    case 'i4':
    case 'u4':
      return Math.ceil(n / 2);
    case 'f64':
    case 'i64':
    case 'u64':
      return n * 8;
    case 'f32':
    case 'i32':
    case 'u32':
      return n * 4;
    case 'f16':
    case 'bf16':
    case 'i16':
    case 'u16':
      return n * 2;
    default:
      return n;
  }
}

/** Decodes little-endian raw bytes into a tensor of `dtype` and `shape` (length already checked). */
function fromRaw(dtype: DType, shape: number[], bytes: Uint8Array): Tensor {
  const n = numel(shape);
  const data = allocData(dtype, n);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (dtype) {
    case 'f32':
      for (let i = 0; i < n; i++) data[i] = dv.getFloat32(i * 4, true);
      break;
    case 'f64':
      for (let i = 0; i < n; i++) data[i] = dv.getFloat64(i * 8, true);
      break;
    case 'f16':
      for (let i = 0; i < n; i++) data[i] = f16BitsToNumber(dv.getUint16(i * 2, true));
      break;
    case 'bf16':
      for (let i = 0; i < n; i++) data[i] = bf16BitsToNumber(dv.getUint16(i * 2, true));
      break;
    case 'i64':
      for (let i = 0; i < n; i++) data[i] = Number(dv.getBigInt64(i * 8, true));
      break;
    case 'u64':
      for (let i = 0; i < n; i++) data[i] = Number(dv.getBigUint64(i * 8, true));
      break;
    case 'i32':
      for (let i = 0; i < n; i++) data[i] = dv.getInt32(i * 4, true);
      break;
    case 'u32':
      for (let i = 0; i < n; i++) data[i] = dv.getUint32(i * 4, true);
      break;
    case 'i16':
      for (let i = 0; i < n; i++) data[i] = dv.getInt16(i * 2, true);
      break;
    case 'u16':
      for (let i = 0; i < n; i++) data[i] = dv.getUint16(i * 2, true);
      break;
    case 'i8':
      for (let i = 0; i < n; i++) data[i] = dv.getInt8(i);
      break;
    case 'u8':
      data.set(bytes.subarray(0, n));
      break;
    case 'bool':
      for (let i = 0; i < n; i++) data[i] = bytes[i] ? 1 : 0;
      break;
    case 'i4':
    case 'u4':
      unpackNibbles(dtype, bytes, data, n);
      break;
  }
  return { dtype, shape, data };
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * Raw little-endian bytes (a whole, fresh buffer) as the tensor's storage without a copy, where the
 * storage type is the raw type itself (u8, i8, and on little-endian hosts f32, i16, u16, i32, u32);
 * undefined for the others (decoded by fromRaw).
 */
function rawView(dtype: DType, bytes: Uint8Array): TensorData | undefined {
  if (bytes.byteOffset !== 0 || bytes.byteLength !== bytes.buffer.byteLength) return undefined;
  const b = bytes.buffer;
  if (dtype === 'u8') return bytes;
  if (dtype === 'i8') return new Int8Array(b);
  if (!LITTLE_ENDIAN) return undefined;
  switch (dtype) {
    case 'f32':
      return new Float32Array(b);
    case 'i16':
      return new Int16Array(b);
    case 'u16':
      return new Uint16Array(b);
    case 'i32':
      return new Int32Array(b);
    case 'u32':
      return new Uint32Array(b);
    default:
      return undefined;
  }
}

/** Two 4-bit values per byte, low nibble first (ONNX's INT4/UINT4 packing); int4 sign-extends. */
function unpackNibbles(dtype: 'i4' | 'u4', bytes: ArrayLike<number>, out: { [i: number]: number }, n: number): void {
  for (let i = 0; i < n; i++) {
    const nib = ((bytes[i >> 1]! & 0xff) >> ((i & 1) * 4)) & 0xf;
    out[i] = dtype === 'i4' && nib >= 8 ? nib - 16 : nib;
  }
}

/** Encodes a tensor as little-endian raw bytes (int4/uint4 packed low nibble first, f16/bf16 as bits). */
export function tensorToRaw(t: Tensor): Uint8Array {
  const n = t.data.length;
  const out = new Uint8Array(rawByteLength(t.dtype, n));
  const dv = new DataView(out.buffer);
  const d = t.data;
  switch (t.dtype) {
    case 'f32':
      for (let i = 0; i < n; i++) dv.setFloat32(i * 4, d[i]!, true);
      break;
    case 'f64':
      for (let i = 0; i < n; i++) dv.setFloat64(i * 8, d[i]!, true);
      break;
    case 'f16':
      for (let i = 0; i < n; i++) dv.setUint16(i * 2, numberToF16Bits(d[i]!), true);
      break;
    case 'bf16':
      for (let i = 0; i < n; i++) dv.setUint16(i * 2, numberToBf16Bits(d[i]!), true);
      break;
    case 'i64':
      // doubles at or beyond +-2^63 saturate (2^63 - 1, torch's Slice "to the end", reads back as 2^63)
      for (let i = 0; i < n; i++) dv.setBigInt64(i * 8, saturatedBigInt(d[i]!, -(2n ** 63n), 2n ** 63n - 1n), true);
      break;
    case 'u64':
      for (let i = 0; i < n; i++) dv.setBigUint64(i * 8, saturatedBigInt(d[i]!, 0n, 2n ** 64n - 1n), true);
      break;
    case 'i32':
      for (let i = 0; i < n; i++) dv.setInt32(i * 4, d[i]!, true);
      break;
    case 'u32':
      for (let i = 0; i < n; i++) dv.setUint32(i * 4, d[i]!, true);
      break;
    case 'i16':
      for (let i = 0; i < n; i++) dv.setInt16(i * 2, d[i]!, true);
      break;
    case 'u16':
      for (let i = 0; i < n; i++) dv.setUint16(i * 2, d[i]!, true);
      break;
    case 'i8':
      for (let i = 0; i < n; i++) dv.setInt8(i, d[i]!);
      break;
    case 'u8':
    case 'bool':
      for (let i = 0; i < n; i++) out[i] = d[i]!;
      break;
    case 'i4':
    case 'u4':
      for (let i = 0; i < n; i++) out[i >> 1]! |= (d[i]! & 0xf) << ((i & 1) * 4);
      break;
  }
  return out;
}

/**
 * Encodes a lutc tensor as a TensorProto named `name`: in `raw_data` by default, or in the typed
 * fields (float_data, int32_data, int64_data, double_data, uint64_data) with `{ raw: false }`.
 */
export function tensorToProto(t: Tensor, name: string, opts: { raw?: boolean } = {}): TensorProto {
  const p = onnx.TensorProto.create({ name, dims: [...t.shape], dataType: dtypeToOnnx(t.dtype) });
  if (opts.raw !== false) {
    p.rawData = tensorToRaw(t);
    return p;
  }
  const d = Array.from(t.data as ArrayLike<number>);
  switch (t.dtype) {
    case 'f32':
      p.floatData = d;
      break;
    case 'f64':
      p.doubleData = d;
      break;
    case 'i64':
      p.int64Data = d;
      break;
    case 'u32':
    case 'u64':
      p.uint64Data = d;
      break;
    case 'f16':
      p.int32Data = d.map(numberToF16Bits);
      break;
    case 'bf16':
      p.int32Data = d.map(numberToBf16Bits);
      break;
    case 'i4':
    case 'u4':
      p.int32Data = Array.from(tensorToRaw(t));
      break;
    default:
      p.int32Data = d;
      break;
  }
  return p;
}

/** Decodes a TensorProto (raw, typed fields, or external data) into a lutc tensor. */
export function tensorFromProto(t: ITensorProto, ctx: TensorContext = {}): Tensor {
  const what = `tensor '${t.name ?? ''}'`;
  const code = t.dataType ?? 0;
  const dtype = dtypeFromOnnx(code);
  if (!dtype) fail('LUT1002', `${what} has element type ${onnxTypeName(code)}, which lutc does not support`, locOf(ctx));
  if (t.segment) fail('LUT1002', `${what} is a segmented tensor, which lutc does not support`, locOf(ctx));
  const shape = checkDims(t.dims ?? [], what, ctx);
  const n = numel(shape);
  const want = rawByteLength(dtype, n);
  chargeBudget(ctx, n * allocData(dtype, 0).BYTES_PER_ELEMENT, `${what} (shape [${shape.join(', ')}] of ${dtype})`);
  if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) {
    const ext = locateExternal(t, want, what, ctx);
    if (want < LAZY_EXTERNAL_MIN_BYTES) return fromRaw(dtype, shape, readExternal(ext));
    // large: read by range when something reads the data (ir/tensor.ts lazyTensor), not now
    return lazyTensor(dtype, shape, () => {
      const bytes = readExternal(ext);
      return rawView(dtype, bytes) ?? fromRaw(dtype, shape, bytes).data;
    });
  }
  if (t.rawData && t.rawData.length > 0) {
    if (t.rawData.length !== want)
      fail('LUT1004', `${what}: raw_data has ${t.rawData.length} bytes, shape [${shape.join(', ')}] of ${dtype} needs ${want}`, locOf(ctx));
    return fromRaw(dtype, shape, t.rawData);
  }
  return fromTyped(t, dtype, shape, what, ctx);
}

/** Charges `bytes` to the import's budget, or fails LUT1008 before they are allocated. */
function chargeBudget(ctx: TensorContext, bytes: number, what: string): void {
  const b = ctx.budget ?? { limit: DEFAULT_MAX_TENSOR_BYTES, used: 0 };
  if (b.used + bytes > b.limit)
    fail(
      'LUT1008',
      `${what} needs ${bytes} bytes; with the ${b.used} bytes of tensors before it that exceeds the limit of ${b.limit} (raise it with --max-tensor-bytes)`,
      locOf(ctx),
    );
  b.used += bytes;
}

function fromTyped(t: ITensorProto, dtype: DType, shape: number[], what: string, ctx: TensorContext): Tensor {
  const n = numel(shape);
  let field: string;
  let src: ArrayLike<number | LongLike>;
  switch (dtype) {
    case 'f32':
      field = 'float_data';
      src = t.floatData ?? [];
      break;
    case 'f64':
      field = 'double_data';
      src = t.doubleData ?? [];
      break;
    case 'i64':
      field = 'int64_data';
      src = t.int64Data ?? [];
      break;
    case 'u32':
    case 'u64':
      field = 'uint64_data';
      src = t.uint64Data ?? [];
      break;
    default:
      field = 'int32_data';
      src = t.int32Data ?? [];
      break;
  }
  const packed = dtype === 'i4' || dtype === 'u4';
  const expect = packed ? Math.ceil(n / 2) : n;
  if (src.length !== expect)
    fail('LUT1004', `${what}: ${field} has ${src.length} values, shape [${shape.join(', ')}] of ${dtype} needs ${expect}`, locOf(ctx));
  const data = allocData(dtype, n);
  if (packed) {
    unpackNibbles(
      dtype,
      Array.from(src, (v) => toNum(v)),
      data,
      n,
    );
  } else {
    for (let i = 0; i < n; i++) {
      const v = toNum(src[i]);
      switch (dtype) {
        case 'f16':
          data[i] = f16BitsToNumber(v & 0xffff);
          break;
        case 'bf16':
          data[i] = bf16BitsToNumber(v & 0xffff);
          break;
        case 'bool':
          data[i] = v ? 1 : 0;
          break;
        default:
          data[i] = v;
      }
    }
  }
  return { dtype, shape, data };
}

/** An external-data tensor's checked byte range (locateExternal), read by readExternal. */
interface ExternalRange {
  file: string;
  location: string;
  offset: number;
  length: number;
  what: string;
  loc: Location | undefined;
}

/**
 * Checks an external-data tensor's location and range without reading it: the location must stay
 * inside `ctx.baseDir`, also after resolving symlinks, name a file, and hold [offset, offset + length).
 */
function locateExternal(t: ITensorProto, want: number, what: string, ctx: TensorContext): ExternalRange {
  const loc = locOf(ctx);
  const kv = new Map<string, string>();
  for (const e of t.externalData ?? []) kv.set(e.key ?? '', e.value ?? '');
  const location = kv.get('location');
  if (!location) fail('LUT1006', `${what} has external data without a 'location'`, loc);
  if (!ctx.baseDir)
    fail(
      'LUT1006',
      `${what} is stored in external file '${location}', but the model's folder is unknown (import from a file or pass baseDir)`,
      loc,
    );
  const num = (key: string): number | undefined => {
    const s = kv.get(key);
    if (s === undefined) return undefined;
    if (!/^\d+$/.test(s) || !Number.isSafeInteger(Number(s)))
      fail('LUT1006', `${what}: external data ${key} '${s}' is not a non-negative integer`, loc);
    return Number(s);
  };
  const offset = num('offset') ?? 0;
  const length = num('length');
  if (path.isAbsolute(location) || path.win32.isAbsolute(location) || location.includes('\0')) {
    fail('LUT1005', `${what}: external data location '${location}' is an absolute path; it must be relative to the model's folder`, loc);
  }
  const base = path.resolve(ctx.baseDir);
  const full = path.resolve(base, location);
  if (!isInside(base, full)) fail('LUT1005', `${what}: external data location '${location}' leaves the model's folder`, loc);
  let real: string;
  let realBase: string;
  try {
    realBase = fs.realpathSync(base);
    real = fs.realpathSync(full);
  } catch (e) {
    fail(
      'LUT1006',
      `${what}: cannot open external data file '${location}': ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      loc,
    );
  }
  if (!isInside(realBase, real))
    fail('LUT1005', `${what}: external data location '${location}' resolves (through a link) outside the model's folder`, loc);
  const len = length ?? want;
  if (len !== want) fail('LUT1004', `${what}: external data length ${len} does not match the ${want} bytes its shape needs`, loc);
  let st: fs.Stats;
  try {
    st = fs.statSync(real);
  } catch (e) {
    return fail(
      'LUT1006',
      `${what}: cannot read external data file '${location}': ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      loc,
    );
  }
  if (!st.isFile()) fail('LUT1006', `${what}: external data location '${location}' is not a file`, loc);
  if (offset + len > st.size)
    fail('LUT1006', `${what}: external data [${offset}, ${offset + len}) lies beyond the end of '${location}' (${st.size} bytes)`, loc);
  return { file: real, location, offset, length: len, what, loc };
}

/**
 * Reads an external range checked by locateExternal: only [offset, offset + length), never the whole
 * file. LUT1006 when the file changed under it (gone, or shorter).
 */
function readExternal(r: ExternalRange): Uint8Array {
  const { what, location, offset, loc } = r;
  const len = r.length;
  let fd: number | undefined;
  try {
    fd = fs.openSync(r.file, 'r');
    const buf = new Uint8Array(len);
    let got = 0;
    while (got < len) {
      const n = fs.readSync(fd, buf, got, len - got, offset + got);
      if (n <= 0) fail('LUT1006', `${what}: short read from '${location}'`, loc);
      got += n;
    }
    return buf;
  } catch (e) {
    if ((e as Error).name === 'LutcError') throw e;
    return fail(
      'LUT1006',
      `${what}: cannot read external data file '${location}': ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      loc,
    );
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

function isInside(base: string, p: string): boolean {
  const rel = path.relative(base, p);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}

/** Reads a serialized TensorProto file (`.pb`, as in ONNX's conformance tests). */
export function readTensorPb(file: string): Tensor {
  let bytes: Uint8Array;
  try {
    bytes = fs.readFileSync(file);
  } catch (e) {
    fail('LUT1000', `cannot read file: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { kind: 'file', file });
  }
  let proto: TensorProto;
  try {
    proto = onnx.TensorProto.decode(bytes);
  } catch (e) {
    fail('LUT1001', `not a valid TensorProto: ${(e as Error).message}`, { kind: 'file', file });
  }
  return tensorFromProto(proto, { file, baseDir: path.dirname(file) });
}

/** The integer part of a double as a BigInt clamped to [lo, hi] (NaN: 0). */
function saturatedBigInt(v: number, lo: bigint, hi: bigint): bigint {
  if (Number.isNaN(v)) return 0n;
  if (v === Infinity) return hi;
  if (v === -Infinity) return lo;
  const b = BigInt(Math.trunc(v));
  return b < lo ? lo : b > hi ? hi : b;
}
