/**
 * Row format of bench/results.json, shared by every benchmark suite (issues 4 and 5 fix the required
 * fields; issue 9 added the optional ones, so older readers and older files still work). Every suite
 * times lutc and the peer with bench/timing.ts (interleaved, same warm-up and cache state, same copies;
 * bench/README.md).
 */
import type { TargetName } from '../backends/target.js';

export interface BenchResult {
  suite: string;
  /** A target with an artifact or kernel mode (backends/target.ts; `ref` is never measured). */
  target: Exclude<TargetName, 'ref'>;
  bits: number;
  m: number;
  n: number;
  k: number;
  threads: number;
  /** Median microseconds of lutc's timed unit (kernel plus the copies the peer pays too). */
  lutc_us: number;
  /** `ort-web-fp32`, `ort-web-nbits`, `ort-node-fp32`, `ort-node-nbits`, or another named peer. */
  peer: string;
  /** Median microseconds of one peer session.run, timed interleaved with lutc_us. */
  peer_us: number;
  /** Min and 90th percentile of the same timed calls (µs). */
  lutc_min_us?: number;
  lutc_p90_us?: number;
  peer_min_us?: number;
  peer_p90_us?: number;
  /** Timed calls per side. */
  runs?: number;
  /** Both sides timed with caches evicted before each call (suite names ending in '-cold' say so too). */
  cold?: boolean;
  /** Weight group (MatMulNBits block) of both sides; absent in older files: 128. */
  group?: number;
  /**
   * Cold rows of the C suite: the DRAM floor, the model's weight bytes (MatMulNBits B, f32 scales and
   * packed zero points, what the peer's file holds) over the read bandwidth measured in the same run.
   */
  floor_us?: number;
  /** Relative L2 of the peer's output against lutc's, its tolerance, and whether it passed. */
  peer_rel_l2?: number;
  peer_tol?: number;
  /** 'ok', or 'FAIL' (the peer computes something else than lutc: the bench exits non-zero). */
  check?: 'ok' | 'FAIL';
}

/** The shapes every suite measures: [n, k, m]. */
export const BENCH_SHAPES: readonly [number, number, number][] = [
  [4096, 4096, 1],
  [11008, 4096, 1],
  [4096, 11008, 1],
  [2560, 2560, 1],
  [6912, 2560, 1],
  [2560, 6912, 1],
  [4096, 4096, 32],
];

/** Fills a row's optional timing and check fields from bench/timing.ts results. */
export function withStats(
  row: BenchResult,
  lutc: { min: number; p90: number; n: number },
  peer: { min: number; p90: number } | undefined,
  check?: { relL2: number; tol: number; ok: boolean },
): BenchResult {
  row.lutc_min_us = lutc.min;
  row.lutc_p90_us = lutc.p90;
  row.runs = lutc.n;
  if (peer) {
    row.peer_min_us = peer.min;
    row.peer_p90_us = peer.p90;
  }
  if (check) {
    row.peer_rel_l2 = check.relL2;
    row.peer_tol = check.tol;
    row.check = check.ok ? 'ok' : 'FAIL';
  }
  return row;
}

/** One row of bench/results-llm.json (`npm run bench:llm`): a phase of a whole decoder, lutc against one peer. */
export interface LlmResult {
  target: 'c' | 'wasm';
  /** The decoder shape (bench/llm.ts SHAPES: llama, bitnet, smoke). */
  model: string;
  /** The export layout the decoder is built in ('genai-gqa': onnxruntime-genai's builder, GroupQueryAttention). */
  layout: string;
  phase: 'prefill' | 'decode';
  /** Cached rows before the step (0 for prefill). */
  past: number;
  threads: number;
  lutc_tok_s: number;
  /** 'ort-node' or 'ort-web' (the peer on the same ONNX file in the same run). */
  peer: string;
  peer_tok_s: number;
}
