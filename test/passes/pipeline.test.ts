/**
 * compiler/pipeline.ts: runPipeline on target ref returns a graph `interpret` runs, the decisions for
 * `lutc inspect`, IR dumps for --print-ir-after, coded errors for unknown pass names, and the
 * verifier after every pass naming a pass that broke the IR (LUT4002), unless `verify: false`.
 */
import { describe, expect, it } from 'vitest';
import '../../ir/ops/index.js';
import { LutcError } from '../../base/diagnostics.js';
import { PIPELINE, runPipeline } from '../../compiler/pipeline.js';
import { interpret } from '../../ir/interpret.js';
import { getPass } from '../../passes/registry.js';
import { linearGraph, randTensor, rng } from '../lut/util.js';

describe('runPipeline', () => {
  it('runs end to end on target ref with --bits/--group-size/--tables, dumping IR after each pass', () => {
    const r = rng(1);
    const g = linearGraph(3, randTensor(r, [70, 11]));
    const res = runPipeline(g, { target: 'ref', bits: 3, groupSize: 16, tables: 'f32', printIrAfter: 'all' });
    expect(res.irDumps.map((d) => d.pass)).toEqual([...PIPELINE]);
    expect(res.irDumps[0]!.text).toContain('lut.pack(');
    expect(res.irDumps.at(-1)!.text).not.toContain('lut.pack(');
    expect(res.decisions).toEqual([
      expect.objectContaining({ lowered: true, n: 11, k: 70, bits: 3, groupSize: 16, tableBytes: 20 * 16 * 4 + 5 * 8 }),
    ]); // K padded to 80: 20 chunks, 5 segments
    const y = interpret(res.graph, { x: randTensor(r, [3, 70]) })[0]!;
    expect(y.shape).toEqual([3, 11]);
  });

  it('dumps only the named pass; an unknown name is LUT4001', () => {
    const g = linearGraph(1, randTensor(rng(2), [8, 2]));
    expect(runPipeline(g, { target: 'ref', bits: 2, printIrAfter: 'tile' }).irDumps.map((d) => d.pass)).toEqual(['tile']);
    const g2 = linearGraph(1, randTensor(rng(2), [8, 2]));
    try {
      runPipeline(g2, { target: 'ref', printIrAfter: 'no-such-pass' });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(LutcError);
      expect((e as LutcError).diagnostics[0]!.code).toBe('LUT4001');
    }
  });

  it('verifies after every pass: a deliberately broken pass is named (LUT4002) with the verifier diagnostics', () => {
    for (const broken of ['table-precompute', 'tile']) {
      const pass = getPass(broken);
      const run = pass.run;
      // The broken pass does its work, then leaves a use of a value nothing defines.
      pass.run = (g, ctx) => {
        run(g, ctx);
        const n = g.nodes.find((x) => x.op.startsWith('lut.'))!;
        n.inputs[0] = { name: 'dangling', type: n.inputs[0]!.type, producer: null };
      };
      try {
        const g = linearGraph(2, randTensor(rng(3), [16, 4]));
        let err: unknown;
        try {
          runPipeline(g, { target: 'ref', bits: 2 });
        } catch (e) {
          err = e;
        }
        expect(err).toBeInstanceOf(LutcError);
        const ds = (err as LutcError).diagnostics;
        expect(ds[0]!.code).toBe('LUT4002');
        expect(ds[0]!.message).toContain(`after pass '${broken}'`);
        expect(ds.length).toBeGreaterThan(1);
        expect(ds.slice(1).every((d) => d.code.startsWith('LUT21'))).toBe(true);
        // --no-verify: the same broken pass goes unnoticed by the pipeline.
        expect(() => runPipeline(linearGraph(2, randTensor(rng(3), [16, 4])), { target: 'ref', bits: 2, verify: false })).not.toThrow();
      } finally {
        pass.run = run;
      }
    }
  });
});
