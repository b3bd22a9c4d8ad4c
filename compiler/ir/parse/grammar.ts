// Grammar of the textual IR. Pure syntax: names are resolved, ops looked up and types inferred by
// the visitor in build-graph.ts. One parser instance serves every parse (reset via `input`).
//
//   module    := (graph | '// -----')*
//   graph     := 'graph' name '(' (graphInput (',' graphInput)*)? ')' '{' statement* ret '}'
//   graphInput := %name ':' type
//   statement := %name '=' nodeBody ':' type
//   nodeBody  := 'param' string | 'const' number | op (%name (',' %name)*)? attrs?
//   attrs     := '{' (attr (',' attr)*)? '}'          attr := name '=' attrValue
//   attrValue := string | true | false | list | number
//   list      := '[' (listItem (',' listItem)*)? ']'   listItem := '-'? number | name
//   ret       := 'return' (graphOutput (',' graphOutput)*)?  graphOutput := name '=' %name
//   type      := dtype '[' (dim (',' dim)*)? ']'       dim := number | name
import { CstParser } from 'chevrotain';
import type { IParserErrorMessageProvider, IToken, TokenType } from 'chevrotain';
import { EOF, tokenLabel } from 'chevrotain';
import * as T from './tokens.ts';

const RULE_TEXT: Record<string, string> = {
  module: 'an IR file', graph: 'a graph', graphInput: 'a graph input', statement: 'a node definition',
  nodeBody: 'a node definition', attrs: 'attributes', attr: 'an attribute', attrValue: 'an attribute value',
  list: 'a list', listItem: 'a list element', number: 'a number', ret: 'the return statement',
  graphOutput: 'a graph output', type: 'a type', dim: 'a dimension', name: 'a name',
};

const found = (t: IToken): string => (t.tokenType === EOF ? 'end of input' : `'${t.image}'`);
const within = (rule: string): string => (RULE_TEXT[rule] ? ` in ${RULE_TEXT[rule]}` : '');
const firstLabels = (paths: TokenType[][]): string[] => [...new Set(paths.filter((p) => p.length > 0).map((p) => tokenLabel(p[0])))];

/** Messages that say what was expected and what was found, in the IR's own words. */
const messages: IParserErrorMessageProvider = {
  buildMismatchTokenMessage: ({ expected, actual, ruleName }) => `expected ${tokenLabel(expected)}${within(ruleName)}, found ${found(actual)}`,
  buildNotAllInputParsedMessage: ({ firstRedundant }) => `expected 'graph' or end of input, found ${found(firstRedundant)}`,
  buildNoViableAltMessage: ({ expectedPathsPerAlt, actual, ruleName }) =>
    `expected ${firstLabels(expectedPathsPerAlt.flat()).join(' or ')}${within(ruleName)}, found ${found(actual[0])}`,
  buildEarlyExitMessage: ({ expectedIterationPaths, actual, ruleName }) =>
    `expected ${firstLabels(expectedIterationPaths).join(' or ')}${within(ruleName)}, found ${found(actual[0])}`,
};

export class IrParser extends CstParser {
  constructor() {
    super(T.ALL_TOKENS, { errorMessageProvider: messages, recoveryEnabled: false });
    this.performSelfAnalysis();
  }

  module = this.RULE('module', () => {
    this.MANY(() => this.OR([
      { ALT: () => this.SUBRULE(this.graph) },
      { ALT: () => this.CONSUME(T.Separator) },
    ]));
  });

  graph = this.RULE('graph', () => {
    this.CONSUME(T.Graph);
    this.SUBRULE(this.name);
    this.CONSUME(T.LParen);
    this.MANY_SEP({ SEP: T.Comma, DEF: () => this.SUBRULE(this.graphInput) });
    this.CONSUME(T.RParen);
    this.CONSUME(T.LBrace);
    this.MANY(() => this.SUBRULE(this.statement));
    this.SUBRULE(this.ret);
    this.CONSUME(T.RBrace);
  });

  graphInput = this.RULE('graphInput', () => {
    this.CONSUME(T.LocalName);
    this.CONSUME(T.Colon);
    this.SUBRULE(this.type);
  });

