/**
 * Builders of the bundled example models, shared by `examples/make-examples.ts` (which writes the
 * .onnx files) and the tests (which build variants: other sizes, seeds, opsets). Weights come from a
 * seeded PRNG, so every build of a model is byte-identical.
 *
 * The Llama block is written with primitive ONNX ops on purpose (RMSNorm as Pow/ReduceMean/Add/Sqrt/
 * Div/Mul, rotary embedding as Slice/Neg/Concat, a Trilu/Where causal mask, SiLU as Sigmoid*Mul):
 * that is what exporters emit, and what lutc's importer and fusion passes must recognize.
 */
import { OnnxBuilder } from '../compiler/onnx/builder.js';
import { makeTensor } from '../ir/tensor.js';
import type { Tensor } from '../ir/types.js';

export { seededRandom as seeded } from '../base/random.js';

import { seededRandom as seeded } from '../base/random.js';

/** A float tensor uniform in [-scale, scale). */
export function uniform(shape: number[], scale: number, next: () => number): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return makeTensor(
    'f32',
    shape,
    Array.from({ length: n }, () => (next() * 2 - 1) * scale),
  );
}

const i64 = (v: number[]) => makeTensor('i64', [v.length], v);
const f32 = (v: number) => makeTensor('f32', [], [v]);

export interface MlpOptions {
  /** Layer widths [in, hidden..., out]. */
  dims: number[];
  seed?: number;
  opset?: number;
  /** Leading batch dim: a symbol (default 'batch') or a size. */
  batch?: string | number;
  /** Use Gemm (transB = 1, bias in C) instead of MatMul + Add. */
  gemm?: boolean;
}

/** Linear (+ ReLU between layers) MLP: x [batch, dims[0]] -> y [batch, dims.at(-1)]. */
export function buildMlp(o: MlpOptions): Uint8Array {
  const opset = o.opset ?? 17;
  const next = seeded(o.seed ?? 1);
  const b = new OnnxBuilder({ opset, producer: 'lutc-examples' });
  let h = b.input('x', 'f32', [o.batch ?? 'batch', o.dims[0]!]);
  for (let i = 0; i + 1 < o.dims.length; i++) {
    const [k, n] = [o.dims[i]!, o.dims[i + 1]!];
    // Kaiming-like scale keeps activations O(1) through the layers, so relative tolerances mean something.
    const s = Math.sqrt(3 / k);
    const last = i + 2 === o.dims.length;
    const bias = b.initializer(`fc${i}.bias`, uniform([n], 0.1, next));
    if (o.gemm) {
      const w = b.initializer(`fc${i}.weight`, uniform([n, k], s, next));
      [h] = b.node('Gemm', [h, w, bias], { attrs: { transB: 1 }, name: `fc${i}` }) as [string];
    } else {
      const w = b.initializer(`fc${i}.weight_t`, uniform([k, n], s, next));
      const [mm] = b.node('MatMul', [h, w], { name: `fc${i}` });
      [h] = b.node('Add', [mm!, bias], { name: `fc${i}.add_bias` }) as [string];
    }
    if (!last) [h] = b.node('Relu', [h], { name: `relu${i}` }) as [string];
  }
  const [y] = b.node('Identity', [h], { outputs: ['y'] });
  b.output(y!, 'f32', [o.batch ?? 'batch', o.dims.at(-1)!]);
  return b.toBytes();
}

export interface LlamaOptions {
  hidden?: number;
  heads?: number;
  ffn?: number;
  seed?: number;
  opset?: number;
  /** Longest sequence the rotary cos/sin cache covers. */
  maxSeq?: number;
}

/**
 * One Llama-style decoder block: x [1, seq, hidden] -> y [1, seq, hidden]. Needs opset >= 14 (Trilu).
 * ReduceMean takes axes as an attribute before opset 18 and as an input from 18 on; both are emitted.
 */
