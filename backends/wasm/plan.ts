/**
 * Legalize step of the WASM backend: turns a kernel request (shape, bits, group, tables, features)
 * into a `WasmLutPlan` -- the geometry of ir/lut/geometry.ts plus every WASM-specific choice (lookup
 * strategy, int16 flush bound, token tile, unroll) and the static memory plan of the kernel-only
 * module. The renderer (lookup.ts, tables.ts, module.ts) reads only the plan, so a whole-model emitter
 * can legalize each layer, place its buffers in its own memory plan, and render the same functions.
 */
import { fail } from '../../base/diagnostics.js';
import type { KernelRequest } from '../../compiler/options.js';
import { type Bits, type LutGeometry, lutGeometry, roundUp } from '../../ir/lut/geometry.js';
import { wasmTarget } from './target.js';

/** Tokens from which the vector-LUT path is taken: the wasm TargetInfo's, the one source of that number. */
export const VEC_MIN_TOKENS = wasmTarget.tile.kernelVecMinTokens ?? wasmTarget.tile.vecMinTokens;

/**
 * How lookups are combined over planes and accumulated:
 * - `bias16`: int8 tables stored biased to u8 (Tq + 128); each swizzle result is read as eight u16
 *   lanes L = u_even + 256 u_odd and accumulated with wrapping i16 adds, plus a second accumulator of
 *   L >> 8 (= u_odd). At a flush both byte sums are recovered exactly (see `flushBound`), unbiased, and
 *   combined with plane weights 2^i into int32. Three ALU ops per lookup vector, SIMD128 only.
 * - `rdot`: relaxed SIMD: signed tables, `i16x8.relaxed_dot_i8x16_i7x16_s` with plane weights (1, 2)
 *   combines a plane pair and widens to i16 in one instruction (`pmaddubsw`).
 * - `f32`: float tables split into 4 byte planes; 4 swizzles + 8 shuffles rebuild 16 looked-up floats.
 */
export type LookupMode = 'bias16' | 'rdot' | 'f32';

/** Byte offsets of the kernel-only module's buffers (all 16-byte aligned) and its size in pages. */
export interface MemoryPlan {
  w: number;
  sw: number;
  swz: number;
  bias: number;
  x: number;
  tab: number;
  ts: number;
  xs: number;
  y: number;
  acc: number;
  /** Vector-LUT scratch (transposed tables of a 16-token tile), 0 bytes when plan.vecTile is 0. */
  vt: number;
  /** First free byte. */
  end: number;
  pages: number;
}

export interface WasmLutPlan {
  geom: LutGeometry;
  tables: 'i8' | 'f32';
  relaxed: boolean;
  mode: LookupMode;
  /** Int8 tables are stored XOR 0x80 (= Tq + 128 as u8) in memory (bias16 mode). */
  tableBias: boolean;
  /** Bytes of one chunk's table: 16 (int8) or 64 (4 byte planes of 16 f32 entries). */
  tableBytes: number;
  /** Max tokens per call. */
  mMax: number;
  /** Tokens sharing one pass over the weights (the rest run one at a time). */
  tokenTile: number;
  /** Chunk pairs per inner-loop iteration (sub-blocks of <= `straight` chunk pairs are straight-line). */
  unroll: number;
  /**
   * Sub-blocks of at most this many chunk pairs are emitted straight-line (no loop): a group of 32
   * is 4 chunk pairs, and a 2-trip loop there costs V8 a peeled copy with checks plus a stack check.
   */
  straight: number;
  /**
   * Row blocks processed per pass over a segment's tables (1 or 2): each table vector is loaded once
   * and swizzled for both row blocks, and the segment's tsHalf/xsum splats are shared by them.
   */
  rowBlocks: number;
  /**
   * Tokens per vector-LUT tile (veclut.ts; 0 = off): int8 tables, M >= the wasm target's
   * `tile.kernelVecMinTokens` (16); by default SIMD128 3-4
   * bits only (PlanOverrides.vecLut). The kernel-only module uses it (it owns `mem.vt`), and so do the
   * whole-model LUT layers whose row count is a runtime dim (model/lut.ts: per call, the vector path
   * for M >= VEC_MIN_TOKENS, else the scalar one); addLutGemm is always the scalar-LUT kernel.
   */
  vecTile: number;
  /**
   * Max chunk pairs between int16 -> int32 flushes. bias16: u16 byte sums of at most 257 lookups
   * (255 * 257 = 65535) stay exact and their unbiased value |sum| <= 127 * 257 fits i16: 128 chunk
   * pairs = 256 lookups. rdot: |l0 + 2 l1| <= 381 per lookup, two per chunk pair: 32767 / 762 -> 43.
   */
  flushBound: number;
  /** Per-token strides (bytes) of x, tables, tsHalf/xsum, y, acc; fixed by the geometry. */
  stride: { x: number; tab: number; seg: number; y: number; acc: number };
  mem: MemoryPlan;
}

const WASM_PAGE = 65536;

/** Tuning knobs a caller (or `lutc tune`) may override. */
export interface PlanOverrides {
  tokenTile?: number;
  unroll?: number;
  straight?: number;
  rowBlocks?: number;
  /** Vector-LUT path for M >= `tile.kernelVecMinTokens` (16) with int8 tables: default on for 3-4 bits; true/false forces it. */
  vecLut?: boolean;
}

