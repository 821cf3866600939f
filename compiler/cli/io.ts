/**
 * Where the CLI writes: results to `out` (stdout), diagnostics and progress to `err` (stderr).
 * Commands take a `CliIO` so tests can run `main()` in-process and capture both streams.
 * `withProgress` / `notesOf`: what `--quiet` means for every long command (compile, quantize, tune,
 * bench): no progress and no notes on stderr; warnings and errors still print.
 */

import { installProgress, streamSink } from '../progress.js';

export interface CliIO {
  /** Results (stdout). A trailing newline is added when missing. */
  out(text: string): void;
  /** Diagnostics, notes and progress (stderr). A trailing newline is added when missing. */
  err(text: string): void;
  /** Results (stdout) as they are, no newline added: streamed output (generated tokens). */
  write(text: string): void;
}

const nl = (s: string) => (s.endsWith('\n') ? s : s + '\n');

/** The process's stdout/stderr. */
export const processIO: CliIO = {
  out: (s) => void process.stdout.write(nl(s)),
  err: (s) => void process.stderr.write(nl(s)),
  write: (s) => void process.stdout.write(s),
};

/** An in-memory CliIO for tests: collected text in `stdout` / `stderr`. */
export function captureIO(): CliIO & { stdout: string; stderr: string } {
  const io = {
    stdout: '',
    stderr: '',
    out(s: string) {
      io.stdout += nl(s);
    },
    err(s: string) {
      io.stderr += nl(s);
    },
    write(s: string) {
      io.stdout += s;
    },
  };
  return io;
}

/**
 * Runs `fn` with counted phases (compiler/progress.ts) drawn on stderr: a cli-progress bar when `io` is
 * the process's and stderr is a TTY, plain lines through `io.err` otherwise; `quiet`: none at all.
 * The sink in place before is restored afterwards.
 */
export async function withProgress<T>(io: CliIO, quiet: boolean, fn: () => Promise<T>): Promise<T> {
  const tty = io === processIO && !!process.stderr.isTTY;
  const was = installProgress(quiet ? undefined : streamSink(tty ? process.stderr : { write: (s) => io.err(s) }, tty));
  try {
    return await fn();
  } finally {
    installProgress(was);
  }
}

/** The notes sink of a command with `--quiet`: everything, or (quiet) only warnings. */
export function notesOf(io: CliIO, quiet: boolean): (m: string) => void {
  return (m) => {
    if (!quiet || m.startsWith('warning')) io.err(m);
  };
}
