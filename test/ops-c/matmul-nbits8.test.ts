/**
 * 8-bit MatMulNBits on the int8 path (compute = 'i8', docs/lut-format.md "8-bit MatMulNBits: the
 * int8 path"), on every compiled target, compiled once with a runtime row dim (seq):
 * - the quantizer (ir/ops/linear.ts quantI8): exact ties round half to even; random blocks against
 *   Math.round of 127 x / amax away from ties.
 * - lowering: `--tables i8` (default) sets compute = 'i8' and says so in the layer's decision;
 *   `--tables f32` keeps the exact float path.
 * - c, wasm, wgsl against the interpreter on the same lowered graph: the integer parts are exact on
 *   every target and c and wasm sum the per-block f32 terms in the interpreter's order with the same
 *   roundings, so they must agree to the bit (tolerance 0); WGSL may contract a * b + c into an FMA
 *   and round the K/block_size-term sum differently: I8_WGSL = 2^-20 of max|ref| (4 blocks here,
 *   each at most 1 f32 ulp of the running sum, ~2^-22; a wrong rounding of one activation moves an
 *   output by sa * sw * |w - zp| ~ 2^-10 of max|y|). A tie-heavy run (x = j / 2, amax = 127 per
 *   block, so half the elements are exact ties) makes any other rounding rule fail.
 * - the threaded wasm module (columns split across 2 threads, parMinWork 0) bit-identical to the
 *   interpreter and to 1 thread.
 * - against onnxruntime-node's exact MatMulNBits (accuracy_level 0), per output element, within the
 *   int8 path's error bound: sum over blocks of amax_b / 254 * sum_{k in b} |W[k, n]|, plus the f32
 *   summation of both sides, K * 2^-23 * sum_k |x_k W[k, n]|.
 * Cases: K = 100 (not a multiple of block 32: a 4-element last block), N = 40, zero points given
 * (uniform 0..255) and default (128), with and without bias; K = 600 in blocks of 16 with N = 70
 * (WGSL quantizes 32 blocks per chunk: two chunks, the last partial; two workgroups of columns);
 * M = seq in {0, 1, 3, 8}.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import '../../ir/ops/index.js';
import { openArtifact as openC } from '../../backends/c/run.js';
import { emitArtifact } from '../../backends/wasm/model/index.js';
import { openArtifact as openWasm } from '../../backends/wasm/run.js';
import { type NodeGpu, openNodeGpu } from '../../backends/wgsl/device.js';
import { loadGraph } from '../../backends/wgsl/run.js';
import { importOnnx } from '../../compiler/onnx/index.js';
import { runPipeline } from '../../compiler/pipeline.js';
import { interpret } from '../../ir/interpret.js';
import { quantI8, quantizeI8Block } from '../../ir/ops/linear.js';
import { makeTensor } from '../../ir/tensor.js';
import type { Graph, Tensor } from '../../ir/types.js';
import { buildMatMulNBits, type NBitsOptions, seeded } from '../helpers/models.js';
import { runOrt } from '../helpers/ort.js';
import type { LoadedArtifact } from '../helpers/runtime-dims.js';

const [K, N, BS] = [100, 40, 32];
const [K2, N2, BS2] = [600, 70, 16];
const I8_WGSL = 2 ** -20;
const bitsOf = (x: number): number => new Uint32Array(Float32Array.of(x).buffer)[0]!;

const OPTS: { name: string; o: NBitsOptions }[] = [
  { name: 'zero points given, bias', o: { k: K, n: N, bits: 8, blockSize: BS, zeroPoints: true, bias: true, lead: ['seq'], seed: 11 } },
  { name: 'default zero point 128', o: { k: K, n: N, bits: 8, blockSize: BS, zeroPoints: false, lead: ['seq'], seed: 12 } },
  { name: 'K = 600, block 16', o: { k: K2, n: N2, bits: 8, blockSize: BS2, zeroPoints: true, lead: ['seq'], seed: 13 } },
];

const randomX = (seq: number, seed: number, K: number): Tensor => {
  const r = seeded(seed);
  return makeTensor(
    'f32',
    [seq, K],
    Array.from({ length: seq * K }, () => (r() * 2 - 1) * (r() < 0.1 ? 8 : 1)),
  );
};
/** x = j / 2 for integers j, with |x| = 127 first in each block: 127 x / amax = x, half of them ties. */
const tieX = (seq: number, seed: number, K: number, BS: number): Tensor => {
  const r = seeded(seed);
  return makeTensor(
    'f32',
    [seq, K],
    Array.from({ length: seq * K }, (_, i) => ((i % K) % BS === 0 ? (r() < 0.5 ? 127 : -127) : Math.floor(r() * 509 - 254) / 2)),
  );
};
const runsFor = (o: NBitsOptions): Tensor[] => [
  randomX(1, 1, o.k),
  randomX(0, 2, o.k),
  randomX(3, 3, o.k),
  randomX(8, 4, o.k),
  tieX(1, 5, o.k, o.blockSize),
  tieX(8, 6, o.k, o.blockSize),
];

