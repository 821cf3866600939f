/**
 * The runtime-dims golden cases every compiled target runs (test/e2e/runtime-dims-<target>.test.ts):
 * each model keeps its symbolic dims (bounded as by --max-dim), is compiled once, and runs at several
 * runtime shapes (the smallest, size 0 where meaningful, a middle one and the bound) against
 * onnxruntime-node on the same ONNX model, or, for the LUT case, against lutc's reference interpreter
 * on the same lowered graph (onnxruntime does not quantize). `checkCase` runs one case through a
 * target's compile-once loader.
 *
 * Tolerance: float cases F32_EXACT * max|ref| (same functions, summation order only); the LUT case
 * LUT_VS_INTERP (f32 tables: the same table sums in another order).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { expect } from 'vitest';
import { LutcError } from '../../base/diagnostics.js';
import { OnnxBuilder } from '../../compiler/onnx/builder.js';
import { importOnnx } from '../../compiler/onnx/index.js';
import type { CompileOptions } from '../../compiler/options.js';
import { runPipeline } from '../../compiler/pipeline.js';
import { interpret } from '../../ir/interpret.js';
import { makeTensor } from '../../ir/tensor.js';
import type { Graph, Tensor } from '../../ir/types.js';
import { buildDynamicLinear, randomInput, seeded, uniform } from './models.js';
import { maxAbsDiff, runOrt } from './ort.js';
import { F32_EXACT, LUT_VS_INTERP } from './tolerance.js';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');

/**
 * past [1, past, 16] and x [1, seq, 16]: h = Concat(past, x) (the KV-cache pattern, output `present`),
 * p = Softmax(x h^T / 4) over past + seq keys, y = p h: size 0 past is the first step of a decoder.
 */
export function buildKvAttention(): Uint8Array {
  const b = new OnnxBuilder({ opset: 17 });
  const past = b.input('past', 'f32', [1, 'past', 16]);
  const x = b.input('x', 'f32', [1, 'seq', 16]);
  const [h] = b.node('Concat', [past, x], { attrs: { axis: 1 }, outputs: ['present'] });
  const [ht] = b.node('Transpose', [h!], { attrs: { perm: [0, 2, 1] } });
  const [s] = b.node('MatMul', [x, ht!]);
  const [sc] = b.node('Mul', [s!, b.initializer('scale', makeTensor('f32', [], [0.25]))]);
  const [p] = b.node('Softmax', [sc!], { attrs: { axis: -1 } });
  const [y] = b.node('MatMul', [p!, h!], { outputs: ['y'] });
  b.output(h!, 'f32', [1, 'past + seq', 16]);
  b.output(y!, 'f32', [1, 'seq', 16]);
  return b.toBytes();
}

/** Uses `uniform` so the builders' weights and these inputs come from one generator family. */
const input = (shape: number[], seed: number): Tensor => (shape.includes(0) ? uniform(shape, 1, seeded(seed)) : randomInput(shape, seed));

export interface RuntimeDimsCase {
  name: string;
  model: () => Uint8Array;
  /** Bounds of the runtime dims (--max-dim). */
  bounds: Record<string, number>;
  /** Pipeline options beyond the target (the LUT case quantizes). */
  pipeline?: Omit<CompileOptions, 'target'>;
  /** The reference: onnxruntime on the model, or lutc's interpreter on the lowered graph. */
  oracle: 'ort' | 'ref';
  /** Runs, each the feeds of one call. */
  runs: Record<string, Tensor>[];
  /** Tolerance as a fraction of max|ref| (default: F32_EXACT for onnxruntime, LUT_VS_INTERP for the interpreter). */
  tolerance?: number;
}

