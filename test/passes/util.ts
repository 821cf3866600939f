/**
 * Pass test helpers: run one pass by name with the verifier before and after (docs/architecture.md), and run a
 * whole prefix of the pipeline.
 */

import type { CompileOptions } from '../../compiler/options.js';
import { PIPELINE } from '../../compiler/pipeline.js';
import type { Graph } from '../../ir/types.js';
import { verifyGraph } from '../../ir/verify.js';
import { getPass, type PassContext, passContext } from '../../passes/registry.js';

export function runVerified(g: Graph, name: string, ctx: PassContext): void {
  verifyGraph(g);
  getPass(name).run(g, ctx);
  verifyGraph(g);
}

/** Runs the pipeline up to and including `last`, verifying around each pass; returns the context. */
export function runUpTo(g: Graph, last: string, opts: Partial<CompileOptions>, extra: Partial<PassContext> = {}): PassContext {
  const ctx = passContext(opts, extra);
  for (const name of PIPELINE) {
    runVerified(g, name, ctx);
    if (name === last) break;
  }
  return ctx;
}
