/**
 * .npy reader/writer: real numpy files (fixtures made by make-fixtures.py: byte orders, Fortran order,
 * versions 2 and 3), round trips of every dtype, and malformed input -> coded diagnostics.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { LutcError } from '../../base/diagnostics.js';
import { readNpy, readNpyFile, writeNpy } from '../../compiler/npy.js';
import { makeTensor } from '../../ir/tensor.js';
import type { DType, Tensor } from '../../ir/types.js';

const fixtures = path.join(path.dirname(new URL(import.meta.url).pathname), 'fixtures');
const ar = Array.from({ length: 24 }, (_, i) => i);

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof LutcError) return e.diagnostics[0]!.code;
    throw e;
  }
  throw new Error('expected a LutcError');
}

describe('readNpy on numpy-written files', () => {
  const cases: [string, DType, number[]][] = [
    ['f4_le', 'f32', ar.map((x) => x / 8)],
    ['f4_be', 'f32', ar.map((x) => x / 8)],
    ['f8_be', 'f64', ar.map((x) => x / 8)],
    ['f2_le', 'f16', ar.map((x) => x / 8)], // multiples of 1/8 below 3 are exact in f16
    ['i8_le', 'i64', ar.map((x) => x - 12)],
    ['i8_be', 'i64', ar.map((x) => x - 12)],
    ['u2_be', 'u16', ar],
    ['i1', 'i8', ar.map((x) => x - 12)],
    ['u1', 'u8', ar],
    ['b1', 'bool', ar.map((x) => (x % 3 === 0 ? 1 : 0))],
    ['f4_fortran', 'f32', ar.map((x) => x / 8)], // transposed back to row-major on read
    ['f4_v2', 'f32', ar.map((x) => x / 8)],
    ['f4_v3', 'f32', ar.map((x) => x / 8)],
  ];
  for (const [name, dtype, values] of cases) {
    it(name, () => {
      const t = readNpyFile(path.join(fixtures, `${name}.npy`));
      expect(t.dtype).toBe(dtype);
      expect(t.shape).toEqual([2, 3, 4]);
      expect(Array.from(t.data)).toEqual(values);
    });
  }
  it('scalar and empty', () => {
    const s = readNpyFile(path.join(fixtures, 'scalar_f4.npy'));
    expect(s.shape).toEqual([]);
    expect(Array.from(s.data)).toEqual([2.5]);
    const e = readNpyFile(path.join(fixtures, 'empty_f4.npy'));
    expect(e.shape).toEqual([0, 3]);
    expect(e.data.length).toBe(0);
  });
});

describe('writeNpy round trip', () => {
  const dtypes: DType[] = ['f32', 'f16', 'f64', 'i8', 'u8', 'i16', 'u16', 'i32', 'u32', 'i64', 'u64', 'bool'];
  for (const dt of dtypes) {
    it(dt, () => {
      const vals = [0, 1, 2, 3, 4, 5].map((v) =>
        dt === 'bool' ? v % 2 : dt.startsWith('f') ? v / 4 - 0.5 : dt.startsWith('i') ? v - 3 : v,
      );
      const t = makeTensor(dt, [2, 3], vals);
      const bytes = writeNpy(t);
      // numpy's rule: the data starts on a 64-byte boundary and the header ends with '\n'.
      const hlen = bytes[8]! | (bytes[9]! << 8);
      expect((10 + hlen) % 64).toBe(0);
      expect(bytes[10 + hlen - 1]).toBe(0x0a);
      const back = readNpy(bytes);
      expect(back.dtype).toBe(dt);
      expect(back.shape).toEqual([2, 3]);
      expect(Array.from(back.data)).toEqual(Array.from(t.data));
    });
  }
  it('bf16 is written as <f4 (lossless) and i4 as |i1', () => {
    const b = readNpy(writeNpy(makeTensor('bf16', [3], [1.5, -2, 0.0078125])));
    expect(b.dtype).toBe('f32');
    expect(Array.from(b.data)).toEqual([1.5, -2, 0.0078125]);
    const q = readNpy(writeNpy(makeTensor('i4', [2], [-8, 7])));
    expect(q.dtype).toBe('i8');
    expect(Array.from(q.data)).toEqual([-8, 7]);
  });
  it('1-D and 0-D shapes use Python tuple syntax', () => {
    const text = new TextDecoder().decode(writeNpy(makeTensor('f32', [5])).subarray(10, 80));
    expect(text).toContain("'shape': (5,)");
    const t0 = readNpy(writeNpy(makeTensor('f32', [], [3])));
    expect(t0.shape).toEqual([]);
  });
  it('numpy reads what we write (skipped without python3+numpy)', () => {
    let ok = true;
    try {
      execFileSync('python3', ['-c', 'import numpy'], { stdio: 'ignore' });
    } catch {
      ok = false;
    }
    if (!ok) return;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lutc-npy-'));
    const f = path.join(dir, 'a.npy');
    fs.writeFileSync(f, writeNpy(makeTensor('i64', [2, 2], [1, -2, 3, -4])));
    const out = execFileSync('python3', [
      '-c',
      `import numpy as np; a=np.load(${JSON.stringify(f)}); print(a.dtype, a.shape, a.tolist())`,
    ]).toString();
    expect(out.trim()).toBe('int64 (2, 2) [[1, -2], [3, -4]]');
    fs.rmSync(dir, { recursive: true });
  });
});

/** A v1 file with the given header dict text and data bytes (header padded like numpy). */
function npyWith(dict: string, data: Uint8Array = new Uint8Array(0), version = 1): Uint8Array {
  const pre = version === 1 ? 10 : 12;
  const total = Math.ceil((pre + dict.length + 1) / 64) * 64;
  const hdr = dict.padEnd(total - pre - 1, ' ') + '\n';
  const out = new Uint8Array(total + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]);
  const dv = new DataView(out.buffer);
  if (version === 1) dv.setUint16(8, hdr.length, true);
  else dv.setUint32(8, hdr.length, true);
  out.set(new TextEncoder().encode(hdr), pre);
  out.set(data, total);
  return out;
}

