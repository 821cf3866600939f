/**
 * Accuracy of the float transcendentals of the WASM and WGSL backends (backends/wasm/model/math.ts,
 * backends/wgsl/ops-elementwise.ts MATH_LIB) against float64 math: one one-op ONNX model per function
 * (Exp, Log, Tanh, Sigmoid, Erf, Softplus, Gelu in both forms), run on a dense grid of f32 inputs
 * (a linear sweep over the interesting range, +-10^k from 1e-30 up, large |x|, +-0, +-inf, NaN)
 * through the compiled artifact (WASM in-process, WGSL on SwiftShader), each result held to
 * |y - ref| <= R |ref| + A (times cond(x), see Bound); ref is the float64 function of
 * the f32 input. Non-finite results must be those of the interpreter (ir/ops/numeric.ts): NaN where
 * it gives NaN, the same infinity where it gives one. R per target and function: F32_MATH_ULPS
 * (test/helpers/tolerance.ts, with the errors measured when it was set); LUTC_MATH_REPORT=1 prints
 * the measured errors.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import '../../ir/ops/index.js';
import { runArtifact } from '../../backends/wasm/run.js';
import { type NodeGpu, openNodeGpu } from '../../backends/wgsl/device.js';
import { OnnxBuilder } from '../../compiler/onnx/builder.js';
import { importOnnx } from '../../compiler/onnx/index.js';
import { runPipeline } from '../../compiler/pipeline.js';
import { interpret } from '../../ir/interpret.js';
import { erf } from '../../ir/ops/numeric.js';
import { makeTensor } from '../../ir/tensor.js';
import type { Graph, Tensor } from '../../ir/types.js';
import { F32_MATH_ULPS } from '../helpers/tolerance.js';
import { runWgsl } from './wgsl/helpers.js';

const ULP = 2 ** -24;
/** Smallest normal f32: results below it may be flushed to zero (SwiftShader, GPUs). */
const TINY = 2 ** -126;

/** erfc(a) for a >= 0 to ~1e-15 relative: 1 - erf below 2, the continued fraction above (as numeric.ts). */
function erfc(a: number): number {
  if (a < 2) return 1 - erf(a);
  let f = a;
  for (let k = 200; k >= 1; k--) f = a + k / 2 / f;
  return Math.exp(-a * a) / Math.sqrt(Math.PI) / f;
}
const sigmoid = (x: number) => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)));
const K = Math.sqrt(2 / Math.PI);

interface Fn {
  op: string;
  attrs?: Record<string, string>;
  opset?: number;
  /** float64 reference (accurate in the tails: erfc for Gelu, 1 + tanh(y) = 2 sigmoid(2y)). */
  ref: (x: number) => number;
  inputs: number[];
}

const lin = (lo: number, hi: number, n: number) => Array.from({ length: n }, (_, i) => lo + ((hi - lo) * i) / (n - 1));
const pow10 = (lo: number, hi: number, perDecade: number) => lin(lo, hi, (hi - lo) * perDecade + 1).map((e) => 10 ** e);
const both = (v: number[]) => [...v, ...v.map((x) => -x)];
const SPECIAL = [0, -0, Infinity, -Infinity, NaN, 1, -1, 3.4e38, -3.4e38];
const common = [...lin(-12, 12, 24001), ...both(pow10(-30, 2, 50)), ...both([20, 50, 90, 100, 1e4, 1e30]), ...SPECIAL];

