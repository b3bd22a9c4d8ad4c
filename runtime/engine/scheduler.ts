// The step-driven engine core: requests join at any time (a bounded FIFO waiting queue), are admitted into
// KV slots at step boundaries (continuous batching), and leave when they finish or are cancelled. One loop
// steps while work exists and sleeps otherwise. Each step: one batched draft call for the running requests,
// one target pass over each request's last token plus its draft (new requests are prefilled in the same
// pass), acceptance per request (greedy or sampled, with the request's own parameters and random stream),
// KV rollback of rejected positions (copy-free), and the drafter fed the final-norm hidden state of the
// position that produced the last accepted or bonus token, with that token (spec §3.2).
import { AcceptanceMetrics } from '../decoding/metrics.ts';
import type { Draft, DraftSource, ProposeInput, Proposer } from '../decoding/proposer.ts';
import { EMPTY_DRAFT } from '../decoding/proposer.ts';
import { hostSyncs } from '../host-syncs.ts';
import { verifySampling } from '../decoding/verifier.ts';
import { TargetError } from '../target/kv-slots.ts';
import { checkPrompt } from '../target/requests.ts';
import { checkSampling, chooseToken, samplingProbs, sampleToken } from '../target/sampling.ts';
import type { ForwardItem, TargetModel } from '../target/target-model.ts';
import type { RequestParams } from './request.ts';
import { EngineRequest } from './request.ts';
import type { EngineSpeculativeConfig } from './speculative-config.ts';
import { draftLimit } from './speculative-config.ts';
import { DraftSizer } from './draft-sizing.ts';
import type { DraftChain } from './chained-draft.ts';
import { draftChainFor, StepDraft, withRequests } from './chained-draft.ts';
import { runDraftModel } from '../decoding/model-proposer.ts';

/** Totals over the steps that admitted no request (decode/verify only); steps that prefilled are counted apart. */
export interface StepTimes {
  draftMs: number; verifyMs: number; hostMs: number; steps: number; prefillSteps: number; prefillMs: number;
  /** the loop's time between a step and the decode step after it (setImmediate, promise plumbing): host time outside the steps */
  loopMs: number;
  /** host↔device syncs in decode steps (runtime/host-syncs.ts; on the CPU, its target and draft passes) */
  syncs: number;
  /** Σ running requests over decode steps, and the tokens those steps added (tokens per request-step: every step, drafted or not) */
  requestSteps: number; decodeTokens: number;
  /** decode steps that ran with every allowed request slot busy: their count, wall time and new tokens (steady state) */
  fullSteps: number; fullMs: number; fullTokens: number;
}

export interface CoreOptions {
  /** at most this many requests run at once (default and cap: the target's KV slots) */
  readonly maxRunning?: number;
  /** requests that may wait for a slot; add() beyond it throws QueueFullError (default unbounded) */
  readonly maxWaiting?: number;
  /**
   * On CUDA with a model drafter on the target's stream: the draft enqueued in front of the verify pass, one
   * host sync per step (chained-draft.ts; default true). false keeps the two-phase path (draft, wait, verify).
   */
  readonly chainedDrafts?: boolean;
}

export interface DrafterParts {
  readonly target: TargetModel;
  readonly proposer: Proposer | null;
  readonly config: EngineSpeculativeConfig | null;
  readonly maxDraftTokens: number;
  /**
   * ids for the proposer, unique over every core that shares it (the suffix cache keys past responses by
   * request id, and an id used again evicts the earlier response); default: a counter of this core's own
   */
  nextRequestId?(): number;
}

export class QueueFullError extends Error {
  override name = 'QueueFullError';
}

export class EngineClosedError extends Error {
  override name = 'EngineClosedError';
}

/** Called after every step with what it verified, for metrics. */
export type StepListener = (s: { drafts: number; draftTokens: number; acceptedTokens: number; newTokens: number; running: number; waiting: number }) => void;

