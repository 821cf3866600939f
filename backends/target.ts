/**
 * The target registry: one `TargetInfo` per target (backends/<t>/target.ts, and backends/ref/target.ts
 * for the reference interpreter), the single place that says what a target is: the IR ops its backend
 * renders itself, the LUT form it consumes (lookup width of the packed weights), the tile budgets of
 * passes/tile.ts, how it holds int64, which target-specific options it reads (the options schema the
 * CLI and the library API validate against), and its compile/run/kernel/bench entry points.
 *
 * The types live in backends/target-info.ts. Everything here and in the per-target files is static
 * data plus lazy `() => import(...)` entry points, so loading the registry (the CLI does on every command, the passes do) never loads
 * binaryen, a C toolchain or WebGPU. Options, CLI, passes and bench read targets from here only.
 */
import { cTarget } from './c/target.js';
import { refTarget } from './ref/target.js';
import { TARGET_OPTIONS, type TargetCommand, type TargetInfo, type TargetName, type TargetOptionKey } from './target-info.js';
import { wasmTarget } from './wasm/target.js';
import { wgslTarget } from './wgsl/target.js';

export * from './target-info.js';

const REGISTRY: Readonly<Record<TargetName, TargetInfo>> = { ref: refTarget, wasm: wasmTarget, wgsl: wgslTarget, c: cTarget };
const ORDER: readonly TargetName[] = ['ref', 'wasm', 'wgsl', 'c'];

/** Every target name, in the order --help lists them. */
export const TARGETS: readonly TargetName[] = ORDER;

/** True when `name` is a target. */
export function isTargetName(name: string): name is TargetName {
  return Object.hasOwn(REGISTRY, name);
}

/** The target named `name`; throws (a bug in the caller: names are validated where they enter) for others. */
export function getTarget(name: string): TargetInfo {
  if (!isTargetName(name)) throw new Error(`unknown target '${name}' (known: ${ORDER.join(', ')})`);
  return REGISTRY[name];
}

/** Every target, in the order --help lists them. */
export function allTargets(): readonly TargetInfo[] {
  return ORDER.map((n) => REGISTRY[n]);
}

/** Targets with a whole-model artifact (`lutc compile`). */
export function artifactTargets(): readonly TargetInfo[] {
  return allTargets().filter((t) => t.compile);
}

/** Targets with a kernel-only mode (`lutc kernel`). */
export function kernelTargets(): readonly TargetInfo[] {
  return allTargets().filter((t) => t.kernel);
}

/** The targets `command` takes: compile needs an artifact, kernel a kernel mode, bench a benchmark. */
export function targetsFor(command: TargetCommand): readonly TargetInfo[] {
  const entry = ({ compile: 'compile', kernel: 'kernel', bench: 'bench' } as const)[command as 'compile'];
  return entry ? allTargets().filter((t) => t[entry]) : allTargets();
}

/**
 * Targets that read option `key`; for `command`, only those `command` takes (and for kernel, only
 * where the option changes the kernel: a kernel request has no field that is only warned about).
 */
export function targetsReading(key: TargetOptionKey, command?: TargetCommand): TargetInfo[] {
  return (command ? targetsFor(command) : allTargets()).filter((t) => {
    const use = t.options[key];
    return use && (command !== 'kernel' || use.affects.includes('kernel'));
  });
}

/** Result of checking the target-specific options given for one target and command. */
export interface OptionCheck {
  /** Options that do not apply to the target (usage errors). */
  errors: string[];
  /** Options the target reads but that change nothing for this command (said on stderr, then ignored). */
  warnings: string[];
}

/**
 * Checks the target-specific options set in `given` (a CompileOptions or KernelRequest) against
 * `target`'s options schema for `command`. Messages name the flag as the CLI spells it and the
 * targets it applies to.
 */
export function checkTargetOptions(target: TargetName, given: object, command: TargetCommand): OptionCheck {
  const t = getTarget(target);
  const res: OptionCheck = { errors: [], warnings: [] };
  const g = given as Partial<Record<TargetOptionKey, unknown>>;
  for (const key of Object.keys(TARGET_OPTIONS) as TargetOptionKey[]) {
    const v = g[key];
    if (v === undefined || v === false || (Array.isArray(v) && v.length === 0)) continue;
    const spec = TARGET_OPTIONS[key];
    const flag = `--${command === 'kernel' ? (spec.kernel?.flag ?? spec.flag) : spec.flag}`;
    const use = t.options[key];
    const readers = targetsReading(key, command === 'kernel' ? 'kernel' : undefined).map((x) => x.name);
    if (!use || (command === 'kernel' && !use.affects.includes('kernel'))) {
      res.errors.push(`${flag} applies to --target ${readers.join(', ') || '(none)'} only, not ${target}`);
    } else if (!use.affects.includes(command)) {
      res.warnings.push(`${flag} has no effect on '${command} --target ${target}'${use.otherwise ? `: ${use.otherwise}` : ''}; ignored`);
    }
  }
  return res;
}

/**
 * --help lines for the target-specific options of `command` (one per option any target reads), from
 * the schema: flag, the targets it applies to and, where it does nothing for this command, a note.
 */
export function targetOptionHelp(command: TargetCommand): string {
  const lines: string[] = [];
  for (const key of Object.keys(TARGET_OPTIONS) as TargetOptionKey[]) {
    const spec = TARGET_OPTIONS[key];
    const f = command === 'kernel' ? spec.kernel : spec;
    if (!f) continue;
    const readers = targetsReading(key, command);
    if (!readers.length) continue;
    const head = `  --${f.flag}${f.arg ? ` ${f.arg}` : ''}`;
    const idle = readers.some((t) => !t.options[key]!.affects.includes(command));
    const text = `${readers.map((t) => t.name).join(', ')} only: ${spec.help}${idle ? ` (${command}: ignored, with a warning)` : ''}`;
    lines.push(head.length + 2 <= 26 ? `${head.padEnd(26)}${text}` : `${head}\n${' '.repeat(26)}${text}`);
  }
  return lines.join('\n');
}
