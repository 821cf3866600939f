/**
 * Test harness for C kernels: emits a kernel with emitKernel, links it with a small driver that runs
 * every hook (packer, table build, accumulators, gemm, f32 path) on inputs from a file, and reads the
 * results back as typed arrays for comparison with ir/lut/reference.ts. Builds are cached by content.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CIsa, ISA_VEC } from '../../../backends/c/csrc-prelude.js';
import { emitKernel } from '../../../backends/c/kernel.js';
import { planFromRequest, planGeometry } from '../../../backends/c/render.js';
import { buildC, STRICT_FLAGS } from '../../../backends/c/toolchain.js';
import type { KernelRequest } from '../../../compiler/options.js';
import type { LutGeometry } from '../../../ir/lut/geometry.js';

const DRIVER = String.raw`
#include "kernel.h"
#include <stdio.h>
#include <stdlib.h>
static void *rd(FILE *f, size_t n) { void *p = malloc(n ? n : 1); if (!p || fread(p, 1, n, f) != n) exit(3); return p; }
static void wr(FILE *f, const void *p, size_t n) { if (fwrite(p, 1, n, f) != n) exit(4); }
int main(int argc, char **argv) {
  if (argc != 3) return 2;
  FILE *in = fopen(argv[1], "rb");
  if (!in) return 2;
  int32_t h[6];
  if (fread(h, 4, 6, in) != 6) return 3;
  const size_t m = (size_t)h[0], n = (size_t)h[1], k = (size_t)h[2], ng = (size_t)h[3], nc = (size_t)h[4], ns = (size_t)h[5];
  float *x = rd(in, m * k * 4), *scales = rd(in, n * ng * 4), *zeros = rd(in, n * ng * 4), *bias = rd(in, n * 4);
  uint8_t *q = rd(in, n * k);
  fclose(in);
  uint8_t *packed = malloc(lutc_packed_bytes());
  float *sw = malloc(4 * lutc_scales_len()), *swz = malloc(4 * lutc_scales_len());
  lutc_pack(q, scales, zeros, packed, sw, swz);
  int8_t *tq = malloc(m * nc * 16);
  float *tsh = malloc(m * ns * 4), *xs = malloc(m * ns * 4), *y = malloc(m * n * 4);
  int32_t *A = malloc(m * n * ns * 4);
  lutc_build_tables(x, (int)m, tq, tsh, xs);
  lutc_accumulate(packed, tq, (int)m, A);
  if (lutc_gemm(packed, sw, swz, bias, x, y, (int)m, NULL, 1) != 0) return 5;
  float *tf = malloc(m * nc * 64), *xsf = malloc(m * ns * 4), *Af = malloc(m * n * ns * 4);
  lutc_build_tables_f32(x, (int)m, tf, xsf);
  lutc_accumulate_f32(packed, tf, (int)m, Af);
  FILE *out = fopen(argv[2], "wb");
  if (!out) return 2;
  int32_t isa = lutc_isa();
  wr(out, &isa, 4);
  wr(out, packed, lutc_packed_bytes()); wr(out, sw, 4 * lutc_scales_len()); wr(out, swz, 4 * lutc_scales_len());
  wr(out, tq, m * nc * 16); wr(out, tsh, m * ns * 4); wr(out, xs, m * ns * 4); wr(out, A, m * n * ns * 4);
  wr(out, y, m * n * 4); wr(out, tf, m * nc * 64); wr(out, xsf, m * ns * 4); wr(out, Af, m * n * ns * 4);
  fclose(out);
  free(x); free(scales); free(zeros); free(bias); free(q); free(packed); free(sw); free(swz); free(tq); free(tsh);
  free(xs); free(y); free(A); free(tf); free(xsf); free(Af);
  return 0;
}
`;

/** How to build and run: native (x86 ISAs) or AArch64 cross + qemu. */
export interface Toolchain {
  cc: string;
  flags: string[];
  /** Command prefix to run the program (qemu), empty for native. */
  runner: string[];
}

export const NATIVE: Toolchain = { cc: 'cc', flags: ['-O2', '-march=native'], runner: [] };
export const AARCH64: Toolchain = {
  cc: 'aarch64-linux-gnu-gcc',
  flags: ['-O2', '-static'],
  runner: ['qemu-aarch64', '-L', '/usr/aarch64-linux-gnu'],
};

