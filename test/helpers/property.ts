/**
 * The seed and run-count policy of every fast-check property test (test/property/*.test.ts,
 * test/passes/properties.test.ts). One place decides which seed runs and how many cases each property
 * draws, so CI is reproducible and a nightly job can widen the search without editing tests.
 *
 *   LUTC_PROPERTY_SEED   unset: the fixed CI seed (DEFAULT_SEED). An integer: that seed. `random`:
 *                        a fresh seed, printed once per test file ("replay: LUTC_PROPERTY_SEED=...").
 *   LUTC_PROPERTY_RUNS   unset: each property's own CI count. An integer N: every property draws N
 *                        cases. `Nx` (e.g. `10x`, `0.5x`): each CI count times N (at least 1).
 *   LUTC_PROPERTY_PATH   a fast-check counterexample path (printed with a failure): replays just that
 *                        shrunk case (run the one test, e.g. `vitest run FILE -t NAME`).
 *
 * `assertProperty` / `assertAsyncProperty` check a predicate over one arbitrary under this policy, then
 * on fixed examples (e.g. benchmarked shapes; every seed, not shrunk). On failure they throw
 * fast-check's report (seed, path, the shrunk counterexample, how often it shrank, the error) plus a
 * replay line; an optional shrink budget bounds shrinking that recompiles kernels.
 * `timeoutFor` scales a test's timeout with the run multiplier. Nightly-style:
 * `LUTC_PROPERTY_SEED=random LUTC_PROPERTY_RUNS=10x npx vitest run test/property test/passes/properties.test.ts`.
 */
import fc from 'fast-check';

/** The fixed seed CI runs with. */
export const DEFAULT_SEED = 20_240_917;

function parseSeed(raw: string | undefined): { seed: number; drawn: boolean } {
  if (raw === undefined || raw.trim() === '') return { seed: DEFAULT_SEED, drawn: false };
  if (raw.trim().toLowerCase() === 'random') return { seed: (Date.now() ^ Math.floor(Math.random() * 2 ** 31)) | 0, drawn: true };
  const v = Number(raw);
  if (!Number.isSafeInteger(v)) throw new Error(`LUTC_PROPERTY_SEED must be an integer or 'random', got '${raw}'`);
  return { seed: v | 0, drawn: false };
}

function parseRuns(raw: string | undefined): (base: number) => number {
  if (raw === undefined || raw.trim() === '') return (base) => base;
  const s = raw.trim();
  const mult = /^(\d+(?:\.\d+)?)x$/i.exec(s);
  if (mult) {
    const f = Number(mult[1]);
    return (base) => Math.max(1, Math.ceil(base * f));
  }
  const n = Number(s);
  if (!Number.isInteger(n) || n < 1)
    throw new Error(`LUTC_PROPERTY_RUNS must be a positive integer or a multiplier like '4x', got '${raw}'`);
  return () => n;
}

const SEED = parseSeed(process.env.LUTC_PROPERTY_SEED);
const RUNS = parseRuns(process.env.LUTC_PROPERTY_RUNS);
const PATH = process.env.LUTC_PROPERTY_PATH?.trim() || undefined;
if (SEED.drawn) console.log(`[lutc property] LUTC_PROPERTY_SEED=random drew seed ${SEED.seed} (replay: LUTC_PROPERTY_SEED=${SEED.seed})`);

/** The seed every property of this process runs with. */
export function propertySeed(): number {
  return SEED.seed;
}

/** Cases a property with CI count `base` draws under LUTC_PROPERTY_RUNS. */
export function propertyRuns(base: number): number {
  return RUNS(base);
}

/** A test timeout for `baseMs` at the CI count, scaled by the run multiplier (never below baseMs). */
export function timeoutFor(baseMs: number, baseRuns: number): number {
  return Math.max(baseMs, Math.ceil((baseMs * propertyRuns(baseRuns)) / baseRuns));
}

