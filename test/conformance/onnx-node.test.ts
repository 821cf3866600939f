/**
 * ONNX backend conformance: runs every node test of Debian's libonnx-testdata
 * (/usr/share/libonnx-testdata/data/node/<test>/model.onnx + test_data_set_N/input_i.pb, output_i.pb)
 * through the importer and the reference interpreter, and pins the outcome of every one of them in
 * test/conformance/onnx-node.expected.txt, so the passing set can never shrink (or grow) silently.
 *
 * - Tolerance: ONNX's own backend-test defaults, rtol 1e-3 and atol 1e-7 (onnx/backend/test/runner:
 *   `np.testing.assert_allclose(ref, out, rtol=1e-3, atol=1e-7)`), for every float type; integers and
 *   bools must match exactly; NaN matches NaN, infinities must be equal.
 * - Each test case has one outcome: `pass`; `skip` with the reason, either `op DOMAIN.Type` (the first
 *   op of the model, subgraphs included, that findOpByOnnx does not know) or `import LUTnnnn: message`
 *   (the importer rejected it as unsupported: LUT1101 op, LUT1102 opset, LUT1002 element type, LUT1103
 *   attribute, LUT1107 non-tensor value); or `fail` (any other import error, a run-time error, or an
 *   output outside tolerance).
 * - The expected file lists every case as `pass NAME`, `skip NAME: REASON` or `fail NAME: REASON` (a
 *   known failure, with its reason written by hand). Each case is a vitest test that fails when its
 *   outcome differs from the file (a pass that fails or is skipped, a skip that passes or skips for
 *   another reason, a known failure that passes); a final test lists every difference at once,
 *   including cases new in the data and expected cases missing from it.
 * - Regenerate after a deliberate change, then review the diff of the expected file:
 *     LUTC_UPDATE_CONFORMANCE=1 npx vitest run test/conformance/onnx-node.test.ts
 *   It rewrites the pass and skip lines from this run and keeps the `fail` lines that still fail, with
 *   their reasons; a known failure that now passes becomes `pass`. It never adds a known failure: a
 *   case that newly fails still fails the run, until it is fixed or given a `fail` line by hand.
 * - LUTC_ONNX_TESTDATA may point at another data dir (another distro's layout or ONNX release). The
 *   pinned list describes Debian's default dir only, so elsewhere nothing is compared with it: skips
 *   are skips, failures fail unless the expected file lists them as known failures (a listed case that
 *   passes there is fine; newer releases fixed some of that data), and updating is refused.
 * - Without the test data the suite fails and says to install it (CI installs it).
 *
 * Prints `ONNX conformance: N cases, P passed, S skipped (M missing op, I importer), K known failures,
 * F unexpected failures` and the most common skip reasons.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import '../../ir/ops/index.js';
import { LutcError } from '../../base/diagnostics.js';
import { importOnnxFile, readTensorPb } from '../../compiler/onnx/index.js';
import { type IGraphProto, onnx } from '../../compiler/onnx/proto.js';
import { interpret } from '../../ir/interpret.js';
import { findOpByOnnx } from '../../ir/optable.js';
import { bf16BitsToNumber, makeTensor } from '../../ir/tensor.js';
import type { DType, Tensor } from '../../ir/types.js';

const DEFAULT_ROOT = '/usr/share/libonnx-testdata/data/node';
/** LUTC_ONNX_TESTDATA may point elsewhere (another distro's layout); the default is Debian's. */
const ROOT = process.env.LUTC_ONNX_TESTDATA ?? DEFAULT_ROOT;
/** The expected file pins the outcomes for the default data dir only. */
const PINNED = path.resolve(ROOT) === DEFAULT_ROOT;
const UPDATE = process.env.LUTC_UPDATE_CONFORMANCE === '1';
const EXPECTED_FILE = new URL('./onnx-node.expected.txt', import.meta.url).pathname;
const REGEN = 'LUTC_UPDATE_CONFORMANCE=1 npx vitest run test/conformance/onnx-node.test.ts';
const RTOL = 1e-3;
const ATOL = 1e-7;

/** Importer diagnostics that mean "lutc does not support this", so the test is skipped, not failed. */
const UNSUPPORTED_CODES = new Set(['LUT1101', 'LUT1102', 'LUT1002', 'LUT1103', 'LUT1107']);

