/**
 * Helpers shared by op definitions: numpy broadcasting over (possibly symbolic) shapes, axis
 * normalization, and broadcast index mapping for interpreters.
 */

import { allocData, numel, strides } from '../tensor.js';
import type { Dim, Tensor } from '../types.js';

/** Broadcast result shape, or a message saying why the shapes do not broadcast. */
export function broadcastShapes(shapes: readonly (readonly Dim[])[]): Dim[] | string {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    let d: Dim = 1;
    for (const s of shapes) {
      const e = s[s.length - rank + i];
      if (e === undefined || e === 1) continue;
      if (d === 1) d = e;
      else if (d !== e) {
        if (typeof d === 'number' && typeof e === 'number')
          return `shapes [${shapes.map((x) => x.join(',')).join('] and [')}] do not broadcast`;
        if (typeof d === 'string' && typeof e === 'number') d = e; // a symbol meeting a size must be that size
      }
    }
    out.push(d);
  }
  return out;
}

/** Normalizes a possibly negative axis into [0, rank); returns -1 when out of range. */
export function normalizeAxis(axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  return a >= 0 && a < rank ? a : -1;
}

/**
 * For each output element of `outShape`, the flat index into a tensor of `inShape` broadcast to it.
 * Returned as an Int32Array (outputs here stay far below 2^31 elements).
 */
export function broadcastIndex(inShape: readonly number[], outShape: readonly number[]): Int32Array {
  const n = numel(outShape);
  const idx = new Int32Array(n);
  const r = outShape.length;
  const inStr = strides(inShape);
  // stride per output axis: 0 where the input is broadcast along it
  const st = outShape.map((_, i) => {
    const j = i - (r - inShape.length);
    return j < 0 || inShape[j] === 1 ? 0 : inStr[j]!;
  });
  const ctr = new Array<number>(r).fill(0);
  let off = 0;
  for (let i = 0; i < n; i++) {
    idx[i] = off;
    for (let a = r - 1; a >= 0; a--) {
      ctr[a]!++;
      off += st[a]!;
      if (ctr[a]! < outShape[a]!) break;
      off -= st[a]! * outShape[a]!;
      ctr[a] = 0;
    }
  }
  return idx;
}

/** Materializes `t` broadcast to `shape`. */
export function broadcastTo(t: Tensor, shape: number[]): Tensor {
  const idx = broadcastIndex(t.shape, shape);
  const data = allocData(t.dtype, idx.length);
  for (let i = 0; i < idx.length; i++) data[i] = t.data[idx[i]!]!;
  return { dtype: t.dtype, shape: [...shape], data };
}
