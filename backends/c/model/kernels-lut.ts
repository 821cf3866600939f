/**
 * C kernels of the LUT ops in a whole model: lut.table, lut.norm_table, lut.matmul (with its fused
 * epilogue: bias, channel scale, activation, residual).
 *
 * INTERIM SCALAR PATH. backends/c/render.ts (the SIMD LUT-mpGEMM renderer) exports a fused
 * `gemm(x -> y)` whose packed layout is chosen by the C compiler's ISA at build time and which builds
 * its own tables; the model graph instead carries tables as separate values (one lut.table shared by
 * Q/K/V) and weights already packed by bitplane-layout for the node's vec_bytes / k_tile. Until that
 * renderer exports an entry that takes prebuilt tables and the graph's packed layout, these kernels
 * follow ir/lut/reference.ts operation for operation (int8 tables, int32 accumulators, the float
 * epilogue in combine()'s order), read the packed layout through geometry.ts's vectorOffset formula,
 * and so are bit-exact with the LUT interpreter under -ffp-contract=off (no FMA contraction).
 */
import { geometryOf, tableGeometry, type TableLayout } from '../../../ir/lut/attrs.js';
import { cLiteral, prod, type StepCtx } from './cgen.js';

type Kernel = (c: StepCtx) => string;

/** Table-build geometry constants of a lut.table / lut.norm_table node, as C arguments. */
function tableArgs(c: StepCtx): { k: number; seg: number; nseg: number; nchunks: number } {
  const g = tableGeometry(c.attrs.k as number, c.attrs.group_size as number);
  return { k: g.k, seg: g.segment, nseg: g.nSegments, nchunks: g.nChunks };
}

/** Table build of token t from row pointer `row` into outputs `ti` (tables), `ti+1` (tscale), `ti+2` (xsum). */
function tableCall(c: StepCtx, row: string, ti: number, m: number): string {
  const a = tableArgs(c);
  const layout = c.attrs.layout as TableLayout;
  const f32 = c.attrs.tables === 'f32';
  const base = layout === 'vec' ? 't' : `t * ${a.nchunks * 16}`;
  const stride = layout === 'vec' ? m : 1;
  const fn = f32 ? 'lutc_table_f32' : 'lutc_table_i8';
  return `${fn}(${row}, ${a.k}, ${a.seg}, ${a.nseg}, ${c.out(ti)} + ${base}, ${stride}, ${c.out(ti + 1)} + t * ${a.nseg}, ${c.out(ti + 2)} + t * ${a.nseg});`;
}

const table: Kernel = (c) => {
  const k = c.attrs.k as number;
  const m = prod(c.inP(0)!.shape) / k;
  return `${c.omp(m * k * 8)}
for (ptrdiff_t t = 0; t < ${m}; t++) ${tableCall(c, `${c.in(0)} + t * ${k}`, 0, m)}`;
};

/** Norm (the graph op's double-precision formula, see kernels-math.ts) then tables of the result. */
const normTable: Kernel = (c) => {
  const k = c.attrs.k as number;
  const m = prod(c.inP(0)!.shape) / k;
  const eps = cLiteral(c.attrs.epsilon as number, 'f64');
  const sc = prod(c.inP(1)!.shape) === 1 ? '0' : 'j';
  const bias = c.inP(2) ? ` + (double)${c.in(2)}[${prod(c.inP(2)!.shape) === 1 ? '0' : 'j'}]` : '';
  const norm = c.attrs.norm === 'rms'
    ? `double ss = 0.0;
  for (ptrdiff_t j = 0; j < ${k}; j++) ss += (double)xr[j] * (double)xr[j];
  const double is = 1.0 / sqrt(ss / ${k}.0 + ${eps});
  for (ptrdiff_t j = 0; j < ${k}; j++) yr[j] = (float)((double)xr[j] * is * (double)${c.in(1)}[${sc}]);`
    : `double s = 0.0, v = 0.0;
  for (ptrdiff_t j = 0; j < ${k}; j++) s += (double)xr[j];
  const double mu = s / ${k}.0;
  for (ptrdiff_t j = 0; j < ${k}; j++) { const double d = (double)xr[j] - mu; v += d * d; }
  const double is = 1.0 / sqrt(v / ${k}.0 + ${eps});
  for (ptrdiff_t j = 0; j < ${k}; j++) yr[j] = (float)(((double)xr[j] - mu) * is * (double)${c.in(1)}[${sc}]${bias});`;
  return `${c.omp(m * k * 8)}
for (ptrdiff_t t = 0; t < ${m}; t++) {
  const float *xr = ${c.in(0)} + t * ${k};
  float *yr = ${c.out(0)} + t * ${k};
  ${norm}
  ${tableCall(c, 'yr', 1, m)}
}`;
};

