/**
 * Runs one FileCheck-style pass test (a .lut file, see scripts/gen-filecheck.ts): parses the input IR,
 * verifies it, runs the RUN line's passes with the verifier after each, and prints the result with
 * large constants elided. Shared by the generator and the test that checks the CHECK lines.
 */
import '../../ir/ops/index.js';
import { parseGraph } from '../../ir/parser.js';
import { printGraph } from '../../ir/printer.js';
import { verifyGraph } from '../../ir/verify.js';
import { getPass, passContext } from '../../passes/registry.js';
import type { CompileOptions } from '../../compiler/options.js';

export function runLutTest(text: string, file: string): string {
  const m = /^\/\/\s*RUN:\s*(\S+)\s*(\{.*\})?\s*$/m.exec(text);
  if (!m) throw new Error(`${file}: no '// RUN: pass[,pass] {options}' line`);
  const opts = (m[2] ? JSON.parse(m[2]) : {}) as Partial<CompileOptions> & { vecBytes?: 16 | 32 | 64 };
  const { vecBytes, ...copts } = opts;
  const g = parseGraph(text, file);
  verifyGraph(g);
  const ctx = passContext(copts, vecBytes ? { vecBytes } : {});
  for (const name of m[1]!.split(',')) {
    getPass(name).run(g, ctx);
    verifyGraph(g);
  }
  const decisions = ctx.decisions.map((d) => `// decision ${d.node}: ${d.lowered ? 'lowered' : 'kept'} (${d.reason})`);
  return [printGraph(g, { elideConstantsOver: 16 }).trimEnd(), ...decisions].join('\n') + '\n';
}
