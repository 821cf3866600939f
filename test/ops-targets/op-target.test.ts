/**
 * Every op of the op table on every target (tinygrad's test_ops.py is the model): each case of
 * cases.ts, a small graph with seeded random inputs of awkward shapes, runs on ref (the pipeline, then
 * the interpreter), C, WASM and WGSL (SwiftShader) and is compared with the reference interpreter on
 * the float graph, and the ONNX export of the case with onnxruntime-node where the op has an ONNX form.
 * The cases a target supports run as ONE artifact per target (one C program, one WASM module, one
 * WGSL model on a device opened once), so the whole file costs three compiles.
 *
 * Per case and target the status must be the documented one: native (the node survives the pipeline
 * and the backend renders it) or legalized (passes/legalize.ts rewrote it away) as passes/legalize.ts
 * opStatus() says, or unsupported, exactly when support.ts lists it, with exactly one coded diagnostic
 * naming the case's node. A listed case that starts compiling fails the test too.
 *
 * Tolerances (max|y - ref| / max|ref| per output, `maxRel`; integer and bool results exactly):
 * - the interpreter on the legalized graph vs on the original (the rules alone, in double-accurate
 *   kernels rounding each intermediate to f32), C and WASM: F32_EXACT (2e-6). Native kernels compute
 *   in double and round once (C, WASM transcendentals in f64 or JS Math) or in f32 per op; rules
 *   round each step to f32; the worst step is a few ulps of the largest output, e.g. exp(x) - 1 for
 *   elu near 0, or log2(n) rounded adds in cumsum.
 * - WGSL on SwiftShader: F32_EXACT too, except trigonometry (WGSL_TRIG below: WGSL's accuracy rules
 *   for its sin / cos builtins are absolute, 2^-11).
 * - LUT cases (int8 tables) vs the interpreter on the same lowered graph: LUT_VS_INTERP.
 * - onnxruntime vs the interpreter: ORT_F32 (ORT's float kernels vs our double-accurate ones).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import '../../ir/ops/index.js';
import { emitModel } from '../../backends/c/model/emit.js';
import { runArtifact as runC } from '../../backends/c/run.js';
import { buildModelModule } from '../../backends/wasm/model/module.js';
import { runArtifact as runWasm } from '../../backends/wasm/run.js';
import { type NodeGpu, openNodeGpu } from '../../backends/wgsl/device.js';
import { renderModel } from '../../backends/wgsl/model-shaders.js';
import { type Diagnostic, LutcError } from '../../base/diagnostics.js';
import { runPipeline } from '../../compiler/pipeline.js';
import { interpret } from '../../ir/interpret.js';
import { allOps, findOp } from '../../ir/optable.js';
import { isFloat } from '../../ir/tensor.js';
import type { Graph, Tensor } from '../../ir/types.js';
import { opStatus } from '../../passes/legalize.js';
import { TEST_FLAGS } from '../backends/c-model/helpers.js';
import { runWgsl } from '../backends/wgsl/helpers.js';
import { runOrt } from '../helpers/ort.js';
import { F32_EXACT, LUT_VS_INTERP, maxRel } from '../helpers/tolerance.js';
import { buildCases, CASES, type OpCase } from './cases.js';
import { toOnnx } from './onnx-export.js';
import { EXPECTED_UNSUPPORTED, TARGETS, type Target } from './support.js';

/**
 * WGSL's trigonometry on SwiftShader: WGSL bounds sin and cos only by an absolute error of 2^-11 on
 * [-pi, pi] (tan and the inverse functions inherit theirs from them), so that is the bound (4.9e-4);
 * measured: sin 1.8e-4, cos 1.8e-4, acos 2.5e-5, tan 1.2e-5. Every other WGSL result is F32_EXACT
 * (measured up to 2.3e-7).
 */
