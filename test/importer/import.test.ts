/**
 * The importer end to end with the real op table: structure errors, unsupported ops reported together,
 * cycles, opset upgrades (Squeeze, Softmax), If (constant and runtime condition, outer-scope captures),
 * symbolic dims and the folding of PyTorch-style shape chains.
 */
import { describe, expect, it } from 'vitest';
import { type Diagnostic, LutcError } from '../../base/diagnostics.js';
import { encodeModel, OnnxBuilder } from '../../compiler/onnx/builder.js';
import { type ImportOptions, importOnnx } from '../../compiler/onnx/index.js';
import { interpret } from '../../ir/interpret.js';
import { makeTensor } from '../../ir/tensor.js';
import type { Graph, Tensor } from '../../ir/types.js';

const i64 = (vals: number[], shape = [vals.length]): Tensor => makeTensor('i64', shape, vals);
const f32 = (shape: number[], f: (i: number) => number = (i) => i): Tensor =>
  makeTensor(
    'f32',
    shape,
    Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => f(i)),
  );

function diags(f: () => unknown): Diagnostic[] {
  try {
    f();
  } catch (e) {
    if (e instanceof LutcError) return e.diagnostics;
    throw e;
  }
  throw new Error('expected a LutcError');
}

const codes = (f: () => unknown): string[] => diags(f).map((d) => d.code);
const imp = (b: OnnxBuilder, opts: ImportOptions = {}): Graph => importOnnx(b.toBytes(), { file: 'm.onnx', ...opts });

describe('import basics', () => {
  it('imports a MatMul + Add graph with symbolic dims', () => {
    const b = new OnnxBuilder({ opset: 17 });
    const x = b.input('x', 'f32', ['batch', null, 4]);
    const [y] = b.node('MatMul', [x, b.initializer('w', f32([4, 3]))]);
    const [z] = b.node('Add', [y!, b.initializer('bias', f32([3]))]);
    b.output(z!, 'f32');
    const g = imp(b);
    expect(g.nodes.map((n) => n.op)).toEqual(['matmul', 'add']);
    const shape = g.outputs[0]!.type.shape;
    expect(shape[0]).toBe('batch');
    expect(typeof shape[1]).toBe('string');
    expect(shape[2]).toBe(3);
    expect(g.meta).toMatchObject({ file: 'm.onnx', opsets: { '': 17 }, producer: 'lutc-builder' });
    const bound = imp(b, { dimBindings: { batch: 2 } });
    expect(bound.inputs[0]!.type.shape[0]).toBe(2);
    expect(bound.meta!.dimBindings).toEqual({ batch: 2 });
  });

  it('binds symbols through inputShapes and checks fixed dims', () => {
    const b = new OnnxBuilder({ opset: 17 });
    b.input('x', 'f32', ['n', 4]);
    b.input('y', 'f32', ['n', 4]);
    const [z] = b.node('Add', ['x', 'y']);
    b.output(z!, 'f32');
    const g = imp(b, { inputShapes: { x: [3, 4] } });
    expect(g.inputs.map((v) => v.type.shape)).toEqual([
      [3, 4],
      [3, 4],
    ]);
    expect(g.outputs[0]!.type.shape).toEqual([3, 4]);
    expect(codes(() => imp(b, { inputShapes: { x: [3, 5] } }))).toEqual(['LUT1108']);
    expect(codes(() => imp(b, { inputShapes: { x: [3] } }))).toEqual(['LUT1108']);
    expect(codes(() => imp(b, { inputShapes: { x: [3, 4], y: [2, 4] } }))).toEqual(['LUT1108']);
    expect(codes(() => imp(b, { inputShapes: { nope: [1] } }))).toEqual(['LUT1108']);
  });

  it('folds a Shape -> Gather -> Unsqueeze -> Concat -> Reshape chain to a constant shape', () => {
    const b = new OnnxBuilder({ opset: 17 });
    const x = b.input('x', 'f32', ['batch', 'seq', 8]);
    const [s] = b.node('Shape', [x]);
    const gather = (k: number) => b.node('Gather', [s!, b.initializer(`i${k}`, i64([k], []))], { attrs: { axis: 0 } })[0]!;
    const unsq = (v: string, k: number) => b.node('Unsqueeze', [v, b.initializer(`a${k}`, i64([0]))])[0]!;
    const [c] = b.node('Concat', [unsq(gather(0), 0), unsq(gather(1), 1), b.initializer('heads', i64([2, 4]))], { attrs: { axis: 0 } });
    const [r] = b.node('Reshape', [x, c!]);
    b.output(r!, 'f32');
    const g = imp(b, { inputShapes: { x: [1, 5, 8] } });
    expect(g.nodes.map((n) => n.op)).toEqual(['reshape']);
    const shapeIn = g.nodes[0]!.inputs[1]!;
    expect(Array.from(shapeIn.const!.data)).toEqual([1, 5, 2, 4]);
    expect(g.outputs[0]!.type.shape).toEqual([1, 5, 2, 4]);
    // unbound, the chain cannot fold but every value still gets a type of known rank
    const sym = imp(b);
    expect(sym.outputs[0]!.type.shape).toHaveLength(4);
    expect(sym.nodes.length).toBeGreaterThan(1);
  });

  it('turns Constant nodes into constants', () => {
    const b = new OnnxBuilder({ opset: 17 });
    const [a] = b.node('Constant', [], { attrs: { value_ints: [1, 2, 3] } });
    const [c] = b.node('Constant', [], { attrs: { value_float: b.float(2) } });
    const [t] = b.node('Constant', [], { attrs: { value: f32([2]) } });
    b.output(a!, 'i64');
    b.output(c!, 'f32');
    b.output(t!, 'f32');
    const g = imp(b);
    expect(g.nodes).toHaveLength(0);
    expect(g.outputs.map((v) => [v.const!.dtype, v.const!.shape])).toEqual([
      ['i64', [3]],
      ['f32', []],
      ['f32', [2]],
    ]);
  });
});

