/**
 * Model loading and input preparation shared by the CLI commands: reading an ONNX file or a `.lut`
 * IR file into a graph, binding user inputs (by name or in graph-input order), seeding missing inputs
 * deterministically (interpreter progress for stderr is `progressReporter` in ir/interpret.ts), and
 * refusing tensors this process cannot allocate (LUT6009, `checkAllocatable`) before allocating them.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { fail, type Location } from '../../base/diagnostics.js';
import { parseGraph } from '../../ir/parser.js';
import { allocData, makeTensor, numel, roundInPlace } from '../../ir/tensor.js';
import type { Dim, DType, Graph, Tensor, Value } from '../../ir/types.js';
import { verifyGraph } from '../../ir/verify.js';
import { importOnnxFile } from '../onnx/index.js';

export interface LoadOptions {
  dimBindings?: Record<string, number>;
  inputShapes?: Record<string, number[]>;
  /** Memory limit of an ONNX import (`--max-tensor-bytes`, LUT1008). */
  maxTensorBytes?: number;
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
  return importOnnxFile(file, { dimBindings: opts.dimBindings, inputShapes: opts.inputShapes, maxTensorBytes: opts.maxTensorBytes });
}

export { seededRandom as rng } from '../../base/random.js';

/** The most elements one host tensor may hold: V8's Array and typed-array length limit. */
export const MAX_TENSOR_ELEMENTS = 2 ** 32 - 1;

/**
 * Fails with LUT6009 ("shapes too large") when a host tensor of `dtype` and `shape` holds more than
 * MAX_TENSOR_ELEMENTS elements or more bytes than this machine's memory, so a huge `--dim` is a
 * diagnostic instead of a RangeError from the allocator.
 */
export function checkAllocatable(what: string, dtype: DType, shape: readonly number[], loc?: Location): void {
  const n = numel(shape);
  const bytes = n * allocData(dtype, 0).BYTES_PER_ELEMENT;
  if (n > MAX_TENSOR_ELEMENTS || bytes > os.totalmem())
    fail(
      'LUT6009',
      `shapes too large: ${what} (${dtype} [${shape.join(', ')}]) has ${n} elements (${bytes} bytes); one tensor holds at most ${MAX_TENSOR_ELEMENTS} elements and this machine has ${os.totalmem()} bytes of memory`,
      loc,
    );
}

/**
 * A random tensor for a missing input: floats uniform in [-1, 1), integers in [0, 4) (small and
 * non-negative so index inputs such as token ids stay in range of small tables), bools 0/1.
 */
export function randomTensor(dtype: DType, shape: number[], next: () => number): Tensor {
  // Filled in place (no intermediate Array: a large input would exhaust the JS heap).
  const t = makeTensor(dtype, shape);
  const vals = t.data as Float64Array;
  const n = vals.length;
  const float = dtype === 'f32' || dtype === 'f16' || dtype === 'bf16' || dtype === 'f64';
  for (let i = 0; i < n; i++) {
    const r = next();
    vals[i] = float ? r * 2 - 1 : dtype === 'bool' ? (r < 0.5 ? 0 : 1) : Math.floor(r * 4);
  }
  if (dtype === 'f16' || dtype === 'bf16') roundInPlace(dtype, t.data as Float32Array);
  return t;
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
