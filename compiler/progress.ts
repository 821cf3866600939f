/**
 * Progress of long work on stderr (`lutc compile`): counted phases (layers lowered, weight constants
 * hashed and written) with counts and an ETA. Work reports through `progressOf` / `startPhase`, which
 * cost nothing while no sink is installed (the library, tests); the CLI installs one with
 * `installProgress` for the length of a command.
 *
 * Drawing: on a TTY a cli-progress bar per phase (redrawn in place, cleared at the phase's end); on
 * anything else plain lines, at most one per PLAIN_INTERVAL_MS per phase (a short phase prints none), so
 * logs are not flooded; `quiet` installs nothing. Invariants: a phase's count never exceeds its total;
 * output goes only to the stream given; no diagnostic codes (progress never fails a command).
 */
import cliProgress from 'cli-progress';

/** Where counted phases report. */
export interface ProgressSink {
  /** A phase of `total` units starts (`unit`: what is counted, plural). */
  start(label: string, total: number, unit: string): void;
  /** `done` of the current phase's units are finished. */
  update(done: number): void;
  /** The current phase ended (finished or abandoned). */
  end(): void;
}

let sink: ProgressSink | undefined;

/** Installs `s` as the sink (undefined: none); returns the one it replaces. */
export function installProgress(s: ProgressSink | undefined): ProgressSink | undefined {
  const was = sink;
  sink = s;
  return was;
}

/** A started phase: `tick()` one more unit, `end()` when done (ends at most once). */
export interface Phase {
  tick(n?: number): void;
  end(): void;
}

const NO_PHASE: Phase = { tick() {}, end() {} };

/** Starts a phase on the installed sink (a no-op without one). */
export function startPhase(label: string, total: number, unit: string): Phase {
  const s = sink;
  if (!s || total <= 0) return NO_PHASE;
  let done = 0;
  let ended = false;
  s.start(label, total, unit);
  return {
    tick(n = 1) {
      if (ended) return;
      done = Math.min(total, done + n);
      s.update(done);
    },
    end() {
      if (ended) return;
      ended = true;
      s.end();
    },
  };
}

/** `items` (of known count `total`), ticking the phase `label` once per item; the phase ends with the iteration. */
export function* progressOf<T>(label: string, total: number, unit: string, items: Iterable<T>): Generator<T> {
  const p = startPhase(label, total, unit);
  try {
    for (const x of items) {
      yield x;
      p.tick();
    }
  } finally {
    p.end();
  }
}

/** Plain-line sinks print at most one line per phase this often. */
export const PLAIN_INTERVAL_MS = 5000;

/** Seconds left at the phase's mean rate so far, or undefined before any unit is done. */
function etaSeconds(started: number, now: number, done: number, total: number): number | undefined {
  if (done <= 0) return undefined;
  return (((now - started) / done) * (total - done)) / 1000;
}

/**
 * The sink for a stream: a cli-progress bar when `tty`, else plain lines ('lutc: <label>: 12/113
 * layers (11%), ETA 40 s'), at most one per PLAIN_INTERVAL_MS. `now` is injectable for tests.
 */
export function streamSink(out: { write(s: string): unknown }, tty: boolean, now: () => number = () => performance.now()): ProgressSink {
  if (tty) {
    let bar: cliProgress.SingleBar | undefined;
    return {
      start(label, total, unit) {
        bar?.stop();
        bar = new cliProgress.SingleBar(
          {
            stream: out as NodeJS.WritableStream,
            format: `lutc: ${label} [{bar}] {value}/{total} ${unit} | ETA {eta_formatted}`,
            clearOnComplete: true,
            hideCursor: false,
            etaBuffer: 50,
            fps: 5,
          },
          cliProgress.Presets.shades_classic,
        );
        bar.start(total, 0);
      },
      update(done) {
        bar?.update(done);
      },
      end() {
        bar?.stop();
        bar = undefined;
      },
    };
  }
  let label = '';
  let unit = '';
  let total = 0;
  let started = 0;
  let last = 0;
  return {
    start(l, t, u) {
      label = l;
      total = t;
      unit = u;
      started = last = now();
    },
    update(done) {
      const t = now();
      if (t - last < PLAIN_INTERVAL_MS || done >= total) return;
      last = t;
      const eta = etaSeconds(started, t, done, total);
      out.write(
        `lutc: ${label}: ${done}/${total} ${unit} (${Math.floor((100 * done) / total)}%)${eta === undefined ? '' : `, ETA ${Math.ceil(eta)} s`}\n`,
      );
    },
    end() {
      total = 0;
    },
  };
}
