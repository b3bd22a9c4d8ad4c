// One request's output text as it grows: ids in, text deltas out, with stop strings handled as vLLM handles
// them. While stop strings are set, the last (longest stop − 1) characters are held back, since they might
// begin a stop string; when one appears, the text is cut before it (or after it, with
// include_stop_str_in_output) and the request is over. The deltas concatenated equal the final text.
import type { StreamingDetokenizer, Tokenizer } from '../tokenizer/index.ts';

export interface TextDelta {
  readonly delta: string;
  /** the stop string that ended the text, if one did */
  readonly stop: string | null;
}

export class TextStream {
  readonly #stops: readonly string[];
  readonly #hold: number;
  readonly #includeStop: boolean;
  readonly #detok: StreamingDetokenizer | null;
  readonly #tokenizer: Tokenizer;
  readonly #skipSpecial: boolean;
  readonly #ids: number[] = [];
  #text = '';
  #sent = 0;
  #scanned = 0;
  #stopped: string | null = null;

  constructor(tokenizer: Tokenizer, o: { stop?: readonly string[]; includeStopStr?: boolean; skipSpecialTokens?: boolean } = {}) {
    this.#tokenizer = tokenizer;
    this.#stops = (o.stop ?? []).filter((s) => s.length > 0);
    this.#hold = this.#stops.length ? Math.max(...this.#stops.map((s) => s.length)) - 1 : 0;
    this.#includeStop = o.includeStopStr ?? false;
    this.#skipSpecial = o.skipSpecialTokens ?? true;
    this.#detok = tokenizer.byteLevel ? tokenizer.streamingDetokenizer({ skipSpecialTokens: this.#skipSpecial }) : null;
  }

  get text(): string { return this.#text; }
  get stopped(): string | null { return this.#stopped; }

  /** New ids; returns the text that may be sent now. After a stop string, further ids are ignored. */
  push(ids: readonly number[]): TextDelta {
    if (this.#stopped !== null) return { delta: '', stop: this.#stopped };
    if (this.#detok) {
      for (const id of ids) this.#text += this.#detok.push(id);
    } else {
      this.#ids.push(...ids);
      this.#text = this.#tokenizer.decode(this.#ids, { skipSpecialTokens: this.#skipSpecial });
    }
    return this.#take(false);
  }

  /** The end of the output: the held-back text and anything an unfinished character left. */
  finish(): TextDelta {
    if (this.#stopped === null && this.#detok) this.#text += this.#detok.flush();
    return this.#take(true);
  }

  #take(final: boolean): TextDelta {
    if (this.#stopped === null && this.#stops.length > 0) {
      const from = Math.max(0, this.#scanned - this.#hold);
      let at = -1, which = '';
      for (const s of this.#stops) {
        const j = this.#text.indexOf(s, from);
        if (j >= 0 && (at < 0 || j < at)) { at = j; which = s; }
      }
      if (at >= 0) {
        this.#stopped = which;
        this.#text = this.#text.slice(0, this.#includeStop ? at + which.length : at);
      }
      this.#scanned = this.#text.length;
    }
    const end = this.#stopped !== null || final ? this.#text.length : Math.max(this.#sent, this.#text.length - this.#hold);
    const delta = this.#text.slice(this.#sent, end);
    this.#sent = end;
    return { delta, stop: this.#stopped };
  }
}
