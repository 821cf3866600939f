/**
 * `lutc inspect`: a summary of a model (ONNX or `.lut` IR): inputs/outputs, op histogram, parameter
 * count and bytes, and for every linear layer what the pipeline decided (lowered to LUT or not, why,
 * bits, group size, table bytes). `--json` prints the same facts as one JSON object.
 */

import { planModel } from '../../backends/model-plan.js';
import { allTargets, TARGET_OPTIONS } from '../../backends/target.js';
import { LutcError } from '../../base/diagnostics.js';
import { epilogueOperandsOf } from '../../ir/lut/epilogue.js';
import { dtypeByteSize, numel } from '../../ir/tensor.js';
import type { Graph } from '../../ir/types.js';
import { decideRuntimeDims, unknownDimWarnings } from '../input-dims.js';
import { type LayerDecision, runPipeline } from '../pipeline.js';
import { COMPILE_OPTS, compileOptions, flag, parse, parseTarget, requirePositional, str } from './args.js';
import type { CliIO } from './io.js';
import { isLutFile, loadModel } from './model.js';

export const INSPECT_HELP = `usage: lutc inspect <model.onnx|file.lut> [options]

Summarizes a model: inputs and outputs, op histogram, parameters, and for each linear layer
whether the pipeline lowers it to a LUT kernel (and why), with bits, group size and table bytes.
A .lut file is parsed and verified first.

  --json                  machine-readable output (one JSON object on stdout)
  -t, --target T          pipeline target whose decisions to show (${allTargets()
    .map((t) => t.name)
    .join(', ')}; default ref)
  --bits 1|1.58|2|3|4     show decisions as if compiling with --bits (a layer it does not
                          apply to is named in a warning, and in its decision's 'warning')
  --group-size G          quantization group along K (larger than K: clamped, warned)
  --tables i8|f32         LUT table precision
  --shape NAME=D0,D1,...  bind an input's shape; repeatable
  --dim SYM=N             bind a symbolic dimension (frozen); repeatable (a symbol the
                          model's inputs lack is a warning)
  --max-tensor-bytes SIZE the import's memory limit (default 8G; K/M/G/T suffixes): tensor
                          data or values beyond it are LUT1008 before anything is allocated
  --max-dim SYM=N         the upper bound of the runtime dim SYM (default: the smaller of 256
                          and the model's stated bound); the memory plan is shown for the
                          bounds; repeatable
  -h, --help              this help

Target-specific flags of compile/run (${Object.values(TARGET_OPTIONS)
  .map((o) => `--${o.flag}`)
  .join(', ')}) change nothing
here: for a target that reads them they are a warning, for another target a usage error.
`;

/** What `inspect --json` prints. */
export interface InspectReport {
  file: string;
  format: 'onnx' | 'lut';
  opsets?: Record<string, number>;
  inputs: { name: string; dtype: string; shape: (number | string)[] }[];
  outputs: { name: string; dtype: string; shape: (number | string)[] }[];
  nodes: number;
  ops: Record<string, number>;
  parameters: { count: number; bytes: number };
  layers: LayerDecision[];
  /**
   * The static memory plan of the lowered model (what compiled artifacts allocate): peak activation
   * bytes with liveness-based reuse, the sum without reuse, and constant bytes. Absent while a
   * symbolic dim is unbound (the reason is in `memoryNote`).
   */
  memory?: { peakBytes: number; unplannedBytes: number; weightBytes: number };
  memoryNote?: string;
  /**
   * Each symbol of the model's inputs: frozen to a size (`--dim`, `--shape`), or a runtime dim with its
   * bound, from `--max-dim` or defaulted (compiler/input-dims.ts: the default or the model's stated
   * bound, the smaller; a compile freezes a defaulted dim to 1 where the target refuses it).
   */
  dims?: { symbol: string; kind: 'frozen' | 'runtime'; size?: number; bound?: number; boundFrom?: 'max-dim' | 'default' }[];
  /** What the passes made of the lowered layers, read off the final IR (table sharing, fusion, tiles). */
  lut: { tables: LutTableReport[]; kernels: LutKernelReport[] };
}

export interface LutTableReport {
  node: string;
  /** `lut.table`, or `lut.norm_table` when the build is fused into its RMSNorm/LayerNorm producer. */
  op: string;
  fusedNorm?: string;
  tables: string;
  layout: string;
  /** The lut.matmul nodes sharing this one build (hoisted and deduplicated by table-precompute). */
  consumers: string[];
}

export interface LutKernelReport {
  node: string;
  n: number;
  k: number;
  bits: number;
  groupSize: number;
  vecBytes: number;
  kTile: number;
  /** Epilogue fused by fuse-ops: bias, activation, channel scale, residual. */
  epilogue: string[];
}

