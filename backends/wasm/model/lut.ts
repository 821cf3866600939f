/**
 * LUT steps of the whole-model module: lut.table, lut.norm_table and lut.matmul rendered with the
 * WASM LUT kernel builder of backends/wasm (tables.ts `addTableBuild`, lookup.ts `addLutGemm`, one
 * `legalizeWasmKernel` plan per distinct geometry, functions shared between identical layers).
 *
 * The table tensors of the graph are internal to the module: they are stored in the kernels' own
 * format (token-major, int8 biased to u8 in bias16 mode, f32 as 4 byte planes), which has exactly the
 * size of the graph's tensor, so the plan's placements hold them whatever `layout` the graph names.
 * What the graph's layout differs in (kernel geometry: vec_bytes 16, one K-tile; x zero-padded to
 * kPad; y rows padded to nPad; bias padded) is adapted here at compile time or through scratch.
 * The fused epilogue follows ir/lut/interp.ts: y = ((lut(x) + bias) * channel_scale |> act) + residual.
 */
import binaryen from 'binaryen';
import type { Expr, FnBuilder } from '../builder.js';
import { legalizeWasmKernel, type WasmLutPlan } from '../plan.js';
import { addTableBuild } from '../tables.js';
import { addLutGemm } from '../lookup.js';
import { geometryOf, tableGeometry } from '../../../ir/lut/attrs.js';
import { packWeights, packedIndex, type Bits, type LutGeometry } from '../../../ir/lut/geometry.js';
import type { Placement, PlanStep } from '../../model-plan.js';
import { broadcastStrides, contiguous, emitCopy, emitMap, numelOf, unsupported, viewOf, type Ctx, type Emit, type StepHandler } from './core.js';
import { paramAddr, normRows } from './reduce.js';
import { unaryScalar } from './elementwise.js';
import { sigmoidF32 } from './math.js';

export const LUT_OPS: ReadonlySet<string> = new Set(['lut.table', 'lut.norm_table', 'lut.matmul']);

const TOKEN_CAP = 4096; // legalizeWasmKernel's M bound; M only sizes its own (unused) memory plan and the token tile

function plan(ctx: Ctx, n: number, k: number, bits: number, groupSize: number, tables: 'i8' | 'f32', m: number): WasmLutPlan {
  return legalizeWasmKernel({ n, k, bits: bits as Bits, groupSize, tables, m: Math.max(1, Math.min(m, TOKEN_CAP)) });
}

/** The table-build function for (k, group, tables); returns its name and plan. */
function tableFn(ctx: Ctx, k: number, gs: number, tables: 'i8' | 'f32', m: number): { name: string; p: WasmLutPlan } {
  const p = plan(ctx, 16, k, 2, gs, tables, m);
  const name = `lut_tables_k${k}_g${gs}_${tables}`;
  return { name, p };
}

/**
 * Emits the table build of M rows of k f32 at `xAddr` into the placements of tables/tscale/xsum,
 * zero-padding rows to kPad through scratch when k != kPad.
 */
function buildTables(ctx: Ctx, step: PlanStep, xAddr: number, k: number, M: number, outs: Placement[]): Emit {
  const a = step.node.attrs;
  const tables = ((a.tables as string | undefined) ?? 'i8') as 'i8' | 'f32';
  const gs = a.group_size as number;
  const tg = tableGeometry(k, gs);
  const { name, p } = tableFn(ctx, k, gs, tables, M);
  if (p.geom.kPad !== tg.kPad || p.geom.nChunks !== tg.nChunks) unsupported(step.node, ctx.plan.graph.meta?.file, 'internal: table geometry mismatch', 'LUT5090');
  const pad = tg.kPad !== k;
  if (pad) ctx.scratch(0, M * tg.kPad * 4);
  const [tab, ts, xs] = outs;
  return (f) => {
    const m = f.mod;
    ctx.once(name, () => addTableBuild(ctx.mod, p, name)); // emit phase: the memory exists
    const res: Expr[] = [];
    let x = xAddr;
    if (pad) {
      x = ctx.scratchBase;
      res.push(m.memory.fill(m.i32.const(x), m.i32.const(0), m.i32.const(M * tg.kPad * 4)));
      res.push(emitCopy(f, [M, k], { addr: x, dtype: 'f32', strides: [tg.kPad, 1] }, { addr: xAddr, dtype: 'f32', strides: [k, 1] }));
    }
    res.push(m.call(name, [m.i32.const(x), m.i32.const(ctx.addrOf(tab!)), m.i32.const(ctx.addrOf(ts!)), m.i32.const(ctx.addrOf(xs!)), m.i32.const(M)], binaryen.none));
    return res;
  };
}

