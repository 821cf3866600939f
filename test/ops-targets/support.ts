/**
 * The expected-unsupported list of the op-target test (op-target.test.ts) and of docs/op-support.md
 * (scripts/gen-op-support.ts): every (case, target) whose graph gets one coded "not supported"
 * diagnostic naming the node instead of an artifact, with the reason. The test fails when a listed
 * case starts compiling (remove its entry: the list only shrinks deliberately) and when a case that
 * is not listed fails. Keyed by case label (cases.ts), so an op can be supported in one form only.
 */
export type Target = 'c' | 'wasm' | 'wgsl';
export const TARGETS: readonly Target[] = ['c', 'wasm', 'wgsl'];

export interface Unsupported {
  /** Case label in cases.ts. */
  case: string;
  op: string;
  target: Target;
  reason: string;
}

const all = (c: string, op: string, reason: string): Unsupported[] => TARGETS.map((target) => ({ case: c, op, target, reason }));

export const EXPECTED_UNSUPPORTED: readonly Unsupported[] = [
  // Float fmod is legalized through float64 (exact for |a / b| < 2^29); WGSL has no f64, and its
  // f32 `%` (x - y * trunc(x / y)) can be off by a whole y. Integer mod is legalized everywhere.
  {
    case: 'mod f32',
    op: 'mod',
    target: 'wgsl',
    reason: 'float fmod needs float64 (WGSL has none) for an exact remainder; integer mod is legalized',
  },
  // Where each element lands depends on index values known only at run time: needs a native scatter
  // kernel (ordered writes; reductions over duplicates), which no backend has. Constant indices are
  // legalized (a gather + where per layer of writes).
  ...all(
    'scatter_nd run-time indices',
    'scatter_nd',
    'indices computed at run time need a native scatter kernel; constant indices are legalized',
  ),
];