const WGSL_TRIG = 2 ** -11;
const TRIG = new Set(['sin', 'cos', 'tan', 'asin', 'acos', 'atan', 'sinh', 'cosh', 'asinh', 'acosh', 'atanh']);
/** onnxruntime-node vs the interpreter: ORT's f32 exp/erf/tanh/trig are a few ulps from double-accurate (measured up to 1.5e-7). */
const ORT_F32 = 1e-6;

const tolFor = (t: Target, k: OpCase) => (t === 'wgsl' && TRIG.has(k.op) ? WGSL_TRIG : F32_EXACT);

/** Renders the artifact in memory: what decides whether a target supports a graph. */
function render(t: Target, g: Graph): void {
  if (t === 'c') emitModel(g, { target: 'c' });
  else if (t === 'wasm') buildModelModule(g, { optimize: false });
  else renderModel(g);
}

type Status = 'native' | 'legalized' | 'unsupported';

interface CaseStatus {
  status: Status;
  diagnostics?: Diagnostic[];
  /** A non-diagnostic failure (a bug): its message. */
  error?: string;
}

function statusOf(k: OpCase, t: Target): CaseStatus {
  const { g } = buildCases([k]);
  try {
    runPipeline(g, { target: t });
    // fold-constants turns a case on constants (range, constant_of_shape, shape of a static tensor) into
    // constants on every target: where the target has the op, that counts as native
    const present = g.nodes.some((n) => n.op === k.op) || (g.nodes.length === 0 && opStatus(k.op, t) === 'native');
    render(t, g);
    return { status: present ? 'native' : 'legalized' };
  } catch (e) {
    if (e instanceof LutcError) return { status: 'unsupported', diagnostics: e.diagnostics };
    return { status: 'unsupported', error: (e as Error).stack ?? String(e) };
  }
}

/** Differences between `got` and `want` beyond `tol` (floats) or at all (ints, bools), as messages. */
function compare(label: string, got: Tensor[], want: Tensor[], tol: number, worst: Map<string, number>): string[] {
  const bad: string[] = [];
  for (const [i, w] of want.entries()) {
    const g = got[i];
    if (!g) {
      bad.push(`${label}: result ${i} missing`);
      continue;
    }
    if (g.dtype !== w.dtype || g.shape.join() !== w.shape.join()) {
      bad.push(`${label}: result ${i} is ${g.dtype} [${g.shape}], expected ${w.dtype} [${w.shape}]`);
      continue;
    }
    if (isFloat(w.dtype)) {
      const e = maxRel(g, w);
      worst.set(label, Math.max(worst.get(label) ?? 0, e));
      if (!(e <= tol)) bad.push(`${label}: result ${i} maxRel ${e.toExponential(2)} > ${tol}`);
    } else {
      const j = Array.from(w.data).findIndex((v, q) => v !== g.data[q]);
      if (j >= 0) bad.push(`${label}: result ${i} differs at ${j}: ${g.data[j]} vs ${w.data[j]}`);
    }
  }
  return bad;
}

/** The largest few errors, for restating the tolerances. */
function report(what: string, worst: Map<string, number>): void {
  const top = [...worst]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 5)
    .map(([k, v]) => `${k} ${v.toExponential(2)}`);
  console.log(`${what}: largest maxRel ${top.join(', ')}`);
}

const expected = (label: string, t: Target) => EXPECTED_UNSUPPORTED.find((u) => u.case === label && u.target === t);

let gpu: NodeGpu | undefined;
beforeAll(async () => {
  gpu = await openNodeGpu();
});
afterAll(() => gpu?.release());

