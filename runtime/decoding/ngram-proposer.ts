// Prompt lookup (vLLM's "ngram" method, the baseline column of the reference benchmarks): find the most recent
// earlier occurrence of the request's last n tokens, for the largest n in [minN, maxN] that has one, and
// propose the up to k tokens that followed it. Stateless: everything comes from the request's own tokens.
import { DecodingError, showId } from './errors.ts';
import { EMPTY_DRAFT, type Draft, type ProposeInput, type Proposer, type RequestId } from './proposer.ts';
import { checkInt, checkTokens, type TokenInput } from './validate.ts';

export interface NgramOptions {
  numSpeculativeTokens: number; // k
  minN?: number;                // default 1
  maxN?: number;                // default 5
}

/** Prompt lookup: drafts the continuation of the most recent earlier occurrence of the context's last n tokens. */
export class NgramProposer implements Proposer {
  readonly name = 'ngram';
  readonly k: number;
  readonly minN: number;
  readonly maxN: number;

  constructor(options: NgramOptions) {
    const { numSpeculativeTokens, minN = 1, maxN = 5 } = options;
    checkInt(numSpeculativeTokens, 'NgramProposer: numSpeculativeTokens', 1);
    checkInt(minN, 'NgramProposer: minN', 1);
    checkInt(maxN, 'NgramProposer: maxN', minN);
    this.k = numSpeculativeTokens; this.minN = minN; this.maxN = maxN;
  }

  startRequest(_id: RequestId, _prompt: ArrayLike<number>): void {}
  onTokens(_id: RequestId, _tokens: ArrayLike<number>): void {}
  stopRequest(_id: RequestId): void {}

  async propose(batch: readonly ProposeInput[]): Promise<Draft[]> {
    return batch.map((b) => {
      if (b.tokens.length === 0) throw new DecodingError(`ngram: request ${showId(b.requestId)} has an empty context`);
      const tokens = this.find(b.tokens);
      return tokens.length > 0 ? { tokens, source: 'ngram' } : EMPTY_DRAFT;
    });
  }

  // The continuation of the longest (then most recent) earlier match of the context's last n tokens.
  find(context: TokenInput): Int32Array {
    checkTokens(context, 'ngram: context');
    if (context.length === 0) throw new DecodingError('ngram: context is empty');
    const L = context.length, maxN = this.maxN;
    let bestLen = 0, bestEnd = -1;
    // `end` is one past a candidate occurrence; the occurrence must leave at least one token to propose.
    for (let end = L - 1; end >= 1; end--) {
      let n = 0;
      while (n < maxN && end - 1 - n >= 0 && context[end - 1 - n] === context[L - 1 - n]) n++;
      if (n > bestLen) {
        bestLen = n; bestEnd = end;
        if (n === maxN) break;
      }
    }
    if (bestLen < this.minN) return new Int32Array(0);
    const stop = Math.min(bestEnd + this.k, L);
    return Int32Array.from({ length: stop - bestEnd }, (_, i) => context[bestEnd + i]);
  }
}
