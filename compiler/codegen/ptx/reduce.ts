// Warp and block reductions for row kernels. A block reduction: butterfly shuffles inside each warp,
// lane 0 of each warp writes its partial to shared memory, one bar.sync, then every thread combines
// the partials in warp order, so all threads hold the (deterministic) result. Two scratch halves
// alternate between consecutive reductions: a warp can only overwrite a half after every thread has
// passed the next reduction's barrier, i.e. after everyone finished reading it.
import type { PtxBuilder, RegType } from './builder.ts';
import { f32Hex } from './legalize.ts';

/** (value, index) pairs: argmax order, NaN largest, ties → lower index. */
export interface Pair { v: string; i: string }

const SLOT = 8; // bytes per warp slot (fits s64)
export const NONE = '0xFFFFFFFF'; // index of "no element yet": the largest u32, so it loses every tie

export class Reducer {
  private readonly b: PtxBuilder;
  private readonly warps: number;
  private readonly lane: string;
  private readonly warp: string;
  private count = 0;
  private scratchV: string | null = null;
  private scratchI: string | null = null;

  constructor(b: PtxBuilder, warps: number, lane: string, warp: string) {
    this.b = b;
    this.warps = warps;
    this.lane = lane;
    this.warp = warp;
  }

  private slots(): { v: string; i: string; half: number } {
    if (!this.scratchV) {
      this.scratchV = this.b.sharedArray('red_v', 2 * 32 * SLOT, 8);
      this.scratchI = this.b.sharedArray('red_i', 2 * 32 * 4, 4);
    }
    return { v: this.scratchV, i: this.scratchI!, half: this.count++ % 2 };
  }

  private shfl(t: RegType, x: string, lane: string | number): string {
    const b = this.b;
    if (t === 's64') {
      const lo = b.reg('u32'), hi = b.reg('u32'), lo2 = b.reg('u32'), hi2 = b.reg('u32'), d = b.reg('s64');
      b.ins('mov.b64', `{${lo}, ${hi}}`, x);
      b.ins('shfl.sync.bfly.b32', lo2, lo, String(lane), '31', '-1');
      b.ins('shfl.sync.bfly.b32', hi2, hi, String(lane), '31', '-1');
      b.ins('mov.b64', d, `{${lo2}, ${hi2}}`);
      return d;
    }
    const d = b.reg(t);
    b.ins('shfl.sync.bfly.b32', d, x, String(lane), '31', '-1');
    return d;
  }

  private addr(base: string, half: number, bytes: number, slot: string | number): string {
    const b = this.b;
    const a = b.reg('u32');
    b.ins('mov.u32', a, base);
    if (typeof slot === 'number') b.ins('add.u32', a, a, String((half * 32 + slot) * bytes));
    else { b.ins('mad.lo.u32', a, slot, String(bytes), a); b.ins('add.u32', a, a, String(half * 32 * bytes)); }
    return a;
  }

  private stType(t: RegType): string { return t === 'f32' ? 'f32' : t === 's64' ? 's64' : 's32'; }

  /** Sum (or max.NaN for op 'max') of one value per thread; every thread gets the total. */
  sum(t: RegType, x: string, op: 'add' | 'max' = 'add'): string {
    const b = this.b;
    const ins = op === 'max' ? 'max.NaN.f32' : t === 'f32' ? 'add.f32' : `add.${t}`;
    let v = x;
    for (let o = 16; o >= 1; o >>= 1) { const y = this.shfl(t, v, o); const s = b.reg(t); b.ins(ins, s, v, y); v = s; }
    if (this.warps === 1) return v;
    const { v: sv, half } = this.slots();
    const p = b.reg('pred');
    b.ins('setp.eq.u32', p, this.lane, '0');
    b.insIf(p, false, `st.shared.${this.stType(t)}`, `[${this.addr(sv, half, SLOT, this.warp)}]`, v);
    b.ins('bar.sync', '0');
    let acc = b.reg(t);
    b.ins(`ld.shared.${this.stType(t)}`, acc, `[${this.addr(sv, half, SLOT, 0)}]`);
    for (let w = 1; w < this.warps; w++) {
      const y = b.reg(t), s = b.reg(t);
      b.ins(`ld.shared.${this.stType(t)}`, y, `[${this.addr(sv, half, SLOT, w)}]`);
      b.ins(ins, s, acc, y);
      acc = s;
    }
    return acc;
  }

