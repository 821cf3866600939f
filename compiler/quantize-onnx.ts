/**
 * `lutc quantize`: rewrites the float linear layers of an ONNX model into quantized ones holding exactly
 * the q/scales/zeros of `quantizeMatrix`, so onnxruntime runs the very weights lutc computes with and
 * lowering the written model gives the same q/scales/zeros as lowering the float model with `--bits`.
 *
 *   bits 2, 1.58 -> com.microsoft.MatMulNBits bits=2;  bits 4 -> bits=4;
 *   bits 1, 3    -> MatMulNBits bits=4 holding q < 2^b (lower-linear narrows 4-bit containers back to
 *                   the fewest bits that hold every q, so they lower as 1- and 3-bit layers);
 *   block_size   = G when G is a power of two >= 16, the next power of two >= max(K, 16) for one group
 *                  per row; any other G (e.g. 24, 40) needs blocked DequantizeLinear (uint4, axis 0,
 *                  block_size G, opset >= 21) + MatMul, which is also what `format: 'dq'` forces.
 * Layers handled: MatMul with a 2-D f32 initializer as B; Gemm with transA = 0, alpha = 1, beta = 1 or
 * no C, and an f32 initializer B (C becomes an Add after the quantized MatMul). Others stay as they are.
 */
import { fail } from '../base/diagnostics.js';
import { type QuantizedMatrix, type QuantizeOptions, quantizeMatrix } from '../ir/lut/quantize.js';
import { makeTensor } from '../ir/tensor.js';
import { OnnxAttrType as AT, type INodeProto, type ITensorProto, onnx, toNum } from './onnx/proto.js';
import { tensorFromProto, tensorToProto } from './onnx/tensor.js';

export interface QuantizeOnnxOptions extends QuantizeOptions {
  /** 'auto' (default): MatMulNBits where its block size can express G, else DequantizeLinear; 'dq': always DequantizeLinear. */
  format?: 'auto' | 'dq';
  /** MatMulNBits accuracy_level (default 0: onnxruntime computes in float, the exact reference of these weights). */
  accuracyLevel?: number;
}

const isPow2 = (x: number) => x > 0 && (x & (x - 1)) === 0;
const nextPow2 = (x: number) => 2 ** Math.ceil(Math.log2(x));

function attrInt(node: INodeProto, name: string, dflt: number): number {
  const a = node.attribute?.find((x) => x.name === name);
  return a ? toNum(a.i as number) : dflt;
}
function attrFloat(node: INodeProto, name: string, dflt: number): number {
  const a = node.attribute?.find((x) => x.name === name);
  return a ? (a.f ?? dflt) : dflt;
}
const intAttr = (name: string, i: number) => ({ name, type: AT.INT, i });

/**
 * Quantizes every eligible linear layer of `modelBytes` (a serialized ModelProto) and returns the new
 * model. Diagnostics: LUT4030/4031 (group size, bits), LUT4033 (G needs opset 21 the model lacks).
 */
