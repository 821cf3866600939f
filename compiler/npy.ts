/**
 * NumPy `.npy` files <-> lutc Tensors, for `lutc run` inputs/outputs and the C harness goldens, and the
 * output file naming both share (`outputFileName`). Not part of the CLI: backends may import it.
 *
 * Read: format versions 1.0, 2.0 and 3.0; little- and big-endian data; C and Fortran order (Fortran
 * data is transposed to lutc's row-major order); dtypes f2 f4 f8, i1 u1 i2 u2 i4 u4 i8 u8, b1.
 * Write: version 1.0 (2.0 only when the header would not fit in 65535 bytes), little-endian, C order.
 *
 * Choices, documented because numpy has no native type for them:
 *  - bf16 tensors are written as `<f4`. lutc already stores bf16 values rounded in float32, so this
 *    is lossless and every numpy can read it; reading that file back gives an f32 tensor.
 *  - i4/u4 tensors (one element per byte in lutc) are written as `|i1` / `|u1`.
 *  - i8/u8 (`<i8`, `<u8`) map to lutc's i64/u64, stored in Float64Array: exact up to 2^53, as
 *    everywhere else in lutc (see `ir/types.ts`).
 *
 * Input files are hostile: every malformed header, unsupported dtype, bad shape or truncated data is
 * a coded diagnostic (LUT6020-LUT6029), never an exception from deep inside a TypedArray.
 */
import * as fs from 'node:fs';
import { fail, type Location } from '../base/diagnostics.js';
import { allocData, f16BitsToNumber, numberToF16Bits, numel } from '../ir/tensor.js';
import type { DType, Tensor } from '../ir/types.js';

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // "\x93NUMPY"
/** Same cap as ONNX tensors: TypedArrays and our indexing stay below 2^31 elements. */
const MAX_ELEMENTS = 2 ** 31 - 1;

/** numpy kind+size (without byte order) -> lutc dtype. */
const FROM_NPY: Record<string, DType> = {
  f2: 'f16',
  f4: 'f32',
  f8: 'f64',
  i1: 'i8',
  u1: 'u8',
  i2: 'i16',
  u2: 'u16',
  i4: 'i32',
  u4: 'u32',
  i8: 'i64',
  u8: 'u64',
  b1: 'bool',
};

/** lutc dtype -> numpy descr written (see the header comment for bf16 and int4). */
const TO_NPY: Record<DType, string> = {
  f16: '<f2',
  bf16: '<f4',
  f32: '<f4',
  f64: '<f8',
  i4: '|i1',
  u4: '|u1',
  i8: '|i1',
  u8: '|u1',
  i16: '<i2',
  u16: '<u2',
  i32: '<i4',
  u32: '<u4',
  i64: '<i8',
  u64: '<u8',
  bool: '|b1',
};

/** The numpy dtype name of a lutc dtype as `writeNpy` stores it (e.g. `float32`), for messages and docs. */
export function npyDescrOf(dtype: DType): string {
  return TO_NPY[dtype];
}

function loc(file?: string): Location | undefined {
  return file ? { kind: 'file', file } : undefined;
}

/** Parsed `.npy` header dictionary. */
interface NpyHeader {
  descr: string;
  fortranOrder: boolean;
  shape: number[];
}

/**
 * Decodes a `.npy` file. `file` only labels diagnostics.
 * Errors: LUT6020 not a .npy file, LUT6021 unsupported version, LUT6022 malformed header,
 * LUT6023 unsupported dtype, LUT6024 truncated data, LUT6025 invalid shape.
 */
export function readNpy(bytes: Uint8Array, file?: string): Tensor {
  const where = loc(file);
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) {
    fail('LUT6020', 'not a .npy file (missing the \\x93NUMPY magic)', where);
  }
  const major = bytes[6]!;
  const minor = bytes[7]!;
  if (major < 1 || major > 3) fail('LUT6021', `unsupported .npy format version ${major}.${minor} (lutc reads 1.0, 2.0, 3.0)`, where);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerLen: number;
  let headerStart: number;
  if (major === 1) {
    headerLen = dv.getUint16(8, true);
    headerStart = 10;
  } else {
    if (bytes.length < 12) fail('LUT6020', 'truncated .npy preamble', where);
    headerLen = dv.getUint32(8, true);
    headerStart = 12;
  }
  const dataStart = headerStart + headerLen;
  if (dataStart > bytes.length)
    fail('LUT6022', `header says ${headerLen} bytes, but the file ends after ${bytes.length - headerStart}`, where);
  // v1/v2 headers are latin1 (ASCII in practice), v3 is utf8; the dict itself only uses ASCII.
  const headerText = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(headerStart, dataStart));
  const header = parseHeader(headerText, file);

  const order = header.descr[0]!;
  const key = header.descr.slice(1);
  const dtype = FROM_NPY[key];
  if (!'<>|='.includes(order) || !dtype) {
    fail('LUT6023', `unsupported .npy dtype '${header.descr}' (lutc reads f2 f4 f8 i1 u1 i2 u2 i4 u4 i8 u8 b1)`, where);
  }
  const width = Number(key.slice(1));
  const bigEndian = order === '>';
  let n = 1;
  for (const d of header.shape) {
    if (!Number.isSafeInteger(d) || d < 0) fail('LUT6025', `invalid shape (${header.shape.join(', ')})`, where);
    n *= d;
  }
  if (n > MAX_ELEMENTS) fail('LUT6025', `shape (${header.shape.join(', ')}) has ${n} elements, more than lutc supports (2^31 - 1)`, where);
  const need = n * width;
  if (bytes.length - dataStart < need) {
    fail(
      'LUT6024',
      `truncated data: shape (${header.shape.join(', ')}) of ${header.descr} needs ${need} bytes, the file has ${bytes.length - dataStart}`,
      where,
    );
  }
  const data = allocData(dtype, n);
  const src = new DataView(bytes.buffer, bytes.byteOffset + dataStart, need);
  const le = !bigEndian;
  const get = reader(key, src, le);
  for (let i = 0; i < n; i++) (data as Float64Array)[i] = get(i);
  if (dtype === 'bool') for (let i = 0; i < n; i++) (data as Uint8Array)[i] = data[i] ? 1 : 0;
  const t: Tensor = { dtype, shape: [...header.shape], data };
  return header.fortranOrder ? fortranToC(t) : t;
}

