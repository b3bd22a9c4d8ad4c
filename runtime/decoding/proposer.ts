// The seam between the decoding loop and whatever drafts tokens: the Arctic model speculator, suffix
// decoding, prompt-lookup n-grams, or the hybrid. The loop tells a proposer about a request's lifetime and
// every token it accepts, and asks for one draft per active request per step.
import type { RequestId } from './errors.ts';
import type { DeviceDrafting } from '../backend.ts';

export type { RequestId } from './errors.ts';

// The Arctic speculator as the runtime exposes it: the target's final hidden state at the last accepted
// position plus the token sampled from it in, n_predict greedy draft tokens per row out.
/** A model drafter as the decoding loop sees it: B hidden states and last tokens in, B×k tokens out. A Speculator is one. */
export interface DraftModel {
  readonly hiddenSize: number;
  readonly vocabSize: number;
  readonly numSpeculativeTokens: number;
  propose(req: { hidden: Float32Array; tokens: Int32Array }): Promise<Int32Array>; // B×H in, B×k out (row-major)
  /** CUDA: the draft enqueued on the device's stream without a wait, so the verify pass can follow it there */
  readonly deviceDrafting?: DeviceDrafting;
}

// Given the whole token sequence, the final hidden state and the logits for each of the last `count`
// positions (row i predicts the token after position length - count + i).
/** The model being sped up: the hidden states and logits of the last `count` positions of a token sequence. */
export interface TargetModel {
  readonly vocabSize: number;
  readonly hiddenSize: number;
  forward(tokens: Int32Array, count: number): { hidden: Float32Array; logits: Float32Array };
}

export interface ProposeInput {
  requestId: RequestId;
  tokens: Int32Array;          // prompt + generated so far; the last token is the newest
  hidden: Float32Array | null; // the target's hidden state that produced the last token (null before the first step)
}

export type DraftSource = 'arctic' | 'suffix' | 'ngram' | 'none';

/** One draft: its tokens and which proposer made it. */
export interface Draft {
  tokens: Int32Array;
  source: DraftSource;
  score?: number; // the suffix draft's score, when one was computed (also when the model draft won)
}

/** What drafts tokens for the loop: told about request lifetimes and accepted tokens, asked for one draft per request per step. */
export interface Proposer {
  readonly name: string;
  startRequest(id: RequestId, prompt: ArrayLike<number>): void;
  onTokens(id: RequestId, tokens: ArrayLike<number>): void; // tokens appended this step: accepted drafts + the target's token
  stopRequest(id: RequestId): void;
  propose(batch: readonly ProposeInput[]): Promise<Draft[]>;
  /**
   * Apply bookkeeping the proposer deferred (a suffix cache with deferUpdates): the engine calls it once a
   * step, while the target pass runs on the device, and when it goes idle.
   */
  flushDeferred?(): void;
  /**
   * What the engine verified of this request's draft this step: `verified` of its tokens (0: none, e.g. the
   * sizer capped it), `accepted` of those accepted. Called for every request the step drafted for.
   */
  onVerified?(id: RequestId, verified: number, accepted: number): void;
}

/**
 * A proposer whose model drafts can stay on the device until the verify pass (runtime/engine/chained-draft.ts):
 * the host part of drafting first, then the model rows drafted on the device right before the verify.
 */
export interface SplitDraftProposer extends Proposer {
  readonly model: DraftModel;
  /**
   * The drafts the host makes (final) and, for the rows the model drafts (`modelRows`, each with a hidden
   * state), placeholders of numSpeculativeTokens zeros with source 'arctic', to be filled by the model.
   * propose() is splitDraft() with the model run on the placeholders.
   */
  splitDraft(batch: readonly ProposeInput[]): { drafts: Draft[]; modelRows: number[] };
}

export function canSplitDraft(p: Proposer | null): p is SplitDraftProposer {
  return p !== null && typeof (p as Partial<SplitDraftProposer>).splitDraft === 'function' && (p as Partial<SplitDraftProposer>).model !== undefined;
}

export const EMPTY_DRAFT: Readonly<Draft> = Object.freeze({ tokens: new Int32Array(0), source: 'none' as const });

// A tree draft (tokens with parent indices) reduced to its first root-to-leaf chain; tree drafts are emitted
// best-first, so the first child of each token is its most probable continuation.
export function firstPath(tokens: Int32Array, parents: Int32Array): Int32Array {
  const path: number[] = [];
  let at = -1;
  for (let i = 0; i < tokens.length; i++) {
    if (parents[i] === at) { path.push(tokens[i]); at = i; }
  }
  return Int32Array.from(path);
}
