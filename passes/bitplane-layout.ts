/**
 * Pass `bitplane-layout`: materializes the packed bit-plane weights for the target's LUT form (its
 * TargetInfo's `lut`, backends/<t>/target.ts) by constant-folding every lut.pack whose operands are
 * constants, for the lookup width `lut.vecBytes` (ir/lut/geometry.ts packWeights: 16 bytes for WASM
 * SIMD128 / SSE / NEON and WGSL u32x4 words, 32 for the C backend's AVX2 path). Odd N is padded to
 * whole row vectors and K to whole chunk pairs and groups, with zero weights and scales.
 * The consumers' vec_bytes attribute is set to match; a K-tile chosen by `tile` is honoured.
 * Targets whose form is `lut.tables: 'kernel'` (C) have no lut.pack from lower-linear (their lut.gemm
 * reads the quantizer's q/scales/zeros as they are); a hand-written one is folded like any other.
 * A lut.pack of lazy constants (MatMulNBits weights, ir/tensor.ts lazyTensor) folds into lazy
 * constants: packed when a backend reads them, so the graph never holds every layer's packed weights.
 */

import { getTarget } from '../backends/target.js';
import { removeDeadNodes, replaceAllUses } from '../ir/graph.js';
import { geometryOf } from '../ir/lut/attrs.js';
import { interpPack } from '../ir/lut/interp.js';
import { findOp, resolveAttrs } from '../ir/optable.js';
import { isLazy, lazyGroup, lazyTensor } from '../ir/tensor.js';
import type { Graph, Node, Tensor, Value } from '../ir/types.js';
import type { Pass, PassContext } from './pass.js';

export const bitplaneLayout: Pass = {
  name: 'bitplane-layout',
  summary: 'pack quantized weights into plane-interleaved bit-plane vectors of the target lookup width',
  run(g: Graph, ctx: PassContext): void {
    const form = getTarget(ctx.opts.target).lut;
    const vec = ctx.vecBytes ?? form.vecBytes;
    const consumers = new Map<Value, Set<Node>>();
    for (const n of g.nodes)
      if (n.op === 'lut.matmul')
        for (const v of n.inputs.slice(3, 6)) if (v) (consumers.get(v) ?? consumers.set(v, new Set()).get(v)!).add(n);
    const kept: Node[] = [];
    for (const n of g.nodes) {
      if (n.op !== 'lut.pack' || !n.inputs.every((v) => v?.const)) {
        kept.push(n);
        continue;
      }
      n.attrs.vec_bytes = vec;
      const ins = n.inputs.map((v) => v!.const!);
      const attrs = { ...resolveAttrs(findOp('lut.pack')!, n) };
      // lazy weights (ir/tensor.ts) stay lazy: packed when the backend writes them, not held by the graph
      let outs: Tensor[];
      if (ins.some(isLazy)) {
        const g0 = geometryOf(attrs);
        const all = lazyGroup(() => interpPack(ins, attrs));
        outs = [
          lazyTensor('u8', [g0.packedBytes], () => all()[0]!.data),
          lazyTensor('f32', [g0.nGroups, g0.nPad], () => all()[1]!.data),
          lazyTensor('f32', [g0.nGroups, g0.nPad], () => all()[2]!.data),
        ];
      } else outs = interpPack(ins, attrs);
      n.outputs.forEach((v, i) => {
        for (const c of consumers.get(v) ?? []) c.attrs.vec_bytes = vec;
        const t = outs[i]!;
        const cv: Value = { name: v.name, type: { dtype: t.dtype, shape: [...t.shape] }, producer: null, const: t };
        replaceAllUses(g, v, cv);
        g.constants.push(cv);
      });
    }
    g.nodes = kept;
    removeDeadNodes(g); // drops the unpacked q/scales/zeros nobody reads any more
  },
};
