// The request bodies, validated with zod as vLLM's OpenAI server takes them (snake_case; unknown keys are
// ignored, as vLLM ignores them). What the engine cannot do (n > 1, logprobs, penalties, …) is a clear 400.
import { z } from 'zod';

const nullish = <T extends z.ZodType>(t: T) => t.nullable().optional();
const tokenId = z.int().nonnegative();

export const PromptSchema = z.union([
  z.string(),
  z.array(tokenId).min(1),
  z.array(z.string()).min(1),
  z.array(z.array(tokenId).min(1)).min(1),
]);

const Stop = nullish(z.union([z.string(), z.array(z.string()).max(16)]));

/** Sampling and stopping parameters shared by completions and chat completions. */
const Sampling = {
  model: nullish(z.string()),
  max_tokens: nullish(z.int().positive()),
  temperature: nullish(z.number().min(0).max(100)),
  top_p: nullish(z.number().gt(0).max(1)),
  /** vLLM: -1 or 0 = off */
  top_k: nullish(z.int().min(-1)),
  seed: nullish(z.int().min(Number.MIN_SAFE_INTEGER).max(Number.MAX_SAFE_INTEGER)),
  stop: Stop,
  stop_token_ids: nullish(z.array(tokenId)),
  ignore_eos: nullish(z.boolean()),
  skip_special_tokens: nullish(z.boolean()),
  include_stop_str_in_output: nullish(z.boolean()),
  stream: nullish(z.boolean()),
  stream_options: nullish(z.object({ include_usage: nullish(z.boolean()), continuous_usage_stats: nullish(z.boolean()) })),
  n: nullish(z.int().positive()),
  best_of: nullish(z.int().positive()),
  presence_penalty: nullish(z.number()),
  frequency_penalty: nullish(z.number()),
  repetition_penalty: nullish(z.number()),
  logit_bias: nullish(z.record(z.string(), z.number())),
  user: nullish(z.string()),
};

export const CompletionSchema = z.object({
  ...Sampling,
  prompt: PromptSchema,
  echo: nullish(z.boolean()),
  logprobs: nullish(z.int().min(0)),
  suffix: nullish(z.string()),
});
export type CompletionBody = z.output<typeof CompletionSchema>;

const TextPart = z.object({ type: z.literal('text'), text: z.string() });
export const MessageSchema = z.object({
  role: z.enum(['system', 'developer', 'user', 'assistant', 'tool']),
  content: z.union([z.string(), z.array(TextPart), z.null()]).optional(),
  name: nullish(z.string()),
});

export const ChatSchema = z.object({
  ...Sampling,
  messages: z.array(MessageSchema).min(1),
  max_completion_tokens: nullish(z.int().positive()),
  add_generation_prompt: nullish(z.boolean()),
  continue_final_message: nullish(z.boolean()),
  chat_template_kwargs: nullish(z.record(z.string(), z.unknown())),
  logprobs: nullish(z.boolean()),
  top_logprobs: nullish(z.int().min(0)),
  tools: nullish(z.array(z.unknown())),
});
export type ChatBody = z.output<typeof ChatSchema>;
export type ChatMessage = z.output<typeof MessageSchema>;

export const TokenizeSchema = z.union([
  z.object({ model: nullish(z.string()), prompt: z.string(), add_special_tokens: nullish(z.boolean()) }),
  z.object({ model: nullish(z.string()), messages: z.array(MessageSchema).min(1), add_generation_prompt: nullish(z.boolean()), add_special_tokens: nullish(z.boolean()) }),
]);

export const DetokenizeSchema = z.object({ model: nullish(z.string()), tokens: z.array(tokenId) });

export type SamplingBody = Pick<CompletionBody, keyof typeof Sampling>;
