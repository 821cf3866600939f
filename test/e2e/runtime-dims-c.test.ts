/**
 * Runtime dims on the C target: each case of test/helpers/runtime-dims.ts is compiled once (the
 * harness built once) and run at every runtime shape of the case against its oracle; a dim beyond its
 * bound is LUT5009 and shapes that contradict each other LUT5006, from the harness (exit 1), never
 * a partial output.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import '../../ir/ops/index.js';
import { emitModel } from '../../backends/c/model/emit.js';
import { generate as generateC, openArtifact } from '../../backends/c/run.js';
import { buildC } from '../../backends/c/toolchain.js';
import { interpret } from '../../ir/interpret.js';
import { makeTensor } from '../../ir/tensor.js';
import type { Tensor } from '../../ir/types.js';
import { COMPILED_DECODERS, checkCompiledDecoder, int8ArgmaxAgreement, lowerDecoder } from '../helpers/compiled-decoders.js';
import { randomInput } from '../helpers/models.js';
import { maxAbsDiff } from '../helpers/ort.js';
import { buildKvAttention, checkCase, lowerCase, RUNTIME_DIMS_CASES, runOutcome } from '../helpers/runtime-dims.js';
import { F32_EXACT } from '../helpers/tolerance.js';

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
  const codeOf = (feeds: Record<string, Tensor>) =>
    runOutcome(openArtifact(lowerCase(kv, 'c'), { target: 'c', cflags: ['-O1'] } as never), feeds);
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

  // int8 tables (the default): argmax within 95% of onnxruntime's over every layout, teacher-forced
  it('int8 tables: the argmax agrees with onnxruntime-node on >= 95% of the steps of every layout', async () => {
    const r = await int8ArgmaxAgreement('c', (g) => openArtifact(g, { target: 'c', cflags: ['-O1'] } as never));
    expect(r.agree / r.steps, r.misses.join('; ')).toBeGreaterThanOrEqual(0.95);
  }, 480_000);
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

describe('model_run uses aligned I/O buffers in place and copies misaligned ones', () => {
  it('the KV attention case gives the same bytes either way, and the same values as the interpreter', () => {
    const kv = RUNTIME_DIMS_CASES.find((c) => c.model === buildKvAttention)!;
    const em = emitModel(lowerCase(kv, 'c'), { target: 'c', embedWeights: true });
    // past [1, 5, 16] and x [1, 3, 16]: present [1, 8, 16], y [1, 3, 16]; buffers at offset 0 or 4 bytes
    const driver = String.raw`#include "model.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
static float pool[4][1024 + 16] __attribute__((aligned(64)));
static int run(int shift, float *present, float *y) {
  float *past = (float *)((char *)pool[0] + shift), *x = (float *)((char *)pool[1] + shift);
  float *pr = (float *)((char *)pool[2] + shift), *yy = (float *)((char *)pool[3] + shift);
  for (int i = 0; i < 80; i++) past[i] = (float)((i * 37) % 11) / 7.0f - 0.5f;
  for (int i = 0; i < 48; i++) x[i] = (float)((i * 13) % 9) / 5.0f - 0.7f;
  model_inputs in; model_outputs out;
  memset(&in, 0, sizeof in); memset(&out, 0, sizeof out);
  in.past = past; in.x = x; out.present = pr; out.y = yy;
  in.past_shape[0] = 1; in.past_shape[1] = 5; in.past_shape[2] = 16;
  in.x_shape[0] = 1; in.x_shape[1] = 3; in.x_shape[2] = 16;
  static unsigned char ws[1 << 20] __attribute__((aligned(64)));
  if (model_workspace_size() > sizeof ws) return 90;
  int rc = model_run(&in, &out, ws);
  if (rc) return rc;
  if (out.present_shape[1] != 8 || out.y_shape[1] != 3) return 91;
  memcpy(present, pr, 128 * sizeof(float));
  memcpy(y, yy, 48 * sizeof(float));
  return 0;
}
int main(void) {
  float p0[128], y0[48], p1[128], y1[48];
  int rc = run(0, p0, y0);
  if (rc) return rc;
  rc = run(4, p1, y1);
  if (rc) return rc;
  if (memcmp(p0, p1, sizeof p0) || memcmp(y0, y1, sizeof y0)) return 92;
  for (int i = 0; i < 48; i++) printf("%.9g\n", y0[i]);
  return 0;
}
`;
    const exe = buildC({
      sources: { 'model.h': em.files['model.h'] as string, 'model.c': em.files['model.c'] as string, 'main.c': driver },
      flags: ['-O1'],
      ldflags: ['-lm'],
    });
    const r = spawnSync(exe, [], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const y = r.stdout.trim().split('\n').map(Number);
    const past = makeTensor(
      'f32',
      [1, 5, 16],
      Array.from({ length: 80 }, (_, i) => Math.fround(((i * 37) % 11) / 7 - 0.5)),
    );
    const x = makeTensor(
      'f32',
      [1, 3, 16],
      Array.from({ length: 48 }, (_, i) => Math.fround(((i * 13) % 9) / 5 - 0.7)),
    );
    const want = interpret(lowerCase(kv, 'ref'), { past, x })[1]!;
    const { diff, scale } = maxAbsDiff(makeTensor('f32', [1, 3, 16], y), want);
    expect(diff).toBeLessThanOrEqual(F32_EXACT * scale);
  });
});

describe('the shared past/present buffer (model_inputs.kv_capacity) through model.h', () => {
  it('a decode step gives the dense mode bytes; a pair that is not one buffer is MODEL_ERR_ARGS', () => {
    const em = emitModel(lowerDecoder(COMPILED_DECODERS[0]!.model(), 'c'), { target: 'c', embedWeights: true });
    expect(em.files['model.h']).toContain('int64_t kv_capacity;');
    // prompt of 3 from an empty cache (dense), then one decode step: dense (separate past/present)
    // against shared (one buffer of capacity 16 per pair, the prompt's present copied in at stride 16)
    const driver = String.raw`#include "model.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#define CAP 16
#define ROW 16 /* head size */
#define KV 2
static float dense[4][KV * CAP * ROW] __attribute__((aligned(64)));
static float next[4][KV * CAP * ROW] __attribute__((aligned(64)));
static float shared[4][KV * CAP * ROW] __attribute__((aligned(64)));
static float logits[2][CAP * 64] __attribute__((aligned(64)));
static unsigned char ws[1 << 22] __attribute__((aligned(64)));
#define PAIRS(X) X(0, past_key_values_0_key, present_0_key) X(1, past_key_values_0_value, present_0_value) \
  X(2, past_key_values_1_key, present_1_key) X(3, past_key_values_1_value, present_1_value)
