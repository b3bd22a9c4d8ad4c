// The speculative config (ArcticInference's ArcticSpeculativeConfig, spec §3.1, in camelCase), validated
// with zod, and the factory that turns it into a Proposer:
//   method 'arctic'  -> the model speculator; with enableSuffixDecoding, the hybrid (suffix when score ≥ n_predict)
//   method 'suffix'  -> suffix decoding alone (min score 0), drafting suffixSpeculativeTokens || 16 tokens
//   method 'ngram'   -> prompt lookup with numSpeculativeTokens tokens
import { z } from 'zod';
import { DecodingError } from './errors.ts';
import { HybridProposer, type HybridBar } from './hybrid-proposer.ts';
import { ModelProposer } from './model-proposer.ts';
import { NgramProposer } from './ngram-proposer.ts';
import type { DraftModel, Proposer } from './proposer.ts';
import { SuffixDecodingCache, type DeferMode } from './suffix-cache.ts';
import { SuffixProposer } from './suffix-proposer.ts';

export const SpeculativeConfigSchema = z.strictObject({
  method: z.enum(['arctic', 'suffix', 'ngram']),
  numSpeculativeTokens: z.int().positive().optional(),
  enableSuffixDecoding: z.boolean().default(false),
  suffixCacheMaxDepth: z.int().positive().max(1 << 20).default(64),
  suffixSpeculativeTokens: z.int().nonnegative().default(0),
  suffixCacheMaxRequests: z.int().min(-1).max(0x7fffffff).default(100000),
  suffixMaxSpecFactor: z.number().nonnegative().default(1.0),
  suffixMaxSpecOffset: z.number().default(0),
  suffixMinTokenProb: z.number().min(0).max(1).default(0.1),
  suffixUseTree: z.boolean().default(false),
  promptLookupMin: z.int().positive().default(1),
  promptLookupMax: z.int().positive().default(5),
}).refine((c) => c.promptLookupMin <= c.promptLookupMax, { message: 'promptLookupMin must not exceed promptLookupMax', path: ['promptLookupMin'] });

export type SpeculativeConfigInput = z.input<typeof SpeculativeConfigSchema>;
/** A validated speculative config (the output of parseSpeculativeConfig). */
export type SpeculativeConfig = z.output<typeof SpeculativeConfigSchema>;

/** Validates an ArcticInference-style `speculative_config` object (method arctic | suffix | ngram, …). */
export function parseSpeculativeConfig(input: unknown): SpeculativeConfig {
  const r = SpeculativeConfigSchema.safeParse(input);
  if (!r.success) throw new DecodingError(`speculative config: ${z.prettifyError(r.error).replace(/\n/g, '; ')}`);
  return r.data;
}

export interface ProposerDeps {
  draftModel?: DraftModel; // required for method 'arctic'
  cache?: SuffixDecodingCache;
  /** a suffix cache this call makes defers these updates to Proposer.flushDeferred (SuffixDecodingCache) */
  deferSuffixUpdates?: DeferMode;
  /** the hybrid's bar for a suffix draft (HybridProposer; default 'n_predict', the reference's) */
  hybridBar?: HybridBar;
}

/** The Proposer a parsed speculative config describes (a model is needed for arctic and the hybrid). */
export function createProposer(input: unknown, deps: ProposerDeps = {}): Proposer {
  const c = parseSpeculativeConfig(input);
  const suffixTokens = c.suffixSpeculativeTokens > 0 ? c.suffixSpeculativeTokens : 16;
  const cache = () => deps.cache ?? new SuffixDecodingCache({ maxTreeDepth: c.suffixCacheMaxDepth, maxCachedRequests: c.suffixCacheMaxRequests, deferUpdates: deps.deferSuffixUpdates });
  const suffix = {
    maxSpecTokens: suffixTokens, maxSpecFactor: c.suffixMaxSpecFactor, maxSpecOffset: c.suffixMaxSpecOffset,
    minTokenProb: c.suffixMinTokenProb, useTree: c.suffixUseTree,
  };
  switch (c.method) {
    case 'ngram':
      if (c.numSpeculativeTokens === undefined) throw new DecodingError('speculative config: method "ngram" needs numSpeculativeTokens');
      return new NgramProposer({ numSpeculativeTokens: c.numSpeculativeTokens, minN: c.promptLookupMin, maxN: c.promptLookupMax });
    case 'suffix':
      return new SuffixProposer({ cache: cache(), ...suffix, minScore: 0 });
    case 'arctic': {
      const model = deps.draftModel;
      if (model === undefined) throw new DecodingError('speculative config: method "arctic" needs a draft model');
      // The model always drafts n_predict tokens; a larger numSpeculativeTokens only widens room for suffix drafts.
      if (c.numSpeculativeTokens !== undefined && c.numSpeculativeTokens < model.numSpeculativeTokens) {
        throw new DecodingError(`speculative config: numSpeculativeTokens ${c.numSpeculativeTokens} is below the model's n_predict ${model.numSpeculativeTokens}`);
      }
      return c.enableSuffixDecoding ? new HybridProposer({ model, cache: cache(), ...suffix, bar: deps.hybridBar }) : new ModelProposer(model);
    }
  }
}
