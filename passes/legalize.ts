/**
 * Pass `legalize` (artifact targets; a no-op for `ref`): rewrites every node whose op the target does
 * not render natively into ops it does, by one decomposition rule per op written once over graph ops
 * (TVM relax's LegalizeOps, tinygrad's late rewrite patterns): `RULES` maps an op name to
 * `rewrite(rewriter) -> results`. A rule may produce ops that are themselves rewritten (the pass
 * expands to a fixed point, depth first); a rule whose expansion reaches its own op again, or nests
 * deeper than MAX_DEPTH, is an internal error (LUT4050) naming the rule. Constant folding is the
 * `fold-constants` pass's (run just before); a node the expansion reaches (a rule's output included)
 * whose operands are all constants is folded through that pass's `foldConstantNode`, with its policy
 * (so Constant never needs a kernel; Shape and Size of static shapes become constants by their rules). A rule returns undefined when it cannot handle a node (pads computed at
 * run time, scatter indices computed at run time, ...): the node stays, and the backend then reports
 * its one coded "op not supported by the target" diagnostic naming it (LUT5003, on every target).
 *
 * The interpreters in ir/ops/ are the specification: each rule computes its op's interpreter exactly
 * for integer and bool results, and within float rounding for floats (each intermediate is rounded to
 * the operand type where the interpreter rounds once); test/ops-targets/op-target.test.ts checks every
 * op on every target. Rewritten nodes carry the original node's location, so diagnostics about them
 * name the node the user wrote. The native op sets come from the target registry (`nativeOps`).
 *
 * This file is the driver; the rules live by family in passes/legalize/ (activations, math,
 * reductions, data, lut, control, norms: one `Readonly<Record<string, Rule>>` each, mirroring
 * ir/ops/*.ts), the Rewriter and rule types in passes/legalize/rewriter.ts (re-exported here).
 * `RULES` merges the families (`RULE_FAMILIES`); their op keys are disjoint (an op in two families
 * is an error when this module loads, never an override; test/passes/legalize.test.ts checks it).
 */
import { fail, nodeLoc } from '../base/diagnostics.js';
import { GraphBuilder, removeDeadNodes, replaceAllUses, subgraphs, useLists } from '../ir/graph.js';
import { takeOverValue } from '../ir/lut/build.js';
import '../ir/ops/index.js';
import { getTarget } from '../backends/target.js';
import type { Graph, Node, Value } from '../ir/types.js';
import { foldConstantNode } from './fold-constants.js';
import { ACTIVATION_RULES } from './legalize/activations.js';
import { ATTENTION_RULES } from './legalize/attention.js';
import { CONTROL_RULES } from './legalize/control.js';
import { DATA_RULES } from './legalize/data.js';
import { LUT_RULES } from './legalize/lut.js';
import { MATH_RULES } from './legalize/math.js';
import { NORM_RULES } from './legalize/norms.js';
import { REDUCTION_RULES } from './legalize/reductions.js';
import { Rewriter, type Rule } from './legalize/rewriter.js';
import type { Pass } from './pass.js';

export { Rewriter, type Rule, type RuleResult } from './legalize/rewriter.js';

// ---- what each target renders ---------------------------------------------------------------------

/**
 * The ops target `target` renders natively (backends/target.ts: its backend's kernel tables); every
 * op for `ref`. The one place this pass reads the backends.
 */
export function nativeOps(target: string): ReadonlySet<string> {
  return getTarget(target).nativeOps;
}

// ---- rules ------------------------------------------------------------------------------------------

/** The rule families (passes/legalize/*.ts), by name; their op keys are disjoint. */
export const RULE_FAMILIES: Readonly<Record<string, Readonly<Record<string, Rule>>>> = {
  activations: ACTIVATION_RULES,
  math: MATH_RULES,
  reductions: REDUCTION_RULES,
  data: DATA_RULES,
  lut: LUT_RULES,
  control: CONTROL_RULES,
  norms: NORM_RULES,
  attention: ATTENTION_RULES,
};

/** The families' tables merged; an op with rules in two families is a load-time error, never an override. */
function mergeFamilies(families: Readonly<Record<string, Readonly<Record<string, Rule>>>>): Record<string, Rule> {
  const all: Record<string, Rule> = {};
  const from = new Map<string, string>();
  for (const [family, rules] of Object.entries(families)) {
    for (const [op, rule] of Object.entries(rules)) {
      const other = from.get(op);
      if (other) throw new Error(`internal: legalize rules for '${op}' in two families (${other}, ${family})`);
      from.set(op, family);
      all[op] = rule;
    }
  }
  return all;
}

/** The decomposition rules, one per op: the families' tables merged. */
export const RULES: Readonly<Record<string, Rule>> = mergeFamilies(RULE_FAMILIES);

// ---- the pass ---------------------------------------------------------------------------------------

/** Deepest nesting of rule expansions before the pass gives up (no rule here nests more than 4). */
export const MAX_DEPTH = 16;

