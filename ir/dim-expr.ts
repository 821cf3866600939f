/**
 * Dim expressions: the symbolic sizes of runtime dims. A `Dim` (ir/types.ts) is a number or a string;
 * a string is a symbol (an ONNX dim_param such as `sequence_length`) or an integer expression over
 * symbols in one canonical text form, so two equal expressions are equal strings and every consumer
 * that compares dims with `===` keeps working:
 *
 *   sum     := term (' + ' term | ' - ' term)*        terms sorted by monomial, constant last
 *   term    := [coef '*'] atom ('*' atom)*  |  integer
 *   atom    := identifier | '`' any-but-backtick '`' | 'floor(' sum ' / ' k ')' | 'min(' sum ', ' sum ')' | 'max(' sum ', ' sum ')'
 *
 * Expressions are polynomials with integer coefficients over atoms; floor division by a positive
 * constant, min and max stay atoms when they cannot be simplified. Every symbol is a size (>= 0):
 * simplification relies on that (a polynomial with non-negative coefficients is >= 0). A string that
 * does not parse (an odd dim_param) is one atom. `evalDim` evaluates an expression for runtime dims;
 * `dimUpperBound` bounds it from the symbols' bounds (`--max-dim`).
 */
import type { Dim } from './types.js';

/** One monomial: atoms in sorted order (repeats allowed) -> coefficient. */
type Poly = Map<string, number>;

const IDENT = /^[A-Za-z_][A-Za-z0-9_.]*$/;

// ---- parsing ----------------------------------------------------------------------------------------

class Parser {
  private i = 0;
  constructor(private readonly s: string) {}
  parse(): Poly | undefined {
    const p = this.sum();
    this.ws();
    return p && this.i === this.s.length ? p : undefined;
  }
  private ws() {
    while (this.s[this.i] === ' ') this.i++;
  }
  private eat(t: string): boolean {
    this.ws();
    if (this.s.startsWith(t, this.i)) {
      this.i += t.length;
      return true;
    }
    return false;
  }
  private sum(): Poly | undefined {
    let acc = this.product();
    if (!acc) return undefined;
    for (;;) {
      if (this.eat('+')) {
        const t = this.product();
        if (!t) return undefined;
        acc = addPoly(acc, t, 1);
      } else if (this.eat('-')) {
        const t = this.product();
        if (!t) return undefined;
        acc = addPoly(acc, t, -1);
      } else return acc;
    }
  }
  private product(): Poly | undefined {
    let acc = this.factor();
    if (!acc) return undefined;
    while (this.eat('*')) {
      const f = this.factor();
      if (!f) return undefined;
      acc = mulPoly(acc, f);
    }
    return acc;
  }
  private factor(): Poly | undefined {
    this.ws();
    const rest = this.s.slice(this.i);
    const num = /^\d+/.exec(rest);
    if (num) {
      this.i += num[0].length;
      return constPoly(Number(num[0]));
    }
    if (this.eat('(')) {
      const p = this.sum();
      return p && this.eat(')') ? p : undefined;
    }
    if (this.eat('`')) {
      const j = this.s.indexOf('`', this.i);
      if (j < 0) return undefined;
      const name = this.s.slice(this.i, j);
      this.i = j + 1;
      return atomPoly(quoteAtom(name));
    }
    for (const fn of ['floor', 'min', 'max'] as const) {
      if (new RegExp(`^${fn}\\s*\\(`).test(rest)) {
        this.i += rest.indexOf('(') + 1;
        const a = this.sum();
        if (!a) return undefined;
        if (fn === 'floor') {
          if (!this.eat('/')) return undefined;
          const k = this.factor();
          const kv = k && constOf(k);
          if (kv === undefined || kv <= 0 || !this.eat(')')) return undefined;
          return floorDivPoly(a, kv);
        }
        if (!this.eat(',')) return undefined;
        const b = this.sum();
        if (!b || !this.eat(')')) return undefined;
        return minMaxPoly(a, b, fn);
      }
    }
    const id = /^[A-Za-z_][A-Za-z0-9_.]*/.exec(rest);
    if (id) {
      this.i += id[0].length;
      return atomPoly(id[0]);
    }
    return undefined;
  }
}

const parsed = new Map<string, Poly>();

/** The polynomial of a dim (a string that does not parse is one atom). */
function polyOf(d: Dim): Poly {
  if (typeof d === 'number') return constPoly(d);
  let p = parsed.get(d);
  if (!p) {
    p = new Parser(d).parse() ?? atomPoly(quoteAtom(d));
    if (parsed.size > 1 << 16) parsed.clear();
    parsed.set(d, p);
  }
  return p;
}

