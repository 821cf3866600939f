/**
 * The `lut.*` ops of a compiled model as WGSL steps: lut.table (the `build` shader of lut-gemm.ts, in
 * reference.ts's float op order, writing tables, tscale and xsum into their planned arena slots),
 * lut.norm_table (the norm shader of ops-reduce.ts writing y, then the build shader on y) and
 * lut.matmul (lut-gemm.ts's `gemm`: 64 rows per workgroup, a K-tile of tables in workgroup memory,
 * u32-word bit-plane reads) with the IR's fused epilogue in the interpreter's order:
 * y = act((lut(x) + bias) * channel_scale) + residual. Unlike lut-gemm.ts (one kernel on its own
 * buffers, the bit-exact test bench) these address the model's arena and weight blob through the
 * shared two bindings, read either table layout (token or vec) and any packed K-tile (k_tile).
 * Int8 tables are stored one i32 word per entry (shader-common.ts's storage rule).
 */
import { geometryOf, tableGeometry, tableLead, type TableLayout } from '../../ir/lut/attrs.js';
import { numel } from '../../ir/tensor.js';
import type { Placement } from '../model-plan.js';
import { WG_ROWS } from './lut-gemm.js';
import { renderReduceOps } from './ops-reduce.js';
import { MATH_LIB } from './ops-elementwise.js';
import { f, grid1, HEADER, u, wordOff, type Kernel, type StepCtx } from './shader-common.js';

export const LUT_OPS = new Set(['lut.table', 'lut.norm_table', 'lut.matmul']);

/** Chunks of tables one gemm workgroup holds at a time (16 entries x 4 bytes each: 8 KiB). */
const TILE_CHUNKS = 128;

const buf = (p: Placement) => (p.region === 'weights' ? 'W' : 'A');
const ldF = (p: Placement, i: string) => `bitcast<f32>(${buf(p)}[${u(wordOff(p))} + ${i}])`;

/** The build shader: x at `x` ([M, K]) -> tables, tscale, xsum placements. */
function buildKernel(label: string, x: Placement, k: number, groupSize: number, tables: 'i8' | 'f32', layout: TableLayout, outs: Placement[]): Kernel {
  const g = tableGeometry(k, groupSize);
  const m = numel(x.shape) / k;
  const [tb, ts, xs] = outs as [Placement, Placement, Placement];
  const cps = g.segment / 4;
  const tIdx = layout === 'vec' ? `(c * 16u + j) * ${u(m)} + mm` : `(mm * ${u(g.nChunks)} + c) * 16u + j`;
  const store = tables === 'i8' ? 'bitcast<u32>(i32(clamp(round(v * inv), -127.0, 127.0)))' : 'bitcast<u32>(v)';
  const code = `${HEADER}
fn xat(mm: u32, kk: u32) -> f32 {
  if (kk < ${u(k)}) { return ${ldF(x, `mm * ${u(k)} + kk`)}; }
  return 0.0;
}

// One invocation per (token, segment): absmax, scale, sum and the segment's tables (lut-gemm.ts's build).
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let id = gid.x + gid.y * nwg.x * 64u;
  if (id >= ${u(m * g.nSegments)}) { return; }
  let mm = id / ${u(g.nSegments)};
  let s = id % ${u(g.nSegments)};
  var amax = 0.0;
  for (var c = s * ${u(cps)}; c < (s + 1u) * ${u(cps)}; c++) {
    let v = ((abs(xat(mm, 4u * c)) + abs(xat(mm, 4u * c + 1u))) + abs(xat(mm, 4u * c + 2u))) + abs(xat(mm, 4u * c + 3u));
    if (v > amax) { amax = v; }
  }
  ${tables === 'i8' ? `let inv = select(0.0, 127.0 / amax, amax > 0.0);
  A[${u(wordOff(ts))} + id] = bitcast<u32>((amax / 127.0) * 0.5);` : `A[${u(wordOff(ts))} + id] = bitcast<u32>(0.5);`}
  var xsum = 0.0;
  for (var kk = s * ${u(g.segment)}; kk < min((s + 1u) * ${u(g.segment)}, ${u(k)}); kk++) { xsum = xsum + xat(mm, kk); }
  A[${u(wordOff(xs))} + id] = bitcast<u32>(xsum);
  for (var c = s * ${u(cps)}; c < (s + 1u) * ${u(cps)}; c++) {
    let x0 = xat(mm, 4u * c);
    let x1 = xat(mm, 4u * c + 1u);
    let x2 = xat(mm, 4u * c + 2u);
    let x3 = xat(mm, 4u * c + 3u);
    for (var j = 0u; j < 16u; j++) {
      var v = select(-x0, x0, (j & 1u) != 0u);
      v = v + select(-x1, x1, (j & 2u) != 0u);
      v = v + select(-x2, x2, (j & 4u) != 0u);
      v = v + select(-x3, x3, (j & 8u) != 0u);
      A[${u(wordOff(tb))} + ${tIdx}] = ${store};
    }
  }
}
`;
  return { label, code, groups: grid1(m * g.nSegments) };
}