/** Rebuilds q[n, k] from packed weights of geometry `g` and packs them for geometry `kg`. */
function repack(g: LutGeometry, kg: LutGeometry, packed: Uint8Array): Uint8Array {
  const q = new Uint8Array(g.n * g.k);
  for (let row = 0; row < g.n; row++)
    for (let c = 0; c < g.nChunks; c++)
      for (let i = 0; i < g.bits; i++) {
        const idx = packedIndex(g, packed, row, i, c);
        for (let t = 0; t < 4; t++) {
          const kk = 4 * c + t;
          if (kk < g.k && (idx >> t) & 1) q[row * g.k + kk]! |= 1 << i;
        }
      }
  return packWeights(kg, q);
}

/** [nGroups, nPadFrom] f32 -> [nGroups, nPadTo] (extra rows zero). */
function repad(src: ArrayLike<number>, groups: number, from: number, to: number, n: number): Uint8Array {
  const out = new Float32Array(groups * to);
  for (let gi = 0; gi < groups; gi++) for (let r = 0; r < n; r++) out[gi * to + r] = src[gi * from + r]!;
  return new Uint8Array(out.buffer);
}

/** Prepares a LUT step. */
export const lutStep: StepHandler = (ctx, step): Emit => {
  const n = step.node;
  const file = ctx.plan.graph.meta?.file;
  if (n.op === 'lut.table') {
    const x = step.inputs[0]!;
    const k = n.attrs.k as number;
    return buildTables(ctx, step, ctx.addrOf(x), k, numelOf(x.shape) / k, step.outputs);
  }
  if (n.op === 'lut.norm_table') {
    const [x, scale, bias] = step.inputs;
    const k = n.attrs.k as number;
    const M = numelOf(x!.shape) / k;
    const y = step.outputs[0]!;
    const gamma = paramAddr(ctx, step, scale!, [k]);
    const beta = bias ? paramAddr(ctx, step, bias, [k]) : undefined;
    const spec = { rows: M, h: k, x: ctx.addrOf(x!), y: ctx.addrOf(y), gamma, beta, eps: (n.attrs.epsilon as number | undefined) ?? 1e-5, rms: n.attrs.norm === 'rms' };
    const tables = buildTables(ctx, step, ctx.addrOf(y), k, M, step.outputs.slice(1));
    return (f) => [normRows(f, spec), ...tables(f)];
  }
  if (n.op === 'lut.matmul') return lutMatmul(ctx, step);
  return unsupported(n, file, `op '${n.op}' is not supported`, 'LUT5003');
};