export function quantizeOnnx(modelBytes: Uint8Array, opts: QuantizeOnnxOptions): Uint8Array {
  const model = onnx.ModelProto.decode(modelBytes);
  const graph = model.graph as InstanceType<typeof onnx.GraphProto> | null;
  if (!graph) return fail('LUT4032', 'the model has no graph');
  const opset = toNum(model.opsetImport.find((o) => !o.domain || o.domain === 'ai.onnx')?.version as number);
  const inits = new Map<string, ITensorProto>();
  for (const t of graph.initializer) inits.set(t.name ?? '', t);
  const newNodes: INodeProto[] = [];
  let usedNbits = false;
  let counter = 0;
  const fresh = (base: string) => `${base}__lutq${counter++}`;

  for (const node of graph.node) {
    const w = eligibleWeight(node, inits);
    if (!w) {
      newNodes.push(node);
      continue;
    }
    const qm = quantizeMatrix(w.wt, w.n, w.k, opts, { kind: 'node', node: node.name ?? '', opType: node.opType ?? '' });
    const base = node.name || fresh('linear');
    const A = node.input![0]!;
    const out = w.c ? fresh(`${base}_mm`) : node.output![0]!;
    const G = qm.groupSize;
    const bs = G >= w.k ? Math.max(16, nextPow2(w.k)) : isPow2(G) && G >= 16 ? G : 0;
    if (opts.format !== 'dq' && bs > 0) {
      usedNbits = true;
      const cb = qm.bits === 2 ? 2 : 4;
      const t = nbitsTensors(qm, cb, bs);
      const names = [fresh(`${base}_B`), fresh(`${base}_scales`), fresh(`${base}_zp`)];
      graph.initializer.push(tensorToProto(t.b, names[0]!), tensorToProto(t.scales, names[1]!), tensorToProto(t.zp, names[2]!));
      newNodes.push({
        opType: 'MatMulNBits',
        domain: 'com.microsoft',
        name: base,
        input: [A, ...names],
        output: [out],
        attribute: [
          intAttr('K', w.k),
          intAttr('N', w.n),
          intAttr('bits', cb),
          intAttr('block_size', bs),
          intAttr('accuracy_level', opts.accuracyLevel ?? 0),
        ],
      });
    } else {
      if (!qm.zeros.every(Number.isInteger))
        fail(
          'LUT4034',
          `1-bit weights have float zero points, which DequantizeLinear cannot hold: use a group size that is a power of two >= 16 (MatMulNBits)`,
          { kind: 'node', node: base, opType: node.opType ?? '' },
        );
      if (opset < 21)
        fail(
          'LUT4033',
          `group size ${G} is not a power of two >= 16, so MatMulNBits cannot hold it, and blocked DequantizeLinear needs opset 21 (the model imports opset ${opset})`,
          { kind: 'node', node: base, opType: node.opType ?? '' },
        );
      const t = dqTensors(qm);
      const names = [fresh(`${base}_q`), fresh(`${base}_scale`), fresh(`${base}_zp`)];
      graph.initializer.push(tensorToProto(t.q, names[0]!), tensorToProto(t.scale, names[1]!), tensorToProto(t.zp, names[2]!));
      const dq = fresh(`${base}_w`);
      newNodes.push({
        opType: 'DequantizeLinear',
        domain: '',
        name: fresh(`${base}_dq`),
        input: names,
        output: [dq],
        // One group per row is per-axis quantization along N (axis 1); smaller groups are blocked along K.
        attribute: G >= w.k ? [intAttr('axis', 1)] : [intAttr('axis', 0), intAttr('block_size', G)],
      });
      newNodes.push({ opType: 'MatMul', domain: '', name: base, input: [A, dq], output: [out] });
    }
    if (w.c) newNodes.push({ opType: 'Add', domain: '', name: fresh(`${base}_bias`), input: [out, w.c], output: [node.output![0]!] });
  }
  graph.node = newNodes as typeof graph.node;
  // Drop float weights nobody reads any more.
  const used = new Set<string>();
  for (const n of graph.node) for (const i of n.input ?? []) used.add(i);
  for (const o of graph.output) used.add(o.name ?? '');
  graph.initializer = graph.initializer.filter((t) => used.has(t.name ?? '') || graph.input.some((i) => i.name === t.name));
  if (usedNbits && !model.opsetImport.some((o) => o.domain === 'com.microsoft'))
    model.opsetImport.push(onnx.OperatorSetIdProto.create({ domain: 'com.microsoft', version: 1 }));
  return onnx.ModelProto.encode(model).finish();
}

