/**
 * lut.matmul's fused epilogue as graph-op stages (ir/lut/epilogue.ts): the stage list, that every
 * fusable activation has a rendering in each backend's elementwise renderer (the renderer the
 * epilogue uses), and that fuse-ops fuses each of them and C, WASM and WGSL (SwiftShader) run the
 * fused layers within LUT_VS_INTERP of the interpreter on the same lowered graph (int8 tables: the
 * integer accumulators are bit-exact, the float epilogue differs by f32 rounding of each stage).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import '../../ir/ops/index.js';
import { ELEMENTWISE_KERNELS } from '../../backends/c/model/kernels-elementwise.js';
import { runArtifact as runC } from '../../backends/c/run.js';
import { ELEMENTWISE_OPS as WASM_OPS } from '../../backends/wasm/model/elementwise.js';
import { runArtifact as runWasm } from '../../backends/wasm/run.js';
import { type NodeGpu, openNodeGpu } from '../../backends/wgsl/device.js';
import { ELEMENTWISE_OPS as WGSL_OPS } from '../../backends/wgsl/ops-elementwise.js';
import { runPipeline } from '../../compiler/pipeline.js';
import { interpret } from '../../ir/interpret.js';
import { EPILOGUE_ACTIVATIONS, epilogueStages } from '../../ir/lut/epilogue.js';
import { parseGraph } from '../../ir/parser.js';
import type { Graph, Tensor } from '../../ir/types.js';
import { TEST_FLAGS } from '../backends/c-model/helpers.js';
import { runWgsl } from '../backends/wgsl/helpers.js';
import { randomInput, seeded } from '../helpers/models.js';
import { LUT_VS_INTERP, maxRel } from '../helpers/tolerance.js';

/** One layer per activation: [label, text of the activation applied to %b<i> giving %y<i>]. */
const ACTS: [string, (i: number) => string][] = [
  ...['relu', 'sigmoid', 'tanh', 'gelu', 'softplus', 'erf', 'exp', 'neg', 'abs', 'leaky_relu'].map(
    (op): [string, (i: number) => string] => [op, (i) => `  %y${i} = ${op}(%b${i}) : f32[3, 8] @act${i}`],
  ),
  ['gelu tanh', (i) => `  %y${i} = gelu(%b${i}) {approximate = "tanh"} : f32[3, 8] @act${i}`],
  ['leaky_relu 0.2', (i) => `  %y${i} = leaky_relu(%b${i}) {alpha = 0.2} : f32[3, 8] @act${i}`],
  ['silu', (i) => `  %s${i} = sigmoid(%b${i}) : f32[3, 8] @sig${i}\n  %y${i} = mul(%b${i}, %s${i}) : f32[3, 8] @act${i}`],
  // channel scale, silu and residual together
  [
    'scale silu residual',
    (i) =>
      `  %c${i} = mul(%b${i}, %scale) : f32[3, 8] @scale${i}\n  %s${i} = sigmoid(%c${i}) : f32[3, 8] @sig${i}\n  %z${i} = mul(%c${i}, %s${i}) : f32[3, 8] @silu${i}\n  %y${i} = add(%z${i}, %r) : f32[3, 8] @res${i}`,
  ],
];

function graphText(): string {
  const next = seeded(3);
  const vals = (n: number, s: number) => Array.from({ length: n }, () => ((next() * 2 - 1) * s).toFixed(4)).join(', ');
  const lines = ['graph @epilogues(%x: f32[3, 16], %r: f32[3, 8]) {', `  %scale = const f32[8] [${vals(8, 2)}]`];
  ACTS.forEach(([, act], i) => {
    lines.push(`  %w${i} = const f32[16, 8] [${vals(128, 0.5)}]`, `  %bias${i} = const f32[8] [${vals(8, 0.3)}]`);
    lines.push(`  %m${i} = matmul(%x, %w${i}) : f32[3, 8] @mm${i}`, `  %b${i} = add(%m${i}, %bias${i}) : f32[3, 8] @bias${i}`, act(i));
  });
  lines.push(`  return ${ACTS.map((_, i) => `%y${i}`).join(', ')}`, '}');
  return lines.join('\n');
}