function lutMatmul(ctx: Ctx, step: PlanStep): Emit {
  const n = step.node;
  const file = ctx.plan.graph.meta?.file;
  const a = n.attrs;
  const g = geometryOf({ vec_bytes: 16, k_tile: 0, ...a });
  const tables = ((a.tables as string | undefined) ?? 'i8') as 'i8' | 'f32';
  const [tab, ts, xs, w, sw, swz, bias, residual, cscale] = step.inputs;
  const out = step.outputs[0]!;
  const M = numelOf(out.shape) / g.n;
  const p = plan(ctx, g.n, g.k, g.bits, a.group_size as number, tables, M);
  const kg = p.geom;
  if (!w?.value.const || !sw?.value.const || !swz?.value.const) unsupported(n, file, 'lut.matmul with run-time weights or scales is not supported', 'LUT5060');
  if (kg.nGroups !== g.nGroups || kg.nSegments !== g.nSegments || kg.kPad !== g.kPad) unsupported(n, file, 'internal: LUT geometry mismatch with the wasm kernel plan', 'LUT5090');
  // weights and scales in the kernel's layout (vec_bytes 16, one K-tile)
  let wAddr = ctx.addrOf(w), swAddr = ctx.addrOf(sw), swzAddr = ctx.addrOf(swz);
  if (g.vecBytes !== kg.vecBytes || g.kTileCP !== kg.kTileCP) wAddr = ctx.addExtra(repack(g, kg, w.value.const.data as Uint8Array));
  if (g.nPad !== kg.nPad) {
    swAddr = ctx.addExtra(repad(sw.value.const.data, g.nGroups, g.nPad, kg.nPad, g.n));
    swzAddr = ctx.addExtra(repad(swz.value.const.data, g.nGroups, g.nPad, kg.nPad, g.n));
  }
  // bias padded to nPad (zeros when absent)
  let biasAddr: number;
  let scr = 0;
  let biasScratch = -1;
  if (!bias || bias.value.const) {
    const b = new Float32Array(kg.nPad);
    if (bias) for (let i = 0; i < g.n; i++) b[i] = bias.value.const!.data[i]!;
    biasAddr = ctx.addExtra(new Uint8Array(b.buffer));
  } else {
    biasAddr = 0;
    biasScratch = scr;
    scr = ctx.scratch(scr, kg.nPad * 4);
  }
  const padded = kg.nPad !== g.n;
  const yScratch = scr;
  if (padded) scr = ctx.scratch(scr, M * kg.nPad * 4);
  const gemm = `lut_gemm_n${g.n}_k${g.k}_b${g.bits}_g${a.group_size as number}_${tables}`;
  const act = (a.activation as string | undefined) ?? 'none';
  return (f) => {
    const m = f.mod;
    ctx.once(gemm, () => addLutGemm(ctx.mod, p, gemm));
    const res: Expr[] = [];
    let bAddr = biasAddr;
    if (biasScratch >= 0) {
      bAddr = ctx.scratchBase + biasScratch;
      res.push(m.memory.fill(m.i32.const(bAddr), m.i32.const(0), m.i32.const(kg.nPad * 4)), m.memory.copy(m.i32.const(bAddr), m.i32.const(ctx.addrOf(bias!)), m.i32.const(g.n * 4)));
    }
    const y = padded ? ctx.scratchBase + yScratch : ctx.addrOf(out);
    const c = (v: number) => m.i32.const(v);
    res.push(m.call(gemm, [c(wAddr), c(swAddr), c(swzAddr), c(bAddr), c(ctx.addrOf(tab!)), c(ctx.addrOf(ts!)), c(ctx.addrOf(xs!)), c(y), c(M)], binaryen.none));
    if (padded) res.push(emitCopy(f, [M, g.n], { addr: ctx.addrOf(out), dtype: 'f32', strides: [g.n, 1] }, { addr: y, dtype: 'f32', strides: [kg.nPad, 1] }));
    res.push(...epilogue(ctx, f, out, cscale ?? null, residual ?? null, act, (a.gelu_approximate as string | undefined) ?? 'none'));
    return res;
  };
}

/** In-place fused epilogue on y: (y * channel_scale |> activation) + residual. */
function epilogue(ctx: Ctx, f: FnBuilder, out: Placement, cs: Placement | null, res: Placement | null, act: string, approx: string): Expr[] {
  const m = f.mod;
  const ov = viewOf(ctx, out);
  const shape = out.shape;
  const outs: Expr[] = [];
  if (cs) {
    const cv = { addr: ctx.addrOf(cs), dtype: cs.dtype, strides: broadcastStrides(cs.shape, shape) };
    outs.push(emitMap(f, shape, ov, [ov, cv], (g) => m.f32.mul(g(0), g(1)), (g) => m.f32x4.mul(g(0), g(1))));
  }
  if (act === 'relu') outs.push(emitMap(f, shape, ov, [ov], (g) => m.select(m.f32.lt(g(0), m.f32.const(0)), m.f32.const(0), g(0)), (g) => m.f32x4.max(g(0), m.f32x4.splat(m.f32.const(0)))));
  else if (act === 'sigmoid') outs.push(emitMap(f, shape, ov, [ov], (g) => sigmoidF32(ctx, g(0))));
  else if (act === 'silu') outs.push(emitMap(f, shape, ov, [ov], (g) => m.f32.mul(g(0), sigmoidF32(ctx, g(0)))));
  else if (act === 'gelu') {
    const s = unaryScalar(ctx, { op: 'gelu', name: 'gelu', inputs: [], outputs: [], attrs: { approximate: approx } }, 'f32', 'f32')!;
    outs.push(emitMap(f, shape, ov, [ov], s));
  }
  if (res) {
    const rv = { addr: ctx.addrOf(res), dtype: res.dtype, strides: contiguous(shape) };
    outs.push(emitMap(f, shape, ov, [ov, rv], (g) => m.f32.add(g(0), g(1)), (g) => m.f32x4.add(g(0), g(1))));
  }
  return outs;
}
