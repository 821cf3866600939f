/**
 * The C suite: lutc's C kernel for every BENCH_SHAPES shape at 2 and 4 bits (group 128), built with
 * -O3 -march=native -fopenmp into a program that times itself (clock_gettime around each call, median
 * of `runs` after warm-up) at 1 and 2 threads, plus a cold-weights figure (rotating over copies of the
 * packed weights larger than L3) as suite 'c-cold'. Peers on the same weights: onnxruntime-node
 * MatMulNBits (same bits, block 128, accuracy_level 4), optionally block 32, and fp32 MatMul.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { emitKernel } from '../backends/c/kernel.js';
import { buildC } from '../backends/c/toolchain.js';
import { peerModel, timePeer } from './peers-node.js';
import type { BenchResult } from './schema.js';
import { benchWeights, lcg, referenceRows } from './weights.js';

export interface CBenchOptions {
  shapes: readonly [number, number, number][];
  bits: number[];
  threads: number[];
  runs: number;
  /** Also time MatMulNBits with block 32. */
  block32?: boolean;
  /** Skip the cold-weights runs. */
  noCold?: boolean;
  /** Progress lines (stderr). */
  log?(msg: string): void;
}

const MAIN = String.raw`
#define _POSIX_C_SOURCE 200112L
#include "kernel.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
static double now_us(void) { struct timespec ts; clock_gettime(CLOCK_MONOTONIC, &ts); return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3; }
static int cmp(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return x < y ? -1 : x > y; }
static void *amalloc(size_t n) { void *p = NULL; if (posix_memalign(&p, 64, n ? n : 64)) exit(5); return p; }
static void *rd(FILE *f, size_t n) { void *p = malloc(n); if (!p || fread(p, 1, n, f) != n) exit(3); return p; }
int main(int argc, char **argv) {
  if (argc < 5) return 2;
  FILE *in = fopen(argv[1], "rb");
  int32_t h[4];
  if (!in || fread(h, 4, 4, in) != 4) return 3;
  const size_t m = (size_t)h[0], n = (size_t)h[1], k = (size_t)h[2], ng = (size_t)h[3];
  float *x = rd(in, m * k * 4), *scales = rd(in, n * ng * 4), *zeros = rd(in, n * ng * 4);
  uint8_t *q = rd(in, n * k);
  fclose(in);
  const int runs = atoi(argv[3]), cold = atoi(argv[4]);
  const size_t pb = lutc_packed_bytes();
  uint8_t *packed = amalloc(pb);
  float *sw = malloc(4 * lutc_scales_len()), *swz = malloc(4 * lutc_scales_len()), *y = malloc(m * n * 4);
  lutc_pack(q, scales, zeros, packed, sw, swz);
  void *scratch = amalloc(lutc_scratch_bytes((int)m));
  double *t = malloc(sizeof(double) * (size_t)runs);
  printf("{\"isa\":%d", lutc_isa());
  for (int i = 5; i < argc; i++) {
    const int th = atoi(argv[i]);
    for (int r = 0; r < 5; r++) lutc_gemm(packed, sw, swz, NULL, x, y, (int)m, scratch, th);
    for (int r = 0; r < runs; r++) { double t0 = now_us(); lutc_gemm(packed, sw, swz, NULL, x, y, (int)m, scratch, th); t[r] = now_us() - t0; }
    qsort(t, (size_t)runs, sizeof(double), cmp);
    printf(",\"t%d\":%.2f", th, t[runs / 2]);
  }
  if (cold) { /* copies of the weights totalling >= 192 MiB, used round-robin: each call misses L3 */
    const size_t copies = (192u << 20) / pb + 2;
    uint8_t **cp = malloc(sizeof(void *) * copies);
    for (size_t c = 0; c < copies; c++) { cp[c] = amalloc(pb); memcpy(cp[c], packed, pb); }
    for (int r = 0; r < runs; r++) { double t0 = now_us(); lutc_gemm(cp[(size_t)r % copies], sw, swz, NULL, x, y, (int)m, scratch, 1); t[r] = now_us() - t0; }
    qsort(t, (size_t)runs, sizeof(double), cmp);
    printf(",\"cold\":%.2f", t[runs / 2]);
    for (size_t c = 0; c < copies; c++) free(cp[c]);
    free(cp);
  }
  printf("}\n");
  FILE *out = fopen(argv[2], "wb");
  if (!out || fwrite(y, 4, m * n, out) != m * n) return 4;
  fclose(out);
  return 0;
}
`;

