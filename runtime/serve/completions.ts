// POST /v1/completions: a prompt (text, token ids, or a list of either) continued by the engine, answered
// whole or streamed as vLLM streams it (object "text_completion", usage in a last chunk with
// stream_options.include_usage, then [DONE]).
import { badRequest } from './errors.ts';
import type { CompletionBody } from './schemas.ts';
import type { JobEnd, ServeContext } from './generation.ts';
import { checkCapacity, checkModel, checkSupported, Job, makeSpec, requestId, usage } from './generation.ts';
import { sseResponse } from './sse.ts';

function prompts(ctx: ServeContext, p: CompletionBody['prompt']): number[][] {
  const enc = (s: string) => ctx.tokenizer.encode(s);
  if (typeof p === 'string') return [enc(p)];
  if (typeof p[0] === 'number') return [p as number[]];
  if (typeof p[0] === 'string') return (p as string[]).map(enc);
  return p as number[][];
}

export async function completions(ctx: ServeContext, b: CompletionBody, signal: AbortSignal): Promise<Response> {
  checkModel(ctx, b.model);
  checkSupported(b);
  if (b.echo) throw badRequest('"echo": not supported', 'echo', 'unsupported_value');
  if (b.logprobs != null) throw badRequest('"logprobs": not supported', 'logprobs', 'unsupported_value');
  if (b.suffix) throw badRequest('"suffix": not supported', 'suffix', 'unsupported_value');
  const specs = prompts(ctx, b.prompt).map((p) => makeSpec(ctx, b, p));
  checkCapacity(ctx, specs.length);
  const id = requestId('cmpl');
  const created = Math.floor(Date.now() / 1000);
  const model = ctx.modelName;
  const choice = (index: number, text: string, end: JobEnd | null) => ({
    index, text, logprobs: null, finish_reason: end ? end.finishReason : null, stop_reason: end ? end.stopReason : null,
  });

  if (b.stream) {
    const includeUsage = b.stream_options?.include_usage ?? false;
    const continuous = includeUsage && (b.stream_options?.continuous_usage_stats ?? false);
    let jobs: Job[] = [];
    const cancel = () => { for (const j of jobs) j.cancel(); };
    return sseResponse((w) => {
      let open = specs.length;
      const ended = () => {
        if (--open > 0) return;
        if (includeUsage) w.send({ id, object: 'text_completion', created, model, choices: [], usage: usage(jobs) });
        w.done();
      };
      jobs = specs.map((s, i) => new Job(ctx, s, {
        onDelta: (delta, end) => {
          w.send({ id, object: 'text_completion', created, model, choices: [choice(i, delta, end)], usage: continuous ? usage([jobs[i]]) : null });
          if (end) ended();
        },
        onError: (e) => { w.send({ error: { message: e.message, type: 'server_error', param: null, code: null } }); ended(); },
      }));
      try { jobs.forEach((j) => j.start()); } catch (e) { cancel(); throw e; }
    }, cancel);
  }

  const jobs = specs.map((s) => new Job(ctx, s));
  const abort = () => { for (const j of jobs) j.cancel(); };
  signal.addEventListener('abort', abort, { once: true });
  try {
    for (const j of jobs) j.start();
    const ends = await Promise.all(jobs.map((j) => j.done));
    return Response.json({
      id, object: 'text_completion', created, model,
      choices: ends.map((e, i) => ({ ...choice(i, e.text, e), prompt_logprobs: null })),
      usage: { ...usage(jobs), prompt_tokens_details: null },
    });
  } catch (e) {
    abort();
    throw e;
  } finally {
    signal.removeEventListener('abort', abort);
  }
}
