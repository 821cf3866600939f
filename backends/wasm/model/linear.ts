/**
 * Float linear algebra of the whole-model module: matmul (batched, broadcasting, 1-D promotion),
 * gemm (alpha, beta, C, transposes), matmul_nbits left unlowered (its constant weights are
 * dequantized at compile time per docs/onnx-inputs.md and run as a float matmul) and dequantize_linear on
 * run-time values (per-tensor / per-axis). The matmul kernel is register-blocked f32x4 SIMD: 4 rows x
 * 8 columns of accumulators (8 v128), streaming one B row pair of vectors per k, then a 4-column
 * vector tail and scalar columns. Each output element is a sequential f32 sum over k, so its error
 * against the interpreter's f64 sum is ~sqrt(K) f32 ulps (1e-4 max|ref| holds with wide margin).
 * matmul_nbits with compute = 'i8' (the int8 path, docs/lut-format.md) runs nbitsI8Kernel instead:
 * the weights stay uint8 as stored, each row of x is quantized per block by the exact integer rule of
 * ir/ops/linear.ts quantI8 (i32 div_u / rem_u), widened to i16 once, and each block's dot product is
 * v128.load8x8_u (weights to i16x8) + i32x4.dot_i16x8_s; the per-block f32 terms are summed in the
 * interpreter's order with the same roundings (wasm has no FMA), so results equal it to the bit. In
 * the threaded module the output columns split across the threads (x quantized first, on one).
 * With runtime dims matmul, gemm (no transA; a transposed B only when constant) and matmul_nbits (a
 * runtime row count; K static) call the same blocking with runtime sizes (matmulKernelDyn);
 * dequantize_linear is LUT5004 then.
 */
import binaryen from 'binaryen';
import { dimEquals, dimMul } from '../../../ir/dim-expr.js';
import { broadcastShapes } from '../../../ir/ops/util.js';
import type { Dim, Tensor } from '../../../ir/types.js';
import { type Placement, type PlanStep, stepInput } from '../../model-plan.js';
import { type Expr, FnBuilder } from '../builder.js';
import {
  broadcastStridesD,
  type Ctx,
  contiguousD,
  type DView,
  dimsOf,
  dimVal,
  type Emit,
  emitCopy,
  emitMap,
  hasRuntimeDims,
  ifNonEmpty,
  isStaticDims,
  kindOf,
  nest,
  noRuntimeDims,
  numelD,
  numelOf,
  type StepHandler,
  unsupported,
  type View,
  viewOf,
  viewOfD,
} from './core.js';

export const LINEAR_OPS: ReadonlySet<string> = new Set(['matmul', 'gemm', 'matmul_nbits', 'dequantize_linear']);

/** Adds (once) `mm_M_K_N(a, b, c)`: C[M,N] = A[M,K] B[K,N], all row-major f32. Returns its name. */
export function matmulKernel(ctx: Ctx, M: number, K: number, N: number): string {
  const name = `mm_${M}_${K}_${N}`;
  return ctx.once(name, () => {
    const m = ctx.mod;
    const { i32, v128, f32 } = binaryen;
    const f = new FnBuilder(m, [i32, i32, i32]);
    const [A, B, C] = [0, 1, 2];
    const pa = f.local(i32),
      pb = f.local(i32),
      col = f.local(i32);
    const acc = Array.from({ length: 4 }, () => [f.local(v128), f.local(v128)]);
    const bv = [f.local(v128), f.local(v128)];
    const av = f.local(v128),
      s = f.local(f32);
    /** R rows x V vectors of columns, `blocks` column blocks from column `c0`. */
    const vecCols = (R: number, V: number, blocks: number, c0: number): Expr[] => {
      if (blocks <= 0) return [];
      const body: Expr[] = [];
      for (let r = 0; r < R; r++) for (let v = 0; v < V; v++) body.push(f.set(acc[r]![v]!, m.v128.const(new Array(16).fill(0))));
      body.push(f.set(pa, f.get(A)), f.set(pb, m.i32.add(f.get(B), f.get(col))));
      const kb: Expr[] = [];
      for (let v = 0; v < V; v++) kb.push(f.set(bv[v]!, m.v128.load(16 * v, 4, f.get(pb))));
      for (let r = 0; r < R; r++) {
        kb.push(f.set(av, m.v128.load32_splat(r * K * 4, 4, f.get(pa))));
        for (let v = 0; v < V; v++) kb.push(f.set(acc[r]![v]!, m.f32x4.add(f.get(acc[r]![v]!), m.f32x4.mul(f.get(av), f.get(bv[v]!)))));
      }
      kb.push(f.incr(pa, 4), f.incr(pb, N * 4));
      body.push(f.loop(f.local(i32), m.i32.const(K), kb));
      for (let r = 0; r < R; r++)
        for (let v = 0; v < V; v++) body.push(m.v128.store(r * N * 4 + 16 * v, 4, m.i32.add(f.get(C), f.get(col)), f.get(acc[r]![v]!)));
      body.push(f.incr(col, 16 * V));
      return [f.set(col, m.i32.const(c0 * 4)), f.loop(f.local(i32), m.i32.const(blocks), body)];
    };
    const scalarCol = (R: number, j: number): Expr[] => {
      const out: Expr[] = [];
      for (let r = 0; r < R; r++) {
        out.push(
          f.set(s, m.f32.const(0)),
          f.set(pa, m.i32.add(f.get(A), m.i32.const(r * K * 4))),
          f.set(pb, m.i32.add(f.get(B), m.i32.const(j * 4))),
        );
        out.push(
          f.loop(f.local(i32), m.i32.const(K), [
            f.set(s, m.f32.add(f.get(s), m.f32.mul(m.f32.load(0, 4, f.get(pa)), m.f32.load(0, 4, f.get(pb))))),
            f.incr(pa, 4),
            f.incr(pb, N * 4),
          ]),
        );
        out.push(m.f32.store(r * N * 4 + j * 4, 4, f.get(C), f.get(s)));
      }
      return out;
    };
    const rowBlock = (R: number): Expr[] => {
      const n8 = Math.floor(N / 8),
        n4 = Math.floor((N - 8 * n8) / 4);
      const res = [...vecCols(R, 2, n8, 0), ...vecCols(R, 1, n4, 8 * n8)];
      for (let j = 8 * n8 + 4 * n4; j < N; j++) res.push(...scalarCol(R, j));
      return res;
    };
    const body: Expr[] = [];
    const full = Math.floor(M / 4),
      rest = M % 4;
    if (full > 0) body.push(f.loop(f.local(i32), m.i32.const(full), [...rowBlock(4), f.incr(A, 16 * K), f.incr(C, 16 * N)]));
    if (rest > 0) body.push(...rowBlock(rest));
    f.finish(name, binaryen.none, body);
  });
}

