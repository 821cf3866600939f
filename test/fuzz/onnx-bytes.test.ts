/**
 * Hostile bytes into the importer: truncations of a valid model at every cut point, seeded random
 * byte strings, and seeded byte mutations of a valid model. Each must import or fail with a LutcError;
 * no other exception (a crash) and no hang.
 */
import { describe, expect, it } from 'vitest';
import { LutcError } from '../../base/diagnostics.js';
import { seededRandom as rng } from '../../base/random.js';
import { OnnxBuilder } from '../../compiler/onnx/builder.js';
import { importOnnx } from '../../compiler/onnx/index.js';
import { makeTensor } from '../../ir/tensor.js';

function validModel(): Uint8Array {
  const b = new OnnxBuilder({ opset: 17 });
  const x = b.input('x', 'f32', ['batch', 4]);
  const [y] = b.node('MatMul', [
    x,
    b.initializer(
      'w',
      makeTensor(
        'f32',
        [4, 3],
        Array.from({ length: 12 }, (_, i) => i),
      ),
    ),
  ]);
  const [s] = b.node('Shape', [y!]);
  const [r] = b.node('Reshape', [y!, s!]);
  const [z] = b.node('Softmax', [r!], { attrs: { axis: -1 } });
  const [q] = b.node('Unsqueeze', [z!, b.initializer('ax', makeTensor('i64', [1], [0]))]);
  b.output(q!, 'f32');
  return b.toBytes();
}

/** Imports and classifies: 'ok', a LUT code, or rethrows anything that is not a LutcError. */
function outcome(bytes: Uint8Array): string {
  try {
    importOnnx(bytes, { file: 'fuzz.onnx' });
    return 'ok';
  } catch (e) {
    if (e instanceof LutcError) {
      for (const d of e.diagnostics) expect(d.code).toMatch(/^LUT1\d{3}$/);
      return e.diagnostics[0]!.code;
    }
    throw new Error(`non-diagnostic exception for input ${Buffer.from(bytes).toString('hex').slice(0, 200)}: ${(e as Error).stack}`);
  }
}

describe('importer fuzz', () => {
  const model = validModel();

  it('the unmodified model imports', () => {
    expect(outcome(model)).toBe('ok');
  });

  it('every truncation is diagnosed', () => {
    const seen = new Set<string>();
    for (let cut = 0; cut < model.length; cut++) seen.add(outcome(model.subarray(0, cut)));
    // most cuts break the protobuf framing; none may escape as a crash
    expect(seen.has('LUT1001')).toBe(true);
    expect(seen.has('ok')).toBe(false);
  });

  it('random bytes are diagnosed', () => {
    const r = rng(1234);
    for (let i = 0; i < 300; i++) {
      const bytes = new Uint8Array(1 + Math.floor(r() * 200));
      for (let j = 0; j < bytes.length; j++) bytes[j] = Math.floor(r() * 256);
      outcome(bytes);
    }
  });

  it('mutated models import or are diagnosed', () => {
    const r = rng(99);
    for (let i = 0; i < 300; i++) {
      const bytes = model.slice();
      const flips = 1 + Math.floor(r() * 3);
      for (let k = 0; k < flips; k++) bytes[Math.floor(r() * bytes.length)] = Math.floor(r() * 256);
      outcome(bytes);
    }
  });
});
