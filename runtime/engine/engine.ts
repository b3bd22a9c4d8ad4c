// The speculative engine: a target model with its KV cache and a proposer (none, n-gram, suffix, Arctic,
// or Arctic + suffix). The stepping itself (continuous batching, drafting, verification, rollback) lives in
// the step-driven core (scheduler.ts); generate() runs a list of prompts through a core of its own.
import type { AcceptanceMetrics } from '../decoding/metrics.ts';
import type { SizerSnapshot } from './draft-sizing.ts';
import type { DraftSource, Proposer } from '../decoding/proposer.ts';
import { Xoshiro128 } from '../decoding/rng.ts';
import type { FinishReason, GenerateOutput } from '../target/requests.ts';
import { validatePrompts } from '../target/requests.ts';
import type { SamplingParams } from '../target/sampling.ts';
import { checkSampling } from '../target/sampling.ts';
import type { TargetModel } from '../target/target-model.ts';
import type { CoreOptions } from './scheduler.ts';
import { EngineCore } from './scheduler.ts';
import type { EngineSpeculativeConfig } from './speculative-config.ts';

export type { StepTimes } from './scheduler.ts';

/** Sampling, lengths, stops, seeds and a per-step token callback for SpeculativeEngine.generate. */
export interface EngineGenerateOptions extends SamplingParams {
  readonly maxNewTokens?: number;
  readonly seed?: number;
  readonly seeds?: readonly number[];
  /** default: the config's eos_token_id; [] never stops early */
  readonly stopTokenIds?: readonly number[];
  /** new tokens of request i this step (accepted draft tokens and the target's token) */
  readonly onTokens?: (request: number, tokens: readonly number[]) => void;
  /** at most this many requests run at once (default: every free KV slot) */
  readonly maxConcurrency?: number;
  /** CoreOptions.chainedDrafts: one host sync per model-drafted step on CUDA (default true) */
  readonly chainedDrafts?: boolean;
}

/** One request's generated tokens, why it stopped, its acceptance and its latency. */
export interface EngineOutput extends GenerateOutput {
  readonly acceptance: ReturnType<AcceptanceMetrics['snapshot']>;
  /** from admission (the step that prefilled it) to the step that finished it */
  readonly ms: number;
  /** the wall time (loop time before each included) and tokens of the decode steps it ran in: RequestResult.decodeMs */
  readonly decodeMs: number;
  readonly decodeTokens: number;
}

/** Totals of one generate call: tokens, tok/s, step times and acceptance (overall and per draft source). */
export interface EngineMetrics {
  readonly requests: number;
  readonly promptTokens: number;
  readonly generatedTokens: number;
  readonly ms: number;
  readonly tokensPerSecond: number;
  readonly steps: number;
  /** steps that prefilled a request (alone or beside running requests) and their wall time */
  readonly prefillSteps: number;
  readonly prefillMs: number;
  /** milliseconds per decode step (one that prefilled nothing): drafting, the target pass, everything else on the host */
  readonly draftMsPerStep: number;
  readonly verifyMsPerStep: number;
  readonly hostMsPerStep: number;
  /** the loop's time between steps, per decode step (host time outside the steps) */
  readonly loopMsPerStep: number;
  /** host↔device syncs per decode step (runtime/host-syncs.ts: stream waits on CUDA, target and draft passes on the CPU) */
  readonly syncsPerStep: number;
  /**
   * tokens per running request per decode step, every step counted (a step without a draft gives 1): the
   * acceptance length that step times turn into tok/s. The acceptance's mean acceptance length counts drafted steps only.
   */
  readonly tokensPerRequestStep: number;
  /** generated tokens per second over the decode steps that ran with every allowed slot busy (the steady state, without the tail of a finite batch) */
  readonly steadyTokensPerSecond: number;
  readonly acceptance: ReturnType<AcceptanceMetrics['snapshot']>;
  readonly acceptanceBySource: Partial<Record<DraftSource, ReturnType<AcceptanceMetrics['snapshot']>>>;
  /** the per-step draft sizer's measurements and decisions (absent when sizing is off) */
  readonly sizer?: SizerSnapshot;
}

