/**
 * The repository is self-contained: no file refers to a document outside it, and every document it
 * refers to exists. Over every text file git knows about (tracked, plus untracked files that are not
 * ignored, so a new file is checked before it is committed; binary files are skipped):
 *
 * - no mention of the out-of-tree design brief or of a folder outside the checkout (the patterns are
 *   in FORBIDDEN; they are written as regular expressions so this file does not match itself);
 * - every repo-relative path of a Markdown file (such as `docs/cli.md`) names a file that
 *   exists, and a `page.md §N` reference to a page with numbered sections names a section it has;
 * - in README.md and docs/*.md, every relative Markdown link points at an existing file or folder
 *   inside the repository (links in code blocks, URLs and pure #anchors are not checked).
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** What no file may mention: the design brief kept outside the repository, and paths out of it. */
const FORBIDDEN: readonly RegExp[] = [/DESIGN\.md/, /\.\.\/shared\b/, /\/work\//];

/** Markdown paths that name another project's file, not one of ours. */
const EXTERNAL_MD: ReadonlySet<string> = new Set(['onnx/Changelog.md']);

/** Tracked and untracked-but-not-ignored files (repo-relative), without node_modules and deleted files. */
function repoFiles(): string[] {
  const out = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
    cwd: root,
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  const files = [...new Set(out.split('\0').filter((f) => f !== ''))].sort();
  return files.filter(
    (f) => !f.split('/').includes('node_modules') && fs.statSync(path.join(root, f), { throwIfNoEntry: false })?.isFile(),
  );
}

/** Text content, or undefined for a binary file (a NUL byte in the first 8000 bytes, as git decides). */
function readText(file: string): string | undefined {
  const bytes = fs.readFileSync(path.join(root, file));
  if (bytes.subarray(0, 8000).includes(0)) return undefined;
  return bytes.toString('utf8');
}

const texts: [string, string][] = repoFiles().flatMap((f) => {
  const t = readText(f);
  return t === undefined ? [] : [[f, t] as [string, string]];
});

/** `file:line: text` for every line of `text` matching `re` (global), with `what(match)` appended. */
function hits(file: string, text: string, re: RegExp, keep: (m: RegExpExecArray) => string | undefined): string[] {
  const out: string[] = [];
  text.split('\n').forEach((line, i) => {
    for (const m of line.matchAll(re)) {
      const why = keep(m);
      if (why !== undefined) out.push(`${file}:${i + 1}: ${why}`);
    }
  });
  return out;
}

/** Numbered `## N.` sections of each docs page that has any. */
function numberedSections(): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const [f, t] of texts) {
    if (!/^docs\/[^/]+\.md$/.test(f)) continue;
    const nums = [...t.matchAll(/^#{2,3} (\d+)\./gm)].map((m) => m[1]!);
    if (nums.length) out.set(path.basename(f), new Set(nums));
  }
  return out;
}

/** Markdown with fenced code blocks blanked out (line numbers kept), where links are not links. */
function withoutCodeBlocks(md: string): string {
  let fenced = false;
  return md
    .split('\n')
    .map((line) => {
      if (/^\s*(```|~~~)/.test(line)) {
        fenced = !fenced;
        return '';
      }
      return fenced ? '' : line;
    })
    .join('\n');
}

describe('the repository is self-contained', () => {
  it('finds the files it checks', () => {
    const names = texts.map(([f]) => f);
    expect(names).toContain('README.md');
    expect(names).toContain('docs/architecture.md');
    expect(names).toContain('test/repo/self-contained.test.ts');
  });

  it('no file mentions a document or folder outside the repository', () => {
    const bad = texts.flatMap(([f, t]) => FORBIDDEN.flatMap((re) => hits(f, t, new RegExp(re.source, 'g'), (m) => m[0])));
    expect(bad, 'references to documents outside the repository').toEqual([]);
  });

  it('every Markdown file path mentioned anywhere exists', () => {
    const sections = numberedSections();
    // A path with at least one folder, not the tail of a longer path or URL (docs/cli.md).
    const re = /(?<![\w./-])((?:[\w-]+\/)+[\w.-]+\.md)\b/g;
    const missing = texts.flatMap(([f, t]) =>
      hits(f, t, re, (m) => {
        const p = m[1]!;
        if (EXTERNAL_MD.has(p)) return undefined;
        const here = path.join(root, path.dirname(f), p);
        return fs.existsSync(path.join(root, p)) || fs.existsSync(here) ? undefined : `${p} does not exist`;
      }),
    );
    // `page.md §N` where the page numbers its sections: section N must exist.
    const sec = /(?<![\w/-])(?:docs\/)?([\w-]+\.md) §(\d+)/g;
    const badSections = texts.flatMap(([f, t]) =>
      hits(f, t, sec, (m) => {
        const nums = sections.get(m[1]!);
        return nums && !nums.has(m[2]!) ? `${m[0]}: ${m[1]} has no section ${m[2]}` : undefined;
      }),
    );
    expect([...missing, ...badSections], 'paths to missing Markdown files or sections').toEqual([]);
  });

  it('every relative link in README.md and docs/*.md points at an existing file', () => {
    const pages = texts.filter(([f]) => f === 'README.md' || /^docs\/[^/]+\.md$/.test(f));
    expect(pages.length).toBeGreaterThan(5);
    const link = /\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g;
    const broken = pages.flatMap(([f, t]) =>
      hits(f, withoutCodeBlocks(t), link, (m) => {
        const target = m[1]!;
        if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('#')) return undefined; // URL or anchor
        const rel = decodeURIComponent(target.split('#')[0]!);
        const abs = path.resolve(root, path.dirname(f), rel);
        const inside = path.relative(root, abs);
        if (inside.startsWith('..') || path.isAbsolute(inside)) return `${target} leaves the repository`;
        return fs.existsSync(abs) ? undefined : `${target} does not exist`;
      }),
    );
    expect(broken, 'broken links').toEqual([]);
  });
});
