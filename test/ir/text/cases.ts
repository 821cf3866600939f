/**
 * Sample IR cases (test/ir/cases/*.lut): loading and splitting off the leading comment block. Each case
 * file is a `//` comment header followed by one graph in canonical printed form.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const CASES_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'cases');

export interface Case {
  file: string;
  /** Leading `//` lines (with their newlines). */
  header: string;
  /** The graph text after the header. */
  body: string;
}

/** Separates the leading comment/blank lines from the graph text. */
export function splitCase(text: string): { header: string; body: string } {
  const lines = text.split('\n');
  let i = 0;
  while (i < lines.length && (lines[i]!.startsWith('//') || lines[i]!.trim() === '')) i++;
  return {
    header: lines
      .slice(0, i)
      .map((l) => l + '\n')
      .join(''),
    body: lines.slice(i).join('\n'),
  };
}

/** Every case file, sorted by name. */
export function loadCases(): Case[] {
  return readdirSync(CASES_DIR)
    .filter((f) => f.endsWith('.lut'))
    .sort()
    .map((f) => ({ file: join(CASES_DIR, f), ...splitCase(readFileSync(join(CASES_DIR, f), 'utf8')) }));
}
