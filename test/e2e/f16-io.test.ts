/**
 * f16 graph I/O of the wasm and WGSL artifacts (issue 12: "I/O in the model's dtypes: Float16Array
 * where the JS engine has it, else Uint16Array, documented"): the q4f16 decoder (every float tensor
 * f16, test/helpers/compiled-decoders.ts) compiled to files and loaded through model.mjs. run() takes
 * an f16 input as IEEE binary16 bits (Uint16Array), as a Float16Array where the engine has one, or as
 * float values (Float32Array, plain arrays); it returns f16 outputs as Float16Array where the engine
 * has one, else as a Uint16Array of bits. Checked: empty pasts as bits or as values give the same
 * logits; presents fed back as the returned bits or as their decoded values give the same next step;
 * model.generate on the f16 logits gives onnxruntime-node's tokens; the d.ts names the f16 type; a
 * wrong class is LUT5007 naming the classes it takes.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import '../../ir/ops/index.js';
import { compileModel as compileWasm } from '../../backends/wasm/compile.js';
import { loadArtifactModule } from '../../backends/wasm/model/files.js';
import { compileModel as compileWgsl } from '../../backends/wgsl/compile.js';
import { type NodeGpu, openNodeGpu } from '../../backends/wgsl/device.js';
import { loadArtifact } from '../../backends/wgsl/run.js';
import { f16BitsToNumber } from '../../ir/tensor.js';
import { lowerDecoder } from '../helpers/compiled-decoders.js';
import { buildBuilderDecoder, greedyOrt } from '../helpers/decoders.js';

type Out = Record<string, { data: ArrayLike<number>; shape: number[]; dtype: string }>;
interface Model {
  run(f: Record<string, unknown>): Out | Promise<Out>;
  generate(ids: number[], o: { maxNewTokens: number }): Promise<{ tokens: number[] }>;
  destroy(): void;
}

const bytes = buildBuilderDecoder({ seed: 21, float: 'f16' });
const HALF = (globalThis as { Float16Array?: new (n: number) => ArrayLike<number> }).Float16Array;

/** Prompt feeds with empty f16 pasts given as `empty` makes them. */
function feeds(pastNames: string[], empty: () => unknown): Record<string, unknown> {
  const f: Record<string, unknown> = {
    input_ids: { data: BigInt64Array.from([5n, 17n, 42n]), shape: [1, 3] },
    attention_mask: { data: new BigInt64Array(3).fill(1n), shape: [1, 3] },
  };
  for (const n of pastNames) f[n] = { data: empty(), shape: [1, 2, 0, 16] };
  return f;
}

async function checkF16Io(open: (dir: string) => Promise<Model>, target: 'wasm' | 'wgsl', compile: typeof compileWasm): Promise<void> {
  const g = lowerDecoder(bytes, target);
  const pastNames = g.inputs.filter((v) => v.name.startsWith('past')).map((v) => v.name);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `lutc-f16-${target}-`));
  let model: Model;
  try {
    await compile(g, { target } as never, dir);
    expect(fs.readFileSync(path.join(dir, 'model.d.ts'), 'utf8')).toMatch(/Float16ArrayLike/);
    model = await open(dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  try {
    const a = await model.run(feeds(pastNames, () => new Uint16Array(0)));
    const b = await model.run(feeds(pastNames, () => new Float32Array(0)));
    const logits = a.logits!;
    expect(logits.dtype).toBe('f16');
    expect(logits.data.constructor.name).toBe(HALF ? 'Float16Array' : 'Uint16Array');
    expect(Array.from(b.logits!.data)).toEqual(Array.from(logits.data));
    // presents come back in the same class; fed back as bits they give the same next step as values
    const present = a['present.0.key']!;
    expect(present.data.constructor.name).toBe(logits.data.constructor.name);
    const next = (pastOf: (n: string) => unknown) => {
      const f: Record<string, unknown> = {
        input_ids: { data: BigInt64Array.from([7n]), shape: [1, 1] },
        attention_mask: { data: new BigInt64Array(4).fill(1n), shape: [1, 4] },
      };
      for (const n of pastNames) f[n] = { data: pastOf(n), shape: [1, 2, 3, 16] };
      return f;
    };
    const asBits = await model.run(next((n) => a[n.replace('past_key_values', 'present')]!.data));
    const asValues = await model.run(
      next((n) => {
        const d = a[n.replace('past_key_values', 'present')]!.data;
        return HALF ? Float32Array.from(d) : Float32Array.from(d, f16BitsToNumber);
      }),
    );
    expect(Array.from(asBits.logits!.data)).toEqual(Array.from(asValues.logits!.data));
    // a class f16 does not take
    await expect(Promise.resolve().then(() => model.run(feeds(pastNames, () => new Int32Array(0))))).rejects.toThrow(
      /LUT5007: .*Uint16Array of float16 bits, a Float32Array/,
    );
    // generation reads the f16 logits as numbers: onnxruntime-node's greedy tokens
    const gen = await model.generate([5, 17, 42, 3, 60, 9], { maxNewTokens: 12 });
    expect(gen.tokens).toEqual((await greedyOrt(bytes, [5, 17, 42, 3, 60, 9], 12, { float: 'f16' })).tokens);
  } finally {
    model.destroy();
  }
}

describe('f16 graph I/O through model.mjs', () => {
  it('wasm: bits or values in, Uint16Array (Float16Array) out, generate on f16 logits', async () => {
    await checkF16Io(async (dir) => (await loadArtifactModule(dir)) as unknown as Model, 'wasm', compileWasm);
  }, 120_000);

  let gpu: NodeGpu;
  beforeAll(async () => {
    gpu = await openNodeGpu();
  });
  afterAll(() => gpu?.release());
  it('wgsl: the same API', async () => {
    await checkF16Io(async (dir) => (await loadArtifact(dir, gpu.device)) as unknown as Model, 'wgsl', compileWgsl as never);
  }, 180_000);
});