/**
 * Adds (once) `mmd_{M|m}_{K|k}_{N|n}(a, b, c, m, k, n)`: matmulKernel's blocking (4 rows x 8 / 4 / 1
 * columns) with runtime sizes: the dims given as numbers are constants (the parameter is ignored),
 * the others are read from m, k, n. Any size may be 0 (k = 0 stores zeros). Returns its name.
 */
export function matmulKernelDyn(ctx: Ctx, Ms: number | undefined, Ks: number | undefined, Ns: number | undefined): string {
  const name = `mmd_${Ms ?? 'm'}_${Ks ?? 'k'}_${Ns ?? 'n'}`;
  return ctx.once(name, () => {
    const m = ctx.mod;
    const { i32, v128, f32 } = binaryen;
    const f = new FnBuilder(m, [i32, i32, i32, i32, i32, i32]);
    const [A, B, C, PM, PK, PN] = [0, 1, 2, 3, 4, 5];
    const c = (v: number) => m.i32.const(v);
    const get = (l: number) => f.get(l);
    const Kv = () => (Ks !== undefined ? c(Ks) : get(PK));
    const Nv = () => (Ns !== undefined ? c(Ns) : get(PN));
    const Mv = () => (Ms !== undefined ? c(Ms) : get(PM));
    const pa = f.local(i32),
      pb = f.local(i32),
      col = f.local(i32),
      j = f.local(i32);
    // row r of A at r * rk, of C at r * rn (bytes); rows advance by ka / nb
    const ka = f.local(i32),
      nb = f.local(i32);
    const acc = Array.from({ length: 4 }, () => [f.local(v128), f.local(v128)]);
    const bv = [f.local(v128), f.local(v128)];
    const av = f.local(v128),
      s = f.local(f32);
    const rowA = (r: number) => (r === 0 ? get(pa) : m.i32.add(get(pa), m.i32.mul(c(r), get(ka))));
    const rowC = (base: Expr, r: number) => (r === 0 ? base : m.i32.add(base, m.i32.mul(c(r), get(nb))));
    /** `for (i < count)` with a runtime count, skipped when count <= 0. */
    const loop = (count: () => Expr, body: Expr[]) => m.if(m.i32.gt_s(count(), c(0)), f.loop(f.local(i32), count(), body));
    const kLoop = (body: Expr[]) => loop(Kv, body);
    /** R rows x V vectors of columns, `blocks` column blocks from byte column `c0`. */
    const vecCols = (R: number, V: number, blocks: () => Expr, c0: () => Expr): Expr[] => {
      const body: Expr[] = [];
      for (let r = 0; r < R; r++) for (let v = 0; v < V; v++) body.push(f.set(acc[r]![v]!, m.v128.const(new Array(16).fill(0))));
      body.push(f.set(pa, get(A)), f.set(pb, m.i32.add(get(B), get(col))));
      const kb: Expr[] = [];
      for (let v = 0; v < V; v++) kb.push(f.set(bv[v]!, m.v128.load(16 * v, 4, get(pb))));
      for (let r = 0; r < R; r++) {
        kb.push(f.set(av, m.v128.load32_splat(0, 4, rowA(r))));
        for (let v = 0; v < V; v++) kb.push(f.set(acc[r]![v]!, m.f32x4.add(get(acc[r]![v]!), m.f32x4.mul(get(av), get(bv[v]!)))));
      }
      kb.push(f.incr(pa, 4), f.set(pb, m.i32.add(get(pb), get(nb))));
      body.push(kLoop(kb));
      for (let r = 0; r < R; r++)
        for (let v = 0; v < V; v++) body.push(m.v128.store(16 * v, 4, rowC(m.i32.add(get(C), get(col)), r), get(acc[r]![v]!)));
      body.push(f.incr(col, 16 * V));
      return [f.set(col, c0()), loop(blocks, body)];
    };
    const scalarCols = (R: number): Expr[] => {
      const body: Expr[] = [];
      for (let r = 0; r < R; r++) {
        body.push(f.set(s, m.f32.const(0)), f.set(pa, m.i32.add(get(A), m.i32.mul(c(r), get(ka)))), f.set(pb, m.i32.add(get(B), get(col))));
        body.push(
          kLoop([
            f.set(s, m.f32.add(get(s), m.f32.mul(m.f32.load(0, 4, get(pa)), m.f32.load(0, 4, get(pb))))),
            f.incr(pa, 4),
            f.set(pb, m.i32.add(get(pb), get(nb))),
          ]),
        );
        body.push(m.f32.store(0, 4, rowC(m.i32.add(get(C), get(col)), r), get(s)));
      }
      body.push(f.incr(col, 4));
      // columns from 4 * floor(N / 4), N % 4 of them
      return [f.set(col, m.i32.shl(m.i32.and(Nv(), c(-4)), c(2))), loop(() => m.i32.and(Nv(), c(3)), body)];
    };
    const rowBlock = (R: number): Expr[] => [
      ...vecCols(
        R,
        2,
        () => m.i32.shr_u(Nv(), c(3)),
        () => c(0),
      ),
      ...vecCols(
        R,
        1,
        () => m.i32.and(m.i32.shr_u(Nv(), c(2)), c(1)),
        () => m.i32.shl(m.i32.shr_u(Nv(), c(3)), c(5)),
      ),
      ...scalarCols(R),
    ];
    const body: Expr[] = [f.set(ka, m.i32.shl(Kv(), c(2))), f.set(nb, m.i32.shl(Nv(), c(2)))];
    const adv = (rows: number) => [
      f.set(A, m.i32.add(get(A), m.i32.mul(c(rows), get(ka)))),
      f.set(C, m.i32.add(get(C), m.i32.mul(c(rows), get(nb)))),
    ];
    if (Ms !== undefined) {
      const full = Math.floor(Ms / 4),
        rest = Ms % 4;
      if (full > 0) body.push(f.loop(j, c(full), [...rowBlock(4), ...adv(4)]));
      if (rest > 0) body.push(...rowBlock(rest));
    } else {
      body.push(loop(() => m.i32.shr_u(Mv(), c(2)), [...rowBlock(4), ...adv(4)]));
      body.push(loop(() => m.i32.and(Mv(), c(3)), [...rowBlock(1), ...adv(1)]));
    }
    f.finish(name, binaryen.none, body);
  });
}

