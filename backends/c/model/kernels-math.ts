/**
 * C kernels of the numeric graph ops (ir/ops/reduce.ts, norm.ts, linear.ts, conv.ts, quant.ts):
 * reductions (sum, mean, max, prod), softmax/log_softmax, layer_norm / simplified / skip_simplified,
 * float matmul (batched, broadcast) and gemm, conv 1-D/2-D, matmul_nbits and dequantize/quantize_linear
 * left unlowered; matmul_nbits with compute = 'i8' (8-bit weights, docs/lut-format.md §10) as the int8
 * path, bit-identical to its interpreter (exact integer quantization and dots, the same f32 steps).
 *
 * Numerics: reductions, softmax and norms accumulate in double per row exactly like the interpreters
 * (same order), so they agree to the last bit or one. Matmul/gemm/conv accumulate float32 in K order
 * (the i-k-j loop keeps the inner loop unit-stride over N, which is what vectorizes); their error
 * against the interpreter's float64 sums is bounded by K * 2^-24 * sum_k |a_k b_k| (Higham's
 * gamma_K), i.e. ~1e-5 relative for K ~ 256: inside the 1e-4 max|ref| tests.
 * Threads (emit.ts omp, with a runtime `if` under runtime dims): rows of reductions, softmax, norms,
 * matmul/gemm and conv channels; a float matmul wider than MATMUL_COLS splits (row, column block)
 * pairs, so an M = 1 lm_head splits too. Each element is computed by one thread in the serial order.
 */
import { broadcastIndex } from '../../../ir/ops/util.js';
import { inputIndex, type Placement } from '../../model-plan.js';
import {
  broadcastStrides,
  type CD,
  cLiteral,
  ctype,
  deq,
  dmul,
  intsOfConst,
  isFloatDt,
  isSym,
  normAxis,
  prod,
  type StepCtx,
  stridedLoop,
  stridesOf,
} from './cgen.js';
import { intStore, storeFromDouble } from './kernels-elementwise.js';

type Kernel = (c: StepCtx) => string;

/** Index table (static const) mapping each element of `norm` to its element of a broadcast param, or '' when trivial. */
function paramIndex(c: StepCtx, name: string, shape: readonly number[], norm: number[]): { decl: string; at: (j: string) => string } {
  const n = prod(shape);
  if (n === prod(norm)) return { decl: '', at: (j) => j };
  if (n === 1) return { decl: '', at: () => '0' };
  const idx = broadcastIndex(shape as number[], norm);
  return { decl: `static const int32_t ${name}[${idx.length}] = {${Array.from(idx).join(',')}};\n`, at: (j) => `${name}[${j}]` };
}

/** Dims `dims` of placement `p` as numbers; LUT5004 (StepCtx.staticShape) when one is a runtime dim. */
function staticDims(c: StepCtx, p: Placement, dims: CD[]): number[] {
  if (dims.some(isSym)) c.staticShape(p);
  return dims as number[];
}

/** Elements of a placement at its bounds: the size of work OpenMP thresholds are judged on. */
const boundElems = (p: Placement) => prod(p.shape);

/** `e / n` in double for a count that may be a runtime dim. */
const perCount = (e: string, n: CD) => (isSym(n) ? `${e} / (double)${n}` : `${e} / ${n}.0`);

// ---- reductions ------------------------------------------------------------------------------------

function reduce(kind: 'sum' | 'mean' | 'max' | 'prod'): Kernel {
  return (c) => {
    const xP = c.inP(0)!;
    const x = c.sh(xP);
    const out = c.outP(0);
    const r = x.length;
    const noop = c.attrs.noop_with_empty_axes === 1;
    let axes: number[] = [];
    const ai = inputIndex(c, 'axes');
    if (c.inP(ai)) {
      const t = c.constOf(ai);
      if (!t) return c.unsupported(`${c.node.op}: axes computed at run time are not supported by the C backend`);
      axes = intsOfConst(t).map((a) => normAxis(a, r));
    }
    if (axes.length === 0) {
      if (noop) return `memcpy(${c.out(0)}, ${c.in(0)}, (size_t)${c.numel(out)} * sizeof *${c.out(0)});`;
      axes = [...Array(r).keys()];
    }
    const xs = stridesOf(x);
    const keptDims = x.map((_, i) => i).filter((i) => !axes.includes(i));
    const keptShape = keptDims.map((i) => x[i]!);
    const redShape = axes.map((i) => x[i]!);
    const count = prod(redShape);
    const dt = out.dtype;
    const init = kind === 'max' ? '-1.0/0.0' : kind === 'prod' ? '1.0' : '0.0';
    const step =
      kind === 'max' ? 'acc = (acc != acc || v != v) ? (0.0/0.0) : (v > acc ? v : acc);' : kind === 'prod' ? 'acc *= v;' : 'acc += v;';
    let fin = 'acc';
    if (kind === 'mean')
      fin = isFloatDt(dt)
        ? perCount('acc', count)
        : count === 0
          ? '0.0'
          : isSym(count)
            ? `(${count} == 0 ? 0.0 : trunc(${perCount('acc', count)}))`
            : `trunc(${perCount('acc', count)})`;
    const store =
      kind === 'max' && !isFloatDt(dt)
        ? `(acc == -1.0/0.0 ? ${cLiteral(intMin(dt), dt)} : ${storeFromDouble(dt, fin)})`
        : storeFromDouble(dt, fin);
    return stridedLoop(
      keptShape,
      [{ strides: stridesOf(keptShape) }, { strides: keptDims.map((i) => xs[i]!) }],
      ([o, ib]) => `double acc = ${init};
${stridedLoop(redShape, [{ strides: axes.map((i) => xs[i]!), base: 0 }], ([ir]) => `const double v = (double)${c.in(0)}[${ib} + ${ir}];\n${step}`)}
${c.out(0)}[${o}] = ${store};`,
    );
  };
}

