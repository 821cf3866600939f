/**
 * `lutc tune` as a library: measures candidate kernel plans of a model's LUT layers on this machine
 * and returns the winners as tune-cache entries (compiler/tune-cache.ts; the CLI writes them, and
 * `compile` with the cache hands them to the tile pass).
 *
 *   const { entries, table } = await tune('examples/mlp.onnx', { target: 'wasm', compile: { bits: 2 } });
 *
 * Layers: every distinct (n, k, bits, group, tables) of the model's lut.matmul / lut.gemm nodes after
 * the pipeline up to `tile`. Per layer and M bucket (default 1 and 32; tune-cache.ts mBucket) the
 * candidates are, by target:
 *   wasm  scalar LUT ('token') and Vec-LUT ('vec': plan override vecLut, where the kernel has a
 *         vector path: int8 tables, M >= 16); one K-tile (the wasm kernel reads k_tile 0); 1 thread
 *         (the kernel module runs on one).
 *   c     1 thread and the requested N (the fused lut.gemm kernel has no layout or K-tile knob: the
 *         entry keeps the default plan's layout and k_tile 0; a winner on 1 thread makes the compile
 *         run that layer on 1 at that M: passes/tile.ts, lut.gemm threads_m1 / threads_mn).
 * Each candidate is the kernel-only build of backends/<t> (the same kernels the artifact renders),
 * timed by the benchmarks' method (bench/timing.ts `interleave`; the kernel timers of
 * bench/kernel-timing.ts, which bench/c.ts and bench/wasm.ts use: C's harness, wasm's
 * `lutcInstance`), all candidates of a slot interleaved. The timing
 * budget (`budgetMs`, builds not counted) is split evenly over the slots. A candidate replaces the
 * default plan only when its median is below 0.97 of the default's (3%: run-to-run noise of medians
 * of a few hundred calls measures 1-2% here), so noise alone never changes a plan.
 * Diagnostics: LUT6003 for a target other than c or wasm, an M bucket < 1 or threads < 1.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { getTarget } from '../backends/target.js';
import { fail } from '../base/diagnostics.js';
import { callSide, interleave, type Timed } from '../bench/timing.js';
import { benchWeights, lcg } from '../bench/weights.js';
import type { Bits } from '../ir/lut/geometry.js';
import { findOp, resolveAttrs } from '../ir/optable.js';
import type { Graph } from '../ir/types.js';
import { passContext } from '../passes/registry.js';
import { loadModel } from './cli/model.js';
import { importOnnx } from './onnx/index.js';
import type { CompileOptions, TunedPlan, TuneLayer } from './options.js';
import { PIPELINE, runPasses } from './pipeline.js';
import { startPhase } from './progress.js';
import { layerKey, type MachineKey, machineKey, mBucket, type TuneEntry } from './tune-cache.js';

export interface TuneOptions {
  target: 'c' | 'wasm';
  /** Threads the artifact will run on (default 1): part of the key; C also times 1 thread against it. */
  threads?: number;
  /** M buckets to measure (default [1, 32]); each value is taken to its bucket (tune-cache.ts mBucket). */
  mBuckets?: number[];
  /** Timing budget of the whole tune in ms (default 4000; kernel builds are not counted). */
  budgetMs?: number;
  /** How the model is lowered (bits, group size, tables, shapes, --isa, --wasm-features), as for compile. */
  compile?: Omit<CompileOptions, 'target' | 'threads' | 'progress' | 'tuned' | 'tuneCache'>;
  /** Progress lines (stderr). */
  log?(msg: string): void;
}

/** One measured slot: a layer at one M bucket, its default and winning candidate. */
export interface TuneRow {
  layer: Omit<TuneLayer, 'm'>;
  mBucket: number;
  defaultPlan: TunedPlan;
  defaultUs: number;
  plan: TunedPlan;
  us: number;
  /** Every candidate's median (µs), by label. */
  candidates: { label: string; us: number }[];
}

export interface TuneResult {
  entries: TuneEntry[];
  rows: TuneRow[];
  /** The winners against the default plans, one line per slot (what `lutc tune` prints on stdout). */
  table: string;
  machine: MachineKey;
}

/** A candidate of one slot: its plan and its timed side (release frees it). */
interface Candidate {
  label: string;
  plan: TunedPlan;
  isDefault: boolean;
  side: Timed;
}

/** Noise margin: a candidate must be this much faster than the default plan to replace it (header). */
const WIN_MARGIN = 0.97;

