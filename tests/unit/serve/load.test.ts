// A bounded load test on loopback: 64 concurrent streaming clients with mixed short prompts (text and token
// ids, different lengths and max_tokens), every stream's text equal to the non-streaming greedy result for
// its prompt, nothing lost or duplicated, KV slots back to zero; then 16 clients that disconnect mid-stream.
// Prints p50/p99 time to first token and tokens/s.
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../../runtime/serve/index.ts';
import { devPrompts } from '../../support/target.ts';
import { loadFixture, MODEL, percentile, raw, serveFixture, until } from './support.ts';

let fx: Awaited<ReturnType<typeof loadFixture>>;
let server: RunningServer;
let client: OpenAI;

const dev = devPrompts();
/** 8 distinct prompts: 4 as token ids (3 … 9 tokens), 4 as text */
const PROMPTS: (string | number[])[] = [
  dev[0].slice(0, 3), dev[1].slice(0, 5), dev[2].slice(0, 7), dev[3].slice(0, 9),
  'def fib(n):', 'import os\n', 'class Stack:\n    def', 'for i in range(',
];
const maxTokens = (i: number) => 4 + (i % 5); // 4 … 8

beforeAll(async () => {
  fx = await loadFixture({ maxModelLen: 64, maxNumSeqs: 16 });
  server = await serveFixture(fx);
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'none', maxRetries: 0, timeout: 60_000 });
}, 60_000);
afterAll(async () => { await server?.close(); fx?.engine.close(); });

describe('load on loopback', () => {
  it('64 concurrent streaming clients: each text equals the non-streaming greedy result; nothing lost or duplicated', async () => {
    // the reference: each (prompt, max_tokens) pair once, non-streaming
    const key = (i: number) => `${i % PROMPTS.length}/${maxTokens(i)}`;
    const want = new Map<string, string>();
    await Promise.all(Array.from({ length: 40 }, (_, i) => i).filter((i) => i < PROMPTS.length * 5).map(async (i) => {
      const p = i % PROMPTS.length, m = 4 + Math.floor(i / PROMPTS.length);
      const r = await client.completions.create({ model: MODEL, prompt: PROMPTS[p], max_tokens: m, temperature: 0 });
      want.set(`${p}/${m}`, r.choices[0].text);
    }));
    const N = 64;
    const t0 = performance.now();
    const results = await Promise.all(Array.from({ length: N }, async (_, i) => {
      const start = performance.now();
      const stream = await client.completions.create({
        model: MODEL, prompt: PROMPTS[i % PROMPTS.length], max_tokens: maxTokens(i), temperature: 0, stream: true, stream_options: { include_usage: true },
      });
      let text = '', ttft = 0, finishes = 0, tokens = 0;
      const ids = new Set<string>();
      for await (const c of stream) {
        ids.add(c.id);
        if (c.usage) { tokens = c.usage.completion_tokens; continue; }
        if (!ttft) ttft = performance.now() - start;
        text += c.choices[0].text;
        if (c.choices[0].finish_reason) finishes++;
      }
      return { i, text, ttft, finishes, tokens, id: [...ids] };
    }));
    const wall = (performance.now() - t0) / 1000;
    expect(results).toHaveLength(N);
    for (const r of results) {
      expect(r.text, `client ${r.i}`).toBe(want.get(key(r.i)));
      expect(r.finishes, `client ${r.i}`).toBe(1);
      expect(r.tokens, `client ${r.i}`).toBe(maxTokens(r.i));
      expect(r.id).toHaveLength(1);
    }
    expect(new Set(results.map((r) => r.id[0])).size).toBe(N);
    await until(() => fx.engine.target.slots.inUse === 0 && server.core.numUnfinished === 0, 'slots back to zero');
    const ttfts = results.map((r) => r.ttft);
    const tokens = results.reduce((a, r) => a + r.tokens, 0);
    const a = server.core.acceptance;
    console.log(`[serve load] ${N} streaming clients, max-num-seqs 16, CPU: TTFT p50 ${percentile(ttfts, 50).toFixed(0)} ms, p99 ${percentile(ttfts, 99).toFixed(0)} ms; `
      + `${tokens} tokens in ${wall.toFixed(2)} s = ${(tokens / wall).toFixed(1)} tok/s; mean acceptance length ${a.meanAcceptanceLength.toFixed(2)}`);
    const m = (await raw(server.url, 'GET', '/metrics')).text;
    expect(m).toMatch(/vllm:num_requests_running\{model_name="pycode-small"\} 0/);
    expect(m).toMatch(/vllm:kv_cache_usage_perc\{model_name="pycode-small"\} 0/);
  });

  it('16 clients disconnecting mid-stream: their requests are cancelled and their slots freed', async () => {
    const N = 16;
    const controllers = Array.from({ length: N }, () => new AbortController());
    let firstChunks = 0;
    await Promise.all(controllers.map(async (ac, i) => {
      const stream = await client.completions.create({ model: MODEL, prompt: PROMPTS[i % PROMPTS.length], max_tokens: 50, temperature: 0, stream: true }, { signal: ac.signal });
      try {
        for await (const _ of stream) { firstChunks++; ac.abort(); break; }
      } catch (e) {
        expect((e as Error).name).toMatch(/Abort/);
      }
    }));
    expect(firstChunks).toBe(N);
    await until(() => fx.engine.target.slots.inUse === 0 && server.core.numUnfinished === 0, 'the disconnected clients\' slots to be freed');
    const m = (await raw(server.url, 'GET', '/metrics')).text;
    expect(Number(/vllm:request_success_total\{model_name="pycode-small",finished_reason="abort"\} (\d+)/.exec(m)![1])).toBe(N);
    // and the server still answers correctly
    const r = await client.completions.create({ model: MODEL, prompt: PROMPTS[4], max_tokens: 4, temperature: 0 });
    expect(r.choices[0].finish_reason).toBe('length');
  });
});
