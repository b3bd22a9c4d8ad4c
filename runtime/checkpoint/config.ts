// Speculator config.json: validated with zod, then normalized into the few numbers the compiler needs.
// The LSTM and MLP writers in ArcticTraining disagree on field names and types (string vs integer dims),
// so each kind has its own schema and the two meet in SpeculatorConfig.
import { z } from 'zod';
import { CheckpointError } from './errors.ts';

/** An Arctic LSTM or MLP speculator config.json, normalized to the sizes and flags the programs need. */
export interface SpeculatorConfig {
  kind: 'lstm' | 'mlp';
  architecture: string;        // e.g. ArcticLSTMSpeculatorPreTrainedModel
  method: 'sum_lstm' | 'mlp';
  hiddenSize: number;          // H: LSTM input_hidden_dim; MLP emb_dim
  width: number;               // D: LSTM proj_dim[0] (== emb_dim[0] == inner_dim[0]); MLP inner_dim, or emb_dim when inner_dim is 0
  vocabSize: number;           // V
  nPredict: number;            // n
  tieWeights: boolean;
  scaleInput: boolean;
  tieLstmEmbs: boolean;        // false for MLP
  torchDtype?: string;
}

export const ARCHITECTURES: Readonly<Record<string, 'lstm' | 'mlp'>> = {
  ArcticLSTMSpeculatorPreTrainedModel: 'lstm',
  MLPVariantSpeculatorPreTrainedModel: 'lstm',
  ArcticMLPSpeculatorPreTrainedModel: 'mlp',
  MLPSpeculatorPreTrainedModel: 'mlp',
};

const count = z.int().positive();
const topK = z.array(z.int()).optional();
// AT's LSTM writer stores dims as strings; a hand-written integer means the same single layer.
const lstmDim = z.union([z.string(), z.int().positive()]);

const LstmSchema = z.looseObject({
  input_hidden_dim: count,
  inner_dim: lstmDim,
  proj_dim: lstmDim,
  emb_dim: lstmDim,
  vocab_size: count,
  n_predict: count,
  tie_weights: z.boolean().default(false),
  scale_input: z.boolean().default(false),
  tie_lstm_embs: z.boolean().default(false),
  method: z.string().optional(),
  top_k_tokens_per_head: topK,
  torch_dtype: z.string().optional(),
});

const MlpSchema = z.looseObject({
  emb_dim: count,
  inner_dim: z.int().nonnegative().default(0),
  vocab_size: count,
  n_predict: count,
  tie_weights: z.boolean().default(false),
  scale_input: z.boolean().default(false),
  top_k_tokens_per_head: topK,
  top_k_tokesns_per_head: topK, // sic: the MLP writer's spelling
  torch_dtype: z.string().optional(),
});

const show = (v: unknown): string => {
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 60 ? `${s.slice(0, 57)}...` : s;
};

