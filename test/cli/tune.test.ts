/**
 * `lutc tune` end to end on examples/mlp.onnx (3 LUT layers at --bits 2), in process: tuning wasm and
 * c with a small budget writes cache entries keyed on the whole configuration; `lutc compile` then
 * takes them (stderr says how many layers took tuned plans, the IR shows the tuned layouts) and the
 * tuned wasm artifact computes the same outputs as the untuned one; a cache whose entries miss
 * (another ISA string, another thread count) leaves the artifact byte-identical; a corrupt cache is a
 * warning; usage errors are coded.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { relL2 } from '../../bench/timing.js';
import type { TuneEntry } from '../../compiler/tune-cache.js';
import { lutc, root, tmpDir } from './helpers.js';

const dir = tmpDir();
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const model = path.join(root, 'examples/mlp.onnx');
const entriesOf = (f: string) => (JSON.parse(fs.readFileSync(f, 'utf8')) as { entries: TuneEntry[] }).entries;
const writeEntries = (f: string, entries: TuneEntry[]) =>
  fs.writeFileSync(f, JSON.stringify({ format: 'lutc-tune-cache', version: 1, entries }));
/** Every file of an artifact folder, by name. */
const filesOf = (d: string) => Object.fromEntries(fs.readdirSync(d).map((f) => [f, fs.readFileSync(path.join(d, f))]));

