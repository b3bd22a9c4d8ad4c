// KV-cache slots sized from free device memory, as vLLM's gpu_memory_utilization sizes its cache.
import { describe, expect, it } from 'vitest';
import { bytesPerSlot, DEFAULT_MAX_SLOTS, kvSlotsFor } from '../../../runtime/target/kv-sizing.ts';

const llama8b = { numLayers: 32, numKvHeads: 8, headDim: 128, maxModelLen: 8192, kvDtype: 'bf16' as const };
const GiB = 2 ** 30;

describe('kvSlotsFor', () => {
  it('a slot is 2 · layers · positions · KV heads · head dim · item bytes (1 GiB for Llama-3.1-8B at 8k, bf16)', () => {
    expect(bytesPerSlot(llama8b)).toBe(2 * 32 * 8192 * 8 * 128 * 2);
    expect(bytesPerSlot(llama8b)).toBe(GiB);
  });
  it('as many as fit in 90 % of free memory after weights and a 1 GiB reserve, capped by the default', () => {
    // 139 GiB free, 16 GiB of weights: 0.9·139 − 16 − 1 = 108.1 GiB → 108 slots
    expect(kvSlotsFor(llama8b, 139 * GiB, 16 * GiB, null)).toBe(108);
    expect(kvSlotsFor({ ...llama8b, maxModelLen: 64 }, 139 * GiB, 16 * GiB, null)).toBe(DEFAULT_MAX_SLOTS);
  });
  it('a request that does not fit, or no slot at all, is an error naming the sizes', () => {
    expect(() => kvSlotsFor(llama8b, 139 * GiB, 16 * GiB, 200)).toThrow(/max-num-seqs 200 does not fit: one slot of 8192 positions is 1\.00 GiB of bf16 KV cache; 139\.00 GiB free × 0\.9 − 16\.00 GiB of weights − 1\.00 GiB reserve leaves 108\.10 GiB, room for 108/);
    expect(() => kvSlotsFor(llama8b, 16 * GiB, 16 * GiB, null)).toThrow(/no KV-cache slot fits/);
    expect(kvSlotsFor(llama8b, 139 * GiB, 16 * GiB, 100)).toBe(100);
  });
  it('never more slots than 32-bit indexing of one layer\'s cache allows', () => {
    const long = { ...llama8b, maxModelLen: 131072, kvDtype: 'f32' as const };
    expect(() => kvSlotsFor(long, 1e6 * GiB, 0, 16)).toThrow(/larger than 32-bit indexing allows \(at most 15 slots\)/);
    expect(kvSlotsFor(long, 1e6 * GiB, 0, null)).toBe(15);
  });
});
