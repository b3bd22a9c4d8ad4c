// The speculative config exactly as vLLM / ArcticInference users write it (snake_case, `model` a path):
//   {"method": "arctic", "model": "DIR", "num_speculative_tokens": 3, "enable_suffix_decoding": true}
// plus ArcticInference's extra keys (spec §3.1). zod-validated; unknown keys are rejected with their path.
// It maps onto runtime/decoding's camelCase SpeculativeConfig, which builds the proposer.
import { existsSync, statSync } from 'node:fs';
import { z } from 'zod';
import type { SpeculativeConfigInput } from '../decoding/spec-config.ts';

export const EngineSpeculativeConfigSchema = z.strictObject({
  method: z.enum(['arctic', 'suffix', 'ngram']),
  /** the Arctic speculator checkpoint folder (method "arctic") */
  model: z.string().min(1).optional(),
  num_speculative_tokens: z.int().positive().optional(),
  enable_suffix_decoding: z.boolean().default(false),
  /** only the first N requests of a larger batch draft (default 64 for arctic and suffix, as ArcticInference) */
  disable_by_batch_size: z.int().positive().nullable().optional(),
  /** no request drafts once the batch reaches this size */
  hard_disable_by_batch_size: z.int().positive().nullable().optional(),
  suffix_cache_max_depth: z.int().positive().max(1 << 20).default(64),
  suffix_speculative_tokens: z.int().nonnegative().default(0),
  suffix_cache_max_requests: z.int().min(-1).max(0x7fffffff).default(100000),
  suffix_max_spec_factor: z.number().nonnegative().default(1.0),
  suffix_max_spec_offset: z.number().default(0),
  suffix_min_token_prob: z.number().min(0).max(1).default(0.1),
  /**
   * arcticc: size each step's drafts from the measured cost of target passes and the measured acceptance
   * per position (runtime/engine/draft-sizing.ts), so speculation never costs throughput; default true on
   * CUDA, false on the CPU backend (whose interpreter the tests use to exercise every draft)
   */
  dynamic_draft_length: z.boolean().optional(),
  /** vLLM's n-gram (prompt lookup) knobs */
  prompt_lookup_min: z.int().positive().default(1),
  prompt_lookup_max: z.int().positive().default(5),
}).superRefine((c, ctx) => {
  if (c.method === 'arctic' && c.model === undefined) ctx.addIssue({ code: 'custom', path: ['model'], message: 'method "arctic" needs "model": the speculator checkpoint folder' });
  if (c.method !== 'arctic' && c.model !== undefined) ctx.addIssue({ code: 'custom', path: ['model'], message: `method "${c.method}" takes no "model"` });
  if (c.method === 'ngram' && c.num_speculative_tokens === undefined) ctx.addIssue({ code: 'custom', path: ['num_speculative_tokens'], message: 'method "ngram" needs num_speculative_tokens' });
  if (c.prompt_lookup_min > c.prompt_lookup_max) ctx.addIssue({ code: 'custom', path: ['prompt_lookup_min'], message: 'must not exceed prompt_lookup_max' });
  if (c.enable_suffix_decoding && c.method !== 'arctic') ctx.addIssue({ code: 'custom', path: ['enable_suffix_decoding'], message: 'only combines with method "arctic" (use method "suffix" for suffix decoding alone)' });
});

/** The validated speculative config, in vLLM / ArcticInference snake_case. */
export type EngineSpeculativeConfig = z.output<typeof EngineSpeculativeConfigSchema>;

/** A speculative config that cannot run: unknown keys, bad values, a missing or mismatched speculator. */
export class SpeculativeConfigError extends Error {
  override name = 'SpeculativeConfigError';
}

/** Parse a JSON string or object; errors name the key path, e.g. `speculative config: "suffix_min_tokn_prob": unrecognized key`. */
export function parseEngineSpeculativeConfig(input: unknown): EngineSpeculativeConfig {
  let raw = input;
  if (typeof input === 'string') {
    try { raw = JSON.parse(input); } catch (e) { throw new SpeculativeConfigError(`speculative config: not valid JSON: ${(e as Error).message}`); }
  }
  const r = EngineSpeculativeConfigSchema.safeParse(raw);
  if (!r.success) {
    const msgs = r.error.issues.map((i) => {
      if (i.code === 'unrecognized_keys') return i.keys.map((k) => `"${[...i.path, k].join('.')}": unknown key`).join('; ');
      return `"${i.path.join('.') || '(root)'}": ${i.message}`;
    });
    throw new SpeculativeConfigError(`speculative config: ${msgs.join('; ')}`);
  }
  const c = r.data;
  if (c.model !== undefined && !(existsSync(c.model) && statSync(c.model).isDirectory())) {
    throw new SpeculativeConfigError(`speculative config: "model": speculator checkpoint folder ${c.model} does not exist`);
  }
  return c;
}

/** The camelCase config runtime/decoding's createProposer takes. */
export function proposerConfig(c: EngineSpeculativeConfig): SpeculativeConfigInput {
  return {
    method: c.method,
    ...(c.num_speculative_tokens !== undefined ? { numSpeculativeTokens: c.num_speculative_tokens } : {}),
    enableSuffixDecoding: c.enable_suffix_decoding,
    suffixCacheMaxDepth: c.suffix_cache_max_depth,
    suffixSpeculativeTokens: c.suffix_speculative_tokens,
    suffixCacheMaxRequests: c.suffix_cache_max_requests,
    suffixMaxSpecFactor: c.suffix_max_spec_factor,
    suffixMaxSpecOffset: c.suffix_max_spec_offset,
    suffixMinTokenProb: c.suffix_min_token_prob,
    promptLookupMin: c.prompt_lookup_min,
    promptLookupMax: c.prompt_lookup_max,
  };
}

/** How many requests of a batch of B draft this step (ArcticInference's effective_draft_limit). */
export function draftLimit(c: EngineSpeculativeConfig | null, batch: number): number {
  if (c === null) return 0;
  if (c.hard_disable_by_batch_size != null && batch >= c.hard_disable_by_batch_size) return 0;
  const soft = c.disable_by_batch_size === undefined ? (c.method === 'ngram' ? null : 64) : c.disable_by_batch_size;
  return soft != null && batch > soft ? soft : batch;
}