const matmul: Kernel = (c) => {
  const g = geometryOf(c.attrs);
  const out = c.outP(0);
  const m = prod(out.shape) / g.n;
  const layout = c.attrs.table_layout as TableLayout;
  const f32 = c.attrs.tables === 'f32';
  const cps = g.segment / 4;
  const spg = g.group / g.segment;
  const tq = layout === 'vec' ? (cc: string, j: string) => `${c.in(0)}[(${cc} * 16 + ${j}) * ${m} + t]` : (cc: string, j: string) => `${c.in(0)}[(t * ${g.nChunks} + ${cc}) * 16 + ${j}]`;
  const add = f32 ? `acc = acc + ${tq('cc', 'idx')} * (float)(1 << i);` : `acc += (int32_t)${tq('cc', 'idx')} * (1 << i);`;
  let epi = '';
  if (c.inP(6)) epi += `y = y + ${c.in(6)}[n];\n      `;
  if (c.inP(8)) epi += `y = y * ${c.in(8)}[n];\n      `;
  switch (c.attrs.activation) {
    case 'relu': epi += 'y = y < 0 ? 0.0f : y;\n      '; break;
    case 'sigmoid': epi += 'y = (float)lutc_sigmoid((double)y);\n      '; break;
    case 'gelu': epi += `y = (float)${c.attrs.gelu_approximate === 'tanh' ? 'lutc_gelu_tanh' : 'lutc_gelu'}((double)y);\n      `; break;
    case 'silu': epi += '{ const float sg = (float)lutc_sigmoid((double)y); y = y * sg; }\n      '; break;
    default: break;
  }
  if (c.inP(7)) epi += `y = y + ${c.in(7)}[t * ${g.n} + n];\n      `;
  return `/* N=${g.n} K=${g.k} bits=${g.bits} group=${g.group} segment=${g.segment} vec=${g.vecBytes} k_tile=${g.kTileCP} tables=${f32 ? 'f32' : 'i8'} layout=${layout} */
const uint8_t *wp = ${c.in(3)};
${c.omp(m * g.n * g.kPad * g.bits / 4, 'schedule(static)')}
for (ptrdiff_t n = 0; n < ${g.n}; n++) {
  const ptrdiff_t rb = n / ${g.rowsPerVec}, jb = (n % ${g.rowsPerVec}) * ${g.planes};
  for (ptrdiff_t t = 0; t < ${m}; t++) {
    float v = 0.0f;
    for (ptrdiff_t s = 0; s < ${g.nSegments}; s++) {
      ${f32 ? 'float acc = 0.0f;' : 'int32_t acc = 0;'}
      for (ptrdiff_t cc = s * ${cps}; cc < (s + 1) * ${cps}; cc++) {
        /* geometry.ts vectorOffset: K-tile, then row block, then chunk pair within the tile */
        const ptrdiff_t cp = cc >> 1, ts = (cp / ${g.kTileCP}) * ${g.kTileCP};
        const ptrdiff_t inTile = ${g.nChunkPairs} - ts < ${g.kTileCP} ? ${g.nChunkPairs} - ts : ${g.kTileCP};
        const uint8_t *bp = wp + (ts * ${g.nRowBlocks} + rb * inTile + (cp - ts)) * ${g.vecBytes} + jb;
        for (int i = 0; i < ${g.bits}; i++) {
          const int idx = (cc & 1) ? bp[i] >> 4 : bp[i] & 15;
          ${add}
        }
      }
      const ptrdiff_t gi = (s / ${spg}) * ${g.nPad} + n;
      v = v + ((${c.in(1)}[t * ${g.nSegments} + s] * (float)acc) * ${c.in(4)}[gi] + ${c.in(2)}[t * ${g.nSegments} + s] * ${c.in(5)}[gi]);
    }
    float y = v;
    ${epi}${c.out(0)}[t * ${g.n} + n] = y;
  }
}`;
};

