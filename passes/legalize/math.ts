/**
 * Legalize rules for the other elementwise ops of ir/ops/math.ts: sign, predicates (is_nan, is_inf),
 * integer and bool ops (xor, mod), variadic sum and mean, and cast_like. Each computes its op's
 * interpreter exactly for integer and bool results (mod of floats: in float64, on targets that have
 * it). One `Rule` per op in `MATH_RULES`; passes/legalize.ts assembles the table.
 */
import { isFloatType } from '../../ir/ops/numeric.js';
import type { Value } from '../../ir/types.js';
import { unary } from './helpers.js';
import type { Rule } from './rewriter.js';

/** The elementwise math rules, one per op. */
export const MATH_RULES: Readonly<Record<string, Rule>> = {
  sign: unary('where(x > 0, 1, where(x < 0, -1, x)) (0 and NaN stay)', (r, x) =>
    r.where(r.greater(x, r.k(x, 0)), r.k(x, 1), r.where(r.less(x, r.k(x, 0)), r.k(x, -1), x)),
  ),
  is_nan: unary('not(x == x)', (r, x) => r.not(r.equal(x, x))),
  is_inf: unary('|x| == inf (x == inf, x == -inf for one sign; x > inf, always false, for neither)', (r, x) => {
    const [neg, pos] = [r.attrs.detect_negative !== 0, r.attrs.detect_positive !== 0];
    if (pos && neg) return r.equal(r.un('abs', x), r.k(x, Infinity));
    if (pos || neg) return r.equal(x, r.k(x, pos ? Infinity : -Infinity));
    return r.greater(x, r.k(x, Infinity));
  }),
  xor: { summary: 'not(a == b) on bools', rewrite: (r) => [r.not(r.equal(r.x(0), r.x(1)))] },
  mod: {
    summary:
      'integers: r = a - b * (a / b) (0 where b = 0), + b where r and b differ in sign (fmod = 0); floats: the same in float64 with trunc (exact for |a / b| < 2^29)',
    rewrite(r) {
      const [a, b] = [r.x(0), r.x(1)];
      const dt = a.type.dtype;
      if (!isFloatType(dt)) {
        const rem = r.where(r.equal(b, r.k(b, 0)), r.k(a, 0), r.sub(a, r.mul(b, r.div(a, b))));
        if (r.attrs.fmod !== 0) return [rem];
        const differ = r.not(r.equal(r.less(rem, r.k(a, 0)), r.less(b, r.k(b, 0))));
        const fix = r.op('and', [r.not(r.equal(rem, r.k(a, 0))), differ]);
        return [r.where(fix, r.add(rem, b), rem)];
      }
      // fmod of f32 (f16, bf16) operands in float64: the quotient is exact enough to truncate
      // correctly, and b * trunc(a / b) and the difference are exact, for |a / b| < 2^29.
      if (!r.hasF64 || dt === 'f64') return undefined;
      const [a64, b64] = [r.cast(a, 'f64'), r.cast(b, 'f64')];
      const q = r.div(a64, b64);
      const t = r.where(r.less(q, r.scalar('f64', 0)), r.un('ceil', q), r.un('floor', q));
      const rem = r.sub(a64, r.mul(b64, t));
      // x % inf = x (b * trunc(a / inf) would be inf * 0 = NaN)
      return [r.cast(r.where(r.equal(r.un('abs', b64), r.scalar('f64', Infinity)), a64, rem), dt)];
    },
  },
  sum: { summary: 'add(add(x0, x1), ...)', rewrite: (r) => [r.node.inputs.slice(1).reduce<Value>((acc, v) => r.add(acc, v!), r.x(0))] },
  mean: {
    summary: 'add(add(x0, x1), ...) / n',
    rewrite: (r) => {
      const ins = r.node.inputs as Value[];
      if (ins.length === 1) return [ins[0]!];
      return [
        r.div(
          ins.slice(1).reduce<Value>((acc, v) => r.add(acc, v), ins[0]!),
          r.k(ins[0]!, ins.length),
        ),
      ];
    },
  },
  cast_like: { summary: "cast(x, to = target's dtype)", rewrite: (r) => [r.cast(r.x(0), r.x('target_type').type.dtype)] },
};