/** ONNX op types (domain-qualified) used by a graph and its subgraphs. */
function opsOf(g: IGraphProto, out = new Set<string>()): Set<string> {
  for (const n of g.node ?? []) {
    const d = n.domain === 'ai.onnx' ? '' : (n.domain ?? '');
    out.add(`${d}|${n.opType ?? ''}`);
    for (const a of n.attribute ?? []) {
      if (a.g) opsOf(a.g, out);
      for (const sg of a.graphs ?? []) opsOf(sg, out);
    }
  }
  return out;
}

/** The first op of the model lutc has no definition for, or undefined when all are known. */
function missingOp(modelFile: string): string | undefined {
  const m = onnx.ModelProto.decode(fs.readFileSync(modelFile));
  for (const key of opsOf(m.graph ?? {})) {
    const [domain, type] = key.split('|') as [string, string];
    if (domain === '' && type === 'Constant') continue; // the importer turns Constant nodes into constants
    if (!findOpByOnnx(domain, type)) return `${domain || 'ai.onnx'}.${type}`;
  }
  return undefined;
}

function dataSets(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((d) => d.startsWith('test_data_set_'))
    .sort()
    .map((d) => path.join(dir, d));
}

function pbFiles(dir: string, prefix: 'input' | 'output'): string[] {
  return fs
    .readdirSync(dir)
    .filter((f) => f.startsWith(`${prefix}_`) && f.endsWith('.pb'))
    .sort((a, b) => parseInt(a.slice(prefix.length + 1), 10) - parseInt(b.slice(prefix.length + 1), 10))
    .map((f) => path.join(dir, f));
}

/**
 * The test data of this ONNX release stores bfloat16 tensors as UINT16 bit patterns (numpy has no
 * bfloat16); read them as the bf16 the model declares.
 */
function asDeclared(t: Tensor, dtype: DType | undefined): Tensor {
  if (t.dtype === 'u16' && dtype === 'bf16') return makeTensor('bf16', t.shape, Array.from(t.data, bf16BitsToNumber));
  return t;
}

/** Why `got` differs from `want` beyond tolerance, or undefined when they agree. */
export function compareTensors(got: Tensor, want: Tensor): string | undefined {
  if (got.dtype !== want.dtype) return `dtype ${got.dtype}, expected ${want.dtype}`;
  if (got.shape.join(',') !== want.shape.join(',')) return `shape [${got.shape}], expected [${want.shape}]`;
  const isFloat = ['f32', 'f16', 'bf16', 'f64'].includes(want.dtype);
  let bad = 0;
  let first = '';
  for (let i = 0; i < want.data.length; i++) {
    const g = got.data[i]!;
    const w = want.data[i]!;
    const ok = !isFloat
      ? g === w
      : Number.isNaN(w)
        ? Number.isNaN(g)
        : !Number.isFinite(w)
          ? g === w
          : Math.abs(g - w) <= ATOL + RTOL * Math.abs(w);
    if (!ok) {
      if (bad === 0) first = `element ${i}: got ${g}, expected ${w}`;
      bad++;
    }
  }
  return bad ? `${bad}/${want.data.length} elements differ; first at ${first}` : undefined;
}

type Kind = 'pass' | 'skip' | 'fail';
/** A case's outcome: for `skip` the reason; for an expected `fail` the hand-written reason, for an actual one the problems. */
interface Outcome {
  kind: Kind;
  reason: string;
}

/** The header of the expected file; regeneration writes it, and the counts line must match the entries. */
function expectedHeader(counts: Record<Kind, number>, total: number): string {
  return [
    '# Expected outcome of every libonnx-testdata node test (Debian, /usr/share/libonnx-testdata/data/node)',
    '# under test/conformance/onnx-node.test.ts, which fails when any case differs from this file.',
    '# One line per case, sorted by name: `pass NAME`, `skip NAME: REASON` (`op DOMAIN.Type` lutc lacks, or',
    '# `import LUTnnnn: message` from the importer), `fail NAME: REASON` (known failure, reason by hand).',
    `# Regenerate (keeps the fail lines that still fail; never adds one): ${REGEN}`,
    `# counts: ${total} cases, ${counts.pass} pass, ${counts.skip} skip, ${counts.fail} fail`,
  ].join('\n');
}

const LINE = /^(pass|skip|fail) ([A-Za-z0-9_.-]+)(?:: (.+))?$/;

