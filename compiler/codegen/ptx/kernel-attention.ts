// Attention kernel (docs/targets.md), flash-decoding style, one launch for decode and prefill alike.
// One block per (row n, KV head g), handling the rep = Hq/Hkv query heads of that group so every K/V
// element loaded serves all of them (GQA). The block's W warps split the row's positions 0…p (warp w
// takes w, w+W, …); each keeps, per query head, an online-softmax partial (running max m, sum l and
// the weighted V sum) in registers, lane l owning head dims l, l+32, …. Scores are dot products reduced
// across the warp with butterfly shuffles. The partials meet in shared memory after one bar.sync and
// every thread combines W of them per output element: out = Σ_w e^{m_w−M}·acc_w / Σ_w e^{m_w−M}·l_w.
// f32 throughout, exp from math-recipes (accurate to a few ulp). The q operand (RoPE of the projection
// slice) is computed inline at load. Padding rows (position < 0) and, as a guard, rows whose slot or
// position is out of range attend to nothing and store zeros.
import { itemSize } from '../../ir/dtype.ts';
import type { Schedule, ScheduledKernel } from '../../schedule/types.ts';
import { ExprEmitter } from './expr.ts';
import type { Ix } from './index-math.ts';
import { address, decompose } from './index-math.ts';
import type { LaunchShape } from './kernel-common.ts';
import { externalSource, forLoop, gridOf, storeAt } from './kernel-common.ts';
import type { KernelEnv } from './kernel-env.ts';
import { emitLoad, f32Hex } from './legalize.ts';
import { expF } from './math-recipes.ts';
import { ptxMathOps } from './ptx-math-ops.ts';

/** Static shared memory a block may use for the partials. */
const SHARED_LIMIT = 48 * 1024;

/** Warps per block: 8 (4 when the row's positions are few), fewer when the partials would not fit. */
export function attentionWarps(rep: number, D: number, maxLen: number): number {
  let w = maxLen <= 256 ? 4 : 8;
  while (w > 1 && w * rep * (D + 2) * 4 > SHARED_LIMIT) w >>= 1;
  if (rep * (D + 2) * 4 > SHARED_LIMIT) throw new Error(`attention: ${rep} query heads per KV head of dim ${D} do not fit one block's shared memory`);
  return w;
}

