// `arcticc serve` under load: throughput and latency at 1, 8, 32 concurrent streaming clients with speculation
// off and on, through the real HTTP server on loopback (the same engine, app and SSE path as `arcticc serve`).
// Each client runs a closed loop: send a streaming completion, read it to [DONE], send the next. Per request
// the client measures time to first token, time per output token after the first, and end-to-end latency;
// per run, output tokens/s and requests/s over the wall time. Greedy with EOS ignored, so every speculative
// run's text is checked against the run without speculation: any difference or error exits 1.
//   node bench/serve-bench.ts [--device cuda] [--concurrency 1,8,32] [--drafters none,arctic+suffix]
//        [--load mixed|code|repeat] [--requests 64] [--max-tokens 256] [--prompt-len N] [--out serve-bench.json]
// CPU smoke run (tiny): node bench/serve-bench.ts --device cpu --concurrency 1,2 --requests 4 --max-tokens 8 --prompt-len 12
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { Workload } from './e2e-common.ts';
import { COMMON_OPTIONS, drafterConfigs, pickDrafters, workloadPrompts } from './e2e-common.ts';
import { attachDrafter } from '../runtime/engine/load-engine.ts';
import { parseEngineSpeculativeConfig } from '../runtime/engine/speculative-config.ts';
import { startServer } from '../runtime/serve/index.ts';
import { loadSpeculator } from '../runtime/speculator.ts';
import { loadTarget } from '../runtime/target/target-model.ts';
import { Tokenizer } from '../runtime/tokenizer/index.ts';

const { values: a } = parseArgs({
  options: {
    ...COMMON_OPTIONS,
    load: { type: 'string', default: 'mixed' },
    concurrency: { type: 'string', default: '1,8,32' },
    drafters: { type: 'string', default: 'none,arctic+suffix' },
    requests: { type: 'string', default: '64' },
    'max-tokens': { type: 'string', default: '256' },
    'prompt-len': { type: 'string' },
    out: { type: 'string' },
  },
});
const maxTokens = Number(a['max-tokens']);
const conc = a.concurrency!.split(',').map(Number);
const nReq = Number(a.requests);
const cut = (p: number[]) => (a['prompt-len'] ? p.slice(0, Number(a['prompt-len'])) : p);
const loads = workloadPrompts(a.workloads!);
if (!(a.load! in loads)) throw new Error(`unknown --load "${a.load}" (expected ${Object.keys(loads).join(', ')})`);
const prompts = loads[a.load! as Workload].map(cut);
const CONFIGS = drafterConfigs(a.speculator!);
const drafters = pickDrafters(a.drafters!, CONFIGS);

const maxConc = Math.max(...conc);
const longest = Math.max(...prompts.map((p) => p.length));
const target = await loadTarget({ model: a.model!, device: a.device as 'auto', maxModelLen: longest + maxTokens + 8, maxNumSeqs: maxConc, quiet: true });
const tokenizer = await Tokenizer.fromDir(a.model!);
const speculator = drafters.some((d) => d.startsWith('arctic')) ? await loadSpeculator({ model: a.speculator!, device: target.device, quiet: true, maxBatch: maxConc }) : undefined;
console.error(`serve-bench on ${target.deviceDescription}: ${a.load} prompts (≤ ${longest} tokens), ${maxTokens} tokens each, ${nReq} requests per run, greedy, EOS ignored`);

interface Sample { prompt: number; ttftMs: number; tpotMs: number; e2eMs: number; tokens: number; text: string }

