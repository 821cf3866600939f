/**
 * Number and tensor literals of the IR text form, shared by printer and parser so the two agree by
 * construction: float formatting that round-trips exactly (shortest float32 text for f32/f16/bf16
 * storage, shortest double text for f64), and the `dense<"base64">` encoding, which holds the
 * little-endian bytes a tensor has in ONNX raw_data (f16/bf16 as their 16-bit patterns, i64 as
 * 8-byte integers; i4/u4 and bool one element per byte).
 */

import { allocData, bf16BitsToNumber, dtypeByteSize, f16BitsToNumber, numberToBf16Bits, numberToF16Bits, roundTo } from '../tensor.js';
import type { DType, Tensor } from '../types.js';

const F32_STORED: ReadonlySet<DType> = new Set(['f32', 'f16', 'bf16']);

/** Adds `.0` to integral decimal text so it reads back as a float. */
function floatify(s: string): string {
  return /[.en]/.test(s) ? s : `${s}.0`;
}

function special(x: number): string | undefined {
  if (Number.isNaN(x)) return 'nan';
  if (x === Infinity) return 'inf';
  if (x === -Infinity) return '-inf';
  if (Object.is(x, -0)) return '-0.0';
  return undefined;
}

/** Shortest decimal text that reads back (through Math.fround) as the float32 value `x`. */
export function formatF32(x: number): string {
  const sp = special(x);
  if (sp) return sp;
  for (let p = 1; p <= 9; p++) {
    const s = x.toPrecision(p);
    if (Math.fround(Number(s)) === x) return floatify(String(Number(s)));
  }
  return floatify(String(x)); // not a float32 value: exact double text
}

/** Shortest decimal text that reads back as the double `x`. */
export function formatF64(x: number): string {
  return special(x) ?? floatify(String(x));
}

/**
 * A float attribute: float32 values (every ONNX float attribute) print as shortest float32 text;
 * other doubles (set by passes) carry an `f64` suffix so they are not rounded when read back.
 */
export function formatFloatAttr(x: number): string {
  if (Number.isNaN(x) || Math.fround(x) === x) return formatF32(x);
  return `${formatF64(x)}f64`;
}

/** Reads float text; `f64`-suffixed text and f64 contexts keep the double, others round to float32. */
export function parseFloatText(text: string, asDouble: boolean): number {
  const suffixed = text.endsWith('f64');
  const t = suffixed ? text.slice(0, -3) : text;
  let v: number;
  if (t === 'nan' || t === '-nan') v = NaN;
  else if (t === 'inf') v = Infinity;
  else if (t === '-inf') v = -Infinity;
  else v = Number(t);
  return suffixed || asDouble ? v : Math.fround(v);
}

/** One tensor element as literal text. */
export function formatElement(dtype: DType, x: number): string {
  if (dtype === 'f64') return formatF64(x);
  if (F32_STORED.has(dtype)) return formatF32(x);
  return String(x);
}

/** Value of a literal element for `dtype` storage (f16/bf16 rounded to their type). */
export function elementValue(dtype: DType, text: string, isInt: boolean): number {
  if (dtype === 'f64') return parseFloatText(text, true);
  if (dtype === 'f32') return parseFloatText(text, false);
  if (dtype === 'f16' || dtype === 'bf16') return roundTo(dtype, parseFloatText(text, false));
  if (!isInt) return NaN; // caller diagnoses a float literal in an integer tensor
  return Number(text);
}

/** Little-endian storage bytes of `t` as ONNX would hold them. */
export function tensorBytes(t: Tensor): Uint8Array {
  const n = t.data.length;
  const size = dtypeByteSize(t.dtype);
  const buf = new Uint8Array(n * size);
  const dv = new DataView(buf.buffer);
  const d = t.data;
  for (let i = 0; i < n; i++) {
    const x = d[i]!;
    switch (t.dtype) {
      case 'f32':
        dv.setFloat32(i * 4, x, true);
        break;
      case 'f64':
        dv.setFloat64(i * 8, x, true);
        break;
      case 'f16':
        dv.setUint16(i * 2, numberToF16Bits(x), true);
        break;
      case 'bf16':
        dv.setUint16(i * 2, numberToBf16Bits(x), true);
        break;
      // 2^63 / 2^64 are INT64_MAX / UINT64_MAX rounded to a double (see ir/types.ts): clamp, don't wrap.
      case 'i64':
        dv.setBigInt64(i * 8, x >= 2 ** 63 ? 2n ** 63n - 1n : BigInt(x), true);
        break;
      case 'u64':
        dv.setBigUint64(i * 8, x >= 2 ** 64 ? 2n ** 64n - 1n : BigInt(x), true);
        break;
      case 'i32':
        dv.setInt32(i * 4, x, true);
        break;
      case 'u32':
        dv.setUint32(i * 4, x, true);
        break;
      case 'i16':
        dv.setInt16(i * 2, x, true);
        break;
      case 'u16':
        dv.setUint16(i * 2, x, true);
        break;
      case 'i8':
      case 'i4':
        dv.setInt8(i, x);
        break;
      default:
        dv.setUint8(i, x);
        break;
    }
  }
  // Float32Array storage keeps NaN payloads; the DataView path above does too for f32.
  return buf;
}

/** Inverse of `tensorBytes`; undefined when the byte count does not fit `n` elements. */
export function tensorFromBytes(dtype: DType, shape: number[], bytes: Uint8Array, n: number): Tensor | undefined {
  const size = dtypeByteSize(dtype);
  if (bytes.length !== n * size) return undefined;
  const data = allocData(dtype, n);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < n; i++) {
    let x: number;
    switch (dtype) {
      case 'f32':
        x = dv.getFloat32(i * 4, true);
        break;
      case 'f64':
        x = dv.getFloat64(i * 8, true);
        break;
      case 'f16':
        x = f16BitsToNumber(dv.getUint16(i * 2, true));
        break;
      case 'bf16':
        x = bf16BitsToNumber(dv.getUint16(i * 2, true));
        break;
      case 'i64':
        x = Number(dv.getBigInt64(i * 8, true));
        break;
      case 'u64':
        x = Number(dv.getBigUint64(i * 8, true));
        break;
      case 'i32':
        x = dv.getInt32(i * 4, true);
        break;
      case 'u32':
        x = dv.getUint32(i * 4, true);
        break;
      case 'i16':
        x = dv.getInt16(i * 2, true);
        break;
      case 'u16':
        x = dv.getUint16(i * 2, true);
        break;
      case 'i8':
      case 'i4':
        x = dv.getInt8(i);
        break;
      default:
        x = dv.getUint8(i);
        break;
    }
    data[i] = x;
  }
  return { dtype, shape, data };
}

const B64 = /^[A-Za-z0-9+/]*={0,2}$/;
/** Decodes base64, or undefined when the text is not canonical base64. */
export function decodeBase64(s: string): Uint8Array | undefined {
  if (s.length % 4 !== 0 || !B64.test(s)) return undefined;
  const b = Buffer.from(s, 'base64');
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

export function encodeBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}
