// The speculative engine: a target model with its KV cache, a proposer (none, n-gram, suffix, Arctic, or
// Arctic + suffix), continuous batching over the KV slots. Per step: one batched draft call for the
// running requests, one target pass over each request's last token plus its draft (new requests are
// prefilled in the same pass), acceptance, KV rollback of rejected positions (copy-free), and the drafter
// fed as ArcticInference feeds it: the final-norm hidden state of the position that produced the last
// accepted or bonus token, with that token (spec §3.2).
import { AcceptanceMetrics } from '../decoding/metrics.ts';
import type { Draft, DraftSource, ProposeInput, Proposer } from '../decoding/proposer.ts';
import { Xoshiro128 } from '../decoding/rng.ts';
import { verifySampling } from '../decoding/verifier.ts';
import type { FinishReason, GenerateOutput } from '../target/requests.ts';
import { validatePrompts } from '../target/requests.ts';
import type { SamplingParams } from '../target/sampling.ts';
import { checkSampling, chooseToken, samplingProbs } from '../target/sampling.ts';
import type { ForwardItem, TargetModel, TargetSequence } from '../target/target-model.ts';
import type { EngineSpeculativeConfig } from './speculative-config.ts';
import { draftLimit } from './speculative-config.ts';

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
}

/** Totals over the steps that admitted no request (decode/verify only); steps that prefilled are counted apart. */
export interface StepTimes { draftMs: number; verifyMs: number; hostMs: number; steps: number; prefillSteps: number; prefillMs: number }

export interface EngineOutput extends GenerateOutput {
  readonly acceptance: ReturnType<AcceptanceMetrics['snapshot']>;
  /** from admission (the step that prefilled it) to the step that finished it */
  readonly ms: number;
}

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
  readonly acceptance: ReturnType<AcceptanceMetrics['snapshot']>;
  readonly acceptanceBySource: Partial<Record<DraftSource, ReturnType<AcceptanceMetrics['snapshot']>>>;
}

