/**
 * LUT-mpGEMM geometry: the one place that derives padding, groups, table segments and the packed
 * bit-plane layout from (N, K, bits, group size, lookup width). The LUT IR ops, the passes, the
 * interpreter and every backend read these numbers from here; docs/lut-format.md explains them.
 */

export type Bits = 1 | 2 | 3 | 4;
/** Bytes looked up by one table-lookup instruction: 16 (SSE/NEON/WASM), 32 (AVX2), 64 (AVX-512). */
export type VecBytes = 16 | 32 | 64;

export interface LutParams {
  n: number;
  k: number;
  bits: Bits;
  /** Weight quantization group along K, in activations; >= k means one group per row. */
  groupSize: number;
  vecBytes: VecBytes;
  /** Chunk pairs (8 activations) per K-tile of the packed layout; 0 = the whole K in one tile. */
  kTileCP?: number;
  /**
   * Row-dword layout (opt-in, used by the C backend's AVX-512 VNNI path for 2-bit weights; default
   * false = the bit-plane layout below): every 4-byte word of a vector belongs to one row and holds
   * its planes over 4 / planes consecutive chunk pairs, so `vpdpbusd` sums one row's lookups and one
   * 64-byte table (4 chunks) serves a whole vector. Identical to the default layout when planes = 4.
   */
  rowDwords?: boolean;
}

export interface LutGeometry extends Required<LutParams> {
  /** Bit-planes stored per row in a vector: 1, 2, 4 (3-bit weights store a zero 4th plane). */
  planes: number;
  /** Rows per vector: vecBytes / planes (vecBytes / 4 with rowDwords). */
  rowsPerVec: number;
  /** Chunk pairs per vector: 1, or 4 / planes with rowDwords. */
  cpPerVec: number;
  /** Vectors along K per row block: ceil(nChunkPairs / cpPerVec) (the last may be half empty). */
  nVecK: number;
  /** N rounded up to rowsPerVec; padded rows have zero weights, scales and zero points. */
  nPad: number;
  /** K rounded up to a whole chunk pair (8) and to a whole group; padded activations are zero. */
  kPad: number;
  /** Effective group size (a multiple of 8): groupSize, or kPad for one group per row. */
  group: number;
  nGroups: number;
  /** Table-scale segment in activations: int accumulators are flushed to float at every segment end. */
  segment: number;
  nSegments: number;
  /** Chunks of 4 activations over kPad. */
  nChunks: number;
  /** Chunk pairs (one packed byte per row and plane) over kPad. */
  nChunkPairs: number;
  nRowBlocks: number;
  /** Size of the packed weights in bytes. */
  packedBytes: number;
}

export function roundUp(x: number, m: number): number {
  return Math.ceil(x / m) * m;
}

/** Validates and derives the geometry. Throws RangeError on parameters no caller should pass. */
export function lutGeometry(p: LutParams): LutGeometry {
  const { n, k, bits, groupSize, vecBytes } = p;
  if (!(n >= 1 && k >= 1 && Number.isInteger(n) && Number.isInteger(k))) throw new RangeError(`bad shape N=${n} K=${k}`);
  if (![1, 2, 3, 4].includes(bits)) throw new RangeError(`bits must be 1..4, got ${bits}`);
  if (![16, 32, 64].includes(vecBytes)) throw new RangeError(`vecBytes must be 16, 32 or 64`);
  const planes = bits === 3 ? 4 : bits;
  const rowDwords = p.rowDwords ?? false;
  const rowsPerVec = vecBytes / (rowDwords ? 4 : planes);
  const cpPerVec = rowDwords ? 4 / planes : 1;
  const nPad = roundUp(n, rowsPerVec);
  const k8 = roundUp(k, 8);
  let group: number;
  if (groupSize >= k) group = k8;
  else {
    if (groupSize % 8 !== 0) throw new RangeError(`group size ${groupSize} must be a multiple of 8 (or >= K)`);
    group = groupSize;
  }
  const kPad = roundUp(k8, group);
  const nGroups = kPad / group;
  // One int8 table scale per 128 activations when the group allows it: finer scales keep the
  // int8 table error low for per-row groups, and 128 is a whole number of chunk pairs.
  const segment = group <= 128 ? group : group % 128 === 0 ? 128 : group;
  const nChunks = kPad / 4;
  const nChunkPairs = kPad / 8;
  const kTileCP = p.kTileCP && p.kTileCP < nChunkPairs ? p.kTileCP : nChunkPairs;
  if (kTileCP < nChunkPairs && kTileCP % cpPerVec !== 0)
    throw new RangeError(`K-tile ${kTileCP} must be a multiple of ${cpPerVec} chunk pairs`);
  const nRowBlocks = nPad / rowsPerVec;
  const nVecK = Math.ceil(nChunkPairs / cpPerVec);
  return {
    n,
    k,
    bits,
    groupSize,
    vecBytes,
    kTileCP,
    rowDwords,
    planes,
    rowsPerVec,
    cpPerVec,
    nVecK,
    nPad,
    kPad,
    group,
    nGroups,
    segment,
    nSegments: kPad / segment,
    nChunks,
    nChunkPairs,
    nRowBlocks,
    packedBytes: nRowBlocks * nVecK * vecBytes,
  };
}

