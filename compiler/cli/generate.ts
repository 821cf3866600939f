/**
 * `lutc generate`: text generation with a decoder export (compiler/generate.ts). The model is
 * imported once with its sequence dims symbolic and lowered once by the pipeline (`--bits`, `--tables`
 * ...); every step then runs that graph. `--target ref` runs it on the reference interpreter; a
 * compiled target compiles it once with runtime dims (every sequence dim bounded by `--max-length`,
 * default prompt + new tokens; the batch dim frozen to 1) and runs each step through that one
 * artifact: inside it where the target generates itself (`RunModule.generate`: the C harness's
 * generate mode, which calls model_generate), else a step loop over the target's `openArtifact` (a
 * target with neither is LUT6042 before any work). The prompt is token ids (`--input-ids`) or text (`--prompt`, encoded with
 * compiler/tokenizer.ts: `--tokenizer`, or the tokenizer.json next to the model); with a tokenizer the
 * new tokens stream to stdout as text. End-of-sequence ids: `--eos`, else the model's config files
 * (compiler/model-config.ts), else the tokenizer's eos_token; the configs' context length bounds
 * prompt plus new tokens (LUT6041). Greedy unless `--temperature` (then `--top-k`, `--top-p`,
 * `--seed`: compiler/generate.ts pickToken, the same algorithm in the artifacts' model.generate and
 * the C artifact's model_generate, so one seed gives the same tokens on every target).
 * stdout: the new text, or the new ids space separated, as they come (or one JSON object with
 * --json); stderr: prefill and decode tokens/s.
 */

import * as path from 'node:path';
import { getTarget, type LoadedArtifact } from '../../backends/target.js';
import { fail } from '../../base/diagnostics.js';
import { decoderIO, type GenerateResult, generate, type SamplingOptions } from '../generate.js';
import { inputSymbols } from '../input-dims.js';
import { readModelConfig } from '../model-config.js';
import { runPipeline } from '../pipeline.js';
import { loadTokenizer, TextStream } from '../tokenizer.js';
import { COMPILE_OPTS, compileOptions, parse, parsePosInt, parseTarget, requirePositional, str, usage } from './args.js';
import type { CliIO } from './io.js';
import { loadModel } from './model.js';

export const GENERATE_HELP = `usage: lutc generate <model.onnx> --prompt TEXT | --input-ids 1,2,3 [options]

Generation (greedy unless --temperature) with a decoder-only LLM export (onnxruntime-genai builder or optimum /
transformers.js layout: input_ids, attention_mask, position_ids, past_key_values.N.key/value ->
logits, present.N.key/value). The prompt runs in one step from an empty cache, then one token per step.
The context length of genai_config.json / config.json beside the model bounds prompt plus new tokens.

  -t, --target T          ref (default), c, wasm or wgsl: compiled once with runtime sequence
                          dims; c generates inside the artifact, wasm/wgsl run each step in it
  --prompt TEXT           the prompt as text (needs a tokenizer: --tokenizer, or a
                          tokenizer.json beside the model)
  --tokenizer PATH        tokenizer.json or its folder (with tokenizer_config.json): the
                          output is text, and its eos_token stops generation
  --input-ids IDS         the prompt as comma-separated token ids
  --max-length N          compiled targets: the bound of every sequence dim (prompt plus new
                          tokens at most; default exactly that)
  --max-new-tokens N      tokens to generate (default 16)
  --eos ID[,ID...]        stop after producing one of these ids (default: the eos_token_id of
                          generation_config.json, genai_config.json or config.json beside the
                          model, else the tokenizer's eos_token)
  --temperature T         sample at temperature T (default 0: greedy, the first maximum)
  --top-k K               sample among the K most likely tokens (default 0: all)
  --top-p P               sample among the most likely tokens reaching probability P (default 1)
  --seed N                the sampler's seed (default 0: the same tokens every run)
  --json                  print one JSON object: {"tokens": [...], "text" (with a tokenizer), "prefill_tokens_per_s": x,
                          "decode_tokens_per_s": y}
  --bits, --group-size, --tables, --symmetric, --dim, --shape, --max-tensor-bytes, --no-verify:
                          as for lutc run
  -h, --help              this help

Without --json the new text (or, without a tokenizer, the new ids space separated) streams to
stdout; stderr gets prefill and decode tokens/s.
Exit status: 0 ok, 1 diagnosed error, 2 usage error.
`;

