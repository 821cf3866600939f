/**
 * One small graph per op of the op table (and a second one where an op has a second form worth its
 * own row: float and integer Mod, Pad modes, scatter with run-time indices, ...), in the manner of
 * tinygrad's test_ops.py: seeded random inputs of awkward shapes (odd sizes, broadcasting, a size-1
 * dim), values kept inside each op's domain (and where ORT agrees with the interpreter: no integer
 * division by zero, no duplicate indices under reduction 'none'). A case builds into any graph
 * (`buildCases` puts many into one, so a target compiles one artifact per batch) and remembers its
 * inputs' data; its label names it in the expected-unsupported list (support.ts).
 */
import { seededRandom } from '../../base/random.js';
import { GraphBuilder, newGraph } from '../../ir/graph.js';
import { addNode, inferNode } from '../../ir/lut/build.js';
import '../../ir/ops/index.js';
import { makeTensor, numel } from '../../ir/tensor.js';
import type { Attrs, DType, Graph, Node, Tensor, Value } from '../../ir/types.js';

/** How an input's values are drawn: uniform in [lo, hi) (integers: rounded), or given. */
export interface Gen {
  lo?: number;
  hi?: number;
  /** Values to plant at the start (NaN, inf, ties, halves). */
  special?: number[];
  values?: number[];
}

/** What a case builds with: inputs with generated data, constants, nodes of any op (types inferred). */
export class CaseCtx {
  private seq = 0;
  private readonly rnd: () => number;
  /** Names of the case's nodes of the op under test (diagnostics must name one of them). */
  readonly opNodes: string[] = [];
  constructor(
    readonly b: GraphBuilder,
    readonly prefix: string,
    seed: number,
    readonly feeds: Record<string, Tensor>,
    readonly op: string,
  ) {
    this.rnd = seededRandom(seed);
  }

  /** Data for a tensor of `dtype` and `shape` drawn per `gen` (default uniform [-3, 3)). */
  data(dtype: DType, shape: number[], gen: Gen = {}): Tensor {
    const n = numel(shape);
    const [lo, hi] = [gen.lo ?? (dtype === 'bool' ? 0 : -3), gen.hi ?? (dtype === 'bool' ? 2 : 3)];
    const isInt = !['f32', 'f16', 'bf16', 'f64'].includes(dtype);
    const vals =
      gen.values ??
      Array.from({ length: n }, () => {
        const v = lo + (hi - lo) * this.rnd();
        return isInt ? Math.floor(v) : v;
      });
    for (const [i, v] of (gen.special ?? []).entries()) vals[i] = v;
    return makeTensor(dtype, shape, vals);
  }

  input(dtype: DType, shape: number[], gen?: Gen): Value {
    const t = this.data(dtype, shape, gen);
    const v = this.b.input(`${this.prefix}x${this.seq++}`, { dtype, shape });
    this.feeds[v.name] = t;
    return v;
  }

  const(dtype: DType, shape: number[], gen?: Gen): Value {
    return this.b.constant(`${this.prefix}c${this.seq++}`, this.data(dtype, shape, gen));
  }

  i64(v: number[], shape = [v.length]): Value {
    return this.const('i64', shape, { values: v });
  }

  scalar(dtype: DType, v: number): Value {
    return this.const(dtype, [], { values: [v] });
  }

  /**
   * A node of `op` (`nOut` results for ops with variadic results, else as many as the op declares);
   * its results. Nodes of the op under test are recorded in `opNodes`.
   */
  node(op: string, inputs: (Value | null)[], attrs: Attrs = {}, nOut?: number): Value[] {
    let n: Node;
    if (nOut === undefined) n = addNode(this.b, op, inputs, attrs, `${this.prefix}${op}`);
    else {
      n = this.b.node(
        op,
        inputs,
        attrs,
        Array.from({ length: nOut }, () => ({ dtype: 'f32' as const, shape: [] })),
        { name: `${this.prefix}${op}` },
      );
      for (const [i, t] of inferNode(n).entries()) n.outputs[i]!.type = t;
    }
    if (op === this.op) this.opNodes.push(n.name);
    return n.outputs;
  }

  /** The first result of a node of `op`. */
  op1(op: string, inputs: (Value | null)[], attrs: Attrs = {}): Value {
    return this.node(op, inputs, attrs)[0]!;
  }
}

export interface OpCase {
  /** The op under test (a name in the op table). */
  op: string;
  /** Unique label (the op name for its first case). */
  label: string;
  /** Builds the graph; returns the results to compare. */
  build(c: CaseCtx): Value[];
  /** LUT cases: compare with the interpreter of the lowered graph (int8 tables), not the float graph. */
  lut?: boolean;
  /** The ONNX export of this case cannot run in onnxruntime: why. */
  noOrt?: string;
}

