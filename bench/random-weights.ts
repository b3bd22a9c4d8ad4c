// Random bf16 weights for the GPU benchmarks (bench/gpu-bench.ts, bench/tp-bench.ts), and the median.
import type { Graph } from '../compiler/ir/graph.ts';
import { graphNodes } from '../compiler/ir/graph.ts';
import type { HostTensor } from '../compiler/ir/tensor-data.ts';
import { hostTensor, numel } from '../compiler/ir/tensor-data.ts';

export const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };

/**
 * Random bf16 in ±[2^-9, 2^-5) (no zeros, no denormals), tiled from one ~16 MiB block to keep generation fast.
 * The block's length is prime, so the rows of a [N, K] weight are distinct slices (with 2^23 a head's rows
 * repeated every 2048: exact ties in every argmax).
 */
export function randomBf16(n: number, seed: number): Uint16Array {
  const block = new Uint16Array(Math.min(n, 8_388_593));
  let s = seed >>> 0 || 1;
  for (let i = 0; i < block.length; i++) {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    // sign | exponent 118..121 | 7 random mantissa bits
    block[i] = ((s >>> 31) << 15) | ((118 + ((s >>> 7) & 3)) << 7) | (s & 0x7f);
  }
  const out = new Uint16Array(n);
  for (let off = 0; off < n; off += block.length) out.set(block.subarray(0, Math.min(block.length, n - off)), off);
  return out;
}

/** One random bf16 tensor per param of `g` (every param must be bf16). */
export function randomWeights(g: Graph): Map<string, HostTensor> {
  const w = new Map<string, HostTensor>();
  let seed = 12345;
  for (const n of graphNodes(g)) {
    if (n.op !== 'param') continue;
    const shape = n.shape as number[];
    if (n.dtype !== 'bf16') throw new Error(`bench: param ${n} is not bf16`);
    w.set(n.argOf<string>('name'), hostTensor('bf16', shape, randomBf16(numel(shape), seed++)));
  }
  return w;
}
