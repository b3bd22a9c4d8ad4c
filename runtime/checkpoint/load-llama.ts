// Loading a Hugging Face Llama folder (config.json + model.safetensors or a sharded index): config and
// the whole name/shape plan are checked before the first tensor byte is read; nothing partial returns.
import fs from 'node:fs';
import path from 'node:path';
import type { HostTensor } from '../../compiler/ir/tensor-data.ts';
import { materialize } from './arctic-weights.ts';
import { CheckpointError } from './errors.ts';
import type { LlamaConfig } from './llama-config.ts';
import { parseLlamaConfig } from './llama-config.ts';
import { planLlamaWeights } from './llama-weights.ts';
import type { LoadOptions } from './load.ts';
import { checkDir, openWeights } from './open-weights.ts';
import { progressReporter } from './progress.ts';
import type { RawTensor } from './raw-tensor.ts';

export interface LoadedLlama {
  readonly config: LlamaConfig;
  /** canonical names of models/llama.ts (merged qkv_proj, gate_up_proj) */
  readonly weights: Map<string, HostTensor>;
  readonly files: string[];
  readonly bytes: number;
}

export function readLlamaConfig(dir: string): { config: LlamaConfig; file: string } {
  checkDir(dir);
  const file = path.join(dir, 'config.json');
  let text: string;
  try { text = fs.readFileSync(file, 'utf8'); } catch { throw new CheckpointError(file, 'missing: a model folder needs a config.json next to its weights'); }
  let json: unknown;
  try { json = JSON.parse(text); } catch (e) { throw new CheckpointError(file, `not valid JSON: ${(e as Error).message}`); }
  return { config: parseLlamaConfig(json, file), file };
}

export function loadLlamaCheckpoint(dir: string, options: LoadOptions = {}): LoadedLlama {
  const { config, file: configFile } = readLlamaConfig(dir);
  const { set } = openWeights(dir);
  try {
    const file = set.files[0];
    const plan = planLlamaWeights(config, set.tensors, file);
    const get = (n: string): RawTensor => set.tensors.get(n) as RawTensor;
    const total = plan.params.reduce((a, p) => a + p.parts.reduce((b, q) => b + q.byteLength, 0), 0);
    const progress = progressReporter(file, total, options.onProgress, options.quiet);
    let weights: Map<string, HostTensor>;
    try {
      weights = materialize(plan, {
        read: (n, dst, offset) => get(n).read(dst, progress.onBytes, offset),
        shares: (a, b) => get(a).storageKey === get(b).storageKey && get(a).storageOffset === get(b).storageOffset,
      }, file);
    } finally {
      progress.finish();
    }
    return { config, weights, files: [configFile, ...set.files], bytes: set.bytes };
  } finally {
    set.close();
  }
}
