/**
 * The scalar-LUT GEMM loop nest in WASM SIMD (render step of the wasm backend). For one tile of T
 * tokens:
 *
 *   for each pass over R = plan.rowBlocks row blocks (16/planes rows each, one 16-byte vector per
 *   chunk pair; R = 16 / rowsPerVec by default, so a pass covers 16 rows):
 *     for each group, for each table segment s of it:
 *       for each sub-block of <= plan.flushBound chunk pairs:     int16 accumulators, see plan.ts
 *         for each chunk pair (a loop unrolled plan.unroll times; short sub-blocks may be straight-line):
 *           per row block: w = 16 packed bytes; lo = w & 15 (chunk 2cp), hi = w >> 4 (chunk 2cp+1)
 *           per token: load its two chunk tables once, swizzle them by every row block's lo / hi,
 *             combine planes, accumulate
 *         flush: int16 -> int32 rows, exact (bounds in plan.ts)
 *       epilogue: y += ((tsHalf * f32(A)) * sw) + xsum * swz    (the order of reference.ts combine())
 *     y (+ bias) stored for the R row blocks
 *
 * Why R row blocks per pass: the table loads (2 per chunk pair and token) and the segment's
 * tsHalf/xsum splats are shared by R row blocks; 4-bit (4 rows per vector) gains most. Why no
 * straight-line groups by default: TurboFan schedules all loads of a straight-line block first
 * (pure ops float down to their uses) and spills; a loop bounds that to one iteration.
 *
 * Weights are read once per token tile, sequentially per row block (layout [row block][chunk pair],
 * one K-tile); tables are re-read per pass from L1/L2. `mode: 'acc'` stores the raw per-segment
 * accumulators instead (the bit-exact test hook, tiled like the gemm). Batches of >= 16 tokens use
 * veclut.ts instead (kernel-only module and whole-model layers with a runtime M, 3-4 bits by default).
 */
import binaryen from 'binaryen';
import {
  type Expr,
  FnBuilder,
  lanes16,
  lanes32,
  relaxedDot16,
  relaxedSwizzle,
  splat8,
  splat16,
  splat32,
  v128Bytes,
  v128F32,
  v128I16,
} from './builder.js';
import type { WasmLutPlan } from './plan.js';

type Out = 'y' | 'acc';

/**
 * Adds `${name}(w, sw, swz, bias, tab, ts, xs, y)` computing `tokens` consecutive tokens (pointers
 * at the tile's first token; per-token strides from plan.stride). In 'acc' mode `y` receives
 * A as [token][segment][nPad] (i32, or f32 for float tables) and sw/swz/bias/ts/xs are unused.
 * Row blocks go plan.rowBlocks at a time (one table load feeds all of them), the odd one last.
 */
