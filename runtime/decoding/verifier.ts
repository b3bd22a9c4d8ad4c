// Verification of a linear draft against the target (spec §5, vLLM's rejection sampler with draft_probs =
// None, i.e. deterministic drafts, q = 1 on the drafted token):
//   greedy:   accept while the draft equals the target's argmax; then the target's argmax, or, when every
//             draft token was accepted, a bonus token from the last row.
//   sampling: accept draft token x with probability p_target(x); on rejection sample from p_target with x
//             removed and renormalised; after a fully accepted draft, sample the bonus token from the last
//             row. The output distribution is exactly the target's, whatever the drafts are.
// Rows are (k + 1) × V: row i is the target's prediction after the draft's first i tokens.
import { DecodingError, showValue } from './errors.ts';
import { argmaxRow, checkProbRows, sampleRow, type Rows } from './probs.ts';
import type { Rng } from './rng.ts';

export interface Verification {
  accepted: number;    // draft tokens accepted
  tokens: Int32Array;  // the accepted draft tokens followed by the target's token: accepted + 1 tokens
}

/** Greedy verification: the longest prefix of the draft equal to the target's argmax tokens, plus the target's next token. */
export function verifyGreedy(draft: ArrayLike<number>, logits: Rows, vocabSize: number): Verification {
  const k = checkDraft(draft, logits, vocabSize, 'verifyGreedy');
  const out = new Int32Array(k + 1);
  for (let i = 0; i <= k; i++) {
    const a = argmaxRow(logits, i, vocabSize, 'verifyGreedy');
    if (i < k && draft[i] === a) { out[i] = a; continue; }
    out[i] = a;
    return { accepted: i, tokens: out.subarray(0, i + 1) };
  }
  throw new Error('unreachable');
}

/** Rejection-sampling verification that keeps the target's distribution. */
export function verifySampling(draft: ArrayLike<number>, probs: Rows, vocabSize: number, rng: Rng): Verification {
  const k = checkDraft(draft, probs, vocabSize, 'verifySampling');
  checkProbRows(probs, k + 1, vocabSize, 'verifySampling');
  const out = new Int32Array(k + 1);
  for (let i = 0; i < k; i++) {
    const x = draft[i];
    if (rng.next() < probs[i * vocabSize + x]) { out[i] = x; continue; }
    const y = sampleRow(probs, i, vocabSize, rng, x);
    if (y < 0) { out[i] = x; continue; } // x holds all the mass: rejecting it is impossible in the limit
    out[i] = y;
    return { accepted: i, tokens: out.subarray(0, i + 1) };
  }
  out[k] = sampleRow(probs, k, vocabSize, rng);
  return { accepted: k, tokens: out };
}

function checkDraft(draft: ArrayLike<number>, rows: Rows, V: number, what: string): number {
  if (!Number.isInteger(V) || V <= 0) throw new DecodingError(`${what}: vocab size must be a positive integer, got ${showValue(V)}`);
  const k = draft.length;
  for (let i = 0; i < k; i++) {
    const t = draft[i];
    if (!Number.isInteger(t) || t < 0 || t >= V) throw new DecodingError(`${what}: draft token at position ${i} is ${showValue(t)}, outside [0, ${V})`);
  }
  if (rows.length !== (k + 1) * V) throw new DecodingError(`${what}: a draft of ${k} tokens needs ${k + 1} rows × ${V} values, got ${rows.length}`);
  return k;
}