const FNS: Record<string, Fn> = {
  exp: { op: 'Exp', ref: Math.exp, inputs: [...lin(-104, 89, 40001), ...both(pow10(-30, 0, 50)), ...SPECIAL] },
  log: {
    op: 'Log',
    ref: Math.log,
    inputs: [...pow10(-37, 38, 200), ...lin(0.5, 2, 6001), ...lin(0.99, 1.01, 2001), ...SPECIAL, -2, -1e-3],
  },
  tanh: { op: 'Tanh', ref: Math.tanh, inputs: common },
  sigmoid: { op: 'Sigmoid', ref: sigmoid, inputs: [...common, ...lin(-100, 100, 4001)] },
  erf: { op: 'Erf', ref: erf, inputs: common },
  softplus: {
    op: 'Softplus',
    ref: (x) => (x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x))),
    inputs: [...common, ...lin(-100, 100, 4001)],
  },
  gelu: {
    op: 'Gelu',
    opset: 20,
    ref: (x) => (x < 0 ? 0.5 * x * erfc(-x * Math.SQRT1_2) : 0.5 * x * (1 + erf(x * Math.SQRT1_2))),
    inputs: common,
  },
  gelu_tanh: {
    op: 'Gelu',
    opset: 20,
    attrs: { approximate: 'tanh' },
    ref: (x) => x * sigmoid(geluTanhArg(x)),
    inputs: common,
  },
};

/**
 * |y - ref| <= R * 2^-24 * |ref| * cond(x) + A, per function and target. `cond` (default 1) is the
 * condition number of an argument the f32 kernel must round before the function: Gelu-tanh's
 * sigmoid argument y = 2 sqrt(2/pi) (x + 0.044715 x^3) carries ~2 ulp of rounding, which
 * d log sigmoid / dy = 1 - sigmoid(y) turns into |y| (1 - sigmoid(y)) times that in the result.
 * A: the absolute floor, TINY where a result below the smallest normal may be flushed to zero, and
 * TINY |x| where the kernel multiplies x by an intermediate that may be (Gelu-tanh's sigmoid).
 */
type Bound = { R: number; A: number | ((x: number) => number); cond?: (x: number) => number };
const geluTanhArg = (x: number) => 2 * K * (x + 0.044715 * x * x * x);
const geluTanhCond = (x: number) => 1 + Math.abs(geluTanhArg(x)) * (1 - sigmoid(geluTanhArg(x)));
/** R from F32_MATH_ULPS; A: TINY where a result may be denormal (or, for Gelu-tanh, its sigmoid), 0 where none is. */
const FLOOR: Record<string, number | ((x: number) => number)> = {
  exp: TINY,
  log: 0,
  tanh: 0,
  sigmoid: TINY,
  erf: 0,
  softplus: TINY,
  gelu: TINY,
  gelu_tanh: (x) => TINY * Math.max(1, Math.abs(x)),
};
const bound = (target: 'wasm' | 'wgsl', name: string): Bound => ({
  R: F32_MATH_ULPS[target][name as keyof (typeof F32_MATH_ULPS)['wasm']],
  A: FLOOR[name]!,
  ...(name === 'gelu_tanh' && target === 'wgsl' ? { cond: geluTanhCond } : {}),
});

function oneOp(fn: Fn, n: number, target: 'wasm' | 'wgsl'): Graph {
  const b = new OnnxBuilder({ opset: fn.opset ?? 18 } as never);
  const x = b.input('x', 'f32', [n]);
  const [y] = b.node(fn.op, [x], { attrs: fn.attrs ?? {}, outputs: ['y'] } as never);
  b.output(y!, 'f32');
  const g = importOnnx(b.toBytes());
  runPipeline(g, { target });
  return g;
}

/** Measured error of `got` against float64 ref: the worst ratio to the bound, and max relative (in 2^-24) / absolute. */
function check(name: string, fn: Fn, xs: Float32Array, got: Tensor, interp: Tensor, bound: Bound) {
  let worst = 0,
    worstAt = NaN,
    maxR = 0,
    maxA = 0;
  const bad: string[] = [];
  for (let i = 0; i < xs.length; i++) {
    const x = xs[i]!,
      y = got.data[i]!,
      r = fn.ref(x),
      ir = interp.data[i]!;
    if (!Number.isFinite(ir) || !Number.isFinite(y)) {
      if (!Object.is(y, ir) && !(Number.isNaN(y) && Number.isNaN(ir))) bad.push(`${name}(${x}) = ${y}, interpreter ${ir}`);
      continue;
    }
    const e = Math.abs(y - r);
    const A = typeof bound.A === 'number' ? bound.A : bound.A(x);
    const ratio = e / (bound.R * ULP * Math.abs(r) * (bound.cond?.(x) ?? 1) + A);
    if (ratio > worst) {
      worst = ratio;
      worstAt = x;
    }
    if (Math.abs(r) >= TINY) maxR = Math.max(maxR, e / Math.abs(r) / ULP);
    maxA = Math.max(maxA, e);
  }
  return { worst, worstAt, maxR, maxA, bad };
}

