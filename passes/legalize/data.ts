/**
 * Legalize rules for data movement (ir/ops/pad.ts: pad, tile, dropout; ir/ops/scatter.ts:
 * gather_elements, scatter_elements, scatter_nd) and for values known at compile time (constant, and
 * shape / size of static shapes, folded to constants). Pads, repeats and scatter indices must be
 * constants (the rule declines otherwise, and the backend diagnoses the node); scatter writes are
 * found by the op's own interpreter. One `Rule` per op in `DATA_RULES`; passes/legalize.ts assembles
 * the table.
 */
import { fail, LutcError, nodeLoc } from '../../base/diagnostics.js';
import { intsOf } from '../../ir/ops/dims.js';
import { padsPerAxis, sourceIndex } from '../../ir/ops/pad.js';
import { findOp, type InterpCtx, resolveAttrs } from '../../ir/optable.js';
import { makeTensor, numel, strides } from '../../ir/tensor.js';
import type { Node, Tensor, Value } from '../../ir/types.js';
import { axisOf, foldConstants, foldTypes, staticShape } from './helpers.js';
import type { Rule } from './rewriter.js';

/**
 * Writers of a scatter with constant indices, from the op's own interpreter: scattering the update
 * positions 0..U-1 into a tensor of -1s with reduction 'max' gives, per data element, the last update
 * written to it; removing those and repeating peels the writes one layer at a time (last first).
 * Returns the layers as int64 tensors shaped like data (-1: not written in this layer).
 */
function scatterLayers(node: Node, data: Value, idx: Tensor, updates: Value, reduction: string): Tensor[] | undefined {
  const ds = staticShape(data),
    us = staticShape(updates);
  if (!ds || !us) return undefined;
  const def = findOp(node.op)!;
  const attrs = { ...resolveAttrs(def, node), reduction: 'max' };
  const ctx: InterpCtx = {
    node,
    attrs,
    runGraph: () => fail('LUT4052', 'internal: scatter has no subgraph'),
    error: (code, message) => fail(code, message, nodeLoc(node)),
  };
  const u = numel(us);
  const remaining = makeTensor(
    'f64',
    us,
    Array.from({ length: u }, (_, i) => i),
  );
  const blank = makeTensor('f64', ds, new Float64Array(numel(ds)).fill(-1));
  const layers: Tensor[] = [];
  for (let round = 0; round < 64; round++) {
    const [w] = def.interp([blank, idx, remaining], ctx);
    if (!w!.data.some((v) => v >= 0)) return layers;
    layers.push(makeTensor('i64', ds, w!.data));
    if (reduction === 'none') return layers; // only the last write survives
    for (const v of w!.data) if (v >= 0) remaining.data[v] = -1;
  }
  return undefined; // more than 64 writes to one element: not worth unrolling
}

/** scatter_elements / scatter_nd with constant indices: per layer, y = where(written, combine(y, gather(updates)), y). */
const scatterRule: Rule = {
  summary:
    "constant indices only: per layer of writes (found by the op's interpreter), y = where(written, combine(y, gather(updates, writer)), y)",
  rewrite(r) {
    const [data, idxV, upd] = [r.x('data'), r.x('indices'), r.x('updates')];
    if (!idxV.const) return undefined;
    const reduction = r.attrs.reduction as string;
    let layers: Tensor[] | undefined;
    try {
      layers = scatterLayers(r.node, data, idxV.const, upd, reduction);
    } catch (e) {
      if (e instanceof LutcError) return undefined; // indices out of range: the interpreter's run-time error
      throw e;
    }
    if (!layers) return undefined;
    const flat = r.reshape(upd, [numel(staticShape(upd)!)]);
    const combine: Record<string, string> = { add: 'add', mul: 'mul', max: 'max', min: 'min' };
    let y = data;
    for (const L of layers) {
      const mask = r.tensor(
        makeTensor(
          'bool',
          L.shape,
          L.data.map((v) => (v >= 0 ? 1 : 0)),
        ),
      );
      const src = r.tensor(
        makeTensor(
          'i64',
          L.shape,
          L.data.map((v) => Math.max(v, 0)),
        ),
      );
      const g = r.op('gather', [flat, src], { axis: 0 });
      y = r.where(mask, reduction === 'none' ? g : r.op(combine[reduction]!, [y, g]), y);
    }
    return [y];
  },
};

