/**
 * The published package works on its own. `npm pack --ignore-scripts` (dist/ as `npm run build` left
 * it: npm test builds first; a missing build fails here with that advice) into a temp folder, then:
 *
 * - its file list (package.json `files`) ships bin/, dist/ without source maps, README.md and
 *   package.json, nothing of test/, a compiled .js for every shipped source file, and every module
 *   bin/lutc.mjs loads (relative static and literal dynamic imports, followed transitively); a bare
 *   package those modules import statically is a `dependencies` entry, one imported only dynamically
 *   is a `dependencies` or `optionalDependencies` entry (a devDependency would be missing for users);
 * - installed into an empty project with `--omit=optional` (from npm's cache, `--offline`; when the
 *   cache lacks a package, from the registry; skipped, saying so, only when the registry cannot be
 *   reached), its `lutc` compiles examples/mlp.onnx for wasm, the artifact runs from plain Node
 *   (examples/run-wasm.mjs), `lutc run --target wasm` agrees with `--target ref` within F32_EXACT,
 *   and the commands that need an omitted optional package stop with its code (LUT5070 for
 *   `lutc bench --target wasm`, LUT5201 for `lutc run --target wgsl`; LUT5170 for `lutc bench
 *   --target c`, whose peer onnxruntime-node is a development dependency), exit 1, not an internal error.
 *
 * npm runs with the `npm_*` variables of an enclosing `npm test` removed, so it reads only its own config.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readNpyFile } from '../../compiler/npy.js';
import { F32_EXACT, maxRel } from '../helpers/tolerance.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as {
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
};
/** Source folders tsc compiles into dist/ (tsconfig.json `include`). */
const SOURCE_DIRS = ['base', 'compiler', 'ir', 'passes', 'backends', 'bench'];

/** The environment without an enclosing npm's `npm_*` variables. */
const env: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.toLowerCase().startsWith('npm_')));

let tmp = '';
let tgz = '';
let files: string[] = [];

beforeAll(() => {
  if (!fs.existsSync(path.join(root, 'dist/compiler/cli.js'))) throw new Error('dist/ is not built: run npm run build first');
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lutc-pack-'));
  const out = execFileSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', tmp], {
    cwd: root,
    env,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const info = JSON.parse(out) as { filename: string; files: { path: string }[] }[];
  tgz = path.join(tmp, path.basename(info[0]!.filename));
  files = info[0]!.files.map((f) => f.path);
});

