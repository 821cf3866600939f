/**
 * The compile pipeline: the ordered list of passes run on an imported (typed) graph, and what it
 * reports (with a tune cache, `opts.tuned`: one progress line saying how many layers took tuned
 * plans). Each name is a file in passes/ (registered in passes/registry.ts); docs/passes.md states
 * every pass's contract.
 */
import { diag, fail, LutcError } from '../base/diagnostics.js';
import { printGraph } from '../ir/printer.js';
import type { Graph } from '../ir/types.js';
import { verifyGraph } from '../ir/verify.js';
import type { LayerDecision, PassContext } from '../passes/pass.js';
import { getPass, passContext } from '../passes/registry.js';
import type { CompileOptions } from './options.js';

export type { LayerDecision } from '../passes/pass.js';

export interface PipelineResult {
  graph: Graph;
  decisions: LayerDecision[];
  /** IR text after each pass selected by `printIrAfter`. */
  irDumps: { pass: string; text: string }[];
}

/** The passes, in order. The same list serves every target; passes read the target from the options. */
export const PIPELINE: readonly string[] = [
  // linear layers with low-bit (or --bits) weights -> lut.pack + lut.table + lut.matmul (C: lut.gemm); decisions
  'lower-linear',
  // one table build per distinct activation tensor and table configuration (Q/K/V, gate/up share)
  'table-precompute',
  // each table build right after its activation's producer, outside every consumer's loops
  'hoist-table-precompute',
  // RMSNorm/LayerNorm + table build -> lut.norm_table; bias/scale/activation/residual into lut.matmul
  'fuse-ops',
  // kernel plan: Vec-LUT or scalar tables by M, the packed K-tile (0 where the target reads one K-tile)
  'tile',
  // fold lut.pack: bit-plane weights for the target's LUT form (C has none: lut.gemm keeps q/scales/zeros)
  'bitplane-layout',
  // nodes of constants (or of static shapes) -> constants, by their interpreters, up to 16 MiB a result;
  // after bitplane-layout (lut.pack is the LUT passes'), before legalize (which then folds only what
  // its rules create, through the same function)
  'fold-constants',
  // decomposed attention (Concat KV cache, MatMul/Softmax/MatMul) -> group_query_attention (causal 0),
  // after fold-constants (scales and shapes are constants), before legalize (GQA is native everywhere)
  'fuse-attention',
  // artifact targets: ops without a native kernel -> compositions of ops with one (one rule per op)
  'legalize',
];

/**
 * Verifies `g` after pass `pass` ran. A graph that fails verification after a pass is a bug in that
 * pass, not in the user's model: the verifier's diagnostics are kept and LUT4002 names the pass first
 * (MLIR's pass manager and Binaryen's "Last pass (X) broke validation" do the same).
 */
export function verifyAfterPass(g: Graph, pass: string): void {
  try {
    verifyGraph(g);
  } catch (e) {
    if (!(e instanceof LutcError)) throw e;
    throw new LutcError([
      diag('LUT4002', `internal: the IR is invalid after pass '${pass}' (this is a bug in the pass; --no-verify skips this check)`),
      ...e.diagnostics,
    ]);
  }
}

/**
 * Runs `passes` (names) on `g` in order, verifying the graph after each one (unless `opts.verify` is
 * false) and collecting IR dumps per `printIrAfter`.
 */
export function runPasses(
  g: Graph,
  passes: readonly string[],
  ctx: PassContext,
  dumps: PipelineResult['irDumps'] = [],
): PipelineResult['irDumps'] {
  const sel = ctx.opts.printIrAfter;
  if (sel && sel !== 'all') getPass(sel); // an unknown name is LUT4001 before any work
  const verify = ctx.opts.verify !== false;
  for (const name of passes) {
    getPass(name).run(g, ctx);
    if (verify) verifyAfterPass(g, name);
    if (sel === 'all' || sel === name) dumps.push({ pass: name, text: printGraph(g) });
  }
  return dumps;
}

/**
 * Runs the pipeline for `opts.target` on `g` (mutated in place and returned). Each layer decision's
 * `warning` (a --bits / --group-size request it did not take as given) goes to `opts.progress`.
 */
export function runPipeline(g: Graph, opts: CompileOptions): PipelineResult {
  if (opts.bits !== undefined && ![1, 1.58, 2, 3, 4].includes(opts.bits))
    fail('LUT4031', `--bits must be 1, 1.58, 2, 3 or 4, got ${opts.bits}`);
  const ctx = passContext(opts);
  const irDumps = runPasses(g, PIPELINE, ctx);
  // a --bits / --group-size request a layer did not take as given (passes/lower-linear.ts) is a warning
  for (const d of ctx.decisions) if (d.warning) opts.progress?.(`warning: ${d.warning}`);
  if (opts.tuned) opts.progress?.(tunedSummary(ctx.tuned ?? [], opts));
  return { graph: g, decisions: ctx.decisions, irDumps };
}

/**
 * The progress line of a compile with a tune cache: how many LUT layers took tuned plans. lut.gemm
 * layers (C's fused kernel plans its own loops) only report whether an entry matched.
 */
export function tunedSummary(asked: NonNullable<PassContext['tuned']>, opts: CompileOptions): string {
  const src = opts.tuned!.source;
  const mm = asked.filter((a) => a.op === 'lut.matmul');
  const gemm = asked.filter((a) => a.op === 'lut.gemm');
  const parts: string[] = [];
  if (mm.length || !gemm.length) parts.push(`${mm.filter((a) => a.plan).length} of ${mm.length} LUT layers took tuned plans from ${src}`);
  if (gemm.length)
    parts.push(
      `${gemm.filter((a) => a.plan).length} of ${gemm.length} lut.gemm layers have entries in ${src} (target ${opts.target}'s fused kernel reads no tile plan: nothing to apply)`,
    );
  return `tune: ${parts.join('; ')}`;
}