const F = 'f32';
const unit = (op: string, gen: Gen = {}, attrs: Attrs = {}, shape = [3, 1, 7]): OpCase => ({
  op,
  label: op,
  build: (c) => [c.op1(op, [c.input(F, shape, gen)], attrs)],
});
const bin = (op: string, a: [DType, number[], Gen?], b: [DType, number[], Gen?], attrs: Attrs = {}, label = op): OpCase => ({
  op,
  label,
  build: (c) => [c.op1(op, [c.input(a[0], a[1], a[2]), c.input(b[0], b[1], b[2])], attrs)],
});
const reduce = (op: string, shape: number[], axes: number[] | null, keepdims: number, gen: Gen = {}): OpCase => ({
  op,
  label: op,
  build: (c) => [c.op1(op, [c.input(F, shape, gen), axes ? c.i64(axes) : null], { keepdims })],
});
const POS: Gen = { lo: 0.1, hi: 3 };
const UNIT: Gen = { lo: -0.95, hi: 0.95 };

/** RotaryEmbedding with a cache of 9 positions: heads of 8, rotating all 8 or (partial) the first 4. */
function rotaryCase(c: CaseCtx, transposed: boolean, interleaved: boolean): Value[] {
  const [B, S, N, H] = [2, 3, 2, 8];
  const R = interleaved ? 4 : H;
  const x = c.input(F, transposed ? [B, N, S, H] : [B, S, N * H]);
  const pos = transposed ? c.input('i64', [1], { values: [5] }) : c.input('i64', [B, S], { lo: 0, hi: 9 });
  const cos = c.const(F, [9, R / 2], UNIT);
  const sin = c.const(F, [9, R / 2], UNIT);
  const attrs = { interleaved: interleaved ? 1 : 0, ...(R < H ? { num_heads: N, rotary_embedding_dim: R } : {}) };
  return c.node('rotary_embedding', [x, pos, cos, sin], attrs, 1);
}

/**
 * GroupQueryAttention (4 query heads over 2 KV heads of 16) with the total length a constant, as a
 * static compile folds Shape(attention_mask): a decode step over a past of 5 (seqlens_k at run time),
 * a packed-QKV first prompt with rotary, and a continued prompt with a local window, softcap and
 * smooth softmax.
 */
function gqaCase(c: CaseCtx, form: 'decode' | 'prompt' | 'window'): Value[] {
  const attrs: Attrs = { num_heads: 4, kv_num_heads: 2 };
  const i32 = (v: number[], shape: number[]) => c.const('i32', shape, { values: v });
  if (form === 'prompt') {
    const qkv = c.input(F, [2, 4, 128], UNIT);
    const cos = c.const(F, [8, 8], UNIT);
    const sin = c.const(F, [8, 8], UNIT);
    return c.node(
      'group_query_attention',
      [qkv, null, null, null, null, c.input('i32', [2], { values: [3, 3] }), i32([4], []), cos, sin],
      { ...attrs, do_rotary: 1 },
      3,
    );
  }
  const S = form === 'decode' ? 1 : 3;
  const [q, k, v] = [c.input(F, [1, S, 64], UNIT), c.input(F, [1, S, 32], UNIT), c.input(F, [1, S, 32], UNIT)];
  const [pk, pv] = [c.input(F, [1, 2, 5, 16], UNIT), c.input(F, [1, 2, 5, 16], UNIT)];
  const seqlens = c.input('i32', [1], { values: [5 + S - 1] });
  const extra: Attrs = form === 'window' ? { local_window_size: 4, softcap: 1.5, smooth_softmax: 1 } : {};
  return c.node('group_query_attention', [q, k, v, pk, pv, seqlens, i32([5 + S], [])], { ...attrs, ...extra }, 3);
}

/** The 'if' case: branches read x from the enclosing graph. */
function ifCase(c: CaseCtx): Value[] {
  const x = c.input(F, [3, 5]);
  const cond = c.input('bool', [], { values: [0] });
  const branch = (name: string, op: string, k: number): Graph => {
    const g = newGraph(`${c.prefix}${name}`);
    const b = new GraphBuilder(g);
    const kv: Value = {
      name: c.b.uniqueName(`${c.prefix}${name}_k`),
      type: { dtype: F, shape: [] },
      producer: null,
      const: makeTensor(F, [], [k]),
    };
    g.constants.push(kv);
    const n = addNode(b, op, [x, kv], {}, c.b.uniqueName(`${c.prefix}${name}_${op}`), [c.b.uniqueName(`${c.prefix}${name}_y`)]);
    g.outputs.push(n.outputs[0]!);
    return g;
  };
  return c.node('if', [cond], { then_branch: branch('then', 'mul', 2), else_branch: branch('else', 'add', 1) }, 1);
}