export function buildLlamaBlock(o: LlamaOptions = {}): Uint8Array {
  const H = o.hidden ?? 64;
  const nh = o.heads ?? 4;
  const hd = H / nh;
  const F = o.ffn ?? 2 * H;
  const opset = o.opset ?? 17;
  const maxSeq = o.maxSeq ?? 64;
  if (opset < 14) throw new Error('buildLlamaBlock: Trilu needs opset >= 14');
  const next = seeded(o.seed ?? 2);
  const b = new OnnxBuilder({ opset, producer: 'lutc-examples' });
  const x = b.input('x', 'f32', [1, 'seq', H]);
  const c = (name: string, t: Tensor) => b.initializer(name, t);
  const op = (type: string, ins: string[], attrs?: Record<string, never | number | number[] | Tensor>, name?: string) =>
    b.node(type, ins, { attrs: attrs as never, name })[0]!;

  const eps = c('rms.eps', f32(1e-6));
  const two = c('two', f32(2));
  const reduceMean = (v: string) =>
    opset >= 18
      ? op('ReduceMean', [v, c(`axes_${b.initializers.length}`, i64([-1]))], { keepdims: 1 })
      : op('ReduceMean', [v], { axes: [-1], keepdims: 1 });
  const rmsNorm = (v: string, prefix: string) => {
    const gamma = c(
      `${prefix}.weight`,
      makeTensor(
        'f32',
        [H],
        Array.from({ length: H }, () => 1 + (next() - 0.5) * 0.2),
      ),
    );
    const ms = reduceMean(op('Pow', [v, two]));
    const rs = op('Sqrt', [op('Add', [ms, eps])]);
    return op('Mul', [op('Div', [v, rs]), gamma], undefined, `${prefix}.mul`);
  };
  const linear = (v: string, k: number, n: number, name: string) =>
    op('MatMul', [v, c(`${name}.weight_t`, uniform([k, n], Math.sqrt(3 / k), next))], undefined, name);

  // Attention.
  const h = rmsNorm(x, 'input_layernorm');
  const heads = (v: string) =>
    op('Transpose', [op('Reshape', [v, c(`shape_${b.initializers.length}`, i64([0, 0, nh, hd]))])], { perm: [0, 2, 1, 3] });
  const q = heads(linear(h, H, H, 'q_proj'));
  const k = heads(linear(h, H, H, 'k_proj'));
  const v = heads(linear(h, H, H, 'v_proj'));

  // Rotary embedding: cos/sin caches [maxSeq, hd] sliced to the current seq length (as HF exports do).
  const invFreq = Array.from({ length: hd / 2 }, (_, i) => 1 / 10000 ** ((2 * i) / hd));
  const cosT: number[] = [];
  const sinT: number[] = [];
  for (let p = 0; p < maxSeq; p++)
    for (let j = 0; j < hd; j++) {
      const a = p * invFreq[j % (hd / 2)]!;
      cosT.push(Math.cos(a));
      sinT.push(Math.sin(a));
    }
  const seqLen = op('Slice', [op('Shape', [x]), c('i1', i64([1])), c('i2', i64([2]))]); // [seq] as a 1-D tensor
  const zero = c('i0', i64([0]));
  const cos = op('Slice', [c('rope.cos_cache', makeTensor('f32', [maxSeq, hd], cosT)), zero, seqLen, zero]);
  const sin = op('Slice', [c('rope.sin_cache', makeTensor('f32', [maxSeq, hd], sinT)), zero, seqLen, zero]);
  const half = c('rope.half', i64([hd / 2]));
  const full = c('rope.full', i64([hd]));
  const last = c('rope.axis', i64([-1]));
  const rope = (t: string) => {
    const x1 = op('Slice', [t, zero, half, last]);
    const x2 = op('Slice', [t, half, full, last]);
    const rot = op('Concat', [op('Neg', [x2]), x1], { axis: -1 });
    return op('Add', [op('Mul', [t, cos]), op('Mul', [rot, sin])]);
  };
  const qr = rope(q);
  const kr = rope(k);

  // Causal softmax attention: scores / sqrt(hd) + mask, mask from Trilu over a [seq, seq] ones matrix.
  const scores = op('Div', [op('MatMul', [qr, op('Transpose', [kr], { perm: [0, 1, 3, 2] })]), c('attn.scale', f32(Math.sqrt(hd)))]);
  const ones = op('ConstantOfShape', [op('Concat', [seqLen, seqLen], { axis: 0 })], { value: makeTensor('f32', [1], [1]) });
  const lower = op('Cast', [op('Trilu', [ones], { upper: 0 })], { to: 9 /* BOOL */ });
  const mask = op('Where', [lower, c('mask.keep', f32(0)), c('mask.drop', f32(-1e9))]);
  const probs = op('Softmax', [op('Add', [scores, mask])], { axis: -1 });
  const ctx = op('Transpose', [op('MatMul', [probs, v])], { perm: [0, 2, 1, 3] });
  const merged = op('Reshape', [ctx, c('shape_merge', i64([0, 0, H]))]);
  const res1 = op('Add', [x, linear(merged, H, H, 'o_proj')], undefined, 'residual1');

  // SiLU-gated MLP.
  const h2 = rmsNorm(res1, 'post_attention_layernorm');
  const gate = linear(h2, H, F, 'gate_proj');
  const silu = op('Mul', [gate, op('Sigmoid', [gate])]);
  const up = linear(h2, H, F, 'up_proj');
  const down = linear(op('Mul', [silu, up]), F, H, 'down_proj');
  const [y] = b.node('Add', [res1, down], { outputs: ['y'], name: 'residual2' });
  b.output(y!, 'f32', [1, 'seq', H]);
  return b.toBytes();
}
