// The server driven by the official openai client (streaming and not) and by raw HTTP for every error case:
// each error has its status and OpenAI-style body, and the server keeps serving afterwards.
import { request } from 'node:http';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChatTemplate } from '../../../runtime/serve/index.ts';
import type { RunningServer } from '../../../runtime/serve/index.ts';
import { devPrompts } from '../../support/target.ts';
import { loadFixture, MODEL, raw, serveFixture, until } from './support.ts';

const KEY = 'sk-test-0123456789';
let fx: Awaited<ReturnType<typeof loadFixture>>;
let server: RunningServer;
let client: OpenAI;
let greedy: string; // "def fib(n):" → 8 tokens, non-streaming

const auth = { authorization: `Bearer ${KEY}` };
const post = (path: string, body: unknown, headers: Record<string, string> = auth) => raw(server.url, 'POST', path, typeof body === 'string' ? body : JSON.stringify(body), headers);
const expectError = (r: { status: number; json: () => any }, status: number, type: string, message: RegExp | string) => {
  expect(r.status).toBe(status);
  const e = r.json().error;
  expect(Object.keys(e).sort()).toEqual(['code', 'message', 'param', 'type']);
  expect(e.type).toBe(type);
  expect(e.message).toMatch(message);
  return e;
};

beforeAll(async () => {
  fx = await loadFixture({ maxModelLen: 64, maxNumSeqs: 4 });
  server = await serveFixture(fx, { apiKey: KEY, maxBodyBytes: 64 * 1024 });
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: KEY, maxRetries: 0, timeout: 60_000 });
  const r = await client.completions.create({ model: MODEL, prompt: 'def fib(n):', max_tokens: 8, temperature: 0 });
  greedy = r.choices[0].text;
}, 60_000);
afterAll(async () => { await server?.close(); fx?.engine.close(); });

