/**
 * WGSL renderer of the LUT-mpGEMM of ir/lut (geometry.ts layout, reference.ts semantics): two compute
 * shaders, `build` (tables per token and segment, int8 or f32, in reference.ts's float op order) and
 * `gemm` (a workgroup of 64 output rows per token; the tables of a K-tile are copied once per workgroup
 * into workgroup memory, each invocation reads its row's bit-planes as u32 words with extractBits and
 * looks the nibbles up). Int8 tables accumulate in i32 (exact), flushed to float at segment ends.
 * `raw` mode writes the integer accumulators A[m][n][s] instead of y: the bit-exact test hook.
 */
import type { LutGeometry } from '../../ir/lut/geometry.js';

export interface WgslGemmOptions {
  m: number;
  tables: 'i8' | 'f32';
  /** Write A[m][n][s] (i32, or f32 for float tables) instead of y. */
  raw?: boolean;
  hasBias?: boolean;
  /** Chunks whose tables one workgroup holds at a time (16 entries x 4 bytes each). */
  tileChunks?: number;
}

import type { BindingAccess } from './gpu-exec.js';

/** Bindings of the build shader: x, tables, seg. */
export const BUILD_BINDINGS: BindingAccess = ['read', 'rw', 'rw'];
/** Bindings of the gemm shader: packed, sw, swz, bias, tables, seg, out. */
export const GEMM_BINDINGS: BindingAccess = ['read', 'read', 'read', 'read', 'read', 'read', 'rw'];

/** Invocations per workgroup: one output row each. */
export const WG_ROWS = 64;

export interface WgslGemmShaders {
  build: string;
  gemm: string;
  /** Workgroups to dispatch for each shader. */
  buildDispatch: [number, number, number];
  gemmDispatch: [number, number, number];
  /** Byte sizes of the intermediate buffers the host allocates. */
  tableBytes: number;
  segBytes: number;
  outBytes: number;
}

const u = (v: number) => `${v >>> 0}u`;