function lowered(bytes: Uint8Array, target: 'c' | 'wasm' | 'wgsl' | 'ref', tables?: 'i8' | 'f32'): ReturnType<typeof runPipeline> {
  const g = importOnnx(bytes, { file: 'model.onnx' });
  g.meta = { ...g.meta, dimBounds: { seq: 8 } };
  return runPipeline(g, { target, ...(tables ? { tables } : {}) });
}

describe('int8 activation quantizer (quantI8)', () => {
  it('rounds exact ties half to even, clamps nothing past 127', () => {
    const x = [127, 2.5, -2.5, 1.5, 0.5, -0.5, 3.5, -127, 126.5, -0, 1e-30];
    const a = new Int32Array(x.length);
    const [sa, asum] = quantizeI8Block(x, 0, x.length, a, 0);
    expect(Array.from(a)).toEqual([127, 2, -2, 2, 0, 0, 4, -127, 126, 0, 0]);
    expect(asum).toBe(132);
    expect(sa).toBe(Math.fround(127 * Math.fround(1 / 127)));
    // a block of zeros: scale 0, every a 0; a NaN: scale NaN (the block's contribution is NaN)
    expect(quantizeI8Block([0, -0, 0], 0, 3, a, 0)).toEqual([0, 0]);
    expect(Number.isNaN(quantizeI8Block([1, Number.NaN], 0, 2, a, 0)[0])).toBe(true);
  });
  it('equals Math.round(127 x / amax) away from ties, over 20 binades', () => {
    const r = seeded(9);
    for (let t = 0; t < 2000; t++) {
      const xs = Array.from({ length: 32 }, () => Math.fround((r() * 2 - 1) * Math.exp(r() * 40 - 20)));
      const amax = Math.max(...xs.map(Math.abs));
      for (const x of xs) {
        const v = (127 * x) / amax;
        if (Math.abs(Math.abs(v % 1) - 0.5) < 1e-6) continue;
        expect(quantI8(bitsOf(x), bitsOf(amax))).toBe(Math.round(v) + 0);
      }
    }
  });
});

