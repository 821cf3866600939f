/**
 * The layering of lutc, checked by `npm run lint:deps` (dependency-cruiser; part of `npm test`).
 * Dependencies point one way: base/ (diagnostics, the diagnostics table, the seeded PRNG) below ir/,
 * ir/ below passes/, backends/ and compiler/; no import cycles (type-only imports count too, lazy
 * `import()` edges do not); the library and backends never import the CLI, tests or benchmarks.
 * docs/architecture.md ("Folders") states the same rules in prose; test/repo/layering.test.ts checks
 * that a deliberate cycle or a layering violation fails this check.
 */
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment:
        'No import cycles, type-only imports included: move the shared declaration down a layer instead. A cycle through a lazy `import()` (the target registry loading a backend on demand) has no load-order hazard and is allowed.',
      from: {},
      to: { circular: true, viaOnly: { dependencyTypesNot: ['dynamic-import'] } },
    },
    {
      name: 'base-imports-only-base',
      severity: 'error',
      comment: 'base/ is the bottom layer: it imports nothing of the project outside base/.',
      from: { path: '^base/' },
      to: { path: '^(compiler|ir|passes|backends|bench|test|examples|scripts|bin)/' },
    },
    {
      name: 'ir-below-compiler-passes-backends',
      severity: 'error',
      comment: 'ir/ (and base/) must not import compiler/, passes/, backends/ or bench/: what they need goes to base/ or ir/.',
      from: { path: '^(ir|base)/' },
      to: { path: '^(compiler|passes|backends|bench)/' },
    },
    {
      name: 'passes-not-backends',
      severity: 'error',
      comment: 'Passes do not import backends, except the static target descriptions (backends/target.ts, backends/<t>/target.ts).',
      from: { path: '^passes/' },
      to: { path: '^backends/', pathNot: '^backends/(target\\.ts|[^/]+/target\\.ts)$' },
    },
    {
      name: 'backends-not-cli',
      severity: 'error',
      comment:
        'Backends do not import the CLI (compiler/cli.ts, compiler/cli/): shared helpers live in non-CLI modules (compiler/npy.ts, compiler/artifact.ts).',
      from: { path: '^backends/' },
      to: { path: '^compiler/cli(\\.ts$|/)' },
    },
    {
      name: 'shipped-not-test-or-bench',
      severity: 'error',
      comment:
        'The library, passes and backends import nothing from test/ or bench/. Exceptions: the `lutc bench` entry points (backends/<t>/bench.ts) share the one timing method of bench/timing.ts; `lutc tune` (compiler/tune.ts) times kernels with bench/timing.ts, weights.ts and kernel-timing.ts (no onnxruntime peers).',
      from: { path: '^(base|compiler|ir|passes|backends)/', pathNot: '^(backends/[^/]+/bench|compiler/tune)\\.ts$' },
      to: { path: '^(test|bench)/' },
    },
    {
      name: 'tune-only-kernel-timers',
      severity: 'error',
      comment:
        '`lutc tune` ships: it may import bench/timing.ts, weights.ts and kernel-timing.ts only, never the suites (their peers need onnxruntime-node, a devDependency).',
      from: { path: '^compiler/tune\\.ts$' },
      to: { path: '^(test/|bench/(?!(timing|weights|kernel-timing)\\.ts$))' },
    },
    {
      name: 'bench-entry-only-timing',
      severity: 'error',
      comment: 'The `lutc bench` entry points may import bench/timing.ts only, never the suites or test/.',
      from: { path: '^backends/[^/]+/bench\\.ts$' },
      to: { path: '^(test/|bench/(?!timing\\.ts$))' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|dist)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.mts', '.js', '.mjs', '.cjs', '.json'] },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