/** Draft, verify, accept and roll back over a target with continuous batching; plain decoding with no proposer. */
export class SpeculativeEngine {
  readonly target: TargetModel;
  readonly proposer: Proposer | null;
  readonly config: EngineSpeculativeConfig | null;
  /** the longest draft verified per step (num_speculative_tokens) */
  readonly maxDraftTokens: number;

  constructor(target: TargetModel, proposer: Proposer | null, config: EngineSpeculativeConfig | null, maxDraftTokens: number) {
    this.target = target;
    this.proposer = proposer;
    this.config = config;
    this.maxDraftTokens = maxDraftTokens;
  }

  #requestIds = 0;

  /** Proposer request ids, unique over every core and generate() call on this engine. */
  nextRequestId(): number {
    return this.#requestIds++;
  }

  /** A step-driven core over this engine's target and drafter (the server feeds one; generate() makes its own). */
  core(o: CoreOptions = {}): EngineCore {
    return new EngineCore(this, o);
  }

  /** Run a list of prompts to completion with continuous batching over the free KV slots. */
  async generate(prompts: readonly (readonly number[])[], o: EngineGenerateOptions = {}): Promise<{ outputs: EngineOutput[]; metrics: EngineMetrics }> {
    const t = this.target;
    const maxNew = o.maxNewTokens ?? 64;
    if (!Number.isInteger(maxNew) || maxNew < 1) throw new RangeError(`generate: max-new-tokens must be a positive integer, got ${o.maxNewTokens}`);
    checkSampling(o, 'generate');
    validatePrompts(t, prompts);
    if (o.seeds && o.seeds.length !== prompts.length) throw new RangeError(`generate: ${o.seeds.length} seeds for ${prompts.length} prompts`);
    const stopTokenIds = o.stopTokenIds ?? t.config.eosTokenIds;
    const core = this.core({ maxRunning: o.maxConcurrency, chainedDrafts: o.chainedDrafts });
    const t0 = performance.now();
    const reqs = prompts.map((p, i) => core.add(p, {
      maxNewTokens: maxNew, stopTokenIds, temperature: o.temperature, topK: o.topK, topP: o.topP, name: `prompt ${i}`,
      rng: o.seeds ? new Xoshiro128(o.seeds[i]) : new Xoshiro128(o.seed ?? 0, i),
      ...(o.onTokens ? { onTokens: (toks: readonly number[]) => o.onTokens!(i, toks) } : {}),
    }));
    const results = await Promise.all(reqs.map((r) => r.done));
    const ms = performance.now() - t0;
    const times = core.times;
    const generated = results.reduce((a, r) => a + r.tokenIds.length, 0);
    const outputs = results.map((r) => ({ tokenIds: r.tokenIds, finishReason: r.finishReason as FinishReason, acceptance: r.acceptance, ms: r.ms, decodeMs: r.decodeMs, decodeTokens: r.decodeTokens }));
    return {
      outputs,
      metrics: {
        requests: prompts.length, promptTokens: prompts.reduce((a, p) => a + p.length, 0), generatedTokens: generated,
        ms, tokensPerSecond: generated / (ms / 1000), steps: times.steps + times.prefillSteps,
        prefillSteps: times.prefillSteps, prefillMs: times.prefillMs,
        draftMsPerStep: times.draftMs / times.steps, verifyMsPerStep: times.verifyMs / times.steps, hostMsPerStep: times.hostMs / times.steps,
        loopMsPerStep: times.loopMs / times.steps, syncsPerStep: times.syncs / times.steps, tokensPerRequestStep: times.decodeTokens / times.requestSteps,
        steadyTokensPerSecond: times.fullMs > 0 ? times.fullTokens / (times.fullMs / 1000) : NaN,
        acceptance: core.acceptance.snapshot(),
        acceptanceBySource: Object.fromEntries([...core.acceptanceBySource].map(([k, m]) => [k, m.snapshot()])),
        ...(core.sizer ? { sizer: core.sizer.snapshot() } : {}),
      },
    };
  }
}
