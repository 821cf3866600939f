/**
 * Argument parsing for the CLI: a thin layer over node's util.parseArgs that turns every usage mistake
 * (unknown flag, missing argument, bad option value) into a coded `UsageError`, which the CLI prints
 * like any diagnostic and exits 2 for. Option values are validated here, before any work, so that
 * `--target foo` or `--bits 5` never reaches a stage.
 *
 * Codes: LUT6000 unknown command, LUT6001 unknown flag or malformed flags, LUT6002 missing argument,
 * LUT6003 bad option value (also: a target-specific flag for a target that does not read it, per the
 * options schema of backends/target.ts), LUT6004 unexpected extra argument.
 */
import { parseArgs } from 'node:util';
import { checkTargetOptions, TARGETS, type TargetCommand } from '../../backends/target.js';
import { type DiagCode, diag, LutcError } from '../../base/diagnostics.js';
import { BITS_OPTIONS, type BitsOption, type CompileOptions, type Target } from '../options.js';

/** A usage error: printed with its code, exit status 2. */
export class UsageError extends LutcError {
  constructor(code: DiagCode, message: string) {
    super(diag(code, message));
    this.name = 'UsageError';
  }
}

/** Throws a usage error (typed `never` for use in expressions). */
export function usage(code: DiagCode, message: string): never {
  throw new UsageError(code, message);
}

type OptSpec = { type: 'string' | 'boolean'; short?: string; multiple?: boolean };
export type OptSpecs = Record<string, OptSpec>;

/** Options every command accepts. */
const COMMON: OptSpecs = { help: { type: 'boolean', short: 'h' } };

/** Options shared by `compile` and `run` (docs/cli.md: `run` takes the same options as compile). */
export const COMPILE_OPTS: OptSpecs = {
  target: { type: 'string', short: 't' },
  bits: { type: 'string' },
  'group-size': { type: 'string' },
  tables: { type: 'string' },
  symmetric: { type: 'boolean' },
  'print-ir-after': { type: 'string' },
  'no-verify': { type: 'boolean' },
  shape: { type: 'string', multiple: true },
  dim: { type: 'string', multiple: true },
  'max-dim': { type: 'string', multiple: true },
  'max-tensor-bytes': { type: 'string' },
  threads: { type: 'string' },
  'embed-weights': { type: 'boolean' },
  isa: { type: 'string' },
  'wasm-features': { type: 'string' },
};

