/**
 * The target registry (backends/target.ts): every target's `nativeOps` agrees exactly with its
 * backend's dispatch tables (so neither can drift), the passes take their per-target numbers from
 * TargetInfo, the options schema yields the errors and warnings the CLI and the library report, and
 * the target files stay light (static data and lazy entry points only).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import '../../ir/ops/index.js';
import { SUPPORTED_OPS as C_OPS } from '../../backends/c/model/emit.js';
import { VIEW_OPS } from '../../backends/model-plan.js';
import {
  allTargets,
  artifactTargets,
  checkTargetOptions,
  getTarget,
  kernelTargets,
  TARGETS,
  targetOptionHelp,
} from '../../backends/target.js';
import { SUPPORTED_OPS as WASM_OPS } from '../../backends/wasm/model/module.js';
import { RENDERERS, SUPPORTED_OPS as WGSL_OPS } from '../../backends/wgsl/model-shaders.js';
import type { StepCtx } from '../../backends/wgsl/shader-common.js';
import { importOnnx } from '../../compiler/onnx/index.js';
import { runPipeline } from '../../compiler/pipeline.js';
import { allOps } from '../../ir/optable.js';
import type { Node } from '../../ir/types.js';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const sorted = (s: Iterable<string>) => [...s].sort();

describe('registry', () => {
  it('lists every target once, with the entry points each command needs', () => {
    expect(allTargets().map((t) => t.name)).toEqual(['ref', 'wasm', 'wgsl', 'c']);
    expect(TARGETS).toEqual(['ref', 'wasm', 'wgsl', 'c']);
    expect(artifactTargets().map((t) => t.name)).toEqual(['wasm', 'wgsl', 'c']);
    expect(kernelTargets().map((t) => t.name)).toEqual(['wasm', 'wgsl', 'c']);
    expect(
      allTargets()
        .filter((t) => t.bench)
        .map((t) => t.name),
    ).toEqual(['wasm', 'c']);
    for (const t of allTargets()) expect(getTarget(t.name)).toBe(t);
    expect(() => getTarget('x86')).toThrow(/unknown target/);
  });

  it('entry points load and export what the registry promises', async () => {
    for (const t of allTargets()) {
      expect(typeof (await t.run()).runArtifact, t.name).toBe('function');
      if (t.compile) expect(typeof (await t.compile()).compileArtifact, t.name).toBe('function');
      if (t.kernel) expect(typeof (await t.kernel()).emitKernel, t.name).toBe('function');
      if (t.bench) expect(typeof (await t.bench()).benchModel, t.name).toBe('function');
    }
  });

  it('target files are light: static data, type imports and lazy import() only', () => {
    for (const t of ['c', 'wasm', 'wgsl', 'ref']) {
      const src = fs.readFileSync(path.join(root, 'backends', t, 'target.ts'), 'utf8');
      const eager = [...src.matchAll(/^import (?!type )[^;]*?from '([^']+)'|^import '([^']+)'/gm)].map((m) => m[1] ?? m[2]);
      // ref reads the op table (ir/), which every command loads anyway
      expect(
        eager.filter((m) => !m!.startsWith('../../ir/') && m !== '../target-info.js'),
        t,
      ).toEqual([]);
    }
    const reg = fs.readFileSync(path.join(root, 'backends/target.ts'), 'utf8');
    const eager = [...reg.matchAll(/^import (?!type )[^;]*?from '([^']+)'/gm)].map((m) => m[1]);
    expect(eager.every((m) => /^\.\/((c|wasm|wgsl|ref)\/target|target-info)\.js$/.test(m!))).toBe(true);
    // target-info.ts holds types and static data only
    const info = fs.readFileSync(path.join(root, 'backends/target-info.ts'), 'utf8');
    expect([...info.matchAll(/^import (?!type )[^;]*?from '([^']+)'/gm)]).toEqual([]);
  });
});

describe('nativeOps agree exactly with the backends’ kernel tables', () => {
  it('c: backends/c/model/emit.ts kernel table', () => {
    expect(sorted(getTarget('c').nativeOps)).toEqual(sorted(C_OPS));
  });

  it('wasm: backends/wasm/model/module.ts step handlers plus the view ops the plan aliases', () => {
    expect(sorted(getTarget('wasm').nativeOps)).toEqual(sorted(new Set([...WASM_OPS, ...VIEW_OPS])));
  });

  it('wgsl: the op sets model-shaders.ts dispatches on, each handled by its renderer', () => {
    expect(sorted(getTarget('wgsl').nativeOps)).toEqual(sorted(WGSL_OPS));
    // Each renderer's switch handles exactly its set: on a stub step it renders or throws for its
    // own ops and returns undefined (not mine) for every other op of the op table.
    for (const { ops, render } of RENDERERS) {
      const handled = allOps()
        .map((o) => o.name)
        .filter((op) => {
          const node = { op, name: 'n', attrs: {}, inputs: [], outputs: [] } as unknown as Node;
          const c: StepCtx = {
            node,
            ins: [],
            outs: [],
            attrs: {},
            fail: (_code, msg) => {
              throw new Error(msg);
            },
            constOf: () => undefined,
          } as unknown as StepCtx;
          try {
            return render(c, { node, inputs: [], outputs: [] }) !== undefined;
          } catch {
            return true;
          }
        });
      expect(sorted(handled)).toEqual(sorted(ops));
    }
  });

  it('ref: every op of the op table', () => {
    expect(sorted(getTarget('ref').nativeOps)).toEqual(sorted(allOps().map((o) => o.name)));
  });

  it('every native op is an op of the op table', () => {
    const known = new Set(allOps().map((o) => o.name));
    for (const t of allTargets()) for (const op of t.nativeOps) expect(known.has(op), `${t.name}: ${op}`).toBe(true);
  });
});

describe('passes read their per-target numbers from TargetInfo', () => {
  const mlp = fs.readFileSync(path.join(root, 'examples/mlp.onnx'));
  for (const t of allTargets()) {
    it(`${t.name}: lower-linear emits the lut.tables form, bitplane-layout packs for lut.vecBytes, tile keeps to the tile budget and lut.kTiles`, () => {
      const g = importOnnx(mlp, { inputShapes: { x: [2, 64] } });
      const { graph } = runPipeline(g, { target: t.name, bits: 2, groupSize: 32 });
      if (t.lut.tables === 'kernel') {
        // one lut.gemm per layer on the quantizer's constants: no table build, no pack in the graph
        const gms = graph.nodes.filter((n) => n.op === 'lut.gemm');
        expect(gms.length).toBe(3);
        for (const n of gms) expect(n.inputs.slice(1, 4).every((v) => v?.const)).toBe(true);
        expect(graph.nodes.some((n) => ['lut.table', 'lut.norm_table', 'lut.pack', 'lut.matmul'].includes(n.op))).toBe(false);
        return;
      }
      const mms = graph.nodes.filter((n) => n.op === 'lut.matmul');
      expect(mms.length).toBe(3);
      for (const n of mms) {
        expect(n.attrs.vec_bytes).toBe(t.lut.vecBytes);
        expect(n.attrs.table_layout).toBe(2 >= t.tile.vecMinTokens ? 'vec' : 'token');
        if (!t.lut.kTiles) expect(n.attrs.k_tile).toBe(0);
        expect(n.inputs[3]!.const).toBeDefined(); // the graph form folds lut.pack
      }
    });
  }
});

describe('options schema', () => {
  it('an option another target reads is an error naming the flag and its targets', () => {
    expect(checkTargetOptions('wasm', { isa: 'avx2' }, 'compile').errors).toEqual(['--isa applies to --target c only, not wasm']);
    expect(checkTargetOptions('c', { wasmFeatures: ['relaxed-simd'] }, 'run').errors).toEqual([
      '--wasm-features applies to --target wasm only, not c',
    ]);
    expect(checkTargetOptions('wgsl', { threads: 2, embedWeights: true }, 'compile').errors).toHaveLength(2);
    expect(checkTargetOptions('ref', { threads: 2 }, 'run').errors).toEqual(['--threads applies to --target wasm, c only, not ref']);
    // kernel spells wasmFeatures --relaxed-simd
    expect(checkTargetOptions('c', { wasmFeatures: ['relaxed-simd'] }, 'kernel').errors).toEqual([
      '--relaxed-simd applies to --target wasm only, not c',
    ]);
  });

  it('an option the target reads but that does nothing for the command is a warning', () => {
    // compile --threads bakes the artifact's default thread count (MODEL_THREADS); inspect plans nothing that threads change
    expect(checkTargetOptions('c', { threads: 4 }, 'compile')).toEqual({ errors: [], warnings: [] });
    expect(checkTargetOptions('c', { threads: 4 }, 'inspect').warnings).toEqual([
      expect.stringMatching(/^--threads has no effect on 'inspect --target c': /),
    ]);
    expect(checkTargetOptions('c', { threads: 4 }, 'run')).toEqual({ errors: [], warnings: [] });
    expect(checkTargetOptions('c', { isa: 'scalar', embedWeights: true }, 'compile')).toEqual({ errors: [], warnings: [] });
    // relaxed SIMD changes the wasm artifact (model-relaxed.wasm): read by compile, no warning
    expect(checkTargetOptions('wasm', { wasmFeatures: ['relaxed-simd'] }, 'compile').warnings).toHaveLength(0);
    expect(checkTargetOptions('wasm', { wasmFeatures: ['relaxed-simd'] }, 'kernel')).toEqual({ errors: [], warnings: [] });
    expect(checkTargetOptions('c', { isa: 'avx2' }, 'inspect').warnings).toHaveLength(1);
    // unset, false and empty values are not given
    expect(checkTargetOptions('wasm', { threads: undefined, embedWeights: false, wasmFeatures: [] }, 'compile')).toEqual({
      errors: [],
      warnings: [],
    });
  });

  it('--help lines come from the schema', () => {
    expect(targetOptionHelp('compile')).toMatch(/--isa scalar\|avx2\|avx512\|neon\n\s+c only: /);
    expect(targetOptionHelp('kernel')).toContain('--relaxed-simd');
    expect(targetOptionHelp('kernel')).not.toContain('--threads');
    // bench takes only targets with a benchmark (wasm, c): c's --isa is offered there, wgsl's nothing
    expect(targetOptionHelp('bench')).toMatch(
      /--isa scalar\|avx2\|avx512\|neon\n\s+c only: force an ISA path \(default: the C compiler's macros\)\n/,
    );
    expect(targetOptionHelp('bench')).toMatch(/--embed-weights .*\(bench: ignored, with a warning\)/);
  });
});
