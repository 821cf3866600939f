/**
 * Interpreter kernels of the `lut.*` ops. They execute exactly ir/lut/reference.ts (packWeights,
 * packScales, buildTablesI8/F32, accumulateI8/F32, combine), so the integer accumulators they produce
 * are the bit-exact oracle of every backend. Fused epilogue stages (per-channel scale, activation,
 * residual: the stages of epilogue.ts) and fused norms run the graph ops' own interpreters from the op table, so fusing an op
 * into a LUT op never changes a single bit of the interpreter's output. lut.gemm runs lut.table +
 * lut.pack + lut.matmul's kernels in sequence (the same bits as that graph form).
 */
import { findOp, type InterpCtx } from '../optable.js';
import { makeTensor, numel } from '../tensor.js';
import type { Attrs, Node, Tensor } from '../types.js';
import { geometryOf, type TableLayout, tableGeometry, tableLead, tableShape } from './attrs.js';
import { epilogueStages, foldStages } from './epilogue.js';
import { type LutGeometry, packWeights } from './geometry.js';
import { accumulateF32, accumulateI8, buildTablesF32, buildTablesI8, combine, packScales } from './reference.js';

const f32 = (t: Tensor): Float32Array => (t.data instanceof Float32Array ? t.data : Float32Array.from(t.data as ArrayLike<number>));

/** Runs graph op `op` through its op-table interpreter (used for fused stages). */
export function runGraphOp(op: string, inputs: (Tensor | null)[], attrs: Attrs, ctx: InterpCtx): Tensor[] {
  const def = findOp(op);
  if (!def) throw new Error(`lut op needs graph op '${op}', which is not in the op table`);
  const full: Attrs = {};
  for (const [k, spec] of Object.entries(def.attrs)) {
    const v = attrs[k] ?? spec.default;
    if (v !== undefined) full[k] = v;
  }
  const node: Node = { op, name: `${ctx.node.name}/${op}`, inputs: [], outputs: [], attrs: full };
  return def.interp(inputs, { ...ctx, node, attrs: full });
}

/** lut.pack: q [N, K] u8, scales/zeros [N, nGroups] f32 -> packed bit-plane weights, sw, swz. */
export function interpPack(inputs: (Tensor | null)[], attrs: Attrs): Tensor[] {
  const g = geometryOf(attrs);
  const [q, scales, zeros] = inputs as Tensor[];
  const packed = packWeights(g, q!.data instanceof Uint8Array ? q!.data : Uint8Array.from(q!.data as ArrayLike<number>));
  const ps = packScales(g, f32(scales!), f32(zeros!));
  return [
    makeTensor('u8', [g.packedBytes], packed),
    { dtype: 'f32', shape: [g.nGroups, g.nPad], data: ps.sw },
    { dtype: 'f32', shape: [g.nGroups, g.nPad], data: ps.swz },
  ];
}

/** Reorders token-major tables [M, C, 16] into the Vec-LUT layout [C, 16, M], or back. */
export function transposeTables<T extends Int8Array | Float32Array>(src: T, m: number, nChunks: number, toVec: boolean): T {
  const out = new (src.constructor as new (n: number) => T)(src.length);
  const cj = nChunks * 16;
  for (let mi = 0; mi < m; mi++)
    for (let e = 0; e < cj; e++) {
      if (toVec) out[e * m + mi] = src[mi * cj + e]!;
      else out[mi * cj + e] = src[e * m + mi]!;
    }
  return out;
}

/** Builds tables for activations `x` ([..., K]); returns [tables, tscale, xsum]. */
export function buildTables(x: Tensor, attrs: Attrs): Tensor[] {
  const k = attrs.k as number;
  const g = tableGeometry(k, attrs.group_size as number);
  const layout = attrs.layout as TableLayout;
  const lead = x.shape.slice(0, -1);
  const m = numel(lead);
  const xs = f32(x);
  const segShape = [...lead, g.nSegments];
  const tshape = tableShape(lead, g.nChunks, layout) as number[];
  if (attrs.tables === 'f32') {
    const { tf, xsum } = buildTablesF32(g, xs, m);
    const tscale = new Float32Array(m * g.nSegments).fill(0.5);
    return [
      { dtype: 'f32', shape: tshape, data: layout === 'vec' ? transposeTables(tf, m, g.nChunks, true) : tf },
      { dtype: 'f32', shape: segShape, data: tscale },
      { dtype: 'f32', shape: segShape, data: xsum },
    ];
  }
  const { tq, tsHalf, xsum } = buildTablesI8(g, xs, m);
  return [
    { dtype: 'i8', shape: tshape, data: layout === 'vec' ? transposeTables(tq, m, g.nChunks, true) : tq },
    { dtype: 'f32', shape: segShape, data: tsHalf },
    { dtype: 'f32', shape: segShape, data: xsum },
  ];
}

