// The argmax epilogue of a linear kernel fused with argmax(linear(x, w), -1) (or with the argmax of its
// per-column scaled logits, an fp8 head: argmax(mul(linear(x, w), broadcast(scale)), -1)): instead of the logits, each
// block writes one (max, index) pair per row into the partial buffers, and a reduce launch (one block
// per row) picks the winner. The order is the interpreter's (NaN largest, ties → lowest index, see
// Reducer.before); it is a total order on (value, index), so folding pairs in any grouping gives exactly
// the element the interpreter's sequential scan picks over the same logits.
// Top-k (partials.k = k > 1, a fused topk_values/topk_indices): the same in k rounds. Round r folds only the
// candidates strictly after round r-1's block winner in that order (finish() leaves each row's winner in
// shared memory for prev()), so the rounds pick the block's first k pairs, each column once; partial
// (row m, block b, round r) is at (m·stride + b)·k + r. A block with fewer than k columns left gives the
// "none" pair (-inf, 0xFFFFFFFF), which nothing follows, so the rounds after it give "none" too.
import type { ScheduledKernel } from '../../schedule/types.ts';
import type { PtxBuilder } from './builder.ts';
import type { KernelEnv } from './kernel-env.ts';
import type { Pair } from './reduce.ts';
import { nonePair, Reducer } from './reduce.ts';

type Partials = NonNullable<ScheduledKernel['partials']>;

export interface ArgmaxEpilogue {
  /**
   * With a scaled head (partials.scale), the f32 scale of column `col` clamped to `nLast` (columns past N
   * offer no candidate but must not read past the buffer); null without one.
   */
  scaleOf(col: string, nLast: string): string | null;
  /** v × scale, rounded once (mul.rn.f32: the interpreter's separate f32 mul), or v without a scale. */
  apply(v: string, scale: string | null): string;
  /** k: pairs per block and row (1 for argmax); rounds 0 .. k-1 each run fold/stage/finish. */
  readonly rounds: number;
  /** The first of `cands` in argmax order, ignoring those whose index is ≥ n and, with `after`, those not after it. */
  fold(cands: readonly Pair[], n: string, after?: Pair): Pair;
  /** The previous round's block winner of row slot `slot` (finish() left it in shared memory). */
  prev(slot: number | string): Pair;
  /** Combine a pair across the lanes that differ in the bits of `masks` (xor shuffles). */
  shuffle(p: Pair, masks: readonly number[]): Pair;
  /** Where `pred` holds, put warp `warp`'s best pair of row slot `slot` in shared memory. */
  stage(warp: string, slot: number | string, p: Pair, pred: string): void;
  /**
   * bar.sync; threads 0 .. nr-1 fold the warps' slots in warp order and store row m0 + tid's partial
   * (if below M) at column `block` (round `round` of it: see the top); bar.sync again, so the slots (and
   * shared memory they reuse) are free. With k > 1 the winner also goes to row slot tid for prev().
   */
  finish(tid: string, m0: string, mOp: string, nr: number, block: string, round?: number): void;
}

/**
 * `rows`: slots per warp; `reuse`: a shared array to hold the slots (≥ warps · rows · 8 bytes, and rows · 8
 * more for top-k's round winners) that the caller has finished with before stage(); else one is declared.
 */