/**
 * The LUT case: 2-bit MatMulNBits layers, one after a LayerNorm (-> lut.norm_table), one on x (-> lut.table)
 * (lut.gemm on C, whose pipeline LUT form it is), and hand-written graph-form layers that reach every
 * target as they are: an RMS lut.norm_table with int8 tables into a 2-bit lut.matmul with bias and gelu,
 * an f32 lut.table into a 4-bit one with channel_scale and relu (both lut.pack folded by bitplane-layout).
 */
function lutCase(c: CaseCtx): Value[] {
  const [K, N, bs] = [32, 16, 16];
  const x = c.input(F, [3, K], { lo: -1, hi: 1 });
  const layer = (a: Value) =>
    c.op1(
      'matmul_nbits',
      [a, c.const('u8', [N, K / bs, (bs * 2) / 8], { lo: 0, hi: 256 }), c.const(F, [N * (K / bs)], { lo: 0.01, hi: 0.05 })],
      { K, N, bits: 2, block_size: bs },
    );
  const ln = c.op1('layer_norm', [x, c.const(F, [K], { lo: 0.5, hi: 1.5 }), c.const(F, [K], { lo: -0.1, hi: 0.1 })], { axis: -1 });
  const pack = (bits: number, gs: number) => {
    const geo = { n: N, k: K, bits, group_size: gs };
    const q = c.const('u8', [N, K], { lo: 0, hi: 2 ** bits });
    const s = c.const(F, [N, K / gs], { lo: 0.01, hi: 0.05 });
    const z = c.const(F, [N, K / gs], { lo: 0, hi: 2 ** bits - 1 });
    return { geo, w: c.node('lut.pack', [q, s, z], geo) };
  };
  const p2 = pack(2, 16);
  const [xn, t, ts, xs] = c.node('lut.norm_table', [x, c.const(F, [K], { lo: 0.5, hi: 1.5 })], { k: K, group_size: 16, norm: 'rms' });
  const y2 = c.op1('lut.matmul', [t!, ts!, xs!, ...p2.w, c.const(F, [N], { lo: -0.5, hi: 0.5 })], { ...p2.geo, activation: 'gelu' });
  const p4 = pack(4, 32);
  const [tf, tsf, xsf] = c.node('lut.table', [x], { k: K, group_size: 32, tables: 'f32' });
  const y4 = c.op1('lut.matmul', [tf!, tsf!, xsf!, ...p4.w, null, null, c.const(F, [N], { lo: 0.5, hi: 2 })], {
    ...p4.geo,
    tables: 'f32',
    activation: 'relu',
  });
  return [layer(ln), layer(x), xn!, y2, y4];
}

