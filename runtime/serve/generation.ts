// From a validated request to engine requests and back: the checks vLLM makes before scheduling (lengths,
// unsupported options), the engine request itself (sampling, seed, stop token ids), and one Job per prompt
// that turns accepted tokens into text deltas, applies stop strings and reports how it ended.
import { Xoshiro128 } from '../decoding/rng.ts';
import type { EngineRequest } from '../engine/request.ts';
import { EngineClosedError, QueueFullError } from '../engine/scheduler.ts';
import type { EngineCore } from '../engine/scheduler.ts';
import type { Tokenizer } from '../tokenizer/index.ts';
import type { ChatTemplate } from './chat-template.ts';
import { ApiError, badRequest } from './errors.ts';
import type { ServeMetrics } from './metrics.ts';
import type { SamplingBody } from './schemas.ts';
import { TextStream } from './text-stream.ts';

export interface ServeContext {
  readonly core: EngineCore;
  readonly tokenizer: Tokenizer;
  readonly modelName: string;
  /** the model folder, reported by /v1/models as root */
  readonly modelPath: string;
  readonly maxModelLen: number;
  readonly eosIds: readonly number[];
  readonly metrics: ServeMetrics;
  readonly chat: ChatTemplate | null;
  /** set while SIGTERM drains: new work gets a 503 */
  draining: boolean;
}

export interface GenSpec {
  readonly prompt: number[];
  readonly maxTokens: number;
  readonly temperature: number;
  readonly topP?: number;
  readonly topK?: number;
  readonly seed: number;
  readonly stop: string[];
  readonly userStopIds: number[];
  readonly stopTokenIds: number[];
  readonly skipSpecialTokens: boolean;
  readonly includeStopStr: boolean;
}

export type JobFinish = 'stop' | 'length' | 'abort';
export interface JobEnd {
  readonly finishReason: JobFinish;
  /** the stop string or stop token id that ended it (null for EOS, length and abort) */
  readonly stopReason: string | number | null;
  readonly completionTokens: number;
  readonly text: string;
}

/** What the engine cannot do is refused by name rather than silently ignored. */
export function checkSupported(b: SamplingBody & { n?: number | null; best_of?: number | null }): void {
  if ((b.n ?? 1) !== 1) throw badRequest(`"n": only n = 1 is supported (got ${b.n}); send the request ${b.n} times with different seeds instead`, 'n', 'unsupported_value');
  if ((b.best_of ?? 1) !== 1) throw badRequest('"best_of": only 1 is supported', 'best_of', 'unsupported_value');
  for (const k of ['presence_penalty', 'frequency_penalty'] as const) {
    if ((b[k] ?? 0) !== 0) throw badRequest(`"${k}": penalties are not supported (only 0)`, k, 'unsupported_value');
  }
  if ((b.repetition_penalty ?? 1) !== 1) throw badRequest('"repetition_penalty": penalties are not supported (only 1)', 'repetition_penalty', 'unsupported_value');
  if (b.logit_bias && Object.keys(b.logit_bias).length > 0) throw badRequest('"logit_bias": not supported', 'logit_bias', 'unsupported_value');
}

export function checkModel(ctx: ServeContext, model: string | null | undefined): void {
  if (model != null && model !== ctx.modelName) {
    throw new ApiError(404, `The model \`${model}\` does not exist.`, { type: 'invalid_request_error', param: 'model', code: 'model_not_found' });
  }
}