/** An element getter for numpy kind+size `key` (the byte order applies to widths > 1). */
function reader(key: string, dv: DataView, le: boolean): (i: number) => number {
  switch (key) {
    case 'f2':
      return (i) => f16BitsToNumber(dv.getUint16(i * 2, le));
    case 'f4':
      return (i) => dv.getFloat32(i * 4, le);
    case 'f8':
      return (i) => dv.getFloat64(i * 8, le);
    case 'i1':
      return (i) => dv.getInt8(i);
    case 'u1':
    case 'b1':
      return (i) => dv.getUint8(i);
    case 'i2':
      return (i) => dv.getInt16(i * 2, le);
    case 'u2':
      return (i) => dv.getUint16(i * 2, le);
    case 'i4':
      return (i) => dv.getInt32(i * 4, le);
    case 'u4':
      return (i) => dv.getUint32(i * 4, le);
    case 'i8':
      return (i) => Number(dv.getBigInt64(i * 8, le));
    case 'u8':
      return (i) => Number(dv.getBigUint64(i * 8, le));
    default:
      throw new Error(`unreachable npy key ${key}`);
  }
}

/** Fortran (column-major) data -> row-major: element (i0..ik) sits at sum(i_j * prod(shape[<j])). */
function fortranToC(t: Tensor): Tensor {
  const { shape } = t;
  if (shape.length < 2) return t;
  const n = numel(shape);
  const out = allocData(t.dtype, n);
  const fStrides = shape.map((_, j) => shape.slice(0, j).reduce((a, b) => a * b, 1));
  const idx = new Array<number>(shape.length).fill(0);
  for (let c = 0; c < n; c++) {
    let f = 0;
    for (let j = 0; j < shape.length; j++) f += idx[j]! * fStrides[j]!;
    (out as Float64Array)[c] = t.data[f]!;
    for (let j = shape.length - 1; j >= 0; j--) {
      if (++idx[j]! < shape[j]!) break;
      idx[j] = 0;
    }
  }
  return { dtype: t.dtype, shape: [...shape], data: out };
}

/**
 * Parses the header's Python dict literal, e.g. `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }`.
 * A tiny tokenizer rather than regexes, so key order, quotes and whitespace may vary as numpy allows.
 */
