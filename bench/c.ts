/**
 * The C suite: lutc's C kernel for every BENCH_SHAPES shape at 2 and 4 bits (group 128), built with
 * -O3 -march=native -fopenmp into a harness that runs as a child process and times batches of calls on
 * request (clock_gettime around each call), against onnxruntime-node in this process: MatMulNBits
 * (same bits, block 128, accuracy_level 4; optionally block 32) and fp32 MatMul on the same weights.
 *
 * Method (bench/timing.ts, bench/README.md): per shape, bits and thread count, lutc's batches and each
 * peer's batches are interleaved round by round (same runs, same initial and per-round warm-up). lutc's
 * timed call copies x into the kernel's input buffer and y out of its output buffer (the peer pays its
 * input/output handling inside session.run). Suite 'c-cold' (M = 1): every timed call of every side
 * follows the same eviction, reading a buffer of twice the LLC (in C in the harness, in JS for the
 * peer). Each peer's output is checked against lutc's (relative L2 <= PEER_TOL; the block-32 peer, whose
 * weights differ, against its own float64 reference rows); a failing row says check 'FAIL' and
 * bench/run.ts exits non-zero.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { emitKernel } from '../backends/c/kernel.js';
import { buildC } from '../backends/c/toolchain.js';
import { openNodePeer, peerModel } from './peers-node.js';
import type { OpenPeer } from './peers-web.js';
import { type BenchResult, withStats } from './schema.js';
import { callSide, checkPeer, evictBytes, interleave, PEER_TOL, type Timed } from './timing.js';
import { benchWeights, lcg, referenceRows } from './weights.js';

export interface CBenchOptions {
  shapes: readonly [number, number, number][];
  bits: number[];
  threads: number[];
  runs: number;
  /** Also time MatMulNBits with block 32. */
  block32?: boolean;
  /** Skip the cold-cache runs. */
  noCold?: boolean;
  /** Progress lines (stderr). */
  log?(msg: string): void;
}

/**
 * The harness: `prog in.bin EVICT_BYTES`; prints {"isa":N}, then answers stdin commands, one line each:
 *   b TH WARM RUNS COLD   WARM untimed then RUNS timed calls at TH threads: prints the RUNS times (µs)
 *   o PATH                writes the last y (float32 [m, n]) to PATH, prints "ok"
 *   q                     exits
 * One call = memcpy x into the kernel's input buffer, lutc_gemm, memcpy y out (the copies a caller pays).
 */
const MAIN = String.raw`
#define _POSIX_C_SOURCE 200112L
#include "kernel.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
static double now_us(void) { struct timespec ts; clock_gettime(CLOCK_MONOTONIC, &ts); return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3; }
static void *amalloc(size_t n) { void *p = NULL; if (posix_memalign(&p, 64, n ? n : 64)) exit(5); return p; }
static void *rd(FILE *f, size_t n) { void *p = malloc(n); if (!p || fread(p, 1, n, f) != n) exit(3); return p; }
static volatile int sink;
int main(int argc, char **argv) {
  if (argc < 3) return 2;
  FILE *in = fopen(argv[1], "rb");
  int32_t h[4];
  if (!in || fread(h, 4, 4, in) != 4) return 3;
  const size_t m = (size_t)h[0], n = (size_t)h[1], k = (size_t)h[2], ng = (size_t)h[3];
  float *x = rd(in, m * k * 4), *scales = rd(in, n * ng * 4), *zeros = rd(in, n * ng * 4);
  uint8_t *q = rd(in, n * k);
  fclose(in);
  const size_t ev = (size_t)atoll(argv[2]) / 4;
  int *evb = amalloc(ev * 4);
  for (size_t i = 0; i < ev; i++) evb[i] = 1;
  const size_t pb = lutc_packed_bytes();
  uint8_t *packed = amalloc(pb);
  float *sw = malloc(4 * lutc_scales_len()), *swz = malloc(4 * lutc_scales_len());
  float *xin = amalloc(m * k * 4), *yout = amalloc(m * n * 4), *y = malloc(m * n * 4);
  lutc_pack(q, scales, zeros, packed, sw, swz);
  void *scratch = amalloc(lutc_scratch_bytes((int)m));
  printf("{\"isa\":%d}\n", lutc_isa());
  fflush(stdout);
  char line[4096];
  while (fgets(line, sizeof line, stdin)) {
    if (line[0] == 'q') break;
    if (line[0] == 'o') {
      char path[4000];
      if (sscanf(line + 1, " %3999[^\n]", path) != 1) return 6;
      FILE *out = fopen(path, "wb");
      if (!out || fwrite(y, 4, m * n, out) != m * n) return 4;
      fclose(out);
      printf("ok\n");
      fflush(stdout);
      continue;
    }
    int th, warm, runs, cold;
    if (line[0] != 'b' || sscanf(line + 1, "%d %d %d %d", &th, &warm, &runs, &cold) != 4) return 6;
    for (int r = 0; r < warm + runs; r++) {
      if (cold && r >= warm) { int s = 0; for (size_t i = 0; i < ev; i += 16) s += evb[i]; sink ^= s; }
      double t0 = now_us();
      memcpy(xin, x, m * k * 4);
      lutc_gemm(packed, sw, swz, NULL, xin, yout, (int)m, scratch, th);
      memcpy(y, yout, m * n * 4);
      double t = now_us() - t0;
      if (r >= warm) printf(r + 1 < warm + runs ? "%.3f " : "%.3f", t);
    }
    printf("\n");
    fflush(stdout);
  }
  return 0;
}
`;

