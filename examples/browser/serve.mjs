#!/usr/bin/env node
import { readFile, stat } from 'node:fs/promises';
// Static server for the lutc browser demos (no dependencies), on 127.0.0.1 only.
//   node examples/browser/serve.mjs [--port 8080] [--wasm DIR] [--wgsl DIR] [--llm-wasm DIR] [--llm-wgsl DIR]
// serves this folder at / and the compiled artifacts (lutc compile --target wasm|wgsl -o DIR) at
// /artifacts/wasm/ and /artifacts/wgsl/ (index.html: the MLP), /artifacts/llm-wasm/ and
// /artifacts/llm-wgsl/ (generate.html: examples/tiny-llm), examples/tiny-llm at /tiny-llm/ and
// @huggingface/tokenizers' browser build at /vendor/tokenizers/. Every response is cross-origin
// isolated (COOP same-origin, COEP require-corp), so pages may use SharedArrayBuffer (threads).
// Prints "listening http://127.0.0.1:PORT/" when ready.
import { createServer } from 'node:http';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const roots = { '/': resolve(fileURLToPath(new URL('.', import.meta.url))) };
for (const t of ['wasm', 'wgsl', 'llm-wasm', 'llm-wgsl']) if (opt('--' + t)) roots[`/artifacts/${t}/`] = resolve(opt('--' + t));
roots['/tiny-llm/'] = resolve(fileURLToPath(new URL('../tiny-llm/', import.meta.url)));
roots['/vendor/tokenizers/'] = resolve(fileURLToPath(new URL('../../node_modules/@huggingface/tokenizers/dist/', import.meta.url)));
const TYPES = {
  '.html': 'text/html',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.bin': 'application/octet-stream',
  '.wgsl': 'text/plain',
  '.ts': 'text/plain',
};

const server = createServer(async (req, res) => {
  const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
  // Longest mount first; paths never leave their root.
  const mount = Object.keys(roots)
    .sort((a, b) => b.length - a.length)
    .find((m) => path.startsWith(m));
  const root = roots[mount];
  let file = normalize(join(root, path.slice(mount.length) || 'index.html'));
  if (file !== root && !file.startsWith(root + sep)) {
    res.writeHead(403).end();
    return;
  }
  try {
    if ((await stat(file)).isDirectory()) file = join(file, 'index.html');
    const body = await readFile(file);
    res
      .writeHead(200, {
        'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
        'cache-control': 'no-store',
        'cross-origin-opener-policy': 'same-origin',
        'cross-origin-embedder-policy': 'require-corp',
      })
      .end(body);
  } catch {
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: ' + path);
  }
});
server.listen(Number(opt('--port', '8080')), '127.0.0.1', () => {
  console.log(`listening http://127.0.0.1:${server.address().port}/`);
});
