// POST /v1/chat/completions: the messages rendered with the model's chat template, then generated like a
// completion; answered as "chat.completion" or streamed as "chat.completion.chunk" (a first chunk with the
// assistant role, content deltas, the finish reason, usage when asked, [DONE]). A model without a chat
// template (a completion model, as the fixture) gets a 400 that says so.
import type { ChatTemplate } from './chat-template.ts';
import { badRequest } from './errors.ts';
import type { ChatBody, ChatMessage } from './schemas.ts';
import type { ServeContext } from './generation.ts';
import { checkCapacity, checkModel, checkSupported, Job, makeSpec, requestId, usage } from './generation.ts';
import { sseResponse } from './sse.ts';

export function needTemplate(ctx: ServeContext): ChatTemplate {
  if (ctx.chat) return ctx.chat;
  throw badRequest(`The model ${ctx.modelName} has no chat template (no "chat_template" in tokenizer_config.json and no chat_template.jinja), so /v1/chat/completions is not available; use /v1/completions.`, 'messages', 'no_chat_template');
}

export function renderChat(ctx: ServeContext, messages: readonly ChatMessage[], o: { addGenerationPrompt?: boolean | null; kwargs?: Record<string, unknown> | null } = {}): number[] {
  const tpl = needTemplate(ctx);
  let text: string;
  try {
    text = tpl.render(messages, { addGenerationPrompt: o.addGenerationPrompt ?? true, kwargs: o.kwargs ?? {} });
  } catch (e) {
    throw badRequest(`the chat template (${tpl.source}) failed on these messages: ${(e as Error).message}`, 'messages', 'chat_template_error');
  }
  // the template writes the special tokens itself
  return ctx.tokenizer.encode(text, { addSpecialTokens: false });
}

export async function chatCompletions(ctx: ServeContext, b: ChatBody, signal: AbortSignal): Promise<Response> {
  checkModel(ctx, b.model);
  checkSupported(b);
  if (b.logprobs) throw badRequest('"logprobs": not supported', 'logprobs', 'unsupported_value');
  if (b.tools && b.tools.length > 0) throw badRequest('"tools": tool calling is not supported', 'tools', 'unsupported_value');
  const prompt = renderChat(ctx, b.messages, { addGenerationPrompt: b.add_generation_prompt, kwargs: b.chat_template_kwargs });
  const maxKey = b.max_completion_tokens != null ? 'max_completion_tokens' : 'max_tokens';
  const spec = makeSpec(ctx, b, prompt, maxKey, b.max_completion_tokens ?? b.max_tokens);
  checkCapacity(ctx, 1);
  const id = requestId('chatcmpl');
  const created = Math.floor(Date.now() / 1000);
  const model = ctx.modelName;

  if (b.stream) {
    const includeUsage = b.stream_options?.include_usage ?? false;
    let job: Job | null = null;
    return sseResponse((w) => {
      const chunk = (delta: object, finish: object = { finish_reason: null }) => ({ id, object: 'chat.completion.chunk', created, model, choices: [{ index: 0, delta, logprobs: null, ...finish }] });
      w.send(chunk({ role: 'assistant', content: '' }));
      job = new Job(ctx, spec, {
        onDelta: (delta, end) => {
          w.send(chunk({ content: delta }, end ? { finish_reason: end.finishReason, stop_reason: end.stopReason } : { finish_reason: null }));
          if (!end) return;
          if (includeUsage) w.send({ id, object: 'chat.completion.chunk', created, model, choices: [], usage: usage([job!]) });
          w.done();
        },
        onError: (e) => { w.send({ error: { message: e.message, type: 'server_error', param: null, code: null } }); w.done(); },
      });
      job.start();
    }, () => job?.cancel());
  }

  const job = new Job(ctx, spec);
  const abort = () => job.cancel();
  signal.addEventListener('abort', abort, { once: true });
  try {
    job.start();
    const end = await job.done;
    return Response.json({
      id, object: 'chat.completion', created, model,
      choices: [{ index: 0, message: { role: 'assistant', content: end.text, tool_calls: [] }, logprobs: null, finish_reason: end.finishReason, stop_reason: end.stopReason }],
      usage: { ...usage([job]), prompt_tokens_details: null },
    });
  } finally {
    signal.removeEventListener('abort', abort);
  }
}
