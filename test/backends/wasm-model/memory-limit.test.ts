/**
 * A model whose weights do not fit wasm32's 4 GiB of linear memory is diagnosed at compile (LUT5058,
 * stating the bytes needed and the limit) without its weights ever being computed or allocated: the
 * graph's weights are lazy constants (ir/tensor.ts lazyTensor) whose loaders count their calls and
 * throw, and the whole wasm pipeline and backend run on it (bitplane-layout folds lut.pack of lazy
 * constants into lazy constants; the backend checks the memory map before it builds any weight image).
 */
import { describe, expect, it } from 'vitest';
import { compileArtifact } from '../../../backends/wasm/compile.js';
import { LutcError } from '../../../base/diagnostics.js';
import { runPipeline } from '../../../compiler/pipeline.js';
import { GraphBuilder, newGraph } from '../../../ir/graph.js';
import { addNode } from '../../../ir/lut/build.js';
import { lazyTensor } from '../../../ir/tensor.js';
import type { Graph } from '../../../ir/types.js';

// 9 layers of 32768 x 32768 4-bit weights: 512 MiB of packed planes each (4.5 GiB), plus sw/swz
const K = 32768;
const N = 32768;
const LAYERS = 9;
const GROUP = 128;

function bigGraph(loads: { n: number }): Graph {
  const g = newGraph('too-big-for-wasm32');
  const b = new GraphBuilder(g);
  const x = b.input('x', { dtype: 'f32', shape: [1, K] });
  const never = () => {
    loads.n++;
    throw new Error('a weight was loaded');
  };
  for (let l = 0; l < LAYERS; l++) {
    const q = b.constant(`l${l}.q`, lazyTensor('u8', [N, K], never));
    const s = b.constant(`l${l}.scales`, lazyTensor('f32', [N, K / GROUP], never));
    const z = b.constant(`l${l}.zeros`, lazyTensor('f32', [N, K / GROUP], never));
    const geo = { n: N, k: K, bits: 4, group_size: GROUP, vec_bytes: 16, k_tile: 0 };
    const pack = addNode(b, 'lut.pack', [q, s, z], geo, `l${l}.pack`);
    const tab = addNode(b, 'lut.table', [x], { k: K, group_size: GROUP, tables: 'i8' }, `l${l}.table`);
    const mm = addNode(b, 'lut.matmul', [...tab.outputs, ...pack.outputs], { ...geo, tables: 'i8' }, `l${l}.lut`);
    g.outputs.push(mm.outputs[0]!);
  }
  return g;
}

describe('wasm beyond 4 GiB', () => {
  it('is LUT5058 with the bytes needed and the limit, before any weight is loaded', () => {
    const loads = { n: 0 };
    const res = runPipeline(bigGraph(loads), { target: 'wasm' });
    let err: unknown;
    try {
      compileArtifact(res.graph, { target: 'wasm' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(LutcError);
    const d = (err as LutcError).diagnostics[0]!;
    expect(d.code).toBe('LUT5058');
    const m = /needs (\d+) bytes of linear memory \(weights (\d+)\), more than wasm32's limit of (\d+) bytes/.exec(d.message);
    expect(m, d.message).not.toBeNull();
    const [need, weights, limit] = [Number(m![1]), Number(m![2]), Number(m![3])];
    expect(limit).toBe(2 ** 32);
    // the packed planes alone: N * K * 4 bits per layer
    expect(weights).toBeGreaterThanOrEqual((LAYERS * N * K) / 2);
    expect(need).toBeGreaterThan(weights);
    expect(loads.n).toBe(0);
  });
});
