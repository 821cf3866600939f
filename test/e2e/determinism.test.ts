/**
 * Deterministic artifacts: compiling the same model twice gives byte-identical files, on every
 * artifact target, whether the two compiles run in one process (module state such as counters must
 * not leak from one compile into the next) or in two processes (nothing may depend on the clock,
 * the process, hash-map order of object identities or randomness). A different model is compiled in
 * between the in-process pair, so state left behind by an earlier compile would show.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, lutc, root, spawnLutc, tmpDir } from '../cli/helpers.js';

const LLAMA = path.join(root, 'examples/llama-block.onnx');
const MLP = path.join(root, 'examples/mlp.onnx');

/** Every file under `dir` (relative path -> bytes). */
function readTree(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const f of fs.readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort()) {
    const p = path.join(dir, f);
    if (fs.statSync(p).isFile()) out.set(f, fs.readFileSync(p));
  }
  return out;
}

function expectSameTree(a: string, b: string): void {
  const ta = readTree(a);
  const tb = readTree(b);
  expect([...tb.keys()]).toEqual([...ta.keys()]);
  expect(ta.size).toBeGreaterThan(0);
  for (const [f, bytes] of ta) {
    if (!bytes.equals(tb.get(f)!)) expect.fail(`${f} differs between two compiles of the same model`);
  }
}

const work = tmpDir();
beforeAll(() => ensureBuilt());
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

describe('deterministic artifacts', () => {
  for (const target of ['c', 'wasm', 'wgsl']) {
    const args = [LLAMA, '--target', target, '--bits', '4', '--shape', 'x=1,8,64'];
    it(`${target}: same bytes when compiled twice in one process and in another process`, async () => {
      const a = path.join(work, `${target}-a`);
      const b = path.join(work, `${target}-b`);
      const c = path.join(work, `${target}-c`);
      expect((await lutc('compile', ...args, '-o', a)).code).toBe(0);
      expect((await lutc('compile', MLP, '--target', target, '--bits', '2', '-o', path.join(work, `${target}-mlp`))).code).toBe(0);
      expect((await lutc('compile', ...args, '-o', b)).code).toBe(0);
      expectSameTree(a, b);
      const r = spawnLutc(['compile', ...args, '-o', c]);
      expect(r.code, r.stderr).toBe(0);
      expectSameTree(a, c);
    });
  }
});
