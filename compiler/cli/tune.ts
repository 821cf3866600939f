/**
 * `lutc tune`: measures kernel plans of a model's LUT layers on this machine (compiler/tune.ts) and
 * merges the winners into the tune cache (compiler/tune-cache.ts), which `lutc compile` reads. Prints
 * per-slot progress on stderr and the table of winners against the default plans on stdout.
 * Usage errors: LUT6002 (missing model or --target), LUT6003 (bad value: target other than c/wasm,
 * --m, --budget, and compile's flag checks, reported as `tune:`), LUT6001 (unknown flag); LUT6012 when
 * the cache cannot be written.
 */

import type { CompileOptions } from '../options.js';
import { tune } from '../tune.js';
import { defaultCachePath, writeTuneCache } from '../tune-cache.js';
import {
  COMPILE_OPTS,
  compileOptions,
  flag,
  type Parsed,
  parse,
  parsePosInt,
  parseTarget,
  requirePositional,
  str,
  UsageError,
  usage,
} from './args.js';
import { type CliIO, notesOf, withProgress } from './io.js';

export const TUNE_HELP = `usage: lutc tune <model.onnx|model.lut> --target c|wasm [options]

Measures candidate kernel plans of the model's LUT layers on this machine, per M bucket (wasm:
scalar LUT against Vec-LUT; c: 1 thread against --threads N), and merges the winners into the
tune cache, keyed on the whole configuration (target, ISA/features, CPU model, shape, bits, group,
tables, M bucket, threads, lutc version). 'lutc compile' with the same flags on this machine then
takes the tuned plans; an entry whose key differs in any field is never used.

  -t, --target T          c or wasm
  --threads N             threads the artifact runs on (default 1; part of the key)
  --m M1,M2,...           M buckets to measure (default 1,32; each value goes to its bucket:
                          1, else the next power of two)
  --budget MS             timing budget of the whole tune in ms (default 4000; builds not counted)
  --cache FILE            the cache file (default $LUTC_TUNE_CACHE, else
                          $XDG_CACHE_HOME/lutc/tune.json, else ~/.cache/lutc/tune.json)
  --bits, --group-size, --tables, --symmetric, --shape, --dim, --max-tensor-bytes
                          how the model is lowered, as for compile
  --isa scalar|avx2|avx512|neon   (c) the pinned ISA path (part of the key)
  --wasm-features relaxed-simd    (wasm) time the relaxed-SIMD kernels where the engine runs them
  -q, --quiet             no per-slot lines, notes or progress on stderr (warnings still print)
  -h, --help              this help
`;

/** The flags of `lutc tune`: compile's lowering flags plus its own. */
const TUNE_OPTS = {
  target: COMPILE_OPTS.target!,
  bits: COMPILE_OPTS.bits!,
  'group-size': COMPILE_OPTS['group-size']!,
  tables: COMPILE_OPTS.tables!,
  symmetric: COMPILE_OPTS.symmetric!,
  shape: COMPILE_OPTS.shape!,
  dim: COMPILE_OPTS.dim!,
  'max-tensor-bytes': COMPILE_OPTS['max-tensor-bytes']!,
  threads: COMPILE_OPTS.threads!,
  isa: COMPILE_OPTS.isa!,
  'wasm-features': COMPILE_OPTS['wasm-features']!,
  m: { type: 'string' as const },
  budget: { type: 'string' as const },
  cache: { type: 'string' as const },
  quiet: { type: 'boolean' as const, short: 'q' },
};

/** compile's flag checks (args.ts compileOptions), their usage errors said as `tune:`. */
function lowering(p: Parsed, target: 'c' | 'wasm', warn: (m: string) => void): CompileOptions {
  try {
    return compileOptions('compile', p, target, (m) => warn(m.replace('compile: ', 'tune: ')));
  } catch (e) {
    if (e instanceof UsageError) usage(e.diagnostics[0]!.code, e.diagnostics[0]!.message.replace(/^compile: /, 'tune: '));
    throw e;
  }
}

/** Implements `lutc tune`. */
export async function cmdTune(argv: string[], io: CliIO): Promise<number> {
  const p = parse('tune', argv, TUNE_OPTS, 1);
  if (p.values.help) return (io.out(TUNE_HELP), 0);
  const model = requirePositional('tune', p, 'model');
  const target = parseTarget('tune', str(p, 'target'), ['c', 'wasm']) as 'c' | 'wasm';
  const { threads, target: _t, ...compile } = lowering(p, target, (m) => io.err(m));
  const mList = str(p, 'm');
  const mBuckets = mList === undefined ? undefined : mList.split(',').map((v) => parsePosInt('tune', 'm', v.trim()));
  const budget = str(p, 'budget');
  const budgetMs = budget === undefined ? undefined : parsePosInt('tune', 'budget', budget);
  const cache = str(p, 'cache') ?? defaultCachePath();
  // --quiet: no per-slot lines, notes or progress bar; warnings still print, the table goes to stdout
  const quiet = flag(p, 'quiet');
  const notes = notesOf(io, quiet);
  const res = await withProgress(io, quiet, () => tune(model, { target, threads, mBuckets, budgetMs, compile, log: notes }));
  if (!res.entries.length) {
    notes(`tune: the model has no LUT layers (give --bits to quantize float layers); nothing written to ${cache}`);
    return 0;
  }
  const all = writeTuneCache(cache, res.entries, notes);
  io.out(res.table);
  notes(`tune: ${res.entries.length} entries written to ${cache} (${all.length} in all)`);
  return 0;
}
