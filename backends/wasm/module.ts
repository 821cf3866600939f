/**
 * Renders a legalized kernel plan into one WASM module: memory sized by the plan's static memory plan,
 * the table build, the LUT GEMM (token tiles), the raw-accumulator hook and a `run` entry point that
 * uses the plan's fixed buffers. Validates with binaryen before and after -O3 and with
 * WebAssembly.validate when the running engine supports the features (relaxed SIMD needs a flag).
 * A whole-model emitter calls `addLutLayer` on its own module instead of `buildKernelModule`.
 */
import binaryen from 'binaryen';
import { fail } from '../../base/diagnostics.js';
import { FnBuilder, featureSet } from './builder.js';
import { addLutAcc, addLutGemm } from './lookup.js';
import type { WasmLutPlan } from './plan.js';
import { addTableBuild } from './tables.js';
import { addVecLutGemm, vecLutScratchBytes } from './veclut.js';

/** Names of the functions one LUT layer adds to a module. */
export interface LutLayerFns {
  /** `(x, tab, ts, xs, m)` */
  tables: string;
  /** `(w, sw, swz, bias, tab, ts, xs, y, m)` */
  gemm: string;
  /** `(w, tab, acc, m)` */
  acc: string;
}

/** Adds the functions of one LUT layer (not exported) to `mod`, names prefixed with `prefix`. */
export function addLutLayer(mod: binaryen.Module, plan: WasmLutPlan, prefix: string): LutLayerFns {
  const fns = { tables: `${prefix}_tables`, gemm: `${prefix}_gemm`, acc: `${prefix}_acc` };
  addTableBuild(mod, plan, fns.tables);
  addLutGemm(mod, plan, fns.gemm);
  addLutAcc(mod, plan, fns.acc);
  return fns;
}

export interface BuildOptions {
  /** Run binaryen's optimizer (-O3). Default true. */
  optimize?: boolean;
  /** Exported symbol prefix. */
  name?: string;
}

/** The kernel-only module: exports memory and `${name}_{tables,gemm,acc,run}`. */
export function buildKernelModule(plan: WasmLutPlan, opts: BuildOptions = {}): Uint8Array {
  const name = opts.name ?? 'lutc';
  const mod = new binaryen.Module();
  try {
    mod.setFeatures(featureSet(plan.relaxed));
    mod.setMemory(plan.mem.pages, plan.mem.pages, 'memory');
    const fns = addLutLayer(mod, plan, name);
    const mem = plan.mem;
    // exported gemm: the scalar-LUT one, or for M >= 16 the vector-LUT one (16-token tiles, the rest
    // scalar) with the scalar kernel also exported as `${name}_gemm_scalar` (tests compare them)
    let gemm = fns.gemm;
    if (plan.vecTile) {
      if (mem.end - mem.vt < vecLutScratchBytes(plan)) fail('LUT5090', 'internal: vector-LUT scratch too small');
      gemm = `${name}_gemm_vec`;
      addVecLutGemm(mod, plan, gemm, fns.gemm, mem.vt);
      mod.addFunctionExport(fns.gemm, `${name}_gemm_scalar`);
    }
    const f = new FnBuilder(mod, [binaryen.i32]);
    const c = (v: number) => mod.i32.const(v);
    const mArg = f.get(0);
    // run(m): tables then gemm on the plan's fixed buffers (m clamped to the plan's M by the caller)
    f.finish(`${name}_run`, binaryen.none, [
      mod.call(fns.tables, [c(mem.x), c(mem.tab), c(mem.ts), c(mem.xs), mArg], binaryen.none),
      mod.call(gemm, [c(mem.w), c(mem.sw), c(mem.swz), c(mem.bias), c(mem.tab), c(mem.ts), c(mem.xs), c(mem.y), f.get(0)], binaryen.none),
    ]);
    for (const fn of [fns.tables, fns.acc, `${name}_run`]) mod.addFunctionExport(fn, fn);
    mod.addFunctionExport(gemm, `${name}_gemm`);
    if (!mod.validate()) fail('LUT5090', `internal: generated wasm module does not validate\n${mod.emitText().slice(0, 2000)}`);
    if (opts.optimize !== false) {
      binaryen.setOptimizeLevel(3);
      binaryen.setShrinkLevel(0);
      mod.optimize();
      if (!mod.validate()) fail('LUT5091', 'internal: wasm module no longer validates after binaryen -O3');
    }
    const bytes = mod.emitBinary();
    checkEngineValidates(bytes, plan.relaxed);
    return bytes;
  } finally {
    mod.dispose();
  }
}

/** True when this engine runs relaxed SIMD (Node 20 needs --experimental-wasm-relaxed-simd). */
export function engineHasRelaxedSimd(): boolean {
  // (module (func (result v128) v128.const i8x16 0 ... i8x16.relaxed_swizzle ...)) probe
  const probe = new Uint8Array([
    0,
    97,
    115,
    109,
    1,
    0,
    0,
    0,
    1,
    5,
    1,
    96,
    0,
    1,
    123,
    3,
    2,
    1,
    0,
    10,
    43,
    1,
    41,
    0,
    253,
    12,
    ...new Array(16).fill(0),
    253,
    12,
    ...new Array(16).fill(0),
    253,
    128,
    2,
    11,
  ]);
  return WebAssembly.validate(probe);
}

/** WebAssembly.validate on the emitted bytes (skipped for relaxed modules on engines without it). */
export function checkEngineValidates(bytes: Uint8Array, relaxed: boolean): void {
  if (relaxed && !engineHasRelaxedSimd()) return;
  if (!WebAssembly.validate(bytes as Uint8Array<ArrayBuffer>)) fail('LUT5092', 'internal: the engine rejects the emitted wasm module');
}
