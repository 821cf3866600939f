/**
 * Grammar of the IR text form (docs/ir-text.md) as a chevrotain EmbeddedActionsParser that builds a
 * plain syntax tree: no op-table lookups or name resolution happen here, so syntax errors and meaning
 * errors stay apart (`ir/text/build.ts` turns the tree into a Graph). Numbers keep their source text,
 * because what they mean (f32, double, i64) depends on the attribute or tensor they belong to.
 */
import { EmbeddedActionsParser, type IToken } from 'chevrotain';
import * as T from './lexer.js';

/** 1-based source position. */
export interface Pos {
  line: number;
  col: number;
}
export interface Named extends Pos {
  name: string;
}
export interface AstType extends Pos {
  dtype: string;
  dims: { dim: number | string; pos: Pos }[];
}
export interface AstNum extends Pos {
  /** Token kind: an integer literal, a float literal, or nan/inf. */
  kind: 'int' | 'float' | 'special';
  text: string;
}
export interface AstTensor extends Pos {
  type: AstType;
  body: { kind: 'list'; items: AstNum[] } | { kind: 'dense'; b64: string; pos: Pos } | { kind: 'elided' };
}
export type AstAttrValue =
  | { kind: 'num'; num: AstNum }
  | { kind: 'string'; value: string; pos: Pos }
  | { kind: 'list'; items: ({ kind: 'num'; num: AstNum } | { kind: 'string'; value: string; pos: Pos })[]; pos: Pos }
  | { kind: 'tensor'; tensor: AstTensor }
  | { kind: 'graph'; graph: AstGraph };
export interface AstAttr extends Pos {
  key: string;
  value: AstAttrValue;
}
export interface AstConst extends Pos {
  kind: 'const';
  /** Exactly one in valid text; more is reported by the builder. */
  results: Named[];
  tensor: AstTensor;
}
export interface AstNode extends Pos {
  kind: 'node';
  results: Named[];
  op: string;
  opPos: Pos;
  operands: (Named | null)[];
  attrs: AstAttr[];
  types: AstType[];
  nodeName?: string;
}
export type AstMetaValue =
  | { kind: 'int'; value: number }
  | { kind: 'string'; value: string }
  | { kind: 'dict'; entries: [string, number][] };
export interface AstGraph extends Pos {
  name: string;
  params: (Named & { type: AstType })[];
  meta: [string, AstMetaValue, Pos][];
  stmts: (AstConst | AstNode)[];
  returns: Named[];
  returnPos: Pos;
}

const pos = (t: IToken): Pos => ({ line: t.startLine ?? 0, col: t.startColumn ?? 0 });
const named = (t: IToken): Named => ({ name: sigilName(t), ...pos(t) });

/** Strings are unquoted in the builder's error handling; here a bad escape must not abort recording. */
function str(t: IToken): string {
  try {
    return T.unquote(t.image);
  } catch {
    throw new BadStringError(t);
  }
}

/** A `%`/`@` name; a quoted one whose escapes JSON cannot read is a BadStringError, as in `str`. */
function sigilName(t: IToken): string {
  try {
    return T.nameOfSigil(t.image);
  } catch {
    throw new BadStringError(t);
  }
}

/** A string token whose escapes JSON cannot read (reported as LUT2015 by the parser). */
export class BadStringError extends Error {
  constructor(readonly token: IToken) {
    super(`invalid escape in string ${token.image}`);
  }
}

class IrParser extends EmbeddedActionsParser {
  constructor() {
    super(T.allTokens, { maxLookahead: 2 });
    this.performSelfAnalysis();
  }

  file = this.RULE('file', (): AstGraph => this.SUBRULE(this.graph));

  graph = this.RULE('graph', (): AstGraph => {
    const kw = this.CONSUME(T.KwGraph);
    const name = this.CONSUME(T.SymbolId);
    this.CONSUME(T.LParen);
    const params: (Named & { type: AstType })[] = [];
    this.MANY_SEP({
      SEP: T.Comma,
      DEF: () => {
        const v = this.CONSUME(T.ValueId);
        this.CONSUME(T.Colon);
        const type = this.SUBRULE(this.type);
        this.ACTION(() => params.push({ ...named(v), type }));
      },
    });
    this.CONSUME(T.RParen);
    const meta: [string, AstMetaValue, Pos][] = [];
    this.OPTION(() => {
      this.CONSUME(T.KwMeta);
      this.CONSUME(T.LBrace);
      this.MANY_SEP2({
        SEP: T.Comma,
        DEF: () => {
          const k = this.SUBRULE(this.key);
          this.CONSUME(T.Equals);
          const v = this.SUBRULE(this.metaValue);
          this.ACTION(() => meta.push([k.name, v, k]));
        },
      });
      this.CONSUME(T.RBrace);
    });
    this.CONSUME2(T.LBrace);
    const stmts: (AstConst | AstNode)[] = [];
    this.MANY(() => {
      const s = this.SUBRULE(this.stmt);
      this.ACTION(() => stmts.push(s));
    });
    const ret = this.CONSUME(T.KwReturn);
    const returns: Named[] = [];
    this.MANY_SEP3({
      SEP: T.Comma,
      DEF: () => {
        const v = this.CONSUME2(T.ValueId);
        this.ACTION(() => returns.push(named(v)));
      },
    });
    this.CONSUME2(T.RBrace);
    return this.ACTION(() => ({ name: sigilName(name), params, meta, stmts, returns, returnPos: pos(ret), ...pos(kw) }));
  });

