#!/usr/bin/env node
/**
 * The system packages the tests need, and the check `npm test` runs first (`node scripts/check-system.mjs`).
 * `SYSTEM_PACKAGES` is the one list: .ci/run calls this script, the README describes it. Each package
 * is probed by a file the tests use (no package manager needed to check, so it takes milliseconds).
 * When some are missing: run as root on a machine with apt-get, it installs them (printing the
 * `apt-get update` and `apt-get install -y --no-install-recommends ...` it runs); otherwise it exits 1
 * at once, naming the command to run. `--list` prints the package names, one a line, and exits.
 * Plain Node (no build step, no dependencies), so it runs on a fresh clone before anything is built.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Debian package name -> files whose presence shows it is installed, and what the tests use it for. */
export const SYSTEM_PACKAGES = [
  {
    name: 'libonnx-testdata',
    probes: ['/usr/share/libonnx-testdata/data/node'],
    why: "ONNX's backend node tests (test/conformance, test/ops-b)",
  },
  { name: 'gcc-aarch64-linux-gnu', probes: ['/usr/bin/aarch64-linux-gnu-gcc'], why: 'the AArch64 cross compiler for the C NEON path' },
  {
    name: 'libc6-dev-arm64-cross',
    probes: ['/usr/aarch64-linux-gnu/include/stdio.h', '/usr/aarch64-linux-gnu/lib/libc.a'],
    why: 'AArch64 headers and static libc for the NEON test programs',
  },
  { name: 'qemu-user', probes: ['/usr/bin/qemu-aarch64'], why: 'runs the AArch64 test programs' },
  {
    name: 'chromium',
    probes: ['/usr/bin/chromium', '/usr/lib/chromium/vk_swiftshader_icd.json'],
    why: "SwiftShader's Vulkan driver for the WGSL tests, and the browser test",
  },
  { name: 'g++', probes: ['/usr/bin/g++'], why: "builds @jazzer.js/fuzzer's native addon for npm run fuzz (scripts/jazzer-compat)" },
  {
    name: 'libclang-rt-14-dev',
    probes: ['/usr/lib/llvm-14/lib/clang/14.0.6/lib/linux/libclang_rt.fuzzer_no_main-x86_64.a'],
    why: 'the libFuzzer engine the fuzz addon links (npm run fuzz)',
  },
];

/** The packages none of whose probes is missing are installed; returns the others. */
export function missingPackages() {
  return SYSTEM_PACKAGES.filter((p) => !p.probes.every((f) => existsSync(f)));
}

function run(cmd, args, env) {
  console.log(`check-system: ${[cmd, ...args].join(' ')}`);
  const r = spawnSync(cmd, args, { stdio: 'inherit', env: { ...process.env, ...env } });
  return r.status === 0;
}

function main(argv) {
  if (argv.includes('--list')) {
    for (const p of SYSTEM_PACKAGES) console.log(p.name);
    return 0;
  }
  const missing = missingPackages();
  if (!missing.length) return 0;
  const names = missing.map((p) => p.name);
  const cmd = `apt-get update && apt-get install -y --no-install-recommends ${names.join(' ')}`;
  console.log('check-system: the tests need these system packages, missing here:');
  for (const p of missing) console.log(`  ${p.name}: ${p.why}`);
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const hasApt = existsSync('/usr/bin/apt-get');
  if (isRoot && hasApt) {
    const env = { DEBIAN_FRONTEND: 'noninteractive' };
    if (!run('apt-get', ['update', '-q'], env) || !run('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...names], env)) {
      console.error(`check-system: apt-get failed; run it yourself: ${cmd}`);
      return 1;
    }
    const still = missingPackages();
    if (still.length) {
      console.error(`check-system: still missing after apt-get: ${still.map((p) => p.name).join(' ')}`);
      return 1;
    }
    return 0;
  }
  console.error(
    hasApt
      ? `check-system: install them first (as root), then rerun npm test:\n  sudo sh -c '${cmd}'`
      : `check-system: no apt-get here: install the equivalents of these Debian packages, then rerun npm test: ${names.join(' ')}`,
  );
  return 1;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) process.exitCode = main(process.argv.slice(2));
