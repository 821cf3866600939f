/**
 * LUT steps of the whole-model module: lut.table, lut.norm_table and lut.matmul rendered with the
 * WASM LUT kernel builder of backends/wasm (tables.ts `addTableBuild`, lookup.ts `addLutGemm`, one
 * `legalizeWasmKernel` plan per distinct geometry, functions shared between identical layers).
 *
 * The table tensors of the graph are internal to the module: they are stored in the kernels' own
 * format (token-major, int8 biased to u8 in bias16 mode, f32 as 4 byte planes), which has exactly the
 * size of the graph's tensor, so the plan's placements hold them whatever `layout` the graph names.
 * The packed weights and scales are read as they are: the wasm TargetInfo's LUT form (vec_bytes 16,
 * one K-tile) makes tile and bitplane-layout pack the kernel's own geometry; weights packed otherwise
 * (hand-written IR) are LUT5060. What else differs (x zero-padded to kPad; y rows padded to nPad;
 * bias padded) is adapted here at compile time or through scratch.
 * The fused epilogue follows ir/lut/interp.ts: y = ((lut(x) + bias) * channel_scale |> act) + residual,
 * its graph-op stages (ir/lut/epilogue.ts) rendered by elementwise.ts's builders of those ops.
 * Runtime dims: lut.table, lut.norm_table and lut.matmul take a runtime row count M (the kernels' m argument; the
 * bound sizes the plan, the token tile and the scratch). A lut.matmul whose M is a runtime dim and whose plan
 * (legalized for the bound) takes the vector-LUT path (plan.ts vecTile: int8 tables, 3-4 bits, bound >=
 * VEC_MIN_TOKENS) renders both gemms and picks per call: M >= VEC_MIN_TOKENS the vector-LUT one
 * (veclut.ts: full 16-token tiles, the rest through the scalar gemm), else the scalar-LUT one (the
 * node's vec_lut 'on' / 'off', a tuned plan's choice, overrides plan.ts's default rule); its
 * scratch adds the vector path's tile buffers after the bias/y scratch. y is bit-identical either way
 * (veclut.ts). Every other layer -- static M, f32 tables, 1-2 bits, a bound below the threshold -- is
 * the scalar-LUT gemm for every M, rendered as before.
 * Relaxed module (EmitOptions.relaxedSimd): every plan relaxed (rdot: signed int8 tables, relaxed
 * swizzle and dot; bit-identical y); artifact.ts builds it only when no layer is 1-bit with int8
 * tables (its bias16 gemm reads biased tables).
 * Threaded module (EmitOptions.threaded): the scalar gemm split by rows (rowSplit), the vector one by
 * token tiles (tileSplit), both bit-identical to the single-thread call.
 */
import binaryen from 'binaryen';
import { dimExactDiv, dimMul } from '../../../ir/dim-expr.js';
import { geometryOf, tableGeometry } from '../../../ir/lut/attrs.js';
import { epilogueStages, foldStages } from '../../../ir/lut/epilogue.js';
import type { Bits } from '../../../ir/lut/geometry.js';
import type { Dim } from '../../../ir/types.js';
import { type Placement, type PlanStep, stepInput } from '../../model-plan.js';
import type { Expr, FnBuilder } from '../builder.js';
import { addLutGemm } from '../lookup.js';
import { legalizeWasmKernel, VEC_MIN_TOKENS, type WasmLutPlan } from '../plan.js';
import { addTableBuild } from '../tables.js';
import { addVecLutGemm, vecLutScratchBytes } from '../veclut.js';
import {
  broadcastStridesD,
  type Ctx,
  dimsOf,
  dimVal,
  type Emit,
  emitCopy,
  emitMap,
  noRuntimeDims,
  numelD,
  numelOf,
  type ScalarFn,
  type StepHandler,
  unsupported,
  type VectorFn,
  viewOfD,
} from './core.js';
import { f32OpFns } from './elementwise.js';
import { normRows, paramAddr } from './reduce.js';

export const LUT_OPS: ReadonlySet<string> = new Set(['lut.table', 'lut.norm_table', 'lut.matmul']);

const TOKEN_CAP = 4096; // legalizeWasmKernel's M bound; M only sizes its own (unused) memory plan, the token tile and vecTile

