// The certified head's reduce (docs/certified-argmax.md): one block per row, after the one-term tensor-core
// kernel (kernel-linear-tc.ts with terms = 1) wrote each block's first C + 1 pairs per row.
//   1. the row's first C + 1 pairs among the partials (argmax order: each thread's own first C + 1, then C + 1
//      block rounds): candidates 1 .. C and the (C + 1)-th, the largest approximate logit outside them;
//   2. ‖x − x̂‖₂² and ‖x̂‖₂² of the row, x̂ = bf16 RN of x, as the fast kernel rounds it;
//   3. the certificate: a − c > (2E + 2^-20 (|a| + |c|)) (1 + 2^-18), E = Ŵ (‖e‖ + γ (‖x̂‖ + ‖e‖)), γ = K·2^-22,
//      the norms' sums multiplied back by (1 + K·2^-23) (+ 2^-126 for underflow); ordered compares, so NaN
//      or infinite operands fail; a row with fewer than C + 1 columns is certified (all are candidates);
//   4. the candidates' logits recomputed in the same pass over x as step 2 (every thread 4 k's a trip, f32 FMAs,
//      then block sums in a fixed order, then × scale with one mul.rn.f32: the GEMV's contract), and the token =
//      the first of them in argmax order (NaN largest, ties → lowest index).
// Loads are batched for latency (a row is ~2500 partials and 4096 x's: a few trips per thread).
// It stores fail[row] (0 certified, 1 not) for every row and the token for certified rows only; the fallback
// (the three-term kernel gated on fail, and the argmax reduce of failed rows) writes the others.
import type { Schedule, ScheduledKernel } from '../../schedule/types.ts';
import { viewBase } from '../../schedule/types.ts';
import type { LaunchShape } from './kernel-common.ts';
import { forLoop, gridOf } from './kernel-common.ts';
import type { KernelEnv } from './kernel-env.ts';
import type { Pair } from './reduce.ts';
import { NONE, nonePair, Reducer } from './reduce.ts';
import { rowAddress } from './kernel-linear.ts';
import { widenE4m3 } from './kernel-linear-tc.ts';
import { f32Hex } from './legalize.ts';

const THREADS = 256;
const WARPS = THREADS / 32;

