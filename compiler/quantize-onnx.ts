/**
 * `lutc quantize`: rewrites the float linear layers of an ONNX model into quantized ones holding exactly
 * the q/scales/zeros lower-linear computes for `--bits` (one code path: ir/lut/weights.ts
 * `weightsFromFloat`, so exact ternary grids stay lossless and everything else is `quantizeMatrix`),
 * so onnxruntime runs the very weights `lutc compile/run --bits` computes with, and lowering the written
 * model gives the same q/scales/zeros as lowering the float model with `--bits`.
 *
 *   bits 2, 1.58 -> com.microsoft.MatMulNBits bits=2;  bits 4 -> bits=4;
 *   bits 1, 3    -> MatMulNBits bits=4 holding q < 2^b (lower-linear narrows 4-bit containers back to
 *                   the fewest bits that hold every q, so they lower as 1- and 3-bit layers);
 *   block_size   = G when G is a power of two >= 16, the next power of two >= max(K, 16) for one group
 *                  per row; any other G (e.g. 24, 40) needs blocked DequantizeLinear (uint4, axis 0,
 *                  block_size G, opset >= 21) + MatMul, which is also what `format: 'dq'` forces.
 * Layers handled, in the main graph and every subgraph (If/Loop branches; a branch may read an outer
 * initializer): MatMul with a 2-D f32 initializer as B; Gemm with transA = 0 and an f32 initializer B
 * (alpha folded into the weights as lower-linear does; C becomes an Add after the quantized MatMul).
 * Others stay as they are. New initializers go into the main graph (visible in every branch), under
 * names unused anywhere in the model; a float weight still read by some graph is kept. The result is
 * checked (`checkOnnxStructure`: defined-before-use in every graph scope, SSA) before it is returned;
 * `validateQuantized` adds lutc's importer and verifier, for the CLI to run before its atomic rename.
 * Progress: one phase 'quantize' counting the MatMul/Gemm nodes visited (compiler/progress.ts).
 */
import * as path from 'node:path';
import { diag, fail, type Location, LutcError } from '../base/diagnostics.js';
import type { QuantizedMatrix, QuantizeOptions } from '../ir/lut/quantize.js';
import { weightRows, weightsFromFloat } from '../ir/lut/weights.js';
import { makeTensor } from '../ir/tensor.js';
import { verifyGraph } from '../ir/verify.js';
import { importOnnx } from './onnx/index.js';
import { OnnxAttrType as AT, type INodeProto, type ITensorProto, onnx, toNum } from './onnx/proto.js';
import { tensorFromProto, tensorToProto } from './onnx/tensor.js';
import { type Phase, startPhase } from './progress.js';

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

type GraphP = InstanceType<typeof onnx.GraphProto>;

/** Rewrite state shared by the main graph and every subgraph. */
interface State {
  opts: QuantizeOnnxOptions;
  opset: number;
  /** The main graph: every new initializer goes here, so If/Loop branches see it as an outer name. */
  main: GraphP;
  /** Every name in the model (values, nodes), so fresh names never shadow or collide. */
  names: Set<string>;
  /** Written weights per float initializer and weight form (transB, alpha), shared by all its users. */
  written: Map<ITensorProto, Map<string, Written>>;
  usedNbits: boolean;
  counter: number;
  /** The progress phase (compiler/progress.ts): one unit per MatMul/Gemm node visited, in any graph. */
  phase: Phase;
}

/** The ops a quantize progress phase counts (the candidates `eligibleWeight` looks at). */
const LINEAR_OPS = new Set(['MatMul', 'Gemm']);

type Written =
  | { kind: 'nbits'; inputs: string[]; attrs: INodeProto['attribute'] }
  | { kind: 'dq'; inputs: string[]; attrs: INodeProto['attribute'] };

/**
 * Quantizes every eligible linear layer of `modelBytes` (a serialized ModelProto), in the main graph
 * and in every subgraph (If/Loop/Scan branches, which may read outer-scope initializers), and returns
 * the new model after checking its structure (`checkOnnxStructure`). The weights are exactly those of
 * `lutc compile/run --bits` (ir/lut/weights.ts `weightsFromFloat`: exact ternary grids stay lossless,
 * other float weights go through `quantizeMatrix`). Diagnostics: LUT4030/4031 (group size, bits),
 * LUT4033 (G needs opset 21 the model lacks), LUT4034, LUT4035 (the result fails validation).
 */
