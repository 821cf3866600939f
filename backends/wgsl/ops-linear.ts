/**
 * WGSL renderers of the float (non-LUT) linear ops: matmul and gemm as one tiled shader (16x16
 * output tiles, the K-tile of both operands staged in workgroup memory: attention's activation x
 * activation products and any linear layer that was not lowered), matmul_nbits and
 * dequantize_linear when they were not lowered to LUT ops (dequantized on the fly), quantize_linear,
 * and 1-D/2-D conv (one invocation per output, plain loops). Accumulation is f32 (the interpreter
 * accumulates in f64: the tolerance of docs/wgsl.md covers the difference). Runtime dims: matmul
 * and gemm (M, N, K and batch dims read from the DIMS uniform, workgroups sized by the host) and
 * matmul_nbits (a runtime row count); the others are LUT5004 (model-shaders.ts).
 * matmul_nbits with compute = 'i8' (the int8 path, docs/lut-format.md §10): a workgroup of 64 output
 * columns of one row quantizes that row's blocks once into workgroup memory with the exact integer
 * rule of ir/ops/linear.ts quantI8 (u32 division: bit-identical to the interpreter), then each
 * invocation sums its column's i32 block dots with the stored uint8 weights and adds
 * f32(sa * sw) * f32(isum) per block in order (a driver may contract that into an FMA: the test
 * tolerance of test/ops-c/matmul-nbits8.test.ts).
 */

import { dimExactDiv, dimMul, jsDim } from '../../ir/dim-expr.js';
import { convGeometry } from '../../ir/ops/conv.js';
import { intRange } from '../../ir/ops/numeric.js';
import { scaleLayout } from '../../ir/ops/quant.js';
import { broadcastShapes } from '../../ir/ops/util.js';
import { numel } from '../../ir/tensor.js';
import type { Dim } from '../../ir/types.js';
import { inputIndex } from '../model-plan.js';
import {
  accessors,
  bcastIndex,
  coords,
  dimsOf,
  f,
  grid1,
  grid1Of,
  HEADER,
  type Kernel,
  kindOf,
  lit,
  main1,
  numelD,
  type StepCtx,
  u,
  WG,
  WGSL_TYPE,
} from './shader-common.js';

export const LINEAR_OPS = new Set(['matmul', 'gemm', 'matmul_nbits', 'dequantize_linear', 'quantize_linear', 'conv']);

const TS = 16;

interface TiledMatmul {
  M: Dim;
  N: Dim;
  K: Dim;
  batch: Dim[];
  /** Element offsets of A[m, k], B[k, n], given WGSL expressions (batch coordinates `bc0..`). */
  a(m: string, k: string): string;
  b(k: string, n: string): string;
  /** The stored value from the accumulator `acc` at (m, n). */
  epilogue(acc: string, m: string, n: string): string;
  out(m: string, n: string): string;
}

/** The tiled shader: workgroup (16, 16) per output tile, z = batch. */
function tiled(c: StepCtx, t: TiledMatmul): Kernel {
  const k = kindOf(c.outs[0]!.dtype);
  const T = WGSL_TYPE[k];
  const d = c.dim;
  const bc = coords(t.batch, 'wid.z', 'bc', d);
  const code = `${HEADER}${accessors(c)}
var<workgroup> ta: array<${T}, ${TS * TS}>;
var<workgroup> tb: array<${T}, ${TS * TS}>;

@compute @workgroup_size(${TS}, ${TS})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
${bc.code}  let row = wid.y * ${u(TS)} + lid.y;
  let col = wid.x * ${u(TS)} + lid.x;
  var acc: ${T} = ${lit(k, 0)};
  for (var t0 = 0u; t0 < ${d(t.K)}; t0 += ${u(TS)}) {
    let ka = t0 + lid.x;
    let kb = t0 + lid.y;
    var av: ${T} = ${lit(k, 0)};
    var bv: ${T} = ${lit(k, 0)};
    if (row < ${d(t.M)} && ka < ${d(t.K)}) { av = in0(${t.a('row', 'ka')}); }
    if (col < ${d(t.N)} && kb < ${d(t.K)}) { bv = in1(${t.b('kb', 'col')}); }
    ta[lid.y * ${u(TS)} + lid.x] = av;
    tb[lid.y * ${u(TS)} + lid.x] = bv;
    workgroupBarrier();
    for (var kk = 0u; kk < ${u(TS)}; kk++) { acc += ta[lid.y * ${u(TS)} + kk] * tb[kk * ${u(TS)} + lid.x]; }
    workgroupBarrier();
  }
  if (row < ${d(t.M)} && col < ${d(t.N)}) { out0(${t.out('row', 'col')}, ${t.epilogue('acc', 'row', 'col')}); }
}
`;
  const bz = numelD(t.batch);
  if (typeof t.M === 'number' && typeof t.N === 'number' && typeof bz === 'number')
    return { label: c.node.name, code, groups: [Math.ceil(t.N / TS), Math.ceil(t.M / TS), Math.max(1, bz)] };
  // Runtime dims: the host sizes the grid (an empty M, N or batch dispatches nothing).
  const cdiv = (x: Dim) => `Math.ceil(${jsDim(x)} / ${TS})`;
  return { label: c.node.name, code, groups: [1, 1, 1], groupsJs: `[${cdiv(t.N)}, ${cdiv(t.M)}, ${jsDim(bz)}]` };
}