/** lut.norm_table: the graph norm op's own interpreter, then tables of its result. */
export function interpNormTable(inputs: (Tensor | null)[], ctx: InterpCtx): Tensor[] {
  const a = ctx.attrs;
  const op = a.norm === 'rms' ? 'simplified_layer_norm' : 'layer_norm';
  const [y] = runGraphOp(op, inputs, { axis: a.axis!, epsilon: a.epsilon!, stash_type: a.stash_type! }, ctx);
  return [y!, ...buildTables(y!, a)];
}

/** Integer-or-float accumulators A[m, n, s] of a lut.matmul (the backends' oracle), plus its geometry. */
export function lutAccumulators(inputs: (Tensor | null)[], attrs: Attrs): { g: LutGeometry; m: number; acc: Int32Array | Float32Array } {
  const g = geometryOf(attrs);
  const [tables, , , weights] = inputs as Tensor[];
  const layout = attrs.table_layout as TableLayout;
  const m = numel(tableLead(tables!.shape, layout) as number[]);
  const packed = weights!.data as Uint8Array;
  if (attrs.tables === 'f32') {
    let tf = f32(tables!);
    if (layout === 'vec') tf = transposeTables(tf, m, g.nChunks, false);
    return { g, m, acc: accumulateF32(g, packed, tf, m) };
  }
  let tq = tables!.data as Int8Array;
  if (layout === 'vec') tq = transposeTables(tq, m, g.nChunks, false);
  return { g, m, acc: accumulateI8(g, packed, tq, m) };
}

/**
 * lut.matmul: accumulate, combine with scales and bias (reference.ts), then the fused epilogue's
 * graph-op stages (epilogue.ts): y = ((lut(x) + bias) * channel_scale |> activation) + residual.
 */
export function interpMatmul(inputs: (Tensor | null)[], ctx: InterpCtx): Tensor[] {
  const a = ctx.attrs;
  const [tables, tscale, xsum, , sw, swz, bias] = inputs;
  const { g, m, acc } = lutAccumulators(inputs, a);
  const lead = tableLead(tables!.shape, a.table_layout as TableLayout) as number[];
  const yv = combine(g, acc, f32(tscale!), f32(xsum!), { sw: f32(sw!), swz: f32(swz!) }, m, bias ? f32(bias) : undefined);
  const y: Tensor = { dtype: 'f32', shape: [...lead, g.n], data: yv };
  const stages = epilogueStages(a, (i) => !!inputs[i]);
  return [
    foldStages(
      stages,
      y,
      (i) => inputs[i]!,
      (s, args) => runGraphOp(s.op, args, s.attrs, ctx)[0]!,
    ),
  ];
}

/**
 * lut.gemm: exactly lut.table of x (token layout) + lut.pack of q/scales/zeros + lut.matmul, through
 * the same kernels, so its result is bit-identical to that graph form.
 */
export function interpGemm(inputs: (Tensor | null)[], ctx: InterpCtx): Tensor[] {
  const a = ctx.attrs;
  const [x, q, scales, zeros, bias, residual, channelScale] = inputs;
  const tables = buildTables(x!, { k: a.k!, group_size: a.group_size!, tables: a.tables!, layout: 'token' });
  const geo: Attrs = { n: a.n!, k: a.k!, bits: a.bits!, group_size: a.group_size!, vec_bytes: 16, k_tile: 0 };
  const packed = interpPack([q!, scales!, zeros!], geo);
  const mmAttrs: Attrs = { ...a, ...geo, table_layout: 'token' };
  return interpMatmul([...tables, ...packed, bias ?? null, residual ?? null, channelScale ?? null], { ...ctx, attrs: mmAttrs });
}
