/**
 * Runs one LUT-mpGEMM (the shaders of lut-gemm.ts) on a GPUDevice: uploads activations, packed weights
 * and scales, dispatches `build` then `gemm`, reads back y (or A in raw mode, or the tables for tests).
 * `subgroups` swaps in lut-gemm-subgroup.ts's gemm (the device must have the 'subgroups' feature).
 */
import type { LutGeometry } from '../../ir/lut/geometry.js';
import type { PackedScales } from '../../ir/lut/reference.js';
import { computePipeline, dispatch, readBack, storageBuffer } from './gpu-exec.js';
import { BUILD_BINDINGS, bufferIO, GEMM_BINDINGS, renderWgslGemm, type WgslGemmOptions } from './lut-gemm.js';
import { renderGemmSubgroup } from './lut-gemm-subgroup.js';

export interface GemmRunResult {
  /** y [M, N] f32, or A [M, N, nSegments] (Int32Array for i8 tables) in raw mode. */
  out: Float32Array | Int32Array;
  /** The tables the build shader produced ([M, nChunks, 16]) and per-segment (tsHalf, xsum) pairs. */
  tables: Int32Array | Float32Array;
  seg: Float32Array;
}

/** Packed weights are padded to whole u32 words here (the layout is a multiple of 16 bytes anyway). */
export async function runWgslGemm(
  device: GPUDevice,
  g: LutGeometry,
  opts: WgslGemmOptions & { subgroups?: boolean },
  x: Float32Array,
  packed: Uint8Array,
  scales: PackedScales,
  bias?: Float32Array,
): Promise<GemmRunResult> {
  const o = { ...opts, hasBias: !!bias };
  const sh = renderWgslGemm(g, o);
  if (opts.subgroups) {
    const sg = renderGemmSubgroup(g, { ...o, entry: 'gemm' }, bufferIO(o).gemm);
    sh.gemm = sg.code;
    sh.gemmDispatch = sg.groups;
  }
  const [pb, pg] = await Promise.all([
    computePipeline(device, sh.build, 'build', BUILD_BINDINGS),
    computePipeline(device, sh.gemm, 'gemm', GEMM_BINDINGS),
  ]);
  const xb = storageBuffer(device, x);
  const tb = storageBuffer(device, sh.tableBytes);
  const sb = storageBuffer(device, sh.segBytes);
  const wb = storageBuffer(device, packed);
  const swb = storageBuffer(device, scales.sw);
  const swzb = storageBuffer(device, scales.swz);
  const bb = storageBuffer(device, bias ?? new Float32Array(1));
  const ob = storageBuffer(device, sh.outBytes);
  const enc = device.createCommandEncoder();
  dispatch(enc, device, pb, [xb, tb, sb], sh.buildDispatch);
  dispatch(enc, device, pg, [wb, swb, swzb, bb, tb, sb, ob], sh.gemmDispatch);
  device.queue.submit([enc.finish()]);
  const [out, t, s] = await Promise.all([
    readBack(device, ob, sh.outBytes),
    readBack(device, tb, sh.tableBytes),
    readBack(device, sb, sh.segBytes),
  ]);
  for (const b of [xb, tb, sb, wb, swb, swzb, bb, ob]) b.destroy();
  const intOut = opts.raw && opts.tables === 'i8';
  return {
    out: intOut ? new Int32Array(out) : new Float32Array(out),
    tables: opts.tables === 'i8' ? new Int32Array(t) : new Float32Array(t),
    seg: new Float32Array(s),
  };
}