  key = this.RULE('key', (): Named => {
    const t = this.OR([{ ALT: () => this.CONSUME(T.Identifier) }, { ALT: () => this.CONSUME(T.StringLit) }]);
    return this.ACTION(() => ({ name: t.image.startsWith('"') ? str(t) : t.image, ...pos(t) }));
  });

  metaValue = this.RULE('metaValue', (): AstMetaValue => {
    return this.OR([
      {
        ALT: () => {
          const t = this.CONSUME(T.IntLit);
          return this.ACTION(() => ({ kind: 'int' as const, value: Number(t.image) }));
        },
      },
      {
        ALT: () => {
          const t = this.CONSUME(T.StringLit);
          return this.ACTION(() => ({ kind: 'string' as const, value: str(t) }));
        },
      },
      {
        ALT: () => {
          this.CONSUME(T.LBrace);
          const entries: [string, number][] = [];
          this.MANY_SEP({
            SEP: T.Comma,
            DEF: () => {
              const k = this.SUBRULE(this.key);
              this.CONSUME(T.Equals);
              const v = this.CONSUME2(T.IntLit);
              this.ACTION(() => entries.push([k.name, Number(v.image)]));
            },
          });
          this.CONSUME(T.RBrace);
          return { kind: 'dict' as const, entries };
        },
      },
    ]);
  });

  type = this.RULE('type', (): AstType => {
    const dt = this.CONSUME(T.Identifier);
    this.CONSUME(T.LBracket);
    const dims: { dim: number | string; pos: Pos }[] = [];
    this.MANY_SEP({
      SEP: T.Comma,
      DEF: () => {
        const t = this.OR([
          { ALT: () => this.CONSUME(T.IntLit) },
          { ALT: () => this.CONSUME2(T.Identifier) },
          { ALT: () => this.CONSUME(T.StringLit) },
        ]);
        this.ACTION(() => {
          const dim = t.tokenType === T.IntLit ? Number(t.image) : t.tokenType === T.StringLit ? str(t) : t.image;
          dims.push({ dim, pos: pos(t) });
        });
      },
    });
    this.CONSUME(T.RBracket);
    return this.ACTION(() => ({ dtype: dt.image, dims, ...pos(dt) }));
  });

  num = this.RULE('num', (): AstNum => {
    const t = this.OR([
      { ALT: () => this.CONSUME(T.IntLit) },
      { ALT: () => this.CONSUME(T.FloatLit) },
      { ALT: () => this.CONSUME(T.SpecialFloat) },
    ]);
    return this.ACTION(() => ({
      kind: t.tokenType === T.IntLit ? ('int' as const) : t.tokenType === T.FloatLit ? ('float' as const) : ('special' as const),
      text: t.image,
      ...pos(t),
    }));
  });

  tensor = this.RULE('tensor', (): AstTensor => {
    const type = this.SUBRULE(this.type);
    const body = this.OR([
      {
        ALT: () => {
          this.CONSUME(T.LBracket);
          const items: AstNum[] = [];
          this.MANY_SEP({
            SEP: T.Comma,
            DEF: () => {
              const n = this.SUBRULE(this.num);
              this.ACTION(() => items.push(n));
            },
          });
          this.CONSUME(T.RBracket);
          return { kind: 'list' as const, items };
        },
      },
      {
        ALT: () => {
          this.CONSUME(T.KwDense);
          this.CONSUME(T.LAngle);
          const s = this.CONSUME(T.StringLit);
          this.CONSUME(T.RAngle);
          return this.ACTION(() => ({ kind: 'dense' as const, b64: str(s), pos: pos(s) }));
        },
      },
      {
        ALT: () => {
          this.CONSUME(T.KwDenseElided);
          this.CONSUME2(T.LAngle);
          this.CONSUME2(T.StringLit);
          this.CONSUME2(T.RAngle);
          return { kind: 'elided' as const };
        },
      },
    ]);
    return this.ACTION(() => ({ type, body, line: type.line, col: type.col }));
  });