function quoteAtom(name: string): string {
  return IDENT.test(name) ? name : `\`${name.replace(/`/g, "'")}\``;
}

// ---- polynomial arithmetic --------------------------------------------------------------------------

const constPoly = (n: number): Poly => (n === 0 ? new Map() : new Map([['', n]]));
const atomPoly = (a: string): Poly => new Map([[a, 1]]);

function addPoly(a: Poly, b: Poly, sign: number): Poly {
  const out = new Map(a);
  for (const [m, c] of b) {
    const v = (out.get(m) ?? 0) + sign * c;
    if (v === 0) out.delete(m);
    else out.set(m, v);
  }
  return out;
}

const atomsOf = (m: string): string[] => (m === '' ? [] : splitTop(m, '*'));

function mulMono(a: string, b: string): string {
  return [...atomsOf(a), ...atomsOf(b)].sort().join('*');
}

function mulPoly(a: Poly, b: Poly): Poly {
  let out: Poly = new Map();
  for (const [ma, ca] of a) for (const [mb, cb] of b) out = addPoly(out, new Map([[mulMono(ma, mb), ca * cb]]), 1);
  return out;
}

function constOf(p: Poly): number | undefined {
  if (p.size === 0) return 0;
  if (p.size === 1 && p.has('')) return p.get('')!;
  return undefined;
}

/** True when every coefficient is >= 0 (then the value is >= 0, symbols being sizes). */
const nonNegative = (p: Poly): boolean => [...p.values()].every((c) => c >= 0);

function floorDivPoly(a: Poly, k: number): Poly {
  if (k === 1) return a;
  const c = constOf(a);
  if (c !== undefined) return constPoly(Math.floor(c / k));
  if ([...a.values()].every((v) => v % k === 0)) return new Map([...a].map(([m, v]) => [m, v / k]));
  return atomPoly(`floor(${fromPoly(a)} / ${k})`);
}

function minMaxPoly(a: Poly, b: Poly, fn: 'min' | 'max'): Poly {
  const d = addPoly(a, b, -1); // a - b
  const dc = constOf(d);
  const aGe = dc !== undefined ? dc >= 0 : nonNegative(d);
  const bGe = dc !== undefined ? dc <= 0 : nonNegative(addPoly(b, a, -1));
  if (aGe) return fn === 'max' ? a : b;
  if (bGe) return fn === 'max' ? b : a;
  const [x, y] = [fromPoly(a), fromPoly(b)].map(String).sort();
  return atomPoly(`${fn}(${x}, ${y})`);
}

const minMax = (a: Poly, b: Poly, fn: 'min' | 'max'): Dim => fromPoly(minMaxPoly(a, b, fn));

/** Splits `s` at `sep` outside parentheses and backticks. */
function splitTop(s: string, sep: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quoted = false;
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    if (ch === '`') quoted = !quoted;
    else if (!quoted && ch === '(') depth++;
    else if (!quoted && ch === ')') depth--;
    else if (!quoted && depth === 0 && s.startsWith(sep, i)) {
      out.push(s.slice(start, i));
      start = i + sep.length;
      i += sep.length - 1;
    }
  }
  out.push(s.slice(start));
  return out;
}

