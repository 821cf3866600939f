/**
 * Helpers for the LUT IR and pass tests: a seeded RNG, small graphs built with GraphBuilder (typed
 * through the op table's shape rules), a float64 reference of X · dequant(W)ᵀ, and the error measures
 * of test/helpers/tolerance.ts.
 */
import '../../ir/ops/index.js';
import { GraphBuilder, newGraph } from '../../ir/graph.js';
import { inferGraph } from '../../ir/infer.js';
import type { QuantizedMatrix } from '../../ir/lut/quantize.js';
import { makeTensor } from '../../ir/tensor.js';
import type { Graph, Tensor, Value } from '../../ir/types.js';
import { maxRel, relL2 } from '../helpers/tolerance.js';

export function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    // xorshift32: cheap, seedable, good enough for test data
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2 ** 32;
  };
}

export function randTensor(r: () => number, shape: number[], scale = 1): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return makeTensor(
    'f32',
    shape,
    Float32Array.from({ length: n }, () => (r() * 2 - 1) * scale),
  );
}

/** A typed graph from a builder callback; the callback returns the outputs. */
export function buildGraph(f: (b: GraphBuilder, g: Graph) => Value[]): Graph {
  const g = newGraph('test');
  const b = new GraphBuilder(g);
  g.outputs = f(b, g);
  inferGraph(g, { fold: false });
  return g;
}

/** Adds a node whose result types are placeholders; `buildGraph` infers them. */
export function op(
  b: GraphBuilder,
  name: string,
  inputs: (Value | null)[],
  attrs: Record<string, never> | Record<string, unknown> = {},
  nOut = 1,
): Value[] {
  return b.node(
    name,
    inputs,
    attrs as never,
    Array.from({ length: nOut }, () => ({ dtype: 'f32' as const, shape: [] })),
  ).outputs;
}

/** y = x · W (W [K, N]) as a graph with input x [M, K]. */
export function linearGraph(m: number, w: Tensor): Graph {
  return buildGraph((b) => {
    const x = b.input('x', { dtype: 'f32', shape: [m, w.shape[0]!] });
    const wv = b.constant('w', w);
    return op(b, 'matmul', [x, wv]);
  });
}

/** Float64 X · dequant(qm)ᵀ, [M, N]. */
export function dequantRef(x: Float32Array, m: number, qm: QuantizedMatrix): Float64Array {
  const out = new Float64Array(m * qm.n);
  for (let mi = 0; mi < m; mi++)
    for (let n = 0; n < qm.n; n++) {
      let acc = 0;
      for (let k = 0; k < qm.k; k++) {
        const gi = Math.floor(k / qm.groupSize);
        acc += x[mi * qm.k + k]! * qm.scales[n * qm.nGroups + gi]! * (qm.q[n * qm.k + k]! - qm.zeros[n * qm.nGroups + gi]!);
      }
      out[mi * qm.n + n] = acc;
    }
  return out;
}

/** Both error measures of test/helpers/tolerance.ts at once. */
export function errors(y: ArrayLike<number>, want: ArrayLike<number>): { relL2: number; maxRel: number } {
  return { relL2: relL2(y, want), maxRel: maxRel(y, want) };
}
