/**
 * The whole-model C emitter: renders backends/model-plan.ts's plan as `model.h` / `model.c` (C99,
 * libc + libm, optional OpenMP), one static function per plan step taking one `lutc_run` (the
 * runtime dims `D` and the graph I/O buffers), static shapes as constants and runtime dims
 * (--max-dim) as C expressions of `D` (cgen.ts), every value at its planned arena offset (views cost
 * nothing: they share their source's bytes) or, for graph inputs and the outputs a step writes, in the
 * caller's buffer when it is aligned (ioSlots), and constants read from the weight blob at its planned
 * offsets. model_run reads the runtime dims from the inputs' *_shape fields and checks them first
 * (renderDimPrologue); GroupQueryAttention cache pairs may share one buffer (kvPairs). LUT layers are the pipeline's lut.gemm
 * (the C target's LUT form, `lut.tables: 'kernel'`): their q is stored as the canonical bit stream
 * (lut-weights.ts) and each calls the tuned per-layer kernel of backends/c/render.ts (kernels-lut.ts);
 * hand-written graph-form LUT IR (lut.table / lut.norm_table / lut.matmul) renders as scalar C
 * (kernels-lut-graph.ts).
 * Threads (builds with OpenMP): the LUT kernels' row-block ranges and the attention's KV and query
 * heads are tasks of the model's pool (`lutc_par`, POOL_C: the caller never waits for a worker that
 * has not started, so busy cores do not stall it); every other loop of at least 2^16 work units is
 * an OpenMP `parallel for` (`omp`, with a runtime `if` under runtime dims). Both use `lutc_threads`
 * (MODEL_THREADS, from compile/run --threads, until model_set_threads); each output element is
 * computed by one thread in the single-thread order, so the results do not depend on the count.
 * Steps dispatch through backends/render.ts over `cRenderer` (one family per kernels-*.ts table).
 * Also renders the .npy harness and the Makefile (harness.ts). Everything is rendered in memory first:
 * an unsupported node is a coded diagnostic (LUT5003 for an op without a kernel, LUT5151-5152; all of
 * them at once) before any file is written. A plan the C code cannot address is LUT5107 ("shapes too
 * large", `checkAddressable`): workspace and weight offsets are exact size_t literals only below 2^53
 * (and the artifact targets 64-bit hosts: size_t offsets), and LUT layers take their row count M as
 * `int`, so M above 2^31 - 1 would overflow.
 */
import { DiagnosticBag, fail, LutcError, nodeLoc } from '../../../base/diagnostics.js';
import type { CompileOptions } from '../../../compiler/options.js';
import { findOp, resolveAttrs } from '../../../ir/optable.js';
import '../../../ir/ops/index.js';
import type { Graph, Value } from '../../../ir/types.js';
import { ALIGN, kernelByteSize, type ModelPlan, type Placement, planModel, VIEW_OPS, weightBlob, weightStream } from '../../model-plan.js';
import { type Renderer, rendererOps, renderSteps, tableFamily } from '../../render.js';
import type { StreamedFile } from '../../target-info.js';
import {
  type CD,
  cDimExpr,
  cIdent,
  cString,
  ctype,
  DIM_HELPERS,
  deq,
  indent,
  isSym,
  prod,
  resetLoopIds,
  type StepCtx,
  setRuntimeDims,
  toCD,
} from './cgen.js';
import { generateSupport, renderGenerateDecl, renderGenerateSource } from './generate.js';
import { type CIo, renderHarness, renderMakefile } from './harness.js';
import { ATTENTION_KERNELS } from './kernels-attention.js';
import { ELEMENTWISE_HELPERS, ELEMENTWISE_KERNELS } from './kernels-elementwise.js';
import { LutLayers } from './kernels-lut.js';
import { LUT_GRAPH_KERNELS } from './kernels-lut-graph.js';
import { MATH_KERNELS } from './kernels-math.js';
import { SHAPE_KERNELS } from './kernels-shape.js';
import { withCanonicalQ } from './lut-weights.js';

/** Options of the C model emitter beyond the shared CompileOptions. */
export interface CModelOptions extends CompileOptions {
  /** Embed the weight blob in model.c: true, false, or 'auto' (default: embed when <= EMBED_AUTO_BYTES). */
  embedWeights?: boolean | 'auto';
  /**
   * A weights.bin that is not embedded comes back as a StreamedFile in `EmittedModel.weights` (computed
   * constant by constant as it is written; files has no 'weights.bin') instead of bytes in
   * files['weights.bin'] (default false; the compile entry, backends/c/compile.ts, streams).
   */
  streamWeights?: boolean;
}

/** Weight blobs up to this size are embedded by default: one self-contained model.c, nothing to load. */
export const EMBED_AUTO_BYTES = 64 * 1024;

/**
 * LUT ops: lut.gemm renders per layer (kernels-lut.ts: tables built and weights packed by its kernel).
 * The hand-written graph form's lut.table, lut.norm_table and lut.matmul render as scalar C
 * (kernels-lut-graph.ts); lut.pack has no kernel (bitplane-layout folds it when its operands are constants).
 */
const LUT_OPS = ['lut.gemm'];

/**
 * The C renderer (dispatched by backends/render.ts): one family per kernels-*.ts table, its ops the
 * table's keys; the LUT family renders through the model's LutLayers (per-layer kernels and loader).
 */
export function cRenderer(luts: LutLayers): Renderer<StepCtx, string> {
  const lut: Record<string, (c: StepCtx) => string> = { ...LUT_GRAPH_KERNELS, 'lut.gemm': luts.gemm };
  return [
    tableFamily('elementwise', ELEMENTWISE_KERNELS),
    tableFamily('shape', SHAPE_KERNELS),
    tableFamily('math', MATH_KERNELS),
    tableFamily('attention', ATTENTION_KERNELS),
    tableFamily('lut', lut),
  ];
}