/** Validates a kernel request for the WASM target and derives its plan. Throws LutcError (LUT5010-5018). */
export function legalizeWasmKernel(req: KernelRequest, over: PlanOverrides = {}): WasmLutPlan {
  const { n, k, bits } = req;
  const m = req.m ?? 1;
  const int = (v: number) => Number.isInteger(v) && v >= 1;
  if (!int(n) || !int(k)) fail('LUT5010', `kernel shape must be positive integers, got N=${n} K=${k}`);
  if (!int(m) || m > 4096) fail('LUT5011', `tokens per call M must be an integer in 1..4096, got ${m}`);
  if (![1, 2, 3, 4].includes(bits)) fail('LUT5012', `wasm LUT kernels take bits 1..4, got ${bits}`);
  const gs = req.groupSize ?? (k < 128 ? k : 128);
  if (!int(gs) || (gs < k && gs % 8 !== 0)) fail('LUT5013', `group size ${gs} must be a multiple of 8 (or >= K=${k})`);
  const tables = req.tables ?? 'i8';
  if (tables !== 'i8' && tables !== 'f32') fail('LUT5014', `tables must be 'i8' or 'f32', got '${String(tables)}'`);
  const feats = req.wasmFeatures ?? [];
  for (const f of feats) if (f !== 'relaxed-simd' && f !== 'simd128') fail('LUT5015', `unknown wasm feature '${f}' (known: relaxed-simd)`);
  if (req.name !== undefined && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(req.name))
    fail('LUT5016', `kernel name '${req.name}' is not an identifier`);
  const relaxed = feats.includes('relaxed-simd');
  const geom = lutGeometry({ n, k, bits: bits as Bits, groupSize: gs, vecBytes: 16 });

  const mode: LookupMode = tables === 'f32' ? 'f32' : relaxed && geom.planes >= 2 ? 'rdot' : 'bias16';
  const flushBound = mode === 'bias16' ? 128 : mode === 'rdot' ? 43 : Infinity;
  const unroll = over.unroll ?? 1;
  const straight = over.straight ?? 0;
  // Row blocks per pass: 16 rows (bias16: 2 i16 accumulators per row block) or 32 rows, at most 4
  // blocks (rdot: 1 accumulator per block), the most that measured faster before TurboFan spills.
  const rowBlocks = mode === 'f32' ? 1 : (over.rowBlocks ?? Math.max(1, Math.min(4, (mode === 'rdot' ? 32 : 16) / geom.rowsPerVec)));
  for (const [what, v, max] of [
    ['unroll', unroll, 16],
    ['straight', straight, 64],
    ['rowBlocks', rowBlocks, 8],
  ] as const)
    if (!Number.isInteger(v) || v < (what === 'straight' ? 0 : 1) || v > max)
      fail('LUT5017', `plan override ${what} must be an integer up to ${max}, got ${v}`);
  // Several tokens per weight pass share the weight loads and index extraction (~4 of ~17 ops per
  // chunk pair and row block: the swizzles and accumulation are per token). 2 tokens x rowBlocks x 2
  // i16 accumulators still fit x64's 16 vector registers next to the indices; 4 measured no better.
  const tokenTile = Math.max(1, Math.min(m, over.tokenTile ?? 2));
  const tableBytes = tables === 'f32' ? 64 : 16;
  // Vector-LUT only where it measured faster than scalar-LUT token tiles: SIMD128 (bias16) 3-4 bits.
  // 1-2 bits: 10-17% slower; relaxed SIMD: its one-instruction swizzle + dot beat the scalar-addressed
  // loads (docs/wasm-kernel.md).
  const vecTile = tables === 'i8' && m >= VEC_MIN_TOKENS && (over.vecLut ?? (mode === 'bias16' && geom.planes >= 3)) ? 16 : 0;

  const stride = {
    x: geom.kPad * 4,
    tab: geom.nChunks * tableBytes,
    seg: geom.nSegments * 4,
    y: geom.nPad * 4,
    acc: geom.nSegments * geom.nPad * 4,
  };
  let at = 0;
  const take = (bytes: number) => {
    const o = at;
    at = roundUp(at + bytes, 64);
    return o;
  };
  const mem: MemoryPlan = {
    w: take(geom.packedBytes),
    sw: take(geom.nGroups * geom.nPad * 4),
    swz: take(geom.nGroups * geom.nPad * 4),
    bias: take(geom.nPad * 4),
    x: take(m * stride.x),
    tab: take(m * stride.tab),
    ts: take(m * stride.seg),
    xs: take(m * stride.seg),
    y: take(m * stride.y),
    acc: take(m * stride.acc),
    vt: take(vecTile ? geom.nChunks * 256 + 2 * geom.nSegments * 64 : 0),
    end: 0,
    pages: 0,
  };
  mem.end = at;
  mem.pages = Math.max(1, Math.ceil(at / WASM_PAGE));
  if (mem.pages > 65536) fail('LUT5018', `kernel buffers need ${at} bytes, more than 4 GiB of wasm32 memory`);
  return {
    geom,
    tables,
    relaxed,
    mode,
    tableBias: mode === 'bias16',
    tableBytes,
    mMax: m,
    tokenTile,
    unroll,
    straight,
    rowBlocks,
    vecTile,
    flushBound,
    stride,
    mem,
  };
}