/**
 * Batched C = A B over broadcast batch dims (sizes, batch dims and batch strides as dims): a nest of
 * kernel calls with per-operand batch strides. When every dim is a number the kernel is the static
 * mm_M_K_N (nothing for an empty C, a zero fill for K = 0); otherwise the runtime-size kernel, called
 * once over all rows when B is one matrix and A's batch is contiguous (its batch folds into M).
 */
function batchedMatmul(
  ctx: Ctx,
  f: FnBuilder,
  batch: Dim[],
  a: { addr: number; bst: Dim[] },
  b: { addr: number; bst: Dim[] },
  c: number,
  M: Dim,
  K: Dim,
  N: Dim,
): Expr {
  const m = f.mod;
  const cst = contiguousD(batch);
  let call: (pa: Expr, pb: Expr, pc: Expr) => Expr;
  if (
    typeof M === 'number' &&
    typeof K === 'number' &&
    typeof N === 'number' &&
    isStaticDims(batch) &&
    isStaticDims(a.bst) &&
    isStaticDims(b.bst)
  ) {
    const fn = matmulKernel(ctx, M, K, N);
    if (M * N === 0) return m.nop();
    if (K === 0) return m.memory.fill(m.i32.const(c), m.i32.const(0), m.i32.const(numelOf(batch) * M * N * 4));
    call = (pa, pb, pc) => m.call(fn, [pa, pb, pc], binaryen.none);
  } else {
    const fold = b.bst.every((x) => x === 0) && a.bst.every((x, i) => batch[i] === 1 || dimEquals(x, cst[i]!) === true);
    const rows = fold ? dimMul(numelD(batch), M) : M;
    const num = (d: Dim) => (typeof d === 'number' ? d : undefined);
    const fn = matmulKernelDyn(ctx, num(rows), num(K), num(N));
    call = (pa, pb, pc) => m.call(fn, [pa, pb, pc, dimVal(ctx, f, rows), dimVal(ctx, f, K), dimVal(ctx, f, N)], binaryen.none);
    if (fold) return call(m.i32.const(a.addr), m.i32.const(b.addr), m.i32.const(c));
  }
  const bytes = (st: Dim[], per: Dim) => st.map((x) => dimMul(dimMul(x, per), 4));
  const nested = nest(
    ctx,
    f,
    batch,
    [a.addr, b.addr, c],
    [bytes(a.bst, dimMul(M, K)), bytes(b.bst, dimMul(K, N)), bytes(cst, dimMul(M, N))],
    (p) => [call(f.get(p[0]!), f.get(p[1]!), f.get(p[2]!))],
  );
  return isStaticDims(batch) ? nested : ifNonEmpty(ctx, f, numelD(batch), [nested]);
}