export function addLutTile(mod: binaryen.Module, plan: WasmLutPlan, name: string, tokens: number, out: Out): void {
  const { i32, v128 } = binaryen;
  const g = plan.geom;
  const m = mod;
  const f = new FnBuilder(m, [i32, i32, i32, i32, i32, i32, i32, i32]);
  const [W, SW, SWZ, BIAS, TAB, TS, XS, Y] = [0, 1, 2, 3, 4, 5, 6, 7];
  const get = (l: number) => f.get(l);
  const wp = f.local(i32),
    tp = f.local(i32),
    rowOff = f.local(i32),
    sOff = f.local(i32),
    seg = f.local(i32),
    rb = f.local(i32);
  const swp = f.local(i32),
    szp = f.local(i32);
  const nOut = g.rowsPerVec / 4;
  const T = tokens;
  const RB = plan.rowBlocks;
  /** Bytes between the same chunk pair of consecutive row blocks (one K-tile layout). */
  const rbStride = g.nVecK * 16;
  const yv = range(T).map(() => range(RB).map(() => range(nOut).map(() => f.local(v128))));
  const a32 = range(T).map(() => range(RB).map(() => range(nOut).map(() => f.local(v128))));
  const mode = plan.mode;
  const nAcc = mode === 'bias16' ? 2 : mode === 'rdot' ? 1 : 4;
  const acc = range(T).map(() => range(RB).map(() => range(nAcc).map(() => f.local(v128))));
  const wv = f.local(v128),
    P = f.local(v128),
    Q = f.local(v128);
  const lo = range(RB).map(() => f.local(v128)),
    hi = range(RB).map(() => f.local(v128));
  const tab0 = f.local(v128),
    tab1 = f.local(v128);
  const tmp = range(8).map(() => f.local(v128));
  const zero = () => splat32(m, 0);
  const swz = (t: Expr, idx: Expr) => (plan.relaxed ? relaxedSwizzle(m, t, idx) : m.i8x16.swizzle(t, idx));
  const add16 = (a: Expr, b: Expr) => m.i16x8.add(a, b);

  // plane weights for the relaxed i16 dot: (1,2) per plane pair; 3-bit's zero 4th plane gets 0
  const rdotW = () =>
    v128Bytes(
      m,
      range(16).map((j) => (g.planes === 4 && g.bits === 3 && j % 4 === 3 ? 0 : j % 2 ? 2 : 1)),
    );

  /**
   * Lookups of one chunk pair for token t and row block r (indices in lo[r]/hi[r]). Table vectors
   * come from tab0/tab1 when several row blocks share them, else are loaded inline.
   */
  const step = (t: number, r: number, off: number, shared: boolean): Expr[] => {
    const tOff = t * plan.stride.tab + off;
    const tb = plan.tableBytes;
    if (mode === 'f32') {
      const res: Expr[] = [];
      for (const [half, idx] of [
        [0, lo[r]!],
        [1, hi[r]!],
      ] as const) {
        const p = range(4).map((b) => swz(m.v128.load(tOff + half * tb + 16 * b, 16, get(tp)), get(idx)));
        const lowB = range(8).flatMap((i) => [i, 16 + i]),
          highB = range(8).flatMap((i) => [8 + i, 24 + i]);
        // rebuild floats: bytes (b0, b1) interleaved, then (b0b1, b2b3) as 16-bit pairs
        res.push(
          f.set(P, p[0]!),
          f.set(Q, p[1]!),
          f.set(tmp[0]!, m.i8x16.shuffle(get(P), get(Q), lowB)),
          f.set(tmp[1]!, m.i8x16.shuffle(get(P), get(Q), highB)),
          f.set(P, p[2]!),
          f.set(Q, p[3]!),
          f.set(tmp[2]!, m.i8x16.shuffle(get(P), get(Q), lowB)),
          f.set(tmp[3]!, m.i8x16.shuffle(get(P), get(Q), highB)),
        );
        const w16lo = lanes16([0, 8, 1, 9, 2, 10, 3, 11]),
          w16hi = lanes16([4, 12, 5, 13, 6, 14, 7, 15]);
        const F = acc[t]![r]!;
        res.push(
          f.set(F[0]!, m.f32x4.add(get(F[0]!), m.i8x16.shuffle(get(tmp[0]!), get(tmp[2]!), w16lo))),
          f.set(F[1]!, m.f32x4.add(get(F[1]!), m.i8x16.shuffle(get(tmp[0]!), get(tmp[2]!), w16hi))),
          f.set(F[2]!, m.f32x4.add(get(F[2]!), m.i8x16.shuffle(get(tmp[1]!), get(tmp[3]!), w16lo))),
          f.set(F[3]!, m.f32x4.add(get(F[3]!), m.i8x16.shuffle(get(tmp[1]!), get(tmp[3]!), w16hi))),
        );
      }
      return res;
    }
    const t0 = shared ? get(tab0) : m.v128.load(tOff, 16, get(tp));
    const t1 = shared ? get(tab1) : m.v128.load(tOff + tb, 16, get(tp));
    const pa = swz(t0, get(lo[r]!));
    const qa = swz(t1, get(hi[r]!));
    if (mode === 'rdot') {
      const R = acc[t]![r]![0]!;
      return [f.set(R, add16(get(R), add16(relaxedDot16(m, pa, rdotW()), relaxedDot16(m, qa, rdotW()))))];
    }
    const [L, H] = acc[t]![r] as [number, number];
    return [
      f.set(P, pa),
      f.set(Q, qa),
      f.set(L, add16(add16(get(L), get(P)), get(Q))),
      f.set(H, add16(add16(get(H), m.i16x8.shr_u(get(P), m.i32.const(8))), m.i16x8.shr_u(get(Q), m.i32.const(8)))),
    ];
  };

  /** One chunk pair (u-th of an unrolled body) for `nr` row blocks and all tokens. */
  const chunkPair = (u: number, nr: number): Expr[] => {
    const body: Expr[] = [];
    for (let r = 0; r < nr; r++) {
      body.push(
        f.set(wv, m.v128.load(r * rbStride + 16 * u, 16, get(wp))),
        f.set(lo[r]!, m.v128.and(get(wv), splat8(m, 15))),
        // i16 shift + the same 0x0F mask: V8 lowers i8x16.shr_u to psrlw + a re-materialized mask
        f.set(hi[r]!, m.v128.and(m.i16x8.shr_u(get(wv), m.i32.const(4)), splat8(m, 15))),
      );
    }
    const shared = nr > 1 && mode !== 'f32';
    for (let t = 0; t < T; t++) {
      const off = t * plan.stride.tab + u * 2 * plan.tableBytes;
      if (shared) body.push(f.set(tab0, m.v128.load(off, 16, get(tp))), f.set(tab1, m.v128.load(off + plan.tableBytes, 16, get(tp))));
      for (let r = 0; r < nr; r++) body.push(...step(t, r, u * 2 * plan.tableBytes, shared));
    }
    return body;
  };

  /** Lookups over `cp` chunk pairs: straight-line when short, else a loop unrolled plan.unroll times. */
  const inner = (cp: number, nr: number): Expr[] => {
    const U = plan.unroll;
    const adv = (k: number) => [f.incr(wp, 16 * k), f.incr(tp, 2 * plan.tableBytes * k)];
    if (cp <= plan.straight) return [...range(cp).flatMap((u) => chunkPair(u, nr)), ...adv(cp)];
    const res: Expr[] = [f.repeat(Math.floor(cp / U), [...range(U).flatMap((u) => chunkPair(u, nr)), ...adv(U)])];
    if (cp % U) res.push(...range(cp % U).flatMap((u) => chunkPair(u, nr)), ...adv(cp % U));
    return res;
  };

  const i16Pairs = (a: Expr, b: Expr, half: 0 | 1) =>
    m.i8x16.shuffle(a, b, lanes16(half ? [4, 12, 5, 13, 6, 14, 7, 15] : [0, 8, 1, 9, 2, 10, 3, 11]));
  const dot = (a: Expr, w: number[]) =>
    m.i32x4.dot_i16x8_s(
      a,
      v128I16(
        m,
        range(8).map((i) => w[i % 2]!),
      ),
    );

  /**
   * bias16 blocks of <= 43 chunk pairs with >= 2 planes combine the plane pair in i16:
   * sE + c*sO = L - (256 - c)*H - (1 + c)*B (c = 2; 0 for 3-bit's empty 4th plane in odd lanes),
   * |.| <= 762 * cp <= 32767. The constant -(1 + c)*B is the accumulator's start value (i16 sums
   * wrap mod 2^16 and the result fits i16), so the flush is one multiply and one subtract.
   */
  const shortcut = (cp: number) => mode === 'bias16' && g.planes > 1 && cp <= 43;
  const planeC = range(8).map((l) => (g.bits === 3 && l % 2 ? 0 : 2));
  /** Accumulators at the start of a sub-block of `cp` chunk pairs. */
  const initAcc = (cp: number, nr: number): Expr[] => {
    const res: Expr[] = [];
    for (let t = 0; t < T; t++)
      for (let r = 0; r < nr; r++) {
        const A = acc[t]![r]!;
        res.push(
          f.set(
            A[0]!,
            shortcut(cp)
              ? v128I16(
                  m,
                  planeC.map((c) => -(1 + c) * 256 * cp),
                )
              : zero(),
          ),
        );
        for (const a of A.slice(1)) res.push(f.set(a, zero()));
      }
    return res;
  };

  /** int16 accumulators of `cp` chunk pairs -> int32 rows (a32: set when `single`, else added). */
  const flush = (cp: number, nr: number, single: boolean): Expr[] => {
    const res: Expr[] = [];
    for (let t = 0; t < T; t++)
      for (let r = 0; r < nr; r++) {
        const A = a32[t]![r]!;
        const addTo = (v: number, e: Expr) => f.set(A[v]!, single ? e : m.i32x4.add(get(A[v]!), e));
        if (shortcut(cp)) {
          const [L, H] = acc[t]![r] as [number, number];
          res.push(
            f.set(
              tmp[0]!,
              m.i16x8.sub(
                get(L),
                m.i16x8.mul(
                  get(H),
                  v128I16(
                    m,
                    planeC.map((c) => 256 - c),
                  ),
                ),
              ),
            ),
          );
          if (g.planes === 2)
            res.push(addTo(0, m.i32x4.extend_low_i16x8_s(get(tmp[0]!))), addTo(1, m.i32x4.extend_high_i16x8_s(get(tmp[0]!))));
          else res.push(addTo(0, dot(get(tmp[0]!), [1, 4])));
        } else if (mode === 'bias16') {
          const [L, H] = acc[t]![r] as [number, number];
          const sE = tmp[0]!,
            sO = tmp[1]!;
          const bias = splat16(m, 128 * 2 * cp); // wraps to i16 like the sums do
          res.push(
            f.set(sE, m.i16x8.sub(m.i16x8.sub(get(L), m.i16x8.shl(get(H), m.i32.const(8))), bias)),
            f.set(sO, m.i16x8.sub(get(H), splat16(m, 128 * 2 * cp))),
          );
          if (g.planes === 1) {
            res.push(f.set(tmp[2]!, i16Pairs(get(sE), get(sO), 0)), f.set(tmp[3]!, i16Pairs(get(sE), get(sO), 1)));
            res.push(
              addTo(0, m.i32x4.extend_low_i16x8_s(get(tmp[2]!))),
              addTo(1, m.i32x4.extend_high_i16x8_s(get(tmp[2]!))),
              addTo(2, m.i32x4.extend_low_i16x8_s(get(tmp[3]!))),
              addTo(3, m.i32x4.extend_high_i16x8_s(get(tmp[3]!))),
            );
          } else if (g.planes === 2) {
            res.push(addTo(0, dot(i16Pairs(get(sE), get(sO), 0), [1, 2])), addTo(1, dot(i16Pairs(get(sE), get(sO), 1), [1, 2])));
          } else {
            res.push(addTo(0, m.i32x4.add(dot(get(sE), [1, 4]), dot(get(sO), g.bits === 3 ? [2, 0] : [2, 8]))));
          }
        } else if (mode === 'rdot') {
          const R = acc[t]![r]![0]!;
          if (g.planes === 2) res.push(addTo(0, m.i32x4.extend_low_i16x8_s(get(R))), addTo(1, m.i32x4.extend_high_i16x8_s(get(R))));
          else res.push(addTo(0, dot(get(R), [1, 4])));
        } else {
          // float: per-(row, plane) lane sums -> rows, scaling planes by 2^i (exact)
          const F = acc[t]![r]!;
          const pw = g.planes === 1 ? null : g.planes === 2 ? [1, 2, 1, 2] : [1, 2, 4, g.bits === 3 ? 0 : 8];
          if (!pw) for (let v = 0; v < 4; v++) res.push(f.set(A[v]!, get(F[v]!)));
          else {
            for (let v = 0; v < 4; v++) res.push(f.set(tmp[v]!, m.f32x4.mul(get(F[v]!), v128F32(m, pw))));
            if (g.planes === 2) {
              for (let o = 0; o < 2; o++) {
                const a = get(tmp[2 * o]!),
                  b = get(tmp[2 * o + 1]!);
                res.push(
                  f.set(
                    A[o]!,
                    m.f32x4.add(
                      m.i8x16.shuffle(a, b, lanes32([0, 2, 4, 6])),
                      m.i8x16.shuffle(get(tmp[2 * o]!), get(tmp[2 * o + 1]!), lanes32([1, 3, 5, 7])),
                    ),
                  ),
                );
              }
            } else {
              const t4 = tmp.slice(4, 8);
              const sh = (a: number, b: number, l: number[]) => m.i8x16.shuffle(get(a), get(b), lanes32(l));
              res.push(
                f.set(t4[0]!, sh(tmp[0]!, tmp[1]!, [0, 4, 1, 5])),
                f.set(t4[1]!, sh(tmp[0]!, tmp[1]!, [2, 6, 3, 7])),
                f.set(t4[2]!, sh(tmp[2]!, tmp[3]!, [0, 4, 1, 5])),
                f.set(t4[3]!, sh(tmp[2]!, tmp[3]!, [2, 6, 3, 7])),
                f.set(
                  A[0]!,
                  m.f32x4.add(
                    m.f32x4.add(sh(t4[0]!, t4[2]!, [0, 1, 4, 5]), sh(t4[0]!, t4[2]!, [2, 3, 6, 7])),
                    m.f32x4.add(sh(t4[1]!, t4[3]!, [0, 1, 4, 5]), sh(t4[1]!, t4[3]!, [2, 3, 6, 7])),
                  ),
                ),
              );
            }
          }
        }
      }
    return res;
  };

  /** One table segment for `nr` row blocks: sub-blocks of <= flushBound chunk pairs, then the epilogue. */
  const segment = (nr: number): Expr[] => {
    const segCP = g.segment / 8;
    const F = Math.min(segCP, plan.flushBound);
    const nFull = Math.floor(segCP / F),
      rem = segCP - nFull * F;
    const single = nFull === 1 && rem === 0;
    const body: Expr[] = [];
    if (!single)
      for (let t = 0; t < T; t++) for (let r = 0; r < nr; r++) for (let v = 0; v < nOut; v++) body.push(f.set(a32[t]![r]![v]!, zero()));
    body.push(f.repeat(nFull, [...initAcc(F, nr), ...inner(F, nr), ...flush(F, nr, single)]));
    if (rem) body.push(...initAcc(rem, nr), ...inner(rem, nr), ...flush(rem, nr, false));
    if (out === 'y') {
      const thL = tmp[0]!,
        xsL = tmp[1]!;
      for (let t = 0; t < T; t++) {
        body.push(
          f.set(thL, m.v128.load32_splat(t * plan.stride.seg, 4, m.i32.add(get(TS), get(sOff)))),
          f.set(xsL, m.v128.load32_splat(t * plan.stride.seg, 4, m.i32.add(get(XS), get(sOff)))),
        );
        for (let r = 0; r < nr; r++)
          for (let v = 0; v < nOut; v++) {
            const a = mode === 'f32' ? get(a32[t]![r]![v]!) : m.f32x4.convert_i32x4_s(get(a32[t]![r]![v]!));
            const o = r * g.rowsPerVec * 4 + 16 * v;
            const sw = m.v128.load(o, 16, get(swp)),
              sz = m.v128.load(o, 16, get(szp));
            const y = yv[t]![r]![v]!;
            // the order of reference.ts combine(): ((tsHalf * A) * sw) + xsum * swz
            body.push(f.set(y, m.f32x4.add(get(y), m.f32x4.add(m.f32x4.mul(m.f32x4.mul(get(thL), a), sw), m.f32x4.mul(get(xsL), sz)))));
          }
      }
    } else {
      // acc hook: A[token][segment][row]; swp walks y by segments
      for (let t = 0; t < T; t++)
        for (let r = 0; r < nr; r++)
          for (let v = 0; v < nOut; v++)
            body.push(m.v128.store(t * plan.stride.acc + r * g.rowsPerVec * 4 + 16 * v, 16, get(swp), get(a32[t]![r]![v]!)));
      body.push(f.incr(swp, g.nPad * 4));
    }
    body.push(f.incr(sOff, 4));
    return body;
  };

  /** `nr` row blocks starting at rowOff / wp: all segments, then y (+ bias). */
  const rowPass = (nr: number): Expr[] => {
    const body: Expr[] = [];
    for (let t = 0; t < T; t++) for (let r = 0; r < nr; r++) for (let v = 0; v < nOut; v++) body.push(f.set(yv[t]![r]![v]!, zero()));
    body.push(f.set(tp, get(TAB)), f.set(sOff, m.i32.const(0)));
    const segPerGroup = g.group / g.segment;
    if (out === 'y') {
      // sw/swz rows of the current group: [group][nPad]
      body.push(f.set(swp, m.i32.add(get(SW), get(rowOff))), f.set(szp, m.i32.add(get(SWZ), get(rowOff))));
      const groupBody = [
        ...(segPerGroup === 1 ? segment(nr) : [f.repeat(segPerGroup, segment(nr))]),
        f.incr(swp, g.nPad * 4),
        f.incr(szp, g.nPad * 4),
      ];
      body.push(f.loop(seg, m.i32.const(g.nGroups), groupBody));
      for (let t = 0; t < T; t++)
        for (let r = 0; r < nr; r++)
          for (let v = 0; v < nOut; v++) {
            const o = r * g.rowsPerVec * 4 + 16 * v;
            const bias = m.v128.load(o, 16, m.i32.add(get(BIAS), get(rowOff)));
            body.push(m.v128.store(t * plan.stride.y + o, 16, m.i32.add(get(Y), get(rowOff)), m.f32x4.add(get(yv[t]![r]![v]!), bias)));
          }
    } else {
      body.push(f.set(swp, m.i32.add(get(Y), get(rowOff))), f.loop(seg, m.i32.const(g.nSegments), segment(nr)));
    }
    // the inner loops advanced wp by one row block; skip the other nr - 1
    if (nr > 1) body.push(f.incr(wp, (nr - 1) * rbStride));
    body.push(f.incr(rowOff, nr * g.rowsPerVec * 4));
    return body;
  };

  const nMain = Math.floor(g.nRowBlocks / RB),
    tail = g.nRowBlocks - nMain * RB;
  const body: Expr[] = [f.set(wp, get(W)), f.set(rowOff, m.i32.const(0))];
  if (nMain > 0) body.push(f.loop(rb, m.i32.const(nMain), rowPass(RB)));
  if (tail > 0) body.push(f.repeat(tail, rowPass(1)));
  f.finish(name, binaryen.none, body);
}

