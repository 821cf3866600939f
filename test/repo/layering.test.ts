/**
 * The layering check (`npm run lint:deps`, .dependency-cruiser.cjs) catches what it is for: a fixture
 * tree laid out like the repository, with a deliberate import cycle, base/ importing compiler/, ir/
 * importing passes/, passes/ importing a backend renderer and a backend importing the CLI, fails with
 * each of those rules; the same tree without them passes. The real tree is checked by `npm test`
 * itself (`npm run lint` runs before vitest).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const depcruise = path.join(root, 'node_modules/dependency-cruiser/bin/dependency-cruise.mjs');
const dirs: string[] = [];

/** Writes `files` (path -> source) into a fresh folder with the repository's config and tsconfig. */
function fixture(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lutc-layering-'));
  dirs.push(dir);
  fs.copyFileSync(path.join(root, '.dependency-cruiser.cjs'), path.join(dir, '.dependency-cruiser.cjs'));
  fs.writeFileSync(
    path.join(dir, 'tsconfig.json'),
    JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', strict: true } }),
  );
  for (const [f, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    fs.writeFileSync(path.join(dir, f), text);
  }
  return dir;
}

/** Runs the lint:deps command line in `dir`: exit status and the violations it printed. */
function lintDeps(dir: string): { status: number | null; out: string } {
  const r = spawnSync(
    process.execPath,
    [depcruise, '--config', '.dependency-cruiser.cjs', '--output-type', 'err', 'base', 'compiler', 'ir', 'passes', 'backends'],
    {
      cwd: dir,
      encoding: 'utf8',
    },
  );
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

const clean: Record<string, string> = {
  'base/diagnostics.ts': "export const code = 'x';\n",
  'ir/types.ts': "import { code } from '../base/diagnostics.js';\nexport const t = code;\n",
  'passes/pass.ts': "import { t } from '../ir/types.js';\nexport const p = t;\n",
  'backends/target.ts': "export const targets = ['c'];\n",
  'passes/tile.ts': "import { targets } from '../backends/target.js';\nimport { p } from './pass.js';\nexport const tile = [p, targets];\n",
  'compiler/npy.ts': 'export const npy = 1;\n',
  'compiler/cli/model.ts': "import { npy } from '../npy.js';\nexport const model = npy;\n",
  'backends/c/harness.ts': "import { npy } from '../../compiler/npy.js';\nexport const h = npy;\n",
};

afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

describe('npm run lint:deps', () => {
  it('passes a tree that keeps the layering', () => {
    const r = lintDeps(fixture(clean));
    expect(r.out).not.toMatch(/error/);
    expect(r.status).toBe(0);
  }, 60_000);

  it('fails on an import cycle and on each layering violation', () => {
    const r = lintDeps(
      fixture({
        ...clean,
        // a cycle: passes/pass.ts <-> passes/registry.ts (type-only imports count)
        'passes/registry.ts': "import type { p } from './pass.js';\nexport type R = typeof p;\n",
        'passes/pass.ts':
          "import { t } from '../ir/types.js';\nimport type { R } from './registry.js';\nexport const p = t;\nexport type Q = R;\n",
        'base/random.ts': "import { npy } from '../compiler/npy.js';\nexport const r = npy;\n",
        'ir/graph.ts': "import { p } from '../passes/pass.js';\nexport const g = p;\n",
        'passes/fuse.ts': "import { h } from '../backends/c/harness.js';\nexport const f = h;\n",
        'backends/c/run.ts': "import { model } from '../../compiler/cli/model.js';\nexport const run = model;\n",
      }),
    );
    expect(r.status).not.toBe(0);
    for (const rule of [
      'no-circular',
      'base-imports-only-base',
      'ir-below-compiler-passes-backends',
      'passes-not-backends',
      'backends-not-cli',
    ]) {
      expect(r.out, rule).toContain(rule);
    }
  }, 60_000);
});
