#!/usr/bin/env node
/**
 * `npm run fuzz -- [--seconds N] [--target NAME[,NAME]] [--timeout S] [--rss-mb M]`: coverage-guided
 * fuzzing of lutc's parsers (fuzz/targets.ts) with @jazzer.js/core 2.1.0 over Debian's libFuzzer.
 *
 *  - setup (`npm run fuzz:setup`, run here too when the addon is missing): builds @jazzer.js/fuzzer's
 *    native addon with scripts/jazzer-compat/build.sh (needs g++ and libclang-rt-14-dev, in
 *    scripts/check-system.mjs's list); npm never runs its install script (package.json allowScripts).
 *  - bundle: fuzz/entry.ts -> fuzz/.build/entry.cjs (esbuild; jazzer 2.1.0 instruments CommonJS only;
 *    npm packages stay external, so coverage counts lutc's own code).
 *  - run: each target in turn, the N seconds (default 300) shared equally, corpus fuzz/.corpus/<t>
 *    (kept between runs, gitignored) plus the checked-in seeds fuzz/seeds/<t>, dictionary
 *    fuzz/dict/<t>.dict. A finding is a thrown non-coded error, an input running over --timeout
 *    seconds (default 10), or RSS over --rss-mb (default 2048). Its input is saved under
 *    fuzz/findings/<t>/ with a .txt beside it holding the error and the command that replays it.
 *  - `--replay FILE --target NAME`: runs one input through the target without the fuzzer (prints
 *    'ok' and the time it took, or the error; exit 1 on a finding; a timeout reproducer hangs here).
 * Prints one summary line per target (runs, cov edges, features, corpus size) and exits 1 if any
 * target had a finding or failed to start, 0 otherwise.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const TARGETS = ['onnx', 'external', 'ir', 'npy', 'tokenizer'];
const ADDON = path.join(root, 'node_modules/@jazzer.js/fuzzer/build/Release/jazzerjs.node');
const BUNDLE = path.join(root, 'fuzz/.build/entry.cjs');

function usage(msg) {
  if (msg) console.error(`fuzz: ${msg}`);
  console.error(
    'usage: npm run fuzz -- [--seconds N] [--target NAME[,NAME]] [--timeout S] [--rss-mb M] | --setup | --replay FILE --target NAME',
  );
  console.error(`targets: ${TARGETS.join(', ')}`);
  process.exit(2);
}

function parseArgs(argv) {
  const o = { seconds: 300, targets: TARGETS, timeout: 10, rssMb: 2048, replay: undefined, setup: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => argv[++i] ?? usage(`${a} needs a value`);
    const num = () => {
      const v = Number(val());
      if (!Number.isFinite(v) || v <= 0) usage(`${a} needs a positive number`);
      return v;
    };
    if (a === '--seconds') o.seconds = num();
    else if (a === '--timeout') o.timeout = num();
    else if (a === '--rss-mb') o.rssMb = num();
    else if (a === '--target') {
      o.targets = val().split(',');
      for (const t of o.targets) if (!TARGETS.includes(t)) usage(`unknown target '${t}'`);
    } else if (a === '--replay') o.replay = val();
    else if (a === '--setup') o.setup = true;
    else usage(`unknown argument '${a}'`);
  }
  return o;
}

/** Builds the jazzer addon when it is missing (or always, with force). */
function setup(force) {
  if (!force && fs.existsSync(ADDON)) return;
  if (!fs.existsSync(path.join(root, 'node_modules/@jazzer.js/fuzzer'))) {
    console.error('fuzz: node_modules/@jazzer.js/fuzzer is missing: run npm ci first');
    process.exit(1);
  }
  console.log('fuzz: building the @jazzer.js/fuzzer addon (scripts/jazzer-compat/build.sh)');
  const r = spawnSync('sh', [path.join(root, 'scripts/jazzer-compat/build.sh')], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error('fuzz: the addon build failed; it needs g++ and libclang-rt-14-dev (node scripts/check-system.mjs installs them)');
    process.exit(1);
  }
}

async function bundle() {
  const { build } = await import('esbuild');
  await build({
    entryPoints: [path.join(root, 'fuzz/entry.ts')],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    packages: 'external',
    outfile: BUNDLE,
    logLevel: 'error',
  });
}

