/**
 * The one WGSL renderer of the LUT-mpGEMM of ir/lut (geometry.ts layout, reference.ts semantics):
 * `renderBuild` (tables per token and segment, int8 or f32, in reference.ts's float op order) and
 * `renderGemm` (a workgroup of 64 output rows per token; the tables of a K-tile are copied once per
 * workgroup into workgroup memory, each invocation reads its row's bit-planes as u32 words with
 * extractBits and looks the nibbles up). Int8 tables accumulate in i32 (exact), flushed to float at
 * segment ends; the fused epilogue is act((y + bias) * channel_scale) + residual, the interpreter's
 * order. `raw` mode writes the integer accumulators A[m][n][s] instead of y: the bit-exact test hook.
 *
 * Where operands live is not this file's business: callers pass accessors (`BuildIO`, `GemmIO`) that
 * turn an element index into a WGSL expression. `bufferIO` below addresses one storage buffer per
 * operand (the kernel runner, kernel-only mode, the benchmark); lut-steps.ts addresses the model's
 * arena and weight blob with baked offsets. lut-gemm-subgroup.ts renders the subgroup variant of the
 * gemm from the same pieces (`gemmParts`). A runtime token count (`LutOptions.mExpr`, a u32 WGSL
 * expression; `m` is then its bound) bounds the build shader's invocations and addresses 'vec' tables;
 * the gemm's tokens are its workgroups' y, which the caller sizes.
 */
import type { TableLayout } from '../../ir/lut/attrs.js';
import type { LutGeometry } from '../../ir/lut/geometry.js';
import type { BindingAccess } from './gpu-exec.js';
import { grid1, u } from './shader-common.js';

/** Accessors of the build shader. Index arguments are u32 WGSL expressions, values typed as noted. */
export interface BuildIO {
  /** Module-scope declarations the accessors need (bindings, helpers). */
  decls: string;
  /** Activation i of x [M, K] (row-major), as f32. */
  x(i: string): string;
  /** Statement storing table entry i (layout per `LutOptions.layout`), `v` i32 (int8 tables) or f32. */
  storeTable(i: string, v: string): string;
  /** Statements storing the half table scale / activation sum of (token, segment) i = m * nSegments + s. */
  storeTscale(i: string, v: string): string;
  storeXsum(i: string, v: string): string;
}

/** Accessors of the gemm shader. Absent optional accessors drop their epilogue term. */
export interface GemmIO {
  decls: string;
  /** Table entry i (i32 or f32), as storeTable wrote it. */
  table(i: string): string;
  tscale(i: string): string;
  xsum(i: string): string;
  /** u32 word i of the packed weights (geometry.ts byte layout, little-endian words). */
  packed(word: string): string;
  /** Packed scales [nGroups, nPad] (f32). */
  sw(i: string): string;
  swz(i: string): string;
  bias?(row: string): string;
  channelScale?(row: string): string;
  /** Residual element i of [M, N]. */
  residual?(i: string): string;
  /** Statement storing y[i] of [M, N] (f32), or A[i] of [M, N, nSegments] (i32/f32) in raw mode. */
  out(i: string, v: string): string;
}

export interface LutOptions {
  /** Tokens (the bound when `mExpr` is given). */
  m: number;
  /** The token count as a u32 WGSL expression when it is only known at run time (runtime dims). */
  mExpr?: string;
  tables: 'i8' | 'f32';
  /** 'token' = [M, nChunks, 16] tables (default), 'vec' = [nChunks, 16, M]. */
  layout?: TableLayout;
  /** Chunks whose tables one workgroup holds at a time (16 entries x 4 bytes each; default 128). */
  tileChunks?: number;
  /** Write A[m][n][s] (i32, or f32 for float tables) instead of y. */
  raw?: boolean;
  /**
   * The activation of the epilogue, as a WGSL expression of `y` (its helpers go in io.decls); `row`
   * and `index` (mm * n + row) address per-channel and per-element operands it may read.
   */
  act?: (y: string, row: string, index: string) => string;
  /** Entry point name (default 'main'). */
  entry?: string;
}

/** A rendered shader and its workgroup counts. */
export interface LutShader {
  code: string;
  entry: string;
  groups: [number, number, number];
}

/** Invocations per workgroup of the gemm: one output row each. */
export const WG_ROWS = 64;

