/**
 * The shared renderer interface and dispatcher (backends/render.ts): every step is tried, an op
 * without a family is one LUT5003 per step with the same message on every target, the LutcError
 * diagnostics of all failing steps are reported (not just the first), other exceptions propagate,
 * and each backend's families are disjoint with SUPPORTED_OPS exactly their union.
 */
import { describe, expect, it } from 'vitest';
import '../../ir/ops/index.js';
import { SUPPORTED_OPS as C_OPS, cRenderer, emitModel } from '../../backends/c/model/emit.js';
import { LutLayers } from '../../backends/c/model/kernels-lut.js';
import type { PlanStep } from '../../backends/model-plan.js';
import {
  familyOf,
  type Renderer,
  type RenderFamily,
  rendererOps,
  renderSteps,
  tableFamily,
  unsupportedOpMessage,
} from '../../backends/render.js';
import { buildModelModule, SUPPORTED_OPS as WASM_OPS, WASM_RENDERER } from '../../backends/wasm/model/module.js';
import { renderModel, SUPPORTED_OPS as WGSL_OPS, RENDERERS as WGSL_RENDERER } from '../../backends/wgsl/model-shaders.js';
import { fail, LutcError } from '../../base/diagnostics.js';
import { parseGraph } from '../../ir/parser.js';
import type { Graph, Node } from '../../ir/types.js';

const step = (op: string, name: string): PlanStep => ({
  node: { op, name, attrs: {}, inputs: [], outputs: [] } as unknown as Node,
  inputs: [],
  outputs: [],
});

/** A toy renderer: 'neg' and 'abs' render their node's name; 'bad' fails with LUT5151. */
const toy: Renderer<string, string> = [
  tableFamily('unary', { neg: (ctx: string) => `${ctx}:neg`, abs: (ctx: string) => `${ctx}:abs` }),
  { name: 'broken', ops: new Set(['bad']), render: (_ctx, s) => fail('LUT5151', `cannot render ${s.node.name}`) },
];
const toyRender = (
  steps: readonly PlanStep[],
  r: Renderer<string, string>,
  f: (fam: RenderFamily<string, string>, s: PlanStep, i: number) => string | undefined,
  file?: string,
) => renderSteps('toy', steps, r, f, file);

describe('renderSteps', () => {
  it('renders each step with its family, in order', () => {
    const steps = [step('neg', 'a'), step('abs', 'b')];
    const r = toyRender(steps, toy, (fam, s, i) => fam.render(`${s.node.name}${i}`, s));
    expect(r.diagnostics).toEqual([]);
    expect(r.results).toEqual(['a0:neg', 'b1:abs']);
  });

  it('an op without a family is LUT5003 for every such step, with one message format', () => {
    const steps = [step('cos', 'first'), step('neg', 'ok'), step('cos', 'second'), step('sin', 'third')];
    const r = toyRender(steps, toy, (fam, s) => fam.render('x', s), 'm.onnx');
    expect(r.results).toEqual([undefined, 'x:neg', undefined, undefined]);
    expect(r.diagnostics.map((d) => [d.code, d.severity, d.message, d.loc])).toEqual([
      ['LUT5003', 'error', "toy target: op 'cos' is not supported", { kind: 'node', file: 'm.onnx', node: 'first', opType: 'cos' }],
      ['LUT5003', 'error', "toy target: op 'cos' is not supported", { kind: 'node', file: 'm.onnx', node: 'second', opType: 'cos' }],
      ['LUT5003', 'error', "toy target: op 'sin' is not supported", { kind: 'node', file: 'm.onnx', node: 'third', opType: 'sin' }],
    ]);
    expect(unsupportedOpMessage('c', 'cos')).toBe("c target: op 'cos' is not supported");
  });

  it('collects the LutcError diagnostics of every failing step, interleaved with LUT5003 in step order', () => {
    const steps = [step('bad', 'b1'), step('neg', 'n'), step('tan', 't'), step('bad', 'b2')];
    const r = toyRender(steps, toy, (fam, s) => fam.render('x', s));
    expect(r.results).toEqual([undefined, 'x:neg', undefined, undefined]);
    expect(r.diagnostics.map((d) => `${d.code} ${d.message}`)).toEqual([
      'LUT5151 cannot render b1',
      "LUT5003 toy target: op 'tan' is not supported",
      'LUT5151 cannot render b2',
    ]);
    // an error thrown by the callback around the family (per-step context, wrapping) is collected too
    const several = toyRender(steps.slice(0, 2), toy, (_fam, s) => {
      throw new LutcError([
        { code: 'LUT5152', severity: 'error', message: `${s.node.name} one` },
        { code: 'LUT5152', severity: 'error', message: `${s.node.name} two` },
      ]);
    });
    expect(several.diagnostics.map((d) => d.message)).toEqual(['b1 one', 'b1 two', 'n one', 'n two']);
  });

  it('a callback returning undefined skips the step without a diagnostic; other exceptions propagate', () => {
    const r = toyRender([step('neg', 'a'), step('abs', 'b')], toy, (fam, s) => (s.node.op === 'neg' ? undefined : fam.render('x', s)));
    expect(r).toEqual({ results: [undefined, 'x:abs'], diagnostics: [] });
    expect(() =>
      toyRender([step('neg', 'a')], toy, () => {
        throw new TypeError('boom');
      }),
    ).toThrow(TypeError);
  });
});

