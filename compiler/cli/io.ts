/**
 * Where the CLI writes: results to `out` (stdout), diagnostics and progress to `err` (stderr).
 * Commands take a `CliIO` so tests can run `main()` in-process and capture both streams.
 */

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