/** Canonical text (or the number) of a polynomial. */
function fromPoly(p: Poly): Dim {
  const c = constOf(p);
  if (c !== undefined) return c;
  const monos = [...p.keys()].filter((m) => m !== '').sort();
  // A lone odd name prints as it was given (it parses back as the same one atom).
  if (monos.length === 1 && p.size === 1 && p.get(monos[0]!) === 1 && /^`[^`]*`$/.test(monos[0]!)) return monos[0]!.slice(1, -1);
  let s = '';
  for (const m of monos) {
    const v = p.get(m)!;
    const mag = Math.abs(v) === 1 ? m : `${Math.abs(v)}*${m}`;
    s += s === '' ? (v < 0 ? `-${mag}` : mag) : v < 0 ? ` - ${mag}` : ` + ${mag}`;
  }
  const k = p.get('');
  if (k) s += k < 0 ? ` - ${-k}` : ` + ${k}`;
  // A leading minus would not parse back as a sum: write 0 - x.
  return s.startsWith('-') ? `0 - ${s.slice(1)}` : s;
}

// ---- the API ----------------------------------------------------------------------------------------

/** The canonical form of a dim (a parsed expression re-printed; numbers stay numbers). */
export function canonicalDim(d: Dim): Dim {
  return fromPoly(polyOf(d));
}

export const dimAdd = (a: Dim, b: Dim): Dim => fromPoly(addPoly(polyOf(a), polyOf(b), 1));
export const dimSub = (a: Dim, b: Dim): Dim => fromPoly(addPoly(polyOf(a), polyOf(b), -1));
export const dimMul = (a: Dim, b: Dim): Dim => fromPoly(mulPoly(polyOf(a), polyOf(b)));
export const dimMin = (a: Dim, b: Dim): Dim => minMax(polyOf(a), polyOf(b), 'min');
export const dimMax = (a: Dim, b: Dim): Dim => minMax(polyOf(a), polyOf(b), 'max');

/** floor(a / b); undefined when b is not a positive integer constant. */
export function dimFloorDiv(a: Dim, b: Dim): Dim | undefined {
  if (typeof b !== 'number' || !Number.isInteger(b) || b <= 0) return undefined;
  return fromPoly(floorDivPoly(polyOf(a), b));
}

/** ceil(a / b) for a positive integer constant b. */
export function dimCeilDiv(a: Dim, b: Dim): Dim | undefined {
  if (typeof b !== 'number' || !Number.isInteger(b) || b <= 0) return undefined;
  return fromPoly(floorDivPoly(polyOf(dimAdd(a, b - 1)), b));
}

/**
 * a / b exactly, when b divides a as polynomials with b one monomial (c * atoms): the -1 of a
 * Reshape. Undefined when it does not divide.
 */
export function dimExactDiv(a: Dim, b: Dim): Dim | undefined {
  const pb = polyOf(b);
  if (pb.size !== 1) return undefined;
  const [mb, cb] = [...pb][0]!;
  if (cb === 0) return undefined;
  const divAtoms = atomsOf(mb);
  const out: Poly = new Map();
  for (const [m, c] of polyOf(a)) {
    if (c % cb !== 0) return undefined;
    const atoms = atomsOf(m);
    for (const x of divAtoms) {
      const j = atoms.indexOf(x);
      if (j < 0) return undefined;
      atoms.splice(j, 1);
    }
    out.set(atoms.join('*'), c / cb);
  }
  return fromPoly(out);
}

/** Whether a dim is known to be >= 0 (always true of sizes; false only for a negative constant or e.g. `a - b`). */
export function dimNonNegative(d: Dim): boolean {
  return nonNegative(polyOf(d));
}

/** a == b: true, false, or undefined when it depends on the runtime dims. */
export function dimEquals(a: Dim, b: Dim): boolean | undefined {
  const d = constOf(addPoly(polyOf(a), polyOf(b), -1));
  if (d !== undefined) return d === 0;
  return undefined;
}

/**
 * How a compares with b for every value of the runtime dims: -1, 0 or 1 when decided, 'ge' / 'le'
 * when only a >= b / a <= b is known, undefined when it depends on the dims.
 */
export function dimCompare(a: Dim, b: Dim): -1 | 0 | 1 | 'ge' | 'le' | undefined {
  const p = addPoly(polyOf(a), polyOf(b), -1);
  const c = constOf(p);
  if (c !== undefined) return c === 0 ? 0 : c > 0 ? 1 : -1;
  if (nonNegative(p)) return (p.get('') ?? 0) >= 1 ? 1 : 'ge';
  const q = addPoly(new Map(), p, -1);
  if (nonNegative(q)) return (q.get('') ?? 0) >= 1 ? -1 : 'le';
  return undefined;
}

/** The symbols (identifiers and quoted names) a dim depends on, sorted. */
export function dimSymbols(d: Dim): string[] {
  const out = new Set<string>();
  const visit = (p: Poly) => {
    for (const m of p.keys()) for (const a of atomsOf(m)) visitAtom(a);
  };
  const visitAtom = (a: string) => {
    if (IDENT.test(a)) out.add(a);
    else if (a.startsWith('`')) out.add(a.slice(1, -1));
    else {
      const inner = a.slice(a.indexOf('(') + 1, -1);
      for (const part of splitTop(inner, a.startsWith('floor') ? ' / ' : ', ')) visit(polyOf(part));
    }
  };
  visit(polyOf(d));
  return [...out].sort();
}

/**
 * The value of a polynomial with each symbol's value from `env`, composite atoms from their parts;
 * `upper`: an upper bound instead, for symbols in [0, env[symbol]] (a negative term counts as 0).
 */
function evalPoly(p: Poly, env: Readonly<Record<string, number>>, upper: boolean): number | undefined {
  let sum = 0;
  for (const [m, c] of p) {
    if (upper && c < 0 && m !== '') continue; // a negative term is at most 0
    let v = c;
    for (const a of atomsOf(m)) {
      const x = IDENT.test(a) ? env[a] : a.startsWith('`') ? env[a.slice(1, -1)] : evalAtom(a, (q) => evalPoly(q, env, upper));
      if (x === undefined) return undefined;
      v *= x;
    }
    sum += v;
  }
  return sum;
}

