/**
 * Op traits and named operands (ir/optable.ts) against each op's own shape rule and interpreter:
 * 'elementwise' ops infer the numpy broadcast of their operand shapes and interpret to it,
 * 'unary' / 'binary-broadcast' have one / two operands, 'commutative' ops give the same result with
 * their operands swapped, 'view' ops return their input's elements unchanged, 'shape-only' ops ignore
 * their operands' data, ops holding subgraphs are 'no-fold'; compile-time operands and the
 * `operand` / `operandIndex` helpers.
 */
import { describe, expect, it } from 'vitest';
import '../../ir/ops/index.js';
import { broadcastShapes } from '../../ir/ops/util.js';
import {
  allOps,
  findOp,
  hasTrait,
  type InferCtx,
  isCompileTimeOperand,
  type OpDef,
  operand,
  operandIndex,
  resolveAttrs,
} from '../../ir/optable.js';
import { makeTensor, numel } from '../../ir/tensor.js';
import type { DType, Node, Tensor, TensorType, Value } from '../../ir/types.js';

/** Required attributes of ops checked here. */
const REQUIRED_ATTRS: Record<string, Node['attrs']> = { cast: { to: 1 } };
const fakeNode = (def: OpDef): Node => ({
  op: def.name,
  name: 't',
  inputs: [],
  outputs: def.outputs.map(() => ({}) as Value),
  attrs: { ...REQUIRED_ATTRS[def.name] },
});

function inferCtx(def: OpDef, types: TensorType[], consts: (Tensor | undefined)[] = []): InferCtx {
  const node = fakeNode(def);
  let fresh = 0;
  return {
    node,
    inputs: types,
    attrs: resolveAttrs(def, node),
    constInput: (i) => consts[i],
    freshDim: () => `f${fresh++}`,
    error: (code, message) => {
      throw new Error(`${code} ${message}`);
    },
  };
}

function interp(def: OpDef, ins: Tensor[]): Tensor[] {
  const node = fakeNode(def);
  return def.interp(ins, {
    node,
    attrs: resolveAttrs(def, node),
    runGraph: () => [],
    error: (code, m) => {
      throw new Error(`${code} ${m}`);
    },
  });
}

/** Data in (0.1 .. 0.9) for floats, small ints, alternating bools: valid for every op's domain. */
function sample(dtype: DType, shape: number[], seed: number): Tensor {
  const n = numel(shape);
  const data = Array.from({ length: n }, (_, i) => {
    const k = (i * 7 + seed * 3) % 9;
    return dtype === 'bool' ? k % 2 : dtype.startsWith('f') || dtype === 'bf16' ? 0.1 + k / 10 : k + 1;
  });
  return makeTensor(dtype, shape, data);
}

const DTYPES: DType[] = ['f32', 'i32', 'u32', 'bool'];

/** Operand shapes per elementwise op: the first the full shape, the others broadcasting into it. */
function shapesFor(def: OpDef): number[][][] {
  const n = def.inputs.length === 1 && def.inputs[0]!.variadic ? 3 : def.inputs.length;
  const full = [2, 4, 3];
  return [Array.from({ length: n }, (_, i) => (i === 0 ? full : [3])), Array.from({ length: n }, (_, i) => (i === 0 ? full : [1]))];
}

/** The first operand dtype assignment (all one dtype, or a bool condition first) the shape rule accepts. */
function inferWith(def: OpDef, shapes: number[][]): { types: TensorType[]; out: TensorType[] } | undefined {
  const tries: DType[][] = DTYPES.flatMap((d) => [shapes.map(() => d), shapes.map((_, i) => (i === 0 ? 'bool' : d))]);
  for (const dts of tries) {
    const types = shapes.map((s, i) => ({ dtype: dts[i]!, shape: s }));
    try {
      return { types, out: def.infer(inferCtx(def, types)) };
    } catch {
      /* another dtype */
    }
  }
  return undefined;
}

const ops = allOps();
const withTrait = (t: Parameters<typeof hasTrait>[1]) => ops.filter((d) => hasTrait(d, t));

