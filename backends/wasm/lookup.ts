/**
 * The LUT-mpGEMM loop nest in WASM SIMD (render step of the wasm backend). For one tile of T tokens:
 *
 *   for each row block (16/planes rows, one 16-byte vector per chunk pair):
 *     for each table segment s:
 *       for each sub-block of <= plan.flushBound chunk pairs:     int16 accumulators, see plan.ts
 *         for each chunk pair (unrolled plan.unroll times):
 *           w = 16 packed bytes; lo = w & 15 (chunk 2cp), hi = w >> 4 (chunk 2cp+1)
 *           per token: swizzle its two chunk tables by lo / hi, combine planes, accumulate
 *         flush: int16 -> int32 rows, exact (bounds in plan.ts)
 *       epilogue: y += ((tsHalf * f32(A)) * sw) + xsum * swz    (the order of reference.ts combine())
 *     y (+ bias) stored for the row block
 *
 * Weights are read once per token tile, sequentially (layout [row block][chunk pair], one K-tile);
 * tables are re-read per row block from L1/L2. `mode: 'acc'` stores the raw per-segment accumulators
 * instead (the bit-exact test hook).
 */
import binaryen from 'binaryen';
import {
  FnBuilder, lanes16, lanes32, relaxedDot16, relaxedSwizzle, splat16, splat32, splat8, v128Bytes, v128F32, v128I16, type Expr,
} from './builder.js';
import type { WasmLutPlan } from './plan.js';

type Out = 'y' | 'acc';

/**
 * Adds `${name}(w, sw, swz, bias, tab, ts, xs, y)` computing `tokens` consecutive tokens (pointers
 * at the tile's first token; per-token strides from plan.stride). In 'acc' mode `y` receives
 * A as [token][segment][nPad] (i32, or f32 for float tables) and sw/swz/bias/ts/xs are unused.
 */
