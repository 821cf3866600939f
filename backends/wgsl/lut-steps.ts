/**
 * The `lut.*` ops of a compiled model as WGSL steps, rendered by lut-gemm.ts (the one LUT-mpGEMM
 * renderer) with accessors that address the model's arena and weight blob through the shared two
 * bindings at the planned word offsets: lut.table (renderBuild writing tables, tscale and xsum into
 * their arena slots), lut.norm_table (the norm shader of ops-reduce.ts writing y, then renderBuild on
 * y) and lut.matmul (renderGemm with the IR's fused epilogue y = act((lut(x) + bias) * channel_scale)
 * + residual, either table layout and any packed K-tile). This file only maps operands and renders
 * the epilogue's graph-op stages (ir/lut/epilogue.ts) with ops-elementwise.ts's expressions for those
 * ops; int8 tables are one i32 word per entry (shader-common.ts's storage rule).
 */
import { geometryOf, type TableLayout, tableGeometry, tableLead } from '../../ir/lut/attrs.js';
import { EPILOGUE_OPERAND, epilogueStages, foldStages } from '../../ir/lut/epilogue.js';
import { numel } from '../../ir/tensor.js';
import { inputIndex, type Placement } from '../model-plan.js';
import { type BuildIO, type GemmIO, renderBuild, renderGemm } from './lut-gemm.js';
import { floatOpExpr, MATH_LIB } from './ops-elementwise.js';
import { renderReduceOps } from './ops-reduce.js';
import { HEADER, type Kernel, type StepCtx, u, wordOff } from './shader-common.js';

export const LUT_OPS = new Set(['lut.table', 'lut.norm_table', 'lut.matmul']);

/** Chunks of tables one gemm workgroup holds at a time (16 entries x 4 bytes each: 8 KiB). */
const TILE_CHUNKS = 128;

const buf = (p: Placement) => (p.region === 'weights' ? 'W' : 'A');
const ldF = (p: Placement, i: string) => `bitcast<f32>(${buf(p)}[${u(wordOff(p))} + ${i}])`;
const stA = (p: Placement, i: string, v: string) => `A[${u(wordOff(p))} + ${i}] = bitcast<u32>(${v});`;

/** The build shader: x at `x` ([M, K]) -> tables, tscale, xsum placements. */
function buildKernel(
  label: string,
  x: Placement,
  k: number,
  groupSize: number,
  tables: 'i8' | 'f32',
  layout: TableLayout,
  outs: Placement[],
): Kernel {
  const [tb, ts, xs] = outs as [Placement, Placement, Placement];
  const io: BuildIO = {
    decls: HEADER,
    x: (i) => ldF(x, i),
    storeTable: (i, v) => stA(tb, i, v),
    storeTscale: (i, v) => stA(ts, i, v),
    storeXsum: (i, v) => stA(xs, i, v),
  };
  const sh = renderBuild(tableGeometry(k, groupSize), { m: numel(x.shape) / k, tables, layout }, io);
  return { label, code: sh.code, groups: sh.groups };
}

function renderTable(c: StepCtx): Kernel[] {
  const a = c.attrs;
  return [
    buildKernel(c.node.name, c.ins[0]!, a.k as number, a.group_size as number, a.tables as 'i8' | 'f32', a.layout as TableLayout, c.outs),
  ];
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
  const sh = renderGemm(g, { m, tables: i8 ? 'i8' : 'f32', layout, tileChunks: TILE_CHUNKS, act }, io);
  return [{ label: c.node.name, code: sh.code, groups: sh.groups }];
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
