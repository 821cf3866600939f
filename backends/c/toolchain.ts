/**
 * Builds generated C with the system compiler, for tests, the benchmark and `lutc run --target c`.
 * Outputs are cached by a hash of the compiler, flags and sources (under os.tmpdir()/lutc-c-cache),
 * so repeated test runs do not recompile. Compiler failures are diagnosed (LUT5110) with the
 * compiler's own message, since they mean the environment or the generated code is wrong.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fail } from '../../base/diagnostics.js';

/** Flags every lutc C build needs for bit-exact tables (no contraction, no fast-math). */
export const EXACT_FLAGS = ['-std=c99', '-ffp-contract=off', '-fno-fast-math'];
/** Warnings the generated C must be clean under. */
export const STRICT_FLAGS = ['-Wall', '-Wextra', '-Werror'];

export interface CBuild {
  /** File name -> text; every `.c` file is compiled. */
  sources: Record<string, string>;
  /** Compiler flags (EXACT_FLAGS are always added). */
  flags: string[];
  /** Compiler driver (default `cc`, or $CC). */
  cc?: string;
  /** Executable (default) or shared library. */
  kind?: 'exe' | 'so';
  /** Extra link flags (after the sources), e.g. -lm. */
  ldflags?: string[];
}

/** Where cached builds live. */
export function cacheDir(): string {
  const d = process.env.LUTC_C_CACHE ?? join(tmpdir(), 'lutc-c-cache');
  mkdirSync(d, { recursive: true });
  return d;
}

/** Compiles (or reuses a cached build) and returns the output's path. */
export function buildC(b: CBuild): string {
  const cc = b.cc ?? process.env.CC ?? 'cc';
  const flags = [...EXACT_FLAGS, ...b.flags, ...(b.kind === 'so' ? ['-shared', '-fPIC'] : [])];
  const h = createHash('sha256');
  h.update(JSON.stringify([cc, flags, b.ldflags ?? [], b.kind ?? 'exe']));
  for (const name of Object.keys(b.sources).sort()) h.update(`\0${name}\0${b.sources[name]}`);
  const key = h.digest('hex').slice(0, 24);
  const dir = join(cacheDir(), key);
  const out = join(dir, b.kind === 'so' ? 'lib.so' : 'prog');
  if (existsSync(out)) return out;
  mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(b.sources)) writeFileSync(join(dir, name), text);
  const cfiles = Object.keys(b.sources)
    .filter((f) => f.endsWith('.c'))
    .map((f) => join(dir, f));
  const tmp = `${out}.${process.pid}.tmp`;
  try {
    execFileSync(cc, [...flags, '-I', dir, ...cfiles, '-o', tmp, ...(b.ldflags ?? ['-lm'])], { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { stderr?: Buffer; message: string };
    fail('LUT5110', `C compiler '${cc}' failed (${dir}):\n${err.stderr?.toString().slice(0, 4000) ?? err.message}`);
  }
  renameSync(tmp, out);
  return out;
}

/** True when `cc` can compile and link a trivial program with these flags (e.g. a cross compiler). */
export function canCompile(cc: string, flags: string[] = []): boolean {
  try {
    buildC({
      cc,
      flags,
      sources: { 'probe.c': '#include <stdlib.h>\n#include <string.h>\n#include <math.h>\nint main(void) { return 0; }\n' },
    });
    return true;
  } catch {
    return false;
  }
}
