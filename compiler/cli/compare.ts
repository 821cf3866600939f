/**
 * `lutc run --compare float|ort`: what the run's outputs differ by from a baseline, per output, as
 * max|got - want| and ||got - want||_2 / ||want||_2 (the plain L2 norm when want is all zero; a shape
 * mismatch or a missing output is Infinity). Baselines: `float`, the same model and inputs run by the
 * reference interpreter without --bits (what quantization costs), computed by the caller; `ort`,
 * onnxruntime-node on the original .onnx file with the same inputs (onnxruntime-node is a
 * devDependency of lutc, so it may be absent: LUT6040 naming the package, not an internal error).
 *
 * Codes: LUT6003 bad --compare value or `--compare ort` on a .lut file (usage errors), LUT6040
 * onnxruntime-node missing, or unable to take an input dtype or to run the model.
 */
import { fail } from '../../base/diagnostics.js';
import { f16BitsToNumber } from '../../ir/tensor.js';
import type { DType, Tensor } from '../../ir/types.js';
import { usage } from './args.js';
import { isLutFile } from './model.js';

export type CompareMode = 'float' | 'ort';

/** The validated `--compare` value (undefined when the flag is absent). */
export function parseCompare(v: string | undefined, model: string): CompareMode | undefined {
  if (v === undefined) return undefined;
  if (v !== 'float' && v !== 'ort') usage('LUT6003', `run: invalid --compare '${v}'; expected float or ort`);
  if (v === 'ort' && isLutFile(model))
    usage('LUT6003', `run: --compare ort needs an .onnx model (onnxruntime cannot run the .lut file '${model}'); use --compare float`);
  return v;
}

/** The error of one output against its baseline. */
export interface OutputError {
  maxAbs: number;
  relL2: number;
}

/** max-abs and rel-L2 of `got` against `want` (Infinity on a shape mismatch; NaN on one side only is Infinity). */
export function outputError(got: { shape: readonly number[]; data: ArrayLike<number> }, want: typeof got): OutputError {
  if (got.shape.join(',') !== want.shape.join(',') || got.data.length !== want.data.length) return { maxAbs: Infinity, relL2: Infinity };
  let maxAbs = 0,
    d = 0,
    s = 0;
  for (let i = 0; i < want.data.length; i++) {
    const x = Number(got.data[i]),
      y = Number(want.data[i]);
    if (Number.isNaN(x) && Number.isNaN(y)) continue;
    const e = Math.abs(x - y);
    maxAbs = Math.max(maxAbs, Number.isNaN(e) ? Infinity : e);
    d += Number.isNaN(e) ? Infinity : e * e;
    s += y * y;
  }
  return { maxAbs, relL2: s > 0 ? Math.sqrt(d / s) : Math.sqrt(d) };
}

/** The stdout line of one output's comparison. */
export function compareLine(mode: CompareMode, name: string, e: OutputError): string {
  const what = mode === 'float' ? 'the float model on ref without --bits' : 'onnxruntime-node';
  return `compare ${mode}: ${name}: max-abs ${e.maxAbs.toExponential(3)} rel-L2 ${e.relL2.toExponential(3)} (vs ${what})`;
}

type Ort = typeof import('onnxruntime-node');

/** onnxruntime-node, or LUT6040 naming the package when it is not installed (`pkg`: the specifier, for tests). */
export async function loadOrtNode(pkg = 'onnxruntime-node'): Promise<Ort> {
  try {
    return (await import(pkg)) as Ort;
  } catch (e) {
    const err = e as { code?: string; message?: string };
    if (err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes(`'${pkg}'`))
      fail('LUT6040', `lutc run --compare ort needs the package '${pkg}' (npm install ${pkg})`);
    throw e;
  }
}

/** onnxruntime's tensor type name of each lutc dtype it takes as a float32-or-exact input (f16 is not fed). */
export const ORT_TYPES: Partial<Record<DType, string>> = {
  f32: 'float32',
  f64: 'float64',
  i8: 'int8',
  u8: 'uint8',
  i16: 'int16',
  u16: 'uint16',
  i32: 'int32',
  u32: 'uint32',
  i64: 'int64',
  u64: 'uint64',
  bool: 'bool',
};

const ARRAYS: Record<string, (n: ArrayLike<number>) => ArrayLike<unknown>> = {
  float32: (d) => Float32Array.from(d),
  float64: (d) => Float64Array.from(d),
  int8: (d) => Int8Array.from(d),
  uint8: (d) => Uint8Array.from(d),
  int16: (d) => Int16Array.from(d),
  uint16: (d) => Uint16Array.from(d),
  int32: (d) => Int32Array.from(d),
  uint32: (d) => Uint32Array.from(d),
  int64: (d) => BigInt64Array.from(Array.from(d, (x) => BigInt(x))),
  uint64: (d) => BigUint64Array.from(Array.from(d, (x) => BigInt(x))),
  bool: (d) => Uint8Array.from(d, (x) => (x ? 1 : 0)),
};

/**
 * Runs `modelPath` with onnxruntime-node (CPU) on `inputs` (by graph-input name); returns each of
 * `outputNames` as { shape, data } (undefined where onnxruntime has no such output).
 */
export async function runOrt(
  ort: Ort,
  modelPath: string,
  inputs: Record<string, Tensor>,
  outputNames: readonly string[],
): Promise<({ shape: number[]; data: Float64Array } | undefined)[]> {
  const feeds: Record<string, InstanceType<Ort['Tensor']>> = {};
  for (const [name, t] of Object.entries(inputs)) {
    const type = ORT_TYPES[t.dtype];
    if (!type)
      fail('LUT6040', `--compare ort: input '${name}' is ${t.dtype}, which lutc does not pass to onnxruntime`, {
        kind: 'file',
        file: modelPath,
      });
    feeds[name] = new ort.Tensor(type as 'float32', ARRAYS[type]!(t.data) as Float32Array, [...t.shape]);
  }
  let session: Awaited<ReturnType<Ort['InferenceSession']['create']>>;
  let res: Record<string, InstanceType<Ort['Tensor']>>;
  try {
    session = await ort.InferenceSession.create(modelPath, { executionProviders: ['cpu'] });
  } catch (e) {
    fail('LUT6040', `--compare ort: onnxruntime-node cannot load the model: ${(e as Error).message.split('\n')[0]}`, {
      kind: 'file',
      file: modelPath,
    });
  }
  try {
    const wanted = Object.fromEntries(Object.entries(feeds).filter(([n]) => session.inputNames.includes(n)));
    res = await session.run(wanted);
  } catch (e) {
    fail('LUT6040', `--compare ort: onnxruntime-node cannot run the model: ${(e as Error).message.split('\n')[0]}`, {
      kind: 'file',
      file: modelPath,
    });
  } finally {
    await session.release();
  }
  return outputNames.map((n) => {
    const t = res[n];
    if (!t) return undefined;
    const src = t.data as ArrayLike<number | bigint | boolean>;
    const data = Float64Array.from({ length: src.length }, (_, i) =>
      t.type === 'float16' ? f16BitsToNumber(Number(src[i])) : Number(src[i]),
    );
    return { shape: [...t.dims], data };
  });
}
