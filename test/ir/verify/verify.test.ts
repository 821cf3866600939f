/**
 * Verifier diagnostics: every code with its location (file:line:col for parsed graphs, node name + op
 * for built ones), all problems reported together, nested-graph scoping, the shape-rule comparison
 * (symbols, fresh dims) and the op's own verify.
 */
import { describe, expect, it } from 'vitest';
import '../text/test-ops.js';
import { type Diagnostic, formatDiagnostic, LutcError } from '../../../base/diagnostics.js';
import { GraphBuilder, newGraph } from '../../../ir/graph.js';
import { defineOp, findOp } from '../../../ir/optable.js';
import { parseGraph } from '../../../ir/parser.js';
import type { Graph, Value } from '../../../ir/types.js';
import { verifyGraph } from '../../../ir/verify.js';

if (!findOp('test.crash')) {
  defineOp({
    name: 'test.crash',
    summary: '',
    inputs: [{ name: 'x' }],
    outputs: [{ name: 'y' }],
    attrs: {},
    infer: () => {
      throw new TypeError('boom');
    },
    interp: () => [],
  });
}

const SRC = [
  'graph @m(%a: f32[2], %b: f32[2], %i: i64[2], %c: bool[]) {', // 1
  '  %k = const f32[2] [1.0, 2.0]', //                              2
  '  %x = test.unary(%a) : f32[2] @x', //                           3
  '  %y = test.add(%x, %b) : f32[2] @y', //                         4
  '  %z = test.unary(%y) {mode = "b"} : f32[2] @z', //              5
  '  return %z', //                                                 6
  '}',
].join('\n');

function diags(g: Graph): Diagnostic[] {
  try {
    verifyGraph(g);
  } catch (e) {
    expect(e).toBeInstanceOf(LutcError);
    return (e as LutcError).diagnostics;
  }
  return [];
}

function expectDiag(g: Graph, code: string, line: number, col: number): void {
  const ds = diags(g);
  const hit = ds.find((d) => d.code === code);
  expect(hit, `got: ${ds.map(formatDiagnostic).join(' | ') || 'nothing'}`).toBeDefined();
  expect(hit!.loc).toEqual({ kind: 'text', file: 'v.lut', line, col });
}

const parse = (text = SRC) => parseGraph(text, 'v.lut');
const ghost = (name: string): Value => ({ name, type: { dtype: 'f32', shape: [2] }, producer: null });

describe('verifier diagnostics on parsed graphs', () => {
  it('a valid graph verifies clean', () => {
    expect(diags(parse())).toEqual([]);
  });

  const mutations: [string, string, (g: Graph) => void, number, number][] = [
    ['LUT2101', 'unknown op', (g) => (g.nodes[1]!.op = 'test.gone'), 4, 3],
    ['LUT2102', 'operand count', (g) => g.nodes[1]!.inputs.pop(), 4, 3],
    ['LUT2103', 'required operand omitted', (g) => (g.nodes[1]!.inputs[1] = null), 4, 3],
    [
      'LUT2104',
      'result count',
      (g) => g.nodes[0]!.outputs.push({ name: 'extra', type: { dtype: 'f32', shape: [2] }, producer: g.nodes[0]! }),
      3,
      3,
    ],
    ['LUT2106', 'undeclared attribute', (g) => (g.nodes[0]!.attrs.zz = 1), 3, 3],
    ['LUT2107', 'attribute kind', (g) => (g.nodes[0]!.attrs.i = 1.5), 3, 3],
    ['LUT2107', 'tensor attribute holding a number', (g) => (g.nodes[0]!.attrs.t = 3), 3, 3],
    ['LUT2109', 'value defined twice', (g) => g.inputs.push(g.inputs[0]!), 1, 10],
    ['LUT2110', 'operand not defined anywhere', (g) => (g.nodes[1]!.inputs[0] = ghost('ghost')), 4, 3],
    ['LUT2111', 'wrong producer link', (g) => (g.nodes[1]!.outputs[0]!.producer = g.nodes[0]!), 4, 3],
    ['LUT2112', 'graph output not defined', (g) => g.outputs.push(ghost('nowhere')), 6, 3],
    ['LUT2115', 'constant without its value', (g) => delete g.constants[0]!.const, 2, 3],
    ['LUT2115', 'constant holding the wrong shape', (g) => (g.constants[0]!.const!.shape = [3]), 2, 3],
    ['LUT2116', 'two values with one name', (g) => (g.nodes[0]!.outputs[0]!.name = 'b'), 3, 3],
    ['LUT2118', 'invalid type', (g) => (g.nodes[2]!.outputs[0]!.type = { dtype: 'f33' as 'f32', shape: [-1] }), 5, 3],
    ['LUT2119', 'use before definition', (g) => g.nodes.reverse(), 5, 3],
  ];
  for (const [code, what, mutate, line, col] of mutations) {
    it(`${code} ${what} at ${line}:${col}`, () => {
      const g = parse();
      mutate(g);
      expectDiag(g, code, line, col);
    });
  }

  const texts: [string, string, string[], number, number][] = [
    ['LUT2105', 'missing required attribute', ['  %y = test.opt(%a) : f32[2]'], 2, 3],
    ['LUT2108', 'string attribute outside oneOf', ['  %y = test.unary(%a) {mode = "c"} : f32[2]'], 2, 3],
    ['LUT2113', 'result dtype differs from the shape rule', ['  %y = test.unary(%a) : i64[2]'], 2, 3],
    ['LUT2113', 'result dim differs', ['  %y = test.unary(%a) : f32[3]'], 2, 3],
    ['LUT2113', 'result symbol differs', ['  %y = test.unary(%s) : f32[m]'], 2, 3],
    ['LUT2113', 'result rank differs', ['  %y = test.unary(%a) : f32[2, 1]'], 2, 3],
    ['LUT2114', 'shape rule crashed', ['  %y = test.crash(%a) : f32[2]'], 2, 3],
    ['LUT2117', 'more results than the shape rule gives', ['  %p, %q = test.var(%a) : f32[2], f32[2]'], 2, 3],
    ['LUT1112', "the op's own verify", ['  %y = test.add(%a, %i) : f32[2]'], 2, 3],
  ];
  for (const [code, what, body, line, col] of texts) {
    it(`${code} ${what} at ${line}:${col}`, () => {
      const g = parse(['graph @m(%a: f32[2], %i: i64[2], %s: f32[n]) {', ...body, '  return %a', '}'].join('\n'));
      expectDiag(g, code, line, col);
    });
  }

  it('reports every problem at once, in graph order', () => {
    const g = parse();
    g.nodes[0]!.attrs.zz = 1;
    g.nodes[1]!.inputs.pop();
    g.outputs.push(ghost('nowhere'));
    expect(diags(g).map((d) => d.code)).toEqual(['LUT2106', 'LUT2102', 'LUT2112']);
  });
});

