/**
 * Table build in WASM SIMD, following ir/lut/reference.ts operation for operation so int8 tables and
 * f32 tables are bit-identical to the oracle:
 *   pass 1 per segment: absmax = max_c ((|x0|+|x1|)+|x2|)+|x3| (4 chunks at a time after a 4x4
 *     transpose, lanes = chunks), xsum (lane-wise then ((l0+l1)+l2)+l3: NOT the reference's sequential
 *     order, the one float in the kernel that may differ), tsHalf = (absmax/127)*0.5, inv = 127/absmax.
 *   pass 2 per chunk: entries 0..7 as two f32x4: ((±x0 ± x1) ± x2) − x3 with sign vectors (sign flips
 *     are exact), quantized with f32x4.nearest (ties to even) and saturating narrows; entries 8..15
 *     are −T[7..0] (the symmetrization is exact in float and in int8).
 * f32 tables store each chunk as 4 byte planes (byte b of entries 0..15) so lookups can swizzle them.
 */
import binaryen from 'binaryen';
import { type Expr, FnBuilder, lanes32, splat8, splat32, v128I32 } from './builder.js';
import type { WasmLutPlan } from './plan.js';

const SIGN = -0x80000000;

/**
 * Adds `${name}(x, tab, ts, xs, m)`: builds tables for m tokens. x: [m][kPad] f32 zero-padded;
 * tab: [m][nChunks][tableBytes]; ts, xs: [m][nSegments] f32 (tsHalf and xsum).
 */