const requireF32 = (ctx: Ctx, step: PlanStep) => {
  for (const p of step.inputs)
    if (p && kindOf(p.dtype) !== 'f32' && step.node.op !== 'matmul_nbits' && step.node.op !== 'dequantize_linear') {
      unsupported(step.node, ctx.plan.graph.meta?.file, `${step.node.op} on ${p.dtype} (only float32 kernels)`, 'LUT5055');
    }
};

/** A row-major f32 transpose of a 2-D placement into `dst` (scratch). */
function transpose2d(ctx: Ctx, f: FnBuilder, src: number, rows: number, cols: number, dst: number): Expr {
  return emitCopy(ctx, f, [cols, rows], { addr: dst, dtype: 'f32', strides: [rows, 1] }, { addr: src, dtype: 'f32', strides: [1, cols] });
}

/** Prepares a linear-algebra step. */
export const linearStep: StepHandler = (ctx, step): Emit => {
  const n = step.node;
  const file = ctx.plan.graph.meta?.file;
  requireF32(ctx, step);
  const out = step.outputs[0]!;
  if (n.op === 'matmul') {
    const [a, b] = [step.inputs[0]!, step.inputs[1]!];
    const [ad, bd] = [dimsOf(a), dimsOf(b)];
    const a2 = ad.length === 1 ? [1, ad[0]!] : ad;
    const b2 = bd.length === 1 ? [bd[0]!, 1] : bd;
    const [M, K, N] = [a2.at(-2)!, a2.at(-1)!, b2.at(-1)!];
    const batch = broadcastShapes([a2.slice(0, -2), b2.slice(0, -2)]);
    if (typeof batch === 'string') return hasRuntimeDims(step) ? noRuntimeDims(ctx, step, batch) : unsupported(n, file, batch);
    const A = { addr: ctx.addrOf(a), bst: broadcastStridesD(a2.slice(0, -2), batch) };
    const B = { addr: ctx.addrOf(b), bst: broadcastStridesD(b2.slice(0, -2), batch) };
    return (f) => [batchedMatmul(ctx, f, batch, A, B, ctx.addrOf(out), M, K, N)];
  }
  if (n.op === 'gemm') {
    const [a, b] = [step.inputs[0]!, step.inputs[1]!];
    const c = stepInput(step, 'C');
    const tA = n.attrs.transA === 1,
      tB = n.attrs.transB === 1;
    const alpha = (n.attrs.alpha as number | undefined) ?? 1,
      beta = (n.attrs.beta as number | undefined) ?? 1;
    const [ad, bd] = [dimsOf(a), dimsOf(b)];
    // a run-time transpose goes through scratch of a constant size: only without runtime dims
    if (hasRuntimeDims(step) && (tA || (tB && !b.value.const) || !isStaticDims(bd)))
      return noRuntimeDims(ctx, step, 'transA, or a run-time B');
    const M = tA ? ad[1]! : ad[0]!;
    const [K, N] = tB ? [bd[1]!, bd[0]!] : [bd[0]!, bd[1]!];
    let scr = 0;
    const aT = tA ? scr : -1;
    if (tA) scr = ctx.scratch(scr, (M as number) * (K as number) * 4);
    let bAddr = ctx.addrOf(b);
    let bT = -1;
    if (tB && b.value.const) bAddr = ctx.addExtra(transposeConst(b.value.const, N as number, K as number));
    else if (tB) {
      bT = scr;
      scr = ctx.scratch(scr, (K as number) * (N as number) * 4);
    }
    const od = dimsOf(out);
    return (f) => {
      const m = f.mod;
      const res: Expr[] = [];
      let aAddr = ctx.addrOf(a);
      if (tA) {
        aAddr = ctx.scratchBase + aT;
        res.push(transpose2d(ctx, f, ctx.addrOf(a), K as number, M as number, aAddr));
      }
      let bb = bAddr;
      if (bT >= 0) {
        bb = ctx.scratchBase + bT;
        res.push(transpose2d(ctx, f, ctx.addrOf(b), N as number, K as number, bb));
      }
      res.push(batchedMatmul(ctx, f, [], { addr: aAddr, bst: [] }, { addr: bb, bst: [] }, ctx.addrOf(out), M, K, N));
      const ov = viewOfD(ctx, out);
      if (alpha !== 1)
        res.push(
          emitMap(
            ctx,
            f,
            od,
            ov,
            [ov],
            (g) => m.f32.mul(g(0), m.f32.const(alpha)),
            (g) => m.f32x4.mul(g(0), m.f32x4.splat(m.f32.const(alpha))),
          ),
        );
      if (c && beta !== 0) {
        const cv: DView = { addr: ctx.addrOf(c), dtype: c.dtype, strides: broadcastStridesD(dimsOf(c), od) };
        res.push(
          emitMap(
            ctx,
            f,
            od,
            ov,
            [ov, cv],
            (g) => m.f32.add(g(0), m.f32.mul(g(1), m.f32.const(beta))),
            (g) => m.f32x4.add(g(0), m.f32x4.mul(g(1), m.f32x4.splat(m.f32.const(beta)))),
          ),
        );
      }
      return res;
    };
  }
  if (n.op === 'matmul_nbits' && n.attrs.compute === 'i8') return nbitsI8Step(ctx, step);
  if (n.op === 'matmul_nbits') {
    const a = step.inputs[0]!;
    const K = n.attrs.K as number,
      N = n.attrs.N as number;
    const ad = dimsOf(a);
    if (hasRuntimeDims(step) && ad.at(-1) !== K) return noRuntimeDims(ctx, step, 'a runtime dim on K');
    const w = dequantNBits(ctx, step);
    const wAddr = ctx.addExtra(new Uint8Array(w.buffer));
    const M = isStaticDims(ad) ? numelOf(ad) / K : numelD(ad.slice(0, -1));
    const bias = stepInput(step, 'bias');
    return (f) => {
      const m = f.mod;
      const res = [batchedMatmul(ctx, f, [], { addr: ctx.addrOf(a), bst: [] }, { addr: wAddr, bst: [] }, ctx.addrOf(out), M, K, N)];
      if (bias) {
        const ov = viewOfD(ctx, out, [M, N]);
        res.push(
          emitMap(
            ctx,
            f,
            [M, N],
            ov,
            [ov, { addr: ctx.addrOf(bias), dtype: bias.dtype, strides: [0, 1] }],
            (g) => m.f32.add(g(0), g(1)),
            (g) => m.f32x4.add(g(0), g(1)),
          ),
        );
      }
      return res;
    };
  }
  if (hasRuntimeDims(step)) return noRuntimeDims(ctx, step);
  if (n.op === 'dequantize_linear') {
    const x = step.inputs[0];
    const s = stepInput(step, 'x_scale'),
      z = stepInput(step, 'x_zero_point');
    if (((n.attrs.block_size as number | undefined) ?? 0) > 0 && numelOf(s!.shape) > 1)
      unsupported(n, file, 'blocked dequantize_linear on a run-time value is not supported', 'LUT5054');
    const r = x!.shape.length;
    const per = (p: Placement): number[] => {
      if (numelOf(p.shape) === 1) return new Array<number>(r).fill(0);
      const axis = (((n.attrs.axis as number | undefined) ?? 1) + r) % r;
      return x!.shape.map((_, i) => (i === axis ? 1 : 0));
    };
    const ins: View[] = [viewOf(ctx, x!), { addr: ctx.addrOf(s!), dtype: s!.dtype, strides: per(s!) }];
    if (z) ins.push({ addr: ctx.addrOf(z), dtype: z.dtype, strides: per(z) });
    return (f) => {
      const m = f.mod;
      return [
        emitMap(
          ctx,
          f,
          out.shape,
          viewOf(ctx, out),
          ins,
          (g) => m.f32.mul(z ? m.f32.sub(g(0), g(2)) : g(0), g(1)),
          undefined,
          z ? ['f32', 'f32', 'f32'] : ['f32', 'f32'],
        ),
      ];
    };
  }
  return unsupported(n, file, `op '${n.op}' is not supported`, 'LUT5003');
};

