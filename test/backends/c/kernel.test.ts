/**
 * C kernels against the bit-exact oracle (ir/lut/reference.ts), per ISA path: packed weights and
 * scales equal packWeights/packScales byte for byte; int8 tables, table scales and integer
 * accumulators A equal the reference exactly; y equals combine() given the kernel's own A, tsHalf and
 * xsum exactly (same float order), and is within 1e-5 of max|y| of combine() on the reference's xsum
 * (xsum is summed chunk-wise in C); the f32-table path's tables equal the reference and its
 * accumulators agree to 1e-5 relative. NEON runs under qemu-user when the AArch64 cross compiler works.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { type CIsa, ISA_NUM } from '../../../backends/c/csrc-prelude.js';
import { cScaleLayout } from '../../../backends/c/render.js';
import { canCompile } from '../../../backends/c/toolchain.js';
import type { KernelRequest } from '../../../compiler/options.js';
import { type Bits, packWeights } from '../../../ir/lut/geometry.js';
import { accumulateF32, accumulateI8, buildTablesF32, buildTablesI8, combine, packScales } from '../../../ir/lut/reference.js';
import { AARCH64, type CaseInput, NATIVE, randomInput, rng, runCase, type Toolchain } from './harness.js';

const cpuinfo = (() => {
  try {
    return readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    return '';
  }
})();
const has = (f: string) => new RegExp(`\\b${f}\\b`).test(cpuinfo);

const neonOk = canCompile(AARCH64.cc, AARCH64.flags);
if (!neonOk) console.warn('[c-kernel tests] NEON skipped: aarch64-linux-gnu-gcc cannot build a static program here');

const PATHS: [CIsa, Toolchain, boolean][] = [
  ['scalar', NATIVE, true],
  ['avx2', NATIVE, has('avx2')],
  ['avx512', NATIVE, has('avx512vbmi') && has('avx512bw')],
  ['neon', AARCH64, neonOk],
];

/** Property-style shapes: seeded, odd N and K, every bits value, groups 32/64/128/K, M 1..64. */
function shapes(isa: CIsa): [KernelRequest, number][] {
  const r = rng(1234 + ISA_NUM[isa]);
  const out: [KernelRequest, number][] = [];
  const groups = [32, 64, 128, 1 << 30];
  const ms = [1, 3, 9, 64];
  for (let i = 0; i < 5; i++) {
    const bits = ((i % 4) + 1) as Bits;
    const n = 1 + Math.floor(r() * 150) * 2; // odd
    const k = 9 + Math.floor(r() * 300) * 2 + (i === 4 ? 1000 : 0); // odd, one large-ish
    const gs = groups[i % 4]!;
    out.push([{ n, k, bits, groupSize: gs >= k ? k : gs }, ms[i % 4]!]);
  }
  out.push([{ n: 70, k: 520, bits: 2, groupSize: 128 }, 17]); // K-groups vs 128-segments, mixed M tile
  return out;
}

function expectEqualArrays(got: ArrayLike<number>, want: ArrayLike<number>, what: string) {
  expect(got.length, `${what} length`).toBe(want.length);
  for (let i = 0; i < want.length; i++)
    if (!Object.is(got[i], want[i]) && !(got[i] === 0 && want[i] === 0))
      expect(`${what}[${i}] = ${got[i]}`).toBe(`${what}[${i}] = ${want[i]}`);
}

function maxRel(got: Float32Array, want: Float32Array): number {
  let max = 0,
    ref = 0;
  for (let i = 0; i < want.length; i++) {
    max = Math.max(max, Math.abs(got[i]! - want[i]!));
    ref = Math.max(ref, Math.abs(want[i]!));
  }
  return ref === 0 ? max : max / ref;
}

function checkCase(req: KernelRequest, isa: CIsa, tc: Toolchain, inp: CaseInput, flags: string[] = []) {
  const o = runCase(req, isa, inp, tc, flags);
  const { g } = o;
  const m = inp.m;
  expect(o.isa).toBe(ISA_NUM[isa]);
  expectEqualArrays(o.packed, packWeights(g, inp.q), 'packed');
  const ps = packScales(g, inp.scales, inp.zeros);
  expectEqualArrays(o.sw, cScaleLayout(g, ps.sw), 'sw');
  expectEqualArrays(o.swz, cScaleLayout(g, ps.swz), 'swz');
  // the trailer says whether every zero point is one value (then the AVX-512 path computes swz from sw)
  const dv = new DataView(o.trailer.buffer, o.trailer.byteOffset, 8);
  const uniform = inp.zeros.every((z) => z === inp.zeros[0]);
  expect(dv.getUint32(0, true), 'uniform-zero flag').toBe(uniform ? 1 : 0);
  if (uniform) expect(dv.getFloat32(4, true)).toBe(Math.fround(((1 << g.bits) - 1) / 2 - inp.zeros[0]!));
  const ti = buildTablesI8(g, inp.x, m);
  expectEqualArrays(o.tq, ti.tq, 'tq');
  expectEqualArrays(o.tsh, ti.tsHalf, 'tsHalf');
  expectEqualArrays(o.A, accumulateI8(g, o.packed, ti.tq, m), 'A');
  expect(maxRel(o.xs, ti.xsum)).toBeLessThan(1e-5);
  // Same A, tsHalf and xsum: the epilogue follows combine()'s float order, so y is identical.
  expectEqualArrays(o.y, combine(g, o.A, o.tsh, o.xs, ps, m, inp.bias), 'y');
  expect(maxRel(o.y, combine(g, o.A, ti.tsHalf, ti.xsum, ps, m, inp.bias))).toBeLessThan(1e-5);
  const tf = buildTablesF32(g, inp.x, m);
  expectEqualArrays(o.tf, tf.tf, 'tf');
  expect(maxRel(o.Af, accumulateF32(g, o.packed, tf.tf, m))).toBeLessThan(1e-6);
  return o;
}

