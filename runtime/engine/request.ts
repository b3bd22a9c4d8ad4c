// One request inside the engine core: its prompt and parameters, the tokens accepted so far, and how its
// consumer hears about them (a callback and/or an async iterator of token batches). It is created by
// EngineCore.add and moves waiting → running (holding a KV slot) → finished. cancel() ends it: a waiting
// request leaves the queue at once, a running one frees its KV slot at the next step boundary.
import { AcceptanceMetrics } from '../decoding/metrics.ts';
import type { Rng } from '../decoding/rng.ts';
import type { FinishReason } from '../target/requests.ts';
import type { SamplingParams } from '../target/sampling.ts';
import type { TargetSequence } from '../target/target-model.ts';
import type { HiddenRef } from '../target/target-model.ts';

/** 'abort': cancelled (a client went away, or the server shut down) */
export type EngineFinishReason = FinishReason | 'abort';

export interface RequestParams extends SamplingParams {
  readonly maxNewTokens: number;
  /** the request finishes (reason 'stop') after emitting one of these */
  readonly stopTokenIds: readonly number[];
  /** the request's own random stream (sampling and sampled verification) */
  readonly rng: Rng;
  /**
   * each batch of new tokens as it is accepted (accepted draft tokens plus the target's token), with the
   * finish reason when this batch ends the request (its KV slot is released right after, in the same step)
   */
  readonly onTokens?: (tokens: readonly number[], finish: FinishReason | null) => void;
  /** a name for errors, e.g. "prompt 3" or "cmpl-…" */
  readonly name?: string;
}

export interface RequestResult {
  readonly tokenIds: number[];
  readonly finishReason: EngineFinishReason;
  readonly acceptance: ReturnType<AcceptanceMetrics['snapshot']>;
  /** from admission (the step that prefilled it) to the step that finished it; 0 if never admitted */
  readonly ms: number;
  /**
   * the decode steps it ran in (steps that prefilled no request), with the loop's time before each: their
   * wall time and the tokens they gave it. tokens / ms is what its acceptance and step times (draft, verify
   * and host) give, without the prefill steps of its own and of the requests admitted while it ran.
   */
  readonly decodeMs: number;
  readonly decodeTokens: number;
}

export type RequestState = 'waiting' | 'running' | 'finished';

export class EngineRequest implements AsyncIterable<readonly number[]> {
  readonly id: number;
  readonly prompt: readonly number[];
  readonly params: RequestParams;
  readonly metrics = new AcceptanceMetrics();
  /** prompt + output; the engine appends to it */
  readonly tokens: number[];
  state: RequestState = 'waiting';
  finishReason: EngineFinishReason | null = null;
  /** set by cancel(); the core acts on it at the next step boundary */
  cancelled = false;
  seq: TargetSequence | null = null;
  /** the target's final-norm hidden state that produced the last token (what the drafter reads) */
  hidden: Float32Array | null = null;
  /** on CUDA, where that hidden state sits on the device (valid until the target's next pass) */
  hiddenRef: HiddenRef | null = null;
  readonly arrivalMs = performance.now();
  startMs = 0;
  firstTokenMs = 0;
  /** (engine) wall time and tokens of the decode steps it ran in (RequestResult.decodeMs) */
  decodeMs = 0;
  decodeTokens = 0;
  endMs = 0;
  /** settles when the request finishes (or the engine fails it) */
  readonly done: Promise<RequestResult>;

  readonly #onCancel: (r: EngineRequest) => void;
  #buf: Int32Array;
  #resolve!: (r: RequestResult) => void;
  #reject!: (e: Error) => void;
  #error: Error | null = null;
  readonly #chunks: (readonly number[])[] = [];
  #wake: (() => void) | null = null;

  constructor(id: number, prompt: readonly number[], params: RequestParams, onCancel: (r: EngineRequest) => void) {
    this.id = id;
    this.prompt = prompt;
    this.params = params;
    this.tokens = [...prompt];
    this.#buf = Int32Array.from(prompt);
    this.#onCancel = onCancel;
    this.done = new Promise<RequestResult>((res, rej) => { this.#resolve = res; this.#reject = rej; });
    this.done.catch(() => undefined); // a consumer that only iterates still sees the error there
  }

  get name(): string { return this.params.name ?? `request ${this.id}`; }
  get outputIds(): number[] { return this.tokens.slice(this.prompt.length); }

  /** prompt + output as an Int32Array view (for the proposers) without copying the sequence every step */
  get tokenView(): Int32Array { return this.#buf.subarray(0, this.tokens.length); }

  /** append accepted tokens (to `tokens` and the typed copy; earlier positions are never overwritten) */
  appendTokens(got: readonly number[]): void {
    const at = this.tokens.length;
    this.tokens.push(...got);
    if (this.tokens.length > this.#buf.length) {
      const grown = new Int32Array(Math.max(this.tokens.length, 2 * this.#buf.length));
      grown.set(this.#buf.subarray(0, at));
      this.#buf = grown;
    }
    for (let i = 0; i < got.length; i++) this.#buf[at + i] = got[i];
  }
  get numOutput(): number { return this.tokens.length - this.prompt.length; }
  get finished(): boolean { return this.state === 'finished'; }

  /** Stop this request; idempotent, and a no-op once it has finished. */
  cancel(): void {
    if (this.finished || this.cancelled) return;
    this.cancelled = true;
    this.#onCancel(this);
  }

  /** (engine) new accepted tokens */
  emit(tokens: readonly number[], finish: FinishReason | null): void {
    if (this.firstTokenMs === 0) this.firstTokenMs = performance.now();
    this.params.onTokens?.(tokens, finish);
    this.#chunks.push(tokens);
    this.#wakeUp();
  }

  /** (engine) the request is over; its slot is already released */
  finish(reason: EngineFinishReason): void {
    if (this.finished) return;
    this.state = 'finished';
    this.finishReason = reason;
    this.endMs = performance.now();
    this.#resolve({ tokenIds: this.outputIds, finishReason: reason, acceptance: this.metrics.snapshot(), ms: this.startMs ? this.endMs - this.startMs : 0, decodeMs: this.decodeMs, decodeTokens: this.decodeTokens });
    this.#wakeUp();
  }

  /** (engine) the step that served this request failed */
  fail(e: Error): void {
    if (this.finished) return;
    this.state = 'finished';
    this.endMs = performance.now();
    this.#error = e;
    this.#reject(e);
    this.#wakeUp();
  }

  #wakeUp(): void { const w = this.#wake; this.#wake = null; w?.(); }

  /** Token batches as they are accepted; ends when the request finishes, throws if the engine failed it. */
  async *[Symbol.asyncIterator](): AsyncIterator<readonly number[]> {
    for (;;) {
      while (this.#chunks.length > 0) yield this.#chunks.shift()!;
      if (this.#error) throw this.#error;
      if (this.finished) return;
      await new Promise<void>((r) => { this.#wake = r; });
    }
  }
}
