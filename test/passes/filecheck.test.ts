/**
 * FileCheck-style pass tests: every .lut file under test/passes/<pass>/ runs its RUN line's passes
 * (verified before and after) and must match its CHECK lines, which scripts/gen-filecheck.ts generates.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'vitest';
import { checkFile } from '../helpers/filecheck.js';
import { runLutTest } from './filecheck-run.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const files = fs.readdirSync(here, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.lut')).sort();

describe('pass FileCheck tests', () => {
  for (const f of files) {
    it(f, () => {
      const text = fs.readFileSync(path.join(here, f), 'utf8');
      checkFile(runLutTest(text, f), text);
    });
  }
});