/** Relative L2 error of y's first rows against the float64 reference. */
function spotCheck(y: Float32Array, want: Float64Array, m: number, n: number, rows: number): number {
  let num = 0, den = 0;
  for (let t = 0; t < m; t++)
    for (let r = 0; r < rows; r++) {
      num += (y[t * n + r]! - want[t * rows + r]!) ** 2;
      den += want[t * rows + r]! ** 2;
    }
  return Math.sqrt(num / den);
}

/** Runs the C suite; returns BenchResult rows (lutc vs each peer, per shape, bits and thread count). */
export async function runCBench(o: CBenchOptions): Promise<BenchResult[]> {
  const log = o.log ?? (() => {});
  const rows: BenchResult[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'lutc-cbench-'));
  try {
    for (const [n, k, m] of o.shapes)
      for (const bits of o.bits) {
        const w = benchWeights(n, k, bits, 128, 1000 + n + k + bits);
        const r = lcg(7 + m);
        const x = new Float32Array(m * k).map(() => r() * 2 - 1);
        const files = emitKernel({ n, k, m, bits: bits as 2 | 4, groupSize: 128 }).files;
        const exe = buildC({ flags: ['-O3', '-march=native', '-fopenmp', '-Wall', '-Werror'], sources: { ...files, 'main.c': MAIN } });
        const hdr = new Int32Array([m, n, k, w.kBlocks]);
        writeFileSync(join(dir, 'in.bin'), Buffer.concat([hdr, x, w.scales, w.zeros, w.q].map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength))));
        const cold = !o.noCold && m === 1;
        const out = execFileSync(exe, [join(dir, 'in.bin'), join(dir, 'y.bin'), String(o.runs), cold ? '1' : '0', ...o.threads.map(String)], { encoding: 'utf8' });
        const res = JSON.parse(out) as Record<string, number>;
        const yb = readFileSync(join(dir, 'y.bin'));
        const y = new Float32Array(yb.buffer.slice(yb.byteOffset, yb.byteOffset + yb.byteLength));
        const err = spotCheck(y, referenceRows(w, x, m, 64), m, n, 64);
        log(`c ${n}x${k} m=${m} bits=${bits} isa=${res.isa}: ${o.threads.map((t) => `${t}T ${res[`t${t}`]}us`).join(', ')}${cold ? `, cold ${res.cold}us` : ''} (rel-L2 vs fp64 ${err.toExponential(2)})`);
        if (!(err < 5e-2)) throw new Error(`lutc C kernel output is wrong for ${n}x${k} bits=${bits}: rel-L2 ${err}`);
        const peers: [string, Uint8Array][] = [
          ['ort-node-nbits', peerModel(w, m, 'nbits')],
          ['ort-node-fp32', peerModel(w, m, 'fp32')],
        ];
        if (o.block32) peers.push(['ort-node-nbits-b32', peerModel(benchWeights(n, k, bits, 32, 1000 + n + k + bits), m, 'nbits')]);
        for (const th of o.threads)
          for (const [peer, model] of peers) {
            const p = await timePeer(model, x, m, k, th, o.runs);
            log(`  ${peer} ${th}T ${p.us.toFixed(1)}us`);
            rows.push({ suite: 'c', target: 'c', bits, m, n, k, threads: th, lutc_us: res[`t${th}`]!, peer, peer_us: p.us });
            if (cold && th === 1 && peer === 'ort-node-nbits') rows.push({ suite: 'c-cold', target: 'c', bits, m, n, k, threads: 1, lutc_us: res.cold!, peer, peer_us: p.us });
          }
      }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}
