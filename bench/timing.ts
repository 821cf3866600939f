/**
 * The one timing method of every benchmark (bench/c.ts, bench/wasm.ts, bench/gpu.ts and `lutc bench`,
 * backends/wasm/bench.ts), so lutc and its peers are always measured the same way (bench/README.md):
 *
 *   - `interleave(sides, opts)`: every side (lutc and each peer) first gets the same initial warm-up
 *     (at least 5 calls and at least `warmupMs`), then `rounds` rounds; in each round every side, in
 *     an order that rotates by one per round, re-warms with `warm` untimed calls and makes
 *     `ceil(runs / rounds)` timed calls (after `settleMs` idle). So all sides get the same number of
 *     timed calls, the same warm-up per round, and see the same machine load. With `cold`, every timed call of every side is
 *     preceded by the same cache eviction (reading a buffer of `evictBytes()`, twice the LLC).
 *   - A side is a `Timed`: `callSide` wraps a JS function (performance.now() around each call);
 *     bench/c.ts implements `Timed` over a native child process that times itself the same way.
 *   - `summarize` gives median, min and p90 (µs); `relL2` and `PEER_TOL` check a peer's output
 *     against lutc's (`checkPeer`).
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

/** Something timed: `batch` makes `warm` untimed calls, then `runs` timed ones; returns µs per timed call. */
export interface Timed {
  name: string;
  /** With `cold`, each timed call is preceded (untimed) by `evictCaches()` or its native equivalent. */
  batch(runs: number, warm: number, cold: boolean): Promise<number[]>;
}

export interface InterleaveOptions {
  /** Timed calls per side in all (rounded up to a whole number of rounds). */
  runs: number;
  /** Rounds (default: runs / 5, at least 4 and at most runs). */
  rounds?: number;
  /** Untimed re-warm calls per side at the start of each round (default 1). */
  warm?: number;
  /** Initial warm-up per side: at least 5 calls and at least this many ms (default 300: lets V8 tier wasm up to TurboFan). */
  warmupMs?: number;
  /** Evict caches before every timed call of every side. */
  cold?: boolean;
  /**
   * Idle ms before each batch (default 2), so the previous side's spinning worker threads (onnxruntime's
   * intra-op pool, OpenMP in the C harness) have gone to sleep and do not compete with this side.
   */
  settleMs?: number;
}

/** µs per call of one side. */
export interface Stats {
  median: number;
  min: number;
  p90: number;
  /** Timed calls. */
  n: number;
}

export function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

export function summarize(v: number[]): Stats {
  const s = [...v].sort((a, b) => a - b);
  return { median: median(s), min: s[0] ?? NaN, p90: s[Math.min(s.length - 1, Math.ceil(0.9 * s.length) - 1)] ?? NaN, n: s.length };
}

let evictLen = 0;
/** Bytes read to evict the caches: twice the last-level cache (Linux sysfs), at least 64 MiB. */
export function evictBytes(): number {
  if (evictLen) return evictLen;
  let llc = 0;
  for (const idx of [3, 2]) {
    try {
      const t = readFileSync(`/sys/devices/system/cpu/cpu0/cache/index${idx}/size`, 'utf8').trim();
      const v = parseInt(t, 10) * (/M$/i.test(t) ? 1 << 20 : /K$/i.test(t) ? 1 << 10 : 1);
      if (v > 0) {
        llc = v;
        break;
      }
    } catch {
      /* not Linux or no such level */
    }
  }
  return (evictLen = Math.max(64 << 20, 2 * llc));
}

let evictBuf: Int32Array | undefined;
let sink = 0;
/**
 * Reads one word of every 64-byte line of a buffer of `evictBytes()`, pushing lutc's and the peer's
 * weights, tables and activations out of every cache level (bench/c.ts's harness does the same in C).
 */
export function evictCaches(): void {
  evictBuf ??= new Int32Array(evictBytes() >> 2).fill(1);
  let s = 0;
  for (let i = 0; i < evictBuf.length; i += 16) s += evictBuf[i]!;
  sink ^= s;
}
/** Keeps evictCaches' reads observable. */
export function evictSink(): number {
  return sink;
}