function parseHeader(text: string, file?: string): NpyHeader {
  const bad = (why: string): never =>
    fail('LUT6022', `malformed .npy header (${why}): ${JSON.stringify(text.trim().slice(0, 120))}`, loc(file));
  let p = 0;
  const ws = () => {
    while (p < text.length && /\s/.test(text[p]!)) p++;
  };
  const expect = (c: string) => {
    ws();
    if (text[p] !== c) bad(`expected '${c}' at offset ${p}`);
    p++;
  };
  const str = (): string => {
    ws();
    const q = text[p];
    if (q !== "'" && q !== '"') bad(`expected a string at offset ${p}`);
    const end = text.indexOf(q!, p + 1);
    if (end < 0) bad('unterminated string');
    const s = text.slice(p + 1, end);
    p = end + 1;
    return s;
  };
  const value = (): string | boolean | number[] => {
    ws();
    const c = text[p];
    if (c === "'" || c === '"') return str();
    if (text.startsWith('True', p)) return ((p += 4), true);
    if (text.startsWith('False', p)) return ((p += 5), false);
    if (c === '(' || c === '[') {
      const close = c === '(' ? ')' : ']';
      p++;
      const dims: number[] = [];
      for (;;) {
        ws();
        if (text[p] === close) {
          p++;
          return dims;
        }
        const m = /^-?\d+L?/.exec(text.slice(p));
        if (!m) bad(`expected a dimension at offset ${p}`);
        dims.push(Number(m![0].replace('L', '')));
        p += m![0].length;
        ws();
        if (text[p] === ',') p++;
        else if (text[p] !== close) bad(`expected ',' or '${close}' at offset ${p}`);
      }
    }
    return bad(`unexpected value at offset ${p}`);
  };
  const dict: Record<string, string | boolean | number[]> = {};
  expect('{');
  for (;;) {
    ws();
    if (text[p] === '}') {
      p++;
      break;
    }
    const k = str();
    expect(':');
    dict[k] = value();
    ws();
    if (text[p] === ',') p++;
    else if (text[p] !== '}') bad(`expected ',' or '}' at offset ${p}`);
  }
  if (text.slice(p).trim() !== '') bad('text after the dictionary');
  const descr = dict.descr;
  const fortran = dict.fortran_order;
  const shape = dict.shape;
  if (typeof descr !== 'string') {
    if (descr === undefined) bad("missing 'descr'");
    fail('LUT6023', `unsupported .npy dtype ${JSON.stringify(descr)} (structured dtypes are not supported)`, loc(file));
  }
  if (typeof fortran !== 'boolean') bad("missing or non-boolean 'fortran_order'");
  if (!Array.isArray(shape)) bad("missing or non-tuple 'shape'");
  return { descr: descr as string, fortranOrder: fortran as boolean, shape: shape as number[] };
}

/** Encodes a tensor as a `.npy` file (see the header comment for the dtype mapping). */
export function writeNpy(t: Tensor): Uint8Array {
  const descr = TO_NPY[t.dtype];
  const n = numel(t.shape);
  if (t.data.length !== n) throw new RangeError(`tensor data has ${t.data.length} elements, shape [${t.shape}] needs ${n}`);
  const shapeText = t.shape.length === 1 ? `(${t.shape[0]},)` : `(${t.shape.join(', ')})`;
  const dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  // Pad with spaces and end with '\n' so the data starts on a 64-byte boundary (numpy's rule).
  let version = 1;
  let pre = 10;
  let total = Math.ceil((pre + dict.length + 1) / 64) * 64;
  if (total - pre > 0xffff) {
    version = 2;
    pre = 12;
    total = Math.ceil((pre + dict.length + 1) / 64) * 64;
  }
  const headerLen = total - pre;
  const header = dict + ' '.repeat(headerLen - dict.length - 1) + '\n';
  const width = Number(descr.slice(2));
  const out = new Uint8Array(total + n * width);
  out.set(MAGIC, 0);
  out[6] = version;
  out[7] = 0;
  const dv = new DataView(out.buffer);
  if (version === 1) dv.setUint16(8, headerLen, true);
  else dv.setUint32(8, headerLen, true);
  for (let i = 0; i < header.length; i++) out[pre + i] = header.charCodeAt(i);
  const body = new DataView(out.buffer, total);
  const d = t.data;
  for (let i = 0; i < n; i++) {
    const v = d[i]!;
    switch (descr) {
      case '<f2':
        body.setUint16(i * 2, numberToF16Bits(v), true);
        break;
      case '<f4':
        body.setFloat32(i * 4, v, true);
        break;
      case '<f8':
        body.setFloat64(i * 8, v, true);
        break;
      case '|i1':
        body.setInt8(i, v);
        break;
      case '|u1':
        body.setUint8(i, v);
        break;
      case '|b1':
        body.setUint8(i, v ? 1 : 0);
        break;
      case '<i2':
        body.setInt16(i * 2, v, true);
        break;
      case '<u2':
        body.setUint16(i * 2, v, true);
        break;
      case '<i4':
        body.setInt32(i * 4, v, true);
        break;
      case '<u4':
        body.setUint32(i * 4, v, true);
        break;
      case '<i8':
        body.setBigInt64(i * 8, BigInt(Math.trunc(v)), true);
        break;
      case '<u8':
        body.setBigUint64(i * 8, BigInt(Math.trunc(v)), true);
        break;
    }
  }
  return out;
}

/** Reads a `.npy` file from disk; a missing or unreadable file is LUT6026. */
export function readNpyFile(path: string): Tensor {
  let bytes: Uint8Array;
  try {
    bytes = fs.readFileSync(path);
  } catch (e) {
    fail('LUT6026', `cannot read .npy file: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { kind: 'file', file: path });
  }
  return readNpy(bytes, path);
}

/** Writes a tensor to a `.npy` file. */
export function writeNpyFile(path: string, t: Tensor): void {
  fs.writeFileSync(path, writeNpy(t));
}

/**
 * The `.npy` file an output named `name` is written to (`lutc run` and the C harness): characters
 * outside [A-Za-z0-9._-] become '_'.
 */
export function outputFileName(name: string): string {
  return `${name.replace(/[^A-Za-z0-9._-]/g, '_')}.npy`;
}