function intMin(dt: string): number {
  return ({ i8: -128, i16: -32768, i32: -2147483648, i64: -(2 ** 63), i4: -8 } as Record<string, number>)[dt] ?? 0;
}

// ---- softmax ---------------------------------------------------------------------------------------

function softmax(log: boolean): Kernel {
  return (c) => {
    const xP = c.inP(0)!;
    const x = c.sh(xP);
    const a = normAxis(c.attrs.axis as number, x.length);
    const len = x[a]!;
    const inner = prod(x.slice(a + 1));
    const outer = prod(x.slice(0, a));
    const T = ctype(xP.dtype);
    const X = c.in(0),
      Y = c.out(0);
    const at = (k: string) => `base + ${k} * ${inner}`;
    return `${c.omp(boundElems(xP) * 8, '', dmul(c.numel(xP), 8))}
for (ptrdiff_t r = 0; r < ${dmul(outer, inner)}; r++) {
  const ptrdiff_t base = (r / ${inner}) * ${dmul(len, inner)} + r % ${inner};
  double m = -1.0/0.0, s = 0.0;
  for (ptrdiff_t k = 0; k < ${len}; k++) { const double v = (double)${X}[${at('k')}]; m = v > m ? v : (m != m ? m : (v != v ? v : m)); }
  for (ptrdiff_t k = 0; k < ${len}; k++) s += exp((double)${X}[${at('k')}] - m);
  ${log ? 'const double ls = log(s);\n  ' : ''}for (ptrdiff_t k = 0; k < ${len}; k++) {
    const double z = (double)${X}[${at('k')}] - m;
    ${Y}[${at('k')}] = (${T})(${log ? 'z - ls' : 'exp(z) / s'});
  }
}`;
  };
}

// ---- norms -----------------------------------------------------------------------------------------

const layerNorm: Kernel = (c) => {
  const x = c.inP(0)!;
  const xs = c.sh(x);
  const axis = normAxis(c.attrs.axis as number, xs.length);
  const norm = staticDims(c, x, xs.slice(axis));
  const h = prod(norm);
  const rows = prod(xs.slice(0, axis));
  const [scale, bias] = [inputIndex(c, 'Scale'), inputIndex(c, 'B')];
  const si = paramIndex(c, 'sidx', c.staticShape(c.inP(scale)!), norm);
  const bi = c.inP(bias) ? paramIndex(c, 'bidx', c.staticShape(c.inP(bias)!), norm) : null;
  const T = ctype(x.dtype);
  const stat = (i: number, v: string) =>
    c.node.outputs[i] && c.step.outputs[i] && usedOutput(c, i) ? `${c.out(i)}[r] = (${ctype(c.outP(i).dtype)})${v};` : '';
  return `${si.decl}${bi?.decl ?? ''}${c.omp(boundElems(x) * 4, '', dmul(c.numel(x), 4))}
for (ptrdiff_t r = 0; r < ${rows}; r++) {
  const ${T} *xr = ${c.in(0)} + r * ${h};
  ${T} *yr = ${c.out(0)} + r * ${h};
  double s = 0.0, v = 0.0;
  for (ptrdiff_t j = 0; j < ${h}; j++) s += (double)xr[j];
  const double m = s / ${h}.0;
  for (ptrdiff_t j = 0; j < ${h}; j++) { const double d = (double)xr[j] - m; v += d * d; }
  const double is = 1.0 / sqrt(v / ${h}.0 + ${cLiteral(c.attrs.epsilon as number, 'f64')});
  ${stat(1, 'm')} ${stat(2, 'is')}
  for (ptrdiff_t j = 0; j < ${h}; j++)
    yr[j] = (${T})(((double)xr[j] - m) * is * (double)${c.in(scale)}[${si.at('j')}]${bi ? ` + (double)${c.in(bias)}[${bi.at('j')}]` : ''});
}`;
};

/** True when output i of the node is produced into the plan (optional outputs may be absent). */
function usedOutput(c: StepCtx, i: number): boolean {
  return i < c.step.outputs.length;
}

