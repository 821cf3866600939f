/**
 * Graphs as the importer makes them (no text locations, ONNX names, symbolic dims, If branches) print,
 * parse back byte-identically and verify clean; verifying before and after the text round trip agrees.
 */
import { describe, expect, it } from 'vitest';
import '../../../ir/ops/index.js';
import { importOnnx, OnnxBuilder } from '../../../compiler/onnx/index.js';
import { GraphBuilder, newGraph } from '../../../ir/graph.js';
import { inferGraph } from '../../../ir/infer.js';
import { parseGraph } from '../../../ir/parser.js';
import { printGraph } from '../../../ir/printer.js';
import { makeTensor } from '../../../ir/tensor.js';
import type { Graph } from '../../../ir/types.js';
import { verifyGraph } from '../../../ir/verify.js';
import { checkLines } from '../../helpers/filecheck.js';
import { buildLlamaBlock, buildMatMulNBits, buildMlp } from '../../helpers/models.js';

function roundTripVerifies(g: Graph): string {
  verifyGraph(g);
  const text = printGraph(g);
  const g2 = parseGraph(text, 'dump.lut');
  expect(printGraph(g2)).toBe(text);
  verifyGraph(g2);
  return text;
}

describe('imported graphs', () => {
  it('MLP (MatMul + Add + Relu, symbolic batch)', () => {
    const text = roundTripVerifies(importOnnx(buildMlp({ dims: [8, 16, 4] }), { file: 'mlp.onnx' }));
    checkLines(text, ['graph @', '%x: f32[batch, 8]', 'matmul(%x, %{{.*}}) : f32[batch, 16] @fc0', 'relu(', 'return %y']);
  });

  it('Llama-style block', () => {
    roundTripVerifies(importOnnx(buildLlamaBlock(), { file: 'llama.onnx' }));
  });

  it('MatMulNBits model', () => {
    const { bytes } = buildMatMulNBits({ k: 64, n: 8, bits: 4, blockSize: 32, zeroPoints: true, bias: true });
    const text = roundTripVerifies(importOnnx(bytes, { file: 'nbits.onnx' }));
    checkLines(text, ['matmul_nbits(', 'CHECK-SAME: {K = 64, N = 8, bits = 4, block_size = 32']);
  });

  it('If with branches capturing outer values', () => {
    const b = new OnnxBuilder({ opset: 17 });
    const x = b.input('x', 'f32', ['n', 4]);
    const c = b.input('c', 'bool', []);
    const [s] = b.node('Relu', [x], { name: '/block/Relu' });
    const then = b.subgraph('then');
    const [t] = then.node('Neg', [s!], { name: 'neg' });
    then.output(t!, 'f32', ['n', 4]);
    const els = b.subgraph('else');
    const [e] = els.node('Abs', [s!], { name: 'abs' });
    els.output(e!, 'f32', ['n', 4]);
    const [y] = b.node('If', [c], { attrs: { then_branch: then, else_branch: els }, name: '/block/If' });
    b.output(y!, 'f32', ['n', 4]);
    const text = roundTripVerifies(importOnnx(b.toBytes(), { file: 'if.onnx' }));
    checkLines(text, ['= if(%c) {', 'then_branch = graph', 'neg(', 'else_branch = graph', 'abs(', '} : f32[n, 4] @"/block/If"']);
  });
});

describe('graphs built in memory with real ops', () => {
  it('verify clean after inference and after a text round trip', () => {
    const g = newGraph('main');
    const b = new GraphBuilder(g);
    const x = b.input('/model/x', { dtype: 'f32', shape: ['batch', 'seq', 8] });
    const w = b.constant(
      'onnx::MatMul_1',
      makeTensor(
        'f32',
        [8, 6],
        Array.from({ length: 48 }, (_, i) => i / 7),
      ),
    );
    const mm = b.node('matmul', [x, w], {}, [{ dtype: 'f32', shape: [] }], { name: '/model/MatMul' });
    const sp = b.node('split', [mm.outputs[0]!, null], { axis: -1, num_outputs: 2 }, [
      { dtype: 'f32', shape: [] },
      { dtype: 'f32', shape: [] },
    ]);
    const add = b.node('add', [sp.outputs[0]!, sp.outputs[1]!], {}, [{ dtype: 'f32', shape: [] }]);
    g.outputs.push(add.outputs[0]!);
    inferGraph(g, { fold: false });
    const text = roundTripVerifies(g);
    checkLines(text, [
      '%"/model/x": f32[batch, seq, 8]',
      'CHECK: %"onnx::MatMul_1" = const f32[8, 6] dense<"',
      'CHECK-NEXT: matmul(%"/model/x", %"onnx::MatMul_1") : f32[batch, seq, 6] @"/model/MatMul"',
      'CHECK-NEXT: = split({{%[^,]+}}, _) {axis = -1, num_outputs = 2} : f32[batch, seq, 3], f32[batch, seq, 3]',
      'CHECK-NOT: mul(',
      'CHECK: add(',
    ]);
  });
});