function renderTable(c: StepCtx): Kernel[] {
  const a = c.attrs;
  return [buildKernel(c.node.name, c.ins[0]!, a.k as number, a.group_size as number, a.tables as 'i8' | 'f32', a.layout as TableLayout, c.outs)];
}

function renderNormTable(c: StepCtx): Kernel[] {
  const a = c.attrs;
  const normOp = a.norm === 'rms' ? 'simplified_layer_norm' : 'layer_norm';
  // The graph norm's own shader, on a view of this node that only has y as output.
  const node = { ...c.node, op: normOp, outputs: c.node.outputs.slice(0, 1) };
  const ins = normOp === 'simplified_layer_norm' ? c.ins.slice(0, 2) : c.ins;
  const norm = renderReduceOps({ ...c, node, ins, outs: c.outs.slice(0, 1), attrs: { axis: a.axis!, epsilon: a.epsilon!, stash_type: a.stash_type! } })!;
  return [...norm, buildKernel(`${c.node.name}/build`, c.outs[0]!, a.k as number, a.group_size as number, a.tables as 'i8' | 'f32', a.layout as TableLayout, c.outs.slice(1))];
}

const ACTIVATION: Record<string, (y: string, c: StepCtx) => string> = {
  none: (y) => y,
  relu: (y) => `select(${y}, 0.0, ${y} < 0.0)`,
  sigmoid: (y) => `sigm(${y})`,
  silu: (y) => `(${y} * sigm(${y}))`,
  gelu: (y, c) =>
    c.attrs.gelu_approximate === 'tanh'
      ? `(0.5 * ${y} * (1.0 + tanhf(${f(Math.sqrt(2 / Math.PI))} * (${y} + 0.044715 * ${y} * ${y} * ${y}))))`
      : `(0.5 * ${y} * (1.0 + erff(${y} * ${f(Math.SQRT1_2)})))`,
};