static void shapes(model_inputs *in, int64_t S, int64_t past) {
  in->input_ids_shape[0] = 1; in->input_ids_shape[1] = S;
  in->attention_mask_shape[0] = 1; in->attention_mask_shape[1] = past + S;
#define SH(k, p, o) in->p##_shape[0] = 1; in->p##_shape[1] = KV; in->p##_shape[2] = past; in->p##_shape[3] = ROW;
  PAIRS(SH)
}
int main(void) {
  if (model_workspace_size() > sizeof ws) return 90;
  static int64_t ids[3] = {5, 17, 42}, mask[4] = {1, 1, 1, 1};
  model_inputs in; model_outputs out;
  memset(&in, 0, sizeof in); memset(&out, 0, sizeof out);
  in.input_ids = ids; in.attention_mask = mask; out.logits = logits[0];
  shapes(&in, 3, 0);
#define P0(k, p, o) in.p = next[k]; out.o = dense[k];
  PAIRS(P0)
  int rc = model_run(&in, &out, ws);
  if (rc) return rc;
  /* the shared buffers: the prompt's 3 rows per head at stride CAP */
  for (int k = 0; k < 4; k++)
    for (int h = 0; h < KV; h++) memcpy(shared[k] + h * CAP * ROW, dense[k] + h * 3 * ROW, 3 * ROW * sizeof(float));
  static int64_t one[1] = {9};
  in.input_ids = one;
  shapes(&in, 1, 3);
#define P1(k, p, o) in.p = dense[k]; out.o = next[k];
  PAIRS(P1)
  out.logits = logits[0];
  if ((rc = model_run(&in, &out, ws)) != 0) return rc;
  in.kv_capacity = CAP;
#define P2(k, p, o) in.p = shared[k]; out.o = shared[k];
  PAIRS(P2)
  out.logits = logits[1];
  if ((rc = model_run(&in, &out, ws)) != 0) return rc;
  if (memcmp(logits[0], logits[1], 64 * sizeof(float))) return 91;
  if (out.present_0_key_shape[2] != 4) return 92;
  for (int h = 0; h < KV; h++) /* the new row of each head, at stride CAP */
    if (memcmp(shared[0] + (h * CAP + 3) * ROW, next[0] + (h * 4 + 3) * ROW, ROW * sizeof(float))) return 93;
  out.present_1_value = next[3]; /* a pair that is not one buffer */
  rc = model_run(&in, &out, ws);
  printf("%d\n", rc);
  return rc == MODEL_ERR_ARGS ? 0 : 94;
}
`;
    const exe = buildC({
      sources: { 'model.h': em.files['model.h'] as string, 'model.c': em.files['model.c'] as string, 'main.c': driver },
      flags: ['-O1'],
      ldflags: ['-lm'],
    });
    const r = spawnSync(exe, [], { encoding: 'utf8' });
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('4');
  });
});
