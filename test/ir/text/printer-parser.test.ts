/**
 * Printer and parser on the `test.*` ops: exact float round trips (denormals, -0, NaN, Inf, 1/3 in f32
 * and f64), every dtype through literal lists and base64, quoted names, nested graphs with outer-scope
 * uses, attribute kinds from the op spec, meta, elided dumps, and text locations on nodes.
 */
import { describe, expect, it } from 'vitest';
import './test-ops.js';
import { LutcError } from '../../../base/diagnostics.js';
import { GraphBuilder, newGraph } from '../../../ir/graph.js';
import { parseGraph, parseType, textLocOf } from '../../../ir/parser.js';
import { printGraph, printType } from '../../../ir/printer.js';
import { makeTensor } from '../../../ir/tensor.js';
import type { DType, Graph, Tensor } from '../../../ir/types.js';

function roundTrip(g: Graph): Graph {
  const a = printGraph(g);
  const g2 = parseGraph(a);
  expect(printGraph(g2)).toBe(a);
  return g2;
}

function sameBits(a: Tensor, b: Tensor): void {
  expect(b.dtype).toBe(a.dtype);
  expect(b.shape).toEqual(a.shape);
  expect(b.data.length).toBe(a.data.length);
  for (let i = 0; i < a.data.length; i++)
    expect(
      Object.is(a.data[i], b.data[i]) || (Number.isNaN(a.data[i]) && Number.isNaN(b.data[i])),
      `element ${i}: ${a.data[i]} vs ${b.data[i]}`,
    ).toBe(true);
}

const F32_EDGES = [1 / 3, -0, 0, NaN, Infinity, -Infinity, 1e-45, 1.1754942e-38, 1.17549435e-38, 3.4028235e38, 0.1, -2.5, 16777217, 1e30];

/** A graph with one constant per tensor, each fed to an identity-like node. */
function constGraph(tensors: Tensor[]): Graph {
  const g = newGraph('main');
  const b = new GraphBuilder(g);
  for (const t of tensors) g.outputs.push(b.constant('c', t));
  return g;
}