const rmsNorm: Kernel = (c) => {
  const x = c.inP(0)!;
  const xs = c.sh(x);
  const axis = normAxis(c.attrs.axis as number, xs.length);
  const norm = staticDims(c, x, xs.slice(axis));
  const h = prod(norm);
  const rows = prod(xs.slice(0, axis));
  const scale = inputIndex(c, 'scale');
  const si = paramIndex(c, 'sidx', c.staticShape(c.inP(scale)!), norm);
  const T = ctype(x.dtype);
  return `${si.decl}${c.omp(boundElems(x) * 4, '', dmul(c.numel(x), 4))}
for (ptrdiff_t r = 0; r < ${rows}; r++) {
  const ${T} *xr = ${c.in(0)} + r * ${h};
  ${T} *yr = ${c.out(0)} + r * ${h};
  double ss = 0.0;
  for (ptrdiff_t j = 0; j < ${h}; j++) ss += (double)xr[j] * (double)xr[j];
  const double is = 1.0 / sqrt(ss / ${h}.0 + ${cLiteral(c.attrs.epsilon as number, 'f64')});
  ${usedOutput(c, 1) ? `${c.out(1)}[r] = (${ctype(c.outP(1).dtype)})is;` : ''}
  for (ptrdiff_t j = 0; j < ${h}; j++) yr[j] = (${T})((double)xr[j] * is * (double)${c.in(scale)}[${si.at('j')}]);
}`;
};

/** S = float(input + skip) + bias, RMS-normalized (the interpreter forms S in float, as ORT). */
const skipRmsNorm: Kernel = (c) => {
  const x = c.inP(0)!;
  const xs = c.sh(x);
  const h = staticDims(c, x, xs.slice(-1))[0]!;
  const rows = prod(xs.slice(0, -1));
  const [skip, gamma, bi] = [inputIndex(c, 'skip'), inputIndex(c, 'gamma'), inputIndex(c, 'bias')];
  const skP = c.inP(skip)!;
  const ski = deq(c.numel(skP), c.numel(x)) ? null : broadcastIndex(c.staticShape(skP), c.staticShape(x));
  const T = ctype(x.dtype);
  const skDecl = ski ? `static const int32_t skidx[${ski.length}] = {${Array.from(ski).join(',')}};\n` : '';
  const skAt = ski ? 'skidx[e]' : 'e';
  const gAt = c.numel(c.inP(gamma)!) === 1 ? '0' : 'j';
  const bias = c.inP(bi) ? ` + ${c.in(bi)}[${c.numel(c.inP(bi)!) === 1 ? '0' : 'j'}]` : '';
  const sumF = c.scratch(h * 4);
  const o = (i: number) => usedOutput(c, i);
  return `${skDecl}float *sf = (float *)${sumF};
for (ptrdiff_t r = 0; r < ${rows}; r++) {
  double ss = 0.0;
  for (ptrdiff_t j = 0; j < ${h}; j++) {
    const ptrdiff_t e = r * ${h} + j;
    sf[j] = (float)(${c.in(0)}[e] + ${c.in(skip)}[${skAt}])${bias};
    ${o(3) ? `${c.out(3)}[e] = (${T})sf[j];` : ''}
    ss += (double)sf[j] * (double)sf[j];
  }
  const double is = 1.0 / sqrt(ss / ${h}.0 + ${cLiteral(c.attrs.epsilon as number, 'f64')});
  ${o(1) ? `${c.out(1)}[r] = 0.0f;` : ''} ${o(2) ? `${c.out(2)}[r] = (float)is;` : ''}
  for (ptrdiff_t j = 0; j < ${h}; j++) ${c.out(0)}[r * ${h} + j] = (${T})((double)sf[j] * is * (double)${c.in(gamma)}[${gAt}]);
}`;
};

// ---- matmul / gemm ---------------------------------------------------------------------------------

/** Accumulator type and store of a dot product per dtype: float stays float, ints wrap in 64 bits. */
function accOf(dt: string): { A: string; st: (e: string) => string; mul: (a: string, b: string) => string } {
  if (dt === 'f32' || dt === 'f16' || dt === 'bf16') return { A: 'float', st: (e) => e, mul: (a, b) => `${a} * ${b}` };
  if (dt === 'f64') return { A: 'double', st: (e) => e, mul: (a, b) => `${a} * ${b}` };
  return { A: 'uint64_t', st: (e) => intStore(dt as never, e), mul: (a, b) => `(uint64_t)${a} * (uint64_t)${b}` };
}

/**
 * Output columns per block of a float matmul wider than this (8 KiB of f32 per B row read, the
 * output block stays in L1): blocks are the parallel work with the rows. Narrower ones render as one
 * loop over rows, unchanged.
 */
const MATMUL_COLS = 2048;

