/** The FileCheck-like matcher in test/helpers/filecheck.ts: each directive passes and fails as it should. */
import { describe, expect, it } from 'vitest';
import { checkFile, checkLines, extractChecks } from '../../helpers/filecheck.js';

const OUT = ['graph @main(%x: f32[4]) {', '  %y = relu(%x) : f32[4] @r', '  %z = neg(%y) : f32[4] @n', '  return %z', '}'].join('\n');

describe('checkLines', () => {
  it('CHECK finds patterns in order, also later on the same line', () => {
    checkLines(OUT, ['graph @main', '%x:', 'relu(%x)', 'return %z']);
    expect(() => checkLines(OUT, ['neg(', 'relu('])).toThrow(/not found: CHECK: relu\(/);
  });
  it('CHECK-NEXT needs the very next line', () => {
    checkLines(OUT, ['relu(', 'CHECK-NEXT: neg(']);
    expect(() => checkLines(OUT, ['graph', 'CHECK-NEXT: neg('])).toThrow(/not on the next line/);
  });
  it('CHECK-SAME continues on the matched line', () => {
    checkLines(OUT, ['%y = relu', 'CHECK-SAME: : f32[4] @r']);
    expect(() => checkLines(OUT, ['%y = relu', 'CHECK-SAME: neg'])).toThrow(/same line/);
  });
  it('CHECK-NOT forbids a pattern between matches and at the end', () => {
    checkLines(OUT, ['relu(', 'CHECK-NOT: add(', 'return']);
    expect(() => checkLines(OUT, ['relu(', 'CHECK-NOT: neg(', 'return'])).toThrow(/excluded pattern found/);
    expect(() => checkLines(OUT, ['relu(', 'CHECK-NOT: return'])).toThrow(/excluded/);
  });
  it('whitespace runs compare equal and {{regex}} embeds a regex', () => {
    checkLines(OUT, ['%y   =   relu(%x)', '%{{[a-z]+}} = neg(%y) : f32[{{[0-9]+}}]']);
    expect(() => checkLines(OUT, ['%{{[0-9]+}} = neg'])).toThrow();
  });
  it('checkFile reads // CHECK comments of a .lut test', () => {
    const file = '// CHECK: relu(\n// CHECK-NEXT: neg(\ngraph @m() {\n  return\n}\n';
    expect(extractChecks(file)).toEqual(['CHECK: relu(', 'CHECK-NEXT: neg(']);
    checkFile(OUT, file);
    expect(() => checkFile(OUT, 'graph @m() {}')).toThrow(/no CHECK/);
  });
});
