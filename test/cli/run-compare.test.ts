/**
 * What `lutc run` shows about a run (docs/cli.md): `--compare float|ort` prints each output's max-abs
 * and rel-L2 error against the float model on the reference interpreter or onnxruntime-node, checked
 * here against the same errors computed from the runs' own .npy outputs; stderr gets the wall time of
 * the target's run call (`run: ... (target T)`) for every target, parsed from the C harness for c, and
 * the WebGPU adapter for wgsl; bad --compare values are usage errors.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import '../../ir/ops/index.js';
import { describeAdapter } from '../../backends/wgsl/device.js';
import { LutcError } from '../../base/diagnostics.js';
import { loadOrtNode } from '../../compiler/cli/compare.js';
import { readNpyFile, writeNpyFile } from '../../compiler/npy.js';
import type { Tensor } from '../../ir/types.js';
import { randomInput } from '../helpers/models.js';
import { runOrt } from '../helpers/ort.js';
import { F32_EXACT, relL2 } from '../helpers/tolerance.js';
import { expectCleanDiagnostics, lutc, root, tmpDir } from './helpers.js';

const MLP = path.join(root, 'examples/mlp.onnx');
const work = tmpDir();
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));
let counter = 0;
const fresh = () => path.join(work, `out-${counter++}`);
const xf = path.join(work, 'x.npy');
const x = randomInput([3, 64], 11);
writeNpyFile(xf, x);

function maxAbs(a: Tensor, b: Tensor): number {
  let m = 0;
  for (let i = 0; i < b.data.length; i++) m = Math.max(m, Math.abs(Number(a.data[i]) - Number(b.data[i])));
  return m;
}

/** The printed `compare MODE: y: max-abs A rel-L2 R` of output y. */
function printed(stdout: string, mode: string): { maxAbs: number; relL2: number } {
  const m = new RegExp(`^compare ${mode}: y: max-abs (\\S+) rel-L2 (\\S+) \\(vs `, 'm').exec(stdout);
  expect(m, stdout).not.toBeNull();
  return { maxAbs: Number(m![1]), relL2: Number(m![2]) };
}

/** The stderr `run: T us|ms (target X...)` time in ms. */
function runTime(stderr: string, target: string): number {
  const m = new RegExp(`^run: (\\d+\\.\\d+) (us|ms) \\(target ${target}[;)]`, 'm').exec(stderr);
  expect(m, stderr).not.toBeNull();
  return Number(m![1]) / (m![2] === 'us' ? 1000 : 1);
}

/** Runs and returns output y from --out (plus the CLI result). */
async function runY(...args: string[]) {
  const out = fresh();
  const r = await lutc('run', MLP, '--input', `x=${xf}`, '--out', out, ...args);
  expect(r.code, r.stderr).toBe(0);
  return { r, y: readNpyFile(path.join(out, 'y.npy')) };
}

/** Expects a printed 4-digit value to be `want` rounded (relative 1e-3), and exactly 0 for 0. */
function expectPrinted(got: number, want: number): void {
  if (want === 0) expect(got).toBe(0);
  else expect(Math.abs(got - want) / want).toBeLessThan(1e-3);
}

describe('run --compare float: what quantization costs', () => {
  let yf: Tensor;
  beforeAll(async () => {
    yf = (await runY('--target', 'ref')).y;
  });
  for (const target of ['ref', 'wasm']) {
    it(`--target ${target} --bits 4 --tables f32: max-abs and rel-L2 against the float run's own outputs`, async () => {
      const { r, y } = await runY('--target', target, '--bits', '4', '--tables', 'f32', '--compare', 'float');
      const p = printed(r.stdout, 'float');
      const want = { maxAbs: maxAbs(y, yf), relL2: relL2(y, yf) };
      expect(want.relL2).toBeGreaterThan(0); // 4-bit weights do change the outputs
      expectPrinted(p.relL2, want.relL2);
      expectPrinted(p.maxAbs, want.maxAbs);
      expect(p.relL2).toBeGreaterThan(0);
      expect(runTime(r.stderr, target)).toBeGreaterThan(0);
    });
  }
  it('without --bits the float model against itself is 0', async () => {
    const { r } = await runY('--target', 'ref', '--compare', 'float');
    expect(printed(r.stdout, 'float')).toEqual({ maxAbs: 0, relL2: 0 });
  });
});