/** Index of entry c * 16 + e of token mm's tables (e may exceed 15: entries of later chunks) in either layout. */
export function tableIndex(layout: TableLayout | undefined, m: number | string, nChunks: number, mm: string, c: string, e: string): string {
  const mt = typeof m === 'string' ? m : u(m);
  return layout === 'vec' ? `(${c} * 16u + ${e}) * ${mt} + ${mm}` : `(${mm} * ${u(nChunks)} + ${c}) * 16u + ${e}`;
}

/** The build shader: one invocation per (token, segment) computes absmax, scale, sum and its tables. */
export function renderBuild(g: LutGeometry, o: LutOptions, io: BuildIO): LutShader {
  const entry = o.entry ?? 'main';
  const cps = g.segment / 4;
  const store = o.tables === 'i8' ? 'i32(clamp(round(v * inv), -127.0, 127.0))' : 'v';
  const scale =
    o.tables === 'i8'
      ? `let inv = select(0.0, 127.0 / amax, amax > 0.0);
  ${io.storeTscale('id', '(amax / 127.0) * 0.5')}`
      : io.storeTscale('id', '0.5');
  const code = `${io.decls}
fn xat(mm: u32, kk: u32) -> f32 {
  if (kk < ${u(g.k)}) { return ${io.x(`mm * ${u(g.k)} + kk`)}; }
  return 0.0;
}

// One invocation per (token, segment): absmax, scale, sum and the segment's tables, in reference.ts's order.
@compute @workgroup_size(64)
fn ${entry}(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let id = gid.x + gid.y * nwg.x * 64u;
  if (id >= ${o.mExpr ? `${o.mExpr} * ${u(g.nSegments)}` : u(o.m * g.nSegments)}) { return; }
  let mm = id / ${u(g.nSegments)};
  let s = id % ${u(g.nSegments)};
  var amax = 0.0;
  for (var c = s * ${u(cps)}; c < (s + 1u) * ${u(cps)}; c++) {
    let v = ((abs(xat(mm, 4u * c)) + abs(xat(mm, 4u * c + 1u))) + abs(xat(mm, 4u * c + 2u))) + abs(xat(mm, 4u * c + 3u));
    if (v > amax) { amax = v; }
  }
  ${scale}
  var xsum = 0.0;
  for (var kk = s * ${u(g.segment)}; kk < min((s + 1u) * ${u(g.segment)}, ${u(g.k)}); kk++) { xsum = xsum + xat(mm, kk); }
  ${io.storeXsum('id', 'xsum')}
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
      ${io.storeTable(tableIndex(o.layout, o.mExpr ?? o.m, g.nChunks, 'mm', 'c', 'j'), store)}
    }
  }
}
`;
  return { code, entry, groups: grid1(o.m * g.nSegments) };
}

/**
 * The pieces both gemm variants share: the table type, the packed-weight offset function (geometry.ts
 * vectorOffset with K-tiles), the bit-plane lookups of one chunk into `acc`, the float contribution
 * of a finished segment and the epilogue expression of y.
 */
export function gemmParts(g: LutGeometry, o: LutOptions, io: GemmIO) {
  const i8 = o.tables === 'i8';
  const T = i8 ? 'i32' : 'f32';
  const tile = Math.min(o.tileChunks ?? 128, g.nChunks);
  const vecOff = `
// Byte offset of row block rb, chunk pair cp in the packed weights (geometry.ts vectorOffset, K-tiled).
fn vecOff(rb: u32, cp: u32) -> u32 {
  let t0 = (cp / ${u(g.kTileCP)}) * ${u(g.kTileCP)};
  let inTile = min(${u(g.kTileCP)}, ${u(g.nChunkPairs)} - t0);
  return (t0 * ${u(g.nRowBlocks)} + rb * inTile + (cp - t0)) * ${u(g.vecBytes)};
}
`;
  /** Statements adding chunk `c` (table entries at tl[cl * 16]) of row block `rb` to `acc`. */
  const lookup = (ind: string) => {
    const look = (i: number) =>
      i8
        ? `acc += tl[cl * 16u + extractBits(w, sh + ${u(i * 8)}, 4u)] << ${u(i)};`
        : `acc += tl[cl * 16u + extractBits(w, sh + ${u(i * 8)}, 4u)] * ${(1 << i).toFixed(1)};`;
    return `${ind}let off = vecOff(rb, c / 2u) + byteInVec;
${ind}let w = ${io.packed('off / 4u')};
${ind}let sh = (off % 4u) * 8u + (c % 2u) * 4u;
${Array.from({ length: g.bits }, (_, i) => ind + look(i)).join('\n')}`;
  };
  /** Float contribution of segment `s` with integer (or float) sum `a`, for row `row` of token `mm`. */
  const segTerm = (a: string) => {
    const seg = `mm * ${u(g.nSegments)} + s`;
    const gi = `(s / ${u(g.group / g.segment)}) * ${u(g.nPad)} + row`;
    return `(${io.tscale(seg)} * ${i8 ? `f32(${a})` : a}) * ${io.sw(gi)} + ${io.xsum(seg)} * ${io.swz(gi)}`;
  };
  let y = 'y';
  if (io.bias) y = `(${y} + ${io.bias('row')})`;
  if (io.channelScale) y = `(${y} * ${io.channelScale('row')})`;
  if (o.act) y = o.act(y, 'row', `mm * ${u(g.n)} + row`);
  if (io.residual) y = `${y} + ${io.residual(`mm * ${u(g.n)} + row`)}`;
  const tload = io.table(tableIndex(o.layout, o.mExpr ?? o.m, g.nChunks, 'mm', 't0', 'e'));
  return { T, tile, vecOff, lookup, segTerm, epilogue: y, tload, rawIndex: `(mm * ${u(g.n)} + row) * ${u(g.nSegments)} + s` };
}

