/**
 * The packed image of the C artifact (weights.packed.bin: the LUT layers packed for the build's ISA,
 * written by `make` through `./model pack`, mapped by later runs instead of packing at load;
 * kernels-lut.ts lutc_lut_use/lutc_lut_save, harness.ts): `make` writes it; a run that maps it gives
 * the bits of a run that packs at load; it is really what runs (a changed payload byte changes y); a
 * header that does not fit this model and ISA (another ISA value, another model's weights) is a
 * warning and the layers are packed at load, or with `-p` an error (exit 1, no outputs written);
 * `model pack -o` writes it anywhere. 3-bit (the general unpack) and 2-bit layers.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileModel } from '../../../backends/c/compile.js';
import { writeNpyFile } from '../../../compiler/npy.js';
import { buildMlp, randomInput } from '../../helpers/models.js';
import { lowered } from './helpers.js';

const tmp = (p: string) => fs.mkdtempSync(path.join(tmpdir(), `lutc-cpacked-${p}-`));

/** Runs the harness in `dir` on x.npy into a fresh folder; returns status, stderr and y's bytes (or null). */
function run(dir: string, extra: string[] = []): { status: number | null; stderr: string; y: Buffer | null } {
  const out = fs.mkdtempSync(path.join(dir, 'out-'));
  const r = spawnSync(path.join(dir, 'model'), [...extra, '-o', out, `x=${path.join(dir, 'x.npy')}`], { encoding: 'utf8' });
  const f = path.join(out, 'y.npy');
  return { status: r.status, stderr: r.stderr, y: fs.existsSync(f) ? fs.readFileSync(f) : null };
}

describe('c model: the packed image (weights.packed.bin)', () => {
  for (const [bits, seed] of [
    [3, 8],
    [2, 9],
  ] as const) {
    it(`make writes it and runs map it with the bits of packing at load (${bits}-bit layers)`, async () => {
      const g = lowered(buildMlp({ dims: [45, 37, 19], batch: 3, seed }), { bits, groupSize: 16 });
      const dir = tmp(`b${bits}`);
      await compileModel(g, { target: 'c', embedWeights: false } as never, dir);
      execFileSync('make', ['-C', dir, 'CFLAGS=-O1'], { stdio: 'pipe' });
      const img = path.join(dir, 'weights.packed.bin');
      expect(fs.existsSync(img)).toBe(true);
      writeNpyFile(path.join(dir, 'x.npy'), randomInput([3, 45], 22));
      const mapped = run(dir);
      expect(mapped.status, mapped.stderr).toBe(0);
      expect(mapped.stderr).toBe('');
      // without the image: packed at load, the same bits
      const bytes = fs.readFileSync(img);
      fs.rmSync(img);
      const atLoad = run(dir);
      expect(atLoad.status, atLoad.stderr).toBe(0);
      expect(mapped.y!.equals(atLoad.y!)).toBe(true);
      // the image is what runs: a changed byte of the first layer's packed weights changes y
      const bad = Buffer.from(bytes);
      for (let i = 64; i < 96; i++) bad[i] = bad[i]! ^ 0xff;
      fs.writeFileSync(img, bad);
      const changed = run(dir);
      expect(changed.status, changed.stderr).toBe(0);
      expect(changed.y!.equals(atLoad.y!)).toBe(false);
      // a header for another ISA: a warning, packed at load, the right bits
      const other = Buffer.from(bytes);
      other[8] = other[8]! ^ 0x40;
      fs.writeFileSync(img, other);
      const stale = run(dir);
      expect(stale.status, stale.stderr).toBe(0);
      expect(stale.stderr).toMatch(/warning: .*weights\.packed\.bin is stale or for another ISA/);
      expect(stale.y!.equals(atLoad.y!)).toBe(true);
      // named with -p it must fit: exit 1, nothing written
      const named = run(dir, ['-p', img]);
      expect(named.status).toBe(1);
      expect(named.stderr).toMatch(/packed weights file is not this model's for this build's ISA/);
      expect(named.y).toBeNull();
      expect(run(dir, ['-p', path.join(dir, 'missing.bin')]).status).toBe(1);
      // model pack -o writes it anywhere; -p uses it
      const elsewhere = path.join(dir, 'elsewhere.bin');
      execFileSync(path.join(dir, 'model'), ['pack', '-o', elsewhere], { stdio: 'pipe' });
      expect(fs.readFileSync(elsewhere).equals(bytes)).toBe(true);
      const viaP = run(dir, ['-p', elsewhere]);
      expect(viaP.status, viaP.stderr).toBe(0);
      expect(viaP.y!.equals(atLoad.y!)).toBe(true);
    });
  }

  it("another model's image (same shapes, other weights) is stale: a warning and the right bits", async () => {
    const mk = async (seed: number) => {
      const g = lowered(buildMlp({ dims: [45, 37, 19], batch: 3, seed }), { bits: 2, groupSize: 16 });
      const dir = tmp(`m${seed}`);
      await compileModel(g, { target: 'c', embedWeights: false } as never, dir);
      execFileSync('make', ['-C', dir, 'CFLAGS=-O1'], { stdio: 'pipe' });
      writeNpyFile(path.join(dir, 'x.npy'), randomInput([3, 45], 22));
      return dir;
    };
    const [a, b] = [await mk(11), await mk(12)];
    const own = run(a);
    fs.copyFileSync(path.join(b, 'weights.packed.bin'), path.join(a, 'weights.packed.bin'));
    const r = run(a);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/is stale or for another ISA/);
    expect(r.y!.equals(own.y!)).toBe(true);
  });
});
