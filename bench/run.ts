/**
 * `npm run bench [-- options]`: runs the benchmark suites (C: bench/c.ts; WASM: bench/wasm.ts), prints lutc against each peer as ratios of medians timed interleaved
 * (bench/timing.ts, method in bench/README.md), and writes bench/results.json (a list of BenchResult,
 * not committed). Exits 1 when any row's peer output disagrees with lutc's (check 'FAIL').
 *
 *   --suite c,wasm     suites to run (default: both)
 *   -h, --help         print the usage on stdout and exit 0 (a bad option: usage on stderr, exit 2)
 *   --quick            4096x4096 at M=1 and M=32 only, 2 and 4 bits, 1 thread, 20 runs
 *   --shapes 0,6       indices into BENCH_SHAPES
 *   --bits 2,4   --threads 1,2   --runs N   --block32   --no-cold   --out FILE
 */
import { existsSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BENCH_SHAPES, type BenchResult } from './schema.js';

interface Args {
  suites: string[];
  shapes: [number, number, number][];
  bits: number[];
  threads: number[];
  runs: number;
  block32: boolean;
  noCold: boolean;
  out: string;
}

const USAGE =
  'usage: npm run bench -- [--suite c,wasm] [--quick] [--shapes I,J] [--bits 2,4] [--threads 1,2] [--runs N] [--block32] [--no-cold] [--out FILE]\n';

function usage(msg: string): never {
  process.stderr.write(`bench: ${msg}\n${USAGE}`);
  process.exit(2);
}

function parse(argv: string[]): Args {
  const here = dirname(fileURLToPath(import.meta.url));
  const a: Args = {
    suites: ['c', 'wasm'],
    shapes: [...BENCH_SHAPES],
    bits: [2, 4],
    threads: [1, 2],
    runs: 30,
    block32: false,
    noCold: false,
    // dist/bench/run.js or bench/run.ts (tsx): the repository root is where package.json is.
    out: join(existsSync(join(here, '..', 'package.json')) ? join(here, '..') : join(here, '..', '..'), 'bench', 'results.json'),
  };
  const list = (v: string | undefined, what: string) => {
    if (!v) usage(`${what} needs a value`);
    const xs = v.split(',').map(Number);
    if (xs.some((x) => !Number.isInteger(x) || x < 0)) usage(`bad ${what} '${v}'`);
    return xs;
  };
  for (let i = 0; i < argv.length; i++) {
    const f = argv[i]!;
    if (f === '--suite') a.suites = (argv[++i] ?? usage('--suite needs a value')).split(',');
    else if (f === '--quick') {
      a.shapes = [
        [4096, 4096, 1],
        [4096, 4096, 32],
      ];
      a.threads = [1];
      a.runs = 20;
    } else if (f === '--shapes')
      a.shapes = list(argv[++i], '--shapes').map((j) => BENCH_SHAPES[j] ?? usage(`no shape ${j}`)) as [number, number, number][];
    else if (f === '--bits') a.bits = list(argv[++i], '--bits');
    else if (f === '--threads') a.threads = list(argv[++i], '--threads');
    else if (f === '--runs') a.runs = Math.max(20, list(argv[++i], '--runs')[0]!);
    else if (f === '--block32') a.block32 = true;
    else if (f === '--no-cold') a.noCold = true;
    else if (f === '--out') a.out = argv[++i] ?? usage('--out needs a value');
    else if (f === '--help' || f === '-h') {
      process.stdout.write(`${USAGE}(options: the header of bench/run.ts; method: bench/README.md)\n`);
      process.exit(0);
    } else usage(`unknown option ${f}`);
  }
  return a;
}

function table(rows: BenchResult[]): string {
  const head = [
    'suite',
    'bits',
    'n',
    'k',
    'm',
    'thr',
    'lutc µs',
    'lutc min',
    'floor µs',
    'peer',
    'peer µs',
    'peer min',
    'speedup',
    'rel-L2',
    'check',
  ];
  const f = (v: number | undefined) => (v === undefined ? '' : v.toFixed(1));
  const body = rows.map((r) =>
    [
      r.suite,
      r.bits,
      r.n,
      r.k,
      r.m,
      r.threads,
      f(r.lutc_us),
      f(r.lutc_min_us),
      f(r.floor_us),
      r.peer,
      f(r.peer_us),
      f(r.peer_min_us),
      `${(r.peer_us / r.lutc_us).toFixed(2)}x`,
      r.peer_rel_l2 === undefined ? '' : r.peer_rel_l2.toExponential(1),
      r.check ?? '',
    ].map(String),
  );
  const w = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (c: string[]) => c.map((s, i) => (i === 0 || i === 9 || i === 14 ? s.padEnd(w[i]!) : s.padStart(w[i]!))).join('  ');
  return [line(head), ...body.map(line)].join('\n');
}

async function main(): Promise<void> {
  const a = parse(process.argv.slice(2));
  const log = (s: string) => process.stderr.write(`${s}\n`);
  const rows: BenchResult[] = [];
  // the suites are imported only when they run, so --help and usage errors answer at once
  if (a.suites.includes('c')) {
    const { runCBench } = await import('./c.js');
    rows.push(
      ...(await runCBench({ shapes: a.shapes, bits: a.bits, threads: a.threads, runs: a.runs, block32: a.block32, noCold: a.noCold, log })),
    );
  }
  if (a.suites.includes('wasm')) {
    const { runWasmBench } = await import('./wasm.js');
    rows.push(...(await runWasmBench({ shapes: a.shapes, bits: a.bits, runs: a.runs, log })));
  }
  process.stdout.write(`${table(rows)}\n`);
  writeFileSync(a.out, `${JSON.stringify(rows, null, 1)}\n`);
  log(`bench: wrote ${rows.length} rows to ${a.out}`);
  const bad = rows.filter((r) => r.check === 'FAIL');
  if (bad.length) {
    log(
      `bench: FAIL: in ${bad.length} row(s) the peer's output disagrees with lutc's beyond the tolerance (one of them computes something else): ${bad.map((r) => `${r.suite} ${r.peer} ${r.n}x${r.k} m=${r.m} ${r.bits}-bit rel-L2 ${r.peer_rel_l2}`).join('; ')}`,
    );
    process.exitCode = 1;
  }
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