const matmul: Kernel = (c) => {
  const a = c.sh(c.inP(0)!),
    b = c.sh(c.inP(1)!);
  const a2 = a.length === 1 ? [1, a[0]!] : a;
  const b2 = b.length === 1 ? [b[0]!, 1] : b;
  const [M, K, N] = [a2[a2.length - 2]!, a2[a2.length - 1]!, b2[b2.length - 1]!];
  c.requireEqual(K, b2[b2.length - 2]!);
  const rank = Math.max(a2.length, b2.length) - 2;
  const batch: CD[] = [];
  const ab = a2.slice(0, -2),
    bb = b2.slice(0, -2);
  for (let i = 0; i < rank; i++) {
    const da = ab[ab.length - rank + i] ?? 1,
      db = bb[bb.length - rank + i] ?? 1;
    batch.push(da === 1 ? db : db === 1 ? da : typeof da === 'number' && typeof db === 'number' ? Math.max(da, db) : da);
  }
  const sa = broadcastStrides(ab, batch, c.requireEqual).map((s) => dmul(s, dmul(M, K)));
  const sb = broadcastStrides(bb, batch, c.requireEqual).map((s) => dmul(s, dmul(K, N)));
  const so = stridesOf(batch).map((s) => dmul(s, dmul(M, N)));
  const [bM, bK, bN] = boundMKN(c.inP(0)!.shape, c.inP(1)!.shape);
  const dt = c.outP(0).dtype;
  const T = ctype(dt);
  const acc = accOf(dt);
  const [A, B, O] = [c.in(0), c.in(1), c.out(0)];
  // Floats accumulate straight into the output row (no stack buffer however large N is); integer
  // products wrap in 64 bits and are stored wrapped, which equals wrapping every step.
  const body = (ao: string, bo: string, oo: string) =>
    acc.A === 'uint64_t'
      ? `for (ptrdiff_t m = 0; m < ${M}; m++)
  for (ptrdiff_t n = 0; n < ${N}; n++) {
    uint64_t s = 0;
    for (ptrdiff_t k = 0; k < ${K}; k++) s += ${acc.mul(`${A}[${ao} + m * ${K} + k]`, `${B}[${bo} + k * ${N} + n]`)};
    ${O}[${oo} + m * ${N} + n] = ${acc.st('s')};
  }`
      : bN > MATMUL_COLS
        ? // wide outputs (an lm_head of M = 1): (row, column block) pairs are the parallel work, so a
          // decode step's single row splits too; each element still sums over k in order
          `${c.omp(bM * bN * bK, 'collapse(2) schedule(static)', dmul(dmul(M, N), K))}
for (ptrdiff_t m = 0; m < ${M}; m++)
  for (ptrdiff_t nb = 0; nb < ${N} / ${MATMUL_COLS} + (${N} % ${MATMUL_COLS} != 0); nb++) {
    const ptrdiff_t n0 = nb * ${MATMUL_COLS}, n1 = ${N} - n0 < ${MATMUL_COLS} ? ${N} : n0 + ${MATMUL_COLS};
    ${T} *orow = ${O} + ${oo} + m * ${N};
    const ${T} *ar = ${A} + ${ao} + m * ${K};
    for (ptrdiff_t n = n0; n < n1; n++) orow[n] = 0;
    for (ptrdiff_t k = 0; k < ${K}; k++) {
      const ${T} av = ar[k];
      const ${T} *br = ${B} + ${bo} + k * ${N};
      for (ptrdiff_t n = n0; n < n1; n++) orow[n] += av * br[n];
    }
  }`
        : `${c.omp(bM * bN * bK, 'schedule(static)', dmul(dmul(M, N), K))}
for (ptrdiff_t m = 0; m < ${M}; m++) {
  ${T} *orow = ${O} + ${oo} + m * ${N};
  const ${T} *ar = ${A} + ${ao} + m * ${K};
  for (ptrdiff_t n = 0; n < ${N}; n++) orow[n] = 0;
  for (ptrdiff_t k = 0; k < ${K}; k++) {
    const ${T} av = ar[k];
    const ${T} *br = ${B} + ${bo} + k * ${N};
    for (ptrdiff_t n = 0; n < ${N}; n++) orow[n] += av * br[n];
  }
}`;
  return stridedLoop(batch, [{ strides: sa }, { strides: sb }, { strides: so }], ([ao, bo, oo]) => body(ao!, bo!, oo!));
};

/** The bound M, K, N of a matmul's operand shapes (OpenMP thresholds). */
function boundMKN(a: number[], b: number[]): [number, number, number] {
  return [a.length === 1 ? 1 : a[a.length - 2]!, a[a.length - 1]!, b.length === 1 ? 1 : b[b.length - 1]!];
}