export function emitAttentionKernel(env: KernelEnv, s: Schedule, k: ScheduledKernel): LaunchShape {
  const b = env.b;
  const o = ptxMathOps(b);
  const item = k.items[0];
  const n = item.node;
  const [q, kc, vc, slots, positions] = n.src;
  const [N, Hq, D] = n.shape as [string | number, number, number];
  const [S, L, Hk] = kc.shape as number[];
  const rep = Hq / Hk;
  const scale = n.argOf<number>('scale');
  const W = attentionWarps(rep, D, L);
  const block = 32 * W;
  const E = Math.ceil(D / 32);
  const cacheBytes = itemSize(kc.dtype);
  const kBuf = env.buffer(s.bufferOf.get(kc)!), vBuf = env.buffer(s.bufferOf.get(vc)!);

  const tid = env.special('%tid.x');
  const lane = env.hoisted('lane', () => { const r = b.reg('u32'); b.ins('and.b32', r, tid, '31'); return r; });
  const warp = env.hoisted('warp', () => { const r = b.reg('u32'); b.ins('shr.u32', r, tid, '5'); return r; });
  const asReg = (x: Ix): string => {
    if (x.r !== null && x.k === 0) return x.r;
    const t = b.reg('u32');
    if (x.r === null) b.ins('mov.u32', t, String(x.k)); else b.ins('add.u32', t, x.r, String(x.k));
    return t;
  };
  const [rowIx, gIx] = decompose(env, env.special('%ctaid.x'), [N, Hk]);
  const row: Ix = { r: asReg(rowIx), k: 0, lo: rowIx.lo, hi: rowIx.hi };
  const gr = asReg(gIx);
  const ex = new ExprEmitter(env, (x) => externalSource(s, k, x) ?? { kind: 'inline' });

  b.comment(`${n}: ${rep} query heads per KV head, ${W} warps over the positions`);
  const slot = ex.value(slots, [row]);
  const pos = ex.value(positions, [row]);
  const ok = b.reg('pred'), okSlot = b.reg('pred');
  b.ins('setp.lt.u32', ok, pos, String(L));
  b.ins('setp.lt.u32', okSlot, slot, String(S));
  b.ins('and.pred', ok, ok, okSlot);
  // positions 0…p: p + 1 of them, none for padding or out-of-range rows
  const count = b.reg('u32');
  b.ins('add.s32', count, pos, '1');
  b.ins('selp.b32', count, count, '0', ok);

  // lane's head dims d = lane + 32i; the last group may be partial (clamped, masked)
  const dims: { ix: Ix; valid: string | null }[] = [];
  for (let i = 0; i < E; i++) {
    if (32 * i + 32 <= D) { dims.push({ ix: { r: lane, k: 32 * i, lo: 32 * i, hi: 32 * i + 32 }, valid: null }); continue; }
    const d = b.reg('u32'), c = b.reg('u32'), valid = b.reg('pred');
    b.ins('add.u32', d, lane, String(32 * i));
    b.ins('setp.lt.u32', valid, d, String(D));
    b.ins('min.u32', c, d, String(D - 1));
    dims.push({ ix: { r: c, k: 0, lo: Math.min(32 * i, D - 1), hi: D }, valid });
  }
  const masked = (v: string, valid: string | null): string => {
    if (!valid) return v;
    const r = b.reg('f32');
    b.ins('selp.f32', r, v, f32Hex(0), valid);
    return r;
  };
  const heads = Array.from({ length: rep }, (_, r) => {
    const h = b.reg('u32');
    b.ins('mad.lo.u32', h, gr, String(rep), String(r));
    return { r: h, k: 0, lo: 0, hi: Hq } as Ix;
  });
  const qv = heads.map((h) => dims.map(({ ix, valid }) => masked(ex.value(q, [row, h, ix]), valid)));

  const m = heads.map(() => { const r = b.reg('f32'); b.ins('mov.f32', r, f32Hex(-Infinity)); return r; });
  const l = heads.map(() => { const r = b.reg('f32'); b.ins('mov.f32', r, f32Hex(0)); return r; });
  const acc = heads.map(() => dims.map(() => { const r = b.reg('f32'); b.ins('mov.f32', r, f32Hex(0)); return r; }));
  // element (slot, j, g, 0) of a cache: ((slot·L + j)·Hk + g)·D
  const slotBase = b.reg('u32');
  b.ins('mul.lo.u32', slotBase, slot, String(L));

  forLoop(env, 'pos', warp, count, W, (j) => {
    const at = b.reg('u32');
    b.ins('add.u32', at, slotBase, j);
    b.ins('mad.lo.u32', at, at, String(Hk), gr);
    b.ins('mul.lo.u32', at, at, String(D));
    const elem = dims.map(({ ix }) => {
      const e = b.reg('u32');
      b.ins('add.u32', e, at, ix.r!);
      if (ix.k) b.ins('add.u32', e, e, String(ix.k));
      return e;
    });
    const kv = elem.map((e, i) => masked(emitLoad(b, kc.dtype, address(b, kBuf, e, cacheBytes), true), dims[i].valid));
    const vv = elem.map((e, i) => masked(emitLoad(b, vc.dtype, address(b, vBuf, e, cacheBytes), true), dims[i].valid));
    heads.forEach((_, r) => {
      let dot = o.mul(qv[r][0], kv[0]);
      for (let i = 1; i < E; i++) dot = o.fma(qv[r][i], kv[i], dot);
      for (let sh = 16; sh >= 1; sh >>= 1) {
        const y = b.reg('f32');
        b.ins('shfl.sync.bfly.b32', y, dot, String(sh), '31', '-1');
        dot = o.add(dot, y);
      }
      const score = o.mul(dot, f32Hex(scale));
      const mNew = b.reg('f32');
      b.ins('max.f32', mNew, m[r], score);
      const c = expF(o, o.sub(m[r], mNew));
      const e = expF(o, o.sub(score, mNew));
      b.ins('fma.rn.f32', l[r], l[r], c, e);
      for (let i = 0; i < E; i++) {
        b.ins('mul.rn.f32', acc[r][i], acc[r][i], c);
        b.ins('fma.rn.f32', acc[r][i], e, vv[i], acc[r][i]);
      }
      b.ins('mov.f32', m[r], mNew);
    });
  });

  // partials to shared memory: [warp][head][D accumulators, m, l]
  const stride = D + 2;
  const smem = b.sharedArray('attn_part', W * rep * stride * 4, 16);
  const sBase = b.reg('u32');
  b.ins('mov.u32', sBase, smem);
  const wBase = b.reg('u32');
  b.ins('mad.lo.u32', wBase, warp, String(rep * stride * 4), sBase);
  const lane0 = b.reg('pred');
  b.ins('setp.eq.u32', lane0, lane, '0');
  heads.forEach((_, r) => {
    dims.forEach(({ ix, valid }, i) => {
      const a = b.reg('u32');
      b.ins('mad.lo.u32', a, ix.r!, '4', wBase);
      const off = (r * stride + ix.k) * 4;
      const st = `st.shared.f32`;
      if (valid) b.insIf(valid, false, st, `[${a}+${off}]`, acc[r][i]); else b.ins(st, `[${a}+${off}]`, acc[r][i]);
    });
    b.insIf(lane0, false, 'st.shared.f32', `[${wBase}+${(r * stride + D) * 4}]`, m[r]);
    b.insIf(lane0, false, 'st.shared.f32', `[${wBase}+${(r * stride + D + 1) * 4}]`, l[r]);
  });
  b.ins('bar.sync', '0');

  // combine: thread t takes output elements t, t + block, … of this block's rep × D
  const any = b.reg('pred');
  b.ins('setp.ne.u32', any, count, '0');
  forLoop(env, 'out', tid, String(rep * D), block, (t) => ex.scoped(() => {
    const r = b.reg('u32'), d = b.reg('u32');
    b.ins('div.u32', r, t, String(D));
    b.ins('rem.u32', d, t, String(D));
    const rowAddr = b.reg('u32'); // &part[0][r][0]
    b.ins('mad.lo.u32', rowAddr, r, String(stride * 4), sBase);
    const elAddr = b.reg('u32');
    b.ins('mad.lo.u32', elAddr, d, '4', rowAddr);
    const ld = (addr: string, off: number): string => { const f = b.reg('f32'); b.ins('ld.shared.f32', f, `[${addr}+${off}]`); return f; };
    const ms = Array.from({ length: W }, (_, w) => ld(rowAddr, (w * rep * stride + D) * 4));
    let M = ms[0];
    for (let w = 1; w < W; w++) { const x = b.reg('f32'); b.ins('max.f32', x, M, ms[w]); M = x; }
    let sum = f32Hex(0), num = f32Hex(0);
    for (let w = 0; w < W; w++) {
      const f = expF(o, o.sub(ms[w], M));
      sum = o.fma(f, ld(rowAddr, (w * rep * stride + D + 1) * 4), sum);
      num = o.fma(f, ld(elAddr, w * rep * stride * 4), num);
    }
    const val = b.reg('f32');
    b.ins('selp.f32', val, o.div(num, sum), f32Hex(0), any);
    // out[row, g·rep + r, d]
    const h = b.reg('u32'), idx = b.reg('u32');
    b.ins('mad.lo.u32', h, gr, String(rep), r);
    b.ins('mad.lo.u32', idx, row.r!, String(Hq), h);
    b.ins('mad.lo.u32', idx, idx, String(D), d);
    storeAt(env, item.store!, n, idx, val);
  }));
  return { block, grid: [gridOf([N, Hk], 1), 1, 1] };
}