export interface PropertyOptions<T> {
  /** Random cases at the CI seed (scaled by LUTC_PROPERTY_RUNS). */
  runs: number;
  /**
   * Fixed cases (e.g. the benchmarked configurations), run after the random ones on every seed, not
   * scaled and not shrunk (fast-check cannot shrink given values; random cases fail first, shrunk).
   */
  examples?: T[];
  /**
   * Stop shrinking this long (ms) after the first failure (a shrink step that compiles a kernel takes
   * a second): later candidates are then not run, and the smallest failing case so far is reported.
   */
  shrinkBudgetMs?: number;
}

/** fast-check parameters of the random cases under the policy. */
export function propertyParams<T>(o: PropertyOptions<T>): fc.Parameters<[T]> {
  return { seed: SEED.seed, numRuns: propertyRuns(o.runs), includeErrorInReport: true, ...(PATH ? { path: PATH } : {}) };
}

function report(d: fc.RunDetails<unknown>, message: string | undefined, stopped: boolean): Error {
  const replay =
    d.counterexamplePath !== null
      ? `\nreplay: LUTC_PROPERTY_SEED=${d.seed} LUTC_PROPERTY_PATH=${d.counterexamplePath} (this test only)`
      : `\nreplay: LUTC_PROPERTY_SEED=${d.seed}`;
  const note = stopped ? '\n(shrinking stopped at its time budget: a smaller counterexample may exist)' : '';
  return new Error(`${message ?? 'property failed'}${note}${replay}`);
}

function exampleError(i: number, v: unknown, e: unknown): Error {
  const why = e === false ? 'the predicate returned false' : e instanceof Error ? e.message : String(e);
  return new Error(`fixed example #${i} failed (not shrunk): ${fc.stringify(v)}\nGot error: ${why}`, { cause: e });
}

/** Tracks the first failure so shrinking can stop after `budgetMs`. */
function budget(budgetMs: number | undefined) {
  let firstFail: number | undefined;
  return {
    get stopped() {
      return budgetMs !== undefined && firstFail !== undefined && Date.now() - firstFail > budgetMs;
    },
    failed() {
      firstFail ??= Date.now();
    },
  };
}

/**
 * Checks `predicate` (throws or returns false on failure) on values of `arb` under the policy, then on
 * the fixed examples; throws fast-check's report (seed, path, shrunk counterexample, shrink count,
 * error) plus a replay line, or the failing example.
 */
export function assertProperty<T>(arb: fc.Arbitrary<T>, predicate: (v: T) => boolean | void, o: PropertyOptions<T>): void {
  const b = budget(o.shrinkBudgetMs);
  const prop = fc.property(arb, (v) => {
    if (b.stopped) return true;
    try {
      const r = predicate(v);
      if (r === false) b.failed();
      return r;
    } catch (e) {
      b.failed();
      throw e;
    }
  });
  const d = fc.check(prop, propertyParams(o));
  if (d.failed) throw report(d as fc.RunDetails<unknown>, fc.defaultReportMessage(d), b.stopped);
  if (PATH) return;
  (o.examples ?? []).forEach((v, i) => {
    let r: boolean | void;
    try {
      r = predicate(v);
    } catch (e) {
      throw exampleError(i, v, e);
    }
    if (r === false) throw exampleError(i, v, false);
  });
}

/** `assertProperty` for an async predicate. */
export async function assertAsyncProperty<T>(
  arb: fc.Arbitrary<T>,
  predicate: (v: T) => Promise<boolean | void>,
  o: PropertyOptions<T>,
): Promise<void> {
  const b = budget(o.shrinkBudgetMs);
  const prop = fc.asyncProperty(arb, async (v) => {
    if (b.stopped) return true;
    try {
      const r = await predicate(v);
      if (r === false) b.failed();
      return r;
    } catch (e) {
      b.failed();
      throw e;
    }
  });
  const d = await fc.check(prop, propertyParams(o));
  if (d.failed) throw report(d as fc.RunDetails<unknown>, await fc.asyncDefaultReportMessage(d), b.stopped);
  if (PATH) return;
  for (const [i, v] of (o.examples ?? []).entries()) {
    let r: boolean | void;
    try {
      r = await predicate(v);
    } catch (e) {
      throw exampleError(i, v, e);
    }
    if (r === false) throw exampleError(i, v, false);
  }
}
