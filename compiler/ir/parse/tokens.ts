// Tokens of the textual IR (the format compiler/ir/print.ts writes). Order matters: chevrotain tries
// patterns first to last, so whitespace (most frequent) leads, the `// -----` separator precedes
// ordinary comments, and keywords precede Identifier (with longer_alt so `constant` stays a name).
import { createToken, Lexer } from 'chevrotain';
import type { TokenType } from 'chevrotain';

export const WhiteSpace = createToken({ name: 'WhiteSpace', pattern: /[ \t\r\n]+/, group: Lexer.SKIPPED, line_breaks: true });
/** Splits a file into several graphs (FileCheck cases), as in MLIR's --split-input-file: exactly
 * `// -----` to the end of the line, so a comment like `// ----- setup -----` stays a comment. */
export const Separator = createToken({ name: 'Separator', pattern: /\/\/ -----[ \t]*(?![^\r\n])/, label: "'// -----'" });
export const Comment = createToken({ name: 'Comment', pattern: /\/\/[^\r\n]*/, group: Lexer.SKIPPED });

/** `%0`, `%hidden`: node results and graph inputs share one namespace per graph. */
export const LocalName = createToken({ name: 'LocalName', pattern: /%[A-Za-z0-9_.$]+/, label: 'a %name' });
/** JSON string syntax exactly, because the printer writes strings with JSON.stringify. */
export const StringLiteral = createToken({
  name: 'StringLiteral',
  pattern: /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/,
  label: 'a string',
});
/** Unsigned: a leading '-' is its own token so `-inf` and `-0` parse the same way as `-1`. */
export const NumberLiteral = createToken({ name: 'NumberLiteral', pattern: /(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?/, label: 'a number' });
export const Identifier = createToken({ name: 'Identifier', pattern: /[A-Za-z_][A-Za-z0-9_]*/, label: 'an identifier' });

// Categories: any keyword may still serve as a name (a graph, output, attribute key or dim may be
// called `graph` or `inf`); the grammar consumes the category where a name is expected.
export const Keyword = createToken({ name: 'Keyword', pattern: Lexer.NA });
export const BooleanLiteral = createToken({ name: 'BooleanLiteral', pattern: Lexer.NA, label: 'true or false' });
export const NonFinite = createToken({ name: 'NonFinite', pattern: Lexer.NA, label: 'inf or nan' });

const keyword = (word: string, categories: TokenType[] = []): TokenType =>
  createToken({ name: word[0].toUpperCase() + word.slice(1), pattern: word, longer_alt: Identifier, categories: [Keyword, ...categories], label: `'${word}'` });

export const Graph = keyword('graph');
export const Return = keyword('return');
export const Param = keyword('param');
export const Const = keyword('const');
export const True = keyword('true', [BooleanLiteral]);
export const False = keyword('false', [BooleanLiteral]);
export const Inf = keyword('inf', [NonFinite]);
export const Nan = keyword('nan', [NonFinite]);

const punct = (name: string, ch: string): TokenType => createToken({ name, pattern: ch, label: `'${ch}'` });
export const LParen = punct('LParen', '(');
export const RParen = punct('RParen', ')');
export const LBrace = punct('LBrace', '{');
export const RBrace = punct('RBrace', '}');
export const LBracket = punct('LBracket', '[');
export const RBracket = punct('RBracket', ']');
export const Comma = punct('Comma', ',');
export const Colon = punct('Colon', ':');
export const Equals = punct('Equals', '=');
export const Minus = punct('Minus', '-');

export const ALL_TOKENS: TokenType[] = [
  WhiteSpace, Separator, Comment, LocalName, StringLiteral, NumberLiteral,
  Keyword, BooleanLiteral, NonFinite, Graph, Return, Param, Const, True, False, Inf, Nan,
  Identifier, LParen, RParen, LBrace, RBrace, LBracket, RBracket, Comma, Colon, Equals, Minus,
];

export const irLexer = new Lexer(ALL_TOKENS, { ensureOptimizations: true, positionTracking: 'full' });
