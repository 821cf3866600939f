/**
 * compiler/tune-cache.ts and the tile pass's tuned plans: a lookup hits only an entry whose whole key
 * matches (a changed group size, bits, ISA string, CPU model, threads, lutc version, target, tables,
 * shape or M bucket each miss); a hit sets the layer's table_layout / k_tile as the entry says (the
 * global tile overrides still win); a layer's vector-LUT choice (vec_lut) comes from its M bucket or
 * the prefill bucket, and the wasm model renders only the winner; a miss leaves the lowered IR identical to a compile without a
 * cache; a corrupt or malformed cache file is a warning and no cache, never an error.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import '../../ir/ops/index.js';
import type { TunedLookup } from '../../compiler/options.js';
import { runPipeline } from '../../compiler/pipeline.js';
import {
  defaultCachePath,
  findEntry,
  loadTunedLookup,
  type MachineKey,
  mBucket,
  readTuneCache,
  type TuneEntry,
  type TuneKey,
  tunedLookup,
  writeTuneCache,
} from '../../compiler/tune-cache.js';
import { geometryOf } from '../../ir/lut/attrs.js';
import { findOp, resolveAttrs } from '../../ir/optable.js';
import { printGraph } from '../../ir/printer.js';
import type { Graph, Node } from '../../ir/types.js';
import { planTile, planTuned } from '../../passes/tile.js';
import { buildGraph, linearGraph, op, randTensor, rng } from '../lut/util.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lutc-tune-cache-test-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const machine: MachineKey = { target: 'wasm', isa: 'simd128; v8 test', cpu: 'Test CPU @ 1GHz', threads: 1, version: '0.1.0' };
const base: TuneKey = { ...machine, n: 16, k: 128, bits: 2, group: 32, tables: 'i8', mBucket: 1 };
const entry = (key: TuneKey, plan: TuneEntry['plan'] = { layout: 'vec', kTile: 4, threads: 1 }): TuneEntry => ({
  key,
  plan,
  us: 1,
  defaultUs: 2,
  measuredAt: '2026-01-01T00:00:00.000Z',
});

/** The lut.matmul of a lowered graph. */
const matmul = (g: Graph): Node => g.nodes.find((n) => n.op === 'lut.matmul')!;
/** x [m, 128] @ W [128, 16], quantized to 2 bits in groups of 32 (one layer: n 16, k 128). */
const layer = (m: number) => linearGraph(m, randTensor(rng(3), [128, 16]));

describe('tune cache keys', () => {
  it('hits only the whole key: each changed field misses', () => {
    const entries = [entry(base)];
    expect(findEntry(entries, { ...base })?.plan.layout).toBe('vec');
    const changed: Partial<TuneKey>[] = [
      { group: 64 },
      { bits: 4 },
      { isa: 'simd128,relaxed-simd; v8 test' },
      { cpu: 'Other CPU' },
      { threads: 4 },
      { version: '0.1.1' },
      { target: 'c' },
      { tables: 'f32' },
      { n: 17 },
      { k: 256 },
      { mBucket: 32 },
    ];
    for (const c of changed) expect(findEntry(entries, { ...base, ...c }), JSON.stringify(c)).toBeUndefined();
  });

  it('buckets M: 1, then the next power of two', () => {
    expect([0, 1, 2, 3, 8, 9, 32, 33].map(mBucket)).toEqual([1, 1, 2, 4, 8, 16, 32, 64]);
    const look = tunedLookup([entry({ ...base, mBucket: 32 })], machine, 'test');
    expect(look.lookup({ n: 16, k: 128, bits: 2, groupSize: 32, tables: 'i8', m: 20 })).toBeDefined();
    expect(look.lookup({ n: 16, k: 128, bits: 2, groupSize: 32, tables: 'i8', m: 1 })).toBeUndefined();
    expect(look.lookup({ n: 16, k: 128, bits: 2, groupSize: 64, tables: 'i8', m: 20 })).toBeUndefined();
  });

  it('takes the default path from $LUTC_TUNE_CACHE, else XDG_CACHE_HOME, else ~/.cache', () => {
    expect(defaultCachePath({ LUTC_TUNE_CACHE: '/x/t.json', XDG_CACHE_HOME: '/c' })).toBe('/x/t.json');
    expect(defaultCachePath({ XDG_CACHE_HOME: '/c', HOME: '/h' })).toBe(path.join('/c', 'lutc', 'tune.json'));
    expect(defaultCachePath({ HOME: '/h' })).toBe(path.join('/h', '.cache', 'lutc', 'tune.json'));
  });
});

