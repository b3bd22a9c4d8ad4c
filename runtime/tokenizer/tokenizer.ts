// A Hugging Face tokenizer (tokenizer.json) for the target models: encoding through @huggingface/tokenizers,
// decoding with the Rust crate's semantics, the model's BOS/EOS ids, and per-request streaming detokenizers.
// Encode and decode equal the Python `tokenizers` package on the fixture (tests/unit/tokenizer), including its
// defaults: `encode` adds special tokens (what the post-processor adds; nothing for a completion model) and
// `decode` skips special tokens.
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { byteLevelTokenBytes } from './byte-level.ts';
import { TokenizerError } from './errors.ts';
import { buildHfTokenizer, type HfTokenizer } from './hf-tokenizer.ts';
import { readJsonObject, readOptionalText, type JsonObject } from './read-json.ts';
import { configHasChatTemplate, resolveSpecialIds, type JsonSource, type SpecialIds } from './special-tokens.ts';
import { StreamingDetokenizer, type StreamingOptions } from './streaming-detokenizer.ts';

export interface EncodeOptions {
  /** Apply the tokenizer's post-processor (BOS/EOS templates). Default true, as in Python. */
  readonly addSpecialTokens?: boolean;
}

export interface DecodeOptions {
  /** Leave out special tokens (such as `<|endoftext|>`). Default true, as in Python. */
  readonly skipSpecialTokens?: boolean;
}

interface Meta extends SpecialIds {
  readonly hasChatTemplate: boolean;
}

const describe = (v: unknown): string => (typeof v === 'number' ? String(v) : `${JSON.stringify(v) ?? String(v)} (${typeof v})`);

/** A Hugging Face tokenizer.json (encode/decode exact to the Python `tokenizers` package), with BOS/EOS from the model folder. */
export class Tokenizer {
  /** The tokenizer.json this was loaded from (named in errors). */
  readonly path: string;
  /** Number of token ids, added tokens included (Python's `get_vocab_size(with_added_tokens=True)`). */
  readonly vocabSize: number;
  readonly bosId: number | null;
  /** The first EOS id; `eosIds` has every id that ends a generation (tokenizer, generation_config, config). */
  readonly eosId: number | null;
  readonly eosIds: readonly number[];
  readonly hasChatTemplate: boolean;
  /** Ids of the added tokens marked special. */
  readonly specialIds: ReadonlySet<number>;
  /** The decoder is `ByteLevel`: decoding and streaming go through token bytes (see byte-level.ts). */
  readonly byteLevel: boolean;

  private readonly hf: HfTokenizer;
  private readonly tokens: readonly (string | undefined)[];
  private readonly ids: ReadonlyMap<string, number>;
  private readonly bytes: readonly Uint8Array[] | null;
  private readonly utf8 = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

  private constructor(path: string, json: JsonObject, meta: (t: Tokenizer) => Meta) {
    this.path = path;
    this.hf = buildHfTokenizer(json, path);
    this.ids = this.hf.get_vocab(true);
    const tokens: (string | undefined)[] = [];
    for (const [token, id] of this.ids) tokens[id] = token;
    this.tokens = tokens;
    this.vocabSize = this.ids.size;
    this.specialIds = new Set([...this.hf.get_added_tokens_decoder()].filter(([, t]) => t.special).map(([id]) => id));
    this.byteLevel = (json['decoder'] as { type?: unknown } | null)?.type === 'ByteLevel';
    this.bytes = this.byteLevel ? Array.from(tokens, (t) => byteLevelTokenBytes(t ?? '')) : null;
    const m = meta(this);
    this.bosId = m.bosId;
    this.eosIds = m.eosIds;
    this.eosId = m.eosIds[0] ?? null;
    this.hasChatTemplate = m.hasChatTemplate;
  }

  /** Load one tokenizer.json (no BOS/EOS or chat template: those live in the model folder, see `fromDir`). */
  static async fromFile(path: string): Promise<Tokenizer> {
    const json = (await readJsonObject(path, 'tokenizer.json'))!;
    return new Tokenizer(path, json, () => ({ bosId: null, eosIds: [], hasChatTemplate: false }));
  }

