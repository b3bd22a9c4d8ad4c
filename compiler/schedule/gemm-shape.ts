// Which contractions the tiled GEMM takes (compiler/codegen/ptx/kernel-gemm.ts), as a rule on the node, so
// the scheduler and the code generator agree: one f32 matmul or many-row linear with static dims,
// K % 16 = 0 and N % 4 = 0 (whole 16-byte loads). A matmul whose first operand is a 2-D transpose of a
// stored [K, M] tensor (M % 4 = 0) reads that tensor in place (aT): the scheduler then stores the
// transpose's source, not the transpose (a dlogitsᵀ of 8096 × 4096 f32 is 132 MB written and read back).
import type { Node } from '../ir/node.ts';
import { viewBase } from './types.ts';

export const GEMM_BK = 16;
/** the output tile of one block (rows × columns) */
export const GEMM_BM = 128;
export const GEMM_BN = 64;
/** A linear takes the tiled GEMM from this many rows (fewer stay on the GEMV / tensor-core kernels). */
export const GEMM_MIN_LINEAR_ROWS = 256;

export interface GemmShape {
  readonly M: number;
  readonly N: number;
  readonly K: number;
  /** B is stored [N, K] (linear: wᵀ) */
  readonly bT: boolean;
  /** A is read from the transpose's source, stored [K, M] */
  readonly aT: boolean;
}

const isTranspose2d = (x: Node): boolean => x.op === 'permute' && x.shape.length === 2 && JSON.stringify(x.arg?.perm) === '[1,0]';

export function gemmShapeOf(n: Node): GemmShape | null {
  if ((n.op !== 'matmul' && n.op !== 'linear') || n.src.length !== 2) return null;
  const [a, w] = n.src;
  if (a.dtype !== 'f32' || w.dtype !== 'f32' || n.dtype !== 'f32') return null;
  if (![...n.shape, ...a.shape, ...w.shape].every((d) => typeof d === 'number')) return null;
  const K = a.shape[a.shape.length - 1] as number, N = n.shape[n.shape.length - 1] as number;
  const M = (n.shape as number[]).slice(0, -1).reduce((x, y) => x * y, 1);
  if (K % GEMM_BK !== 0 || N % 4 !== 0 || M < 1) return null;
  if (n.op === 'linear' && M < GEMM_MIN_LINEAR_ROWS) return null;
  if (n.op === 'matmul' && M * N < 2048) return null;
  const aT = n.op === 'matmul' && isTranspose2d(a) && a.src[0].dtype === 'f32' && M % 4 === 0;
  return { M, N, K, bT: n.op === 'linear', aT };
}

/** What a contraction's operand s is read from: the transpose's source for an aT GEMM, else s. */
export function gemmOperand(n: Node, s: Node): Node {
  return s === n.src[0] && gemmShapeOf(n)?.aT ? s.src[0] : s;
}

/**
 * The stored tensor a GEMM operand s of n is read from, and the element offset into it: the transpose's
 * source for aT; a row range of a 2-D tensor (slice along axis 0: contiguous rows, as the chunked cross
 * entropy's w_c = w[start:end]) read in place at start × columns; else s (reshapes stripped).
 */
export function gemmView(n: Node, s: Node): { readonly node: Node; readonly offset: number } {
  const o = gemmOperand(n, s);
  if (o === s && s.op === 'slice' && s.shape.length === 2 && s.arg?.axis === 0 && typeof s.shape[1] === 'number' && gemmShapeOf(n)) {
    return { node: viewBase(s.src[0]), offset: (s.arg.start as number) * s.shape[1] };
  }
  return { node: viewBase(o), offset: 0 };
}

/** k steps (of GEMM_BK) a K slice keeps at least, so a slice's loop still hides its loads */
export const GEMM_MIN_SLICE_STEPS = 16;
/**
 * Blocks a split GEMM aims for: one wave on an H200 (132 SMs × the two 256-thread blocks per SM that the
 * kernel's ~100 registers per thread allow). More slices than that add waves, scratch traffic and reduce work.
 */
export const GEMM_TARGET_BLOCKS = 264;

/**
 * How many K slices a GEMM of this shape runs as (1: no split). A contraction with few output tiles and a
 * long K (a weight gradient reducing over 8096 rows into a [1024, 256] matrix: 32 tiles, 506 k steps)
 * would occupy a quarter of the SMs, each block walking all of K; split, each slice's blocks take a range
 * of k steps and a reduce launch sums the slices. Slices are sized so none is empty.
 */
export function gemmSlices(g: GemmShape, tileM: number, tileN: number): number {
  const tiles = Math.ceil(g.M / tileM) * Math.ceil(g.N / tileN), steps = g.K / GEMM_BK;
  const want = Math.min(Math.floor(GEMM_TARGET_BLOCKS / tiles), Math.floor(steps / GEMM_MIN_SLICE_STEPS));
  // slice offsets are 32-bit byte immediates
  if (want < 2 || g.M * g.N * 4 * want >= 2 ** 31) return 1;
  return Math.ceil(steps / Math.ceil(steps / want));
}