describe('tile pass with tuned plans', () => {
  const lookupOf = (e: TuneEntry[], target: MachineKey['target']): TunedLookup => tunedLookup(e, { ...machine, target }, 'test');

  it('a hit sets table_layout and k_tile as the entry says; the lookups are recorded', () => {
    // target ref reads K-tiles: the entry's k_tile 4 (whole segments of 32 = 4 chunk pairs) is taken
    const g0 = layer(1);
    runPipeline(g0, { target: 'ref', bits: 2, groupSize: 32 });
    const a0 = matmul(g0).attrs;
    expect(a0.table_layout ?? 'token').toBe('token'); // the default plan at M = 1
    const g = layer(1);
    const progress: string[] = [];
    runPipeline(g, {
      target: 'ref',
      bits: 2,
      groupSize: 32,
      tuned: lookupOf([entry({ ...base, target: 'ref' })], 'ref'),
      progress: (m) => progress.push(m),
    });
    const a = matmul(g).attrs;
    expect(a.table_layout).toBe('vec');
    expect(a.k_tile).toBe(4);
    expect(a.k_tile).not.toBe(a0.k_tile);
    expect(progress).toContain('tune: 1 of 1 LUT layers took tuned plans from test');
  });

  it('on wasm (one K-tile) a hit sets the layout and keeps k_tile 0', () => {
    const g = layer(1);
    runPipeline(g, { target: 'wasm', bits: 2, groupSize: 32, tuned: lookupOf([entry(base)], 'wasm') });
    expect(matmul(g).attrs.table_layout).toBe('vec');
    expect(matmul(g).attrs.k_tile).toBe(0);
  });

  it('the vector-LUT choice of a decode layer comes from the prefill bucket; the wasm model renders the winner only', async () => {
    // x [m, 128] with a runtime m (bound 64) @ W [128, 16] at 4 bits: wasm's default renders both
    // gemms (scalar, and vector-LUT for m >= 16); a tuned 'token' winner at M 32 drops the vector one
    const runtimeLayer = () => {
      const g = buildGraph((b) => {
        const x = b.input('x', { dtype: 'f32', shape: ['m', 128] });
        return op(b, 'matmul', [x, b.constant('w', randTensor(rng(3), [128, 16]))]);
      });
      g.meta = { ...g.meta, dimBounds: { m: 64 } };
      return g;
    };
    const k4 = { ...base, bits: 4 };
    const lower = (entries: TuneEntry[]) => {
      const g = runtimeLayer();
      runPipeline(g, { target: 'wasm', bits: 4, groupSize: 32, ...(entries.length && { tuned: lookupOf(entries, 'wasm') }) });
      return g;
    };
    const token = { layout: 'token', kTile: 0, threads: 1 } as const;
    const plain = lower([]);
    expect(matmul(plain).attrs.vec_lut ?? 'auto').toBe('auto');
    expect(matmul(lower([entry(k4, token), entry({ ...k4, mBucket: 32 }, token)])).attrs.vec_lut).toBe('off');
    expect(matmul(lower([entry(k4, token), entry({ ...k4, mBucket: 32 })])).attrs.vec_lut).toBe('on');
    expect(matmul(lower([entry(k4, token)])).attrs.vec_lut ?? 'auto').toBe('auto'); // no entry at 32: the target's rule
    const { buildModelModule } = await import('../../backends/wasm/model/module.js');
    const fns = (g: Graph) => buildModelModule(g).wasm.length;
    const off = lower([entry(k4, token), entry({ ...k4, mBucket: 32 }, token)]);
    expect(fns(off)).toBeLessThan(fns(plain)); // the vector-LUT gemm is not rendered
  });

  it('a miss lowers to the same IR as no cache', () => {
    const plain = layer(1);
    runPipeline(plain, { target: 'ref', bits: 2, groupSize: 32 });
    const missed = layer(1);
    const progress: string[] = [];
    // the entry is for group 64: this layer's group 32 misses
    runPipeline(missed, {
      target: 'ref',
      bits: 2,
      groupSize: 32,
      tuned: lookupOf([entry({ ...base, target: 'ref', group: 64 })], 'ref'),
      progress: (m) => progress.push(m),
    });
    expect(printGraph(missed)).toBe(printGraph(plain));
    expect(progress).toContain('tune: 0 of 1 LUT layers took tuned plans from test');
  });

  it('global tile overrides win over a tuned plan; a K-tile not made of whole segments is not taken', () => {
    const g = layer(1);
    runPipeline(g, { target: 'ref', bits: 2, groupSize: 32 });
    const a = resolveAttrs(findOp('lut.matmul')!, matmul(g));
    const t = { layout: 'vec' as const, kTile: 4, threads: 1 };
    expect(planTuned(a, 1, 'ref', t)).toEqual({ layout: 'vec', kTile: 4 });
    expect(planTuned(a, 1, 'ref', t, { layout: 'token' }).layout).toBe('token');
    expect(planTuned(a, 1, 'ref', t, { vecThreshold: 4 }).layout).toBe('token');
    expect(planTuned(a, 1, 'ref', t, { tileK: 8 }).kTile).toBe(8);
    const segCP = geometryOf({ ...(a as object), k_tile: 0 } as never).segment / 8;
    expect(segCP).toBe(4);
    expect(planTuned(a, 1, 'ref', { ...t, kTile: 6 }).kTile).toBe(planTile(a, 1, 'ref', { layout: 'vec' }).kTile);
  });
});

