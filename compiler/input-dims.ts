/**
 * The one place that decides what each symbolic input dim of a model becomes, shared by compile (the
 * library, compiler/api.ts) and `lutc inspect` (`decideRuntimeDims`), and by `lutc run` and `lutc
 * bench` (backends/wasm/bench.ts) for the unknown-symbol warning, so every command says the same. Pure: it reads the graph as imported and returns
 * decisions and message lines; the caller prints them.
 *
 * The rule (docs/cli.md, "Dims"): a symbol given `--dim SYM=N` is frozen to N; every other input
 * symbol is a runtime dim whose upper bound is, in order, `--max-dim SYM=N`; else the smaller of
 * DEFAULT_MAX_DIM and the bound the model states (`modelDimBounds`: the rows of a rotary cos/sin cache
 * of GroupQueryAttention / RotaryEmbedding for the sequence axes, the rows of a position table gathered
 * by a `position*` input). A `--max-dim` above the model's stated bound is clamped to it (warning: the
 * steps past it could only fail). Bounds that compile did not get from the user are "defaulted": the
 * compile freezes those to 1 (a warning says why) when the target cannot render them
 * (`RUNTIME_DIM_REFUSALS`) or the memory plan at the default bounds exceeds DEFAULT_ARENA_LIMIT.
 */
import { dimSymbols } from '../ir/dim-expr.js';
import { operand } from '../ir/optable.js';
import type { Graph, Value } from '../ir/types.js';

/** The upper bound of a runtime dim that neither `--max-dim` nor the model gives. */
export const DEFAULT_MAX_DIM = 256;

/** Arena bytes above which defaulted bounds are frozen to 1 instead (a user's --max-dim is never overridden). */
export const DEFAULT_ARENA_LIMIT = 1024 * 1024 * 1024;

/** Codes with which a pass or backend refuses a runtime dim (the compile then freezes defaulted ones). */
export const RUNTIME_DIM_REFUSALS: ReadonlySet<string> = new Set(['LUT5004', 'LUT5001', 'LUT1117', 'LUT1114']);

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

/** A bound the model states for a symbol, and where it comes from (for messages). */
export interface StatedBound {
  bound: number;
  why: string;
}

/**
 * Bounds the model states for its input symbols: a GroupQueryAttention / RotaryEmbedding node's cos
 * cache of R rows bounds the sequence axes of its operands and results (query axis 1, past and present
 * axis 2, position_ids axis 1); a Gather from a constant table of R rows with a graph input named
 * `position*` as indices bounds that input's axes after the first. The dim there may be an input
 * symbol or a sum or maximum of them (each term is at most R then); the smallest statement wins.
 */
export function modelDimBounds(g: Graph): Map<string, StatedBound> {
  const symbols = inputSymbols(g);
  const out = new Map<string, StatedBound>();
  const state = (v: Value | null | undefined, axis: number, rows: unknown, why: string) => {
    const d = v?.type.shape[axis];
    // a symbol, or sums and maxima of symbols and sizes (each term is at most the whole)
    if (typeof d !== 'string' || !/^[\w\s+,()]*$/.test(d) || typeof rows !== 'number' || rows < 1) return;
    for (const sym of dimSymbols(d)) {
      if (!symbols.has(sym)) continue;
      const old = out.get(sym);
      if (!old || rows < old.bound) out.set(sym, { bound: rows, why });
    }
  };
  for (const n of g.nodes) {
    const arg = (name: string) => operand(n, name) ?? null;
    if (n.op === 'group_query_attention' || n.op === 'rotary_embedding') {
      const cos = arg('cos_cache');
      if (!cos) continue;
      const rows = cos.type.shape[0];
      const why = `the ${rows} rows of '${cos.name}' (cos cache of node '${n.name}')`;
      state(arg('position_ids'), 1, rows, why);
      if (n.op === 'group_query_attention') {
        state(arg('query'), 1, rows, why);
        state(arg('past_key'), 2, rows, why);
        state(arg('past_value'), 2, rows, why);
        state(n.outputs[1], 2, rows, why);
        state(n.outputs[2], 2, rows, why);
      }
    } else if (n.op === 'gather') {
      const [table, idx] = n.inputs;
      if (!table?.const || !idx || !g.inputs.includes(idx) || !/position/i.test(idx.name) || (n.attrs.axis ?? 0) !== 0) continue;
      const rows = table.type.shape[0];
      for (let a = 1; a < idx.type.shape.length; a++)
        state(idx, a, rows, `the ${rows} rows of '${table.name}' (position table gathered by node '${n.name}')`);
    }
  }
  return out;
}

/** What each unbound input symbol becomes. */
export interface DimDecision {
  /** Runtime dims and their bounds (`meta.dimBounds`). */
  bounds: Record<string, number>;
  /** The runtime dims whose bound the user did not give (candidates for freezing). */
  defaulted: string[];
  /** `warning:` / `note:` lines, in order. */
  messages: string[];
}

/**
 * Decides the runtime dims of `g` (imported with the user's `--dim`/`--shape` bindings; its input
 * symbols are the unbound ones) from the user's `maxDims` and the model's stated bounds.
 */
export function decideRuntimeDims(g: Graph, maxDims: Record<string, number> = {}): DimDecision {
  const stated = modelDimBounds(g);
  const bounds: Record<string, number> = {};
  const defaulted: string[] = [];
  const messages: string[] = [];
  for (const sym of [...inputSymbols(g)].sort()) {
    const s = stated.get(sym);
    const given = maxDims[sym];
    if (given !== undefined) {
      if (s && given > s.bound) {
        messages.push(`warning: --max-dim ${sym}=${given} is beyond the model's bound ${s.bound} (${s.why}): using ${s.bound}`);
        bounds[sym] = s.bound;
      } else bounds[sym] = given;
      continue;
    }
    const bound = Math.min(DEFAULT_MAX_DIM, s?.bound ?? DEFAULT_MAX_DIM);
    bounds[sym] = bound;
    defaulted.push(sym);
    const from = s
      ? s.bound <= DEFAULT_MAX_DIM
        ? `the model's: ${s.why}`
        : `the default; the model allows ${s.bound}, ${s.why}`
      : 'the default';
    messages.push(
      `note: runtime dim '${sym}' has bound ${bound} (${from}); set it with --max-dim ${sym}=N, or freeze it with --dim ${sym}=N`,
    );
  }
  return { bounds, defaulted, messages };
}