/** Reads the expected file; throws on a malformed line, a duplicate, or a stale counts line. */
function readExpected(file: string): Map<string, Outcome> {
  const out = new Map<string, Outcome>();
  if (!fs.existsSync(file)) return out;
  let countsLine = '';
  fs.readFileSync(file, 'utf8')
    .split('\n')
    .forEach((line, i) => {
      if (line.startsWith('# counts: ')) countsLine = line;
      if (line === '' || line.startsWith('#')) return;
      const m = LINE.exec(line);
      const where = `${path.basename(file)}:${i + 1}`;
      if (!m || (m[1] === 'pass') !== (m[3] === undefined)) throw new Error(`${where}: malformed line '${line}'`);
      if (out.has(m[2]!)) throw new Error(`${where}: ${m[2]} listed twice`);
      out.set(m[2]!, { kind: m[1] as Kind, reason: m[3] ?? '' });
    });
  const n = { pass: 0, skip: 0, fail: 0 };
  for (const o of out.values()) n[o.kind]++;
  const want = `# counts: ${out.size} cases, ${n.pass} pass, ${n.skip} skip, ${n.fail} fail`;
  if (countsLine !== want)
    throw new Error(`${path.basename(file)}: counts line '${countsLine}' should be '${want}': regenerate (${REGEN})`);
  return out;
}

function writeExpected(file: string, entries: Map<string, Outcome>): void {
  const n = { pass: 0, skip: 0, fail: 0 };
  const lines: string[] = [];
  for (const name of [...entries.keys()].sort()) {
    const o = entries.get(name)!;
    n[o.kind]++;
    lines.push(o.kind === 'pass' ? `pass ${name}` : `${o.kind} ${name}: ${o.reason}`);
  }
  fs.writeFileSync(file, `${expectedHeader(n, entries.size)}\n${lines.join('\n')}\n`);
}

function describeOutcome(o: Outcome | undefined): string {
  if (!o) return 'not listed';
  return o.kind === 'pass' ? 'pass' : `${o.kind} (${o.reason.length > 300 ? `${o.reason.slice(0, 300)}...` : o.reason})`;
}

/** Why the actual outcome does not match the expected one, or undefined when it does. */
function mismatch(name: string, want: Outcome | undefined, got: Outcome): string | undefined {
  if (!want) return `${name}: new case, not in the expected list (got ${describeOutcome(got)})`;
  if (want.kind !== got.kind || (want.kind === 'skip' && want.reason !== got.reason)) {
    return `${name}: expected ${describeOutcome(want)}, got ${describeOutcome(got)}`;
  }
  return undefined;
}

/** Runs one case: its outcome, never throwing. */
function runCase(name: string): Outcome {
  const dir = path.join(ROOT, name);
  const missing = missingOp(path.join(dir, 'model.onnx'));
  if (missing) return { kind: 'skip', reason: `op ${missing}` };
  let graph: ReturnType<typeof importOnnxFile>;
  try {
    graph = importOnnxFile(path.join(dir, 'model.onnx'));
  } catch (e) {
    const d = e instanceof LutcError ? e.diagnostics.find((x) => UNSUPPORTED_CODES.has(x.code)) : undefined;
    if (d) return { kind: 'skip', reason: `import ${d.code}: ${d.message}` };
    return { kind: 'fail', reason: `import: ${(e as Error).message}` };
  }
  const problems: string[] = [];
  try {
    for (const ds of dataSets(dir)) {
      const ins = pbFiles(ds, 'input').map((f, i) => asDeclared(readTensorPb(f), graph.inputs[i]?.type.dtype));
      const wants = pbFiles(ds, 'output').map((f, i) => asDeclared(readTensorPb(f), graph.outputs[i]?.type.dtype));
      const feeds: Record<string, Tensor> = {};
      graph.inputs.forEach((v, i) => {
        if (ins[i]) feeds[v.name] = ins[i];
      });
      const outs = interpret(graph, feeds);
      wants.forEach((w, i) => {
        const got = outs[i];
        const why = got ? compareTensors(got, w) : 'missing output';
        if (why) problems.push(`${path.basename(ds)} output ${i} (${graph.outputs[i]?.name}): ${why}`);
      });
    }
  } catch (e) {
    problems.push(String((e as Error).message));
  }
  return problems.length ? { kind: 'fail', reason: problems.join('; ') } : { kind: 'pass', reason: '' };
}

