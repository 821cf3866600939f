/**
 * Threads in the whole-model C artifact: a small decoder in onnxruntime-genai's builder layout
 * (GroupQueryAttention, 4-bit MatMulNBits -> lut.gemm with int8 tables, runtime dims) built ONCE with
 * OpenMP and run by its harness with -t 1, 2 and 3 on a prefill (20 tokens, empty cache) and a decode
 * step (1 token after 20 cached rows): every output file (logits and each present) must be the same
 * bytes, since each output element is computed by one thread in the single-thread order (LUT row
 * blocks, attention heads, norm and elementwise rows). The harness must say it ran the threads asked
 * (`model: T threads`), so a build that silently ran one thread fails. Also: `compile --threads N`
 * bakes N as the artifact's default (MODEL_THREADS, the harness without -t), and the generated
 * Makefile builds with -fopenmp by default, without it under OPENMP=0 or a compiler that lacks it.
 * A wide float matmul (an lm_head that is not LUT) splits by column blocks, so M = 1 threads too.
 * Skipped (said so) where the C compiler cannot build OpenMP at all.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { emitModel } from '../../../backends/c/model/emit.js';
import { buildModelBinary } from '../../../backends/c/run.js';
import { canCompile } from '../../../backends/c/toolchain.js';
import { seededRandom } from '../../../base/random.js';
import { readNpy, writeNpy } from '../../../compiler/npy.js';
import { OnnxBuilder } from '../../../compiler/onnx/builder.js';
import { importOnnx } from '../../../compiler/onnx/index.js';
import { runPipeline } from '../../../compiler/pipeline.js';
import { makeTensor } from '../../../ir/tensor.js';
import type { Graph, Tensor } from '../../../ir/types.js';
import { buildBuilderDecoder } from '../../helpers/decoders.js';
import { TEST_FLAGS } from './helpers.js';

const OMP = canCompile(process.env.CC ?? 'cc', ['-fopenmp']);
const SHAPE = { vocab: 512, hidden: 128, heads: 8, kvHeads: 2, headSize: 16, intermediate: 384, layers: 2 };
const BOUND = 48;

function decoder(): Graph {
  const bytes = buildBuilderDecoder({ ...SHAPE, maxPos: 2 * BOUND, seed: 5 });
  const g = importOnnx(bytes, { dimBindings: { batch_size: 1 } });
  g.meta = { ...g.meta, dimBounds: { sequence_length: BOUND, past_sequence_length: BOUND, total_sequence_length: BOUND } };
  runPipeline(g, { target: 'c' });
  return g;
}

/** Feeds of one step: S new tokens after `past` cached rows (seeded random ids and cache). */
function feeds(S: number, past: number, seed: number): Record<string, Tensor> {
  const next = seededRandom(seed);
  const f: Record<string, Tensor> = {
    input_ids: makeTensor(
      'i64',
      [1, S],
      Array.from({ length: S }, () => Math.floor(next() * SHAPE.vocab)),
    ),
    attention_mask: makeTensor('i64', [1, past + S], new Array(past + S).fill(1)),
  };
  for (let l = 0; l < SHAPE.layers; l++)
    for (const kv of ['key', 'value']) {
      const d = Float32Array.from({ length: SHAPE.kvHeads * past * SHAPE.headSize }, () => next() * 2 - 1);
      f[`past_key_values.${l}.${kv}`] = makeTensor('f32', [1, SHAPE.kvHeads, past, SHAPE.headSize], d);
    }
  return f;
}

const tmp = (tag: string) => fs.mkdtempSync(path.join(tmpdir(), `lutc-threads-${tag}-`));

