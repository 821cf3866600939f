/**
 * Generates docs/diagnostics.md from the diagnostics table (base/diagnostic-codes.ts): every code by
 * range, with its severity, title and the source files that raise it, found by scanning the shipped
 * sources for the quoted code. `npm run docs:diagnostics` writes the page; `--check` only compares
 * and exits 1 when the page is stale. test/repo/diagnostics.test.ts runs the same functions to check
 * that the checked-in page is current and that table and sources agree.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DIAGNOSTIC_RANGES, DIAGNOSTICS, type DiagCode } from '../base/diagnostic-codes.js';
import { docMain, writeOrCheck } from './generated-doc.js';

/** Folders of shipped code scanned for raised codes (tests are not: they expect codes, not raise them). */
export const SOURCE_DIRS: readonly string[] = ['base', 'compiler', 'ir', 'passes', 'backends', 'bench', 'bin', 'examples'];

/** The table itself, which names every code without raising it. */
const TABLE_FILE = 'base/diagnostic-codes.ts';

/** The page this script writes, relative to the repository root. */
export const DOC_FILE = 'docs/diagnostics.md';

/** Repo-relative source files (.ts, .mts, .mjs, .js) under SOURCE_DIRS, sorted. */
export function sourceFiles(root: string): string[] {
  const out: string[] = [];
  const walk = (rel: string): void => {
    const abs = path.join(root, rel);
    if (!fs.existsSync(abs)) return;
    for (const e of fs.readdirSync(abs, { withFileTypes: true })) {
      const r = `${rel}/${e.name}`;
      if (e.isDirectory()) {
        if (e.name !== 'node_modules') walk(r);
      } else if (/\.(ts|mts|mjs|js)$/.test(e.name) && !e.name.endsWith('.d.ts')) out.push(r);
    }
  };
  for (const d of SOURCE_DIRS) walk(d);
  return out.sort();
}

/** Every quoted code (`'LUTnnnn'` or `"LUTnnnn"`) in the sources, with the files that hold it. */
export function codeUses(root: string): Map<string, string[]> {
  const uses = new Map<string, string[]>();
  for (const f of sourceFiles(root)) {
    if (f === TABLE_FILE) continue;
    const text = fs.readFileSync(path.join(root, f), 'utf8');
    for (const code of new Set([...text.matchAll(/['"](LUT\d{4})['"]/g)].map((m) => m[1]!))) {
      const list = uses.get(code) ?? [];
      list.push(f);
      uses.set(code, list);
    }
  }
  return uses;
}

const cell = (s: string) => s.replace(/\|/g, '\\|');

/** The text of docs/diagnostics.md. */
export function renderDiagnosticsDoc(root: string): string {
  const uses = codeUses(root);
  const codes = (Object.keys(DIAGNOSTICS) as DiagCode[]).sort();
  const lines: string[] = [
    '<!-- Generated from base/diagnostic-codes.ts by scripts/gen-diagnostics-doc.ts: do not edit; run `npm run docs:diagnostics`. -->',
    '',
    '# Diagnostic codes',
    '',
    'Every code lutc reports, from the one table in `base/diagnostic-codes.ts` (the `DiagCode` type that',
    '`diag`, `fail` and the op contexts take is its key type, so no other code compiles). Each diagnostic',
    'prints as `location: severity LUTnnnn: message` ([cli.md](cli.md) gives the format and the exit',
    'status); the title below says what a code means, the message adds the particulars. "Raised in" lists',
    'the source files that name the code, found by scanning the sources when this page is generated.',
    '',
  ];
  for (const r of DIAGNOSTIC_RANGES) {
    const inRange = codes.filter((c) => {
      const n = Number(c.slice(3));
      return n >= r.from && n <= r.to;
    });
    lines.push(`## LUT${r.from}-${r.to}: ${r.title}`, '', `Stage \`${r.stage}\`; owner: ${r.owner}.`, '');
    lines.push('| code | severity | meaning | raised in |', '|---|---|---|---|');
    for (const c of inRange) {
      const d = DIAGNOSTICS[c];
      const files = (uses.get(c) ?? []).map((f) => `\`${f}\``).join(', ');
      lines.push(`| ${c} | ${d.severity} | ${cell(d.title)} | ${files} |`);
    }
    lines.push('');
  }
  return lines.join('\n');
}

/** Writes (or with `check`, compares) docs/diagnostics.md; returns false when `check` finds it stale. */
export function writeDiagnosticsDoc(root: string, check = false): boolean {
  return writeOrCheck(root, DOC_FILE, renderDiagnosticsDoc(root), check);
}

docMain(import.meta.url, DOC_FILE, 'docs:diagnostics', writeDiagnosticsDoc);
