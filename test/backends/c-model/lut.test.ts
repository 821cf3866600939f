/**
 * LUT-lowered models (--bits 2/4, int8 and f32 tables) through the C backend.
 *
 * Against the interpreter on the same lowered graph: the table build, the integer lookup-accumulate
 * and the float epilogue follow ir/lut/reference.ts operation for operation under -ffp-contract=off,
 * so tables (exposed as extra graph outputs) and a pure-LUT model's outputs are bit-identical
 * (tolerance 0). Models that mix LUT layers with float attention use the float tolerance of
 * float.test.ts (1e-4 max|ref|) for what the float kernels add.
 *
 * Against onnxruntime on the quantizeOnnx-quantized model (MatMulNBits with the same weights):
 * int8 tables carry the error of 8-bit activation quantization (half a step of absmax/127 per table
 * entry, ~0.4% per entry, partly cancelling over K), bounded here by rel-L2 2e-2; f32 tables are exact
 * up to summation order, so 1e-4 max|ref|.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { quantizeOnnx } from '../../../compiler/quantize.js';
import { buildMlp, randomInput } from '../../helpers/models.js';
import { runOrt } from '../../helpers/ort.js';
import { lowered, relL2, relMax, runC, runRef, sameBits } from './helpers.js';

describe('c model: LUT layers', () => {
  const cases = [
    { bits: 4, tables: 'i8', batch: 3 }, { bits: 2, tables: 'i8', batch: 9 },
    { bits: 4, tables: 'f32', batch: 9 }, { bits: 2, tables: 'f32', batch: 3 }, { bits: 3, tables: 'i8', batch: 1 },
  ] as const;
  it.each(cases)('bits $bits, tables $tables, batch $batch: bit-exact with the interpreter', async ({ bits, tables, batch }) => {
    const bytes = buildMlp({ dims: [45, 37, 19], batch, seed: 8 });
    const g = lowered(bytes, { bits, tables, groupSize: 16 });
    const luts = g.nodes.filter((n) => n.op === 'lut.matmul');
    expect(luts.length).toBe(2);
    expect(luts[0]!.attrs.table_layout).toBe(batch >= 8 ? 'vec' : 'token');
    // Expose every table build's results so the integer inputs of the lookups are compared too.
    for (const n of g.nodes) if (n.op === 'lut.table') g.outputs.push(...n.outputs);
    const ins = { x: randomInput([batch, 45], 11) };
    const got = await runC(g, ins);
    const ref = runRef(g, ins);
    got.forEach((t, i) => expect(sameBits(t, ref[i]!), `${g.outputs[i]!.name} (${t.dtype})`).toBe(true));
  });

  it('a K-tiled packed layout (large K, Vec-LUT) stays bit-exact', async () => {
    const bytes = buildMlp({ dims: [1000, 24], batch: 16, seed: 9 });
    const g = lowered(bytes, { bits: 4 });
    const mm = g.nodes.find((n) => n.op === 'lut.matmul')!;
    expect(mm.attrs.k_tile).toBeGreaterThan(0); // 125 chunk pairs in tiles of k_tile: a shorter last tile
    const ins = { x: randomInput([16, 1000], 12) };
    const got = await runC(g, ins);
    expect(sameBits(got[0]!, runRef(g, ins)[0]!), `k_tile ${String(mm.attrs.k_tile)}`).toBe(true);
  });

  it.each([
    { bits: 4, tables: 'i8' }, { bits: 2, tables: 'i8' }, { bits: 4, tables: 'f32' }, { bits: 2, tables: 'f32' },
  ] as const)('bits $bits, tables $tables: quantizeOnnx model vs onnxruntime', async ({ bits, tables }) => {
    const float = buildMlp({ dims: [64, 48, 24], batch: 4, seed: 3 });
    const q = quantizeOnnx(float, { bits, groupSize: 32 });
    const g = lowered(q, { tables });
    expect(g.nodes.filter((n) => n.op === 'lut.matmul').length).toBe(2);
    const ins = { x: randomInput([4, 64], 13) };
    const got = (await runC(g, ins))[0]!;
    const ort = (await runOrt(q, ins))[0]!;
    if (tables === 'f32') expect(relMax(got, ort)).toBeLessThanOrEqual(1e-4);
    else expect(relL2(got, ort)).toBeLessThanOrEqual(2e-2);
  });

  it('Llama-style block, --bits 4, seq bound: interpreter within the float tolerance', async () => {
    const g = lowered(readFileSync('examples/llama-block.onnx'), { bits: 4 }, { seq: 7, batch: 1 });
    expect(g.nodes.some((n) => n.op === 'lut.norm_table')).toBe(true);
    const ins = { [g.inputs[0]!.name]: randomInput(g.inputs[0]!.type.shape as number[], 14) };
    const got = await runC(g, ins);
    const ref = runRef(g, ins);
    got.forEach((t, i) => expect(relMax(t, ref[i]!)).toBeLessThanOrEqual(1e-4));
    // Threads change nothing: rows are independent and each row's order is fixed.
    const threaded = await runC(g, ins, { threads: 2 });
    expect(sameBits(threaded[0]!, got[0]!)).toBe(true);
  });
});