describe('every op of the table on every target', () => {
  it('every op has a case, every case names an op, labels are unique, the list names real cases', () => {
    const ops = new Set(CASES.map((k) => k.op));
    expect(
      allOps()
        .map((d) => d.name)
        .filter((o) => !ops.has(o)),
    ).toEqual([]);
    expect(CASES.filter((k) => !findOp(k.op)).map((k) => k.op)).toEqual([]);
    expect(new Set(CASES.map((k) => k.label)).size).toBe(CASES.length);
    for (const u of EXPECTED_UNSUPPORTED) expect(CASES.find((k) => k.label === u.case)?.op, u.case).toBe(u.op);
  });

  it("ref: the pipeline keeps the interpreter's results; onnxruntime agrees where the op has an ONNX form", async () => {
    const bad: string[] = [];
    const worst = new Map<string, number>(),
      worstOrt = new Map<string, number>();
    for (const k of CASES) {
      const { g, feeds } = buildCases([k]);
      const want = k.lut ? undefined : interpret(g, feeds);
      if (want && !k.noOrt) {
        try {
          bad.push(...compare(`${k.label} (onnxruntime)`, await runOrt(toOnnx(g), feeds), want, ORT_F32, worstOrt));
        } catch (e) {
          bad.push(`${k.label}: onnxruntime failed: ${(e as Error).message.split('\n')[0]}`);
        }
      }
      runPipeline(g, { target: 'ref' });
      if (want) bad.push(...compare(k.label, interpret(g, feeds), want, F32_EXACT, worst));
    }
    report('ref vs onnxruntime', worstOrt);
    expect(bad).toEqual([]);
  });

  for (const t of TARGETS) {
    it(`${t}: each op native, legalized or listed as unsupported; all supported cases in one artifact match the interpreter`, async () => {
      const bad: string[] = [];
      const supported: OpCase[] = [];
      for (const k of CASES) {
        const s = statusOf(k, t);
        const listed = expected(k.label, t);
        if (s.error) bad.push(`${k.label}: ${s.error}`);
        else if (s.status === 'unsupported') {
          const d = s.diagnostics!;
          const names = buildCases([k]).opNodes[0]!;
          const loc = d[0]?.loc;
          if (!listed) bad.push(`${k.label}: unsupported but not listed: ${d.map((x) => `${x.code} ${x.message}`).join('; ')}`);
          else if (d.length !== 1 || loc?.kind !== 'node' || !names.includes(loc.node))
            bad.push(`${k.label}: expected one diagnostic naming ${names.join('/')}, got ${JSON.stringify(d)}`);
        } else {
          if (listed) bad.push(`${k.label}: listed as unsupported on ${t} (${listed.reason}) but compiles: remove it from support.ts`);
          const doc = opStatus(k.op, t);
          if ((s.status === 'native') !== (doc === 'native')) bad.push(`${k.label}: ${s.status}, but opStatus says ${doc}`);
          supported.push(k);
        }
      }
      // One artifact for every supported case.
      const ref = buildCases(supported);
      const want = interpret(ref.g, ref.feeds);
      const { g, feeds, outputs } = buildCases(supported);
      runPipeline(g, { target: t });
      const legal = interpret(g, feeds);
      const got =
        t === 'c'
          ? await runC(g, feeds, { target: 'c', cflags: TEST_FLAGS })
          : t === 'wasm'
            ? await runWasm(g, feeds, { target: 'wasm' })
            : await runWgsl(gpu!.device, g, feeds);
      const worstRule = new Map<string, number>(),
        worstT = new Map<string, number>();
      let at = 0;
      supported.forEach((k, i) => {
        const n = outputs[i]!.length;
        const sl = (ts: Tensor[]) => ts.slice(at, at + n);
        if (k.lut) bad.push(...compare(k.label, sl(got), sl(legal), LUT_VS_INTERP, worstT));
        else {
          bad.push(...compare(`${k.label} (legalized, interpreter)`, sl(legal), sl(want), F32_EXACT, worstRule));
          bad.push(...compare(k.label, sl(got), sl(want), tolFor(t, k), worstT));
        }
        at += n;
      });
      report(`${t}: rules in the interpreter`, worstRule);
      report(`${t}: artifact`, worstT);
      console.log(`${t}: ${supported.length} of ${CASES.length} cases supported`);
      expect(bad).toEqual([]);
    });
  }
});
