/**
 * WASM benchmark suite (issue 4): lutc's WASM LUT kernels (bits 2 and 4, SIMD128; relaxed SIMD as a
 * separate suite when the engine runs it, i.e. node --experimental-wasm-relaxed-simd) against
 * onnxruntime-web (WASM, 1 thread, SIMD): fp32 MatMul and MatMulNBits (block 32), and native
 * onnxruntime-node MatMulNBits (block 128, accuracy_level 4, 1 thread) in the same run, each on
 * identical quantized weights (bench/weights.ts). bench/run.ts imports this module dynamically.
 *
 * Timed units: lutc's is copying x into wasm memory, the kernel entry point `run(m)` (table build + LUT
 * GEMM + epilogue) and copying y out to a new Float32Array -- the copies a peer's session.run makes
 * too. All sides of a shape (lutc at G = 128 and 32, every peer) are timed interleaved by
 * bench/timing.ts: same initial warm-up (>= 400 ms, so V8 tiers lutc up from Liftoff to TurboFan),
 * same re-warm per round, same number of timed calls. Each peer's output is checked against lutc's at
 * the peer's weights (relative L2 <= PEER_TOL); a failing row says check 'FAIL' (bench/run.ts exits 1).
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { engineHasRelaxedSimd } from '../backends/wasm/module.js';
import { type LutcInstance, lutcInstance } from './kernel-timing.js';
import { openNodePeer, peerModel } from './peers-node.js';
import { type OpenPeer, openWebPeer } from './peers-web.js';
import { BENCH_SHAPES, type BenchResult, withStats } from './schema.js';
import { callSide, checkPeer, interleave, type Timed } from './timing.js';
import { type BenchWeights, benchWeights, lcg, referenceRows } from './weights.js';

export interface WasmBenchOptions {
  /** [n, k, m] shapes (default BENCH_SHAPES; quick: 4096x4096 M=1 only). */
  shapes?: readonly (readonly [number, number, number])[];
  /** Timed runs per measurement (default 20, at least 20 unless quick). */
  runs?: number;
  quick?: boolean;
  /** Bits to measure (default [2, 4]). */
  bits?: number[];
  /** Skip the onnxruntime-web peers (peer_us = NaN). */
  noPeers?: boolean;
  /**
   * Also run the suite with relaxed SIMD in a child node (--experimental-wasm-relaxed-simd) when this
   * engine lacks it (Node 20; browsers and Node >= 22 ship it), appending its 'wasm-lut-relaxed-*'
   * rows (each again against peers timed in that run). Default true; LUTC_BENCH_RELAXED=0 disables.
   */
  relaxedChild?: boolean;
  log?: (msg: string) => void;
}

/** lutc is timed at both groups: 128 (the fp32 and native peers' weights) and 32 (ort-web-nbits'). */
const GROUPS = [128, 32] as const;

export { type LutcInstance, lutcInstance } from './kernel-timing.js';

/** Spot check: the first rows of y against a float64 reference (int8-table error is ~1% of max|y|). */
function spotCheck(y: Float32Array, w: BenchWeights, x: Float32Array, m: number, what: string): void {
  const rows = Math.min(8, w.n),
    t = m - 1;
  const ref = referenceRows(w, x.subarray(t * w.k, (t + 1) * w.k), 1, rows);
  let err = 0,
    mag = 0;
  for (let r = 0; r < rows; r++) {
    err = Math.max(err, Math.abs(y[t * w.n + r]! - ref[r]!));
    mag = Math.max(mag, Math.abs(ref[r]!));
  }
  if (!(err <= 0.05 * mag + 1e-6)) throw new Error(`bench spot check failed for ${what}: max error ${err} vs max |y| ${mag}`);
}

/**
 * Runs the WASM suite; one BenchResult per (shape, bits, peer). Each peer is compared with lutc on
 * identical weights: group 128 for 'ort-web-fp32' (dequantized) and 'ort-node-nbits' (native
 * MatMulNBits, block 128, accuracy_level 4), group 32 for 'ort-web-nbits' (block 32). The group is
 * part of the suite name ('wasm-lut-simd128-g128', ...-g32) since BenchResult has no group field.
 * lutc_us of a row is the median of lutc at that group, timed in the same interleaved rounds as every
 * peer of the shape. lutc's output is first spot-checked against float64 (a lutc bug throws); each
 * peer's output is then checked against lutc's (a mismatch marks the row 'FAIL').
 */
