// Writes a Hugging Face LlamaForCausalLM folder of random bf16 weights, laid out as save_pretrained
// writes it: config.json (Llama-3.1-8B's, or a tiny shape for CPU tests), model-0000i-of-0000n.safetensors
// shards of at most 5 GB in state-dict order, and model.safetensors.index.json.
//   node bench/make-llama-checkpoint.ts DIR [--shape 8b|tiny] [--layers N] [--max-shard-bytes B] [--seed S]
// Speed: one 64 MiB block of random bf16 is generated once (xorshift), and every tensor is written as
// slices of it starting at a per-tensor offset (tensor index × a prime, wrapped; the block's length is prime,
// so no two rows of a matrix are the same slice), so writing 16 GB costs
// disk time only and host memory stays at the block. The values are not independent across tensors (a
// tensor is a rotation of the block), which a speed benchmark does not care about. Scales: projections and
// embeddings ±[2^-7, 2^-5) (std ≈ 0.02, as Llama's initializer_range), norm weights in [1, 1.25).
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { SafetensorsEntry } from '../runtime/checkpoint/safetensors-write.ts';
import { writeSafetensors } from '../runtime/checkpoint/safetensors-write.ts';

const USAGE = 'usage: node bench/make-llama-checkpoint.ts DIR [--shape 8b|tiny] [--layers N] [--max-shard-bytes 5000000000] [--seed 1]';

/** The config.json fields that differ between the shapes; the rest is Llama-3.1-8B's file. */
export const LLAMA_SHAPES = {
  '8b': { hidden_size: 4096, intermediate_size: 14336, num_hidden_layers: 32, num_attention_heads: 32, num_key_value_heads: 8, head_dim: 128, vocab_size: 128256, max_position_embeddings: 131072 },
  tiny: { hidden_size: 64, intermediate_size: 160, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, head_dim: 16, vocab_size: 512, max_position_embeddings: 4096 },
} as const;
export type LlamaShapeName = keyof typeof LLAMA_SHAPES;

const ROPE = { factor: 8.0, low_freq_factor: 1.0, high_freq_factor: 4.0, original_max_position_embeddings: 8192, rope_type: 'llama3' };

/** Llama-3.1-8B's config.json (rope_theta + rope_scaling as Meta ships it, and transformers 5's rope_parameters) at `shape`. */
export function llamaConfigJson(shape: LlamaShapeName, layers?: number): Record<string, unknown> {
  const s = LLAMA_SHAPES[shape];
  return {
    architectures: ['LlamaForCausalLM'], model_type: 'llama',
    attention_bias: false, attention_dropout: 0.0, mlp_bias: false, hidden_act: 'silu', pretraining_tp: 1,
    bos_token_id: 128000 % s.vocab_size, eos_token_id: 128001 % s.vocab_size, initializer_range: 0.02,
    ...s, num_hidden_layers: layers ?? s.num_hidden_layers,
    rms_norm_eps: 1e-5, tie_word_embeddings: false, torch_dtype: 'bfloat16', use_cache: true,
    rope_theta: 500000.0, rope_scaling: { ...ROPE }, rope_parameters: { rope_theta: 500000.0, ...ROPE },
  };
}

/** The stored tensors in Hugging Face's state-dict order, with shapes and whether each is a norm weight. */
export function llamaTensors(c: Record<string, unknown>): { name: string; shape: number[]; norm: boolean }[] {
  const n = (k: string): number => c[k] as number;
  const H = n('hidden_size'), I = n('intermediate_size'), D = n('head_dim'), Hq = n('num_attention_heads'), Hk = n('num_key_value_heads'), V = n('vocab_size');
  const out = [{ name: 'model.embed_tokens.weight', shape: [V, H], norm: false }];
  for (let i = 0; i < n('num_hidden_layers'); i++) {
    const p = `model.layers.${i}`;
    out.push(
      { name: `${p}.self_attn.q_proj.weight`, shape: [Hq * D, H], norm: false },
      { name: `${p}.self_attn.k_proj.weight`, shape: [Hk * D, H], norm: false },
      { name: `${p}.self_attn.v_proj.weight`, shape: [Hk * D, H], norm: false },
      { name: `${p}.self_attn.o_proj.weight`, shape: [H, Hq * D], norm: false },
      { name: `${p}.mlp.gate_proj.weight`, shape: [I, H], norm: false },
      { name: `${p}.mlp.up_proj.weight`, shape: [I, H], norm: false },
      { name: `${p}.mlp.down_proj.weight`, shape: [H, I], norm: false },
      { name: `${p}.input_layernorm.weight`, shape: [H], norm: true },
      { name: `${p}.post_attention_layernorm.weight`, shape: [H], norm: true },
    );
  }
  out.push({ name: 'model.norm.weight', shape: [H], norm: true }, { name: 'lm_head.weight', shape: [V, H], norm: false });
  return out;
}

