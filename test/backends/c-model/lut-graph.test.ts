/**
 * Hand-written graph-form LUT IR (lut-graph.lut: lut.table, lut.norm_table, lut.pack, lut.matmul) on
 * the C target, whose pipeline LUT form is lut.gemm: `lutc compile file.lut --target c` writes a model,
 * and the model (kernels-lut-graph.ts) matches the interpreter on the same lowered graph. The file
 * covers int8 and f32 tables, both table layouts, layer and RMS norm tables, bits 2, 3 and 4, groups
 * of 8, 16, 24 and one per row (K 72 padded to 80), K-tiles set by hand (kept by tile, packed by
 * bitplane-layout for C's 32-byte vectors) and epilogues with bias, residual, channel_scale and
 * relu / gelu / silu / leaky_relu.
 *
 * The kernels compute the interpreter's int8 tables and integer accumulators operation for
 * operation, so the tables (graph outputs here) must be equal and every float result within
 * LUT_VS_INTERP · max|ref| (test/helpers/tolerance.ts; measured 0: bit-identical).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runPipeline } from '../../../compiler/pipeline.js';
import { parseGraph } from '../../../ir/parser.js';
import { isFloat, makeTensor } from '../../../ir/tensor.js';
import type { Graph, Tensor } from '../../../ir/types.js';
import { verifyGraph } from '../../../ir/verify.js';
import { lutc, tmpDir } from '../../cli/helpers.js';
import { seeded } from '../../helpers/models.js';
import { LUT_VS_INTERP, maxRel } from '../../helpers/tolerance.js';
import { runC, runRef } from './helpers.js';

const FILE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'lut-graph.lut');

function load(): Graph {
  const g = parseGraph(fs.readFileSync(FILE, 'utf8'), FILE);
  verifyGraph(g, { file: FILE });
  return g;
}

function inputs(g: Graph, seed: number): Record<string, Tensor> {
  const next = seeded(seed);
  const feeds: Record<string, Tensor> = {};
  for (const v of g.inputs) {
    const shape = v.type.shape as number[];
    feeds[v.name] = makeTensor(
      'f32',
      shape,
      Array.from({ length: shape.reduce((p, d) => p * d, 1) }, () => next() * 4 - 2),
    );
  }
  return feeds;
}

describe('c model: hand-written graph-form LUT IR', () => {
  it('lutc compile file.lut --target c writes the model', async () => {
    const out = path.join(tmpDir(), 'lut-graph');
    const r = await lutc('compile', FILE, '--target', 'c', '-o', out);
    expect(r.stderr).not.toMatch(/LUT\d{4}/); // no diagnostic (LUT5003 before the graph-form kernels)
    expect(r.code).toBe(0);
    const src = fs.readFileSync(path.join(out, 'model.c'), 'utf8');
    for (const op of ['lut.table', 'lut.norm_table', 'lut.matmul']) expect(src).toContain(`(${op})`);
  });

  it('tables, norms and every layer match the interpreter (K-tiles, vec_bytes 32, both layouts)', async () => {
    const g = load();
    runPipeline(g, { target: 'c' });
    const mm = Object.fromEntries(g.nodes.filter((n) => n.op === 'lut.matmul').map((n) => [n.name, n.attrs]));
    expect(Object.keys(mm).sort()).toEqual(['matmul_a', 'matmul_b', 'matmul_c', 'matmul_d']);
    expect(Object.values(mm).map((a) => a.vec_bytes)).toEqual([32, 32, 32, 32]);
    expect([mm.matmul_a!.k_tile, mm.matmul_b!.k_tile, mm.matmul_c!.k_tile]).toEqual([2, 3, 4]);
    expect([mm.matmul_a!.table_layout, mm.matmul_c!.table_layout]).toEqual(['token', 'vec']);
    expect(g.nodes.filter((n) => n.op === 'lut.pack' || n.op === 'lut.gemm')).toEqual([]);
    for (const seed of [1, 2]) {
      const x = inputs(g, seed);
      const want = runRef(g, x);
      const got = await runC(g, x);
      expect(got.length).toBe(want.length);
      want.forEach((w, i) => {
        const name = g.outputs[i]!.name;
        const y = got[i]!;
        expect([y.dtype, y.shape], name).toEqual([w.dtype, w.shape]);
        expect(Math.max(...Array.from(w.data as ArrayLike<number>, Math.abs)), `${name} is not all zero`).toBeGreaterThan(0);
        if (isFloat(w.dtype)) expect(maxRel(y, w), name).toBeLessThanOrEqual(LUT_VS_INTERP);
        else expect(Array.from(y.data as ArrayLike<number>), name).toEqual(Array.from(w.data as ArrayLike<number>));
      });
    }
  });
});
