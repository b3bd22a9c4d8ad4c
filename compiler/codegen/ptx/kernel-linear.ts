// GEMV/linear kernel: out[m, n] = Σ_k x[m, k]·w[n, k] (w stored [N, K], PyTorch layout), f32
// accumulate. One warp owns C output columns and covers every row m, R rows at a time (then the
// leftover rows two, then one at a time): per step each lane issues one 16-byte weight load per column (so a weight
// row streams once per R rows, once in all at batch ≤ 4), then reads x for the R rows once and uses it
// for all C columns, which divides the x traffic (that otherwise rivals the weight bytes: every column
// re-reads x) by C. A butterfly shuffle sums each (row, column). 8 warps per block.
import { itemSize } from '../../ir/dtype.ts';
import type { FloatDType } from '../../ir/dtype.ts';
import type { Dim } from '../../ir/shape.ts';
import type { Schedule, ScheduledKernel } from '../../schedule/types.ts';
import { viewBase } from '../../schedule/types.ts';
import type { LaunchShape } from './kernel-common.ts';
import { forLoop, gridOf } from './kernel-common.ts';
import type { KernelEnv } from './kernel-env.ts';
import { emitLoad, f32Hex } from './legalize.ts';
import { argmaxPartials } from './argmax-partials.ts';
import { loadVector, loadWords, unpackWords } from './vector-load.ts';
import { LinearFusion } from './linear-fusion.ts';
import type { Ix } from './index-math.ts';

export const WARPS = 8;
const ROWS = 4;
/** shared memory for a block's staged fused x (rows × K f32) */
const STAGE_BYTES = 16384;

/** st.shared of `v` (1, 2 or 4 f32 registers) at byte address a + off. */
function storeShared(b: KernelEnv['b'], a: string, off: number, v: string[]): void {
  if (v.length === 1) b.ins('st.shared.f32', `[${a}+${off}]`, v[0]);
  else b.ins(`st.shared.v${v.length}.f32`, `[${a}+${off}]`, `{${v.join(', ')}}`);
}

/** The shared byte address of f32 element k of a staged row 0 at `base`. */
function sharedAt(b: KernelEnv['b'], base: string, k: string): string {
  const a = b.reg('u32');
  b.ins('mad.lo.u32', a, k, '4', base);
  return a;
}

/** `count` f32 (1, 2 or 4) from shared byte address a + off. */
function loadShared(b: KernelEnv['b'], a: string, off: number, count: number): string[] {
  const v = Array.from({ length: count }, () => b.reg('f32'));
  if (count === 1) b.ins('ld.shared.f32', v[0], `[${a}+${off}]`);
  else b.ins(`ld.shared.v${count}.f32`, `{${v.join(', ')}}`, `[${a}+${off}]`);
  return v;
}
/**
 * Columns per warp: as many as keep ≥ 4 blocks per SM busy on a 132-SM H200, and always 4 for e4m3 weights
 * (`weightBytes` 1): a 16-byte load is 16 of them, so one column per warp keeps too few bytes in flight (the
 * 8B fp8 target on the H200: B = 1 decode 4.74 → 3.64 ms with 4 columns in every projection, q = 4 11.3 → 7.0;
 * bf16 was slower at 1 row with 4 everywhere, 4.71 → 5.09). ARCTICC_GEMV_COLS=1|2|4 forces one value (a
 * diagnostic, bench/NOTES.md).
 */
export function columnsPerWarp(n: Dim, weightBytes = 2): number {
  const forced = process.env.ARCTICC_GEMV_COLS;
  if (forced === '1' || forced === '2' || forced === '4') return Number(forced);
  if (weightBytes === 1) return 4;
  if (typeof n !== 'number') return 1;
  return n >= 4 * WARPS * 132 * 4 ? 4 : n >= 2 * WARPS * 132 * 4 ? 2 : 1;
}

/** 64-bit address of row `row` (u32) of a [*, K] matrix with `bytes` per element. */
export function rowAddress(env: KernelEnv, base: string, row: string, k: Dim, bytes: number): string {
  const b = env.b;
  const a = b.reg('u64');
  if (typeof k === 'number') b.ins('mad.wide.u32', a, row, String(k * bytes), base);
  else { const t = b.reg('u32'); b.ins('mul.lo.u32', t, row, env.dim(k)); b.ins('mad.wide.u32', a, t, String(bytes), base); }
  return a;
}

const offset = (b: KernelEnv['b'], base: string, k: string, bytes: number, plus = 0): string => {
  const a = b.reg('u64');
  b.ins('mad.wide.u32', a, k, String(bytes), base);
  if (plus) b.ins('add.s64', a, a, String(plus * bytes));
  return a;
};

