// Batched linear on tensor cores: out[m, n] = Σ_k x[m, k]·w[n, k] for M > 4 rows, with
// mma.sync.m16n8k16 (bf16 in, f32 accumulate). The weight is the mma's A operand (16 columns n × 16 k,
// row-major: w's own layout) and x the B operand (16 k × 8 rows m), so each weight element is loaded
// once per pass and used for every row (up to 64 rows per pass; past that, another pass).
//
// bf16 weights go straight from global memory into A fragments, no shared memory and no conversion: lane
// (g, t) loads 16 bytes (8 bf16) of column g and of column g+8 at k = 8t .. 8t+7 of a 32-wide chunk. The
// mma's k order is free as long as A and B agree, so step j of the chunk maps logical k (2t, 2t+1) to
// physical 8t+4j+(0, 1) and (2t+8, 2t+9) to 8t+4j+(2, 3): the A registers are the loaded words 2j and
// 2j+1 themselves. B is then the matching 16 bytes of x, from an x tile that the block stages in shared
// memory (double-buffered: one bar.sync per 64-wide k step; 16-byte chunks XOR-swizzled by row parity so
// the reads of 8 lanes hit distinct banks).
//
// Numerics: bf16 weights are exact; x (f32) is staged as TERMS bf16 values hi + mid + lo (each the bf16
// rounding of what the previous left, a difference that is exact in f32), so x is carried to ≤ 2^-27
// relative with 3 terms (f32 itself is 2^-24) and every term is multiplied exactly on the tensor core:
// the result matches the GEMV path's f32 FMAs to f32 accumulation error, in a different (fixed) order.
// One bf16 term alone would round x to 2^-9 relative, tf32 to 2^-11.
//
// fp8 (e4m3) weights: a 16-byte load then holds 16 k's, so lane (g, t) loads k = 16t .. 16t+15 of a
// 64-wide chunk (two chunks per 128-wide trip where the x tile fits in shared memory, else one) and step j of the chunk uses byte group 4j .. 4j+3 (word j): logical
// (2t, 2t+1) → physical 16t+4j+(0, 1), (2t+8, 2t+9) → 16t+4j+(2, 3); B is then x at 16t+4j .. 16t+4j+3,
// words 2j and 2j+1 of the 32 bytes (two 16-byte chunks 2t, 2t+1) of each staged term. Each word of 4
// e4m3 is widened to two bf16x2 words (widenE4m3), exactly, once per trip (not per batch tile).
import type { Schedule, ScheduledKernel } from '../../schedule/types.ts';
import { viewBase } from '../../schedule/types.ts';
import type { Node } from '../../ir/node.ts';
import type { LaunchShape } from './kernel-common.ts';
import { forLoop } from './kernel-common.ts';
import type { KernelEnv } from './kernel-env.ts';
import { argmaxPartials } from './argmax-partials.ts';
import { rowAddress } from './kernel-linear.ts';
import { LinearFusion } from './linear-fusion.ts';
import type { Ix } from './index-math.ts';

import { TC_MIN_ROWS, TC_PASS_ROWS, TC_WEIGHT_BYTES, tcColumnBlocks, tcShape, tcShapeManyRows } from '../../schedule/tc-split.ts';
import { bf16Exact } from '../../passes/bf16-activations.ts';

export { TC_MIN_ROWS, tcShape };
/** k per loop trip: two 32-wide chunks of bf16, so each lane has 4·C 16-byte weight loads in flight. */
const KC_BF16 = 64;
/** Static shared memory a block may declare (the x tile is double-buffered). */
const SHARED_BYTES = 48 * 1024;
/** Rows per weight pass: 8 batch tiles of 8. */
const MB = TC_PASS_ROWS;
/** bf16 terms x is split into (see Numerics); the certified head's fast pass takes 1 (TcOptions). */
export const TERMS = 3;
const DEFAULT_TERMS = TERMS;
const MMA = 'mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32';
const WEIGHT_BYTES = TC_WEIGHT_BYTES;

/** Whether the contraction fits this kernel: f32 x, bf16/e4m3 w, static K a whole number of 16-byte groups. */
export function tcApplies(k: ScheduledKernel): boolean {
  const [x, w] = k.items[0].node.src;
  const K = x.shape[x.shape.length - 1];
  const eb = WEIGHT_BYTES[w.dtype];
  return k.kind === 'linear' && x.dtype === 'f32' && eb !== undefined && typeof K === 'number' && K % (16 / eb) === 0;
}