/** Token ids in the vocabulary, within max-model-len with room for max_tokens; a 400 naming both lengths otherwise. */
export function makeSpec(ctx: ServeContext, b: SamplingBody, prompt: number[], maxTokensKey = 'max_tokens', maxTokens = b.max_tokens): GenSpec {
  const V = ctx.core.target.vocabSize, L = ctx.maxModelLen;
  if (prompt.length === 0) throw badRequest('the prompt is empty (it needs at least one token)', 'prompt');
  prompt.forEach((id, i) => {
    if (id >= V) throw badRequest(`prompt token ${i} is ${id}, outside the vocabulary [0, ${V})`, 'prompt', 'invalid_token_id');
  });
  if (prompt.length >= L) {
    throw badRequest(`This model's maximum context length is ${L} tokens. However, your request has ${prompt.length} input tokens. Please reduce the length of the input.`, 'prompt', 'context_length_exceeded');
  }
  if (maxTokens != null && prompt.length + maxTokens > L) {
    throw badRequest(`'${maxTokensKey}' is too large: ${maxTokens}. This model's maximum context length is ${L} tokens and your request has ${prompt.length} input tokens (${maxTokens} > ${L} - ${prompt.length}).`, maxTokensKey, 'context_length_exceeded');
  }
  for (const id of b.stop_token_ids ?? []) if (id >= V) throw badRequest(`"stop_token_ids": ${id} is outside the vocabulary [0, ${V})`, 'stop_token_ids');
  const userStopIds = [...(b.stop_token_ids ?? [])];
  const topK = b.top_k ?? 0;
  return {
    prompt, maxTokens: maxTokens ?? L - prompt.length,
    temperature: b.temperature ?? 1, ...(b.top_p != null ? { topP: b.top_p } : {}), ...(topK > 0 ? { topK } : {}),
    seed: b.seed != null ? Number(BigInt.asUintN(32, BigInt(b.seed))) : Math.floor(Math.random() * 2 ** 32),
    stop: b.stop == null ? [] : typeof b.stop === 'string' ? [b.stop] : b.stop,
    userStopIds, stopTokenIds: [...new Set([...(b.ignore_eos ? [] : ctx.eosIds), ...userStopIds])],
    skipSpecialTokens: b.skip_special_tokens ?? true, includeStopStr: b.include_stop_str_in_output ?? false,
  };
}

/** Room for all of them at once, or a 503 before any is queued. */
export function checkCapacity(ctx: ServeContext, n: number): void {
  if (ctx.draining || !ctx.core.accepting) { ctx.metrics.rejected.inc({ model_name: ctx.modelName, reason: 'shutdown' }); throw new ApiError(503, 'The server is shutting down; no new requests are accepted.', { code: 'shutting_down' }); }
  if (ctx.core.capacity < n) {
    ctx.metrics.rejected.inc({ model_name: ctx.modelName, reason: 'queue_full' });
    throw new ApiError(503, `The server is busy: ${ctx.core.numRunning} requests running and ${ctx.core.numWaiting} waiting (max-num-seqs ${Math.min(ctx.core.maxRunning, ctx.core.target.slots.count)}, queue ${ctx.core.maxWaiting}); retry later.`, { code: 'server_busy' });
  }
}

/** One prompt's generation: deltas as tokens are accepted, then exactly one end (or one error). */
export class Job {
  readonly spec: GenSpec;
  readonly arrival = performance.now();
  completionTokens = 0;
  #req: EngineRequest | null = null;
  #ended: JobEnd | null = null;
  readonly #ctx: ServeContext;
  readonly #text: TextStream;
  readonly #onDelta: (delta: string, end: JobEnd | null) => void;
  readonly #onError: (e: Error) => void;
  #firstToken = 0;
  readonly done: Promise<JobEnd>;
  #resolve!: (e: JobEnd) => void;

