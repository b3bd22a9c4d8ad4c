// Attention kernel (docs/targets.md), flash-decoding style, one launch for decode and prefill alike.
// One block per (row n, KV head g), handling the rep = Hq/Hkv query heads of that group so every K/V
// element loaded serves all of them (GQA). The block's W warps split the row's positions 0…p (warp w
// takes w, w+W, …); each keeps, per query head, an online-softmax partial (running max m, sum l and
// the weighted V sum) in registers, lane l owning head dims l, l+32, …; a step of its loop takes
// POSITIONS_PER_STEP of its positions at once (loads in flight together, one rescale). Scores are dot products reduced
// across the warp with butterfly shuffles. The partials meet in shared memory after one bar.sync and
// every thread combines W of them per output element: out = Σ_w e^{m_w−M}·acc_w / Σ_w e^{m_w−M}·l_w.
// f32 throughout, exp from math-recipes (accurate to a few ulp). The q operand (RoPE of the projection
// slice) is computed inline at load. Padding rows (position < 0) and, as a guard, rows whose slot or
// position is out of range attend to nothing and store zeros.
//
// Split over positions (k.splitKv, compiler/schedule/attention-split.ts): one block per (KV head, chunk c of
// P positions, row) — rows fastest in the launch order, so a sequence's verify rows share their K/V reads in L2 — its warps taking positions cP + w, cP + w + W, … below min(p + 1, (c+1)P);
// a block whose chunk starts past the row's last position (or whose row is padding) exits at once. The
// block's combine stores each query head's unnormalized partial (Σ_w e^{m_w−M}·acc_w, M, Σ_w e^{m_w−M}·l_w)
// into the scratch [rows, Hq, chunks, D + 2]; emitAttentionCombine (a second launch, one block per
// (row, query head)) merges the row's ⌈(p+1)/P⌉ chunks the same way in a fixed order and divides.
import { itemSize } from '../../ir/dtype.ts';
import type { Node } from '../../ir/node.ts';
import type { Schedule, ScheduledKernel, SplitKv } from '../../schedule/types.ts';
import { ExprEmitter } from './expr.ts';
import type { Ix } from './index-math.ts';
import { address, decompose } from './index-math.ts';
import type { LaunchShape } from './kernel-common.ts';
import { externalSource, forLoop, gridOf, storeAt } from './kernel-common.ts';
import type { KernelEnv } from './kernel-env.ts';
import { emitLoad, f32Hex } from './legalize.ts';
import { expF } from './math-recipes.ts';
import { ptxMathOps } from './ptx-math-ops.ts';

/** Positions a warp takes per step of its loop (their loads overlap). */
export const POSITIONS_PER_STEP = 2;

/** Static shared memory a block may use for the partials. */
const SHARED_LIMIT = 48 * 1024;

/**
 * A row's slot and position, and whether both are in range (position < L, slot < S): unsigned compares, so a
 * padding row's negative position is out of range too. The attention kernel and the combine share it.
 */
function rowSlot(b: KernelEnv['b'], ex: ExprEmitter, slots: Node, positions: Node, row: Ix, L: number, S: number): { slot: string; pos: string; ok: string } {
  const slot = ex.value(slots, [row]);
  const pos = ex.value(positions, [row]);
  const ok = b.reg('pred'), okSlot = b.reg('pred');
  b.ins('setp.lt.u32', ok, pos, String(L));
  b.ins('setp.lt.u32', okSlot, slot, String(S));
  b.ins('and.pred', ok, ok, okSlot);
  return { slot, pos, ok };
}

/** Warps per block: 8 (4 when the row's positions are few), fewer when the partials would not fit. */
export function attentionWarps(rep: number, D: number, maxLen: number): number {
  let w = maxLen <= 256 ? 4 : 8;
  while (w > 1 && w * rep * (D + 2) * 4 > SHARED_LIMIT) w >>= 1;
  if (rep * (D + 2) * 4 > SHARED_LIMIT) throw new Error(`attention: ${rep} query heads per KV head of dim ${D} do not fit one block's shared memory`);
  return w;
}

