/**
 * A new user's first hour (lutc issue 15): huge `--dim` values are coded diagnostics (exit 1,
 * nothing written): the import's memory limit (LUT1008), and past it (`--max-tensor-bytes`) "shapes
 * too large" for run and for every compiled target; a failing compile
 * leaves no folder; the paths compile prints exist; `--print-ir-after` keeps stdout pure IR (a .lut
 * file lutc parses); every diagnostic line has a location or the `lutc:` prefix (docs/cli.md "Exit
 * status and streams"); `npm run bench -- --help` exits 0; the README's browser and .npy notes hold.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readNpyFile, writeNpyFile } from '../../compiler/npy.js';
import { OnnxBuilder } from '../../compiler/onnx/builder.js';
import { parseGraph } from '../../ir/parser.js';
import { makeTensor } from '../../ir/tensor.js';
import { ensureBuilt, expectCleanDiagnostics, lutc, root, tmpDir } from './helpers.js';

const MLP = path.join(root, 'examples/mlp.onnx'); // x: f32 [batch, 64]
const work = tmpDir();
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

/** A diagnosed failure: exit 1, a coded diagnostic with a location or `lutc:`, no stdout, no folder. */
function expectDiagnosed(r: { code: number; stdout: string; stderr: string }, code: string, out?: string): void {
  expect(r.code, r.stderr).toBe(1);
  expectCleanDiagnostics(r.stderr);
  expect(r.stderr).toContain(`error ${code}: `);
  expectLocatedLines(r.stderr);
  expect(r.stdout).toBe('');
  if (out) {
    expect(fs.existsSync(out), `${out} was created`).toBe(false);
    expect(fs.readdirSync(path.dirname(out)).filter((f) => f.includes('lutc-tmp'))).toEqual([]);
  }
}

/** Every diagnostic line starts with a location (`file: ...`) or `lutc: `, never a bare severity. */
function expectLocatedLines(stderr: string): void {
  for (const line of stderr.split('\n').filter((l) => / LUT\d{4}: /.test(l))) expect(line).not.toMatch(/^(error|warning|note) LUT/);
}

describe('shapes too large', () => {
  for (const target of ['ref', 'wasm', 'c', 'wgsl']) {
    it(`run --target ${target} --dim batch=1e8: the import's limit (LUT1008), raised: LUT6009; before allocating, nothing written`, async () => {
      const out = path.join(work, `run-${target}`);
      const r = await lutc('run', MLP, '--target', target, '--dim', 'batch=100000000', '--out', out);
      expectDiagnosed(r, 'LUT1008', out);
      expect(r.stderr).toMatch(
        /value 'x' \(shape \[100000000, 64\] of f32\) needs 25600000000 bytes, more than the limit of 8589934592 \(raise it with --max-tensor-bytes\)/,
      );
      const raised = await lutc('run', MLP, '--target', target, '--dim', 'batch=100000000', '--max-tensor-bytes', '1T', '--out', out);
      expectDiagnosed(raised, 'LUT6009', out);
      expect(raised.stderr).toMatch(/shapes too large: input 'x' \(f32 \[100000000, 64\]\)/);
    });
  }

  it('an op the interpreter cannot allocate for is LUT3060 naming the node', async () => {
    // ConstantOfShape of a run-time shape: the output size is known only when the node runs
    const b = new OnnxBuilder({ opset: 17 });
    const s = b.input('s', 'i64', [1]);
    const [y] = b.node('ConstantOfShape', [s], { outputs: ['y'], name: 'fill' });
    b.output(y!, 'f32');
    const model = path.join(work, 'fill.onnx');
    fs.writeFileSync(model, b.toBytes());
    const npy = path.join(work, 's.npy');
    writeNpyFile(npy, makeTensor('i64', [1], [2 ** 40]));
    const ok = await lutc('run', model, '--target', 'ref', '--input', `s=${npy}`);
    expect(ok.code).not.toBe(70);
    expectDiagnosed(ok, 'LUT3060');
    expect(ok.stderr).toMatch(/node 'fill' \(ConstantOfShape\): error LUT3060: shapes too large to run/);
  });

  it('compile --target wasm|c|wgsl beyond what the target addresses: a coded error, no folder', async () => {
    const cases = [
      { target: 'wasm', args: ['--dim', 'batch=600000000'], code: 'LUT5058' },
      { target: 'wgsl', args: ['--dim', 'batch=600000000'], code: 'LUT5209' },
      // a LUT layer's row count M is a C int
      { target: 'c', args: ['--bits', '2', '--dim', 'batch=3000000000'], code: 'LUT5107' },
    ];
    for (const c of cases) {
      const out = path.join(work, `big-${c.target}`);
      // (past the import's memory limit, which is LUT1008 by default: test/fuzz/limits.test.ts)
      const r = await lutc('compile', MLP, '--target', c.target, ...c.args, '--max-tensor-bytes', '2T', '-o', out);
      expect(r.code, `${c.target}: ${r.stderr}`).toBe(1);
      expect(r.stderr, c.target).toContain(`error ${c.code}: `);
      expect(r.stderr).toMatch(/shapes too large|more than wasm32/);
      expectCleanDiagnostics(r.stderr);
      expect(r.stdout, c.target).toBe('');
      expect(fs.existsSync(out), `${c.target} left ${out}`).toBe(false);
    }
    // the same plans within the caps compile (the cap is what failed, not the model)
    const fine = await lutc(
      'compile',
      MLP,
      '--target',
      'c',
      '--bits',
      '2',
      '--dim',
      'batch=2000000000',
      '--max-tensor-bytes',
      '2T',
      '-o',
      path.join(work, 'c-ok'),
    );
    expect(fine.code, fine.stderr).toBe(0);
  });
});