/** Runs the harness with `-t threads` (none: the artifact's default); returns output file -> bytes and stderr. */
function runHarness(exe: string, dir: string, args: string[], threads?: number) {
  const out = fs.mkdtempSync(path.join(dir, 'out-'));
  const r = spawnSync(
    exe,
    [
      ...(fs.existsSync(path.join(dir, 'weights.bin')) ? ['-w', path.join(dir, 'weights.bin')] : []),
      '-o',
      out,
      '-r',
      '1',
      ...(threads ? ['-t', String(threads)] : []),
      ...args,
    ],
    {
      encoding: 'utf8',
    },
  );
  expect(r.status, r.stderr).toBe(0);
  const files = new Map<string, Buffer>();
  for (const f of fs.readdirSync(out).sort()) if (f.endsWith('.npy')) files.set(f, fs.readFileSync(path.join(out, f)));
  return { files, stderr: r.stderr };
}

describe.skipIf(!OMP)('C artifact threads (OpenMP)', () => {
  it('-t 1, 2 and 3 give byte-identical outputs on a decoder (prefill and decode)', () => {
    const g = decoder();
    const em = emitModel(g, { target: 'c', embedWeights: false });
    const src = em.files['model.c'] as string;
    // the work this test splits goes to the model's pool: LUT kernels (row-block ranges) and the
    // attention's present copy (by KV head) and heads (by query head)
    expect(src).toMatch(/^# {2}define LUTC_POOL 1$/m);
    expect(src).toMatch(/lutc_par\(threads, ntask, \w+_task, &job\)/);
    expect(src).toMatch(/lutc_par\(cw >= 65536 \? lutc_threads : 1, 2, lutc_gqa\d+_copy, &j_\);/);
    expect(src).toMatch(/lutc_par\(hw >= 65536 \? lutc_threads : 1, 8, lutc_gqa\d+_heads, &j_\);/);
    const dir = tmp('bits');
    try {
      fs.writeFileSync(path.join(dir, 'weights.bin'), em.files['weights.bin']!);
      const exe = buildModelBinary(em.files, [...TEST_FLAGS, '-fopenmp']);
      for (const [ci, [S, past]] of [
        [20, 0],
        [1, 20],
      ].entries()) {
        const f = feeds(S!, past!, 40 + ci);
        const args = em.inputs.map((io, i) => {
          const p = path.join(dir, `in${ci}_${i}.npy`);
          fs.writeFileSync(p, writeNpy(f[io.name]!));
          return p;
        });
        const one = runHarness(exe, dir, args, 1);
        expect(one.stderr).toMatch(/^model: 1 threads$/m);
        expect(one.files.size).toBe(1 + 2 * SHAPE.layers);
        // the logits are not a degenerate constant (a broken model could be "identical" trivially)
        const logits = readNpy(one.files.get('logits.npy')!).data;
        expect(new Set(logits).size).toBeGreaterThan(SHAPE.vocab / 2);
        for (const t of [2, 3]) {
          const many = runHarness(exe, dir, args, t);
          expect(many.stderr).toMatch(new RegExp(`^model: ${t} threads$`, 'm'));
          expect([...many.files.keys()]).toEqual([...one.files.keys()]);
          for (const [name, bytes] of one.files)
            expect(many.files.get(name)!.equals(bytes), `${name}, S=${S} past=${past}, -t ${t}`).toBe(true);
        }
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it('a wide float matmul splits by column blocks, byte-identical at -t 1 and 2 (M = 1 and 3)', () => {
    // x [rows, 96] (rows a runtime dim up to 4) . w [96, 4100], w a graph input (a constant would become
    // a LUT layer): wider than the 2048-column block, with a partial block
    const b = new OnnxBuilder({ opset: 20 });
    const x = b.input('x', 'f32', ['rows', 96]);
    const w = b.input('w', 'f32', [96, 4100]);
    b.node('MatMul', [x, w], { outputs: ['y'] });
    b.output('y', 'f32', ['rows', 4100]);
    const g = importOnnx(b.toBytes());
    g.meta = { ...g.meta, dimBounds: { rows: 4 } };
    runPipeline(g, { target: 'c' });
    expect(g.nodes.map((n) => n.op)).toEqual(['matmul']);
    const em = emitModel(g, { target: 'c' });
    expect(em.files['model.c']).toMatch(/collapse\(2\) schedule\(static\) if\(/);
    const dir = tmp('matmul');
    try {
      const exe = buildModelBinary(em.files, [...TEST_FLAGS, '-fopenmp']);
      const next = seededRandom(11);
      const rand = (shape: number[]) =>
        makeTensor(
          'f32',
          shape,
          Float32Array.from({ length: shape[0]! * shape[1]! }, () => next() * 2 - 1),
        );
      const wp = path.join(dir, 'w.npy');
      fs.writeFileSync(wp, writeNpy(rand([96, 4100])));
      for (const rows of [1, 3]) {
        const xp = path.join(dir, `x${rows}.npy`);
        fs.writeFileSync(xp, writeNpy(rand([rows, 96])));
        const one = runHarness(exe, dir, [xp, wp], 1);
        const two = runHarness(exe, dir, [xp, wp], 2);
        expect(two.stderr).toMatch(/^model: 2 threads$/m);
        const y = readNpy(one.files.get('y.npy')!);
        expect(y.shape).toEqual([rows, 4100]);
        expect(new Set(y.data).size).toBeGreaterThan(4000);
        expect(two.files.get('y.npy')!.equals(one.files.get('y.npy')!), `rows=${rows}`).toBe(true);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it('compile --threads N is the artifact default (MODEL_THREADS); -t overrides it', () => {
    const g = decoder();
    const em = emitModel(g, { target: 'c', embedWeights: false, threads: 3 });
    expect(em.files['model.h']).toMatch(/^#define MODEL_THREADS 3$/m);
    expect(em.files['model.c']).toMatch(/^static int lutc_threads = 3;$/m);
    expect(emitModel(g, { target: 'c', embedWeights: false }).files['model.h']).toMatch(/^#define MODEL_THREADS 1$/m);
    const dir = tmp('default');
    try {
      fs.writeFileSync(path.join(dir, 'weights.bin'), em.files['weights.bin']!);
      const exe = buildModelBinary(em.files, [...TEST_FLAGS, '-fopenmp']);
      const f = feeds(1, 4, 7);
      const args = em.inputs.map((io, i) => {
        const p = path.join(dir, `in${i}.npy`);
        fs.writeFileSync(p, writeNpy(f[io.name]!));
        return p;
      });
      expect(runHarness(exe, dir, args).stderr).toMatch(/^model: 3 threads$/m);
      expect(runHarness(exe, dir, args, 1).stderr).toMatch(/^model: 1 threads$/m);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it('the Makefile builds with OpenMP by default, without it under OPENMP=0 or a compiler that lacks it', () => {
    const dir = tmp('make');
    try {
      const mk = emitModel(decoder(), { target: 'c', embedWeights: false }).files.Makefile as string;
      fs.writeFileSync(path.join(dir, 'Makefile'), mk);
      for (const f of ['main.c', 'model.c', 'model.h', 'weights.bin']) fs.writeFileSync(path.join(dir, f), '');
      const dry = (...vars: string[]) => execFileSync('make', ['-n', '-B', '-C', dir, ...vars], { encoding: 'utf8' });
      expect(dry()).toMatch(/ -fopenmp /);
      expect(dry('OPENMP=0')).not.toMatch(/-fopenmp/);
      // a compiler driver that refuses -fopenmp (as clang without libomp does)
      const cc = path.join(dir, 'noomp-cc');
      fs.writeFileSync(cc, '#!/bin/sh\nfor a in "$@"; do [ "$a" = -fopenmp ] && exit 1; done\nexec cc "$@"\n', { mode: 0o755 });
      const plain = dry(`CC=${cc}`);
      expect(plain).toContain(cc);
      expect(plain).not.toMatch(/-fopenmp/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
