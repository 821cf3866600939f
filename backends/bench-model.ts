/**
 * What the targets' `lutc bench model.onnx` entries share (backends/wasm/bench.ts against
 * onnxruntime-web, backends/c/bench.ts against onnxruntime-node): binding the model's free dims,
 * random float inputs, the output comparison (relative L2 and max-abs of every float output against
 * lutc's), loading an optional peer package with a coded error naming it, and the report type.
 * Invariants: the inputs depend only on the model's input shapes (one seeded generator), so every
 * side of every target sees the same values; a missing peer package is the target's code (never an
 * internal error), raised before anything is compiled.
 */
import { type DiagCode, fail } from '../base/diagnostics.js';
import { unknownDimWarnings } from '../compiler/input-dims.js';
import { importOnnx } from '../compiler/onnx/index.js';
import type { CompileOptions } from '../compiler/options.js';
import type { Graph } from '../ir/types.js';

/** What `lutc bench` prints, and the peers whose outputs disagree with lutc's (non-empty: exit 1). */
export interface BenchReport {
  report: string;
  failed: string[];
}

/** Output name -> data. */
export type Outputs = Record<string, ArrayLike<number | bigint>>;

/** Imports with every symbolic input dim bound (given bindings, else 1, said through `log`). */
export function importBound(bytes: Uint8Array, opts: CompileOptions, log: (m: string) => void): { g: Graph; dims: Record<string, number> } {
  const dims = { ...(opts.dimBindings ?? {}) };
  let g = importOnnx(bytes, { dimBindings: dims, inputShapes: opts.inputShapes });
  for (const w of unknownDimWarnings(g, { '--dim': opts.dimBindings })) log(w);
  const free = [...new Set(g.inputs.flatMap((v) => v.type.shape.filter((d): d is string => typeof d === 'string')))];
  if (free.length) {
    for (const s of free) dims[s] = 1;
    log(`bench: binding ${free.map((s) => `${s}=1`).join(', ')} (use --dim SYM=N)`);
    g = importOnnx(bytes, { dimBindings: dims, inputShapes: opts.inputShapes });
  }
  return { g, dims };
}

/** One float32 input per graph input, seeded uniform in [-1, 1); a non-float input is an error naming it. */
export function randomFeeds(g: Graph): { name: string; shape: number[]; data: Float32Array }[] {
  let seed = 1;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1;
  return g.inputs.map((v) => {
    if (v.type.dtype !== 'f32') throw new Error(`bench: input '${v.name}' is ${v.type.dtype}; only float32 inputs are generated`);
    const shape = v.type.shape as number[];
    return { name: v.name, shape, data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, rnd) };
  });
}

/** Largest max-abs difference over the outputs lutc has (Infinity when the peer lacks one or its length differs). */
export function outputsMaxAbs(peer: Outputs, lutc: Outputs): number {
  let worst = 0;
  for (const [name, want] of Object.entries(lutc)) {
    const got = peer[name];
    if (!got || got.length !== want.length) return Infinity;
    for (let i = 0; i < want.length; i++) {
      const d = Math.abs(Number(got[i]) - Number(want[i]));
      worst = Math.max(worst, Number.isNaN(d) ? Infinity : d);
    }
  }
  return worst;
}

/** Largest relative L2 (||peer - lutc|| / ||lutc||, as bench/timing.ts relL2) over the outputs lutc has. */
export function outputsRelL2(peer: Outputs, lutc: Outputs): number {
  let worst = 0;
  for (const [name, want] of Object.entries(lutc)) {
    const got = peer[name];
    if (!got) return Infinity;
    if (got.length !== want.length) return Infinity;
    let num = 0;
    let den = 0;
    for (let i = 0; i < want.length; i++) {
      num += (Number(got[i]) - Number(want[i])) ** 2;
      den += Number(want[i]) ** 2;
    }
    worst = Math.max(worst, den > 0 ? Math.sqrt(num / den) : Math.sqrt(num));
  }
  return worst;
}

/**
 * Imports the optional peer package `pkg` (onnxruntime-web, onnxruntime-node) through `load` (the
 * caller's own import of that literal name, which the packaging check reads); when it is not installed (an install
 * without optional dependencies or optional peers): `code`, naming the package and the command that
 * installs it.
 */
export async function loadPeer<T>(pkg: string, code: DiagCode, target: string, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (e) {
    const err = e as { code?: string; message?: string };
    if (err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes(`'${pkg}'`))
      fail(code, `lutc bench --target ${target} needs the package '${pkg}' as its peer, which is not installed (npm install ${pkg})`);
    throw e;
  }
}

/**
 * A peer's accuracy text for the report (max-abs, and rel-L2 against lutc's outputs: checked against
 * `tol`, or shown only when tol is undefined: other weights) and, when it misses, the failure line.
 */
export function peerCheck(p: { label: string; err: number; maxAbs: number; tol: number | undefined }): { text: string; failure?: string } {
  const text =
    `max-abs ${p.maxAbs.toExponential(1)}, ` +
    (p.tol === undefined
      ? `rel-L2 vs lutc ${p.err.toExponential(1)} (other weights: not checked)`
      : p.err <= p.tol
        ? `rel-L2 vs lutc ${p.err.toExponential(1)} <= ${p.tol}: ok`
        : `rel-L2 vs lutc ${p.err.toExponential(1)} > ${p.tol}: FAIL`);
  const failure =
    p.tol !== undefined && !(p.err <= p.tol)
      ? `${p.label}: outputs differ from lutc's by rel-L2 ${p.err.toExponential(2)} (tolerance ${p.tol})`
      : undefined;
  return failure ? { text, failure } : { text };
}

/**
 * Whether the lowered graph `g` approximates its quantized layers with int8 activations (LUT layers
 * under `--tables i8`, or an 8-bit matmul_nbits on the int8 path): then a peer running the model file
 * as it is (no `--bits`) is held to the int8-table tolerance (bench/timing.ts PEER_TOL_MODEL), else to
 * float rounding (PEER_TOL_F32: a float model, or `--tables f32`). A MatMulNBits export compared at
 * PEER_TOL_F32 failed every default bench (int8 tables measure ~1e-2).
 */
export function int8Approximated(g: Graph, tables: CompileOptions['tables']): boolean {
  return g.nodes.some((n) => (n.op.startsWith('lut.') && tables !== 'f32') || (n.op === 'matmul_nbits' && n.attrs.compute === 'i8'));
}
