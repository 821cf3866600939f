/**
 * LUT-lowered models (--bits 1-4, int8 and f32 tables) through the C backend, whose LUT layers call
 * the tuned kernels of backends/c/render.ts (docs/c-model.md).
 *
 * Exactness, restated: the kernel's tables and integer accumulators are the interpreter's, bit for bit,
 * and its float epilogue follows reference.ts combine()'s order; only the segment sums of x (xsum, a
 * float-epilogue input) are added chunk by chunk. So a one-layer model's y is bit-identical to
 * combine() of the interpreter's accumulators on that xsum (lutKernelOracle), and every model's y,
 * the Llama block's float attention included, is within LUT_VS_INTERP · max|y| of the interpreter
 * (test/helpers/tolerance.ts; measured 0 .. 2.4e-7). Builds forced to each ISA path (-DLUTC_ISA=0
 * scalar, 1 AVX2, 2 AVX-512) give identical outputs.
 *
 * Against onnxruntime on the quantizeOnnx-quantized model (MatMulNBits with the same weights):
 * int8 tables carry the error of 8-bit activation quantization (half a step of absmax/127 per table
 * entry, partly cancelling over K), bounded by INT8_MODEL_REL_L2 (measured 5.0e-3 / 7.0e-3 for these
 * two-layer MLPs); f32 tables are exact up to summation order, so F32_EXACT · max|ref| (2.5e-7).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { canonicalWeights } from '../../../backends/c/model/lut-weights.js';
import { quantizeOnnx } from '../../../compiler/quantize-onnx.js';
import { lutGeometry } from '../../../ir/lut/geometry.js';
import { interpPack } from '../../../ir/lut/interp.js';
import { makeTensor } from '../../../ir/tensor.js';
import { buildMlp, randomInput, seeded } from '../../helpers/models.js';
import { runOrt } from '../../helpers/ort.js';
import { F32_EXACT, INT8_MODEL_REL_L2, LUT_VS_INTERP } from '../../helpers/tolerance.js';
import { lowered, lutKernelOracle, relL2, relMax, runC, runRef, sameBits, TEST_FLAGS } from './helpers.js';

/** ISA paths this machine can run, as -DLUTC_ISA values (csrc-prelude.ts). */
function isas(): number[] {
  let flags = '';
  try {
    flags = readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    /* not Linux: scalar only */
  }
  return [0, ...(/\bavx2\b/.test(flags) ? [1] : []), ...(/\bavx512vbmi\b/.test(flags) && /\bavx512bw\b/.test(flags) ? [2] : [])];
}