/** The harness as a child process, with a line-oriented request/response channel. */
class Harness {
  private buf = '';
  private waiting: ((line: string) => void)[] = [];
  private lines: string[] = [];
  private exited: string | undefined;
  private constructor(private readonly p: ChildProcessWithoutNullStreams) {
    p.stdout.setEncoding('utf8');
    p.stdout.on('data', (d: string) => {
      this.buf += d;
      for (let i = this.buf.indexOf('\n'); i >= 0; i = this.buf.indexOf('\n')) {
        const l = this.buf.slice(0, i);
        this.buf = this.buf.slice(i + 1);
        const w = this.waiting.shift();
        if (w) w(l);
        else this.lines.push(l);
      }
    });
    let err = '';
    p.stderr.on('data', (d) => (err += String(d)));
    p.on('exit', (code, sig) => {
      this.exited = `lutc C bench harness exited (${code ?? sig}) ${err}`;
      for (const w of this.waiting.splice(0)) w('');
    });
  }
  static async start(exe: string, args: string[]): Promise<{ h: Harness; isa: number }> {
    const h = new Harness(spawn(exe, args, { stdio: ['pipe', 'pipe', 'pipe'] }));
    return { h, isa: (JSON.parse(await h.next()) as { isa: number }).isa };
  }
  private next(): Promise<string> {
    if (this.lines.length) return Promise.resolve(this.lines.shift()!);
    if (this.exited) return Promise.reject(new Error(this.exited));
    return new Promise((res, rej) => this.waiting.push((l) => (this.exited ? rej(new Error(this.exited)) : res(l))));
  }
  async ask(cmd: string): Promise<string> {
    this.p.stdin.write(`${cmd}\n`);
    return this.next();
  }
  /** A bench/timing.ts side: batches at `threads` threads, timed in C. */
  side(name: string, threads: number): Timed {
    return {
      name,
      batch: async (runs, warm, cold) => {
        const l = await this.ask(`b ${threads} ${warm} ${runs} ${cold ? 1 : 0}`);
        return l.trim() ? l.trim().split(' ').map(Number) : [];
      },
    };
  }
  close(): void {
    this.p.stdin.end('q\n');
  }
}

/** Relative L2 error of y's first rows against the float64 reference. */
function spotCheck(y: Float32Array, want: Float64Array, m: number, n: number, rows: number): number {
  let num = 0,
    den = 0;
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
        writeFileSync(
          join(dir, 'in.bin'),
          Buffer.concat([hdr, x, w.scales, w.zeros, w.q].map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength))),
        );
        const { h, isa } = await Harness.start(exe, [join(dir, 'in.bin'), String(evictBytes())]);
        try {
          await h.ask(`b 1 1 0 0`);
          await h.ask(`o ${join(dir, 'y.bin')}`);
          const yb = readFileSync(join(dir, 'y.bin'));
          const y = new Float32Array(yb.buffer.slice(yb.byteOffset, yb.byteOffset + yb.byteLength));
          const err = spotCheck(y, referenceRows(w, x, m, 64), m, n, 64);
          log(`c ${n}x${k} m=${m} bits=${bits} isa=${isa}: rel-L2 vs fp64 ${err.toExponential(2)}`);
          if (!(err < 5e-2)) throw new Error(`lutc C kernel output is wrong for ${n}x${k} bits=${bits}: rel-L2 ${err}`);
          const models: [string, Uint8Array][] = [
            ['ort-node-nbits', peerModel(w, m, 'nbits')],
            ['ort-node-fp32', peerModel(w, m, 'fp32')],
          ];
          const w32 = o.block32 ? benchWeights(n, k, bits, 32, 1000 + n + k + bits) : undefined;
          if (w32) models.push(['ort-node-nbits-b32', peerModel(w32, m, 'nbits')]);
          const cold = !o.noCold && m === 1;
          for (const th of o.threads) {
            const peers: { name: string; p: OpenPeer }[] = [];
            for (const [name, model] of models) peers.push({ name, p: await openNodePeer(model, x, m, k, th) });
            try {
              // the b32 peer's weights are not lutc's (block 32 scales): it is checked on its first 64 rows
              // against the float64 reference of its own weights, with the same tolerance
              const checks = peers.map(({ name, p }) => {
                if (!name.endsWith('-b32')) return checkPeer(p.y, y);
                const e = spotCheck(p.y, referenceRows(w32!, x, m, 64), m, n, 64);
                return { relL2: e, tol: PEER_TOL, ok: e <= PEER_TOL };
              });
              const sides = [h.side('lutc', th), ...peers.map(({ name, p }) => callSide(name, p.run))];
              for (const c of cold ? [false, true] : [false]) {
                const st = await interleave(sides, { runs: o.runs, cold: c });
                const suite = c ? 'c-cold' : 'c';
                log(
                  `  ${suite} ${th}T lutc ${st[0]!.median.toFixed(1)}us (min ${st[0]!.min.toFixed(1)}, p90 ${st[0]!.p90.toFixed(1)})` +
                    peers
                      .map(
                        ({ name }, i) =>
                          `; ${name} ${st[i + 1]!.median.toFixed(1)}us rel-L2 ${checks[i]!.relL2.toExponential(2)}${checks[i]!.ok ? '' : ' FAIL'}`,
                      )
                      .join(''),
                );
                peers.forEach(({ name }, i) => {
                  rows.push(
                    withStats(
                      {
                        suite,
                        target: 'c',
                        bits,
                        m,
                        n,
                        k,
                        threads: th,
                        lutc_us: st[0]!.median,
                        peer: name,
                        peer_us: st[i + 1]!.median,
                        cold: c,
                      },
                      st[0]!,
                      st[i + 1],
                      checks[i],
                    ),
                  );
                });
              }
            } finally {
              for (const { p } of peers) await p.release();
            }
          }
        } finally {
          h.close();
        }
      }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}