describe('run --compare ort', () => {
  it('the float model on ref vs onnxruntime-node: ~1e-7, the value computed from both outputs', async () => {
    const { r, y } = await runY('--target', 'ref', '--compare', 'ort');
    const yo = (await runOrt(MLP, { x }))[0]!;
    const p = printed(r.stdout, 'ort');
    expectPrinted(p.relL2, relL2(y, yo));
    expectPrinted(p.maxAbs, maxAbs(y, yo));
    expect(p.relL2).toBeLessThanOrEqual(F32_EXACT);
    expect(r.stdout).toContain('(vs onnxruntime-node)');
  });
  it('with --target c (and the harness time parsed into the run line)', async () => {
    const { r, y } = await runY('--target', 'c', '--compare', 'ort');
    const yo = (await runOrt(MLP, { x }))[0]!;
    expectPrinted(printed(r.stdout, 'ort').relL2, relL2(y, yo));
    expect(runTime(r.stderr, 'c')).toBeGreaterThan(0);
  });
  it('a missing onnxruntime-node is a coded error naming the package', async () => {
    const e = await loadOrtNode('onnxruntime-node-not-installed').catch((err: unknown) => err);
    expect(e).toBeInstanceOf(LutcError);
    expect((e as LutcError).message).toMatch(/LUT6040.*'onnxruntime-node-not-installed'/);
  });
});

describe('run --compare usage errors', () => {
  it('a bad value, and ort on a .lut file: exit 2, LUT6003, nothing written', async () => {
    const out = fresh();
    const bad = await lutc('run', MLP, '--target', 'ref', '--compare', 'fp16', '--out', out);
    expect(bad.code).toBe(2);
    expectCleanDiagnostics(bad.stderr);
    expect(bad.stderr).toMatch(/error LUT6003: run: invalid --compare 'fp16'; expected float or ort/);
    const lut = path.join(root, 'test/ir/cases/norm.lut');
    const ort = await lutc('run', lut, '--target', 'ref', '--compare', 'ort', '--out', out);
    expect(ort.code).toBe(2);
    expect(ort.stderr).toMatch(/error LUT6003: run: --compare ort needs an \.onnx model/);
    expect(fs.existsSync(out)).toBe(false);
  });
});

describe('run: the adapter of a wgsl run', () => {
  it('describeAdapter names every field and marks SwiftShader', () => {
    const ss = describeAdapter({ vendor: 'google', architecture: 'swiftshader', device: '', description: 'SwiftShader Device (Subzero)' });
    expect(ss).toBe('vendor google, architecture swiftshader, description SwiftShader Device (Subzero) [SwiftShader: CPU emulation]');
    expect(describeAdapter({ vendor: 'nvidia', architecture: 'hopper', device: '0x2335', description: 'NVIDIA H200' })).toBe(
      'vendor nvidia, architecture hopper, device 0x2335, description NVIDIA H200',
    );
    expect(describeAdapter({})).toBe('unknown adapter');
  });
  it('lutc run --target wgsl prints the time and the adapter on stderr', async () => {
    const { r } = await runY('--target', 'wgsl');
    expect(runTime(r.stderr, 'wgsl')).toBeGreaterThan(0);
    const m = /^run: .* \(target wgsl; adapter: (.+)\)$/m.exec(r.stderr);
    expect(m, r.stderr).not.toBeNull();
    expect(m![1]).toMatch(/^(vendor|architecture|device|description) /);
    if (/swiftshader/i.test(m![1]!)) expect(m![1]).toContain('[SwiftShader: CPU emulation]');
  });
});