/** Graph ops the C backend renders (for docs and tests). */
export const SUPPORTED_OPS: readonly string[] = rendererOps(cRenderer(new LutLayers('lutc')));

/** One graph input or output as the C API exposes it. */
export type { CIo } from './harness.js';

/** The rendered artifact, in memory. */
export interface EmittedModel {
  /** File name -> contents (weights.bin is absent when the weights are embedded). */
  files: Record<string, string | Uint8Array>;
  plan: ModelPlan;
  inputs: CIo[];
  outputs: CIo[];
  embedded: boolean;
  /** Bytes model_workspace_size() returns: arena plus per-step scratch. */
  workspaceBytes: number;
  /** weights.bin as a stream (CModelOptions.streamWeights, weights not embedded). */
  weights?: StreamedFile;
}

const alignUp = (x: number) => Math.ceil(x / ALIGN) * ALIGN;

/**
 * The model's thread pool (model.c, builds with OpenMP on POSIX GCC/Clang; elsewhere `lutc_par` runs
 * the tasks in order on the caller): `lutc_par(threads, n, fn, ctx)` runs fn(ctx, 0..n-1), each task
 * once, on the caller and up to threads - 1 persistent workers (started on first use). The caller
 * takes tasks too and waits only for tasks a worker has taken, never for a worker to arrive: on cores
 * shared with other work a descheduled worker costs nothing (an OpenMP barrier would wait for it).
 * Workers spin briefly for the next job (2000 pauses, ~0.1 ms: the gaps between a decode step's
 * layers' jobs), then sleep on a condition variable. Claims are one CAS on
 * (job epoch << 32 | next task), so a late worker never takes a task of a later job. One job at a
 * time: a caller that finds the pool busy (model_run on several threads at once) runs its tasks
 * itself, so model_run stays reentrant.
 */
const POOL_C = String.raw`#if defined(_OPENMP) && defined(__GNUC__) && (defined(__unix__) || defined(__APPLE__))
#  define LUTC_POOL 1
#  include <pthread.h>
#  define LUTC_POOL_MAX 64
typedef void (*lutc_task)(void *, int);
static struct {
  pthread_mutex_t busy; /* held by the caller whose job is in flight (others run theirs serially) */
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int workers;
  unsigned epoch;       /* of the current job (under mu; word holds it too) */
  lutc_task fn;         /* the current job (under mu) */
  void *ctx;
  int total;
  uint64_t word;        /* epoch << 32 | next task: claimed by CAS */
  int done;             /* tasks of the current job finished */
} lutc_pool = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, NULL, NULL, 0, 0, 0 };
static void lutc_take(unsigned e, lutc_task fn, void *ctx, int total) {
  for (;;) {
    uint64_t w = __atomic_load_n(&lutc_pool.word, __ATOMIC_ACQUIRE);
    if ((unsigned)(w >> 32) != e || (int)(uint32_t)w >= total) return;
    if (!__atomic_compare_exchange_n(&lutc_pool.word, &w, w + 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) continue;
    fn(ctx, (int)(uint32_t)w);
    __atomic_add_fetch(&lutc_pool.done, 1, __ATOMIC_RELEASE);
  }
}
static void *lutc_worker(void *arg) {
  unsigned seen = 0;
  (void)arg;
  for (;;) {
    for (int spin = 0; spin < 2000 && (unsigned)(__atomic_load_n(&lutc_pool.word, __ATOMIC_ACQUIRE) >> 32) == seen; spin++) {
#  if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();
#  endif
    }
    pthread_mutex_lock(&lutc_pool.mu);
    while (lutc_pool.epoch == seen) pthread_cond_wait(&lutc_pool.cv, &lutc_pool.mu);
    seen = lutc_pool.epoch;
    const lutc_task fn = lutc_pool.fn;
    void *const ctx = lutc_pool.ctx;
    const int total = lutc_pool.total;
    pthread_mutex_unlock(&lutc_pool.mu);
    lutc_take(seen, fn, ctx, total);
  }
  return NULL;
}
static void lutc_par(int threads, int n, lutc_task fn, void *ctx) {
  if (threads > LUTC_POOL_MAX) threads = LUTC_POOL_MAX;
  if (threads > 1 && n > 1 && pthread_mutex_trylock(&lutc_pool.busy) == 0) {
    pthread_mutex_lock(&lutc_pool.mu);
    while (lutc_pool.workers < threads - 1) {
      pthread_t t;
      pthread_attr_t at;
      pthread_attr_init(&at);
      pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
      const int bad = pthread_create(&t, &at, lutc_worker, NULL);
      pthread_attr_destroy(&at);
      if (bad) break;
      lutc_pool.workers++;
    }
    if (lutc_pool.workers > 0) {
      const unsigned e = ++lutc_pool.epoch;
      lutc_pool.fn = fn;
      lutc_pool.ctx = ctx;
      lutc_pool.total = n;
      __atomic_store_n(&lutc_pool.done, 0, __ATOMIC_RELAXED);
      __atomic_store_n(&lutc_pool.word, (uint64_t)e << 32, __ATOMIC_RELEASE);
      pthread_cond_broadcast(&lutc_pool.cv);
      pthread_mutex_unlock(&lutc_pool.mu);
      lutc_take(e, fn, ctx, n);
      while (__atomic_load_n(&lutc_pool.done, __ATOMIC_ACQUIRE) < n) {
#  if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#  endif
      }
      pthread_mutex_unlock(&lutc_pool.busy);
      return;
    }
    pthread_mutex_unlock(&lutc_pool.mu);
    pthread_mutex_unlock(&lutc_pool.busy);
  }
  for (int i = 0; i < n; i++) fn(ctx, i);
}
#else
static void lutc_par(int threads, int n, void (*fn)(void *, int), void *ctx) {
  (void)threads;
  for (int i = 0; i < n; i++) fn(ctx, i);
}
#endif`;