/** Gemm: with transB the dot products use 8 independent partial sums, a fixed order that vectorizes. */
const gemm: Kernel = (c) => {
  const a = c.sh(c.inP(0)!),
    b = c.sh(c.inP(1)!);
  const tA = c.attrs.transA !== 0,
    tB = c.attrs.transB !== 0;
  const [M, K] = tA ? [a[1]!, a[0]!] : [a[0]!, a[1]!];
  const N = tB ? b[0]! : b[1]!;
  c.requireEqual(K, tB ? b[1]! : b[0]!);
  const work = prod(c.outP(0).shape) * (tA ? c.inP(0)!.shape[0]! : c.inP(0)!.shape[1]!);
  const dt = c.outP(0).dtype;
  if (!isFloatDt(dt)) return c.unsupported(`gemm on ${dt} is not supported by the C backend (float types are)`);
  const T = ctype(dt);
  const alpha = cLiteral(c.attrs.alpha as number, 'f64'),
    beta = cLiteral(c.attrs.beta as number, 'f64');
  const ci = inputIndex(c, 'C');
  const cP = c.inP(ci);
  const cIdx = cP && (c.attrs.beta as number) !== 0 ? broadcastStrides(c.sh(cP), [M, N], c.requireEqual) : null;
  const A = (k: string) => `${c.in(0)}[${tA ? `${k} * ${M} + m` : `m * ${K} + ${k}`}]`;
  const dot = tB
    ? `for (ptrdiff_t n = 0; n < ${N}; n++) {
    const ${T} *br = ${c.in(1)} + n * ${K};
    ${T} p[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    ptrdiff_t k = 0;
    for (; k + 8 <= ${K}; k += 8)
      for (int l = 0; l < 8; l++) p[l] += ${A('(k + l)')} * br[k + l];
    ${T} s = ((p[0] + p[1]) + (p[2] + p[3])) + ((p[4] + p[5]) + (p[6] + p[7]));
    for (; k < ${K}; k++) s += ${A('k')} * br[k];
    row[n] = s;
  }`
    : `for (ptrdiff_t n = 0; n < ${N}; n++) row[n] = 0;
  for (ptrdiff_t k = 0; k < ${K}; k++) {
    const ${T} av = ${A('k')};
    const ${T} *br = ${c.in(1)} + k * ${N};
    for (ptrdiff_t n = 0; n < ${N}; n++) row[n] += av * br[n];
  }`;
  const cTerm = cIdx ? ` + ${beta} * (double)${c.in(ci)}[m * ${cIdx[0]} + n * ${cIdx[1]}]` : '';
  return `${c.omp(work, 'schedule(static)')}
for (ptrdiff_t m = 0; m < ${M}; m++) {
  ${T} *row = ${c.out(0)} + m * ${N};
  ${dot}
  for (ptrdiff_t n = 0; n < ${N}; n++) row[n] = (${T})(${alpha} * (double)row[n]${cTerm});
}`;
};

// ---- conv ------------------------------------------------------------------------------------------

const conv: Kernel = (c) => {
  const [wi, bi] = [inputIndex(c, 'W'), inputIndex(c, 'B')];
  const x = { shape: c.staticShape(c.inP(0)!), dtype: c.inP(0)!.dtype },
    w = { shape: c.staticShape(c.inP(wi)!) },
    out = { shape: c.staticShape(c.outP(0)) };
  const sp = x.shape.length - 2;
  const at = c.attrs;
  const ks = (at.kernel_shape as number[] | undefined) ?? w.shape.slice(2);
  const strides = (at.strides as number[] | undefined) ?? new Array<number>(sp).fill(1);
  const dil = (at.dilations as number[] | undefined) ?? new Array<number>(sp).fill(1);
  const pads = (at.pads as number[] | undefined) ?? new Array<number>(2 * sp).fill(0);
  const autoPad = at.auto_pad as string;
  const ax = ks.map((k, i) => {
    const inD = x.shape[2 + i]!,
      o = out.shape[2 + i]!;
    const ek = dil[i]! * (k - 1) + 1;
    let pad = autoPad === 'NOTSET' ? pads[i]! : 0;
    if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
      const total = Math.max(0, (o - 1) * strides[i]! + ek - inD);
      pad = autoPad === 'SAME_UPPER' ? Math.floor(total / 2) : Math.ceil(total / 2);
    }
    return { pad, stride: strides[i]!, dilation: dil[i]!, kernel: k, inD, o };
  });
  const unit = { pad: 0, stride: 1, dilation: 1, kernel: 1, inD: 1, o: 1 };
  const [ah, aw] = sp === 1 ? [unit, ax[0]!] : [ax[0]!, ax[1]!];
  const [N, C, M] = [x.shape[0]!, x.shape[1]!, w.shape[0]!];
  const group = at.group as number;
  const [Cg, Mg] = [C / group, M / group];
  const T = ctype(x.dtype);
  const [H, W, OH, OW] = [ah.inD, aw.inD, ah.o, aw.o];
  return `${c.omp(N * M * OH * OW * Cg * ah.kernel * aw.kernel, 'collapse(2) schedule(static)')}
for (ptrdiff_t n = 0; n < ${N}; n++)
  for (ptrdiff_t m = 0; m < ${M}; m++) {
    ${T} *acc = ${c.out(0)} + (n * ${M} + m) * ${OH * OW};
    const ptrdiff_t grp = m / ${Mg};
    for (ptrdiff_t i = 0; i < ${OH * OW}; i++) acc[i] = 0;
    for (ptrdiff_t ch = 0; ch < ${Cg}; ch++) {
      const ${T} *xb = ${c.in(0)} + (n * ${C} + grp * ${Cg} + ch) * ${H * W};
      for (ptrdiff_t kh = 0; kh < ${ah.kernel}; kh++)
        for (ptrdiff_t kw = 0; kw < ${aw.kernel}; kw++) {
          const ${T} wv = ${c.in(wi)}[((m * ${Cg} + ch) * ${ah.kernel} + kh) * ${aw.kernel} + kw];
          const ptrdiff_t offW = kw * ${aw.dilation} - ${aw.pad};
          /* output columns whose input column is inside the image: no per-element bounds test */
          ptrdiff_t owLo = offW < 0 ? (-offW + ${aw.stride - 1}) / ${aw.stride} : 0;
          ptrdiff_t owHi = (${W - 1} - offW) < 0 ? 0 : (${W - 1} - offW) / ${aw.stride} + 1;
          if (owHi > ${OW}) owHi = ${OW};
          for (ptrdiff_t oh = 0; oh < ${OH}; oh++) {
            const ptrdiff_t ih = oh * ${ah.stride} - ${ah.pad} + kh * ${ah.dilation};
            if (ih < 0 || ih >= ${H}) continue;
            const ${T} *xr = xb + ih * ${W} + offW;
            ${T} *ar = acc + oh * ${OW};
            for (ptrdiff_t ow = owLo; ow < owHi; ow++) ar[ow] += wv * xr[ow * ${aw.stride}];
          }
        }
    }
    ${c.inP(bi) ? `for (ptrdiff_t i = 0; i < ${OH * OW}; i++) acc[i] += ${c.in(bi)}[m];` : ''}
  }`;
};