export function quantizeOnnx(modelBytes: Uint8Array, opts: QuantizeOnnxOptions): Uint8Array {
  const model = onnx.ModelProto.decode(modelBytes);
  const graph = model.graph as GraphP | null;
  if (!graph) return fail('LUT4032', 'the model has no graph');
  const opset = toNum(model.opsetImport.find((o) => !o.domain || o.domain === 'ai.onnx')?.version as number);
  const names = new Set<string>();
  forEachGraph(graph, (g) => {
    for (const v of [...g.input, ...g.output, ...g.valueInfo]) names.add(v.name ?? '');
    for (const t of g.initializer) names.add(t.name ?? '');
    for (const n of g.node) for (const s of [n.name ?? '', ...(n.input ?? []), ...(n.output ?? [])]) names.add(s);
  });
  let linear = 0;
  forEachGraph(graph, (g) => {
    for (const n of g.node) if (LINEAR_OPS.has(n.opType ?? '')) linear++;
  });
  const phase = startPhase('quantize', linear, 'linear layers');
  const st: State = { opts, opset, main: graph, names, written: new Map(), usedNbits: false, counter: 0, phase };
  try {
    rewriteGraph(graph, new Map(), st);
  } finally {
    phase.end();
  }
  // Drop float weights nobody reads any more, in any graph (a branch may read an outer initializer).
  const used = new Set<string>();
  forEachGraph(graph, (g) => {
    for (const n of g.node) for (const i of n.input ?? []) used.add(i);
    for (const o of g.output) used.add(o.name ?? '');
  });
  forEachGraph(graph, (g) => {
    g.initializer = g.initializer.filter((t) => used.has(t.name ?? '') || g.input.some((i) => i.name === t.name));
  });
  if (st.usedNbits && !model.opsetImport.some((o) => o.domain === 'com.microsoft'))
    model.opsetImport.push(onnx.OperatorSetIdProto.create({ domain: 'com.microsoft', version: 1 }));
  const out = onnx.ModelProto.encode(model).finish();
  checkOnnxStructure(out);
  return out;
}

/** Calls `f` on `g` and on every subgraph below it (node attributes of type GRAPH / GRAPHS). */
function forEachGraph(g: GraphP, f: (g: GraphP) => void): void {
  f(g);
  for (const n of g.node) for (const sub of subgraphsOf(n)) forEachGraph(sub, f);
}

function subgraphsOf(n: INodeProto): GraphP[] {
  const out: GraphP[] = [];
  for (const a of n.attribute ?? []) {
    if (a.g) out.push(a.g as GraphP);
    for (const g of a.graphs ?? []) out.push(g as GraphP);
  }
  return out;
}

/** Rewrites the linear layers of `g`; `outer` holds the initializers visible from enclosing graphs. */
function rewriteGraph(g: GraphP, outer: Map<string, ITensorProto>, st: State): void {
  const scope = new Map(outer);
  // A graph input or node output of this graph shadows an outer initializer of the same name.
  for (const v of g.input) scope.delete(v.name ?? '');
  for (const n of g.node) for (const o of n.output ?? []) scope.delete(o);
  for (const t of g.initializer) scope.set(t.name ?? '', t);
  const fresh = (base: string) => {
    let name: string;
    do name = `${base}__lutq${st.counter++}`;
    while (st.names.has(name));
    st.names.add(name);
    return name;
  };
  const newNodes: INodeProto[] = [];
  for (const node of g.node) {
    for (const sub of subgraphsOf(node)) rewriteGraph(sub, scope, st);
    if (LINEAR_OPS.has(node.opType ?? '')) st.phase.tick();
    const w = eligibleWeight(node, scope);
    if (!w) {
      newNodes.push(node);
      continue;
    }
    const loc = { kind: 'node', node: node.name ?? '', opType: node.opType ?? '' } as const;
    const base = node.name || fresh('linear');
    const key = `${w.transB}|${w.alpha}`;
    let perInit = st.written.get(w.init);
    if (!perInit) st.written.set(w.init, (perInit = new Map()));
    let wr = perInit.get(key);
    if (!wr) {
      wr = writeWeights(w, base, st, fresh, loc);
      perInit.set(key, wr);
    }
    const A = node.input![0]!;
    const needBias = w.c !== undefined;
    const out = needBias ? fresh(`${base}_mm`) : node.output![0]!;
    if (wr.kind === 'nbits') {
      newNodes.push({
        opType: 'MatMulNBits',
        domain: 'com.microsoft',
        name: base,
        input: [A, ...wr.inputs],
        output: [out],
        attribute: wr.attrs,
      });
    } else {
      const dq = fresh(`${base}_w`);
      newNodes.push({
        opType: 'DequantizeLinear',
        domain: '',
        name: fresh(`${base}_dq`),
        input: wr.inputs,
        output: [dq],
        attribute: wr.attrs,
      });
      newNodes.push({ opType: 'MatMul', domain: '', name: base, input: [A, dq], output: [out] });
    }
    if (w.c !== undefined) {
      let c = w.c;
      if (w.beta !== 1) {
        // beta * C as lower-linear folds it into the bias (C is then an initializer of N elements).
        const t = tensorFromProto(w.cInit!);
        const data = Float32Array.from(t.data as ArrayLike<number>, (v) => Math.fround(w.beta * v));
        c = fresh(`${base}_bias`);
        st.main.initializer.push(tensorToProto(makeTensor('f32', [...t.shape], data), c));
      }
      newNodes.push({ opType: 'Add', domain: '', name: fresh(`${base}_bias`), input: [out, c], output: [node.output![0]!] });
    }
  }
  g.node = newNodes as typeof g.node;
}

