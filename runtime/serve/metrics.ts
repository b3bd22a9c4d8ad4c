// /metrics: Prometheus text through prom-client, with vLLM's metric names (prometheus_client appends
// `_total` to counters; prom-client does not, so the names carry it): request counts and latencies, time to
// first token, prompt and generated tokens, queue and KV-cache state, and the speculative-decoding counters
// vllm:spec_decode_num_drafts / _num_draft_tokens / _num_accepted_tokens / _num_accepted_tokens_per_pos.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { EngineCore } from '../engine/scheduler.ts';

const LATENCY = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80, 160, 640];

export class ServeMetrics {
  readonly registry = new Registry();
  readonly httpRequests: Counter<'handler' | 'method' | 'status'>;
  readonly httpDuration: Histogram<'handler' | 'method'>;
  readonly requestSuccess: Counter<'model_name' | 'finished_reason'>;
  readonly promptTokens: Counter<'model_name'>;
  readonly generationTokens: Counter<'model_name'>;
  readonly ttft: Histogram<'model_name'>;
  readonly e2e: Histogram<'model_name'>;
  readonly tpot: Histogram<'model_name'>;
  readonly queueTime: Histogram<'model_name'>;
  readonly rejected: Counter<'model_name' | 'reason'>;

  constructor(core: EngineCore, modelName: string, o: { processMetrics?: boolean } = {}) {
    const registers = [this.registry];
    const m = { model_name: modelName };
    if (o.processMetrics ?? true) collectDefaultMetrics({ register: this.registry });
    this.httpRequests = new Counter({ name: 'http_requests_total', help: 'HTTP requests by handler, method and status', labelNames: ['handler', 'method', 'status'], registers });
    this.httpDuration = new Histogram({ name: 'http_request_duration_seconds', help: 'HTTP request duration', labelNames: ['handler', 'method'], buckets: LATENCY, registers });
    this.requestSuccess = new Counter({ name: 'vllm:request_success_total', help: 'Count of finished requests by finish reason', labelNames: ['model_name', 'finished_reason'], registers });
    this.promptTokens = new Counter({ name: 'vllm:prompt_tokens_total', help: 'Number of prefill tokens processed', labelNames: ['model_name'], registers });
    this.generationTokens = new Counter({ name: 'vllm:generation_tokens_total', help: 'Number of generation tokens processed', labelNames: ['model_name'], registers });
    this.ttft = new Histogram({ name: 'vllm:time_to_first_token_seconds', help: 'Time to first token in seconds', labelNames: ['model_name'], buckets: LATENCY, registers });
    this.e2e = new Histogram({ name: 'vllm:e2e_request_latency_seconds', help: 'End to end request latency in seconds', labelNames: ['model_name'], buckets: LATENCY, registers });
    this.tpot = new Histogram({ name: 'vllm:time_per_output_token_seconds', help: 'Time per output token in seconds (after the first)', labelNames: ['model_name'], buckets: LATENCY, registers });
    this.queueTime = new Histogram({ name: 'vllm:request_queue_time_seconds', help: 'Time spent waiting for a KV-cache slot', labelNames: ['model_name'], buckets: LATENCY, registers });
    this.rejected = new Counter({ name: 'arcticc:requests_rejected_total', help: 'Requests refused before running (queue full, shutting down)', labelNames: ['model_name', 'reason'], registers });
    new Gauge({ name: 'vllm:num_requests_running', help: 'Requests in the running batch', labelNames: ['model_name'], registers, collect() { this.set(m, core.numRunning); } });
    new Gauge({ name: 'vllm:num_requests_waiting', help: 'Requests waiting for a KV-cache slot', labelNames: ['model_name'], registers, collect() { this.set(m, core.numWaiting); } });
    new Gauge({ name: 'vllm:kv_cache_usage_perc', help: 'Fraction of KV-cache slots in use (1 = all)', labelNames: ['model_name'], registers, collect() { this.set(m, core.target.slots.inUse / core.target.slots.count); } });
    // spec decoding: cumulative totals kept by the core, exported as counters
    const acc = core.acceptance;
    const counter = (name: string, help: string, value: () => number): void => {
      new Counter({ name, help, labelNames: ['model_name'], registers, collect() { this.reset(); this.inc(m, value()); } });
    };
    counter('vllm:spec_decode_num_drafts_total', 'Number of spec decoding drafts', () => acc.numDrafts);
    counter('vllm:spec_decode_num_draft_tokens_total', 'Number of draft tokens', () => acc.numDraftTokens);
    counter('vllm:spec_decode_num_accepted_tokens_total', 'Number of accepted tokens', () => acc.numAcceptedTokens);
    const maxPos = core.maxDraftTokens > 0 && core.maxDraftTokens < 64 ? core.maxDraftTokens : 0;
    new Counter({
      name: 'vllm:spec_decode_num_accepted_tokens_per_pos_total', help: 'Accepted tokens per draft position', labelNames: ['model_name', 'position'], registers,
      collect() {
        this.reset();
        const n = Math.max(maxPos, acc.acceptedPerPosition.length);
        for (let i = 0; i < n; i++) this.inc({ ...m, position: String(i) }, acc.acceptedPerPosition[i] ?? 0);
      },
    });
  }
}