  constructor(ctx: ServeContext, spec: GenSpec, hooks: { onDelta?: (delta: string, end: JobEnd | null) => void; onError?: (e: Error) => void } = {}) {
    this.#ctx = ctx;
    this.spec = spec;
    this.#text = new TextStream(ctx.tokenizer, { stop: spec.stop, includeStopStr: spec.includeStopStr, skipSpecialTokens: spec.skipSpecialTokens });
    this.#onDelta = hooks.onDelta ?? (() => undefined);
    this.#onError = hooks.onError ?? (() => undefined);
    this.done = new Promise((r) => { this.#resolve = r; });
  }

  get ended(): JobEnd | null { return this.#ended; }
  get text(): string { return this.#text.text; }

  /** Queue it in the engine (a QueueFullError or EngineClosedError becomes a 503). */
  start(): void {
    const s = this.spec;
    try {
      this.#req = this.#ctx.core.add(s.prompt, {
        maxNewTokens: s.maxTokens, stopTokenIds: s.stopTokenIds, temperature: s.temperature, topK: s.topK, topP: s.topP,
        rng: new Xoshiro128(s.seed), onTokens: (t, f) => this.#tokens(t, f),
      });
    } catch (e) {
      if (e instanceof QueueFullError || e instanceof EngineClosedError) throw new ApiError(503, e.message, { code: 'server_busy' });
      throw badRequest((e as Error).message, 'prompt');
    }
    this.#ctx.metrics.promptTokens.inc({ model_name: this.#ctx.modelName }, s.prompt.length);
    const req = this.#req;
    req.done.then((r) => { if (!this.#ended) this.#end(r.finishReason === 'abort' ? 'abort' : r.finishReason, null, this.#text.finish().delta); },
      (e: Error) => { if (!this.#ended) { this.#ended = { finishReason: 'abort', stopReason: null, completionTokens: this.completionTokens, text: this.text }; this.#onError(e); this.#resolve(this.#ended); } });
  }

  cancel(): void { this.#req?.cancel(); }

  #tokens(toks: readonly number[], finish: 'stop' | 'length' | 'abort' | null): void {
    if (this.#ended) return;
    if (this.#firstToken === 0) {
      this.#firstToken = performance.now();
      this.#ctx.metrics.ttft.observe({ model_name: this.#ctx.modelName }, (this.#firstToken - this.arrival) / 1000);
      if (this.#req) this.#ctx.metrics.queueTime.observe({ model_name: this.#ctx.modelName }, Math.max(0, this.#req.startMs - this.#req.arrivalMs) / 1000);
    }
    this.completionTokens += toks.length;
    // the stop token itself is not text (vLLM leaves it out unless include_stop_str_in_output)
    const last = toks[toks.length - 1];
    const stopTok = finish === 'stop' && this.spec.stopTokenIds.includes(last);
    const d = this.#text.push(stopTok && !this.spec.includeStopStr ? toks.slice(0, -1) : toks);
    if (d.stop !== null) { this.#req?.cancel(); this.#end('stop', d.stop, d.delta); return; }
    if (finish) {
      const f = this.#text.finish();
      const reason = f.stop !== null ? f.stop : stopTok && this.spec.userStopIds.includes(last) && !this.#ctx.eosIds.includes(last) ? last : null;
      this.#end(f.stop !== null ? 'stop' : finish, reason, d.delta + f.delta);
      return;
    }
    if (d.delta) this.#onDelta(d.delta, null);
  }

  #end(finishReason: JobFinish, stopReason: string | number | null, delta: string): void {
    const end: JobEnd = { finishReason, stopReason, completionTokens: this.completionTokens, text: this.text };
    this.#ended = end;
    const ctx = this.#ctx, m = { model_name: ctx.modelName };
    const now = performance.now();
    ctx.metrics.requestSuccess.inc({ ...m, finished_reason: finishReason });
    ctx.metrics.generationTokens.inc(m, this.completionTokens);
    ctx.metrics.e2e.observe(m, (now - this.arrival) / 1000);
    if (this.completionTokens > 1 && this.#firstToken) ctx.metrics.tpot.observe(m, (now - this.#firstToken) / 1000 / (this.completionTokens - 1));
    this.#onDelta(delta, end);
    this.#resolve(end);
  }
}

export const usage = (jobs: readonly Job[]) => {
  const prompt = jobs.reduce((a, j) => a + j.spec.prompt.length, 0);
  const completion = jobs.reduce((a, j) => a + j.completionTokens, 0);
  return { prompt_tokens: prompt, total_tokens: prompt + completion, completion_tokens: completion };
};

export function requestId(prefix: string): string {
  return `${prefix}-${crypto.randomUUID().replaceAll('-', '')}`;
}
