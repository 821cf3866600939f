/**
 * Every lexer/parser/builder diagnostic (LUT2001-LUT2018) with its code and exact file:line:col.
 */
import { describe, expect, it } from 'vitest';
import './test-ops.js';
import { formatDiagnostic, LutcError } from '../../../base/diagnostics.js';
import { parseGraph } from '../../../ir/parser.js';

/** Wraps body lines in a graph with inputs %a, %b: f32[2]; body lines start at line 2. */
const G = (...body: string[]) => ['graph @m(%a: f32[2], %b: f32[2]) {', ...body, '  return %a', '}'].join('\n');

const CASES: [string, string, string, number, number][] = [
  ['lex error', G('  %y = test.unary(%a) # : f32[2]'), 'LUT2001', 2, 23],
  ['syntax error', G('  %y = test.unary(%a : f32[2]'), 'LUT2002', 2, 22],
  ['syntax error at end of input', 'graph @m() {\n  return', 'LUT2002', 2, 9],
  ['text after the graph', 'graph @m() {\n  return\n} x', 'LUT2002', 3, 3],
  ['unknown op', G('  %y = test.nope(%a) : f32[2]'), 'LUT2003', 2, 8],
  ['unknown attribute', G('  %y = test.unary(%a) {zz = 1} : f32[2]'), 'LUT2004', 2, 24],
  ['float for an int attribute', G('  %y = test.unary(%a) {i = 1.5} : f32[2]'), 'LUT2005', 2, 24],
  ['string for a float attribute', G('  %y = test.unary(%a) {f = "x"} : f32[2]'), 'LUT2005', 2, 24],
  ['graph for a tensor attribute', G('  %y = test.unary(%a) {t = graph @g() {', '    return', '  }} : f32[2]'), 'LUT2005', 2, 24],
  ['undefined value', G('  %y = test.unary(%zz) : f32[2]'), 'LUT2006', 2, 19],
  ['forward reference', G('  %y = test.unary(%z) : f32[2]', '  %z = test.unary(%a) : f32[2]'), 'LUT2006', 2, 19],
  ['duplicate definition', G('  %y = test.unary(%a) : f32[2]', '  %y = test.unary(%a) : f32[2]'), 'LUT2007', 3, 3],
  ['redefining a graph input', G('  %a = test.unary(%b) : f32[2]'), 'LUT2007', 2, 3],
  [
    'a branch redefining an outer value',
    G('  %y = test.unary(%a) {g = graph @g() {', '    %b = test.unary(%a) : f32[2]', '    return %b', '  }} : f32[2]'),
    'LUT2007',
    3,
    5,
  ],
  ['too few operands', G('  %y = test.add(%a) : f32[2]'), 'LUT2008', 2, 8],
  ['too many operands', G('  %y = test.unary(%a, %b) : f32[2]'), 'LUT2008', 2, 8],
  ['_ for a required operand', G('  %y = test.add(%a, _) : f32[2]'), 'LUT2008', 2, 8],
  ['too many results', G('  %y, %z = test.unary(%a) : f32[2], f32[2]'), 'LUT2009', 2, 3],
  ['unknown dtype', 'graph @m(%a: f33[2]) {\n  return\n}', 'LUT2010', 1, 14],
  ['literal of the wrong size', G('  %c = const f32[3] [1.0, 2.0]'), 'LUT2011', 2, 14],
  ['base64 of the wrong size', G('  %c = const f32[3] dense<"AAAAAA==">'), 'LUT2011', 2, 27],
  ['elided constant', G('  %c = const f32[300] dense_elided<"300 elements">'), 'LUT2012', 2, 14],
  ['integer out of range', G('  %c = const i8[2] [1, 300]'), 'LUT2013', 2, 24],
  ['float in an integer tensor', G('  %c = const i32[2] [1, 2.0]'), 'LUT2013', 2, 25],
  ['negative dimension', 'graph @m(%a: f32[2, -1]) {\n  return\n}', 'LUT2013', 1, 21],
  ['symbolic dim in a constant', G('  %c = const f32[n] [1.0]'), 'LUT2013', 2, 14],
  ['duplicate attribute', G('  %y = test.unary(%a) {i = 1, i = 2} : f32[2]'), 'LUT2014', 2, 31],
  ['bad string escape', G('  %y = test.unary(%a) {s = "\\q"} : f32[2]'), 'LUT2015', 2, 28],
  ['invalid base64', G('  %c = const f32[4] dense<"!!!">'), 'LUT2015', 2, 27],
  ['unknown meta entry', 'graph @m() meta {foo = 1} {\n  return\n}', 'LUT2016', 1, 18],
  [
    'meta on a nested graph',
    G('  %y = test.unary(%a) {g = graph @g() meta {producer = "x"} {', '    return', '  }} : f32[2]'),
    'LUT2016',
    2,
    45,
  ],
  ['types do not match results', G('  %y = test.unary(%a) : f32[2], f32[2]'), 'LUT2017', 2, 25],
  ['const with two results', G('  %c, %d = const f32[] [1.0]'), 'LUT2018', 2, 3],
];

describe('parse diagnostics', () => {
  for (const [what, text, code, line, col] of CASES) {
    it(`${code} ${what} at ${line}:${col}`, () => {
      let err: unknown;
      try {
        parseGraph(text, 'bad.lut');
      } catch (e) {
        err = e;
      }
      expect(err, 'parse should fail').toBeInstanceOf(LutcError);
      const ds = (err as LutcError).diagnostics;
      const hit = ds.find((d) => d.code === code);
      expect(hit, `got ${ds.map(formatDiagnostic).join('; ')}`).toBeDefined();
      expect(hit!.loc).toEqual({ kind: 'text', file: 'bad.lut', line, col });
      expect(formatDiagnostic(hit!)).toMatch(new RegExp(`^bad\\.lut:${line}:${col}: error ${code}: `));
    });
  }

  it('reports every lex error, not only the first', () => {
    try {
      parseGraph('graph @m() {\n  # ~\n  return\n}');
      expect.unreachable();
    } catch (e) {
      expect((e as LutcError).diagnostics.map((d) => [d.code, d.loc])).toEqual([
        ['LUT2001', { kind: 'text', file: '<input>', line: 2, col: 3 }],
        ['LUT2001', { kind: 'text', file: '<input>', line: 2, col: 5 }],
      ]);
    }
  });

  it('says what it expected', () => {
    expect(() => parseGraph(G('  %y = test.unary(%a : f32[2]'))).toThrow(/expected '\)', found ':'/);
  });
});
