// Loading a Hugging Face Llama folder (config.json + model.safetensors or a sharded index): config and
// the whole name/shape plan are checked before the first tensor byte is read; nothing partial returns.
// loadLlamaCheckpoint reads every weight into host memory (the CPU backend computes on them);
// openLlamaCheckpoint only describes them, each read on demand (a device upload streams them chunk by
// chunk, so a 16 GB checkpoint never sits in host memory).
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
import type { StreamedWeight } from '../weight-data.ts';
import type { WeightPlan } from './arctic-weights.ts';

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

/** A Llama folder's config and weight files, opened and planned (names, dtypes, shapes checked); nothing read yet. */
function planFolder(dir: string) {
  const { config, file: configFile } = readLlamaConfig(dir);
  const { set } = openWeights(dir);
  try {
    const file = set.files[0];
    const plan = planLlamaWeights(config, set.tensors, file);
    const get = (n: string): RawTensor => set.tensors.get(n) as RawTensor;
    const total = plan.params.reduce((a, p) => a + p.parts.reduce((b, q) => b + q.byteLength, 0), 0);
    return { config, configFile, set, file, plan, get, total };
  } catch (e) {
    set.close();
    throw e;
  }
}

export function loadLlamaCheckpoint(dir: string, options: LoadOptions = {}): LoadedLlama {
  const { config, configFile, set, file, plan, get, total } = planFolder(dir);
  try {
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

/** A Llama folder opened for streaming: every canonical weight described, read on demand, until close(). */
export interface OpenedLlama {
  readonly config: LlamaConfig;
  /** canonical names of models/llama.ts; merged projections read part by part */
  readonly weights: Map<string, StreamedWeight>;
  readonly files: string[];
  /** bytes of the weight files */
  readonly bytes: number;
  /** closes the files (and ends the progress line); the weights cannot be read afterwards */
  close(): void;
}

const COMPARE_CHUNK = 16 << 20;

/** Tied tensors stored twice must hold equal bytes: compared chunk by chunk from the files. */
function checkStoredAliases(plan: WeightPlan, get: (n: string) => RawTensor, file: string): void {
  for (const a of plan.aliases) {
    const x = get(a.stored), y = get(a.ofStored);
    if (x.storageKey === y.storageKey && x.storageOffset === y.storageOffset) continue;
    const bx = new Uint8Array(Math.min(COMPARE_CHUNK, y.byteLength)), by = new Uint8Array(bx.byteLength);
    for (let at = 0; at < y.byteLength; at += bx.byteLength) {
      const n = Math.min(bx.byteLength, y.byteLength - at);
      x.read(bx.subarray(0, n), undefined, at);
      y.read(by.subarray(0, n), undefined, at);
      if (Buffer.compare(bx.subarray(0, n), by.subarray(0, n)) !== 0) {
        throw new CheckpointError(file, `should be tied to ${a.ofStored} (${a.why} is true in the config) but its values differ`, { tensor: a.stored });
      }
    }
  }
}

/**
 * Opens a Llama folder without reading its weights: config, names, dtypes and shapes are checked now (and
 * tied copies compared); each weight's bytes are read when its `read` is called. The caller must close().
 */
export function openLlamaCheckpoint(dir: string, options: LoadOptions = {}): OpenedLlama {
  const { config, configFile, set, file, plan, get, total } = planFolder(dir);
  try {
    checkStoredAliases(plan, get, file);
    const progress = progressReporter(file, total, options.onProgress, options.quiet);
    let closed = false;
    const weights = new Map<string, StreamedWeight>();
    for (const p of plan.params) {
      const byteLength = p.parts.reduce((a, q) => a + q.byteLength, 0);
      weights.set(p.name, {
        dtype: p.dtype, shape: p.shape, byteLength,
        read(dst: Uint8Array, offset: number): void {
          if (closed) throw new CheckpointError(file, 'read after the checkpoint was closed', { tensor: p.name });
          if (offset < 0 || offset + dst.byteLength > byteLength) throw new RangeError(`${p.name}: bytes [${offset}, ${offset + dst.byteLength}) are outside its ${byteLength}`);
          // the parts are concatenated along dim 0: byte ranges follow one another
          let start = 0, done = 0;
          for (const q of p.parts) {
            const end = start + q.byteLength;
            const from = offset + done;
            if (from < end && done < dst.byteLength) {
              const n = Math.min(end - from, dst.byteLength - done);
              get(q.stored).read(dst.subarray(done, done + n), progress.onBytes, from - start);
              done += n;
            }
            start = end;
          }
        },
      });
    }
    return {
      config, weights, files: [configFile, ...set.files], bytes: set.bytes,
      close() { if (closed) return; closed = true; try { progress.finish(); } finally { set.close(); } },
    };
  } catch (e) {
    set.close();
    throw e;
  }
}
