// Streaming detokenization for one request: push generated ids one at a time, get back only the text they
// complete. Byte-level bookkeeping: each id contributes its ByteLevel bytes to a streaming UTF-8 decoder, which
// holds back the bytes of a character that is not complete yet (at most 3) and emits everything before them.
// So no chunk ends inside a character, each push costs O(bytes of the token), and the chunks concatenated with
// flush() equal `tokenizer.decode(allIds)` exactly: WHATWG's streaming UTF-8 decoding gives the same text as
// decoding all the bytes at once, with the same U+FFFD for each maximal invalid subpart as Rust's
// `String::from_utf8_lossy` (a U+FFFD therefore only appears where decode has one too, never for half a character).
import { TokenizerError } from './errors.ts';
import type { Tokenizer } from './tokenizer.ts';

export interface StreamingOptions {
  /** Leave out special tokens, as `decode` does by default. Default true. */
  readonly skipSpecialTokens?: boolean;
}

/** Per-request incremental detokenization: push(id) returns only newly completed text, never half a character. */
export class StreamingDetokenizer {
  private readonly tokenizer: Tokenizer;
  private readonly skip: boolean;
  private readonly utf8 = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });
  private pushed = 0;
  private flushed = false;

  constructor(tokenizer: Tokenizer, opts: StreamingOptions = {}) {
    if (!tokenizer.byteLevel) {
      throw new TokenizerError('streaming detokenization supports only tokenizers whose decoder is ByteLevel', tokenizer.path);
    }
    this.tokenizer = tokenizer;
    this.skip = opts.skipSpecialTokens ?? true;
  }

  /** Number of ids pushed so far. */
  get tokenCount(): number {
    return this.pushed;
  }

  /** Add one id; returns the text it completes (often '' inside a multi-byte character). */
  push(id: number): string {
    if (this.flushed) throw new TokenizerError(`push(${id}) after flush(): this detokenizer's stream has ended (make a new one per request)`);
    this.tokenizer.checkId(id, this.pushed);
    this.pushed++;
    if (this.skip && this.tokenizer.specialIds.has(id)) return '';
    return this.utf8.decode(this.tokenizer.tokenBytes(id)!, { stream: true });
  }

  /** End the stream: the text still held back (an unfinished character becomes U+FFFD, as in decode). */
  flush(): string {
    if (this.flushed) return '';
    this.flushed = true;
    return this.utf8.decode();
  }
}
