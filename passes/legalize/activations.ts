/**
 * Legalize rules for the activations of ir/ops/math.ts (elu, selu, celu, shrink, hard_sigmoid,
 * hard_swish, softsign, mish, prelu and the gelu variants), as compositions of elementwise ops. Float
 * attributes are read as f32 (as the interpreters read them); each intermediate rounds to the operand
 * type. One `Rule` per op in `ACTIVATION_RULES`; passes/legalize.ts assembles the table.
 */
import type { Value } from '../../ir/types.js';
import { isFloatV, signedInt, unary } from './helpers.js';
import type { Rewriter, Rule } from './rewriter.js';

const f32attr = (r: Rewriter, k: string) => Math.fround(r.attrs[k] as number);

/** e^x - 1 (the interpreters use expm1: the same value up to f32 rounding of e^x near 1). */
const expm1 = (r: Rewriter, x: Value) => r.sub(r.un('exp', x), r.k(x, 1));

/** The activation rules, one per op. */
export const ACTIVATION_RULES: Readonly<Record<string, Rule>> = {
  elu: unary('where(x < 0, alpha * (exp(x) - 1), x)', (r, x) =>
    r.where(r.less(x, r.k(x, 0)), r.mul(r.k(x, f32attr(r, 'alpha')), expm1(r, x)), x),
  ),
  selu: unary('where(x > 0, gamma * x, gamma * alpha * (exp(x) - 1))', (r, x) => {
    const [a, g] = [f32attr(r, 'alpha'), f32attr(r, 'gamma')];
    return r.where(r.greater(x, r.k(x, 0)), r.mul(r.k(x, g), x), r.mul(r.k(x, g * a), expm1(r, x)));
  }),
  celu: unary('relu(x) + min(0, alpha * (exp(x / alpha) - 1))', (r, x) => {
    const a = f32attr(r, 'alpha');
    return r.add(r.un('relu', x), r.op('min', [r.k(x, 0), r.mul(r.k(x, a), expm1(r, r.div(x, r.k(x, a))))]));
  }),
  thresholded_relu: unary('where(x > alpha, x, 0)', (r, x) => r.where(r.greater(x, r.k(x, f32attr(r, 'alpha'))), x, r.k(x, 0))),
  shrink: unary('where(x < -lambd, x + bias, where(x > lambd, x - bias, 0)) (integers: integral bias and lambd only)', (r, x) => {
    const [b, l] = [f32attr(r, 'bias'), f32attr(r, 'lambd')];
    if (!isFloatV(x) && !(signedInt(x.type.dtype) && Number.isInteger(b) && Number.isInteger(l))) return undefined;
    const z = r.k(x, 0);
    return r.where(r.less(x, r.k(x, -l)), r.add(x, r.k(x, b)), r.where(r.greater(x, r.k(x, l)), r.sub(x, r.k(x, b)), z));
  }),
  hard_sigmoid: unary('clip(alpha * x + beta, 0, 1)', (r, x) =>
    r.op('clip', [r.add(r.mul(x, r.k(x, f32attr(r, 'alpha'))), r.k(x, f32attr(r, 'beta'))), r.k(x, 0), r.k(x, 1)]),
  ),
  hard_swish: unary('x * clip(x / 6 + 0.5, 0, 1)', (r, x) =>
    r.mul(x, r.op('clip', [r.add(r.div(x, r.k(x, 6)), r.k(x, 0.5)), r.k(x, 0), r.k(x, 1)])),
  ),
  softsign: unary('x / (1 + |x|)', (r, x) => r.div(x, r.add(r.un('abs', x), r.k(x, 1)))),
  mish: unary('x * tanh(softplus(x))', (r, x) => r.mul(x, r.un('tanh', r.un('softplus', x)))),
  prelu: {
    summary: 'where(x < 0, slope * x, x)',
    rewrite: (r) => [r.where(r.less(r.x(0), r.k(r.x(0), 0)), r.mul(r.x('slope'), r.x(0)), r.x(0))],
  },
  ms_gelu: unary('gelu(x)', (r, x) => r.op('gelu', [x])),
  quick_gelu: unary('x * sigmoid(alpha * x)', (r, x) => r.mul(x, r.un('sigmoid', r.mul(x, r.k(x, f32attr(r, 'alpha')))))),
  fast_gelu: {
    summary: "gelu(x (+ bias), approximate = 'tanh')",
    rewrite: (r) => [r.op('gelu', [r.in('bias') ? r.add(r.x(0), r.x('bias')) : r.x(0)], { approximate: 'tanh' })],
  },
  bias_gelu: { summary: 'gelu(x + bias)', rewrite: (r) => [r.op('gelu', [r.add(r.x(0), r.x('bias'))])] },
};
