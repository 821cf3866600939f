/**
 * A tiny FileCheck for pass tests: match printed IR against expected lines in order.
 *
 *   checkLines(output, ['%y = lut.matmul(', 'CHECK-NEXT: return %y'])
 *   checkFile(output, lutFileText)   // the `// CHECK...:` comments of a .lut test file
 *
 * Directives: `CHECK:` (or a bare line) finds the pattern after the previous match (rest of its line,
 * then the following lines); `CHECK-NEXT:` must match the line right after the previous match; `CHECK-SAME:` continues on
 * the previous match's line; `CHECK-NOT:` must not occur between the previous match and the next one
 * (or the end). Runs of whitespace compare equal; `{{regex}}` embeds a regular expression.
 */

interface Directive {
  kind: 'CHECK' | 'CHECK-NEXT' | 'CHECK-SAME' | 'CHECK-NOT';
  pattern: string;
  re: RegExp;
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Pattern text -> regex: literal text with collapsible whitespace and `{{...}}` regex pieces. */
function compile(pattern: string): RegExp {
  let src = '';
  let rest = pattern.trim();
  while (rest.length) {
    const i = rest.indexOf('{{');
    const lit = i < 0 ? rest : rest.slice(0, i);
    src += lit.split(/\s+/).map(escape).join('\\s+');
    if (i < 0) break;
    const j = rest.indexOf('}}', i + 2);
    if (j < 0) throw new Error(`unterminated {{ in check pattern: ${pattern}`);
    src += `(?:${rest.slice(i + 2, j)})`;
    rest = rest.slice(j + 2);
  }
  return new RegExp(src);
}

function parseDirective(line: string): Directive {
  const m = /^\s*(CHECK(?:-NEXT|-SAME|-NOT)?):\s?(.*)$/.exec(line);
  const kind = (m?.[1] ?? 'CHECK') as Directive['kind'];
  const pattern = m ? m[2]! : line;
  return { kind, pattern, re: compile(pattern) };
}

/** Throws an Error (a test failure) when `output` does not match `expected`. */
export function checkLines(output: string, expected: readonly string[] | string): void {
  const lines = output.split('\n');
  const dirs = (typeof expected === 'string' ? expected.split('\n') : expected).filter((l) => l.trim() !== '').map(parseDirective);
  let cursor = 0; // next line to search from
  let last = -1; // line of the previous positive match
  let lastEnd = 0; // column after the previous match on that line
  let nots: Directive[] = [];
  const fail = (msg: string, d: Directive): never => {
    const ctx = lines.slice(Math.max(0, cursor - 2), cursor + 3).map((l, i) => `  ${Math.max(0, cursor - 2) + i + 1}| ${l}`).join('\n');
    throw new Error(`${msg}: ${d.kind}: ${d.pattern}\nnear output line ${cursor + 1}:\n${ctx}\n--- full output ---\n${output}`);
  };
  const checkNots = (from: number, to: number) => {
    for (const n of nots) for (let i = from; i < to; i++) if (n.re.test(lines[i]!)) { cursor = i; fail('excluded pattern found', n); }
    nots = [];
  };
  for (const d of dirs) {
    if (d.kind === 'CHECK-NOT') {
      nots.push(d);
      continue;
    }
    if (d.kind === 'CHECK-SAME') {
      const m = last >= 0 ? d.re.exec(lines[last]!.slice(lastEnd)) : null;
      if (!m) fail('not found on the same line', d);
      lastEnd += m!.index + m![0].length;
      continue;
    }
    let found = -1;
    if (d.kind === 'CHECK' && last >= 0) {
      // Like FileCheck, a CHECK may match later on the line where the previous match ended.
      const m = d.re.exec(lines[last]!.slice(lastEnd));
      if (m) {
        checkNots(last + 1, last + 1);
        lastEnd += m.index + m[0].length;
        continue;
      }
    }
    if (d.kind === 'CHECK-NEXT') {
      if (last + 1 < lines.length && d.re.test(lines[last + 1]!)) found = last + 1;
      else {
        cursor = last + 1;
        fail('not on the next line', d);
      }
    } else {
      for (let i = cursor; i < lines.length; i++) if (d.re.test(lines[i]!)) { found = i; break; }
      if (found < 0) fail('not found', d);
    }
    checkNots(last + 1, found);
    const m = d.re.exec(lines[found]!)!;
    last = found;
    lastEnd = m.index + m[0].length;
    cursor = found + 1;
  }
  checkNots(last + 1, lines.length);
}

/** The `// CHECK...:` directives of a test file (e.g. a .lut pass test), in order. */
export function extractChecks(text: string, prefix = 'CHECK'): string[] {
  const re = new RegExp(`^\\s*//\\s*(${prefix}(?:-NEXT|-SAME|-NOT)?:.*)$`);
  return text.split('\n').flatMap((l) => {
    const m = re.exec(l);
    return m ? [m[1]!.replace(new RegExp(`^${prefix}`), 'CHECK')] : [];
  });
}

/** checkLines against the `// CHECK` comments of `fileText`; throws if the file has none. */
export function checkFile(output: string, fileText: string, prefix = 'CHECK'): void {
  const checks = extractChecks(fileText, prefix);
  if (checks.length === 0) throw new Error(`no ${prefix}: lines in the test file`);
  checkLines(output, checks);
}