describe('op traits', () => {
  it('every trait is used and every op of a trait is found by name', () => {
    for (const t of ['elementwise', 'unary', 'binary-broadcast', 'commutative', 'view', 'shape-only', 'no-fold'] as const) {
      expect(withTrait(t).length, t).toBeGreaterThan(0);
      for (const d of withTrait(t)) expect(hasTrait(d.name, t)).toBe(true);
    }
    expect(hasTrait('no_such_op', 'view')).toBe(false);
  });

  for (const def of withTrait('elementwise')) {
    it(`elementwise ${def.name}: broadcast shape rule, interpreter of that shape`, () => {
      let checked = 0;
      for (const shapes of shapesFor(def)) {
        const r = inferWith(def, shapes);
        if (!r) continue;
        const want = broadcastShapes(shapes) as number[];
        expect(r.out[0]!.shape).toEqual(want);
        const outs = interp(
          def,
          r.types.map((t, i) => sample(t.dtype, t.shape as number[], i)),
        );
        expect(outs[0]!.shape).toEqual(want);
        checked++;
      }
      expect(checked, 'no operand shapes/dtypes accepted').toBeGreaterThan(0);
    });
  }

  it("'unary' and 'binary-broadcast' imply 'elementwise' and their operand count", () => {
    for (const d of withTrait('unary')) {
      expect(hasTrait(d, 'elementwise'), d.name).toBe(true);
      expect(d.inputs.length, d.name).toBe(1);
      expect(d.inputs[0]!.variadic, d.name).toBeFalsy();
    }
    for (const d of withTrait('binary-broadcast')) {
      expect(hasTrait(d, 'elementwise'), d.name).toBe(true);
      expect(
        d.inputs.map((o) => !!o.optional || !!o.variadic),
        d.name,
      ).toEqual([false, false]);
    }
    // unaryOp/binaryOp factories: every one-operand elementwise op is 'unary'
    for (const d of withTrait('elementwise'))
      if (d.inputs.length === 1 && !d.inputs[0]!.variadic) expect(hasTrait(d, 'unary'), d.name).toBe(true);
  });

  for (const def of withTrait('commutative')) {
    it(`commutative ${def.name}: swapped operands, same result`, () => {
      const r = inferWith(def, [[2, 3], [3]])!;
      expect(r).toBeDefined();
      const a = sample(r.types[0]!.dtype, [2, 3], 1);
      const b = sample(r.types[1]!.dtype, [3], 2);
      const [ab] = interp(def, [a, b]);
      const [ba] = interp(def, [b, a]);
      expect(ba!.shape).toEqual(ab!.shape);
      expect(Array.from(ba!.data)).toEqual(Array.from(ab!.data));
    });
  }

  /** Compile-time operands of each view op for a [1, 2, 3] input. */
  const VIEW_ARGS: Record<string, (Tensor | null)[]> = {
    reshape: [makeTensor('i64', [2], [3, -1])],
    flatten: [],
    squeeze: [makeTensor('i64', [1], [0])],
    unsqueeze: [makeTensor('i64', [1], [1])],
    identity: [],
  };
  for (const def of withTrait('view')) {
    it(`view ${def.name}: same elements in the same order`, () => {
      expect(VIEW_ARGS[def.name], `add ${def.name} to VIEW_ARGS`).toBeDefined();
      const x = sample('f32', [1, 2, 3], 0);
      const [y] = def.interp([x, ...VIEW_ARGS[def.name]!], {
        node: fakeNode(def),
        attrs: resolveAttrs(def, fakeNode(def)),
        runGraph: () => [],
        error: (c, m) => {
          throw new Error(`${c} ${m}`);
        },
      });
      expect(y!.dtype).toBe('f32');
      expect(Array.from(y!.data)).toEqual(Array.from(x.data));
      expect(def.outputs.length).toBe(1);
      expect(
        def.inputs.slice(1).every((o) => o.compileTime),
        'every operand but the data is compile-time',
      ).toBe(true);
    });
  }

  for (const def of withTrait('shape-only')) {
    it(`shape-only ${def.name}: the data does not matter`, () => {
      const [a] = interp(def, [sample('f32', [2, 3], 1)]);
      const [b] = interp(def, [makeTensor('f32', [2, 3], new Float32Array(6))]);
      expect(Array.from(b!.data)).toEqual(Array.from(a!.data));
      expect(def.foldFromTypes, 'a shape-only op folds from types').toBeDefined();
    });
  }

  it("ops holding subgraphs are 'no-fold'", () => {
    for (const d of ops) if (Object.values(d.attrs).some((a) => a.type === 'graph')) expect(hasTrait(d, 'no-fold'), d.name).toBe(true);
  });
});

describe('compile-time operands and named operands', () => {
  it('compile-time operands are never the first (data) operand, except of shape-building ops', () => {
    for (const d of ops) {
      d.inputs.forEach((o, i) => {
        if (o.compileTime && i === 0) expect(['constant_of_shape', 'range'], d.name).toContain(d.name);
      });
    }
    expect(isCompileTimeOperand('reshape', 1)).toBe(true);
    expect(isCompileTimeOperand('reshape', 0)).toBe(false);
    expect([1, 2, 3, 4].every((i) => isCompileTimeOperand('slice', i))).toBe(true);
    expect(isCompileTimeOperand('reduce_mean', 1)).toBe(true);
    expect(isCompileTimeOperand('no_such_op', 0)).toBe(false);
  });

  it('operandIndex / operand look operands up by name; unknown names are programming errors', () => {
    expect(operandIndex('lut.matmul', 'bias')).toBe(6);
    expect(operandIndex('matmul_nbits', 'bias')).toBe(5);
    const v = { name: 'b' } as Value;
    const node: Node = { op: 'gemm', name: 'g', inputs: [v, v, null], outputs: [], attrs: {} };
    expect(operand(node, 'B')).toBe(v);
    expect(operand(node, 'C')).toBeNull();
    expect(operand({ ...node, inputs: [v, v] }, 'C')).toBeNull();
    expect(() => operandIndex('gemm', 'bias')).toThrow(/no operand 'bias'/);
    expect(() => operandIndex('no_such_op', 'x')).toThrow(/unknown op/);
    expect(findOp('concat')!.inputs[0]!.variadic).toBe(true);
    expect(operandIndex('concat', 'inputs')).toBe(0);
  });
});
