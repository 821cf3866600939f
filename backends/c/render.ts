/**
 * The C renderer of one LUT-mpGEMM layer. It takes a legalized kernel plan (today: the geometry of
 * ir/lut/geometry.ts plus table mode and symbol prefix) and returns C text in two parts, so that the
 * kernel-only mode (kernel.ts) and a later whole-model emitter can both call it: `decls` for a header
 * and `defs` for a translation unit. Several kernels may share one translation unit: each body
 * defines its G_* geometry macros and undefines them at the end, and its functions carry the prefix.
 */
import { fail } from '../../base/diagnostics.js';
import type { KernelRequest } from '../../compiler/options.js';
import { type Bits, type LutGeometry, lutGeometry } from '../../ir/lut/geometry.js';
import { C_ACCUM } from './csrc-accum.js';
import { C_AVX512 } from './csrc-avx512.js';
import { C_DECLS, C_DRIVER } from './csrc-driver.js';
import { type CIsa, cPrelude } from './csrc-prelude.js';
import { C_TABLES } from './csrc-tables.js';

/** What the C renderer needs for one layer. */
export interface CKernelPlan {
  /** C identifier prefix of every exported symbol. */
  prefix: string;
  n: number;
  k: number;
  bits: Bits;
  groupSize: number;
  tables: 'i8' | 'f32';
  /** Pin an ISA path; absent: chosen by the C compiler's predefined macros. */
  isa?: CIsa;
}