// ---- quantization ops ------------------------------------------------------------------------------

/**
 * The int8 path's shared C (guarded: pasted once per model): the exact activation quantizer
 * (ir/ops/linear.ts quantI8 / quantizeI8Block, bit for bit) and the u8 x s8 block dot product, by
 * ISA: AVX-512 VNNI (_mm512_dpbusd_epi32 per 64 bytes, _mm256_dpbusd_epi32 per 32 with AVX512VL;
 * exact: no saturation), AVX2 (weights widened to i16,
 * _mm256_madd_epi16 with the activations widened once per row; maddubs would saturate at
 * 255 * 127 * 2), else portable C. A -DLUTC_ISA / --isa that pins a narrower path is followed when
 * it is defined before this text.
 */
function i8Helper(): string {
  const inv = Math.fround(1 / 127).toPrecision(9);
  return `#ifndef LUTC_I8_DONE
#define LUTC_I8_DONE
#if defined(__AVX512VNNI__) && defined(__AVX512BW__) && (!defined(LUTC_ISA) || LUTC_ISA == 2)
#  define LUTC_I8_VNNI 1
#  include <immintrin.h>
#elif defined(__AVX2__) && (!defined(LUTC_ISA) || LUTC_ISA == 1 || LUTC_ISA == 2)
#  define LUTC_I8_AVX2 1
#  include <immintrin.h>
#endif
/* a = round-half-to-even(127 * x / amax), exact, from the f32 bits (|x| <= amax, amax finite, nonzero) */
static inline int32_t lutc_q8(uint32_t xb, uint32_t ab) {
  const uint32_t ax = xb & 0x7fffffffu;
  if (ax == 0) return 0;
  const uint32_t eA = ab >> 23, ex = ax >> 23;
  const uint32_t mA = eA ? (ab & 0x7fffffu) | 0x800000u : ab & 0x7fffffu;
  const uint32_t mx = ex ? (ax & 0x7fffffu) | 0x800000u : ax & 0x7fffffu;
  const uint32_t sh = (eA ? eA : 1u) - (ex ? ex : 1u);
  if (sh > 8) return 0;
  const uint32_t num = 127u * mx, den = mA << sh;
  uint32_t q = num / den;
  const uint32_t r = num - q * den;
  if (r > den - r || (r == den - r && (q & 1u))) q++;
  return (xb >> 31) ? -(int32_t)q : (int32_t)q;
}
/* one block of len activations -> a[0..bs) (zero padded) and a16 (the same, widened); returns sum a, *sa = f32(amax * f32(1/127)) */
static int32_t lutc_q8_block(const float *x, ptrdiff_t len, ptrdiff_t bs, int8_t *a, int16_t *a16, float *sa) {
  uint32_t ab = 0;
  for (ptrdiff_t i = 0; i < len; i++) {
    uint32_t b;
    memcpy(&b, &x[i], 4);
    b &= 0x7fffffffu;
    if (b > ab) ab = b;
  }
  float amax;
  memcpy(&amax, &ab, 4);
  *sa = amax * ${inv}f;
  int32_t s = 0;
  for (ptrdiff_t i = 0; i < bs; i++) {
    int32_t v = 0;
    if (i < len && ab != 0 && ab < 0x7f800000u) {
      uint32_t b;
      memcpy(&b, &x[i], 4);
      v = lutc_q8(b, ab);
    }
    a[i] = (int8_t)v;
    a16[i] = (int16_t)v;
    s += v;
  }
  return s;
}
/* sum_i w[i] * a[i] over n (a multiple of 16) entries: exact int32 */
static inline int32_t lutc_dot_u8s8(const uint8_t *w, const int8_t *a, const int16_t *a16, ptrdiff_t n) {
  ptrdiff_t i = 0;
  int32_t s = 0;
  (void)a16;
#if defined(LUTC_I8_VNNI)
  if (n >= 64) {
    __m512i acc = _mm512_setzero_si512();
    for (; i + 64 <= n; i += 64) acc = _mm512_dpbusd_epi32(acc, _mm512_loadu_si512((const void *)(w + i)), _mm512_loadu_si512((const void *)(a + i)));
    s = _mm512_reduce_add_epi32(acc);
  }
#  if defined(__AVX512VL__)
  if (i + 32 <= n) {
    __m256i acc = _mm256_setzero_si256();
    for (; i + 32 <= n; i += 32) acc = _mm256_dpbusd_epi32(acc, _mm256_loadu_si256((const __m256i *)(w + i)), _mm256_loadu_si256((const __m256i *)(a + i)));
    __m128i h = _mm_add_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
    h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0x4e));
    h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0xb1));
    s += _mm_cvtsi128_si32(h);
  }
#  endif
#endif
#if defined(LUTC_I8_VNNI) || defined(LUTC_I8_AVX2)
  if (i + 16 <= n) {
    __m256i acc = _mm256_setzero_si256();
    for (; i + 16 <= n; i += 16) {
      const __m256i wv = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(w + i)));
      acc = _mm256_add_epi32(acc, _mm256_madd_epi16(wv, _mm256_loadu_si256((const __m256i *)(a16 + i))));
    }
    __m128i h = _mm_add_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
    h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0x4e));
    h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0xb1));
    s += _mm_cvtsi128_si32(h);
  }
#endif
  for (; i < n; i++) s += (int32_t)w[i] * (int32_t)a[i];
  return s;
}
#endif /* LUTC_I8_DONE */`;
}