/** Renders both shaders for geometry `g` (use kTileCP = whole K: the gemm shader tiles K itself). */
export function renderWgslGemm(g: LutGeometry, o: WgslGemmOptions): WgslGemmShaders {
  if (g.kTileCP !== g.nChunkPairs) throw new RangeError('WGSL kernels take the untiled packed layout (kTileCP = all)');
  const T = o.tables === 'i8' ? 'i32' : 'f32';
  const tile = Math.min(o.tileChunks ?? 128, g.nChunks);
  const cps = g.segment / 4;
  const segPerGroup = g.group / g.segment;
  const consts = `
const M = ${u(o.m)};
const K = ${u(g.k)};
const N = ${u(g.n)};
const NPAD = ${u(g.nPad)};
const NCHUNKS = ${u(g.nChunks)};
const NCP = ${u(g.nChunkPairs)};
const NSEG = ${u(g.nSegments)};
const CPS = ${u(cps)};
const SEGLEN = ${u(g.segment)};
const SPG = ${u(segPerGroup)};
const RPV = ${u(g.rowsPerVec)};
const PLANES = ${u(g.planes)};
const VB = ${u(g.vecBytes)};
const TILE = ${u(tile)};`;

  const quant =
    o.tables === 'i8'
      ? `
  let inv = select(0.0, 127.0 / amax, amax > 0.0);
  seg[2u * id] = (amax / 127.0) * 0.5;`
      : `
  seg[2u * id] = 0.5;`;
  const store = o.tables === 'i8' ? 'i32(clamp(round(v * inv), -127.0, 127.0))' : 'v';
  const build = `${consts}
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> tables: array<${T}>;
@group(0) @binding(2) var<storage, read_write> seg: array<f32>;

fn xat(m: u32, k: u32) -> f32 {
  if (k < K) { return x[m * K + k]; }
  return 0.0;
}

// One invocation per (token, segment): absmax, scale, sum and the segment's tables, in reference.ts's order.
@compute @workgroup_size(64)
fn build(@builtin(global_invocation_id) gid: vec3u) {
  let id = gid.x;
  if (id >= M * NSEG) { return; }
  let m = id / NSEG;
  let s = id % NSEG;
  var amax = 0.0;
  for (var c = s * CPS; c < (s + 1u) * CPS; c++) {
    let v = ((abs(xat(m, 4u * c)) + abs(xat(m, 4u * c + 1u))) + abs(xat(m, 4u * c + 2u))) + abs(xat(m, 4u * c + 3u));
    if (v > amax) { amax = v; }
  }${quant}
  var xs = 0.0;
  for (var k = s * SEGLEN; k < min((s + 1u) * SEGLEN, K); k++) { xs = xs + x[m * K + k]; }
  seg[2u * id + 1u] = xs;
  for (var c = s * CPS; c < (s + 1u) * CPS; c++) {
    let x0 = xat(m, 4u * c);
    let x1 = xat(m, 4u * c + 1u);
    let x2 = xat(m, 4u * c + 2u);
    let x3 = xat(m, 4u * c + 3u);
    for (var j = 0u; j < 16u; j++) {
      var v = select(-x0, x0, (j & 1u) != 0u);
      v = v + select(-x1, x1, (j & 2u) != 0u);
      v = v + select(-x2, x2, (j & 4u) != 0u);
      v = v + select(-x3, x3, (j & 8u) != 0u);
      tables[(m * NCHUNKS + c) * 16u + j] = ${store};
    }
  }
}
`;

  const accT = o.tables === 'i8' ? 'i32' : 'f32';
  const look =
    o.tables === 'i8'
      ? (i: number) => `acc += tl[cl * 16u + extractBits(w, sh + ${i * 8}u, 4u)] << ${u(i)};`
      : (i: number) => `acc += tl[cl * 16u + extractBits(w, sh + ${i * 8}u, 4u)] * ${(1 << i).toFixed(1)};`;
  const lookups = Array.from({ length: g.bits }, (_, i) => `        ${look(i)}`).join('\n');
  const flush = o.raw
    ? `if (row < N) { out[(m * N + row) * NSEG + s] = acc; }`
    : `let gi = s / SPG;
          y += (seg[2u * (m * NSEG + s)] * ${o.tables === 'i8' ? 'f32(acc)' : 'acc'}) * sw[gi * NPAD + row] + seg[2u * (m * NSEG + s) + 1u] * swz[gi * NPAD + row];`;
  const outT = o.raw ? accT : 'f32';
  const gemm = `${consts}
@group(0) @binding(0) var<storage, read> packed: array<u32>;
@group(0) @binding(1) var<storage, read> sw: array<f32>;
@group(0) @binding(2) var<storage, read> swz: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read> tables: array<${T}>;
@group(0) @binding(5) var<storage, read> seg: array<f32>;
@group(0) @binding(6) var<storage, read_write> out: array<${outT}>;

var<workgroup> tl: array<${T}, ${tile * 16}>;

@compute @workgroup_size(${WG_ROWS})
fn gemm(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) li: u32) {
  let m = wid.y;
  let row = wid.x * ${u(WG_ROWS)} + li;
  let live = row < NPAD;
  let rb = row / RPV;
  // This row's planes are adjacent bytes of one u32 word (planes is 1, 2 or 4 and rows are aligned).
  let byteInVec = (row % RPV) * PLANES;
  var y = 0.0;
  var acc: ${accT} = ${accT}(0);
  for (var t0 = 0u; t0 < NCHUNKS; t0 += TILE) {
    workgroupBarrier();
    for (var e = li; e < TILE * 16u; e += ${u(WG_ROWS)}) {
      if (t0 + e / 16u < NCHUNKS) { tl[e] = tables[(m * NCHUNKS + t0) * 16u + e]; }
    }
    workgroupBarrier();
    if (live) {
      for (var cl = 0u; cl < TILE && t0 + cl < NCHUNKS; cl++) {
        let c = t0 + cl;
        let off = (rb * NCP + c / 2u) * VB + byteInVec;
        let w = packed[off / 4u];
        let sh = (off % 4u) * 8u + (c % 2u) * 4u;
${lookups}
        if ((c + 1u) % CPS == 0u) {
          let s = c / CPS;
          ${flush}
          acc = ${accT}(0);
        }
      }
    }
  }
${o.raw ? '' : `  if (row < N) { out[m * N + row] = y${o.hasBias ? ' + bias[row]' : ''}; }`}
}
`;
  return {
    build,
    gemm,
    buildDispatch: [Math.ceil((o.m * g.nSegments) / 64), 1, 1],
    gemmDispatch: [Math.ceil(g.nPad / WG_ROWS), o.m, 1],
    tableBytes: o.m * g.nChunks * 16 * 4,
    segBytes: o.m * g.nSegments * 2 * 4,
    outBytes: (o.raw ? o.m * g.n * g.nSegments : o.m * g.n) * 4,
  };
}