describe('bad models', () => {
  it('lists every unsupported node at once, with domain and opset', () => {
    const b = new OnnxBuilder({ opset: 17, domains: { 'com.example': 3 } });
    const x = b.input('x', 'f32', [2]);
    const [y] = b.node('FancyOp', [x], { name: 'fancy1' });
    const [z] = b.node('Frobnicate', [y!], { name: 'frob', domain: 'com.example' });
    const [w] = b.node('Relu', [z!]);
    b.output(w!, 'f32');
    const ds = diags(() => imp(b));
    expect(ds.map((d) => d.code)).toEqual(['LUT1101', 'LUT1101']);
    expect(ds[0]!.loc).toMatchObject({ kind: 'node', node: 'fancy1', opType: 'FancyOp', file: 'm.onnx' });
    expect(ds[0]!.message).toContain('ai.onnx.FancyOp (opset 17)');
    expect(ds[1]!.message).toContain('com.example.Frobnicate (opset 3)');
  });

  it('diagnoses a cycle', () => {
    const b = new OnnxBuilder({ opset: 17 });
    b.input('x', 'f32', [2]);
    b.node('Add', ['x', 'c'], { outputs: ['a'] });
    b.node('Relu', ['a'], { outputs: ['c'] });
    b.output('a', 'f32');
    expect(codes(() => imp(b))).toEqual(['LUT1105']);
  });

  it('diagnoses undefined inputs, unproduced outputs, duplicates, missing graph', () => {
    const b = new OnnxBuilder({ opset: 17 });
    b.input('x', 'f32', [2]);
    b.node('Relu', ['ghost'], { outputs: ['y'] });
    b.node('Relu', ['x'], { outputs: ['y'] });
    b.output('nowhere', 'f32');
    expect(codes(() => imp(b)).sort()).toEqual(['LUT1100', 'LUT1104', 'LUT1106']);
    expect(codes(() => importOnnx(encodeModel({ irVersion: 8, opsetImport: [{ domain: '', version: 17 }] })))).toEqual(['LUT1007']);
  });

  it('diagnoses incompatible MatMul shapes at the node', () => {
    const b = new OnnxBuilder({ opset: 17 });
    const x = b.input('x', 'f32', [2, 5]);
    const [y] = b.node('MatMul', [x, b.initializer('w', f32([4, 3]))], { name: 'mm' });
    b.output(y!, 'f32');
    const ds = diags(() => imp(b));
    expect(ds.map((d) => d.code)).toEqual(['LUT1110']);
    expect(ds[0]!.loc).toMatchObject({ kind: 'node', node: 'mm', opType: 'MatMul' });
  });

  it('diagnoses attributes: unknown, wrong type', () => {
    const b = new OnnxBuilder({ opset: 17 });
    const x = b.input('x', 'f32', [2, 3]);
    const [y] = b.node('Softmax', [x], { attrs: { axis: 'last' } });
    const [z] = b.node('Relu', [y!], { attrs: { frobnicate: 1 } });
    b.output(z!, 'f32');
    expect(codes(() => imp(b))).toEqual(['LUT1103', 'LUT1103']);
  });

  it('diagnoses unsupported opset versions per node', () => {
    const b = new OnnxBuilder({ opset: 5 });
    const x = b.input('x', 'f32', [2]);
    const [y] = b.node('Relu', [x]);
    const [z] = b.node('Relu', [y!]);
    b.output(z!, 'f32');
    expect(codes(() => imp(b))).toEqual(['LUT1102', 'LUT1102']);
  });
});

