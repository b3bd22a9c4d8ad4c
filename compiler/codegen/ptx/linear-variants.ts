// A linear kernel is planned as one or two launches: the GEMV (kernel-linear.ts, ≤ 4 rows: it streams
// the weight once and runs near the bandwidth floor at batch 1) and the tensor-core kernel
// (kernel-linear-tc.ts, ≥ 5 rows). With a symbolic batch both are planned and each launch's grid is
// gated on the row count, so the runtime launches exactly one of them for any batch (a gated grid that
// evaluates to 0 is skipped). A static batch plans only the one it needs. A linear fused with its
// argmax (or top-k) adds, after each variant, the reduce over that variant's per-block partials. A certified
// head (lm-head-certify) has four tensor-core launches instead of two (docs/certified-argmax.md).
import type { Schedule, ScheduledKernel } from '../../schedule/types.ts';
import type { GridExpr } from '../plan.ts';
import type { LaunchShape } from './kernel-common.ts';
import type { KernelEnv } from './kernel-env.ts';
import { emitArgmaxReduceKernel } from './kernel-argmax-reduce.ts';
import { emitCertifyReduceKernel } from './kernel-certify-reduce.ts';
import { emitTopkReduceKernel } from './kernel-topk-reduce.ts';
import { itemSize } from '../../ir/dtype.ts';
import { columnsPerWarp, emitLinearKernel, WARPS as GEMV_WARPS } from './kernel-linear.ts';
import { emitLinearTcKernel, TC_MIN_ROWS, tcApplies, tcShape } from './kernel-linear-tc.ts';
import { TC_WIDE_ROWS } from '../../schedule/tc-split.ts';
import { bf16Exact } from '../../passes/bf16-activations.ts';
import { emitTcSplitReduce } from './kernel-tc-split-reduce.ts';

/** The fewest rows a fused e4m3 head runs on the tensor cores (others: TC_MIN_ROWS). */
export const FP8_HEAD_TC_MIN_ROWS = 4;

/** Rows per pass of the extra fused-head kernel for small batches (see `small` in linearVariants). */
export const HEAD_PASS_ROWS = 32;

export interface Variant {
  readonly kind: string;
  readonly emit: (env: KernelEnv) => LaunchShape;
  /** the launch runs only for atLeast ≤ Π dims ≤ atMost */
  readonly when?: { readonly dims: readonly (string | number)[]; readonly atLeast?: number; readonly atMost?: number };
}