export function parseWith<T>(schema: z.ZodType<T>, json: Record<string, unknown>, file: string): T {
  const r = schema.safeParse(json);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const field = issue.path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`)).join('');
  let value: unknown = json;
  for (const p of issue.path) value = (value as Record<PropertyKey, unknown> | undefined)?.[p as PropertyKey];
  const what = issue.message.replace(/^Invalid input: /, '').replace(/, received \w+$/, '');
  throw new CheckpointError(file, value === undefined ? `required field is missing (${what})` : `${what}, found ${show(value)}`, { field });
}

function parseArchitecture(raw: unknown, file: string): { name: string; kind: 'lstm' | 'mlp' } {
  const field = 'architectures';
  const known = Object.keys(ARCHITECTURES).map((a) => `"${a}"`).join(', ');
  if (raw === undefined) throw new CheckpointError(file, `required field is missing (expected one of ${known})`, { field });
  const list = typeof raw === 'string' ? [raw] : raw;
  if (!Array.isArray(list) || list.length !== 1 || typeof list[0] !== 'string') {
    throw new CheckpointError(file, `expected a list of exactly one architecture name, found ${show(raw)}`, { field });
  }
  const name = list[0];
  const kind = ARCHITECTURES[name];
  if (kind === undefined) throw new CheckpointError(file, `unknown architecture "${name}" (expected one of ${known})`, { field });
  return { name, kind };
}

/** "4096" -> 4096. Dot-separated lists are multi-layer sub-blocks, which no public checkpoint uses. */
function parseLstmDim(raw: string | number, field: string, file: string): number {
  if (typeof raw === 'number') return raw;
  const parts = raw.split('.');
  if (!parts.every((p) => /^[1-9][0-9]*$/.test(p))) {
    throw new CheckpointError(file, `expected a positive integer as a string such as "4096", found ${show(raw)}`, { field });
  }
  if (parts.length > 1) {
    throw new CheckpointError(file, `multi-layer dims ${show(raw)} are not supported (expected a single integer such as "${parts[0]}")`, { field });
  }
  return Number(parts[0]);
}

function parseLstm(json: Record<string, unknown>, architecture: string, file: string): SpeculatorConfig {
  const c = parseWith(LstmSchema, json, file);
  const method = c.method ?? 'sum_rnn';
  if (method === 'sum_rnn') {
    const why = c.method === undefined ? ' (the default when "method" is absent)' : '';
    throw new CheckpointError(file, `method "sum_rnn"${why} is not supported (only "sum_lstm" is)`, { field: 'method' });
  }
  if (method !== 'sum_lstm') throw new CheckpointError(file, `unknown method ${show(method)} (expected "sum_lstm")`, { field: 'method' });
  if (!c.tie_weights) throw new CheckpointError(file, 'sum_lstm requires tie_weights true, found false', { field: 'tie_weights' });
  const width = parseLstmDim(c.proj_dim, 'proj_dim', file);
  for (const field of ['emb_dim', 'inner_dim'] as const) {
    const d = parseLstmDim(c[field], field, file);
    if (d !== width) throw new CheckpointError(file, `expected ${width} (sum_lstm needs emb_dim == inner_dim == proj_dim), found ${d}`, { field });
  }
  return {
    kind: 'lstm', architecture, method: 'sum_lstm',
    hiddenSize: c.input_hidden_dim, width, vocabSize: c.vocab_size, nPredict: c.n_predict,
    tieWeights: true, scaleInput: c.scale_input, tieLstmEmbs: c.tie_lstm_embs,
    ...(c.torch_dtype !== undefined ? { torchDtype: c.torch_dtype } : {}),
  };
}

function parseMlp(json: Record<string, unknown>, architecture: string, file: string): SpeculatorConfig {
  const c = parseWith(MlpSchema, json, file);
  if (c.tie_weights && c.n_predict < 2) {
    throw new CheckpointError(file, `tie_weights true requires n_predict > 1, found n_predict ${c.n_predict}`, { field: 'tie_weights' });
  }
  return {
    kind: 'mlp', architecture, method: 'mlp',
    hiddenSize: c.emb_dim, width: c.inner_dim === 0 ? c.emb_dim : c.inner_dim, vocabSize: c.vocab_size, nPredict: c.n_predict,
    tieWeights: c.tie_weights, scaleInput: c.scale_input, tieLstmEmbs: false,
    ...(c.torch_dtype !== undefined ? { torchDtype: c.torch_dtype } : {}),
  };
}

/** Validate a parsed config.json; `file` is only used to name the file in errors. */
export function parseSpeculatorConfig(json: unknown, file: string): SpeculatorConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new CheckpointError(file, `expected a JSON object, found ${show(json)}`);
  }
  const obj = json as Record<string, unknown>;
  const arch = parseArchitecture(obj.architectures, file);
  return arch.kind === 'lstm' ? parseLstm(obj, arch.name, file) : parseMlp(obj, arch.name, file);
}
