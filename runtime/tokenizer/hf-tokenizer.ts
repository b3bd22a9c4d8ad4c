// Building the @huggingface/tokenizers (tokenizers.js) object from a parsed tokenizer.json, with one correction
// that makes its encoding equal to the Rust `tokenizers` crate's.
//
// The correction: tokenizers.js hard-codes the GPT-2 split pattern of the ByteLevel pre-tokenizer as a
// JavaScript regex, where `\s` is JavaScript's whitespace. The crate compiles the same pattern with Oniguruma,
// whose `\s` is Unicode White_Space: it includes U+0085 (NEL) and excludes U+FEFF (BOM), which JavaScript has
// the other way round. "x  \u0085y" therefore split differently (found by the reference corpus). The package's
// own Oniguruma translator, used for `Split` patterns, already maps `\s` to `\p{White_Space}`; we swap the
// ByteLevel pattern for the same translation. If a later version of the package changes that pattern, it is left
// alone (and the reference tests say whether the result is still exact).
//
// The package's .d.ts files import each other without file extensions, which TypeScript's NodeNext resolution
// cannot follow, so its types arrive as `any`; `HfTokenizer` below types the part of its API that we use.
import * as tokenizersJs from '@huggingface/tokenizers';
import { TokenizerError } from './errors.ts';
import type { JsonObject } from './read-json.ts';

export interface HfTokenizer {
  encode(text: string, opts: { add_special_tokens: boolean }): { ids: number[]; tokens: string[] };
  decode(ids: number[], opts: { skip_special_tokens: boolean }): string;
  get_vocab(withAddedTokens: boolean): Map<string, number>;
  get_added_tokens_decoder(): Map<number, { special: boolean }>;
  readonly pre_tokenizer: unknown;
}

const pkg = tokenizersJs as unknown as {
  Tokenizer: new (json: object, config: object) => HfTokenizer;
  ByteLevelPreTokenizer: abstract new (...args: never[]) => object;
};

const JS_GPT2_PATTERN = String.raw`'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`;
const ONIG_GPT2_PATTERN =
  /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\p{White_Space}\p{L}\p{N}]+|\p{White_Space}+(?!\P{White_Space})|\p{White_Space}+/gu;

function fixByteLevelPattern(pre: unknown): void {
  if (pre instanceof pkg.ByteLevelPreTokenizer) {
    const p = pre as unknown as { pattern?: RegExp };
    if (p.pattern instanceof RegExp && p.pattern.source === JS_GPT2_PATTERN) p.pattern = new RegExp(ONIG_GPT2_PATTERN);
    return;
  }
  const seq = (pre as { tokenizers?: unknown } | null)?.tokenizers; // SequencePreTokenizer
  if (Array.isArray(seq)) seq.forEach(fixByteLevelPattern);
}

function checkShape(json: JsonObject, path: string): void {
  const model = json['model'];
  if (typeof model !== 'object' || model === null || Array.isArray(model)) {
    throw new TokenizerError('field "model" must be an object (is this a Hugging Face tokenizer.json?)', path);
  }
  if (typeof (model as JsonObject)['type'] !== 'string') throw new TokenizerError('field "model.type" must be a string', path);
  const added = json['added_tokens'];
  if (added !== undefined && !Array.isArray(added)) throw new TokenizerError('field "added_tokens" must be a list', path);
  for (const [i, t] of (added ?? []).entries()) {
    const { id, content } = (t ?? {}) as JsonObject;
    if (typeof content !== 'string' || typeof id !== 'number' || !Number.isInteger(id) || id < 0) {
      throw new TokenizerError(`field "added_tokens"[${i}] must have a string "content" and a non-negative integer "id"`, path);
    }
  }
}

export function buildHfTokenizer(json: JsonObject, path: string): HfTokenizer {
  checkShape(json, path);
  const full = {
    normalizer: null, pre_tokenizer: null, post_processor: null, decoder: null, added_tokens: [], ...json,
  };
  let tok: HfTokenizer;
  try {
    // Python's `tokenizers` never applies transformers' clean_up_tokenization (" ." → "."); tokenizers.js does by default.
    tok = new pkg.Tokenizer(full, { clean_up_tokenization_spaces: false });
  } catch (e) {
    throw new TokenizerError(`cannot build the tokenizer: ${(e as Error).message}`, path);
  }
  fixByteLevelPattern(tok.pre_tokenizer);
  return tok;
}