/**
 * One word of 4 e4m3 (byte i = element i) as two bf16x2 words (elements 0, 1 and 2, 3; the lower
 * element in the low half). Exact: every e4m3 value (normal 2^-6 .. 448, subnormal multiples of 2^-9,
 * ±0, NaN) is an f16 and a bf16 (3 mantissa bits, exponents -9 .. 8), so e4m3 → f16 → f32 → bf16 rounds
 * nowhere; cvt.rn.f16x2.e4m3x2 puts the high byte in the high f16, cvt.rn.bf16x2.f32 d, a, b puts a in
 * the high half. (Pure bit tricks — shift the magnitude into bf16's fields and scale by 2^120 — map the
 * NaN code 0x7F to 480 and need a fix-up that costs as much as these cvts.)
 */
export function widenE4m3(b: KernelEnv['b'], w: string): string[] {
  const h = [b.reg('b16'), b.reg('b16')];
  b.ins('mov.b32', `{${h[0]}, ${h[1]}}`, w);
  return h.map((hh) => {
    const f16x2 = b.reg('u32'), lo = b.reg('b16'), hi = b.reg('b16'), f0 = b.reg('f32'), f1 = b.reg('f32'), d = b.reg('u32');
    b.ins('cvt.rn.f16x2.e4m3x2', f16x2, hh);
    b.ins('mov.b32', `{${lo}, ${hi}}`, f16x2);
    b.ins('cvt.f32.f16', f0, lo);
    b.ins('cvt.f32.f16', f1, hi);
    b.ins('cvt.rn.bf16x2.f32', d, f1, f0);
    return d;
  });
}

/**
 * Variants of the kernel (the certified head, docs/certified-argmax.md): `terms`, the bf16 terms x is split
 * into (TERMS = 3, the exact kernel; 1: the certified head's fast pass, x rounded once, RN); `gate`, an i32
 * per-row buffer: the kernel returns at once unless some row m < M has gate[m] ≠ 0 (the certified head's
 * fallback, which then computes every row); `manyRows`, a launch that only runs from TC_WIDE_ROWS rows
 * (tcShapeManyRows' wider block); `split`, the K-split form of k.tcSplit (tc-split.ts): grid
 * (column blocks, passes, slices) for ≤ tcSplit.rows rows, each block's sums stored into its scratch slice
 * (emitTcSplitReduce adds them), passes along grid y.
 *
 * Grids: a linear fused with its argmax (k.partials) runs one block per column block, looping over the
 * passes (its partials are per block); otherwise the passes are the grid's x (one pass per block, so a
 * prefill's 32 passes run in parallel) and the column blocks its y: blocks are launched x fastest, so the
 * passes of one column block run side by side and read the same weights, from L2 after the first.
 */
export interface TcOptions {
  readonly terms?: number; readonly gate?: string; readonly split?: boolean; readonly manyRows?: boolean;
  /** the most rows this launch is run for (gated below the plan's maximum): fewer batch tiles per pass */
  readonly maxRows?: number;
  /** column tiles per warp instead of tcShape's (16 columns each): fewer accumulators per thread */
  readonly tiles?: number;
}

/**
 * Every warp ORs gate[0 .. M) itself (lanes stride by 32, then a butterfly: no shared memory, no barrier) and
 * the whole block returns when it is 0: uniform, so before any bar.sync.
 */
export function emitGate(env: KernelEnv, gate: string, mOp: string): void {
  const b = env.b;
  const lane = b.reg('u32'), any = b.reg('u32');
  b.ins('and.b32', lane, env.special('%tid.x'), '31');
  b.ins('mov.u32', any, '0');
  const base = env.buffer(gate);
  forLoop(env, 'gate', lane, mOp, 32, (m) => {
    const a = b.reg('u64'), f = b.reg('u32');
    b.ins('mad.wide.u32', a, m, '4', base);
    b.ins('ld.global.u32', f, `[${a}]`);
    b.ins('or.b32', any, any, f);
  });
  for (const m of [16, 8, 4, 2, 1]) {
    const o = b.reg('u32');
    b.ins('shfl.sync.bfly.b32', o, any, String(m), '31', '-1');
    b.ins('or.b32', any, any, o);
  }
  const p = b.reg('pred');
  b.ins('setp.eq.u32', p, any, '0');
  b.insIf(p, false, 'ret');
}

/** ARCTICC_TC_PREFETCH=1: load the next k trip during this one's mmas (see passBody) */
export const tcPrefetch = (): boolean => process.env.ARCTICC_TC_PREFETCH === '1';

/** whether kernel k fuses a norm into its x load (its row statistic needs all of K) */
const fz0 = (k: ScheduledKernel): boolean => (k.operand?.norms.length ?? 0) > 0;

