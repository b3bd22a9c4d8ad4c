// The certified head's reduce (docs/certified-argmax.md): one block per row, after the one-term tensor-core
// kernel (kernel-linear-tc.ts with terms = 1) wrote each block's first C + 1 pairs per row.
//   1. the row's first C + 1 pairs among the partials (argmax order, C + 1 rounds as kernel-topk-reduce.ts):
//      candidates 1 .. C and the (C + 1)-th, the largest approximate logit outside them;
//   2. ‖x − x̂‖₂² and ‖x̂‖₂² of the row, x̂ = bf16 RN of x, as the fast kernel rounds it;
//   3. the certificate: a − c > (2E + 2^-20 (|a| + |c|)) (1 + 2^-18), E = Ŵ (‖e‖ + γ (‖x̂‖ + ‖e‖)), γ = K·2^-22,
//      the norms' sums multiplied back by (1 + K·2^-23) (+ 2^-126 for underflow); ordered compares, so NaN
//      or infinite operands fail; a row with fewer than C + 1 columns is certified (all are candidates);
//   4. the candidates' logits recomputed (warp j: candidate j; lanes take 4 k's a trip, f32 FMAs, then a fixed
//      butterfly, then × scale with one mul.rn.f32: the GEMV's contract), and the token = the first of them in
//      argmax order (NaN largest, ties → lowest index).
// It stores fail[row] (0 certified, 1 not) for every row and the token for certified rows only; the fallback
// (the three-term kernel gated on fail, and the argmax reduce of failed rows) writes the others.
import type { Schedule, ScheduledKernel } from '../../schedule/types.ts';
import { viewBase } from '../../schedule/types.ts';
import type { LaunchShape } from './kernel-common.ts';
import { forLoop, gridOf } from './kernel-common.ts';
import type { KernelEnv } from './kernel-env.ts';
import type { Pair } from './reduce.ts';
import { NONE, nonePair, Reducer } from './reduce.ts';
import { loadPartial } from './kernel-argmax-reduce.ts';
import { rowAddress } from './kernel-linear.ts';
import { widenE4m3 } from './kernel-linear-tc.ts';
import { f32Hex } from './legalize.ts';

const THREADS = 256;
const WARPS = THREADS / 32;