if (!fs.existsSync(ROOT)) {
  describe('ONNX conformance', () => {
    it('needs libonnx-testdata', () => {
      throw new Error(`${ROOT} is missing: install Debian's libonnx-testdata (apt-get install libonnx-testdata); CI installs it`);
    });
  });
} else {
  const tests = fs
    .readdirSync(ROOT)
    .filter((d) => fs.existsSync(path.join(ROOT, d, 'model.onnx')))
    .sort();
  const expected = readExpected(EXPECTED_FILE);
  const actual = new Map<string, Outcome>();

  describe('ONNX conformance (libonnx-testdata node tests)', () => {
    afterAll(() => {
      const n = { pass: 0, skip: 0, fail: 0, known: 0, missingOp: 0, importer: 0 };
      const reasons = new Map<string, number>();
      for (const [name, o] of actual) {
        if (o.kind === 'fail' && expected.get(name)?.kind === 'fail') n.known++;
        else n[o.kind]++;
        if (o.kind === 'skip') {
          if (o.reason.startsWith('op ')) n.missingOp++;
          else n.importer++;
          const key = o.reason.split(':')[0]!;
          reasons.set(key, (reasons.get(key) ?? 0) + 1);
        }
      }
      const top = [...reasons.entries()]
        .sort((a, b) => b[1] - a[1])
        .slice(0, 12)
        .map(([r, k]) => `${r} x${k}`);
      console.log(
        `ONNX conformance: ${actual.size} cases, ${n.pass} passed, ${n.skip} skipped (${n.missingOp} missing op, ` +
          `${n.importer} importer), ${n.known} known failures, ${n.fail} unexpected failures` +
          (PINNED ? '' : ` (data dir ${ROOT}: not compared with the expected list)`),
      );
      console.log(`  most common skip reasons: ${top.join('; ')}`);
    });

    it('finds the test data', () => {
      expect(tests.length).toBeGreaterThan(100);
    });

    for (const name of tests) {
      it(name, (ctx) => {
        const got = runCase(name);
        actual.set(name, got);
        const want = expected.get(name);
        if (PINNED && !UPDATE) {
          const why = mismatch(name, want, got);
          if (why) throw new Error(`${why}\n(if the change is deliberate, regenerate: ${REGEN})`);
        } else if (got.kind === 'fail' && want?.kind !== 'fail') {
          throw new Error(
            `${name} fails: ${got.reason}\n(fix it, or add 'fail ${name}: REASON' to ${path.basename(EXPECTED_FILE)} by hand)`,
          );
        }
        if (got.kind === 'skip') ctx.skip(got.reason);
      });
    }

    it('matches the expected list (test/conformance/onnx-node.expected.txt)', (ctx) => {
      if (!PINNED) {
        if (UPDATE) throw new Error(`LUTC_UPDATE_CONFORMANCE needs the default data dir ${DEFAULT_ROOT}, not ${ROOT}`);
        ctx.skip(`data dir ${ROOT} is not the default ${DEFAULT_ROOT}: the expected list does not apply`);
        return;
      }
      const notRun = tests.filter((t) => !actual.has(t));
      if (UPDATE) {
        if (notRun.length) throw new Error(`not updating: ${notRun.length} cases did not run (run the whole file, no -t filter)`);
        const entries = new Map<string, Outcome>();
        const unlisted: string[] = [];
        for (const [name, got] of actual) {
          const want = expected.get(name);
          if (got.kind !== 'fail') entries.set(name, got);
          else if (want?.kind === 'fail') entries.set(name, want);
          else unlisted.push(name);
        }
        writeExpected(EXPECTED_FILE, entries);
        console.log(`wrote ${EXPECTED_FILE}: review its diff`);
        expect(unlisted, 'new failures are never pinned by regeneration: fix them or add fail lines by hand').toEqual([]);
        return;
      }
      if (!fs.existsSync(EXPECTED_FILE)) throw new Error(`${EXPECTED_FILE} is missing: regenerate it (${REGEN})`);
      const diffs: string[] = [];
      for (const name of [...expected.keys()].filter((t) => !tests.includes(t))) {
        diffs.push(`${name}: expected ${describeOutcome(expected.get(name))}, but the case is missing from ${ROOT}`);
      }
      for (const [name, got] of actual) {
        const why = mismatch(name, expected.get(name), got);
        if (why) diffs.push(why);
      }
      if (diffs.length) {
        throw new Error(
          `${diffs.length} difference(s) from ${path.basename(EXPECTED_FILE)}:\n  ${diffs.join('\n  ')}\n` +
            `If every change is deliberate, regenerate: ${REGEN}, and review the diff.`,
        );
      }
      if (notRun.length) ctx.skip(`${notRun.length} cases did not run (filtered), not compared`);
    });
  });
}
