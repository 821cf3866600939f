/**
 * Reading LUT geometry out of `lut.*` node attributes, so the op table, the interpreter, the passes and
 * the backends derive every layout number the same way: through `lutGeometry` of ir/lut/geometry.ts.
 * A table only depends on K and the group size (which fix padding, chunks and segments), never on N or
 * bits, which is why one `lut.table` can feed layers of different widths and bit counts.
 */
import type { Attrs, Dim, Graph } from '../types.js';
import { type Bits, type LutGeometry, lutGeometry, type VecBytes } from './geometry.js';

/** Names of the geometry attributes shared by lut.pack and lut.matmul. */
export const GEOMETRY_ATTRS = ['n', 'k', 'bits', 'group_size', 'vec_bytes', 'k_tile'] as const;

/** Geometry of a lut.pack / lut.matmul node from its (resolved) attributes. */
export function geometryOf(attrs: Attrs): LutGeometry {
  return lutGeometry({
    n: attrs.n as number,
    k: attrs.k as number,
    bits: attrs.bits as Bits,
    groupSize: attrs.group_size as number,
    vecBytes: attrs.vec_bytes as VecBytes,
    kTileCP: (attrs.k_tile as number | undefined) ?? 0,
  });
}

/**
 * Geometry of the tables for activations of length `k` and weight group `groupSize`. N, bits and the
 * lookup width do not change padding, chunks or segments, so fixed placeholders are used for them.
 */
export function tableGeometry(k: number, groupSize: number): LutGeometry {
  return lutGeometry({ n: 1, k, bits: 1, groupSize, vecBytes: 16 });
}

/** Table layout: 'token' = [M..., nChunks, 16] (scalar LUT), 'vec' = [nChunks, 16, M...] (Vec-LUT). */
export type TableLayout = 'token' | 'vec';

/** Shape of the tables tensor for activations with leading (token) dims `lead`. */
export function tableShape(lead: readonly Dim[], nChunks: number, layout: TableLayout): Dim[] {
  return layout === 'vec' ? [nChunks, 16, ...lead] : [...lead, nChunks, 16];
}

/** Leading (token) dims of a tables tensor of the given layout. */
export function tableLead(shape: readonly Dim[], layout: TableLayout): Dim[] {
  return layout === 'vec' ? shape.slice(2) : shape.slice(0, -2);
}

/** Bytes of tables per token: int8 or f32 entries plus two f32 per segment (table scale, activation sum). */
export function tableBytesPerToken(k: number, groupSize: number, tables: 'i8' | 'f32'): number {
  const g = tableGeometry(k, groupSize);
  return g.nChunks * 16 * (tables === 'i8' ? 1 : 4) + g.nSegments * 8;
}

/** One LUT layer of a compiled graph as artifact manifests list it. */
export interface LutLayerSummary {
  node: string;
  n: number;
  k: number;
  bits: number;
  groupSize: number;
  tables: string;
  activation: string;
}

/** The lut.matmul layers of `g`, in graph order (the `layers` of the wasm and wgsl manifests). */
export function lutLayers(g: Graph): LutLayerSummary[] {
  return g.nodes
    .filter((n) => n.op === 'lut.matmul')
    .map((n) => ({
      node: n.name,
      n: n.attrs.n as number,
      k: n.attrs.k as number,
      bits: n.attrs.bits as number,
      groupSize: n.attrs.group_size as number,
      tables: (n.attrs.tables as string | undefined) ?? 'i8',
      activation: (n.attrs.activation as string | undefined) ?? 'none',
    }));
}
