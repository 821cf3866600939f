/**
 * Runs a FileCheck pass test file (test/passes/<pass>.lut), the way `mlir-opt -split-input-file` does:
 * the file is split at lines `// -----` into cases; each case is parsed on its own (diagnostics keep
 * the file's line numbers), verified, run through its RUN line's passes (verified after each; a pass
 * that throws or leaves an invalid graph is reported with the case's file line and graph) and
 * printed with constants over 16 elements elided, followed by one `// decision NODE: lowered|kept
 * (reason)` line per lower-linear decision. The printed cases are joined by `// -----` lines into one
 * output, which the test matches against all of the file's CHECK lines (test/helpers/filecheck.ts).
 *
 * RUN line: `// RUN: pass[,pass...] [JSON options]` (CompileOptions plus `vecBytes`). A case without
 * its own RUN line uses the first case's. lintLutFile checks the file's shape: every case starts its
 * checks with `CHECK-LABEL: graph @NAME(` of its own, unique graph and checks something besides, and
 * every RUN line ends with the pass the file is named after.
 */
import '../../ir/ops/index.js';
import { formatDiagnostic, LutcError } from '../../base/diagnostics.js';
import type { CompileOptions } from '../../compiler/options.js';
import { parseGraph } from '../../ir/parser.js';
import { printGraph } from '../../ir/printer.js';
import { verifyGraph } from '../../ir/verify.js';
import { getPass, passContext } from '../../passes/registry.js';
import { parseChecks } from '../helpers/filecheck.js';

export const SPLIT = '// -----';

const RUN = /^\/\/\s*RUN:\s*(\S+)\s*(\{.*\})?\s*$/m;

export interface LutCase {
  /** The case's text, preceded by blank lines so that its line numbers are the file's. */
  text: string;
  /** 1-based file line of the case's first line. */
  line: number;
  passes: string[];
  options: Partial<CompileOptions> & { vecBytes?: 16 | 32 | 64 };
}

/** Splits a test file into its cases at `// -----` lines. */
export function splitLutFile(text: string, file: string): LutCase[] {
  const lines = text.split('\n');
  const cases: LutCase[] = [];
  let start = 0;
  let dflt: RegExpExecArray | null = null;
  for (let i = 0; i <= lines.length; i++) {
    if (i < lines.length && lines[i]!.trim() !== SPLIT) continue;
    const body = '\n'.repeat(start) + lines.slice(start, i).join('\n');
    const m = RUN.exec(body);
    if (cases.length === 0) dflt = m;
    const run = m ?? dflt;
    if (!run) throw new Error(`${file}: no '// RUN: pass[,pass] {options}' line`);
    cases.push({ text: body, line: start + 1, passes: run[1]!.split(','), options: run[2] ? JSON.parse(run[2]) : {} });
    start = i + 1;
  }
  return cases;
}

/** The printed result of one case: the graph after its passes, then the decisions. */
export function runLutCase(c: LutCase, file: string): string {
  const { vecBytes, ...copts } = c.options;
  const g = parseGraph(c.text, file);
  verifyGraph(g);
  const ctx = passContext(copts, vecBytes ? { vecBytes } : {});
  for (const name of c.passes) {
    try {
      getPass(name).run(g, ctx);
      verifyGraph(g);
    } catch (e) {
      const msg = e instanceof LutcError ? e.diagnostics.map(formatDiagnostic).join('\n') : String(e);
      throw new Error(`${file}:${c.line}: case @${g.name}: pass '${name}' failed or left an invalid graph:\n${msg}`, { cause: e });
    }
  }
  const decisions = ctx.decisions.map((d) => `// decision ${d.node}: ${d.lowered ? 'lowered' : 'kept'} (${d.reason})`);
  return [printGraph(g, { elideConstantsOver: 16 }).trimEnd(), ...decisions].join('\n') + '\n';
}

/** Runs every case of a test file; the outputs joined by `// -----` lines. */
export function runLutTest(text: string, file: string): string {
  return splitLutFile(text, file)
    .map((c) => runLutCase(c, file))
    .join(`${SPLIT}\n`);
}

/** Errors in the shape of a test file named after `pass` (empty when it is well formed). */
export function lintLutFile(text: string, file: string, pass: string): string[] {
  const errs: string[] = [];
  const names = new Map<string, number>();
  for (const c of splitLutFile(text, file)) {
    const at = `${file}:${c.line}`;
    if (c.passes[c.passes.length - 1] !== pass)
      errs.push(`${at}: the case's RUN line must end with '${pass}', got '${c.passes.join(',')}'`);
    const graph = /^\s*graph\s+@([A-Za-z0-9_.$]+)\s*\(/m.exec(c.text);
    if (!graph) {
      errs.push(`${at}: no graph in the case`);
      continue;
    }
    const name = graph[1]!;
    if (names.has(name)) errs.push(`${at}: graph @${name} already used by the case at line ${names.get(name)}`);
    names.set(name, c.line);
    const dirs = parseChecks(c.text);
    const label = dirs[0];
    if (label?.kind !== 'CHECK-LABEL' || label.pattern !== `graph @${name}(`)
      errs.push(`${at}: the case's first check must be 'CHECK-LABEL: graph @${name}('`);
    if (dirs.filter((d) => d.kind === 'CHECK-LABEL').length !== 1) errs.push(`${at}: one CHECK-LABEL per case`);
    if (dirs.length < 2) errs.push(`${at}: the case checks nothing besides its label`);
  }
  return errs;
}