function parseIds(flag: string, s: string): number[] {
  const ids = s.split(',').map((x) => x.trim());
  if (!ids.length || ids.some((x) => !/^\d+$/.test(x)))
    usage('LUT6003', `generate: invalid ${flag} '${s}'; expected comma-separated token ids`);
  return ids.map(Number);
}

function parseNumber(flag: string, v: string, ok: (x: number) => boolean, what: string): number {
  const x = Number(v);
  if (v.trim() === '' || !Number.isFinite(x) || !ok(x)) usage('LUT6003', `generate: invalid ${flag} '${v}'; expected ${what}`);
  return x;
}

/** --temperature, --top-k, --top-p, --seed; top-k/top-p/seed without a temperature do nothing: a usage error. */
function samplingOptions(p: ReturnType<typeof parse>): SamplingOptions {
  const t = str(p, 'temperature');
  const out: SamplingOptions = {};
  if (t !== undefined) out.temperature = parseNumber('--temperature', t, (x) => x >= 0, 'a number >= 0');
  const k = str(p, 'top-k');
  if (k !== undefined) out.topK = parseNumber('--top-k', k, (x) => Number.isInteger(x) && x >= 0, 'an integer >= 0');
  const tp = str(p, 'top-p');
  if (tp !== undefined) out.topP = parseNumber('--top-p', tp, (x) => x > 0 && x <= 1, 'a number in (0, 1]');
  const sd = str(p, 'seed');
  if (sd !== undefined)
    out.seed = parseNumber('--seed', sd, (x) => Number.isInteger(x) && x >= 0 && x < 2 ** 32, 'an integer in [0, 2^32)');
  const given = [k !== undefined && '--top-k', tp !== undefined && '--top-p', sd !== undefined && '--seed'].filter(Boolean);
  if (given.length && !(out.temperature! > 0))
    usage('LUT6003', `generate: ${given.join(', ')} only apply when sampling: add --temperature T (T > 0)`);
  return out;
}