export function argmaxPartials(env: KernelEnv, p: Partials, warps: number, rows = 4, reuse?: string): ArgmaxEpilogue {
  const b: PtxBuilder = env.b;
  const red = new Reducer(b, warps, '', '');
  let base: string | null = null;
  const slots = (): string => {
    if (!base) {
      const arr = reuse ?? b.sharedArray('am_slots', warps * rows * 8, 8);
      base = env.hoisted(`am_base`, () => { const r = b.reg('u32'); b.ins('mov.u32', r, arr); return r; });
    }
    return base;
  };
  const vals = env.buffer(p.values), idxs = env.buffer(p.indices);
  const K = p.k ?? 1;
  let winners: string | null = null; // top-k: each row slot's winner of the last round
  const prevBase = (): string => {
    if (!winners) {
      const off = warps * rows * 8;
      winners = env.hoisted('tk_prev', () => {
        const r = b.reg('u32');
        if (reuse) b.ins('add.u32', r, slots(), String(off)); else b.ins('mov.u32', r, b.sharedArray('tk_prev', rows * 8, 8));
        return r;
      });
    }
    return winners;
  };
  return {
    rounds: K,
    scaleOf(col, nLast) {
      if (!p.scale) return null;
      const c = b.reg('u32'), a = b.reg('u64'), f = b.reg('f32');
      b.ins('min.u32', c, col, nLast);
      b.ins('mad.wide.u32', a, c, '4', env.buffer(p.scale));
      b.ins('ld.global.nc.f32', f, `[${a}]`);
      return f;
    },
    apply(v, scale) {
      if (!scale) return v;
      const r = b.reg('f32');
      b.ins('mul.rn.f32', r, v, scale);
      return r;
    },
    fold(cands, n, after) {
      let best = nonePair(b, 'f32');
      for (const c of cands) {
        const ok = b.reg('pred'), take = red.before('f32', c, best);
        b.ins('setp.lt.u32', ok, c.i, n);
        b.ins('and.pred', take, take, ok);
        if (after) b.ins('and.pred', take, take, red.before('f32', after, c));
        best = red.pick('f32', take, c, best);
      }
      return best;
    },
    prev(slot) {
      const a = b.reg('u32'), o = { v: b.reg('f32'), i: b.reg('u32') };
      if (typeof slot === 'number') b.ins('add.u32', a, prevBase(), String(slot * 8));
      else b.ins('mad.lo.u32', a, slot, '8', prevBase());
      b.ins('ld.shared.f32', o.v, `[${a}]`);
      b.ins('ld.shared.u32', o.i, `[${a}+4]`);
      return o;
    },
    shuffle(pr, masks) {
      let cur = pr;
      for (const m of masks) {
        const o = { v: b.reg('f32'), i: b.reg('u32') };
        b.ins('shfl.sync.bfly.b32', o.v, cur.v, String(m), '31', '-1');
        b.ins('shfl.sync.bfly.b32', o.i, cur.i, String(m), '31', '-1');
        cur = red.pick('f32', red.before('f32', o, cur), o, cur);
      }
      return cur;
    },
    stage(warp, slot, pr, pred) {
      const a = b.reg('u32');
      b.ins('mad.lo.u32', a, warp, String(rows * 8), slots());
      if (typeof slot === 'number') b.ins('add.u32', a, a, String(slot * 8));
      else b.ins('mad.lo.u32', a, slot, '8', a);
      b.insIf(pred, false, 'st.shared.f32', `[${a}]`, pr.v);
      b.insIf(pred, false, 'st.shared.u32', `[${a}+4]`, pr.i);
    },
    finish(tid, m0, mOp, nr, block, round = 0) {
      const sb = slots();
      if (K > 1) prevBase();
      b.ins('bar.sync', '0');
      const skip = b.newLabel('am_skip');
      const q = b.reg('pred'), m = b.reg('u32');
      b.ins('add.u32', m, m0, tid);
      b.ins('setp.ge.u32', q, tid, String(nr));
      b.insIf(q, false, 'bra', skip);
      b.ins('setp.ge.u32', q, m, mOp);
      b.insIf(q, false, 'bra', skip);
      let acc: Pair | null = null;
      for (let w = 0; w < warps; w++) {
        const a = b.reg('u32'), o = { v: b.reg('f32'), i: b.reg('u32') };
        b.ins('mad.lo.u32', a, tid, '8', sb);
        b.ins('ld.shared.f32', o.v, `[${a}+${w * rows * 8}]`);
        b.ins('ld.shared.u32', o.i, `[${a}+${w * rows * 8 + 4}]`);
        acc = acc ? red.pick('f32', red.before('f32', o, acc), o, acc) : o;
      }
      const idx = b.reg('u32'), av = b.reg('u64'), ai = b.reg('u64');
      b.ins('mad.lo.u32', idx, m, String(p.stride), block);
      if (K > 1) {
        b.ins('mad.lo.u32', idx, idx, String(K), String(round));
        const w = b.reg('u32');
        b.ins('mad.lo.u32', w, tid, '8', prevBase());
        b.ins('st.shared.f32', `[${w}]`, acc!.v);
        b.ins('st.shared.u32', `[${w}+4]`, acc!.i);
      }
      b.ins('mad.wide.u32', av, idx, '4', vals);
      b.ins('mad.wide.u32', ai, idx, '4', idxs);
      b.ins('st.global.f32', `[${av}]`, acc!.v);
      b.ins('st.global.u32', `[${ai}]`, acc!.i);
      b.label(skip);
      b.ins('bar.sync', '0');
    },
  };
}