export function emitCertifyReduceKernel(env: KernelEnv, s: Schedule, k: ScheduledKernel, count: number): LaunchShape {
  const b = env.b;
  const p = k.partials!, cert = p.certified!;
  const C = cert.candidates, R = C + 1;
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

  // 1. the row's first C + 1 pairs (every thread holds them): each thread keeps its own first R of the partials
  // it scans (sorted, in registers; 4 loads in flight per trip), then R block rounds each take the first of the
  // threads' heads, whose thread pops it. Column indices are distinct across partials, so the pop is exact.
  const rowBase = env.hoisted('rowbase', () => { const r = b.reg('u32'); b.ins('mul.lo.u32', r, row, String(p.stride * R)); return r; });
  const list: Pair[] = Array.from({ length: R }, () => nonePair(b, 'f32'));
  const total = count * R, U = 4;
  const insert = (c0: Pair): void => {
    let c = c0;
    for (const slot of list) { // bubble c down the sorted list
      const take = red.before('f32', c, slot);
      const nv = b.reg('f32'), ni = b.reg('u32');
      b.ins('selp.f32', nv, slot.v, c.v, take); // what continues down: the slot's old pair where c took it
      b.ins('selp.b32', ni, slot.i, c.i, take);
      b.ins('selp.f32', slot.v, c.v, slot.v, take);
      b.ins('selp.b32', slot.i, c.i, slot.i, take);
      c = { v: nv, i: ni };
    }
  };
  forLoop(env, 'part', tid, String(total), THREADS * U, (j0) => {
    const got = Array.from({ length: U }, (_, u) => {
      const j = b.reg('u32'), q = b.reg('pred'), c = nonePair(b, 'f32'), idx = b.reg('u32'), av = b.reg('u64'), ai = b.reg('u64');
      b.ins('add.u32', j, j0, String(u * THREADS));
      b.ins('setp.lt.u32', q, j, String(total));
      b.ins('add.u32', idx, rowBase, j);
      b.ins('mad.wide.u32', av, idx, '4', vals);
      b.ins('mad.wide.u32', ai, idx, '4', idxs);
      b.insIf(q, false, 'ld.global.nc.f32', c.v, `[${av}]`);
      b.insIf(q, false, 'ld.global.nc.u32', c.i, `[${ai}]`);
      return c;
    });
    for (const c of got) insert(c);
  });
  const picked: Pair[] = [];
  for (let round = 0; round < R; round++) {
    const win = red.argmax('f32', list[0]);
    picked.push(win);
    if (round === R - 1) break;
    const pop = b.reg('pred'), real = b.reg('pred');
    b.ins('setp.eq.u32', pop, list[0].i, win.i);
    b.ins('setp.ne.u32', real, win.i, NONE);
    b.ins('and.pred', pop, pop, real);
    for (let r = 0; r < R; r++) {
      const nxt = r + 1 < R ? list[r + 1] : null;
      if (nxt) {
        b.ins('selp.f32', list[r].v, nxt.v, list[r].v, pop);
        b.ins('selp.b32', list[r].i, nxt.i, list[r].i, pop);
      } else {
        b.insIf(pop, false, 'mov.f32', list[r].v, f(-Infinity));
        b.insIf(pop, false, 'mov.u32', list[r].i, NONE);
      }
    }
  }

  // 2. one pass over the row of x (4 elements per thread and trip): ‖e‖², ‖x̂‖², and the C candidates' dot
  // products (f32 FMAs per thread in k order, then block sums in a fixed order: the GEMV's contract)
  const se = b.reg('f32'), sh = b.reg('f32');
  b.ins('mov.f32', se, f(0));
  b.ins('mov.f32', sh, f(0));
  const xRow = b.reg('u32');
  b.ins('mul.lo.u32', xRow, row, String(K));
  const cand = picked.slice(0, C).map((pr) => {
    const n = b.reg('u32'), none = b.reg('pred'), acc = b.reg('f32');
    b.ins('setp.eq.u32', none, pr.i, NONE);
    b.ins('selp.b32', n, '0', pr.i, none); // a missing candidate reads row 0, and is dropped below
    b.ins('mov.f32', acc, f(0));
    return { n, none, acc, wRow: rowAddress(env, wBase, n, K, eb) };
  });
  const k0 = b.reg('u32');
  b.ins('shl.b32', k0, tid, '2');
  forLoop(env, 'row', k0, String(K), THREADS * 4, (kk) => {
    const i = b.reg('u32'), xa = b.reg('u64');
    b.ins('add.u32', i, xRow, kk);
    b.ins('mad.wide.u32', xa, i, '4', xBase);
    const xv = [0, 1, 2, 3].map(() => b.reg('f32'));
    b.ins('ld.global.nc.v4.f32', `{${xv.join(', ')}}`, `[${xa}]`);
    const raw = cand.map((c) => {
      const wa = b.reg('u64');
      b.ins('mad.wide.u32', wa, kk, String(eb), c.wRow);
      if (eb === 2) {
        const ws = [b.reg('u32'), b.reg('u32')];
        b.ins('ld.global.nc.v2.u32', `{${ws.join(', ')}}`, `[${wa}]`);
        return ws;
      }
      const wd = b.reg('u32');
      b.ins('ld.global.nc.u32', wd, `[${wa}]`);
      return [wd];
    });
    for (const v of xv) {
      const h = b.reg('b16'), xh = b.reg('f32'), e = b.reg('f32');
      b.ins('cvt.rn.bf16.f32', h, v);
      b.ins('cvt.f32.bf16', xh, h);
      b.ins('sub.rn.f32', e, v, xh); // exact
      b.ins('fma.rn.f32', se, e, e, se);
      b.ins('fma.rn.f32', sh, xh, xh, sh);
    }
    cand.forEach((c, ci) => {
      const words = eb === 2 ? raw[ci] : widenE4m3(b, raw[ci][0]); // e4m3 → bf16 exactly
      words.forEach((wd, h) => {
        const lo = b.reg('u32'), hi = b.reg('u32'), fl = b.reg('f32'), fh = b.reg('f32');
        b.ins('shl.b32', lo, wd, '16');
        b.ins('and.b32', hi, wd, '0xFFFF0000');
        b.ins('mov.b32', fl, lo);
        b.ins('mov.b32', fh, hi);
        b.ins('fma.rn.f32', c.acc, xv[2 * h], fl, c.acc);
        b.ins('fma.rn.f32', c.acc, xv[2 * h + 1], fh, c.acc);
      });
    });
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

  // 4. the candidates' exact logits (× scale: one mul.rn.f32, the interpreter's separate mul); the token is the
  // first of them in argmax order (a missing candidate stays the "none" pair)
  let best = nonePair(b, 'f32');
  for (const c of cand) {
    let z = red.sum('f32', c.acc);
    if (scale) {
      const sa = b.reg('u64'), sv = b.reg('f32'), zs = b.reg('f32');
      b.ins('mad.wide.u32', sa, c.n, '4', scale);
      b.ins('ld.global.nc.f32', sv, `[${sa}]`);
      b.ins('mul.rn.f32', zs, z, sv);
      z = zs;
    }
    const pr = { v: b.reg('f32'), i: b.reg('u32') };
    b.ins('selp.f32', pr.v, f(-Infinity), z, c.none);
    b.ins('selp.b32', pr.i, NONE, c.n, c.none);
    best = red.pick('f32', red.before('f32', pr, best), pr, best);
  }
  // thread 0: the token (certified rows) and the row's fail flag
  const q = b.reg('pred'), done = b.newLabel('done');
  b.ins('setp.ne.u32', q, tid, '0');
  b.insIf(q, false, 'bra', done);
  const fa = b.reg('u64'), oa = b.reg('u64'), flag = b.reg('u32');
  b.ins('mad.wide.u32', fa, row, '4', fail);
  b.ins('selp.u32', flag, '0', '1', ok);
  b.ins('st.global.u32', `[${fa}]`, flag);
  b.ins('mad.wide.u32', oa, row, '4', out);
  b.insIf(ok, false, 'st.global.u32', `[${oa}]`, best.i);
  b.label(done);
  return { block: THREADS, grid: [gridOf(mDims, 1), 1, 1] };
}