export interface Parsed {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

/** Parses `argv` against `specs` (plus --help); parseArgs errors become LUT6001. */
export function parse(command: string, argv: string[], specs: OptSpecs, maxPositionals: number): Parsed {
  let res: Parsed;
  try {
    res = parseArgs({ args: argv, options: { ...COMMON, ...specs }, allowPositionals: true, strict: true }) as Parsed;
  } catch (e) {
    // parseArgs messages are good ("Unknown option '--foo'"); strip its trailing advice about '--'.
    const msg = (e as Error).message.split('. To specify a positional')[0]!.replace(/\.$/, '');
    usage('LUT6001', `${command}: ${msg} (see 'lutc ${command} --help')`);
  }
  if (!res.values.help && res.positionals.length > maxPositionals) {
    usage('LUT6004', `${command}: unexpected argument '${res.positionals[maxPositionals]}' (see 'lutc ${command} --help')`);
  }
  return res;
}

/** A string option's value, or undefined. */
export function str(p: Parsed, name: string): string | undefined {
  const v = p.values[name];
  return typeof v === 'string' ? v : undefined;
}

export function list(p: Parsed, name: string): string[] {
  const v = p.values[name];
  return Array.isArray(v) ? v : typeof v === 'string' ? [v] : [];
}

export function flag(p: Parsed, name: string): boolean {
  return p.values[name] === true;
}

export function requireStr(command: string, p: Parsed, name: string): string {
  const v = str(p, name);
  if (v === undefined) usage('LUT6002', `${command}: missing required option --${name}`);
  return v;
}

export function requirePositional(command: string, p: Parsed, what: string): string {
  const v = p.positionals[0];
  if (v === undefined) usage('LUT6002', `${command}: missing argument <${what}> (see 'lutc ${command} --help')`);
  return v;
}

/** `--target` restricted to `allowed`. */
export function parseTarget(command: string, v: string | undefined, allowed: readonly Target[]): Target {
  if (v === undefined) usage('LUT6002', `${command}: missing required option --target (${allowed.join('|')})`);
  if (!(allowed as readonly string[]).includes(v)) {
    const known = (TARGETS as readonly string[]).includes(v);
    usage(
      'LUT6003',
      `${command}: ${known ? `target '${v}' is not valid here` : `unknown target '${v}'`}; expected one of ${allowed.join(', ')}`,
    );
  }
  return v as Target;
}

/** `--bits`: one of BITS_OPTIONS (1.58 = ternary). */
export function parseBits(command: string, v: string): BitsOption {
  const n = Number(v);
  if (v.trim() === '' || !(BITS_OPTIONS as readonly number[]).includes(n)) {
    usage('LUT6003', `${command}: invalid --bits '${v}'; expected one of ${BITS_OPTIONS.join(', ')}`);
  }
  return n as BitsOption;
}

/** A positive integer option (`--group-size`, `--n`, ...). */
export function parsePosInt(command: string, name: string, v: string, min = 1): number {
  const n = Number(v);
  if (!/^\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < min) {
    usage('LUT6003', `${command}: invalid --${name} '${v}'; expected an integer >= ${min}`);
  }
  return n;
}

/** A byte count: an integer with an optional binary suffix K, M, G or T (`--max-tensor-bytes 16G`). */
export function parseByteSize(command: string, name: string, v: string): number {
  const m = /^\s*(\d+)\s*(?:([KMGT])i?B?|B)?\s*$/i.exec(v);
  const n = m ? Number(m[1]) * 1024 ** ' KMGT'.indexOf((m[2] || ' ').toUpperCase()) : Number.NaN;
  if (!m || !Number.isSafeInteger(n) || n < 1)
    usage('LUT6003', `${command}: invalid --${name} '${v}'; expected a byte count such as 8G or 512M`);
  return n;
}

/** Splits `NAME=VALUE` at the LAST '=' (input names may contain '='; file names rarely do). */
export function splitLastEq(s: string): [string, string] | undefined {
  const i = s.lastIndexOf('=');
  return i < 0 ? undefined : [s.slice(0, i), s.slice(i + 1)];
}

/** `--shape NAME=D0,D1,...` (an empty list `NAME=` is a scalar). */
export function parseShapes(command: string, items: string[]): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const item of items) {
    const kv = splitLastEq(item);
    if (!kv || kv[0] === '') usage('LUT6003', `${command}: invalid --shape '${item}'; expected NAME=D0,D1,...`);
    const [name, dims] = kv;
    const parts = dims.trim() === '' ? [] : dims.split(',');
    out[name] = parts.map((d) => {
      if (!/^\s*\d+\s*$/.test(d)) usage('LUT6003', `${command}: invalid --shape '${item}': '${d}' is not a non-negative integer`);
      return Number(d);
    });
  }
  return out;
}

/** `--dim SYM=N`: binds a symbolic dimension directly. */
export function parseDims(command: string, items: string[], flagName = 'dim'): Record<string, number> {
  const out: Record<string, number> = {};
  for (const item of items) {
    const kv = splitLastEq(item);
    if (!kv || kv[0] === '' || !/^\d+$/.test(kv[1].trim()))
      usage('LUT6003', `${command}: invalid --${flagName} '${item}'; expected SYMBOL=N`);
    out[kv[0]] = Number(kv[1]);
  }
  return out;
}

/**
 * Checks the target-specific options of `given` (CompileOptions or KernelRequest) against `target`'s
 * options schema (backends/target.ts): one that does not apply to the target is a usage error
 * (LUT6003) naming the flag and the targets it applies to; one the target reads but that changes
 * nothing for `command` is said on stderr through `warn` (`warning: ...`) and ignored.
 */
