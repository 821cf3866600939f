/**
 * The fused epilogue of lut.matmul (and lut.gemm, its operands at other positions:
 * GEMM_EPILOGUE_OPERAND) as a list of graph-op stages: the one place that says what a LUT layer's
 * epilogue computes. `epilogueStages` reads the node's attributes and optional operands
 * and returns, in interp.ts interpMatmul's fixed order
 *   y = act((lut(x) + bias) * channel_scale) + residual
 * the stages after the bias (the bias is part of `combine`, reference.ts): `mul` by channel_scale,
 * the activation's graph op(s), `add` of the residual. Each stage is a graph op of the op table
 * (name + attrs) whose operands are earlier stage values or lut.matmul operands, so the interpreter
 * runs each stage with the op's own interpreter and every backend renders it with its elementwise
 * renderer's expression for that op (one activation definition per backend).
 *
 * Activations: `EPILOGUE_ACTIVATIONS` (fuse-ops fuses exactly these, every backend renders them); an
 * activation op's attributes are stored on lut.matmul as `<op>_<attr>` (`gelu_approximate`,
 * `leaky_relu_alpha`), declared by `ACTIVATION_ATTRS`. `silu` is the composite x * sigmoid(x).
 */
import type { AttrSpec } from '../optable.js';
import type { Attrs, AttrValue } from '../types.js';

/** lut.matmul operand indices of the epilogue operands (ir/ops/lut.ts). */
export const EPILOGUE_OPERAND = { bias: 6, residual: 7, channel_scale: 8 } as const;
/** lut.gemm operand indices of the epilogue operands (ir/ops/lut.ts). */
export const GEMM_EPILOGUE_OPERAND = { bias: 4, residual: 5, channel_scale: 6 } as const;

/** Epilogue operand indices of a LUT layer op. */
export type EpilogueOperands = typeof EPILOGUE_OPERAND | typeof GEMM_EPILOGUE_OPERAND;

/** The epilogue operand indices of LUT layer op `op` (lut.matmul or lut.gemm). */
export const epilogueOperandsOf = (op: string): EpilogueOperands => (op === 'lut.gemm' ? GEMM_EPILOGUE_OPERAND : EPILOGUE_OPERAND);

/**
 * Unary float graph ops fusable as the activation (each rendered by the C, WASM and WGSL elementwise
 * renderers; test/lut/epilogue.test.ts checks that), plus the composite 'silu'.
 */
export const EPILOGUE_ACTIVATIONS: readonly string[] = [
  'relu',
  'leaky_relu',
  'sigmoid',
  'tanh',
  'gelu',
  'softplus',
  'erf',
  'exp',
  'neg',
  'abs',
  'silu',
];

/** lut.matmul attributes carrying the activation op's attributes: `<op>_<attr>`. */
export const ACTIVATION_ATTRS: Record<string, AttrSpec> = {
  gelu_approximate: { type: 'string', default: 'none', oneOf: ['none', 'tanh'] },
  leaky_relu_alpha: { type: 'float', default: 0.01 },
};

/** An operand of a stage: an earlier value (0 = combine + bias, i = result of stage i - 1) or a lut.matmul operand. */
export type StageArg = { value: number } | { operand: number };

/** One epilogue stage: graph op `op` with `attrs` applied to `args`; its result is value (index + 1). */
export interface EpilogueStage {
  op: string;
  attrs: Attrs;
  args: StageArg[];
}

/** The attributes of activation `op` as stored on a lut.matmul (`<op>_<attr>`), under the op's own names. */
function activationAttrs(op: string, a: Attrs): Attrs {
  const out: Attrs = {};
  for (const [k, spec] of Object.entries(ACTIVATION_ATTRS)) {
    if (!k.startsWith(`${op}_`)) continue;
    const v = a[k] ?? spec.default;
    if (v !== undefined) out[k.slice(op.length + 1)] = v as AttrValue;
  }
  return out;
}

/** The `<op>_<attr>` attributes to set on a lut.matmul fusing activation node attrs `attrs` of `op`. */
export function activationAttrsFor(op: string, attrs: Attrs): Attrs {
  const out: Attrs = {};
  for (const [k, v] of Object.entries(attrs)) if (`${op}_${k}` in ACTIVATION_ATTRS && v !== undefined) out[`${op}_${k}`] = v;
  return out;
}

/**
 * The epilogue stages of a lut.matmul (or, with `at` = GEMM_EPILOGUE_OPERAND, a lut.gemm) with
 * attributes `a`; `has(i)` tells whether optional operand i is present. The result is the last stage's value (value 0 when there are none).
 */
export function epilogueStages(a: Attrs, has: (operand: number) => boolean, at: EpilogueOperands = EPILOGUE_OPERAND): EpilogueStage[] {
  const st: EpilogueStage[] = [];
  const last = () => ({ value: st.length });
  if (has(at.channel_scale)) st.push({ op: 'mul', attrs: {}, args: [last(), { operand: at.channel_scale }] });
  const act = (a.activation as string | undefined) ?? 'none';
  if (act === 'silu') {
    const x = last();
    st.push({ op: 'sigmoid', attrs: {}, args: [x] });
    st.push({ op: 'mul', attrs: {}, args: [x, last()] });
  } else if (act !== 'none') {
    st.push({ op: act, attrs: activationAttrs(act, a), args: [last()] });
  }
  if (has(at.residual)) st.push({ op: 'add', attrs: {}, args: [last(), { operand: at.residual }] });
  return st;
}

/**
 * Evaluates `stages` over values of type T: `y` is value 0, `operand(i)` a lut.matmul operand,
 * `apply(stage, args)` one stage. Backends pass their renderer's expression builders.
 */
export function foldStages<T>(
  stages: EpilogueStage[],
  y: T,
  operand: (i: number) => T,
  apply: (s: EpilogueStage, args: T[], index: number) => T,
): T {
  const vals: T[] = [y];
  stages.forEach((s, i) => {
    vals.push(
      apply(
        s,
        s.args.map((r) => ('value' in r ? vals[r.value]! : operand(r.operand))),
        i,
      ),
    );
  });
  return vals[vals.length - 1]!;
}
