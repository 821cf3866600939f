/**
 * The whole-model plan every backend renders: static shapes for every value, the kernel steps in
 * order, and a static memory plan (liveness-based reuse of one activation arena). Backends differ
 * only in how they render each step; they never re-derive shapes, lifetimes or offsets.
 *
 * - Constants live in a separate read-only weight blob (offsets in `weightBytes`).
 * - Graph inputs and outputs get arena slots like any other value (inputs live from the start, outputs
 *   to the end), so a run is: copy inputs in, run steps, copy outputs out.
 * - View ops (trait 'view' in the op table: reshape, squeeze, unsqueeze, flatten, identity) alias
 *   their input's bytes: no step.
 */
import { fail, nodeLoc } from '../base/diagnostics.js';
import { progressOf } from '../compiler/progress.js';
import { allOps, hasTrait, operandIndex } from '../ir/optable.js';
import { dtypeByteSize, isStaticShape, numel } from '../ir/tensor.js';
import '../ir/ops/index.js';
import { dimSymbols, dimUpperBound } from '../ir/dim-expr.js';
import type { Dim, DType, Graph, Node, Tensor, Value } from '../ir/types.js';
import type { StreamedFile } from './target-info.js';

/** Ops whose result is the same bytes as their first input, reinterpreted: the op table's 'view' ops. */
export const VIEW_OPS: ReadonlySet<string> = new Set(
  allOps()
    .filter((d) => hasTrait(d, 'view'))
    .map((d) => d.name),
);

export interface Placement {
  value: Value;
  dtype: DType;
  shape: number[];
  /** Byte size (elements x element size; bool and i4/u4 one byte per element as stored). */
  bytes: number;
  /** Where the bytes are: the activation arena or the constant weight blob. */
  region: 'arena' | 'weights';
  /** Byte offset in its region (aligned to `ALIGN`). */
  offset: number;
  /**
   * The value's shape in dim expressions when it has runtime dims (`shape` and `bytes` are then its
   * upper bounds, what its slot is sized for); absent for static values.
   */
  dims?: Dim[];
  /** Arena lifetime in node indices of the graph: defined at `from` (-1: inputs), last read at `until`. */
  from: number;
  until: number;
}

export interface PlanStep {
  node: Node;
  /** Placements of the node's inputs (null for omitted optional operands). */
  inputs: (Placement | null)[];
  outputs: Placement[];
}

/**
 * Position of the operand named `name` of the step's op (ir/optable.ts `operandIndex`; an unknown name
 * throws). Takes a plan step or any backend's step context (anything with its `node`), so kernels name
 * operands (`'bias'`, `'axes'`) instead of numbering them.
 */
export function inputIndex(s: { node: Node }, name: string): number {
  return operandIndex(s.node.op, name);
}

/** The placement of the operand named `name` of a step (null when omitted): `operand()` at the placement level. */
export function stepInput(step: PlanStep, name: string): Placement | null {
  return step.inputs[inputIndex(step, name)] ?? null;
}

export interface ModelPlan {
  graph: Graph;
  steps: PlanStep[];
  placements: Map<Value, Placement>;
  inputs: Placement[];
  outputs: Placement[];
  /** Peak activation memory: the arena size. */
  arenaBytes: number;
  /** Sum of all activation sizes without reuse, to report what the plan saved. */
  unplannedBytes: number;
  /** Constant values in the weight blob, in blob order. */
  constants: Placement[];
  weightBytes: number;
  /** Runtime dims the plan uses, symbol -> upper bound (`--max-dim`); empty for a static model. */
  runtimeDims: Record<string, number>;
  /**
   * Where a run reads each runtime dim: the first graph input axis whose dim is that symbol (sorted by
   * symbol). Every other input dim is then checked against its expression (LUT5006) and every symbol
   * against its bound (LUT5009) before any step runs.
   */
  dimSources: DimSource[];
}

/** A runtime dim and the graph-input axis its value is read from at run time. */
export interface DimSource {
  sym: string;
  /** Index into `ModelPlan.inputs`. */
  input: number;
  axis: number;
  /** Its upper bound (`--max-dim`): slots are sized for it. */
  bound: number;
}

/** Alignment of every placement: a 64-byte line suits AVX-512 loads, v128 and WGSL storage offsets. */
export const ALIGN = 64;

const alignUp = (x: number, a = ALIGN) => Math.ceil(x / a) * a;