export class EngineCore {
  readonly target: TargetModel;
  readonly proposer: Proposer | null;
  readonly config: EngineSpeculativeConfig | null;
  readonly maxDraftTokens: number;
  readonly maxRunning: number;
  readonly maxWaiting: number;
  /** cumulative over every step of this core */
  readonly acceptance = new AcceptanceMetrics();
  readonly acceptanceBySource = new Map<DraftSource, AcceptanceMetrics>();
  readonly times: StepTimes = { draftMs: 0, verifyMs: 0, hostMs: 0, steps: 0, prefillSteps: 0, prefillMs: 0, fullSteps: 0, fullMs: 0, fullTokens: 0, loopMs: 0, syncs: 0, requestSteps: 0, decodeTokens: 0 };
  onStep: StepListener | null = null;
  /** per-step draft sizing (draft-sizing.ts); null when the config turns it off */
  readonly sizer: DraftSizer | null;
  /** the one-sync path for model drafts (chained-draft.ts); null: drafts are made and read back before the verify */
  readonly chain: DraftChain | null;

  readonly #waiting: EngineRequest[] = [];
  readonly #running: EngineRequest[] = [];
  #nextId = 0;
  #newId = (): number => this.#nextId++;
  #loop: Promise<void> | null = null;
  #accepting = true;
  /** when the last step of the running loop ended (−1: the loop was idle, so the next step has no gap) */
  #lastEnd = -1;

  constructor(parts: DrafterParts, o: CoreOptions = {}) {
    this.target = parts.target;
    this.proposer = parts.proposer;
    this.config = parts.config;
    this.maxDraftTokens = parts.maxDraftTokens;
    const dynamic = parts.config?.dynamic_draft_length ?? parts.target.device === 'cuda';
    this.sizer = parts.proposer && dynamic ? new DraftSizer() : null;
    this.chain = o.chainedDrafts === false ? null : draftChainFor(parts.target, parts.proposer);
    if (parts.nextRequestId) this.#newId = () => parts.nextRequestId!();
    const maxRunning = o.maxRunning ?? Infinity;
    if (!(maxRunning >= 1)) throw new RangeError(`engine: maxRunning must be ≥ 1, got ${o.maxRunning}`);
    this.maxRunning = maxRunning;
    this.maxWaiting = o.maxWaiting ?? Infinity;
    if (!(this.maxWaiting >= 0)) throw new RangeError(`engine: maxWaiting must be ≥ 0, got ${o.maxWaiting}`);
  }