  attrValue = this.RULE('attrValue', (): AstAttrValue => {
    return this.OR([
      {
        ALT: () => {
          const n = this.SUBRULE(this.num);
          return { kind: 'num' as const, num: n };
        },
      },
      {
        ALT: () => {
          const t = this.CONSUME(T.StringLit);
          return this.ACTION(() => ({ kind: 'string' as const, value: str(t), pos: pos(t) }));
        },
      },
      {
        ALT: () => {
          const lb = this.CONSUME(T.LBracket);
          const items: ({ kind: 'num'; num: AstNum } | { kind: 'string'; value: string; pos: Pos })[] = [];
          this.MANY_SEP({
            SEP: T.Comma,
            DEF: () => {
              this.OR2([
                {
                  ALT: () => {
                    const n = this.SUBRULE2(this.num);
                    this.ACTION(() => items.push({ kind: 'num', num: n }));
                  },
                },
                {
                  ALT: () => {
                    const t = this.CONSUME2(T.StringLit);
                    this.ACTION(() => items.push({ kind: 'string', value: str(t), pos: pos(t) }));
                  },
                },
              ]);
            },
          });
          this.CONSUME(T.RBracket);
          return this.ACTION(() => ({ kind: 'list' as const, items, pos: pos(lb) }));
        },
      },
      {
        ALT: () => {
          const t = this.SUBRULE(this.tensor);
          return { kind: 'tensor' as const, tensor: t };
        },
      },
      {
        ALT: () => {
          const g = this.SUBRULE(this.graph);
          return { kind: 'graph' as const, graph: g };
        },
      },
    ]);
  });

  stmt = this.RULE('stmt', (): AstConst | AstNode => {
    return this.OR([
      {
        ALT: () => {
          const results: Named[] = [];
          this.AT_LEAST_ONE_SEP({
            SEP: T.Comma,
            DEF: () => {
              const v = this.CONSUME(T.ValueId);
              this.ACTION(() => results.push(named(v)));
            },
          });
          this.CONSUME(T.Equals);
          return this.OR2([
            {
              ALT: () => {
                this.CONSUME(T.KwConst);
                const tensor = this.SUBRULE(this.tensor);
                return this.ACTION((): AstConst => ({ kind: 'const', results, tensor, line: results[0]!.line, col: results[0]!.col }));
              },
            },
            { ALT: () => this.SUBRULE(this.opBody, { ARGS: [results] }) },
          ]);
        },
      },
      { ALT: () => this.SUBRULE2(this.opBody, { ARGS: [[]] }) },
    ]);
  });

  opBody = this.RULE('opBody', (results: Named[]): AstNode => {
    const op = this.CONSUME(T.Identifier);
    this.CONSUME(T.LParen);
    const operands: (Named | null)[] = [];
    this.MANY_SEP({
      SEP: T.Comma,
      DEF: () => {
        this.OR([
          {
            ALT: () => {
              const v = this.CONSUME(T.ValueId);
              this.ACTION(() => operands.push(named(v)));
            },
          },
          {
            ALT: () => {
              this.CONSUME(T.Underscore);
              this.ACTION(() => operands.push(null));
            },
          },
        ]);
      },
    });
    this.CONSUME(T.RParen);
    const attrs: AstAttr[] = [];
    this.OPTION(() => {
      this.CONSUME(T.LBrace);
      this.MANY_SEP2({
        SEP: T.Comma,
        DEF: () => {
          const k = this.SUBRULE(this.key);
          this.CONSUME(T.Equals);
          const value = this.SUBRULE(this.attrValue);
          this.ACTION(() => attrs.push({ key: k.name, value, line: k.line, col: k.col }));
        },
      });
      this.CONSUME(T.RBrace);
    });
    const types: AstType[] = [];
    this.OPTION2(() => {
      this.CONSUME(T.Colon);
      this.AT_LEAST_ONE_SEP({
        SEP: T.Comma,
        DEF: () => {
          const t = this.SUBRULE(this.type);
          this.ACTION(() => types.push(t));
        },
      });
    });
    let nodeName: string | undefined;
    this.OPTION3(() => {
      const s = this.CONSUME(T.SymbolId);
      this.ACTION(() => (nodeName = sigilName(s)));
    });
    return this.ACTION(() => {
      const first = results[0] ?? pos(op);
      return {
        kind: 'node' as const,
        results,
        op: op.image,
        opPos: pos(op),
        operands,
        attrs,
        types,
        nodeName,
        line: first.line,
        col: first.col,
      };
    });
  });
}

let parser: IrParser | undefined;
/** The shared parser instance (self-analysis runs once). */
export function irParser(): IrParser {
  return (parser ??= new IrParser());
}
export type { IrParser };