/** [rows, cols] f32 constant transposed to [cols, rows]. */
function transposeConst(t: Tensor, rows: number, cols: number): Uint8Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = t.data[r * cols + c]!;
  return new Uint8Array(out.buffer);
}

/**
 * Dequantized MatMulNBits weight W[K, N] (docs/onnx-inputs.md): q LSB-first in blobs of block_size*bits/8
 * bytes per (n, k-block); zero points packed u8 (same packing) or floats, absent = 2^(bits-1).
 */
function dequantNBits(ctx: Ctx, step: PlanStep): Float32Array {
  const n = step.node;
  const file = ctx.plan.graph.meta?.file;
  const [B, S, Z, G] = (['B', 'scales', 'zero_points', 'g_idx'] as const).map((name) => stepInput(step, name));
  if (!B?.value.const || !S?.value.const || (Z && !Z.value.const))
    unsupported(n, file, 'matmul_nbits with run-time weights is not supported', 'LUT5056');
  if (G) unsupported(n, file, 'matmul_nbits with g_idx is not supported by the wasm target', 'LUT5057');
  const K = n.attrs.K as number,
    N = n.attrs.N as number,
    bits = (n.attrs.bits as number | undefined) ?? 4,
    bs = n.attrs.block_size as number;
  const kBlocks = Math.ceil(K / bs),
    blob = (bs * bits) / 8;
  const b = B!.value.const!.data,
    s = S!.value.const!.data,
    z = Z?.value.const;
  const zpRow = Math.ceil((kBlocks * bits) / 8);
  const mask = (1 << bits) - 1;
  const w = new Float32Array(K * N);
  for (let col = 0; col < N; col++)
    for (let kb = 0; kb < kBlocks; kb++) {
      const sc = s[col * kBlocks + kb]!;
      let zp = 2 ** (bits - 1);
      if (z) zp = z.dtype === 'u8' ? (z.data[col * zpRow + ((kb * bits) >> 3)]! >> ((kb * bits) & 7)) & mask : z.data[col * kBlocks + kb]!;
      for (let i = 0; i < bs && kb * bs + i < K; i++) {
        const byte = b[(col * kBlocks + kb) * blob + ((i * bits) >> 3)]!;
        const q = (byte >> ((i * bits) & 7)) & mask;
        w[(kb * bs + i) * N + col] = Math.fround((q - zp) * sc);
      }
    }
  return w;
}

