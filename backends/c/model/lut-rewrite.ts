/**
 * C legalization of the LUT ops of a whole model (docs/architecture.md: legalize, then render). The rendered
 * SIMD kernel (backends/c/render.ts) is a fused `x -> y` GEMM that builds its own tables and packs its
 * own weights for the ISA the C compiler targets, so on a shallow copy of the graph (the caller's graph
 * is not touched):
 *
 * - every lut.matmul reads the activation its tables were built from (lut.table: its input x;
 *   lut.norm_table: its normalized output y) instead of tables/tscale/xsum, and the canonical weights
 *   of lut-weights.ts (q bits, scales, zeros: new blob constants) instead of the packed results of its
 *   lut.pack (left unfolded for C by bitplane-layout, so its constant q/scales/zeros are the
 *   quantizer's own);
 * - a lut.table whose results are no longer read disappears; a lut.norm_table whose tables are no
 *   longer read becomes the graph norm it fuses (simplified_layer_norm / layer_norm: the same op the
 *   interpreter runs for it, rendered by kernels-math.ts);
 * - a lut.pack whose results are no longer read disappears, and its q constant drops out of the blob.
 *
 * Anything else that reads tables or packed weights (a graph output, a lut.matmul fed by something
 * other than a table build) has no C kernel: LUT5151, naming the node. Weights that are not a lut.pack
 * of constants (run-time operands, or already-packed constants in hand-written IR) are LUT5152.
 */
import { type DiagnosticBag, nodeLoc } from '../../../base/diagnostics.js';
import { geometryOf } from '../../../ir/lut/attrs.js';
import { findOp, resolveAttrs } from '../../../ir/optable.js';
import type { Graph, Node, Value } from '../../../ir/types.js';
import { canonicalWeights } from './lut-weights.js';

/** Operand positions of the rewritten lut.matmul (the op's own: tables, tscale, xsum are replaced). */
export const LUT_X = 0,
  LUT_Q = 3,
  LUT_SCALES = 4,
  LUT_ZEROS = 5;

/** The producers of lut.matmul operands that legalizeLut removes. */
const LUT_BUILDS: ReadonlySet<string> = new Set(['lut.table', 'lut.norm_table', 'lut.pack']);

function constValue(name: string, dtype: 'u8' | 'f32', shape: number[], data: Uint8Array | Float32Array): Value {
  return { name, type: { dtype, shape }, producer: null, const: { dtype, shape, data } };
}

/**
 * Returns the C-legal copy of `g`. Diagnostics go to `bag` (the caller throws them with the rest);
 * nodes that fail keep their original form, and so do the table builds and lut.pack only they read
 * (without a second diagnostic), so planning still works.
 */