export const RUNTIME_DIMS_CASES: RuntimeDimsCase[] = [
  {
    name: 'dynamic linear [batch, seq, 32]',
    model: () => buildDynamicLinear(32, 16),
    bounds: { batch: 3, seq: 8 },
    oracle: 'ort',
    runs: [
      [1, 1],
      [1, 0],
      [2, 5],
      [3, 8],
    ].map(([b, s], i) => ({ x: input([b!, s!, 32], 10 + i) })),
  },
  {
    name: 'LUT linear (4-bit, f32 tables) [batch, seq, 64]',
    model: () => buildDynamicLinear(64, 24, 7),
    bounds: { batch: 2, seq: 40 },
    pipeline: { bits: 4, tables: 'f32' },
    oracle: 'ref',
    // 1 row (the scalar-LUT decode case), 40 and 80 rows (prefill), and empty
    runs: [
      [1, 1],
      [1, 0],
      [1, 40],
      [2, 40],
    ].map(([b, s], i) => ({ x: input([b!, s!, 64], 20 + i) })),
  },
  {
    name: 'KV concat + softmax attention [1, past + seq, 16]',
    model: buildKvAttention,
    bounds: { past: 16, seq: 4 },
    oracle: 'ort',
    runs: [
      [0, 1],
      [0, 4],
      [3, 1],
      [16, 4],
    ].map(([p, s], i) => ({ past: input([1, p!, 16], 30 + i), x: input([1, s!, 16], 40 + i) })),
  },
  {
    name: 'examples/llama-block.onnx [1, seq, 64]',
    model: () => fs.readFileSync(path.join(root, 'examples/llama-block.onnx')),
    bounds: { seq: 64 },
    oracle: 'ort',
    runs: [1, 7, 64].map((s, i) => ({ x: input([1, s, 64], 50 + i) })),
  },
];

/** The case's graph with its runtime dims, lowered for `target`. */
export function lowerCase(c: RuntimeDimsCase, target: 'wasm' | 'wgsl' | 'c' | 'ref'): Graph {
  const g = importOnnx(c.model(), { file: 'model.onnx' });
  g.meta = { ...g.meta, dimBounds: { ...c.bounds } };
  runPipeline(g, { target, ...c.pipeline });
  return g;
}

/** A compiled artifact loaded once: `run` takes feeds of any in-bounds shape. */
export interface LoadedArtifact {
  run(feeds: Record<string, Tensor>): Promise<Tensor[]>;
  close?(): void | Promise<void>;
}

/** Compiles the case once for a target (through `load`) and checks every run against its oracle. */
export async function checkCase(
  c: RuntimeDimsCase,
  target: 'wasm' | 'wgsl' | 'c',
  load: (g: Graph) => Promise<LoadedArtifact>,
): Promise<void> {
  const g = lowerCase(c, target);
  const art = await load(g);
  try {
    const refGraph = c.oracle === 'ref' ? lowerCase(c, 'ref') : undefined;
    const bytes = c.oracle === 'ort' ? c.model() : undefined;
    for (const feeds of c.runs) {
      const shapes = Object.entries(feeds)
        .map(([k, v]) => `${k}[${v.shape}]`)
        .join(' ');
      const got = await art.run(feeds);
      const want = refGraph ? interpret(refGraph, feeds) : await runOrt(bytes!, feeds);
      expect(got.length, shapes).toBe(want.length);
      got.forEach((y, i) => {
        expect(y.shape, `${shapes}: output ${i} shape`).toEqual(want[i]!.shape);
        const { diff, scale } = maxAbsDiff(y, want[i]!);
        const tol = (c.tolerance ?? (c.oracle === 'ref' ? LUT_VS_INTERP : F32_EXACT)) * scale;
        expect(diff, `${shapes}: output ${i}: max|diff| ${diff} vs scale ${scale}`).toBeLessThanOrEqual(tol);
      });
    }
  } finally {
    await art.close?.();
  }
}

/**
 * What one run of a loaded artifact ends in: 'ok', or the coded LutcError's `CODE: message` (any
 * other throw fails the test); the artifact is closed either way.
 */
export async function runOutcome(art: LoadedArtifact, feeds: Record<string, Tensor>): Promise<string> {
  try {
    await art.run(feeds);
    return 'ok';
  } catch (e) {
    expect(e).toBeInstanceOf(LutcError);
    const d = (e as LutcError).diagnostics[0]!;
    return `${d.code}: ${d.message}`;
  } finally {
    await art.close?.();
  }
}
