/**
 * Model loading and input preparation shared by the CLI commands: reading an ONNX file or a `.lut`
 * IR file into a graph, binding user inputs (by name or in graph-input order), seeding missing inputs
 * deterministically (interpreter progress for stderr is `progressReporter` in ir/interpret.ts).
 */
import * as fs from 'node:fs';
import { fail } from '../../base/diagnostics.js';
import { parseGraph } from '../../ir/parser.js';
import { makeTensor, numel } from '../../ir/tensor.js';
import type { Dim, DType, Graph, Tensor, Value } from '../../ir/types.js';
import { verifyGraph } from '../../ir/verify.js';
import { importOnnxFile } from '../onnx/index.js';

export interface LoadOptions {
  dimBindings?: Record<string, number>;
  inputShapes?: Record<string, number[]>;
}

/** True for lutc IR text files (by extension). */
export function isLutFile(file: string): boolean {
  return file.endsWith('.lut');
}

/** Reads `file` (ONNX or `.lut`) into a verified graph. Unreadable files are LUT6006. */
export async function loadModel(file: string, opts: LoadOptions = {}): Promise<Graph> {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (e) {
    fail('LUT6006', `cannot read model file: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`, {
      kind: 'file',
      file,
    });
  }
  if (st.isDirectory()) fail('LUT6006', 'cannot read model file: it is a directory', { kind: 'file', file });
  if (isLutFile(file)) {
    const g = parseGraph(fs.readFileSync(file, 'utf8'), file);
    verifyGraph(g, { file });
    return g;
  }
  return importOnnxFile(file, { dimBindings: opts.dimBindings, inputShapes: opts.inputShapes });
}

export { seededRandom as rng } from '../../base/random.js';

/**
 * A random tensor for a missing input: floats uniform in [-1, 1), integers in [0, 4) (small and
 * non-negative so index inputs such as token ids stay in range of small tables), bools 0/1.
 */
export function randomTensor(dtype: DType, shape: number[], next: () => number): Tensor {
  const n = numel(shape);
  const vals = new Array<number>(n);
  const float = dtype === 'f32' || dtype === 'f16' || dtype === 'bf16' || dtype === 'f64';
  for (let i = 0; i < n; i++) {
    const r = next();
    vals[i] = float ? r * 2 - 1 : dtype === 'bool' ? (r < 0.5 ? 0 : 1) : Math.floor(r * 4);
  }
  return makeTensor(dtype, shape, vals);
}

/**
 * Binds symbols of `want` to the sizes of `have` (an input given as .npy). Returns a message when
 * a fixed dim or an already-bound symbol disagrees, else undefined.
 */
export function bindDims(want: Dim[], have: number[], bindings: Record<string, number>): string | undefined {
  if (want.length !== have.length) return `rank ${have.length}, the model expects rank ${want.length} ([${want.join(', ')}])`;
  for (let i = 0; i < want.length; i++) {
    const d = want[i]!;
    const h = have[i]!;
    if (typeof d === 'number') {
      if (d !== h) return `shape [${have.join(', ')}], the model expects [${want.join(', ')}]`;
    } else if (bindings[d] !== undefined && bindings[d] !== h) {
      return `shape [${have.join(', ')}] binds '${d}' to ${h}, but it is already ${bindings[d]}`;
    } else bindings[d] = h;
  }
  return undefined;
}

/** Resolves a graph input's shape with `bindings`; unbound symbols are bound to 1 and reported in `notes`. */
export function concreteShape(v: Value, bindings: Record<string, number>, notes: string[]): number[] {
  return v.type.shape.map((d) => {
    if (typeof d === 'number') return d;
    if (bindings[d] === undefined) {
      bindings[d] = 1;
      notes.push(`symbolic dim '${d}' of input '${v.name}' is not bound (use --shape or --dim); using 1`);
    }
    return bindings[d]!;
  });
}