function renderMatmul(c: StepCtx): Kernel[] {
  const [a, b] = [c.ins[0]!, c.ins[1]!];
  const [ad, bd] = [dimsOf(a), dimsOf(b)];
  const a2 = ad.length === 1 ? [1, ad[0]!] : ad;
  const b2 = bd.length === 1 ? [bd[0]!, 1] : bd;
  const [M, K, N] = [a2[a2.length - 2]!, a2[a2.length - 1]!, b2[b2.length - 1]!];
  const batch = broadcastShapes([a2.slice(0, -2), b2.slice(0, -2)]) as Dim[];
  // matrices at the runtime dims' bounds (the planned shapes; a 1-D operand has no batch)
  const nb = numel(broadcastShapes([a.shape.slice(0, -2), b.shape.slice(0, -2)]) as number[]);
  if (nb > 65535) c.fail('LUT5206', `matmul batch of ${nb} matrices exceeds one dispatch`);
  const d = c.dim;
  const bc = batch.map((x, i) => (x === 1 ? '0u' : `bc${i}`));
  const aMat = bcastIndex(a2.slice(0, -2), batch, bc, d);
  const bMat = bcastIndex(b2.slice(0, -2), batch, bc, d);
  return [
    tiled(c, {
      M,
      N,
      K,
      batch,
      a: (m, k) => `(${aMat}) * ${d(dimMul(M, K))} + ${m} * ${d(K)} + ${k}`,
      b: (k, n) => `(${bMat}) * ${d(dimMul(K, N))} + ${k} * ${d(N)} + ${n}`,
      epilogue: (acc) => acc,
      out: (m, n) => `wid.z * ${d(dimMul(M, N))} + ${m} * ${d(N)} + ${n}`,
    }),
  ];
}

function renderGemm(c: StepCtx): Kernel[] {
  const [a, b] = [c.ins[0]!, c.ins[1]!];
  const tA = c.attrs.transA !== 0;
  const tB = c.attrs.transB !== 0;
  // runtime dims: M, K, N from DIMS (a static step renders the same text: staticDim is `u`)
  const [ad, bd] = [dimsOf(a), dimsOf(b)];
  const [M, K] = tA ? [ad[1]!, ad[0]!] : [ad[0]!, ad[1]!];
  const N = tB ? bd[0]! : bd[1]!;
  const d = c.dim;
  const alpha = c.attrs.alpha as number;
  const beta = c.attrs.beta as number;
  const k = kindOf(c.outs[0]!.dtype);
  const ci = inputIndex(c, 'C');
  const cIn = c.ins[ci];
  const cIdx = cIn ? bcastIndex(dimsOf(cIn), [M, N], ['m', 'n'], d) : '';
  return [
    tiled(c, {
      M,
      N,
      K,
      batch: [],
      a: (m, kk) => (tA ? `${kk} * ${d(M)} + ${m}` : `${m} * ${d(K)} + ${kk}`),
      b: (kk, n) => (tB ? `${n} * ${d(K)} + ${kk}` : `${kk} * ${d(N)} + ${n}`),
      epilogue: (acc, m, n) => {
        const s = alpha === 1 ? acc : `${lit(k, alpha)} * ${acc}`;
        return cIn && beta !== 0
          ? `${s} + ${beta === 1 ? '' : `${lit(k, beta)} * `}in${ci}(${cIdx.replace(/\bm\b/g, m).replace(/\bn\b/g, n)})`
          : s;
      },
      out: (m, n) => `${m} * ${d(N)} + ${n}`,
    }),
  ];
}