export function emitCertifyReduceKernel(env: KernelEnv, s: Schedule, k: ScheduledKernel, count: number): LaunchShape {
  const b = env.b;
  const p = k.partials!, cert = p.certified!;
  const C = cert.candidates, R = C + 1;
  if (C > WARPS) throw new Error(`codegen: certified head with ${C} candidates (at most ${WARPS}, one warp each)`);
  const am = k.items[k.items.length - 1];
  const [x, w] = k.items[0].node.src;
  const K = x.shape[x.shape.length - 1] as number;
  const eb = w.dtype === 'bf16' ? 2 : 1;
  const mDims = am.node.shape;
  const tid = env.special('%tid.x');
  const lane = env.hoisted('lane', () => { const r = b.reg('u32'); b.ins('and.b32', r, tid, '31'); return r; });
  const warp = env.hoisted('warp', () => { const r = b.reg('u32'); b.ins('shr.u32', r, tid, '5'); return r; });
  const red = new Reducer(b, WARPS, lane, warp);
  const row = env.special('%ctaid.x');
  const vals = env.buffer(p.values), idxs = env.buffer(p.indices);
  const xBase = env.buffer(s.bufferOf.get(viewBase(x))!), wBase = env.buffer(s.bufferOf.get(viewBase(w))!);
  const out = env.buffer(am.store!), fail = env.buffer(cert.fail), norm = env.buffer(cert.certnorm);
  const scale = p.scale ? env.buffer(p.scale) : null;
  const f = (v: number): string => f32Hex(v);
  const f32 = (op: string, ...a: string[]): string => { const r = b.reg('f32'); b.ins(op, r, ...a); return r; };

  // 1. the row's first C + 1 pairs (every thread holds them)
  const rowBase = env.hoisted('rowbase', () => { const r = b.reg('u32'); b.ins('mul.lo.u32', r, row, String(p.stride * R)); return r; });
  const picked: Pair[] = [];
  for (let round = 0; round < R; round++) {
    const best = nonePair(b, 'f32');
    const after = picked[round - 1];
    forLoop(env, `part${round}`, tid, String(count * R), THREADS, (j) => {
      const c = loadPartial(env, rowBase, j, vals, idxs);
      const take = red.before('f32', c, best);
      if (after) b.ins('and.pred', take, take, red.before('f32', after, c));
      b.ins('selp.f32', best.v, c.v, best.v, take);
      b.ins('selp.b32', best.i, c.i, best.i, take);
    });
    picked.push(red.argmax('f32', best));
  }

  // 2. ‖e‖², ‖x̂‖² of the row
  const se = b.reg('f32'), sh = b.reg('f32');
  b.ins('mov.f32', se, f(0));
  b.ins('mov.f32', sh, f(0));
  const xRow = b.reg('u32');
  b.ins('mul.lo.u32', xRow, row, String(K));
  forLoop(env, 'norm', tid, String(K), THREADS, (kk) => {
    const i = b.reg('u32'), a = b.reg('u64'), v = b.reg('f32'), h = b.reg('b16'), xh = b.reg('f32'), e = b.reg('f32');
    b.ins('add.u32', i, xRow, kk);
    b.ins('mad.wide.u32', a, i, '4', xBase);
    b.ins('ld.global.nc.f32', v, `[${a}]`);
    b.ins('cvt.rn.bf16.f32', h, v);
    b.ins('cvt.f32.bf16', xh, h);
    b.ins('sub.rn.f32', e, v, xh); // exact
    b.ins('fma.rn.f32', se, e, e, se);
    b.ins('fma.rn.f32', sh, xh, xh, sh);
  });
  const seT = red.sum('f32', se), shT = red.sum('f32', sh);

  // 3. the certificate (every thread computes it; thread 0 uses it)
  const up = f(1 + K * 2 ** -23);
  const ne = f32('sqrt.rn.f32', f32('fma.rn.f32', seT, up, f(2 ** -126)));
  const nh = f32('sqrt.rn.f32', f32('fma.rn.f32', shT, up, f(2 ** -126)));
  const wn = b.reg('f32');
  b.ins('ld.global.nc.f32', wn, `[${norm}]`);
  const inner = f32('fma.rn.f32', f32('add.rn.f32', nh, ne), f(K * 2 ** -22), ne); // ‖e‖ + γ(‖x̂‖ + ‖e‖)
  const E = f32('mul.rn.f32', wn, inner);
  const a0 = picked[0].v, c0 = picked[C].v;
  const mag = f32('add.rn.f32', f32('abs.f32', a0), f32('abs.f32', c0));
  const thr = f32('mul.rn.f32', f32('fma.rn.f32', mag, f(2 ** -20), f32('add.rn.f32', E, E)), f(1 + 2 ** -18));
  const gap = f32('sub.rn.f32', a0, c0);
  const ok = b.reg('pred'), fin = b.reg('pred'), short = b.reg('pred');
  b.ins('setp.gt.f32', ok, gap, thr);
  b.ins('setp.lt.f32', fin, f32('abs.f32', a0), f(Infinity));
  b.ins('and.pred', ok, ok, fin);
  b.ins('setp.lt.f32', fin, f32('abs.f32', c0), f(Infinity));
  b.ins('and.pred', ok, ok, fin);
  b.ins('setp.eq.u32', short, picked[C].i, NONE); // fewer than C + 1 columns: all are candidates
  b.ins('or.pred', ok, ok, short);

  // 4. the candidates' logits, warp j recomputing candidate j (none: left as the "none" pair)
  const slots = b.sharedArray('cert_slots', C * 8, 8);
  const slotBase = b.reg('u32');
  b.ins('mov.u32', slotBase, slots);
  for (let j = 0; j < C; j++) {
    const skip = b.newLabel(`cand${j}`);
    const q = b.reg('pred');
    b.ins('setp.ne.u32', q, warp, String(j));
    b.insIf(q, false, 'bra', skip);
    const n = picked[j].i;
    const r = nonePair(b, 'f32');
    const none = b.reg('pred'), store = b.newLabel(`cand${j}_st`);
    b.ins('setp.eq.u32', none, n, NONE);
    b.insIf(none, false, 'bra', store);
    const wRow = rowAddress(env, wBase, n, K, eb);
    const acc = b.reg('f32');
    b.ins('mov.f32', acc, f(0));
    forLoop(env, `rc${j}`, f32Lane4(env, lane), String(K), 128, (kk) => {
      const i = b.reg('u32'), xa = b.reg('u64'), wa = b.reg('u64');
      b.ins('add.u32', i, xRow, kk);
      b.ins('mad.wide.u32', xa, i, '4', xBase);
      const xv = [0, 1, 2, 3].map(() => b.reg('f32'));
      b.ins('ld.global.nc.v4.f32', `{${xv.join(', ')}}`, `[${xa}]`);
      b.ins('mad.wide.u32', wa, kk, String(eb), wRow);
      let words: string[];
      if (eb === 2) {
        words = [b.reg('u32'), b.reg('u32')];
        b.ins('ld.global.nc.v2.u32', `{${words.join(', ')}}`, `[${wa}]`);
      } else {
        const wd = b.reg('u32');
        b.ins('ld.global.nc.u32', wd, `[${wa}]`);
        words = widenE4m3(b, wd); // exact
      }
      words.forEach((wd, h) => {
        const lo = b.reg('u32'), hi = b.reg('u32'), fl = b.reg('f32'), fh = b.reg('f32');
        b.ins('shl.b32', lo, wd, '16');
        b.ins('and.b32', hi, wd, '0xFFFF0000');
        b.ins('mov.b32', fl, lo);
        b.ins('mov.b32', fh, hi);
        b.ins('fma.rn.f32', acc, xv[2 * h], fl, acc);
        b.ins('fma.rn.f32', acc, xv[2 * h + 1], fh, acc);
      });
    });
    let sum = acc;
    for (const m of [16, 8, 4, 2, 1]) {
      const o = b.reg('f32'), t = b.reg('f32');
      b.ins('shfl.sync.bfly.b32', o, sum, String(m), '31', '-1');
      b.ins('add.rn.f32', t, sum, o);
      sum = t;
    }
    if (scale) {
      const sa = b.reg('u64'), sv = b.reg('f32');
      b.ins('mad.wide.u32', sa, n, '4', scale);
      b.ins('ld.global.nc.f32', sv, `[${sa}]`);
      b.ins('mul.rn.f32', sum, sum, sv);
    }
    b.ins('mov.f32', r.v, sum);
    b.ins('mov.u32', r.i, n);
    b.label(store);
    const l0 = b.reg('pred'), sa = b.reg('u32');
    b.ins('setp.eq.u32', l0, lane, '0');
    b.ins('add.u32', sa, slotBase, String(j * 8));
    b.insIf(l0, false, 'st.shared.f32', `[${sa}]`, r.v);
    b.insIf(l0, false, 'st.shared.u32', `[${sa}+4]`, r.i);
    b.label(skip);
  }
  b.ins('bar.sync', '0');

  // thread 0: the token (certified rows) and the row's fail flag
  const q = b.reg('pred'), done = b.newLabel('done');
  b.ins('setp.ne.u32', q, tid, '0');
  b.insIf(q, false, 'bra', done);
  let best = nonePair(b, 'f32');
  for (let j = 0; j < C; j++) {
    const c = { v: b.reg('f32'), i: b.reg('u32') };
    b.ins('ld.shared.f32', c.v, `[${slotBase}+${j * 8}]`);
    b.ins('ld.shared.u32', c.i, `[${slotBase}+${j * 8 + 4}]`);
    best = red.pick('f32', red.before('f32', c, best), c, best);
  }
  const fa = b.reg('u64'), oa = b.reg('u64'), flag = b.reg('u32');
  b.ins('mad.wide.u32', fa, row, '4', fail);
  b.ins('selp.u32', flag, '0', '1', ok);
  b.ins('st.global.u32', `[${fa}]`, flag);
  b.ins('mad.wide.u32', oa, row, '4', out);
  b.insIf(ok, false, 'st.global.u32', `[${oa}]`, best.i);
  b.label(done);
  return { block: THREADS, grid: [gridOf(mDims, 1), 1, 1] };
}

/** 4·lane: the first k of a lane's 4-wide trips. */
function f32Lane4(env: KernelEnv, lane: string): string {
  const r = env.b.reg('u32');
  env.b.ins('shl.b32', r, lane, '2');
  return r;
}
