// Stored Hugging Face Llama tensors -> the canonical parameters of models/llama.ts. Planning reads only
// names, dtypes and shapes, so every missing, extra or mis-shaped tensor is reported before any data is
// read; q/k/v and gate/up are read part by part into the merged qkv_proj and gate_up_proj.
import type { DType } from '../../compiler/ir/dtype.ts';
import type { PlannedAlias, PlannedParam, TensorMeta, WeightPlan } from './arctic-weights.ts';
import { CheckpointError, fmtShape } from './errors.ts';
import type { LlamaConfig } from './llama-config.ts';
import { WEIGHT_DTYPES } from './raw-tensor.ts';

interface Part { readonly name: string; readonly shape: readonly number[]; readonly from: string }
interface Layout { readonly name: string; readonly parts: readonly Part[] }

const itemBytes = (d: DType): number => (d === 'f32' ? 4 : 2);
const elems = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);
/** Older exports store the rotary inverse frequencies; they are derived from the config instead. */
const IGNORED = /(^|\.)rotary_emb\.inv_freq$/;

export function llamaLayout(c: LlamaConfig): Layout[] {
  const { hiddenSize: H, intermediateSize: I, numHeads: Hq, numKvHeads: Hk, headDim: D, vocabSize: V } = c;
  const one = (name: string, shape: number[], from: string): Layout => ({ name, parts: [{ name, shape, from }] });
  const out: Layout[] = [one('model.embed_tokens.weight', [V, H], 'vocab_size × hidden_size')];
  for (let i = 0; i < c.numLayers; i++) {
    const p = `model.layers.${i}`;
    out.push(
      one(`${p}.input_layernorm.weight`, [H], 'hidden_size'),
      { name: `${p}.self_attn.qkv_proj.weight`, parts: [
        { name: `${p}.self_attn.q_proj.weight`, shape: [Hq * D, H], from: 'num_attention_heads·head_dim × hidden_size' },
        { name: `${p}.self_attn.k_proj.weight`, shape: [Hk * D, H], from: 'num_key_value_heads·head_dim × hidden_size' },
        { name: `${p}.self_attn.v_proj.weight`, shape: [Hk * D, H], from: 'num_key_value_heads·head_dim × hidden_size' },
      ] },
      one(`${p}.self_attn.o_proj.weight`, [H, Hq * D], 'hidden_size × num_attention_heads·head_dim'),
      one(`${p}.post_attention_layernorm.weight`, [H], 'hidden_size'),
      { name: `${p}.mlp.gate_up_proj.weight`, parts: [
        { name: `${p}.mlp.gate_proj.weight`, shape: [I, H], from: 'intermediate_size × hidden_size' },
        { name: `${p}.mlp.up_proj.weight`, shape: [I, H], from: 'intermediate_size × hidden_size' },
      ] },
      one(`${p}.mlp.down_proj.weight`, [H, I], 'hidden_size × intermediate_size'),
    );
  }
  out.push(one('model.norm.weight', [H], 'hidden_size'));
  if (!c.tieWordEmbeddings) out.push(one('lm_head.weight', [V, H], 'vocab_size × hidden_size'));
  return out;
}

/** Check every stored tensor against the config; nothing is read. */
export function planLlamaWeights(c: LlamaConfig, metas: ReadonlyMap<string, TensorMeta>, file: string): WeightPlan {
  const used = new Set<string>();
  const params: PlannedParam[] = llamaLayout(c).map((l) => {
    let dtype: DType | undefined;
    const parts = l.parts.map((p) => {
      const m = metas.get(p.name);
      if (!m) throw new CheckpointError(file, `missing (expected ${fmtShape(p.shape)}, ${p.from} from config.json)`, { tensor: p.name });
      used.add(p.name);
      const f = m.file ?? file;
      if (m.dtype === null || !WEIGHT_DTYPES.includes(m.dtype)) throw new CheckpointError(f, `expected a float dtype (bf16, f16 or f32), found ${m.sourceDtype ?? m.dtype}`, { tensor: p.name });
      if (fmtShape(m.shape) !== fmtShape(p.shape)) throw new CheckpointError(f, `expected ${fmtShape(p.shape)} (${p.from} from config.json), found ${fmtShape(m.shape)}`, { tensor: p.name });
      if (dtype !== undefined && m.dtype !== dtype) throw new CheckpointError(f, `dtype ${m.dtype} differs from ${l.parts[0].name} (${dtype}); merged projections need one dtype`, { tensor: p.name });
      dtype = m.dtype;
      return { stored: p.name, byteLength: elems(p.shape) * itemBytes(m.dtype) };
    });
    const shape = [l.parts.reduce((a, p) => a + p.shape[0], 0), ...l.parts[0].shape.slice(1)];
    return { name: l.name, dtype: dtype as DType, shape, parts };
  });
  const aliases: PlannedAlias[] = [];
  const head = metas.get('lm_head.weight');
  if (c.tieWordEmbeddings && head) {
    const embed = metas.get('model.embed_tokens.weight') as TensorMeta;
    if (head.dtype !== embed.dtype || fmtShape(head.shape) !== fmtShape(embed.shape)) {
      throw new CheckpointError(head.file ?? file, `tied to model.embed_tokens.weight (tie_word_embeddings is true) but is ${head.dtype} ${fmtShape(head.shape)}`, { tensor: 'lm_head.weight' });
    }
    used.add('lm_head.weight');
    aliases.push({ name: 'lm_head.weight', of: 'model.embed_tokens.weight', why: 'tie_word_embeddings', stored: 'lm_head.weight', ofStored: 'model.embed_tokens.weight' });
  }
  const extra = [...metas.keys()].filter((n) => !used.has(n) && !IGNORED.test(n));
  if (extra.length > 0) {
    const shown = extra.slice(0, 8).join(', ') + (extra.length > 8 ? `, ... (${extra.length} in all)` : '');
    throw new CheckpointError(file, `unexpected tensors for LlamaForCausalLM with ${c.numLayers} layers: ${shown}`, { tensor: extra[0] });
  }
  return { params, aliases };
}
