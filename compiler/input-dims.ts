/**
 * The one check of `--dim` / `--max-dim` symbols against a model's inputs, shared by compile (the
 * library, compiler/api.ts), `lutc run`, `lutc inspect` and `lutc bench` (backends/wasm/bench.ts), so
 * every command says the same warning for a symbol the model does not have. Pure: it reads the graph
 * as imported with the bindings and returns the warning lines; the caller prints them.
 */
import type { Graph } from '../ir/types.js';

/** Symbols still symbolic in `g`'s input shapes. */
export function inputSymbols(g: Graph): Set<string> {
  return new Set(g.inputs.flatMap((v) => v.type.shape.filter((d): d is string => typeof d === 'string')));
}

/**
 * `warning:` lines for each symbol of `given` (flag -> bindings, e.g. `{ '--dim': { seq: 8 } }`) that
 * `g`'s inputs do not declare (`meta.inputSymbols` of an imported ONNX model, which holds them before
 * binding; else the symbols its input shapes still have, as in a `.lut` file).
 */
export function unknownDimWarnings(g: Graph, given: Partial<Record<'--dim' | '--max-dim', Record<string, number>>>): string[] {
  const known = new Set([...inputSymbols(g), ...(g.meta?.inputSymbols ?? [])]);
  const out: string[] = [];
  for (const [flag, dims] of Object.entries(given))
    for (const sym of Object.keys(dims ?? {}))
      if (!known.has(sym)) out.push(`warning: ${flag} ${sym}: the model's inputs have no dim '${sym}' (ignored)`);
  return out;
}
