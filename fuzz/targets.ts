/**
 * The fuzz targets, one per parser of untrusted input: each takes the raw bytes of one input and
 * either returns (the input was accepted, or rejected with a coded lutc diagnostic) or throws
 * (a finding: any exception that is not a LutcError whose every code is in base/diagnostic-codes.ts).
 * The same functions run under the coverage-guided fuzzer (fuzz/entry.ts, scripts/fuzz.mjs) and in
 * the regression replay of `npm test` (test/fuzz/regression.test.ts), so a fixed finding stays fixed.
 *
 *   onnx       ModelProto bytes: import, decoder-I/O detection, and the pass pipeline to `ref`.
 *   external   ModelProto bytes whose initializers point at external data in a temp folder that holds
 *              `w.bin` (4096 bytes), `sub/s.bin` and `link.bin` (a symlink to a file outside it).
 *   ir         `.lut` IR text: parse, then verify.
 *   npy        `.npy` bytes: readNpy.
 *   tokenizer  `tokenizer.json`, then optionally a NUL byte and `tokenizer_config.json`: what `lutc
 *              generate --tokenizer` loads, then encode/decode/stream of a fixed prompt; the config
 *              bytes are also the model configs `lutc generate` reads beside the model
 *              (compiler/model-config.ts: generation_config.json, genai_config.json, config.json).
 *
 * Invariants: targets are synchronous and deterministic for given bytes; imports run with the memory
 * limit (compiler/onnx `maxTensorBytes`, LUT1008) at FUZZ_MAX_TENSOR_BYTES, half the fuzzer's RSS
 * bound, so an input lutc accepts fits the bound and going over it is a finding. The temp folder is
 * made once per process and reused.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isDiagCode, LutcError } from '../base/diagnostics.js';
import { decoderIO } from '../compiler/generate.js';
import { inputSymbols } from '../compiler/input-dims.js';
import { readModelConfig } from '../compiler/model-config.js';
import { readNpy } from '../compiler/npy.js';
import { importOnnx } from '../compiler/onnx/index.js';
import { runPipeline } from '../compiler/pipeline.js';
import { loadTokenizer, TextStream } from '../compiler/tokenizer.js';
import { parseGraph } from '../ir/parser.js';
import type { Graph } from '../ir/types.js';
import { verifyGraph } from '../ir/verify.js';

export type FuzzTarget = (data: Uint8Array) => void;

/** The importer's memory limit in the targets: 1 GiB (scripts/fuzz.mjs's default -rss_limit_mb is 2048). */
export const FUZZ_MAX_TENSOR_BYTES = 2 ** 30;

/** True for the errors a parser may throw on bad input: LutcErrors with only known codes. */
export function isCoded(e: unknown): boolean {
  return e instanceof LutcError && e.diagnostics.length > 0 && e.diagnostics.every((d) => isDiagCode(d.code));
}

/** Runs `f`; a coded diagnostic is an accepted outcome, anything else is rethrown (a finding). */
function guarded(f: () => void): void {
  try {
    f();
  } catch (e) {
    if (isCoded(e)) return;
    throw e;
  }
}

let scratch: string | undefined;
/** The per-process temp folder, with the external-data files the `external` target's models name. */
function scratchDir(): string {
  if (scratch) return scratch;
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'lutc-fuzz-'));
  const model = path.join(root, 'model');
  fs.mkdirSync(path.join(model, 'sub'), { recursive: true });
  const w = new Uint8Array(4096);
  for (let i = 0; i < w.length; i++) w[i] = (i * 37 + 11) & 0xff;
  fs.writeFileSync(path.join(model, 'w.bin'), w);
  fs.writeFileSync(path.join(model, 'sub', 's.bin'), w.subarray(0, 64));
  fs.writeFileSync(path.join(root, 'outside.bin'), w.subarray(0, 64));
  fs.symlinkSync(path.join(root, 'outside.bin'), path.join(model, 'link.bin'));
  fs.mkdirSync(path.join(root, 'tok'));
  scratch = root;
  process.on('exit', () => fs.rmSync(root, { recursive: true, force: true }));
  return root;
}

/** Imports like `lutc compile` does: symbolic input dims left unbound become 1 (a second import). */
function importBound(bytes: Uint8Array, file: string): Graph {
  const opts = { file, maxTensorBytes: FUZZ_MAX_TENSOR_BYTES };
  let g = importOnnx(bytes, opts);
  const syms = inputSymbols(g);
  if (syms.size) g = importOnnx(bytes, { ...opts, dimBindings: Object.fromEntries([...syms].map((s) => [s, 1])) });
  return g;
}

const PROMPT = 'Hello, world! 123 ünïcode 你好 <eos>';

export const TARGETS: Record<string, FuzzTarget> = {
  onnx(data) {
    guarded(() => {
      const g = importBound(data, 'fuzz.onnx');
      guarded(() => void decoderIO(g, 'fuzz.onnx'));
      runPipeline(g, { target: 'ref', bits: 2, verify: true });
    });
  },
  external(data) {
    const model = path.join(scratchDir(), 'model');
    guarded(() => void importOnnx(data, { file: path.join(model, 'm.onnx'), baseDir: model, maxTensorBytes: FUZZ_MAX_TENSOR_BYTES }));
  },
  ir(data) {
    const text = Buffer.from(data).toString('utf8');
    guarded(() => verifyGraph(parseGraph(text, 'fuzz.lut')));
  },
  npy(data) {
    guarded(() => void readNpy(data, 'fuzz.npy'));
  },
  tokenizer(data) {
    const dir = path.join(scratchDir(), 'tok');
    const cut = data.indexOf(0);
    const tok = cut < 0 ? data : data.subarray(0, cut);
    fs.writeFileSync(path.join(dir, 'tokenizer.json'), tok);
    const cfg = path.join(dir, 'tokenizer_config.json');
    const configs = ['generation_config.json', 'genai_config.json', 'config.json'].map((f) => path.join(dir, f));
    if (cut < 0) for (const f of [cfg, ...configs]) fs.rmSync(f, { force: true });
    else for (const f of [cfg, ...configs]) fs.writeFileSync(f, data.subarray(cut + 1));
    guarded(() => void readModelConfig(path.join(dir, 'model.onnx')));
    guarded(() => {
      const t = loadTokenizer(dir);
      const ids = t.encode(PROMPT);
      t.decode(ids);
      const s = new TextStream(t);
      for (const id of ids) s.push(id);
    });
  },
};

export const TARGET_NAMES = Object.keys(TARGETS);