/**
 * The weight blob's check hash, which model_load_weights recomputes so a stale weights.bin fails
 * loudly: eight FNV-1a lanes over the blob's little-endian 32-bit words (lane l takes word l of each
 * 32-byte block, h = (h ^ w) * 16777619, lane l starting at 2166136261 + l), the tail bytes past the
 * last whole block FNV-1a'd into lane 0, then the lanes and the byte count (low, high 32 bits)
 * FNV-1a'd word by word into one 32-bit value. Eight independent lanes let the C loop vectorize (one
 * byte-serial FNV-1a took 17% of an 8B-shaped model's 38 s load); any chunking gives the same value.
 */
export class WeightHash {
  private readonly h = new Uint32Array(8);
  private readonly carry = new Uint8Array(32);
  private carried = 0;
  private n = 0;
  constructor() {
    for (let l = 0; l < 8; l++) this.h[l] = (0x811c9dc5 + l) >>> 0;
  }
  update(b: Uint8Array): this {
    this.n += b.length;
    let i = 0;
    if (this.carried) {
      const take = Math.min(32 - this.carried, b.length);
      this.carry.set(b.subarray(0, take), this.carried);
      this.carried += take;
      i = take;
      if (this.carried < 32) return this;
      this.block(this.carry, 0);
      this.carried = 0;
    }
    for (; i + 32 <= b.length; i += 32) this.block(b, i);
    if (i < b.length) {
      this.carry.set(b.subarray(i), 0);
      this.carried = b.length - i;
    }
    return this;
  }
  private block(b: Uint8Array, at: number): void {
    const h = this.h;
    for (let l = 0; l < 8; l++) {
      const o = at + 4 * l;
      const w = b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24);
      h[l] = Math.imul(h[l]! ^ w, 0x01000193);
    }
  }
  digest(): number {
    const h = Uint32Array.from(this.h);
    for (let i = 0; i < this.carried; i++) h[0] = Math.imul(h[0]! ^ this.carry[i]!, 0x01000193);
    let d = 0x811c9dc5;
    const mix = (w: number) => {
      d = Math.imul(d ^ w, 0x01000193) >>> 0;
    };
    for (let l = 0; l < 8; l++) mix(h[l]!);
    mix(this.n >>> 0);
    mix(Math.floor(this.n / 2 ** 32) >>> 0);
    return d >>> 0;
  }
}

/** WeightHash of a whole blob. */
export function weightHash(b: Uint8Array): number {
  return new WeightHash().update(b).digest();
}

/** WeightHash over a streamed blob, chunk by chunk (nothing kept). */
export function weightHashStream(f: StreamedFile): number {
  const h = new WeightHash();
  for (const c of f.chunks()) h.update(c);
  return h.digest();
}

/** The largest row count a LUT layer kernel takes (its `int m`). */
const MAX_LUT_ROWS = 2 ** 31 - 1;

/** LUT5107 when the workspace or weights exceed exact offsets, or a LUT layer has more rows than an int holds. */
function checkAddressable(plan: ModelPlan, workspaceBytes: number, file?: string): void {
  const loc = file ? ({ kind: 'file', file } as const) : undefined;
  for (const [what, bytes] of [
    ['workspace', workspaceBytes],
    ['weights', plan.weightBytes],
  ] as const)
    if (bytes > Number.MAX_SAFE_INTEGER)
      fail('LUT5107', `shapes too large: the C ${what} needs ${bytes} bytes, beyond the 2^53 bytes lutc renders exact offsets for`, loc);
  for (const step of plan.steps) {
    if (!LUT_OPS.includes(step.node.op)) continue;
    const out = step.outputs[0];
    if (!out || out.shape.length === 0) continue;
    const rows = out.shape.slice(0, -1).reduce((a, b) => a * b, 1);
    if (rows > MAX_LUT_ROWS)
      fail(
        'LUT5107',
        `shapes too large: LUT layer output [${out.shape.join(', ')}] has ${rows} rows; the C LUT kernels take at most ${MAX_LUT_ROWS} (int m)`,
        nodeLoc(step.node, file),
      );
  }
}