describe('renderer tables', () => {
  it('rendererOps is the sorted union; familyOf finds the owner; overlapping families are rejected', () => {
    expect(rendererOps(toy)).toEqual(['abs', 'bad', 'neg']);
    expect(familyOf(toy, 'bad')?.name).toBe('broken');
    expect(familyOf(toy, 'cos')).toBeUndefined();
    const clash: Renderer<string, string> = [...toy, tableFamily('again', { neg: () => 'n' })];
    expect(() => rendererOps(clash)).toThrow(/'neg' is in two render families \('unary', 'again'\)/);
  });

  const backends: [string, Renderer<never, unknown>, readonly string[]][] = [
    ['wasm', WASM_RENDERER as Renderer<never, unknown>, WASM_OPS],
    ['wgsl', WGSL_RENDERER as Renderer<never, unknown>, WGSL_OPS],
    ['c', cRenderer(new LutLayers('t')) as Renderer<never, unknown>, C_OPS],
  ];
  for (const [name, renderer, supported] of backends)
    it(`${name}: families are named, non-empty and disjoint; SUPPORTED_OPS is their union`, () => {
      expect(new Set(renderer.map((f) => f.name)).size).toBe(renderer.length);
      for (const f of renderer) expect(f.ops.size, f.name).toBeGreaterThan(0);
      const total = renderer.reduce((n, f) => n + f.ops.size, 0);
      expect(supported.length).toBe(total);
      expect(new Set(supported).size).toBe(total);
      expect(rendererOps(renderer)).toEqual(supported);
    });
});

describe('every backend reports unsupported ops through the dispatcher', () => {
  // located at the parsed node: line 2 (@first) and line 4 (@second)
  const g = (): Graph =>
    parseGraph(
      [
        'graph @two(%x: f32[2, 3]) {',
        '  %a = size(%x) : i64[] @first',
        '  %y = neg(%x) : f32[2, 3] @fine',
        '  %b = size(%y) : i64[] @second',
        '  return %a, %b, %y',
        '}',
      ].join('\n'),
    );
  const diagsOf = (f: () => unknown): string[] => {
    try {
      f();
    } catch (e) {
      if (e instanceof LutcError) return e.diagnostics.map((d) => `${d.code} ${d.message} @${d.loc?.kind === 'text' ? d.loc.line : '?'}`);
      throw e;
    }
    return [];
  };
  const cases: [string, (g: Graph) => unknown][] = [
    ['wasm', (x) => buildModelModule(x, { optimize: false })],
    ['wgsl', (x) => renderModel(x)],
    ['c', (x) => emitModel(x, { target: 'c' })],
  ];
  for (const [target, build] of cases)
    it(`${target}: one LUT5003 per unsupported node, same message format`, () => {
      expect(diagsOf(() => build(g()))).toEqual([
        `LUT5003 ${target} target: op 'size' is not supported @2`,
        `LUT5003 ${target} target: op 'size' is not supported @4`,
      ]);
    });
});
