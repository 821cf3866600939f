/**
 * The `lut.*` ops of a compiled model as WGSL steps, rendered by lut-gemm.ts (the one LUT-mpGEMM
 * renderer) with accessors that address the model's arena and weight blob through the shared two
 * bindings at the planned word offsets: lut.table (renderBuild writing tables, tscale and xsum into
 * their arena slots), lut.norm_table (the norm shader of ops-reduce.ts writing y, then renderBuild on
 * y) and lut.matmul (renderGemm with the IR's fused epilogue y = act((lut(x) + bias) * channel_scale)
 * + residual, either table layout and any packed K-tile). This file only maps operands and renders
 * the epilogue's graph-op stages (ir/lut/epilogue.ts) with ops-elementwise.ts's expressions for those
 * ops; int8 tables are one i32 word per entry (shader-common.ts's storage rule). Runtime dims:
 * lut.table, lut.norm_table (its norm over runtime rows, then the build) and lut.matmul take a
 * runtime token count M (from the DIMS uniform; the host sizes the build grid and the gemm's M
 * workgroups).
 */

import { dimExactDiv, dimMul, jsDim } from '../../ir/dim-expr.js';
import { geometryOf, type TableLayout, tableGeometry, tableLead } from '../../ir/lut/attrs.js';
import { EPILOGUE_OPERAND, epilogueStages, foldStages } from '../../ir/lut/epilogue.js';
import { numel } from '../../ir/tensor.js';
import type { Dim } from '../../ir/types.js';
import { inputIndex, type Placement } from '../model-plan.js';
import { type BuildIO, type GemmIO, renderBuild, renderGemm } from './lut-gemm.js';
import { floatOpExpr, MATH_LIB } from './ops-elementwise.js';
import { renderReduceOps } from './ops-reduce.js';
import { dimsOf, grid1Js, HEADER, type Kernel, numelD, type StepCtx, u, wordOff } from './shader-common.js';

export const LUT_OPS = new Set(['lut.table', 'lut.norm_table', 'lut.matmul']);

/** Chunks of tables one gemm workgroup holds at a time (16 entries x 4 bytes each: 8 KiB). */
const TILE_CHUNKS = 128;

const buf = (p: Placement) => (p.region === 'weights' ? 'W' : 'A');
const ldF = (p: Placement, i: string) => `bitcast<f32>(${buf(p)}[${u(wordOff(p))} + ${i}])`;
const stA = (p: Placement, i: string, v: string) => `A[${u(wordOff(p))} + ${i}] = bitcast<u32>(${v});`;

/** The token count M = numel(x) / k of a runtime-dim step (LUT5004 when that is not a dim expression). */
function runtimeTokens(c: StepCtx, x: Placement, k: number): Dim {
  const m = dimExactDiv(numelD(dimsOf(x)), k);
  if (m === undefined)
    c.fail('LUT5004', `${c.node.op}: x (${dimsOf(x).join(', ')}) is not rows of ${k} for the runtime dim '${c.runtime}'`);
  return m;
}

/** The build shader: x at `x` ([M, K]) -> tables, tscale, xsum placements; `rt`: M as a runtime dim. */
function buildKernel(
  label: string,
  x: Placement,
  k: number,
  groupSize: number,
  tables: 'i8' | 'f32',
  layout: TableLayout,
  outs: Placement[],
  rt?: { c: StepCtx; m: Dim },
): Kernel {
  const [tb, ts, xs] = outs as [Placement, Placement, Placement];
  const io: BuildIO = {
    decls: HEADER,
    x: (i) => ldF(x, i),
    storeTable: (i, v) => stA(tb, i, v),
    storeTscale: (i, v) => stA(ts, i, v),
    storeXsum: (i, v) => stA(xs, i, v),
  };
  const g = tableGeometry(k, groupSize);
  const m = numel(x.shape) / k;
  if (!rt || typeof rt.m === 'number') {
    const sh = renderBuild(g, { m: typeof rt?.m === 'number' ? rt.m : m, tables, layout }, io);
    return { label, code: sh.code, groups: sh.groups };
  }
  const sh = renderBuild(g, { m, mExpr: rt.c.dim(rt.m), tables, layout }, io);
  return { label, code: sh.code, groups: sh.groups, groupsJs: grid1Js(dimMul(rt.m, g.nSegments)) };
}

function renderTable(c: StepCtx): Kernel[] {
  const a = c.attrs;
  const k = a.k as number;
  const rt = c.runtime ? { c, m: runtimeTokens(c, c.ins[0]!, k) } : undefined;
  return [buildKernel(c.node.name, c.ins[0]!, k, a.group_size as number, a.tables as 'i8' | 'f32', a.layout as TableLayout, c.outs, rt)];
}

