/**
 * `npm run bench:llm -- --smoke` (issue 13: the end-to-end benchmark must not rot): the whole path
 * (build a builder-layout decoder, compile it once for c and once for wasm with runtime dims, check
 * lutc's logits against onnxruntime-node, time prefill and decode rows on every side, wasm's decode
 * through the shared KV buffer) on a tiny decoder, in seconds.
 * It must exit 0 and print its table: a row per phase with both times and the ratio.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ensureBuilt, root } from '../cli/helpers.js';

describe('bench:llm --smoke', () => {
  it('runs end to end: the logits check passes and every row has lutc, onnxruntime and a ratio', () => {
    ensureBuilt();
    const r = spawnSync(process.execPath, [path.join(root, 'dist/bench/llm.js'), '--smoke'], { encoding: 'utf8', timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/logits vs onnxruntime \(1 threads\): max\|diff\| \/ max\|ref\| = [\d.e-]+ \(ok, bound 0\.05\)/);
    // row, threads, lutc c ms, onnxruntime ms, ratio, lutc wasm ms, ratio (--smoke times the wasm artifact too)
    for (const row of ['prefill 8', 'decode at past 4', 'decode at past 8'])
      expect(r.stdout, row).toMatch(new RegExp(`^${row} +1 +[\\d.]+ +[\\d.]+ +[\\d.]+ +[\\d.]+ +[\\d.]+$`, 'm'));
  }, 180_000);
});
