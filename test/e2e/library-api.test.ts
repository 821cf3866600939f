/**
 * The library API (compiler/index.ts) as the README shows it: every stage reachable from one import,
 * the README snippet's flow (import -> pipeline -> interpret -> .npy) working end to end, and the
 * whole-job calls (compiler/api.ts): `compile` from a path, bytes or a Graph giving exactly the files
 * `lutc compile` writes, `writeArtifact` writing them atomically, `emitKernel` for every kernel target.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as lutc from '../../compiler/index.js';
import { OnnxBuilder } from '../../compiler/onnx/builder.js';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');

describe('compiler/index.ts', () => {
  it('exports every stage', () => {
    for (const name of [
      'importOnnx',
      'importOnnxFile',
      'parseGraph',
      'printGraph',
      'verifyGraph',
      'interpret',
      'runPipeline',
      'quantizeOnnx',
      'readNpy',
      'writeNpy',
      'readNpyFile',
      'writeNpyFile',
      'formatDiagnostic',
      'main',
      'OnnxBuilder',
      'compile',
      'writeArtifact',
      'emitKernel',
      'getTarget',
      'allTargets',
      'artifactTargets',
    ]) {
      expect(typeof (lutc as Record<string, unknown>)[name], name).toBe('function');
    }
    expect(lutc.LutcError.prototype).toBeInstanceOf(Error);
  });

  it('the README snippet: import, lower to 2-bit LUT, interpret, write .npy; the IR round-trips', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lutc-lib-'));
    const x = lutc.makeTensor(
      'f32',
      [1, 64],
      Array.from({ length: 64 }, (_, i) => Math.sin(i)),
    );
    lutc.writeNpyFile(path.join(dir, 'x.npy'), x);
    const g = lutc.importOnnxFile(path.join(root, 'examples/mlp.onnx'), { inputShapes: { x: [1, 64] } });
    const { graph } = lutc.runPipeline(g, { target: 'ref', bits: 2, groupSize: 32 });
    const [y] = lutc.interpret(graph, { x: lutc.readNpyFile(path.join(dir, 'x.npy')) });
    lutc.writeNpyFile(path.join(dir, 'y.npy'), y!);
    expect(lutc.readNpyFile(path.join(dir, 'y.npy')).shape).toEqual([1, 10]);
    // printGraph -> parseGraph -> verifyGraph accepts the lowered graph and computes the same values
    const again = lutc.parseGraph(lutc.printGraph(graph), 'mlp.lut');
    lutc.verifyGraph(again);
    const [y2] = lutc.interpret(again, { x });
    expect(Array.from(y2!.data)).toEqual(Array.from(y!.data));
    fs.rmSync(dir, { recursive: true });
  });

  it('user errors are LutcErrors with formatted codes', () => {
    try {
      lutc.importOnnx(new Uint8Array([1, 2, 3]), { file: 'junk.onnx' });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(lutc.LutcError);
      expect(lutc.formatDiagnostic((e as lutc.LutcError).diagnostics[0]!)).toMatch(/^junk\.onnx: error LUT1\d{3}: /);
    }
  });
});

const MLP = path.join(root, 'examples/mlp.onnx');
const SHAPES = { x: [1, 64] };

/** Every file under `dir`, relative, '/'-separated, sorted. */
function listFiles(dir: string, pre = ''): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? listFiles(path.join(dir, e.name), `${pre}${e.name}/`) : [`${pre}${e.name}`]))
    .sort();
}

/** `files` equal, byte for byte, the folder `dir`. */
function expectSameAsFolder(files: lutc.ArtifactFiles, dir: string): void {
  expect(Object.keys(files).sort()).toEqual(listFiles(dir));
  for (const [name, data] of Object.entries(files)) {
    expect(Buffer.from(typeof data === 'string' ? Buffer.from(data) : data).equals(fs.readFileSync(path.join(dir, name))), name).toBe(true);
  }
}

