// Chat templates, as Hugging Face ships them: tokenizer_config.json's "chat_template" (a string, or a list of
// {name, template} where "default" is used) or a chat_template.jinja file, rendered with @huggingface/jinja
// (transformers' apply_chat_template arguments: messages, add_generation_prompt, bos_token, eos_token).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Template } from '@huggingface/jinja';
import type { Tokenizer } from '../tokenizer/index.ts';
import type { ChatMessage } from './schemas.ts';

export class ChatTemplate {
  readonly source: string;
  readonly #template: Template;
  readonly #bos: string;
  readonly #eos: string;

  constructor(text: string, source: string, tokens: { bos: string; eos: string }) {
    this.source = source;
    try { this.#template = new Template(text); } catch (e) { throw new Error(`${source}: the chat template does not parse: ${(e as Error).message}`); }
    this.#bos = tokens.bos;
    this.#eos = tokens.eos;
  }

  render(messages: readonly ChatMessage[], o: { addGenerationPrompt?: boolean; kwargs?: Record<string, unknown> } = {}): string {
    const msgs = messages.map((m) => ({
      role: m.role,
      content: typeof m.content === 'string' ? m.content : (m.content ?? []).map((p) => p.text).join(''),
      ...(m.name ? { name: m.name } : {}),
    }));
    return this.#template.render({
      ...o.kwargs, messages: msgs, add_generation_prompt: o.addGenerationPrompt ?? true, bos_token: this.#bos, eos_token: this.#eos,
    });
  }
}

/** The model folder's chat template, or null when it has none (a completion model such as the fixture). */
export function loadChatTemplate(modelDir: string, tokenizer: Tokenizer): ChatTemplate | null {
  const tokens = {
    bos: tokenizer.bosId === null ? '' : tokenizer.idToToken(tokenizer.bosId) ?? '',
    eos: tokenizer.eosId === null ? '' : tokenizer.idToToken(tokenizer.eosId) ?? '',
  };
  const cfgPath = join(modelDir, 'tokenizer_config.json');
  if (existsSync(cfgPath)) {
    const cfg = JSON.parse(readFileSync(cfgPath, 'utf8')) as { chat_template?: unknown };
    const t = cfg.chat_template;
    if (typeof t === 'string' && t.trim() !== '') return new ChatTemplate(t, cfgPath, tokens);
    if (Array.isArray(t) && t.length > 0) {
      const named = t as { name?: string; template?: string }[];
      const pick = named.find((x) => x.name === 'default') ?? named[0];
      if (typeof pick.template === 'string') return new ChatTemplate(pick.template, `${cfgPath} (chat_template "${pick.name}")`, tokens);
    }
  }
  const jinja = join(modelDir, 'chat_template.jinja');
  if (existsSync(jinja)) {
    const text = readFileSync(jinja, 'utf8');
    if (text.trim() !== '') return new ChatTemplate(text, jinja, tokens);
  }
  return null;
}
