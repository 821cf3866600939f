/**
 * The tune cache of `lutc tune` (compiler/tune.ts): a JSON file of measured winners, one entry per
 * whole configuration, which `lutc compile` reads (compiler/api.ts) and the tile pass asks per layer.
 *
 *   file   `--cache FILE` / CompileOptions.tuneCache, else $LUTC_TUNE_CACHE, else
 *          $XDG_CACHE_HOME/lutc/tune.json, else ~/.cache/lutc/tune.json (defaultCachePath)
 *   format { "format": "lutc-tune-cache", "version": 1, "entries": [{ key, plan, us, defaultUs, measuredAt }] }
 *   key    target, isa (what the target really builds for: C, the C compiler's -march=native feature
 *          macros and version, and the pinned --isa; wasm, SIMD128, relaxed SIMD when requested and
 *          this engine runs it, and V8's version), cpu (os.cpus()[0].model), n, k, bits, group, tables, mBucket, threads, lutc
 *          version.
 *
 * Invariants: a lookup matches only an entry whose key equals the whole key field by field (never a
 * nearest match; a stale entry -- another lutc version, CPU, compiler, ISA -- is a miss); an entry
 * whose fields are not well-formed is never used. A missing file is an empty cache; an unreadable or
 * corrupt one is a `warning:` through `warn` and an empty cache, never an error. Writes merge (an
 * entry with the same key is replaced) and go through a temporary file and a rename.
 * Diagnostic: LUT6012 when the cache cannot be written.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { fail } from '../base/diagnostics.js';
import type { CompileOptions, Target, TunedLookup, TunedPlan, TuneLayer } from './options.js';

/** The whole configuration an entry was measured for; every field takes part in a lookup. */
export interface TuneKey {
  target: Target;
  isa: string;
  cpu: string;
  n: number;
  k: number;
  bits: number;
  group: number;
  tables: 'i8' | 'f32';
  mBucket: number;
  threads: number;
  version: string;
}

/** One measured winner. */
export interface TuneEntry {
  key: TuneKey;
  plan: TunedPlan;
  /** Median µs per call of the winner and of the default plan (the speedup `lutc tune` prints). */
  us: number;
  defaultUs: number;
  /** ISO time of the measurement. */
  measuredAt: string;
}

export const CACHE_FORMAT = 'lutc-tune-cache';
export const CACHE_VERSION = 1;

/** Key fields in their canonical order (keyString; the lookup compares every one). */
const KEY_FIELDS: readonly (keyof TuneKey)[] = [
  'target',
  'isa',
  'cpu',
  'n',
  'k',
  'bits',
  'group',
  'tables',
  'mBucket',
  'threads',
  'version',
];

/** The package version (from package.json, found relative to this module in src and in dist). */
export function lutcVersion(): string {
  const req = createRequire(import.meta.url);
  for (const rel of ['../package.json', '../../package.json']) {
    try {
      const pkg = req(rel) as { name?: string; version?: string };
      if (pkg.name === 'lutc' && pkg.version) return pkg.version;
    } catch {
      // try the next location
    }
  }
  return 'unknown';
}

/** The cache file when none is given: $LUTC_TUNE_CACHE, else the XDG cache folder's lutc/tune.json. */
export function defaultCachePath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.LUTC_TUNE_CACHE) return env.LUTC_TUNE_CACHE;
  const base = env.XDG_CACHE_HOME || path.join(env.HOME || os.homedir(), '.cache');
  return path.join(base, 'lutc', 'tune.json');
}

/**
 * The M bucket of a layer's token count: 1 for M <= 1, else the next power of two (2, 4, 8, 16, 32,
 * ...). `lutc tune` measures each bucket at its own M; a compile looks its layer's M up by bucket.
 */
export function mBucket(m: number): number {
  if (!(m > 1)) return 1;
  return 2 ** Math.ceil(Math.log2(m));
}