/** The distinct LUT layers of `g` after the pipeline up to `tile` (in graph order). */
export function lutLayers(g: Graph, opts: CompileOptions): Omit<TuneLayer, 'm'>[] {
  runPasses(g, PIPELINE.slice(0, PIPELINE.indexOf('tile') + 1), passContext({ ...opts, tuned: undefined }));
  const seen = new Map<string, Omit<TuneLayer, 'm'>>();
  for (const n of g.nodes) {
    if (n.op !== 'lut.matmul' && n.op !== 'lut.gemm') continue;
    const a = resolveAttrs(findOp(n.op)!, n);
    const l = {
      n: a.n as number,
      k: a.k as number,
      bits: a.bits as number,
      groupSize: a.group_size as number,
      tables: ((a.tables as string | undefined) ?? 'i8') as 'i8' | 'f32',
    };
    seen.set(JSON.stringify(l), l);
  }
  return [...seen.values()];
}

/** The plan the tile pass picks without a cache for a layer at M (layout by the target's threshold). */
function defaultLayout(target: 'c' | 'wasm', m: number): 'token' | 'vec' {
  return m >= getTarget(target).tile.vecMinTokens ? 'vec' : 'token';
}

/** Activations x [m, K] for timing (seeded). */
function activations(m: number, k: number): Float32Array {
  const r = lcg(7 + m + k);
  return new Float32Array(m * k).map(() => r() * 2 - 1);
}

/** The wasm candidates of one slot: scalar LUT and, where the kernel has one, the vector-LUT path. */
async function wasmCandidates(l: Omit<TuneLayer, 'm'>, m: number, opts: TuneOptions): Promise<Candidate[]> {
  const { lutcInstance } = await import('../bench/kernel-timing.js');
  const { engineHasRelaxedSimd } = await import('../backends/wasm/module.js');
  const relaxed = !!opts.compile?.wasmFeatures?.includes('relaxed-simd') && engineHasRelaxedSimd();
  const w = benchWeights(l.n, l.k, l.bits, l.groupSize, 1000 + l.n + l.k + l.bits);
  const x = activations(m, l.k);
  const def = await lutcInstance(w, m, x, relaxed, l.tables);
  const out: Candidate[] = [];
  for (const vecLut of [false, true]) {
    const inst = await lutcInstance(w, m, x, relaxed, l.tables, { vecLut });
    if (out.some((c) => (c.plan.layout === 'vec') === inst.plan.vecTile > 0)) continue; // same kernel as one already listed
    const layout = inst.plan.vecTile > 0 ? 'vec' : 'token';
    out.push({
      label: layout === 'vec' ? 'vec-lut' : 'scalar-lut',
      plan: { layout, kTile: 0, threads: 1 },
      isDefault: inst.plan.vecTile === def.plan.vecTile,
      side: callSide(layout, inst.kernel),
    });
  }
  return out;
}

/** The C candidates of one slot: the fused kernel at 1 thread and at the requested N. */
async function cCandidates(
  l: Omit<TuneLayer, 'm'>,
  m: number,
  opts: TuneOptions,
  dir: string,
  closers: (() => void)[],
): Promise<Candidate[]> {
  const { startCHarness } = await import('../bench/kernel-timing.js');
  const { emitKernel } = await import('../backends/c/kernel.js');
  const files = emitKernel({
    n: l.n,
    k: l.k,
    m,
    bits: l.bits as Bits as 1 | 2 | 3 | 4,
    groupSize: l.groupSize,
    tables: l.tables,
    ...(opts.compile?.isa ? { isa: opts.compile.isa } : {}),
  }).files;
  const w = benchWeights(l.n, l.k, l.bits, l.groupSize, 1000 + l.n + l.k + l.bits);
  const { h } = await startCHarness(files, w, activations(m, l.k), m, dir);
  closers.push(() => h.close());
  const n = opts.threads ?? 1;
  const layout = defaultLayout('c', m);
  return [...new Set([n, 1])].map((t) => ({
    label: `${t}T`,
    plan: { layout, kTile: 0, threads: t },
    isDefault: t === n,
    side: h.side(`${t}T`, t),
  }));
}

const fmtPlan = (p: TunedPlan, target: 'c' | 'wasm') =>
  target === 'c' ? `${p.threads} thread${p.threads > 1 ? 's' : ''}` : `${p.layout === 'vec' ? 'vec-lut' : 'scalar-lut'}`;

/** Times the candidates of one slot within `ms` (all interleaved); returns each one's median µs. */
async function timeSlot(cands: Candidate[], ms: number): Promise<number[]> {
  // one call each to size the runs: the slot's time split over its candidates, 5..400 timed calls each
  const probe = await Promise.all(cands.map(async (c) => (await c.side.batch(1, 1, false))[0] ?? 1));
  const perCall = probe.reduce((a, b) => a + b, 0);
  const runs = Math.max(5, Math.min(400, Math.floor((ms * 0.7 * 1000) / Math.max(1, perCall))));
  const st = await interleave(
    cands.map((c) => c.side),
    { runs, warmupMs: Math.min(100, (ms * 0.2) / cands.length), settleMs: 1 },
  );
  return st.map((s) => s.median);
}

