/**
 * IR text parser: `parseGraph(text)` reads what `printGraph` writes (grammar in docs/ir-text.md) with a
 * chevrotain lexer and parser, then builds the Graph against the op table. Every error is a LutcError
 * coded LUT20xx with a `file:line:col` location; node locations are kept in Node.loc so later
 * diagnostics (the verifier's, a pass's) point into the text. Blocks nest at most MAX_BRACE_DEPTH
 * deep (LUT2002 beyond), so no text can exhaust the stack of the recursive parser, builder or verifier.
 */

import type { IToken } from 'chevrotain';
import { type Diagnostic, diag, LutcError } from '../base/diagnostics.js';
import { buildGraph, buildType, ParseCode } from './text/build.js';
import { type AstGraph, type AstType, BadStringError, irParser } from './text/grammar.js';
import { irLexer, LBrace, RBrace } from './text/lexer.js';
import type { Graph, TensorType } from './types.js';

export { ParseCode, textLocOf } from './text/build.js';

/** Parses one `graph @name(...) { ... }` (the whole text). Throws LutcError with every problem found. */
export function parseGraph(text: string, file = '<input>'): Graph {
  const ast = parseSyntax(text, file, (p) => p.file());
  return buildGraph(ast, file);
}

/** Parses a tensor type such as `f32[batch, 64]` (for tests and tools). */
export function parseType(text: string, file = '<input>'): TensorType {
  const ast = parseSyntax<AstType>(text, file, (p) => p.type());
  return buildType(ast, file);
}

/**
 * Deepest `{` nesting accepted: the main graph's body takes one, each nested graph two (its op's
 * attribute block and its body), so 31 levels of graphs within it: far beyond real models and far
 * within the stack (about 200 overflowed it).
 */
const MAX_BRACE_DEPTH = 64;

function parseSyntax<R>(text: string, file: string, rule: (p: ReturnType<typeof irParser>) => R): R {
  const lexed = irLexer().tokenize(text);
  if (lexed.errors.length) {
    throw new LutcError(
      lexed.errors.map((e) =>
        diag(ParseCode.lex, `unexpected character ${JSON.stringify(text.slice(e.offset, e.offset + 1))}`, {
          kind: 'text',
          file,
          line: e.line ?? 0,
          col: e.column ?? 0,
        }),
      ),
    );
  }
  let depth = 0;
  for (const t of lexed.tokens) {
    if (t.tokenType === LBrace && ++depth > MAX_BRACE_DEPTH)
      throw new LutcError(
        diag(ParseCode.syntax, `blocks nested more than ${MAX_BRACE_DEPTH} deep (graphs within graphs)`, tokLoc(t, file, text)),
      );
    if (t.tokenType === RBrace) depth--;
  }
  const parser = irParser();
  parser.input = lexed.tokens;
  let result: R;
  try {
    result = rule(parser);
  } catch (e) {
    if (e instanceof BadStringError) throw new LutcError(diag(ParseCode.badString, e.message, tokLoc(e.token, file, text)));
    throw e;
  }
  if (parser.errors.length) {
    const errs: Diagnostic[] = parser.errors.map((e) =>
      diag(ParseCode.syntax, syntaxMessage(e.token, e.message), tokLoc(e.token, file, text)),
    );
    throw new LutcError(errs);
  }
  return result;
}

function tokLoc(t: IToken, file: string, text: string) {
  if (t.startLine === undefined || Number.isNaN(t.startLine) || t.startLine === null) {
    // EOF: point just past the last character.
    const lines = text.split('\n');
    const last = lines[lines.length - 1] ?? '';
    return { kind: 'text' as const, file, line: lines.length, col: last.length + 1 };
  }
  return { kind: 'text' as const, file, line: t.startLine, col: t.startColumn ?? 0 };
}

function syntaxMessage(t: IToken, chevrotainMsg: string): string {
  const found = t.tokenType?.name === 'EOF' ? 'end of input' : `'${t.image}'`;
  const m = /Expecting (?:token of type --> (\w+) <--|: one of these possible Token sequences)/.exec(chevrotainMsg);
  if (m?.[1]) return `expected ${TOKEN_TEXT[m[1]] ?? m[1]}, found ${found}`;
  return `unexpected ${found}${chevrotainMsg.includes('Redundant input') ? ' after the graph' : ''}`;
}

const TOKEN_TEXT: Record<string, string> = {
  LParen: "'('",
  RParen: "')'",
  LBracket: "'['",
  RBracket: "']'",
  LBrace: "'{'",
  RBrace: "'}'",
  LAngle: "'<'",
  RAngle: "'>'",
  Comma: "','",
  Equals: "'='",
  Colon: "':'",
  ValueId: 'a value name (%name)',
  SymbolId: 'a name (@name)',
  Identifier: 'an identifier',
  StringLit: 'a string',
  IntLit: 'an integer',
  KwGraph: "'graph'",
  KwReturn: "'return'",
  KwConst: "'const'",
};

export type { AstGraph };