/** The kernel plan of a layer; relaxed SIMD (EmitOptions.relaxedSimd) for the relaxed module. */
function plan(
  ctx: Ctx,
  n: number,
  k: number,
  bits: number,
  groupSize: number,
  tables: 'i8' | 'f32',
  m: number,
  vecLut: 'auto' | 'on' | 'off' = 'auto',
): WasmLutPlan {
  return legalizeWasmKernel(
    {
      n,
      k,
      bits: bits as Bits,
      groupSize,
      tables,
      m: Math.max(1, Math.min(m, TOKEN_CAP)),
      ...(ctx.opts.relaxedSimd && { wasmFeatures: ['relaxed-simd'] }),
    },
    // a tuned plan's choice (lut.matmul vec_lut, set by tile from `lutc tune`'s cache)
    vecLut === 'auto' ? {} : { vecLut: vecLut === 'on' },
  );
}

/** The table-build function for (k, group, tables); returns its name and plan. */
function tableFn(ctx: Ctx, k: number, gs: number, tables: 'i8' | 'f32', m: number): { name: string; p: WasmLutPlan } {
  const p = plan(ctx, 16, k, 2, gs, tables, m);
  const name = `lut_tables_k${k}_g${gs}_${tables}`;
  return { name, p };
}

/** The row count of a LUT value (numel / `per`) as a dim (runtime with runtime dims); LUT5004 when it does not divide. */
function rowsOf(ctx: Ctx, step: PlanStep, p: Placement, per: number): Dim {
  if (!p.dims) return numelOf(p.shape) / per;
  return dimExactDiv(numelD(p.dims), per) ?? noRuntimeDims(ctx, step, `rows of [${p.dims.join(', ')}] by ${per}`);
}

/**
 * Emits the table build of M rows of k f32 at `xAddr` into the placements of tables/tscale/xsum,
 * zero-padding rows to kPad through scratch when k != kPad. `Md`: the row count as a dim (runtime
 * with runtime dims; M is then its bound, which sizes the plan and the scratch).
 */
function buildTables(ctx: Ctx, step: PlanStep, xAddr: number, k: number, M: number, outs: Placement[], Md: Dim = M): Emit {
  const a = step.node.attrs;
  const tables = ((a.tables as string | undefined) ?? 'i8') as 'i8' | 'f32';
  const gs = a.group_size as number;
  const tg = tableGeometry(k, gs);
  const { name, p } = tableFn(ctx, k, gs, tables, M);
  if (p.geom.kPad !== tg.kPad || p.geom.nChunks !== tg.nChunks)
    unsupported(step.node, ctx.plan.graph.meta?.file, 'internal: table geometry mismatch', 'LUT5090');
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
      res.push(m.memory.fill(m.i32.const(x), m.i32.const(0), dimVal(ctx, f, dimMul(Md, tg.kPad * 4))));
      res.push(emitCopy(ctx, f, [Md, k], { addr: x, dtype: 'f32', strides: [tg.kPad, 1] }, { addr: xAddr, dtype: 'f32', strides: [k, 1] }));
    }
    res.push(
      m.call(
        name,
        [m.i32.const(x), m.i32.const(ctx.addrOf(tab!)), m.i32.const(ctx.addrOf(ts!)), m.i32.const(ctx.addrOf(xs!)), dimVal(ctx, f, Md)],
        binaryen.none,
      ),
    );
    return res;
  };
}