describe('tune cache files', () => {
  it('writes, merges (same key replaced) and reads back', () => {
    const f = path.join(tmp, 'sub', 'tune.json');
    writeTuneCache(f, [entry(base), entry({ ...base, mBucket: 32 })]);
    const all = writeTuneCache(f, [entry(base, { layout: 'token', kTile: 0, threads: 1 })]);
    expect(all).toHaveLength(2);
    const back = readTuneCache(f);
    expect(findEntry(back, base)?.plan.layout).toBe('token');
  });

  it('a corrupt file or malformed entries are a warning and no cache, not an error; a missing file says nothing', async () => {
    const warns: string[] = [];
    expect(readTuneCache(path.join(tmp, 'missing.json'), (m) => warns.push(m))).toEqual([]);
    expect(warns).toEqual([]);
    const bad = path.join(tmp, 'bad.json');
    fs.writeFileSync(bad, '{"format": "lutc-tune-cache", "entries": [');
    expect(readTuneCache(bad, (m) => warns.push(m))).toEqual([]);
    expect(warns.at(-1)).toMatch(/^warning: tune cache .* is not valid JSON/);
    expect(await loadTunedLookup({ target: 'wasm' }, bad, (m) => warns.push(m))).toBeUndefined();
    const mixed = path.join(tmp, 'mixed.json');
    const broken = { ...entry(base), plan: { layout: 'diagonal', kTile: -1, threads: 0 } };
    fs.writeFileSync(mixed, JSON.stringify({ format: 'lutc-tune-cache', version: 1, entries: [broken, entry(base)] }));
    expect(readTuneCache(mixed, (m) => warns.push(m))).toHaveLength(1);
    expect(warns.at(-1)).toMatch(/1 malformed entries skipped/);
    const other = path.join(tmp, 'other.json');
    fs.writeFileSync(other, JSON.stringify({ some: 'json' }));
    expect(readTuneCache(other, (m) => warns.push(m))).toEqual([]);
    expect(warns.at(-1)).toMatch(/is not a lutc-tune-cache version 1 file/);
  });

  it('keys a compile on this machine: C carries the compiler feature macros, wasm its features', async () => {
    const { machineKey, cIsaString } = await import('../../compiler/tune-cache.js');
    const c = await machineKey({ target: 'c', threads: 2 });
    expect(c.threads).toBe(2);
    expect(c.cpu).toBe(os.cpus()[0]!.model);
    // a pinned --isa changes the key's ISA string, so an entry measured without it misses
    expect(cIsaString('scalar')).not.toBe(cIsaString());
    expect((await machineKey({ target: 'wasm' })).isa).toMatch(/^simd128; v8 /);
  });
});