export function emitLinearTcKernel(env: KernelEnv, s: Schedule, k: ScheduledKernel, o: TcOptions = {}): LaunchShape {
  const b = env.b;
  const item = k.items[0];
  const [x, w] = item.node.src;
  // x rounded to bf16 by the graph itself (cast(cast(y, bf16), f32): a bf16-activation model) is one exact
  // term: hi = x, and mid = lo = 0 would add nothing
  const TERMS = o.terms ?? (bf16Exact(x) ? 1 : DEFAULT_TERMS);
  const K = x.shape[x.shape.length - 1] as number, N = w.shape[0];
  const mDims = x.shape.slice(0, -1);
  const ks = o.split ? k.tcSplit : undefined;
  // the most rows the launch takes (a split runs ≤ ks.rows rows)
  const maxM = Math.min(ks ? ks.rows : mDims.reduce<number>((a, d) => a * env.max(d), 1), o.maxRows ?? Infinity);
  const MT = Math.max(1, Math.min(MB / 8, Math.ceil(maxM / 8))); // batch tiles per pass
  const many = o.manyRows === true && !k.partials;
  const shape = many ? tcShapeManyRows(N) : tcShape(N);
  const warps = shape.warps, CT = o.tiles ?? shape.tiles;
  if (CT !== shape.tiles && (k.tcSplit && o.split || many)) throw new Error(`codegen: ${item.node}: a tile override is for the unsplit, narrow-block kernel only`);
  if (o.split && (!ks || k.partials || fz0(k) || typeof N !== 'number')) throw new Error(`codegen: ${item.node}: the K-split tensor-core form needs k.tcSplit, a static N and no norm or argmax fusion`);
  const mode: 'loop' | 'grid' | 'split' = ks ? 'split' : k.partials ? 'loop' : 'grid';
  const eb = WEIGHT_BYTES[w.dtype], kpl = 16 / eb; // weight bytes per element, k per 16-byte load
  // e4m3 k trips are 128 wide where the staged x tile fits (≤ 32 rows per pass), so a lane keeps as many
  // weight loads in flight as with bf16 (two 16-byte loads per column half); else 64 (one)
  // (and ≤ 32 rows per pass with one term too: at 64 rows the 128-wide trip spills under 128 registers)
  // (not in the K split: its slice bounds and block coordinates spilled the 128-register variant, and its
  // grid has the blocks to keep loads in flight anyway)
  const KC = eb === 1 && MT <= 4 && !ks && 2 * MT * 8 * TERMS * 128 * 2 <= SHARED_BYTES ? 128 : KC_BF16;
  const SC = KC / (4 * kpl), J = kpl / 4; // 16-byte loads per column half per trip; mma k-steps per load
  const threads = warps * 32, colsPerBlock = warps * 16 * CT;
  // staged x row: TERMS planes of KC bf16 (KC·2 bytes = KC/8 chunks of 16 bytes each)
  const plane = KC * 2, rowBytes = TERMS * plane;
  const bufBytes = MT * 8 * rowBytes;
  const xs = b.sharedArray('xs', 2 * bufBytes, 16);
  // without it ptxas held the 4-warp variant to 64 registers and spilled; every variant fits in 168
  // (≤ 154 used at 64 rows per pass, 115 at 32: still 2 blocks of 8 warps per SM there)
  // the 128-wide e4m3 trip (≤ 32 rows per pass) fits 128 without spills (125 used at V = 128256): 2 blocks of
  // 8 warps per SM, which 139 unbounded would not allow
  b.directives.push(KC === 128 ? '.maxnreg 128' : '.maxnreg 168');
  const wholeK = K % KC === 0;

  const tid = env.special('%tid.x');
  // x computed in its staging and/or an epilogue stored instead of the linear (docs/fusion.md)
  // (split: the epilogue is the reduce launch's; an elementwise x is still computed in the x load)
  const fz = k.operand || (!k.partials && !o.split && k.items.length > 1) ? new LinearFusion(env, s, k, !o.split) : null;
  const xBase = fz?.fusedX ? '' : env.buffer(s.bufferOf.get(viewBase(x))!);
  const wBase = env.buffer(s.bufferOf.get(viewBase(w))!);
  const oBase = k.partials || fz?.epilogue || o.split ? '' : env.buffer(item.store!);
  const nOp = env.dim(N), mOp = env.product(mDims);
  if (o.gate) emitGate(env, o.gate, mOp);
  const u32 = (op: string, ...a: string[]): string => { const r = b.reg('u32'); b.ins(op, r, ...a); return r; };
  /**
   * Byte offset of 16-byte chunk c of a staged row r (chunk index XOR 4 on odd rows for bf16, where the
   * 8 lanes of a phase read chunks t and t^4 of rows g = 0, 1; XOR 1 for fp8, where they read 2t(+1))
   */
  const swz = (r: string, c: string): string => {
    const par = u32('and.b32', r, '1');
    if (eb === 2) b.ins('shl.b32', par, par, '2');
    const cc = u32('xor.b32', c, par);
    const off = u32('mul.lo.u32', r, String(rowBytes));
    b.ins('mad.lo.u32', off, cc, '16', off);
    return off;
  };

  // the block's column block (and, split, its k slice: trips [slice·sliceTrips, +sliceTrips) of K)
  const colBlocks = tcColumnBlocks(N, many) ?? 0, trips = Math.ceil(K / KC);
  const sliceTrips = ks ? Math.ceil(trips / ks.slices) : trips;
  // (split: the slice is grid z, read where it is needed rather than held in a register through the loop)
  const colBlock = env.special(mode === 'grid' ? '%ctaid.y' : '%ctaid.x');
  const sliceReg = (): string => u32('mov.u32', '%ctaid.z');
  // per-thread constants
  const { g, t, warp, warpCol, wRow, fragOff, xsBase } = b.hoist(() => {
    const lane = u32('and.b32', tid, '31');
    const g = u32('shr.u32', lane, '2'), t = u32('and.b32', lane, '3');
    const warp = u32('shr.u32', tid, '5');
    const warpCol = u32('mul.lo.u32', warp, String(16 * CT));
    b.ins('mad.lo.u32', warpCol, colBlock, String(colsPerBlock), warpCol);
    const nLast = typeof N === 'number' ? String(N - 1) : u32('sub.s32', nOp, '1');
    // weight row (column n) addresses at this lane's 16 bytes; columns past N read column N-1, never stored
    const wRow = Array.from({ length: CT }, (_, c) => [0, 8].map((h) => {
      const n = u32('add.u32', warpCol, String(16 * c + h));
      b.ins('add.u32', n, n, g);
      b.ins('min.u32', n, n, nLast);
      const a = rowAddress(env, wBase, n, K, eb);
      const t16 = u32('shl.b32', t, '4');
      const r = b.reg('u64');
      b.ins('mad.wide.u32', r, t16, '1', a);
      return r;
    }));
    // B fragments: row g, chunks (4·sc + t)·kpl/8 .. +kpl/8 (rows 8·bt + g share g's parity, hence its swizzle)
    const fragOff = Array.from({ length: SC }, (_, sc) => Array.from({ length: kpl / 8 }, (_, i) => {
      const c = u32('mul.lo.u32', t, String(kpl / 8));
      b.ins('add.u32', c, c, String(sc * 4 * kpl / 8 + i));
      return swz(g, c);
    }));
    const xsBase = u32('mov.u32', xs);
    return { g, t, warp, warpCol, wRow, fragOff, xsBase };
  });

  // x staging: thread tid splits 8-element pieces tid, tid+T, ... of the [MT·8 rows × KC] tile
  const pieces = MT * 8 * (KC / 8);
  const perThread = Math.ceil(pieces / threads);
  const fill = Array.from({ length: perThread }, (_, i) => b.hoist(() => {
    const v = u32('add.u32', tid, String(i * threads));
    const r = u32('shr.u32', v, String(Math.log2(KC / 8))), c8 = u32('and.b32', v, String(KC / 8 - 1));
    const kOff = u32('shl.b32', c8, '3'); // k offset inside the trip
    const sOff = swz(r, c8);
    const gIdx = u32('mad.lo.u32', r, String(K), kOff); // element index of (row r, k offset) from the pass start
    const inTile = pieces % threads === 0 ? null : (() => { const p = b.reg('pred'); b.ins('setp.lt.u32', p, v, String(pieces)); return p; })();
    return { r, kOff, sOff, gIdx, inTile };
  }));
  /** hi/mid/lo bf16x2 words of the f32 pair (e0, e1), e0 in the low half. */
  const split = (e0: string, e1: string): string[] => {
    const words: string[] = [];
    let a = e0, c = e1;
    for (let p = 0; p < TERMS; p++) {
      const wd = u32('cvt.rn.bf16x2.f32', c, a);
      words.push(wd);
      if (p === TERMS - 1) break;
      const lo = u32('shl.b32', wd, '16'), hi = u32('and.b32', wd, '0xFFFF0000');
      const fl = b.reg('f32'), fh = b.reg('f32'), ra = b.reg('f32'), rc = b.reg('f32');
      b.ins('mov.b32', fl, lo);
      b.ins('mov.b32', fh, hi);
      b.ins('sub.rn.f32', ra, a, fl); // exact: the bits bf16 rounding dropped
      b.ins('sub.rn.f32', rc, c, fh);
      a = ra; c = rc;
    }
    return words;
  };

  const fuse = k.partials ? argmaxPartials(env, k.partials, warps, MT * 8, xs) : null;
  const buf = b.reg('u32'); // which half of xs this trip fills; keeps alternating across passes
  b.ins('mov.u32', buf, '0');
  const columnGrid = typeof N === 'number' ? Math.ceil(N / colsPerBlock) : { ceilDiv: [[N], colsPerBlock] as const };
  if (mode === 'loop') {
    forLoop(env, 'mpass', '0', mOp, MT * 8, (m0) => (fz ? fz.ex.scoped(() => passBody(m0)) : passBody(m0)));
    return { block: threads, grid: [columnGrid, 1, 1] };
  }
  // one pass per block: rows [8·MT·p, +8·MT) of pass p = ctaid.x (grid) or ctaid.y (split)
  const m0 = u32('mul.lo.u32', env.special(mode === 'grid' ? '%ctaid.x' : '%ctaid.y'), String(MT * 8));
  if (fz) fz.ex.scoped(() => passBody(m0)); else passBody(m0);
  if (mode === 'split') return { block: threads, grid: [colBlocks, { ceilDiv: [mDims, MT * 8] }, ks!.slices] };
  return { block: threads, grid: [{ ceilDiv: [mDims, MT * 8] }, columnGrid, 1] };

  function passBody(m0: string): void {
    // a fused x: each staged piece's row coordinates for this pass; with a norm, each piece's share of its
    // row's sum of squares of the norm's operand (summed across the threads of a row after the k loop)
    const fillRows = fz?.fusedX ? fill.map((f) => u32('add.u32', m0, f.r)) : [];
    const fillCs: Ix[][] = fillRows.map((r) => fz!.rowCoords(r));
    const ss = fz?.norm ? fill.map(() => { const f = b.reg('f32'); b.ins('mov.f32', f, '0f00000000'); return f; }) : [];
    const acc = Array.from({ length: CT }, () => Array.from({ length: MT }, () => [0, 1, 2, 3].map(() => {
      const f = b.reg('f32'); b.ins('mov.f32', f, '0f00000000'); return f;
    })));
    const passIdx = u32('mul.lo.u32', m0, String(K));
    // One-column-tile shapes (the projections): the per-tile skip branches cut the mmas into one basic block
    // per batch tile, so ptxas interleaves only that tile's dependent chains. With the branches gone (every
    // tile live) the [16384, 4096] linear at B = 32 ran 0.119 → 0.094 ms on the H200 (bench/NOTES.md, "Batch
    // 32: finding the limiter"); the two-tile head got slower (0.37 → 0.47: 128 registers) or stayed (e4m3).
    const allLive = CT === 1 && MT > 1 ? b.reg('pred') : null;
    if (allLive) {
      const lastTile = u32('add.u32', m0, String(8 * (MT - 1)));
      b.ins('setp.lt.u32', allLive, lastTile, mOp);
    }
    const kBegin = ks ? u32('mul.lo.u32', sliceReg(), String(sliceTrips * KC)) : '0';
    const kEnd = ks ? u32('min.u32', u32('add.u32', kBegin, String(sliceTrips * KC)), String(K)) : String(K);
    // Software pipelining: trip t's weights (and a plain x's f32 values) are loaded during trip t-1's mmas,
    // into registers of their own, so a block keeps two trips of loads in flight instead of waiting one
    // global round trip per trip (bench/NOTES.md, "K split and prefetch"). The first trip's loads are the
    // prologue; a trip past the slice loads nothing.
    // Only where the registers allow (ptxas -v at the 8B and fixture shapes): one bf16 term, one column tile,
    // no fused argmax. Opt-in (ARCTICC_TC_PREFETCH=1): on the H200 the 8B projections at 8–64 rows ran 3–8 %
    // slower with it (bench/NOTES.md, run 4), the K split already giving the grid its loads in flight.
    const prefetch = tcPrefetch() && TERMS === 1 && CT === 1 && !k.partials;
    const wNext = Array.from({ length: SC }, () => wRow.map((halves) => halves.map(() => [0, 1, 2, 3].map(() => b.reg('u32')))));
    const wCur = Array.from({ length: SC }, () => wRow.map((halves) => halves.map(() => [0, 1, 2, 3].map(() => b.reg('u32')))));
    /** this lane's weights of the trip at kb into dst (guard: only where it holds) */
    const loadWeights = (kb: string, dst: string[][][][], guard: string | null): void => {
      for (let sc = 0; sc < SC; sc++) wRow.forEach((halves, c) => halves.forEach((row, h) => {
        const ws = dst[sc][c][h];
        const a = b.reg('u64');
        b.ins('mad.wide.u32', a, kb, String(eb), row);
        const ld = ['ld.global.nc.L1::no_allocate.v4.u32', `{${ws.join(', ')}}`, `[${a}+${sc * 64}]`] as const;
        let p = guard;
        if (!wholeK) { // a 16-byte group lies wholly inside or outside K (K % kpl = 0): past K it is zeros
          const kk = u32('add.u32', kb, String(sc * 4 * kpl));
          p = b.reg('pred');
          b.ins('mad.lo.u32', kk, t, String(kpl), kk);
          b.ins('setp.lt.u32', p, kk, String(K));
          if (guard) b.ins('and.pred', p, p, guard);
          for (const r of ws) b.ins('mov.b32', r, '0');
        }
        if (p) b.insIf(p, false, ...ld); else b.ins(...ld);
      }));
    };
    // a plain x (a buffer) is prefetched as well: its 8 f32 per staged piece, loaded for the next trip
    const prefetchX = !fz?.fusedX;
    const xv = prefetchX ? fill.map(() => Array.from({ length: 8 }, () => b.reg('f32'))) : [];
    const loadX = (kb: string, guard: string | null): void => fill.forEach((f, fi) => {
      const v = xv[fi];
      const row = u32('add.u32', m0, f.r), kk = u32('add.u32', kb, f.kOff);
      const ok = b.reg('pred'), kOk = b.reg('pred');
      b.ins('setp.lt.u32', ok, row, mOp);
      if (!wholeK) { b.ins('setp.lt.u32', kOk, kk, String(K)); b.ins('and.pred', ok, ok, kOk); }
      if (f.inTile) b.ins('and.pred', ok, ok, f.inTile);
      if (guard) b.ins('and.pred', ok, ok, guard);
      for (const r of v) b.ins('mov.f32', r, '0f00000000');
      const idx = u32('add.u32', passIdx, f.gIdx);
      b.ins('add.u32', idx, idx, kb);
      const ga = b.reg('u64');
      b.ins('mad.wide.u32', ga, idx, '4', xBase);
      b.insIf(ok, false, 'ld.global.nc.v4.f32', `{${v.slice(0, 4).join(', ')}}`, `[${ga}]`);
      b.insIf(ok, false, 'ld.global.nc.v4.f32', `{${v.slice(4).join(', ')}}`, `[${ga}+16]`);
    });
    if (prefetch) {
      const any = b.reg('pred');
      b.ins('setp.lt.u32', any, kBegin, kEnd);
      loadWeights(kBegin, wCur, any);
      if (prefetchX) loadX(kBegin, any);
    }
    forLoop(env, 'k', kBegin, kEnd, KC, (kb) => {
      const loaded = wCur;
      if (!prefetch) { // 1. this trip's weights (SC chunks × CT tiles × 2 column halves × 16 bytes per lane) and x
        loadWeights(kb, wCur, null);
        if (prefetchX) loadX(kb, null);
      }
      // 2. stage x[m0 .. m0+8·MT, kb .. kb+KC) (zeros past M or K) into buffer `buf`, split into terms
      const sb = u32('mad.lo.u32', buf, String(bufBytes), xsBase);
      fill.forEach((f, fi) => {
        let v: string[];
        if (prefetchX) v = xv[fi];
        else { // x's expression at the 8 elements, where they are inside M and K
          const row = fillRows[fi], kk = u32('add.u32', kb, f.kOff);
          const ok = b.reg('pred'), kOk = b.reg('pred');
          b.ins('setp.lt.u32', ok, row, mOp);
          if (!wholeK) { b.ins('setp.lt.u32', kOk, kk, String(K)); b.ins('and.pred', ok, ok, kOk); }
          if (f.inTile) b.ins('and.pred', ok, ok, f.inTile);
          v = Array.from({ length: 8 }, () => { const r = b.reg('f32'); b.ins('mov.f32', r, '0f00000000'); return r; });
          const skip = b.newLabel('xfill');
          b.insIf(ok, true, 'bra', skip);
          fz!.ex.scoped(() => {
            fz!.xAt(fillCs[fi], kk, 0, 8).forEach((e, i) => b.ins('mov.f32', v[i], e));
            if (fz!.norm) fz!.normAt(fillCs[fi], kk, 0, 8).forEach((e) => b.ins('fma.rn.f32', ss[fi], e, e, ss[fi]));
          });
          b.label(skip);
        }
        const pairs = [0, 1, 2, 3].map((i) => split(v[2 * i], v[2 * i + 1]));
        const sa = u32('add.u32', sb, f.sOff);
        for (let p = 0; p < TERMS; p++) {
          const st = ['st.shared.v4.b32', `[${sa}+${p * plane}]`, `{${pairs.map((q) => q[p]).join(', ')}}`] as const;
          if (f.inTile) b.insIf(f.inTile, false, ...st); else b.ins(...st);
        }
      });
      if (prefetch) { // 1. the next trip's loads, in flight during this trip's mmas
        const kn = u32('add.u32', kb, String(KC)), more = b.reg('pred');
        b.ins('setp.lt.u32', more, kn, kEnd);
        loadWeights(kn, wNext, more);
        if (prefetchX) loadX(kn, more);
      }
      b.ins('bar.sync', '0');
      // 3. the mmas: every live batch tile against this warp's columns, per 32-wide chunk
      const fa = fragOff.map((offs) => offs.map((o) => u32('add.u32', sb, o)));
      // A words per chunk, tile and half (2·J each): the loaded bf16 words, or e4m3 widened here, after
      // the staging, so the loads stay in flight through it
      const mmas = (skip: boolean): void => { for (let sc = 0; sc < SC; sc++) {
        const words = eb === 2 ? loaded[sc] : loaded[sc].map((halves) => halves.map((ws) => ws.flatMap((wd) => widenE4m3(b, wd))));
        const tilesEnd = b.newLabel('tiles');
        for (let bt = 0; bt < MT; bt++) {
          if (bt > 0 && skip) { // batch tiles past M are skipped (uniform: M and m0 are the same for the block)
            const p = b.reg('pred'), first = u32('add.u32', m0, String(8 * bt));
            b.ins('setp.ge.u32', p, first, mOp);
            b.insIf(p, false, 'bra', tilesEnd);
          }
          const xv = Array.from({ length: TERMS }, (_, p) => fa[sc].flatMap((base) => {
            const r = [0, 1, 2, 3].map(() => b.reg('u32'));
            b.ins('ld.shared.v4.b32', `{${r.join(', ')}}`, `[${base}+${8 * bt * rowBytes + p * plane}]`);
            return r;
          }));
          for (let j = 0; j < J; j++) for (let c = 0; c < CT; c++) {
            const [row, row8] = words[c];
            const d = `{${acc[c][bt].join(', ')}}`, a = `{${row[2 * j]}, ${row8[2 * j]}, ${row[2 * j + 1]}, ${row8[2 * j + 1]}}`;
            for (let p = TERMS - 1; p >= 0; p--) b.ins(MMA, d, a, `{${xv[p][2 * j]}, ${xv[p][2 * j + 1]}}`, d);
          }
        }
        b.label(tilesEnd);
      } };
      if (allLive) { // passes whose tiles are all live take a copy of the mmas without the skip branches
        const partial = b.newLabel('partial'), done = b.newLabel('mmas');
        b.insIf(allLive, true, 'bra', partial);
        mmas(false);
        b.ins('bra', done);
        b.label(partial);
        mmas(true);
        b.label(done);
      } else mmas(true);
      b.ins('xor.b32', buf, buf, '1');
      if (prefetch) wNext.forEach((bySc, sc) => bySc.forEach((halves, c) => halves.forEach((ws, h) => ws.forEach((r, i) => b.ins('mov.b32', wCur[sc][c][h][i], r)))));
    });
    // 4. store: d0/d1 are (column g, rows 2t, 2t+1), d2/d3 the same rows of column g+8
    if (fuse) { // or, fused with the argmax, the block's best column per row (slots reuse xs)
      b.ins('bar.sync', '0'); // every warp is done reading xs
      // this lane's columns (tile c, half h: warpCol + 16c + 8h + g) and, for a scaled head, their scales
      // (read here, per pass, rather than held in registers through the k loop)
      const nLast = typeof N === 'number' ? String(N - 1) : u32('sub.s32', nOp, '1');
      const epiCols = Array.from({ length: CT }, (_, c) => [0, 8].map((h) => {
        const n = u32('add.u32', warpCol, String(16 * c + h));
        b.ins('add.u32', n, n, g);
        return n;
      }));
      const epiScales = epiCols.map((halves) => halves.map((n) => fuse.scaleOf(n, nLast)));
      const isG0 = b.reg('pred');
      b.ins('setp.eq.u32', isG0, g, '0');
      const cands = (bt: number, par: number) => acc.flatMap((byTile, c) => [0, 1].map((h) => ({ v: fuse.apply(byTile[bt][2 * h + par], epiScales[c][h]), i: epiCols[c][h] })));
      for (let round = 0; round < fuse.rounds; round++) { // top-k: round r takes what follows round r-1's winner
        acc[0].forEach((_, bt) => [0, 1].forEach((par) => {
          // lanes 4g + t hold rows 8·bt + 2t + par: fold the 8 lanes g of each t
          if (round === 0) {
            const best = fuse.shuffle(fuse.fold(cands(bt, par), nOp), [4, 8, 16]);
            const slot = u32('mad.lo.u32', t, '2', String(8 * bt + par));
            fuse.stage(warp, slot, best, isG0);
            return;
          }
          const slot = u32('mad.lo.u32', t, '2', String(8 * bt + par));
          const best = fuse.shuffle(fuse.fold(cands(bt, par), nOp, fuse.prev(slot)), [4, 8, 16]);
          fuse.stage(warp, slot, best, isG0);
        }));
        fuse.finish(tid, m0, mOp, MT * 8, env.special('%ctaid.x'), round);
      }
      return;
    }
    // the norm's scale per row: the KC/8 consecutive threads that staged a row sum their shares, the first
    // leaves inv in the half of xs the last trip read (every warp done with it: bar.sync; the next pass's
    // first trip fills the other half) and each lane reads back its fragment rows 8·bt + 2t (+1)
    const rowInv: string[][] = [];
    if (fz?.norm) {
      const group = KC / 8;
      for (const a of ss) for (let o = group / 2; o >= 1; o >>= 1) {
        const y = b.reg('f32');
        b.ins('shfl.sync.bfly.b32', y, a, String(o), '31', '-1');
        b.ins('add.f32', a, a, y);
      }
      const invs = ss.map((a) => fz.inv(a));
      b.ins('bar.sync', '0');
      const other = u32('xor.b32', buf, '1');
      const sb = u32('mad.lo.u32', other, String(bufBytes), xsBase);
      const lead = b.reg('pred'), first = u32('and.b32', tid, String(group - 1));
      b.ins('setp.eq.u32', lead, first, '0');
      fill.forEach((f, i) => {
        let p = lead;
        if (f.inTile) { p = b.reg('pred'); b.ins('and.pred', p, lead, f.inTile); }
        const a = u32('mad.lo.u32', f.r, '4', sb);
        b.insIf(p, false, 'st.shared.f32', `[${a}]`, invs[i]);
      });
      b.ins('bar.sync', '0');
      for (let bt = 0; bt < MT; bt++) {
        const slot = u32('mad.lo.u32', t, '2', String(8 * bt));
        const a = u32('mad.lo.u32', slot, '4', sb);
        rowInv.push([0, 1].map((par) => { const v = b.reg('f32'); b.ins('ld.shared.f32', v, `[${a}+${4 * par}]`); return v; }));
      }
    }
    acc.forEach((byTile, c) => byTile.forEach((d, bt) => {
      const n0 = u32('add.u32', warpCol, String(16 * c));
      b.ins('add.u32', n0, n0, g);
      const mr = u32('add.u32', m0, String(8 * bt));
      b.ins('mad.lo.u32', mr, t, '2', mr);
      d.forEach((sum, i) => {
        let v = sum;
        if (fz?.norm) { v = b.reg('f32'); b.ins('mul.rn.f32', v, sum, rowInv[bt][i % 2]); }
        const n = i < 2 ? n0 : u32('add.u32', n0, '8');
        const m = i % 2 === 0 ? mr : u32('add.u32', mr, '1');
        const pn = b.reg('pred'), pm = b.reg('pred');
        b.ins('setp.lt.u32', pn, n, nOp);
        b.ins('setp.lt.u32', pm, m, mOp);
        b.ins('and.pred', pn, pn, pm);
        const idx = u32('mad.lo.u32', m, nOp, n);
        if (fz?.epilogue) { fz.storeEpilogue(idx, fz.rowCoords(m), n, v, pn); return; } // only inside M and N
        const a = b.reg('u64');
        if (ks) { // scratch[slice, m, n]: [slices, rows, N]
          const si = u32('mad.lo.u32', sliceReg(), String(ks.rows * (N as number)), idx);
          b.ins('mad.wide.u32', a, si, '4', env.buffer(ks.scratch));
        } else b.ins('mad.wide.u32', a, idx, '4', oBase);
        b.insIf(pn, false, 'st.global.f32', `[${a}]`, v);
      });
    }));
  }
}