/** Renders the model. Throws LutcError (LUT5001/5002 from the plan, LUT5003 and LUT5151-5152 from kernels). */
export function emitModel(input: Graph, opts: CModelOptions): EmittedModel {
  const file = input.meta?.file;
  resetLoopIds();
  const bag = new DiagnosticBag();
  const g = withCanonicalQ(input, bag);
  const lutFailed = bag.hasErrors; // lut.gemm nodes with run-time weights were diagnosed already
  const plan = planModel(g, { runtimeDims: true });
  setRuntimeDims(plan.dimSources.map((d) => d.sym));
  checkAddressable(plan, plan.arenaBytes, file);
  const mode = opts.embedWeights ?? 'auto';
  const embedded = mode === 'auto' ? plan.weightBytes <= EMBED_AUTO_BYTES : mode;
  // streamed: the blob is computed once here for its hash and again as weights.bin is written, never held whole
  const stream = opts.streamWeights && !embedded ? weightStream(plan) : undefined;
  const blob = stream ? undefined : weightBlob(plan);
  const hash = stream ? weightHashStream(weightStream(plan, undefined, 'c: hashing weights')) : weightHash(blob!);
  const blobBytes = plan.weightBytes;
  const blobOrSize = blob ?? { length: blobBytes };
  // Kernel entry points are external symbols: a per-model prefix lets several models link together.
  // --isa pins every layer kernel's path (cPrelude's forced LUTC_ISA; -DLUTC_ISA still overrides it)
  const luts = new LutLayers(`lutc${hash.toString(16).padStart(8, '0')}`, opts.isa);
  let scratchBytes = 0;
  const scratchOff = alignUp(plan.arenaBytes);
  const io = ioSlots(g, plan);
  const rendered = renderSteps(
    'c',
    plan.steps,
    cRenderer(luts),
    (family, step, si) => {
      const node = step.node;
      if (lutFailed && LUT_OPS.includes(node.op)) return undefined;
      const ptr = (p: Placement, write: boolean) => {
        const k = io.slot.get(io.rootOf(p.value));
        if (k !== undefined) return `(${write ? '' : 'const '}${ctype(p.dtype)} *)R->io[${k}]`;
        return `(${write ? '' : 'const '}${ctype(p.dtype)} *)(${p.region === 'arena' ? 'ws' : 'W'} + ${p.offset})`;
      };
      const decls: string[] = [];
      const helpers: string[] = [];
      step.inputs.forEach((p, i) => p && decls.push(`const ${ctype(p.dtype)} *i${i} = ${ptr(p, false)}; (void)i${i};`));
      step.outputs.forEach((p, i) => decls.push(`${ctype(p.dtype)} *o${i} = ${ptr(p, true)}; (void)o${i};`));
      const def = findOp(node.op)!;
      const checks: string[] = [];
      const sh = (p: Placement): CD[] => (p.dims ?? p.shape).map(toCD);
      const ctx: StepCtx = {
        step,
        node,
        attrs: resolveAttrs(def, node),
        in: (i) => `i${i}`,
        out: (i) => `o${i}`,
        inP: (i) => step.inputs[i] ?? null,
        outP: (i) => step.outputs[i]!,
        sh,
        numel: (p) => prod(sh(p)),
        staticShape: (p) => {
          const sym = (p.dims ?? []).find((d) => typeof d === 'string');
          if (sym !== undefined)
            fail(
              'LUT5004',
              `${node.op} with the runtime dim '${sym}' (value '${p.value.name}') is not rendered by the C backend yet: freeze it with --dim`,
              nodeLoc(node, file),
            );
          return p.shape;
        },
        requireEqual: (a, b) => {
          if (deq(a, b)) return;
          if (!isSym(a) && !isSym(b)) throw new Error(`lutc bug: ${node.op} requires ${a} == ${b}`);
          const check = `if (${a} != ${b}) { lutc_err.index = (long long)${a}; lutc_err.size = (long long)${b}; return MODEL_ERR_SHAPE; }`;
          if (!checks.includes(check)) checks.push(check);
        },
        constOf: (i) => node.inputs[i]?.const,
        unsupported: (msg) => {
          throw new LutcError({
            code: msg.includes('run time') ? 'LUT5152' : 'LUT5151',
            severity: 'error',
            message: msg,
            loc: nodeLoc(node, file),
          });
        },
        scratch: (bytes) => {
          scratchBytes = Math.max(scratchBytes, bytes);
          return `(ws + ${scratchOff})`;
        },
        stepId: si,
        helper: (code) => {
          helpers.push(code);
        },
        omp: (work, clauses = '', runWork) => {
          if (work < 1 << 16) return '';
          const cond = runWork !== undefined && isSym(runWork) ? ` if((${runWork}) >= ${1 << 16})` : '';
          return `#ifdef _OPENMP\n#pragma omp parallel for num_threads(lutc_threads) ${clauses}${cond}\n#endif`;
        },
      };
      const body = family.render(ctx, step);
      const outs = step.outputs.map((p) => p.value.name).join(', ');
      return `${helpers.map((h) => `${h}\n\n`).join('')}/* step ${si}: node '${node.name.replace(/\*\//g, '*_/')}' (${node.op}) -> ${outs.replace(/\*\//g, '*_/')} */
static int step_${si}(unsigned char *ws, const unsigned char *W, const lutc_run *R) {
  const int64_t *D = R->D;
  (void)ws; (void)W; (void)D;
${indent(decls.join('\n'))}
${checks.length ? `${indent(checks.join('\n'))}\n` : ''}${indent(body)}
  return 0;
}`;
    },
    file,
  );
  for (const d of rendered.diagnostics) bag.add(d);
  const fns: string[] = [];
  const calls: string[] = [];
  rendered.results.forEach((fn, si) => {
    if (fn === undefined) return;
    fns.push(fn);
    const node = plan.steps[si]!.node;
    calls.push(
      `  if ((rc = step_${si}(ws, W, &R)) != 0) { lutc_err.node = ${cString(node.name)}; lutc_err.op = ${cString(node.op)}; return rc; }`,
    );
  });
  bag.throwIfErrors();

  const used = new Set<string>();
  const inputs: CIo[] = plan.inputs.map((p) => ({ name: p.value.name, field: cIdent(p.value.name, used), placement: p }));
  used.clear();
  const outputs: CIo[] = plan.outputs.map((p) => ({ name: p.value.name, field: cIdent(p.value.name, used), placement: p }));
  const workspaceBytes = alignUp(scratchOff + scratchBytes) || ALIGN;
  checkAddressable(plan, workspaceBytes, file);

  io.kv = kvPairs(io, inputs, outputs, plan);
  const threads = Number.isInteger(opts.threads) && opts.threads! > 0 ? opts.threads! : 1;
  // model_generate (generate.ts): declared always, defined after model_run in model.c
  const gen = generateSupport(g, inputs);
  const sharedPresents = new Set(io.kv.map((p) => p.present.name));
  const genDecl = renderGenerateDecl(gen);
  const header = renderHeader(g, plan, inputs, outputs, workspaceBytes, blobBytes, hash, embedded, io.kv.length > 0, threads, genDecl);
  const source = renderSource(plan, io, inputs, outputs, fns, calls, blobOrSize, hash, embedded, workspaceBytes, luts, threads);
  const files: Record<string, string | Uint8Array> = {
    'model.h': header,
    'model.c': source + renderGenerateSource(gen, inputs, outputs, sharedPresents, workspaceBytes),
    'main.c': renderHarness(inputs, outputs, embedded),
    Makefile: renderMakefile(embedded),
  };
  if (!embedded && blob) files['weights.bin'] = blob;
  return { files, plan, inputs, outputs, embedded, workspaceBytes, ...(stream && { weights: stream }) };
}