/**
 * The token loop of addLutGemm and addLutAcc: `${name}_t{T}` while at least T tokens remain (local
 * `M` counts them down), then `${name}_t1` for the rest; `adv(k)` advances the pointers by k tokens.
 */
function tokenTileLoops(f: FnBuilder, name: string, T: number, M: number, call: (fn: string) => Expr, adv: (k: number) => Expr[]): Expr[] {
  const m = f.mod;
  const get = (l: number) => f.get(l);
  const lt = f.label('T'),
    l1 = f.label('O');
  const body: Expr[] = [];
  if (T > 1)
    body.push(
      m.block(lt + 'x', [
        m.loop(lt, m.block(null, [m.br(lt + 'x', m.i32.lt_s(get(M), m.i32.const(T))), call(`${name}_t${T}`), ...adv(T), m.br(lt)])),
      ]),
    );
  body.push(
    m.block(l1 + 'x', [
      m.loop(l1, m.block(null, [m.br(l1 + 'x', m.i32.le_s(get(M), m.i32.const(0))), call(`${name}_t1`), ...adv(1), m.br(l1)])),
    ]),
  );
  return body;
}

/**
 * Adds `${name}(w, sw, swz, bias, tab, ts, xs, y, m)`: all m tokens, in tiles of plan.tokenTile
 * tokens (one weight pass each), the remainder one token at a time. Needs `${name}_t{T}` and
 * `${name}_t1` (added here).
 */
