// Filling a target plan's KV-cache state on the device with random bf16 without a prefill: a 64 MiB random
// block is uploaded once and copied device to device over every state buffer, each copy starting at a
// different offset into the block (so layers and slots do not hold identical bytes). 64 × 8k positions of
// Llama-3.1-8B are 68.7 GB: a prefill would be minutes, these copies well under a second.
import { bufferById, bufferBytes } from '../runtime/cuda/plan-layout.ts';
import type { PlanExecutor } from '../runtime/cuda/executor.ts';

const BLOCK_BYTES = 64 << 20;
const SLACK_BYTES = 1 << 20;

/** Random bf16 in ±[2^-3, 1) (no zeros, no denormals, no NaN): the magnitude of post-RoPE keys and values. */
export function randomKvBlock(elements: number, seed: number): Uint16Array {
  const out = new Uint16Array(elements);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < elements; i++) {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    out[i] = ((s >>> 31) << 15) | ((124 + ((s >>> 7) % 3)) << 7) | (s & 0x7f);
  }
  return out;
}

/** Overwrites every bf16 state buffer of `exec` with random values; returns the bytes written. */
export function fillKvRandom(exec: PlanExecutor, seed = 7): { bytes: number; buffers: number; ms: number } {
  const dev = exec.device;
  const t0 = performance.now();
  const states = (exec.plan.state ?? []).map((s) => bufferById(exec.plan, s.buffer));
  const bad = states.find((b) => b.dtype !== 'bf16');
  if (bad) throw new Error(`fillKvRandom: state "${bad.name ?? bad.id}" is ${bad.dtype}; the benchmark fills bf16 caches (load with kvDtype bf16)`);
  const block = randomKvBlock((BLOCK_BYTES + SLACK_BYTES) / 2, seed);
  dev.makeCurrent();
  const src = dev.memory.alloc(block.byteLength, 'random KV block');
  let bytes = 0;
  try {
    dev.memory.upload(src, block, block.byteLength);
    states.forEach((b, i) => {
      const total = bufferBytes(b, {});
      const dst = exec.address(b.id);
      for (let off = 0, k = 0; off < total; off += BLOCK_BYTES, k++) {
        const n = Math.min(BLOCK_BYTES, total - off);
        const shift = ((i * 7919 + k * 104729) % (SLACK_BYTES / 2)) * 2; // an even byte offset: whole bf16 values
        dev.cu('cuMemcpyDtoDAsync_v2', dst + BigInt(off), src + BigInt(shift), n, dev.stream);
      }
      bytes += total;
    });
    dev.synchronize();
  } finally {
    dev.memory.free(src);
  }
  return { bytes, buffers: states.length, ms: performance.now() - t0 };
}