describe('8-bit MatMulNBits: the int8 path', () => {
  let gpu: NodeGpu;
  beforeAll(async () => {
    gpu = await openNodeGpu();
  });
  afterAll(() => gpu?.release());

  it('--tables i8 takes the int8 path and says so; --tables f32 keeps the float path', () => {
    const { bytes } = buildMatMulNBits(OPTS[0]!.o);
    const i8 = lowered(bytes, 'wasm');
    expect(i8.decisions).toHaveLength(1);
    expect(i8.decisions[0]!.lowered).toBe(false);
    expect(i8.decisions[0]!.reason).toMatch(/int8 path/);
    expect(i8.decisions[0]).toMatchObject({ n: N, k: K, bits: 8, groupSize: BS });
    expect(i8.graph.nodes.filter((n) => n.op === 'matmul_nbits').map((n) => n.attrs.compute)).toEqual(['i8']);
    const f32 = lowered(bytes, 'wasm', 'f32');
    expect(f32.decisions[0]!.reason).toMatch(/exact float path/);
    expect(f32.graph.nodes.find((n) => n.op === 'matmul_nbits')!.attrs.compute).toBeUndefined();
  });

  for (const { name, o } of OPTS) {
    it(`the interpreter is within the int8 error bound of onnxruntime (accuracy_level 0): ${name}`, async () => {
      const { bytes, weights } = buildMatMulNBits(o);
      const g = lowered(bytes, 'ref').graph;
      const [K, N, BS] = [o.k, o.n, o.blockSize];
      for (const x of runsFor(o)) {
        if (x.shape[0] === 0) continue;
        const [got] = interpret(g, { A: x });
        const [want] = await runOrt(bytes, { A: x });
        const M = x.shape[0]!;
        let worst = 0;
        for (let m = 0; m < M; m++)
          for (let n = 0; n < N; n++) {
            let bound = 0;
            let mag = 0;
            for (let kb = 0; kb * BS < K; kb++) {
              let amax = 0;
              let wsum = 0;
              for (let k = kb * BS; k < Math.min(K, kb * BS + BS); k++) {
                amax = Math.max(amax, Math.abs(x.data[m * K + k]!));
                wsum += Math.abs(weights.dequantized[k * N + n]!);
                mag += Math.abs(x.data[m * K + k]! * weights.dequantized[k * N + n]!);
              }
              bound += (amax / 254) * wsum;
            }
            bound += K * 2 ** -23 * mag;
            const d = Math.abs(got!.data[m * N + n]! - want!.data[m * N + n]!);
            expect(d, `m ${m} n ${n}`).toBeLessThanOrEqual(bound);
            worst = Math.max(worst, d / bound);
          }
        // the bound is not vacuous: the int8 error is a visible share of it
        expect(worst).toBeGreaterThan(0.01);
      }
    });
  }

  const targets: [string, (g: Graph) => Promise<LoadedArtifact>, number][] = [
    ['c', async (g) => openC(g, { target: 'c' }), 0],
    ['wasm', (g) => openWasm(g, { target: 'wasm' }), 0],
    ['wgsl', (g) => loadGraph(gpu.device, g), I8_WGSL],
  ];
  for (const [target, load, tol] of targets)
    for (const { name, o } of OPTS)
      it(`${target}: equals the interpreter (tolerance ${tol} of max|ref|), runtime rows: ${name}`, async () => {
        const { bytes } = buildMatMulNBits(o);
        const g = lowered(bytes, target as 'c').graph;
        expect(g.nodes.find((n) => n.op === 'matmul_nbits')?.attrs.compute).toBe('i8');
        const ref = lowered(bytes, 'ref').graph;
        const art = await load(g);
        try {
          for (const x of runsFor(o)) {
            const [got] = await art.run({ A: x });
            const [want] = interpret(ref, { A: x });
            expect(got!.shape).toEqual(want!.shape);
            let scale = 0;
            let diff = 0;
            for (let i = 0; i < want!.data.length; i++) {
              scale = Math.max(scale, Math.abs(want!.data[i]!));
              diff = Math.max(diff, Math.abs(got!.data[i]! - want!.data[i]!));
            }
            expect(diff, `rows ${x.shape[0]}: max|diff| ${diff} of max|ref| ${scale}`).toBeLessThanOrEqual(tol * scale);
          }
        } finally {
          await art.close?.();
        }
      }, 120_000);

  it('wasm, 2 threads (columns split): bit-identical to 1 thread and to the interpreter', async () => {
    const o = OPTS[2]!.o;
    const { bytes } = buildMatMulNBits(o);
    const g = runPipeline(importOnnx(bytes, { dimBindings: { seq: 3 } }), { target: 'wasm' }).graph;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lutc-nb8-'));
    try {
      const { files, manifest } = emitArtifact(g, { threads: 2, parMinWork: 0 });
      expect(manifest.threads!.split.map((name) => g.nodes.find((n) => n.name === name)!.op)).toContain('matmul_nbits');
      for (const [name, body] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), body);
      type Model = { run(f: Record<string, unknown>): Record<string, { data: Float32Array }>; threads: number; destroy(): void };
      const mod = (await import(pathToFileURL(path.join(dir, 'model.mjs')).href)) as { load(o: { threads: number }): Promise<Model> };
      const [one, two] = [await mod.load({ threads: 1 }), await mod.load({ threads: 2 })];
      try {
        expect(two.threads).toBe(2);
        for (const x of [randomX(3, 7, o.k), tieX(3, 8, o.k, o.blockSize)]) {
          const [want] = interpret(g, { A: x });
          const a = Float32Array.from(x.data as ArrayLike<number>);
          const y1 = Object.values(one.run({ A: a }))[0]!.data;
          const y2 = Object.values(two.run({ A: a }))[0]!.data;
          expect(Array.from(y2)).toEqual(Array.from(y1));
          expect(Array.from(y1)).toEqual(Array.from(want!.data as Float32Array));
        }
      } finally {
        one.destroy();
        two.destroy();
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
