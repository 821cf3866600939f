/**
 * The subgroup variant of lut-gemm.ts's gemm (issue 6), for devices created with the 'subgroups'
 * feature: a workgroup of 64 invocations owns SG_ROWS output rows of one token; each subgroup takes
 * some of those rows and its lanes split K between them (lane l looks up chunks l, l + lanes, ... of
 * each segment), then `subgroupAdd` reduces the segment's partial sums before the float flush. The
 * table tile, lookups, segment flush and epilogue are lut-gemm.ts's (`gemmParts`), so only the
 * distribution of work differs. Int8 partial sums are integers: the reduction is exact in any order
 * and A and y equal the plain path's; f32 tables sum in another order (float tolerance).
 *
 * The subgroup size is only known at run time (4..128): lanes = min(subgroup_size, 64), subgroups
 * per workgroup = 64 / lanes (sizes are powers of two), and rows are dealt round-robin to subgroups,
 * so the dispatch does not depend on it. Subgroup s is assumed to hold local invocations
 * [s * lanes, (s + 1) * lanes) -- what Vulkan, Metal and D3D do for 1-D workgroups; a device that
 * did otherwise would fail the bit-exact tests rather than go unnoticed.
 */
import type { LutGeometry } from '../../ir/lut/geometry.js';
import { type GemmIO, gemmParts, type LutOptions, type LutShader } from './lut-gemm.js';
import { u } from './shader-common.js';

/** Output rows per workgroup of the subgroup gemm. */
export const SG_ROWS = 16;

/**
 * Directives the subgroup shader needs before any declaration (it starts with them). Row loops run
 * a subgroup-uniform number of times, which WGSL's analysis cannot see (the subgroup index comes
 * from local_invocation_index): hence the diagnostic filter.
 */
export const SUBGROUP_DIRECTIVES = 'enable subgroups;\ndiagnostic(off, subgroup_uniformity);\n';

/** The gemm with subgroup reductions; same accessors, options and outputs as renderGemm. */
export function renderGemmSubgroup(g: LutGeometry, o: LutOptions, io: GemmIO): LutShader {
  const entry = o.entry ?? 'main';
  const p = gemmParts(g, o, io);
  const cps = u(g.segment / 4);
  const flush = o.raw
    ? `if (lane == 0u && row < ${u(g.n)}) { ${io.out(p.rawIndex, 'tot')} }`
    : `if (row < ${u(g.nPad)}) { ys[r] += ${p.segTerm('tot')}; }`;
  const code = `${SUBGROUP_DIRECTIVES}${io.decls}
var<workgroup> tl: array<${p.T}, ${p.tile * 16}>;
${p.vecOff}
@compute @workgroup_size(64)
fn ${entry}(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) li: u32,
    @builtin(subgroup_invocation_id) lane: u32, @builtin(subgroup_size) sgsize: u32) {
  let mm = wid.y;
  let lanes = min(sgsize, 64u);
  let slot = li / lanes;
  let slots = 64u / lanes;
  var part: array<${p.T}, ${SG_ROWS}>;
  var ys: array<f32, ${SG_ROWS}>;
  for (var t0 = 0u; t0 < ${u(g.nChunks)}; t0 += ${u(p.tile)}) {
    workgroupBarrier();
    for (var e = li; e < ${u(p.tile * 16)}; e += 64u) {
      if (t0 + e / 16u < ${u(g.nChunks)}) { tl[e] = ${p.tload}; }
    }
    workgroupBarrier();
    let tend = min(t0 + ${u(p.tile)}, ${u(g.nChunks)});
    // Pieces of the tile that lie in one segment: [c0, cend).
    for (var c0 = t0; c0 < tend; ) {
      let s = c0 / ${cps};
      let cend = min((s + 1u) * ${cps}, tend);
      for (var r = 0u; r * slots + slot < ${u(SG_ROWS)}; r++) {
        let row = wid.x * ${u(SG_ROWS)} + r * slots + slot;
        let rb = row / ${u(g.rowsPerVec)};
        let byteInVec = (row % ${u(g.rowsPerVec)}) * ${u(g.planes)};
        var acc: ${p.T} = ${p.T}(0);
        if (row < ${u(g.nPad)}) {
          for (var c = c0 + lane; c < cend; c += lanes) {
            let cl = c - t0;
${p.lookup('            ')}
          }
        }
        part[r] += acc;
        if (cend == (s + 1u) * ${cps}) {
          let tot = subgroupAdd(part[r]);
          part[r] = ${p.T}(0);
          ${flush}
        }
      }
      c0 = cend;
    }
  }
${
  o.raw
    ? ''
    : `  for (var r = 0u; r * slots + slot < ${u(SG_ROWS)}; r++) {
    let row = wid.x * ${u(SG_ROWS)} + r * slots + slot;
    if (lane == 0u && row < ${u(g.n)}) { let y = ys[r]; ${io.out(`mm * ${u(g.n)} + row`, p.epilogue)} }
  }`
}
}
`;
  return { code, entry, groups: [Math.ceil(g.nPad / SG_ROWS), o.m, 1] };
}
