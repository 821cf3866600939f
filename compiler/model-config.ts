/**
 * What `lutc generate` reads from the config files an LLM export carries beside its model: the
 * end-of-sequence ids and the context length. In order of precedence: generation_config.json
 * (`eos_token_id`, a number or a list), genai_config.json (onnxruntime-genai: `model.eos_token_id`,
 * `model.context_length`, `search.max_length`), config.json (transformers: `eos_token_id`,
 * `max_position_embeddings`). A file that is absent is skipped; one that is present but not a JSON
 * object, or a field of the wrong type, is LUT6044 naming the file (never silently ignored). Pure
 * reading: the caller decides what the values mean (compiler/cli/generate.ts).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fail } from '../base/diagnostics.js';

export interface ModelConfig {
  /** End-of-sequence ids and the file that named them. */
  eos?: { ids: number[]; from: string };
  /** The longest sequence the model takes (prompt plus new tokens) and the file that says so. */
  contextLength?: { n: number; from: string };
}

function readObject(file: string): Record<string, unknown> | undefined {
  if (!fs.existsSync(file)) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    return fail('LUT6044', `the model config '${file}' is not valid JSON: ${(e as Error).message}`, { kind: 'file', file });
  }
  if (!v || typeof v !== 'object' || Array.isArray(v))
    fail('LUT6044', `the model config '${file}' is not a JSON object`, { kind: 'file', file });
  return v as Record<string, unknown>;
}

const isId = (x: unknown): x is number => typeof x === 'number' && Number.isInteger(x) && x >= 0;

function idsOf(v: unknown, file: string, field: string): number[] | undefined {
  if (v === undefined || v === null) return undefined;
  const ids = Array.isArray(v) ? v : [v];
  if (!ids.length || !ids.every(isId))
    fail('LUT6044', `the model config '${file}': ${field} must be a token id or a list of them, got ${JSON.stringify(v)}`, {
      kind: 'file',
      file,
    });
  return ids as number[];
}

function sizeOf(v: unknown, file: string, field: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isId(v) || v === 0)
    fail('LUT6044', `the model config '${file}': ${field} must be a positive integer, got ${JSON.stringify(v)}`, { kind: 'file', file });
  return v;
}

/** The config beside `modelFile` (see the header). */
export function readModelConfig(modelFile: string): ModelConfig {
  const dir = path.dirname(modelFile);
  const out: ModelConfig = {};
  const gen = path.join(dir, 'generation_config.json');
  const genai = path.join(dir, 'genai_config.json');
  const cfg = path.join(dir, 'config.json');
  const g = readObject(gen);
  const ga = readObject(genai);
  const c = readObject(cfg);
  const sub = (o: Record<string, unknown> | undefined, k: string) =>
    o && typeof o[k] === 'object' && o[k] !== null && !Array.isArray(o[k]) ? (o[k] as Record<string, unknown>) : undefined;
  const eosFrom: [unknown, string, string][] = [
    [g?.eos_token_id, gen, 'eos_token_id'],
    [sub(ga, 'model')?.eos_token_id, genai, 'model.eos_token_id'],
    [c?.eos_token_id, cfg, 'eos_token_id'],
  ];
  for (const [v, file, field] of eosFrom) {
    const ids = idsOf(v, file, field);
    if (ids) {
      out.eos = { ids, from: file };
      break;
    }
  }
  const ctxFrom: [unknown, string, string][] = [
    [sub(ga, 'model')?.context_length, genai, 'model.context_length'],
    [sub(ga, 'search')?.max_length, genai, 'search.max_length'],
    [c?.max_position_embeddings, cfg, 'max_position_embeddings'],
  ];
  for (const [v, file, field] of ctxFrom) {
    const n = sizeOf(v, file, field);
    if (n !== undefined) {
      out.contextLength = { n, from: file };
      break;
    }
  }
  return out;
}
