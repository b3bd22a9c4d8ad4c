// The draft → verify → append loop. Each step, every unfinished request gets a draft from the proposer (one
// batched call), the target scores the sequence plus the draft in one forward pass, the verifier keeps the
// longest acceptable prefix plus one target token, and the proposer hears about the tokens appended. With
// no proposer this is plain autoregressive decoding, which is what speculation must reproduce: token for
// token under greedy decoding, in distribution under sampling.
import { DecodingError, showId, type RequestId } from './errors.ts';
import { AcceptanceMetrics } from './metrics.ts';
import { softmaxRows } from './probs.ts';
import type { DraftSource, ProposeInput, Proposer, TargetModel } from './proposer.ts';
import { Xoshiro128 } from './rng.ts';
import { checkInt, checkTokens } from './validate.ts';
import { verifyGreedy, verifySampling, type Verification } from './verifier.ts';

export interface SpeculativeDecoderOptions {
  target: TargetModel;
  proposer?: Proposer | null;  // none: one token per step
  temperature?: number;        // 0 (default): greedy; > 0: sampling from softmax(logits / temperature)
  seed?: number;               // sampling seed; request i draws from stream i
  maxDraftTokens?: number;     // drafts are cut to this length (num_speculative_tokens); default: no cut
}

export interface GenerateOptions {
  maxNewTokens: number;
  requestIds?: RequestId[];    // default 0, 1, ...
  stopTokenIds?: number[];     // generation ends after the first of these
}

/** The generated tokens of one request and the target forward passes it took. */
export interface GenerateResult {
  requestId: RequestId;
  tokens: Int32Array; // generated tokens only
  steps: number;      // target forward passes
}

interface RequestState {
  id: RequestId;
  seq: Int32Array;
  len: number;
  promptLen: number;
  hidden: Float32Array | null;
  rng: Xoshiro128 | null;
  steps: number;
  done: boolean;
}

/** The draft → verify → append loop over a TargetModel and a Proposer; greedy output equals plain decoding token for token. */
export class SpeculativeDecoder {
  readonly target: TargetModel;
  readonly proposer: Proposer | null;
  readonly temperature: number;
  readonly seed: number;
  readonly maxDraftTokens: number;
  readonly metrics = new AcceptanceMetrics();
  readonly metricsBySource = new Map<DraftSource, AcceptanceMetrics>();

  constructor(options: SpeculativeDecoderOptions) {
    this.target = options.target;
    this.proposer = options.proposer ?? null;
    this.temperature = options.temperature ?? 0;
    this.seed = options.seed ?? 0;
    this.maxDraftTokens = options.maxDraftTokens ?? Number.MAX_SAFE_INTEGER;
    if (!(this.temperature >= 0) || !Number.isFinite(this.temperature)) throw new DecodingError(`temperature must be finite and >= 0, got ${this.temperature}`);
    checkInt(this.seed, 'seed', -0x80000000, 0xffffffff);
    checkInt(this.maxDraftTokens, 'maxDraftTokens', 0);
  }

  async generate(prompts: Int32Array[], options: GenerateOptions): Promise<GenerateResult[]> {
    checkInt(options.maxNewTokens, 'maxNewTokens', 1);
    const ids = options.requestIds ?? prompts.map((_, i) => i);
    if (ids.length !== prompts.length) throw new DecodingError(`generate: ${ids.length} request ids for ${prompts.length} prompts`);
    if (new Set(ids).size !== ids.length) throw new DecodingError('generate: request ids must be distinct');
    const stops = new Set(options.stopTokenIds ?? []);
    const V = this.target.vocabSize;
    const states: RequestState[] = prompts.map((p, i) => {
      checkTokens(p, `generate: prompt of request ${showId(ids[i])}`);
      if (p.length === 0) throw new DecodingError(`generate: prompt of request ${showId(ids[i])} is empty`);
      p.forEach((t, j) => { if (t >= V) throw new DecodingError(`generate: prompt of request ${showId(ids[i])} has token ${t} at position ${j}, outside the vocab of ${V}`); });
      const seq = new Int32Array(p.length + options.maxNewTokens + 1);
      seq.set(p);
      const rng = this.temperature > 0 ? new Xoshiro128(this.seed, i) : null;
      return { id: ids[i], seq, len: p.length, promptLen: p.length, hidden: null, rng, steps: 0, done: false };
    });
    const started: RequestState[] = [];
    try {
      for (const s of states) { this.proposer?.startRequest(s.id, s.seq.slice(0, s.len)); started.push(s); }
      for (let live = states; live.length > 0; live = live.filter((s) => !s.done)) {
        const inputs: ProposeInput[] = live.map((s) => ({ requestId: s.id, tokens: s.seq.subarray(0, s.len), hidden: s.hidden }));
        const drafts = this.proposer !== null ? await this.proposer.propose(inputs) : null;
        live.forEach((s, i) => {
          const d = drafts?.[i];
          this.step(s, d?.tokens ?? new Int32Array(0), d?.source ?? 'none', options.maxNewTokens, stops);
        });
      }
    } finally {
      for (const s of started) this.proposer?.stopRequest(s.id);
    }
    return states.map((s) => ({ requestId: s.id, tokens: s.seq.slice(s.promptLen, s.len), steps: s.steps }));
  }

  private step(s: RequestState, proposed: Int32Array, source: DraftSource, maxNew: number, stops: Set<number>): void {
    const V = this.target.vocabSize, H = this.target.hiddenSize;
    const room = maxNew - (s.len - s.promptLen); // >= 1 while the request is live
    // Tokens past the output limit would be thrown away, so there is no point in verifying them.
    const k = Math.min(proposed.length, this.maxDraftTokens, room - 1);
    const draft = proposed.subarray(0, k);
    s.seq.set(draft, s.len);
    const out = this.target.forward(s.seq.subarray(0, s.len + k), k + 1);
    if (out.logits.length !== (k + 1) * V || out.hidden.length !== (k + 1) * H) {
      throw new DecodingError(`target: forward over ${s.len + k} tokens for ${k + 1} positions returned ${out.logits.length} logits and ${out.hidden.length} hidden values, expected ${(k + 1) * V} and ${(k + 1) * H}`);
    }
    const v: Verification = s.rng === null
      ? verifyGreedy(draft, out.logits, V)
      : verifySampling(draft, softmaxRows(out.logits, k + 1, V, this.temperature), V, s.rng);
    this.observe(source, k, v.accepted);
    let n = Math.min(v.tokens.length, room);
    for (let i = 0; i < n; i++) if (stops.has(v.tokens[i])) { n = i + 1; s.done = true; break; }
    s.seq.set(v.tokens.subarray(0, n), s.len);
    s.len += n;
    s.steps++;
    // The hidden state that produced the last appended token drives the next model draft.
    s.hidden = out.hidden.slice((n - 1) * H, n * H);
    if (s.len - s.promptLen >= maxNew) s.done = true;
    // Even the last tokens go to the proposer: a finished response still feeds the global suffix tree.
    this.proposer?.onTokens(s.id, s.seq.slice(s.len - n, s.len));
  }

  private observe(source: DraftSource, drafted: number, accepted: number): void {
    if (drafted === 0) return;
    this.metrics.observe(drafted, accepted);
    let m = this.metricsBySource.get(source);
    if (m === undefined) { m = new AcceptanceMetrics(); this.metricsBySource.set(source, m); }
    m.observe(drafted, accepted);
  }
}
