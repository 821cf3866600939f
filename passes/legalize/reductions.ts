/**
 * Legalize rules for reductions (ir/ops/reduce.ts: reduce_min, reduce_l1, reduce_l2, reduce_sum_square,
 * reduce_log_sum, reduce_log_sum_exp, over the reduce_sum / reduce_max kernels) and the ops along one
 * axis (ir/ops/axis.ts: argmax, argmin, hardmax, cumsum). Index results are exact (first or last index
 * of the extreme, as the interpreter picks it); rules needing a static shape decline without one. One
 * `Rule` per op in `REDUCTION_RULES`; passes/legalize.ts assembles the table.
 */
import { isFloatType } from '../../ir/ops/numeric.js';
import { normalizeAxis } from '../../ir/ops/util.js';
import { intRange, makeTensor } from '../../ir/tensor.js';
import type { Value } from '../../ir/types.js';
import { axisOf, isFloatV, signedInt, staticShape } from './helpers.js';
import type { Rewriter, Rule } from './rewriter.js';

/** reduce_sum / reduce_max / ... node over the same axes operand and attributes as the rewritten reduction. */
function reduceLike(r: Rewriter, op: string, x: Value, keepdims = r.attrs.keepdims as number): Value {
  return r.op(op, [x, r.in('axes')], { keepdims, noop_with_empty_axes: r.attrs.noop_with_empty_axes as number });
}

/** An int64 iota [0, len) shaped to broadcast along axis `a` of a rank-`rank` tensor. */
function iotaAlong(r: Rewriter, len: number, a: number, rank: number): Value {
  const shape = [len, ...Array<number>(rank - a - 1).fill(1)];
  return r.tensor(
    makeTensor(
      'i64',
      shape,
      Array.from({ length: len }, (_, i) => i),
    ),
  );
}

/**
 * Index of the first (or, with `last`, the last) element along axis `a` equal to `m` (the axis'
 * max or min, keepdims), as int64 with the reduced axis kept or dropped per `keep`.
 */
function indexOf(r: Rewriter, x: Value, m: Value, a: number, keep: number, last: boolean): Value {
  const shape = staticShape(x)!;
  const iota = iotaAlong(r, shape[a]!, a, shape.length);
  const hit = r.equal(x, m);
  const sel = r.where(hit, iota, r.scalar('i64', last ? -1 : shape[a]!));
  return r.op(last ? 'reduce_max' : 'reduce_min', [sel, r.i64([a])], { keepdims: keep });
}

/** argmax / argmin: the extreme by reduce_max / reduce_min, then the first (last) index equal to it. */
function argRule(extreme: 'reduce_max' | 'reduce_min'): Rule {
  return {
    summary: `m = ${extreme}(x, axis, keepdims); reduce_min(where(x == m, iota, len)) (reduce_max(where(.., iota, -1)) with select_last_index)`,
    rewrite(r) {
      const x = r.x();
      const shape = staticShape(x);
      if (!shape) return undefined;
      const a = axisOf(r, shape.length);
      if (shape[a] === 0) return undefined;
      const m = r.op(extreme, [x, r.i64([a])], { keepdims: 1 });
      return [indexOf(r, x, m, a, r.attrs.keepdims as number, r.attrs.select_last_index !== 0)];
    },
  };
}

/** The reduction and along-an-axis rules, one per op. */
export const REDUCTION_RULES: Readonly<Record<string, Rule>> = {
  reduce_min: {
    summary:
      "floats: -reduce_max(-x); integers: c - reduce_max(c - x), c = -1 (signed) or the type's max (unsigned), which cannot overflow",
    rewrite(r) {
      const x = r.x();
      const dt = x.type.dtype;
      if (isFloatType(dt)) return [r.un('neg', reduceLike(r, 'reduce_max', r.un('neg', x)))];
      const c = r.k(x, signedInt(dt) ? -1 : intRange(dt)[1]);
      return [r.sub(c, reduceLike(r, 'reduce_max', r.sub(c, x)))];
    },
  },
  reduce_l1: { summary: 'reduce_sum(|x|)', rewrite: (r) => [reduceLike(r, 'reduce_sum', r.un('abs', r.x()))] },
  reduce_sum_square: { summary: 'reduce_sum(x * x)', rewrite: (r) => [reduceLike(r, 'reduce_sum', r.mul(r.x(), r.x()))] },
  reduce_l2: {
    summary: 'sqrt(reduce_sum(x * x)) (floats)',
    rewrite: (r) => (isFloatV(r.x()) ? [r.un('sqrt', reduceLike(r, 'reduce_sum', r.mul(r.x(), r.x())))] : undefined),
  },
  reduce_log_sum: {
    summary: 'log(reduce_sum(x)) (floats)',
    rewrite: (r) => (isFloatV(r.x()) ? [r.un('log', reduceLike(r, 'reduce_sum', r.x()))] : undefined),
  },
  reduce_log_sum_exp: {
    summary: 'm = reduce_max(x, keepdims) (0 where it is -inf); log(reduce_sum(exp(x - m))) + m (floats)',
    rewrite(r) {
      const x = r.x();
      const out = staticShape(r.node.outputs[0]!);
      if (!isFloatV(x) || !out) return undefined;
      const m = reduceLike(r, 'reduce_max', x, 1);
      const ms = r.where(r.equal(m, r.k(x, -Infinity)), r.k(x, 0), m);
      const s = reduceLike(r, 'reduce_sum', r.un('exp', r.sub(x, ms)));
      const mo = r.attrs.keepdims !== 0 ? ms : r.reshape(ms, out);
      return [r.add(r.un('log', s), mo)];
    },
  },
  argmax: argRule('reduce_max'),
  argmin: argRule('reduce_min'),
  hardmax: {
    summary: 'cast(iota == argmax(x, axis, keepdims), dtype of x)',
    rewrite(r) {
      const x = r.x();
      const shape = staticShape(x);
      if (!shape) return undefined;
      const a = axisOf(r, shape.length);
      if (shape[a] === 0) return [x];
      const m = r.op('reduce_max', [x, r.i64([a])], { keepdims: 1 });
      const idx = indexOf(r, x, m, a, 1, false);
      return [r.cast(r.equal(iotaAlong(r, shape[a]!, a, shape.length), idx), x.type.dtype)];
    },
  },
  cumsum: {
    summary:
      'constant axis, static shape: log2(n) steps y = y + shift(y, 2^k) (shift = slice + concat with zeros); exclusive shifts x by one first',
    rewrite(r) {
      const x = r.x();
      const shape = staticShape(x);
      const axisT = r.x('axis').const;
      if (!shape || !axisT) return undefined;
      const a = normalizeAxis(axisT.data[0]!, shape.length);
      const len = shape[a]!;
      const rev = r.attrs.reverse !== 0;
      const zero = r.k(x, 0);
      // y shifted by d along the axis toward the scan direction, zeros filling the start
      const shift = (y: Value, d: number): Value => {
        if (d >= len) return r.fill(zero, shape);
        const zs = r.fill(
          zero,
          shape.map((s, i) => (i === a ? d : s)),
        );
        return rev
          ? r.op('concat', [r.slice(y, a, d, len), zs], { axis: a })
          : r.op('concat', [zs, r.slice(y, a, 0, len - d)], { axis: a });
      };
      let y = r.attrs.exclusive !== 0 ? shift(x, 1) : x;
      for (let d = 1; d < len; d *= 2) y = r.add(y, shift(y, d));
      return [y];
    },
  },
};
