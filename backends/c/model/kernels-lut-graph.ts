/**
 * The graph form of the LUT IR in whole-model C: portable scalar C99 kernels of lut.table,
 * lut.norm_table and lut.matmul, for hand-written IR (`lutc compile file.lut --target c`; the pipeline
 * gives C one lut.gemm per layer instead, kernels-lut.ts). Each is ir/lut/interp.ts's kernel written
 * out operation for operation (ir/lut/reference.ts), so its int8 tables, table scales and integer
 * accumulators are the interpreter's bit for bit:
 *
 * - lut.table: symmetrized entries T'[m,c,j] summed in reference.ts's fixed order, f32 (tscale 0.5) or
 *   int8 (absmax per segment, inv = 127/absmax, round half to even, clamp to +-127, tsHalf), and the
 *   segment sums xsum sequential in k; tables stored in the node's `layout` (token [M, C, 16] or vec
 *   [C, 16, M]), exactly the graph tensor.
 * - lut.norm_table: the graph norm op's own C kernel (kernels-math.ts, on a view of the node with only
 *   y as output), then the table build of y.
 * - lut.matmul: lookups through the packed bit-plane layout of ir/lut/geometry.ts for the node's
 *   geometry (any bits, vec_bytes, k_tile: vectorOffset / packedIndex written in C), combine()'s float
 *   order y = sum_s (fround(tsHalf * A) * sw + xsum * swz) + bias, then the fused epilogue's graph-op
 *   stages (ir/lut/epilogue.ts), each kernels-elementwise.ts's expression for that op.
 *
 * Numerics need the model's -ffp-contract=off (harness.ts): one rounding per float operation.
 * Operands may be constants or run-time values alike (the kernels only read pointers).
 */
import { geometryOf, type TableLayout, tableGeometry, tableLead } from '../../../ir/lut/attrs.js';
import { EPILOGUE_OPERAND, epilogueStages, foldStages } from '../../../ir/lut/epilogue.js';
import { prod, type StepCtx } from './cgen.js';
import { floatBinaryExpr, unaryExpr } from './kernels-elementwise.js';
import { MATH_KERNELS } from './kernels-math.js';

type Kernel = (c: StepCtx) => string;

/** C statements building the tables of `m` rows of k f32 at `x` into `tab`, `ts`, `xs` (interp.ts buildTables). */
function tableBuild(c: StepCtx, x: string, m: number, tab: string, ts: string, xs: string): string {
  const a = c.attrs;
  const k = a.k as number;
  const g = tableGeometry(k, a.group_size as number);
  const f32 = a.tables === 'f32';
  const vec = (a.layout as TableLayout) === 'vec';
  const at = (cc: string, j: string) => (vec ? `((${cc}) * 16 + ${j}) * ${m} + mi` : `(mi * ${g.nChunks} + ${cc}) * 16 + ${j}`);
  const cps = g.segment / 4;
  const entries = `float v = (j & 1) ? a0 : -a0;
      v = v + ((j & 2) ? a1 : -a1);
      v = v + ((j & 4) ? a2 : -a2);
      v = v + ((j & 8) ? a3 : -a3);`;
  const chunk = `const float a0 = 4 * cc + 0 < ${k} ? xr[4 * cc + 0] : 0.0f, a1 = 4 * cc + 1 < ${k} ? xr[4 * cc + 1] : 0.0f;
    const float a2 = 4 * cc + 2 < ${k} ? xr[4 * cc + 2] : 0.0f, a3 = 4 * cc + 3 < ${k} ? xr[4 * cc + 3] : 0.0f;`;
  const body = f32
    ? `${ts}[mi * ${g.nSegments} + s] = 0.5f;
  for (ptrdiff_t cc = s * ${cps}; cc < (s + 1) * ${cps}; cc++) {
    ${chunk}
    for (int j = 0; j < 16; j++) {
      ${entries}
      ${tab}[${at('cc', 'j')}] = v;
    }
  }`
    : `float absmax = 0.0f;
  for (ptrdiff_t cc = s * ${cps}; cc < (s + 1) * ${cps}; cc++) {
    ${chunk}
    const float v = ((fabsf(a0) + fabsf(a1)) + fabsf(a2)) + fabsf(a3);
    if (v > absmax) absmax = v;
  }
  const float inv = absmax > 0.0f ? 127.0f / absmax : 0.0f;
  ${ts}[mi * ${g.nSegments} + s] = (absmax / 127.0f) * 0.5f;
  for (ptrdiff_t cc = s * ${cps}; cc < (s + 1) * ${cps}; cc++) {
    ${chunk}
    for (int j = 0; j < 16; j++) {
      ${entries}
      float q = nearbyintf(v * inv); /* round half to even (the default rounding mode) */
      q = q > 127.0f ? 127.0f : q < -127.0f ? -127.0f : q;
      ${tab}[${at('cc', 'j')}] = (int8_t)q;
    }
  }`;
  return `/* tables: K=${k} group=${String(a.group_size)} ${f32 ? 'f32' : 'i8'} ${vec ? 'vec' : 'token'} layout, ${g.nChunks} chunks, ${g.nSegments} segments of ${g.segment} */
${c.omp(m * g.kPad * 16)}
for (ptrdiff_t mi = 0; mi < ${m}; mi++) {
  const float *xr = ${x} + mi * ${k};
  for (ptrdiff_t s = 0; s < ${g.nSegments}; s++) {
    float acc = 0.0f;
    for (ptrdiff_t kk = s * ${g.segment}; kk < (s + 1) * ${g.segment} && kk < ${k}; kk++) acc = acc + xr[kk];
    ${xs}[mi * ${g.nSegments} + s] = acc;
  }
  for (ptrdiff_t s = 0; s < ${g.nSegments}; s++) {
  ${body}
  }
}`;
}