export interface CaseInput {
  m: number;
  x: Float32Array;
  q: Uint8Array;
  scales: Float32Array;
  zeros: Float32Array;
  bias: Float32Array;
}

export interface CaseOutput {
  isa: number;
  g: LutGeometry;
  packed: Uint8Array;
  sw: Float32Array;
  /** lutc_pack's 64-byte trailer: u32 uniform-zero flag, f32 mid - z0. */
  trailer: Uint8Array;
  swz: Float32Array;
  tq: Int8Array;
  tsh: Float32Array;
  xs: Float32Array;
  A: Int32Array;
  y: Float32Array;
  tf: Float32Array;
  xsf: Float32Array;
  Af: Float32Array;
}

/** Compiles (cached) the kernel for `req` on `isa`, runs it on `inp`, returns every output. */
export function runCase(req: KernelRequest, isa: CIsa, inp: CaseInput, tc: Toolchain, extraFlags: string[] = []): CaseOutput {
  const plan = planFromRequest(req);
  const g = planGeometry(plan, ISA_VEC[isa]);
  const files = emitKernel({ ...req, isa }).files;
  const exe = buildC({ cc: tc.cc, flags: [...STRICT_FLAGS, ...tc.flags, ...extraFlags], sources: { ...files, 'driver.c': DRIVER } });
  const dir = mkdtempSync(join(tmpdir(), 'lutc-c-run-'));
  try {
    const { m } = inp;
    const hdr = new Int32Array([m, g.n, g.k, g.nGroups, g.nChunks, g.nSegments]);
    const parts = [hdr, inp.x, inp.scales, inp.zeros, inp.bias, inp.q].map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength));
    writeFileSync(join(dir, 'in.bin'), Buffer.concat(parts));
    execFileSync(
      tc.runner[0] ?? exe,
      [...tc.runner.slice(1), ...(tc.runner.length ? [exe] : []), join(dir, 'in.bin'), join(dir, 'out.bin')],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const buf = readFileSync(join(dir, 'out.bin'));
    let at = 0;
    const take = <T>(ctor: { new (b: ArrayBuffer): T; BYTES_PER_ELEMENT: number }, n: number): T => {
      const bytes = n * ctor.BYTES_PER_ELEMENT;
      const copy = new Uint8Array(bytes);
      copy.set(buf.subarray(at, at + bytes));
      at += bytes;
      return new ctor(copy.buffer);
    };
    const ns = g.nSegments,
      sl = g.nGroups * g.nPad;
    const isaNum = take(Int32Array, 1)[0]!;
    const out: CaseOutput = {
      isa: isaNum,
      g,
      packed: take(Uint8Array, g.packedBytes),
      trailer: take(Uint8Array, 64),
      sw: take(Float32Array, sl),
      swz: take(Float32Array, sl),
      tq: take(Int8Array, m * g.nChunks * 16),
      tsh: take(Float32Array, m * ns),
      xs: take(Float32Array, m * ns),
      A: take(Int32Array, m * g.n * ns),
      y: take(Float32Array, m * g.n),
      tf: take(Float32Array, m * g.nChunks * 16),
      xsf: take(Float32Array, m * ns),
      Af: take(Float32Array, m * g.n * ns),
    };
    if (at !== buf.length) throw new Error(`harness output has ${buf.length} bytes, read ${at}`);
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Deterministic LCG in [0, 1). */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32;
}

/** Random inputs for a request (scales 0.01-0.11, zeros anywhere in the code range, x in [-1, 1)). */
export function randomInput(req: KernelRequest, m: number, seed: number): CaseInput {
  const r = rng(seed);
  const g = planGeometry(planFromRequest(req), 16);
  const { n, k, bits } = req;
  return {
    m,
    x: new Float32Array(m * k).map(() => r() * 2 - 1),
    q: new Uint8Array(n * k).map(() => Math.floor(r() * (1 << bits))),
    scales: new Float32Array(n * g.nGroups).map(() => 0.01 + r() * 0.1),
    zeros: new Float32Array(n * g.nGroups).map(() => Math.floor(r() * (1 << bits))),
    bias: new Float32Array(n).map(() => r() - 0.5),
  };
}
