/** Row format of bench/results.json, shared by every benchmark suite (issues 4 and 5 fix the fields). */
export interface BenchResult {
  suite: string;
  target: 'wasm' | 'c' | 'wgsl';
  bits: number;
  m: number;
  n: number;
  k: number;
  threads: number;
  /** Median microseconds of lutc's kernel. */
  lutc_us: number;
  /** `ort-web-fp32`, `ort-web-nbits`, `ort-node-fp32`, `ort-node-nbits`, or another named peer. */
  peer: string;
  peer_us: number;
}

/** The shapes every suite measures: [n, k, m]. */
export const BENCH_SHAPES: readonly [number, number, number][] = [
  [4096, 4096, 1], [11008, 4096, 1], [4096, 11008, 1], [2560, 2560, 1], [6912, 2560, 1], [2560, 6912, 1], [4096, 4096, 32],
];
