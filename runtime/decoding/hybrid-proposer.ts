// Arctic + suffix (spec §4.3): per request and per step, use the suffix draft when its score (≈ expected
// accepted tokens) is at least the speculator's n_predict, the number of tokens the model would draft;
// otherwise the model's draft. The model runs only for the rows that need it (the reference runs it for the
// whole batch because its graph has a fixed cost; the drafts chosen are the same).
import type { Draft, DraftModel, ProposeInput, RequestId, SplitDraftProposer } from './proposer.ts';
import { EMPTY_DRAFT } from './proposer.ts';
import { runDraftModel } from './model-proposer.ts';
import { SuffixProposer, toDraft, type SuffixProposerOptions } from './suffix-proposer.ts';

export interface HybridProposerOptions extends Omit<SuffixProposerOptions, 'minScore'> {
  model: DraftModel;
}

/** ArcticInference's hybrid: the suffix draft when it scores at least minScore, else the model's draft. */
export class HybridProposer implements SplitDraftProposer {
  readonly name = 'hybrid';
  readonly model: DraftModel;
  readonly suffix: SuffixProposer;
  readonly minScore: number;

  constructor(options: HybridProposerOptions) {
    const { model, ...suffix } = options;
    this.model = model;
    this.suffix = new SuffixProposer(suffix);
    this.minScore = model.numSpeculativeTokens;
  }

  startRequest(id: RequestId, prompt: ArrayLike<number>): void { this.suffix.startRequest(id, prompt); }
  onTokens(id: RequestId, tokens: ArrayLike<number>): void { this.suffix.onTokens(id, tokens); }
  stopRequest(id: RequestId): void { this.suffix.stopRequest(id); }

  /** the suffix drafts that win (final) and placeholders for the rows the model drafts */
  splitDraft(batch: readonly ProposeInput[]): { drafts: Draft[]; modelRows: number[] } {
    const out: Draft[] = new Array(batch.length);
    const needModel: number[] = [];
    const n = this.model.numSpeculativeTokens;
    batch.forEach((b, i) => {
      const d = this.suffix.draft(b);
      if (d.score >= this.minScore && d.tokens.length > 0) out[i] = toDraft(d);
      else if (b.hidden !== null) { out[i] = { tokens: new Int32Array(n), source: 'arctic', score: d.score }; needModel.push(i); }
      else out[i] = { ...EMPTY_DRAFT, score: d.score };
    });
    return { drafts: out, modelRows: needModel };
  }

  async propose(batch: readonly ProposeInput[]): Promise<Draft[]> {
    const { drafts: out, modelRows: needModel } = this.splitDraft(batch);
    const drafts = await runDraftModel(this.model, needModel.map((i) => batch[i]));
    needModel.forEach((i, r) => { out[i] = { tokens: drafts[r], source: 'arctic', score: out[i].score }; });
    return out;
  }
}