export const LUT_KERNELS: Record<string, Kernel> = { 'lut.table': table, 'lut.norm_table': normTable, 'lut.matmul': matmul };

/** Table builders (reference.ts buildTablesI8 / buildTablesF32, same float operation order). */
export const LUT_HELPERS = String.raw`
/* Activation x_t of chunk c (zero past K). */
static float lutc_act(const float *x, int k, int kk) { return kk < k ? x[kk] : 0.0f; }
/* Segment sums, sequential in k. */
static void lutc_xsum(const float *x, int k, int seg, int nseg, float *xs) {
  for (int s = 0; s < nseg; s++) {
    float acc = 0.0f;
    for (int kk = s * seg; kk < (s + 1) * seg && kk < k; kk++) acc = acc + x[kk];
    xs[s] = acc;
  }
}
/* Symmetrized entries of one chunk: T'[j] = ((s0 x0 + s1 x1) + s2 x2) + s3 x3. All 16 are computed:
   T'[15-j] = -T'[j] holds in value, but not for the sign of an exact zero, and f32 tables are
   compared bit for bit with the reference. */
static void lutc_chunk(const float *x, int k, int c, float e[16]) {
  const float x0 = lutc_act(x, k, 4 * c), x1 = lutc_act(x, k, 4 * c + 1), x2 = lutc_act(x, k, 4 * c + 2), x3 = lutc_act(x, k, 4 * c + 3);
  for (int j = 0; j < 16; j++) {
    float v = (j & 1) ? x0 : -x0;
    v = v + ((j & 2) ? x1 : -x1);
    v = v + ((j & 4) ? x2 : -x2);
    v = v + ((j & 8) ? x3 : -x3);
    e[j] = v;
  }
}
static void lutc_table_f32(const float *x, int k, int seg, int nseg, float *tf, ptrdiff_t stride, float *tsc, float *xs) {
  const int nchunks = seg * nseg / 4;
  float e[16];
  for (int c = 0; c < nchunks; c++) {
    lutc_chunk(x, k, c, e);
    for (int j = 0; j < 16; j++) tf[(ptrdiff_t)(c * 16 + j) * stride] = e[j];
  }
  for (int s = 0; s < nseg; s++) tsc[s] = 0.5f;
  lutc_xsum(x, k, seg, nseg, xs);
}
static void lutc_table_i8(const float *x, int k, int seg, int nseg, int8_t *tq, ptrdiff_t stride, float *tsh, float *xs) {
  const int cps = seg / 4;
  float e[16];
  for (int s = 0; s < nseg; s++) {
    float absmax = 0.0f;
    for (int c = s * cps; c < (s + 1) * cps; c++) {
      const float v = ((fabsf(lutc_act(x, k, 4 * c)) + fabsf(lutc_act(x, k, 4 * c + 1))) + fabsf(lutc_act(x, k, 4 * c + 2))) + fabsf(lutc_act(x, k, 4 * c + 3));
      if (v > absmax) absmax = v;
    }
    const float inv = absmax > 0.0f ? 127.0f / absmax : 0.0f;
    tsh[s] = (absmax / 127.0f) * 0.5f;
    for (int c = s * cps; c < (s + 1) * cps; c++) {
      lutc_chunk(x, k, c, e);
      for (int j = 0; j < 16; j++) {
        float q = rintf(e[j] * inv); /* round half to even: the default rounding mode */
        q = q > 127.0f ? 127.0f : q < -127.0f ? -127.0f : q;
        tq[(ptrdiff_t)(c * 16 + j) * stride] = (int8_t)q;
      }
    }
  }
  lutc_xsum(x, k, seg, nseg, xs);
}
`;
