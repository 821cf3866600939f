/**
 * `npm run bench:llm -- --smoke` (issue 13: the end-to-end benchmark must not rot): the whole path
 * (build a builder-layout decoder, compile it once for c and once for wasm with runtime dims, check
 * lutc's logits against onnxruntime-node, time prefill and decode rows on every side, wasm's decode
 * through the shared KV buffer, onnxruntime-web's rows and logits check) on a tiny decoder, in seconds.
 * It must exit 0, print its table (a row per phase with every side's time and ratio) and write its
 * JSON rows (target, phase, past, peer, tokens/s of both sides) where --out says.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ensureBuilt, root } from '../cli/helpers.js';

describe('bench:llm --smoke', () => {
  it('runs end to end: the logits check passes and every row has lutc, onnxruntime and a ratio', () => {
    ensureBuilt();
    const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'lutc-bench-llm-')), 'rows.json');
    const r = spawnSync(process.execPath, [path.join(root, 'dist/bench/llm.js'), '--smoke', '--out', out], {
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/onnxruntime-web logits vs onnxruntime-node: max\|diff\| \/ max\|ref\| = [\d.e-]+ \(ok\)/);
    // the JSON rows: c vs ort-node, wasm vs ort-node and ort-web, for every phase, with positive tokens/s
    const rows = JSON.parse(fs.readFileSync(out, 'utf8')) as Record<string, unknown>[];
    const keys = rows.map((x) => `${x.target} ${x.phase} ${x.past} ${x.peer}`).sort();
    expect(keys).toEqual(
      ['c', 'wasm', 'wasm']
        .flatMap((t, i) => ['prefill 0', 'decode 4', 'decode 8'].map((p) => `${t} ${p} ${['ort-node', 'ort-node', 'ort-web'][i]}`))
        .sort(),
    );
    for (const x of rows) {
      expect(x).toMatchObject({ model: 'smoke', layout: 'genai-gqa', threads: 1 });
      expect(x.lutc_tok_s as number).toBeGreaterThan(0);
      expect(x.peer_tok_s as number).toBeGreaterThan(0);
    }
    expect(r.stderr).toMatch(/logits vs onnxruntime \(1 threads\): max\|diff\| \/ max\|ref\| = [\d.e-]+ \(ok, bound 0\.05\)/);
    // row, threads, lutc c ms, onnxruntime ms, ratio, lutc wasm ms, ratio, ort-web ms, web ratio
    for (const row of ['prefill 8', 'decode at past 4', 'decode at past 8'])
      expect(r.stdout, row).toMatch(new RegExp(`^${row} +1 +[\\d.]+ +[\\d.]+ +[\\d.]+ +[\\d.]+ +[\\d.]+ +[\\d.]+ +[\\d.]+$`, 'm'));
  }, 180_000);
});