export function linearVariants(s: Schedule, k: ScheduledKernel, maxDims: Readonly<Record<string, number>>): Variant[] {
  const [x, w] = k.items[0].node.src;
  const N = w.shape[0];
  // with a fused argmax (or top-k) each variant is its partials kernel and the reduce over its block count
  const topk = k.partials?.k !== undefined;
  const withReduce = (v: Variant, blocks: number): Variant[] => (k.partials
    ? [v, topk
      ? { kind: 'topk_reduce', emit: (env) => emitTopkReduceKernel(env, s, k, blocks) }
      : { kind: 'argmax_reduce', emit: (env) => emitArgmaxReduceKernel(env, s, k, blocks) }]
    : [v]);
  const suffix = k.partials ? (topk ? '_topk' : '_argmax') : '';
  const gemv = withReduce({ kind: `linear${suffix}`, emit: (env) => emitLinearKernel(env, s, k) },
    typeof N === 'number' ? Math.ceil(N / (GEMV_WARPS * columnsPerWarp(N, itemSize(w.dtype)))) : 0);
  if (!tcApplies(k)) return gemv;
  const { warps, tiles } = tcShape(N);
  const tcBlocks = typeof N === 'number' ? Math.ceil(N / (warps * 16 * tiles)) : 0;
  const cert = k.partials?.certified;
  // the certified head (docs/certified-argmax.md): the one-term kernel keeping C + 1 pairs per block, the
  // certify reduce, then the three-term kernel and its reduce, both returning at once where no row failed
  const tc: Variant[] = cert ? [
    { kind: 'linear_tc_cert', emit: (env) => emitLinearTcKernel(env, s, { ...k, partials: { ...k.partials!, k: cert.candidates + 1 } }, { terms: 1 }) },
    { kind: 'cert_reduce', emit: (env) => emitCertifyReduceKernel(env, s, k, tcBlocks) },
    { kind: 'linear_tc_argmax', emit: (env) => emitLinearTcKernel(env, s, k, { gate: cert.fail }) },
    { kind: 'argmax_reduce', emit: (env) => emitArgmaxReduceKernel(env, s, k, tcBlocks, cert.fail) },
  ] : withReduce({ kind: `linear_tc${suffix}`, emit: (env) => emitLinearTcKernel(env, s, k) }, tcBlocks);
  const mDims = x.shape.slice(0, -1);
  const most = mDims.reduce<number>((a, d) => a * (typeof d === 'number' ? d : maxDims[d] ?? Infinity), 1);
  // a fused e4m3 head takes the tensor cores from FP8_HEAD_TC_MIN_ROWS rows: at 4 rows its GEMV took 1.17 ms a
  // proposal (8B LSTM, fp8 head) against 0.94 at 8 rows on the tensor cores (0.67 with bf16 activations; run 10),
  // and the tensor-core kernel pads a pass to 8 rows anyway, so 4 rows cost what 8 do there
  const tcMin = k.partials && !cert && w.dtype === 'fp8e4m3' ? FP8_HEAD_TC_MIN_ROWS : TC_MIN_ROWS;
  // a fused head sized for more than HEAD_PASS_ROWS rows also gets the HEAD_PASS_ROWS-row kernel for batches up to
  // that: at 64 rows per pass ptxas needs 150-158 registers (one block of 8 warps per SM), at 32 118-126 (two),
  // and the 8B LSTM head at B = 32 took 0.445 ms in the 64-row kernel against 0.264 in the 32-row one (bf16
  // activations; run 9, bench/NOTES.md). The reduce after it is shared: the partials do not depend on the pass.
  const small: Variant | null = k.partials && !cert && most > HEAD_PASS_ROWS && mDims.some((d) => typeof d !== 'number')
    ? { kind: `linear_tc${suffix}`, emit: (env) => emitLinearTcKernel(env, s, k, { maxRows: HEAD_PASS_ROWS }) } : null;
  // above HEAD_PASS_ROWS, a one-term head (x already bf16: bf16-activations) takes one column tile per warp
  // instead of two: half the accumulators, 107-110 registers at the 8B head (two blocks per SM) against 138-150,
  // twice the blocks, and its own reduce over them (three-term heads stay at 131+ registers either way)
  const oneTile = small && bf16Exact(x) && tiles === 2 && typeof N === 'number';
  const big: Variant[] = oneTile
    ? withReduce({ kind: `linear_tc${suffix}`, emit: (env) => emitLinearTcKernel(env, s, k, { tiles: 1 }) }, Math.ceil(N / (warps * 16)))
    : tc.slice(0, 1);
  // split along K (tc-split.ts) for TC_MIN_ROWS … rows rows, the unsplit kernel above
  const sp = k.tcSplit;
  const split: Variant[] = sp ? [
    { kind: 'linear_tc_split', emit: (env) => emitLinearTcKernel(env, s, k, { split: true }) },
    { kind: 'linear_tc_reduce', emit: (env) => emitTcSplitReduce(env, s, k) },
  ] : [];
  // from TC_WIDE_ROWS rows (a prefill) the unsplit kernel takes the wider block (tcShapeManyRows)
  const wide: Variant[] = k.partials ? tc : [{ kind: 'linear_tc', emit: (env) => emitLinearTcKernel(env, s, k, { manyRows: true }) }];
  if (mDims.every((d) => typeof d === 'number')) return most < tcMin ? gemv : sp && most <= sp.rows ? split : most >= TC_WIDE_ROWS ? wide : tc;
  if (most < tcMin) return gemv;
  const many = (vs: Variant[], atLeast: number, atMost?: number): Variant[] => vs.map((v) => ({ ...v, when: { dims: mDims, atLeast, ...(atMost === undefined ? {} : { atMost }) } }));
  /** the unsplit kernel from `from` rows: the usual block, then the wide one from TC_WIDE_ROWS */
  const unsplit = (from: number): Variant[] => (small && from <= HEAD_PASS_ROWS
    ? (oneTile ? [...many([small, ...tc.slice(1)], from, HEAD_PASS_ROWS), ...many(big, HEAD_PASS_ROWS + 1)]
      : [...many([small], from, HEAD_PASS_ROWS), ...many(big, HEAD_PASS_ROWS + 1), ...many(tc.slice(1), from)])
    : k.partials || most < TC_WIDE_ROWS ? many(tc, from)
    : from >= TC_WIDE_ROWS ? many(wide, from) : [...many(tc, from, TC_WIDE_ROWS - 1), ...many(wide, TC_WIDE_ROWS)]);
  return [
    ...gemv.map((v) => ({ ...v, when: { dims: mDims, atMost: tcMin - 1 } })),
    ...(sp ? [...many(split, tcMin, sp.rows), ...(most > sp.rows ? unsplit(sp.rows + 1) : [])] : unsplit(tcMin)),
  ];
}

/** Grid x of a launch gated by `when`. */
export function gated(g: GridExpr, when: Variant['when']): GridExpr {
  if (!when) return g;
  const base = typeof g === 'number' ? { ceilDiv: [[g], 1] as const } : g;
  return { ceilDiv: base.ceilDiv, when };
}
