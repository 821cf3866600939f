/**
 * The FileCheck helper (test/helpers/filecheck.ts) itself: every directive passes where LLVM FileCheck
 * would and fails where it would, with a message naming the directive; errors in a test's own checks
 * (misspelled directives, empty patterns, undefined variables) are reported, not silently ignored.
 */
import { describe, expect, it } from 'vitest';
import { checkFile, checkLines, extractChecks, parseChecks } from './filecheck.js';

const OUT = [
  'graph @a(%x: f32[4]) {',
  '  %y = relu(%x) : f32[4] @r',
  '  %z = neg(%y) : f32[4] @n',
  '  return %z',
  '}',
  '// -----',
  'graph @b(%x: f32[4]) {',
  '  %y = relu(%x) : f32[4] @r',
  '  %z = abs(%y) : f32[4] @n',
  '  return %z, %y',
  '}',
].join('\n');

const ok = (checks: string[]) => expect(() => checkLines(OUT, checks)).not.toThrow();
const bad = (checks: string[], msg: RegExp) => expect(() => checkLines(OUT, checks)).toThrow(msg);

describe('FileCheck directives', () => {
  it('CHECK: in order, substring, also later on the matched line', () => {
    ok(['graph @a', '%x:', 'relu(%x)', 'return %z']);
    bad(['abs(', 'relu('], /not found: CHECK: relu\(/);
  });

  it('CHECK-NEXT: the very next line; off by one line fails', () => {
    ok(['relu(', 'CHECK-NEXT: neg(', 'CHECK-NEXT: return %z']);
    bad(['graph @a', 'CHECK-NEXT: neg('], /not on the next line \(matched on output line 3, expected 2\): CHECK-NEXT: neg\(/);
    bad(['%y = relu', 'CHECK-NEXT: f32[4] @r'], /same line as the previous match/);
    bad(['return %z', 'CHECK-NEXT: nope'], /not on the next line \(no match\)/);
  });

  it('CHECK-SAME: the rest of the matched line only', () => {
    ok(['%y = relu', 'CHECK-SAME: : f32[4]', 'CHECK-SAME: @r']);
    bad(['%y = relu', 'CHECK-SAME: neg'], /not found on the same line: CHECK-SAME: neg/);
    bad(['%y = relu', 'CHECK-SAME: @r', 'CHECK-SAME: f32[4]'], /same line/); // before the previous match
  });

  it('CHECK-NOT: between the surrounding matches, and to the end', () => {
    ok(['relu(', 'CHECK-NOT: add(', 'return']);
    bad(['relu(', 'CHECK-NOT: neg(', 'return'], /excluded pattern found: CHECK-NOT: neg\(/);
    bad(['CHECK-LABEL: graph @b(', 'CHECK-NOT: abs'], /excluded pattern found: CHECK-NOT: abs/);
    ok(['%z = neg', 'CHECK-NOT: relu', 'return']); // relu before the previous match does not count
    ok(['relu(%x) : f32[4] @r', 'CHECK-NOT: @r', 'neg']); // ... nor inside the previous match
    bad(['%y =', 'CHECK-NOT: @r', 'neg'], /excluded pattern found: CHECK-NOT: @r/); // ... but after it
  });

  it('CHECK-LABEL: splits the output; other directives stay inside their label block', () => {
    ok(['CHECK-LABEL: graph @a(', 'neg(', 'CHECK-LABEL: graph @b(', 'abs(', 'return %z, %y']);
    // abs( exists, but only in @b's block
    bad(['CHECK-LABEL: graph @a(', 'abs(', 'CHECK-LABEL: graph @b('], /not found: CHECK: abs\(\nin the block of CHECK-LABEL: graph @a\(/);
    bad(['CHECK-LABEL: graph @a(', 'CHECK-LABEL: graph @c('], /label not found: CHECK-LABEL: graph @c\(/);
    bad(['CHECK-LABEL: graph @b(', 'CHECK-LABEL: graph @a('], /label not found: CHECK-LABEL: graph @a\(/); // order
    // CHECK-NEXT right after a label refers to the label's line; CHECK-NOT reaches only the block end
    ok(['CHECK-LABEL: graph @a(', 'CHECK-NEXT: relu(', 'CHECK-NOT: abs', 'CHECK-LABEL: graph @b(']);
  });

  it('CHECK-DAG: any order, no overlap', () => {
    ok(['CHECK-LABEL: graph @a(', 'CHECK-DAG: neg(', 'CHECK-DAG: relu(', 'CHECK: return %z']);
    bad(['CHECK-DAG: neg(%y)', 'CHECK-DAG: neg('], /not found: CHECK-DAG: neg\(/); // only one neg
    bad(['CHECK-LABEL: graph @a(', 'CHECK-DAG: neg(', 'CHECK-DAG: abs(', 'CHECK-LABEL: graph @b('], /not found: CHECK-DAG: abs/);
  });

  it('CHECK-EMPTY: the next line is empty', () => {
    expect(() => checkLines('a\n\nb', ['a', 'CHECK-EMPTY:', 'CHECK-NEXT: b'])).not.toThrow();
    expect(() => checkLines('a\nb', ['a', 'CHECK-EMPTY:'])).toThrow(/not empty/);
  });

  it('whitespace runs compare equal; {{regex}}; {{$}} pins the line end', () => {
    ok(['%y   =   relu(%x)', '%{{[a-z]+}} = neg(%y) : f32[{{[0-9]+}}]']);
    bad(['%{{[0-9]+}} = neg'], /not found/);
    ok(['CHECK-LABEL: graph @b(', 'return %z, %y{{$}}']);
    // a prefix of a longer line matches as a substring, unless the end is pinned
    ok(['CHECK-LABEL: graph @b(', 'CHECK: return %z']);
    bad(['CHECK-LABEL: graph @b(', 'CHECK: return %z{{$}}'], /not found: CHECK: return %z\{\{\$\}\}/);
    bad(['CHECK: {{^}}%y = relu'], /not found/); // indented
    ok(['CHECK: {{^}}  %y = relu']);
  });

  it('[[VAR:regex]] binds, [[VAR]] must match the same text; labels reset variables', () => {
    ok(['%[[V:[a-z]+]] = relu(%x)', 'neg(%[[V]])']);
    bad(['%[[V:[a-z]+]] = relu(', 'CHECK-NEXT: %[[V]] = neg('], /not on the next line .*: CHECK-NEXT: %\[\[V\]\] = neg\(/);
    ok(['%[[T:[a-z]]] = relu', 'CHECK-NEXT: %{{.}} = neg(%[[T]])']); // a class inside the regex
    expect(() => checkLines(OUT, ['CHECK-LABEL: graph @a(', '%[[V:y]] = relu', 'CHECK-LABEL: graph @b(', 'abs(%[[V]])'])).toThrow(
      /undefined variable 'V'/,
    );
    bad(['CHECK-NOT: %[[U]]'], /undefined variable 'U'/);
  });

  it('errors in the checks themselves', () => {
    bad(['CHECK-NXT: relu'], /unknown directive 'CHECK-NXT:'/);
    bad(['CHECK:'], /empty pattern for CHECK/);
    bad(['CHECK-NEXT: relu'], /CHECK-NEXT without a previous match/);
    bad(['CHECK-SAME: relu'], /CHECK-SAME without a previous match/);
    bad(['CHECK-LABEL: graph @[[X:a]]'], /CHECK-LABEL cannot use variables/);
    bad(['{{unterminated'], /unterminated \{\{/);
  });
});

describe('checkFile', () => {
  it('reads // CHECK comments with their lines and names the failing one', () => {
    const file = '// CHECK: relu(\n// CHECK-NEXT: neg(\ngraph @m() {\n  return\n}\n';
    expect(extractChecks(file)).toEqual(['CHECK: relu(', 'CHECK-NEXT: neg(']);
    expect(parseChecks(file).map((d) => d.line)).toEqual([1, 2]);
    checkFile(OUT, file);
    expect(() => checkFile(OUT, '// CHECK: relu(\n// CHECK-NEXT: abs(\n', 'CHECK', { file: 'x.lut' })).toThrow(
      /^x\.lut:2: not on the next line/,
    );
    expect(() => checkFile(OUT, 'graph @m() {}')).toThrow(/no CHECK/);
  });

  it('a misspelled directive in a comment is an error, ordinary comments are not', () => {
    expect(() => parseChecks('// CHECK-NEXTT: x\n')).toThrow(/line 1: unknown directive 'CHECK-NEXTT:'/);
    expect(parseChecks('// CHECKS below pin attributes\n// a CHECK-LABEL per case\n')).toEqual([]);
  });

  it('other prefixes', () => {
    expect(extractChecks('// FOO: relu(\n// FOO-NEXT: neg(\n// CHECK: x\n', 'FOO')).toEqual(['CHECK: relu(', 'CHECK-NEXT: neg(']);
  });
});