/** A `Timed` over a function (sync or async): performance.now() around each timed call. */
export function callSide(name: string, fn: () => unknown, evict: () => void = evictCaches): Timed {
  return {
    name,
    async batch(runs, warm, cold) {
      for (let i = 0; i < warm; i++) await fn();
      const t: number[] = [];
      for (let i = 0; i < runs; i++) {
        if (cold) evict();
        const t0 = performance.now();
        await fn();
        t.push((performance.now() - t0) * 1000);
      }
      return t;
    },
  };
}

/** Times `sides` interleaved (see the header); returns each side's Stats, in the order given. */
export async function interleave(sides: Timed[], o: InterleaveOptions): Promise<Stats[]> {
  const runs = Math.max(1, o.runs);
  const rounds = Math.max(1, Math.min(runs, o.rounds ?? Math.max(4, Math.round(runs / 5))));
  const perRound = Math.ceil(runs / rounds);
  const warm = o.warm ?? 1;
  const warmupMs = o.warmupMs ?? 300;
  for (const s of sides) {
    const t0 = performance.now();
    let calls = 0;
    while (calls < 5 || performance.now() - t0 < warmupMs) {
      await s.batch(0, 1, false);
      calls++;
    }
  }
  const settle = o.settleMs ?? 2;
  const times: number[][] = sides.map(() => []);
  for (let r = 0; r < rounds; r++)
    for (let j = 0; j < sides.length; j++) {
      const i = (j + r) % sides.length;
      if (settle > 0) await new Promise((res) => setTimeout(res, settle));
      times[i]!.push(...(await sides[i]!.batch(perRound, warm, !!o.cold)));
    }
  return times.map(summarize);
}

/**
 * Tolerance of `checkPeer` (relative L2 of the peer's y against lutc's y) for int8 tables: each table
 * entry is rounded to 1/127 of its segment's absmax (uniform error, rms 1/(127*sqrt(12)) = 2.3e-3 of
 * absmax), which docs/lut-format.md bounds and which measures 3e-3..5e-3 relative L2 against float64 on
 * the bench weights; peers with accuracy_level 4 (MatMulNBits) round the activations to int8 per block
 * too (a similar, independent error). 2e-2 is 3-4x the sum of both; a peer that computes something
 * else (wrong layout, zero points, scales) is off by O(1). With f32 tables, and for float models run
 * by both sides, the error is float rounding: PEER_TOL_F32.
 */
export const PEER_TOL = 2e-2;
export const PEER_TOL_F32 = 1e-3;
/**
 * `lutc bench` on whole models with int8 tables: several LUT layers in sequence (q/k/v/o, MLP) each add
 * their own int8-table error, and norms and softmax pass relative errors on; the bundled models
 * measure 1.1e-2..1.3e-2 against onnxruntime's MatMulNBits (accuracy_level 0, float) on the same
 * weights. 5e-2 leaves ~4x; a peer running other weights or a wrong layout is off by O(1) (the float
 * model, whose weights are not quantized, is 1e-1..5e-1 away at 4 and 2 bits).
 */
export const PEER_TOL_MODEL = 5e-2;

/** ||a - b|| / ||b|| over all elements (b: lutc's output). */
export function relL2(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let num = 0,
    den = 0;
  for (let i = 0; i < b.length; i++) {
    num += (a[i]! - b[i]!) ** 2;
    den += b[i]! ** 2;
  }
  return den > 0 ? Math.sqrt(num / den) : Math.sqrt(num);
}

/** Result of comparing a peer's output with lutc's. */
export interface PeerCheck {
  relL2: number;
  tol: number;
  ok: boolean;
}

/** The peer's y against lutc's y (NaN or a length mismatch fails). */
export function checkPeer(peer: ArrayLike<number>, lutc: ArrayLike<number>, tol = PEER_TOL): PeerCheck {
  const e = relL2(peer, lutc);
  return { relL2: e, tol, ok: e <= tol };
}
