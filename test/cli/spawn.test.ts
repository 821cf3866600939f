/**
 * The real command: `node bin/lutc.mjs` as a user runs it (dist/ built by `npm test`, or on demand
 * here). Covers the exit codes and streams end to end; the in-process tests cover the rest.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BAD_MODELS, ensureBuilt, expectCleanDiagnostics, root, spawnLutc, tmpDir } from './helpers.js';

const work = tmpDir();
beforeAll(() => ensureBuilt());
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

describe('node bin/lutc.mjs', () => {
  it('--version and --help exit 0 on stdout', () => {
    const v = spawnLutc(['--version']);
    expect(v.code).toBe(0);
    expect(v.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
    const h = spawnLutc(['run', '--help']);
    expect(h.code).toBe(0);
    expect(h.stdout).toMatch(/^usage: lutc run /);
  });
  it('the README command: run examples/mlp.onnx --target ref --out DIR', () => {
    const out = path.join(work, 'out');
    const r = spawnLutc(['run', 'examples/mlp.onnx', '--target', 'ref', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(fs.readFileSync(path.join(out, 'outputs.json'), 'utf8'))).toEqual([
      { name: 'y', file: 'y.npy', shape: [1, 10], dtype: 'f32' },
    ]);
    expect(fs.existsSync(path.join(out, 'y.npy'))).toBe(true);
  });
  it('usage error exits 2 with a code on stderr', () => {
    const r = spawnLutc(['run', 'examples/mlp.onnx', '--target', 'foo']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('error LUT6003: ');
    expect(r.stdout).toBe('');
  });
  it('a bad model exits 1 with a coded diagnostic, no stack, no output', () => {
    const dir = path.join(work, 'bad');
    fs.mkdirSync(dir);
    const out = path.join(work, 'bad-out');
    const r = spawnLutc(['run', BAD_MODELS['random bytes']!(dir), '--target', 'ref', '--out', out]);
    expect(r.code).toBe(1);
    expectCleanDiagnostics(r.stderr);
    expect(fs.existsSync(out)).toBe(false);
  });
  it('runs from another working directory', () => {
    const r = spawnLutc(['inspect', path.join(root, 'examples/mlp.onnx'), '--json'], work);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).inputs[0].name).toBe('x');
  });
});
