/**
 * Writes the 8-bit MatMulNBits layer models of the int8-path measurement (docs/lut-format.md §10) into
 * a folder: `nb8_<K>x<N>_acc<L>.onnx`, x [1, K] -> y [1, N], block 32, uint8 zero points in 120..135,
 * seeded uniform uint8 weights, accuracy_level L = 4 (onnxruntime's int8 CompInt8 path) and 0 (its
 * exact float path), for the shapes 2048 x 32000 (an lm_head) and 4096 x 4096. Time them with
 * `lutc bench` (bench/README.md, "8-bit MatMulNBits"): lutc's default --tables i8 runs the int8 path,
 * --tables f32 the float path it replaces.
 * Usage: node --import tsx bench/nbits8-models.ts [dir]   (default /tmp/lutc-nb8)
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { OnnxBuilder } from '../compiler/onnx/builder.js';
import { makeTensor } from '../ir/tensor.js';

const dir = process.argv[2] ?? '/tmp/lutc-nb8';
mkdirSync(dir, { recursive: true });
const BS = 32;
for (const [K, N] of [
  [2048, 32000],
  [4096, 4096],
] as const)
  for (const level of [4, 0]) {
    const KB = Math.ceil(K / BS);
    let s = 12345;
    const r = () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32;
    const B = Uint8Array.from({ length: N * KB * BS }, () => Math.floor(r() * 256));
    const sc = Float32Array.from({ length: N * KB }, () => (0.5 + r()) / 256 / Math.sqrt(K));
    const zp = Uint8Array.from({ length: N * KB }, () => 120 + Math.floor(r() * 16));
    const b = new OnnxBuilder({ opset: 17, domains: { 'com.microsoft': 1 } });
    b.input('x', 'f32', [1, K]);
    const ins = [
      'x',
      b.initializer('B', makeTensor('u8', [N, KB, BS], B)),
      b.initializer('s', makeTensor('f32', [N, KB], sc)),
      b.initializer('zp', makeTensor('u8', [N, KB], zp)),
    ];
    const [y] = b.node('MatMulNBits', ins, {
      domain: 'com.microsoft',
      attrs: { K, N, bits: 8, block_size: BS, accuracy_level: level },
      outputs: ['y'],
    });
    b.output(y!, 'f32', [1, N]);
    const file = join(dir, `nb8_${K}x${N}_acc${level}.onnx`);
    writeFileSync(file, b.toBytes());
    console.log(file);
  }
