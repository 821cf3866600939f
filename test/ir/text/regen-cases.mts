/**
 * Dev tool: rewrites .lut case files in canonical printed form with result types filled in by shape
 * inference (no folding), keeping the leading `//` comment lines. Write a case with placeholder result
 * types (`: f32[]`), run
 *   npx tsx test/ir/text/regen-cases.mts test/ir/cases/foo.lut ...
 * and review the diff. The round-trip test then requires the file to stay canonical.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import '../../../ir/ops/index.js';
import { inferGraph } from '../../../ir/infer.js';
import { parseGraph } from '../../../ir/parser.js';
import { printGraph } from '../../../ir/printer.js';
import { verifyGraph } from '../../../ir/verify.js';
import { splitCase } from './cases.js';

for (const file of process.argv.slice(2)) {
  const text = readFileSync(file, 'utf8');
  const { header } = splitCase(text);
  try {
    const g = parseGraph(text, file);
    inferGraph(g, { fold: false });
    verifyGraph(g);
    writeFileSync(file, header + printGraph(g));
    console.log(`ok ${file}`);
  } catch (e) {
    console.log(`FAIL ${file}\n${(e as Error).message}`);
  }
}
