/**
 * The optimum-layout decoder (decomposed attention, KV Concat) through model.mjs's own
 * `model.generate` in wasm: the fuse-attention pass turns its Concat(past, new) pairs into
 * GroupQueryAttention cache pairs, so generate runs it in the shared past/present buffer mode (model.mjs's
 * meta lists every pair) and writes onnxruntime-node's greedy tokens (f32 tables: exact up to
 * f32 rounding, so the argmax is the reference's at every step of this seeded model).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import '../../ir/ops/index.js';
import { compileModel as compileWasm } from '../../backends/wasm/compile.js';
import { loadArtifactModule } from '../../backends/wasm/model/files.js';
import { lowerDecoder } from '../helpers/compiled-decoders.js';
import { buildOptimumDecoder, greedyOrtOptimum } from '../helpers/optimum-decoder.js';

interface GenModel {
  generate(ids: number[], o: { maxNewTokens: number }): Promise<{ tokens: number[] }>;
  destroy(): void;
}

describe('optimum layout: model.generate inside the wasm artifact', () => {
  it('fused attention, every KV pair shared, onnxruntime-node tokens for 24 steps', async () => {
    const bytes = buildOptimumDecoder();
    const g = lowerDecoder(bytes, 'wasm');
    expect(g.nodes.filter((n) => n.op === 'group_query_attention')).toHaveLength(
      g.inputs.filter((v) => v.name.startsWith('past')).length / 2,
    );
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lutc-optimum-gen-'));
    let model: GenModel;
    try {
      await compileWasm(g, { target: 'wasm' } as never, dir);
      // model.mjs's meta lists the cache pairs ([input index, output index]): one per past input
      const pairs = /"kvPairs":(\[\[[^\]]*\](?:,\[[^\]]*\])*\])/.exec(fs.readFileSync(path.join(dir, 'model.mjs'), 'utf8'));
      expect(pairs).not.toBeNull();
      expect(JSON.parse(pairs![1]!)).toHaveLength(g.inputs.filter((v) => v.name.startsWith('past')).length);
      model = (await loadArtifactModule(dir)) as unknown as GenModel;
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    try {
      const prompt = [3, 14, 15, 9, 26];
      const got = await model.generate(prompt, { maxNewTokens: 24 });
      expect(got.tokens).toEqual((await greedyOrtOptimum(bytes, prompt, 24)).tokens);
    } finally {
      model.destroy();
    }
  }, 180_000);
});