describe('opset upgrades', () => {
  it('Squeeze: axes attribute (opset 11) and input (opset 13) agree', () => {
    const make = (opset: number) => {
      const b = new OnnxBuilder({ opset });
      const x = b.input('x', 'f32', [1, 3, 1, 2]);
      const [y] =
        opset < 13 ? b.node('Squeeze', [x], { attrs: { axes: [0, 2] } }) : b.node('Squeeze', [x, b.initializer('axes', i64([0, 2]))]);
      b.output(y!, 'f32');
      return imp(b);
    };
    for (const g of [make(11), make(13)]) {
      expect(g.outputs[0]!.type.shape).toEqual([3, 2]);
      expect(Array.from(interpret(g, { x: f32([1, 3, 1, 2]) })[0]!.data)).toEqual([0, 1, 2, 3, 4, 5]);
    }
  });

  it('Softmax opset 11 normalizes over the flattened tail, opset 13 over one axis', () => {
    const run = (opset: number) => {
      const b = new OnnxBuilder({ opset });
      const x = b.input('x', 'f32', [2, 3, 4]);
      const [y] = b.node('Softmax', [x], { attrs: { axis: 1 } });
      b.output(y!, 'f32');
      const g = imp(b);
      expect(g.outputs[0]!.type.shape).toEqual([2, 3, 4]);
      return Array.from(interpret(g, { x: f32([2, 3, 4], (i) => (i % 7) / 3) })[0]!.data);
    };
    const old = run(11);
    const cur = run(13);
    const sum = (a: number[], idx: number[]) => idx.reduce((s, i) => s + a[i]!, 0);
    // opset 11: each batch's 12 values sum to 1
    expect(sum(old, [...Array(12).keys()])).toBeCloseTo(1, 5);
    // opset 13: each (batch, last) column over axis 1 sums to 1
    expect(sum(cur, [0, 4, 8])).toBeCloseTo(1, 5);
    expect(sum(old, [0, 4, 8])).not.toBeCloseTo(1, 2);
  });

  it('Split split attribute (opset 11) and Clip min/max attributes (opset 10) become inputs', () => {
    const b = new OnnxBuilder({ opset: 10 });
    const x = b.input('x', 'f32', [5]);
    const [c] = b.node('Clip', [x], { attrs: { min: b.float(1), max: b.float(3) } });
    b.output(c!, 'f32');
    expect(Array.from(interpret(imp(b), { x: f32([5]) })[0]!.data)).toEqual([1, 1, 2, 3, 3]);
    const s = new OnnxBuilder({ opset: 11 });
    const y = s.input('x', 'f32', [5]);
    const [p, q] = s.node('Split', [y], { attrs: { axis: 0, split: [2, 3] }, outputs: 2 });
    s.output(p!, 'f32');
    s.output(q!, 'f32');
    const g = imp(s);
    expect(g.outputs.map((v) => v.type.shape)).toEqual([[2], [3]]);
    expect(interpret(g, { x: f32([5]) }).map((t) => Array.from(t.data))).toEqual([
      [0, 1],
      [2, 3, 4],
    ]);
  });

  it('ReduceMean axes attribute (opset 13) becomes an input', () => {
    const b = new OnnxBuilder({ opset: 13 });
    const x = b.input('x', 'f32', [2, 3]);
    const [y] = b.node('ReduceMean', [x], { attrs: { axes: [1], keepdims: 0 } });
    b.output(y!, 'f32');
    const g = imp(b);
    expect(g.outputs[0]!.type.shape).toEqual([2]);
    expect(Array.from(interpret(g, { x: f32([2, 3]) })[0]!.data)).toEqual([1, 4]);
  });
});

describe('If', () => {
  /** out = If(cond) { x + one } else { x * two }, branches reading outer-scope values. */
  function ifModel(cond: 'const-true' | 'const-false' | 'input'): OnnxBuilder {
    const b = new OnnxBuilder({ opset: 17 });
    const x = b.input('x', 'f32', [3]);
    const c = cond === 'input' ? b.input('c', 'bool', []) : b.initializer('c', makeTensor('bool', [], [cond === 'const-true' ? 1 : 0]));
    b.initializer(
      'one',
      f32([1], () => 1),
    );
    b.initializer(
      'two',
      f32([1], () => 2),
    );
    const then = b.subgraph('then');
    then.node('Add', [x, 'one'], { outputs: ['r'] });
    then.output('r', 'f32', [3]);
    const els = b.subgraph('else');
    els.node('Mul', [x, 'two'], { outputs: ['r'] }); // same name as in the sibling branch: legal ONNX
    els.output('r', 'f32', [3]);
    b.node('If', [c], { attrs: { then_branch: then, else_branch: els }, outputs: ['out'] });
    b.output('out', 'f32', [3]);
    return b;
  }

  it('inlines a constant condition', () => {
    for (const [cond, want] of [
      ['const-true', [1, 2, 3]],
      ['const-false', [0, 2, 4]],
    ] as const) {
      const g = imp(ifModel(cond));
      expect(g.nodes.some((n) => n.op === 'if')).toBe(false);
      expect(g.outputs[0]!.name).toBe('out');
      expect(Array.from(interpret(g, { x: f32([3]) })[0]!.data)).toEqual(want);
    }
  });

  it('keeps a runtime condition and runs the chosen branch', () => {
    const g = imp(ifModel('input'));
    expect(g.nodes.map((n) => n.op)).toEqual(['if']);
    expect(g.outputs[0]!.type).toEqual({ dtype: 'f32', shape: [3] });
    const run = (c: number) => Array.from(interpret(g, { x: f32([3]), c: makeTensor('bool', [], [c]) })[0]!.data);
    expect(run(1)).toEqual([1, 2, 3]);
    expect(run(0)).toEqual([0, 2, 4]);
  });
});