/** Prepares a LUT step. */
export const lutStep: StepHandler = (ctx, step): Emit => {
  const n = step.node;
  const file = ctx.plan.graph.meta?.file;
  if (n.op === 'lut.table') {
    const x = step.inputs[0]!;
    const k = n.attrs.k as number;
    return buildTables(ctx, step, ctx.addrOf(x), k, numelOf(x.shape) / k, step.outputs, rowsOf(ctx, step, x, k));
  }
  if (n.op === 'lut.norm_table') {
    const [x, scale, bias] = (['x', 'scale', 'bias'] as const).map((name) => stepInput(step, name));
    const k = n.attrs.k as number;
    const M = numelOf(x!.shape) / k;
    const Md = rowsOf(ctx, step, x!, k);
    const y = step.outputs[0]!;
    const gamma = paramAddr(ctx, step, scale!, [k]);
    const beta = bias ? paramAddr(ctx, step, bias, [k]) : undefined;
    const spec = {
      rows: Md,
      h: k,
      x: ctx.addrOf(x!),
      y: ctx.addrOf(y),
      gamma,
      beta,
      eps: (n.attrs.epsilon as number | undefined) ?? 1e-5,
      rms: n.attrs.norm === 'rms',
    };
    const tables = buildTables(ctx, step, ctx.addrOf(y), k, M, step.outputs.slice(1), Md);
    return (f) => [normRows(f, spec, ctx), ...tables(f)];
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
  const [tab, ts, xs, w, sw, swz, bias] = (['tables', 'tscale', 'xsum', 'weights', 'sw', 'swz', 'bias'] as const).map((name) =>
    stepInput(step, name),
  );
  const out = step.outputs[0]!;
  const M = numelOf(out.shape) / g.n; // the bound with runtime dims: sizes the plan and the scratch
  const Md = rowsOf(ctx, step, out, g.n);
  const p = plan(ctx, g.n, g.k, g.bits, a.group_size as number, tables, M, (a.vec_lut as 'auto' | 'on' | 'off' | undefined) ?? 'auto');
  const kg = p.geom;
  if (!w?.value.const || !sw?.value.const || !swz?.value.const)
    unsupported(n, file, 'lut.matmul with run-time weights or scales is not supported', 'LUT5060');
  // tile and bitplane-layout packed the weights in the kernel's own layout (TargetInfo lut: vec_bytes 16, one K-tile)
  if (g.vecBytes !== kg.vecBytes || g.kTileCP !== kg.kTileCP)
    unsupported(
      n,
      file,
      `lut.matmul weights packed for vec_bytes ${g.vecBytes}, k_tile ${(a.k_tile as number | undefined) ?? 0}: the wasm kernel reads vec_bytes ${kg.vecBytes} in one K-tile (k_tile 0), the form the pipeline packs for target wasm`,
      'LUT5060',
    );
  // the relaxed module's tables are signed (rdot); a 1-bit layer's bias16 gemm would read them biased
  if (ctx.opts.relaxedSimd && tables === 'i8' && p.tableBias !== tableFn(ctx, g.k, a.group_size as number, tables, M).p.tableBias)
    unsupported(n, file, `relaxed SIMD: ${g.bits}-bit layers read the int8 tables in another format`, 'LUT5090');
  if (kg.nGroups !== g.nGroups || kg.nSegments !== g.nSegments || kg.kPad !== g.kPad || kg.nPad !== g.nPad)
    unsupported(n, file, 'internal: LUT geometry mismatch with the wasm kernel plan', 'LUT5090');
  const wAddr = ctx.addrOf(w),
    swAddr = ctx.addrOf(sw),
    swzAddr = ctx.addrOf(swz);
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
  // a runtime M with a vector-LUT plan: both gemms, chosen per call (static layers keep the scalar one)
  const vec = typeof Md !== 'number' && p.vecTile > 0;
  const vtScratch = scr;
  // threaded module: VEC_SLOTS tile buffers, one per thread running vector-LUT tiles at once
  const threadedVec = vec && !!ctx.opts.threaded;
  if (vec) scr = ctx.scratch(scr, vecLutScratchBytes(p) * (threadedVec ? VEC_SLOTS : 1));
  const vecGemm = `${gemm}_vec_s${vtScratch}`; // its tile buffers are at a fixed address
  const split = ctx.opts.threaded
    ? rowSplit(ctx, step, p, gemm, [wAddr, swAddr, swzAddr], [ctx.addrOf(tab!), ctx.addrOf(ts!), ctx.addrOf(xs!)], Md)
    : undefined;
  return (f) => {
    const m = f.mod;
    ctx.once(gemm, () => addLutGemm(ctx.mod, p, gemm));
    if (vec) ctx.once(vecGemm, () => addVecLutGemm(ctx.mod, p, vecGemm, gemm, ctx.scratchBase + vtScratch));
    const res: Expr[] = [];
    let bAddr = biasAddr;
    if (biasScratch >= 0) {
      bAddr = ctx.scratchBase + biasScratch;
      res.push(
        m.memory.fill(m.i32.const(bAddr), m.i32.const(0), m.i32.const(kg.nPad * 4)),
        m.memory.copy(m.i32.const(bAddr), m.i32.const(ctx.addrOf(bias!)), m.i32.const(g.n * 4)),
      );
    }
    const y = padded ? ctx.scratchBase + yScratch : ctx.addrOf(out);
    const c = (v: number) => m.i32.const(v);
    const call = (fn: string) =>
      m.call(
        fn,
        [c(wAddr), c(swAddr), c(swzAddr), c(bAddr), c(ctx.addrOf(tab!)), c(ctx.addrOf(ts!)), c(ctx.addrOf(xs!)), c(y), dimVal(ctx, f, Md)],
        binaryen.none,
      );
    const scalar = split ? split(f, bAddr, y) : call(gemm);
    const vecCall = threadedVec
      ? tileSplit(
          ctx,
          f,
          step,
          p,
          gemm,
          `${gemm}_vec`,
          ctx.scratchBase + vtScratch,
          [wAddr, swAddr, swzAddr, bAddr, ctx.addrOf(tab!), ctx.addrOf(ts!), ctx.addrOf(xs!), y],
          Md,
        )
      : vec && call(vecGemm);
    res.push(vecCall ? m.if(m.i32.ge_s(dimVal(ctx, f, Md), c(VEC_MIN_TOKENS)), vecCall, scalar) : scalar);
    if (padded)
      res.push(
        emitCopy(
          ctx,
          f,
          [Md, g.n],
          { addr: ctx.addrOf(out), dtype: 'f32', strides: [g.n, 1] },
          { addr: y, dtype: 'f32', strides: [kg.nPad, 1] },
        ),
      );
    res.push(...epilogue(ctx, f, step, out));
    return res;
  };
}

/** Threads that run vector-LUT tiles at once in the threaded module (each has its own tile buffers). */
const VEC_SLOTS = 4;

/**
 * Threaded module: the vector-LUT gemm of a lut.matmul (a runtime M >= VEC_MIN_TOKENS) split by
 * 16-token tiles. Each of the first min(nt, VEC_SLOTS) threads runs a contiguous range of whole
 * tiles through its own copy of the vector gemm (the same code, its tile buffers at slot `id` of
 * the scratch), the last one also the M % 16 tokens after them (the vector gemm hands those to the
 * scalar one, as the single-thread call does): every token goes through the same kernel as with one
 * thread, so y is bit-identical. Split only when M n k reaches PAR_MIN_WORK.
 */
function tileSplit(
  ctx: Ctx,
  f: FnBuilder,
  step: PlanStep,
  p: WasmLutPlan,
  gemm: string,
  base: string,
  scratch: number,
  [w, sw, swz, bias, tab, ts, xs, y]: [number, number, number, number, number, number, number, number],
  Md: Dim,
): Expr {
  const perRow = p.geom.n * p.geom.k;
  const slot = (i: number) => {
    const name = `${base}_t${i}_s${scratch + i * vecLutScratchBytes(p)}`;
    ctx.once(name, () => addVecLutGemm(ctx.mod, p, name, gemm, scratch + i * vecLutScratchBytes(p)));
    return name;
  };
  const S = p.stride;
  return ctx.addPart(
    step.node.name,
    `part_vlut_${ctx.parts.length}_${step.node.name.replace(/[^A-Za-z0-9_]/g, '_')}`,
    (pf, id, nt) => {
      const m = pf.mod;
      const { i32 } = binaryen;
      const c = (v: number) => m.i32.const(v);
      const [k, tiles, t0, cnt] = [pf.local(i32), pf.local(i32), pf.local(i32), pf.local(i32)];
      const Mv = () => dimVal(ctx, pf, Md);
      const at = (addr: number, stride: number) => m.i32.add(c(addr), m.i32.mul(pf.get(t0), c(16 * stride)));
      const call = (fn: string) =>
        m.call(fn, [c(w), c(sw), c(swz), c(bias), at(tab, S.tab), at(ts, S.seg), at(xs, S.seg), at(y, S.y), pf.get(cnt)], binaryen.none);
      const slots = Array.from({ length: VEC_SLOTS }, (_, i) => slot(i));
      // dispatch on id (< k <= VEC_SLOTS) to its slot's copy
      const bySlot = slots.reduceRight<Expr>(
        (rest, fn, i) => (i === VEC_SLOTS - 1 ? call(fn) : m.if(m.i32.eq(pf.get(id), c(i)), call(fn), rest)),
        m.nop(),
      );
      return [
        pf.set(k, m.select(m.i32.lt_u(pf.get(nt), c(VEC_SLOTS)), pf.get(nt), c(VEC_SLOTS))),
        m.if(
          m.i32.lt_u(pf.get(id), pf.get(k)),
          m.block(null, [
            pf.set(tiles, m.i32.shr_u(Mv(), c(4))),
            pf.set(t0, m.i32.div_u(m.i32.mul(pf.get(id), pf.get(tiles)), pf.get(k))),
            // tokens: its whole tiles, and for the last thread the M % 16 after them
            pf.set(
              cnt,
              m.select(
                m.i32.eq(pf.get(id), m.i32.sub(pf.get(k), c(1))),
                m.i32.sub(Mv(), m.i32.shl(pf.get(t0), c(4))),
                m.i32.shl(m.i32.sub(m.i32.div_u(m.i32.mul(m.i32.add(pf.get(id), c(1)), pf.get(tiles)), pf.get(k)), pf.get(t0)), c(4)),
              ),
            ),
            m.if(m.i32.gt_s(pf.get(cnt), c(0)), bySlot),
          ]),
        ),
      ];
    },
    undefined,
    f.mod.i32.ge_s(dimVal(ctx, f, Md), f.mod.i32.const(Math.max(VEC_MIN_TOKENS, Math.ceil(ctx.parMinWork / perRow)))),
  );
}

/** Most row units a threaded lut.matmul is cut into (each a whole number of the gemm's row passes). */
const MAX_UNITS = 16;

/**
 * Threaded module: the scalar-LUT gemm of a lut.matmul split by rows. The row blocks are cut at
 * compile time into units of whole row passes (plan.rowBlocks row blocks each, at most MAX_UNITS
 * units, the remainder one more unit); a unit is the same gemm with the geometry's row-block count
 * cut to the unit's (every stride is the full layer's), called with the weight, scale, bias and y
 * pointers advanced to its first row block. Each output row is computed by exactly the code of the
 * whole gemm (row blocks are independent; a pass only shares the table loads), so y is bit-identical
 * for every thread count. Thread `id` of `nt` runs units [id U / nt, (id + 1) U / nt). Undefined
 * (the whole gemm on the calling thread) when the layer has fewer than two units or a static M with
 * fewer than PAR_MIN_WORK (core.ts; EmitOptions.parMinWork) multiply-adds; a runtime M is split only when M n k reaches it.
 */
function rowSplit(
  ctx: Ctx,
  step: PlanStep,
  p: WasmLutPlan,
  gemm: string,
  [wAddr, swAddr, swzAddr]: [number, number, number],
  [tabAddr, tsAddr, xsAddr]: [number, number, number],
  Md: Dim,
): ((f: FnBuilder, bias: number, y: number) => Expr) | undefined {
  const g = p.geom;
  const RB = Math.max(1, p.rowBlocks);
  const passes = Math.floor(g.nRowBlocks / RB);
  const perRow = g.n * g.k; // multiply-adds per row of M
  if (passes < 2 || (typeof Md === 'number' && Md * perRow < ctx.parMinWork)) return undefined;
  const unitRB = Math.floor(passes / Math.min(MAX_UNITS, passes)) * RB;
  const full = Math.floor(g.nRowBlocks / unitRB);
  const rem = g.nRowBlocks - full * unitRB;
  const U = full + (rem > 0 ? 1 : 0);
  const unitFn = (rbs: number) => {
    const name = `${gemm}_rb${rbs}`;
    ctx.once(name, () => addLutGemm(ctx.mod, { ...p, geom: { ...g, nRowBlocks: rbs } }, name));
    return name;
  };
  const wBytes = g.nVecK * 16; // one row block of packed weights (one K-tile)
  const rBytes = g.rowsPerVec * 4; // one row block of f32 rows (sw, swz, bias, y)
  const node = step.node.name.replace(/[^A-Za-z0-9_]/g, '_');
  return (f, bias, y) =>
    ctx.addPart(
      step.node.name,
      `part_lut_${ctx.parts.length}_${node}`,
      (pf, id, nt) => {
        const m = pf.mod;
        const { i32 } = binaryen;
        const c = (v: number) => m.i32.const(v);
        const u = pf.local(i32),
          end = pf.local(i32);
        const at = (base: number, per: number) => m.i32.add(c(base), m.i32.mul(pf.get(u), c(per)));
        const call = (fn: string) =>
          m.call(
            fn,
            [
              at(wAddr, unitRB * wBytes),
              at(swAddr, unitRB * rBytes),
              at(swzAddr, unitRB * rBytes),
              at(bias, unitRB * rBytes),
              c(tabAddr),
              c(tsAddr),
              c(xsAddr),
              at(y, unitRB * rBytes),
              dimVal(ctx, pf, Md),
            ],
            binaryen.none,
          );
        const lbl = pf.label('U');
        const fullFn = unitFn(unitRB);
        const remFn = rem > 0 ? unitFn(rem) : '';
        return [
          pf.set(u, m.i32.div_u(m.i32.mul(pf.get(id), c(U)), pf.get(nt))),
          pf.set(end, m.i32.div_u(m.i32.mul(m.i32.add(pf.get(id), c(1)), c(U)), pf.get(nt))),
          m.block(`${lbl}x`, [
            m.loop(
              lbl,
              m.block(null, [
                m.br(`${lbl}x`, m.i32.ge_u(pf.get(u), pf.get(end))),
                rem > 0 ? m.if(m.i32.lt_u(pf.get(u), c(full)), call(fullFn), call(remFn)) : call(fullFn),
                pf.incr(u, 1),
                m.br(lbl),
              ]),
            ),
          ]),
        ];
      },
      undefined,
      // a runtime M: split only the calls with enough rows
      typeof Md === 'number' ? undefined : f.mod.i32.ge_s(dimVal(ctx, f, Md), f.mod.i32.const(Math.ceil(ctx.parMinWork / perRow))),
    );
}

/**
 * In-place fused epilogue on y: the graph-op stages of ir/lut/epilogue.ts ((y * channel_scale |>
 * activation) + residual), each the elementwise step's own builder (elementwise.ts f32OpFns), composed
 * into one pass over y (stage values in locals); SIMD when every stage has an f32x4 builder.
 */
function epilogue(ctx: Ctx, f: FnBuilder, step: PlanStep, out: Placement): Expr[] {
  const m = f.mod;
  const stages = epilogueStages(step.node.attrs, (i) => !!step.inputs[i]);
  if (!stages.length) return [];
  const shape = dimsOf(out);
  const ov = viewOfD(ctx, out);
  const used = [...new Set(stages.flatMap((s) => s.args.flatMap((r) => ('operand' in r ? [r.operand] : []))))];
  const views = [
    ov,
    ...used.map((i) => {
      const p = step.inputs[i]!;
      return { addr: ctx.addrOf(p), dtype: p.dtype, strides: broadcastStridesD(dimsOf(p), shape) };
    }),
  ];
  const fns = stages.map(
    (s) =>
      f32OpFns(ctx, s.op, s.attrs, s.args.length) ??
      unsupported(step.node, ctx.plan.graph.meta?.file, `lut.matmul epilogue stage '${s.op}' has no f32 rendering`, 'LUT5003'),
  );
  const compose =
    (pick: (x: { s: ScalarFn; v?: VectorFn }) => ScalarFn | VectorFn, type: number): ScalarFn =>
    (g, fb) => {
      const body: Expr[] = [];
      const fold = foldStages(
        stages,
        -1,
        (i) => -2 - used.indexOf(i),
        (_s, args, i) => {
          const t = fb.local(type);
          const get = (j: number) => (args[j]! === -1 ? g(0) : args[j]! <= -2 ? g(-1 - args[j]!) : fb.get(args[j]!));
          body.push(fb.set(t, pick(fns[i]!)(get, fb)));
          return t;
        },
      );
      return m.block(null, [...body, fb.get(fold)], type);
    };
  const vector = fns.every((x) => x.v) ? compose((x) => x.v!, binaryen.v128) : undefined;
  return [
    emitMap(
      ctx,
      f,
      shape,
      ov,
      views,
      compose((x) => x.s, binaryen.f32),
      vector,
    ),
  ];
}