/** Rendered C of one kernel. */
export interface RenderedKernel {
  /** Prototypes (no include guard). */
  decls: string;
  /** Prelude + definitions, self-contained for a translation unit that includes <stdint.h> etc. */
  defs: string;
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;
const MACROS = [
  'G_N',
  'G_K',
  'G_BITS',
  'G_PLANES',
  'G_KPAD',
  'G_GROUP',
  'G_NGROUPS',
  'G_SEG',
  'G_NSEG',
  'G_NCHUNKS',
  'G_NCP',
  'G_F32',
  'G_VEC',
  'G_ROWS',
  'G_NPAD',
  'G_NRB',
  'G_SI',
  'G_TRAILER',
  'G_MT',
  'G_FLUSH',
  'G_RDW_OK',
  'G_RDW',
  'G_CPV',
  'G_NVK',
  'G_V',
  'G_VMT',
  'G_RBT',
  'G_RBC',
  'G_TQB',
];

/**
 * Legalizes a kernel request into a plan: defaults (m 1, group 128 or K, tables i8, prefix `lutc`)
 * and diagnosed errors (LUT5100-5109) for shapes or options the C backend cannot take.
 */
export function planFromRequest(req: KernelRequest): CKernelPlan {
  const { n, k, bits } = req;
  if (!Number.isInteger(n) || !Number.isInteger(k) || n < 1 || k < 1)
    fail('LUT5100', `kernel shape must be positive integers, got N=${n} K=${k}`);
  if (n * k > 2 ** 31 - 1) fail('LUT5101', `kernel N*K=${n * k} exceeds 2^31-1 weights`);
  if (![1, 2, 3, 4].includes(bits)) fail('LUT5102', `the C backend takes bits 1..4, got ${bits}`);
  const groupSize = req.groupSize ?? (k < 128 ? k : 128);
  if (!Number.isInteger(groupSize) || groupSize < 1 || (groupSize < k && groupSize % 8 !== 0))
    fail('LUT5103', `group size ${groupSize} must be a multiple of 8 (or >= K=${k})`);
  if (req.m !== undefined && (!Number.isInteger(req.m) || req.m < 1)) fail('LUT5104', `m must be a positive integer, got ${req.m}`);
  const prefix = req.name ?? 'lutc';
  if (!IDENT.test(prefix)) fail('LUT5105', `kernel name '${prefix}' is not a C identifier`);
  if (req.isa !== undefined && !['scalar', 'avx2', 'avx512', 'neon'].includes(req.isa)) fail('LUT5106', `unknown ISA '${String(req.isa)}'`);
  return { prefix, n, k, bits, groupSize, tables: req.tables ?? 'i8', ...(req.isa ? { isa: req.isa } : {}) };
}

/**
 * Whether a 64-byte (AVX-512) build of this plan packs 2-bit weights in geometry.ts's row-dword
 * layout (csrc-avx512.ts): int8 tables and table segments of an even number of chunk pairs, so no
 * vector straddles two segments. Other shapes keep the bit-plane layout and csrc-accum.ts's core.
 */
function rowDwordsOk(p: CKernelPlan): boolean {
  const g = lutGeometry({ n: p.n, k: p.k, bits: p.bits, groupSize: p.groupSize, vecBytes: 16 });
  return p.bits === 2 && p.tables === 'i8' && (g.segment / 8) % 2 === 0;
}

/** The geometry of a plan for a given vector width (what geometry.ts packWeights needs to match). */
export function planGeometry(p: CKernelPlan, vecBytes: 16 | 32 | 64): LutGeometry {
  return lutGeometry({ n: p.n, k: p.k, bits: p.bits, groupSize: p.groupSize, vecBytes, rowDwords: vecBytes === 64 && rowDwordsOk(p) });
}

/**
 * The C kernels' sw/swz layout (G_SI): reference.ts packScales's [nGroups][nPad] rearranged row-block
 * major, [nPad / rowsPerVec][nGroups][rowsPerVec], for the geometry of the build's vector width. The
 * values are packScales's bit for bit; only the order differs (what the C packer's tests compare).
 */
export function cScaleLayout(g: LutGeometry, a: Float32Array): Float32Array {
  const out = new Float32Array(a.length);
  const rows = g.rowsPerVec;
  for (let gi = 0; gi < g.nGroups; gi++)
    for (let n = 0; n < g.nPad; n++) out[(Math.floor(n / rows) * g.nGroups + gi) * rows + (n % rows)] = a[gi * g.nPad + n]!;
  return out;
}

function geometryMacros(p: CKernelPlan): string {
  const g = planGeometry(p, 16); // the width-independent numbers; the rest are derived in C from LUTC_VEC
  const defs: [string, number | string][] = [
    ['G_N', g.n],
    ['G_K', g.k],
    ['G_BITS', g.bits],
    ['G_PLANES', g.planes],
    ['G_KPAD', g.kPad],
    ['G_GROUP', g.group],
    ['G_NGROUPS', g.nGroups],
    ['G_SEG', g.segment],
    ['G_NSEG', g.nSegments],
    ['G_NCHUNKS', g.nChunks],
    ['G_NCP', g.nChunkPairs],
    ['G_F32', p.tables === 'f32' ? 1 : 0],
    ['G_VEC', 'LUTC_VEC'],
    // row-dword layout (geometry.ts rowDwords) on AVX-512 builds only: see rowDwordsOk
    ['G_RDW_OK', rowDwordsOk(p) ? 1 : 0],
    ['G_RDW', '(LUTC_ISA == 2 && G_RDW_OK)'],
    ['G_ROWS', '(G_RDW ? G_VEC / 4 : G_VEC / G_PLANES)'],
    ['G_CPV', '(G_RDW ? 4 / G_PLANES : 1)'],
    ['G_NVK', '((G_NCP + G_CPV - 1) / G_CPV)'],
    ['G_NPAD', '(((G_N + G_ROWS - 1) / G_ROWS) * G_ROWS)'],
    ['G_NRB', '(G_NPAD / G_ROWS)'],
    // sw/swz index of group g, row n: row-block major [NRB][NGROUPS][G_ROWS], so a row block's scales are
    // one sequential stream beside its weights (a [groups][NPAD] layout made each group of a row block a
    // stride-NPAD stream the prefetchers do not follow: ~2x slower on cold weights at group 32)
    ['G_SI(g, n)', '(((size_t)((n) / G_ROWS) * G_NGROUPS + (size_t)(g)) * G_ROWS + (size_t)((n) % G_ROWS))'],
    // byte offset of lutc_pack's 64-byte trailer in the packed buffer (csrc-driver.ts), after the vectors
    ['G_TRAILER', '((size_t)G_NRB * G_NVK * G_VEC)'],
  ];
  return defs.map(([k, v]) => `#define ${k} ${v}`).join('\n');
}

/** Renders one kernel. */
export function renderKernel(p: CKernelPlan): RenderedKernel {
  const sub = (s: string) => s.replaceAll('PFX_', `${p.prefix}_`);
  const g = planGeometry(p, 16);
  const head = `/* ${p.prefix}: LUT-mpGEMM N=${p.n} K=${p.k} bits=${p.bits} group=${g.group} segment=${g.segment} tables=${p.tables} */`;
  const defs = [
    cPrelude(p.isa),
    head,
    geometryMacros(p),
    sub(C_TABLES),
    sub(C_AVX512),
    sub(C_ACCUM),
    sub(C_DRIVER),
    MACROS.map((m) => `#undef ${m}`).join('\n'),
    '',
  ].join('\n');
  return { decls: `${head}\n${sub(C_DECLS)}`, defs };
}