describe('compile output', () => {
  it('a failing compile leaves no folder, for every target', async () => {
    const b = new OnnxBuilder({ opset: 17 });
    const x = b.input('x', 'f32', [2]);
    const [y] = b.node('FrobnicateTensor', [x], { outputs: ['y'] });
    b.output(y!, 'f32', [2]);
    const model = path.join(work, 'unknown-op.onnx');
    fs.writeFileSync(model, b.toBytes());
    for (const target of ['wasm', 'c', 'wgsl']) {
      const out = path.join(work, `fail-${target}`);
      const r = await lutc('compile', model, '--target', target, '-o', out);
      expectDiagnosed(r, 'LUT1101', out);
    }
  });

  it('prints the paths it wrote, for every target', async () => {
    for (const target of ['wasm', 'c', 'wgsl']) {
      const out = path.join(work, `paths-${target}`);
      const r = await lutc('compile', MLP, '--target', target, '--bits', '2', '-o', out);
      expect(r.code, r.stderr).toBe(0);
      const listed = r.stdout.trim().split('\n');
      expect(listed.length).toBeGreaterThan(2);
      for (const f of listed) expect(fs.statSync(f).isFile(), `${target}: ${f}`).toBe(true);
      if (target === 'wgsl') expect(listed.some((f) => f.startsWith(path.join(out, 'shaders') + path.sep))).toBe(true);
    }
  });

  it('--print-ir-after P: stdout is one .lut file lutc parses, the file list goes to stderr', async () => {
    const out = path.join(work, 'ir-c');
    const r = await lutc('compile', MLP, '--target', 'c', '--bits', '2', '--print-ir-after', 'lower-linear', '-o', out);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^\/\/ ----- IR after lower-linear -----\n/);
    const g = parseGraph(r.stdout, 'x.lut');
    expect(g.nodes.some((n) => n.op.startsWith('lut.'))).toBe(true);
    expect(r.stdout).not.toContain(out);
    expect(r.stderr).toContain(path.join(out, 'model.c'));
    // and the file round-trips through the CLI
    const lut = path.join(work, 'x.lut');
    fs.writeFileSync(lut, r.stdout);
    const run = await lutc('run', lut, '--target', 'ref');
    expect(run.code, run.stderr).toBe(0);
  });
});

describe('diagnostic format', () => {
  it('a diagnostic without a file prints as lutc: error LUTnnnn', async () => {
    const r = await lutc('bench', MLP, '--target', 'wgsl');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^lutc: error LUT6011: /m);
    expectLocatedLines(r.stderr);
    const w = await lutc('compile', MLP, '--target', 'c', '-o', path.join(work, 'no', 'x'.repeat(300)));
    expectLocatedLines(w.stderr);
  });
});

describe('bench and docs', () => {
  it('npm run bench -- --help prints the usage and exits 0', () => {
    const r = spawnSync(process.execPath, [path.join(root, 'node_modules/tsx/dist/cli.mjs'), path.join(root, 'bench/run.ts'), '--help'], {
      cwd: root,
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^usage: npm run bench -- /);
    const bad = spawnSync(process.execPath, [path.join(root, 'node_modules/tsx/dist/cli.mjs'), path.join(root, 'bench/run.ts'), '--frob'], {
      cwd: root,
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('unknown option --frob');
  });

  it('examples/browser/README.md exists, is linked, and names the flags the browser test uses', () => {
    const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
    expect(readme).toContain('(examples/browser/README.md)');
    const doc = fs.readFileSync(path.join(root, 'examples/browser/README.md'), 'utf8');
    const test = fs.readFileSync(path.join(root, 'test/helpers/browser.ts'), 'utf8'); // the browser tests' launch flags
    const flags = [...test.matchAll(/'(--(?:enable|use)[^']*)'/g)].map((m) => m[1]!);
    expect(flags.length).toBeGreaterThanOrEqual(3);
    for (const f of flags) expect(doc, f).toContain(f);
    expect(doc).toContain('node examples/browser/serve.mjs');
  });

  it("the README's Node snippet writes an .npy that lutc reads", () => {
    ensureBuilt();
    const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
    const m = /node -e "(import\('lutc'\)[^"]*writeNpyFile\('x\.npy'[^"]*)"/.exec(readme);
    expect(m, 'README has the node -e writeNpyFile snippet').not.toBeNull();
    const file = path.join(work, 'readme-x.npy');
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', m![1]!.replace("'x.npy'", JSON.stringify(file))], {
      cwd: root,
      encoding: 'utf8',
    });
    expect(r.status, r.stderr).toBe(0);
    const t = readNpyFile(file);
    expect(t.dtype).toBe('f32');
    expect(t.shape).toEqual([1, 64]);
  });
});