describe('shape rule comparison', () => {
  const one = (body: string) => parse(['graph @m(%a: f32[2], %s: f32[n]) {', body, '  return %a', '}'].join('\n'));
  it('matching symbols are equal', () => expect(diags(one('  %y = test.unary(%s) : f32[n]'))).toEqual([]));
  it('a fresh dim from the shape rule matches any dim', () => {
    expect(diags(one('  %y = test.fresh(%a) : f32[7]'))).toEqual([]);
    expect(diags(one('  %y = test.fresh(%a) : f32[anything]'))).toEqual([]);
    expect(diags(one('  %y = test.fresh(%a) : f32[7, 1]')).map((d) => d.code)).toEqual(['LUT2113']);
  });
  it('optional results the node leaves out are not required', () => {
    expect(diags(one('  %y = test.opt(%a) {n = 1} : f32[2]'))).toEqual([]);
    expect(diags(one('  %y, %z = test.opt(%a) {n = 1} : f32[2], i64[]'))).toEqual([]);
  });
});

describe('nested graphs', () => {
  const IF = [
    'graph @m(%c: bool[], %a: f32[2]) {', //                 1
    '  %x = test.unary(%a) : f32[2] @x', //                  2
    '  %r = test.if(%c) {', //                               3
    '    then_branch = graph @t() {', //                     4
    '      %u = test.add(%x, %a) : f32[2] @u', //            5
    '      return %u', //                                    6
    '    },', //
    '    else_branch = graph @e() {', //                     8
    '      %v = test.unary(%x) : f32[2] @v', //              9
    '      return %v', //                                    10
    '    }',
    '  } : f32[2] @r',
    '  %w = test.unary(%r) : f32[2] @w', //                  13
    '  return %w',
    '}',
  ].join('\n');

  it('branches see outer values defined before the If', () => expect(diags(parse(IF))).toEqual([]));

  it('a branch may not use a value of its sibling branch', () => {
    const g = parse(IF);
    const then = g.nodes[1]!.attrs.then_branch as Graph;
    const els = g.nodes[1]!.attrs.else_branch as Graph;
    els.nodes[0]!.inputs[0] = then.nodes[0]!.outputs[0]!;
    expectDiag(g, 'LUT2110', 9, 7);
  });

  it('a branch may not use an outer value defined after the If', () => {
    const g = parse(IF);
    const els = g.nodes[1]!.attrs.else_branch as Graph;
    els.nodes[0]!.inputs[0] = g.nodes[2]!.outputs[0]!;
    expectDiag(g, 'LUT2110', 9, 7);
  });

  it('a branch output must be defined', () => {
    const g = parse(IF);
    (g.nodes[1]!.attrs.then_branch as Graph).outputs = [ghost('gone')];
    expectDiag(g, 'LUT2112', 6, 7);
  });

  it('a missing graph attribute is reported', () => {
    const g = parse(IF);
    delete g.nodes[1]!.attrs.else_branch;
    expectDiag(g, 'LUT2105', 3, 3);
  });
});

describe('graphs built in memory (imported)', () => {
  it('locate diagnostics by node name and op', () => {
    const g = newGraph('main');
    const b = new GraphBuilder(g);
    const x = b.input('x', { dtype: 'f32', shape: [2] });
    const n = b.node('test.unary', [x], { i: 0.5 }, [{ dtype: 'f32', shape: [2] }], { name: '/layers.0/Act' });
    g.outputs.push(n.outputs[0]!);
    try {
      verifyGraph(g, { file: 'model.onnx' });
      expect.unreachable();
    } catch (e) {
      const d = (e as LutcError).diagnostics[0]!;
      expect(d.loc).toEqual({ kind: 'node', file: 'model.onnx', node: '/layers.0/Act', opType: 'test.unary' });
      expect(formatDiagnostic(d)).toBe(
        "model.onnx: node '/layers.0/Act' (test.unary): error LUT2107: attribute 'i' must be of kind int, not float 0.5",
      );
    }
  });
});
