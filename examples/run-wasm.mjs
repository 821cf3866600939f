// Runs a model compiled with `lutc compile ... --target wasm -o DIR` from Node, the way an application
// would: import DIR/model.mjs, load(), await run() on inputs of the right shapes, print the outputs.
// A runtime dim (`dims` names it; `shape` holds its compiled bound) is given the size 2 here: such an
// input goes in as { data, shape }, a static one as a plain typed array.
// Usage: node examples/run-wasm.mjs DIR
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const dir = process.argv[2] ?? 'out/mlp-wasm';
const mod = await import(pathToFileURL(path.resolve(dir, 'model.mjs')).href);
const model = await mod.load();
const feeds = {};
for (const t of model.inputs) {
  const shape = t.dims.map((d, i) => (typeof d === 'number' ? d : Math.min(2, t.shape[i])));
  const data = Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(i + 1)); // deterministic input
  feeds[t.name] = t.dims.every((d) => typeof d === 'number') ? data : { data, shape };
}
const t0 = performance.now();
const out = await model.run(feeds); // synchronous for wasm; await makes it the WGSL artifact's form too
const ms = performance.now() - t0;
for (const t of model.outputs) {
  const y = out[t.name];
  console.log(
    `${t.name}: ${y.dtype} [${y.shape.join(', ')}] first values ${Array.from(y.data.slice(0, 4), (v) => v.toFixed(5)).join(' ')}`,
  );
}
console.log(`ran in ${ms.toFixed(3)} ms (first call, includes warm-up)`);