interface Req {
  readonly index: number;
  readonly seq: TargetSequence;
  readonly tokens: number[];
  readonly promptLen: number;
  hidden: Float32Array | null;
  readonly rng: Xoshiro128;
  readonly metrics: AcceptanceMetrics;
  finish: FinishReason | null;
  readonly startMs: number;
  endMs: number;
}

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

  async generate(prompts: readonly (readonly number[])[], o: EngineGenerateOptions = {}): Promise<{ outputs: EngineOutput[]; metrics: EngineMetrics }> {
    const t = this.target;
    const maxNew = o.maxNewTokens ?? 64;
    if (!Number.isInteger(maxNew) || maxNew < 1) throw new RangeError(`generate: max-new-tokens must be a positive integer, got ${o.maxNewTokens}`);
    checkSampling(o, 'generate');
    validatePrompts(t, prompts);
    if (o.seeds && o.seeds.length !== prompts.length) throw new RangeError(`generate: ${o.seeds.length} seeds for ${prompts.length} prompts`);
    const sampling = (o.temperature ?? 0) > 0;
    const stops = new Set(o.stopTokenIds ?? t.config.eosTokenIds);
    const V = t.vocabSize, H = t.hiddenSize;
    const total = new AcceptanceMetrics();
    const bySource = new Map<DraftSource, AcceptanceMetrics>();
    const reqs: Req[] = [];
    const running: Req[] = [];
    const times: StepTimes = { draftMs: 0, verifyMs: 0, hostMs: 0, steps: 0, prefillSteps: 0, prefillMs: 0 };
    let admitted = 0;
    const t0 = performance.now();

    const append = (r: Req, toks: readonly number[]): void => {
      let n = toks.length;
      for (let i = 0; i < n; i++) if (stops.has(toks[i])) { n = i + 1; r.finish = 'stop'; break; }
      n = Math.min(n, maxNew - (r.tokens.length - r.promptLen));
      const got = toks.slice(0, n);
      r.tokens.push(...got);
      o.onTokens?.(r.index, got);
      this.proposer?.onTokens(r.index, got);
      // prompt + output ≤ max-model-len, as vLLM counts it
      if (!r.finish && (r.tokens.length - r.promptLen >= maxNew || r.tokens.length >= t.maxModelLen)) r.finish = 'length';
    };

    try {
      while (admitted < prompts.length || running.length > 0) {
        const stepStart = performance.now();
        // drafts for the running requests (the first `limit` of them), capped by what can still be used
        const limit = draftLimit(this.config, running.length);
        let drafts: Draft[] = running.map(() => ({ tokens: new Int32Array(0), source: 'none' as const }));
        let draftMs = 0;
        if (this.proposer && limit > 0) {
          const inputs: ProposeInput[] = running.slice(0, limit).map((r) => ({ requestId: r.index, tokens: Int32Array.from(r.tokens), hidden: r.hidden }));
          const d0 = performance.now();
          const got = await this.proposer.propose(inputs);
          draftMs = performance.now() - d0;
          drafts = [...got, ...drafts.slice(limit)];
        }
        const items: ForwardItem[] = [];
        const ks: number[] = [];
        running.forEach((r, i) => {
          const room = Math.min(maxNew - (r.tokens.length - r.promptLen), t.maxModelLen - r.tokens.length) - 1;
          const k = Math.max(0, Math.min(drafts[i].tokens.length, this.maxDraftTokens, room));
          ks.push(k);
          items.push({ seq: r.seq, tokens: [r.tokens[r.tokens.length - 1], ...drafts[i].tokens.subarray(0, k)], want: 'all' });
        });
        const fresh: Req[] = [];
        while (admitted < prompts.length && t.slots.available > 0 && running.length + fresh.length < (o.maxConcurrency ?? Infinity)) {
          const i = admitted++;
          const r: Req = {
            index: i, seq: t.newSequence(`prompt ${i}`), tokens: [...prompts[i]], promptLen: prompts[i].length, hidden: null,
            rng: o.seeds ? new Xoshiro128(o.seeds[i]) : new Xoshiro128(o.seed ?? 0, i), metrics: new AcceptanceMetrics(), finish: null,
            startMs: stepStart, endMs: 0,
          };
          reqs.push(r);
          fresh.push(r);
          this.proposer?.startRequest(i, prompts[i]);
          items.push({ seq: r.seq, tokens: prompts[i], want: 'last' });
        }
        const v0 = performance.now();
        const res = await t.forward(items, { logits: sampling });
        const verifyMs = performance.now() - v0;
        running.forEach((r, i) => {
          const out = res[i], k = ks[i], draft = drafts[i].tokens.subarray(0, k);
          let accepted: number, toks: number[];
          if (!sampling) {
            accepted = 0;
            while (accepted < k && draft[accepted] === out.nextTokens[accepted]) accepted++;
            toks = [...draft.subarray(0, accepted), out.nextTokens[accepted]];
          } else {
            const probs = new Float64Array((k + 1) * V);
            for (let j = 0; j <= k; j++) probs.set(samplingProbs(out.logits!.subarray(j * V, (j + 1) * V), o), j * V);
            const v = verifySampling(draft, probs, V, r.rng);
            accepted = v.accepted;
            toks = [...v.tokens];
          }
          if (k > 0) {
            r.metrics.observe(k, accepted);
            total.observe(k, accepted);
            const src = drafts[i].source;
            let m = bySource.get(src);
            if (!m) { m = new AcceptanceMetrics(); bySource.set(src, m); }
            m.observe(k, accepted);
          }
          // cached: last + k drafts; keep last + accepted (the new target token is fed next step)
          r.seq.rollback(k - accepted);
          r.hidden = out.hidden.slice(accepted * H, (accepted + 1) * H);
          append(r, toks);
        });
        fresh.forEach((r, j) => {
          const out = res[running.length + j];
          r.hidden = out.hidden.slice(0, H);
          append(r, [chooseToken(out.logits ?? [], out.nextTokens[0], o, r.rng)]);
        });
        running.push(...fresh);
        for (let i = running.length - 1; i >= 0; i--) {
          const r = running[i];
          if (r.finish) { r.endMs = performance.now(); r.seq.close(); this.proposer?.stopRequest(r.index); running.splice(i, 1); }
        }
        if (fresh.length > 0) { times.prefillSteps++; times.prefillMs += performance.now() - stepStart; } else {
          times.steps++;
          times.draftMs += draftMs;
          times.verifyMs += verifyMs;
          times.hostMs += performance.now() - stepStart - draftMs - verifyMs;
        }
      }
    } finally {
      for (const r of running) { r.seq.close(); this.proposer?.stopRequest(r.index); }
    }
    const ms = performance.now() - t0;
    const generated = reqs.reduce((a, r) => a + r.tokens.length - r.promptLen, 0);
    const outputs = [...reqs].sort((a, b) => a.index - b.index).map((r) => ({
      tokenIds: r.tokens.slice(r.promptLen), finishReason: r.finish!, acceptance: r.metrics.snapshot(), ms: r.endMs - r.startMs,
    }));
    return {
      outputs,
      metrics: {
        requests: prompts.length, promptTokens: prompts.reduce((a, p) => a + p.length, 0), generatedTokens: generated,
        ms, tokensPerSecond: generated / (ms / 1000), steps: times.steps + times.prefillSteps,
        prefillSteps: times.prefillSteps, prefillMs: times.prefillMs,
        draftMsPerStep: times.draftMs / times.steps, verifyMsPerStep: times.verifyMs / times.steps, hostMsPerStep: times.hostMs / times.steps,
        acceptance: total.snapshot(),
        acceptanceBySource: Object.fromEntries([...bySource].map(([k, m]) => [k, m.snapshot()])),
      },
    };
  }
}
