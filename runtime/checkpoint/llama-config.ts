// Hugging Face LlamaForCausalLM config.json: validated with zod, normalized into LlamaConfig. Values the
// program cannot honour (biases, another activation, an unknown rope type) are rejected by field name.
import { z } from 'zod';
import { parseWith } from './config.ts';
import { CheckpointError } from './errors.ts';

export interface RopeConfig {
  readonly theta: number;
  readonly type: 'default' | 'llama3';
  /** llama3 only */
  readonly factor?: number;
  readonly lowFreqFactor?: number;
  readonly highFreqFactor?: number;
  readonly originalMaxPositions?: number;
}

/** The normalized Llama config the program and loader use. */
export interface LlamaConfig {
  readonly architecture: 'LlamaForCausalLM';
  readonly hiddenSize: number;
  readonly intermediateSize: number;
  readonly numLayers: number;
  readonly numHeads: number;
  readonly numKvHeads: number;
  readonly headDim: number;
  readonly vocabSize: number;
  readonly rmsNormEps: number;
  readonly tieWordEmbeddings: boolean;
  readonly maxPositionEmbeddings: number;
  readonly rope: RopeConfig;
  readonly bosTokenId: number | null;
  /** every end-of-sequence id (config's eos_token_id may be a list) */
  readonly eosTokenIds: readonly number[];
  readonly torchDtype?: string;
}

const count = z.int().positive();
const tokenIds = z.union([z.int().nonnegative(), z.array(z.int().nonnegative()), z.null()]).optional();
const RopeSchema = z.looseObject({
  rope_theta: z.number().positive().optional(),
  rope_type: z.string().optional(),
  type: z.string().optional(),
  factor: z.number().positive().optional(),
  low_freq_factor: z.number().positive().optional(),
  high_freq_factor: z.number().positive().optional(),
  original_max_position_embeddings: count.optional(),
});
const LlamaSchema = z.looseObject({
  hidden_size: count,
  intermediate_size: count,
  num_hidden_layers: count,
  num_attention_heads: count,
  num_key_value_heads: count.optional(),
  head_dim: count.nullable().optional(),
  vocab_size: count,
  rms_norm_eps: z.number().positive().default(1e-6),
  tie_word_embeddings: z.boolean().default(false),
  max_position_embeddings: count.default(2048),
  rope_theta: z.number().positive().optional(),
  rope_parameters: RopeSchema.nullable().optional(),
  rope_scaling: RopeSchema.nullable().optional(),
  hidden_act: z.string().default('silu'),
  attention_bias: z.boolean().default(false),
  mlp_bias: z.boolean().default(false),
  pretraining_tp: z.int().default(1),
  model_type: z.string().optional(),
  bos_token_id: tokenIds,
  eos_token_id: tokenIds,
  torch_dtype: z.string().optional(),
  dtype: z.string().optional(),
});

const reject = (file: string, field: string, detail: string): never => { throw new CheckpointError(file, detail, { field }); };

function parseRope(c: z.infer<typeof LlamaSchema>, file: string): RopeConfig {
  // transformers ≥ 5 writes rope_parameters (theta inside); older configs rope_theta + rope_scaling
  const field = c.rope_parameters ? 'rope_parameters' : 'rope_scaling';
  const r = c.rope_parameters ?? c.rope_scaling ?? {};
  const theta = r.rope_theta ?? c.rope_theta ?? 10000;
  const type = r.rope_type ?? r.type ?? 'default';
  if (type === 'default') return { theta, type };
  if (type !== 'llama3') return reject(file, `${field}.rope_type`, `rope type "${type}" is not supported (expected "default" or "llama3")`);
  const need = (k: 'factor' | 'low_freq_factor' | 'high_freq_factor' | 'original_max_position_embeddings'): number =>
    r[k] ?? reject(file, `${field}.${k}`, 'required for rope type "llama3" (missing)');
  const lo = need('low_freq_factor'), hi = need('high_freq_factor');
  if (hi <= lo) reject(file, `${field}.high_freq_factor`, `must exceed low_freq_factor (${lo}), found ${hi}`);
  return { theta, type, factor: need('factor'), lowFreqFactor: lo, highFreqFactor: hi, originalMaxPositions: need('original_max_position_embeddings') };
}

const ids = (v: number | number[] | null | undefined): number[] => (v === null || v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** Validate a LlamaForCausalLM config.json; values the program cannot honour are rejected by field. */
export function parseLlamaConfig(json: unknown, file: string): LlamaConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new CheckpointError(file, 'expected a JSON object');
  const raw = json as Record<string, unknown>;
  const arch = raw.architectures;
  const list = typeof arch === 'string' ? [arch] : arch;
  if (!Array.isArray(list) || list.length !== 1 || list[0] !== 'LlamaForCausalLM') {
    reject(file, 'architectures', `unsupported architecture ${JSON.stringify(arch)} (expected ["LlamaForCausalLM"])`);
  }
  const c = parseWith(LlamaSchema, raw, file);
  if (c.model_type !== undefined && c.model_type !== 'llama') reject(file, 'model_type', `expected "llama", found "${c.model_type}"`);
  if (c.hidden_act !== 'silu') reject(file, 'hidden_act', `only "silu" is supported, found "${c.hidden_act}"`);
  if (c.attention_bias) reject(file, 'attention_bias', 'attention biases are not supported (found true)');
  if (c.mlp_bias) reject(file, 'mlp_bias', 'MLP biases are not supported (found true)');
  if (c.pretraining_tp !== 1) reject(file, 'pretraining_tp', `only 1 is supported, found ${c.pretraining_tp}`);
  const kv = c.num_key_value_heads ?? c.num_attention_heads;
  if (c.num_attention_heads % kv !== 0) reject(file, 'num_key_value_heads', `${kv} does not divide num_attention_heads ${c.num_attention_heads}`);
  const headDim = c.head_dim ?? c.hidden_size / c.num_attention_heads;
  if (!Number.isInteger(headDim) || headDim % 2 !== 0) reject(file, 'head_dim', `must be an even integer, found ${headDim}`);
  const bos = ids(c.bos_token_id);
  const eos = ids(c.eos_token_id);
  for (const [field, list2] of [['bos_token_id', bos], ['eos_token_id', eos]] as const) {
    for (const t of list2) if (t >= c.vocab_size) reject(file, field, `token id ${t} is outside the vocabulary [0, ${c.vocab_size})`);
  }
  const torchDtype = c.torch_dtype ?? c.dtype;
  return {
    architecture: 'LlamaForCausalLM',
    hiddenSize: c.hidden_size, intermediateSize: c.intermediate_size, numLayers: c.num_hidden_layers,
    numHeads: c.num_attention_heads, numKvHeads: kv, headDim, vocabSize: c.vocab_size, rmsNormEps: c.rms_norm_eps,
    tieWordEmbeddings: c.tie_word_embeddings, maxPositionEmbeddings: c.max_position_embeddings, rope: parseRope(c, file),
    bosTokenId: bos[0] ?? null, eosTokenIds: eos,
    ...(torchDtype !== undefined ? { torchDtype } : {}),
  };
}
