// Adapts a batched DraftModel (the Arctic speculator) to the Proposer seam: rows that have a hidden state are
// packed into one B×H call; the first step of a request has none yet and gets an empty draft.
import { DecodingError, showId } from './errors.ts';
import { EMPTY_DRAFT, type Draft, type DraftModel, type ProposeInput, type SplitDraftProposer } from './proposer.ts';
import type { RequestId } from './errors.ts';

/** A Proposer that drafts with a DraftModel (e.g. a loaded Speculator) from the target hidden state and last token. */
export class ModelProposer implements SplitDraftProposer {
  readonly name = 'arctic';
  readonly model: DraftModel;

  constructor(model: DraftModel) {
    this.model = model;
  }

  startRequest(_id: RequestId, _prompt: ArrayLike<number>): void {}
  onTokens(_id: RequestId, _tokens: ArrayLike<number>): void {}
  stopRequest(_id: RequestId): void {}

  /** every row with a hidden state is the model's; the first step of a request (no hidden yet) gets no draft */
  splitDraft(batch: readonly ProposeInput[]): { drafts: Draft[]; modelRows: number[] } {
    const drafts: Draft[] = new Array(batch.length);
    const modelRows: number[] = [];
    const n = this.model.numSpeculativeTokens;
    for (let i = 0; i < batch.length; i++) {
      if (batch[i].hidden !== null) { drafts[i] = { tokens: new Int32Array(n), source: 'arctic' }; modelRows.push(i); } else drafts[i] = EMPTY_DRAFT;
    }
    return { drafts, modelRows };
  }

  async propose(batch: readonly ProposeInput[]): Promise<Draft[]> {
    const { drafts: out, modelRows: rows } = this.splitDraft(batch);
    const drafts = await runDraftModel(this.model, rows.map((i) => batch[i]));
    rows.forEach((i, r) => { out[i] = { tokens: drafts[r], source: 'arctic' }; });
    return out;
  }
}

// One batched call of the draft model; checks shapes and ids so that a faulty model is named, not the verifier.
export async function runDraftModel(model: DraftModel, rows: readonly ProposeInput[]): Promise<Int32Array[]> {
  if (rows.length === 0) return [];
  const H = model.hiddenSize, k = model.numSpeculativeTokens, V = model.vocabSize;
  const hidden = new Float32Array(rows.length * H);
  const tokens = new Int32Array(rows.length);
  rows.forEach((r, i) => {
    if (r.hidden === null || r.hidden.length !== H) {
      throw new DecodingError(`draft model: request ${showId(r.requestId)} has a hidden state of length ${r.hidden?.length ?? 'null'}, expected ${H}`);
    }
    if (r.tokens.length === 0) throw new DecodingError(`draft model: request ${showId(r.requestId)} has no tokens`);
    hidden.set(r.hidden, i * H);
    tokens[i] = r.tokens[r.tokens.length - 1];
  });
  const ids = await model.propose({ hidden, tokens });
  if (ids.length !== rows.length * k) {
    throw new DecodingError(`draft model returned ${ids.length} ids for ${rows.length} rows × ${k} tokens`);
  }
  return rows.map((r, i) => {
    const row = ids.slice(i * k, (i + 1) * k);
    for (let j = 0; j < k; j++) {
      if (!(row[j] >= 0 && row[j] < V)) {
        throw new DecodingError(`draft model: request ${showId(r.requestId)} position ${j}: token ${row[j]} outside [0, ${V})`);
      }
    }
    return row;
  });
}
