/**
 * The kernel-only C example of docs/c-kernel.md builds as documented (its Makefile generates the
 * kernel with the CLI, then plain cc) and its own check passes: the program exits 1 when lutc's y is
 * further than 3e-2 of max|y| from a float64 dequantize-and-multiply (int8 tables give ~1e-2).
 */

import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(__dirname, '../../..');

describe('examples/c-kernel', () => {
  it('make builds the demo from a generated kernel, and the demo checks itself', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'lutc-cex-'));
    try {
      cpSync(path.join(root, 'examples/c-kernel/main.c'), path.join(dir, 'main.c'));
      cpSync(path.join(root, 'examples/c-kernel/Makefile'), path.join(dir, 'Makefile'));
      execFileSync('make', ['-s', '-C', dir, `LUTC=node ${path.join(root, 'bin/lutc.mjs')}`], { stdio: 'pipe' });
      const out = execFileSync(path.join(dir, 'demo'), { encoding: 'utf8' });
      expect(out).toMatch(/max error [0-9.e+-]+ of max \|y\|/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