/** The gemm shader: one invocation per output row, 64 rows and one token per workgroup. */
export function renderGemm(g: LutGeometry, o: LutOptions, io: GemmIO): LutShader {
  const entry = o.entry ?? 'main';
  const p = gemmParts(g, o, io);
  const flush = o.raw ? `if (row < ${u(g.n)}) { ${io.out(p.rawIndex, 'acc')} }` : `y += ${p.segTerm('acc')};`;
  const code = `${io.decls}
var<workgroup> tl: array<${p.T}, ${p.tile * 16}>;
${p.vecOff}
@compute @workgroup_size(${WG_ROWS})
fn ${entry}(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) li: u32) {
  let mm = wid.y;
  let row = wid.x * ${u(WG_ROWS)} + li;
  let live = row < ${u(g.nPad)};
  let rb = row / ${u(g.rowsPerVec)};
  // This row's planes are adjacent bytes of one u32 word (planes is 1, 2 or 4 and rows are aligned).
  let byteInVec = (row % ${u(g.rowsPerVec)}) * ${u(g.planes)};
  var y = 0.0;
  var acc: ${p.T} = ${p.T}(0);
  for (var t0 = 0u; t0 < ${u(g.nChunks)}; t0 += ${u(p.tile)}) {
    workgroupBarrier();
    for (var e = li; e < ${u(p.tile * 16)}; e += ${u(WG_ROWS)}) {
      if (t0 + e / 16u < ${u(g.nChunks)}) { tl[e] = ${p.tload}; }
    }
    workgroupBarrier();
    if (live) {
      for (var cl = 0u; cl < ${u(p.tile)} && t0 + cl < ${u(g.nChunks)}; cl++) {
        let c = t0 + cl;
${p.lookup('        ')}
        if ((c + 1u) % ${u(g.segment / 4)} == 0u) {
          let s = c / ${u(g.segment / 4)};
          ${flush}
          acc = ${p.T}(0);
        }
      }
    }
  }
${o.raw ? '' : `  if (row < ${u(g.n)}) { ${io.out(`mm * ${u(g.n)} + row`, p.epilogue)} }`}
}
`;
  return { code, entry, groups: [Math.ceil(g.nPad / WG_ROWS), o.m, 1] };
}

// ---- one storage buffer per operand: the kernel runner, kernel-only mode and the benchmark

/** Bindings of the build shader: x, tables, seg. */
export const BUILD_BINDINGS: BindingAccess = ['read', 'rw', 'rw'];
/** Bindings of the gemm shader: packed, sw, swz, bias, tables, seg, out. */
export const GEMM_BINDINGS: BindingAccess = ['read', 'read', 'read', 'read', 'read', 'read', 'rw'];

/** Operands of the buffer accessors. */
type BufName = 'x' | 'tab' | 'seg' | 'pk' | 'sw' | 'swz' | 'bias' | 'out';
/** Binding number and access of each operand a shader declares. */
export type BufferLayout = Partial<Record<BufName, [number, 'read' | 'rw']>>;

