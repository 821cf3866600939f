/**
 * Vector-LUT GEMM for batches (docs/lut-format.md §5, layout "vec"): tiles of 16 tokens. The tile's int8 tables
 * are transposed to T[c][j][token] (16 bytes = one entry for 16 tokens, biased to u8), so one weight
 * nibble selects a whole vector over tokens with a plain v128.load at a scalar address -- no swizzle
 * (which V8 lowers to 3 instructions on SIMD128), and the index arithmetic runs on the scalar ALUs.
 *
 *   per tile: transpose tables (4 rounds of byte interleave per chunk) and tsHalf/xsum to [seg][token]
 *   for each row n:
 *     for each segment: for each sub-block of <= flushBound chunk pairs:
 *         per chunk pair: load the row's plane bytes (u16 for 2 planes, u32 for 4), and for each
 *         (plane, chunk) nibble j: V = T[c][j][0..15]; L_p += V (wrapping i16); H_p += V >> 8
 *       flush: per plane, even tokens E = L - (H << 8), odd tokens O = H (bias folded into the
 *         start values), planes combined with weights 2^i (in i16 when it cannot overflow, else i32)
 *       epilogue: y[tok] += ((tsHalf[tok] * A[tok]) * sw[n]) + xsum[tok] * swz[n]   (combine()'s order)
 *     y[tok][n] = y + bias[n]
 *
 * The accumulator algebra is bias16's (plan.ts) with tokens instead of planes in the byte pairs:
 * u16 lane k holds tokens 2k and 2k+1; <= 256 lookups per lane between flushes (flushBound 128
 * chunk pairs) keeps both byte sums exact. A is bit-identical to the scalar-LUT kernel's, and so is y
 * (same float operations per token and row). Used by the kernel-only module for M >= the wasm target's `tile.kernelVecMinTokens` (plan.ts),
 * and by whole-model LUT layers with a runtime row count (model/lut.ts) for the calls whose M reaches it.
 */
import binaryen from 'binaryen';
import { type Expr, FnBuilder, splat8, splat16, splat32 } from './builder.js';
import type { WasmLutPlan } from './plan.js';

/** Tokens of one vector-LUT tile. */
export const VEC_TILE = 16;
/** Order of tokens in the four i32x4 vectors after the flush: even tokens, then odd ones. */
const PERM = [0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15];

/** Bytes of scratch a vector-LUT gemm needs: transposed tables, tsHalf and xsum of one tile. */
export function vecLutScratchBytes(plan: WasmLutPlan): number {
  return plan.geom.nChunks * 256 + 2 * plan.geom.nSegments * 64;
}

/**
 * Adds `${name}(w, sw, swz, bias, tab, ts, xs, y, m)` (addLutGemm's ABI): full tiles of 16 tokens on
 * the vector-LUT path, the remaining tokens through `scalarGemm` (an addLutGemm function). `scratch`:
 * byte address of vecLutScratchBytes(plan) bytes of this module's memory.
 */
export function addVecLutGemm(mod: binaryen.Module, plan: WasmLutPlan, name: string, scalarGemm: string, scratch: number): void {
  if (plan.tables !== 'i8') throw new Error('internal: vector-LUT needs int8 tables');
  const { i32 } = binaryen;
  const m = mod;
  const tile = `${name}_vt`;
  addTile(mod, plan, tile, scratch);
  const f = new FnBuilder(m, [i32, i32, i32, i32, i32, i32, i32, i32, i32]);
  const get = (l: number) => f.get(l);
  const [TAB, TS, XS, Y, M] = [4, 5, 6, 7, 8];
  const l = f.label('V');
  const S = plan.stride;
  f.finish(name, binaryen.none, [
    m.block(l + 'x', [
      m.loop(
        l,
        m.block(null, [
          m.br(l + 'x', m.i32.lt_s(get(M), m.i32.const(VEC_TILE))),
          m.call(
            tile,
            range(8).map((i) => get(i)),
            binaryen.none,
          ),
          f.incr(TAB, VEC_TILE * S.tab),
          f.incr(TS, VEC_TILE * S.seg),
          f.incr(XS, VEC_TILE * S.seg),
          f.incr(Y, VEC_TILE * S.y),
          f.set(M, m.i32.sub(get(M), m.i32.const(VEC_TILE))),
          m.br(l),
        ]),
      ),
    ]),
    m.if(
      m.i32.gt_s(get(M), m.i32.const(0)),
      m.call(
        scalarGemm,
        range(9).map((i) => get(i)),
        binaryen.none,
      ),
    ),
  ]);
}