/**
 * The graph I/O buffers steps address directly (`R->io[k]`): every graph input (slot = its index) and
 * every graph output a step writes itself (slot = inputs + its index; not a view, not an input, listed
 * once), so a run neither copies them in nor out when the caller's buffers are aligned. `rootOf` maps a
 * view to the value whose bytes it shares (planModel's aliasing).
 */
interface IoSlots {
  slot: Map<Value, number>;
  rootOf(v: Value): Value;
  count: number;
  /** The shared-buffer cache pairs (kvPairs), set once the C I/O names are known. */
  kv: { past: CIo; present: CIo }[];
}

/**
 * The cache pairs of the shared past/present buffer mode: each group_query_attention whose past
 * key/value are graph inputs and whose present key/value are outputs it writes in place. With
 * `model_inputs.kv_capacity` > 0 the caller passes one buffer per pair as both (checked here:
 * MODEL_ERR_ARGS otherwise), and the kernel writes only the new rows.
 */
function kvPairs(io: IoSlots, ins: CIo[], outs: CIo[], plan: ModelPlan): { past: CIo; present: CIo }[] {
  const pairs: { past: CIo; present: CIo }[] = [];
  const inOf = (v: Value | null | undefined) => ins.find((x) => v && x.placement.value === io.rootOf(v));
  const outOf = (v: Value | undefined) => outs.find((x) => v && x.placement.value === v && (io.slot.get(v) ?? -1) >= ins.length);
  for (const st of plan.steps) {
    if (st.node.op !== 'group_query_attention') continue;
    for (const [pi, oi] of [
      [3, 1],
      [4, 2],
    ] as const) {
      const past = inOf(st.node.inputs[pi]);
      const present = outOf(st.node.outputs[oi]);
      if (past && present) pairs.push({ past, present });
    }
  }
  return pairs;
}

/** model_run's kv_capacity check and the run record (kvcap 0 for models without cache pairs). */
function renderKvCheck(io: IoSlots): string {
  const pairs = io.kv;
  if (!pairs.length) return '  lutc_run R = { D, io, 0 };';
  const bad = pairs.map(
    (p) => `(const void *)in->${p.past.field} != (const void *)out->${p.present.field} || ((uintptr_t)in->${p.past.field} & 15u)`,
  );
  return `  if (in->kv_capacity < 0) return MODEL_ERR_ARGS;
  if (in->kv_capacity > 0 && (${bad.join(' || ')})) return MODEL_ERR_ARGS;
  lutc_run R = { D, io, in->kv_capacity };`;
}

function ioSlots(g: Graph, plan: ModelPlan): IoSlots {
  const root = new Map<Value, Value>();
  const rootOf = (v: Value): Value => root.get(v) ?? v;
  for (const n of g.nodes) if (VIEW_OPS.has(n.op) && n.inputs[0] && !n.inputs[0].const) root.set(n.outputs[0]!, rootOf(n.inputs[0]));
  const slot = new Map<Value, number>();
  plan.inputs.forEach((p, i) => slot.set(p.value, i));
  const listed = new Map<Value, number>();
  for (const v of g.outputs) listed.set(v, (listed.get(v) ?? 0) + 1);
  plan.outputs.forEach((p, j) => {
    const v = p.value;
    if (p.region === 'arena' && rootOf(v) === v && !slot.has(v) && listed.get(v) === 1) slot.set(v, plan.inputs.length + j);
  });
  return { slot, rootOf, count: plan.inputs.length + plan.outputs.length, kv: [] };
}

function shapeComment(p: Placement): string {
  if (p.dims) return `${p.dtype} [${p.dims.join(', ')}] (at most [${p.shape.join(', ')}])`;
  return `${p.dtype} [${p.shape.join(', ')}]`;
}

/** The runtime byte count of a placement's data (its element count times the element size). */
function runtimeBytes(p: Placement): string {
  if (!p.dims) return String(p.bytes);
  return `(size_t)(${prod(p.dims.map(toCD))}) * ${kernelByteSize(p.dtype)}`;
}

/**
 * model_run's prologue for runtime dims: each dim read from its input axis and checked against its
 * bound (MODEL_ERR_DIM_BOUND), then every runtime-dim input's shape against its dims
 * (MODEL_ERR_SHAPE); lutc_err names the input (node), the dim or 'shape' (op), the value and the
 * bound or expected size.
 */
function renderDimPrologue(plan: ModelPlan, ins: CIo[]): string {
  if (plan.dimSources.length === 0) return '  const int64_t *D = NULL;';
  const lines = [`  int64_t D[${plan.dimSources.length}];`];
  plan.dimSources.forEach((src, k) => {
    const io = ins[src.input]!;
    lines.push(`  D[${k}] = in->${io.field}_shape[${src.axis}]; /* ${src.sym.replace(/\*\//g, '*_/')} */`);
    lines.push(
      `  if (D[${k}] < 0 || D[${k}] > ${src.bound}) { lutc_err.node = ${cString(io.name)}; lutc_err.op = ${cString(src.sym)}; lutc_err.index = (long long)D[${k}]; lutc_err.size = ${src.bound}; return MODEL_ERR_DIM_BOUND; }`,
    );
  });
  for (const io of ins) {
    const dims = io.placement.dims;
    if (!dims) continue;
    dims.forEach((d, a) => {
      const want = cDimExpr(d);
      if (plan.dimSources.some((s) => ins[s.input] === io && s.axis === a)) return;
      lines.push(
        `  if (in->${io.field}_shape[${a}] != ${want}) { lutc_err.node = ${cString(io.name)}; lutc_err.op = "shape"; lutc_err.index = ${a}; lutc_err.size = (long long)${want}; return MODEL_ERR_SHAPE; }`,
      );
    });
  }
  return lines.join('\n');
}

