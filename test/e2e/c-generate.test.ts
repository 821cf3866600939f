/**
 * model_generate of the C artifact (backends/c/model/generate.ts): generation as a library call in
 * model.c, with sampling ported from compiler/generate.ts pickToken and base/random.ts seededRandom.
 * (1) The sampler alone, compiled from SAMPLER_C: lutc_exp is Math.exp bit for bit and
 * lutc_pick_token picks pickToken's tokens, draw for draw, on rows with ties, signed zeros and
 * infinities, over several temperature / top-k / top-p settings. (2) Sampled generation on the tiny
 * builder decoder (temperature 0.8, top-k 5, top-p 0.9, seed 7, 12 tokens, --tables f32): `lutc
 * generate --target c` (the harness calling model_generate) gives the tokens of `--target ref`
 * (compiler/generate.ts over the interpreter), which differ from the greedy ones. (3) Greedy and
 * sampled model_generate through the harness equal compiler/generate.ts's loop over the same
 * artifact's model_run, on the builder decoder (shared KV buffer mode) and the optimum decoder (two
 * buffers per cache tensor), an eos id stops it, and a length past the bound is LUT5009; under
 * -fsanitize=address,undefined the sampled tokens stay the interpreter's. (4) A C program of its own calling model_generate (built with
 * -Wall -Wextra -Werror) prints the same sampled and greedy tokens, its callback sees each token and
 * can stop early, and bad calls return coded errors: MODEL_ERR_DIM_BOUND naming attention_mask for a
 * length past the compiled bound, MODEL_ERR_ARGS for a NULL or misaligned workspace, no prompt or a
 * top_p out of range; a model that is not a decoder declares model_generate, with MODEL_CAN_GENERATE 0,
 * and it returns MODEL_ERR_ARGS; the harness says why and exits 1, and refuses --top-k without
 * --temperature.
 * Exactness: tokens are compared for equality, no tolerance. The C artifact's logits differ from the
 * interpreter's by ~1e-7 relative (test/helpers/compiled-decoders.ts: measured 1.4e-7 .. 4.3e-7 per
 * step), so a sampled token could flip only if a uniform draw fell within that of a cumulative
 * boundary; the seeds here are fixed, so the test is deterministic.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import '../../ir/ops/index.js';
import { emitModel } from '../../backends/c/model/emit.js';
import { SAMPLER_C } from '../../backends/c/model/generate.js';
import { generate as generateC, openArtifact } from '../../backends/c/run.js';
import { buildC, STRICT_FLAGS } from '../../backends/c/toolchain.js';
import { seededRandom } from '../../base/random.js';
import { decoderIO, generate, pickToken } from '../../compiler/generate.js';
import { importOnnx } from '../../compiler/onnx/index.js';
import { runPipeline } from '../../compiler/pipeline.js';
import { interpret } from '../../ir/interpret.js';
import { lutc, root, tmpDir } from '../cli/helpers.js';
import { lowerDecoder, MAX_LENGTH } from '../helpers/compiled-decoders.js';
import { buildBuilderDecoder } from '../helpers/decoders.js';
import { buildOptimumDecoder } from '../helpers/optimum-decoder.js';

const work = tmpDir();
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

const PROMPT = [5, 17, 42, 3, 60, 9];
const SAMPLING = { temperature: 0.8, topK: 5, topP: 0.9, seed: 7 };
const C_OPTS = { target: 'c', cflags: ['-O1'] } as never;

const run = (exe: string, args: string[] = []) => spawnSync(exe, args, { encoding: 'utf8', timeout: 60_000 });

describe('the C sampler is pickToken and seededRandom', () => {
  it('lutc_exp returns Math.exp bit for bit', () => {
    // pickToken's arguments are (logit - max) / temperature <= 0; the other ranges cover every branch
    const rand = seededRandom(5);
    const xs: number[] = [0, -0, 1, -1, 0.5, 2 ** -30, -(2 ** -30), 709.7, -745, -746, 710, Infinity, -Infinity];
    for (let i = 0; i < 4000; i++) xs.push(-60 * rand(), -1.5 * rand(), (rand() - 0.5) * 1400, (rand() - 0.5) * 2 ** -20);
    const bits = (x: number) => {
      const v = new DataView(new ArrayBuffer(8));
      v.setFloat64(0, x, true);
      return v.getBigUint64(0, true);
    };
    const src = `#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <math.h>
${SAMPLER_C}
static const uint64_t XS[] = { ${xs.map((x) => `0x${bits(x).toString(16)}ull`).join(', ')} };
int main(void) {
  for (size_t i = 0; i < sizeof XS / sizeof XS[0]; i++) {
    double x, y; uint64_t b;
    memcpy(&x, &XS[i], 8);
    y = lutc_exp(x);
    memcpy(&b, &y, 8);
    printf("%llx\\n", (unsigned long long)b);
  }
  (void)lutc_pick_token; (void)lutc_random;
  return 0;
}
`;
    const r = run(buildC({ sources: { 'exp.c': src }, flags: ['-O2', ...STRICT_FLAGS] }));
    expect(r.status, r.stderr).toBe(0);
    const got = r.stdout.trim().split('\n');
    const bad = xs.flatMap((x, i) => (BigInt(`0x${got[i]}`) === bits(Math.exp(x)) ? [] : [`exp(${x}): ${got[i]}`]));
    expect(bad.slice(0, 5)).toEqual([]);
    expect(got).toHaveLength(xs.length);
  });

  it('lutc_pick_token picks what pickToken picks, draw for draw (ties, signed zeros, infinities)', () => {
    const rand = seededRandom(11);
    const V = 40;
    const rows: Float32Array[] = [];
    for (let r = 0; r < 24; r++) {
      const row = new Float32Array(V);
      // few distinct levels on some rows (many ties), continuous values on others
      for (let i = 0; i < V; i++) row[i] = r % 3 === 0 ? Math.floor(rand() * 4) : (rand() - 0.5) * 8;
      if (r % 4 === 1) row[(r * 7) % V] = -0;
      if (r % 8 === 5) row[(r * 3) % V] = -Infinity;
      rows.push(row);
    }
    rows.push(Float32Array.from({ length: V }, (_, i) => (i === 3 || i === 9 ? Infinity : i / 10)));
    const settings = [
      [0.8, 5, 0.9],
      [1.5, 0, 1],
      [0.3, 0, 0.5],
      [2, 1, 1],
      [1, 60, 0.99],
      [0, 0, 1],
      [5, 12, 0.2],
    ] as const;
    const DRAWS = 6;
    const want: number[] = [];
    for (const [t, k, p] of settings) {
      const r = seededRandom(7);
      for (const row of rows) for (let d = 0; d < DRAWS; d++) want.push(pickToken(row, t, k, p, r));
    }
    const f32bits = (x: number) => new Uint32Array(Float32Array.of(x).buffer)[0]!;
    const src = `#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <math.h>
${SAMPLER_C}
static const uint32_t ROWS[${rows.length}][${V}] = {
${rows.map((row) => `  { ${Array.from(row, (x) => `0x${f32bits(x).toString(16)}u`).join(', ')} }`).join(',\n')}
};
static const double SET[][3] = { ${settings.map((s) => `{ ${s.join(', ')} }`).join(', ')} };
int main(void) {
  float row[${V}];
  int32_t order[${V}], tmp[${V}];
  double w[${V}];
  for (size_t s = 0; s < sizeof SET / sizeof SET[0]; s++) {
    uint32_t rng = 7;
    for (int r = 0; r < ${rows.length}; r++) {
      memcpy(row, ROWS[r], sizeof row);
      for (int d = 0; d < ${DRAWS}; d++)
        printf("%lld\\n", (long long)lutc_pick_token(row, ${V}, SET[s][0], (int)SET[s][1], SET[s][2], &rng, order, tmp, w));
    }
  }
  return 0;
}
`;
    const r = run(buildC({ sources: { 'pick.c': src }, flags: ['-O2', ...STRICT_FLAGS] }));
    expect(r.status, r.stderr).toBe(0);
    const got = r.stdout.trim().split('\n').map(Number);
    expect(got).toEqual(want);
    // the settings sample: not every draw of a row is the same token
    expect(new Set(want.slice(0, rows.length * DRAWS)).size).toBeGreaterThan(10);
  });
});

describe('model_generate through the harness (lutc generate --target c)', () => {
  const model = path.join(work, 'decoder.onnx');
  fs.writeFileSync(model, buildBuilderDecoder({ seed: 21 }));
  const args = ['--input-ids', PROMPT.join(','), '--max-new-tokens', '12', '--tables', 'f32', '--json'];
  const sampled = ['--temperature', '0.8', '--top-k', '5', '--top-p', '0.9', '--seed', '7'];
  const tokensOf = async (...extra: string[]) => {
    const r = await lutc('generate', model, ...args, ...extra);
    expect(r.code, r.stderr).toBe(0);
    return (JSON.parse(r.stdout) as { tokens: number[] }).tokens;
  };

  it('sampled (temperature 0.8, top-k 5, top-p 0.9, seed 7, 12 tokens): c gives the tokens of ref', async () => {
    const ref = await tokensOf(...sampled);
    expect(ref).toHaveLength(12);
    const c = await tokensOf(...sampled, '--target', 'c');
    expect(c).toEqual(ref);
    // sampling happened: greedy gives other tokens
    expect(await tokensOf('--target', 'c')).not.toEqual(ref);
  }, 240_000);

  for (const [name, bytes] of [
    ['builder decoder (shared KV buffers)', () => buildBuilderDecoder({ seed: 21 })],
    ['optimum decoder (two buffers per cache tensor)', () => buildOptimumDecoder()],
  ] as const)
    it(`greedy and sampled: the tokens of compiler/generate.ts's loop over the same artifact; an eos id stops it (${name})`, async () => {
      const g = lowerDecoder(bytes(), 'c');
      const art = openArtifact(g, C_OPTS);
      let loop: number[];
      let loopSampled: number[];
      try {
        loop = (await generate(decoderIO(g), (feeds) => art.run(feeds), PROMPT, { maxNewTokens: 12 })).tokens;
        loopSampled = (await generate(decoderIO(g), (feeds) => art.run(feeds), PROMPT, { maxNewTokens: 12, ...SAMPLING })).tokens;
      } finally {
        art.close();
      }
      // sampled over the same artifact's logits (bit for bit the same): the same tokens
      expect((await generateC(g, C_OPTS, PROMPT, { maxNewTokens: 12, ...SAMPLING })).tokens).toEqual(loopSampled);
      expect(loopSampled).not.toEqual(loop);
      const streamed: number[] = [];
      const inside = await generateC(g, C_OPTS, PROMPT, { maxNewTokens: 12, onToken: (id) => streamed.push(id) });
      expect(inside.tokens).toEqual(loop);
      expect(streamed).toEqual(loop);
      const eos = loop[4]!;
      const cut = await generateC(g, C_OPTS, PROMPT, { maxNewTokens: 12, eosTokenIds: [eos] });
      expect(cut.tokens).toEqual(loop.slice(0, loop.indexOf(eos) + 1));
      // beyond the compiled bound (MAX_LENGTH): LUT5009 from model_generate before any run
      await expect(generateC(g, C_OPTS, PROMPT, { maxNewTokens: MAX_LENGTH })).rejects.toThrow(/LUT5009/);
    }, 240_000);
});

describe('model_generate under -fsanitize=address,undefined', () => {
  it('the builder decoder, sampled: the tokens of compiler/generate.ts over the interpreter, nothing reported', async () => {
    const g = lowerDecoder(buildBuilderDecoder({ seed: 21 }), 'c');
    const want = (await generate(decoderIO(g), (feeds) => interpret(g, feeds), PROMPT, { maxNewTokens: 12, ...SAMPLING })).tokens;
    const san = ['-O1', '-g', '-fno-omit-frame-pointer', '-fsanitize=address,undefined', '-fno-sanitize-recover=all'];
    const res = await generateC(g, { target: 'c', cflags: san } as never, PROMPT, { maxNewTokens: 12, ...SAMPLING });
    expect(res.tokens).toEqual(want);
  }, 240_000);
});

/** A program of its own around model.h: sampled, greedy, eos, a callback that stops, and bad calls. */
const DRIVER = String.raw`#include "model.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
static int64_t seen[64];
static int nseen = 0;
static int record(int64_t id, void *user) {
  const int *stop_after = (const int *)user;
  seen[nseen++] = id;
  return stop_after && nseen >= *stop_after;
}
static void print(const char *what, int rc, const int64_t *t, int n) {
  printf("%s %d", what, rc);
  for (int i = 0; i < n; i++) printf(" %lld", (long long)t[i]);
  printf("\n");
}
int main(void) {
  static const int64_t prompt[] = { 5, 17, 42, 3, 60, 9 };
  unsigned char *raw = (unsigned char *)malloc(model_generate_workspace_size() + 64);
  void *ws = (void *)(((uintptr_t)raw + 63) & ~(uintptr_t)63);
  int64_t toks[64];
  int n = -1, rc;
  const model_sampling s = { 0.8, 5, 0.9, 7 };
  rc = model_generate(prompt, 6, 12, NULL, 0, &s, toks, &n, record, NULL, ws);
  print("sampled", rc, toks, n);
  print("callback", nseen == n && !memcmp(seen, toks, sizeof(int64_t) * (size_t)n), seen, nseen);
  rc = model_generate(prompt, 6, 12, NULL, 0, NULL, toks, &n, NULL, NULL, ws);
  print("greedy", rc, toks, n);
  const int64_t eos[] = { 999, toks[2] };
  rc = model_generate(prompt, 6, 12, eos, 2, NULL, toks, &n, NULL, NULL, ws);
  print("eos", rc, toks, n);
  int stop_after = 3;
  nseen = 0;
  rc = model_generate(prompt, 6, 12, NULL, 0, &s, NULL, &n, record, &stop_after, ws);
  print("stopped", rc, seen, n);
  rc = model_generate(prompt, 6, 64, NULL, 0, NULL, toks, &n, NULL, NULL, ws);
  const model_error_info *e = model_last_error();
  printf("bound %d %d %s %lld %lld\n", rc, n, e->node, e->index, e->size);
  const model_sampling bad_p = { 1, 0, 1.5, 0 };
  printf("args %d %d %d %d %d\n", model_generate(prompt, 6, 4, NULL, 0, NULL, toks, &n, NULL, NULL, NULL),
         model_generate(prompt, 6, 4, NULL, 0, NULL, toks, &n, NULL, NULL, (unsigned char *)ws + 4),
         model_generate(prompt, 0, 4, NULL, 0, NULL, toks, &n, NULL, NULL, ws),
         model_generate(prompt, 6, 4, NULL, 0, &bad_p, toks, &n, NULL, NULL, ws),
         model_generate(prompt, 6, 0, NULL, 0, NULL, toks, &n, NULL, NULL, ws));
  printf("codes %d %d %d\n", MODEL_ERR_DIM_BOUND, MODEL_ERR_ARGS, MODEL_CAN_GENERATE);
  free(raw);
  return 0;
}
`;

