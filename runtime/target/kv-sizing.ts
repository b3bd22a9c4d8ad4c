// How many KV-cache slots fit: as vLLM sizes its cache from gpu_memory_utilization, the slots are what is
// left of a fraction of free device memory after the weights and a reserve for activations and graphs.
import { itemSize } from '../../compiler/ir/dtype.ts';
import type { FloatDType } from '../../compiler/ir/dtype.ts';
import { TargetError } from './kv-slots.ts';

export interface KvSizing {
  readonly numLayers: number;
  readonly numKvHeads: number;
  readonly headDim: number;
  readonly maxModelLen: number;
  readonly kvDtype: FloatDType;
}

/** the share of free memory the target may take, and what stays reserved for activations and CUDA graphs */
export const GPU_MEMORY_UTILIZATION = 0.9;
export const ACTIVATION_RESERVE = 2 ** 30;
/** the default when free memory allows more (vLLM's max_num_seqs default is 256) */
export const DEFAULT_MAX_SLOTS = 256;

/** kernels index a tensor with 32 bits: one layer's cache [S, L, Hkv, D] stays under this many elements */
const MAX_ELEMENTS = 2 ** 31 - 1;

export const bytesPerSlot = (k: KvSizing): number => 2 * k.numLayers * k.maxModelLen * k.numKvHeads * k.headDim * itemSize(k.kvDtype);

const gib = (b: number): string => `${(b / 2 ** 30).toFixed(2)} GiB`;

/**
 * The slot count for `requested` (null: as many as fit, at most DEFAULT_MAX_SLOTS), or a TargetError naming
 * the sizes when not even the request (or one slot) fits.
 */
export function kvSlotsFor(k: KvSizing, freeBytes: number, weightBytes: number, requested: number | null): number {
  const per = bytesPerSlot(k);
  const budget = GPU_MEMORY_UTILIZATION * freeBytes - weightBytes - ACTIVATION_RESERVE;
  const indexable = Math.floor(MAX_ELEMENTS / (k.maxModelLen * k.numKvHeads * k.headDim));
  const fit = Math.min(Math.floor(Math.max(0, budget) / per), indexable);
  const what = `one slot of ${k.maxModelLen} positions is ${gib(per)} of ${k.kvDtype} KV cache; `
    + `${gib(freeBytes)} free × ${GPU_MEMORY_UTILIZATION} − ${gib(weightBytes)} of weights − ${gib(ACTIVATION_RESERVE)} reserve leaves ${gib(Math.max(0, budget))}`;
  if (requested !== null) {
    if (requested > indexable) throw new TargetError(`max-num-seqs ${requested} × max-model-len ${k.maxModelLen} makes a layer's KV cache larger than 32-bit indexing allows (at most ${indexable} slots)`);
    if (requested > fit) throw new TargetError(`max-num-seqs ${requested} does not fit: ${what}, room for ${fit} (lower max-num-seqs or max-model-len)`);
    return requested;
  }
  if (fit < 1) throw new TargetError(`no KV-cache slot fits: ${what} (lower max-model-len)`);
  return Math.min(fit, DEFAULT_MAX_SLOTS);
}
