// Writes a Llama-3.1-8B-shaped Arctic LSTM speculator checkpoint (sum_lstm, H = D = 4096, V = 128256,
// n = 3; about 2.4 GB of random bf16 weights) for the checkpoint-loading benchmark.
// Usage: node bench/make-checkpoint.ts DIR [--hidden 4096] [--width 4096] [--vocab 128256]
// Tensor data is generated and written 16 MiB at a time, so memory stays flat whatever the size.
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { SafetensorsEntry } from '../runtime/checkpoint/safetensors-write.ts';
import { writeSafetensors } from '../runtime/checkpoint/safetensors-write.ts';

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { hidden: { type: 'string', default: '4096' }, width: { type: 'string', default: '4096' }, vocab: { type: 'string', default: '128256' } },
});
if (positionals.length !== 1) {
  console.error('usage: node bench/make-checkpoint.ts DIR [--hidden 4096] [--width 4096] [--vocab 128256]');
  process.exit(2);
}
const dir = positionals[0];
const H = Number(values.hidden), D = Number(values.width), V = Number(values.vocab), N_PREDICT = 3;

const CHUNK_ELEMS = 8 << 20; // 16 MiB of bf16
const chunk = new Uint16Array(CHUNK_ELEMS);
let seed = 0x9e3779b9;

/** Random bf16 with exponents around 2^-6 (weights ~ 1/sqrt(4096)); `center` adds 1.0 for norm weights. */
function fill(n: number, center: boolean): Uint16Array {
  const out = chunk.subarray(0, n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s ^= s << 13; s ^= s >>> 17; s ^= s << 5;
    out[i] = center ? 0x3f80 | (s & 0x7f) : (s & 0x807f) | ((119 + ((s >>> 8) & 3)) << 7);
  }
  seed = s;
  return out;
}

function randomBf16(name: string, shape: number[], center = false): SafetensorsEntry {
  const total = shape.reduce((a, b) => a * b, 1);
  return {
    name, dtype: 'BF16', shape,
    data: (emit) => {
      for (let done = 0; done < total; done += CHUNK_ELEMS) {
        const part = fill(Math.min(CHUNK_ELEMS, total - done), center);
        emit(new Uint8Array(part.buffer, part.byteOffset, part.byteLength));
      }
    },
  };
}

const gates = ['forget', 'input', 'cell', 'output'];
const entries: SafetensorsEntry[] = [
  randomBf16('forget_emb.0.weight', [V, D]),
  ...gates.map((g) => randomBf16(`${g}_proj.0.weight`, [D, H])),
  ...gates.map((g) => randomBf16(`${g}_proj.1.weight`, [D, D])),
  randomBf16('cell_ln.0.weight', [D], true), randomBf16('cell_ln.0.bias', [D]),
  randomBf16('state_ln.0.weight', [D], true), randomBf16('state_ln.0.bias', [D]),
  randomBf16('head.0.weight', [V, D]),
];
const config = {
  architectures: ['ArcticLSTMSpeculatorPreTrainedModel'], model_type: 'mlp_speculator',
  base_model_name_or_path: 'meta-llama/Llama-3.1-8B-Instruct',
  input_hidden_dim: H, inner_dim: String(D), proj_dim: String(D), emb_dim: String(D),
  vocab_size: V, n_predict: N_PREDICT, n_candidates: N_PREDICT, top_k_tokens_per_head: [1, 1, 1],
  tie_weights: true, scale_input: true, tie_lstm_embs: true, method: 'sum_lstm', torch_dtype: 'bfloat16',
};

fs.mkdirSync(dir, { recursive: true });
fs.writeFileSync(path.join(dir, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
const t0 = performance.now();
const bytes = writeSafetensors(path.join(dir, 'model.safetensors'), entries);
const s = (performance.now() - t0) / 1000;
console.log(`wrote ${path.join(dir, 'model.safetensors')}: ${(bytes / 1e9).toFixed(2)} GB in ${s.toFixed(1)} s`);