/** The data-movement and compile-time-value rules, one per op. */
export const DATA_RULES: Readonly<Record<string, Rule>> = {
  pad: {
    summary:
      "constant pads: 'constant' crops with slice and pads with concat of broadcast fill blocks; 'reflect' / 'edge' / 'wrap' gather each padded axis by a constant index map",
    rewrite(r) {
      const x = r.x();
      const shape = staticShape(x);
      const pads = r.x('pads').const;
      const axesV = r.in('axes');
      if (!shape || !pads || (axesV && !axesV.const)) return undefined;
      const [b, e] = padsPerAxis(shape.length, intsOf(pads), axesV ? intsOf(axesV.const!) : null, (m) =>
        fail('LUT1110', `pad: ${m}`, nodeLoc(r.node)),
      );
      const mode = r.attrs.mode as string;
      let y = x;
      const cur = [...shape];
      if (mode !== 'constant') {
        for (let a = 0; a < shape.length; a++) {
          if (b[a] === 0 && e[a] === 0) continue;
          const d = shape[a]!;
          const n = d + b[a]! + e[a]!;
          if (d === 0 && n > 0) return undefined; // the interpreter's run-time error
          y = r.op('gather', [y, r.i64(Array.from({ length: n }, (_, o) => sourceIndex(o - b[a]!, d, mode)))], { axis: a });
        }
        return [y];
      }
      const cv = r.in('constant_value');
      let fill: Value;
      if (!cv) fill = r.k(x, 0);
      else if (cv.const) fill = r.k(x, cv.const.data[0]!);
      else fill = r.cast(r.reshape(cv, []), x.type.dtype);
      for (let a = 0; a < shape.length; a++) {
        const [lo, hi] = [b[a]!, e[a]!];
        if (lo < 0 || hi < 0) {
          y = r.slice(y, a, Math.max(0, -lo), cur[a]! - Math.max(0, -hi));
          cur[a] = cur[a]! - Math.max(0, -lo) - Math.max(0, -hi);
        }
        const parts: Value[] = [];
        if (lo > 0)
          parts.push(
            r.fill(
              fill,
              cur.map((s, i) => (i === a ? lo : s)),
            ),
          );
        parts.push(y);
        if (hi > 0)
          parts.push(
            r.fill(
              fill,
              cur.map((s, i) => (i === a ? hi : s)),
            ),
          );
        if (parts.length > 1) y = r.op('concat', parts, { axis: a });
        cur[a] = cur[a]! + Math.max(0, lo) + Math.max(0, hi);
      }
      return [y];
    },
  },
  tile: {
    summary: 'constant repeats: concat of repeats[i] copies along each axis i',
    rewrite(r) {
      const x = r.x();
      const reps = r.x('repeats').const;
      if (!reps || !staticShape(x) || intsOf(reps).some((v) => v < 1)) return undefined;
      let y = x;
      intsOf(reps).forEach((n, a) => {
        if (n > 1) y = r.op('concat', Array<Value>(n).fill(y), { axis: a });
      });
      return [y];
    },
  },
  dropout: {
    summary: 'output = data; mask = a constant all-true tensor (inference only)',
    rewrite(r) {
      const t = r.in('training_mode');
      if (t && !t.const) return undefined; // training_mode known only at run time
      const x = r.x();
      if (!r.used(1)) return [x, null];
      const shape = staticShape(x);
      if (!shape) return undefined;
      return [x, r.tensor(makeTensor('bool', shape, new Uint8Array(numel(shape)).fill(1)))];
    },
  },
  gather_elements: {
    summary: 'gather(reshape(data, [-1]), (indices + dim where < 0) * stride[axis] + constant offsets of the other coordinates)',
    rewrite(r) {
      const [data, idx] = [r.x('data'), r.x('indices')];
      const ds = staticShape(data),
        is = staticShape(idx);
      if (!ds || !is) return undefined;
      const a = axisOf(r, ds.length);
      const st = strides(ds);
      const idt = idx.type.dtype;
      // offset of each index element's coordinates on every axis but `a`
      const n = numel(is);
      const base = new Array<number>(n);
      const ist = strides(is);
      for (let i = 0; i < n; i++) {
        let off = 0;
        for (let ax = 0; ax < is.length; ax++) if (ax !== a) off += (Math.floor(i / ist[ax]!) % is[ax]!) * st[ax]!;
        base[i] = off;
      }
      const k = r.where(r.less(idx, r.scalar(idt, 0)), r.add(idx, r.scalar(idt, ds[a]!)), idx);
      const flatIdx = r.add(r.mul(k, r.scalar(idt, st[a]!)), r.tensor(makeTensor(idt, is, base)));
      return [r.op('gather', [r.reshape(data, [numel(ds)]), flatIdx], { axis: 0 })];
    },
  },
  scatter_elements: scatterRule,
  scatter_nd: scatterRule,
  constant: { summary: 'its value as a graph constant', rewrite: (r) => foldConstants(r) },
  size: { summary: 'static shape: a constant', rewrite: (r) => foldTypes(r) },
};
