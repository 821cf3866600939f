/**
 * A small FileCheck (LLVM semantics, the subset pass tests need): match printed IR against the
 * directives of a test, in order.
 *
 *   checkLines(output, ['%y = lut.matmul(', 'CHECK-NEXT: return %y'])
 *   checkFile(output, lutFileText, 'CHECK', { file })   // the `// CHECK...:` comments of a test file
 *
 * Directives (a bare string in checkLines is a CHECK):
 * - `CHECK:` the pattern, anywhere after the previous match (the rest of its line, then later lines).
 * - `CHECK-NEXT:` like CHECK, and the match must be on the line right after the previous match.
 * - `CHECK-SAME:` like CHECK, and the match must be on the previous match's line.
 * - `CHECK-EMPTY:` the line right after the previous match is empty.
 * - `CHECK-NOT:` the pattern occurs nowhere between the previous match and the next one (or the
 *   end of the label block).
 * - `CHECK-DAG:` a run of DAG directives matches in any order, without overlapping, after the previous
 *   match; the next directive continues after the last of them.
 * - `CHECK-LABEL:` labels are matched first, in order, over the whole output, and split it into blocks;
 *   every other directive matches only inside the block of the label above it (directives before the
 *   first label: before it). Variables are cleared at each label (FileCheck --enable-var-scope).
 * Patterns are substrings of one output line (never across lines). Runs of whitespace compare equal,
 * the pattern's leading and trailing whitespace is ignored; `{{regex}}` embeds a JS regular expression
 * (`{{$}}` pins the end of the line, `{{^}}` its start); `[[NAME:regex]]` matches the regex and binds
 * NAME, `[[NAME]]` matches the text bound before. Errors in the test itself (empty pattern, NEXT/SAME
 * without a previous match, a misspelled directive such as `CHECK-NXT:`, an undefined variable) throw.
 * A failed match throws an Error naming the directive (and its file line), the reason, and the output
 * around the failure.
 */

export type CheckKind = 'CHECK' | 'CHECK-NEXT' | 'CHECK-SAME' | 'CHECK-EMPTY' | 'CHECK-NOT' | 'CHECK-DAG' | 'CHECK-LABEL';

const KINDS: readonly CheckKind[] = ['CHECK', 'CHECK-NEXT', 'CHECK-SAME', 'CHECK-EMPTY', 'CHECK-NOT', 'CHECK-DAG', 'CHECK-LABEL'];

export interface Directive {
  kind: CheckKind;
  pattern: string;
  /** 1-based line of the directive in its test file, when known. */
  line?: number;
}

export interface CheckOptions {
  /** Test file name for messages (`file:line: ...`). */
  file?: string;
}