/** The value of a composite atom from the values of its parts. */
function evalAtom(a: string, value: (p: Poly) => number | undefined): number | undefined {
  const inner = a.slice(a.indexOf('(') + 1, -1);
  if (a.startsWith('floor(')) {
    const [x, k] = splitTop(inner, ' / ').map((s) => value(polyOf(s)));
    return x === undefined || k === undefined ? undefined : Math.floor(x / k);
  }
  const [x, y] = splitTop(inner, ', ').map((s) => value(polyOf(s)));
  if (x === undefined || y === undefined) return undefined;
  return a.startsWith('min(') ? Math.min(x, y) : Math.max(x, y);
}

/** The value of `d` for runtime dims `env` (symbol -> size); undefined when a symbol is missing. */
export function evalDim(d: Dim, env: Readonly<Record<string, number>>): number | undefined {
  return typeof d === 'number' ? d : evalPoly(polyOf(d), env, false);
}

/**
 * An upper bound of `d` when every symbol lies in [0, bounds[symbol]]: positive terms at the bounds,
 * negative terms at 0 (so it is exact for the non-negative polynomials shapes are made of). Undefined
 * when a symbol has no bound.
 */
export function dimUpperBound(d: Dim, bounds: Readonly<Record<string, number>>): number | undefined {
  return typeof d === 'number' ? d : evalPoly(polyOf(d), bounds, true);
}

/** How `foldDim` builds a target's expression of a dim (C text, WGSL text, JS text, a binaryen expression...). */
export interface DimAlgebra<T> {
  num(n: number): T;
  sym(name: string): T;
  add(a: T, b: T): T;
  sub(a: T, b: T): T;
  mul(a: T, b: T): T;
  /** floor(a / k) for a positive integer k (a may be negative: floor, not truncation). */
  floorDiv(a: T, k: number): T;
  min(a: T, b: T): T;
  max(a: T, b: T): T;
}

/**
 * A dim as an expression of `alg`: the one walk every backend renders runtime dims with (constant
 * terms folded, monomials in canonical order, coefficient 1 and 0 elided).
 */
export function foldDim<T>(d: Dim, alg: DimAlgebra<T>): T {
  const poly = (p: Poly): T => {
    let acc: T | undefined;
    for (const m of [...p.keys()].filter((x) => x !== '').sort()) {
      const c = p.get(m)!;
      let t: T | undefined;
      for (const a of atomsOf(m)) t = t === undefined ? atom(a) : alg.mul(t, atom(a));
      if (Math.abs(c) !== 1) t = alg.mul(alg.num(Math.abs(c)), t!);
      acc = acc === undefined ? (c < 0 ? alg.sub(alg.num(0), t!) : t!) : c < 0 ? alg.sub(acc, t!) : alg.add(acc, t!);
    }
    const k = p.get('') ?? 0;
    if (acc === undefined) return alg.num(k);
    return k === 0 ? acc : k < 0 ? alg.sub(acc, alg.num(-k)) : alg.add(acc, alg.num(k));
  };
  const atom = (a: string): T => {
    if (IDENT.test(a)) return alg.sym(a);
    if (a.startsWith('`')) return alg.sym(a.slice(1, -1));
    const inner = a.slice(a.indexOf('(') + 1, -1);
    if (a.startsWith('floor(')) {
      const [x, k] = splitTop(inner, ' / ');
      return alg.floorDiv(poly(polyOf(x!)), Number(k));
    }
    const [x, y] = splitTop(inner, ', ').map((s) => poly(polyOf(s)));
    return a.startsWith('min(') ? alg.min(x!, y!) : alg.max(x!, y!);
  };
  return poly(polyOf(d));
}

/** A dim as JavaScript source over an object `env` of runtime dims (`env["S"]`), for artifact glue. */
export function jsDim(d: Dim, env = 'd'): string {
  return foldDim<string>(d, {
    num: (n) => String(n),
    sym: (s) => `${env}[${JSON.stringify(s)}]`,
    add: (a, b) => `(${a} + ${b})`,
    sub: (a, b) => `(${a} - ${b})`,
    mul: (a, b) => `(${a} * ${b})`,
    floorDiv: (a, k) => `Math.floor(${a} / ${k})`,
    min: (a, b) => `Math.min(${a}, ${b})`,
    max: (a, b) => `Math.max(${a}, ${b})`,
  });
}
