// When the attention kernel splits a row's positions into chunks (flash-decoding across blocks), as a
// rule the scheduler and the code generator share (docs/targets.md, "On the GPU").
//
// One block per (row, KV head) is N·Hkv blocks: at decode (N = 1…64 rows) that is a handful of blocks,
// each of whose warps walks hundreds to thousands of positions one at a time. A warp's step (load K/V of
// one position, dot, shuffle reduce, exp, update) waits on its own loads, so the kernel is latency-bound:
// about 0.8 µs per step on an H200 (pycode-small's profile: ≈ 13 µs for 100 positions over 8 warps,
// launch included). Split, the grid is (row, KV head, chunk of P positions) and each warp takes ⌈P/W⌉
// steps; a second launch combines the chunks' partials.
//
// P: the smallest chunk (64) keeps a block's partial (rep·(D+2) f32, 2 KB at the 8B shape) small beside
// the K/V it reads (64 · 512 B = 32 KB per KV head at D 128, bf16): ≈ 6 % written and read back again by
// the combine, 13 % extra traffic; and it gives each of 8 warps 8 steps; P doubles while the chunk count would exceed MAX_CHUNKS, which bounds the scratch
// (rows·Hq·chunks·(D+2) f32: 68 MB at the 8B shape with 32 rows) and the blocks that exit at once past a
// short row's last position. Lmax 2048 → P 64 (32 chunks), 8192 → 64 (128), 32768 → 256 (128).
//
// The split runs only while one-block-per-(row, KV head) leaves the GPU short of blocks: N·Hkv below
// SPLIT_BELOW_BLOCKS (two blocks per SM of an H200's 132), and for no more rows than keep the scratch
// within MAX_SCRATCH_BYTES. With a symbolic N both launches are planned and
// gated on N (like the GEMV / tensor-core linear pair), so each CUDA graph bucket runs one of them.
import type { Node } from '../ir/node.ts';

export const MIN_CHUNK = 64;
export const MAX_CHUNKS = 128;
export const SPLIT_BELOW_BLOCKS = 264;
/** The scratch stays below this (fewer split rows when needed: an MQA model with many query heads). */
export const MAX_SCRATCH_BYTES = 256 * 2 ** 20;

/**
 * Up to this many rows (decode at B ≤ 4, one request's verify) the split uses the small chunk; above, a chunk
 * MANY_ROWS_FACTOR times longer. With 8 to 32 rows the small chunk is tens of thousands of blocks whose
 * setup, combine through shared memory and partial store outweigh their 4 two-position steps (H200 run 4:
 * attention_split 21.5 ms a step at B = 8, q = 4, 8k); the long chunk gives each warp 16 steps.
 */
export const FEW_ROWS = 4;
export const MANY_ROWS_FACTOR = 4;

export interface AttentionSplitOptions {
  /** false: always the one-launch kernel (tests of that kernel) */
  readonly split?: boolean;
  /** positions per chunk (tests use small ones); default: attentionChunk(Lmax) */
  readonly chunk?: number;
  /** split while N·Hkv < this (default SPLIT_BELOW_BLOCKS) */
  readonly belowBlocks?: number;
  /** the long chunk above FEW_ROWS rows is this many small chunks (default MANY_ROWS_FACTOR; 1: one split) */
  readonly manyFactor?: number;
}

/** The default chunk for a cache of `L` positions: MIN_CHUNK, doubled while the chunks exceed MAX_CHUNKS. */
export function attentionChunk(L: number): number {
  let p = MIN_CHUNK;
  while (Math.ceil(L / p) > MAX_CHUNKS) p *= 2;
  return p;
}

export interface AttentionSplit {
  /** positions per chunk */
  readonly chunk: number;
  /** ⌈Lmax / chunk⌉: the grid's chunk extent (static, so launches and graphs stay fixed) */
  readonly chunks: number;
  /** the largest N the split runs for: the scratch holds this many rows */
  readonly rows: number;
  /** N may exceed `rows` (symbolic N): the single-launch kernel is planned too, gated on N > rows */
  readonly gated: boolean;
}

/**
 * How attention node `n` ([N, Hq, D] over caches [S, Lmax, Hkv, D]) splits, or null (one launch, as before):
 * when Lmax fits one chunk, or N (static, or its maximum) never leaves the GPU short of blocks.
 */
export function attentionSplit(n: Node, maxDims: Readonly<Record<string, number>> | undefined, opts: AttentionSplitOptions = {}): AttentionSplit | null {
  if (opts.split === false) return null;
  const N = n.shape[0];
  const [, L, Hk] = n.src[1].shape as number[];
  const [, Hq, D] = n.shape as number[];
  if (typeof L !== 'number') return null;
  const chunk = opts.chunk ?? attentionChunk(L);
  if (!Number.isInteger(chunk) || chunk < 1) throw new RangeError(`attention split: chunk must be a positive integer, got ${chunk}`);
  const chunks = Math.ceil(L / chunk);
  if (chunks < 2) return null;
  // N·Hk < belowBlocks, and the scratch [rows, Hq, chunks, D + 2] f32 within MAX_SCRATCH_BYTES
  const most = Math.min(Math.ceil((opts.belowBlocks ?? SPLIT_BELOW_BLOCKS) / Hk) - 1, Math.floor(MAX_SCRATCH_BYTES / (Hq * chunks * (D + 2) * 4)));
  const nMax = typeof N === 'number' ? N : maxDims?.[N] ?? Infinity;
  if (most < 1 || (typeof N === 'number' && N > most)) return null;
  return { chunk, chunks, rows: Math.min(nMax, most), gated: nMax > most };
}

/**
 * The splits of attention node n, fewest rows first: none, one (attentionSplit), or — where the split would
 * also run above FEW_ROWS rows and the long chunk still spans two chunks — the small-chunk split for N ≤
 * FEW_ROWS and the long-chunk one for FEW_ROWS < N ≤ its rows (each gated on N; the one-launch kernel above).
 */
export function attentionSplits(n: Node, maxDims: Readonly<Record<string, number>> | undefined, opts: AttentionSplitOptions = {}): AttentionSplit[] {
  const small = attentionSplit(n, maxDims, opts);
  const f = opts.manyFactor ?? MANY_ROWS_FACTOR;
  if (!small || f <= 1 || small.rows <= FEW_ROWS) return small ? [small] : [];
  const many = attentionSplit(n, maxDims, { ...opts, chunk: small.chunk * f });
  if (!many || many.rows <= FEW_ROWS) return [small];
  return [{ ...small, rows: FEW_ROWS, gated: true }, many];
}