function renderMatmul(c: StepCtx): Kernel[] {
  const a = c.attrs;
  const g = geometryOf(a);
  const layout = a.table_layout as TableLayout;
  const [tb, ts, xs, wt, sw, swz, bias, residual, chs] = c.ins;
  const m = numel(tableLead(tb!.shape, layout) as number[]);
  const i8 = a.tables !== 'f32';
  const T = i8 ? 'i32' : 'f32';
  const tile = Math.min(TILE_CHUNKS, g.nChunks);
  const cps = g.segment / 4;
  const spg = g.group / g.segment;
  const tIdx = layout === 'vec' ? `((t0 * 16u + e) * ${u(m)} + mm)` : `((mm * ${u(g.nChunks)} + t0) * 16u + e)`;
  const tload = i8 ? `bitcast<i32>(A[${u(wordOff(tb!))} + ${tIdx}])` : `bitcast<f32>(A[${u(wordOff(tb!))} + ${tIdx}])`;
  const look = (i: number) => (i8
    ? `acc += tl[cl * 16u + extractBits(w, sh + ${u(i * 8)}, 4u)] << ${u(i)};`
    : `acc += tl[cl * 16u + extractBits(w, sh + ${u(i * 8)}, 4u)] * ${(1 << i).toFixed(1)};`);
  const lookups = Array.from({ length: g.bits }, (_, i) => `        ${look(i)}`).join('\n');
  let y = 'y';
  if (bias) y = `(${y} + ${ldF(bias, 'row')})`;
  if (chs) y = `(${y} * ${ldF(chs, 'row')})`;
  y = ACTIVATION[a.activation as string]!(y, c);
  if (residual) y = `${y} + ${ldF(residual, `mm * ${u(g.n)} + row`)}`;
  const out = c.outs[0]!;
  const code = `${HEADER}${MATH_LIB}
var<workgroup> tl: array<${T}, ${tile * 16}>;

// Byte offset of row block rb, chunk pair cp in the packed weights (geometry.ts vectorOffset, K-tiled).
fn vecOff(rb: u32, cp: u32) -> u32 {
  let t0 = (cp / ${u(g.kTileCP)}) * ${u(g.kTileCP)};
  let inTile = min(${u(g.kTileCP)}, ${u(g.nChunkPairs)} - t0);
  return (t0 * ${u(g.nRowBlocks)} + rb * inTile + (cp - t0)) * ${u(g.vecBytes)};
}

@compute @workgroup_size(${WG_ROWS})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) li: u32) {
  let mm = wid.y;
  let row = wid.x * ${u(WG_ROWS)} + li;
  let live = row < ${u(g.nPad)};
  let rb = row / ${u(g.rowsPerVec)};
  // This row's planes are adjacent bytes of one u32 word (planes is 1, 2 or 4 and rows are aligned).
  let byteInVec = (row % ${u(g.rowsPerVec)}) * ${u(g.planes)};
  var y = 0.0;
  var acc: ${T} = ${T}(0);
  for (var t0 = 0u; t0 < ${u(g.nChunks)}; t0 += ${u(tile)}) {
    workgroupBarrier();
    for (var e = li; e < ${u(tile * 16)}; e += ${u(WG_ROWS)}) {
      if (t0 + e / 16u < ${u(g.nChunks)}) { tl[e] = ${tload}; }
    }
    workgroupBarrier();
    if (live) {
      for (var cl = 0u; cl < ${u(tile)} && t0 + cl < ${u(g.nChunks)}; cl++) {
        let c = t0 + cl;
        let off = vecOff(rb, c / 2u) + byteInVec;
        let w = ${buf(wt!)}[${u(wordOff(wt!))} + off / 4u];
        let sh = (off % 4u) * 8u + (c % 2u) * 4u;
${lookups}
        if ((c + 1u) % ${u(cps)} == 0u) {
          let s = c / ${u(cps)};
          let gi = s / ${u(spg)};
          let seg = mm * ${u(g.nSegments)} + s;
          y += (${ldF(ts!, 'seg')} * ${i8 ? 'f32(acc)' : 'acc'}) * ${ldF(sw!, `gi * ${u(g.nPad)} + row`)} + ${ldF(xs!, 'seg')} * ${ldF(swz!, `gi * ${u(g.nPad)} + row`)};
          acc = ${T}(0);
        }
      }
    }
  }
  if (row < ${u(g.n)}) { A[${u(wordOff(out))} + mm * ${u(g.n)} + row] = bitcast<u32>(${y}); }
}
`;
  return [{ label: c.node.name, code, groups: [Math.ceil(g.nPad / WG_ROWS), m, 1] }];
}

/** Renders a lut op, or undefined when `op` is not one. */
export function renderLut(c: StepCtx): Kernel[] | undefined {
  switch (c.node.op) {
    case 'lut.table': return renderTable(c);
    case 'lut.norm_table': return renderNormTable(c);
    case 'lut.matmul': return renderMatmul(c);
  }
  return undefined;
}