async function cli(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const io = lutc.captureIO();
  const code = await lutc.main(argv, io);
  return { code, stdout: io.stdout, stderr: io.stderr };
}

describe('compile, writeArtifact, emitKernel (compiler/api.ts)', () => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'lutc-api-'));
  afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

  for (const target of ['c', 'wasm', 'wgsl'] as const) {
    it(`${target}: from a path and from a Graph, the files lutc compile writes; writeArtifact writes them`, async () => {
      const cliDir = path.join(work, `cli-${target}`);
      const r = await cli('compile', MLP, '--target', target, '--bits', '2', '--group-size', '32', '--shape', 'x=1,64', '-o', cliDir);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.trim().split('\n').sort()).toEqual(listFiles(cliDir).map((f) => path.join(cliDir, f)));

      const fromPath = await lutc.compile(MLP, { target, bits: 2, groupSize: 32, inputShapes: SHAPES });
      expectSameAsFolder(fromPath.files, cliDir);
      expect(fromPath.decisions.filter((d) => d.lowered)).toHaveLength(3);

      const g = lutc.importOnnxFile(MLP, { inputShapes: SHAPES });
      const fromGraph = await lutc.compile(g, { target, bits: 2, groupSize: 32 });
      expectSameAsFolder(fromGraph.files, cliDir);
      expect(fromGraph.graph).toBe(g); // lowered in place
      expect(g.nodes.some((n) => n.op === (target === 'c' ? 'lut.gemm' : 'lut.matmul'))).toBe(true); // C's LUT form: lut.gemm

      const fromBytes = await lutc.compile(new Uint8Array(fs.readFileSync(MLP)), { target, bits: 2, groupSize: 32, inputShapes: SHAPES });
      expect(Object.keys(fromBytes.files).sort()).toEqual(listFiles(cliDir));

      const libDir = path.join(work, `lib-${target}`, 'nested');
      const written = lutc.writeArtifact(fromPath, libDir);
      expect(written).toEqual(Object.keys(fromPath.files).map((f) => path.join(libDir, f)));
      expectSameAsFolder(fromPath.files, libDir);
      expect(fs.readdirSync(path.dirname(libDir))).toEqual(['nested']); // no temporary folder left behind
    });
  }

  it('symbolic dims of a file left unbound stay runtime dims at the default bound, with a note through progress', async () => {
    const notes: string[] = [];
    const res = await lutc.compile(MLP, { target: 'c', progress: (m) => notes.push(m) });
    expect(notes[0]).toMatch(/^note: runtime dim 'batch' has bound 256 \(the default\)/);
    expect(res.graph.inputs[0]!.type.shape).toEqual(['batch', 64]);
    expect(res.graph.meta?.dimBounds).toEqual({ batch: 256 });
  });

  it('a defaulted runtime dim the target refuses is frozen to 1 with a warning; one the user bounded stays an error', async () => {
    // Conv has no runtime-dim kernel yet (LUT5004): a dynamic batch is frozen, said in a warning
    const b = new OnnxBuilder({ opset: 17 });
    const x = b.input('x', 'f32', ['n', 1, 6, 6]);
    const w = b.initializer(
      'w',
      lutc.makeTensor(
        'f32',
        [2, 1, 3, 3],
        Array.from({ length: 18 }, (_, i) => (i % 5) - 2),
      ),
    );
    const [y] = b.node('Conv', [x, w], { name: 'conv' });
    b.output(y!, 'f32', ['n', 2, 4, 4]);
    const bytes = b.toBytes();
    for (const target of ['c', 'wasm'] as const) {
      const notes: string[] = [];
      const res = await lutc.compile(bytes, { target, progress: (m) => notes.push(m) });
      expect(res.graph.inputs[0]!.type.shape, target).toEqual([1, 1, 6, 6]);
      expect(
        notes.find((m) => m.startsWith('warning:')),
        target,
      ).toMatch(
        /^warning: runtime dim 'n' \(bound not given\) is refused by this target \(LUT5004: .*\): compiling with n = 1; freeze it with --dim n=N/,
      );
      await expect(lutc.compile(bytes, { target, maxDims: { n: 4 } }), target).rejects.toThrow(/LUT5004/);
    }
  });

  it('writeArtifact: into an existing folder it replaces the files and removes stale ones; errors are LUT6012 and write nothing', async () => {
    const dir = path.join(work, 'existing');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'weights.bin'), 'stale');
    fs.writeFileSync(path.join(dir, 'keep.txt'), 'mine');
    const res = await lutc.compile(MLP, { target: 'c', bits: 2, inputShapes: SHAPES }); // small: weights embedded
    expect(res.remove).toEqual(['weights.bin']);
    lutc.writeArtifact(res, dir);
    expect(listFiles(dir)).toEqual(['Makefile', 'keep.txt', 'main.c', 'model.c', 'model.h']);

    const file = path.join(work, 'a-file');
    fs.writeFileSync(file, 'x');
    const code = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        expect(e).toBeInstanceOf(lutc.LutcError);
        return (e as lutc.LutcError).diagnostics[0]!.code;
      }
      return 'no error';
    };
    expect(code(() => lutc.writeArtifact({ 'a.txt': 'a' }, file))).toBe('LUT6012');
    expect(code(() => lutc.writeArtifact({ '../escape.txt': 'a' }, path.join(work, 'esc')))).toBe('LUT6012');
    expect(fs.existsSync(path.join(work, 'escape.txt')) || fs.existsSync(path.join(work, 'esc'))).toBe(false);
    expect(fs.readdirSync(work).filter((f) => f.includes('lutc-tmp'))).toEqual([]);
  });

  for (const target of ['c', 'wasm', 'wgsl'] as const) {
    it(`emitKernel --target ${target}: the files lutc kernel writes`, async () => {
      const dir = path.join(work, `kernel-${target}`);
      const r = await cli('kernel', '--target', target, '--n', '16', '--k', '64', '--bits', '2', '-o', dir);
      expect(r.code, r.stderr).toBe(0);
      const { files } = await lutc.emitKernel({ target, n: 16, k: 64, bits: 2 });
      expectSameAsFolder(files, dir);
    });
  }

  it('target errors are coded LutcErrors: no artifact or kernel for ref (LUT6010), options of another target (LUT6003)', async () => {
    const code = async (p: Promise<unknown>) =>
      p.then(
        () => 'no error',
        (e) => (e instanceof lutc.LutcError ? e.diagnostics[0]!.code : String(e)),
      );
    expect(await code(lutc.compile(MLP, { target: 'ref', inputShapes: SHAPES }))).toBe('LUT6010');
    expect(await code(lutc.emitKernel({ target: 'ref', n: 8, k: 64, bits: 2 }))).toBe('LUT6010');
    expect(await code(lutc.compile(MLP, { target: 'wasm', isa: 'avx2', inputShapes: SHAPES }))).toBe('LUT6003');
    expect(await code(lutc.compile(MLP, { target: 'wgsl', threads: 2, inputShapes: SHAPES }))).toBe('LUT6003');
    expect(await code(lutc.emitKernel({ target: 'c', n: 8, k: 64, bits: 2, wasmFeatures: ['relaxed-simd'] }))).toBe('LUT6003');
    // --threads means something for compile: the artifact's default thread count, no warning
    // (options read but without effect warn: test/backends/target.test.ts, test/cli/target-flags.test.ts)
    const quiet: string[] = [];
    await lutc.compile(MLP, { target: 'c', threads: 4, inputShapes: SHAPES, progress: (m) => quiet.push(m) });
    expect(quiet.some((m) => m.startsWith('warning:'))).toBe(false);
  });
});