describe('completions through the openai client', () => {
  it('non-streaming: text, finish reason, usage; the engine agrees with generate()', async () => {
    const r = await client.completions.create({ model: MODEL, prompt: 'def fib(n):', max_tokens: 8, temperature: 0 });
    expect(r.object).toBe('text_completion');
    expect(r.model).toBe(MODEL);
    expect(r.id).toMatch(/^cmpl-/);
    expect(r.choices).toHaveLength(1);
    expect(r.choices[0].text).toBe(greedy);
    expect(r.choices[0].finish_reason).toBe('length');
    const ids = fx.tokenizer.encode('def fib(n):');
    expect(r.usage).toMatchObject({ prompt_tokens: ids.length, completion_tokens: 8, total_tokens: ids.length + 8 });
    const direct = await fx.engine.engine.generate([ids], { maxNewTokens: 8, stopTokenIds: [] });
    expect(fx.tokenizer.decode(direct.outputs[0].tokenIds)).toBe(greedy);
  });

  it('a token-id prompt equals the same prompt as text', async () => {
    const r = await client.completions.create({ model: MODEL, prompt: fx.tokenizer.encode('def fib(n):'), max_tokens: 8, temperature: 0 });
    expect(r.choices[0].text).toBe(greedy);
  });

  it('streaming: the deltas concatenate to the non-streaming text; usage in a last chunk with no choices', async () => {
    const stream = await client.completions.create({ model: MODEL, prompt: 'def fib(n):', max_tokens: 8, temperature: 0, stream: true, stream_options: { include_usage: true } });
    let text = '', finishes = 0, usage = null;
    const ids = new Set<string>();
    for await (const c of stream) {
      ids.add(c.id);
      if (c.usage) { usage = c.usage; expect(c.choices).toEqual([]); continue; }
      text += c.choices[0].text;
      if (c.choices[0].finish_reason) { finishes++; expect(c.choices[0].finish_reason).toBe('length'); }
    }
    expect(text).toBe(greedy);
    expect(finishes).toBe(1);
    expect(ids.size).toBe(1);
    expect(usage).toMatchObject({ completion_tokens: 8 });
  });

  it('the SSE framing is vLLM\'s: data: {json} chunks, usage: null without include_usage, data: [DONE] last', async () => {
    const r = await post('/v1/completions', { model: MODEL, prompt: 'def fib(n):', max_tokens: 4, temperature: 0, stream: true });
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toMatch(/^text\/event-stream/);
    const events = r.text.split('\n\n');
    expect(events.pop()).toBe('');
    expect(events.pop()).toBe('data: [DONE]');
    for (const e of events) {
      expect(e).toMatch(/^data: \{/);
      const c = JSON.parse(e.slice(6));
      expect(c).toMatchObject({ object: 'text_completion', model: MODEL, usage: null });
      expect(Object.keys(c.choices[0]).sort()).toEqual(['finish_reason', 'index', 'logprobs', 'stop_reason', 'text']);
    }
    expect(JSON.parse(events.at(-1)!.slice(6)).choices[0].finish_reason).toBe('length');
  });

  it('a list of prompts gives one choice per prompt, in order', async () => {
    const r = await client.completions.create({ model: MODEL, prompt: ['def fib(n):', 'import os\n'], max_tokens: 4, temperature: 0 });
    expect(r.choices.map((c) => c.index)).toEqual([0, 1]);
    expect(greedy.startsWith(r.choices[0].text)).toBe(true);
    expect(r.usage!.completion_tokens).toBe(8);
  });

  it('stop strings cut the text before the stop (stop_reason names it), streaming and not alike', async () => {
    const stop = greedy.slice(6, 9);
    const cut = greedy.slice(0, greedy.indexOf(stop));
    const r = await client.completions.create({ model: MODEL, prompt: 'def fib(n):', max_tokens: 8, temperature: 0, stop: [stop] });
    expect(r.choices[0].text).toBe(cut);
    expect(r.choices[0].finish_reason).toBe('stop');
    expect((r.choices[0] as unknown as { stop_reason: string }).stop_reason).toBe(stop);
    const s = await client.completions.create({ model: MODEL, prompt: 'def fib(n):', max_tokens: 8, temperature: 0, stop, stream: true });
    let text = '';
    for await (const c of s) text += c.choices[0]?.text ?? '';
    expect(text).toBe(cut);
    await until(() => fx.engine.target.slots.inUse === 0, 'the stopped request to free its slot');
  });

  it('sampling with a seed is reproducible; stop_token_ids end with that id as stop_reason', async () => {
    const o = { model: MODEL, prompt: 'import os\n', max_tokens: 6, temperature: 0.9, top_k: 40, seed: 1234 } as const;
    const a = await client.completions.create(o), b = await client.completions.create(o);
    expect(a.choices[0].text).toBe(b.choices[0].text);
    // stop at the first repeat-free generated token past the first: excluded from the text, named as stop_reason
    const out = (await fx.engine.engine.generate([fx.tokenizer.encode('def fib(n):')], { maxNewTokens: 8, stopTokenIds: [] })).outputs[0].tokenIds;
    const j = out.findIndex((t, i) => i > 0 && !out.slice(0, i).includes(t));
    const r = await post('/v1/completions', { model: MODEL, prompt: 'def fib(n):', max_tokens: 8, temperature: 0, stop_token_ids: [out[j]] });
    const c = r.json();
    expect(c.choices[0]).toMatchObject({ finish_reason: 'stop', stop_reason: out[j], text: fx.tokenizer.decode(out.slice(0, j)) });
    expect(c.usage.completion_tokens).toBe(j + 1);
  });

  it('models, tokenize, detokenize, health, version, metrics', async () => {
    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toEqual([MODEL]);
    const t = (await post('/tokenize', { model: MODEL, prompt: 'def fib(n):' })).json();
    expect(t).toMatchObject({ count: t.tokens.length, max_model_len: 64, tokens: fx.tokenizer.encode('def fib(n):') });
    expect((await post('/detokenize', { tokens: t.tokens })).json()).toEqual({ prompt: 'def fib(n):' });
    expect((await raw(server.url, 'GET', '/health')).status).toBe(200);
    expect((await raw(server.url, 'GET', '/version')).json()).toEqual({ version: 'test' });
    const m = await raw(server.url, 'GET', '/metrics');
    expect(m.headers['content-type']).toMatch(/^text\/plain/);
    for (const name of ['vllm:spec_decode_num_drafts_total', 'vllm:spec_decode_num_draft_tokens_total', 'vllm:spec_decode_num_accepted_tokens_total',
      'vllm:spec_decode_num_accepted_tokens_per_pos_total{model_name="pycode-small",position="0"}', 'vllm:time_to_first_token_seconds_count',
      'vllm:e2e_request_latency_seconds_count', 'vllm:generation_tokens_total', 'vllm:prompt_tokens_total', 'vllm:num_requests_running',
      'vllm:num_requests_waiting', 'vllm:request_success_total{model_name="pycode-small",finished_reason="length"}', 'http_requests_total']) {
      expect(m.text, name).toContain(name);
    }
    const drafts = Number(/^vllm:spec_decode_num_drafts_total\{[^}]*\} (\d+)/m.exec(m.text)![1]);
    expect(drafts).toBe(server.core.acceptance.numDrafts);
    expect(drafts).toBeGreaterThan(0);
  });
});

