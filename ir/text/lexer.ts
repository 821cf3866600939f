/**
 * Tokens of the IR text form (docs/ir-text.md), as a chevrotain lexer. Value names (`%x`, `%"a/b"`) and
 * symbol names (`@main`, `@"node 1"`) are single tokens so the grammar never has to glue a sigil to a
 * name; keywords fall back to identifiers when they are only a prefix (`constant` is an op, `const` is
 * not). The printer's notion of a bare identifier (`isBareIdent`) is defined here next to the token it
 * must agree with.
 */
import { createToken, Lexer, type TokenType } from 'chevrotain';

const QUOTED = String.raw`"(?:[^"\\\n]|\\.)*"`;
const NAME_CHARS = '[A-Za-z0-9_.$]+';

export const WhiteSpace = createToken({ name: 'WhiteSpace', pattern: /\s+/, group: Lexer.SKIPPED, line_breaks: true });
export const Comment = createToken({ name: 'Comment', pattern: /\/\/[^\n]*/, group: Lexer.SKIPPED });

/** `%name` or `%"any name"`. */
export const ValueId = createToken({ name: 'ValueId', pattern: new RegExp(`%(?:${NAME_CHARS}|${QUOTED})`), start_chars_hint: ['%'] });
/** `@name` or `@"any name"`: graph names and node names. */
export const SymbolId = createToken({ name: 'SymbolId', pattern: new RegExp(`@(?:${NAME_CHARS}|${QUOTED})`), start_chars_hint: ['@'] });
export const StringLit = createToken({ name: 'StringLit', pattern: new RegExp(QUOTED), start_chars_hint: ['"'] });

/** Floats always carry a `.` or an exponent; an `f64` suffix marks an attribute value kept as a double. */
export const FloatLit = createToken({
  name: 'FloatLit',
  pattern: /-?(?:\d+\.\d*(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+)(?:f64)?/,
  start_chars_hint: ['-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
});
export const IntLit = createToken({
  name: 'IntLit',
  pattern: /-?\d+/,
  start_chars_hint: ['-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
});

export const Identifier = createToken({ name: 'Identifier', pattern: /[A-Za-z_][A-Za-z0-9_.]*/ });
/** `nan`, `inf`, `-inf` (and `-nan`, read as nan). */
export const SpecialFloat = createToken({
  name: 'SpecialFloat',
  pattern: /-?(?:nan|inf)(?![A-Za-z0-9_.])/,
  start_chars_hint: ['-', 'n', 'i'],
  longer_alt: Identifier,
});

const kw = (word: string, name: string): TokenType => createToken({ name, pattern: new RegExp(word), longer_alt: Identifier });
export const KwGraph = kw('graph', 'KwGraph');
export const KwConst = kw('const', 'KwConst');
export const KwReturn = kw('return', 'KwReturn');
export const KwDenseElided = kw('dense_elided', 'KwDenseElided');
export const KwDense = kw('dense', 'KwDense');
export const KwMeta = kw('meta', 'KwMeta');
/** `_`: an omitted optional operand. */
export const Underscore = kw('_', 'Underscore');

export const LParen = createToken({ name: 'LParen', pattern: /\(/ });
export const RParen = createToken({ name: 'RParen', pattern: /\)/ });
export const LBracket = createToken({ name: 'LBracket', pattern: /\[/ });
export const RBracket = createToken({ name: 'RBracket', pattern: /]/ });
export const LBrace = createToken({ name: 'LBrace', pattern: /{/ });
export const RBrace = createToken({ name: 'RBrace', pattern: /}/ });
export const LAngle = createToken({ name: 'LAngle', pattern: /</ });
export const RAngle = createToken({ name: 'RAngle', pattern: />/ });
export const Comma = createToken({ name: 'Comma', pattern: /,/ });
export const Equals = createToken({ name: 'Equals', pattern: /=/ });
export const Colon = createToken({ name: 'Colon', pattern: /:/ });

/** Order matters: first match wins, so floats precede ints and keywords precede identifiers. */
export const allTokens: TokenType[] = [
  WhiteSpace,
  Comment,
  ValueId,
  SymbolId,
  StringLit,
  FloatLit,
  SpecialFloat,
  IntLit,
  KwGraph,
  KwConst,
  KwReturn,
  KwDenseElided,
  KwDense,
  KwMeta,
  Underscore,
  Identifier,
  LParen,
  RParen,
  LBracket,
  RBracket,
  LBrace,
  RBrace,
  LAngle,
  RAngle,
  Comma,
  Equals,
  Colon,
];

let lexer: Lexer | undefined;
/** The shared lexer (built on first use: building validates the token set, which costs a little). */
export function irLexer(): Lexer {
  return (lexer ??= new Lexer(allTokens, { positionTracking: 'full', ensureOptimizations: false }));
}

const KEYWORDS = new Set(['graph', 'const', 'return', 'dense', 'dense_elided', 'meta', '_', 'nan', 'inf']);
const BARE_IDENT = /^[A-Za-z_][A-Za-z0-9_.]*$/;
const BARE_NAME = /^[A-Za-z0-9_.$]+$/;

/** True when `s` prints as a bare identifier (symbolic dims, attribute keys) and lexes back as one. */
export function isBareIdent(s: string): boolean {
  return BARE_IDENT.test(s) && !KEYWORDS.has(s);
}

/** `s` quoted with JSON escapes (which the lexer's string token and `unquote` read back). */
export function quote(s: string): string {
  return JSON.stringify(s);
}

/** The name part after `%` or `@`: bare when possible, else quoted. */
export function sigilName(sigil: '%' | '@', name: string): string {
  return sigil + (BARE_NAME.test(name) ? name : quote(name));
}

/** Inverse of `quote`; throws SyntaxError on a bad escape (the parser turns that into a diagnostic). */
export function unquote(lit: string): string {
  return JSON.parse(lit) as string;
}

/** Name from a `%`/`@` token image. */
export function nameOfSigil(image: string): string {
  const rest = image.slice(1);
  return rest.startsWith('"') ? unquote(rest) : rest;
}