/** Where a value's shape comes from: static, or dim expressions over runtime dims with bounds. */
interface Sized {
  /** The static shape, or the upper bound of each dim. */
  shape: number[];
  dims?: Dim[];
}

/**
 * The shape a slot is planned for. Static shapes are themselves. A symbolic dim must be an
 * expression over runtime dims (`meta.dimBounds`, from --max-dim): the slot is sized for its upper
 * bound, and only a consumer that renders runtime dims (`PlanOptions.runtimeDims`) may plan it (LUT5004
 * otherwise); any other symbol is LUT5001.
 */
function sizedShape(v: Value, g: Graph, opts: PlanOptions, node?: Node): Sized {
  if (isStaticShape(v.type.shape)) return { shape: v.type.shape };
  const file = g.meta?.file;
  const loc = node ? nodeLoc(node, file) : file ? { kind: 'file' as const, file } : undefined;
  const bounds = g.meta?.dimBounds ?? {};
  const shape: number[] = [];
  for (const d of v.type.shape) {
    const ub = dimUpperBound(d, bounds);
    if (ub === undefined) {
      const sym = dimSymbols(d).find((x) => !(x in bounds)) ?? String(d);
      const msg = `value '${v.name}' has a symbolic dim '${d}' (symbol '${sym}' has no bound): bind it with --shape INPUT=D0,D1,... or --dim ${sym}=N, or make it a runtime dim with --max-dim ${sym}=N`;
      return fail('LUT5001', msg, loc);
    }
    shape.push(ub);
  }
  if (!opts.runtimeDims) {
    const sym = v.type.shape.flatMap((d) => dimSymbols(d))[0]!;
    const msg = `value '${v.name}' has the runtime dim '${sym}' (--max-dim ${sym}=${bounds[sym]}), which this target does not render yet: freeze it with --dim ${sym}=N`;
    return fail('LUT5004', msg, loc);
  }
  return { shape, dims: [...v.type.shape] };
}

/** Element size in compiled artifacts: f16/bf16 are computed and stored as f32 there. */
export function kernelByteSize(dtype: DType): number {
  return dtype === 'f16' || dtype === 'bf16' ? 4 : dtypeByteSize(dtype);
}

function bytesOf(dtype: DType, shape: number[]): number {
  return numel(shape) * kernelByteSize(dtype);
}

/** Per-target storage sizes (additive hook: WGSL stores most elements as 32-bit words). */
export interface PlanOptions {
  /** Bytes value `v` occupies in the target's buffers; default: elements x `kernelByteSize`. */
  byteSize?(v: Value, dtype: DType, shape: number[]): number;
  /**
   * The consumer renders runtime dims (placements then carry `dims`, slots sized for the bounds);
   * without it a runtime dim is LUT5004. Backends set it once their kernels take runtime dims.
   */
  runtimeDims?: boolean;
  /**
   * Values placed first in the arena and never shared with another value (from -1, until the end):
   * their bytes survive from one run to the next (the wasm shared KV cache, `gqaCachePairs`).
   */
  pinned?: ReadonlySet<Value>;
}

/** A GroupQueryAttention cache pair: the past graph input its fused kernel reads, the present graph output it writes. */
export interface CachePair {
  node: Node;
  past: Value;
  present: Value;
}

/**
 * The cache pairs of `g` that a shared past/present buffer can serve: a group_query_attention's past
 * key (value) that is a graph input read by that node alone (besides `shape` nodes, which read only
 * its dims: fuse-attention's total length P + S), and its present key (value) that is a graph output
 * read by no node (`shape` nodes aside); both pairs of a node or neither. Key pair before value pair, in node order.
 */
export function gqaCachePairs(g: Graph): CachePair[] {
  const readers = new Map<Value, number>();
  // `shape` nodes read only dims (runtime dims come from the feeds' shapes, never the data), so a past
  // they also read can still be fed as { shape } alone
  for (const n of g.nodes) if (n.op !== 'shape') for (const v of n.inputs) if (v) readers.set(v, (readers.get(v) ?? 0) + 1);
  const pairs: CachePair[] = [];
  for (const n of g.nodes) {
    if (n.op !== 'group_query_attention') continue;
    const two = ([3, 4] as const).map((pi) => ({ node: n, past: n.inputs[pi], present: n.outputs[pi - 2] }));
    const ok = (p: (typeof two)[number]) =>
      !!p.past &&
      !!p.present &&
      g.inputs.includes(p.past) &&
      readers.get(p.past) === 1 &&
      g.outputs.includes(p.present) &&
      !readers.has(p.present);
    if (two.every(ok)) pairs.push(...(two as CachePair[]));
  }
  return pairs;
}