/** The float weight of a quantizable linear node as [N, K] rows (+ Gemm's C), or undefined. */
function eligibleWeight(
  node: INodeProto,
  inits: Map<string, ITensorProto>,
): { wt: Float32Array; n: number; k: number; c?: string } | undefined {
  if (node.domain && node.domain !== 'ai.onnx') return undefined;
  const isGemm = node.opType === 'Gemm';
  if (node.opType !== 'MatMul' && !isGemm) return undefined;
  const init = inits.get(node.input?.[1] ?? '');
  if (init?.dataType !== 1 || init.dims?.length !== 2) return undefined;
  let transB = false;
  let c: string | undefined;
  if (isGemm) {
    if (attrInt(node, 'transA', 0) !== 0 || attrFloat(node, 'alpha', 1) !== 1) return undefined;
    transB = attrInt(node, 'transB', 0) !== 0;
    c = node.input?.[2] || undefined;
    if (c && attrFloat(node, 'beta', 1) !== 1) return undefined;
  }
  const t = tensorFromProto(init);
  const [d0, d1] = t.shape as [number, number];
  const [k, n] = transB ? [d1, d0] : [d0, d1];
  const wt = new Float32Array(n * k);
  for (let r = 0; r < n; r++) for (let kk = 0; kk < k; kk++) wt[r * k + kk] = transB ? t.data[r * k + kk]! : t.data[kk * n + r]!;
  return { wt, n, k, c };
}

/** MatMulNBits B [N, kBlocks, bs*cb/8], scales [N, kBlocks], zero_points [N, ceil(kBlocks*cb/8)] (docs/onnx-inputs.md). */
function nbitsTensors(qm: QuantizedMatrix, cb: number, bs: number) {
  const { n, k } = qm;
  const kBlocks = Math.ceil(k / bs);
  const blob = (bs * cb) / 8;
  const b = new Uint8Array(n * kBlocks * blob);
  for (let r = 0; r < n; r++)
    for (let kk = 0; kk < k; kk++) {
      const kb = Math.floor(kk / bs),
        i = kk % bs;
      b[(r * kBlocks + kb) * blob + ((i * cb) >> 3)]! |= qm.q[r * k + kk]! << ((i * cb) & 7);
    }
  // One group per row (G = K) spans exactly one block, so scales and zeros map one to one.
  const b3 = makeTensor('u8', [n, kBlocks, blob], b);
  const scales = makeTensor('f32', [n, kBlocks], qm.scales);
  // 1-bit zero points are floats (quantize.ts): MatMulNBits takes them unpacked in A's type.
  if (!qm.zeros.every(Number.isInteger)) return { b: b3, scales, zp: makeTensor('f32', [n, kBlocks], qm.zeros) };
  const zpRow = Math.ceil((kBlocks * cb) / 8);
  const zp = new Uint8Array(n * zpRow);
  for (let r = 0; r < n; r++)
    for (let kb = 0; kb < kBlocks; kb++) zp[r * zpRow + ((kb * cb) >> 3)]! |= qm.zeros[r * qm.nGroups + kb]! << ((kb * cb) & 7);
  return { b: b3, scales, zp: makeTensor('u8', [n, zpRow], zp) };
}

/** DequantizeLinear inputs: q uint4 [K, N], scale f32 and zero point uint4 [nGroups, N] (or [N] per-axis). */
function dqTensors(qm: QuantizedMatrix) {
  const { n, k, nGroups } = qm;
  const q = new Uint8Array(k * n);
  for (let r = 0; r < n; r++) for (let kk = 0; kk < k; kk++) q[kk * n + r] = qm.q[r * k + kk]!;
  const scale = new Float32Array(nGroups * n);
  const zp = new Uint8Array(nGroups * n);
  for (let r = 0; r < n; r++)
    for (let gi = 0; gi < nGroups; gi++) {
      scale[gi * n + r] = qm.scales[r * nGroups + gi]!;
      zp[gi * n + r] = qm.zeros[r * nGroups + gi]!;
    }
  const sshape = qm.groupSize >= k ? [n] : [nGroups, n];
  return { q: makeTensor('u4', [k, n], q), scale: makeTensor('f32', sshape, scale), zp: makeTensor('u4', sshape, zp) };
}