/** One tile of 16 tokens: `${name}(w, sw, swz, bias, tab, ts, xs, y)`. */
function addTile(mod: binaryen.Module, plan: WasmLutPlan, name: string, scratch: number): void {
  const { i32, v128 } = binaryen;
  const g = plan.geom;
  const m = mod;
  const f = new FnBuilder(m, [i32, i32, i32, i32, i32, i32, i32, i32]);
  const [W, SW, SWZ, BIAS, TAB, TS, XS, Y] = [0, 1, 2, 3, 4, 5, 6, 7];
  const get = (l: number) => f.get(l);
  const c32 = (v: number) => m.i32.const(v);
  const TV = scratch,
    TH = scratch + g.nChunks * 256,
    XV = TH + g.nSegments * 64;
  const S = plan.stride;
  const body: Expr[] = [];

  // ---- transpose the tables: 16 token rows of 16 entries -> 16 entry rows of 16 tokens, per chunk.
  // Each round interleaves bytes of vectors i and i+8 (punpckl/hbw); 4 rounds rotate the (vector,
  // byte) index bits by 4, i.e. transpose. Relaxed-SIMD tables are signed: bias them here.
  const X = range(16).map(() => f.local(v128)),
    Z = range(16).map(() => f.local(v128));
  const cp = f.local(i32),
    src = f.local(i32),
    dst = f.local(i32);
  const tr: Expr[] = range(16).map((t) => f.set(X[t]!, m.v128.load(t * S.tab, 16, get(src))));
  let [a, b] = [X, Z];
  for (let round = 0; round < 4; round++) {
    for (let i = 0; i < 8; i++) {
      tr.push(
        f.set(
          b[2 * i]!,
          m.i8x16.shuffle(
            get(a[i]!),
            get(a[i + 8]!),
            range(8).flatMap((q) => [q, 16 + q]),
          ),
        ),
        f.set(
          b[2 * i + 1]!,
          m.i8x16.shuffle(
            get(a[i]!),
            get(a[i + 8]!),
            range(8).flatMap((q) => [8 + q, 24 + q]),
          ),
        ),
      );
    }
    [a, b] = [b, a];
  }
  for (let j = 0; j < 16; j++)
    tr.push(m.v128.store(16 * j, 16, get(dst), plan.tableBias ? get(a[j]!) : m.v128.xor(get(a[j]!), splat8(m, 0x80))));
  tr.push(f.incr(src, 16), f.incr(dst, 256));
  body.push(f.set(src, get(TAB)), f.set(dst, c32(TV)), f.loop(cp, c32(g.nChunks), tr));

  // ---- tsHalf and xsum as [segment][16 tokens] in PERM order
  const sg = f.local(i32);
  const tsBody: Expr[] = [];
  for (let q = 0; q < 16; q++) {
    const tok = PERM[q]!;
    tsBody.push(
      m.f32.store(TH + 4 * q, 4, get(dst), m.f32.load(tok * S.seg, 4, get(src))),
      m.f32.store(XV + 4 * q, 4, get(dst), m.f32.load(tok * S.seg, 4, m.i32.add(get(src), m.i32.sub(get(XS), get(TS))))),
    );
  }
  tsBody.push(f.incr(src, 4), f.incr(dst, 64));
  body.push(f.set(src, get(TS)), f.set(dst, c32(0)), f.loop(sg, c32(g.nSegments), tsBody));

  // ---- rows
  const P = g.planes,
    bits = g.bits;
  const used = range(P).filter((p) => p < bits); // 3-bit's 4th plane is empty
  const L = range(P).map(() => f.local(v128)),
    H = range(P).map(() => f.local(v128));
  const yv = range(4).map(() => f.local(v128)),
    a32 = range(4).map(() => f.local(v128));
  const C = f.local(v128),
    D = f.local(v128),
    V = f.local(v128);
  const wb = f.local(i32),
    wrow = f.local(i32),
    tp = f.local(i32),
    wword = f.local(i32),
    nOff = f.local(i32),
    swp = f.local(i32),
    thp = f.local(i32);
  const rbl = f.local(i32),
    rl = f.local(i32),
    sl = f.local(i32);
  const segCP = g.segment / 8;
  const F = Math.min(segCP, plan.flushBound);
  const nFull = Math.floor(segCP / F),
    rem = segCP - nFull * F;
  const rbStride = g.nVecK * 16;

  /** Lookups of one chunk pair: plane bytes of the row at wb, tables at tp. */
  const chunkPair = (): Expr[] => {
    const res: Expr[] = [
      f.set(wword, P === 1 ? m.i32.load8_u(0, 1, get(wb)) : P === 2 ? m.i32.load16_u(0, 1, get(wb)) : m.i32.load(0, 1, get(wb))),
    ];
    for (const p of used)
      for (const half of [0, 1]) {
        // nibble * 16 = byte offset of entry j within the chunk's 256-byte transposed table
        const sh = 8 * p + 4 * half - 4;
        const shifted = sh < 0 ? m.i32.shl(get(wword), c32(-sh)) : sh === 0 ? get(wword) : m.i32.shr_u(get(wword), c32(sh));
        const addr = m.i32.add(get(tp), m.i32.and(shifted, c32(0xf0)));
        res.push(
          f.set(V, m.v128.load(256 * half, 16, addr)),
          f.set(L[p]!, m.i16x8.add(get(L[p]!), get(V))),
          f.set(H[p]!, m.i16x8.add(get(H[p]!), m.i16x8.shr_u(get(V), c32(8)))),
        );
      }
    res.push(f.incr(wb, 16), f.incr(tp, 512));
    return res;
  };

  /** Sub-block of `k` chunk pairs: start values, lookups, flush into a32 (set when `single`). */
  const block = (k: number, single: boolean): Expr[] => {
    const n = 2 * k; // lookups per lane
    const res: Expr[] = [];
    for (const p of used) res.push(f.set(L[p]!, splat16(m, -128 * n * 257)), f.set(H[p]!, splat16(m, -128 * n)));
    res.push(f.repeat(k, chunkPair()));
    const addTo = (q: number, e: Expr) => f.set(a32[q]!, single ? e : m.i32x4.add(get(a32[q]!), e));
    const ext = (v: number, hi: boolean) => (hi ? m.i32x4.extend_high_i16x8_s(get(v)) : m.i32x4.extend_low_i16x8_s(get(v)));
    // even tokens E_p = L - (H << 8), odd O_p = H (unbiased by the start values)
    const E = (p: number) => m.i16x8.sub(get(L[p]!), m.i16x8.shl(get(H[p]!), c32(8)));
    if (((1 << bits) - 1) * 254 * k <= 32767) {
      // all planes in i16: sum_p 2^p E_p, |.| <= (2^bits - 1) * 127 * n
      let ce: Expr | null = null,
        co: Expr | null = null;
      for (const p of used) {
        const e = p ? m.i16x8.shl(E(p), c32(p)) : E(p),
          o = p ? m.i16x8.shl(get(H[p]!), c32(p)) : get(H[p]!);
        ce = ce === null ? e : m.i16x8.add(ce, e);
        co = co === null ? o : m.i16x8.add(co, o);
      }
      res.push(
        f.set(C, ce!),
        f.set(D, co!),
        addTo(0, ext(C, false)),
        addTo(1, ext(C, true)),
        addTo(2, ext(D, false)),
        addTo(3, ext(D, true)),
      );
    } else {
      used.forEach((p, i) => {
        const first = single && i === 0;
        const add = (q: number, e: Expr) => f.set(a32[q]!, first ? e : m.i32x4.add(get(a32[q]!), e));
        const sc = (e: Expr) => (p ? m.i32x4.shl(e, c32(p)) : e);
        res.push(f.set(C, E(p)), f.set(D, get(H[p]!)));
        res.push(add(0, sc(ext(C, false))), add(1, sc(ext(C, true))), add(2, sc(ext(D, false))), add(3, sc(ext(D, true))));
      });
    }
    return res;
  };

  const single = nFull === 1 && rem === 0;
  const segBody: Expr[] = [];
  if (!single) for (const v of a32) segBody.push(f.set(v, splat32(m, 0)));
  segBody.push(f.repeat(nFull, block(F, single)));
  if (rem) segBody.push(...block(rem, false));
  {
    const sw = f.local(v128),
      sz = f.local(v128);
    segBody.push(
      f.set(sw, m.v128.load32_splat(0, 4, get(swp))),
      f.set(sz, m.v128.load32_splat(0, 4, m.i32.add(get(swp), m.i32.sub(get(SWZ), get(SW))))),
    );
    for (let q = 0; q < 4; q++) {
      const th = m.v128.load(TH + 16 * q, 16, get(thp)),
        xs = m.v128.load(XV + 16 * q, 16, get(thp));
      // combine()'s order: ((tsHalf * A) * sw) + xsum * swz
      segBody.push(
        f.set(
          yv[q]!,
          m.f32x4.add(
            get(yv[q]!),
            m.f32x4.add(m.f32x4.mul(m.f32x4.mul(th, m.f32x4.convert_i32x4_s(get(a32[q]!))), get(sw)), m.f32x4.mul(xs, get(sz))),
          ),
        ),
      );
    }
    segBody.push(f.incr(thp, 64));
  }
  const segPerGroup = g.group / g.segment;
  const groupBody = [...(segPerGroup === 1 ? segBody : [f.repeat(segPerGroup, segBody)]), f.incr(swp, g.nPad * 4)];

  const rowBody: Expr[] = [
    ...yv.map((v) => f.set(v, splat32(m, 0))),
    f.set(wb, get(wrow)),
    f.set(tp, c32(TV)),
    f.set(thp, c32(0)),
    f.set(swp, m.i32.add(get(SW), get(nOff))),
    f.loop(sl, c32(g.nGroups), groupBody),
  ];
  const bias = f.local(v128);
  rowBody.push(f.set(bias, m.v128.load32_splat(0, 4, m.i32.add(get(BIAS), get(nOff)))));
  for (let q = 0; q < 4; q++)
    for (let lane = 0; lane < 4; lane++)
      rowBody.push(
        m.f32.store(
          PERM[4 * q + lane]! * S.y,
          4,
          m.i32.add(get(Y), get(nOff)),
          m.f32x4.extract_lane(m.f32x4.add(get(yv[q]!), get(bias)), lane),
        ),
      );
  rowBody.push(f.incr(wrow, P), f.incr(nOff, 4));
  body.push(
    f.set(nOff, c32(0)),
    f.loop(rbl, c32(g.nRowBlocks), [
      f.set(wrow, m.i32.add(get(W), m.i32.mul(get(rbl), c32(rbStride)))),
      f.loop(rl, c32(g.rowsPerVec), rowBody),
    ]),
  );
  f.finish(name, binaryen.none, body);
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}
