// Parse errors carry file:line:column, what was expected, and the offending source line with a caret.
import { IRError } from '../errors.ts';

export class IRParseError extends IRError {
  override name = 'IRParseError';
  readonly file: string;
  readonly line: number;
  readonly column: number;
  /** the message without location or excerpt */
  readonly reason: string;

  constructor(file: string, line: number, column: number, reason: string, source?: string) {
    const text = source?.split(/\r?\n/)[line - 1];
    const excerpt = text === undefined ? '' : `\n  ${text}\n  ${' '.repeat(Math.max(0, column - 1))}^`;
    super(`${file}:${line}:${column}: ${reason}${excerpt}`);
    this.file = file;
    this.line = line;
    this.column = column;
    this.reason = reason;
  }
}
