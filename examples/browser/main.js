// lutc browser demo: loads the WASM and WGSL artifacts of one model, runs both on the same input,
// shows outputs, timings and which backend ran. Results are also left in window.lutcResults
// (and window.lutcDone = true) for test/browser/demo.test.ts.
const out = document.getElementById('out');
const seed = Number(new URLSearchParams(location.search).get('seed') ?? '0');

const numel = (shape) => shape.reduce((a, b) => a * b, 1);
const pattern = (n) => Float32Array.from({ length: n }, (_, i) => Math.sin(0.37 * i + seed));

/** The first input's spec from either artifact's manifest. */
async function inputSpec() {
  for (const t of ['wgsl', 'wasm']) {
    try {
      const r = await fetch(`./artifacts/${t}/manifest.json`);
      if (r.ok) {
        const m = await r.json();
        return m.inputs[0];
      }
    } catch {
      /* try the other one */
    }
  }
  return undefined;
}

/** Runs one artifact; returns { backend, ok, ms, outputs | error }. */
async function runTarget(target, name, data) {
  const t0 = performance.now();
  let mod;
  try {
    mod = await import(`./artifacts/${target}/model.mjs`);
  } catch (e) {
    return { backend: target, ok: false, error: `artifact missing (${e.message}): compile it with lutc compile --target ${target}` };
  }
  try {
    if (target === 'wgsl' && !navigator.gpu) throw new Error('navigator.gpu is not available in this browser');
    // Both artifacts share one API (docs/wasm-model.md, "Runtime API"): load(), then await run(feeds),
    // which resolves to { name: { data, shape, dtype } } and throws 'LUTnnnn: ...' errors with a code.
    const model = await mod.load();
    const tLoad = performance.now();
    const res = await model.run({ [name]: data });
    const tRun = performance.now();
    const list = Object.entries(res).map(([n, v]) => ({ name: n, ...v }));
    const outputs = list.map((o) => ({ name: o.name, shape: o.shape, dtype: o.dtype, data: Array.from(o.data, Number) }));
    let adapter = '';
    if (target === 'wgsl') {
      const a = await navigator.gpu.requestAdapter();
      adapter = a?.info ? `${a.info.vendor} ${a.info.architecture} ${a.info.description}`.trim() : '';
    }
    return { backend: target, ok: true, loadMs: tLoad - t0, runMs: tRun - tLoad, adapter, outputs };
  } catch (e) {
    return { backend: target, ok: false, error: String(e?.message || e) };
  }
}

function show(results) {
  out.innerHTML = '';
  for (const r of results) {
    const h = document.createElement('h2');
    h.textContent = `${r.backend.toUpperCase()}${r.adapter ? ' on ' + r.adapter : ''}`;
    const pre = document.createElement('pre');
    if (!r.ok) {
      pre.className = 'err';
      pre.textContent = r.error;
    } else
      pre.textContent =
        `load ${r.loadMs.toFixed(1)} ms, run ${r.runMs.toFixed(2)} ms\n` +
        r.outputs
          .map(
            (o) =>
              `${o.name} ${o.dtype} [${o.shape}]: ${o.data
                .slice(0, 16)
                .map((v) => v.toPrecision(5))
                .join(', ')}${o.data.length > 16 ? ', ...' : ''}`,
          )
          .join('\n');
    out.append(h, pre);
  }
}

async function runAll() {
  window.lutcDone = false;
  const spec = await inputSpec();
  if (!spec) {
    show([{ backend: 'none', ok: false, error: 'no artifact found under /artifacts/' }]);
    window.lutcDone = true;
    return;
  }
  document.getElementById('ishape').textContent = `${spec.name} ${spec.dtype} [${spec.shape}]`;
  const text = document.getElementById('input').value.trim();
  const n = numel(spec.shape);
  const data = text ? Float32Array.from(text.split(/[\s,]+/).map(Number)) : pattern(n);
  const results = [];
  for (const t of ['wasm', 'wgsl']) results.push(await runTarget(t, spec.name, data));
  show(results);
  window.lutcResults = { input: Array.from(data), results };
  window.lutcDone = true;
}

document.getElementById('run').addEventListener('click', runAll);
runAll();
