/**
 * Every op in the op table has at least one sample case in test/ir/cases/*.lut, and every case is in
 * canonical printed form (print(parse(text)) === text), round-trips byte-identically and verifies clean.
 * A newly defined op without a case fails here.
 */

import { basename } from 'node:path';
import { describe, expect, it } from 'vitest';
import '../../../ir/ops/index.js';
import { subgraphs } from '../../../ir/graph.js';
import { allOps } from '../../../ir/optable.js';
import { parseGraph } from '../../../ir/parser.js';
import { printGraph } from '../../../ir/printer.js';
import type { Graph } from '../../../ir/types.js';
import { verifyGraph } from '../../../ir/verify.js';
import { loadCases } from './cases.js';

const cases = loadCases();

function opsIn(g: Graph, out: Set<string>): Set<string> {
  for (const n of g.nodes) {
    out.add(n.op);
    for (const s of subgraphs(n)) opsIn(s, out);
  }
  return out;
}

describe('IR sample cases', () => {
  it('cover every op in the op table', () => {
    const covered = new Set<string>();
    for (const c of cases) opsIn(parseGraph(c.header + c.body, c.file), covered);
    const missing = allOps()
      .map((d) => d.name)
      .filter((n) => !covered.has(n));
    expect(missing, `ops without a case in test/ir/cases (add one; see test/ir/text/regen-cases.mts)`).toEqual([]);
  });

  for (const c of cases) {
    it(`${basename(c.file)}: canonical, round-trips, verifies`, () => {
      const g = parseGraph(c.header + c.body, c.file);
      const printed = printGraph(g);
      expect(printed).toBe(c.body);
      expect(printGraph(parseGraph(printed))).toBe(printed);
      expect(() => verifyGraph(g)).not.toThrow();
    });
  }
});