/**
 * Plans `g` (already lowered and typed). Subgraphs (If) are not supported by compiled targets: a
 * constant-condition If was inlined by the importer, a runtime one is diagnosed.
 */
export function planModel(g: Graph, opts: PlanOptions = {}): ModelPlan {
  const sizeOf = (v: Value, shape: number[]) => (opts.byteSize ? opts.byteSize(v, v.type.dtype, shape) : bytesOf(v.type.dtype, shape));
  const file = g.meta?.file;
  const placements = new Map<Value, Placement>();
  const constants: Placement[] = [];
  let weightBytes = 0;
  for (const c of g.constants) {
    const { shape } = sizedShape(c, g, opts);
    const p: Placement = {
      value: c,
      dtype: c.type.dtype,
      shape,
      bytes: sizeOf(c, shape),
      region: 'weights',
      offset: weightBytes,
      from: -1,
      until: Infinity,
    };
    weightBytes = alignUp(weightBytes + p.bytes);
    placements.set(c, p);
    constants.push(p);
  }

  // Root value of each alias chain, and the last step index that reads any value of the chain.
  const root = new Map<Value, Value>();
  const rootOf = (v: Value) => root.get(v) ?? v;
  const lastUse = new Map<Value, number>();
  const firstDef = new Map<Value, number>();
  for (const v of g.inputs) firstDef.set(v, -1);
  g.nodes.forEach((n, i) => {
    if (n.op === 'if') fail('LUT5002', 'a runtime If is not supported by compiled targets (only by --target ref)', nodeLoc(n, file));
    for (const v of n.inputs) if (v) lastUse.set(rootOf(v), i);
    if (hasTrait(n.op, 'view') && n.inputs[0] && !n.inputs[0].const) root.set(n.outputs[0]!, rootOf(n.inputs[0]));
    else for (const o of n.outputs) firstDef.set(o, i);
  });
  const end = g.nodes.length;
  for (const v of g.outputs) lastUse.set(rootOf(v), end);
  for (const v of g.inputs) lastUse.set(v, Math.max(lastUse.get(v) ?? -1, end)); // inputs stay readable

  // Greedy first-fit over offsets, in order of definition; a block is free after its last use.
  interface Block {
    offset: number;
    bytes: number;
    until: number;
  }
  const live: Block[] = [];
  let arenaBytes = 0;
  let unplannedBytes = 0;
  const allocate = (bytes: number, at: number, until: number): number => {
    for (let i = live.length - 1; i >= 0; i--) if (live[i]!.until < at) live.splice(i, 1);
    live.sort((a, b) => a.offset - b.offset);
    let off = 0;
    for (const b of live) {
      if (off + bytes <= b.offset) break;
      off = Math.max(off, alignUp(b.offset + b.bytes));
    }
    live.push({ offset: off, bytes, until });
    arenaBytes = Math.max(arenaBytes, alignUp(off + bytes));
    return off;
  };
  const place = (v: Value, at: number, node?: Node): Placement => {
    const { shape, dims } = sizedShape(v, g, opts, node);
    const bytes = sizeOf(v, shape);
    unplannedBytes += alignUp(bytes);
    const until = lastUse.get(v) ?? at;
    const offset = pinned.get(v) ?? allocate(Math.max(bytes, 1), at, until);
    const p: Placement = { value: v, dtype: v.type.dtype, shape, bytes, region: 'arena', offset, from: at, until, ...(dims && { dims }) };
    placements.set(v, p);
    return p;
  };
  for (const v of opts.pinned ?? []) lastUse.set(v, Infinity);
  const pinned = new Map(
    [...(opts.pinned ?? [])].map((v) => [v, allocate(Math.max(sizeOf(v, sizedShape(v, g, opts).shape), 1), -1, Infinity)]),
  );
  const inputs = g.inputs.map((v) => place(v, -1));
  const steps: PlanStep[] = [];
  g.nodes.forEach((n, i) => {
    if (root.has(n.outputs[0]!)) {
      const src = placements.get(rootOf(n.outputs[0]!))!;
      const { shape, dims } = sizedShape(n.outputs[0]!, g, opts, n);
      const view: Placement = { ...src, value: n.outputs[0]!, shape };
      if (dims) view.dims = dims;
      else delete view.dims;
      placements.set(n.outputs[0]!, view);
      return;
    }
    const ins = n.inputs.map((v) => (v ? placements.get(v)! : null));
    const outs = n.outputs.map((o) => place(o, i, n));
    steps.push({ node: n, inputs: ins, outputs: outs });
  });
  const outputs = g.outputs.map((v) => placements.get(v)!);
  const runtimeDims: Record<string, number> = {};
  for (const p of placements.values())
    for (const d of p.dims ?? []) for (const sym of dimSymbols(d)) runtimeDims[sym] = g.meta!.dimBounds![sym]!;
  const dimSources = runtimeDimSources(inputs, runtimeDims, file);
  return { graph: g, steps, placements, inputs, outputs, arenaBytes, unplannedBytes, constants, weightBytes, runtimeDims, dimSources };
}

