/**
 * Op definitions: the `lut.*` ops, the low level of lutc's IR that lower-linear produces and the
 * backends consume. Layouts and formulas: docs/lut-format.md; all numbers come from
 * ir/lut/geometry.ts and the semantics from ir/lut/reference.ts (kernels in ir/lut/interp.ts); the
 * fused epilogue of lut.matmul is the list of graph-op stages of ir/lut/epilogue.ts.
 *
 *   lut.pack        q u8 [N,K], scales f32 [N,G], zeros f32 [N,G] -> weights u8 [bytes], sw, swz f32 [G,Npad]
 *   lut.table       x f32 [...M, K] -> tables (i8|f32), tscale f32 [...M, S], xsum f32 [...M, S]
 *   lut.norm_table  x, scale, bias? -> y (normalized x), tables, tscale, xsum   (norm fused with the table build)
 *   lut.matmul      tables, tscale, xsum, weights, sw, swz, bias?, residual?, channel_scale? -> y f32 [...M, N]
 *   lut.gemm        x f32 [...M, K], q, scales, zeros, bias?, residual?, channel_scale? -> y f32 [...M, N]
 *                   (lut.table + lut.pack + lut.matmul in one op: the form of targets whose kernel
 *                   builds its own tables and packs its own weights, TargetInfo `lut.tables: 'kernel'`)
 */

import { geometryOf, type TableLayout, tableGeometry, tableLead, tableShape } from '../lut/attrs.js';
import { ACTIVATION_ATTRS, EPILOGUE_ACTIVATIONS, EPILOGUE_OPERAND, type EpilogueOperands, GEMM_EPILOGUE_OPERAND } from '../lut/epilogue.js';
import { buildTables, interpGemm, interpMatmul, interpNormTable, interpPack } from '../lut/interp.js';
import { type AttrSpec, defineOp, type InferCtx } from '../optable.js';
import type { Attrs, Dim, TensorType } from '../types.js';

const CODE = 'LUT4100';

const geometryAttrs: Record<string, AttrSpec> = {
  n: { type: 'int', required: true },
  k: { type: 'int', required: true },
  bits: { type: 'int', required: true },
  /** Weight group along K in activations; >= k means one group per row. */
  group_size: { type: 'int', required: true },
  /** Lookup width in bytes (16, 32, 64); set per target by bitplane-layout. */
  vec_bytes: { type: 'int', default: 16 },
  /** Chunk pairs per K-tile of the packed weights; 0 = whole K. Set by tile. */
  k_tile: { type: 'int', default: 0 },
};

const tableAttrs: Record<string, AttrSpec> = {
  k: { type: 'int', required: true },
  group_size: { type: 'int', required: true },
  tables: { type: 'string', default: 'i8', oneOf: ['i8', 'f32'] },
  layout: { type: 'string', default: 'token', oneOf: ['token', 'vec'] },
  /** Entries per chunk as stored; the build is symmetrized (T[15-j] = -T[j]), so 8 determine all 16. */
  entries: { type: 'int', default: 16 },
  build: { type: 'string', default: 'symmetrized', oneOf: ['symmetrized'] },
};

/** Checks the geometry attributes; a bad value is a diagnosed error, not a crash (lut.gemm has no packed layout: 16, whole K). */
function checkGeometry(ctx: InferCtx): ReturnType<typeof geometryOf> {
  const a: Attrs = { vec_bytes: 16, k_tile: 0, ...ctx.attrs };
  if (![1, 2, 3, 4].includes(a.bits as number)) ctx.error(CODE, `bits must be 1..4, got ${a.bits}`);
  if (![16, 32, 64].includes(a.vec_bytes as number)) ctx.error(CODE, `vec_bytes must be 16, 32 or 64, got ${a.vec_bytes}`);
  try {
    return geometryOf(a);
  } catch (e) {
    return ctx.error(CODE, (e as Error).message);
  }
}