  get numRunning(): number { return this.#running.length; }
  get numWaiting(): number { return this.#waiting.length; }
  /** requests admitted or queued, not yet finished */
  get numUnfinished(): number { return this.#running.length + this.#waiting.length; }
  get accepting(): boolean { return this.#accepting; }
  /** room left in the waiting queue, counting the free running places that admission fills first */
  get capacity(): number {
    const freeRunning = Math.max(0, Math.min(this.maxRunning, this.target.slots.count) - this.#running.length);
    return freeRunning + this.maxWaiting - this.#waiting.length;
  }

  /**
   * Queue one request (validated first: non-empty, in the vocabulary, room for output within max-model-len).
   * The loop starts if it is idle. Throws QueueFullError when the waiting queue is full.
   */
  add(prompt: readonly number[], params: RequestParams): EngineRequest {
    if (!this.#accepting) throw new EngineClosedError('engine: shutting down, no new requests');
    checkPrompt(this.target, prompt, params.name ?? 'request');
    const name = params.name ?? 'request';
    if (!Number.isInteger(params.maxNewTokens) || params.maxNewTokens < 1) throw new RangeError(`${name}: max-new-tokens must be a positive integer, got ${params.maxNewTokens}`);
    checkSampling(params, name);
    if (this.capacity < 1) throw new QueueFullError(`engine: ${this.#running.length} requests running and ${this.#waiting.length} waiting (the queue holds ${this.maxWaiting}); try again later`);
    const r = new EngineRequest(this.#newId(), prompt, params, (x) => this.#cancelled(x));
    this.#waiting.push(r);
    this.#kick();
    return r;
  }

  /** Resolves when nothing is running or waiting (the loop went idle). */
  async idle(): Promise<void> {
    while (this.#loop) await this.#loop;
  }

  /** Stop accepting requests and wait for the admitted and queued ones to finish. */
  async drain(): Promise<void> {
    this.#accepting = false;
    await this.idle();
  }

  /** Cancel everything (running requests free their slots at the next step boundary) and wait. */
  async abortAll(): Promise<void> {
    this.#accepting = false;
    for (const r of [...this.#waiting, ...this.#running]) r.cancel();
    await this.idle();
  }

  #cancelled(r: EngineRequest): void {
    const i = this.#waiting.indexOf(r);
    if (i >= 0) { this.#waiting.splice(i, 1); r.finish('abort'); }
    // a running request is removed at the next step boundary
  }

  #kick(): void {
    if (this.#loop) return;
    this.#lastEnd = -1;
    this.#loop = (async () => {
      try {
        while (this.#running.length > 0 || this.#waiting.length > 0) {
          try {
            await this.step();
          } catch (e) {
            this.#failAll(e as Error);
          }
          // let I/O (new requests, client disconnects, stream writes) run between steps
          if (this.#running.length > 0 || this.#waiting.length > 0) await new Promise<void>((r) => setImmediate(r));
        }
      } finally {
        this.#loop = null;
        // idle: nothing the proposer learnt waits for a next step
        try { this.#flushDeferred(); } catch (e) { this.#failAll(e as Error); }
      }
    })();
  }

  /** the proposer's deferred updates (Proposer.flushDeferred), run while a target pass is on the device */
  readonly #flushDeferred = (): void => { this.proposer?.flushDeferred?.(); };

  #release(r: EngineRequest): void {
    r.seq?.close();
    if (r.state === 'running') this.proposer?.stopRequest(r.id);
  }

  #failAll(e: Error): void {
    for (const r of this.#running.splice(0)) { this.#release(r); r.fail(e); }
    for (const r of this.#waiting.splice(0)) r.fail(e);
  }

  /** Append a step's tokens to r, cut at a stop token, max-new-tokens or max-model-len. */
  #append(r: EngineRequest, toks: readonly number[]): void {
    const p = r.params, t = this.target;
    let n = toks.length;
    let reason: 'stop' | 'length' | null = null;
    for (let i = 0; i < n; i++) if (p.stopTokenIds.includes(toks[i])) { n = i + 1; reason = 'stop'; break; }
    n = Math.min(n, p.maxNewTokens - r.numOutput);
    const got = n === toks.length ? toks : toks.slice(0, n);
    r.appendTokens(got);
    this.proposer?.onTokens(r.id, got);
    // prompt + output ≤ max-model-len, as vLLM counts it
    if (!reason && (r.numOutput >= p.maxNewTokens || r.tokens.length >= t.maxModelLen)) reason = 'length';
    if (reason) r.finishReason = reason;
    r.emit(got, reason);
  }

  /**
   * The model drafts of a chained step: a StepDraft the target enqueues in front of its pass, or, when the
   * pass would not fit one submission (more token rows than one pass, more draft rows than one replay), the
   * drafts run now with their own wait and written into the items' placeholders (two syncs, as unchained).
   */
  async #modelDrafts(rows: readonly number[], inputs: readonly ProposeInput[], got: Draft[], items: ForwardItem[], rowsIn: number): Promise<StepDraft | null> {
    const chain = this.chain!, running = this.#running;
    if (rowsIn <= chain.target.maxRows && rows.length <= chain.drafting.maxBatch) {
      return new StepDraft(chain, rows.map((i) => {
        const r = running[i];
        return { name: r.name, hidden: r.hidden!, hiddenRef: r.hiddenRef, token: r.tokens[r.tokens.length - 1] };
      }));
    }
    const drafts = await runDraftModel(chain.proposer.model, rows.map((i) => inputs[i]));
    rows.forEach((i, c) => {
      got[i].tokens = drafts[c];
      const it = items[i];
      (it.tokens as Int32Array).set(drafts[c].subarray(0, it.tokens.length - 1), 1);
      items[i] = { seq: it.seq, tokens: it.tokens, want: it.want };
    });
    return null;
  }

  /** One engine step: retire cancelled requests, draft, admit, verify/prefill in one target pass, accept. */
  async step(): Promise<void> {
    const t = this.target;
    const running = this.#running;
    const stepStart = performance.now();
    const syncs0 = hostSyncs();
    // the loop's own time since the last step ended (setImmediate, promise plumbing): host time too
    const gapMs = this.#lastEnd >= 0 ? stepStart - this.#lastEnd : 0;
    for (let i = running.length - 1; i >= 0; i--) {
      const r = running[i];
      if (r.cancelled) { this.#release(r); running.splice(i, 1); r.finish('abort'); }
    }
    const nRun = running.length;
    // drafts for the running requests (the first `limit` of them), capped by what can still be used
    const limit = draftLimit(this.config, nRun);
    let got: Draft[] | null = null;
    let draftMs = 0;
    const inputs: ProposeInput[] = new Array(limit);
    // chained: the rows the model drafts, as placeholders until the verify pass's readback (null: drafts are final)
    let modelRows: number[] | null = null;
    if (this.proposer && limit > 0 && (this.sizer?.shouldDraft(nRun) ?? true)) {
      for (let i = 0; i < limit; i++) { const r = running[i]; inputs[i] = { requestId: r.id, tokens: r.tokenView, hidden: r.hidden }; }
      const d0 = performance.now();
      if (this.chain) ({ drafts: got, modelRows } = this.chain.proposer.splitDraft(inputs));
      else got = await this.proposer.propose(inputs);
      draftMs = performance.now() - d0;
      this.sizer?.observeDraft(limit, draftMs);
    }
    const draftOf = (i: number): Draft => (got !== null && i < limit ? got[i] : EMPTY_DRAFT);
    const lens = new Array<number>(nRun);
    let anyDraft = false;
    for (let i = 0; i < nRun; i++) {
      const r = running[i];
      const room = Math.min(r.params.maxNewTokens - r.numOutput, t.maxModelLen - r.tokens.length) - 1;
      lens[i] = Math.max(0, Math.min(draftOf(i).tokens.length, this.maxDraftTokens, room));
      if (lens[i] > 0) anyDraft = true;
    }
    // per-request caps on the verified draft tokens (the sizer, from 16 requests); null: whole drafts
    const caps = this.sizer && anyDraft ? this.sizer.chooseCaps(lens, running.map((_, i) => draftOf(i).source)) : null;
    const capOf = (i: number): number => (caps ? Math.min(lens[i], caps[i]) : lens[i]);
    const items: ForwardItem[] = new Array(nRun);
    const ks = new Array<number>(nRun);
    // chained: running rows whose model draft is verified this step, in draft-row order
    const chainRows: number[] = [];
    if (modelRows) for (const i of modelRows) if (capOf(i) > 0) chainRows.push(i);
    let rowsIn = 0;
    for (let i = 0, c = 0; i < nRun; i++) {
      const r = running[i];
      const k = capOf(i);
      ks[i] = k;
      // last token + the draft, one typed array (no spread); a chained row's draft is zeros until the device fills it
      const tokens = new Int32Array(k + 1);
      tokens[0] = r.tokens[r.tokens.length - 1];
      if (k > 0) tokens.set(draftOf(i).tokens.subarray(0, k), 1);
      if (chainRows[c] === i) items[i] = { seq: r.seq!, tokens, want: 'all', deviceTokens: { from: 1, row: c++, count: k } };
      else items[i] = { seq: r.seq!, tokens, want: 'all' };
      rowsIn += k + 1;
    }
    const fresh: EngineRequest[] = [];
    const slotsCap = Math.min(this.maxRunning, t.slots.count);
    while (this.#waiting.length > 0 && t.slots.available > 0 && nRun + fresh.length < slotsCap) {
      const r = this.#waiting.shift()!;
      r.seq = t.newSequence(r.name);
      r.state = 'running';
      r.startMs = stepStart;
      fresh.push(r);
      this.proposer?.startRequest(r.id, r.prompt);
      items.push({ seq: r.seq, tokens: r.prompt, want: 'last' });
      rowsIn += r.prompt.length;
    }
    if (items.length === 0) {
      this.#flushDeferred();
      if (this.#waiting.length > 0) throw new TargetError(`engine: ${this.#waiting.length} requests wait but all ${t.slots.count} KV-cache slots are held outside this engine`);
      return;
    }
    let sampling = false;
    for (const r of running) if ((r.params.temperature ?? 0) > 0) { sampling = true; break; }
    for (const r of fresh) if ((r.params.temperature ?? 0) > 0) { sampling = true; break; }
    const v0 = performance.now();
    let res;
    let chained: StepDraft | null = null;
    try {
      if (chainRows.length > 0) chained = await this.#modelDrafts(chainRows, inputs, got!, items, rowsIn);
      // the proposer's deferred bookkeeping (suffix tree updates of the last step) runs under this pass
      const overlap = this.#flushDeferred;
      res = await t.forward(items, chained ? { logits: sampling, draft: chained, whileRunning: overlap } : { logits: sampling, whileRunning: overlap });
      overlap();
      if (chained) { const ids = chained.collect(); chainRows.forEach((i, c) => { got![i].tokens = ids[c]; }); }
    } catch (e) {
      chained?.discard();
      const err = chained ? withRequests(e, chained.rows) : e;
      // the fresh requests hold slots but are not in `running` yet
      for (const r of fresh) { this.#release(r); r.fail(err as Error); }
      throw err;
    }
    const verifyMs = performance.now() - v0;
    this.sizer?.observePass(rowsIn, verifyMs);
    const V = t.vocabSize, H = t.hiddenSize;
    let drafted = 0, draftTokens = 0, acceptedTokens = 0, newTokens = 0;
    const gained = fresh.length === 0 ? new Array<number>(nRun) : null;
    for (let i = 0; i < nRun; i++) {
      const r = running[i];
      const out = res[i], k = ks[i], d = draftOf(i), draft = d.tokens.subarray(0, k), p = r.params;
      let accepted: number, toks: number[];
      if (!((p.temperature ?? 0) > 0)) {
        accepted = 0;
        const next = out.nextTokens;
        while (accepted < k && draft[accepted] === next[accepted]) accepted++;
        toks = new Array<number>(accepted + 1);
        for (let j = 0; j < accepted; j++) toks[j] = draft[j];
        toks[accepted] = next[accepted];
      } else if (k === 0) {
        // no draft: one sample, from the kept tokens only (the same draw verifySampling makes)
        accepted = 0;
        toks = [sampleToken(out.logits!.subarray(0, V), p, p.rng)];
      } else {
        const probs = new Float64Array((k + 1) * V);
        for (let j = 0; j <= k; j++) probs.set(samplingProbs(out.logits!.subarray(j * V, (j + 1) * V), p), j * V);
        const v = verifySampling(draft, probs, V, p.rng);
        accepted = v.accepted;
        toks = [...v.tokens];
      }
      if (i < limit && got !== null) this.proposer?.onVerified?.(r.id, k, accepted);
      if (k > 0) {
        r.metrics.observe(k, accepted);
        this.acceptance.observe(k, accepted);
        const src = d.source;
        let m = this.acceptanceBySource.get(src);
        if (!m) { m = new AcceptanceMetrics(); this.acceptanceBySource.set(src, m); }
        m.observe(k, accepted);
        this.sizer?.observeAcceptance(src, k, accepted);
        drafted++; draftTokens += k; acceptedTokens += accepted;
      }
      // cached: last + k drafts; keep last + accepted (the new target token is fed next step)
      if (k > accepted) r.seq!.rollback(k - accepted);
      r.hidden = out.hidden.slice(accepted * H, (accepted + 1) * H);
      r.hiddenRef = out.hiddenRef ? { pass: out.hiddenRef.pass, row: out.hiddenRef.row + accepted } : null;
      const before = r.numOutput;
      this.#append(r, toks);
      newTokens += r.numOutput - before;
      if (gained) gained[i] = r.numOutput - before;
    }
    fresh.forEach((r, j) => {
      const out = res[nRun + j];
      r.hidden = out.hidden.slice(0, H);
      r.hiddenRef = out.hiddenRef ?? null;
      this.#append(r, [chooseToken(out.logits ?? [], out.nextTokens[0], r.params, r.params.rng)]);
      newTokens++;
    });
    const tm = this.times;
    const end = performance.now();
    if (gained) {
      // a decode step: its wall time (and the loop's time before it) is each running request's decode time
      const wall = end - stepStart + gapMs;
      for (let i = 0; i < nRun; i++) { const r = running[i]; r.decodeMs += wall; r.decodeTokens += gained[i]; }
    }
    running.push(...fresh);
    for (let i = running.length - 1; i >= 0; i--) {
      const r = running[i];
      if (r.finishReason) { this.#release(r); running.splice(i, 1); r.finish(r.finishReason); }
    }
    const stop = performance.now();
    if (fresh.length > 0) { tm.prefillSteps++; tm.prefillMs += stop - stepStart; } else {
      if (items.length === slotsCap) { tm.fullSteps++; tm.fullMs += stop - stepStart; tm.fullTokens += newTokens; }
      tm.steps++;
      tm.draftMs += draftMs;
      tm.verifyMs += verifyMs;
      tm.hostMs += stop - stepStart - draftMs - verifyMs;
      tm.loopMs += gapMs;
      tm.syncs += hostSyncs() - syncs0;
      tm.requestSteps += nRun;
      tm.decodeTokens += newTokens;
    }
    this.#lastEnd = performance.now();
    this.onStep?.({ drafts: drafted, draftTokens, acceptedTokens, newTokens, running: running.length, waiting: this.#waiting.length });
  }
}