afterAll(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

/**
 * Relative and bare specifiers a JS module imports: static (an `import`/`export ... from '...'` or
 * `import '...'` statement starting a line, so generated code quoted in comments does not count) and
 * literal dynamic `import('...')`.
 */
function importsOf(src: string): { spec: string; dynamic: boolean }[] {
  const found: { spec: string; dynamic: boolean }[] = [];
  for (const m of src.matchAll(/^\s*(?:(?:import|export)\s[^;'"]*?\bfrom\s*|import\s*)['"]([^'"]+)['"]/gm))
    found.push({ spec: m[1]!, dynamic: false });
  for (const m of src.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) found.push({ spec: m[1]!, dynamic: true });
  return found;
}

/** The package name of a bare specifier (`@scope/name/sub` -> `@scope/name`). */
const packageOf = (spec: string) =>
  spec
    .split('/')
    .slice(0, spec.startsWith('@') ? 2 : 1)
    .join('/');

describe('the npm package', () => {
  it('ships bin/, dist/ without maps, README.md and package.json, and nothing of test/', () => {
    const set = new Set(files);
    for (const f of [
      'package.json',
      'README.md',
      'bin/lutc.mjs',
      'dist/compiler/cli.js',
      'dist/compiler/index.js',
      'dist/compiler/index.d.ts',
    ])
      expect(set.has(f), f).toBe(true);
    expect(files.filter((f) => f.startsWith('test/') || f.startsWith('dist/test/'))).toEqual([]);
    expect(files.filter((f) => f.endsWith('.map'))).toEqual([]);
    expect(files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts') && !f.startsWith('docs/'))).toEqual([]);
    // every compiled source file is in the tarball (a stale or partial dist/ is caught here)
    const sources = SOURCE_DIRS.flatMap((d) =>
      (fs.readdirSync(path.join(root, d), { recursive: true }) as string[])
        .map((f) => path.posix.join(d, f.split(path.sep).join('/')))
        .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts')),
    );
    expect(sources.length).toBeGreaterThan(50);
    expect(sources.filter((f) => !set.has(`dist/${f.replace(/\.ts$/, '.js')}`))).toEqual([]);
  });

  it('holds every module bin/lutc.mjs loads, and its packages are dependencies', () => {
    const set = new Set(files);
    const runtime = new Set(Object.keys(pkg.dependencies ?? {}));
    // optional dependencies and optional peers (onnxruntime-node, the C bench's peer) may be imported lazily
    const optional = new Set([
      ...Object.keys(pkg.optionalDependencies ?? {}),
      ...Object.entries(pkg.peerDependenciesMeta ?? {})
        .filter(([, m]) => m.optional)
        .map(([n]) => n),
    ]);
    const missing: string[] = [];
    const badPackages: string[] = [];
    const seen = new Set<string>();
    const packagesSeen = new Set<string>();
    const queue = ['bin/lutc.mjs'];
    while (queue.length) {
      const file = queue.pop()!;
      if (seen.has(file)) continue;
      seen.add(file);
      for (const { spec, dynamic } of importsOf(fs.readFileSync(path.join(root, file), 'utf8'))) {
        if (spec.startsWith('.')) {
          const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), spec));
          if (!set.has(target)) missing.push(`${target} (from ${file})`);
          else if (/\.m?js$/.test(target)) queue.push(target);
        } else if (!spec.startsWith('node:')) {
          const name = packageOf(spec);
          packagesSeen.add(name);
          if (!runtime.has(name) && !(dynamic && optional.has(name)))
            badPackages.push(`${spec} (${dynamic ? 'dynamic' : 'static'}, from ${file})`);
        }
      }
    }
    expect(seen.size).toBeGreaterThan(50);
    // the walk reaches the lazily loaded backends and their optional peers
    for (const f of ['dist/compiler/cli.js', 'dist/backends/wasm/bench.js', 'dist/backends/c/bench.js', 'dist/backends/wgsl/device.js'])
      expect(seen.has(f), f).toBe(true);
    for (const p of ['binaryen', 'onnxruntime-web', 'onnxruntime-node', 'webgpu']) expect(packagesSeen.has(p), p).toBe(true);
    expect(missing, 'modules bin/lutc.mjs reaches that the tarball lacks').toEqual([]);
    expect(badPackages, 'packages imported by shipped modules that a user install lacks').toEqual([]);
  });

  it('installs into an empty project and compiles and runs a model there', (ctx) => {
    const proj = path.join(tmp, 'project');
    fs.mkdirSync(proj);
    fs.writeFileSync(path.join(proj, 'package.json'), JSON.stringify({ name: 'lutc-pack-check', version: '0.0.0', private: true }));
    const npmInstall = (mode: string) =>
      spawnSync('npm', ['install', mode, '--no-audit', '--no-fund', '--omit=optional', tgz], { cwd: proj, env, encoding: 'utf8' });
    let r = npmInstall('--offline');
    if (r.status !== 0) {
      r = npmInstall('--prefer-offline'); // the cache lacks a package: fetch it
      if (r.status !== 0 && /ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ETIMEDOUT|ENETUNREACH|ECONNRESET/.test(r.stderr))
        return ctx.skip(`the npm cache lacks lutc's dependencies and the registry cannot be reached: ${r.stderr.trim().split('\n')[0]}`);
    }
    expect(r.status, r.stderr).toBe(0);
    for (const p of Object.keys(pkg.optionalDependencies ?? {})) expect(fs.existsSync(path.join(proj, 'node_modules', p)), p).toBe(false);

    const lutc = path.join(proj, 'node_modules/.bin/lutc');
    const model = path.join(root, 'examples/mlp.onnx');
    const run = (args: string[]) => spawnSync(lutc, args, { cwd: proj, env, encoding: 'utf8' });

    const c = run(['compile', model, '--target', 'wasm', '-o', 'out']);
    expect(c.status, c.stderr).toBe(0);
    expect(fs.readdirSync(path.join(proj, 'out')).sort()).toEqual(expect.arrayContaining(['manifest.json', 'model.mjs', 'model.wasm']));
    const plain = spawnSync(process.execPath, [path.join(root, 'examples/run-wasm.mjs'), 'out'], { cwd: proj, env, encoding: 'utf8' });
    expect(plain.status, plain.stderr).toBe(0);
    expect(plain.stdout).toMatch(/first values/);

    const outputs = (target: string) => {
      const res = run(['run', model, '--target', target, '--seed', '3', '--out', `y-${target}`]);
      expect(res.status, res.stderr).toBe(0);
      const list = JSON.parse(fs.readFileSync(path.join(proj, `y-${target}`, 'outputs.json'), 'utf8')) as { name: string; file: string }[];
      return list.map((o) => readNpyFile(path.join(proj, `y-${target}`, o.file)));
    };
    const wasm = outputs('wasm');
    const ref = outputs('ref');
    expect(wasm.length).toBe(ref.length);
    expect(ref.length).toBeGreaterThan(0);
    wasm.forEach((t, i) => {
      expect(t.shape).toEqual(ref[i]!.shape);
      expect(maxRel(t.data as ArrayLike<number>, ref[i]!.data as ArrayLike<number>)).toBeLessThanOrEqual(F32_EXACT);
    });

    // the omitted optional packages: coded diagnostics, exit 1 (an internal error exits 70)
    const bench = run(['bench', model, '--target', 'wasm']);
    expect(bench.status, bench.stderr).toBe(1);
    expect(bench.stderr).toMatch(/error LUT5070: .*'onnxruntime-web'/);
    // onnxruntime-node, the C bench's peer, is a development dependency: absent here too
    const benchC = run(['bench', model, '--target', 'c']);
    expect(benchC.status, benchC.stderr).toBe(1);
    expect(benchC.stderr).toMatch(/error LUT5170: .*'onnxruntime-node'.*npm install onnxruntime-node/);
    const gpu = run(['run', model, '--target', 'wgsl']);
    expect(gpu.status, gpu.stderr).toBe(1);
    expect(gpu.stderr).toMatch(/error LUT5201: .*'webgpu'/);
  });
});
