/**
 * IR printer: the textual form of a Graph (grammar in docs/ir-text.md). Deterministic, and read back
 * by `ir/parser.ts` so that print -> parse -> print is byte-identical. Attribute kinds come from the
 * op table's AttrSpecs (an int attribute prints `3`, a float one `3.0`), attributes print in the order
 * the op declares them, and every result is typed.
 */

import { isGraph } from './graph.js';
import { type AttrSpec, findOp } from './optable.js';
import { isBareIdent, quote, sigilName } from './text/lexer.js';
import { encodeBase64, formatElement, formatFloatAttr, tensorBytes } from './text/literals.js';
import type { AttrValue, Graph, ModelMeta, Node, Tensor, TensorType, Value } from './types.js';

export interface PrintOptions {
  /** Print constants (and tensor attributes) with more elements than this as `dense_elided<...>`: for human dumps; such text does not parse. */
  elideConstantsOver?: number;
}

/** Tensors up to this many elements print as literal lists, larger ones as base64 bytes. */
export const INLINE_ELEMENTS = 16;

/** `f32[batch, 64]`; symbolic dims bare when they are plain identifiers, else quoted. */
export function printType(t: TensorType): string {
  return `${t.dtype}[${t.shape.map((d) => (typeof d === 'number' ? String(d) : isBareIdent(d) ? d : quote(d))).join(', ')}]`;
}

/** `%name` with quotes when the name is not plain. */
export function printValueName(v: Value | string): string {
  return sigilName('%', typeof v === 'string' ? v : v.name);
}

/** A tensor literal: its type, then its elements (`[1.0, 2.0]`) or `dense<"base64">`. */
export function printTensor(t: Tensor, opts: PrintOptions = {}): string {
  const type = printType(t);
  const n = t.data.length;
  if (opts.elideConstantsOver !== undefined && n > opts.elideConstantsOver) return `${type} dense_elided<"${n} elements">`;
  if (n <= INLINE_ELEMENTS) return `${type} [${Array.from(t.data, (x) => formatElement(t.dtype, x)).join(', ')}]`;
  return `${type} dense<"${encodeBase64(tensorBytes(t))}">`;
}

/** The whole graph as text, ending in a newline. */
export function printGraph(g: Graph, opts: PrintOptions = {}): string {
  const out: string[] = [];
  new Printer(out, opts).graph(g, '', '');
  return out.join('\n') + '\n';
}

/** One node on one line (nested graphs included, on several), for diagnostics and debugging. */
export function printNode(n: Node, opts: PrintOptions = {}): string {
  const out: string[] = [];
  new Printer(out, opts).node(n, '');
  return out.join('\n');
}

class Printer {
  constructor(
    private readonly out: string[],
    private readonly opts: PrintOptions,
  ) {}

  /** Prints `g`; `head` is text before `graph` on the first line (an attribute key when nested). */
  graph(g: Graph, indent: string, head: string): void {
    const params = g.inputs.map((v) => `${printValueName(v)}: ${printType(v.type)}`).join(', ');
    const meta = g.meta ? printMeta(g.meta) : '';
    this.out.push(`${indent}${head}graph ${sigilName('@', g.name)}(${params})${meta} {`);
    const inner = indent + '  ';
    for (const c of g.constants) {
      const body = c.const ? printTensor(c.const, this.opts) : `${printType(c.type)} dense_elided<"missing">`;
      this.out.push(`${inner}${printValueName(c)} = const ${body}`);
    }
    for (const n of g.nodes) this.node(n, inner);
    const rets = g.outputs.map(printValueName).join(', ');
    this.out.push(`${inner}return${rets ? ' ' + rets : ''}`);
    this.out.push(`${indent}}`);
  }

  node(n: Node, indent: string): void {
    const lhs = n.outputs.length ? `${n.outputs.map(printValueName).join(', ')} = ` : '';
    const operands = n.inputs.map((v) => (v ? printValueName(v) : '_')).join(', ');
    const types = n.outputs.length ? ` : ${n.outputs.map((v) => printType(v.type)).join(', ')}` : '';
    const tail = `${types} ${sigilName('@', n.name)}`;
    const head = `${indent}${lhs}${n.op}(${operands})`;
    const entries = orderedAttrs(n);
    if (entries.length === 0) {
      this.out.push(head + tail);
      return;
    }
    if (!entries.some(([, v]) => isGraph(v))) {
      const body = entries.map(([k, v, spec]) => `${printKey(k)} = ${this.attr(v, spec)}`).join(', ');
      this.out.push(`${head} {${body}}${tail}`);
      return;
    }
    // Graph-valued attributes: one attribute per line, nested graphs indented.
    this.out.push(`${head} {`);
    const inner = indent + '  ';
    entries.forEach(([k, v, spec], i) => {
      const comma = i < entries.length - 1 ? ',' : '';
      if (isGraph(v)) {
        this.graph(v, inner, `${printKey(k)} = `);
        this.out[this.out.length - 1] += comma;
      } else this.out.push(`${inner}${printKey(k)} = ${this.attr(v, spec)}${comma}`);
    });
    this.out.push(`${indent}}${tail}`);
  }

  private attr(v: AttrValue, spec: AttrSpec | undefined): string {
    if (typeof v === 'number') return spec?.type === 'float' || (!spec && !Number.isInteger(v)) ? formatFloatAttr(v) : String(v);
    if (typeof v === 'string') return quote(v);
    if (Array.isArray(v)) {
      const floats = spec?.type === 'floats' || (!spec && v.some((x) => typeof x === 'number' && !Number.isInteger(x)));
      return `[${(v as (number | string)[]).map((x) => (typeof x === 'string' ? quote(x) : floats ? formatFloatAttr(x) : String(x))).join(', ')}]`;
    }
    if (isGraph(v)) throw new Error('graph attributes are printed by Printer.node'); // unreachable
    return printTensor(v, this.opts);
  }
}

/** Attributes in the op's declaration order, then any the op does not declare (sorted; the verifier rejects them). */
function orderedAttrs(n: Node): [string, AttrValue, AttrSpec | undefined][] {
  const specs = findOp(n.op)?.attrs ?? {};
  const out: [string, AttrValue, AttrSpec | undefined][] = [];
  for (const [k, spec] of Object.entries(specs)) {
    const v = n.attrs[k];
    if (v !== undefined) out.push([k, v, spec]);
  }
  for (const k of Object.keys(n.attrs).sort()) {
    const v = n.attrs[k];
    if (!(k in specs) && v !== undefined) out.push([k, v, undefined]);
  }
  return out;
}

function printKey(k: string): string {
  return isBareIdent(k) ? k : quote(k);
}

function printDict(d: Record<string, number>): string {
  return `{${Object.keys(d)
    .sort()
    .map((k) => `${printKey(k)} = ${d[k]}`)
    .join(', ')}}`;
}

/** ` meta {...}` with the model facts worth keeping (the file path is not: the parser records its own). */
function printMeta(m: ModelMeta): string {
  const parts: string[] = [];
  if (m.producer !== undefined) parts.push(`producer = ${quote(m.producer)}`);
  if (m.opsets) parts.push(`opsets = ${printDict(m.opsets)}`);
  if (m.dimBindings) parts.push(`dim_bindings = ${printDict(m.dimBindings)}`);
  return parts.length ? ` meta {${parts.join(', ')}}` : '';
}
