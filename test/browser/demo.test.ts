/**
 * The browser demo (examples/browser) in headless Chromium on SwiftShader: serve.mjs serves the page
 * and the MLP compiled with --bits 4 for both targets; the page runs each artifact and the outputs
 * must match the reference interpreter on the same lowered graph within LUT_VS_INTERP max|ref|
 * (test/helpers/tolerance.ts, as test/backends/wgsl/model.test.ts: f32 accumulation vs f64, identical
 * LUT integers). Both artifacts
 * are built here (a build failure fails the test, naming the target) and must be on disk before the
 * page loads; the page must report exactly one result per target, WGSL and WASM, both ok.
 */

import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DemoServer, startDemo } from '../helpers/browser.js';
import '../../ir/ops/index.js';
import { importOnnx } from '../../compiler/onnx/index.js';
import { runPipeline } from '../../compiler/pipeline.js';
import { interpret } from '../../ir/interpret.js';
import { makeTensor } from '../../ir/tensor.js';
import type { Graph } from '../../ir/types.js';
import { LUT_VS_INTERP } from '../helpers/tolerance.js';

const DIMS = { batch: 2 };
const SEED = 3;
let dir: string;
let demo: DemoServer | undefined;
let url: string;
let browser: BrowserContext;

function lowered(target: 'wasm' | 'wgsl'): Graph {
  const g = importOnnx(readFileSync('examples/mlp.onnx'), { dimBindings: DIMS });
  runPipeline(g, { target, bits: 4, dimBindings: DIMS });
  return g;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lutc-browser-'));
  await (await import('../../backends/wgsl/compile.js')).compileModel(lowered('wgsl'), { target: 'wgsl' }, join(dir, 'wgsl'));
  await (await import('../../backends/wasm/compile.js')).compileModel(lowered('wasm'), { target: 'wasm', bits: 4 }, join(dir, 'wasm'));
  // the page fetches model.mjs of each target; a missing file would only show as a page-side error
  for (const t of ['wgsl', 'wasm'])
    if (!existsSync(join(dir, t, 'model.mjs')))
      throw new Error(`the ${t} artifact was not written: ${join(dir, t, 'model.mjs')} is missing`);
  demo = await startDemo(dir, ['--wasm', join(dir, 'wasm'), '--wgsl', join(dir, 'wgsl')]);
  url = demo.url;
  browser = demo.browser;
});

afterAll(async () => {
  await demo?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface PageResult {
  backend: string;
  ok: boolean;
  error?: string;
  adapter?: string;
  outputs?: { name: string; shape: number[]; data: number[] }[];
}

describe('browser demo (headless Chromium)', () => {
  it('runs the WGSL and WASM artifacts and matches the interpreter', async () => {
    const page = await browser.newPage();
    const logs: string[] = [];
    page.on('console', (m) => logs.push(m.text()));
    page.on('pageerror', (e) => logs.push(String(e)));
    await page.goto(`${url}?seed=${SEED}`);
    await page.waitForFunction(() => (window as unknown as { lutcDone?: boolean }).lutcDone === true, undefined, { timeout: 90_000 });
    const res = (await page.evaluate(() => (window as unknown as { lutcResults: unknown }).lutcResults)) as {
      input: number[];
      results: PageResult[];
    };
    const x = makeTensor(
      'f32',
      [2, 64],
      Array.from({ length: 128 }, (_, i) => Math.sin(0.37 * i + SEED)),
    );
    expect(res.input).toEqual(Array.from(x.data));
    expect(res.results.map((r) => r.backend).sort(), JSON.stringify(res.results.map((r) => [r.backend, r.error]))).toEqual([
      'wasm',
      'wgsl',
    ]);
    for (const r of res.results) {
      expect(r.ok, `${r.backend}: ${r.error} ${logs.join('\n')}`).toBe(true);
      const [ref] = interpret(lowered(r.backend as 'wasm' | 'wgsl'), { x });
      const got = r.outputs![0]!;
      expect(got.shape).toEqual(ref!.shape);
      const scale = Math.max(...Array.from(ref!.data, Math.abs));
      const diff = Math.max(...got.data.map((v, i) => Math.abs(v - ref!.data[i]!)));
      expect(diff).toBeLessThanOrEqual(LUT_VS_INTERP * scale); // measured 1.8e-7 (WGSL), 0 (WASM)
    }
    expect(await page.textContent('#out')).toMatch(/WGSL/);
  });
});