export function checkTargetFlags(command: TargetCommand, target: Target, given: object, warn: (msg: string) => void): void {
  const { errors, warnings } = checkTargetOptions(target, given, command);
  if (errors.length) usage('LUT6003', `${command}: ${errors.join('; ')}`);
  for (const w of warnings) warn(`warning: ${command}: ${w}`);
}

/**
 * The CompileOptions fields shared by compile/run/inspect/bench, validated; target-specific ones
 * against `target`'s options schema (checkTargetFlags; warnings go to `warn`).
 */
export function compileOptions(command: TargetCommand, p: Parsed, target: Target, warn: (msg: string) => void): CompileOptions {
  const opts: CompileOptions = { target };
  const bits = str(p, 'bits');
  if (bits !== undefined) opts.bits = parseBits(command, bits);
  const g = str(p, 'group-size');
  if (g !== undefined) {
    opts.groupSize = parsePosInt(command, 'group-size', g);
    if (opts.groupSize % 4 !== 0) usage('LUT6003', `${command}: invalid --group-size '${g}'; it must be a multiple of 4 (the LUT chunk)`);
  }
  const tables = str(p, 'tables');
  if (tables !== undefined) {
    if (tables !== 'i8' && tables !== 'f32') usage('LUT6003', `${command}: invalid --tables '${tables}'; expected i8 or f32`);
    opts.tables = tables;
  }
  if (flag(p, 'symmetric')) opts.symmetric = true;
  const pia = str(p, 'print-ir-after');
  if (pia !== undefined) {
    if (pia.trim() === '') usage('LUT6003', `${command}: --print-ir-after needs a pass name or 'all'`);
    opts.printIrAfter = pia;
  }
  if (flag(p, 'no-verify')) opts.verify = false;
  const shapes = parseShapes(command, list(p, 'shape'));
  if (Object.keys(shapes).length) opts.inputShapes = shapes;
  const dims = parseDims(command, list(p, 'dim'));
  if (Object.keys(dims).length) opts.dimBindings = dims;
  const maxDims = parseDims(command, list(p, 'max-dim'), 'max-dim');
  if (Object.keys(maxDims).length && command !== 'compile' && command !== 'inspect')
    usage('LUT6003', `${command}: --max-dim applies to compile and inspect (${command} binds every dim from its inputs)`);
  for (const [sym, n] of Object.entries(maxDims)) {
    if (sym in dims) usage('LUT6003', `${command}: '${sym}' is given both --dim (frozen) and --max-dim (runtime); choose one`);
    if (n < 1) usage('LUT6003', `${command}: --max-dim ${sym}=${n}: a bound must be at least 1`);
  }
  if (Object.keys(maxDims).length) opts.maxDims = maxDims;
  const mtb = str(p, 'max-tensor-bytes');
  if (mtb !== undefined) opts.maxTensorBytes = parseByteSize(command, 'max-tensor-bytes', mtb);
  const threads = str(p, 'threads');
  if (threads !== undefined) opts.threads = parsePosInt(command, 'threads', threads);
  if (flag(p, 'embed-weights')) opts.embedWeights = true;
  const isa = str(p, 'isa');
  if (isa !== undefined) {
    if (!['scalar', 'avx2', 'avx512', 'neon'].includes(isa))
      usage('LUT6003', `${command}: invalid --isa '${isa}'; expected scalar, avx2, avx512 or neon`);
    opts.isa = isa as CompileOptions['isa'];
  }
  const feats = str(p, 'wasm-features');
  if (feats !== undefined) {
    const list = feats
      .split(',')
      .map((f) => f.trim())
      .filter(Boolean);
    const bad = list.find((f) => f !== 'relaxed-simd');
    if (bad) usage('LUT6003', `${command}: unknown --wasm-features '${bad}'; supported: relaxed-simd`);
    opts.wasmFeatures = list;
  }
  checkTargetFlags(command, target, opts, warn);
  return opts;
}