/**
 * matmul_nbits with compute = 'i8' (docs/lut-format.md, the int8 path): each row of x quantized
 * per block into scratch (serial: K entries a row), then the output columns in parallel, each
 * summing its blocks' f32(f32(sa * sw) * isum) in block order exactly as the interpreter does
 * (-ffp-contract=off keeps every f32 rounding), so the result is the interpreter's to the bit.
 */
const matmulNBitsI8: Kernel = (c) => {
  const at = c.attrs;
  const [K, N, bs] = [at.K, at.N, at.block_size] as number[];
  const KB = Math.ceil(K! / bs!);
  const shape = c.sh(c.inP(0)!).slice(0, -1);
  const M = prod(shape);
  const Mb = prod(c.inP(0)!.shape.slice(0, -1));
  const [qi, si] = [inputIndex(c, 'B'), inputIndex(c, 'scales')];
  const [zi, bi] = [inputIndex(c, 'zero_points'), inputIndex(c, 'bias')];
  const zp = c.inP(zi) ? `(int32_t)${c.in(zi)}[n * ${KB} + kb]` : '128';
  c.helper(i8Helper());
  // one scratch area (per step): int8 activations, the same as int16, block scales, block sums
  const E = Mb * KB * bs!;
  const ws = c.scratch(E * 3 + Mb * KB * 8 + 64);
  const a16Off = E + (E % 2);
  const saOff = Math.ceil((a16Off + 2 * E) / 4) * 4;
  return `int8_t *aq = (int8_t *)(${ws});
int16_t *aw = (int16_t *)(${ws} + ${a16Off});
float *sa = (float *)(${ws} + ${saOff});
int32_t *as = (int32_t *)(${ws} + ${saOff + Mb * KB * 4});
for (ptrdiff_t m = 0; m < ${M}; m++)
  for (ptrdiff_t kb = 0; kb < ${KB}; kb++) {
    const ptrdiff_t len = ${K} - kb * ${bs} < ${bs} ? ${K} - kb * ${bs} : ${bs};
    as[m * ${KB} + kb] = lutc_q8_block(${c.in(0)} + m * ${K} + kb * ${bs}, len, ${bs}, aq + (m * ${KB} + kb) * ${bs}, aw + (m * ${KB} + kb) * ${bs}, &sa[m * ${KB} + kb]);
  }
${c.omp(Mb * N! * K!, 'schedule(static)', dmul(dmul(M, N!), K!))}
for (ptrdiff_t n = 0; n < ${N}; n++) {
  const uint8_t *wr = ${c.in(qi)} + n * ${KB * bs!};
  for (ptrdiff_t m = 0; m < ${M}; m++) {
    float acc = 0.0f;
    for (ptrdiff_t kb = 0; kb < ${KB}; kb++) {
      const ptrdiff_t o = (m * ${KB} + kb) * ${bs};
      const int32_t is = lutc_dot_u8s8(wr + kb * ${bs}, aq + o, aw + o, ${bs}) - ${zp} * as[m * ${KB} + kb];
      const float sc = sa[m * ${KB} + kb] * ${c.in(si)}[n * ${KB} + kb];
      acc += sc * (float)is;
    }
    ${c.out(0)}[m * ${N} + n] = ${c.inP(bi) ? `acc + ${c.in(bi)}[n]` : 'acc'};
  }
}`;
};

