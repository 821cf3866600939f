// The text-generation page (generate.html): loads the tokenizer (examples/tiny-llm/tokenizer.json
// through @huggingface/tokenizers, served at /vendor/tokenizers/) and, per click, the chosen target's
// artifact (/artifacts/llm-wasm/ or /artifacts/llm-wgsl/, each loaded once), then streams
// model.generate's tokens as text and shows prefill and decode tokens/s. For tests it sets
// window.lutcGen = { target, text, tokens, prefillMs, decodeMs } (or { error }) when a run ends.
import { Tokenizer } from '/vendor/tokenizers/tokenizers.mjs';

const $ = (id) => document.getElementById(id);
const json = async (url) => {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`cannot fetch ${url}: HTTP ${r.status}`);
  return r.json();
};
const tok = new Tokenizer(await json('/tiny-llm/tokenizer.json'), await json('/tiny-llm/tokenizer_config.json'));
const { eos_token_id: eos } = await json('/tiny-llm/config.json');
const models = {};

async function modelFor(target) {
  if (!models[target]) {
    const mod = await import(`/artifacts/llm-${target}/model.mjs`);
    models[target] = await mod.load();
  }
  return models[target];
}

async function run() {
  const target = $('target').value;
  const text = $('text');
  const prompt = $('prompt').value;
  text.innerHTML = '';
  const p = document.createElement('span');
  p.className = 'prompt';
  p.textContent = prompt;
  const gen = document.createElement('span');
  text.append(p, gen);
  $('stats').textContent = 'loading ' + target + ' ...';
  window.lutcGen = undefined;
  try {
    const model = await modelFor(target);
    const ids = tok.encode(prompt).ids;
    const seen = [];
    const res = await model.generate(ids, {
      maxNewTokens: Number($('max').value),
      temperature: Number($('temperature').value),
      topK: Number($('topk').value),
      seed: Number($('seed').value),
      eosTokenIds: [eos],
      onToken(id) {
        seen.push(id);
        const s = tok.decode(seen, { skip_special_tokens: true });
        if (!s.endsWith('\uFFFD')) gen.textContent = s;
      },
    });
    const rate = (n, ms) => (ms > 0 ? ((n * 1000) / ms).toFixed(1) : '-');
    $('stats').textContent =
      `${target}: prefill ${ids.length} tokens in ${res.prefillMs.toFixed(1)} ms (${rate(ids.length, res.prefillMs)} tokens/s), decode ${res.tokens.length - 1} tokens at ${rate(res.tokens.length - 1, res.decodeMs)} tokens/s`;
    window.lutcGen = {
      target,
      text: tok.decode(res.tokens, { skip_special_tokens: true }),
      tokens: res.tokens,
      prefillMs: res.prefillMs,
      decodeMs: res.decodeMs,
    };
  } catch (e) {
    $('stats').innerHTML = '';
    const err = document.createElement('span');
    err.className = 'err';
    err.textContent = `${target}: ${e.message ?? e}`;
    $('stats').append(err);
    window.lutcGen = { target, error: String(e.message ?? e) };
  }
}
$('go').addEventListener('click', run);
window.lutcReady = true;
