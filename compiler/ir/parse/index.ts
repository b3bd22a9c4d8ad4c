// Textual IR → Graph. parseGraph for one graph, parseModule for `// -----`-separated files.
import type { ILexingError, IToken } from 'chevrotain';
import type { Graph } from '../graph.ts';
import { GraphBuilder } from './build-graph.ts';
import type { ModuleCstNode } from './cst-types.ts';
import { IRParseError } from './errors.ts';
import { irParser } from './grammar.ts';
import { irLexer } from './tokens.ts';

export { IRParseError } from './errors.ts';

function lexError(e: ILexingError, text: string, file: string): IRParseError {
  const ch = text[e.offset];
  const reason = ch === '"' ? 'malformed string literal (strings use JSON syntax)' : `unexpected character ${JSON.stringify(ch)}`;
  return new IRParseError(file, e.line ?? 1, e.column ?? 1, reason, text);
}

/** Just after the last token, for errors at end of input (chevrotain gives the EOF token no position). */
function endOf(tokens: readonly IToken[]): { line: number; column: number } {
  const last = tokens[tokens.length - 1];
  return last ? { line: last.endLine!, column: last.endColumn! + 1 } : { line: 1, column: 1 };
}

function parseCst(text: string, file: string): { cst: ModuleCstNode; builder: GraphBuilder; tokens: IToken[] } {
  const lexed = irLexer.tokenize(text);
  if (lexed.errors.length) throw lexError(lexed.errors[0], text, file);
  irParser.input = lexed.tokens;
  const cst = irParser.module() as ModuleCstNode;
  const err = irParser.errors[0];
  if (err) {
    const tok: IToken = err.token;
    const pos = Number.isFinite(tok.startLine) ? { line: tok.startLine!, column: tok.startColumn! } : endOf(lexed.tokens);
    throw new IRParseError(file, pos.line, pos.column, err.message, text);
  }
  return { cst, builder: new GraphBuilder(file, text), tokens: lexed.tokens };
}

/** Every graph in a file, in order (graphs may be separated by `// -----` lines). */
export function parseModule(text: string, file = '<ir>'): Graph[] {
  const { cst, builder } = parseCst(text, file);
  return builder.module(cst.children);
}

/** Exactly one graph; every node is rebuilt with Node.make, so the result is interned and re-inferred. */
export function parseGraph(text: string, file = '<ir>'): Graph {
  const { cst, builder, tokens } = parseCst(text, file);
  const graphs = cst.children.graph ?? [];
  if (graphs.length === 0) {
    const end = endOf(tokens);
    throw new IRParseError(file, end.line, end.column, "expected 'graph', found end of input", text);
  }
  if (graphs.length > 1) builder.fail(graphs[1].children.Graph[0], 'expected a single graph (use parseModule for files with several)');
  return builder.graph(graphs[0].children);
}