function renderNormTable(c: StepCtx): Kernel[] {
  const a = c.attrs;
  const normOp = a.norm === 'rms' ? 'simplified_layer_norm' : 'layer_norm';
  // The graph norm's own shader, on a view of this node that only has y as output.
  const node = { ...c.node, op: normOp, outputs: c.node.outputs.slice(0, 1) };
  // lut.norm_table's (x, scale, bias?) are layer_norm's (X, Scale, B?) in order; simplified_layer_norm has no bias
  const ins = normOp === 'simplified_layer_norm' ? c.ins.slice(0, inputIndex(c, 'bias')) : c.ins;
  const norm = renderReduceOps({
    ...c,
    node,
    ins,
    outs: c.outs.slice(0, 1),
    attrs: { axis: a.axis!, epsilon: a.epsilon!, stash_type: a.stash_type! },
  })!;
  return [
    ...norm,
    buildKernel(
      `${c.node.name}/build`,
      c.outs[0]!,
      a.k as number,
      a.group_size as number,
      a.tables as 'i8' | 'f32',
      a.layout as TableLayout,
      c.outs.slice(1),
      c.runtime ? { c, m: runtimeTokens(c, c.outs[0]!, a.k as number) } : undefined,
    ),
  ];
}

function renderMatmul(c: StepCtx): Kernel[] {
  const a = c.attrs;
  const g = geometryOf(a);
  const layout = a.table_layout as TableLayout;
  const [tb, ts, xs, wt, sw, swz, bias] = (['tables', 'tscale', 'xsum', 'weights', 'sw', 'swz', 'bias'] as const).map(
    (name) => c.ins[inputIndex(c, name)],
  );
  const i8 = a.tables !== 'f32';
  const out = c.outs[0]!;
  const io: GemmIO = {
    decls: HEADER + MATH_LIB,
    table: (i) => `bitcast<${i8 ? 'i32' : 'f32'}>(A[${u(wordOff(tb!))} + ${i}])`,
    tscale: (i) => ldF(ts!, i),
    xsum: (i) => ldF(xs!, i),
    packed: (i) => `${buf(wt!)}[${u(wordOff(wt!))} + ${i}]`,
    sw: (i) => ldF(sw!, i),
    swz: (i) => ldF(swz!, i),
    ...(bias ? { bias: (row: string) => ldF(bias, row) } : {}),
    out: (i, v) => stA(out, i, v),
  };
  const m = numel(tableLead(tb!.shape, layout) as number[]);
  // The fused epilogue after the bias (ir/lut/epilogue.ts), each stage ops-elementwise.ts's expression.
  const stages = epilogueStages(a, (i) => !!c.ins[i]);
  const act = (y: string, row: string, index: string) =>
    foldStages(
      stages,
      y,
      (i) => ldF(c.ins[i]!, i === EPILOGUE_OPERAND.channel_scale ? row : index),
      (s, args) => {
        const e = floatOpExpr(s.op, s.attrs, args);
        if (e === undefined) c.fail('LUT5204', `lut.matmul epilogue stage '${s.op}' has no WGSL rendering`);
        return `(${e})`;
      },
    );
  const mRt = c.runtime ? numelD(tableLead(dimsOf(tb!), layout)) : m;
  if (typeof mRt === 'number') {
    const sh = renderGemm(g, { m: mRt, tables: i8 ? 'i8' : 'f32', layout, tileChunks: TILE_CHUNKS, act }, io);
    return [{ label: c.node.name, code: sh.code, groups: sh.groups }];
  }
  // Runtime M: one workgroup row per token, sized by the host (none for an empty M).
  if (m > 65535) c.fail('LUT5004', `lut.matmul: ${m} tokens at the runtime dims' bounds exceed one dispatch (65535)`);
  const sh = renderGemm(g, { m, mExpr: c.dim(mRt), tables: i8 ? 'i8' : 'f32', layout, tileChunks: TILE_CHUNKS, act }, io);
  return [{ label: c.node.name, code: sh.code, groups: sh.groups, groupsJs: `[${sh.groups[0]}, ${jsDim(mRt)}, 1]` }];
}

/** Renders a lut op, or undefined when `op` is not one. */
export function renderLut(c: StepCtx): Kernel[] | undefined {
  switch (c.node.op) {
    case 'lut.table':
      return renderTable(c);
    case 'lut.norm_table':
      return renderNormTable(c);
    case 'lut.matmul':
      return renderMatmul(c);
  }
  return undefined;
}