function checkTableAttrs(ctx: InferCtx): ReturnType<typeof tableGeometry> {
  if (ctx.attrs.entries !== 16) ctx.error(CODE, `entries must be 16, got ${ctx.attrs.entries}`);
  try {
    return tableGeometry(ctx.attrs.k as number, ctx.attrs.group_size as number);
  } catch (e) {
    return ctx.error(CODE, (e as Error).message);
  }
}

function expectType(ctx: InferCtx, i: number, what: string, dtype: string, shape?: readonly Dim[]): TensorType {
  const t = ctx.inputs[i];
  if (!t) ctx.error(CODE, `${ctx.node.op}: operand '${what}' is missing`);
  if (t.dtype !== dtype) ctx.error(CODE, `${ctx.node.op}: operand '${what}' has dtype ${t.dtype}, expected ${dtype}`);
  if (
    shape &&
    (t.shape.length !== shape.length || t.shape.some((d, j) => typeof d === 'number' && typeof shape[j] === 'number' && d !== shape[j]))
  ) {
    ctx.error(CODE, `${ctx.node.op}: operand '${what}' has shape [${t.shape}], expected [${shape}]`);
  }
  return t;
}

/** Activations [..., K]: the last dim must be K (when known). */
function activationLead(ctx: InferCtx, i: number): Dim[] {
  const t = ctx.inputs[i];
  if (!t) ctx.error(CODE, `${ctx.node.op}: activation operand is missing`);
  if (t.dtype !== 'f32') ctx.error(CODE, `${ctx.node.op}: activations have dtype ${t.dtype}, expected f32`);
  const last = t.shape[t.shape.length - 1];
  if (t.shape.length < 1 || (typeof last === 'number' && last !== ctx.attrs.k)) {
    ctx.error(CODE, `${ctx.node.op}: activations have shape [${t.shape}], last dim must be k = ${ctx.attrs.k}`);
  }
  return t.shape.slice(0, -1);
}

function tableResults(ctx: InferCtx, lead: Dim[]): TensorType[] {
  const g = checkTableAttrs(ctx);
  const layout = ctx.attrs.layout as TableLayout;
  return [
    { dtype: ctx.attrs.tables === 'f32' ? 'f32' : 'i8', shape: tableShape(lead, g.nChunks, layout) },
    { dtype: 'f32', shape: [...lead, g.nSegments] },
    { dtype: 'f32', shape: [...lead, g.nSegments] },
  ];
}

/** Checks the epilogue operands (bias, channel_scale: N elements; residual: the result type) of a LUT layer. */
function checkEpilogue(ctx: InferCtx, out: Dim[], at: EpilogueOperands): Dim[] {
  const op = ctx.node.op;
  const n = ctx.attrs.n as number;
  for (const [i, what] of [
    [at.bias, 'bias'],
    [at.channel_scale, 'channel_scale'],
  ] as const) {
    const b = ctx.inputs[i];
    if (!b) continue;
    const nel = b.shape.reduce<number>((p, d) => p * (typeof d === 'number' ? d : NaN), 1);
    if (b.dtype !== 'f32' || nel !== n || b.shape.length > out.length)
      ctx.error(CODE, `${op}: ${what} must be f32 with ${n} elements along the last axis, got ${b.dtype} [${b.shape}]`);
  }
  const r = ctx.inputs[at.residual];
  if (
    r &&
    (r.dtype !== 'f32' ||
      r.shape.length !== out.length ||
      r.shape.some((d, j) => typeof d === 'number' && typeof out[j] === 'number' && d !== out[j]))
  ) {
    ctx.error(CODE, `${op}: residual must be f32 [${out}], got ${r.dtype} [${r.shape}]`);
  }
  return out;
}