/** matmul_nbits not lowered (8-bit): dequantize one row of W to scratch, then dot products (compute = 'i8': matmulNBitsI8). */
const matmulNBits: Kernel = (c) => {
  if (c.attrs.compute === 'i8') return matmulNBitsI8(c);
  const at = c.attrs;
  const [K, N, bits, bs] = [at.K, at.N, at.bits, at.block_size] as number[];
  const kBlocks = Math.ceil(K! / bs!);
  const blob = (bs! * bits!) / 8;
  const zpRow = Math.ceil((kBlocks * bits!) / 8);
  const M = prod(c.sh(c.inP(0)!).slice(0, -1));
  const [qi, si] = [inputIndex(c, 'B'), inputIndex(c, 'scales')];
  const [zi, bi] = [inputIndex(c, 'zero_points'), inputIndex(c, 'bias')];
  const zp = c.inP(zi);
  const T = ctype(c.outP(0).dtype);
  let z = `${1 << (bits! - 1)}.0f`;
  if (zp && zp.dtype === 'u8')
    z = `(float)((${c.in(zi)}[n * ${zpRow} + ((kb * ${bits}) >> 3)] >> ((kb * ${bits}) & 7)) & ${(1 << bits!) - 1})`;
  else if (zp) z = `(float)${c.in(zi)}[n * ${kBlocks} + kb]`;
  const w = c.scratch(K! * 4);
  return `float *w = (float *)${w};
for (ptrdiff_t n = 0; n < ${N}; n++) {
  for (ptrdiff_t kb = 0; kb < ${kBlocks}; kb++) {
    const float sc = (float)${c.in(si)}[n * ${kBlocks} + kb], zz = ${z};
    const uint8_t *bb = ${c.in(qi)} + (n * ${kBlocks} + kb) * ${blob};
    for (ptrdiff_t i = 0; i < ${bs} && kb * ${bs} + i < ${K}; i++) {
      const int q = (bb[(i * ${bits}) >> 3] >> ((i * ${bits}) & 7)) & ${(1 << bits!) - 1};
      w[kb * ${bs} + i] = ((float)q - zz) * sc;
    }
  }
  for (ptrdiff_t m = 0; m < ${M}; m++) {
    const ${T} *ar = ${c.in(0)} + m * ${K};
    float s = 0.0f;
    for (ptrdiff_t k = 0; k < ${K}; k++) s += (float)ar[k] * w[k];
    ${c.out(0)}[m * ${N} + n] = (${T})(s${c.inP(bi) ? ` + (float)${c.in(bi)}[n]` : ''});
  }
}`;
};

/** Scale index per element for per-tensor / per-axis / blocked scales (quant.ts scaleLayout); `scale`: the scale operand's position. */
function scaleLoop(c: StepCtx, scale: number, body: (xi: string, si: string) => string): string {
  const x = c.sh(c.inP(0)!),
    s = c.sh(c.inP(scale)!);
  const bs = c.attrs.block_size as number;
  const n = prod(x);
  if (prod(s) === 1 && bs === 0) return `for (ptrdiff_t xi = 0; xi < ${n}; xi++) { ${body('xi', '0')} }`;
  const a = normAxis(c.attrs.axis as number, x.length);
  const [outer, d, inner] = [prod(x.slice(0, a)), x[a]!, prod(x.slice(a + 1))];
  const sd = s[a] ?? 1;
  const si = bs === 0 ? 'j' : `(o * ${sd} + j / ${bs}) * ${inner} + k`;
  return `for (ptrdiff_t o = 0; o < ${outer}; o++)
  for (ptrdiff_t j = 0; j < ${d}; j++)
    for (ptrdiff_t k = 0; k < ${inner}; k++) {
      const ptrdiff_t xi = (o * ${d} + j) * ${inner} + k;
      ${body('xi', si)}
    }`;
}

const dequantize: Kernel = (c) => {
  const T = ctype(c.outP(0).dtype);
  const [sc, zi] = [inputIndex(c, 'x_scale'), inputIndex(c, 'x_zero_point')];
  const zp = c.inP(zi) ? (si: string) => ` - (float)${c.in(zi)}[${si}]` : () => '';
  return scaleLoop(c, sc, (xi, si) => `${c.out(0)}[${xi}] = (${T})(((float)${c.in(0)}[${xi}]${zp(si)}) * (float)${c.in(sc)}[${si}]);`);
};

const quantize: Kernel = (c) => {
  const dt = c.outP(0).dtype;
  const r = (
    { i8: [-128, 127], u8: [0, 255], i16: [-32768, 32767], u16: [0, 65535], i4: [-8, 7], u4: [0, 15] } as Record<string, number[]>
  )[dt] ?? [0, 255];
  const [sc, zi] = [inputIndex(c, 'y_scale'), inputIndex(c, 'y_zero_point')];
  const zp = c.inP(zi) ? (si: string) => ` + (double)${c.in(zi)}[${si}]` : () => '';
  return scaleLoop(
    c,
    sc,
    (xi, si) => `{ double q = (double)rintf((float)${c.in(0)}[${xi}] / (float)${c.in(sc)}[${si}])${zp(si)};
  q = q != q ? 0.0 : q < ${r[0]} ? ${r[0]} : q > ${r[1]} ? ${r[1]} : q;
  ${c.out(0)}[${xi}] = (${ctype(dt)})q; }`,
  );
};

export const MATH_KERNELS: Record<string, Kernel> = {
  reduce_sum: reduce('sum'),
  reduce_mean: reduce('mean'),
  reduce_max: reduce('max'),
  reduce_prod: reduce('prod'),
  softmax: softmax(false),
  log_softmax: softmax(true),
  layer_norm: layerNorm,
  simplified_layer_norm: rmsNorm,
  skip_simplified_layer_norm: skipRmsNorm,
  matmul,
  gemm,
  conv,
  matmul_nbits: matmulNBits,
  dequantize_linear: dequantize,
  quantize_linear: quantize,
};