/** WGSL of ir/ops/linear.ts quantI8: round-half-to-even(127 x / amax) from the f32 bits, exact. */
const Q8_FN = `
fn lutc_q8(xb: u32, ab: u32) -> i32 {
  let ax = xb & 0x7fffffffu;
  if (ax == 0u) { return 0; }
  let eA = ab >> 23u;
  let ex = ax >> 23u;
  let mA = select(ab & 0x7fffffu, (ab & 0x7fffffu) | 0x800000u, eA != 0u);
  let mx = select(ax & 0x7fffffu, (ax & 0x7fffffu) | 0x800000u, ex != 0u);
  let sh = max(eA, 1u) - max(ex, 1u);
  if (sh > 8u) { return 0; }
  let num = 127u * mx;
  let den = mA << sh;
  var q = num / den;
  let r = num - q * den;
  if (r > den - r || (r == den - r && (q & 1u) == 1u)) { q = q + 1u; }
  return select(i32(q), -i32(q), (xb >> 31u) == 1u);
}
`;

/**
 * matmul_nbits with compute = 'i8': workgroup (64) = 64 output columns of one row m (grid [N / 64, M]).
 * Per chunk of CB blocks the workgroup quantizes x's row once into workgroup memory (block absmax,
 * then a, then block sums), and each invocation adds its column's block terms in block order.
 */
function renderNBitsI8(c: StepCtx): Kernel[] {
  const [K, N, bs] = [c.attrs.K, c.attrs.N, c.attrs.block_size] as [number, number, number];
  const KB = Math.ceil(K / bs);
  const M = numel(c.ins[0]!.shape) / K;
  const mD = c.runtime ? dimExactDiv(numelD(dimsOf(c.ins[0]!)), K) : M;
  if (mD === undefined)
    c.fail('LUT5004', `matmul_nbits: x (${dimsOf(c.ins[0]!).join(', ')}) is not rows of ${K} for the runtime dim '${c.runtime}'`);
  if (M > 65535) c.fail('LUT5004', `matmul_nbits: ${M} rows at the bounds exceed one dispatch (65535)`);
  const [qi, si] = [inputIndex(c, 'B'), inputIndex(c, 'scales')];
  const [zi, bi] = [inputIndex(c, 'zero_points'), inputIndex(c, 'bias')];
  const zp = c.ins[zi] ? `i32(in${zi}(n * ${u(KB)} + kb))` : '128';
  const CB = Math.max(1, Math.min(KB, Math.floor(512 / bs))); // blocks per chunk (<= 32: bs >= 16)
  const E = CB * bs;
  const code = `${HEADER}${accessors(c)}${Q8_FN}
var<workgroup> qa: array<i32, ${E}>;
var<workgroup> qab: array<u32, ${CB}>;
var<workgroup> qsum: array<i32, ${CB}>;

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let t = lid.x;
  let m = wid.y;
  let n = wid.x * ${u(WG)} + t;
  var acc = 0.0;
  for (var c0 = 0u; c0 < ${u(KB)}; c0 += ${u(CB)}) {
    if (t < ${u(CB)} && c0 + t < ${u(KB)}) {
      let k0 = (c0 + t) * ${u(bs)};
      let len = min(${u(bs)}, ${u(K)} - k0);
      var ab = 0u;
      for (var j = 0u; j < len; j++) { ab = max(ab, bitcast<u32>(in0(m * ${u(K)} + k0 + j)) & 0x7fffffffu); }
      qab[t] = ab;
    }
    workgroupBarrier();
    for (var e = t; e < ${u(E)}; e += ${u(WG)}) {
      let blk = e / ${u(bs)};
      let k = (c0 + blk) * ${u(bs)} + e % ${u(bs)};
      let ab = qab[blk];
      var a = 0;
      if (c0 + blk < ${u(KB)} && k < ${u(K)} && ab != 0u && ab < 0x7f800000u) { a = lutc_q8(bitcast<u32>(in0(m * ${u(K)} + k)), ab); }
      qa[e] = a;
    }
    workgroupBarrier();
    if (t < ${u(CB)}) {
      var s = 0;
      for (var j = 0u; j < ${u(bs)}; j++) { s = s + qa[t * ${u(bs)} + j]; }
      qsum[t] = s;
    }
    workgroupBarrier();
    if (n < ${u(N)}) {
      for (var blk = 0u; blk < ${u(CB)} && c0 + blk < ${u(KB)}; blk++) {
        let kb = c0 + blk;
        let base = (n * ${u(KB)} + kb) * ${u(bs)};
        var dot = 0;
        for (var j = 0u; j < ${u(bs)}; j++) { dot = dot + qa[blk * ${u(bs)} + j] * i32(in${qi}(base + j)); }
        let isum = dot - ${zp} * qsum[blk];
        let sc = (bitcast<f32>(qab[blk]) * ${f(Math.fround(1 / 127))}) * in${si}(n * ${u(KB)} + kb);
        acc = acc + sc * f32(isum);
      }
    }
    workgroupBarrier();
  }
  if (n < ${u(N)}) { out0(m * ${u(N)} + n, acc${c.ins[bi] ? ` + in${bi}(n)` : ''}); }
}
`;
  const gx = Math.ceil(N / WG);
  if (typeof mD === 'number') return mD === 0 ? [] : [{ label: c.node.name, code, groups: [gx, mD, 1] }];
  return [{ label: c.node.name, code, groups: [gx, Math.max(1, M), 1], groupsJs: `[${gx}, ${jsDim(mD)}, 1]` }];
}