function renderHeader(
  g: Graph,
  plan: ModelPlan,
  ins: CIo[],
  outs: CIo[],
  ws: number,
  wb: number,
  hash: number,
  embedded: boolean,
  kv: boolean,
  threads: number,
  generateDecl = '',
): string {
  const field = (io: CIo, isIn: boolean) => {
    const p = io.placement;
    const data = `  ${isIn ? 'const ' : ''}${ctype(p.dtype)} *${io.field}; /* '${io.name.replace(/\*\//g, '*_/')}': ${shapeComment(p)}, ${p.dims ? 'at most ' : ''}${p.bytes} bytes */`;
    if (!p.dims) return data;
    const what = isIn ? 'its shape in this run (the caller sets it)' : 'its shape in this run (model_run writes it)';
    return `${data}\n  int64_t ${io.field}_shape[${Math.max(1, p.dims.length)}]; /* ${what} */`;
  };
  const dimDefs = plan.dimSources.map(
    (d, k) =>
      `#define MODEL_DIM_${k}_MAX ${d.bound} /* runtime dim '${d.sym.replace(/\*\//g, '*_/')}': ${ins[d.input]!.name.replace(/\*\//g, '*_/')} axis ${d.axis} */`,
  );
  return `/* Generated by lutc from '${(g.meta?.file ?? g.name).replace(/\*\//g, '*_/')}' (C99; API: docs/c-model.md).
   ${plan.steps.length} steps, arena ${plan.arenaBytes} bytes (${plan.unplannedBytes} without reuse), weights ${wb} bytes${embedded ? ' (embedded)' : ' (weights.bin)'}. */
#ifndef LUTC_MODEL_H
#define LUTC_MODEL_H
#include <stddef.h>
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif

#define MODEL_NUM_INPUTS ${ins.length}
#define MODEL_NUM_OUTPUTS ${outs.length}
#define MODEL_WORKSPACE_BYTES ${ws}u
#define MODEL_WEIGHTS_BYTES ${wb}u
#define MODEL_WEIGHTS_HASH 0x${hash.toString(16).padStart(8, '0')}u
#define MODEL_WEIGHTS_EMBEDDED ${embedded ? 1 : 0}
/* Threads of a run until model_set_threads (compile --threads; used when built with OpenMP). */
#define MODEL_THREADS ${threads}
/* Runtime dims (--max-dim): read from the inputs' *_shape fields each run, each at most its bound. */
#define MODEL_NUM_DIMS ${plan.dimSources.length}
${dimDefs.join('\n')}

/* Return codes of model_load_weights / model_run. */
#define MODEL_OK 0
#define MODEL_ERR_WEIGHTS_SIZE 1   /* blob size differs from MODEL_WEIGHTS_BYTES */
#define MODEL_ERR_WEIGHTS_HASH 2   /* blob is not the weights.bin this model.c was generated with */
#define MODEL_ERR_NO_WEIGHTS 3     /* model_run before model_load_weights */
#define MODEL_ERR_ARGS 4           /* NULL or misaligned (< 16 bytes) pointer */
#define MODEL_ERR_INDEX 5          /* a Gather index out of range */
#define MODEL_ERR_NO_MEMORY 6      /* model_load_weights could not allocate the packed LUT weights */
#define MODEL_ERR_INTERNAL 7       /* a LUT kernel rejected its arguments (a lutc bug) */
#define MODEL_ERR_DIM_BOUND 8      /* a runtime dim beyond its bound (lutc's LUT5009) */
#define MODEL_ERR_SHAPE 9          /* input shapes that contradict each other (lutc's LUT5006) */
#define MODEL_ERR_PACKED 11        /* model_load_packed: not this model's packed image for this build's ISA */

/* Inputs, named after the graph inputs; each points at a dense row-major array of the given shape
   (with runtime dims: of the shape in its *_shape field). */
typedef struct model_inputs {
${ins.map((io) => field(io, true)).join('\n') || '  int unused_;'}${
  kv
    ? `
  /* 0: every past and present its own dense buffer. > 0: the shared past/present buffer mode: give each
     GroupQueryAttention cache pair ONE 16-byte aligned buffer as both its past input and its present
     output, holding kv_capacity rows per head ([batch, kv_heads, kv_capacity, head_size]); the past
     rows are read where they are and only the new rows are written (present's *_shape says how many
     rows are valid; they stay kv_capacity apart). MODEL_ERR_ARGS when a pair is not one buffer. */
  int64_t kv_capacity;`
    : ''
}
} model_inputs;

/* Outputs: caller-owned buffers of the given sizes (with runtime dims: of the bound's size; model_run
   writes the dense result of this run's shape and that shape to *_shape). */
typedef struct model_outputs {
${outs.map((io) => field(io, false)).join('\n') || '  int unused_;'}
} model_outputs;

/* Bytes of workspace model_run needs (activation arena + scratch); align it to 64 bytes. */
size_t model_workspace_size(void);
size_t model_weights_size(void);
/* Uses \`blob\` (MODEL_WEIGHTS_BYTES bytes, 16-byte aligned; not copied: keep it alive). Checks size
   and hash, then packs every LUT layer's weights for this build's ISA into memory the model allocates
   (model_loaded_bytes(); freed by model_release or the next load). With embedded weights,
   model_load_weights(NULL, 0) selects the embedded copy (the default; the first model_run packs it
   when nobody did: call model_load_weights(NULL, 0) once before running from several threads). */
int model_load_weights(const void *blob, size_t n);
/* Bytes model_load_weights allocated for the packed LUT weights (0 before loading, or without LUT layers). */
size_t model_loaded_bytes(void);
/* The LUT layers packed for this build's ISA, as an image a later load maps instead of packing again
   (the harness's \`model pack\`, which \`make\` runs to write weights.packed.bin): its size in bytes, and
   model_save_packed, which writes it to \`out\` (n = model_packed_size(); after model_load_weights). */
size_t model_packed_size(void);
int model_save_packed(void *out, size_t n);
/* model_load_weights without the packing: checks \`blob\` as it does (embedded weights: NULL, 0 selects
   them), then uses \`packed\` (a model_save_packed image, 64-byte aligned, e.g. mmapped; not copied:
   keep it alive) as every LUT layer's packed weights. MODEL_ERR_PACKED (nothing changed) when it is
   not the image of this model.c's weights for this build's ISA (a stale file, another -DLUTC_ISA). */
int model_load_packed(const void *blob, size_t n, const void *packed, size_t pn);
/* Frees the packed LUT weights (the next model_run packs them again from the current blob). */
void model_release(void);
/* OpenMP threads for later runs when built with -fopenmp (default MODEL_THREADS; n < 1 means 1);
   ignored otherwise. Any count gives the same bits: each output element is computed by one thread. */
void model_set_threads(int n);
/* Runs the model. Reentrant for distinct workspaces (weights are read-only). Returns MODEL_OK or an error. */
int model_run(const model_inputs *in, model_outputs *out, void *workspace);
/* What the last failed model_run hit: the node and op of the failing step and, for MODEL_ERR_INDEX,
   the Gather index and its axis size (lutc's LUT5008); for MODEL_ERR_DIM_BOUND the input (node), the
   dim (op), its value (index) and bound (size); for MODEL_ERR_SHAPE from the inputs the input (node),
   op "shape", the axis (index) and the size its dims give (size), and from a step the two sizes that
   differ (index, size). One record per process: read it on the
   thread that got the error, before another run fails. */
typedef struct model_error_info { const char *node; const char *op; long long index; long long size; } model_error_info;
const model_error_info *model_last_error(void);
${generateDecl}
#ifdef __cplusplus
}
#endif
#endif
`;
}