describe('c model: LUT layers', () => {
  const cases = [
    { bits: 4, tables: 'i8', batch: 3 },
    { bits: 2, tables: 'i8', batch: 9 },
    { bits: 1, tables: 'i8', batch: 2 },
    { bits: 4, tables: 'f32', batch: 9 },
    { bits: 2, tables: 'f32', batch: 3 },
    { bits: 3, tables: 'i8', batch: 1 },
  ] as const;
  it.each(cases)(
    "bits $bits, tables $tables, batch $batch: the kernel computes the interpreter's integers",
    async ({ bits, tables, batch }) => {
      // One layer: y is exactly combine() of the interpreter's accumulators (on the kernel's xsum).
      const one = lowered(buildMlp({ dims: [45, 19], batch, seed: 8 }), { bits, tables, groupSize: 16 });
      // the C LUT form: one lut.gemm reading x, no table build or pack in the graph
      expect(one.nodes.filter((n) => n.op.startsWith('lut.')).map((n) => n.op)).toEqual(['lut.gemm']);
      const x1 = randomInput([batch, 45], 10);
      expect(sameBits((await runC(one, { x: x1 }))[0]!, lutKernelOracle(one, x1))).toBe(true);
      // Two layers (relu fused): within LUT_VS_INTERP of the interpreter.
      const g = lowered(buildMlp({ dims: [45, 37, 19], batch, seed: 8 }), { bits, tables, groupSize: 16 });
      expect(g.nodes.filter((n) => n.op === 'lut.gemm').length).toBe(2);
      const ins = { x: randomInput([batch, 45], 11) };
      expect(relMax((await runC(g, ins))[0]!, runRef(g, ins)[0]!)).toBeLessThanOrEqual(LUT_VS_INTERP);
    },
  );

  it("a large-K layer (K-tiled by the kernel's own plan, Vec-LUT) computes the interpreter's integers", async () => {
    const g = lowered(buildMlp({ dims: [1000, 24], batch: 16, seed: 9 }), { bits: 4 });
    const x = randomInput([16, 1000], 12);
    expect(sameBits((await runC(g, { x }))[0]!, lutKernelOracle(g, x))).toBe(true);
  });

  it('each ISA path (-DLUTC_ISA) gives the same outputs', async () => {
    const paths = isas();
    const g = lowered(readFileSync('examples/llama-block.onnx'), { bits: 2 }, { seq: 3, batch: 1 });
    const mlp = lowered(buildMlp({ dims: [45, 37, 19], batch: 3, seed: 8 }), { bits: 3, groupSize: 16 });
    expect([g, mlp].map((x) => x.nodes.filter((n) => n.op === 'lut.gemm').length)).toEqual([7, 2]);
    for (const [graph, ins] of [
      [g, { [g.inputs[0]!.name]: randomInput(g.inputs[0]!.type.shape as number[], 15) }],
      [mlp, { x: randomInput([3, 45], 16) }],
    ] as const) {
      const outs = await Promise.all(paths.map((isa) => runC(graph, ins, { cflags: [...TEST_FLAGS, `-DLUTC_ISA=${isa}`] })));
      for (let i = 1; i < outs.length; i++) expect(sameBits(outs[i]![0]!, outs[0]![0]!), `LUTC_ISA=${paths[i]} vs scalar`).toBe(true);
    }
  });

  it('canonical weights are the lut.gemm operands: q bits LSB first, scales and zeros as they are', () => {
    const next = seeded(5);
    const fr = Math.fround;
    for (const bits of [1, 2, 3, 4] as const) {
      const [n, k, groupSize] = [5, 19, 8];
      const g = lutGeometry({ n, k, bits, groupSize, vecBytes: 32 });
      const q = Uint8Array.from({ length: n * k }, () => Math.floor(next() * (1 << bits)));
      const scales = Float32Array.from({ length: n * g.nGroups }, () => (next() - 0.5) * 2 ** Math.floor(next() * 20 - 14));
      const zeros = Float32Array.from({ length: n * g.nGroups }, (_, i) =>
        i % 3 ? Math.floor(next() * (1 << bits)) : next() * ((1 << bits) - 1),
      );
      const c = canonicalWeights(g, q, scales, zeros);
      expect(c.q.length).toBe(Math.ceil((n * k * bits) / 8) + 1);
      for (let i = 0; i < n * k; i++) {
        let v = 0;
        for (let p = 0; p < bits; p++) v |= ((c.q[(i * bits + p) >> 3]! >> ((i * bits + p) & 7)) & 1) << p;
        expect(v).toBe(q[i]);
      }
      // the C packer's sw = s, swz = fround(s * fround(mid - z)) on them is the interpreter's lut.pack
      const [, sw, swz] = interpPack(
        [makeTensor('u8', [n, k], q), makeTensor('f32', [n, g.nGroups], scales), makeTensor('f32', [n, g.nGroups], zeros)],
        { n, k, bits, group_size: groupSize, vec_bytes: 32, k_tile: 0 },
      );
      const mid = ((1 << bits) - 1) / 2;
      for (let r = 0; r < n; r++)
        for (let gi = 0; gi < g.nGroups; gi++) {
          const s = c.scales[r * g.nGroups + gi]!,
            z = c.zeros[r * g.nGroups + gi]!;
          expect(Object.is(s, sw!.data[gi * g.nPad + r])).toBe(true);
          expect(Object.is(fr(s * fr(mid - z)), swz!.data[gi * g.nPad + r])).toBe(true);
        }
    }
  });

  it.each([
    { bits: 4, tables: 'i8' },
    { bits: 2, tables: 'i8' },
    { bits: 4, tables: 'f32' },
    { bits: 2, tables: 'f32' },
  ] as const)('bits $bits, tables $tables: quantizeOnnx model vs onnxruntime', async ({ bits, tables }) => {
    const float = buildMlp({ dims: [64, 48, 24], batch: 4, seed: 3 });
    const q = quantizeOnnx(float, { bits, groupSize: 32 });
    const g = lowered(q, { tables });
    expect(g.nodes.filter((n) => n.op === 'lut.gemm').length).toBe(2);
    const ins = { x: randomInput([4, 64], 13) };
    const got = (await runC(g, ins))[0]!;
    const ort = (await runOrt(q, ins))[0]!;
    if (tables === 'f32') expect(relMax(got, ort)).toBeLessThanOrEqual(F32_EXACT);
    else expect(relL2(got, ort)).toBeLessThanOrEqual(INT8_MODEL_REL_L2);
  });

  it('Llama-style block, --bits 4, seq bound: interpreter within LUT_VS_INTERP', async () => {
    const g = lowered(readFileSync('examples/llama-block.onnx'), { bits: 4 }, { seq: 7, batch: 1 });
    // the kernel builds the tables: the norms stay graph norms (no lut.norm_table in the C form)
    expect(g.nodes.some((n) => n.op === 'simplified_layer_norm')).toBe(true);
    expect(g.nodes.some((n) => n.op.startsWith('lut.') && n.op !== 'lut.gemm')).toBe(false);
    expect(g.nodes.filter((n) => n.op === 'lut.gemm').length).toBe(7);
    const ins = { [g.inputs[0]!.name]: randomInput(g.inputs[0]!.type.shape as number[], 14) };
    const got = await runC(g, ins);
    const ref = runRef(g, ins);
    got.forEach((t, i) => expect(relMax(t, ref[i]!)).toBeLessThanOrEqual(LUT_VS_INTERP));
    // Threads change nothing: rows are independent and each row's order is fixed.
    const threaded = await runC(g, ins, { threads: 2 });
    expect(sameBits(threaded[0]!, got[0]!)).toBe(true);
  });
});
