/**
 * Runtime dims on the C target: each case of test/helpers/runtime-dims.ts is compiled once (the
 * harness built once) and run at every runtime shape of the case against its oracle; a dim beyond its
 * bound is LUT5009 and shapes that contradict each other LUT5006, from the harness (exit 1), never
 * a partial output.
 */
import { describe, expect, it } from 'vitest';
import '../../ir/ops/index.js';
import { generate as generateC, openArtifact } from '../../backends/c/run.js';
import { LutcError } from '../../base/diagnostics.js';
import { COMPILED_DECODERS, checkCompiledDecoder, lowerDecoder } from '../helpers/compiled-decoders.js';
import { randomInput } from '../helpers/models.js';
import { buildKvAttention, checkCase, lowerCase, RUNTIME_DIMS_CASES } from '../helpers/runtime-dims.js';

const load = async (g: Parameters<typeof openArtifact>[0]) => openArtifact(g, { target: 'c', cflags: ['-O1'] } as never);

describe('runtime dims on c: one artifact, every shape in the bounds', () => {
  for (const c of RUNTIME_DIMS_CASES) it(c.name, async () => checkCase(c, 'c', load), 120_000);
});

describe('runtime dims on c under -fsanitize=address,undefined', () => {
  const san = ['-O1', '-g', '-fno-omit-frame-pointer', '-fsanitize=address,undefined', '-fno-sanitize-recover=all'];
  const loadSan = async (g: Parameters<typeof openArtifact>[0]) => openArtifact(g, { target: 'c', cflags: san } as never);
  for (const c of RUNTIME_DIMS_CASES.slice(0, 3)) it(c.name, async () => checkCase(c, 'c', loadSan), 180_000);
  it('the builder decoder generating inside the artifact (fused GroupQueryAttention, growing cache)', async () => {
    const c = COMPILED_DECODERS[0]!;
    const bytes = c.model();
    const ref = await c.reference(bytes, [5, 17, 42, 3, 60, 9], 8);
    const res = await generateC(lowerDecoder(bytes, 'c'), { target: 'c', cflags: san } as never, [5, 17, 42, 3, 60, 9], {
      maxNewTokens: 8,
    });
    expect(res.tokens).toEqual(ref.tokens);
  }, 180_000);
  it('out-of-bounds dims and contradicting shapes: coded errors, nothing reported by the sanitizers', async () => {
    const kv = RUNTIME_DIMS_CASES.find((c) => c.model === buildKvAttention)!;
    const art = openArtifact(lowerCase(kv, 'c'), { target: 'c', cflags: san } as never);
    try {
      const bad = [
        { past: randomInput([1, 17, 16], 1), x: randomInput([1, 1, 16], 2) },
        { past: randomInput([1, 3, 16], 1), x: randomInput([1, 5, 16], 2) },
        { past: randomInput([1, 3, 15], 1), x: randomInput([1, 1, 16], 2) },
      ];
      for (const feeds of bad) await expect(art.run(feeds)).rejects.toThrow(/LUT500[69]/);
    } finally {
      art.close();
    }
  }, 180_000);
});

describe('runtime dims on c: bad shapes are coded errors', () => {
  const kv = RUNTIME_DIMS_CASES.find((c) => c.model === buildKvAttention)!;
  const codeOf = async (feeds: Parameters<ReturnType<typeof openArtifact>['run']>[0]) => {
    const art = openArtifact(lowerCase(kv, 'c'), { target: 'c', cflags: ['-O1'] } as never);
    try {
      await art.run(feeds);
      return 'ok';
    } catch (e) {
      expect(e).toBeInstanceOf(LutcError);
      return `${(e as LutcError).diagnostics[0]!.code}: ${(e as LutcError).diagnostics[0]!.message}`;
    } finally {
      art.close();
    }
  };
  it('a dim beyond its bound: LUT5009 naming the dim and the bound', async () => {
    const r = await codeOf({ past: randomInput([1, 17, 16], 1), x: randomInput([1, 1, 16], 2) });
    expect(r).toMatch(/^LUT5009: .*runtime dim past = 17 is beyond its compiled bound 16/);
  });
  it('shapes that contradict each other: LUT5006', async () => {
    // batch is a static 1 in this model: 2 contradicts it
    const r = await codeOf({ past: randomInput([2, 3, 16], 1), x: randomInput([1, 1, 16], 2) });
    expect(r).toMatch(/^LUT5006: /);
  });
  it('the wrong rank: LUT5006', async () => {
    const r = await codeOf({ past: randomInput([3, 16], 1), x: randomInput([1, 1, 16], 2) });
    expect(r).toMatch(/^LUT5006: .*rank 3/);
  });
});

describe('decoders through one C artifact (runtime sequence dims, from an empty cache)', () => {
  for (const c of COMPILED_DECODERS)
    it(c.name, async () => checkCompiledDecoder(c, 'c', (g) => openArtifact(g, { target: 'c', cflags: ['-O1'] } as never)), 240_000);
});

describe('decoders generating inside the C artifact (the harness generate mode: the cache never leaves it)', () => {
  for (const c of COMPILED_DECODERS)
    it(c.name, async () => {
      const bytes = c.model();
      const ref = await c.reference(bytes, [5, 17, 42, 3, 60, 9], c.steps);
      const streamed: number[] = [];
      const res = await generateC(lowerDecoder(bytes, 'c'), { target: 'c', cflags: ['-O1'] } as never, [5, 17, 42, 3, 60, 9], {
        maxNewTokens: c.steps,
        onToken: (id) => streamed.push(id),
      });
      expect(res.tokens).toEqual(ref.tokens);
      expect(streamed).toEqual(ref.tokens);
      expect(res.decodeMs).toBeGreaterThan(0);
      // an end-of-sequence id stops after its first occurrence
      const eos = ref.tokens[3]!;
      const cut = await generateC(lowerDecoder(bytes, 'c'), { target: 'c', cflags: ['-O1'] } as never, [5, 17, 42, 3, 60, 9], {
        maxNewTokens: c.steps,
        eosTokenIds: [eos],
      });
      expect(cut.tokens).toEqual(ref.tokens.slice(0, ref.tokens.indexOf(eos) + 1));
    }, 240_000);
});
