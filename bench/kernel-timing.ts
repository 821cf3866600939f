/**
 * The kernel timers the benchmarks and `lutc tune` (compiler/tune.ts) share, free of onnxruntime (so
 * the shipped CLI can load them): the C harness (`startCHarness`: a kernel of backends/c/kernel.ts
 * built with -O3 -march=native -fopenmp into a child process that times batches of calls in C, a
 * bench/timing.ts `Timed` per thread count) and the wasm kernel instance (`lutcInstance`: a kernel
 * module of backends/wasm/module.ts loaded with the bench weights). bench/c.ts and bench/wasm.ts time
 * them against their peers. No diagnostics of its own (the builders' codes pass through).
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildC } from '../backends/c/toolchain.js';
import { legalizeWasmKernel, type PlanOverrides, type WasmLutPlan } from '../backends/wasm/plan.js';
import { packWeights } from '../ir/lut/geometry.js';
import { packScales } from '../ir/lut/reference.js';
import { evictBytes, type Timed } from './timing.js';
import type { BenchWeights } from './weights.js';

/**
 * The harness: `prog in.bin EVICT_BYTES`; prints {"isa":N}, then answers stdin commands, one line each:
 *   b TH WARM RUNS COLD   WARM untimed then RUNS timed calls at TH threads: prints the RUNS times (µs)
 *   o PATH                writes the last y (float32 [m, n]) to PATH, prints "ok"
 *   f RUNS                the DRAM read bandwidth: the best of RUNS full reads of the eviction buffer
 *                         (twice the LLC, every int32 summed), printed as GB/s
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
    if (line[0] == 'f') {
      int fr = 0;
      if (sscanf(line + 1, "%d", &fr) != 1 || fr < 1) return 6;
      double best = 1e30;
      for (int r = 0; r < fr; r++) {
        double t0 = now_us();
        int s = 0;
        for (size_t i = 0; i < ev; i++) s += evb[i];
        double t = now_us() - t0;
        sink ^= s;
        if (t < best) best = t;
      }
      printf("%.3f\n", (double)ev * 4 / best / 1e3);
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

/** The harness as a child process, with a line-oriented request/response channel (also `lutc tune`'s C timer). */
export class Harness {
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
  /** DRAM read bandwidth in GB/s (best of `runs` full reads of a buffer twice the LLC). */
  async bandwidth(runs = 5): Promise<number> {
    return Number(await this.ask(`f ${runs}`));
  }
  close(): void {
    this.p.stdin.end('q\n');
  }
}

/**
 * Builds a C kernel (`files` of backends/c/kernel.ts emitKernel for m tokens) into the harness
 * (-O3 -march=native -fopenmp), writes weights `w` and activations x [m, K] to `dir`/in.bin and
 * starts it (compiler/tune.ts times its sides too).
 */
export async function startCHarness(
  files: Record<string, string>,
  w: BenchWeights,
  x: Float32Array,
  m: number,
  dir: string,
): Promise<{ h: Harness; isa: number }> {
  // -Wno-array-bounds: GCC 12's -O3 constprop misreads a row block of a layer with fewer rows than a
  // vector holds (N = 10, 16 rows per AVX2 vector) as indexing 'const float[0]' (a false positive:
  // sw/swz hold NPAD >= 16 floats per group); every other warning still fails the build
  const exe = buildC({
    flags: ['-O3', '-march=native', '-fopenmp', '-Wall', '-Werror', '-Wno-array-bounds'],
    sources: { ...files, 'main.c': MAIN },
  });
  const hdr = new Int32Array([m, w.n, w.k, w.kBlocks]);
  writeFileSync(
    join(dir, 'in.bin'),
    Buffer.concat([hdr, x, w.scales, w.zeros, w.q].map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength))),
  );
  return Harness.start(exe, [join(dir, 'in.bin'), String(evictBytes())]);
}

/** A ready-to-time lutc kernel instance for one shape. */
export interface LutcInstance {
  plan: WasmLutPlan;
  /** The timed unit: x into wasm memory, lutc_run(m), y out (returned). */
  run(): Float32Array;
  /** lutc_run(m) alone, on the x already in memory. */
  kernel(): void;
  tables(): void;
  gemm(): void;
  y(): Float32Array;
}

/**
 * Builds, instantiates and loads a lutc kernel with the bench weights and activations x [m, K]
 * (`tables` and plan overrides `over`: what `lutc tune`, compiler/tune.ts, varies).
 */
export async function lutcInstance(
  w: BenchWeights,
  m: number,
  x: Float32Array,
  relaxed: boolean,
  tables: 'i8' | 'f32' = 'i8',
  over: PlanOverrides = {},
): Promise<LutcInstance> {
  const plan = legalizeWasmKernel(
    {
      n: w.n,
      k: w.k,
      m,
      bits: w.bits as 2 | 4,
      groupSize: w.block,
      tables,
      wasmFeatures: relaxed ? ['relaxed-simd'] : [],
    },
    over,
  );
  // lazily: the module builder loads binaryen, which the C harness does not need
  const { buildKernelModule } = await import('../backends/wasm/module.js');
  const { instance } = await WebAssembly.instantiate(buildKernelModule(plan) as Uint8Array<ArrayBuffer>, {});
  const ex = instance.exports as Record<string, any>;
  const buf = (ex.memory as WebAssembly.Memory).buffer;
  const g = plan.geom,
    L = plan.mem;
  new Uint8Array(buf, L.w, g.packedBytes).set(packWeights(g, w.q));
  const ps = packScales(g, w.scales, w.zeros);
  new Float32Array(buf, L.sw, ps.sw.length).set(ps.sw);
  new Float32Array(buf, L.swz, ps.swz.length).set(ps.swz);
  const xs = new Float32Array(buf, L.x, m * g.kPad),
    ym = new Float32Array(buf, L.y, m * g.nPad);
  const put = () => {
    for (let t = 0; t < m; t++) xs.set(x.subarray(t * g.k, (t + 1) * g.k), t * g.kPad);
  };
  const y = () => {
    const out = new Float32Array(m * g.n);
    for (let t = 0; t < m; t++) out.set(ym.subarray(t * g.nPad, t * g.nPad + g.n), t * g.n);
    return out;
  };
  put();
  return {
    plan,
    run: () => (put(), ex.lutc_run(m), y()),
    kernel: () => ex.lutc_run(m),
    tables: () => ex.lutc_tables(L.x, L.tab, L.ts, L.xs, m),
    gemm: () => ex.lutc_gemm(L.w, L.sw, L.swz, L.bias, L.tab, L.ts, L.xs, L.y, m),
    y,
  };
}