describe('a C program calling model_generate (model.h + model.c, no harness)', () => {
  it('prints the sampled and greedy tokens of compiler/generate.ts; bad calls return coded errors', async () => {
    const g = lowerDecoder(buildBuilderDecoder({ seed: 21 }), 'c');
    const io = decoderIO(g);
    const step = (feeds: Parameters<typeof interpret>[1]) => interpret(g, feeds);
    const wantSampled = (await generate(io, step, PROMPT, { maxNewTokens: 12, ...SAMPLING })).tokens;
    const wantGreedy = (await generate(io, step, PROMPT, { maxNewTokens: 12 })).tokens;
    const em = emitModel(g, { target: 'c', embedWeights: true });
    const exe = buildC({
      sources: { 'model.h': em.files['model.h'] as string, 'model.c': em.files['model.c'] as string, 'main.c': DRIVER },
      flags: ['-O1', ...STRICT_FLAGS],
    });
    const r = run(exe);
    expect(r.status, r.stderr).toBe(0);
    const lines = Object.fromEntries(
      r.stdout
        .trim()
        .split('\n')
        .map((l) => [l.split(' ')[0]!, l.split(' ').slice(1)]),
    );
    const nums = (k: string) => lines[k]!.map(Number);
    const [dimBound, argsCode, can] = nums('codes');
    expect(can).toBe(1);
    expect(nums('sampled')).toEqual([0, ...wantSampled]);
    expect(nums('callback')).toEqual([1, ...wantSampled]);
    expect(nums('greedy')).toEqual([0, ...wantGreedy]);
    expect(nums('eos')).toEqual([0, ...wantGreedy.slice(0, wantGreedy.indexOf(wantGreedy[2]!) + 1)]);
    expect(nums('stopped')).toEqual([0, ...wantSampled.slice(0, 3)]);
    // 6 + 64 - 1 = 69 tokens in the last run: past attention_mask's bound, nothing generated
    expect(lines.bound).toEqual([String(dimBound), '0', 'attention_mask', '69', String(MAX_LENGTH)]);
    expect(nums('args')).toEqual([argsCode, argsCode, argsCode, argsCode, argsCode]);
  }, 240_000);

  it('a model that is not a decoder: MODEL_CAN_GENERATE 0, model_generate returns MODEL_ERR_ARGS, the harness says why', () => {
    const mlp = importOnnx(new Uint8Array(fs.readFileSync(path.join(root, 'examples/mlp.onnx'))), { dimBindings: { batch: 1 } });
    const em = emitModel(runPipeline(mlp, { target: 'c' }).graph, { target: 'c', embedWeights: true });
    expect(em.files['model.h']).toContain('#define MODEL_CAN_GENERATE 0');
    const driver = `#include "model.h"
#include <stdio.h>
int main(void) {
  static unsigned char ws[64] __attribute__((aligned(64)));
  const int64_t prompt[] = { 1, 2 };
  int n = -1;
  const int rc = model_generate(prompt, 2, 4, NULL, 0, NULL, NULL, &n, NULL, NULL, ws);
  printf("%d %d %d %d %d|%s\\n", rc == MODEL_ERR_ARGS, n, MODEL_CAN_GENERATE, (int)model_generate_workspace_size(), rc, MODEL_GENERATE_WHY);
  return 0;
}
`;
    const exe = buildC({
      sources: { 'model.h': em.files['model.h'] as string, 'model.c': em.files['model.c'] as string, 'main.c': driver },
      flags: ['-O1', ...STRICT_FLAGS],
    });
    const r = run(exe);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^1 0 0 0 4\|the model has no 'input_ids' input/);
    const harness = buildC({
      sources: {
        'model.h': em.files['model.h'] as string,
        'model.c': em.files['model.c'] as string,
        'main.c': em.files['main.c'] as string,
      },
      flags: ['-O1'],
    });
    const h = run(harness, ['generate', '--input-ids', '1,2', '--temperature', '0.5']);
    expect(h.status).toBe(1);
    expect(h.stderr).toContain("model: generate: the model has no 'input_ids' input");
    // sampling flags without a temperature would do nothing: refused, as lutc generate refuses them
    const k = run(harness, ['generate', '--input-ids', '1,2', '--top-k', '5']);
    expect(k.status).toBe(1);
    expect(k.stderr).toContain('generate: --top-k, --top-p and --seed only apply when sampling');
  }, 120_000);
});
