/**
 * CLI test helpers: run `main()` in-process with captured streams (fast), spawn the real
 * `node bin/lutc.mjs` (needs dist/, built once on demand), temp folders, and the broken models the
 * error-path tests feed the CLI.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { captureIO } from '../../compiler/cli/io.js';
import { main } from '../../compiler/cli.js';
import { encodeModel, OnnxBuilder } from '../../compiler/onnx/builder.js';
import { makeTensor } from '../../ir/tensor.js';

export const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI in this process. */
export async function lutc(...argv: string[]): Promise<CliResult> {
  const io = captureIO();
  const code = await main(argv, io);
  return { code, stdout: io.stdout, stderr: io.stderr };
}

/** Builds dist/ when it is missing (`npm test` builds first, so this only fires for direct vitest runs). */
export function ensureBuilt(): void {
  if (fs.existsSync(path.join(root, 'dist/compiler/cli.js'))) return;
  try {
    execFileSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', root], { stdio: 'ignore' });
  } catch {
    // tsc exits non-zero on type errors but still emits; the spawn tests fail clearly if it did not.
  }
}

/** Spawns `node bin/lutc.mjs ...argv` in `cwd` (default: the repository). */
export function spawnLutc(argv: string[], cwd = root): CliResult {
  const r = spawnSync(process.execPath, [path.join(root, 'bin/lutc.mjs'), ...argv], { cwd, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

export function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'lutc-cli-'));
}

/** Every stderr line is a diagnostic or a note; no stack trace, no "internal error". */
export function expectCleanDiagnostics(stderr: string): void {
  if (/internal error|\n\s+at .+:\d+:\d+/.test(stderr)) throw new Error(`stderr has a crash:\n${stderr}`);
  if (!/error LUT\d{4}: /.test(stderr)) throw new Error(`stderr has no coded diagnostic:\n${stderr}`);
}

/** Broken model files (name -> writer into `dir`; returns the model path). */
export const BAD_MODELS: Record<string, (dir: string) => string> = {
  truncated(dir) {
    const bytes = fs.readFileSync(path.join(root, 'examples/mlp.onnx'));
    return write(dir, 'truncated.onnx', bytes.subarray(0, Math.floor(bytes.length / 3)));
  },
  'random bytes'(dir) {
    let s = 12345;
    const bytes = Uint8Array.from({ length: 4096 }, () => (s = (s * 1103515245 + 12345) >>> 0) >>> 24);
    return write(dir, 'random.onnx', bytes);
  },
  'empty file'(dir) {
    return write(dir, 'empty.onnx', new Uint8Array(0));
  },
  'unknown op'(dir) {
    const b = new OnnxBuilder({ opset: 17 });
    const x = b.input('x', 'f32', [2]);
    const [y] = b.node('FrobnicateTensor', [x], { outputs: ['y'] });
    b.output(y!, 'f32', [2]);
    return write(dir, 'unknown-op.onnx', b.toBytes());
  },
  cycle(dir) {
    const b = new OnnxBuilder({ opset: 17 });
    const x = b.input('x', 'f32', [2]);
    b.node('Add', [x, 't2'], { outputs: ['t1'], name: 'add' });
    b.node('Relu', ['t1'], { outputs: ['t2'], name: 'relu' });
    b.output('t1', 'f32', [2]);
    return write(dir, 'cycle.onnx', b.toBytes());
  },
  'external data escaping the folder'(dir) {
    const b = new OnnxBuilder({ opset: 17 });
    const x = b.input('x', 'f32', [1, 4]);
    b.initializer('w', makeTensor('f32', [4, 2]));
    const [y] = b.node('MatMul', [x, 'w'], { outputs: ['y'] });
    b.output(y!, 'f32', [1, 2]);
    const m = b.toModelProto();
    const w = m.graph!.initializer![0]!;
    w.rawData = null;
    w.dataLocation = 1; // EXTERNAL
    w.externalData = [
      { key: 'location', value: '../outside.bin' },
      { key: 'length', value: '32' },
    ];
    fs.writeFileSync(path.join(path.dirname(dir), 'outside.bin'), new Uint8Array(32));
    return write(dir, 'escape.onnx', encodeModel(m));
  },
};

function write(dir: string, name: string, bytes: Uint8Array): string {
  const f = path.join(dir, name);
  fs.writeFileSync(f, bytes);
  return f;
}