/** Greedy packing in order, as save_pretrained's max_shard_size does: a shard is closed before it would exceed `max`. */
export function planShards(sizes: readonly number[], max: number): number[][] {
  const shards: number[][] = [];
  let cur: number[] = [], bytes = 0;
  sizes.forEach((b, i) => {
    if (cur.length > 0 && bytes + b > max) { shards.push(cur); cur = []; bytes = 0; }
    cur.push(i);
    bytes += b;
  });
  if (cur.length) shards.push(cur);
  return shards;
}

// bf16 elements, about 64 MiB: a prime, so the rows of a [V, K] tensor start at distinct offsets of the block
// (with 2^25 the LM head's rows repeated every 8192, and every logit had exact twins: top-1 margin 0)
const BLOCK = 33_554_393;
const PRIME = 7919 * 64;

function randomBlock(n: number, seed: number, norm: boolean): Uint16Array {
  const out = new Uint16Array(n);
  let s = (seed * 0x9e3779b1) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    // norm: 1 + k/128, k < 32; else sign | exponent 120..121 (2^-7 … 2^-5) | 7 mantissa bits
    out[i] = norm ? 0x3f80 | (s & 0x1f) : ((s >>> 31) << 15) | ((120 + ((s >>> 7) & 1)) << 7) | (s & 0x7f);
  }
  return out;
}

function entry(t: { name: string; shape: number[]; norm: boolean }, index: number, blocks: { w: Uint16Array; norm: Uint16Array }): SafetensorsEntry {
  const total = t.shape.reduce((a, b) => a * b, 1);
  const block = t.norm ? blocks.norm : blocks.w;
  return {
    name: t.name, dtype: 'BF16', shape: t.shape,
    data: (emit) => {
      let at = (index * PRIME) % block.length;
      for (let done = 0; done < total;) {
        const n = Math.min(block.length - at, total - done);
        const part = block.subarray(at, at + n);
        emit(new Uint8Array(part.buffer, part.byteOffset, part.byteLength));
        done += n;
        at = 0;
      }
    },
  };
}

export interface WrittenCheckpoint { dir: string; shards: string[]; bytes: number; tensors: number; seconds: number }

export function writeLlamaCheckpoint(dir: string, o: { shape: LlamaShapeName; layers?: number; maxShardBytes?: number; seed?: number }): WrittenCheckpoint {
  const t0 = performance.now();
  const config = llamaConfigJson(o.shape, o.layers);
  const tensors = llamaTensors(config);
  const sizes = tensors.map((t) => 2 * t.shape.reduce((a, b) => a * b, 1));
  const blocks = {
    w: randomBlock(Math.min(BLOCK, Math.max(...sizes) / 2), o.seed ?? 1, false),
    norm: randomBlock(Math.min(BLOCK, config.hidden_size as number), (o.seed ?? 1) + 1, true),
  };
  const shards = planShards(sizes, o.maxShardBytes ?? 5e9);
  const count = String(shards.length).padStart(5, '0');
  const names = shards.map((_, i) => `model-${String(i + 1).padStart(5, '0')}-of-${count}.safetensors`);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
  const weightMap: Record<string, string> = {};
  let bytes = 0;
  shards.forEach((idx, s) => {
    bytes += writeSafetensors(path.join(dir, names[s]), idx.map((i) => entry(tensors[i], i, blocks)), { format: 'pt' });
    for (const i of idx) weightMap[tensors[i].name] = names[s];
  });
  const totalSize = sizes.reduce((a, b) => a + b, 0);
  fs.writeFileSync(path.join(dir, 'model.safetensors.index.json'), `${JSON.stringify({ metadata: { total_size: totalSize }, weight_map: weightMap }, null, 2)}\n`);
  return { dir, shards: names, bytes, tensors: tensors.length, seconds: (performance.now() - t0) / 1000 };
}

function main(): void {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      shape: { type: 'string', default: '8b' }, layers: { type: 'string' }, 'max-shard-bytes': { type: 'string', default: '5000000000' },
      seed: { type: 'string', default: '1' }, help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) { console.log(`${USAGE}\n${fs.readFileSync(new URL(import.meta.url), 'utf8').split('\n').filter((l) => l.startsWith('//')).join('\n')}`); return; }
  if (positionals.length !== 1) { console.error(USAGE); process.exit(2); }
  if (!(values.shape in LLAMA_SHAPES)) { console.error(`--shape: expected 8b or tiny, got ${values.shape}\n${USAGE}`); process.exit(2); }
  const int = (k: string, v: string | undefined, min: number): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) { console.error(`--${k}: expected an integer ≥ ${min}, got ${v}\n${USAGE}`); process.exit(2); }
    return n;
  };
  const w = writeLlamaCheckpoint(positionals[0], {
    shape: values.shape as LlamaShapeName, layers: int('layers', values.layers, 1),
    maxShardBytes: int('max-shard-bytes', values['max-shard-bytes'], 1), seed: int('seed', values.seed, 0),
  });
  console.log(`wrote ${w.dir}: ${w.tensors} tensors, ${(w.bytes / 1e9).toFixed(2)} GB in ${w.shards.length} shards, ${w.seconds.toFixed(1)} s (${(w.bytes / 1e9 / w.seconds).toFixed(2)} GB/s)`);
}

if (import.meta.main) main();