/**
 * Byte offset of the vector holding row block `rb`, chunk pair `cp` in the packed weights.
 * Order: K-tile, then row block, then vector (chunk pair, or cpPerVec of them) within the tile (the
 * last tile may be shorter). Self-contained: backends embed its source text.
 */
export function vectorOffset(g: LutGeometry, rb: number, cp: number): number {
  const cpv = g.cpPerVec ?? 1;
  const nv = Math.ceil(g.nChunkPairs / cpv),
    tv = Math.ceil(g.kTileCP / cpv),
    vi = Math.floor(cp / cpv); // one K-tile may end in a part vector
  const tileStart = Math.floor(vi / tv) * tv;
  const vInTile = Math.min(tv, nv - tileStart);
  return (tileStart * g.nRowBlocks + rb * vInTile + (vi - tileStart)) * g.vecBytes;
}

/**
 * Packs quantized weights q[n, k] (row-major, values in [0, 2^bits)) into the bit-plane layout:
 * in each vector, byte j belongs to row `rb*rowsPerVec + floor(j / planes)` and plane `j % planes`;
 * its low nibble is the plane's 4 bits over chunk 2cp (bit t = weight k = 8cp + t), its high nibble
 * those over chunk 2cp+1. Padded rows, padded K and 3-bit weights' 4th plane are zero.
 * With rowDwords, byte j of the vector holding chunk pairs [cpPerVec*v, cpPerVec*(v+1)) belongs to
 * row `rb*rowsPerVec + floor(j / 4)`, chunk pair `cpPerVec*v + floor((j % 4) / planes)` and plane
 * `j % planes`; nibbles as above. Self-contained: backends embed its source text.
 */
export function packWeights(g: LutGeometry, q: Uint8Array): Uint8Array {
  if (q.length !== g.n * g.k) throw new RangeError(`q has ${q.length} elements, want ${g.n * g.k}`);
  const out = new Uint8Array(g.packedBytes);
  const cpv = g.cpPerVec ?? 1,
    rowBytes = cpv * g.planes;
  // Four codes at a time as one little-endian word (code t in byte t) when every row starts on a
  // word: bit p of each byte gathered into 4 bits by one multiply, ((w >>> p) & 0x01010101) *
  // 0x10204080 putting byte t's bit alone at bit 28 + t (every partial product has its own bit).
  const le = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
  const words = le && g.k % 4 === 0 && q.byteOffset % 4 === 0 ? new Uint32Array(q.buffer, q.byteOffset, q.length >> 2) : undefined;
  for (let rb = 0; rb < g.nRowBlocks; rb++) {
    for (let cv = 0; cv < g.nChunkPairs; cv += cpv) {
      const base = vectorOffset(g, rb, cv);
      // byte r * rowBytes + c * planes + plane of the vector: row rb * rowsPerVec + r, chunk pair cv + c
      for (let r = 0; r < g.rowsPerVec; r++) {
        const row = rb * g.rowsPerVec + r;
        if (row >= g.n) break;
        for (let c = 0; c < cpv; c++) {
          const cp = cv + c;
          if (cp >= g.nChunkPairs) break;
          const o = base + r * rowBytes + c * g.planes;
          const at = row * g.k + cp * 8;
          if (words && cp * 8 + 8 <= g.k) {
            const w0 = words[at >> 2]!,
              w1 = words[(at >> 2) + 1]!;
            for (let plane = 0; plane < g.bits; plane++)
              out[o + plane] =
                (Math.imul((w0 >>> plane) & 0x01010101, 0x10204080) >>> 28) |
                ((Math.imul((w1 >>> plane) & 0x01010101, 0x10204080) >>> 28) << 4);
            continue;
          }
          for (let plane = 0; plane < g.bits; plane++) {
            let byte = 0;
            for (let t = 0; t < 8; t++) {
              const kk = cp * 8 + t;
              if (kk >= g.k) break;
              byte |= ((q[at + t]! >> plane) & 1) << t;
            }
            out[o + plane] = byte;
          }
        }
      }
    }
  }
  return out;
}

/** The 4-bit index of plane `plane` of row `row` over chunk `c`, read back from packed weights. */
export function packedIndex(g: LutGeometry, packed: Uint8Array, row: number, plane: number, c: number): number {
  const rb = Math.floor(row / g.rowsPerVec);
  const cp = c >> 1,
    cpv = g.cpPerVec ?? 1;
  const j = (row % g.rowsPerVec) * cpv * g.planes + (cp % cpv) * g.planes + plane;
  const byte = packed[vectorOffset(g, rb, cp) + j]!;
  return c & 1 ? byte >> 4 : byte & 15;
}