/** Implements `lutc generate`. */
export async function cmdGenerate(argv: string[], io: CliIO): Promise<number> {
  const p = parse(
    'generate',
    argv,
    {
      ...COMPILE_OPTS,
      'input-ids': { type: 'string' },
      prompt: { type: 'string' },
      tokenizer: { type: 'string' },
      'max-new-tokens': { type: 'string' },
      'max-length': { type: 'string' },
      eos: { type: 'string' },
      temperature: { type: 'string' },
      'top-k': { type: 'string' },
      'top-p': { type: 'string' },
      seed: { type: 'string' },
      json: { type: 'boolean' },
    },
    1,
  );
  if (p.values.help) return (io.out(GENERATE_HELP), 0);
  const model = requirePositional('generate', p, 'model');
  const target = parseTarget('generate', str(p, 'target') ?? 'ref', ['ref', 'wasm', 'c', 'wgsl']);
  const idsArg = str(p, 'input-ids');
  const text = str(p, 'prompt');
  if (idsArg !== undefined && text !== undefined) usage('LUT6003', 'generate: give the prompt once: --input-ids or --prompt');
  if (idsArg === undefined && text === undefined) usage('LUT6002', 'generate: missing --prompt TEXT or --input-ids IDS');
  if (idsArg !== undefined && idsArg.trim() === '')
    usage('LUT6003', "generate: invalid --input-ids ''; expected comma-separated token ids");
  // a tokenizer: --tokenizer, or for a text prompt the tokenizer.json next to the model
  const tokPath = str(p, 'tokenizer') ?? (text !== undefined ? path.dirname(model) : undefined);
  const tokenizer = tokPath === undefined ? undefined : loadTokenizer(tokPath);
  const prompt = idsArg !== undefined ? parseIds('--input-ids', idsArg) : tokenizer!.encode(text!);
  if (prompt.length === 0) usage('LUT6003', 'generate: the prompt encodes to no tokens');
  const maxArg = str(p, 'max-new-tokens');
  const maxNewTokens = maxArg === undefined ? 16 : parsePosInt('generate', 'max-new-tokens', maxArg);
  const eosArg = str(p, 'eos');
  const config = readModelConfig(model);
  const eos =
    eosArg !== undefined
      ? parseIds('--eos', eosArg)
      : (config.eos?.ids ?? (tokenizer?.eosTokenId !== undefined ? [tokenizer.eosTokenId] : []));
  const sampling = samplingOptions(p);
  if (config.contextLength && prompt.length + maxNewTokens - 1 > config.contextLength.n)
    fail(
      'LUT6041',
      `generate: the prompt (${prompt.length} tokens) plus ${maxNewTokens} new tokens less one exceed the model's context length ${config.contextLength.n} (${config.contextLength.from})`,
      { kind: 'file', file: config.contextLength.from },
    );
  const opts = compileOptions('run', p, target, (m) => io.err(m));
  if (opts.printIrAfter !== undefined) usage('LUT6003', 'generate: --print-ir-after is a compile/run flag (use lutc run or compile)');
  const lenArg = str(p, 'max-length');
  if (lenArg !== undefined && target === 'ref')
    usage('LUT6003', 'generate: --max-length bounds the runtime dims of compiled targets; --target ref needs none');
  // the last step feeds prompt + new - 1 tokens in all
  const maxLength = lenArg === undefined ? prompt.length + maxNewTokens - 1 : parsePosInt('generate', 'max-length', lenArg);
  if (maxLength < prompt.length + maxNewTokens - 1)
    usage('LUT6003', `generate: --max-length ${maxLength} is below the prompt (${prompt.length}) plus ${maxNewTokens} new tokens less one`);
  const mod = await getTarget(target).run();
  if (!mod.openArtifact)
    fail(
      'LUT6042',
      `generate --target ${target}: ${target} artifacts cannot run a growing KV cache yet (no runtime-dims loader); use --target ref or c`,
    );
  opts.progress = (m) => io.err(m);
  // Sequence dims stay symbolic: one import and one pipeline run serve every step.
  let g = await loadModel(model, { dimBindings: opts.dimBindings, inputShapes: opts.inputShapes, maxTensorBytes: opts.maxTensorBytes });
  const dio = decoderIO(g, model);
  if (target !== 'ref') {
    // compiled: batch frozen to 1, every other input symbol a runtime dim bounded by maxLength
    const batch = g.inputs.find((v) => v.name === dio.inputIds)!.type.shape[0];
    if (typeof batch === 'string' && !(batch in (opts.dimBindings ?? {}))) {
      opts.dimBindings = { ...opts.dimBindings, [batch]: 1 };
      g = await loadModel(model, { dimBindings: opts.dimBindings, inputShapes: opts.inputShapes, maxTensorBytes: opts.maxTensorBytes });
    }
    g.meta = { ...g.meta, dimBounds: Object.fromEntries([...inputSymbols(g)].map((sym) => [sym, maxLength])) };
  }
  const { graph } = runPipeline(g, opts);
  const json = p.values.json === true;
  let first = true;
  const stream = tokenizer ? new TextStream(tokenizer) : undefined;
  const gen = {
    ...sampling,
    maxNewTokens,
    eosTokenIds: eos,
    onToken: (id: number) => {
      const piece = stream?.push(id);
      if (json) return;
      io.write(stream ? piece! : `${first ? '' : ' '}${id}`);
      first = false;
    },
  };
  // the backends' chatter stays quiet while text streams; their warnings still reach stderr
  const warningsOnly = (m: string) => {
    if (m.startsWith('warning:')) io.err(m);
  };
  // inside the artifact where the target can (the cache stays in it), else a step loop over one artifact
  let res: GenerateResult;
  if (mod.generate) res = await mod.generate(graph, { ...opts, progress: warningsOnly }, prompt, gen);
  else {
    const art: LoadedArtifact = await mod.openArtifact(graph, { ...opts, progress: warningsOnly });
    res = await generate(dio, (feeds) => art.run(feeds), prompt, gen).finally(() => art.close());
  }
  const rate = (n: number, ms: number) => (ms > 0 ? (n * 1000) / ms : 0);
  const prefill = rate(res.promptTokens, res.prefillMs);
  const decode = rate(res.tokens.length - 1, res.decodeMs);
  const textOut = stream ? { text: stream.text } : {};
  if (json) io.out(JSON.stringify({ tokens: res.tokens, ...textOut, prefill_tokens_per_s: prefill, decode_tokens_per_s: decode }));
  else io.write('\n');
  io.err(
    `generate: prefill ${res.promptTokens} tokens in ${res.prefillMs.toFixed(1)} ms (${prefill.toFixed(1)} tokens/s), decode ${res.tokens.length - 1} tokens in ${res.decodeMs.toFixed(1)} ms (${decode.toFixed(1)} tokens/s) (target ${target})`,
  );
  return 0;
}