/** f32(1 / 127), as ir/ops/linear.ts I8_INV127. */
const INV127 = Math.fround(1 / 127);

/** Adds (once) `lutc_q8(xbits, amaxbits) -> a`: ir/ops/linear.ts quantI8 in i32 arithmetic. */
function q8Fn(ctx: Ctx): string {
  return ctx.once('lutc_q8', () => {
    const m = ctx.mod;
    const { i32 } = binaryen;
    const f = new FnBuilder(m, [i32, i32]);
    const [XB, AB] = [0, 1];
    const L = () => f.local(i32);
    const [ax, eA, ex, mA, mx, sh, num, den, q, r] = [L(), L(), L(), L(), L(), L(), L(), L(), L(), L()];
    const c = (v: number) => m.i32.const(v | 0);
    const g = (l: number) => f.get(l);
    const man = (b: number, e: number) => m.select(g(e), m.i32.or(m.i32.and(g(b), c(0x7fffff)), c(0x800000)), m.i32.and(g(b), c(0x7fffff)));
    const atLeast1 = (e: number) => m.select(g(e), g(e), c(1));
    f.finish('lutc_q8', i32, [
      f.set(ax, m.i32.and(g(XB), c(0x7fffffff))),
      m.if(m.i32.eqz(g(ax)), m.return(c(0))),
      f.set(eA, m.i32.shr_u(g(AB), c(23))),
      f.set(ex, m.i32.shr_u(g(ax), c(23))),
      f.set(mA, man(AB, eA)),
      f.set(mx, man(ax, ex)),
      f.set(sh, m.i32.sub(atLeast1(eA), atLeast1(ex))),
      m.if(m.i32.gt_u(g(sh), c(8)), m.return(c(0))),
      f.set(num, m.i32.mul(c(127), g(mx))),
      f.set(den, m.i32.shl(g(mA), g(sh))),
      f.set(q, m.i32.div_u(g(num), g(den))),
      f.set(r, m.i32.sub(g(num), m.i32.mul(g(q), g(den)))),
      // r > den - r, or a tie (r == den - r) with q odd: round up
      m.if(
        m.i32.or(m.i32.gt_u(g(r), m.i32.sub(g(den), g(r))), m.i32.and(m.i32.eq(g(r), m.i32.sub(g(den), g(r))), m.i32.and(g(q), c(1)))),
        f.incr(q, 1),
      ),
      m.select(m.i32.lt_s(g(XB), c(0)), m.i32.sub(c(0), g(q)), g(q)),
    ]);
  });
}

/**
 * Adds (once) `nb8_K_N_bs_z_b(x, y, m, w, s, z, bias, scr, n0, n1, q)`: the int8 path for m rows (any
 * m >= 0): when q, x's rows quantized into scr (i16 activations [m, KB * bs], then f32 block scales
 * and i32 block sums [m, KB]); then the output columns [n0, n1) from scr.
 */