  statement = this.RULE('statement', () => {
    this.CONSUME(T.LocalName);
    this.CONSUME(T.Equals);
    this.SUBRULE(this.nodeBody);
    this.CONSUME(T.Colon);
    this.SUBRULE(this.type);
  });

  nodeBody = this.RULE('nodeBody', () => {
    this.OR([
      { ALT: () => { this.CONSUME(T.Param); this.CONSUME(T.StringLiteral); } },
      { ALT: () => { this.CONSUME(T.Const); this.SUBRULE(this.number); } },
      {
        ALT: () => {
          this.CONSUME(T.Identifier, { LABEL: 'op' });
          this.MANY_SEP({ SEP: T.Comma, DEF: () => this.CONSUME(T.LocalName, { LABEL: 'operand' }) });
          this.OPTION(() => this.SUBRULE(this.attrs));
        },
      },
    ]);
  });

  attrs = this.RULE('attrs', () => {
    this.CONSUME(T.LBrace);
    this.MANY_SEP({ SEP: T.Comma, DEF: () => this.SUBRULE(this.attr) });
    this.CONSUME(T.RBrace);
  });

  attr = this.RULE('attr', () => {
    this.SUBRULE(this.name);
    this.CONSUME(T.Equals);
    this.SUBRULE(this.attrValue);
  });

  attrValue = this.RULE('attrValue', () => {
    this.OR([
      { ALT: () => this.CONSUME(T.StringLiteral) },
      { ALT: () => this.CONSUME(T.BooleanLiteral) },
      { ALT: () => this.SUBRULE(this.list) },
      { ALT: () => this.SUBRULE(this.number) },
    ]);
  });

  list = this.RULE('list', () => {
    this.CONSUME(T.LBracket);
    this.MANY_SEP({ SEP: T.Comma, DEF: () => this.SUBRULE(this.listItem) });
    this.CONSUME(T.RBracket);
  });

  // A bare `inf`/`nan` in a list is a dim name: list attributes are dim lists and permutations,
  // where a non-finite number is never valid but a dim may be called anything identifier-like.
  listItem = this.RULE('listItem', () => {
    this.OR([
      {
        ALT: () => {
          this.CONSUME(T.Minus);
          this.OR2([{ ALT: () => this.CONSUME(T.NumberLiteral) }, { ALT: () => this.CONSUME(T.NonFinite) }]);
        },
      },
      { ALT: () => this.CONSUME2(T.NumberLiteral) },
      { ALT: () => this.SUBRULE(this.name) },
    ]);
  });

  number = this.RULE('number', () => {
    this.OPTION(() => this.CONSUME(T.Minus));
    this.OR([{ ALT: () => this.CONSUME(T.NumberLiteral) }, { ALT: () => this.CONSUME(T.NonFinite) }]);
  });

  ret = this.RULE('ret', () => {
    this.CONSUME(T.Return);
    this.MANY_SEP({ SEP: T.Comma, DEF: () => this.SUBRULE(this.graphOutput) });
  });

  graphOutput = this.RULE('graphOutput', () => {
    this.SUBRULE(this.name);
    this.CONSUME(T.Equals);
    this.CONSUME(T.LocalName);
  });

  type = this.RULE('type', () => {
    this.CONSUME(T.Identifier, { LABEL: 'dtype' });
    this.CONSUME(T.LBracket);
    this.MANY_SEP({ SEP: T.Comma, DEF: () => this.SUBRULE(this.dim) });
    this.CONSUME(T.RBracket);
  });

  dim = this.RULE('dim', () => {
    this.OR([
      { ALT: () => this.CONSUME(T.NumberLiteral) },
      { ALT: () => this.SUBRULE(this.name) },
    ]);
  });

  name = this.RULE('name', () => {
    this.OR([
      { ALT: () => this.CONSUME(T.Identifier) },
      { ALT: () => this.CONSUME(T.Keyword) },
    ]);
  });
}

/** The one parser instance (chevrotain's "singleton parser": construction and self-analysis are costly). */
export const irParser = new IrParser();