/** Warps of a split block: 8 (fewer for tiny test chunks or when the partials would not fit). */
function splitWarps(rep: number, D: number, chunk: number): number {
  let w = attentionWarps(rep, D, Infinity);
  while (w > 1 && w > chunk) w >>= 1;
  return w;
}

/** The one-launch kernel, or (split) the chunk kernel whose partials emitAttentionCombine merges. */
export function emitAttentionKernel(env: KernelEnv, s: Schedule, k: ScheduledKernel, split?: SplitKv): LaunchShape {
  const b = env.b;
  const o = ptxMathOps(b);
  const item = k.items[0];
  const n = item.node;
  const [q, kc, vc, slots, positions] = n.src;
  const [N, Hq, D] = n.shape as [string | number, number, number];
  const [S, L, Hk] = kc.shape as number[];
  const rep = Hq / Hk;
  const scale = n.argOf<number>('scale');
  const sp = split ?? null;
  const W = sp ? splitWarps(rep, D, sp.chunk) : attentionWarps(rep, D, L);
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
  // split: blocks ordered (KV head, chunk, row), rows fastest, so the q rows of one sequence (a verify) read
  // the same chunk of its cache side by side and all but the first find it in L2
  const [rowIx, gIx, cIx] = sp
    ? (([g, c, r]) => [r, g, c])(decompose(env, env.special('%ctaid.x'), [Hk, sp.chunks, N]))
    : decompose(env, env.special('%ctaid.x'), [N, Hk]);
  const row: Ix = { r: asReg(rowIx), k: 0, lo: rowIx.lo, hi: rowIx.hi };
  const gr = asReg(gIx);
  const ex = new ExprEmitter(env, (x) => externalSource(s, k, x) ?? { kind: 'inline' });

  b.comment(`${n}: ${rep} query heads per KV head, ${W} warps over the positions${sp ? `, chunks of ${sp.chunk} of ${sp.chunks}` : ''}`);
  const { slot, pos, ok } = rowSlot(b, ex, slots, positions, row, L, S);
  // positions 0…p: p + 1 of them, none for padding or out-of-range rows
  const count = b.reg('u32');
  b.ins('add.s32', count, pos, '1');
  b.ins('selp.b32', count, count, '0', ok);
  // split: this block's positions start … end; none (exit) when the chunk starts past the row's last
  let first = warp, end = count;
  const exit = b.newLabel('exit');
  let chunkReg = '';
  if (sp) {
    chunkReg = asReg(cIx);
    const start = b.reg('u32'), past = b.reg('pred');
    b.ins('mul.lo.u32', start, chunkReg, String(sp.chunk));
    b.ins('setp.ge.u32', past, start, count);
    b.insIf(past, false, 'bra', exit);
    end = b.reg('u32');
    b.ins('add.u32', end, start, String(sp.chunk));
    b.ins('min.u32', end, end, count);
    first = b.reg('u32');
    b.ins('add.u32', first, start, warp);
  }

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

  // a warp's step takes U positions j, j + W, …: their loads are in flight together and their scores'
  // exps are independent (one step waited on one position's loads before); a position past `end` (the
  // last step's) re-reads j and weighs 0
  forLoop(env, 'pos', first, end, W * POSITIONS_PER_STEP, (j) => {
    const ps: { j: string; valid: string | null }[] = [{ j, valid: null }];
    for (let u = 1; u < POSITIONS_PER_STEP; u++) {
      const ju = b.reg('u32'), valid = b.reg('pred'), jc = b.reg('u32');
      b.ins('add.u32', ju, j, String(u * W));
      b.ins('setp.lt.u32', valid, ju, end);
      b.ins('selp.b32', jc, ju, j, valid);
      ps.push({ j: jc, valid });
    }
    const loaded = ps.map(({ j: jp }) => {
      const at = b.reg('u32');
      b.ins('add.u32', at, slotBase, jp);
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
      return { kv, vv };
    });
    heads.forEach((_, r) => {
      const scores = loaded.map(({ kv }, u) => {
        let dot = o.mul(qv[r][0], kv[0]);
        for (let i = 1; i < E; i++) dot = o.fma(qv[r][i], kv[i], dot);
        for (let sh = 16; sh >= 1; sh >>= 1) {
          const y = b.reg('f32');
          b.ins('shfl.sync.bfly.b32', y, dot, String(sh), '31', '-1');
          dot = o.add(dot, y);
        }
        const score = o.mul(dot, f32Hex(scale));
        const valid = ps[u].valid;
        if (!valid) return score;
        const sv = b.reg('f32');
        b.ins('selp.f32', sv, score, f32Hex(-Infinity), valid);
        return sv;
      });
      const mNew = b.reg('f32');
      b.ins('max.f32', mNew, m[r], scores[0]);
      for (let u = 1; u < scores.length; u++) b.ins('max.f32', mNew, mNew, scores[u]);
      const c = expF(o, o.sub(m[r], mNew));
      const e = scores.map((sc) => expF(o, o.sub(sc, mNew)));
      b.ins('fma.rn.f32', l[r], l[r], c, e[0]);
      for (let u = 1; u < e.length; u++) b.ins('add.rn.f32', l[r], l[r], e[u]);
      for (let i = 0; i < E; i++) {
        b.ins('mul.rn.f32', acc[r][i], acc[r][i], c);
        for (let u = 0; u < e.length; u++) b.ins('fma.rn.f32', acc[r][i], e[u], loaded[u].vv[i], acc[r][i]);
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
    // out[row, g·rep + r, d]
    const h = b.reg('u32'), idx = b.reg('u32');
    b.ins('mad.lo.u32', h, gr, String(rep), r);
    b.ins('mad.lo.u32', idx, row.r!, String(Hq), h);
    if (sp) {
      // scratch[row, h, chunk, ·]: the unnormalized accumulator at d, then M and the sum (thread d = 0)
      const at = b.reg('u32');
      b.ins('mad.lo.u32', at, idx, String(sp.chunks), chunkReg);
      b.ins('mul.lo.u32', at, at, String(D + 2));
      const scratch = env.buffer(sp.scratch);
      const base = address(b, scratch, at, 4);
      const el = b.reg('u64');
      b.ins('mad.wide.u32', el, d, '4', base);
      b.ins('st.global.f32', `[${el}]`, num);
      const d0 = b.reg('pred');
      b.ins('setp.eq.u32', d0, d, '0');
      b.insIf(d0, false, 'st.global.f32', `[${base}+${D * 4}]`, M);
      b.insIf(d0, false, 'st.global.f32', `[${base}+${(D + 1) * 4}]`, sum);
      return;
    }
    const val = b.reg('f32');
    b.ins('selp.f32', val, o.div(num, sum), f32Hex(0), any);
    b.ins('mad.lo.u32', idx, idx, String(D), d);
    storeAt(env, item.store!, n, idx, val);
  }));
  b.label(exit);
  return { block, grid: [gridOf(sp ? [N, Hk, sp.chunks] : [N, Hk], 1), 1, 1] };
}

/** Threads the combine block may use: D per chunk group (attentionCombineShape). */
const COMBINE_MAX_THREADS = 1024;

/**
 * The combine block: G chunk groups of D threads (group g takes chunks g, g + G, …), as many groups as
 * 1024 threads allow and the chunks need, rounded up to whole warps.
 */
export function attentionCombineShape(D: number, chunks: number): { groups: number; threads: number } {
  const groups = Math.max(1, Math.min(Math.floor(COMBINE_MAX_THREADS / D), chunks));
  return { groups, threads: Math.ceil((groups * D) / 32) * 32 };
}

/**
 * The split's second launch: one block per (row, query head) merges the ⌈(p + 1)/P⌉ chunk partials of
 * its row. The chunk maxima and the sums are reduced over the block in a fixed tree (each thread's chunks
 * t, t + T, … in order, warp butterflies, the warps' results in order), the weights e^{m_c−M} go to shared
 * memory, and each of G groups of D threads sums Σ_c e^{m_c−M}·acc_c[d] over its chunks g, g + G, …
 * before the groups are added in order g = 0…G−1: the result does not depend on block timing (it is the
 * same bits every run). Every load of the chunk loops is independent of the previous iteration's
 * result, so they overlap. Padding and out-of-range rows have no chunks and store zeros; chunks past the
 * row's end were never written and are not read.
 */
export function emitAttentionCombine(env: KernelEnv, s: Schedule, k: ScheduledKernel, sp: SplitKv = k.splitKv!): LaunchShape {
  const b = env.b;
  const o = ptxMathOps(b);
  const item = k.items[0];
  const n = item.node;
  const [, kc, , slots, positions] = n.src;
  const [N, Hq, D] = n.shape as [string | number, number, number];
  const [S, L] = kc.shape as number[];
  const C = sp.chunks, stride = D + 2;
  if (C * 4 > SHARED_LIMIT / 2) throw new Error(`attention combine: ${C} chunks do not fit shared memory (use a larger chunk)`);
  const { groups: G, threads: T } = attentionCombineShape(D, C);
  const Wc = T / 32;
  const tid = env.special('%tid.x');
  const lane = env.hoisted('lane', () => { const r = b.reg('u32'); b.ins('and.b32', r, tid, '31'); return r; });
  const warp = env.hoisted('warp', () => { const r = b.reg('u32'); b.ins('shr.u32', r, tid, '5'); return r; });
  const [rowIx, hIx] = decompose(env, env.special('%ctaid.x'), [N, Hq]);
  const ex = new ExprEmitter(env, (x) => externalSource(s, k, x) ?? { kind: 'inline' });
  b.comment(`${n}: combine of up to ${C} chunks of ${sp.chunk} positions, ${G} groups of ${D} threads`);
  const { slot, pos, ok } = rowSlot(b, ex, slots, positions, rowIx, L, S);
  // chunks holding positions 0…p: ⌈(p + 1)/P⌉, none for padding or out-of-range rows
  const nc = b.reg('u32');
  b.ins('add.s32', nc, pos, String(sp.chunk));
  b.ins('div.u32', nc, nc, String(sp.chunk));
  b.ins('selp.b32', nc, nc, '0', ok);
  // (row, h)'s partials: chunk c at ((row·Hq + h)·chunks + c)·(D + 2)
  const rh = b.reg('u32');
  const rowR = rowIx.r === null ? String(rowIx.k) : rowIx.r;
  const hR = hIx.r === null ? String(hIx.k) : hIx.r;
  if (rowIx.r !== null && rowIx.k !== 0) throw new Error('attention combine: unexpected row offset');
  b.ins('mad.lo.u32', rh, rowR, String(Hq), hR);
  const at = b.reg('u32');
  b.ins('mul.lo.u32', at, rh, String(C * stride));
  const base = address(b, env.buffer(sp.scratch), at, 4);
  const chunkAddr = (c: string): string => {
    const a = b.reg('u64');
    b.ins('mad.wide.u32', a, c, String(stride * 4), base);
    return a;
  };
  const fs = b.sharedArray('comb_f', C * 4, 16), redMax = b.sharedArray('comb_max', Wc * 4, 16), redSum = b.sharedArray('comb_sum', Wc * 4, 16);
  const part = b.sharedArray('comb_part', G * D * 4, 16);
  const sAddr = (arr: string): string => { const r = b.reg('u32'); b.ins('mov.u32', r, arr); return r; };
  const fsBase = sAddr(fs), maxBase = sAddr(redMax), sumBase = sAddr(redSum), partBase = sAddr(part);
  const lane0 = b.reg('pred');
  b.ins('setp.eq.u32', lane0, lane, '0');
  /** v reduced over the block (butterflies in each warp, then the warps in order); every thread gets it */
  const blockReduce = (v: string, op: 'max' | 'add', red: string): string => {
    let x = v;
    for (let sh = 16; sh >= 1; sh >>= 1) {
      const y = b.reg('f32'), z = b.reg('f32');
      b.ins('shfl.sync.bfly.b32', y, x, String(sh), '31', '-1');
      b.ins(op === 'max' ? 'max.f32' : 'add.rn.f32', z, x, y);
      x = z;
    }
    const wa = b.reg('u32');
    b.ins('mad.lo.u32', wa, warp, '4', red);
    b.insIf(lane0, false, 'st.shared.f32', `[${wa}]`, x);
    b.ins('bar.sync', '0');
    let acc = '';
    for (let w = 0; w < Wc; w++) {
      const f = b.reg('f32');
      b.ins('ld.shared.f32', f, `[${red}+${w * 4}]`);
      if (w === 0) acc = f; else { const z = b.reg('f32'); b.ins(op === 'max' ? 'max.f32' : 'add.rn.f32', z, acc, f); acc = z; }
    }
    return acc;
  };
  // the block's maximum of the chunk maxima
  const localMax = b.reg('f32');
  b.ins('mov.f32', localMax, f32Hex(-Infinity));
  forLoop(env, 'chunk_max', tid, nc, T, (c) => {
    const m = b.reg('f32');
    b.ins('ld.global.nc.f32', m, `[${chunkAddr(c)}+${D * 4}]`);
    b.ins('max.f32', localMax, localMax, m);
  });
  const M = blockReduce(localMax, 'max', maxBase);
  // the weights e^{m_c−M} into shared memory, the sum Σ_c e^{m_c−M}·l_c over the block
  const localSum = b.reg('f32');
  b.ins('mov.f32', localSum, f32Hex(0));
  forLoop(env, 'chunk_w', tid, nc, T, (c) => {
    const a = chunkAddr(c);
    const m = b.reg('f32'), l = b.reg('f32');
    b.ins('ld.global.nc.f32', m, `[${a}+${D * 4}]`);
    b.ins('ld.global.nc.f32', l, `[${a}+${(D + 1) * 4}]`);
    const f = expF(o, o.sub(m, M));
    const fa = b.reg('u32');
    b.ins('mad.lo.u32', fa, c, '4', fsBase);
    b.ins('st.shared.f32', `[${fa}]`, f);
    b.ins('fma.rn.f32', localSum, f, l, localSum);
  });
  const sum = blockReduce(localSum, 'add', sumBase);
  // group g = t / D, dim d = t mod D: Σ over chunks g, g + G, … of e^{m_c−M}·acc_c[d]
  const g = b.reg('u32'), d = b.reg('u32'), inGroup = b.reg('pred');
  b.ins('div.u32', g, tid, String(D));
  b.ins('rem.u32', d, tid, String(D));
  b.ins('setp.lt.u32', inGroup, tid, String(G * D));
  const skip = b.newLabel('no_group');
  b.insIf(inGroup, true, 'bra', skip);
  const num = b.reg('f32');
  b.ins('mov.f32', num, f32Hex(0));
  forLoop(env, 'chunk_acc', g, nc, G, (c) => {
    const fa = b.reg('u32'), f = b.reg('f32'), x = b.reg('f32'), el = b.reg('u64');
    b.ins('mad.lo.u32', fa, c, '4', fsBase);
    b.ins('ld.shared.f32', f, `[${fa}]`);
    b.ins('mad.wide.u32', el, d, '4', chunkAddr(c));
    b.ins('ld.global.nc.f32', x, `[${el}]`);
    b.ins('fma.rn.f32', num, f, x, num);
  });
  const pa = b.reg('u32');
  b.ins('mad.lo.u32', pa, tid, '4', partBase);
  b.ins('st.shared.f32', `[${pa}]`, num);
  b.label(skip);
  b.ins('bar.sync', '0');
  // threads 0…D−1: the groups in order, normalized, out[row, h, d]
  const first = b.reg('pred');
  b.ins('setp.lt.u32', first, tid, String(D));
  const done = b.newLabel('done');
  b.insIf(first, true, 'bra', done);
  const ta = b.reg('u32');
  b.ins('mad.lo.u32', ta, tid, '4', partBase);
  let total = '';
  for (let j = 0; j < G; j++) {
    const f = b.reg('f32');
    b.ins('ld.shared.f32', f, `[${ta}+${j * D * 4}]`);
    if (j === 0) total = f; else total = o.add(total, f);
  }
  const any = b.reg('pred');
  b.ins('setp.ne.u32', any, nc, '0');
  const val = b.reg('f32');
  b.ins('selp.f32', val, o.div(total, sum), f32Hex(0), any);
  const idx = b.reg('u32');
  b.ins('mad.lo.u32', idx, rh, String(D), tid);
  storeAt(env, item.store!, n, idx, val);
  b.label(done);
  return { block: T, grid: [gridOf([N, Hq], 1), 1, 1] };
}
