// Generates text with the bundled tiny LLM compiled to WebAssembly (`npm run example`), the way an
// application would: import DIR/model.mjs, load(), tokenize with @huggingface/tokenizers, and call
// model.generate (the KV cache stays in the module's memory), streaming the text as it comes. Then it
// times the same number of greedy decode steps with onnxruntime-node and onnxruntime-web (WASM, one
// thread) on the same ONNX file, in this process, and prints the three rates and the ratios (a peer
// whose package is not installed is skipped, said so). Sampling: temperature 0.8, top-k 20, seed 1.
// Usage: node examples/generate.mjs DIR [PROMPT]   (DIR: lutc compile examples/tiny-llm/model.onnx --target wasm -o DIR)
import * as fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Tokenizer } from '@huggingface/tokenizers';

const here = path.dirname(fileURLToPath(import.meta.url));
const dir = process.argv[2] ?? 'out/tiny-llm-wasm';
const prompt = process.argv[3] ?? 'The compiler reads the model and';
const files = path.join(here, 'tiny-llm');
const tok = new Tokenizer(
  JSON.parse(fs.readFileSync(path.join(files, 'tokenizer.json'), 'utf8')),
  JSON.parse(fs.readFileSync(path.join(files, 'tokenizer_config.json'), 'utf8')),
);
const eos = JSON.parse(fs.readFileSync(path.join(files, 'config.json'), 'utf8')).eos_token_id;
const model = await (await import(pathToFileURL(path.resolve(dir, 'model.mjs')).href)).load();
const ids = tok.encode(prompt).ids;
const maxNewTokens = 48;

process.stdout.write(prompt);
const seen = [];
let shown = '';
const out = await model.generate(ids, {
  maxNewTokens,
  eosTokenIds: [eos],
  temperature: 0.8,
  topK: 20,
  seed: 1,
  onToken(id) {
    seen.push(id);
    const text = tok.decode(seen, { skip_special_tokens: true });
    if (text.endsWith('\uFFFD')) return; // an incomplete character: wait for the next piece
    process.stdout.write(text.slice(shown.length));
    shown = text;
  },
});
const rate = (n, ms) => (ms > 0 ? (n * 1000) / ms : 0);
const lutcDecode = rate(out.tokens.length - 1, out.decodeMs);
console.log(
  `\n\nlutc wasm: prefill ${ids.length} tokens in ${out.prefillMs.toFixed(1)} ms, decode ${out.tokens.length - 1} tokens at ${lutcDecode.toFixed(1)} tokens/s`,
);

// The peers: the same decode steps (greedy, a growing cache fed back each step) on the same file.
const onnx = fs.readFileSync(path.join(files, 'model.onnx'));
const steps = Math.max(1, out.tokens.length - 1);
async function peerRate(ort, name) {
  const opts = name === 'onnxruntime-web' ? { executionProviders: ['wasm'] } : {};
  if (name === 'onnxruntime-web') ort.env.wasm.numThreads = 1;
  else opts.intraOpNumThreads = 1;
  const s = await ort.InferenceSession.create(onnx, opts);
  const pasts = model.inputs.filter((i) => i.name.startsWith('past_key_values'));
  let past = Object.fromEntries(pasts.map((i) => [i.name, new ort.Tensor('float32', new Float32Array(0), [1, i.dims[1], 0, i.dims[3]])]));
  let step = ids;
  let total = 0;
  let ms = 0;
  for (let k = 0; k <= steps; k++) {
    const feeds = {
      ...past,
      input_ids: new ort.Tensor('int64', BigInt64Array.from(step, BigInt), [1, step.length]),
      attention_mask: new ort.Tensor('int64', new BigInt64Array(total + step.length).fill(1n), [1, total + step.length]),
    };
    const t0 = performance.now();
    const r = await s.run(feeds);
    if (k > 0) ms += performance.now() - t0;
    const l = r.logits.data;
    const V = r.logits.dims[2];
    let best = 0;
    for (let i = 1; i < V; i++) if (l[l.length - V + i] > l[l.length - V + best]) best = i;
    past = Object.fromEntries(pasts.map((i) => [i.name, r[i.name.replace('past_key_values', 'present')]]));
    total += step.length;
    step = [best];
  }
  return rate(steps, ms);
}
for (const name of ['onnxruntime-node', 'onnxruntime-web']) {
  let ort;
  try {
    ort = await import(name);
  } catch {
    console.log(`${name}: not installed, skipped`);
    continue;
  }
  const r = await peerRate(ort.default ?? ort, name);
  console.log(`${name}: decode ${steps} tokens at ${r.toFixed(1)} tokens/s; lutc wasm is ${(lutcDecode / r).toFixed(2)}x`);
}
model.destroy();