export function emitLinearKernel(env: KernelEnv, s: Schedule, k: ScheduledKernel): LaunchShape {
  const fuse = k.partials ? argmaxPartials(env, k.partials, WARPS) : null;
  const b = env.b;
  // the top-k rounds (k > 1) are unrolled: at V = 128256 with an fp8 head and k = 8 ptxas held the kernel to 80
  // registers and spilled 12 bytes; 96 assembles without spills (the argmax kernel, k = 1, is left as it was)
  if (fuse && fuse.rounds > 1) b.directives.push('.maxnreg 96');
  const item = k.items[0];
  const [x, w] = item.node.src;
  const xd = x.dtype as FloatDType, wd = w.dtype as FloatDType;
  const K = x.shape[x.shape.length - 1], N = w.shape[0];
  const mDims = x.shape.slice(0, -1);
  const ew = itemSize(wd), ex = itemSize(xd);
  const vec = typeof K === 'number' && K % (16 / ew) === 0 ? 16 / ew : 1;
  const sub = Math.min(4, vec); // elements of x per load (one 16-byte f32 load)
  const cols = columnsPerWarp(N, ew);
  const mStatic = mDims.every((d) => typeof d === 'number') ? (mDims as number[]).reduce((a, d) => a * d, 1) : undefined;
  const rows = mStatic === undefined ? ROWS : Math.max(1, Math.min(ROWS, mStatic));
  // a weight row read by a single pass is not worth keeping in L1
  const wld = mStatic !== undefined && mStatic <= rows ? 'ld.global.nc.L1::no_allocate' : 'ld.global.nc';

  const tid = env.special('%tid.x');
  const lane = env.hoisted('lane', () => { const r = b.reg('u32'); b.ins('and.b32', r, tid, '31'); return r; });
  const col0 = env.hoisted('col', () => {
    const wp = b.reg('u32'), r = b.reg('u32');
    b.ins('shr.u32', wp, tid, '5');
    b.ins('mad.lo.u32', r, env.special('%ctaid.x'), String(WARPS), wp);
    if (cols > 1) b.ins('mul.lo.u32', r, r, String(cols));
    return r;
  });
  // x computed in its load and/or an epilogue stored instead of the linear (docs/fusion.md)
  const fz = k.operand || (!fuse && k.items.length > 1) ? new LinearFusion(env, s, k) : null;
  const xBase = fz?.fusedX ? '' : env.buffer(s.bufferOf.get(viewBase(x))!);
  // e4m3 weights with an x computed in the load that is not a norm (16 x elements per weight load: the fp8
  // target's down_proj at the fixture shape, SiLU(gate·scale)·(up·scale)): with no register cap ptxas -arch=sm_90
  // chose 48 registers and spilled 16 bytes; any cap from 64 to 168 assembles it in 56 without spills. (The
  // norm-fused fp8 GEMVs are left uncapped: ptxas then fills a cap and spills.)
  if (ew === 1 && fz?.fusedX && !fz.norm && !b.directives.some((d) => d.startsWith('.maxnreg'))) b.directives.push('.maxnreg 96');
  // a fused x that is not a norm (the fixture's down_proj: SiLU(gate)·up) is recomputed by every warp, once per
  // column: at 4 rows and K = 768 that was 8.8 → 15.6 µs a launch, for the same weight bytes. Passes of 2+ rows
  // compute it once per block into shared memory instead (every thread a few k's), then every warp reads it
  // there; where the rows fit in STAGE_BYTES. 1-row passes (batch 1) are left as they were.
  const stageK = fz?.fusedX && !fz.norm && typeof K === 'number' && K * 4 * 2 <= STAGE_BYTES ? K : 0;
  const stageRows = stageK ? Math.min(rows, Math.floor(STAGE_BYTES / (stageK * 4))) : 0; // ≥ 2 where stageK > 0
  const staged = (nr: number): boolean => stageK > 0 && nr >= 2 && nr <= stageRows;
  // with a staged pass every warp stays for its barriers (past N it only reads column N-1 and stores nothing)
  const stayAll = fuse !== null || (stageK > 0 && rows >= 2);
  const wBase = env.buffer(s.bufferOf.get(viewBase(w))!);
  const oBase = fuse || fz?.epilogue ? '' : env.buffer(item.store!);
  const kOp = env.dim(K), nOp = env.dim(N), mOp = env.product(mDims);
  const done = b.newLabel('done');
  const p = b.reg('pred');
  // whole warps leave together: the shuffles below stay converged (with the argmax epilogue every warp
  // stays for its barriers; past N it only reads column N-1 and offers no candidates)
  if (!stayAll) { b.ins('setp.ge.u32', p, col0, nOp); b.insIf(p, false, 'bra', done); }
  const nLast = typeof N === 'number' ? String(N - 1) : env.hoisted('nlast', () => { const r = b.reg('u32'); b.ins('sub.s32', r, nOp, '1'); return r; });
  // columns past N (the last warp's tail) read column N-1 and are not stored
  const wRows = Array.from({ length: cols }, (_, c) => {
    let cc = col0;
    if (c > 0 || stayAll) { cc = b.reg('u32'); b.ins('add.u32', cc, col0, String(c)); b.ins('min.u32', cc, cc, nLast); }
    return rowAddress(env, wBase, cc, K, ew);
  });
  // a scaled head's column scales, read once (the warp's columns are the same for every row)
  const scales = fuse ? wRows.map((_, c) => {
    const cc = b.reg('u32');
    b.ins('add.u32', cc, col0, String(c));
    return fuse.scaleOf(cc, nLast);
  }) : [];
  const kStart = env.hoisted('kstart', () => { const r = b.reg('u32'); b.ins('mul.lo.u32', r, lane, String(vec)); return r; });

  /** Rows m0 .. m0+nr-1 (all valid) against this warp's columns. */
  const scoped = (f: () => void): void => (fz?.fusedX ? fz.ex.scoped(f) : f());
  const pass = (m0: string, nr: number): void => (fz ? fz.ex.scoped(() => passBody(m0, nr)) : passBody(m0, nr));
  const passBody = (m0: string, nr: number): void => {
    const mRegs: string[] = [];
    const xRows = Array.from({ length: nr }, (_, r) => {
      let mr = m0;
      if (r > 0) { mr = b.reg('u32'); b.ins('add.u32', mr, m0, String(r)); }
      mRegs.push(mr);
      return fz?.fusedX ? '' : rowAddress(env, xBase, mr, K, ex);
    });
    // a fused x: its row coordinates; with a norm, each row's sum of squares of the norm's operand (every
    // lane its own k's, summed across the warp with the accumulators)
    const rowCs: Ix[][] = fz?.fusedX ? mRegs.map((mr) => fz.rowCoords(mr)) : [];
    const ss = fz?.norm ? rowCs.map(() => { const f = b.reg('f32'); b.ins('mov.f32', f, f32Hex(0)); return f; }) : [];
    // staged: the block computes x[m0 .. m0+nr, 0 .. K) into xg (row-major f32), `sub` k's per thread and trip
    const xg = staged(nr) ? env.hoisted('xg', () => { const r = b.reg('u32'); b.ins('mov.u32', r, b.sharedArray('xg', stageRows * stageK * 4, 16)); return r; }) : '';
    if (xg) {
      const t0 = b.reg('u32');
      b.ins('mul.lo.u32', t0, tid, String(sub));
      forLoop(env, 'kst', t0, kOp, WARPS * 32 * sub, (kk) => scoped(() => {
        const a = sharedAt(b, xg, kk);
        rowCs.forEach((rc, r) => storeShared(b, a, r * stageK * 4, fz!.xAt(rc, kk, 0, sub)));
      }));
      b.ins('bar.sync', '0');
    }
    const acc = wRows.map(() => xRows.map(() => { const f = b.reg('f32'); b.ins('mov.f32', f, f32Hex(0)); return f; }));
    forLoop(env, 'k', kStart, kOp, 32 * vec, (kk) => scoped(() => {
      // every column's weight load first, so they are in flight together
      const wWords = vec === 1 ? [] : wRows.map((wr) => loadWords(b, offset(b, wr, kk, ew), 16, wld));
      const wScalar = vec === 1 ? wRows.map((wr) => emitLoad(b, wd, offset(b, wr, kk, ew), true)) : [];
      const xa = xg ? sharedAt(b, xg, kk) : '';
      for (let s0 = 0; s0 < vec; s0 += sub) {
        const xv = xg ? rowCs.map((_, r) => loadShared(b, xa, (r * stageK + s0) * 4, sub))
          : fz?.fusedX ? rowCs.map((rc) => fz.xAt(rc, kk, s0, sub)) : xRows.map((xr) => loadVector(b, xd, offset(b, xr, kk, ex, s0), sub, 'ld.global.nc'));
        if (fz?.norm) rowCs.forEach((rc, r) => fz.normAt(rc, kk, s0, sub).forEach((v) => b.ins('fma.rn.f32', ss[r], v, v, ss[r])));
        const perWord = 4 / ew;
        wRows.forEach((_, c) => {
          const wv = vec === 1 ? [wScalar[c]] : unpackWords(b, wd, wWords[c].slice(s0 / perWord, (s0 + sub) / perWord));
          xv.forEach((xs, r) => xs.forEach((xi, i) => b.ins('fma.rn.f32', acc[c][r], xi, wv[i], acc[c][r])));
        });
      }
    }));
    if (xg) b.ins('bar.sync', '0'); // every warp is done reading xg before the next pass writes it
    for (const a of [...acc.flat(), ...ss]) for (let o = 16; o >= 1; o >>= 1) {
      const y = b.reg('f32');
      b.ins('shfl.sync.bfly.b32', y, a, String(o), '31', '-1');
      b.ins('add.f32', a, a, y);
    }
    if (fz?.norm) { // the norm's scale, per row, on every column's sum
      const inv = ss.map((x) => fz.inv(x));
      acc.forEach((byRow) => byRow.forEach((a, r) => b.ins('mul.rn.f32', a, a, inv[r])));
    }
    if (fuse) { // every lane holds the sums: fold this warp's columns per row, then the block's warps
      const wp = env.hoisted('warp', () => { const r = b.reg('u32'); b.ins('shr.u32', r, tid, '5'); return r; });
      for (let round = 0; round < fuse.rounds; round++) { // top-k: round r takes what follows round r-1's winner
        const best = xRows.map((_, r) => {
          const after = round > 0 ? fuse.prev(r) : undefined;
          return fuse.fold(acc.map((byRow, c) => {
            const cc = b.reg('u32'); b.ins('add.u32', cc, col0, String(c));
            return { v: fuse.apply(byRow[r], scales[c]), i: cc };
          }), nOp, after);
        });
        const isLane0 = b.reg('pred');
        b.ins('setp.eq.u32', isLane0, lane, '0');
        best.forEach((pr, r) => fuse.stage(wp, r, pr, isLane0));
        fuse.finish(tid, m0, mOp, nr, env.special('%ctaid.x'), round);
      }
      return;
    }
    const skip = b.newLabel('skip');
    const q = b.reg('pred');
    b.ins('setp.ne.u32', q, lane, '0');
    b.insIf(q, false, 'bra', skip);
    acc.forEach((byRow, c) => byRow.forEach((a, r) => {
      const mr = b.reg('u32'), cc = b.reg('u32'), pc = b.reg('pred'), idx = b.reg('u32'), addr = b.reg('u64');
      b.ins('add.u32', mr, m0, String(r));
      b.ins('add.u32', cc, col0, String(c));
      b.ins('setp.lt.u32', pc, cc, nOp);
      b.ins('mad.lo.u32', idx, mr, nOp, cc);
      if (fz?.epilogue) { fz.storeEpilogue(idx, fz.rowCoords(mr), cc, a, pc); return; } // only for columns inside N
      b.ins('mad.wide.u32', addr, idx, '4', oBase);
      b.insIf(pc, false, 'st.global.f32', `[${addr}]`, a);
    }));
    b.label(skip);
  };

  // full chunks of `rows` rows, then (rows = 4) one 3-row pass if 3 are left (unfused kernels), one 2-row pass
  // if 2 (or, fused, 3) are left, then single rows: batch 1 runs one 1-row pass (no wasted loads), batch 2 and
  // 3 stream each weight row once (fused at 3: twice), not once per row (the 8B LSTM draft took 1.70 ms at
  // batch 2 against 1.04 at 4)
  const m0 = b.reg('u32'), end = b.reg('u32'), pm = b.reg('pred');
  const chunk = b.newLabel('chunk'), tail = b.newLabel('tail'), tailEnd = b.newLabel('tail_end');
  b.ins('mov.u32', m0, '0');
  b.label(chunk);
  b.ins('add.u32', end, m0, String(rows));
  b.ins('setp.gt.u32', pm, end, mOp);
  b.insIf(pm, false, 'bra', tail);
  b.indent(() => pass(m0, rows));
  b.ins('mov.u32', m0, end);
  b.ins('bra', chunk);
  b.label(tail);
  const single = b.newLabel('single');
  // without a fused x or epilogue (the drafts' heads and gate projections), 3 rows take one 3-row pass: with
  // fusion ptxas -arch=sm_90 spilled in a 3-row body (8-16 bytes at the fixture target), so there 3 = 2 + 1
  const tailPasses = [...(rows > 3 && !fz ? [3] : []), ...(rows > 2 ? [2] : [])];
  for (const nr of tailPasses) {
    const next = b.newLabel(`tail${nr}`);
    b.ins('add.u32', end, m0, String(nr));
    b.ins('setp.gt.u32', pm, end, mOp);
    b.insIf(pm, false, 'bra', next);
    b.indent(() => pass(m0, nr));
    b.ins('mov.u32', m0, end);
    b.label(next);
  }
  b.label(single);
  if (rows > 1) {
    b.ins('setp.ge.u32', pm, m0, mOp);
    b.insIf(pm, false, 'bra', tailEnd);
    b.indent(() => pass(m0, 1));
    b.ins('add.u32', m0, m0, '1');
    b.ins('bra', single);
    b.label(tailEnd);
  }
  b.label(done);
  return { block: WARPS * 32, grid: [gridOf([N], WARPS * cols), 1, 1] };
}