/** Table builds and LUT kernels of a lowered graph, with what the passes decided for each. */
export function lutReport(g: Graph): InspectReport['lut'] {
  const consumers = new Map<Graph['nodes'][number], string[]>();
  const kernels: LutKernelReport[] = [];
  for (const n of g.nodes) {
    if (n.op !== 'lut.matmul' && n.op !== 'lut.gemm') continue;
    const src = n.op === 'lut.matmul' ? n.inputs[0]?.producer : undefined; // lut.gemm: its kernel builds the tables
    if (src) consumers.set(src, [...(consumers.get(src) ?? []), n.name]);
    const at = epilogueOperandsOf(n.op);
    const a = n.attrs;
    const act = typeof a.activation === 'string' && a.activation !== 'none' ? a.activation : undefined;
    const epilogue = [
      n.inputs[at.bias] && 'bias',
      act,
      n.inputs[at.channel_scale] && 'channel scale',
      n.inputs[at.residual] && 'residual add',
    ].filter((x): x is string => !!x);
    kernels.push({
      node: n.name,
      n: a.n as number,
      k: a.k as number,
      bits: a.bits as number,
      groupSize: a.group_size as number,
      vecBytes: (a.vec_bytes as number) ?? 16,
      kTile: (a.k_tile as number) ?? 0,
      epilogue,
    });
  }
  const tables: LutTableReport[] = g.nodes
    .filter((n) => n.op === 'lut.table' || n.op === 'lut.norm_table')
    .map((n) => ({
      node: n.name,
      op: n.op,
      fusedNorm: n.op === 'lut.norm_table' ? String(n.attrs.norm) : undefined,
      tables: String(n.attrs.tables ?? 'i8'),
      layout: String(n.attrs.layout ?? 'token'),
      consumers: consumers.get(n) ?? [],
    }));
  return { tables, kernels };
}

/** Builds the inspect report for a loaded graph (exported for the library API and tests). */
export function inspectGraph(file: string, g: Graph, layers: LayerDecision[]): InspectReport {
  const ops: Record<string, number> = {};
  let nodes = 0;
  const walk = (gr: Graph) => {
    for (const n of gr.nodes) {
      ops[n.op] = (ops[n.op] ?? 0) + 1;
      nodes++;
      for (const a of Object.values(n.attrs)) if (a && typeof a === 'object' && 'nodes' in a) walk(a as Graph);
    }
  };
  walk(g);
  let count = 0;
  let bytes = 0;
  for (const c of g.constants) {
    const n = numel(c.const?.shape ?? []);
    count += n;
    // int4 packs two per byte in files; count what the model stores.
    bytes += c.type.dtype === 'i4' || c.type.dtype === 'u4' ? Math.ceil(n / 2) : n * dtypeByteSize(c.type.dtype);
  }
  const io = (v: Graph['inputs'][number]) => ({ name: v.name, dtype: v.type.dtype, shape: [...v.type.shape] });
  return {
    file,
    format: isLutFile(file) ? 'lut' : 'onnx',
    opsets: g.meta?.opsets,
    inputs: g.inputs.map(io),
    outputs: g.outputs.map(io),
    nodes,
    ops: Object.fromEntries(Object.entries(ops).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))),
    parameters: { count, bytes },
    layers,
    lut: lutReport(g),
  };
}

/** Implements `lutc inspect`. */
export async function cmdInspect(argv: string[], io: CliIO): Promise<number> {
  const p = parse('inspect', argv, { ...COMPILE_OPTS, json: { type: 'boolean' } }, 1);
  if (p.values.help) return (io.out(INSPECT_HELP), 0);
  const file = requirePositional('inspect', p, 'model');
  const target =
    str(p, 'target') === undefined
      ? 'ref'
      : parseTarget(
          'inspect',
          str(p, 'target'),
          allTargets().map((t) => t.name),
        );
  const opts = compileOptions('inspect', p, target, (m) => io.err(m));
  const symbolsOf = (gr: Graph) => new Set(gr.inputs.flatMap((v) => v.type.shape.filter((d): d is string => typeof d === 'string')));
  const raw = await loadModel(file, {});
  const g = await loadModel(file, { dimBindings: opts.dimBindings, inputShapes: opts.inputShapes, maxTensorBytes: opts.maxTensorBytes });
  for (const w of unknownDimWarnings(g, { '--dim': opts.dimBindings })) io.err(w);
  const left = symbolsOf(g);
  for (const sym of Object.keys(opts.maxDims ?? {}))
    if (!left.has(sym)) io.err(`warning: inspect: --max-dim ${sym}: the model's inputs have no unbound dim '${sym}' (ignored)`);
  const decided = decideRuntimeDims(g, opts.maxDims);
  for (const m of decided.messages) if (m.startsWith('warning:')) io.err(m);
  const bounds = decided.bounds;
  if (Object.keys(bounds).length) g.meta = { ...g.meta, dimBounds: bounds };
  const dims: NonNullable<InspectReport['dims']> = [...symbolsOf(raw)].sort().map((symbol) => {
    if (symbol in bounds)
      return { symbol, kind: 'runtime', bound: bounds[symbol], boundFrom: decided.defaulted.includes(symbol) ? 'default' : 'max-dim' };
    const size = g.meta?.dimBindings?.[symbol] ?? opts.dimBindings?.[symbol];
    return { symbol, kind: 'frozen', ...(size !== undefined && { size }) };
  });
  // Summarize the graph as imported; decisions come from running the pipeline on it (which mutates).
  const before = inspectGraph(file, g, []);
  // layer warnings (a --bits / --group-size request a layer did not take) go to stderr
  const { decisions, graph } = runPipeline(g, { ...opts, progress: (m) => io.err(m) });
  const report: InspectReport = { ...before, layers: decisions, lut: lutReport(graph), dims };
  try {
    const plan = planModel(graph, { runtimeDims: true });
    report.memory = { peakBytes: plan.arenaBytes, unplannedBytes: plan.unplannedBytes, weightBytes: plan.weightBytes };
  } catch (e) {
    if (!(e instanceof LutcError)) throw e;
    report.memoryNote = e.diagnostics[0]!.message;
  }
  if (flag(p, 'json')) io.out(JSON.stringify(report, null, 2));
  else io.out(renderText(report));
  return 0;
}

function fmtBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

function table(rows: string[][]): string {
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows
    .map(
      (r) =>
        '  ' +
        r
          .map((c, i) => c.padEnd(w[i]!))
          .join('  ')
          .trimEnd(),
    )
    .join('\n');
}

function renderText(r: InspectReport): string {
  const lines: string[] = [];
  const opsets = r.opsets
    ? ` (${Object.entries(r.opsets)
        .map(([d, v]) => `${d || 'ai.onnx'} ${v}`)
        .join(', ')})`
    : '';
  lines.push(`model: ${r.file} [${r.format}]${opsets}`);
  const vals = (vs: InspectReport['inputs']) =>
    vs.length ? table(vs.map((v) => [v.name, v.dtype, `[${v.shape.join(', ')}]`])) : '  (none)';
  lines.push('inputs:', vals(r.inputs), 'outputs:', vals(r.outputs));
  lines.push(`ops: ${r.nodes} nodes`);
  if (r.nodes) lines.push(table(Object.entries(r.ops).map(([op, n]) => [op, String(n)])));
  lines.push(`parameters: ${r.parameters.count.toLocaleString('en-US')} (${fmtBytes(r.parameters.bytes)})`);
  if (!r.layers.length) {
    lines.push('linear layers: none reported by the pipeline');
  } else {
    const lowered = r.layers.filter((l) => l.lowered).length;
    lines.push(`linear layers: ${r.layers.length} (${lowered} lowered to LUT)`);
    const rows = [['node', 'op', 'N', 'K', 'LUT', 'bits', 'group', 'table bytes', 'reason']];
    for (const l of r.layers) {
      rows.push([
        l.node,
        l.op,
        String(l.n ?? '-'),
        String(l.k ?? '-'),
        l.lowered ? 'yes' : 'no',
        String(l.bits ?? '-'),
        String(l.groupSize ?? '-'),
        l.tableBytes === undefined ? '-' : String(l.tableBytes),
        l.reason,
      ]);
    }
    lines.push(table(rows));
  }
  if (r.lut.tables.length) {
    lines.push('table builds (shared by every consumer; fused into the norm that produces the activation where possible):');
    lines.push(
      table(
        r.lut.tables.map((t) => [
          t.node,
          t.fusedNorm ? `fused into ${t.fusedNorm} norm` : 'standalone',
          `${t.tables} ${t.layout}`,
          `-> ${t.consumers.join(', ')}`,
        ]),
      ),
    );
    lines.push('LUT kernels (tile plan and fused epilogue):');
    const rows = [['node', 'N', 'K', 'bits', 'group', 'vec bytes', 'k-tile', 'epilogue']];
    for (const k of r.lut.kernels)
      rows.push([
        k.node,
        String(k.n),
        String(k.k),
        String(k.bits),
        String(k.groupSize),
        String(k.vecBytes),
        k.kTile ? `${k.kTile * 8}` : 'all',
        k.epilogue.join(', ') || '-',
      ]);
    lines.push(table(rows));
  }
  if (r.dims?.length) {
    lines.push('dims:');
    lines.push(
      table(
        r.dims.map((d) => [
          d.symbol,
          d.kind,
          d.kind === 'runtime'
            ? `<= ${d.bound}${d.boundFrom === 'default' ? ' (default bound)' : ''}`
            : d.size !== undefined
              ? `= ${d.size}`
              : '',
        ]),
      ),
    );
  }
  if (r.memory) {
    const m = r.memory;
    const forBounds = r.dims?.some((d) => d.kind === 'runtime') ? ' (for the runtime dims at their bounds)' : '';
    lines.push(
      `memory plan${forBounds}: peak activations ${fmtBytes(m.peakBytes)} (${fmtBytes(m.unplannedBytes)} without reuse), weights ${fmtBytes(m.weightBytes)}`,
    );
  } else if (r.memoryNote) lines.push(`memory plan: not available: ${r.memoryNote}`);
  return lines.join('\n');
}
