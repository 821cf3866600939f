/**
 * FileCheck pass tests: test/passes/<pass>.lut, one file per registered pass, named as on the command
 * line. Each file holds small hand-written cases split by `// -----`; every case runs its RUN line's
 * passes (verified before and after, test/passes/filecheck-run.ts) and the file's CHECK lines, one
 * CHECK-LABEL per case, must match the joined output. Also checks the runner's own rules.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { allPasses } from '../../passes/registry.js';
import { checkFile } from '../helpers/filecheck.js';
import { lintLutFile, runLutTest, splitLutFile } from './filecheck-run.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const files = fs
  .readdirSync(here, { recursive: true, encoding: 'utf8' })
  .filter((f) => f.endsWith('.lut'))
  .sort();

describe('pass FileCheck tests', () => {
  it('one file per registered pass, named as on the command line', () => {
    expect(files).toEqual(
      allPasses()
        .map((p) => `${p.name}.lut`)
        .sort(),
    );
  });

  for (const f of files) {
    it(f, () => {
      const text = fs.readFileSync(path.join(here, f), 'utf8');
      expect(lintLutFile(text, f, path.basename(f, '.lut'))).toEqual([]);
      checkFile(runLutTest(text, f), text, 'CHECK', { file: f });
    });
  }
});

describe('the .lut runner', () => {
  const two = [
    '// RUN: lower-linear {"bits": 2}',
    'graph @a(%x: f32[1, 8]) {',
    '  %w = const f32[8, 1] [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]',
    '  %y = matmul(%x, %w) : f32[1, 1] @fc',
    '  return %y',
    '}',
    '// CHECK-LABEL: graph @a(',
    '// CHECK: lut.matmul',
    '// -----',
    '// RUN: lower-linear {}',
    'graph @b(%x: f32[1, 8]) {',
    '  %w = const f32[8, 1] [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]',
    '  %y = matmul(%x, %w) : f32[1, 1] @fc',
    '  return %y',
    '}',
    '// CHECK-LABEL: graph @b(',
    '// CHECK: matmul(',
  ].join('\n');

  it('splits at // -----, each case with its own RUN line or the first one', () => {
    const cases = splitLutFile(two, 't.lut');
    expect(cases.map((c) => [c.line, c.passes, c.options])).toEqual([
      [1, ['lower-linear'], { bits: 2 }],
      [10, ['lower-linear'], {}],
    ]);
    const out = runLutTest(two, 't.lut');
    expect(out).toMatch(/graph @a[\s\S]*lut\.matmul[\s\S]*\n\/\/ -----\ngraph @b[\s\S]*= matmul\(/);
    checkFile(out, two, 'CHECK', { file: 't.lut' });
    expect(lintLutFile(two, 't.lut', 'lower-linear')).toEqual([]);
  });

  it('a parse error in a later case points at its line in the file', () => {
    const bad = two.replace(
      '%y = matmul(%x, %w) : f32[1, 1] @fc\n  return %y\n}\n// CHECK-LABEL: graph @b(',
      '%y = matmul(%x, %nope) : f32[1, 1] @fc\n  return %y\n}\n// CHECK-LABEL: graph @b(',
    );
    expect(() => runLutTest(bad, 't.lut')).toThrow(/t\.lut:13:/);
  });

  it('lint: a label per case naming its graph, unique graphs, RUN ending with the file pass', () => {
    const noLabel = two.replace('// CHECK-LABEL: graph @b(\n', '');
    expect(lintLutFile(noLabel, 't.lut', 'lower-linear').join('\n')).toMatch(
      /t\.lut:10: the case's first check must be 'CHECK-LABEL: graph @b\('/,
    );
    const dup = two.replace('graph @b(%x', 'graph @a(%x').replace('CHECK-LABEL: graph @b(', 'CHECK-LABEL: graph @a(');
    expect(lintLutFile(dup, 't.lut', 'lower-linear').join('\n')).toMatch(/graph @a already used/);
    expect(lintLutFile(two, 't.lut', 'tile').join('\n')).toMatch(/RUN line must end with 'tile'/);
    expect(lintLutFile(two.replace('// CHECK: lut.matmul\n', ''), 't.lut', 'lower-linear').join('\n')).toMatch(
      /checks nothing besides its label/,
    );
  });

  it('a wrong check in one case fails with the case, the file line and the output around it', () => {
    const wrong = two.replace('// CHECK: matmul(', '// CHECK: lut.matmul(');
    expect(() => checkFile(runLutTest(wrong, 't.lut'), wrong, 'CHECK', { file: 't.lut' })).toThrow(
      /t\.lut:17: not found: CHECK: lut\.matmul\(\nin the block of CHECK-LABEL: graph @b\(/,
    );
  });
});
