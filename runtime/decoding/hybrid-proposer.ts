// Arctic + suffix (spec §4.3): per request and per step, the suffix draft when its score (≈ expected accepted
// tokens) reaches a bar, otherwise the model's draft. The reference's bar is the speculator's n_predict, the
// number of tokens the model drafts ('n_predict'); 'measured' sets it to the tokens the model's own drafts
// have been accepted with so far (a running mean over the drafts the engine verified, told through
// onVerified; n_predict until the first one is): the suffix
// draft whenever it is expected to do as well as the model's, which costs a model pass more
// (docs/suffix-overlap.md, "The hybrid's bar"). The model runs only for the rows that need it (the reference
// runs it for the whole batch because its graph has a fixed cost; the drafts chosen are the same).
import type { Draft, DraftModel, ProposeInput, RequestId, SplitDraftProposer } from './proposer.ts';
import { EMPTY_DRAFT } from './proposer.ts';
import { runDraftModel } from './model-proposer.ts';
import { SuffixProposer, toDraft, type SuffixProposerOptions } from './suffix-proposer.ts';
import { DecodingError } from './errors.ts';

export type HybridBar = 'n_predict' | 'measured';
export const HYBRID_BARS: readonly HybridBar[] = ['n_predict', 'measured'];

export interface HybridProposerOptions extends Omit<SuffixProposerOptions, 'minScore'> {
  model: DraftModel;
  /** default 'n_predict' (the reference) */
  bar?: HybridBar;
}

/** weight of the newest model draft in the running mean of its accepted tokens */
const BAR_EMA = 0.02;

/** ArcticInference's hybrid: the suffix draft when it scores at least the bar, else the model's draft. */
export class HybridProposer implements SplitDraftProposer {
  readonly name = 'hybrid';
  readonly model: DraftModel;
  readonly suffix: SuffixProposer;
  readonly bar: HybridBar;
  /** the requests whose draft the model made at the last splitDraft (their acceptance comes through onVerified) */
  readonly #modelRows = new Set<RequestId>();
  #accepted: number;

  constructor(options: HybridProposerOptions) {
    const { model, bar = 'n_predict', ...suffix } = options;
    if (!HYBRID_BARS.includes(bar)) throw new DecodingError(`HybridProposer: bar must be one of ${HYBRID_BARS.join(', ')}, got ${String(bar)}`);
    this.model = model;
    this.suffix = new SuffixProposer(suffix);
    this.bar = bar;
    this.#accepted = model.numSpeculativeTokens;
  }

  /** the score a suffix draft needs this step to be taken over the model's */
  get minScore(): number { return this.bar === 'measured' ? this.#accepted : this.model.numSpeculativeTokens; }

  startRequest(id: RequestId, prompt: ArrayLike<number>): void { this.suffix.startRequest(id, prompt); }
  onTokens(id: RequestId, tokens: ArrayLike<number>): void { this.suffix.onTokens(id, tokens); }
  /** the engine's account of the step: a model draft verified in part or whole moves the measured bar */
  onVerified(id: RequestId, verified: number, accepted: number): void {
    if (!this.#modelRows.delete(id) || verified === 0) return;
    this.#accepted += BAR_EMA * (accepted - this.#accepted);
  }
  stopRequest(id: RequestId): void { this.#modelRows.delete(id); this.suffix.stopRequest(id); }
  flushDeferred(): void { this.suffix.flushDeferred(); }

  /** the suffix drafts that win (final) and placeholders for the rows the model drafts */
  splitDraft(batch: readonly ProposeInput[]): { drafts: Draft[]; modelRows: number[] } {
    const out: Draft[] = new Array(batch.length);
    const needModel: number[] = [];
    const n = this.model.numSpeculativeTokens, bar = this.minScore, track = this.bar === 'measured';
    batch.forEach((b, i) => {
      const d = this.suffix.draft(b);
      if (d.score >= bar && d.tokens.length > 0) out[i] = toDraft(d);
      else if (b.hidden !== null) {
        // a placeholder the model's tokens replace (in place: the engine fills chained drafts after the pass)
        out[i] = { tokens: new Int32Array(n), source: 'arctic', score: d.score };
        needModel.push(i);
        if (track) this.#modelRows.add(b.requestId);
      } else out[i] = { ...EMPTY_DRAFT, score: d.score };
    });
    return { drafts: out, modelRows: needModel };
  }

  async propose(batch: readonly ProposeInput[]): Promise<Draft[]> {
    const { drafts: out, modelRows: needModel } = this.splitDraft(batch);
    const drafts = await runDraftModel(this.model, needModel.map((i) => batch[i]));
    needModel.forEach((i, r) => { out[i].tokens = drafts[r]; });
    return out;
  }
}