/** Rows of k activations in input 0, checked against the node's k. */
function rowsOf(c: StepCtx): number {
  const k = c.attrs.k as number;
  const x = c.staticShape(c.inP(0)!);
  if (x[x.length - 1] !== k) c.unsupported(`${c.node.op}: activations [${x}] do not end in K=${k}`);
  return prod(x) / k;
}

const lutTable: Kernel = (c) => tableBuild(c, c.in(0), rowsOf(c), c.out(0), c.out(1), c.out(2));

const lutNormTable: Kernel = (c) => {
  const a = c.attrs;
  const op = a.norm === 'rms' ? 'simplified_layer_norm' : 'layer_norm';
  // The graph norm's own kernel on a view of this node whose only output is y (o0).
  const norm = MATH_KERNELS[op]!({
    ...c,
    node: { ...c.node, op, outputs: c.node.outputs.slice(0, 1) },
    step: { ...c.step, outputs: c.step.outputs.slice(0, 1) },
    attrs: { axis: a.axis!, epsilon: a.epsilon!, stash_type: a.stash_type! },
  });
  return `${norm}\n${tableBuild(c, c.out(0), rowsOf(c), c.out(1), c.out(2), c.out(3))}`;
};

const lutMatmul: Kernel = (c) => {
  const a = c.attrs;
  const g = geometryOf(a);
  const layout = a.table_layout as TableLayout;
  const f32 = a.tables === 'f32';
  const m = prod(tableLead(c.staticShape(c.inP(0)!), layout) as number[]);
  const n = g.n;
  const cps = g.segment / 4;
  const tab = (cc: string, j: string) =>
    layout === 'vec' ? `((${cc}) * 16 + ${j}) * ${m} + mi` : `(mi * ${g.nChunks} + ${cc}) * 16 + ${j}`;
  const bias = c.inP(EPILOGUE_OPERAND.bias) ? c.in(EPILOGUE_OPERAND.bias) : null;
  // Fused epilogue stages after combine + bias, in interpMatmul's order; value 0 is y.
  const stages = epilogueStages(a, (i) => !!c.inP(i));
  let epi = '';
  const operand = (i: number) => (i === EPILOGUE_OPERAND.channel_scale ? `${c.in(i)}[n]` : `${c.in(i)}[mi * ${n} + n]`);
  const last = foldStages(stages, 'y', operand, (s, args, i) => {
    const e = args.length === 1 ? unaryExpr(s.op, 'f32', s.attrs, args[0]!) : floatBinaryExpr(s.op, args[0]!, args[1]!);
    if (e === undefined) c.unsupported(`lut.matmul epilogue stage '${s.op}' has no C rendering`);
    epi += `const float v${i + 1} = ${e};\n    `;
    return `v${i + 1}`;
  });
  // vectorOffset of ir/lut/geometry.ts (one chunk pair per vector): K-tile, row block, vector in tile.
  const tv = g.kTileCP;
  return `/* lut.matmul N=${n} K=${g.k} bits=${g.bits} group=${g.group} ${f32 ? 'f32' : 'i8'} tables (${layout}), vec_bytes ${g.vecBytes}, K-tile ${tv} of ${g.nChunkPairs} chunk pairs, M=${m} */
${c.omp(m * n * g.kPad * g.bits)}
for (ptrdiff_t mi = 0; mi < ${m}; mi++)
  for (ptrdiff_t n = 0; n < ${n}; n++) {
    const ptrdiff_t rb = n / ${g.rowsPerVec}, jr = (n % ${g.rowsPerVec}) * ${g.planes};
    float y = 0.0f;
    for (ptrdiff_t s = 0; s < ${g.nSegments}; s++) {
      ${f32 ? 'float' : 'int32_t'} acc = 0;
      for (ptrdiff_t cc = s * ${cps}; cc < (s + 1) * ${cps}; cc++) {
        const ptrdiff_t cp = cc >> 1, t0 = (cp / ${tv}) * ${tv};
        const ptrdiff_t vin = ${tv} < ${g.nChunkPairs} - t0 ? ${tv} : ${g.nChunkPairs} - t0;
        const uint8_t *wb = ${c.in(3)} + (t0 * ${g.nRowBlocks} + rb * vin + (cp - t0)) * ${g.vecBytes} + jr;
        for (int i = 0; i < ${g.bits}; i++) {
          const unsigned idx = (cc & 1) ? (unsigned)(wb[i] >> 4) : (unsigned)(wb[i] & 15u);
          ${f32 ? `acc = acc + ${c.in(0)}[${tab('cc', 'idx')}] * (float)(1 << i);` : `acc += (int32_t)${c.in(0)}[${tab('cc', 'idx')}] * (1 << i);`}
        }
      }
      const ptrdiff_t gi = s / ${g.group / g.segment};
      const float ta = (float)((double)${c.in(1)}[mi * ${g.nSegments} + s] * (double)acc); /* one rounding, as fround(th * A) */
      y = y + (ta * ${c.in(4)}[gi * ${g.nPad} + n] + ${c.in(2)}[mi * ${g.nSegments} + s] * ${c.in(5)}[gi * ${g.nPad} + n]);
    }
    ${bias ? `y = y + ${bias}[n];\n    ` : ''}${epi}${stages.length ? `y = ${last};\n    ` : ''}${c.out(0)}[mi * ${n} + n] = y;
  }`;
};

/** The graph-form LUT kernels, by op (added to emit.ts's kernel table). */
export const LUT_GRAPH_KERNELS: Record<string, Kernel> = {
  'lut.table': lutTable,
  'lut.norm_table': lutNormTable,
  'lut.matmul': lutMatmul,
};
