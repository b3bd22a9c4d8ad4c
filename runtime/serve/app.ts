// The HTTP layer on Hono: vLLM's OpenAI-compatible routes, OpenAI-style errors, the body size limit, the
// bearer API key on /v1 (compared in constant time), and per-route request counts and latencies.
import { createHash, timingSafeEqual } from 'node:crypto';
import { Hono } from 'hono';
import type { Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { HTTPException } from 'hono/http-exception';
import type { z } from 'zod';
import { chatCompletions, renderChat } from './chat.ts';
import { completions } from './completions.ts';
import { ApiError, badRequest, fromZod } from './errors.ts';
import type { ServeContext } from './generation.ts';
import { checkModel } from './generation.ts';
import { ChatSchema, CompletionSchema, DetokenizeSchema, TokenizeSchema } from './schemas.ts';

export interface AppOptions {
  /** with a key, every /v1 route needs `Authorization: Bearer KEY` */
  readonly apiKey?: string | null;
  /** request bodies larger than this are refused with 413 (default 4 MiB) */
  readonly maxBodyBytes?: number;
  readonly version: string;
}

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

/** Constant-time: both sides are hashed to 32 bytes first, so neither the content nor the length leaks. */
export function keyMatches(header: string | undefined, key: string): boolean {
  const m = /^Bearer (.+)$/.exec(header ?? '');
  return timingSafeEqual(digest(m ? m[1] : ''), digest(key)) && m !== null;
}

async function body<T extends z.ZodType>(c: Context, schema: T): Promise<z.output<T>> {
  let raw: unknown;
  const text = await c.req.text();
  try { raw = JSON.parse(text); } catch (e) { throw badRequest(`the request body is not valid JSON: ${(e as Error).message}`, null, 'invalid_json'); }
  const r = schema.safeParse(raw);
  if (!r.success) throw fromZod(r.error);
  return r.data;
}

const errorResponse = (e: ApiError): Response => Response.json(e.body, { status: e.status });

export function buildApp(ctx: ServeContext, o: AppOptions): Hono {
  const app = new Hono();
  const maxBody = o.maxBodyBytes ?? 4 << 20;
  const m = ctx.metrics;

  app.use('*', async (c, next) => {
    const t0 = performance.now();
    await next();
    const handler = c.req.routePath === '/*' || c.req.routePath === '*' ? 'other' : c.req.routePath;
    m.httpRequests.inc({ handler, method: c.req.method, status: String(c.res.status) });
    m.httpDuration.observe({ handler, method: c.req.method }, (performance.now() - t0) / 1000);
  });
  app.use('*', bodyLimit({
    maxSize: maxBody,
    onError: () => errorResponse(new ApiError(413, `The request body is larger than the limit of ${maxBody} bytes.`, { code: 'request_too_large' })),
  }));
  if (o.apiKey) {
    const key = o.apiKey;
    app.use('/v1/*', async (c, next) => {
      if (!keyMatches(c.req.header('authorization'), key)) {
        return errorResponse(new ApiError(401, 'Incorrect or missing API key: send "Authorization: Bearer <key>".', { code: 'invalid_api_key' }));
      }
      await next();
    });
  }
  app.onError((e) => {
    if (e instanceof ApiError) return errorResponse(e);
    if (e instanceof HTTPException) return errorResponse(new ApiError(e.status, e.message || 'bad request'));
    return errorResponse(new ApiError(500, `internal error: ${e.name}: ${e.message}`, { code: 'internal_error' }));
  });
  app.notFound((c) => errorResponse(new ApiError(404, `no route ${c.req.method} ${c.req.path}`, { type: 'not_found_error', code: 'not_found' })));

  app.get('/health', (c) => (ctx.draining ? c.body(null, 503) : c.body(null, 200)));
  app.get('/version', (c) => c.json({ version: o.version }));
  app.get('/metrics', async (c) => c.body(await m.registry.metrics(), 200, { 'content-type': m.registry.contentType }));
  app.get('/v1/models', (c) => c.json({
    object: 'list',
    data: [{
      id: ctx.modelName, object: 'model', created: Math.floor(Date.now() / 1000), owned_by: 'arcticc', root: ctx.modelPath, parent: null,
      max_model_len: ctx.maxModelLen, permission: [],
    }],
  }));
  app.post('/v1/completions', async (c) => completions(ctx, await body(c, CompletionSchema), c.req.raw.signal));
  app.post('/v1/chat/completions', async (c) => chatCompletions(ctx, await body(c, ChatSchema), c.req.raw.signal));
  app.post('/tokenize', async (c) => {
    const b = await body(c, TokenizeSchema);
    checkModel(ctx, b.model);
    const tokens = 'prompt' in b
      ? ctx.tokenizer.encode(b.prompt, { addSpecialTokens: b.add_special_tokens ?? true })
      : renderChat(ctx, b.messages, { addGenerationPrompt: b.add_generation_prompt });
    return c.json({ count: tokens.length, max_model_len: ctx.maxModelLen, tokens, token_strs: null });
  });
  app.post('/detokenize', async (c) => {
    const b = await body(c, DetokenizeSchema);
    checkModel(ctx, b.model);
    try { return c.json({ prompt: ctx.tokenizer.decode(b.tokens) }); } catch (e) { throw badRequest((e as Error).message, 'tokens', 'invalid_token_id'); }
  });
  return app;
}