/** Quantizes one float weight (as lower-linear does) and adds its quantized initializers to the main graph. */
function writeWeights(w: Eligible, base: string, st: State, fresh: (b: string) => string, loc: Location): Written {
  const { opts, opset } = st;
  const res = weightsFromFloat(w.wt, w.n, w.k, { bits: opts.bits, groupSize: opts.groupSize, symmetric: opts.symmetric }, loc);
  if (!res.ok) return fail('LUT4035', `internal: ${res.reason}`, loc);
  const qm = res.qm;
  const G = qm.groupSize;
  const bs = G >= w.k ? Math.max(16, nextPow2(w.k)) : isPow2(G) && G >= 16 ? G : 0;
  if (opts.format !== 'dq' && bs > 0) {
    st.usedNbits = true;
    const cb = qm.bits === 2 ? 2 : 4;
    const t = nbitsTensors(qm, cb, bs);
    const names = [fresh(`${base}_B`), fresh(`${base}_scales`), fresh(`${base}_zp`)];
    st.main.initializer.push(tensorToProto(t.b, names[0]!), tensorToProto(t.scales, names[1]!), tensorToProto(t.zp, names[2]!));
    return {
      kind: 'nbits',
      inputs: names,
      attrs: [
        intAttr('K', w.k),
        intAttr('N', w.n),
        intAttr('bits', cb),
        intAttr('block_size', bs),
        intAttr('accuracy_level', opts.accuracyLevel ?? 0),
      ],
    };
  }
  if (!qm.zeros.every(Number.isInteger))
    fail(
      'LUT4034',
      `1-bit weights have float zero points, which DequantizeLinear cannot hold: use a group size that is a power of two >= 16 (MatMulNBits)`,
      loc,
    );
  if (opset < 21)
    fail(
      'LUT4033',
      `group size ${G} is not a power of two >= 16, so MatMulNBits cannot hold it, and blocked DequantizeLinear needs opset 21 (the model imports opset ${opset})`,
      loc,
    );
  const t = dqTensors(qm);
  const names = [fresh(`${base}_q`), fresh(`${base}_scale`), fresh(`${base}_zp`)];
  st.main.initializer.push(tensorToProto(t.q, names[0]!), tensorToProto(t.scale, names[1]!), tensorToProto(t.zp, names[2]!));
  // One group per row is per-axis quantization along N (axis 1); smaller groups are blocked along K.
  return { kind: 'dq', inputs: names, attrs: G >= w.k ? [intAttr('axis', 1)] : [intAttr('axis', 0), intAttr('block_size', G)] };
}

interface Eligible {
  init: ITensorProto;
  /** [N, K] rows of output channels, alpha applied. */
  wt: Float32Array;
  n: number;
  k: number;
  transB: boolean;
  alpha: number;
  /** Gemm's C (absent when there is none or beta = 0), its initializer when it has one, and beta. */
  c?: string;
  cInit?: ITensorProto;
  beta: number;
}

