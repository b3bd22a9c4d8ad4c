// Suffix decoding as a Proposer: mirrors each request's prompt and accepted tokens into a SuffixDecodingCache
// and drafts from the last maxTreeDepth tokens. Tree drafts are reduced to their most probable path, since
// the decoder verifies a single chain.
import { showId } from './errors.ts';
import { EMPTY_DRAFT, firstPath, type Draft, type ProposeInput, type Proposer, type RequestId } from './proposer.ts';
import { SuffixDecodingCache, type DeferMode } from './suffix-cache.ts';
import type { SpeculateOptions, SuffixDraft } from './suffix-speculate.ts';
import { DecodingError } from './errors.ts';

export interface SuffixProposerOptions {
  cache?: SuffixDecodingCache;     // share one cache between proposers; otherwise one is made
  maxTreeDepth?: number;           // default 64 (ignored when a cache is given)
  maxCachedRequests?: number;      // default 100000 (ignored when a cache is given)
  deferUpdates?: DeferMode;        // default 'off' (ignored when a cache is given): see SuffixDecodingCache
  maxSpecTokens?: number;          // default 16, the reference's suffix-only default
  maxSpecFactor?: number;
  maxSpecOffset?: number;
  minTokenProb?: number;
  useTree?: boolean;
  minScore?: number;               // drafts scoring below this are dropped; default 0 (keep all)
}

/** A Proposer that drafts with a SuffixDecodingCache, keeping it up to date with every request. */
export class SuffixProposer implements Proposer {
  readonly name = 'suffix';
  readonly cache: SuffixDecodingCache;
  readonly spec: SpeculateOptions;
  readonly minScore: number;

  constructor(options: SuffixProposerOptions = {}) {
    this.cache = options.cache ?? new SuffixDecodingCache({ maxTreeDepth: options.maxTreeDepth, maxCachedRequests: options.maxCachedRequests, deferUpdates: options.deferUpdates });
    this.spec = {
      maxSpecTokens: options.maxSpecTokens ?? 16,
      maxSpecFactor: options.maxSpecFactor, maxSpecOffset: options.maxSpecOffset,
      minTokenProb: options.minTokenProb, useTree: options.useTree,
    };
    this.minScore = options.minScore ?? 0;
    if (!Number.isFinite(this.minScore)) throw new DecodingError(`SuffixProposer: minScore must be finite, got ${this.minScore}`);
  }

  startRequest(id: RequestId, prompt: ArrayLike<number>): void { this.cache.startRequest(id, prompt); }
  onTokens(id: RequestId, tokens: ArrayLike<number>): void { this.cache.addActiveResponse(id, tokens); }
  stopRequest(id: RequestId): void { this.cache.stopRequest(id); }
  flushDeferred(): void { this.cache.flush(); }

  async propose(batch: readonly ProposeInput[]): Promise<Draft[]> {
    return batch.map((b) => {
      const d = this.draft(b);
      return d.score >= this.minScore && d.tokens.length > 0 ? toDraft(d) : { ...EMPTY_DRAFT, score: d.score };
    });
  }

  // The raw suffix draft for one request, before any threshold.
  draft(b: ProposeInput): SuffixDraft {
    if (b.tokens.length === 0) throw new DecodingError(`suffix: request ${showId(b.requestId)} has an empty context`);
    const depth = this.cache.maxTreeDepth;
    const ctx = b.tokens.length > depth ? b.tokens.subarray(b.tokens.length - depth) : b.tokens;
    return this.cache.speculate(b.requestId, ctx, this.spec);
  }
}

export function toDraft(d: SuffixDraft): Draft {
  const tokens = d.parents.every((p, i) => p === i - 1) ? d.tokens : firstPath(d.tokens, d.parents);
  return { tokens, source: 'suffix', score: d.score };
}