/** The runner's layouts: the build shader binds x, tables, seg; the gemm shader the seven of GEMM_BINDINGS. */
export const SPLIT_LAYOUT: { build: BufferLayout; gemm: BufferLayout } = {
  build: { x: [0, 'read'], tab: [1, 'rw'], seg: [2, 'rw'] },
  gemm: { pk: [0, 'read'], sw: [1, 'read'], swz: [2, 'read'], bias: [3, 'read'], tab: [4, 'read'], seg: [5, 'read'], out: [6, 'rw'] },
};
/** Kernel-only mode's layout: one module, one bind group of eight buffers for both entry points. */
export const SHARED_LAYOUT: BufferLayout = {
  x: [0, 'read'],
  tab: [1, 'rw'],
  seg: [2, 'rw'],
  pk: [3, 'read'],
  sw: [4, 'read'],
  swz: [5, 'read'],
  bias: [6, 'read'],
  out: [7, 'rw'],
};

/** WGSL declarations of the operands in `layout`. */
export function bufferDecls(layout: BufferLayout, o: { tables: 'i8' | 'f32'; raw?: boolean }): string {
  const T = o.tables === 'i8' ? 'i32' : 'f32';
  const type: Record<BufName, string> = {
    x: 'f32',
    tab: T,
    seg: 'f32',
    pk: 'u32',
    sw: 'f32',
    swz: 'f32',
    bias: 'f32',
    out: o.raw ? T : 'f32',
  };
  return Object.entries(layout)
    .map(
      ([name, [binding, access]]) =>
        `@group(0) @binding(${binding}) var<storage, ${access === 'rw' ? 'read_write' : 'read'}> b${name}: array<${type[name as BufName]}>;\n`,
    )
    .join('');
}

/**
 * Accessors over one storage buffer per operand (named b<operand>, declared per `layout`; `decls`
 * empty when the caller declares them once for a module holding both shaders). `seg` interleaves
 * (tsHalf, xsum) per (token, segment); int8 tables are one i32 per entry; `hasBias` reads bias [N].
 */
export function bufferIO(
  o: { tables: 'i8' | 'f32'; raw?: boolean; hasBias?: boolean },
  layout = SPLIT_LAYOUT as { build?: BufferLayout; gemm?: BufferLayout },
): { build: BuildIO; gemm: GemmIO } {
  const build: BuildIO = {
    decls: layout.build ? bufferDecls(layout.build, o) : '',
    x: (i) => `bx[${i}]`,
    storeTable: (i, v) => `btab[${i}] = ${v};`,
    storeTscale: (i, v) => `bseg[2u * ${i}] = ${v};`,
    storeXsum: (i, v) => `bseg[2u * ${i} + 1u] = ${v};`,
  };
  const gemm: GemmIO = {
    decls: layout.gemm ? bufferDecls(layout.gemm, o) : '',
    table: (i) => `btab[${i}]`,
    tscale: (i) => `bseg[2u * (${i})]`,
    xsum: (i) => `bseg[2u * (${i}) + 1u]`,
    packed: (i) => `bpk[${i}]`,
    sw: (i) => `bsw[${i}]`,
    swz: (i) => `bswz[${i}]`,
    ...(o.hasBias ? { bias: (row: string) => `bbias[${row}]` } : {}),
    out: (i, v) => `bout[${i}] = ${v};`,
  };
  return { build, gemm };
}

export interface WgslGemmOptions {
  m: number;
  tables: 'i8' | 'f32';
  /** Write A[m][n][s] (i32, or f32 for float tables) instead of y. */
  raw?: boolean;
  hasBias?: boolean;
  /** Chunks whose tables one workgroup holds at a time (16 entries x 4 bytes each). */
  tileChunks?: number;
}

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

/** Both shaders over separate buffers (entry points `build` and `gemm`), for any K-tile of `g`. */
export function renderWgslGemm(g: LutGeometry, o: WgslGemmOptions): WgslGemmShaders {
  const io = bufferIO(o);
  const b = renderBuild(g, { ...o, entry: 'build' }, io.build);
  const m = renderGemm(g, { ...o, entry: 'gemm' }, io.gemm);
  return {
    build: b.code,
    gemm: m.code,
    buildDispatch: b.groups,
    gemmDispatch: m.groups,
    tableBytes: o.m * g.nChunks * 16 * 4,
    segBytes: o.m * g.nSegments * 2 * 4,
    outBytes: (o.raw ? o.m * g.n * g.nSegments : o.m * g.n) * 4,
  };
}