export function legalizeLut(g: Graph, bag: DiagnosticBag): Graph {
  const file = g.meta?.file;
  const added: Value[] = [];
  const canon = new Map<Value, Value[]>(); // packed weights value -> [q, scales, zeros]
  const failed = new Set<Node>(); // lut.matmul nodes diagnosed here: their table builds and packs stay, undiagnosed
  let nodes = g.nodes.map((node): Node => {
    if (node.op !== 'lut.matmul') return node;
    failed.add(node);
    const loc = nodeLoc(node, file);
    const src = node.inputs[0]?.producer;
    const x = src?.op === 'lut.table' ? src.inputs[0] : src?.op === 'lut.norm_table' ? src.outputs[0] : undefined;
    if (!src || !x || (src.op === 'lut.table' ? node.inputs[0] !== src.outputs[0] : node.inputs[0] !== src.outputs[1])) {
      bag.error(
        'LUT5151',
        'lut.matmul reads tables that no lut.table / lut.norm_table builds: the C kernel builds its tables from the activations',
        loc,
      );
      return node;
    }
    const [w, sw, swz] = [node.inputs[3], node.inputs[4], node.inputs[5]];
    const pack = w?.producer;
    const ops = pack?.inputs ?? [];
    if (pack?.op !== 'lut.pack' || sw !== pack.outputs[1] || swz !== pack.outputs[2] || !ops.every((v) => v?.const)) {
      bag.error(
        'LUT5152',
        'lut.matmul weights and scales must be one lut.pack of constants (the C backend stores its q/scales/zeros and packs them at load time): they are computed at run time or already packed',
        loc,
      );
      return node;
    }
    let cw = canon.get(w!);
    if (!cw) {
      const geo = geometryOf(resolveAttrs(findOp('lut.matmul')!, node));
      const [q, s, z] = ops.map((v) => v!.const!.data);
      if (q!.length !== geo.n * geo.k || s!.length !== geo.n * geo.nGroups || z!.length !== geo.n * geo.nGroups) {
        bag.error(
          'LUT5152',
          `lut.pack operands of lut.matmul must be q [${geo.n}, ${geo.k}], scales and zeros [${geo.n}, ${geo.nGroups}]`,
          loc,
        );
        return node;
      }
      const c = canonicalWeights(geo, q!, s!, z!);
      cw = [
        constValue(`${w!.name}/c.q`, 'u8', [c.q.length], c.q),
        constValue(`${w!.name}/c.scales`, 'f32', [geo.n, geo.nGroups], c.scales),
        constValue(`${w!.name}/c.zeros`, 'f32', [geo.n, geo.nGroups], c.zeros),
      ];
      canon.set(w!, cw);
      added.push(...cw);
    }
    failed.delete(node);
    const inputs = [...node.inputs];
    inputs[LUT_X] = x;
    inputs[1] = null;
    inputs[2] = null;
    inputs[LUT_Q] = cw[0]!;
    inputs[LUT_SCALES] = cw[1]!;
    inputs[LUT_ZEROS] = cw[2]!;
    return { ...node, inputs };
  });

  // Table builds whose tables nobody reads any more: dropped, or reduced to their norm.
  const read = new Set<Value>(g.outputs),
    readByFailed = new Set<Value>();
  for (const n of nodes) for (const v of n.inputs) if (v) (failed.has(n) ? readByFailed : read).add(v);
  nodes = nodes.flatMap((n): Node[] => {
    const res = n.op === 'lut.norm_table' ? n.outputs.slice(1) : n.outputs;
    // read only by diagnosed lut.matmul nodes: kept as they are for planning, no second diagnostic
    if (LUT_BUILDS.has(n.op) && res.some((v) => readByFailed.has(v)) && !res.some((v) => read.has(v))) return [n];
    if (n.op === 'lut.pack') {
      if (!n.outputs.some((v) => read.has(v))) return [];
      bag.error(
        'LUT5151',
        'lut.pack results are read by something other than lut.matmul (e.g. a graph output): the C backend packs weights inside its layer kernels',
        nodeLoc(n, file),
      );
      return [n];
    }
    if (n.op !== 'lut.table' && n.op !== 'lut.norm_table') return [n];
    const tables = n.op === 'lut.table' ? n.outputs : n.outputs.slice(1);
    if (tables.some((v) => read.has(v))) {
      bag.error(
        'LUT5151',
        `${n.op} results are read by something other than lut.matmul (e.g. a graph output): the C backend builds tables inside its GEMM kernels`,
        nodeLoc(n, file),
      );
      return [n];
    }
    if (n.op === 'lut.table') return [];
    const a = resolveAttrs(findOp('lut.norm_table')!, n);
    const rms = a.norm === 'rms';
    return [
      {
        op: rms ? 'simplified_layer_norm' : 'layer_norm',
        name: n.name,
        inputs: rms ? n.inputs.slice(0, 2) : n.inputs.slice(0, 3),
        outputs: [n.outputs[0]!],
        attrs: { axis: a.axis!, epsilon: a.epsilon!, stash_type: a.stash_type! },
        ...(n.loc ? { loc: n.loc } : {}),
      },
    ];
  });

  const used = new Set<Value>(g.outputs);
  for (const n of nodes) for (const v of n.inputs) if (v) used.add(v);
  const constants = [...g.constants, ...added].filter((c) => used.has(c));
  return { ...g, nodes, constants };
}