/** Canonical text of a key (fields in KEY_FIELDS order). */
export function keyString(k: TuneKey): string {
  return JSON.stringify(KEY_FIELDS.map((f) => k[f]));
}

const C_FEATURE = /^__(AVX\w*|FMA|F16C|BMI2|SSE4_2|ARM_NEON|ARM_FEATURE_(DOTPROD|MATMUL_INT8|SVE\w*)|aarch64|x86_64)__$/;
const cIsaMemo = new Map<string, string>();

/**
 * The C ISA string: `cc -march=native`'s feature macros and __VERSION__ (the code the artifact's
 * documented build, -O3 -march=native, gets), or `isa=<pinned>` plus them when --isa pins a path.
 * A compiler that cannot be run gives 'cc-unavailable' (a compile then matches no measured entry).
 */
export function cIsaString(isa?: string, cc: string = process.env.CC ?? 'cc'): string {
  let macros = cIsaMemo.get(cc);
  if (macros === undefined) {
    try {
      const out = execFileSync(cc, ['-march=native', '-dM', '-E', '-x', 'c', '-'], {
        input: '',
        stdio: ['pipe', 'pipe', 'ignore'],
      }).toString();
      const feats: string[] = [];
      let ver = '';
      for (const line of out.split('\n')) {
        const m = /^#define (\S+)(?: (.*))?$/.exec(line);
        if (!m) continue;
        if (C_FEATURE.test(m[1]!)) feats.push(m[1]!.replace(/^__|__$/g, ''));
        if (m[1] === '__VERSION__') ver = (m[2] ?? '').replace(/"/g, '');
      }
      macros = `${cc} ${ver}: ${feats.sort().join(',')}`;
    } catch {
      macros = 'cc-unavailable';
    }
    cIsaMemo.set(cc, macros);
  }
  return isa ? `isa=${isa}; ${macros}` : macros;
}

/**
 * The wasm ISA string: SIMD128, plus relaxed SIMD when it is requested (--wasm-features relaxed-simd)
 * and this engine runs it (the module the artifact then loads), and V8's version.
 */
export async function wasmIsaString(requested: readonly string[] = []): Promise<string> {
  // the probe's module loads binaryen: only asked when relaxed SIMD is requested
  const relaxed = requested.includes('relaxed-simd') && (await import('../backends/wasm/module.js')).engineHasRelaxedSimd();
  return `simd128${relaxed ? ',relaxed-simd' : ''}; v8 ${process.versions.v8}`;
}

/** The machine half of a key: everything but the layer's shape and bucket. */
export type MachineKey = Pick<TuneKey, 'target' | 'isa' | 'cpu' | 'threads' | 'version'>;

/** The options a machine key reads. */
export type KeyOptions = Pick<CompileOptions, 'target' | 'isa' | 'threads' | 'wasmFeatures'>;

/** The machine key of a compile or tune with `opts` on this machine. */
export async function machineKey(opts: KeyOptions): Promise<MachineKey> {
  return {
    target: opts.target,
    isa: opts.target === 'c' ? cIsaString(opts.isa) : opts.target === 'wasm' ? await wasmIsaString(opts.wasmFeatures) : opts.target,
    cpu: os.cpus()[0]?.model ?? 'unknown',
    threads: opts.threads ?? 1,
    version: lutcVersion(),
  };
}

/** The whole key of one layer at one M bucket. */
export function layerKey(machine: MachineKey, layer: Omit<TuneLayer, 'm'>, bucket: number): TuneKey {
  return { ...machine, n: layer.n, k: layer.k, bits: layer.bits, group: layer.groupSize, tables: layer.tables, mBucket: bucket };
}

const isPosInt = (v: unknown) => Number.isInteger(v) && (v as number) >= 1;

/** Whether `e` is a well-formed entry (every key field of its type, a valid plan); others are never used. */
export function validEntry(e: unknown): e is TuneEntry {
  const x = e as TuneEntry;
  if (!x || typeof x !== 'object' || !x.key || !x.plan) return false;
  const k = x.key;
  const strs = ['target', 'isa', 'cpu', 'tables', 'version'] as const;
  const ints = ['n', 'k', 'group', 'mBucket', 'threads'] as const;
  if (!strs.every((f) => typeof k[f] === 'string') || !ints.every((f) => isPosInt(k[f])) || typeof k.bits !== 'number') return false;
  const p = x.plan;
  return (p.layout === 'token' || p.layout === 'vec') && Number.isInteger(p.kTile) && p.kTile >= 0 && isPosInt(p.threads);
}

/**
 * Reads the cache at `file`: its well-formed entries. A missing file is empty; an unreadable or
 * corrupt file, or malformed entries, are a warning through `warn` (then empty / skipped).
 */
export function readTuneCache(file: string, warn: (msg: string) => void = () => {}): TuneEntry[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT')
      warn(`warning: tune cache '${file}' cannot be read (${(e as Error).message}); not used`);
    return [];
  }
  let doc: { format?: unknown; version?: unknown; entries?: unknown };
  try {
    doc = JSON.parse(text);
  } catch (e) {
    warn(`warning: tune cache '${file}' is not valid JSON (${(e as Error).message}); not used (rerun 'lutc tune' to rewrite it)`);
    return [];
  }
  if (!doc || doc.format !== CACHE_FORMAT || doc.version !== CACHE_VERSION || !Array.isArray(doc.entries)) {
    warn(`warning: tune cache '${file}' is not a ${CACHE_FORMAT} version ${CACHE_VERSION} file; not used`);
    return [];
  }
  const ok = doc.entries.filter(validEntry);
  if (ok.length < doc.entries.length) warn(`warning: tune cache '${file}': ${doc.entries.length - ok.length} malformed entries skipped`);
  return ok;
}

