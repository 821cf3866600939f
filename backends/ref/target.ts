/**
 * The `ref` target's `TargetInfo` (registered in backends/target.ts): the reference interpreter
 * (ir/interpret.ts), which runs every op of the op table. It has no artifact and no kernel mode; its
 * run entry (backends/ref/run.ts) interprets the compiled graph.
 */
import '../../ir/ops/index.js';
import { allOps } from '../../ir/optable.js';
import type { TargetInfo } from '../target-info.js';

let ops: ReadonlySet<string> | undefined;

/** The reference interpreter as a target. */
export const refTarget: TargetInfo = {
  name: 'ref',
  summary: 'the reference interpreter (no artifact): runs the compiled graph, checked against onnxruntime',
  /** Every op of the op table (computed on first read). */
  get nativeOps(): ReadonlySet<string> {
    return (ops ??= new Set(allOps().map((o) => o.name)));
  },
  lut: { tables: 'graph', vecBytes: 16, kTiles: true },
  tile: { tableBytes: 16 << 10, vecMinTokens: 8 },
  int64: 'float64',
  options: {},
  run: () => import('./run.js'),
};