export async function runWasmBench(opts: WasmBenchOptions = {}): Promise<BenchResult[]> {
  const log = opts.log ?? ((s: string) => process.stderr.write(s + '\n'));
  const shapes = opts.shapes ?? (opts.quick ? [[4096, 4096, 1] as const] : BENCH_SHAPES);
  const runs = Math.max(opts.quick ? 5 : 20, opts.runs ?? 20);
  const relaxed = engineHasRelaxedSimd();
  const suite = relaxed ? 'wasm-lut-relaxed' : 'wasm-lut-simd128';
  const rows: BenchResult[] = [];
  for (const [n, k, m] of shapes) {
    const r = lcg(n * 31 + k * 7 + m);
    const x = new Float32Array(m * k).map(() => r() * 2 - 1);
    for (const bits of opts.bits ?? [2, 4]) {
      const inst: Record<number, LutcInstance> = {};
      const byGroup: Record<number, BenchWeights> = {};
      const ys: Record<number, Float32Array> = {};
      for (const group of GROUPS) {
        const w = (byGroup[group] = benchWeights(n, k, bits, group));
        const li = (inst[group] = await lutcInstance(w, m, x, relaxed));
        ys[group] = li.run();
        spotCheck(ys[group]!, w, x, m, `lutc ${bits}-bit G=${group} ${n}x${k} M=${m}`);
      }
      const peerSpecs: [number, string, () => Promise<OpenPeer>][] = opts.noPeers
        ? []
        : [
            [128, 'ort-web-fp32', () => openWebPeer(byGroup[128]!, x, m, 'fp32')],
            [128, 'ort-node-nbits', () => openNodePeer(peerModel(byGroup[128]!, m, 'nbits', 4), x, m, k, 1)],
            [32, 'ort-web-nbits', () => openWebPeer(byGroup[32]!, x, m, 'nbits')],
          ];
      const peers: { group: number; name: string; p: OpenPeer }[] = [];
      try {
        for (const [group, name, open] of peerSpecs) {
          const p = await open();
          peers.push({ group, name, p });
        }
        const sides: Timed[] = [
          ...GROUPS.map((g) => callSide(`lutc-g${g}`, inst[g]!.run)),
          ...peers.map(({ name, p }) => callSide(name, p.run)),
        ];
        const st = await interleave(sides, { runs, warmupMs: 400 });
        const lutcOf = (g: number) => st[GROUPS.indexOf(g as 128 | 32)]!;
        for (const g of GROUPS) {
          const s = lutcOf(g);
          log(
            `${suite} ${n}x${k} M=${m} ${bits}-bit G=${g}: ${s.median.toFixed(1)} us (min ${s.min.toFixed(1)}, p90 ${s.p90.toFixed(1)}; copies included)`,
          );
          if (opts.noPeers)
            rows.push(
              withStats(
                { suite: `${suite}-g${g}`, target: 'wasm', bits, m, n, k, threads: 1, lutc_us: s.median, peer: 'none', peer_us: NaN },
                s,
                undefined,
              ),
            );
        }
        peers.forEach(({ group, name, p }, i) => {
          const s = lutcOf(group),
            ps = st[GROUPS.length + i]!;
          const c = checkPeer(p.y, ys[group]!);
          log(
            `  ${name} ${n}x${k} M=${m} ${bits}-bit (block ${group}): ${ps.median.toFixed(1)} us (min ${ps.min.toFixed(1)}, p90 ${ps.p90.toFixed(1)}); lutc G=${group} ${s.median.toFixed(1)} us: ${(ps.median / s.median).toFixed(2)}x; rel-L2 vs lutc ${c.relL2.toExponential(2)}${c.ok ? '' : ` > ${c.tol}: FAIL`}`,
          );
          rows.push(
            withStats(
              { suite: `${suite}-g${group}`, target: 'wasm', bits, m, n, k, threads: 1, lutc_us: s.median, peer: name, peer_us: ps.median },
              s,
              ps,
              c,
            ),
          );
        });
      } finally {
        for (const { p } of peers) await p.release();
      }
    }
  }
  if (!relaxed && (opts.relaxedChild ?? process.env.LUTC_BENCH_RELAXED !== '0')) rows.push(...relaxedChildRows(opts, shapes, runs, log));
  return rows;
}

/** Runs this file in a child node with relaxed SIMD enabled and returns its rows (see relaxedChild). */
function relaxedChildRows(
  opts: WasmBenchOptions,
  shapes: readonly (readonly [number, number, number])[],
  runs: number,
  log: (s: string) => void,
): BenchResult[] {
  const args = [
    ...process.execArgv,
    '--experimental-wasm-relaxed-simd',
    fileURLToPath(import.meta.url),
    '--child',
    JSON.stringify({ shapes, runs, bits: opts.bits, noPeers: opts.noPeers, quick: opts.quick }),
  ];
  const res = spawnSync(process.execPath, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 26 });
  for (const line of (res.stderr ?? '').split('\n')) if (line) log(line);
  if (res.status !== 0) {
    log(`wasm bench: relaxed-SIMD child failed (status ${res.status}); no relaxed rows`);
    return [];
  }
  return JSON.parse(res.stdout) as BenchResult[];
}

// `tsx bench/wasm.ts [--quick]` runs the suite alone and prints its rows.
if (import.meta.url === `file://${process.argv[1]}` && process.argv[2] === '--child') {
  // relaxed-SIMD child of relaxedChildRows: rows as JSON on stdout, progress on stderr
  const o = JSON.parse(process.argv[3]!) as WasmBenchOptions;
  runWasmBench({ ...o, relaxedChild: false }).then((rows) => process.stdout.write(JSON.stringify(rows)));
} else if (import.meta.url === `file://${process.argv[1]}`) {
  const quick = process.argv.includes('--quick');
  const m32 = process.argv.includes('--m32');
  runWasmBench({
    quick,
    shapes: m32
      ? [
          [4096, 4096, 1],
          [4096, 4096, 32],
        ]
      : undefined,
  }).then((rows) => {
    console.table(
      rows.map((r) => ({
        suite: r.suite,
        bits: r.bits,
        m: r.m,
        lutc_us: +r.lutc_us.toFixed(1),
        peer: r.peer,
        peer_us: +r.peer_us.toFixed(1),
        speedup: +(r.peer_us / r.lutc_us).toFixed(2),
        check: r.check ?? '',
      })),
    );
    if (rows.some((r) => r.check === 'FAIL')) process.exitCode = 1;
  });
}