export function addLutTile(mod: binaryen.Module, plan: WasmLutPlan, name: string, tokens: number, out: Out): void {
  const { i32, v128 } = binaryen;
  const g = plan.geom;
  const m = mod;
  const f = new FnBuilder(m, [i32, i32, i32, i32, i32, i32, i32, i32]);
  const [W, SW, SWZ, BIAS, TAB, TS, XS, Y] = [0, 1, 2, 3, 4, 5, 6, 7];
  const get = (l: number) => f.get(l);
  const wp = f.local(i32), tp = f.local(i32), rowOff = f.local(i32), sOff = f.local(i32), seg = f.local(i32), rb = f.local(i32);
  const swRow = f.local(i32);
  const nOut = g.rowsPerVec / 4;
  const T = tokens;
  const yv = range(T).map(() => range(nOut).map(() => f.local(v128)));
  const a32 = range(T).map(() => range(nOut).map(() => f.local(v128)));
  const mode = plan.mode;
  const nAcc = mode === 'bias16' ? 2 : mode === 'rdot' ? 1 : 4;
  const acc = range(T).map(() => range(nAcc).map(() => f.local(v128)));
  const wv = f.local(v128), lo = f.local(v128), hi = f.local(v128), P = f.local(v128), Q = f.local(v128);
  const tmp = range(8).map(() => f.local(v128));
  const zero = () => splat32(m, 0);
  const swz = (t: Expr, idx: Expr) => (plan.relaxed ? relaxedSwizzle(m, t, idx) : m.i8x16.swizzle(t, idx));
  const add16 = (a: Expr, b: Expr) => m.i16x8.add(a, b);

  // plane weights for the relaxed i16 dot: (1,2) per plane pair; 3-bit's zero 4th plane gets 0
  const rdotW = () => v128Bytes(m, range(16).map((j) => (g.planes === 4 && g.bits === 3 && j % 4 === 3 ? 0 : j % 2 ? 2 : 1)));

  /** Lookups of one chunk pair for token t: tables at tp + t*stride.tab + off. */
  const step = (t: number, off: number): Expr[] => {
    const tOff = t * plan.stride.tab + off;
    const tb = plan.tableBytes;
    if (mode === 'f32') {
      const res: Expr[] = [];
      for (const [half, idx] of [[0, lo], [1, hi]] as const) {
        const p = range(4).map((b) => swz(m.v128.load(tOff + half * tb + 16 * b, 16, get(tp)), get(idx)));
        const lowB = range(8).flatMap((i) => [i, 16 + i]), highB = range(8).flatMap((i) => [8 + i, 24 + i]);
        // rebuild floats: bytes (b0, b1) interleaved, then (b0b1, b2b3) as 16-bit pairs
        res.push(
          f.set(P, p[0]!), f.set(Q, p[1]!),
          f.set(tmp[0]!, m.i8x16.shuffle(get(P), get(Q), lowB)), f.set(tmp[1]!, m.i8x16.shuffle(get(P), get(Q), highB)),
          f.set(P, p[2]!), f.set(Q, p[3]!),
          f.set(tmp[2]!, m.i8x16.shuffle(get(P), get(Q), lowB)), f.set(tmp[3]!, m.i8x16.shuffle(get(P), get(Q), highB)),
        );
        const w16lo = lanes16([0, 8, 1, 9, 2, 10, 3, 11]), w16hi = lanes16([4, 12, 5, 13, 6, 14, 7, 15]);
        const F = acc[t]!;
        res.push(
          f.set(F[0]!, m.f32x4.add(get(F[0]!), m.i8x16.shuffle(get(tmp[0]!), get(tmp[2]!), w16lo))),
          f.set(F[1]!, m.f32x4.add(get(F[1]!), m.i8x16.shuffle(get(tmp[0]!), get(tmp[2]!), w16hi))),
          f.set(F[2]!, m.f32x4.add(get(F[2]!), m.i8x16.shuffle(get(tmp[1]!), get(tmp[3]!), w16lo))),
          f.set(F[3]!, m.f32x4.add(get(F[3]!), m.i8x16.shuffle(get(tmp[1]!), get(tmp[3]!), w16hi))),
        );
      }
      return res;
    }
    const pa = swz(m.v128.load(tOff, 16, get(tp)), get(lo));
    const qa = swz(m.v128.load(tOff + tb, 16, get(tp)), get(hi));
    if (mode === 'rdot') {
      const R = acc[t]![0]!;
      return [f.set(R, add16(get(R), add16(relaxedDot16(m, pa, rdotW()), relaxedDot16(m, qa, rdotW()))))];
    }
    const [L, H] = acc[t] as [number, number];
    return [
      f.set(P, pa), f.set(Q, qa),
      f.set(L, add16(add16(get(L), get(P)), get(Q))),
      f.set(H, add16(add16(get(H), m.i16x8.shr_u(get(P), m.i32.const(8))), m.i16x8.shr_u(get(Q), m.i32.const(8)))),
    ];
  };

  /** Inner loop over `cp` chunk pairs. */
  const inner = (cp: number): Expr[] => {
    const U = plan.unroll;
    const body: Expr[] = [];
    for (let u = 0; u < U; u++) {
      body.push(
        f.set(wv, m.v128.load(16 * u, 16, get(wp))),
        f.set(lo, m.v128.and(get(wv), splat8(m, 15))),
        // i16 shift + the same 0x0F mask: V8 lowers i8x16.shr_u to psrlw + a re-materialized mask
        f.set(hi, m.v128.and(m.i16x8.shr_u(get(wv), m.i32.const(4)), splat8(m, 15))),
      );
      for (let t = 0; t < T; t++) body.push(...step(t, u * 2 * plan.tableBytes));
    }
    body.push(f.incr(wp, 16 * U), f.incr(tp, 2 * plan.tableBytes * U));
    return [f.repeat(cp / U, body)];
  };

  const i16Pairs = (a: Expr, b: Expr, half: 0 | 1) =>
    m.i8x16.shuffle(a, b, lanes16(half ? [4, 12, 5, 13, 6, 14, 7, 15] : [0, 8, 1, 9, 2, 10, 3, 11]));
  const dot = (a: Expr, w: number[]) => m.i32x4.dot_i16x8_s(a, v128I16(m, range(8).map((i) => w[i % 2]!)));

  /** int16 accumulators of `cp` chunk pairs -> int32 rows (a32), then reset. */
  const flush = (cp: number, single = false): Expr[] => {
    const res: Expr[] = [];
    for (let t = 0; t < T; t++) {
      const A = a32[t]!;
      const addTo = (v: number, e: Expr) => f.set(A[v]!, single ? e : m.i32x4.add(get(A[v]!), e));
      if (mode === 'bias16' && g.planes > 1 && cp <= 43) {
        // Short blocks: the plane pair's sum sE + c*sO = L - (256 - c)*H - (1 + c)*B fits i16 when
        // 762 * cp <= 32767 (|l0 + 2 l1| <= 381 per lookup), so 3 i16 ops replace the unbias +
        // shuffle + dot (c = 2; 0 for 3-bit's empty 4th plane in odd lanes).
        const [L, H] = acc[t] as [number, number];
        const B = 128 * 2 * cp;
        const c = range(8).map((l) => (g.bits === 3 && l % 2 ? 0 : 2));
        res.push(f.set(tmp[0]!, m.i16x8.sub(m.i16x8.sub(get(L), m.i16x8.mul(get(H), v128I16(m, c.map((v) => 256 - v)))), v128I16(m, c.map((v) => (1 + v) * B)))));
        if (g.planes === 2) res.push(addTo(0, m.i32x4.extend_low_i16x8_s(get(tmp[0]!))), addTo(1, m.i32x4.extend_high_i16x8_s(get(tmp[0]!))));
        else res.push(addTo(0, dot(get(tmp[0]!), [1, 4])));
        res.push(f.set(L, zero()), f.set(H, zero()));
      } else if (mode === 'bias16') {
        const [L, H] = acc[t] as [number, number];
        const sE = tmp[0]!, sO = tmp[1]!;
        const bias = splat16(m, 128 * 2 * cp); // wraps to i16 like the sums do
        res.push(
          f.set(sE, m.i16x8.sub(m.i16x8.sub(get(L), m.i16x8.shl(get(H), m.i32.const(8))), bias)),
          f.set(sO, m.i16x8.sub(get(H), splat16(m, 128 * 2 * cp))),
        );
        if (g.planes === 1) {
          res.push(f.set(tmp[2]!, i16Pairs(get(sE), get(sO), 0)), f.set(tmp[3]!, i16Pairs(get(sE), get(sO), 1)));
          res.push(
            addTo(0, m.i32x4.extend_low_i16x8_s(get(tmp[2]!))), addTo(1, m.i32x4.extend_high_i16x8_s(get(tmp[2]!))),
            addTo(2, m.i32x4.extend_low_i16x8_s(get(tmp[3]!))), addTo(3, m.i32x4.extend_high_i16x8_s(get(tmp[3]!))),
          );
        } else if (g.planes === 2) {
          res.push(addTo(0, dot(i16Pairs(get(sE), get(sO), 0), [1, 2])), addTo(1, dot(i16Pairs(get(sE), get(sO), 1), [1, 2])));
        } else {
          res.push(addTo(0, m.i32x4.add(dot(get(sE), [1, 4]), dot(get(sO), g.bits === 3 ? [2, 0] : [2, 8]))));
        }
        res.push(f.set(L, zero()), f.set(H, zero()));
      } else if (mode === 'rdot') {
        const R = acc[t]![0]!;
        if (g.planes === 2) res.push(addTo(0, m.i32x4.extend_low_i16x8_s(get(R))), addTo(1, m.i32x4.extend_high_i16x8_s(get(R))));
        else res.push(addTo(0, dot(get(R), [1, 4])));
        res.push(f.set(R, zero()));
      } else {
        // float: per-(row, plane) lane sums -> rows, scaling planes by 2^i (exact)
        const F = acc[t]!;
        const pw = g.planes === 1 ? null : g.planes === 2 ? [1, 2, 1, 2] : [1, 2, 4, g.bits === 3 ? 0 : 8];
        if (!pw) for (let v = 0; v < 4; v++) res.push(f.set(A[v]!, get(F[v]!)));
        else {
          for (let v = 0; v < 4; v++) res.push(f.set(tmp[v]!, m.f32x4.mul(get(F[v]!), v128F32(m, pw))));
          if (g.planes === 2) {
            for (let o = 0; o < 2; o++) {
              const a = get(tmp[2 * o]!), b = get(tmp[2 * o + 1]!);
              res.push(f.set(A[o]!, m.f32x4.add(m.i8x16.shuffle(a, b, lanes32([0, 2, 4, 6])), m.i8x16.shuffle(get(tmp[2 * o]!), get(tmp[2 * o + 1]!), lanes32([1, 3, 5, 7])))));
            }
          } else {
            const t4 = tmp.slice(4, 8);
            const sh = (a: number, b: number, l: number[]) => m.i8x16.shuffle(get(a), get(b), lanes32(l));
            res.push(
              f.set(t4[0]!, sh(tmp[0]!, tmp[1]!, [0, 4, 1, 5])), f.set(t4[1]!, sh(tmp[0]!, tmp[1]!, [2, 6, 3, 7])),
              f.set(t4[2]!, sh(tmp[2]!, tmp[3]!, [0, 4, 1, 5])), f.set(t4[3]!, sh(tmp[2]!, tmp[3]!, [2, 6, 3, 7])),
              f.set(A[0]!, m.f32x4.add(
                m.f32x4.add(sh(t4[0]!, t4[2]!, [0, 1, 4, 5]), sh(t4[0]!, t4[2]!, [2, 3, 6, 7])),
                m.f32x4.add(sh(t4[1]!, t4[3]!, [0, 1, 4, 5]), sh(t4[1]!, t4[3]!, [2, 3, 6, 7])))),
            );
          }
        }
        for (let v = 0; v < 4; v++) res.push(f.set(F[v]!, zero()));
      }
    }
    return res;
  };

  // one segment: sub-blocks of <= flushBound chunk pairs
  const segCP = g.segment / 8;
  const F = Math.min(segCP, plan.flushBound);
  const nFull = Math.floor(segCP / F), rem = segCP - nFull * F;
  const segBody: Expr[] = [];
  for (let t = 0; t < T; t++) for (let v = 0; v < nOut; v++) segBody.push(f.set(a32[t]![v]!, zero()));
  segBody.push(f.repeat(nFull, [...inner(F), ...flush(F, nFull === 1 && rem === 0)]));
  if (rem) segBody.push(...inner(rem), ...flush(rem));
  const segPerGroup = g.group / g.segment;
  const gi = segPerGroup === 1 ? get(seg) : m.i32.div_u(get(seg), m.i32.const(segPerGroup));
  if (out === 'y') {
    segBody.push(f.set(swRow, m.i32.add(m.i32.mul(gi, m.i32.const(g.nPad * 4)), get(rowOff))));
    for (let t = 0; t < T; t++) {
      const th = m.v128.load32_splat(t * plan.stride.seg, 4, m.i32.add(get(TS), get(sOff)));
      const xs = m.v128.load32_splat(t * plan.stride.seg, 4, m.i32.add(get(XS), get(sOff)));
      const thL = tmp[0]!, xsL = tmp[1]!;
      segBody.push(f.set(thL, th), f.set(xsL, xs));
      for (let v = 0; v < nOut; v++) {
        const a = mode === 'f32' ? get(a32[t]![v]!) : m.f32x4.convert_i32x4_s(get(a32[t]![v]!));
        const sw = m.v128.load(16 * v, 16, m.i32.add(get(SW), get(swRow)));
        const sz = m.v128.load(16 * v, 16, m.i32.add(get(SWZ), get(swRow)));
        segBody.push(f.set(yv[t]![v]!, m.f32x4.add(get(yv[t]![v]!), m.f32x4.add(m.f32x4.mul(m.f32x4.mul(get(thL), a), sw), m.f32x4.mul(get(xsL), sz)))));
      }
    }
  } else {
    // acc hook: A[token][segment][row]
    segBody.push(f.set(swRow, m.i32.add(m.i32.add(get(Y), m.i32.mul(get(seg), m.i32.const(g.nPad * 4))), get(rowOff))));
    for (let t = 0; t < T; t++) for (let v = 0; v < nOut; v++) segBody.push(m.v128.store(t * plan.stride.acc + 16 * v, 16, get(swRow), get(a32[t]![v]!)));
  }
  segBody.push(f.incr(sOff, 4));

  const rbBody: Expr[] = [];
  for (let t = 0; t < T; t++) for (let v = 0; v < nOut; v++) rbBody.push(f.set(yv[t]![v]!, zero()));
  for (let t = 0; t < T; t++) for (const a of acc[t]!) rbBody.push(f.set(a, zero()));
  rbBody.push(f.set(tp, get(TAB)), f.set(sOff, m.i32.const(0)), f.loop(seg, m.i32.const(g.nSegments), segBody));
  if (out === 'y') {
    for (let t = 0; t < T; t++)
      for (let v = 0; v < nOut; v++) {
        const bias = m.v128.load(16 * v, 16, m.i32.add(get(BIAS), get(rowOff)));
        rbBody.push(m.v128.store(t * plan.stride.y + 16 * v, 16, m.i32.add(get(Y), get(rowOff)), m.f32x4.add(get(yv[t]![v]!), bias)));
      }
  }
  rbBody.push(f.incr(rowOff, g.rowsPerVec * 4));
  f.finish(name, binaryen.none, [
    f.set(wp, get(W)), f.set(rowOff, m.i32.const(0)),
    f.loop(rb, m.i32.const(g.nRowBlocks), rbBody),
  ]);
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
  const call = (fn: string) => m.call(fn, range(8).map((i) => get(i)), binaryen.none);
  const adv = (k: number) => [f.incr(TAB, k * plan.stride.tab), f.incr(TS, k * plan.stride.seg), f.incr(XS, k * plan.stride.seg), f.incr(Y, k * plan.stride.y), f.set(M, m.i32.sub(get(M), m.i32.const(k)))];
  const lt = f.label('T'), l1 = f.label('O');
  const body: Expr[] = [];
  if (T > 1)
    body.push(m.block(lt + 'x', [m.loop(lt, m.block(null, [m.br(lt + 'x', m.i32.lt_s(get(M), m.i32.const(T))), call(`${name}_t${T}`), ...adv(T), m.br(lt)]))]));
  body.push(m.block(l1 + 'x', [m.loop(l1, m.block(null, [m.br(l1 + 'x', m.i32.le_s(get(M), m.i32.const(0))), call(`${name}_t1`), ...adv(1), m.br(l1)]))]));
  f.finish(name, binaryen.none, body);
}

/** Adds `${name}(w, tab, acc, m)`: raw accumulators for m tokens, [m][nSegments][nPad] (test hook). */
export function addLutAcc(mod: binaryen.Module, plan: WasmLutPlan, name: string): void {
  const { i32 } = binaryen;
  const m = mod;
  addLutTile(mod, plan, `${name}_t1`, 1, 'acc');
  const f = new FnBuilder(m, [i32, i32, i32, i32]);
  const get = (l: number) => f.get(l);
  const tok = f.local(i32);
  const z = m.i32.const(0);
  f.finish(name, binaryen.none, [
    m.if(m.i32.gt_s(get(3), z), f.loop(tok, get(3), [
      m.call(`${name}_t1`, [get(0), z, z, z, get(1), z, z, get(2)], binaryen.none),
      f.incr(1, plan.stride.tab), f.incr(2, plan.stride.acc),
    ])),
  ]);
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}