  /** Is `a` before `c` in argmax order? (a.v beats c.v, or they tie and a.i < c.i) */
  before(t: RegType, a: Pair, c: Pair): string {
    const b = this.b;
    const gt = b.reg('pred'), eq = b.reg('pred'), lt = b.reg('pred'), r = b.reg('pred');
    const sfx = t === 'f32' ? 'f32' : t;
    b.ins(`setp.gt.${sfx}`, gt, a.v, c.v);
    b.ins(`setp.eq.${sfx}`, eq, a.v, c.v);
    if (t === 'f32') {
      // NaN beats everything but NaN; two NaNs tie
      const an = b.reg('pred'), cn = b.reg('pred'), x = b.reg('pred');
      b.ins('setp.nan.f32', an, a.v, a.v);
      b.ins('setp.nan.f32', cn, c.v, c.v);
      b.ins('not.pred', x, cn);
      b.ins('and.pred', x, x, an);
      b.ins('or.pred', gt, gt, x);
      b.ins('and.pred', x, an, cn);
      b.ins('or.pred', eq, eq, x);
    }
    b.ins('setp.lt.u32', lt, a.i, c.i);
    b.ins('and.pred', lt, lt, eq);
    b.ins('or.pred', r, gt, lt);
    return r;
  }

  /** Keep `c` where `take`, else `a`. */
  pick(t: RegType, take: string, c: Pair, a: Pair): Pair {
    const b = this.b;
    const v = b.reg(t), i = b.reg('u32');
    b.ins(t === 'f32' ? 'selp.f32' : t === 's64' ? 'selp.b64' : 'selp.b32', v, c.v, a.v, take);
    b.ins('selp.b32', i, c.i, a.i, take);
    return { v, i };
  }

  /** The first pair in argmax order over the block. */
  argmax(t: RegType, x: Pair): Pair {
    const b = this.b;
    let cur = x;
    for (let o = 16; o >= 1; o >>= 1) {
      const other = { v: this.shfl(t, cur.v, o), i: this.shfl('u32', cur.i, o) };
      cur = this.pick(t, this.before(t, other, cur), other, cur);
    }
    if (this.warps === 1) return cur;
    const { v: sv, i: si, half } = this.slots();
    const p = b.reg('pred');
    b.ins('setp.eq.u32', p, this.lane, '0');
    b.insIf(p, false, `st.shared.${this.stType(t)}`, `[${this.addr(sv, half, SLOT, this.warp)}]`, cur.v);
    b.insIf(p, false, 'st.shared.u32', `[${this.addr(si, half, 4, this.warp)}]`, cur.i);
    b.ins('bar.sync', '0');
    const load = (w: number): Pair => {
      const v = b.reg(t), i = b.reg('u32');
      b.ins(`ld.shared.${this.stType(t)}`, v, `[${this.addr(sv, half, SLOT, w)}]`);
      b.ins('ld.shared.u32', i, `[${this.addr(si, half, 4, w)}]`);
      return { v, i };
    };
    let acc = load(0);
    for (let w = 1; w < this.warps; w++) {
      const o = load(w);
      acc = this.pick(t, this.before(t, o, acc), o, acc);
    }
    return acc;
  }
}

/** The identity "no element" pair: loses against every real element (see NONE). */
export function nonePair(b: PtxBuilder, t: RegType): Pair {
  const v = b.reg(t), i = b.reg('u32');
  if (t === 'f32') b.ins('mov.f32', v, f32Hex(-Infinity));
  else b.ins(t === 's64' ? 'mov.b64' : 'mov.b32', v, t === 's64' ? '0x8000000000000000' : '0x80000000');
  b.ins('mov.u32', i, NONE);
  return { v, i };
}