/**
 * Tunes the LUT layers of `input` (a model path, ONNX bytes, or an imported Graph, which is lowered
 * in place) for `opts.target` on this machine; returns the winners as cache entries and the table.
 */
export async function tune(input: Graph | string | Uint8Array, opts: TuneOptions): Promise<TuneResult> {
  const target = opts.target;
  if (target !== 'c' && target !== 'wasm') fail('LUT6003', `tune: target '${String(target)}' is not tuned; expected c or wasm`);
  const threads = opts.threads ?? 1;
  if (!Number.isInteger(threads) || threads < 1) fail('LUT6003', `tune: threads must be an integer >= 1, got ${threads}`);
  const buckets = [
    ...new Set(
      (opts.mBuckets ?? [1, 32]).map((m) => {
        if (!Number.isInteger(m) || m < 1) fail('LUT6003', `tune: an M bucket must be an integer >= 1, got ${m}`);
        return mBucket(m);
      }),
    ),
  ].sort((a, b) => a - b);
  const log = opts.log ?? (() => {});
  const copts: CompileOptions = { ...opts.compile, target, threads };
  const g =
    typeof input === 'string'
      ? await loadModel(input, { dimBindings: copts.dimBindings, inputShapes: copts.inputShapes })
      : input instanceof Uint8Array
        ? importOnnx(input, { dimBindings: copts.dimBindings, inputShapes: copts.inputShapes })
        : input;
  const layers = lutLayers(g, copts);
  const machine = await machineKey(copts);
  const slots = layers.length * buckets.length;
  const slotMs = (opts.budgetMs ?? 4000) / Math.max(1, slots);
  log(
    `tune: ${layers.length} LUT layer${layers.length === 1 ? '' : 's'} x M ${buckets.join(', ')} on ${machine.cpu} (${machine.isa}), ${slotMs.toFixed(0)} ms each`,
  );
  if (target === 'wasm' && threads > 1)
    log(`tune: the wasm kernel is timed on 1 thread (the threads ${threads} of the key are the artifact's)`);
  const rows: TuneRow[] = [];
  const entries: TuneEntry[] = [];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lutc-tune-'));
  const phase = startPhase('tune', slots, 'kernel slots');
  try {
    let i = 0;
    for (const l of layers)
      for (const m of buckets) {
        i++;
        const closers: (() => void)[] = [];
        try {
          const cands = target === 'wasm' ? await wasmCandidates(l, m, opts) : await cCandidates(l, m, opts, dir, closers);
          const us = await timeSlot(cands, slotMs);
          const d = cands.findIndex((c) => c.isDefault);
          let best = d;
          for (let j = 0; j < cands.length; j++) if (us[j]! < us[best]! && us[j]! < WIN_MARGIN * us[d]!) best = j;
          const row: TuneRow = {
            layer: l,
            mBucket: m,
            defaultPlan: cands[d]!.plan,
            defaultUs: us[d]!,
            plan: cands[best]!.plan,
            us: us[best]!,
            candidates: cands.map((c, j) => ({ label: c.label, us: us[j]! })),
          };
          rows.push(row);
          entries.push({
            key: layerKey(machine, l, m),
            plan: row.plan,
            us: row.us,
            defaultUs: row.defaultUs,
            measuredAt: new Date().toISOString(),
          });
          log(
            `tune: [${i}/${slots}] n=${l.n} k=${l.k} bits=${l.bits} group=${l.groupSize} ${l.tables} M=${m}: ` +
              `${row.candidates.map((c) => `${c.label} ${c.us.toFixed(1)}us`).join(', ')} -> ${fmtPlan(row.plan, target)}`,
          );
        } finally {
          for (const c of closers) c();
          phase.tick();
        }
      }
  } finally {
    phase.end();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return { entries, rows, table: winnersTable(rows, target), machine };
}

/** The winners against the default plans: one line per layer and M bucket, with the speedup. */
export function winnersTable(rows: TuneRow[], target: 'c' | 'wasm'): string {
  const head = ['layer (n x k, bits, group, tables)', 'M', 'default plan', 'default us', 'tuned plan', 'tuned us', 'speedup'];
  const body = rows.map((r) => [
    `${r.layer.n}x${r.layer.k} b${r.layer.bits} g${r.layer.groupSize} ${r.layer.tables}`,
    String(r.mBucket),
    fmtPlan(r.defaultPlan, target),
    r.defaultUs.toFixed(1),
    fmtPlan(r.plan, target),
    r.us.toFixed(1),
    `${(r.defaultUs / r.us).toFixed(2)}x`,
  ]);
  const w = head.map((h, j) => Math.max(h.length, ...body.map((b) => b[j]!.length)));
  return [head, ...body]
    .map((cells) =>
      cells
        .map((c, j) => c.padEnd(w[j]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}