function nbitsI8Kernel(ctx: Ctx, K: number, N: number, bs: number, hasZ: boolean, hasBias: boolean, Mb: number): string {
  const name = `nb8_${K}_${N}_${bs}_${hasZ ? 'z' : '-'}_${hasBias ? 'b' : '-'}_${Mb}`;
  const q8 = q8Fn(ctx);
  return ctx.once(name, () => {
    const m = ctx.mod;
    const { i32, f32, v128 } = binaryen;
    const f = new FnBuilder(m, [i32, i32, i32, i32, i32, i32, i32, i32, i32, i32, i32]);
    const [X, Y, PM, W, S, Z, BIAS, SCR, N0, N1, DOQ] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    const KB = Math.ceil(K / bs);
    const c = (v: number) => m.i32.const(v | 0);
    const g = (l: number) => f.get(l);
    const add = (a: Expr, b: Expr) => m.i32.add(a, b);
    const saBase = () => add(g(SCR), c(Mb * KB * bs * 2));
    const asBase = () => add(g(SCR), c(Mb * KB * bs * 2 + Mb * KB * 4));
    const L = () => f.local(i32);
    const [row, kb, i, px, pa, ab, b, len, v, s, n, pw, blk] = [L(), L(), L(), L(), L(), L(), L(), L(), L(), L(), L(), L(), L()];
    const [acc, sc] = [f.local(f32), f.local(f32)];
    const [vacc] = [f.local(v128)];
    const inBlock = m.i32.and(m.i32.lt_u(g(i), g(len)), m.i32.and(m.i32.ne(g(ab), c(0)), m.i32.lt_u(g(ab), c(0x7f800000))));
    // ---- quantize every row: blk = row * KB + kb; px -> x, pa -> a16
    const quant = f.loop(row, g(PM), [
      f.loop(kb, c(KB), [
        f.set(blk, add(m.i32.mul(g(row), c(KB)), g(kb))),
        f.set(px, add(g(X), m.i32.mul(add(m.i32.mul(g(row), c(K)), m.i32.mul(g(kb), c(bs))), c(4)))),
        f.set(pa, add(g(SCR), m.i32.mul(g(blk), c(bs * 2)))),
        f.set(len, m.i32.sub(c(K), m.i32.mul(g(kb), c(bs)))),
        f.set(len, m.select(m.i32.lt_s(g(len), c(bs)), g(len), c(bs))),
        f.set(ab, c(0)),
        f.loop(i, g(len), [
          f.set(b, m.i32.and(m.i32.load(0, 4, add(g(px), m.i32.shl(g(i), c(2)))), c(0x7fffffff))),
          f.set(ab, m.select(m.i32.gt_u(g(b), g(ab)), g(b), g(ab))),
        ]),
        m.f32.store(0, 4, add(saBase(), m.i32.shl(g(blk), c(2))), m.f32.mul(m.f32.reinterpret(g(ab)), m.f32.const(INV127))),
        f.set(s, c(0)),
        f.loop(i, c(bs), [
          f.set(v, c(0)),
          m.if(inBlock, f.set(v, m.call(q8, [m.i32.load(0, 4, add(g(px), m.i32.shl(g(i), c(2)))), g(ab)], i32))),
          m.i32.store16(0, 2, add(g(pa), m.i32.shl(g(i), c(1))), g(v)),
          f.set(s, add(g(s), g(v))),
        ]),
        m.i32.store(0, 4, add(asBase(), m.i32.shl(g(blk), c(2))), g(s)),
      ]),
    ]);
    // ---- one block's integer dot product: bs / 8 of (load8x8_u weights, i16 activations, dot)
    const dotBlock: Expr[] = [f.set(vacc, m.v128.const(new Array(16).fill(0)))];
    const UN = Math.min(bs / 8, 8);
    const step: Expr[] = [];
    for (let u = 0; u < UN; u++)
      step.push(f.set(vacc, m.i32x4.add(g(vacc), m.i32x4.dot_i16x8_s(m.v128.load8x8_u(8 * u, 1, g(pw)), m.v128.load(16 * u, 2, g(pa))))));
    step.push(f.incr(pw, 8 * UN), f.incr(pa, 16 * UN));
    dotBlock.push(f.repeat(bs / 8 / UN, step));
    const hsum = add(
      add(m.i32x4.extract_lane(g(vacc), 0), m.i32x4.extract_lane(g(vacc), 1)),
      add(m.i32x4.extract_lane(g(vacc), 2), m.i32x4.extract_lane(g(vacc), 3)),
    );
    const zp = hasZ ? m.i32.load8_u(0, 1, add(g(Z), add(m.i32.mul(g(n), c(KB)), g(kb)))) : c(128);
    const isum = m.i32.sub(hsum, m.i32.mul(zp, m.i32.load(0, 4, add(asBase(), m.i32.shl(g(blk), c(2))))));
    const cnt = f.local(i32);
    const cols = f.loop(cnt, m.i32.sub(g(N1), g(N0)), [
      f.set(n, add(g(N0), g(cnt))),
      f.loop(row, g(PM), [
        f.set(acc, m.f32.const(0)),
        f.set(pw, add(g(W), m.i32.mul(g(n), c(KB * bs)))),
        f.set(pa, add(g(SCR), m.i32.mul(g(row), c(KB * bs * 2)))),
        f.loop(kb, c(KB), [
          f.set(blk, add(m.i32.mul(g(row), c(KB)), g(kb))),
          ...dotBlock,
          f.set(
            sc,
            m.f32.mul(
              m.f32.load(0, 4, add(saBase(), m.i32.shl(g(blk), c(2)))),
              m.f32.load(0, 4, add(g(S), m.i32.shl(add(m.i32.mul(g(n), c(KB)), g(kb)), c(2)))),
            ),
          ),
          f.set(acc, m.f32.add(g(acc), m.f32.mul(g(sc), m.f32.convert_s.i32(isum)))),
        ]),
        m.f32.store(
          0,
          4,
          add(g(Y), m.i32.shl(add(m.i32.mul(g(row), c(N)), g(n)), c(2))),
          hasBias ? m.f32.add(g(acc), m.f32.load(0, 4, add(g(BIAS), m.i32.shl(g(n), c(2))))) : g(acc),
        ),
      ]),
    ]);
    f.finish(name, binaryen.none, [
      m.if(m.i32.gt_u(g(PM), c(0)), m.block(null, [m.if(g(DOQ), quant), m.if(m.i32.gt_s(g(N1), g(N0)), cols)])),
    ]);
  });
}

