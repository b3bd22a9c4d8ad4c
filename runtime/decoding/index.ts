// Public API of the decoding layer: suffix decoding, the proposers (model, suffix, n-gram, hybrid),
// verification, acceptance metrics and the speculative decoding loop.
export { DecodingError, type RequestId } from './errors.ts';
export { SuffixTree, type SuffixTreeOptions } from './suffix-tree.ts';
export type { SpeculateOptions, SuffixDraft } from './suffix-speculate.ts';
export { DEFER_MODES, SuffixDecodingCache, type DeferMode, type SuffixDecodingCacheOptions } from './suffix-cache.ts';
export {
  EMPTY_DRAFT, firstPath,
  type Draft, type DraftModel, type DraftSource, type ProposeInput, type Proposer, type TargetModel,
} from './proposer.ts';
export { ModelProposer } from './model-proposer.ts';
export { SuffixProposer, type SuffixProposerOptions } from './suffix-proposer.ts';
export { NgramProposer, type NgramOptions } from './ngram-proposer.ts';
export { HybridProposer, type HybridProposerOptions } from './hybrid-proposer.ts';
export {
  SpeculativeConfigSchema, parseSpeculativeConfig, createProposer,
  type SpeculativeConfig, type SpeculativeConfigInput, type ProposerDeps,
} from './spec-config.ts';
export { verifyGreedy, verifySampling, type Verification } from './verifier.ts';
export { argmaxRow, softmaxRows, checkProbRows, sampleRow, PROB_SUM_TOLERANCE } from './probs.ts';
export { Xoshiro128, type Rng } from './rng.ts';
export { AcceptanceMetrics, type AcceptanceSnapshot } from './metrics.ts';
export {
  SpeculativeDecoder, type SpeculativeDecoderOptions, type GenerateOptions, type GenerateResult,
} from './speculative-decoder.ts';