defineOp({
  name: 'lut.pack',
  summary: 'packs quantized weights into the bit-plane layout and scales into sw/swz (folded by bitplane-layout)',
  inputs: [{ name: 'q' }, { name: 'scales' }, { name: 'zeros' }],
  outputs: [{ name: 'weights' }, { name: 'sw' }, { name: 'swz' }],
  attrs: geometryAttrs,
  infer(ctx) {
    const g = checkGeometry(ctx);
    expectType(ctx, 0, 'q', 'u8', [g.n, g.k]);
    expectType(ctx, 1, 'scales', 'f32', [g.n, g.nGroups]);
    expectType(ctx, 2, 'zeros', 'f32', [g.n, g.nGroups]);
    return [
      { dtype: 'u8', shape: [g.packedBytes] },
      { dtype: 'f32', shape: [g.nGroups, g.nPad] },
      { dtype: 'f32', shape: [g.nGroups, g.nPad] },
    ];
  },
  interp: (inputs, ctx) => interpPack(inputs, ctx.attrs),
});

defineOp({
  name: 'lut.table',
  summary: 'builds symmetrized lookup tables (int8 with per-segment scales, or f32) and segment sums of activations',
  inputs: [{ name: 'x' }],
  outputs: [{ name: 'tables' }, { name: 'tscale' }, { name: 'xsum' }],
  attrs: tableAttrs,
  infer: (ctx) => tableResults(ctx, activationLead(ctx, 0)),
  interp: (inputs, ctx) => buildTables(inputs[0]!, ctx.attrs),
});

defineOp({
  name: 'lut.norm_table',
  summary: 'RMSNorm/LayerNorm over the last axis fused with the table build of its result',
  inputs: [{ name: 'x' }, { name: 'scale' }, { name: 'bias', optional: true }],
  outputs: [{ name: 'y' }, { name: 'tables' }, { name: 'tscale' }, { name: 'xsum' }],
  attrs: {
    ...tableAttrs,
    norm: { type: 'string', required: true, oneOf: ['rms', 'layer'] },
    axis: { type: 'int', default: -1 },
    epsilon: { type: 'float', default: 1e-5 },
    stash_type: { type: 'int', default: 1 },
  },
  infer(ctx) {
    const lead = activationLead(ctx, 0);
    if (ctx.attrs.axis !== -1 && ctx.attrs.axis !== lead.length) ctx.error(CODE, 'lut.norm_table normalizes over the last axis only');
    return [ctx.inputs[0]!, ...tableResults(ctx, lead)];
  },
  interp: (inputs, ctx) => interpNormTable(inputs, ctx),
});

