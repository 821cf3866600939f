/**
 * docs/op-support.md is current: scripts/gen-op-support.ts renders it from the target registry, the
 * legalize rules and the expected-unsupported list (the data op-target.test.ts checks against every
 * target), and the checked-in page must equal that rendering (`npm run docs:ops` rewrites it).
 */
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DOC_FILE, writeOpSupportDoc } from '../../scripts/gen-op-support.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

describe('docs/op-support.md', () => {
  it(`is current (npm run docs:ops rewrites ${DOC_FILE})`, () => {
    expect(writeOpSupportDoc(root, true)).toBe(true);
  });
});
