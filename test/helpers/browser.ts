/**
 * The browser tests' harness (test/browser/*.test.ts): examples/browser/serve.mjs started on a free
 * port with the given artifact folders, and headless Chromium on SwiftShader with the flags the demo
 * README documents (plus --no-sandbox and switches that keep it off the network), a fresh profile in
 * `dir`. `close` stops both.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { type BrowserContext, chromium } from 'playwright-core';

export interface DemoServer {
  url: string;
  browser: BrowserContext;
  close(): Promise<void>;
}

/** Serves the demo with `serveArgs` (e.g. ['--wasm', DIR]) and launches the browser. */
export async function startDemo(dir: string, serveArgs: string[]): Promise<DemoServer> {
  const server: ChildProcess = spawn(process.execPath, ['examples/browser/serve.mjs', '--port', '0', ...serveArgs], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((res, rej) => {
    server.stdout!.on('data', (b: Buffer) => {
      const m = /listening (\S+)/.exec(b.toString());
      if (m) res(m[1]!);
    });
    server.on('exit', (c) => rej(new Error(`serve.mjs exited with ${c}`)));
  });
  // A fresh profile per run (launchPersistentContext passes it as --user-data-dir).
  const browser = await chromium.launchPersistentContext(join(dir, 'profile'), {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--enable-unsafe-webgpu',
      '--enable-features=Vulkan',
      '--use-angle=swiftshader',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
    ],
  });
  return {
    url,
    browser,
    async close() {
      await browser.close();
      server.kill();
    },
  };
}