/** Merges `entries` into the cache at `file` (same key: replaced) and writes it atomically (LUT6012). */
export function writeTuneCache(file: string, entries: TuneEntry[], warn?: (msg: string) => void): TuneEntry[] {
  const byKey = new Map(readTuneCache(file, warn).map((e) => [keyString(e.key), e]));
  for (const e of entries) byKey.set(keyString(e.key), e);
  const all = [...byKey.values()];
  const tmp = `${file}.lutc-tmp-${process.pid}`;
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(tmp, `${JSON.stringify({ format: CACHE_FORMAT, version: CACHE_VERSION, entries: all }, null, 1)}\n`);
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    fail('LUT6012', `cannot write tune cache '${file}': ${(e as Error).message}`);
  }
  return all;
}

/** The entry whose key equals `key` in every field, or undefined (a miss). */
export function findEntry(entries: readonly TuneEntry[], key: TuneKey): TuneEntry | undefined {
  const want = keyString(key);
  return entries.find((e) => keyString(e.key) === want);
}

/** A TunedLookup over `entries` for the machine key `machine` (what the tile pass asks). */
export function tunedLookup(entries: readonly TuneEntry[], machine: MachineKey, source: string): TunedLookup {
  return {
    source,
    lookup: (layer) => findEntry(entries, layerKey(machine, layer, mBucket(layer.m)))?.plan,
  };
}

/**
 * The lookup a compile with `opts` uses: the cache at `file` (default path when undefined) on this
 * machine, or undefined when the target is not tuned (only c and wasm are) or the cache has no entry.
 */
export async function loadTunedLookup(
  opts: KeyOptions,
  file: string = defaultCachePath(),
  warn?: (msg: string) => void,
): Promise<TunedLookup | undefined> {
  if (opts.target !== 'c' && opts.target !== 'wasm') return undefined;
  const entries = readTuneCache(file, warn);
  if (!entries.length) return undefined;
  return tunedLookup(entries, await machineKey(opts), file);
}