describe('float and dtype round trips', () => {
  for (const n of [F32_EDGES.length, 40]) {
    it(`f32 edge values (${n <= 16 ? 'literal' : 'base64'})`, () => {
      const vals = Array.from({ length: n }, (_, i) => F32_EDGES[i % F32_EDGES.length]!);
      const t = makeTensor('f32', [n], vals);
      const g2 = roundTrip(constGraph([t]));
      sameBits(t, g2.constants[0]!.const!);
    });
  }

  it('prints f32 values as shortest text that reads back exactly', () => {
    const text = printGraph(constGraph([makeTensor('f32', [6], [1 / 3, -0, NaN, -Infinity, 1e-45, 2])]));
    expect(text).toContain('f32[6] [0.33333334, -0.0, nan, -inf, 1e-45, 2.0]');
  });

  it('f64 keeps doubles exactly', () => {
    const t = makeTensor('f64', [5], [1 / 3, 5e-324, -0, NaN, 0.1]);
    const text = printGraph(constGraph([t]));
    expect(text).toContain('0.3333333333333333, 5e-324, -0.0, nan, 0.1]');
    sameBits(t, parseGraph(text).constants[0]!.const!);
  });

  const ALL: [DType, number[]][] = [
    ['f16', [1 / 3, -0, 65504, 6e-8, NaN, Infinity]],
    ['bf16', [1 / 3, -0, 3e38, NaN, -Infinity, 1e-40]],
    ['i4', [-8, 7, 0, -1]],
    ['u4', [0, 15, 3, 9]],
    ['i8', [-128, 127, 0, -5]],
    ['u8', [0, 255, 17, 128]],
    ['i16', [-32768, 32767, 1, -2]],
    ['u16', [0, 65535, 2, 3]],
    ['i32', [-(2 ** 31), 2 ** 31 - 1, 4, -4]],
    ['u32', [0, 2 ** 32 - 1, 5, 6]],
    ['i64', [-(2 ** 53), 2 ** 53, 2 ** 63, -1]],
    ['u64', [0, 2 ** 53, 7, 8]],
    ['bool', [0, 1, 1, 0]],
  ];
  for (const [dtype, vals] of ALL) {
    it(`${dtype} via literals and base64`, () => {
      const small = makeTensor(dtype, [vals.length], vals);
      const big = makeTensor(dtype, [vals.length * 5], [...vals, ...vals, ...vals, ...vals, ...vals]);
      const g2 = roundTrip(constGraph([small, big]));
      sameBits(small, g2.constants[0]!.const!);
      sameBits(big, g2.constants[1]!.const!);
      expect(printGraph(g2)).toMatch(/dense<"/);
    });
  }

  it('float attributes: f32 values print short, other doubles carry f64', () => {
    const g = parseGraph(`graph @m(%x: f32[2]) {
  %a = test.unary(%x) {f = 0.33333334, fs = [nan, -0.0, inf, -inf, 1e-45, 0.1f64, 3]} : f32[2] @a
  %b = test.unary(%a) {f = 0.3333333333333333f64} : f32[2] @b
  return %b
}`);
    const [a, b] = g.nodes;
    expect(a!.attrs.f).toBe(Math.fround(1 / 3));
    const fs = a!.attrs.fs as number[];
    expect(Number.isNaN(fs[0])).toBe(true);
    expect(Object.is(fs[1], -0)).toBe(true);
    expect(fs.slice(2)).toEqual([Infinity, -Infinity, Math.fround(1e-45), 0.1, 3]);
    expect(b!.attrs.f).toBe(1 / 3);
    const text = printGraph(roundTrip(g));
    expect(text).toContain('fs = [nan, -0.0, inf, -inf, 1e-45, 0.1f64, 3.0]');
    expect(text).toContain('{f = 0.3333333333333333f64}');
  });
});

describe('printer', () => {
  it('quotes names, symbolic dims and keys that are not plain identifiers', () => {
    const g = newGraph('my graph');
    const b = new GraphBuilder(g);
    const x = b.input('/layers.0/Add_output_0', { dtype: 'f32', shape: ['batch size', 'seq', 4, 'd__3', 'graph'] });
    const n = b.node('test.unary', [x], { s: 'a "quoted"\nline\u0001' }, [x.type], { name: 'node 1/2', outNames: ['onnx::MatMul_12'] });
    g.outputs.push(n.outputs[0]!);
    const text = printGraph(g);
    expect(text).toBe(
      [
        'graph @"my graph"(%"/layers.0/Add_output_0": f32["batch size", seq, 4, d__3, "graph"]) {',
        '  %"onnx::MatMul_12" = test.unary(%"/layers.0/Add_output_0") {s = "a \\"quoted\\"\\nline\\u0001"} : f32["batch size", seq, 4, d__3, "graph"] @"node 1/2"',
        '  return %"onnx::MatMul_12"',
        '}',
        '',
      ].join('\n'),
    );
    const g2 = roundTrip(g);
    expect(g2.nodes[0]!.name).toBe('node 1/2');
    expect(g2.nodes[0]!.attrs.s).toBe('a "quoted"\nline\u0001');
    expect(g2.inputs[0]!.type.shape).toEqual(['batch size', 'seq', 4, 'd__3', 'graph']);
  });

  it('prints attributes in the order the op declares them, ints as ints', () => {
    const g = parseGraph(`graph @m(%x: f32[2]) {
  %y = test.unary(%x) {ss = ["a", "b"], is = [1, -2], f = 2, i = 3, mode = "b", t = i64[2] [5, -6]} : f32[2] @n
  return %y
}`);
    expect(printGraph(g)).toContain('{i = 3, f = 2.0, mode = "b", is = [1, -2], ss = ["a", "b"], t = i64[2] [5, -6]}');
  });

  it('elides big constants for dumps, and such text is refused by the parser', () => {
    const g = constGraph([makeTensor('f32', [100], new Array(100).fill(1)), makeTensor('i64', [2], [1, 2])]);
    const text = printGraph(g, { elideConstantsOver: 10 });
    expect(text).toContain('%c = const f32[100] dense_elided<"100 elements">');
    expect(text).toContain('%c_1 = const i64[2] [1, 2]');
    expect(() => parseGraph(text)).toThrow(/LUT2012/);
  });

  it('keeps meta (producer, opsets, dim bindings) but not the file path', () => {
    const g = constGraph([]);
    g.meta = { file: 'x.onnx', producer: 'pytorch', opsets: { '': 17, 'com.microsoft': 1 }, dimBindings: { batch: 2 } };
    const text = printGraph(g);
    expect(text.split('\n')[0]).toBe(
      'graph @main() meta {producer = "pytorch", opsets = {"" = 17, com.microsoft = 1}, dim_bindings = {batch = 2}} {',
    );
    const g2 = roundTrip(g);
    expect(g2.meta).toEqual({ file: '<input>', producer: 'pytorch', opsets: { '': 17, 'com.microsoft': 1 }, dimBindings: { batch: 2 } });
  });

  it('printType and parseType agree', () => {
    for (const s of ['f32[]', 'i4[2, 3]', 'bool[batch, "seq len", 1]', 'bf16["?d1"]']) expect(printType(parseType(s))).toBe(s);
  });
});

describe('parser', () => {
  const nested = `// comments are ignored
graph @main(%c: bool[], %x: f32[4]) {
  %y = test.unary(%x) : f32[4] @outer
  %r, %s = test.if(%c) {
    then_branch = graph @then() {
      %t = test.add(%y, %x) : f32[4] @inner
      %u = test.if(%c) {
        then_branch = graph @then2() {
          return %t
        },
        else_branch = graph @else2() {
          return %y
        }
      } : f32[4] @deep
      return %u, %x
    },
    else_branch = graph @else() {
      %k = const f32[4] [1.0, 2.0, 3.0, 4.0]
      return %k, %y
    }
  } : f32[4], f32[4] @if
  return %r, %s
}
`;

  it('resolves outer-scope values in nested graphs and round-trips them', () => {
    const g = parseGraph(nested, 'n.lut');
    const ifNode = g.nodes[1]!;
    const then = ifNode.attrs.then_branch as Graph;
    expect(then.nodes[0]!.inputs[0]).toBe(g.nodes[0]!.outputs[0]);
    expect(then.nodes[0]!.inputs[1]).toBe(g.inputs[1]);
    const deep = then.nodes[1]!.attrs.else_branch as Graph;
    expect(deep.outputs[0]).toBe(g.nodes[0]!.outputs[0]);
    expect(ifNode.outputs.map((v) => v.producer)).toEqual([ifNode, ifNode]);
    expect((ifNode.attrs.else_branch as Graph).constants[0]!.const!.data).toEqual(new Float32Array([1, 2, 3, 4]));
    const printed = printGraph(g);
    expect(printed).toBe(nested.replace('// comments are ignored\n', ''));
    roundTrip(g);
  });

  it('records node locations and value/return locations', () => {
    const g = parseGraph(nested, 'n.lut');
    expect(g.nodes[0]!.loc).toEqual({ kind: 'text', file: 'n.lut', line: 3, col: 3 });
    expect(g.nodes[1]!.loc).toEqual({ kind: 'text', file: 'n.lut', line: 4, col: 3 });
    expect((g.nodes[1]!.attrs.then_branch as Graph).nodes[0]!.loc).toEqual({ kind: 'text', file: 'n.lut', line: 6, col: 7 });
    expect(textLocOf(g.inputs[1]!)).toEqual({ kind: 'text', file: 'n.lut', line: 2, col: 25 });
    expect(textLocOf(g)).toEqual({ kind: 'text', file: 'n.lut', line: 22, col: 3 });
  });

  it('accepts omitted optional operands, variadic operands and results, generated node names', () => {
    const g = parseGraph(`graph @m(%a: f32[2], %b: f32[2]) {
  %y, %z = test.opt(%a, _, %b) {n = 1} : f32[2], i64[]
  %w = test.opt(%a) {n = 2} : f32[2]
  %v1, %v2, %v3 = test.var(%a, %b, %w) : f32[2], f32[2], f32[2]
  return %y, %v3
}`);
    expect(g.nodes[0]!.inputs[1]).toBeNull();
    expect(g.nodes[0]!.name).toBe('test.opt_0');
    expect(printGraph(g)).toContain('%y, %z = test.opt(%a, _, %b) {n = 1} : f32[2], i64[] @test.opt_0');
    roundTrip(g);
  });

  it('throws LutcError with all semantic problems at once', () => {
    try {
      parseGraph('graph @m(%a: f32[2]) {\n  %y = test.unary(%nope) {zz = 1} : f32[2]\n  %y = test.nope(%a) : f32[2]\n  return %y\n}');
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(LutcError);
      expect((e as LutcError).diagnostics.map((d) => d.code)).toEqual(['LUT2006', 'LUT2004', 'LUT2003', 'LUT2007']);
    }
  });
});