function lowered(target: 'c' | 'wasm' | 'wgsl'): Graph {
  const g = parseGraph(graphText(), 'epilogue.lut');
  runPipeline(g, { target, bits: 2, groupSize: 16 });
  return g;
}

const inputs = (): Record<string, Tensor> => ({ x: randomInput([3, 16], 5), r: randomInput([3, 8], 6) });

function expectClose(got: Tensor[], g: Graph, what: string): void {
  const want = interpret(g, inputs());
  ACTS.forEach(([label], i) => {
    expect(maxRel(got[i]!, want[i]!), `${what}: ${label}`).toBeLessThanOrEqual(LUT_VS_INTERP);
  });
}

let gpu: NodeGpu | undefined;
beforeAll(async () => {
  gpu = await openNodeGpu();
});
afterAll(() => gpu?.release());

describe('lut.matmul epilogue as graph-op stages', () => {
  it('stages: channel scale, the activation op(s) with their attributes, residual', () => {
    const all = epilogueStages({ activation: 'silu' }, () => true);
    expect(all).toEqual([
      { op: 'mul', attrs: {}, args: [{ value: 0 }, { operand: 8 }] },
      { op: 'sigmoid', attrs: {}, args: [{ value: 1 }] },
      { op: 'mul', attrs: {}, args: [{ value: 1 }, { value: 2 }] },
      { op: 'add', attrs: {}, args: [{ value: 3 }, { operand: 7 }] },
    ]);
    expect(epilogueStages({ activation: 'gelu', gelu_approximate: 'tanh' }, () => false)).toEqual([
      { op: 'gelu', attrs: { approximate: 'tanh' }, args: [{ value: 0 }] },
    ]);
    expect(epilogueStages({ activation: 'leaky_relu' }, () => false)[0]!.attrs).toEqual({ alpha: 0.01 });
    expect(epilogueStages({}, () => false)).toEqual([]);
  });

  it('every fusable activation is rendered by the C, WASM and WGSL elementwise renderers', () => {
    for (const op of EPILOGUE_ACTIVATIONS.filter((a) => a !== 'silu').concat(['sigmoid', 'mul', 'add'])) {
      expect(op in ELEMENTWISE_KERNELS, `c: ${op}`).toBe(true);
      expect(WASM_OPS.has(op), `wasm: ${op}`).toBe(true);
      expect(WGSL_OPS.has(op), `wgsl: ${op}`).toBe(true);
    }
  });

  it('fuse-ops fuses each activation (and its attributes) into its lut.matmul (C: lut.gemm)', () => {
    const g = lowered('c');
    const mms = g.nodes.filter((n) => n.op === 'lut.gemm');
    expect(mms.length).toBe(ACTS.length);
    expect(g.nodes.filter((n) => !n.op.startsWith('lut.') && n.op !== 'const').map((n) => n.op)).toEqual([]);
    const acts = mms.map((n) => [n.attrs.activation, n.attrs.gelu_approximate ?? n.attrs.leaky_relu_alpha]);
    expect(acts).toContainEqual(['gelu', 'tanh']);
    expect(acts).toContainEqual(['leaky_relu', Math.fround(0.2)]);
    expect(acts.filter(([a]) => a === 'silu').length).toBe(2);
  });

  it('C, WASM and WGSL run every fused epilogue within LUT_VS_INTERP of the interpreter', async () => {
    const c = lowered('c');
    expectClose(await runC(c, inputs(), { target: 'c', cflags: TEST_FLAGS } as Parameters<typeof runC>[2]), c, 'c');
    const w = lowered('wasm');
    expectClose(await runWasm(w, inputs(), { target: 'wasm' }), w, 'wasm');
    const s = lowered('wgsl');
    expectClose(await runWgsl(gpu!.device, s, inputs()), s, 'wgsl');
  }, 120_000);
});
