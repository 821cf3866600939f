/**
 * The C suite: lutc's C kernel for every BENCH_SHAPES shape at 2 and 4 bits (group 128), built with
 * -O3 -march=native -fopenmp into a harness that runs as a child process and times batches of calls on
 * request (clock_gettime around each call), against onnxruntime-node in this process: MatMulNBits
 * (same bits, block 128, accuracy_level 4) and fp32 MatMul on the same weights; with block32 also lutc
 * at group 32 against MatMulNBits block 32 on those weights (suites c-b32, c-b32-cold).
 *
 * Method (bench/timing.ts, bench/README.md): per shape, bits and thread count, lutc's batches and each
 * peer's batches are interleaved round by round (same runs, same initial and per-round warm-up). lutc's
 * timed call copies x into the kernel's input buffer and y out of its output buffer (the peer pays its
 * input/output handling inside session.run). Suite 'c-cold' (M = 1): every timed call of every side
 * follows the same eviction, reading a buffer of twice the LLC (in C in the harness, in JS for the
 * peer); a cold row also gives the DRAM floor: the peer file's weight bytes (B, f32 scales, packed zero
 * points) over the read bandwidth the harness measures once per run (`f`). Each peer's output is
 * checked against lutc's (relative L2 <= PEER_TOL); a failing row says check 'FAIL' and bench/run.ts
 * exits non-zero.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { emitKernel } from '../backends/c/kernel.js';
import { startCHarness } from './kernel-timing.js';
import { openNodePeer, peerModel } from './peers-node.js';
import type { OpenPeer } from './peers-web.js';
import { type BenchResult, withStats } from './schema.js';
import { callSide, checkPeer, evictBytes, interleave } from './timing.js';
import { benchWeights, lcg, referenceRows } from './weights.js';

export interface CBenchOptions {
  shapes: readonly [number, number, number][];
  bits: number[];
  threads: number[];
  runs: number;
  /** Also time lutc at group 32 against MatMulNBits block 32 on the same weights (suites c-b32, c-b32-cold). */
  block32?: boolean;
  /** Skip the cold-cache runs. */
  noCold?: boolean;
  /** Progress lines (stderr). */
  log?(msg: string): void;
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
    let bw: number | undefined;
    for (const [n, k, m] of o.shapes)
      for (const bits of o.bits)
        for (const group of o.block32 ? [128, 32] : [128]) {
          const b32 = group === 32;
          const w = benchWeights(n, k, bits, group, 1000 + n + k + bits);
          const r = lcg(7 + m);
          const x = new Float32Array(m * k).map(() => r() * 2 - 1);
          const files = emitKernel({ n, k, m, bits: bits as 2 | 4, groupSize: group }).files;
          const { h, isa } = await startCHarness(files, w, x, m, dir);
          try {
            await h.ask(`b 1 1 0 0`);
            await h.ask(`o ${join(dir, 'y.bin')}`);
            const yb = readFileSync(join(dir, 'y.bin'));
            const y = new Float32Array(yb.buffer.slice(yb.byteOffset, yb.byteOffset + yb.byteLength));
            const err = spotCheck(y, referenceRows(w, x, m, 64), m, n, 64);
            log(`c ${n}x${k} m=${m} bits=${bits} group=${group} isa=${isa}: rel-L2 vs fp64 ${err.toExponential(2)}`);
            if (!(err < 5e-2)) throw new Error(`lutc C kernel output is wrong for ${n}x${k} bits=${bits} group=${group}: rel-L2 ${err}`);
            // group 32: lutc at group 32 against MatMulNBits block 32 on the same weights (suite c-b32)
            const models: [string, Uint8Array][] = b32
              ? [['ort-node-nbits-b32', peerModel(w, m, 'nbits')]]
              : [
                  ['ort-node-nbits', peerModel(w, m, 'nbits')],
                  ['ort-node-fp32', peerModel(w, m, 'fp32')],
                ];
            const cold = !o.noCold && m === 1;
            // the DRAM floor of a cold row: the peer file's weight bytes over the read bandwidth (once per run)
            if (cold && bw === undefined) {
              bw = await h.bandwidth();
              log(`c: DRAM read bandwidth ${bw.toFixed(1)} GB/s (best of 5 reads of ${(evictBytes() / 2 ** 20).toFixed(0)} MiB)`);
            }
            const weightBytes = w.B.length + w.scales.length * 4 + w.zpPacked.length;
            const floorUs = bw ? weightBytes / (bw * 1e3) : undefined;
            for (const th of o.threads) {
              const peers: { name: string; p: OpenPeer }[] = [];
              for (const [name, model] of models) peers.push({ name, p: await openNodePeer(model, x, m, k, th) });
              try {
                const checks = peers.map(({ p }) => checkPeer(p.y, y));
                const sides = [h.side('lutc', th), ...peers.map(({ name, p }) => callSide(name, p.run))];
                for (const c of cold ? [false, true] : [false]) {
                  const st = await interleave(sides, { runs: o.runs, cold: c });
                  const suite = `c${b32 ? '-b32' : ''}${c ? '-cold' : ''}`;
                  const fl = c && floorUs ? `; floor ${floorUs.toFixed(1)}us (lutc ${(st[0]!.median / floorUs).toFixed(2)}x)` : '';
                  log(
                    `  ${suite} ${th}T lutc ${st[0]!.median.toFixed(1)}us (min ${st[0]!.min.toFixed(1)}, p90 ${st[0]!.p90.toFixed(1)})${fl}` +
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
                          group,
                          ...(c && floorUs ? { floor_us: floorUs } : {}),
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