const results: string[] = [];

async function sweep(target: 'wasm' | 'wgsl', name: string, run: (g: Graph, x: Record<string, Tensor>) => Promise<Tensor[]>) {
  const fn = FNS[name]!;
  const xs = Float32Array.from(fn.inputs);
  const g = oneOp(fn, xs.length, target);
  const feeds = { x: makeTensor('f32', [xs.length], xs) };
  const [got] = await run(g, feeds);
  const [interp] = interpret(g, feeds);
  const r = check(name, fn, xs, got!, interp!, bound(target, name));
  results.push(
    `${target} ${name}: max rel ${r.maxR.toFixed(2)} x 2^-24, max abs ${r.maxA.toExponential(2)}, worst/bound ${r.worst.toFixed(2)} at x=${r.worstAt}`,
  );
  expect(r.bad.slice(0, 5), `${target} ${name}`).toEqual([]);
  expect(r.worst, `${target} ${name}: worst at x = ${r.worstAt}`).toBeLessThanOrEqual(1);
}

afterAll(() => {
  if (process.env.LUTC_MATH_REPORT) console.log(results.join('\n'));
});

describe('WASM float math vs float64', () => {
  for (const name of Object.keys(FNS))
    it(name, async () => {
      await sweep('wasm', name, (g, x) => runArtifact(g, x, { target: 'wasm' }));
    });
});

describe('WGSL float math vs float64 (SwiftShader)', () => {
  let gpu: NodeGpu;
  beforeAll(async () => {
    gpu = await openNodeGpu();
  });
  afterAll(() => gpu?.release());
  for (const name of Object.keys(FNS))
    it(name, async () => {
      await sweep('wgsl', name, (g, x) => runWgsl(gpu.device, g, x));
    });
});

/** Float -> int conversions and Clip on NaN / inf: the shaders test NaN on the bits, which SwiftShader does not fold away. */
describe('WGSL NaN tests on the bits (SwiftShader folds x != x)', () => {
  let gpu: NodeGpu;
  beforeAll(async () => {
    gpu = await openNodeGpu();
  });
  afterAll(() => gpu?.release());
  const xs = Float32Array.from([NaN, -NaN, 1.5, -2.5, Infinity, -Infinity, 0]);
  for (const [op, attrs] of [
    ['Clip', {}],
    ['Cast', { to: 6 }],
    ['Cast', { to: 3 }],
    ['QuantizeLinear', {}],
  ] as const)
    it(`${op} ${JSON.stringify(attrs)} matches the interpreter on NaN and inf`, async () => {
      const b = new OnnxBuilder({ opset: 18 } as never);
      const x = b.input('x', 'f32', [xs.length]);
      const init = (name: string, t: Tensor) => b.initializer(name, t);
      const ins =
        op === 'Clip'
          ? [x, init('lo', makeTensor('f32', [], [-1])), init('hi', makeTensor('f32', [], [1]))]
          : op === 'QuantizeLinear'
            ? [x, init('s', makeTensor('f32', [], [0.1])), init('z', makeTensor('i8', [], [0]))]
            : [x];
      const [y] = b.node(op, ins, { attrs, outputs: ['y'] } as never);
      b.output(y!, op === 'QuantizeLinear' ? 'i8' : op === 'Cast' ? ('to' in attrs && attrs.to === 6 ? 'i32' : 'i8') : 'f32');
      const g = importOnnx(b.toBytes());
      runPipeline(g, { target: 'wgsl' });
      const feeds = { x: makeTensor('f32', [xs.length], xs) };
      const [got] = await runWgsl(gpu.device, g, feeds);
      expect(Array.from(got!.data)).toEqual(Array.from(interpret(g, feeds)[0]!.data));
    });
});