export function addLutGemm(mod: binaryen.Module, plan: WasmLutPlan, name: string): void {
  const { i32 } = binaryen;
  const m = mod;
  const T = plan.tokenTile;
  addLutTile(mod, plan, `${name}_t1`, 1, 'y');
  if (T > 1) addLutTile(mod, plan, `${name}_t${T}`, T, 'y');
  const f = new FnBuilder(m, [i32, i32, i32, i32, i32, i32, i32, i32, i32]);
  const get = (l: number) => f.get(l);
  const [TAB, TS, XS, Y, M] = [4, 5, 6, 7, 8];
  const call = (fn: string) =>
    m.call(
      fn,
      range(8).map((i) => get(i)),
      binaryen.none,
    );
  const adv = (k: number) => [
    f.incr(TAB, k * plan.stride.tab),
    f.incr(TS, k * plan.stride.seg),
    f.incr(XS, k * plan.stride.seg),
    f.incr(Y, k * plan.stride.y),
    f.set(M, m.i32.sub(get(M), m.i32.const(k))),
  ];
  f.finish(name, binaryen.none, tokenTileLoops(f, name, T, M, call, adv));
}

/**
 * Adds `${name}(w, tab, acc, m)`: raw accumulators for m tokens, [m][nSegments][nPad] (test hook),
 * in addLutGemm's tile plan: tiles of plan.tokenTile tokens while at least that many remain, then
 * one token at a time -- the same lookup and flush code per tile as the y-mode gemm, so a bit-exact
 * check of this hook covers the multi-token tile the gemm runs. (The vector-LUT tile has no acc
 * mode; its y is checked against combine() of these accumulators.)
 */
export function addLutAcc(mod: binaryen.Module, plan: WasmLutPlan, name: string): void {
  const { i32 } = binaryen;
  const m = mod;
  const T = plan.tokenTile;
  addLutTile(mod, plan, `${name}_t1`, 1, 'acc');
  if (T > 1) addLutTile(mod, plan, `${name}_t${T}`, T, 'acc');
  const f = new FnBuilder(m, [i32, i32, i32, i32]);
  const get = (l: number) => f.get(l);
  const [W, TAB, ACC, M] = [0, 1, 2, 3];
  const z = m.i32.const(0);
  const call = (fn: string) => m.call(fn, [get(W), z, z, z, get(TAB), z, z, get(ACC)], binaryen.none);
  const adv = (k: number) => [
    f.incr(TAB, k * plan.stride.tab),
    f.incr(ACC, k * plan.stride.acc),
    f.set(M, m.i32.sub(get(M), m.i32.const(k))),
  ];
  f.finish(name, binaryen.none, tokenTileLoops(f, name, T, M, call, adv));
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}