/**
 * Each runtime dim's source axis among the graph inputs (a dim that is exactly the symbol). A runtime
 * dim that no input dim names (only an expression of it, or only intermediate values) cannot be known
 * before the run: LUT5001.
 */
function runtimeDimSources(inputs: Placement[], runtimeDims: Record<string, number>, file?: string): DimSource[] {
  const out: DimSource[] = [];
  for (const sym of Object.keys(runtimeDims).sort()) {
    let src: DimSource | undefined;
    inputs.forEach((p, input) => {
      const axis = src ? -1 : (p.dims ?? []).indexOf(sym);
      if (axis >= 0) src = { sym, input, axis, bound: runtimeDims[sym]! };
    });
    if (!src)
      fail(
        'LUT5001',
        `runtime dim '${sym}' is not the dim of any graph input, so a run cannot know it: freeze it with --dim ${sym}=N`,
        file ? { kind: 'file', file } : undefined,
      );
    out.push(src);
  }
  return out;
}

/** The constant blob: every constant's storage bytes at its planned offset (little-endian, as stored). */
export function weightBlob(plan: ModelPlan): Uint8Array {
  const blob = new Uint8Array(plan.weightBytes);
  for (const c of plan.constants) blob.set(tensorBytes(c.value.const!, c.dtype), c.offset);
  return blob;
}

/**
 * The constant blob as a stream (target-info.ts StreamedFile): weightBlob's bytes, one constant at a
 * time (lazy constants, ir/tensor.ts, are loaded as they come and not kept), the gaps as zeros, then
 * `tail` (extra bytes placed right after the plan's constants, e.g. wasm's derived constants).
 * Each pass over it is a progress phase `label` (compiler/progress.ts), counted in constants.
 */
export function weightStream(plan: ModelPlan, tail: StreamedFile = { size: 0, chunks: () => [] }, label = 'writing weights'): StreamedFile {
  const zeros = new Uint8Array(1 << 16);
  function* gap(n: number): Generator<Uint8Array> {
    for (; n > 0; n -= zeros.length) yield zeros.subarray(0, Math.min(n, zeros.length));
  }
  return {
    size: plan.weightBytes + tail.size,
    *chunks() {
      let at = 0;
      for (const c of progressOf(label, plan.constants.length, 'constants', plan.constants)) {
        if (c.offset < at) throw new Error(`lutc bug: constant '${c.value.name}' overlaps the one before it in the weight blob`);
        yield* gap(c.offset - at);
        const b = tensorBytes(c.value.const!, c.dtype);
        if (c.offset + b.length > plan.weightBytes) throw new Error(`lutc bug: constant '${c.value.name}' overruns the weight blob`);
        yield b;
        at = c.offset + b.length;
      }
      yield* gap(plan.weightBytes - at);
      yield* tail.chunks();
    },
  };
}

/**
 * A tensor's bytes as kernels read them: f32/f16/bf16 as f32 (compiled kernels compute in f32),
 * i64 as little-endian int64, bool/i4/u4 one byte per element, others as their typed array.
 */
export function tensorBytes(t: Tensor, dtype: DType = t.dtype): Uint8Array {
  if (dtype === 'i64' || dtype === 'u64') {
    const out = new BigInt64Array(t.data.length);
    for (let i = 0; i < t.data.length; i++) out[i] = BigInt(Math.trunc(Math.min(Math.max(t.data[i]!, -(2 ** 63)), 2 ** 63 - 1024)));
    return new Uint8Array(out.buffer);
  }
  return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
}