defineOp({
  name: 'lut.matmul',
  summary: 'LUT-mpGEMM: y = epilogue(sum over segments of table lookups of packed bit-plane weights, scaled)',
  inputs: [
    { name: 'tables' },
    { name: 'tscale' },
    { name: 'xsum' },
    { name: 'weights' },
    { name: 'sw' },
    { name: 'swz' },
    { name: 'bias', optional: true },
    { name: 'residual', optional: true },
    { name: 'channel_scale', optional: true },
  ],
  outputs: [{ name: 'y' }],
  attrs: {
    ...geometryAttrs,
    tables: { type: 'string', default: 'i8', oneOf: ['i8', 'f32'] },
    table_layout: { type: 'string', default: 'token', oneOf: ['token', 'vec'] },
    /**
     * Whether a kernel that can pick per call (wasm, runtime M) takes its vector-LUT gemm at M at or
     * above the target's threshold: 'auto' by the target's rule, 'on' / 'off' as a tuned plan measured
     * (set by tile from `lutc tune`'s cache). Numerics do not depend on it (both gemms are bit-identical).
     */
    vec_lut: { type: 'string', default: 'auto', oneOf: ['auto', 'on', 'off'] },
    /** The fused activation (ir/lut/epilogue.ts: a unary graph op or 'silu'), its attrs as `<op>_<attr>`. */
    activation: { type: 'string', default: 'none', oneOf: ['none', ...EPILOGUE_ACTIVATIONS] },
    ...ACTIVATION_ATTRS,
  },
  infer(ctx) {
    const g = checkGeometry(ctx);
    const layout = ctx.attrs.table_layout as TableLayout;
    const t = ctx.inputs[0];
    if (!t) return ctx.error(CODE, 'lut.matmul: tables are missing');
    const wantT = ctx.attrs.tables === 'f32' ? 'f32' : 'i8';
    if (t.dtype !== wantT) ctx.error(CODE, `lut.matmul: tables have dtype ${t.dtype}, attribute tables = ${ctx.attrs.tables}`);
    if (t.shape.length < 2) ctx.error(CODE, `lut.matmul: tables have rank ${t.shape.length}`);
    const lead = tableLead(t.shape, layout);
    const tdims = layout === 'vec' ? t.shape.slice(0, 2) : t.shape.slice(-2);
    if ((typeof tdims[0] === 'number' && tdims[0] !== g.nChunks) || tdims[1] !== 16) {
      ctx.error(CODE, `lut.matmul: tables have shape [${t.shape}], expected ${g.nChunks} chunks of 16 entries (${layout} layout)`);
    }
    expectType(ctx, 1, 'tscale', 'f32', [...lead, g.nSegments]);
    expectType(ctx, 2, 'xsum', 'f32', [...lead, g.nSegments]);
    expectType(ctx, 3, 'weights', 'u8', [g.packedBytes]);
    expectType(ctx, 4, 'sw', 'f32', [g.nGroups, g.nPad]);
    expectType(ctx, 5, 'swz', 'f32', [g.nGroups, g.nPad]);
    return [{ dtype: 'f32', shape: checkEpilogue(ctx, [...lead, g.n], EPILOGUE_OPERAND) }];
  },
  interp: (inputs, ctx) => interpMatmul(inputs, ctx),
});

defineOp({
  name: 'lut.gemm',
  summary:
    'LUT-mpGEMM from activations: y = epilogue(lut.matmul of the lut.table of x and the lut.pack of q/scales/zeros), tables and packing left to the kernel',
  inputs: [
    { name: 'x' },
    { name: 'q' },
    { name: 'scales' },
    { name: 'zeros' },
    { name: 'bias', optional: true },
    { name: 'residual', optional: true },
    { name: 'channel_scale', optional: true },
  ],
  outputs: [{ name: 'y' }],
  attrs: {
    n: geometryAttrs.n!,
    k: geometryAttrs.k!,
    bits: geometryAttrs.bits!,
    group_size: geometryAttrs.group_size!,
    tables: { type: 'string', default: 'i8', oneOf: ['i8', 'f32'] },
    activation: { type: 'string', default: 'none', oneOf: ['none', ...EPILOGUE_ACTIVATIONS] },
    ...ACTIVATION_ATTRS,
    // lutc tune's thread choice per layer (the tile pass sets them from the tune cache): 'one' runs
    // this layer on one thread for calls of M = 1 (threads_m1) or M > 1 (threads_mn) however many the
    // model runs on; 'all' (default) on the model's threads. No effect on the result's bits.
    threads_m1: { type: 'string', default: 'all', oneOf: ['all', 'one'] },
    threads_mn: { type: 'string', default: 'all', oneOf: ['all', 'one'] },
  },
  infer(ctx) {
    const g = checkGeometry(ctx);
    const lead = activationLead(ctx, 0);
    expectType(ctx, 1, 'q', 'u8', [g.n, g.k]);
    expectType(ctx, 2, 'scales', 'f32', [g.n, g.nGroups]);
    expectType(ctx, 3, 'zeros', 'f32', [g.n, g.nGroups]);
    return [{ dtype: 'f32', shape: checkEpilogue(ctx, [...lead, g.n], GEMM_EPILOGUE_OPERAND) }];
  },
  interp: (inputs, ctx) => interpGemm(inputs, ctx),
});