/** matmul_nbits not lowered (e.g. 8-bit): dequantize each weight on the fly, one invocation per output. */
function renderNBits(c: StepCtx): Kernel[] {
  if (c.attrs.compute === 'i8') return renderNBitsI8(c);
  const [K, N, bits, bs] = [c.attrs.K, c.attrs.N, c.attrs.bits, c.attrs.block_size] as number[];
  const kBlocks = Math.ceil(K! / bs!);
  const blob = (bs! * bits!) / 8;
  const zpRow = Math.ceil((kBlocks * bits!) / 8);
  const M = numel(c.ins[0]!.shape) / K!;
  // runtime dims: the row count M = numel(x) / K from DIMS (K, N and the blocks are attributes)
  const mD = c.runtime ? dimExactDiv(numelD(dimsOf(c.ins[0]!)), K!) : M;
  if (mD === undefined)
    c.fail('LUT5004', `matmul_nbits: x (${dimsOf(c.ins[0]!).join(', ')}) is not rows of ${K} for the runtime dim '${c.runtime}'`);
  const mask = (1 << bits!) - 1;
  const [qi, si] = [inputIndex(c, 'B'), inputIndex(c, 'scales')];
  const [zi, bi] = [inputIndex(c, 'zero_points'), inputIndex(c, 'bias')];
  const zp = c.ins[zi];
  const z = !zp
    ? f(1 << (bits! - 1))
    : zp.dtype === 'u8'
      ? `f32((in${zi}(n * ${u(zpRow)} + ((kb * ${u(bits!)}) >> 3u)) >> ((kb * ${u(bits!)}) & 7u)) & ${u(mask)})`
      : `in${zi}(n * ${u(kBlocks)} + kb)`;
  const body = `  let n = i % ${u(N!)};
  let m = i / ${u(N!)};
  var acc = 0.0;
  for (var kb = 0u; kb < ${u(kBlocks)}; kb++) {
    let scale = in${si}(n * ${u(kBlocks)} + kb);
    let z = ${z};
    let base = (n * ${u(kBlocks)} + kb) * ${u(blob)};
    for (var j = 0u; j < ${u(bs!)} && kb * ${u(bs!)} + j < ${u(K!)}; j++) {
      let q = (in${qi}(base + ((j * ${u(bits!)}) >> 3u)) >> ((j * ${u(bits!)}) & 7u)) & ${u(mask)};
      acc += in0(m * ${u(K!)} + kb * ${u(bs!)} + j) * ((f32(q) - z) * scale);
    }
  }
  out0(i, acc${c.ins[bi] ? ` + in${bi}(n)` : ''});`;
  if (typeof mD === 'number') return [{ label: c.node.name, code: main1(M * N!, body, accessors(c)), groups: grid1(M * N!) }];
  const n = dimMul(mD, N!);
  return [{ label: c.node.name, code: main1(n, body, accessors(c), c.dim), ...grid1Of(n, M * N!) }];
}

/** Index of the scale (and zero point) of input element `i` under the op's scale layout; `scale`: the scale operand's position. */
function scaleIndex(c: StepCtx, scale: number): string {
  const x = c.ins[0]!.shape;
  const s = c.ins[scale]!.shape;
  const bs = c.attrs.block_size as number;
  const lay = scaleLayout(x, s, c.attrs.axis as number, bs, (m) => c.fail('LUT5207', m));
  if (lay.mode === 'tensor') return '0u';
  const inner = numel(x.slice(lay.axis + 1));
  const d = x[lay.axis]!;
  const j = `((i / ${u(inner)}) % ${u(d)})`;
  if (lay.mode === 'axis') return j;
  const o = `(i / ${u(inner * d)})`;
  return `((${o} * ${u(s[lay.axis]!)} + ${j} / ${u(bs)}) * ${u(inner)} + i % ${u(inner)})`;
}

