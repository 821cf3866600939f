/**
 * Replays the fuzzing regression corpus through the fuzz targets themselves (fuzz/targets.ts), without
 * the native fuzzer: every checked-in reproducer fuzz/regression/<target>/* (inputs that once threw a
 * non-coded error, hung or blew memory) and every seed fuzz/seeds/<target>/* must now be accepted or
 * rejected with coded lutc diagnostics. A target function throws for anything else, so the test fails
 * with that error. Each input must also finish within the fuzzer's per-input -timeout (10 s).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { LutcError } from '../../base/diagnostics.js';
import { isCoded, TARGET_NAMES, TARGETS } from '../../fuzz/targets.js';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const TIMEOUT_MS = 10_000;

function inputs(kind: 'regression' | 'seeds', target: string): string[] {
  const dir = path.join(root, 'fuzz', kind, target);
  return fs.existsSync(dir) ? fs.readdirSync(dir).map((f) => path.join(dir, f)) : [];
}

describe('fuzz regression corpus', () => {
  it('every target has seeds, and the corpus folders name only known targets', () => {
    for (const t of TARGET_NAMES) expect(inputs('seeds', t).length, t).toBeGreaterThan(0);
    for (const kind of ['regression', 'seeds']) {
      const dir = path.join(root, 'fuzz', kind);
      for (const t of fs.readdirSync(dir)) expect(TARGET_NAMES, `${kind}/${t}`).toContain(t);
    }
  });

  it('the classifier: a LutcError with a known code is coded, a TypeError or unknown code is not', () => {
    expect(isCoded(new LutcError({ code: 'LUT1001', severity: 'error', message: 'x' }))).toBe(true);
    expect(isCoded(new TypeError('x'))).toBe(false);
    expect(isCoded(new LutcError({ code: 'LUT9999' as 'LUT1001', severity: 'error', message: 'x' }))).toBe(false);
    expect(() => TARGETS.npy!(new TextEncoder().encode('not npy'))).not.toThrow();
  });

  for (const t of TARGET_NAMES) {
    const files = [...inputs('regression', t), ...inputs('seeds', t)];
    it.each(files.map((f) => [path.relative(root, f), f]))(`${t}: %s`, (_rel, file) => {
      const t0 = performance.now();
      TARGETS[t]!(fs.readFileSync(file));
      expect(performance.now() - t0).toBeLessThan(TIMEOUT_MS);
    });
  }
});
