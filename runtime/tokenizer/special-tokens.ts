// BOS/EOS ids of a model folder, from tokenizer_config.json (`bos_token`/`eos_token`, as strings or AddedToken
// objects) and generation_config.json / config.json (`bos_token_id`, `eos_token_id`: an id, a list or null).
// The tokenizer's own tokens come first; generation_config's extra EOS ids are stop ids too, as vLLM treats them.
import { TokenizerError } from './errors.ts';
import type { JsonObject } from './read-json.ts';

export interface JsonSource {
  readonly path: string;
  readonly json: JsonObject;
}

export interface SpecialIds {
  readonly bosId: number | null;
  readonly eosIds: readonly number[];
}

interface Vocab {
  tokenToId(token: string): number | undefined;
  hasId(id: number): boolean;
}

function tokenField(src: JsonSource, field: string, vocab: Vocab): number | undefined {
  const v = src.json[field];
  if (v === undefined || v === null) return undefined;
  const content = typeof v === 'string' ? v
    : typeof v === 'object' && typeof (v as { content?: unknown }).content === 'string' ? (v as { content: string }).content
    : undefined;
  if (content === undefined) {
    throw new TokenizerError(`field "${field}" must be a token string or an object with "content", found ${JSON.stringify(v)}`, src.path);
  }
  const id = vocab.tokenToId(content);
  if (id === undefined) throw new TokenizerError(`field "${field}": token ${JSON.stringify(content)} is not in the vocabulary`, src.path);
  return id;
}

function idField(src: JsonSource, field: string, vocab: Vocab): number[] {
  const v = src.json[field];
  if (v === undefined || v === null) return [];
  const ids = Array.isArray(v) ? v : [v];
  for (const [i, id] of ids.entries()) {
    const where = Array.isArray(v) ? `field "${field}"[${i}]` : `field "${field}"`;
    if (typeof id !== 'number' || !Number.isInteger(id)) throw new TokenizerError(`${where} must be an integer token id, found ${JSON.stringify(id)}`, src.path);
    if (!vocab.hasId(id)) throw new TokenizerError(`${where}: token id ${id} is not in the vocabulary`, src.path);
  }
  return ids as number[];
}

export function resolveSpecialIds(
  vocab: Vocab,
  sources: { tokenizerConfig?: JsonSource; generationConfig?: JsonSource; config?: JsonSource },
): SpecialIds {
  const { tokenizerConfig: tc, generationConfig: gc, config: mc } = sources;
  const bosCandidates = [
    tc && tokenField(tc, 'bos_token', vocab),
    ...(gc ? idField(gc, 'bos_token_id', vocab) : []),
    ...(mc ? idField(mc, 'bos_token_id', vocab) : []),
  ];
  const eos = [
    tc && tokenField(tc, 'eos_token', vocab),
    ...(gc ? idField(gc, 'eos_token_id', vocab) : []),
    ...(mc ? idField(mc, 'eos_token_id', vocab) : []),
  ].filter((id): id is number => id !== undefined);
  return {
    bosId: bosCandidates.find((id): id is number => id !== undefined) ?? null,
    eosIds: [...new Set(eos)],
  };
}

/** Whether tokenizer_config.json carries a chat template (a string, or a non-empty list of named templates). */
export function configHasChatTemplate(tc: JsonSource | undefined): boolean {
  const t = tc?.json['chat_template'];
  return (typeof t === 'string' && t.trim() !== '') || (Array.isArray(t) && t.length > 0);
}
