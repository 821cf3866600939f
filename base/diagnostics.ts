/**
 * Coded diagnostics. Every user-facing error in lutc is a `Diagnostic` with a code `LUTnnnn` and a
 * location; stages throw `LutcError` (one or many diagnostics) instead of bare `Error`, so the CLI can
 * print them in the docs/cli.md format and exit 1. Anything else that escapes is a bug (exit 70).
 *
 * Codes are the keys of the table in base/diagnostic-codes.ts (`DiagCode`; ranges and owners there,
 * every code listed in docs/diagnostics.md); every function here takes a `DiagCode`, so a code missing
 * from the table is a type error. A base module: imports nothing outside base/.
 */
import type { DiagCode, Severity } from './diagnostic-codes.js';

export type { DiagCode, Severity } from './diagnostic-codes.js';
export { DIAGNOSTICS, isDiagCode } from './diagnostic-codes.js';

/** Where a diagnostic points: IR text position, an imported graph node, or just a file. */
export type Location =
  | { kind: 'text'; file: string; line: number; col: number }
  | { kind: 'node'; file?: string; node: string; opType: string }
  | { kind: 'file'; file: string };

/** One problem found: its code, severity, message and where it is. */
export interface Diagnostic {
  /** `LUTnnnn`, a key of the table in base/diagnostic-codes.ts. */
  code: DiagCode;
  severity: Severity;
  message: string;
  loc?: Location;
}

/** Thrown by any stage for a diagnosed user error. Carries every diagnostic found, not just the first. */
export class LutcError extends Error {
  readonly diagnostics: Diagnostic[];
  constructor(diagnostics: Diagnostic | Diagnostic[]) {
    const list = Array.isArray(diagnostics) ? diagnostics : [diagnostics];
    super(list.map(formatDiagnostic).join('\n'));
    this.name = 'LutcError';
    this.diagnostics = list;
  }
}

/** Builds an error diagnostic. */
export function diag(code: DiagCode, message: string, loc?: Location): Diagnostic {
  return { code, severity: 'error', message, loc };
}

/** Throws a single coded error. Typed `never` so callers can use it in expressions. */
export function fail(code: DiagCode, message: string, loc?: Location): never {
  throw new LutcError(diag(code, message, loc));
}

/** Location of a graph node, for diagnostics about imported or lowered graphs. */
export function nodeLoc(node: { name: string; op: string; loc?: Location }, file?: string): Location {
  if (node.loc) return file && node.loc.kind === 'node' && !node.loc.file ? { ...node.loc, file } : node.loc;
  return { kind: 'node', file, node: node.name, opType: node.op };
}

/**
 * Formats as docs/cli.md requires:
 *   `file: node 'name' (OpType): error LUTnnnn: message`   for graph nodes
 *   `file:line:col: error LUTnnnn: message`                 for IR text
 */
export function formatDiagnostic(d: Diagnostic): string {
  const head = `${d.severity} ${d.code}: ${d.message}`;
  const loc = d.loc;
  if (!loc) return head;
  switch (loc.kind) {
    case 'text':
      return `${loc.file}:${loc.line}:${loc.col}: ${head}`;
    case 'node':
      return `${loc.file ?? '<graph>'}: node '${loc.node}' (${loc.opType}): ${head}`;
    case 'file':
      return `${loc.file}: ${head}`;
  }
}

/** Collects diagnostics across a stage, then throws them together (e.g. every unsupported op at once). */
export class DiagnosticBag {
  readonly items: Diagnostic[] = [];
  /** Adds a diagnostic as it is. */
  add(d: Diagnostic): void {
    this.items.push(d);
  }
  /** Adds an error diagnostic. */
  error(code: DiagCode, message: string, loc?: Location): void {
    this.items.push(diag(code, message, loc));
  }
  get hasErrors(): boolean {
    return this.items.some((d) => d.severity === 'error');
  }
  /** Throws a LutcError when any error was collected. */
  throwIfErrors(): void {
    if (this.hasErrors) throw new LutcError(this.items.filter((d) => d.severity === 'error'));
  }
}