function replay(target, file) {
  process.env.LUTC_FUZZ_TARGET = target;
  const { fuzz } = createRequire(import.meta.url)(BUNDLE);
  const t0 = performance.now();
  try {
    fuzz(fs.readFileSync(file));
    console.log(`${target} ${file}: ok (accepted or a coded diagnostic) in ${(performance.now() - t0).toFixed(0)} ms`);
    return 0;
  } catch (e) {
    console.error(`${target} ${file}: FINDING\n${e?.stack ?? e}`);
    return 1;
  }
}

/** Runs one target for `seconds`; resolves to its summary. */
function runTarget(t, seconds, o) {
  const corpus = path.join(root, 'fuzz/.corpus', t);
  const findings = path.join(root, 'fuzz/findings', t);
  fs.mkdirSync(corpus, { recursive: true });
  fs.mkdirSync(findings, { recursive: true });
  const args = [
    path.join(root, 'node_modules/@jazzer.js/core/dist/cli.js'),
    BUNDLE,
    corpus,
    path.join(root, 'fuzz/seeds', t),
    '--sync',
    `--timeout=${o.timeout * 1000}`,
    '--',
    `-max_total_time=${seconds}`,
    `-rss_limit_mb=${o.rssMb}`,
    `-dict=${path.join(root, 'fuzz/dict', `${t}.dict`)}`,
    `-artifact_prefix=${findings}/`,
    '-print_final_stats=1',
  ];
  return new Promise((resolve) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, args, { cwd: root, env: { ...process.env, LUTC_FUZZ_TARGET: t } });
    let log = '';
    const onData = (d) => {
      log += d;
      if (log.length > 4e6) log = log.slice(-2e6);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    // a hang outside libFuzzer's -timeout (startup, a stuck exit) still ends
    const kill = setTimeout(() => child.kill('SIGKILL'), (seconds + o.timeout + 120) * 1000);
    child.on('close', (code, signal) => {
      clearTimeout(kill);
      const wall = (Date.now() - t0) / 1000;
      const lines = log.split('\n');
      const cov = lines.filter((l) => / cov: \d+/.test(l)).at(-1) ?? '';
      const pick = (re) => cov.match(re)?.[1];
      const runs = log.match(/stat::number_of_executed_units: (\d+)/)?.[1] ?? cov.match(/^#(\d+)/)?.[1];
      const artifact = log.match(/Test unit written to (\S+)/)?.[1];
      const res = {
        target: t,
        seconds: wall,
        runs: Number(runs ?? 0),
        edges: Number(pick(/cov: (\d+)/) ?? 0),
        features: Number(pick(/ft: (\d+)/) ?? 0),
        corpus: pick(/corp: (\S+)/) ?? '?',
        ok: code === 0 && !artifact,
        code: code ?? signal,
        artifact,
      };
      if (!res.ok) {
        const tail = lines.slice(-60).join('\n');
        console.error(`--- ${t}: exit ${res.code}\n${tail}`);
        if (artifact) {
          const rel = path.relative(root, artifact);
          const note = [
            `target: ${t}`,
            `replay: npm run fuzz -- --target ${t} --replay ${rel}`,
            `limits: -timeout=${o.timeout}s -rss_limit_mb=${o.rssMb}`,
            '',
            tail,
          ].join('\n');
          fs.writeFileSync(`${artifact}.txt`, note);
          console.error(`fuzz: ${t}: finding saved as ${rel}; replay: npm run fuzz -- --target ${t} --replay ${rel}`);
        }
      }
      resolve(res);
    });
  });
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  if (o.setup) {
    setup(true);
    return 0;
  }
  if (o.replay) {
    if (o.targets.length !== 1) usage('--replay needs one --target');
    await bundle();
    return replay(o.targets[0], o.replay);
  }
  setup(false);
  await bundle();
  const each = Math.max(1, Math.floor(o.seconds / o.targets.length));
  console.log(`fuzz: ${o.targets.join(', ')}: ${each} s each, -timeout=${o.timeout}s, -rss_limit_mb=${o.rssMb}`);
  const results = [];
  for (const t of o.targets) {
    const r = await runTarget(t, each, o);
    console.log(
      `fuzz: ${t.padEnd(9)} ${r.ok ? 'ok     ' : 'FINDING'} ${r.seconds.toFixed(0).padStart(4)} s  runs ${String(r.runs).padStart(8)}  cov ${String(r.edges).padStart(5)}  ft ${String(r.features).padStart(6)}  corpus ${r.corpus}`,
    );
    results.push(r);
  }
  return results.every((r) => r.ok) ? 0 : 1;
}

process.exitCode = await main();