/** Every op of the table has at least one case here (op-target.test.ts checks that). */
export const CASES: readonly OpCase[] = [
  // ---- ir/ops/elementwise.ts
  bin('add', [F, [3, 1, 5]], [F, [4, 5]]),
  bin('sub', [F, [3, 4, 1]], [F, [5]]),
  bin('mul', ['i32', [3, 1, 5], { lo: -50, hi: 50 }], ['i32', [4, 5], { lo: -50, hi: 50 }]),
  bin('div', [F, [3, 1, 5]], [F, [4, 5], POS]),
  bin('equal', ['i32', [3, 5], { lo: 0, hi: 3 }], ['i32', [5], { lo: 0, hi: 3 }]),
  bin('less', [F, [3, 1, 5]], [F, [4, 5]]),
  bin('greater', [F, [3, 4, 1]], [F, [4, 5]]),
  bin('greater_or_equal', ['i32', [3, 5], { lo: 0, hi: 3 }], ['i32', [3, 1], { lo: 0, hi: 3 }]),
  bin('less_or_equal', [F, [7]], [F, [3, 1]]),
  bin('and', ['bool', [3, 4]], ['bool', [4]]),
  bin('or', ['bool', [3, 1]], ['bool', [3, 4]]),
  bin('pow', [F, [3, 1, 5], POS], [F, [5], { lo: -2, hi: 2 }]),
  { op: 'max', label: 'max', build: (c) => [c.op1('max', [c.input(F, [3, 1, 5]), c.input(F, [4, 5]), c.input(F, [1])])] },
  { op: 'min', label: 'min', build: (c) => [c.op1('min', [c.input(F, [3, 1, 5]), c.input(F, [4, 5])])] },
  { op: 'where', label: 'where', build: (c) => [c.op1('where', [c.input('bool', [3, 1, 5]), c.input(F, [4, 5]), c.input(F, [1])])] },
  unit('sqrt', POS),
  unit('reciprocal', POS),
  unit('exp'),
  unit('log', POS),
  unit('erf'),
  unit('tanh'),
  unit('sigmoid', { lo: -8, hi: 8 }),
  unit('softplus', { lo: -8, hi: 8 }),
  unit('neg'),
  unit('abs'),
  unit('relu'),
  unit('leaky_relu', {}, { alpha: 0.1 }),
  unit('gelu'),
  { ...unit('gelu', {}, { approximate: 'tanh' }), label: 'gelu tanh' },
  { op: 'not', label: 'not', build: (c) => [c.op1('not', [c.input('bool', [3, 1, 5])])] },
  { op: 'clip', label: 'clip', build: (c) => [c.op1('clip', [c.input(F, [7, 9]), c.scalar(F, -0.5), c.scalar(F, 0.7)])] },
  {
    op: 'clip',
    label: 'clip int64, run-time bounds',
    build: (c) => [
      c.op1('clip', [
        c.input('i64', [4, 6], { lo: -20, hi: 20 }),
        c.input('i64', [], { values: [-5] }),
        c.input('i64', [], { values: [7] }),
      ]),
    ],
  },
  { op: 'cast', label: 'cast', build: (c) => [c.op1('cast', [c.input(F, [5, 7], { lo: -300, hi: 300 })], { to: 6 })] },

  // ---- ir/ops/reduce.ts
  reduce('reduce_sum', [3, 4, 5], [1], 0),
  reduce('reduce_mean', [3, 4, 5], [0, 2], 1),
  reduce('reduce_max', [3, 4, 5], null, 0),
  reduce('reduce_min', [3, 4, 5], [-1], 1),
  reduce('reduce_prod', [3, 4, 5], [1], 0, { lo: 0.5, hi: 1.5 }),
  reduce('reduce_l1', [3, 4, 5], [0], 0),
  reduce('reduce_l2', [3, 4, 5], [2], 1),
  reduce('reduce_sum_square', [3, 4, 5], [0, 1], 0),
  reduce('reduce_log_sum', [3, 4, 5], [1], 1, POS),
  reduce('reduce_log_sum_exp', [3, 4, 5], [2], 0, { lo: -20, hi: 20 }),
  { op: 'softmax', label: 'softmax', build: (c) => [c.op1('softmax', [c.input(F, [3, 7, 5])], { axis: 1 })] },
  { op: 'log_softmax', label: 'log_softmax', build: (c) => [c.op1('log_softmax', [c.input(F, [3, 9])], { axis: -1 })] },

  // ---- ir/ops/norm.ts
  {
    op: 'layer_norm',
    label: 'layer_norm',
    build: (c) => c.node('layer_norm', [c.input(F, [2, 3, 7]), c.const(F, [7]), c.const(F, [7])], { axis: -1 }),
  },
  {
    op: 'simplified_layer_norm',
    label: 'simplified_layer_norm',
    build: (c) => c.node('simplified_layer_norm', [c.input(F, [3, 9]), c.const(F, [9])], { axis: -1 }).slice(0, 1),
  },
  {
    op: 'skip_simplified_layer_norm',
    label: 'skip_simplified_layer_norm',
    build: (c) =>
      c.node('skip_simplified_layer_norm', [c.input(F, [2, 3, 8]), c.input(F, [2, 3, 8]), c.const(F, [8]), c.const(F, [8])], {
        epsilon: 1e-5,
      }),
  },
  {
    op: 'skip_layer_norm',
    label: 'skip_layer_norm',
    build: (c) =>
      c.node('skip_layer_norm', [c.input(F, [2, 3, 8]), c.input(F, [2, 3, 8]), c.const(F, [8]), c.const(F, [8]), c.const(F, [8])], {
        epsilon: 1e-5,
      }),
  },

  // ---- ir/ops/slice.ts, shape.ts
  {
    op: 'slice',
    label: 'slice',
    build: (c) => [c.op1('slice', [c.input(F, [5, 6, 7]), c.i64([-1, 1]), c.i64([-100, 6]), c.i64([2, 1]), c.i64([-2, 2])])],
  },
  { op: 'concat', label: 'concat', build: (c) => [c.op1('concat', [c.input(F, [3, 2, 5]), c.input(F, [3, 4, 5])], { axis: 1 })] },
  { op: 'split', label: 'split', build: (c) => c.node('split', [c.input(F, [5, 6]), c.i64([2, 4])], { axis: 1 }, 2) },
  {
    op: 'gather',
    label: 'gather',
    build: (c) => [c.op1('gather', [c.input(F, [5, 7]), c.input('i64', [2, 3], { values: [0, -1, 3, 6, 2, -7] })], { axis: 1 })],
  },
  { op: 'trilu', label: 'trilu', build: (c) => [c.op1('trilu', [c.input(F, [2, 5, 6]), c.scalar('i64', 1)], { upper: 0 })] },
  { op: 'reshape', label: 'reshape', build: (c) => [c.op1('reshape', [c.input(F, [3, 4, 5]), c.i64([-1, 5])])] },
  { op: 'flatten', label: 'flatten', build: (c) => [c.op1('flatten', [c.input(F, [2, 3, 5])], { axis: 2 })] },
  { op: 'transpose', label: 'transpose', build: (c) => [c.op1('transpose', [c.input(F, [3, 4, 5])], { perm: [2, 0, 1] })] },
  { op: 'squeeze', label: 'squeeze', build: (c) => [c.op1('squeeze', [c.input(F, [3, 1, 5]), c.i64([1])])] },
  { op: 'unsqueeze', label: 'unsqueeze', build: (c) => [c.op1('unsqueeze', [c.input(F, [3, 5]), c.i64([0, 3])])] },
  { op: 'expand', label: 'expand', build: (c) => [c.op1('expand', [c.input(F, [3, 1]), c.i64([2, 3, 4])])] },
  { op: 'shape', label: 'shape', build: (c) => [c.op1('shape', [c.input(F, [3, 1, 5])], { start: 1 })] },
  {
    op: 'constant',
    label: 'constant',
    build: (c) => {
      const k = c.op1('constant', [], { value: c.data(F, [2, 3]) });
      return [k, c.op1('add', [k, c.input(F, [3])])];
    },
  },
  {
    op: 'constant_of_shape',
    label: 'constant_of_shape',
    build: (c) => [c.op1('constant_of_shape', [c.i64([2, 3])], { value: makeTensor('i32', [1], [7]) })],
  },
  { op: 'range', label: 'range', build: (c) => [c.op1('range', [c.scalar(F, 1), c.scalar(F, 4), c.scalar(F, 0.7)])] },
  { op: 'identity', label: 'identity', build: (c) => [c.op1('identity', [c.input(F, [3, 1, 5])])] },

  // ---- ir/ops/quant.ts, conv.ts, linear.ts, control.ts, lut.ts
  {
    op: 'dequantize_linear',
    label: 'dequantize_linear',
    build: (c) => [
      c.op1(
        'dequantize_linear',
        [c.input('i8', [4, 6], { lo: -128, hi: 128 }), c.const(F, [6], POS), c.const('i8', [6], { lo: -5, hi: 5 })],
        { axis: 1 },
      ),
    ],
  },
  {
    op: 'quantize_linear',
    label: 'quantize_linear',
    build: (c) => [c.op1('quantize_linear', [c.input(F, [5, 7], { lo: -20, hi: 20 }), c.scalar(F, 0.1), c.scalar('u8', 128)])],
  },
  {
    op: 'conv',
    label: 'conv',
    build: (c) => [
      c.op1('conv', [c.input(F, [1, 2, 7, 6]), c.const(F, [4, 2, 3, 2]), c.const(F, [4])], { pads: [1, 0, 1, 1], strides: [2, 1] }),
    ],
  },
  { op: 'matmul', label: 'matmul', build: (c) => [c.op1('matmul', [c.input(F, [2, 1, 5, 7]), c.input(F, [3, 7, 4])])] },
  {
    op: 'gemm',
    label: 'gemm',
    build: (c) => [c.op1('gemm', [c.input(F, [5, 7]), c.const(F, [4, 7]), c.const(F, [4])], { transB: 1, alpha: 0.5 })],
  },
  {
    op: 'matmul_nbits',
    label: 'matmul_nbits',
    // 8-bit weights take the int8 path under the default --tables i8 (compute = 'i8'): compared with the
    // interpreter of the lowered graph like the LUT cases (the float path: test/backends/c-model/float.test.ts)
    lut: true,
    noOrt: 'the int8 path quantizes activations (test/ops-c/matmul-nbits8.test.ts checks it against onnxruntime)',
    build: (c) => [
      c.op1(
        'matmul_nbits',
        [c.input(F, [3, 32]), c.const('u8', [6, 2, 16], { lo: 0, hi: 256 }), c.const(F, [12], { lo: 0.001, hi: 0.01 })],
        { K: 32, N: 6, bits: 8, block_size: 16 },
      ),
    ],
  },
  { op: 'if', label: 'if', build: ifCase },

  // ---- ir/ops/attention.ts
  {
    op: 'rotary_embedding',
    label: 'rotary_embedding [B,S,N*H] half-split, per-token positions',
    build: (c) => rotaryCase(c, false, false),
  },
  {
    op: 'rotary_embedding',
    label: 'rotary_embedding [B,N,S,H] interleaved, partial, start offset',
    build: (c) => rotaryCase(c, true, true),
  },
  {
    op: 'gather_block_quantized',
    label: 'gather_block_quantized uint8 4-bit, packed zero points, K not a block multiple',
    build: (c) => [
      c.op1(
        'gather_block_quantized',
        [
          c.const('u8', [6, 20], { lo: 0, hi: 256 }),
          c.input('i64', [2, 2], { values: [5, 0, -1, 2] }),
          c.const(F, [6, 3], POS),
          c.const('u8', [6, 2], { lo: 0, hi: 256 }),
        ],
        { bits: 4, block_size: 16, quantize_axis: 1 },
      ),
    ],
  },
  {
    op: 'gather_block_quantized',
    label: 'gather_block_quantized int4 with zero points, 3-D data',
    build: (c) => [
      c.op1(
        'gather_block_quantized',
        [
          c.const('i4', [5, 2, 32], { lo: -8, hi: 8 }),
          c.input('i64', [3], { values: [4, 1, 1] }),
          c.const(F, [5, 2, 2], POS),
          c.const('i4', [5, 2, 2], { lo: -8, hi: 8 }),
        ],
        { bits: 4, block_size: 16, quantize_axis: 2 },
      ),
    ],
  },
  { op: 'group_query_attention', label: 'group_query_attention decode step over a past', build: (c) => gqaCase(c, 'decode') },
  { op: 'group_query_attention', label: 'group_query_attention packed QKV first prompt with rotary', build: (c) => gqaCase(c, 'prompt') },
  {
    op: 'group_query_attention',
    label: 'group_query_attention continued prompt, local window, softcap, smooth softmax',
    build: (c) => gqaCase(c, 'window'),
  },
  ...['lut.pack', 'lut.table', 'lut.norm_table', 'lut.matmul', 'lut.gemm'].map(
    (op): OpCase => ({ op, label: op, build: lutCase, lut: true, noOrt: 'LUT ops have no ONNX form' }),
  ),

  // ---- ir/ops/math.ts: rounding, sign, trigonometry
  unit('ceil', { special: [-1.5, -0.5, 0.5, 2] }),
  unit('floor', { special: [-1.5, -0.5, 0.5, 2] }),
  unit('round', { special: [-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 3.5] }),
  unit('sin'),
  unit('cos'),
  unit('tan', { lo: -1.2, hi: 1.2 }),
  unit('asin', UNIT),
  unit('acos', UNIT),
  unit('atan'),
  unit('sinh'),
  unit('cosh'),
  unit('asinh'),
  unit('acosh', { lo: 1, hi: 4 }),
  unit('atanh', UNIT),
  unit('sign', { special: [0, -0, 2, -2] }),
  { op: 'sign', label: 'sign i32', build: (c) => [c.op1('sign', [c.input('i32', [3, 5], { lo: -2, hi: 3 })])] },
  // activations
  unit('softsign'),
  unit('mish', { lo: -6, hi: 6 }),
  unit('hard_sigmoid', { lo: -5, hi: 5 }, { alpha: 0.3, beta: 0.4 }),
  unit('hard_swish', { lo: -5, hi: 5 }),
  unit('elu', {}, { alpha: 0.7 }),
  unit('selu'),
  unit('celu', {}, { alpha: 1.3 }),
  unit('thresholded_relu', {}, { alpha: 0.4 }),
  unit('shrink', {}, { bias: 0.2, lambd: 0.6 }),
  { op: 'prelu', label: 'prelu', build: (c) => [c.op1('prelu', [c.input(F, [3, 4, 5]), c.const(F, [4, 1])])] },
  // predicates, integer ops
  unit('is_nan', { special: [NaN, 1, NaN, Infinity] }),
  unit('is_inf', { special: [Infinity, -Infinity, NaN, 1] }),
  { ...unit('is_inf', { special: [Infinity, -Infinity, NaN, 1] }, { detect_negative: 0 }), label: 'is_inf positive' },
  bin(
    'mod',
    ['i32', [3, 1, 5], { lo: -20, hi: 20 }],
    ['i32', [4, 5], { values: [3, -3, 7, -7, 1, 2, -2, 5, -5, 9, 4, -4, 6, -6, 8, 11, -11, 13, 2, -1] }],
  ),
  bin('mod', ['i32', [3, 5], { lo: -20, hi: 20 }], ['i32', [5], { values: [3, -3, 7, -7, 5] }], { fmod: 1 }, 'mod fmod i32'),
  bin('mod', [F, [3, 5], { lo: -20, hi: 20 }], [F, [5], { values: [3, -2.5, 0.7, -7, 5.25] }], { fmod: 1 }, 'mod f32'),
  bin('xor', ['bool', [3, 4]], ['bool', [4]]),
  bin('bit_shift', ['u8', [3, 4], { lo: 0, hi: 256 }], ['u8', [4], { values: [0, 3, 8, 9] }], { direction: 'LEFT' }),
  bin(
    'bit_shift',
    ['u32', [3, 4], { lo: 0, hi: 2 ** 32 }],
    ['u32', [3, 1], { values: [1, 17, 31] }],
    { direction: 'RIGHT' },
    'bit_shift u32 right',
  ),
  // variadic, casts, com.microsoft gelus
  { op: 'sum', label: 'sum', build: (c) => [c.op1('sum', [c.input(F, [3, 1, 5]), c.input(F, [4, 5]), c.input(F, [5])])] },
  { op: 'mean', label: 'mean', build: (c) => [c.op1('mean', [c.input(F, [3, 1, 5]), c.input(F, [4, 5])])] },
  {
    op: 'cast_like',
    label: 'cast_like',
    build: (c) => [c.op1('cast_like', [c.input(F, [5, 7], { lo: -300, hi: 300 }), c.const('i32', [1])])],
  },
  unit('ms_gelu'),
  unit('quick_gelu', {}, { alpha: 1.5 }),
  { op: 'fast_gelu', label: 'fast_gelu', build: (c) => [c.op1('fast_gelu', [c.input(F, [3, 1, 5]), c.const(F, [5])])] },
  { op: 'bias_gelu', label: 'bias_gelu', build: (c) => [c.op1('bias_gelu', [c.input(F, [3, 1, 5]), c.const(F, [5])])] },

  // ---- ir/ops/axis.ts
  { op: 'argmax', label: 'argmax', build: (c) => [c.op1('argmax', [c.input(F, [3, 5, 4])], { axis: 1, keepdims: 0 })] },
  {
    op: 'argmin',
    label: 'argmin',
    build: (c) => [c.op1('argmin', [c.input('i32', [3, 7], { lo: 0, hi: 3 })], { axis: -1, select_last_index: 1 })],
  },
  { op: 'cumsum', label: 'cumsum', build: (c) => [c.op1('cumsum', [c.input(F, [3, 7]), c.scalar('i64', 1)])] },
  {
    op: 'cumsum',
    label: 'cumsum exclusive reverse i32',
    build: (c) => [c.op1('cumsum', [c.input('i32', [5, 3], { lo: -50, hi: 50 }), c.scalar('i32', 0)], { exclusive: 1, reverse: 1 })],
  },
  { op: 'hardmax', label: 'hardmax', build: (c) => [c.op1('hardmax', [c.input(F, [3, 5, 4])], { axis: 1 })] },

  // ---- ir/ops/pad.ts
  { op: 'pad', label: 'pad', build: (c) => [c.op1('pad', [c.input(F, [3, 5]), c.i64([1, -1, 2, 3]), c.scalar(F, 1.5), null])] },
  {
    op: 'pad',
    label: 'pad reflect',
    build: (c) => [c.op1('pad', [c.input(F, [3, 5]), c.i64([2, 1, 1, 4]), null, null], { mode: 'reflect' })],
  },
  {
    op: 'pad',
    label: 'pad edge axes',
    build: (c) => [c.op1('pad', [c.input(F, [2, 3, 4]), c.i64([2, 3]), null, c.i64([-1])], { mode: 'edge' })],
  },
  { op: 'pad', label: 'pad wrap', build: (c) => [c.op1('pad', [c.input(F, [3, 4]), c.i64([1, 2, 2, 1]), null, null], { mode: 'wrap' })] },
  { op: 'tile', label: 'tile', build: (c) => [c.op1('tile', [c.input(F, [2, 3]), c.i64([3, 2])])] },
  { op: 'size', label: 'size', build: (c) => [c.op1('size', [c.input(F, [3, 1, 5])])] },
  { op: 'dropout', label: 'dropout', build: (c) => c.node('dropout', [c.input(F, [3, 1, 5])]) },

  // ---- ir/ops/scatter.ts
  {
    op: 'gather_elements',
    label: 'gather_elements',
    build: (c) => [c.op1('gather_elements', [c.input(F, [3, 4]), c.input('i64', [3, 2], { values: [0, 3, -1, 2, 1, -4] })], { axis: 1 })],
  },
  {
    op: 'scatter_elements',
    label: 'scatter_elements',
    build: (c) => [
      c.op1('scatter_elements', [c.input(F, [4, 3]), c.i64([1, 0, 2, 3, 0, 1], [2, 3]), c.input(F, [2, 3])], { axis: 0, reduction: 'add' }),
    ],
  },
  {
    op: 'scatter_nd',
    label: 'scatter_nd',
    build: (c) => [c.op1('scatter_nd', [c.input(F, [4, 3, 2]), c.i64([2, 0], [2, 1]), c.input(F, [2, 3, 2])])],
  },
  {
    op: 'scatter_nd',
    label: 'scatter_nd run-time indices',
    build: (c) => [c.op1('scatter_nd', [c.input(F, [4, 3, 2]), c.input('i64', [2, 1], { values: [2, 0] }), c.input(F, [2, 3, 2])])],
  },

  // ---- issue 12: ai.onnx RotaryEmbedding, MultiHeadAttention, the q8 ops (test/ops-c/llm-ops.test.ts has their
  // onnxruntime goldens on every target, runtime dims included)
  {
    op: 'rotary_embedding_onnx',
    label: 'rotary_embedding_onnx [B,S,N*H] with position_ids, partial',
    noOrt: 'ai.onnx RotaryEmbedding needs opset 23 and this export is opset 20 (llm-ops.test.ts runs it in onnxruntime)',
    build: (c) => [
      c.op1(
        'rotary_embedding_onnx',
        [c.input(F, [2, 3, 16]), c.const(F, [9, 2], UNIT), c.const(F, [9, 2], UNIT), c.input('i64', [2, 3], { lo: 0, hi: 9 })],
        {
          num_heads: 2,
          rotary_embedding_dim: 4,
        },
      ),
    ],
  },
  {
    op: 'rotary_embedding_onnx',
    label: 'rotary_embedding_onnx [B,N,S,H] per-token caches, interleaved',
    noOrt: 'ai.onnx RotaryEmbedding needs opset 23 and this export is opset 20 (llm-ops.test.ts runs it in onnxruntime)',
    build: (c) => [
      c.op1('rotary_embedding_onnx', [c.input(F, [2, 2, 3, 8]), c.input(F, [2, 3, 4], UNIT), c.input(F, [2, 3, 4], UNIT)], {
        interleaved: 1,
      }),
    ],
  },
  {
    op: 'multi_head_attention',
    label: 'multi_head_attention past, bias, key_padding_mask, attention_bias, unidirectional',
    build: (c) =>
      c.node(
        'multi_head_attention',
        [
          c.input(F, [2, 3, 16], UNIT),
          c.input(F, [2, 3, 16], UNIT),
          c.input(F, [2, 3, 16], UNIT),
          c.const(F, [48], { lo: -0.2, hi: 0.2 }),
          c.input('i32', [2, 5], { values: [1, 1, 0, 1, 1, 0, 1, 1, 1, 1] }),
          c.input(F, [2, 1, 3, 5]),
          c.input(F, [2, 2, 2, 8], UNIT),
          c.input(F, [2, 2, 2, 8], UNIT),
        ],
        { num_heads: 2, unidirectional: 1 },
        3,
      ),
  },
  {
    op: 'dynamic_quantize_linear',
    label: 'dynamic_quantize_linear',
    build: (c) => c.node('dynamic_quantize_linear', [c.input(F, [3, 7], { lo: -2, hi: 5, special: [0.5, -0.5] })], {}, 3),
  },
  {
    op: 'matmul_integer',
    label: 'matmul_integer uint8 K 300 (nibble split), per-column b zero points',
    build: (c) => [
      c.op1('matmul_integer', [
        c.input('u8', [2, 3, 300], { lo: 0, hi: 256 }),
        c.const('u8', [300, 5], { lo: 0, hi: 256 }),
        c.input('u8', [], { values: [131] }),
        c.const('u8', [5], { lo: 100, hi: 156 }),
      ]),
    ],
  },
  {
    op: 'matmul_integer',
    label: 'matmul_integer int8 2-D, scalar zero points',
    build: (c) => [
      c.op1('matmul_integer', [
        c.input('i8', [4, 9], { lo: -128, hi: 128 }),
        c.input('i8', [9, 6], { lo: -128, hi: 128 }),
        c.scalar('i8', -3),
        c.scalar('i8', 5),
      ]),
    ],
  },
];

/** Builds `cases` into one graph (value names prefixed per case); the feeds and each case's outputs. */
export function buildCases(
  cases: readonly OpCase[],
  name = 'ops',
): { g: Graph; feeds: Record<string, Tensor>; outputs: Value[][]; opNodes: string[][] } {
  const g = newGraph(name);
  const b = new GraphBuilder(g);
  const feeds: Record<string, Tensor> = {};
  const outputs: Value[][] = [];
  const opNodes: string[][] = [];
  for (const k of cases) {
    const i = CASES.indexOf(k);
    const c = new CaseCtx(b, `k${i}_`, 1000 + i, feeds, k.op);
    const outs = k.build(c);
    outputs.push(outs);
    opNodes.push(c.opNodes);
    g.outputs.push(...outs);
  }
  return { g, feeds, outputs, opNodes };
}
