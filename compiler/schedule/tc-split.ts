// The tensor-core linear's launch geometry (compiler/codegen/ptx/kernel-linear-tc.ts), as rules on the
// node so the scheduler (which allocates the split's scratch) and the code generator agree.
//
// A block owns warps·16·tiles weight columns and streams them once per pass of ≤ 64 rows. At the 8B
// projections that is few blocks: N = 4096 (o_proj, down_proj) is 64 blocks of 4 warps, 256 warps with
// ~2 KB of weight loads in flight each, ≈ 0.5 MB in the whole GPU, where the H200 needs ~3-4 MB in flight
// (≈ 4 TB/s × ~0.8 µs) to stream at its copy bandwidth: the down_proj ran at ~1/7 of its floor at B = 8.
// So at ≤ 256 rows a linear with fewer warps than TC_SPLIT_WARP_TILES is split along K: block (column
// block c, slice s, pass p along grid y) sums its k range into scratch[s] and a reduce launch adds the slices
// in ascending s and applies the fused epilogue (the residual add). Above 256 rows (a prefill) the passes
// alone fill the grid (its second dimension: every pass of a column block reads the same weights, from L2
// after the first), with no split.
import type { Dim } from '../ir/shape.ts';
import type { Node } from '../ir/node.ts';

/** Batches of at least this many rows take the tensor-core kernel; fewer stay on the GEMV. */
export const TC_MIN_ROWS = 5;
/** Rows per weight pass (8 batch tiles of 8). */
export const TC_PASS_ROWS = 64;
/** A linear splits along K at ≤ this many rows (decode and verify: B·q ≤ 256), its passes along grid y. */
export const TC_SPLIT_ROWS = 256;
/** From this many rows (a prefill) the unsplit kernel takes the wide [8,2] block (tcShapeManyRows). */
export const TC_WIDE_ROWS = 512;
/**
 * Warp column tiles (blocks × warps × tiles: each keeps ~2 KB of weight loads in flight) a split linear aims
 * for: 4 blocks of 4 warps per SM of a 132-SM H200, ≈ 4 MB in flight. Wider grids are not split.
 */
export const TC_SPLIT_WARP_TILES = 2112;
/** k a slice keeps at least (4 trips of the 64-wide bf16 loop), so its loop still overlaps loads. */
export const TC_MIN_SLICE_K = 256;
/**
 * Weights a split linear has at least: below, the reduce launch (~2 µs in a graph) costs more than the split
 * saves. The fixture's 256 × 768 down_proj (196608 weights, 4 column blocks) is above it: unsplit it took
 * 21.7 µs at 8 rows and 34 µs at 32 on the H200 (bench/results/profiles/target-fixture-decode-8-32-s24.txt),
 * its 4 blocks each staging the whole fused SiLU·up x. ARCTICC_TC_SPLIT_MIN_WEIGHTS overrides it (A/B timing).
 */
export const TC_SPLIT_MIN_WEIGHTS = 2 ** 17;
const minWeightsDefault = (): number => {
  const v = process.env.ARCTICC_TC_SPLIT_MIN_WEIGHTS;
  if (v === undefined) return TC_SPLIT_MIN_WEIGHTS;
  const n = Number(v);
  if (!(n > 0)) throw new RangeError(`ARCTICC_TC_SPLIT_MIN_WEIGHTS must be a positive number, got ${JSON.stringify(v)}`);
  return n;
};
/** Bytes per weight element the kernel takes: bf16 as is, e4m3 widened to bf16 in registers. */
export const TC_WEIGHT_BYTES: Readonly<Record<string, number>> = { bf16: 2, fp8e4m3: 1 };

/**
 * Warps per block and 16-column tiles per warp: the widest block (most x reuse: every block stages
 * all of x) that still leaves ≥ 2 blocks per SM of a 132-SM H200.
 */
export function tcShape(n: Dim): { warps: number; tiles: number } {
  const cols = typeof n === 'number' ? n : Infinity;
  for (const [warps, tiles] of [[8, 2], [8, 1]] as const) if (cols / (warps * 16 * tiles) >= 264) return { warps, tiles };
  return { warps: 4, tiles: 1 };
}

/**
 * The block shape of a launch that only runs from TC_WIDE_ROWS rows (a prefill): the widest,
 * [8,2] (256 columns), wherever N has that many — the grid is then passes × column blocks, plenty of blocks,
 * and each block's staged x rows serve 4× the columns (x and weight bytes per mma are what bound it there).
 */
export function tcShapeManyRows(n: Dim): { warps: number; tiles: number } {
  return typeof n === 'number' && n < 256 ? tcShape(n) : { warps: 8, tiles: 2 };
}

/** Column blocks of the tensor-core kernel for an N-column weight (null: N symbolic). */
export function tcColumnBlocks(n: Dim, manyRows = false): number | null {
  if (typeof n !== 'number') return null;
  const { warps, tiles } = manyRows ? tcShapeManyRows(n) : tcShape(n);
  return Math.ceil(n / (warps * 16 * tiles));
}

/**
 * K slices of linear n when it runs ≤ TC_SPLIT_ROWS rows on the tensor cores (1: no split): static N and K,
 * f32 x, bf16 / e4m3 weights (what the kernel takes), ≥ TC_SPLIT_MIN_WEIGHTS weights, and fewer warp
 * column tiles than TC_SPLIT_WARP_TILES.
 * `maxRows` is the most rows the linear ever runs (the product of its leading dims' bounds).
 */
export interface TcSplitOptions {
  /** weights a split linear has at least (default TC_SPLIT_MIN_WEIGHTS) */
  readonly minWeights?: number;
}

export function tcSlices(n: Node, maxRows: number, o: TcSplitOptions = {}): number {
  if (n.op !== 'linear' || n.src.length !== 2 || maxRows < TC_MIN_ROWS) return 1;
  const [x, w] = n.src;
  const K = x.shape[x.shape.length - 1], eb = TC_WEIGHT_BYTES[w.dtype];
  if (x.dtype !== 'f32' || eb === undefined || typeof K !== 'number' || K % (16 / eb) !== 0) return 1;
  const blocks = tcColumnBlocks(w.shape[0]);
  if (blocks === null || (w.shape[0] as number) * K < (o.minWeights ?? minWeightsDefault())) return 1;
  const { warps, tiles } = tcShape(w.shape[0]), have = blocks * warps * tiles;
  if (have >= TC_SPLIT_WARP_TILES) return 1;
  const s = Math.min(Math.ceil(TC_SPLIT_WARP_TILES / have), Math.floor(K / TC_MIN_SLICE_K));
  return s >= 2 ? s : 1;
}