export interface LegalizeOptions {
  /** The target (for rules that depend on it, e.g. float64 support). */
  target: string;
  /** Ops the target renders; nodes of other ops are rewritten. */
  native: ReadonlySet<string>;
  /** The rule table (default RULES); tests pass broken tables. */
  rules?: Readonly<Record<string, Rule>>;
}

/**
 * Rewrites every node of `g` whose op is not in `opts.native` by its rule, to a fixed point, in place.
 * Returns the ops rewritten (one entry per rewritten node, nested expansions included).
 */
export function legalizeGraph(g: Graph, opts: LegalizeOptions): string[] {
  const rules = opts.rules ?? RULES;
  const rewritten: string[] = [];
  const uses = useLists(g);
  const outs = new Set(g.outputs);
  const original = new Set(g.nodes);
  const live = (v: Value) => !v.producer || !original.has(v.producer) || outs.has(v) || (uses.get(v)?.length ?? 0) > 0;
  const b = new GraphBuilder(g);
  const subst = new Map<Value, Value>();
  const todo = g.nodes;
  g.nodes = [];

  const expand = (n: Node, chain: string[]): void => {
    n.inputs = n.inputs.map((v) => (v && subst.get(v)) ?? v);
    for (const sub of subgraphs(n)) for (const [from, to] of subst) replaceAllUses(sub, from, to);
    // constant operands: the fold-constants policy (its results are constants now; the node goes)
    if (n.inputs.every((v) => !v || v.const) && foldConstantNode(g, n)) return;
    if (opts.native.has(n.op)) {
      g.nodes.push(n);
      return;
    }
    if (chain.includes(n.op) || chain.length >= MAX_DEPTH) {
      fail(
        'LUT4050',
        `internal: the legalize rule for '${chain[0]}' does not terminate (expansion ${[...chain, n.op].join(' -> ')})`,
        nodeLoc(n, g.meta?.file),
      );
    }
    const rw = new Rewriter(b, n, opts.target, live);
    const mark = g.nodes.length;
    const nConst = g.constants.length;
    const rule = rules[n.op];
    const res = rule?.rewrite(rw);
    if (rule && !res) {
      g.nodes.length = mark; // a declining rule leaves nothing behind
      g.constants.length = nConst;
    }
    if (!res) {
      g.nodes.push(n);
      return;
    }
    const created = g.nodes.splice(mark);
    const mine = new Set(created);
    rewritten.push(n.op);
    const taken = new Map<Value, Value>(); // rule result -> the old result that took it over
    n.outputs.forEach((v, i) => {
      const r0 = res[i];
      if (!r0) {
        if (live(v))
          fail(
            'LUT4051',
            `internal: the legalize rule for '${n.op}' gave no value for result ${i}, which is used`,
            nodeLoc(n, g.meta?.file),
          );
        return;
      }
      const nv = taken.get(r0) ?? r0;
      const [ns, vs] = [nv.type.shape, v.type.shape];
      if (
        nv.type.dtype !== v.type.dtype ||
        ns.length !== vs.length ||
        ns.some((d, j) => typeof d === 'number' && typeof vs[j] === 'number' && d !== vs[j])
      ) {
        fail(
          'LUT4051',
          `internal: the legalize rule for '${n.op}' gave ${nv.type.dtype} [${nv.type.shape}] for result ${i}, expected ${v.type.dtype} [${v.type.shape}]`,
          nodeLoc(n, g.meta?.file),
        );
      }
      const p = nv.producer;
      if (!taken.has(r0) && p && mine.has(p)) {
        // the new value's producer takes over the old value, so its name and uses stay
        takeOverValue(p, p.outputs.indexOf(nv), v);
        taken.set(r0, v);
        for (const c of created) c.inputs = c.inputs.map((x) => (x === nv ? v : x));
        for (const c of created) for (const sub of subgraphs(c)) replaceAllUses(sub, nv, v);
      } else if (outs.has(v)) {
        // a graph output keeps its name: copy the existing value into it (a view op, free in the plan)
        const id = rw.ops('identity', [nv])[0]!;
        created.push(...g.nodes.splice(mark));
        takeOverValue(id.producer!, 0, v);
      } else subst.set(v, nv);
    });
    for (const c of created) expand(c, [...chain, n.op]);
  };

  for (const n of todo) expand(n, []);
  g.outputs = g.outputs.map((v) => subst.get(v) ?? v);
  removeDeadNodes(g);
  return rewritten;
}

export const legalize: Pass = {
  name: 'legalize',
  summary: 'rewrites ops the target does not render natively into ops it does (one rule per op, to a fixed point)',
  run(g, ctx) {
    if (ctx.opts.target === 'ref') return; // the interpreter runs every op
    legalizeGraph(g, { target: ctx.opts.target, native: nativeOps(ctx.opts.target) });
  },
};

/** Per-op status on a target for docs/op-support.md: native kernel, a legalize rule, or neither. */
export function opStatus(op: string, target: string): 'native' | 'rule' | 'none' {
  if (nativeOps(target).has(op)) return 'native';
  return RULES[op] ? 'rule' : 'none';
}
