/**
 * Hoisting and fusion visible in the IR of a Llama-style block (RMSNorm as Pow/ReduceMean/Add/Sqrt/
 * Div/Mul primitives, Q/K/V, gate/up with SiLU as x*sigmoid(x), residual adds): Q/K/V read one table
 * build, fused into the first RMSNorm; gate/up share the second; SiLU and the residuals are epilogues.
 * Output: fusion changes only the RMSNorm's rounding (primitives -> simplified_layer_norm), so the fused
 * program matches the unfused one to F32_EXACT · max|y| with f32 tables (test/helpers/tolerance.ts: a
 * few f32 ulps of the normalized activations, amplified by the block's attention and MLP; measured
 * 2.2e-7; an epsilon read 10x wrong gives ~1e-5, a fusion bug O(1)).
 */
import { describe, expect, it } from 'vitest';
import '../../../ir/ops/index.js';
import { importOnnx } from '../../../compiler/onnx/index.js';
import { PIPELINE } from '../../../compiler/pipeline.js';
import { buildLlamaBlock } from '../../../examples/models.js';
import { interpret } from '../../../ir/interpret.js';
import { printGraph } from '../../../ir/printer.js';
import { passContext } from '../../../passes/registry.js';
import { checkLines } from '../../helpers/filecheck.js';
import { F32_EXACT, maxRel } from '../../helpers/tolerance.js';
import { randTensor, rng } from '../../lut/util.js';
import { runVerified } from '../util.js';

const model = () => importOnnx(buildLlamaBlock({ hidden: 32, heads: 2, ffn: 64, maxSeq: 8 }), { dimBindings: { seq: 4 } });

describe('fuse-ops + table sharing on a Llama block', () => {
  it('Q/K/V share one table build fused into RMSNorm; gate/up share one; SiLU and residuals fused', () => {
    const g = model();
    const ctx = passContext({ bits: 2, groupSize: 32, tables: 'f32' });
    for (const p of PIPELINE) runVerified(g, p, ctx);
    const text = printGraph(g, { elideConstantsOver: 4 });
    checkLines(text, [
      'CHECK: %input_layernorm.mul_out0, %{{[^,]*}}_tables, {{.*}} = lut.norm_table(%x, %input_layernorm.weight) {{.*}}norm = "rms"',
      'CHECK: %q_proj_out0 = lut.matmul(%input_layernorm.mul.rms.table_tables,',
      'CHECK: %k_proj_out0 = lut.matmul(%input_layernorm.mul.rms.table_tables,',
      'CHECK: %v_proj_out0 = lut.matmul(%input_layernorm.mul.rms.table_tables,',
      'CHECK: %residual1_out0 = lut.matmul({{.*}}, _, %x)',
      'CHECK: lut.norm_table(%residual1_out0, %post_attention_layernorm.weight)',
      'CHECK: %Mul_48_out0 = lut.matmul(%post_attention_layernorm.mul.rms.table_tables, {{.*}}activation = "silu"',
      'CHECK: %up_proj_out0 = lut.matmul(%post_attention_layernorm.mul.rms.table_tables,',
      'CHECK: %y = lut.matmul({{.*}}, _, %residual1_out0)',
    ]);
    expect(g.nodes.filter((n) => n.op === 'lut.norm_table')).toHaveLength(2);
    expect(g.nodes.filter((n) => n.op === 'lut.table')).toHaveLength(2); // o_proj and down_proj inputs
    expect(g.nodes.some((n) => ['pow', 'reduce_mean', 'sqrt', 'sigmoid'].includes(n.op))).toBe(false);
  });

  it('keeps the output of the unfused pipeline', () => {
    const x = randTensor(rng(4), [1, 4, 32]);
    const run = (skip: string) => {
      const g = model();
      const ctx = passContext({ bits: 2, groupSize: 32, tables: 'f32' });
      for (const p of PIPELINE) if (p !== skip) runVerified(g, p, ctx);
      return interpret(g, { x })[0]!;
    };
    const fused = run(''),
      unfused = run('fuse-ops');
    expect(maxRel(fused, unfused)).toBeLessThan(F32_EXACT);
  });
});