/** One streaming completion, read to [DONE] with fetch (a plain client: no SDK overhead in the numbers). */
async function one(url: string, prompt: number[], max = maxTokens): Promise<Omit<Sample, 'prompt'>> {
  const t0 = performance.now();
  const res = await fetch(`${url}/v1/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'bench', prompt, max_tokens: max, temperature: 0, ignore_eos: true, stream: true, stream_options: { include_usage: true } }),
  });
  if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
  const dec = new TextDecoder();
  let buf = '', text = '', ttft = 0, tokens = 0, done = false;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buf += dec.decode(chunk, { stream: true });
    let i;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const ev = buf.slice(0, i);
      buf = buf.slice(i + 2);
      if (!ev.startsWith('data: ')) continue;
      const data = ev.slice(6);
      if (data === '[DONE]') { done = true; continue; }
      const c = JSON.parse(data);
      if (c.error) throw new Error(c.error.message);
      if (c.usage) { tokens = c.usage.completion_tokens; continue; }
      if (!ttft) ttft = performance.now() - t0;
      text += c.choices[0].text;
    }
  }
  if (!done) throw new Error('stream ended without [DONE]');
  const e2e = performance.now() - t0;
  return { ttftMs: ttft, tpotMs: tokens > 1 ? (e2e - ttft) / (tokens - 1) : 0, e2eMs: e2e, tokens, text };
}

const stats = (xs: number[]) => {
  const s = [...xs].sort((x, y) => x - y);
  const q = (p: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))];
  return { mean: s.reduce((t, x) => t + x, 0) / s.length, p50: q(0.5), p90: q(0.9), p99: q(0.99), max: s[s.length - 1] };
};

const rows: Record<string, unknown>[] = [];
const reference = new Map<number, string>();
let failures = 0;
for (const d of drafters) {
  for (const c of conc) {
    // a fresh drafter per run: the suffix cache would otherwise hold the earlier runs' answers to the same prompts
    const drafter = await attachDrafter(target, CONFIGS[d] === null ? null : parseEngineSpeculativeConfig(CONFIGS[d]), speculator);
    const server = await startServer({ engine: drafter.engine, tokenizer, modelPath: a.model!, modelName: 'bench', port: 0, maxNumSeqs: c, maxQueueLen: c, processMetrics: false });
    try {
      // warm-up (CUDA graphs, JIT), not counted: a short piece of a prompt, so the suffix cache learns little
      await one(server.url, prompts[0].slice(0, 8), 8);
      const base = { ...server.core.acceptance, acceptedPerPosition: [...server.core.acceptance.acceptedPerPosition] };
      const samples: Sample[] = [];
      let next = 0;
      const t0 = performance.now();
      await Promise.all(Array.from({ length: c }, async () => {
        while (next < nReq) {
          const i = next++;
          const p = i % prompts.length;
          samples.push({ prompt: p, ...await one(server.url, prompts[p]) });
        }
      }));
      const wall = (performance.now() - t0) / 1000;
      let mismatches = 0;
      for (const s of samples) {
        const ref = reference.get(s.prompt);
        if (ref === undefined) reference.set(s.prompt, s.text);
        else if (ref !== s.text) mismatches++;
      }
      if (mismatches > 0) { failures++; console.error(`MISMATCH: ${d} at concurrency ${c}: ${mismatches} of ${samples.length} texts differ from the first run's`); }
      const acc = server.core.acceptance;
      const drafts = acc.numDrafts - base.numDrafts, accepted = acc.numAcceptedTokens - base.numAcceptedTokens;
      const tokens = samples.reduce((t, s) => t + s.tokens, 0);
      const row = {
        speculation: d, concurrency: c, requests: samples.length, output_tokens: tokens, wall_s: wall,
        output_tok_per_s: tokens / wall, requests_per_s: samples.length / wall,
        ttft_ms: stats(samples.map((s) => s.ttftMs)), tpot_ms: stats(samples.map((s) => s.tpotMs)), e2e_ms: stats(samples.map((s) => s.e2eMs)),
        mean_acceptance_length: drafts > 0 ? 1 + accepted / drafts : null,
        spec_decode_num_drafts: drafts, spec_decode_num_draft_tokens: acc.numDraftTokens - base.numDraftTokens, spec_decode_num_accepted_tokens: accepted,
        per_position_acceptance: acc.acceptedPerPosition.map((n, i) => (drafts > 0 ? (n - (base.acceptedPerPosition[i] ?? 0)) / drafts : 0)),
        identical_texts: mismatches === 0,
      };
      rows.push(row);
      console.error(JSON.stringify(row));
    } catch (e) {
      failures++;
      console.error(`ERROR: ${d} at concurrency ${c}: ${(e as Error).stack}`);
    } finally {
      await server.close();
      drafter.dispose();
    }
  }
}
speculator?.close();
target.close();

const result = { device: target.deviceDescription, load: a.load, max_tokens: maxTokens, requests_per_run: nReq, rows, failures };
if (a.out) writeFileSync(a.out, JSON.stringify(result, null, 1));
const f = (x: unknown, dp = 0): string => (typeof x === 'number' && Number.isFinite(x) ? x.toFixed(dp) : '—');
console.log('\n| speculation | clients | output tok/s | req/s | TTFT p50 / p99 ms | TPOT p50 / p99 ms | e2e p50 / p99 ms | AL |');
console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
for (const r of rows as Record<string, any>[]) {
  console.log(`| ${r.speculation} | ${r.concurrency} | ${f(r.output_tok_per_s, 1)} | ${f(r.requests_per_s, 2)} | ${f(r.ttft_ms.p50)} / ${f(r.ttft_ms.p99)} | ${f(r.tpot_ms.p50, 1)} / ${f(r.tpot_ms.p99, 1)} | ${f(r.e2e_ms.p50)} / ${f(r.e2e_ms.p99)} | ${f(r.mean_acceptance_length, 2)} |`);
}
if (failures > 0) { console.error(`${failures} failure(s)`); process.exit(1); }