export function addTableBuild(mod: binaryen.Module, plan: WasmLutPlan, name: string): void {
  const { i32, v128 } = binaryen;
  const g = plan.geom;
  const f = new FnBuilder(mod, [i32, i32, i32, i32, i32]);
  const [X, TAB, TS, XS, M] = [0, 1, 2, 3, 4];
  const xp = f.local(i32),
    tp = f.local(i32),
    tok = f.local(i32),
    seg = f.local(i32);
  const xseg = f.local(i32);
  const mx = f.local(v128),
    xsv = f.local(v128),
    inv = f.local(v128),
    absmax = f.local(binaryen.f32);
  const A = [f.local(v128), f.local(v128), f.local(v128), f.local(v128)];
  const T = [f.local(v128), f.local(v128), f.local(v128), f.local(v128)];
  const cx = f.local(v128),
    s1 = f.local(binaryen.f32);
  const m = mod;
  const get = (l: number) => f.get(l);
  const segChunks = g.segment / 4;
  const i8 = plan.tables === 'i8';

  // ---- pass 1: absmax and xsum of one segment starting at xseg
  const quads = Math.floor(segChunks / 4),
    rest = segChunks % 4;
  const quadBody: Expr[] = [];
  for (let c = 0; c < 4; c++) quadBody.push(f.set(A[c]!, m.v128.load(16 * c, 16, get(xp))));
  quadBody.push(f.set(xsv, m.f32x4.add(m.f32x4.add(m.f32x4.add(m.f32x4.add(get(xsv), get(A[0]!)), get(A[1]!)), get(A[2]!)), get(A[3]!))));
  if (i8) {
    for (let c = 0; c < 4; c++) quadBody.push(f.set(A[c]!, m.f32x4.abs(get(A[c]!))));
    // 4x4 transpose: T[t] = lane t of chunks 0..3
    quadBody.push(
      f.set(T[0]!, m.i8x16.shuffle(get(A[0]!), get(A[1]!), lanes32([0, 4, 1, 5]))),
      f.set(T[1]!, m.i8x16.shuffle(get(A[0]!), get(A[1]!), lanes32([2, 6, 3, 7]))),
      f.set(T[2]!, m.i8x16.shuffle(get(A[2]!), get(A[3]!), lanes32([0, 4, 1, 5]))),
      f.set(T[3]!, m.i8x16.shuffle(get(A[2]!), get(A[3]!), lanes32([2, 6, 3, 7]))),
      f.set(A[0]!, m.i8x16.shuffle(get(T[0]!), get(T[2]!), lanes32([0, 1, 4, 5]))),
      f.set(A[1]!, m.i8x16.shuffle(get(T[0]!), get(T[2]!), lanes32([2, 3, 6, 7]))),
      f.set(A[2]!, m.i8x16.shuffle(get(T[1]!), get(T[3]!), lanes32([0, 1, 4, 5]))),
      f.set(A[3]!, m.i8x16.shuffle(get(T[1]!), get(T[3]!), lanes32([2, 3, 6, 7]))),
      f.set(mx, m.f32x4.max(get(mx), m.f32x4.add(m.f32x4.add(m.f32x4.add(get(A[0]!), get(A[1]!)), get(A[2]!)), get(A[3]!)))),
    );
  }
  quadBody.push(f.incr(xp, 64));
  const restBody: Expr[] = [f.set(cx, m.v128.load(0, 16, get(xp))), f.set(xsv, m.f32x4.add(get(xsv), get(cx)))];
  if (i8) {
    const lane = (l: number) => m.f32x4.extract_lane(m.f32x4.abs(get(cx)), l);
    restBody.push(
      f.set(s1, m.f32.add(m.f32.add(m.f32.add(lane(0), lane(1)), lane(2)), lane(3))),
      f.set(absmax, m.f32.max(get(absmax), get(s1))),
    );
  }
  restBody.push(f.incr(xp, 16));
  const hsum = (v: number, op: 'add' | 'max') => {
    const l = (i: number) => m.f32x4.extract_lane(get(v), i);
    return op === 'add' ? m.f32.add(m.f32.add(m.f32.add(l(0), l(1)), l(2)), l(3)) : m.f32.max(m.f32.max(l(0), l(1)), m.f32.max(l(2), l(3)));
  };
  const pass1: Expr[] = [
    f.set(xp, get(xseg)),
    f.set(mx, splat32(m, 0)),
    f.set(xsv, splat32(m, 0)),
    f.set(absmax, m.f32.const(0)),
    f.repeat(quads, quadBody),
    f.repeat(rest, restBody),
    m.f32.store(0, 4, get(XS), hsum(xsv, 'add')),
  ];
  if (i8) {
    pass1.push(
      f.set(absmax, m.f32.max(get(absmax), hsum(mx, 'max'))),
      m.f32.store(0, 4, get(TS), m.f32.mul(m.f32.div(get(absmax), m.f32.const(127)), m.f32.const(0.5))),
      f.set(inv, m.f32x4.splat(m.select(m.f32.gt(get(absmax), m.f32.const(0)), m.f32.div(m.f32.const(127), get(absmax)), m.f32.const(0)))),
    );
  } else {
    pass1.push(m.f32.store(0, 4, get(TS), m.f32.const(0.5)));
  }

  // ---- pass 2: tables of each chunk of the segment
  const splatLane = (v: number, l: number) => m.i8x16.shuffle(get(v), get(v), lanes32([l, l, l, l]));
  const X0 = f.local(v128),
    X1 = f.local(v128),
    X2 = f.local(v128),
    X3 = f.local(v128),
    ab = f.local(v128);
  const v0 = f.local(v128),
    v1 = f.local(v128),
    b8 = f.local(v128);
  const chunk: Expr[] = [
    f.set(cx, m.v128.load(0, 16, get(xp))),
    f.set(X0, splatLane(cx, 0)),
    f.set(X1, splatLane(cx, 1)),
    f.set(X2, splatLane(cx, 2)),
    f.set(X3, splatLane(cx, 3)),
    // entry j = 0..3: x0 sign from bit 0, x1 sign from bit 1 (negative where the bit is 0)
    f.set(ab, m.f32x4.add(m.v128.xor(get(X0), v128I32(m, [SIGN, 0, SIGN, 0])), m.v128.xor(get(X1), v128I32(m, [SIGN, SIGN, 0, 0])))),
    f.set(v0, m.f32x4.sub(m.f32x4.sub(get(ab), get(X2)), get(X3))),
    f.set(v1, m.f32x4.sub(m.f32x4.add(get(ab), get(X2)), get(X3))),
  ];
  if (i8) {
    const q = (v: number) => m.i32x4.trunc_sat_f32x4_s(m.f32x4.nearest(m.f32x4.mul(get(v), get(inv))));
    chunk.push(f.set(b8, m.i8x16.narrow_i16x8_s(m.i16x8.narrow_i32x4_s(q(v0), q(v1)), splat32(m, 0))));
    // entries 8..15 = -entries 7..0
    let full = m.i8x16.shuffle(get(b8), m.i8x16.neg(get(b8)), [0, 1, 2, 3, 4, 5, 6, 7, 23, 22, 21, 20, 19, 18, 17, 16]);
    if (plan.tableBias) full = m.v128.xor(full, splat8(m, 0x80));
    chunk.push(m.v128.store(0, 16, get(tp), full));
  } else {
    const rev = lanes32([3, 2, 1, 0]);
    const v2 = f.local(v128),
      v3 = f.local(v128),
      G = f.local(v128),
      H = f.local(v128),
      G2 = f.local(v128),
      H2 = f.local(v128);
    chunk.push(
      f.set(v2, m.f32x4.neg(m.i8x16.shuffle(get(v1), get(v1), rev))),
      f.set(v3, m.f32x4.neg(m.i8x16.shuffle(get(v0), get(v0), rev))),
    );
    // byte-plane transpose: plane b = byte b of entries 0..15
    const pick = (b0: number, b1: number) =>
      [0, 1, 2, 3, 4, 5, 6, 7].map((e) => 4 * e + b0).concat([0, 1, 2, 3, 4, 5, 6, 7].map((e) => 4 * e + b1));
    chunk.push(
      f.set(G, m.i8x16.shuffle(get(v0), get(v1), pick(0, 1))),
      f.set(H, m.i8x16.shuffle(get(v0), get(v1), pick(2, 3))),
      f.set(G2, m.i8x16.shuffle(get(v2), get(v3), pick(0, 1))),
      f.set(H2, m.i8x16.shuffle(get(v2), get(v3), pick(2, 3))),
    );
    const lo = [0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23],
      hi = lo.map((v) => v + 8);
    chunk.push(
      m.v128.store(0, 16, get(tp), m.i8x16.shuffle(get(G), get(G2), lo)),
      m.v128.store(16, 16, get(tp), m.i8x16.shuffle(get(G), get(G2), hi)),
      m.v128.store(32, 16, get(tp), m.i8x16.shuffle(get(H), get(H2), lo)),
      m.v128.store(48, 16, get(tp), m.i8x16.shuffle(get(H), get(H2), hi)),
    );
  }
  chunk.push(f.incr(xp, 16), f.incr(tp, plan.tableBytes));

  const segBody: Expr[] = [
    ...pass1,
    f.set(xp, get(xseg)),
    f.repeat(segChunks, chunk),
    f.incr(xseg, g.segment * 4),
    f.incr(TS, 4),
    f.incr(XS, 4),
  ];
  const tokBody: Expr[] = [
    f.set(xseg, get(X)),
    f.set(tp, get(TAB)),
    f.loop(seg, m.i32.const(g.nSegments), segBody),
    f.incr(X, plan.stride.x),
    f.incr(TAB, plan.stride.tab),
  ];
  f.finish(name, binaryen.none, [m.if(m.i32.gt_s(get(M), m.i32.const(0)), f.loop(tok, get(M), tokBody))]);
}