type Piece = { lit: string } | { re: string } | { def: string; re: string } | { use: string };

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const VAR = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Splits a pattern into literal text, `{{regex}}`, `[[NAME:regex]]` and `[[NAME]]` pieces. */
function pieces(pattern: string): Piece[] {
  const out: Piece[] = [];
  let rest = pattern.trim();
  while (rest.length) {
    const i = rest.search(/\{\{|\[\[/);
    if (i < 0) {
      out.push({ lit: rest });
      break;
    }
    if (i > 0) out.push({ lit: rest.slice(0, i) });
    if (rest.startsWith('{{', i)) {
      const j = rest.indexOf('}}', i + 2);
      if (j < 0) throw new Error(`unterminated {{ in check pattern: ${pattern}`);
      out.push({ re: rest.slice(i + 2, j) });
      rest = rest.slice(j + 2);
      continue;
    }
    // [[NAME]] or [[NAME:regex]]: the regex ends at the first ']]' outside a [...] class
    let j = i + 2,
      depth = 0,
      colon = -1;
    for (; j < rest.length; j++) {
      const c = rest[j]!;
      if (c === '\\') j++;
      else if (c === ':' && colon < 0 && depth === 0) colon = j;
      else if (c === '[' && colon >= 0) depth++;
      else if (c === ']' && depth > 0) depth--;
      else if (c === ']' && rest[j + 1] === ']') break;
    }
    if (j >= rest.length) throw new Error(`unterminated [[ in check pattern: ${pattern}`);
    const name = rest.slice(i + 2, colon >= 0 ? colon : j);
    if (!VAR.test(name)) throw new Error(`bad variable name '${name}' in check pattern: ${pattern}`);
    out.push(colon >= 0 ? { def: name, re: rest.slice(colon + 1, j) } : { use: name });
    rest = rest.slice(j + 2);
  }
  return out;
}

/** The regex of a pattern given the variables bound so far (uses become their literal text). */
function compile(pattern: string, vars: ReadonlyMap<string, string>): RegExp {
  let src = '';
  const defined = new Set<string>();
  for (const p of pieces(pattern)) {
    if ('lit' in p) src += p.lit.split(/\s+/).map(escapeRe).join('\\s+');
    else if ('def' in p) {
      if (defined.has(p.def)) throw new Error(`variable '${p.def}' defined twice in check pattern: ${pattern}`);
      defined.add(p.def);
      src += `(?<${p.def}>${p.re})`;
    } else if ('use' in p) {
      const v = vars.get(p.use);
      if (v === undefined) throw new Error(`undefined variable '${p.use}' in check pattern: ${pattern}`);
      src += escapeRe(v);
    } else src += `(?:${p.re})`;
  }
  return new RegExp(src, 'g');
}

/** Parses one directive line such as `CHECK-NEXT: foo` (a bare line is a CHECK). */
export function parseDirective(text: string, line?: number): Directive {
  const m = /^\s*(CHECK(?:-[A-Z]+)?):(.*)$/.exec(text);
  if (m && !KINDS.includes(m[1] as CheckKind)) throw new Error(`${line ? `line ${line}: ` : ''}unknown directive '${m[1]}:'`);
  const kind = (m?.[1] ?? 'CHECK') as CheckKind;
  const pattern = (m ? m[2]! : text).trim();
  return { kind, pattern, ...(line ? { line } : {}) };
}

/** Checks a directive list for errors in the test itself (not in the output). */
function validate(dirs: readonly Directive[]): void {
  let prev = false;
  for (const d of dirs) {
    const at = d.line ? `line ${d.line}: ` : '';
    if (d.kind === 'CHECK-EMPTY' ? d.pattern !== '' : d.pattern === '')
      throw new Error(`${at}${d.kind === 'CHECK-EMPTY' ? 'CHECK-EMPTY takes no pattern' : `empty pattern for ${d.kind}`}`);
    if ((d.kind === 'CHECK-NEXT' || d.kind === 'CHECK-SAME' || d.kind === 'CHECK-EMPTY') && !prev)
      throw new Error(`${at}${d.kind} without a previous match`);
    if (d.kind === 'CHECK-LABEL' && /\[\[/.test(d.pattern)) throw new Error(`${at}CHECK-LABEL cannot use variables`);
    if (d.kind === 'CHECK-LABEL') prev = true;
    else if (d.kind !== 'CHECK-NOT') prev = true;
    pieces(d.pattern); // syntax errors now, not at match time
  }
}

interface Pos {
  line: number;
  col: number;
}
interface Match {
  line: number;
  start: number;
  end: number;
  groups: Record<string, string>;
}

const before = (a: Pos, b: Pos) => a.line < b.line || (a.line === b.line && a.col <= b.col);

/** First match of `re` at or after `from` that ends at or before `to`, within one line. */
function search(re: RegExp, lines: readonly string[], from: Pos, to: Pos): Match | undefined {
  for (let l = from.line; l <= to.line && l < lines.length; l++) {
    const text = lines[l]!;
    const limit = l === to.line ? to.col : text.length;
    re.lastIndex = l === from.line ? from.col : 0;
    const m = re.exec(text);
    if (m && m.index + m[0].length <= limit && (l !== from.line || m.index >= from.col)) {
      return { line: l, start: m.index, end: m.index + m[0].length, groups: { ...(m.groups ?? {}) } };
    }
  }
  return undefined;
}

/** Throws when `output` does not match `expected` (directive strings, or a text of them). */
export function checkLines(output: string, expected: readonly string[] | string, opts: CheckOptions = {}): void {
  const list = typeof expected === 'string' ? expected.split('\n') : expected;
  runChecks(
    output,
    list.filter((l) => l.trim() !== '').map((l) => parseDirective(l)),
    opts,
  );
}

/** Matches parsed directives against `output`; the engine behind checkLines and checkFile. */
export function runChecks(output: string, dirs: readonly Directive[], opts: CheckOptions = {}): void {
  validate(dirs);
  const lines = output.split('\n');
  const END: Pos = { line: lines.length - 1, col: lines[lines.length - 1]!.length };
  const vars = new Map<string, string>();
  let block: { label?: Directive; from: Pos; to: Pos } = { from: { line: 0, col: 0 }, to: END };

  const fail = (msg: string, d: Directive, at: number): never => {
    const where = `${opts.file ? `${opts.file}:` : ''}${d.line ? `${d.line}: ` : opts.file ? ' ' : ''}`;
    const lo = Math.max(block.from.line, at - 3),
      hi = Math.min(block.to.line, at + 3);
    const ctx = lines
      .slice(lo, hi + 1)
      .map((l, i) => `${lo + i === at ? '>' : ' '}${String(lo + i + 1).padStart(4)}| ${l}`)
      .join('\n');
    const scope = block.label ? `\nin the block of CHECK-LABEL: ${block.label.pattern}` : '';
    const blockText = lines.slice(block.from.line, block.to.line + 1).join('\n');
    throw new Error(
      `${where}${msg}: ${d.kind}: ${d.pattern}${scope}\noutput near line ${at + 1}:\n${ctx}\n--- ${block.label ? 'block' : 'full'} output ---\n${blockText}`,
    );
  };

  // 1. labels, in order over the whole output: they split it into blocks
  const groups: { label?: Directive; dirs: Directive[] }[] = [{ dirs: [] }];
  for (const d of dirs) {
    if (d.kind === 'CHECK-LABEL') groups.push({ label: d, dirs: [] });
    else groups[groups.length - 1]!.dirs.push(d);
  }
  const labelMatches: Match[] = [];
  let pos: Pos = { line: 0, col: 0 };
  for (const g of groups.slice(1)) {
    const m = search(compile(g.label!.pattern, vars), lines, pos, END);
    if (!m) fail('label not found', g.label!, pos.line);
    labelMatches.push(m!);
    pos = { line: m!.line, col: m!.end };
  }

  // 2. each block's directives, confined to the block
  groups.forEach((g, gi) => {
    const lm = gi > 0 ? labelMatches[gi - 1]! : undefined;
    const next = labelMatches[gi];
    block = {
      label: g.label,
      from: lm ? { line: lm.line, col: lm.end } : { line: 0, col: 0 },
      to: next ? { line: next.line, col: next.start } : END,
    };
    if (g.label) vars.clear();
    let prev: Match | undefined = lm;
    let cursor: Pos = block.from;
    let nots: { d: Directive; re: RegExp }[] = [];
    const checkNots = (to: Pos) => {
      for (const n of nots) {
        const m = search(n.re, lines, cursor, to);
        if (m) fail('excluded pattern found', n.d, m.line);
      }
      nots = [];
    };
    const bind = (m: Match) => {
      for (const [k, v] of Object.entries(m.groups)) vars.set(k, v);
    };
    for (let i = 0; i < g.dirs.length; i++) {
      const d = g.dirs[i]!;
      if (d.kind === 'CHECK-NOT') {
        nots.push({ d, re: compile(d.pattern, vars) });
        continue;
      }
      if (d.kind === 'CHECK-EMPTY') {
        const l = prev!.line + 1;
        if (l > block.to.line || lines[l] !== '') fail('the next line is not empty', d, Math.min(l, block.to.line));
        checkNots({ line: l, col: 0 });
        prev = { line: l, start: 0, end: 0, groups: {} };
        cursor = { line: l, col: 0 };
        continue;
      }
      if (d.kind === 'CHECK-DAG') {
        // a run of DAGs: each matches anywhere after the previous match, not overlapping the others
        const run: Directive[] = [];
        while (i < g.dirs.length && g.dirs[i]!.kind === 'CHECK-DAG') run.push(g.dirs[i++]!);
        i--;
        const found: Match[] = [];
        for (const dd of run) {
          const re = compile(dd.pattern, vars);
          let from = cursor;
          let m: Match | undefined;
          for (;;) {
            m = search(re, lines, from, block.to);
            if (!m) break;
            const hit = m;
            if (!found.some((f) => f.line === hit.line && hit.start < f.end && f.start < hit.end)) break;
            from = { line: m.line, col: m.start + 1 };
          }
          if (!m) fail('not found', dd, cursor.line);
          found.push(m!);
          bind(m!);
        }
        const first = found.reduce((a, b) => (before({ line: a.line, col: a.start }, { line: b.line, col: b.start }) ? a : b));
        const last = found.reduce((a, b) => (before({ line: a.line, col: a.end }, { line: b.line, col: b.end }) ? b : a));
        checkNots({ line: first.line, col: first.start });
        prev = last;
        cursor = { line: last.line, col: last.end };
        continue;
      }
      const re = compile(d.pattern, vars);
      const to = d.kind === 'CHECK-SAME' ? { line: prev!.line, col: lines[prev!.line]!.length } : block.to;
      const m = before(cursor, to) ? search(re, lines, cursor, to) : undefined;
      if (!m) {
        if (d.kind === 'CHECK-SAME') fail('not found on the same line', d, prev!.line);
        if (d.kind === 'CHECK-NEXT') {
          const later = search(re, lines, cursor, END);
          fail(
            later
              ? `not on the next line (next match on output line ${later.line + 1}${next && !before({ line: later.line, col: later.end }, block.to) ? ', outside this label block' : ''})`
              : 'not on the next line (no match)',
            d,
            prev!.line + 1,
          );
        }
        fail('not found', d, cursor.line);
      }
      if (d.kind === 'CHECK-NEXT' && m!.line !== prev!.line + 1) {
        fail(
          m!.line === prev!.line
            ? 'not on the next line (matched on the same line as the previous match)'
            : `not on the next line (matched on output line ${m!.line + 1}, expected ${prev!.line + 2})`,
          d,
          prev!.line + 1,
        );
      }
      checkNots({ line: m!.line, col: m!.start });
      bind(m!);
      prev = m;
      cursor = { line: m!.line, col: m!.end };
    }
    checkNots(block.to);
  });
}

/** The `// CHECK...:` directives of a test file with their 1-based lines; misspelled ones throw. */
export function parseChecks(text: string, prefix = 'CHECK'): Directive[] {
  const any = new RegExp(`^\\s*//\\s*${prefix}((?:-[A-Za-z]+)*)\\s*:(.*)$`);
  return text.split('\n').flatMap((l, i) => {
    const m = any.exec(l);
    if (!m) return [];
    const kind = `CHECK${m[1]}` as CheckKind;
    if (!KINDS.includes(kind)) throw new Error(`line ${i + 1}: unknown directive '${prefix}${m[1]}:'`);
    return [{ kind, pattern: m[2]!.trim(), line: i + 1 }];
  });
}

/** The `// CHECK...:` directives of a test file as `KIND: pattern` strings, in order. */
export function extractChecks(text: string, prefix = 'CHECK'): string[] {
  return parseChecks(text, prefix).map((d) => `${d.kind}: ${d.pattern}`);
}

/** Matches `output` against the `// CHECK` comments of `fileText`; throws if the file has none. */
export function checkFile(output: string, fileText: string, prefix = 'CHECK', opts: CheckOptions = {}): void {
  const dirs = parseChecks(fileText, prefix);
  if (dirs.length === 0) throw new Error(`no ${prefix}: lines in the test file`);
  runChecks(output, dirs, opts);
}