describe('lutc tune', () => {
  it('wasm: tunes, and compile takes the tuned plans with the same outputs; a missing entry changes nothing', async () => {
    const cache = path.join(dir, 'wasm.json');
    const t = await lutc('tune', model, '--target', 'wasm', '--bits', '2', '--m', '1,32', '--budget', '300', '--cache', cache);
    expect(t.code, t.stderr).toBe(0);
    expect(t.stderr).toMatch(/tune: \[6\/6\] n=10 k=128 bits=2 group=128 i8 M=32: scalar-lut [\d.]+us, vec-lut [\d.]+us -> /);
    expect(t.stdout.split('\n')[0]).toMatch(/^layer .* default plan .* tuned plan .* speedup$/);
    const entries = entriesOf(cache);
    expect(entries.map((e) => [e.key.target, e.key.n, e.key.k, e.key.group, e.key.mBucket])).toEqual([
      ['wasm', 128, 64, 64, 1],
      ['wasm', 128, 64, 64, 32],
      ['wasm', 128, 128, 128, 1],
      ['wasm', 128, 128, 128, 32],
      ['wasm', 10, 128, 128, 1],
      ['wasm', 10, 128, 128, 32],
    ]);
    // Pin the M = 32 winners to scalar LUT (the default plan there is Vec-LUT), so the tuned compile
    // differs from the untuned one whatever this machine measured.
    writeEntries(
      cache,
      entries.map((e) => (e.key.mBucket === 32 ? { ...e, plan: { ...e.plan, layout: 'token' } } : e)),
    );
    const tunedDir = path.join(dir, 'tuned');
    const a = await lutc(
      'compile',
      model,
      '-t',
      'wasm',
      '--bits',
      '2',
      '--dim',
      'batch=32',
      '--tune-cache',
      cache,
      '-o',
      tunedDir,
      '--print-ir-after',
      'tile',
    );
    expect(a.code, a.stderr).toBe(0);
    expect(a.stderr).toContain(`tune: 3 of 3 LUT layers took tuned plans from ${cache}`);
    expect(a.stdout.match(/table_layout = "token"/g)).toHaveLength(3);
    const plainDir = path.join(dir, 'plain');
    const b = await lutc('compile', model, '-t', 'wasm', '--bits', '2', '--dim', 'batch=32', '--no-tune-cache', '-o', plainDir);
    expect(b.code, b.stderr).toBe(0);
    expect(b.stderr).not.toContain('tune:');

    const { loadArtifactModule } = await import('../../backends/wasm/model/index.js');
    const x = Float32Array.from({ length: 32 * 64 }, (_, i) => Math.sin(i * 0.37));
    const run = async (d: string) => (await loadArtifactModule(d)).run({ x }).y!.data as Float32Array;
    const [yt, yp] = [await run(tunedDir), await run(plainDir)];
    expect(yt.length).toBe(32 * 10);
    // The tuned plan changes only the table layout the tile pass names; the kernels' scalar- and
    // vector-LUT paths are bit-identical (backends/wasm/veclut.ts), so 1e-6 only allows float
    // reordering, far below the int8-table error (~1e-2) that a wrong table layout would exceed.
    expect(relL2(yt, yp)).toBeLessThanOrEqual(1e-6);

    // entries for another ISA string: every lookup misses, the artifact is the untuned one
    const other = path.join(dir, 'other-isa.json');
    writeEntries(
      other,
      entriesOf(cache).map((e) => ({ ...e, key: { ...e.key, isa: `${e.key.isa},other` } })),
    );
    const missDir = path.join(dir, 'miss');
    const c = await lutc('compile', model, '-t', 'wasm', '--bits', '2', '--dim', 'batch=32', '--tune-cache', other, '-o', missDir);
    expect(c.code, c.stderr).toBe(0);
    expect(c.stderr).toContain(`tune: 0 of 3 LUT layers took tuned plans from ${other}`);
    expect(filesOf(missDir)).toEqual(filesOf(plainDir));
  }, 120_000);

  it('c: tunes threads; compile finds the entries for the same threads only; a corrupt cache is a warning', async () => {
    const cache = path.join(dir, 'c.json');
    const t = await lutc('tune', model, '--target', 'c', '--bits', '2', '--m', '1', '--budget', '200', '--cache', cache);
    expect(t.code, t.stderr).toBe(0);
    const entries = entriesOf(cache);
    expect(entries).toHaveLength(3);
    expect(entries.every((e) => e.key.target === 'c' && e.key.threads === 1 && /cc|unavailable/.test(e.key.isa))).toBe(true);
    const hit = await lutc(
      'compile',
      model,
      '-t',
      'c',
      '--bits',
      '2',
      '--dim',
      'batch=1',
      '--tune-cache',
      cache,
      '-o',
      path.join(dir, 'c1'),
    );
    expect(hit.code, hit.stderr).toBe(0);
    expect(hit.stderr).toContain(`tune: 3 of 3 lut.gemm layers have entries in ${cache}`);
    const miss = await lutc(
      'compile',
      model,
      '-t',
      'c',
      '--bits',
      '2',
      '--dim',
      'batch=1',
      '--threads',
      '2',
      '--tune-cache',
      cache,
      '-o',
      path.join(dir, 'c2'),
    );
    expect(miss.code, miss.stderr).toBe(0);
    expect(miss.stderr).toContain('tune: 0 of 3 lut.gemm layers have entries');
    const bad = path.join(dir, 'corrupt.json');
    fs.writeFileSync(bad, 'not json');
    const r = await lutc('compile', model, '-t', 'c', '--bits', '2', '--tune-cache', bad, '-o', path.join(dir, 'c3'));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/warning: tune cache '.*corrupt\.json' is not valid JSON/);
  }, 60_000);

  it("c: a layer whose winner ran on 1 thread runs on 1 in a model of N threads (the fused kernel's knob); --quiet", async () => {
    const cache = path.join(dir, 'c2.json');
    const t = await lutc(
      'tune',
      model,
      '--target',
      'c',
      '--bits',
      '2',
      '--m',
      '1',
      '--threads',
      '2',
      '--budget',
      '200',
      '--cache',
      cache,
      '-q',
    );
    expect(t.code, t.stderr).toBe(0);
    expect(t.stderr).toBe(''); // --quiet: no per-slot lines, notes or progress
    const entries = entriesOf(cache);
    expect(entries).toHaveLength(3);
    const calls = (d: string) =>
      [...fs.readFileSync(path.join(d, 'model.c'), 'utf8').matchAll(/_gemm\(lutc_pk\[\d+\].*, ([^,]+)\) != 0\)/g)].map((m) => m[1]);
    const compile = async (c: string, out: string) => {
      const r = await lutc(
        'compile',
        model,
        '-t',
        'c',
        '--bits',
        '2',
        '--dim',
        'batch=1',
        '--threads',
        '2',
        '--tune-cache',
        c,
        '-o',
        out,
        '-q',
      );
      expect(r.code, r.stderr).toBe(0);
      return calls(out);
    };
    // every winner on 2 threads: the model's threads everywhere (what an untuned compile passes)
    writeEntries(
      cache,
      entries.map((e) => ({ ...e, plan: { ...e.plan, threads: 2 } })),
    );
    expect(await compile(cache, path.join(dir, 'c2a'))).toEqual(['lutc_threads', 'lutc_threads', 'lutc_threads']);
    // the first layer's winner on 1 thread: that layer's call passes 1, the others the model's
    writeEntries(
      cache,
      entries.map((e, i) => ({ ...e, plan: { ...e.plan, threads: i === 0 ? 1 : 2 } })),
    );
    const one = await compile(cache, path.join(dir, 'c2b'));
    expect(one.filter((a) => a === '1')).toHaveLength(1);
    expect(one.filter((a) => a === 'lutc_threads')).toHaveLength(2);
  }, 60_000);

  it('usage errors are coded', async () => {
    const wgsl = await lutc('tune', model, '--target', 'wgsl');
    expect([wgsl.code, wgsl.stderr]).toEqual([2, expect.stringContaining('LUT6003')]);
    const m0 = await lutc('tune', model, '--target', 'c', '--m', '1,0');
    expect([m0.code, m0.stderr]).toEqual([2, expect.stringContaining("LUT6003: tune: invalid --m '0'")]);
    const bits = await lutc('tune', model, '--target', 'c', '--bits', '5');
    expect([bits.code, bits.stderr]).toEqual([2, expect.stringContaining("LUT6003: tune: invalid --bits '5'")]);
    const flag = await lutc('tune', model, '--target', 'c', '--print-ir-after', 'tile');
    expect([flag.code, flag.stderr]).toEqual([2, expect.stringContaining('LUT6001')]);
    const both = await lutc('compile', model, '-t', 'c', '--tune-cache', 'x.json', '--no-tune-cache');
    expect([both.code, both.stderr]).toEqual([2, expect.stringContaining('LUT6003')]);
    // a float model without --bits has no LUT layers: said, nothing written, not an error
    const none = await lutc('tune', model, '--target', 'c', '--cache', path.join(dir, 'none.json'));
    expect([none.code, none.stderr]).toEqual([0, expect.stringContaining('tune: the model has no LUT layers')]);
    expect(fs.existsSync(path.join(dir, 'none.json'))).toBe(false);
    const help = await lutc('tune', '--help');
    expect([help.code, help.stdout]).toEqual([0, expect.stringMatching(/^usage: lutc tune /)]);
    expect((await lutc('--help')).stdout).toContain('  tune ');
  });
});