function renderDequant(c: StepCtx): Kernel[] {
  const n = numel(c.outs[0]!.shape);
  const [sc, zi] = [inputIndex(c, 'x_scale'), inputIndex(c, 'x_zero_point')];
  const si = scaleIndex(c, sc);
  const body = `  let si = ${si};\n  out0(i, f32(in0(i)${c.ins[zi] ? ` - in${zi}(si)` : ''}) * in${sc}(si));`;
  return [{ label: c.node.name, code: main1(n, body, accessors(c)), groups: grid1(n) }];
}

function renderQuant(c: StepCtx): Kernel[] {
  const out = c.outs[0]!;
  const n = numel(out.shape);
  const [lo, hi] = intRange(out.dtype);
  const k = kindOf(out.dtype);
  const [sc, zi] = [inputIndex(c, 'y_scale'), inputIndex(c, 'y_zero_point')];
  const zp = c.ins[zi] ? `f32(in${zi}(si))` : '0.0';
  const body = `  let si = ${scaleIndex(c, sc)};
  let q = round(in0(i) / in${sc}(si)) + ${zp};
  out0(i, select(${WGSL_TYPE[k]}(clamp(q, ${f(lo)}, ${f(hi)})), ${lit(k, 0)}, (bitcast<u32>(q) & 0x7fffffffu) > 0x7f800000u));`; // NaN on the bits: SwiftShader folds q != q
  return [{ label: c.node.name, code: main1(n, body, accessors(c)), groups: grid1(n) }];
}

function renderConv(c: StepCtx): Kernel[] {
  const [wi, bi] = [inputIndex(c, 'W'), inputIndex(c, 'B')];
  const [x, w] = [c.ins[0]!, c.ins[wi]!];
  const out = c.outs[0]!;
  const g = convGeometry(
    x.shape,
    w.shape,
    c.attrs,
    () => 0,
    (m) => c.fail('LUT5208', m),
  );
  const unit = { pad: 0, stride: 1, dilation: 1, kernel: 1 };
  const [ah, aw] = g.axes.length === 1 ? [unit, g.axes[0]!] : [g.axes[0]!, g.axes[1]!];
  const [C, H, Wd] = g.axes.length === 1 ? [x.shape[1]!, 1, x.shape[2]!] : [x.shape[1]!, x.shape[2]!, x.shape[3]!];
  const [M, OH, OW] = g.axes.length === 1 ? [out.shape[1]!, 1, out.shape[2]!] : [out.shape[1]!, out.shape[2]!, out.shape[3]!];
  const group = c.attrs.group as number;
  const [Cg, Mg] = [C / group, M / group];
  const n = numel(out.shape);
  const body = `  let ow = i % ${u(OW)};
  let oh = (i / ${u(OW)}) % ${u(OH)};
  let m = (i / ${u(OW * OH)}) % ${u(M)};
  let b = i / ${u(OW * OH * M)};
  let grp = m / ${u(Mg)};
  var acc = ${c.ins[bi] ? `in${bi}(m)` : '0.0'};
  for (var cc = 0u; cc < ${u(Cg)}; cc++) {
    let xb = (b * ${u(C)} + grp * ${u(Cg)} + cc) * ${u(H * Wd)};
    for (var kh = 0u; kh < ${u(ah.kernel)}; kh++) {
      let ih = i32(oh * ${u(ah.stride)} + kh * ${u(ah.dilation)}) - ${ah.pad};
      if (ih < 0 || ih >= ${H}) { continue; }
      for (var kw = 0u; kw < ${u(aw.kernel)}; kw++) {
        let iw = i32(ow * ${u(aw.stride)} + kw * ${u(aw.dilation)}) - ${aw.pad};
        if (iw < 0 || iw >= ${Wd}) { continue; }
        acc += in${wi}(((m * ${u(Cg)} + cc) * ${u(ah.kernel)} + kh) * ${u(aw.kernel)} + kw) * in0(xb + u32(ih) * ${u(Wd)} + u32(iw));
      }
    }
  }
  out0(i, acc);`;
  return [{ label: c.node.name, code: main1(n, body, accessors(c)), groups: grid1(n) }];
}

/** Renders a linear op, or undefined when `op` is not one. */
export function renderLinear(c: StepCtx): Kernel[] | undefined {
  switch (c.node.op) {
    case 'matmul':
      return renderMatmul(c);
    case 'gemm':
      return renderGemm(c);
    case 'matmul_nbits':
      return renderNBits(c);
    case 'dequantize_linear':
      return renderDequant(c);
    case 'quantize_linear':
      return renderQuant(c);
    case 'conv':
      return renderConv(c);
  }
  return undefined;
}