/**
 * The float weight of a linear node lower-linear quantizes with `--bits` (passes/lower-linear.ts),
 * or undefined: MatMul with a 2-D f32 initializer B; Gemm with transA = 0 and an f32 initializer B,
 * alpha folded into the weights, C kept as an Add (beta = 1), dropped (beta = 0), or scaled when it is
 * an initializer of N elements (the bias lower-linear makes of it); other Gemms stay as they are.
 */
function eligibleWeight(node: INodeProto, inits: Map<string, ITensorProto>): Eligible | undefined {
  if (node.domain && node.domain !== 'ai.onnx') return undefined;
  const isGemm = node.opType === 'Gemm';
  if (node.opType !== 'MatMul' && !isGemm) return undefined;
  const init = inits.get(node.input?.[1] ?? '');
  if (init?.dataType !== 1 || init.dims?.length !== 2) return undefined;
  let transB = false;
  let alpha = 1;
  let beta = 1;
  let c: string | undefined;
  let cInit: ITensorProto | undefined;
  if (isGemm) {
    if (attrInt(node, 'transA', 0) !== 0) return undefined;
    transB = attrInt(node, 'transB', 0) !== 0;
    alpha = attrFloat(node, 'alpha', 1);
    beta = attrFloat(node, 'beta', 1);
    c = node.input?.[2] || undefined;
    if (beta === 0) c = undefined;
    if (c && beta !== 1) {
      cInit = inits.get(c);
      const n = toNum(init.dims[transB ? 0 : 1] as number);
      const dims = (cInit?.dims ?? []).map((d) => toNum(d as number));
      const numel = dims.reduce((a, b) => a * b, 1);
      if (cInit?.dataType !== 1 || numel !== n || dims.length > 2 || (dims.length === 2 && dims[0] !== 1)) return undefined;
    }
  }
  const { w: wt, n, k } = weightRows(tensorFromProto(init), transB);
  if (alpha !== 1) for (let i = 0; i < wt.length; i++) wt[i] = Math.fround(alpha * wt[i]!);
  return { init, wt, n, k, transB, alpha, c, cInit, beta };
}

/**
 * Checks the structural rules onnxruntime's loader and the ONNX checker apply to a written model:
 * in every graph, each node input is a graph input, an initializer, an earlier node's output or a
 * name visible from an enclosing graph; no value is defined twice; graph outputs are defined.
 * LUT4035 otherwise (a bug in quantizeOnnx: nothing is written).
 */
export function checkOnnxStructure(bytes: Uint8Array): void {
  const model = onnx.ModelProto.decode(bytes);
  const check = (g: GraphP, outer: Set<string>, where: string) => {
    const defined = new Set(outer);
    const local = new Set<string>();
    const define = (name: string, what: string) => {
      if (!name) return;
      if (local.has(name)) fail('LUT4035', `${where}: '${name}' (${what}) is defined twice`);
      local.add(name);
      defined.add(name);
    };
    for (const v of g.input) define(v.name ?? '', 'graph input');
    for (const t of g.initializer) if (!g.input.some((i) => i.name === t.name)) define(t.name ?? '', 'initializer');
    for (const n of g.node) {
      for (const i of n.input ?? [])
        if (i && !defined.has(i))
          fail('LUT4035', `${where}: input '${i}' of node '${n.name ?? ''}' (${n.opType}) is not defined before it`);
      for (const sub of subgraphsOf(n)) check(sub, defined, `subgraph '${sub.name ?? ''}' of node '${n.name ?? ''}'`);
      for (const o of n.output ?? []) define(o, `output of node '${n.name ?? ''}'`);
    }
    for (const o of g.output) if (!defined.has(o.name ?? '')) fail('LUT4035', `${where}: graph output '${o.name}' is not defined`);
  };
  if (!model.graph) fail('LUT4035', 'the written model has no graph');
  check(model.graph as GraphP, new Set(), 'main graph');
}

/**
 * Validates a written model before it is renamed into place: the structural check above, then lutc's
 * own importer (shape inference) and IR verifier on the bytes as read from `file` (external data
 * resolves from its folder). Any failure is LUT4035 followed by the diagnostics that caused it.
 */
export function validateQuantized(bytes: Uint8Array, file: string): void {
  try {
    checkOnnxStructure(bytes);
    verifyGraph(importOnnx(bytes, { file, baseDir: path.dirname(file) }), { file });
  } catch (e) {
    if (!(e instanceof LutcError)) throw e;
    throw new LutcError([diag('LUT4035', `the quantized model for '${file}' fails validation, so it is not written`), ...e.diagnostics]);
  }
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
