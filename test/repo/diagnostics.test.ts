/**
 * The diagnostics table (base/diagnostic-codes.ts) and the sources agree, and docs/diagnostics.md is
 * the page generated from them: every code of the table is raised somewhere in the shipped sources,
 * every code the sources name is in the table, every code lies in its range with that range's stage,
 * and the checked-in page equals what `npm run docs:diagnostics` writes now.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DIAGNOSTIC_RANGES, DIAGNOSTICS, isDiagCode } from '../../base/diagnostic-codes.js';
import { codeUses, DOC_FILE, renderDiagnosticsDoc } from '../../scripts/gen-diagnostics-doc.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const uses = codeUses(root);
const table = Object.keys(DIAGNOSTICS);

describe('the diagnostics table', () => {
  it('finds the codes it checks', () => {
    expect(table.length).toBeGreaterThan(150);
    expect(uses.get('LUT1101')).toContain('compiler/onnx/import-graph.ts');
  });

  it('every code of the table is raised somewhere in the sources', () => {
    expect(
      table.filter((c) => !uses.has(c)),
      'codes in base/diagnostic-codes.ts that no source names',
    ).toEqual([]);
  });

  it('every code the sources name is in the table', () => {
    const unknown = [...uses].filter(([c]) => !isDiagCode(c)).map(([c, files]) => `${c} (${files.join(', ')})`);
    expect(unknown, 'codes missing from base/diagnostic-codes.ts').toEqual([]);
  });

  it('every code lies in a range, with that range stage, and has a one-line title', () => {
    const bad = Object.entries(DIAGNOSTICS).flatMap(([c, d]) => {
      const n = Number(c.slice(3));
      const r = DIAGNOSTIC_RANGES.find((x) => n >= x.from && n <= x.to);
      if (!r) return [`${c}: in no range`];
      if (r.stage !== d.stage) return [`${c}: stage ${d.stage}, its range is ${r.stage}`];
      if (!d.title || d.title.includes('\n')) return [`${c}: title must be one line`];
      return [];
    });
    expect(bad).toEqual([]);
  });

  it(`${DOC_FILE} is current (regenerate with npm run docs:diagnostics)`, () => {
    expect(fs.readFileSync(path.join(root, DOC_FILE), 'utf8')).toBe(renderDiagnosticsDoc(root));
  });
});