function renderSource(
  plan: ModelPlan,
  io: IoSlots,
  ins: CIo[],
  outs: CIo[],
  fns: string[],
  calls: string[],
  blob: Uint8Array | { readonly length: number },
  hash: number,
  embedded: boolean,
  ws: number,
  luts: LutLayers,
  threads: number,
): string {
  let weights = 'static const unsigned char *lutc_w = NULL;';
  if (embedded) {
    const rows: string[] = [];
    const b = blob as Uint8Array; // embedded: the bytes are in memory
    for (let i = 0; i < b.length; i += 24) rows.push(Array.from(b.subarray(i, i + 24)).join(','));
    // A union forces 8-byte alignment (int64 and double constants), portable C99 without attributes.
    weights = `static const union { unsigned char b[${Math.max(1, blob.length)}]; double d_; int64_t i_; } lutc_embedded = {{
${rows.join(',\n') || '0'}
}};
static const unsigned char *lutc_w = lutc_embedded.b;`;
  }
  // graph inputs: used in place when 16-byte aligned (as the workspace), else copied into their slot
  const copyIn = ins.map(
    (x, k) =>
      `  io[${k}] = ((uintptr_t)in->${x.field} & 15u) ? (memcpy(ws + ${x.placement.offset}, in->${x.field}, ${runtimeBytes(x.placement)}), (void *)(ws + ${x.placement.offset})) : (void *)in->${x.field};`,
  );
  // outputs a step writes: written in place when aligned, else into their slot and copied out
  const outPlace = outs.flatMap((x) => {
    const k = io.slot.get(x.placement.value);
    return k !== undefined && k >= ins.length
      ? [`  io[${k}] = ((uintptr_t)out->${x.field} & 15u) ? (void *)(ws + ${x.placement.offset}) : (void *)out->${x.field};`]
      : [];
  });
  const copyOut = outs.map((x) => {
    const p = x.placement;
    const shape = (p.dims ?? []).map((d, a) => `out->${x.field}_shape[${a}] = ${cDimExpr(d)};`).join(' ');
    const k = io.slot.get(io.rootOf(p.value));
    const src = k !== undefined ? `io[${k}]` : `${p.region === 'arena' ? 'ws' : 'W'} + ${p.offset}`;
    const copy = `memcpy(out->${x.field}, ${src}, ${runtimeBytes(p)});`;
    const inPlace = k !== undefined && k >= ins.length && io.rootOf(p.value) === p.value;
    return `  ${inPlace ? `if (io[${k}] != (void *)out->${x.field}) { ${copy} }` : copy}${shape ? `\n  ${shape}` : ''}`;
  });
  const nullChecks = [...ins.map((io) => `!in->${io.field}`), ...outs.map((io) => `!out->${io.field}`)];
  const helpers = ELEMENTWISE_HELPERS.replace(/^static /gm, 'LUTC_HELPER ');
  return `/* Generated by lutc: the whole model, one function per plan step (see model.h, docs/c-model.md).
   Build: cc -O3 -march=native -std=c99 -ffp-contract=off [-fopenmp] -c model.c   (never -ffast-math:
   the LUT tables must round exactly as lutc's reference does). */
#include "model.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#if defined(__GNUC__)
#  define LUTC_HELPER static __attribute__((unused))
#else
#  define LUTC_HELPER static
#endif
#define LUTC_ERR_INDEX MODEL_ERR_INDEX

${weights}
static int lutc_threads = ${threads};
static model_error_info lutc_err = { "", "", 0, 0 };
/* What every step reads besides the arena and weights: the runtime dims and the graph I/O buffers. */
typedef struct { const int64_t *D; void *const *io; int64_t kvcap; } lutc_run;
const model_error_info *model_last_error(void) { return &lutc_err; }
${helpers}
${plan.dimSources.length ? DIM_HELPERS.replace(/^static /gm, 'LUTC_HELPER ') : ''}
${luts.count || fns.some((f) => f.includes('lutc_par(')) ? POOL_C.replace(/^static void lutc_par\(/gm, 'LUTC_HELPER void lutc_par(') : ''}
${luts.renderKernels()}
${luts.renderLoader()}

${fns.join('\n\n')}

size_t model_workspace_size(void) { return ${ws}; }
size_t model_weights_size(void) { return ${blob.length}; }
/* emit.ts WeightHash: eight FNV-1a lanes over little-endian words, the tail into lane 0, then the
   lanes and the byte count folded into one value (the lane loop vectorizes). */
static uint32_t lutc_weight_hash(const unsigned char *b, size_t n) {
  uint32_t h[8];
  for (int l = 0; l < 8; l++) h[l] = 0x811c9dc5u + (uint32_t)l;
  const size_t blocks = n / 32;
  for (size_t j = 0; j < blocks; j++) {
    const unsigned char *p = b + 32 * j;
    uint32_t w[8];
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    memcpy(w, p, 32);
#else
    for (int l = 0; l < 8; l++) w[l] = (uint32_t)p[4 * l] | (uint32_t)p[4 * l + 1] << 8 | (uint32_t)p[4 * l + 2] << 16 | (uint32_t)p[4 * l + 3] << 24;
#endif
    for (int l = 0; l < 8; l++) h[l] = (h[l] ^ w[l]) * 0x01000193u;
  }
  for (size_t i = 32 * blocks; i < n; i++) h[0] = (h[0] ^ b[i]) * 0x01000193u;
  uint32_t d = 0x811c9dc5u;
  for (int l = 0; l < 8; l++) d = (d ^ h[l]) * 0x01000193u;
  d = (d ^ (uint32_t)n) * 0x01000193u;
  d = (d ^ (uint32_t)((unsigned long long)n >> 32)) * 0x01000193u;
  return d;
}
int model_load_weights(const void *blob, size_t n) {
${embedded ? '  if (!blob && n == 0) { const int rc = lutc_lut_load(lutc_embedded.b); if (rc == MODEL_OK) lutc_w = lutc_embedded.b; return rc; }\n' : ''}  if (!blob || ((uintptr_t)blob & 15u) != 0) return MODEL_ERR_ARGS;
  if (n != ${blob.length}u) return MODEL_ERR_WEIGHTS_SIZE;
  if (lutc_weight_hash((const unsigned char *)blob, n) != 0x${hash.toString(16).padStart(8, '0')}u) return MODEL_ERR_WEIGHTS_HASH;
  const int rc = lutc_lut_load((const unsigned char *)blob);
  if (rc != MODEL_OK) return rc;
  lutc_w = (const unsigned char *)blob;
  return MODEL_OK;
}
size_t model_loaded_bytes(void) { return lutc_lut_bytes; }
size_t model_packed_size(void) { return lutc_lut_image_bytes(); }
int model_save_packed(void *out, size_t n) {
  if (!out || n != lutc_lut_image_bytes()) return MODEL_ERR_ARGS;
  return lutc_lut_save((unsigned char *)out, 0x${hash.toString(16).padStart(8, '0')}u);
}
int model_load_packed(const void *blob, size_t n, const void *packed, size_t pn) {
${embedded ? '  if (!blob && n == 0) blob = lutc_embedded.b, n = ' + blob.length + 'u;\n' : ''}  if (!blob || ((uintptr_t)blob & 15u) != 0) return MODEL_ERR_ARGS;
  if (n != ${blob.length}u) return MODEL_ERR_WEIGHTS_SIZE;
  if (lutc_weight_hash((const unsigned char *)blob, n) != 0x${hash.toString(16).padStart(8, '0')}u) return MODEL_ERR_WEIGHTS_HASH;
  const int rc = lutc_lut_use((const unsigned char *)packed, pn, 0x${hash.toString(16).padStart(8, '0')}u);
  if (rc != MODEL_OK) return rc;
  lutc_w = (const unsigned char *)blob;
  return MODEL_OK;
}
void model_release(void) { lutc_lut_release(); }
void model_set_threads(int n) { lutc_threads = n > 0 ? n : 1; }
int model_run(const model_inputs *in, model_outputs *out, void *workspace) {
  unsigned char *ws = (unsigned char *)workspace;
  const unsigned char *W = lutc_w;
  int rc = 0;
  if (!in || !out || !ws || ((uintptr_t)ws & 15u) != 0${nullChecks.length ? ` || ${nullChecks.join(' || ')}` : ''}) return MODEL_ERR_ARGS;
  if (!W${plan.weightBytes === 0 ? ' && 0' : ''}) return MODEL_ERR_NO_WEIGHTS;
  if (!lutc_lut_ready && (rc = lutc_lut_load(W)) != MODEL_OK) return rc;
  (void)rc;
${renderDimPrologue(plan, ins)}
  void *io[${Math.max(1, io.count)}];
${renderKvCheck(io)}
${copyIn.join('\n')}
${outPlace.join('\n')}
${calls.join('\n')}
${copyOut.join('\n')}
  return MODEL_OK;
}
`;
}