/** matmul_nbits with compute = 'i8': constant B / scales / zero points, static K, a runtime row count. */
function nbitsI8Step(ctx: Ctx, step: PlanStep): Emit {
  const n = step.node;
  const file = ctx.plan.graph.meta?.file;
  const [B, S, Z, G] = (['B', 'scales', 'zero_points', 'g_idx'] as const).map((name) => stepInput(step, name));
  if (!B?.value.const || !S?.value.const || (Z && !Z.value.const))
    unsupported(n, file, 'matmul_nbits with run-time weights is not supported', 'LUT5056');
  if (G) unsupported(n, file, 'matmul_nbits with g_idx is not supported by the wasm target', 'LUT5057');
  const a = step.inputs[0]!;
  const out = step.outputs[0]!;
  const bias = stepInput(step, 'bias');
  const [K, N, bs] = [n.attrs.K as number, n.attrs.N as number, n.attrs.block_size as number];
  const ad = dimsOf(a);
  if (hasRuntimeDims(step) && ad.at(-1) !== K) return noRuntimeDims(ctx, step, 'a runtime dim on K');
  const KB = Math.ceil(K! / bs!);
  const Mb = numelOf(a.shape) / K!;
  const M = isStaticDims(ad) ? numelOf(ad) / K! : numelD(ad.slice(0, -1));
  ctx.scratch(0, Mb * KB * bs! * 2 + Mb * KB * 8);
  return (f) => {
    const m = f.mod;
    const fn = nbitsI8Kernel(ctx, K, N, bs, !!Z, !!bias, Mb);
    const call = (pf: FnBuilder, n0: Expr, n1: Expr, quant: number) =>
      m.call(
        fn,
        [
          m.i32.const(ctx.addrOf(a)),
          m.i32.const(ctx.addrOf(out)),
          dimVal(ctx, pf, M),
          m.i32.const(ctx.addrOf(B!)),
          m.i32.const(ctx.addrOf(S!)),
          m.i32.const(Z ? ctx.addrOf(Z) : 0),
          m.i32.const(bias ? ctx.addrOf(bias) : 0),
          m.i32.const(ctx.scratchBase),
          n0,
          n1,
          m.i32.const(quant),
        ],
        binaryen.none,
      );
    if (!ctx.opts.threaded) return [call(f, m.i32.const(0), m.i32.const(N), 1)];
    // threaded module: x quantized on this thread, then the columns split evenly across the threads
    // (each column is computed by one thread in the same order: results identical for every count)
    const work = m.i32.ge_u(dimVal(ctx, f, M), m.i32.const(Math.ceil(ctx.parMinWork / (N * K))));
    const range = (pf: FnBuilder, id: number, nt: number, k: number) =>
      m.i32.div_u(m.i32.mul(m.i32.add(pf.get(id), m.i32.const(k)), m.i32.const(N)), pf.get(nt));
    const part = ctx.addPart(
      n.name,
      `part_nb8_${ctx.parts.length}_${n.name.replace(/[^A-Za-z0-9_]/g, '_')}`,
      (pf, id, nt) => [call(pf, range(pf, id, nt, 0), range(pf, id, nt, 1), 0)],
      undefined,
      work,
    );
    return [call(f, m.i32.const(0), m.i32.const(0), 1), part];
  };
}
