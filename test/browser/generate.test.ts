/**
 * The text-generation page (examples/browser/generate.html) in headless Chromium on SwiftShader:
 * serve.mjs serves the page, the tokenizer and examples/tiny-llm compiled for wasm and wgsl (built
 * here: a failed build fails the test naming the target); for each target the page's model.generate,
 * at the page's sampling settings (temperature 0.8, top-k 20, seed 1, 48 tokens), must write exactly
 * the text `lutc generate --target ref` writes with the same settings (the artifacts embed the same
 * sampler), streamed into the page, with a tokens/s line.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lutc } from '../cli/helpers.js';
import { type DemoServer, startDemo } from '../helpers/browser.js';

const MODEL = 'examples/tiny-llm/model.onnx';
const PROMPT = 'The compiler reads the model and';
let dir: string;
let demo: DemoServer | undefined;
let url: string;
let browser: BrowserContext;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lutc-browser-gen-'));
  for (const t of ['wasm', 'wgsl']) {
    const r = await lutc('compile', MODEL, '--target', t, '-o', join(dir, t));
    if (r.code !== 0 || !existsSync(join(dir, t, 'model.mjs'))) throw new Error(`the ${t} artifact was not built: ${r.stderr}`);
  }
  demo = await startDemo(dir, ['--llm-wasm', join(dir, 'wasm'), '--llm-wgsl', join(dir, 'wgsl')]);
  url = demo.url;
  browser = demo.browser;
}, 120_000);

afterAll(async () => {
  await demo?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the generation page (headless Chromium)', () => {
  it('generates the reference text on WASM and on WebGPU, streamed, with tokens/s', async () => {
    const ref = await lutc(
      'generate',
      MODEL,
      '--prompt',
      PROMPT,
      '--max-new-tokens',
      '48',
      '--temperature',
      '0.8',
      '--top-k',
      '20',
      '--seed',
      '1',
    );
    expect(ref.code, ref.stderr).toBe(0);
    const want = ref.stdout.replace(/\n$/, '');
    expect(want.length).toBeGreaterThan(20);
    const page = await browser.newPage();
    const logs: string[] = [];
    page.on('console', (m) => logs.push(m.text()));
    page.on('pageerror', (e) => logs.push(String(e)));
    await page.goto(`${url}generate.html`);
    await page.waitForFunction(() => (window as unknown as { lutcReady?: boolean }).lutcReady === true, undefined, { timeout: 60_000 });
    expect(await page.evaluate(() => crossOriginIsolated), 'COOP/COEP from serve.mjs').toBe(true);
    for (const target of ['wasm', 'wgsl']) {
      await page.selectOption('#target', target);
      await page.click('#go');
      await page.waitForFunction(() => (window as unknown as { lutcGen?: unknown }).lutcGen !== undefined, undefined, { timeout: 90_000 });
      const res = (await page.evaluate(() => (window as unknown as { lutcGen: unknown }).lutcGen)) as { error?: string; text?: string };
      expect(res.error, `${target}: ${logs.join('\n')}`).toBeUndefined();
      expect(res.text, target).toBe(want);
      expect(await page.textContent('#text'), target).toBe(PROMPT + want);
      expect(await page.textContent('#stats'), target).toMatch(
        new RegExp(`^${target}: prefill \\d+ tokens in [\\d.]+ ms .* decode \\d+ tokens at [\\d.]+ tokens/s$`),
      );
    }
  }, 180_000);
});