describe('malformed .npy files are coded diagnostics', () => {
  const f4 = (shape: string) => `{'descr': '<f4', 'fortran_order': False, 'shape': ${shape}, }`;
  const cases: [string, () => Uint8Array, string][] = [
    ['empty file', () => new Uint8Array(0), 'LUT6020'],
    ['wrong magic', () => new TextEncoder().encode('PK\x03\x04 this is a zip file, not npy'), 'LUT6020'],
    [
      'version 9',
      () => {
        const b = npyWith(f4('(1,)'), new Uint8Array(4));
        b[6] = 9;
        return b;
      },
      'LUT6021',
    ],
    ['header length past the end', () => npyWith(f4('(1,)'), new Uint8Array(4)).subarray(0, 20), 'LUT6022'],
    ['not a dict', () => npyWith('hello'), 'LUT6022'],
    ['missing shape', () => npyWith("{'descr': '<f4', 'fortran_order': False}"), 'LUT6022'],
    ['shape not a tuple', () => npyWith("{'descr': '<f4', 'fortran_order': False, 'shape': 3}"), 'LUT6022'],
    ['unterminated string', () => npyWith("{'descr': '<f4, 'shape': ()}"), 'LUT6022'],
    ['trailing garbage', () => npyWith(f4('(1,)') + ' x', new Uint8Array(4)), 'LUT6022'],
    ['object dtype', () => npyWith("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", new Uint8Array(8)), 'LUT6023'],
    ['complex dtype', () => npyWith("{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }", new Uint8Array(8)), 'LUT6023'],
    ['structured dtype', () => npyWith("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }", new Uint8Array(4)), 'LUT6022'],
    ['negative dim', () => npyWith(f4('(-1, 2)')), 'LUT6025'],
    ['huge shape', () => npyWith(f4('(100000, 100000)')), 'LUT6025'],
    ['truncated data', () => npyWith(f4('(2, 3)'), new Uint8Array(23)), 'LUT6024'],
    ['truncated v2 preamble', () => npyWith(f4('(1,)'), new Uint8Array(4), 2).subarray(0, 11), 'LUT6020'],
  ];
  for (const [name, make, code] of cases) {
    it(name, () => expect(codeOf(() => readNpy(make(), 'x.npy'))).toBe(code));
  }
  it('diagnostics name the file', () => {
    try {
      readNpy(new Uint8Array(3), 'dir/in.npy');
      expect.unreachable();
    } catch (e) {
      expect((e as LutcError).message).toMatch(/^dir\/in\.npy: error LUT6020: /);
    }
  });
  it('missing file is LUT6026', () => {
    expect(codeOf(() => readNpyFile('/nonexistent/dir/x.npy'))).toBe('LUT6026');
  });
  it('reads a hand-made big-endian i4 file', () => {
    const data = new Uint8Array([0, 0, 0, 1, 0xff, 0xff, 0xff, 0xfe]);
    const t: Tensor = readNpy(npyWith("{'descr': '>i4', 'fortran_order': False, 'shape': (2,), }", data));
    expect(Array.from(t.data)).toEqual([1, -2]);
  });
});