describe('errors: status and OpenAI-style body, and the server keeps serving', () => {
  it('malformed JSON, wrong types, missing fields', async () => {
    expectError(await post('/v1/completions', '{"model": "pycode-small", "prompt": '), 400, 'invalid_request_error', /not valid JSON/);
    const e = expectError(await post('/v1/completions', { model: MODEL, prompt: 'x', max_tokens: 'ten' }), 400, 'invalid_request_error', /"max_tokens"/);
    expect(e.param).toBe('max_tokens');
    expectError(await post('/v1/completions', { model: MODEL, prompt: 'x', temperature: -1 }), 400, 'invalid_request_error', /"temperature"/);
    expectError(await post('/v1/completions', { model: MODEL }), 400, 'invalid_request_error', /"prompt"/);
    expectError(await post('/v1/completions', { model: MODEL, prompt: [1, 99999] }), 400, 'invalid_request_error', /token 1 is 99999, outside the vocabulary \[0, 4096\)/);
    expectError(await post('/v1/completions', { model: MODEL, prompt: 'x', n: 2 }), 400, 'invalid_request_error', /only n = 1 is supported/);
    expectError(await post('/tokenize', { prompt: 5 }), 400, 'invalid_request_error', /.+/);
  });
  it('unknown model: 404', async () => {
    const e = expectError(await post('/v1/completions', { model: 'gpt-4', prompt: 'x' }), 404, 'invalid_request_error', 'The model `gpt-4` does not exist.');
    expect(e.code).toBe('model_not_found');
    await expect(client.completions.create({ model: 'gpt-4', prompt: 'x' })).rejects.toMatchObject({ status: 404 });
  });
  it('a prompt over max-model-len names both lengths; so does max_tokens past it', async () => {
    const long = [...devPrompts()[0], ...devPrompts()[1]].slice(0, 70);
    const e = expectError(await post('/v1/completions', { model: MODEL, prompt: long }), 400, 'invalid_request_error', /maximum context length is 64 tokens.*70 input tokens/);
    expect(e.code).toBe('context_length_exceeded');
    expectError(await post('/v1/completions', { model: MODEL, prompt: long.slice(0, 60), max_tokens: 10 }), 400, 'invalid_request_error', /'max_tokens' is too large: 10.*64 tokens.*60 input tokens/);
  });
  it('no or wrong API key on /v1: 401; /health needs none', async () => {
    expectError(await post('/v1/completions', { model: MODEL, prompt: 'x' }, {}), 401, 'authentication_error', /API key/);
    expectError(await post('/v1/completions', { model: MODEL, prompt: 'x' }, { authorization: `Bearer ${KEY}x` }), 401, 'authentication_error', /API key/);
    expectError(await raw(server.url, 'GET', '/v1/models', undefined, { authorization: KEY }), 401, 'authentication_error', /API key/);
    await expect(new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'wrong', maxRetries: 0 }).models.list()).rejects.toMatchObject({ status: 401 });
    expect((await raw(server.url, 'GET', '/health')).status).toBe(200);
  });
  it('an oversize body: 413; an unknown route: 404', async () => {
    const big = JSON.stringify({ model: MODEL, prompt: 'x'.repeat(70 * 1024) });
    expectError(await post('/v1/completions', big), 413, 'invalid_request_error', /larger than the limit of 65536 bytes/);
    expectError(await raw(server.url, 'GET', '/v1/nope', undefined, auth), 404, 'not_found_error', /no route GET \/v1\/nope/);
  });
  it('chat completions on a model without a chat template: a clear 400', async () => {
    const e = expectError(await post('/v1/chat/completions', { model: MODEL, messages: [{ role: 'user', content: 'hi' }] }), 400, 'invalid_request_error', /has no chat template/);
    expect(e.code).toBe('no_chat_template');
    await expect(client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }] })).rejects.toMatchObject({ status: 400 });
  });
  it('after all of that: same answer, nothing leaked', async () => {
    const r = await client.completions.create({ model: MODEL, prompt: 'def fib(n):', max_tokens: 8, temperature: 0 });
    expect(r.choices[0].text).toBe(greedy);
    expect(fx.engine.target.slots.inUse).toBe(0);
  });
});

