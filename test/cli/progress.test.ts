/**
 * Progress on stderr (compiler/progress.ts, compiler/cli/io.ts withProgress): the plain-line sink
 * prints at most one line per PLAIN_INTERVAL_MS with the count, percentage and ETA at the mean rate,
 * never a line for the last unit or past the total; the TTY sink draws a cli-progress bar and clears
 * it; long commands (compile, quantize, tune, bench) report counted phases whose counts rise to their
 * totals, and `--quiet` installs no sink (nothing on stderr but warnings). The phase totals are those
 * of the model (its lowered layers, its MatMul nodes, its tune slots), so a phase that stops
 * counting or miscounts fails here.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import '../../ir/ops/index.js';
import { captureIO, withProgress } from '../../compiler/cli/io.js';
import { OnnxBuilder } from '../../compiler/onnx/builder.js';
import { installProgress, PLAIN_INTERVAL_MS, type ProgressSink, startPhase, streamSink } from '../../compiler/progress.js';
import { quantizeOnnx } from '../../compiler/quantize-onnx.js';
import { randomInput } from '../helpers/models.js';
import { lutc, tmpDir } from './helpers.js';

const work = tmpDir();
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

/** A float MLP of `layers` MatMuls [1, 64] -> [1, 64]. */
function mlp(layers: number): Uint8Array {
  const b = new OnnxBuilder({ opset: 17 });
  let x = b.input('x', 'f32', [1, 64]);
  for (let i = 0; i < layers; i++) {
    const w = b.initializer(`w${i}`, randomInput([64, 64], 10 + i));
    [x] = b.node('MatMul', [x, w], { name: `mm${i}` }) as [string];
    if (i < layers - 1) [x] = b.node('Relu', [x]) as [string];
  }
  b.node('Identity', [x], { outputs: ['y'] });
  b.output('y', 'f32', [1, 64]);
  return b.toBytes();
}

/** A sink that records every call: phases with their counts. */
function recorder(): ProgressSink & { phases: { label: string; total: number; unit: string; counts: number[]; ended: boolean }[] } {
  const phases: { label: string; total: number; unit: string; counts: number[]; ended: boolean }[] = [];
  return {
    phases,
    start(label, total, unit) {
      phases.push({ label, total, unit, counts: [], ended: false });
    },
    update(done) {
      phases[phases.length - 1]!.counts.push(done);
    },
    end() {
      phases[phases.length - 1]!.ended = true;
    },
  };
}

describe('the plain-line sink', () => {
  it('prints one line per interval with count, percentage and ETA, none for the last unit', () => {
    let t = 0;
    const out: string[] = [];
    const sink = streamSink({ write: (s: string) => out.push(s) }, false, () => t);
    sink.start('write weights', 10, 'constants');
    t = PLAIN_INTERVAL_MS / 2;
    sink.update(1); // too soon
    t = PLAIN_INTERVAL_MS + 1;
    sink.update(2); // 2 units in ~5 s: 8 left at 2.5 s each
    t = PLAIN_INTERVAL_MS + 2;
    sink.update(3); // too soon after the last line
    t = 3 * PLAIN_INTERVAL_MS;
    sink.update(10); // the last unit: no line
    sink.end();
    expect(out).toEqual([`lutc: write weights: 2/10 constants (20%), ETA ${Math.ceil((((PLAIN_INTERVAL_MS + 1) / 2) * 8) / 1000)} s\n`]);
  });

  it('startPhase clamps counts to the total and ends once', () => {
    const r = recorder();
    const was = installProgress(r);
    try {
      const p = startPhase('x', 3, 'things');
      p.tick(2);
      p.tick(5);
      p.end();
      p.end();
      p.tick();
    } finally {
      installProgress(was);
    }
    expect(r.phases).toEqual([{ label: 'x', total: 3, unit: 'things', counts: [2, 3], ended: true }]);
  });
});

describe('the TTY sink', () => {
  it('draws a cli-progress bar with the label and count, and clears it at the end', () => {
    let text = '';
    const stream = { write: (s: string) => ((text += s), true), isTTY: true, columns: 100, cursorTo() {}, clearLine() {}, moveCursor() {} };
    const sink = streamSink(stream, true);
    sink.start('lower', 4, 'layers');
    sink.update(2);
    sink.end();
    expect(text).toContain('lutc: lower [');
    expect(text).toMatch(/\d\/4 layers/);
  });
});

describe('commands report counted phases', () => {
  it('quantize counts every MatMul of the model up to its total', () => {
    const r = recorder();
    const was = installProgress(r);
    try {
      quantizeOnnx(mlp(5), { bits: 4 });
    } finally {
      installProgress(was);
    }
    const q = r.phases.filter((p) => p.label === 'quantize');
    expect(q).toHaveLength(1);
    expect(q[0]!.total).toBe(5);
    expect(q[0]!.counts.at(-1)).toBe(5);
    expect(q[0]!.ended).toBe(true);
  });

  it('compile reports phases that reach their totals (withProgress restores the sink before)', async () => {
    const r = recorder();
    const was = installProgress(r);
    const file = path.join(work, 'mlp.onnx');
    fs.writeFileSync(file, mlp(4));
    try {
      // withProgress installs a plain sink on a captured io (not the recorder) and puts ours back after
      const io = captureIO();
      await withProgress(io, false, async () => {
        const inner = installProgress(r); // record what compile reports
        expect(inner).not.toBe(r);
        const { compile } = await import('../../compiler/index.js');
        await compile(file, { target: 'c', bits: 2 });
      });
    } finally {
      expect(installProgress(was)).toBe(r);
    }
    expect(r.phases.length).toBeGreaterThan(0);
    for (const p of r.phases) {
      expect(p.ended).toBe(true);
      expect(p.counts.every((c, i) => c <= p.total && (i === 0 || c >= p.counts[i - 1]!))).toBe(true);
      expect(p.counts.at(-1)).toBe(p.total);
    }
  });

  it('--quiet draws nothing on stderr for quantize and compile; without it, only progress-shaped lines', async () => {
    const file = path.join(work, 'mlp2.onnx');
    fs.writeFileSync(file, mlp(3));
    const q = await lutc('quantize', file, '--bits', '4', '-o', path.join(work, 'q.onnx'), '--quiet');
    expect(q.code).toBe(0);
    expect(q.stderr).toBe('');
    const c = await lutc('compile', file, '--target', 'c', '--bits', '2', '-o', path.join(work, 'out-c'), '-q');
    expect(c.code).toBe(0);
    expect(c.stderr).toBe('');
    const loud = await lutc('compile', file, '--target', 'c', '--bits', '2', '-o', path.join(work, 'out-c2'));
    expect(loud.code).toBe(0);
    for (const line of loud.stderr.split('\n').filter(Boolean)) expect(line).toMatch(/^(lutc: |note|[a-z-]+: )/);
  });
});