for (const [isa, tc, ok] of PATHS) {
  describe.skipIf(!ok)(`C kernel, ${isa} path`, () => {
    for (const [req, m] of shapes(isa))
      it(`N=${req.n} K=${req.k} bits=${req.bits} G=${req.groupSize} M=${m} is bit-exact`, () => {
        checkCase(req, isa, tc, randomInput(req, m, req.n * 7 + req.k));
      }, 60_000);

    it('adversarial: every lookup at +127 or -127, K=16384, long segments (int16 widening bound)', () => {
      // x = +-1 everywhere and q = 2^b - 1 select entry 15 (all signs +) of every table: T' = +-4 =
      // absmax, so every lookup is exactly +-127. Group 4104 (not a multiple of 128) makes each
      // table segment 513 chunk pairs long, far past every int16 flush interval.
      for (const bits of [1, 2, 4] as Bits[])
        for (const sign of [1, -1]) {
          const req: KernelRequest = { n: 33, k: 16384, bits, groupSize: 4104 };
          const inp = randomInput(req, 2, 5);
          inp.q.fill((1 << bits) - 1);
          inp.x.fill(sign);
          const o = checkCase(req, isa, tc, inp);
          let maxAbs = 0;
          for (const v of o.tq) maxAbs = Math.max(maxAbs, Math.abs(v));
          expect(maxAbs).toBe(127);
          expect(o.A[0]).toBe(sign * 127 * ((1 << bits) - 1) * (4104 / 4));
        }
    }, 180_000);

    it('adversarial, 128-activation segments (AVX-512: row-dword 2-bit layout and int32 path)', () => {
      for (const bits of [2, 4] as Bits[]) {
        const req: KernelRequest = { n: 37, k: 16384, bits, groupSize: 4096 };
        const inp = randomInput(req, 5, 6);
        inp.q.fill((1 << bits) - 1);
        inp.x.fill(-1);
        const o = checkCase(req, isa, tc, inp);
        expect(o.A[0]).toBe(-127 * ((1 << bits) - 1) * (128 / 4));
      }
    }, 180_000);

    it('uniform zero points (symmetric exports): the packer flags them, y is still combine() bit for bit', () => {
      // on AVX-512 the int32 path then computes swz = s * (mid - z0) from sw instead of loading it
      for (const [req, m] of [
        [{ n: 70, k: 512, bits: 4, groupSize: 32 }, 1],
        [{ n: 53, k: 384, bits: 4, groupSize: 128 }, 3],
        [{ n: 70, k: 512, bits: 2, groupSize: 32 }, 1],
        [{ n: 41, k: 1024, bits: 2, groupSize: 128 }, 5],
      ] as [KernelRequest, number][]) {
        const inp = randomInput(req, m, req.n + req.k);
        inp.zeros.fill(1 << (req.bits - 1));
        const o = checkCase(req, isa, tc, inp);
        expect(new DataView(o.trailer.buffer, o.trailer.byteOffset, 4).getUint32(0, true)).toBe(1);
        // one differing zero point turns the flag off
        inp.zeros[inp.zeros.length - 1] = 0;
        expect(new DataView(checkCase(req, isa, tc, inp).trailer.buffer, 0, 4).getUint32(0, true)).toBe(0);
      }
    }, 120_000);

    it('f32 tables: y within 1e-5 of combine on the reference f32 accumulators', () => {
      const req: KernelRequest = { n: 45, k: 333, bits: 3, groupSize: 64, tables: 'f32' };
      const inp = randomInput(req, 3, 9);
      const o = runCase(req, isa, inp, tc);
      const tf = buildTablesF32(o.g, inp.x, 3);
      const ps = packScales(o.g, inp.scales, inp.zeros);
      expectEqualArrays(o.y, combine(o.g, o.Af, 0.5, o.xsf, ps, 3, inp.bias), 'y(f32)');
      expect(maxRel(o.y, combine(o.g, accumulateF32(o.g, o.packed, tf.tf, 3), 0.5, tf.xsum, ps, 3, inp.bias))).toBeLessThan(1e-5);
    }, 60_000);
  });
}

describe.skipIf(!has('avx2'))('C kernel under sanitizers', () => {
  it('odd shapes are clean under -fsanitize=address,undefined (native default ISA)', () => {
    for (const [req, m] of [
      [{ n: 31, k: 77, bits: 3, groupSize: 77 }, 5],
      [{ n: 129, k: 1001, bits: 1, groupSize: 64 }, 9],
    ] as [KernelRequest, number][])
      checkCase(req, has('avx512vbmi') ? 'avx512' : 'avx2', NATIVE, randomInput(req, m, 3), [
        '-fsanitize=address,undefined',
        '-fno-sanitize-recover=all',
        '-g',
      ]);
  }, 120_000);
});