  /**
   * Load a Hugging Face model folder: tokenizer.json (required), and where present tokenizer_config.json
   * (bos_token, eos_token, chat_template), generation_config.json and config.json (bos/eos_token_id) and
   * chat_template.jinja.
   */
  static async fromDir(modelDir: string): Promise<Tokenizer> {
    const path = join(modelDir, 'tokenizer.json');
    if (!existsSync(path) && existsSync(join(modelDir, 'tokenizer.model'))) {
      throw new TokenizerError('tokenizer.json not found (the folder has only a SentencePiece tokenizer.model, which is not supported)', path);
    }
    const json = (await readJsonObject(path, 'tokenizer.json'))!;
    const source = async (name: string): Promise<JsonSource | undefined> => {
      const p = join(modelDir, name);
      const j = await readJsonObject(p, name, true);
      return j && { path: p, json: j };
    };
    const [tokenizerConfig, generationConfig, config, jinja] = await Promise.all([
      source('tokenizer_config.json'), source('generation_config.json'), source('config.json'),
      readOptionalText(join(modelDir, 'chat_template.jinja'), 'chat_template.jinja'),
    ]);
    return new Tokenizer(path, json, (t) => ({
      ...resolveSpecialIds({ tokenToId: (s) => t.tokenToId(s), hasId: (id) => t.hasId(id) }, { tokenizerConfig, generationConfig, config }),
      hasChatTemplate: configHasChatTemplate(tokenizerConfig) || (jinja !== undefined && jinja.trim() !== ''),
    }));
  }

  encode(text: string, opts: EncodeOptions = {}): number[] {
    if (typeof text !== 'string') throw new TokenizerError(`encode expects a string, got ${describe(text)}`);
    const { ids, tokens } = this.hf.encode(text, { add_special_tokens: opts.addSpecialTokens ?? true });
    ids.forEach((id, i) => {
      if (!Number.isInteger(id)) {
        throw new TokenizerError(`encoding ${JSON.stringify(text.slice(0, 40))}: piece ${JSON.stringify(tokens[i])} is not in the vocabulary and the model has no unk_token`, this.path);
      }
    });
    return ids;
  }

  decode(ids: ArrayLike<number>, opts: DecodeOptions = {}): string {
    this.checkIds(ids);
    const skip = opts.skipSpecialTokens ?? true;
    if (this.bytes === null) {
      return ids.length === 0 ? '' : this.hf.decode(Array.from(ids), { skip_special_tokens: skip });
    }
    const parts: Uint8Array[] = [];
    let n = 0;
    for (let i = 0; i < ids.length; i++) {
      if (skip && this.specialIds.has(ids[i])) continue;
      const b = this.bytes[ids[i]];
      parts.push(b);
      n += b.length;
    }
    const all = new Uint8Array(n);
    let at = 0;
    for (const b of parts) { all.set(b, at); at += b.length; }
    return this.utf8.decode(all);
  }

  /** The token string of an id (byte-level alphabet, e.g. "Ġreturn"), or undefined. */
  idToToken(id: number): string | undefined {
    return this.hasId(id) ? this.tokens[id] : undefined;
  }

  tokenToId(token: string): number | undefined {
    return this.ids.get(token);
  }

  hasId(id: number): boolean {
    return Number.isInteger(id) && id >= 0 && id < this.tokens.length && this.tokens[id] !== undefined;
  }

  /** Throw, naming the id and its index, if any id is not in the vocabulary. */
  checkIds(ids: ArrayLike<number>): void {
    if (ids === null || typeof ids !== 'object' || typeof ids.length !== 'number') {
      throw new TokenizerError(`token ids must be an array of integers, got ${describe(ids)}`);
    }
    for (let i = 0; i < ids.length; i++) this.checkId(ids[i], i);
  }

  checkId(id: number, index: number): void {
    if (this.hasId(id)) return;
    const what = typeof id === 'number' && Number.isInteger(id) ? 'is not in the vocabulary' : 'is not an integer';
    throw new TokenizerError(`token id ${describe(id)} at index ${index} ${what} of ${this.path} (ids 0..${this.tokens.length - 1})`);
  }

  /** The bytes the ByteLevel decoder gives token `id` (checked by the caller); null if the decoder is not ByteLevel. */
  tokenBytes(id: number): Uint8Array | null {
    return this.bytes === null ? null : this.bytes[id];
  }

  /** A detokenizer for one request's generated ids (see streaming-detokenizer.ts). */
  streamingDetokenizer(opts: StreamingOptions = {}): StreamingDetokenizer {
    return new StreamingDetokenizer(this, opts);
  }
}