describe('scheduling', () => {
  it('max-num-seqs running, then the queue, then 503 with a message', async () => {
    const s = await serveFixture(fx, { maxNumSeqs: 1, maxQueueLen: 1 });
    try {
      const body = JSON.stringify({ model: MODEL, prompt: 'def fib(n):', max_tokens: 8, temperature: 0 });
      const [a, b, c] = await Promise.all([0, 1, 2].map(() => raw(s.url, 'POST', '/v1/completions', body)));
      const statuses = [a, b, c].map((r) => r.status).sort();
      expect(statuses).toEqual([200, 200, 503]);
      const busy = [a, b, c].find((r) => r.status === 503)!;
      expectError(busy, 503, 'service_unavailable_error', /busy: 1 requests running and 1 waiting/);
      for (const r of [a, b, c]) if (r.status === 200) expect(r.json().choices[0].text).toBe(greedy);
    } finally { await s.close(); }
  });

  it('clients that disconnect mid-stream cancel their requests and free their slots', async () => {
    const before = server.core.acceptance.numDrafts;
    const streams = await Promise.all([0, 1, 2, 3].map(() => client.completions.create({ model: MODEL, prompt: 'class Foo:', max_tokens: 40, temperature: 0, stream: true })));
    await Promise.all(streams.map(async (s) => { for await (const _ of s) break; }));
    await until(() => server.core.numUnfinished === 0 && fx.engine.target.slots.inUse === 0, 'cancelled slots to be freed');
    const m = (await raw(server.url, 'GET', '/metrics')).text;
    expect(m).toMatch(/vllm:request_success_total\{model_name="pycode-small",finished_reason="abort"\} [4-9]/);
    expect(server.core.acceptance.numDrafts).toBeGreaterThanOrEqual(before);
    // a non-streaming client that hangs up is cancelled too
    const req = request(new URL('/v1/completions', server.url), { method: 'POST', headers: { ...auth, 'content-type': 'application/json' } });
    req.on('error', () => undefined);
    req.end(JSON.stringify({ model: MODEL, prompt: 'class Foo:', max_tokens: 40, temperature: 0 }));
    await until(() => server.core.numRunning === 1, 'the request to start');
    req.destroy();
    await until(() => server.core.numUnfinished === 0 && fx.engine.target.slots.inUse === 0, 'the hung-up request to free its slot');
    const after = (await raw(server.url, 'GET', '/metrics')).text;
    const aborts = (t: string) => Number(/finished_reason="abort"\} (\d+)/.exec(t)![1]);
    expect(aborts(after)).toBe(aborts(m) + 1);
  });

  it('a model with a chat template serves chat completions (jinja), streaming and not', async () => {
    const tpl = new ChatTemplate("{% for m in messages %}# {{ m.role }}: {{ m.content }}\n{% endfor %}{% if add_generation_prompt %}# assistant:{% endif %}", 'test template', { bos: '', eos: '' });
    const s = await serveFixture(fx, { chatTemplate: tpl });
    try {
      const c = new OpenAI({ baseURL: `${s.url}/v1`, apiKey: 'none', maxRetries: 0 });
      const messages = [{ role: 'user' as const, content: 'def fib(n):' }];
      const prompt = '# user: def fib(n):\n# assistant:';
      const want = (await c.completions.create({ model: MODEL, prompt, max_tokens: 6, temperature: 0 })).choices[0].text;
      const r = await c.chat.completions.create({ model: MODEL, messages, max_tokens: 6, temperature: 0 });
      expect(r.object).toBe('chat.completion');
      expect(r.choices[0].message).toMatchObject({ role: 'assistant', content: want });
      expect(r.usage!.prompt_tokens).toBe(fx.tokenizer.encode(prompt).length);
      const st = await c.chat.completions.create({ model: MODEL, messages, max_tokens: 6, temperature: 0, stream: true, stream_options: { include_usage: true } });
      let text = '', role = '', usage = null;
      for await (const ch of st) {
        expect(ch.object).toBe('chat.completion.chunk');
        if (ch.usage) usage = ch.usage;
        const d = ch.choices[0]?.delta;
        if (d?.role) role = d.role;
        text += d?.content ?? '';
      }
      expect(role).toBe('assistant');
      expect(text).toBe(want);
      expect(usage).toMatchObject({ completion_tokens: 6 });
      const t = (await raw(s.url, 'POST', '/tokenize', JSON.stringify({ messages }))).json();
      expect(t.tokens).toEqual(fx.tokenizer.encode(prompt, { addSpecialTokens: false }));
    } finally { await s.close(); }
  });
});
