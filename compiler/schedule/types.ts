// What the scheduler hands codegen: kernels in launch order, each a list of items (nodes it
// computes) over one iteration space, and the buffers that carry values between kernels.
import type { DType } from '../ir/dtype.ts';
import type { Graph } from '../ir/graph.ts';
import type { Node } from '../ir/node.ts';
import type { Shape } from '../ir/shape.ts';
import type { BufferKind, PlanDerived, PlanState } from '../codegen/plan.ts';

/**
 * map: one thread per element of `shape`; row: one block per row of `shape` (every coordinate but
 * `axis`), threads striding along `axis`; linear / matmul: the contraction in `items[0]`; scatter: one
 * thread per element of the new rows [N, Hkv, D] of its kv_write items, each stored into its cache's
 * (state) buffer at [slot, position]; attention: the attention node in `items[0]` (kernel-attention.ts).
 */
export type KernelKind = 'map' | 'row' | 'linear' | 'matmul' | 'scatter' | 'attention' | 'scatter_add';

export interface Item {
  readonly node: Node;
  /** the buffer this item writes, or null when its value stays inside the kernel (row statistics) */
  store: string | null;
  /** byte offset of the item's values in `store` (a GEMM writing its rows of a concat in place); 0 if absent */
  storeAt?: number;
}

/** An attention split over positions (compiler/schedule/attention-split.ts) with its partials' scratch. */
export interface SplitKv { readonly chunk: number; readonly chunks: number; readonly rows: number; readonly gated: boolean; readonly scratch: string }

export interface ScheduledKernel {
  readonly index: number;
  readonly kind: KernelKind;
  readonly shape: Shape;
  /** row kernels: the axis each block reduces along; null otherwise */
  readonly axis: number | null;
  readonly items: Item[];
  /**
   * linear kernels fused with the argmax of their output along N (items: the linear, unstored, the scale
   * mul if any, unstored, then the argmax): each block writes its (max, index) partial per row into
   * `values`/`indices` ([rows, stride], stride ≥ the block count of every variant) and a reduce launch
   * picks the winner per row. `scale`: an f32[N] buffer each column's sum is multiplied by first.
   * `k` (a fused top-k, items then end with its topk_values and/or topk_indices): each block writes its first
   * k pairs per row ([rows, stride·k]) and the reduce picks the row's first k.
   */
  /**
   * linear kernels whose x operand is not a buffer (docs/fusion.md): `x` (items[0]'s first operand) is
   * evaluated in the x load from what it is made of, and each rms_norm of `norms` (homed here, never
   * stored) has its row statistics computed by the kernel first. A linear kernel with a second item stores
   * that elementwise user of the linear (the epilogue) instead of the linear.
   */
  readonly operand?: { readonly x: Node; readonly norms: readonly Node[] };
  readonly partials?: {
    readonly values: string; readonly indices: string; readonly stride: number; readonly scale?: string; readonly k?: number;
    /**
     * the certified head (lm-head-certify, docs/certified-argmax.md; an argmax, no k): the partials hold
     * `candidates` + 1 pairs per block and row ([rows, stride·(candidates + 1)]), `fail` is an i32 per row
     * (1: the certificate failed, the fallback computes the row), `certnorm` the f32[1] param Ŵ.
     */
    readonly certified?: { readonly candidates: number; readonly fail: string; readonly certnorm: string };
  };
  /**
   * A tiled GEMM split along K (gemm-shape.ts gemmSlices): each of `slices` block groups sums its k range
   * into `scratch` (f32 [slices, M, N]) and a reduce launch adds the slices in ascending order.
   */
  readonly splitK?: { readonly slices: number; readonly scratch: string };
  /**
   * A tensor-core linear split along K at ≤ `rows` rows (tc-split.ts): block (column block, slice) sums its
   * k range into `scratch` (f32 [slices, rows, N]) and a reduce launch adds the slices in ascending order and
   * stores the linear (or its fused epilogue). Above `rows` rows the unsplit kernel runs.
   */
  readonly tcSplit?: { readonly slices: number; readonly rows: number; readonly scratch: string };
  /**
   * Attention split over positions (attention-split.ts): blocks (row, KV head, chunk of `chunk` positions)
   * write each query head's partial (accumulator[D], running max, sum) into `scratch` (f32 [rows, Hq,
   * chunks, D + 2]) and a combine launch merges a row's chunks in ascending order. `gated`: the one-launch
   * kernel is planned too, for N > rows.
   */
  readonly splitKv?: SplitKv;
  /**
   * The long-chunk split for rows above splitKv.rows (attention-split.ts attentionSplits): the same form with
   * its own chunk and scratch, gated on splitKv.rows < N ≤ splitKvMany.rows (the one-launch kernel above if gated).
   */
  readonly splitKvMany?: SplitKv;
}

export interface ScheduledBuffer {
  readonly id: string;
  readonly kind: BufferKind;
  readonly dtype: DType;
  readonly shape: Shape;
  /** input/param/output name */
  readonly name?: string;
}

export interface Schedule {
  readonly graph: Graph;
  readonly kernels: readonly ScheduledKernel[];
  /** every buffer, in plan order: inputs, params, outputs, temps */
  readonly buffers: readonly ScheduledBuffer[];
  /** the buffer holding each materialized node (leaves and stored items) */
  readonly bufferOf: ReadonlyMap<Node, string>;
  /** the kernel computing each non-leaf materialized node */
  readonly home: ReadonlyMap<Node, ScheduledKernel>;
  /** nodes computed inline wherever they are used */
  readonly inlined: ReadonlySet<Node>;
  readonly inputs: readonly string[];
  readonly outputs: readonly { readonly name: string; readonly buffer: string }[];
  /** donated inputs updated in place by kv_writes (their buffers are kind 'state') */
  readonly state: readonly PlanState[];
  /** params made from other params at upload (the certified head's Ŵ), by the pass's derivation */
  readonly derived: readonly PlanDerived[];
}

export const isLeaf = (n: Node): boolean => n.op === 'input' || n.op === 'param';
export const isContraction = (n: Node): boolean => n.op === 'linear' || n.op === 'matmul';
/** Reductions whose result is a per-row value (shape without the axis) or k values per row. */
export const isRowReduce = (n: Node): boolean =>
  n.op === 'sum' || n.op === 'reduce_max' || n.op === 'argmax' || n.op === 'topk_values' || n.op === 'topk_indices';
/** Row ops whose result has the operand's shape: each element is a function of itself and row statistics. */
export const isRowMap = (n: Node): boolean => n.op === 'softmax' || n.op === 'rms_norm' || n.op === 'layer_norm';
export const isTopk = (n: Node): boolean => n.op === 'topk_values' || n.op === 'topk_indices';

/** The axis a reduce/row node reduces along (row ops and topk: the last). */
export function reduceAxis(n: Node): number {
  const x = n.src[0];
  return isRowMap(n) || isTopk(n) ? x.shape.length - 1 : n.argOf<number>('axis');
}

/** Strip reshapes: a reshape of a contiguous buffer is the same memory. */
export function viewBase(n: Node): Node {
  let b = n;
  while (b.op === 'reshape') b = b.src[0];
  return b;
}
