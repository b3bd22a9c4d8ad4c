// The AdamW update on the device (issue 10, runtime/train/device-optimizer.ts): two kernels over flat f32
// tensors, 256 threads a block, 4096 elements a block (thread t takes base + t + 256·j, j < 16, so every
// load is coalesced).
//   arcticc_sumsq(g, n, partials): partials[block] = Σ g² over the block's chunk (a fixed-order warp
//     butterfly and a fixed-order sum of the 8 warp sums: deterministic, run to run).
//   arcticc_adamw(p, m, v, g, n, partials, count, hyper, decay, norm): every block first sums the same
//     `count` partials of every gradient in the same order, so each block sees the same global norm and
//     the same clip scale; then p, m, v are updated in place, as runtime/train/optimizer.ts does on the
//     host (decoupled weight decay, bias-corrected moments, global-norm clipping):
//       g' = g·scale, m = β1·m + (1−β1)·g', v = β2·v + (1−β2)·g'², p = p·(1 − lr·wd·decay) − s·m / (√v / √bc2 + ε)
//     hyper (f32[8], device memory, written per step): lr, β1, β2, ε, wd, clip, s = lr / bc1, √bc2.
//     Block 0 of a launch with `norm` ≠ 0 stores the pre-clip global norm there (for the progress line).
import { loadParamPtr as loadPtr, loadParamU32 as loadU32, PtxBuilder } from './builder.ts';
import { Reducer } from './reduce.ts';

export const ADAMW_THREADS = 256;
export const ADAMW_PER_THREAD = 16;
/** elements each block covers (the partials of a tensor of n elements: ⌈n / ADAMW_CHUNK⌉) */
export const ADAMW_CHUNK = ADAMW_THREADS * ADAMW_PER_THREAD;

/** Σ x over the block, in every thread (reduce.ts: warp butterflies, then the 8 warp sums in order). */
function blockSum(b: PtxBuilder, x: string, tid: string): string {
  const lane = b.reg('u32'), warp = b.reg('u32');
  b.ins('and.b32', lane, tid, '31');
  b.ins('shr.u32', warp, tid, '5');
  return new Reducer(b, ADAMW_THREADS / 32, lane, warp).sum('f32', x);
}

/** The element loop: `body(index register)` for each of the thread's 16 elements below n. */
function elementLoop(b: PtxBuilder, n: string, tid: string, body: (i: string) => void): void {
  const i = b.reg('u32'), j = b.reg('u32'), cta = b.reg('u32');
  b.ins('mov.u32', cta, '%ctaid.x');
  b.ins('mad.lo.u32', i, cta, String(ADAMW_CHUNK), tid);
  b.ins('mov.u32', j, '0');
  const top = b.newLabel('elem'), skip = b.newLabel('elem_skip');
  b.label(top);
  const out = b.reg('pred');
  b.ins('setp.ge.u32', out, i, n);
  b.insIf(out, false, 'bra', skip);
  b.indent(() => body(i));
  b.label(skip);
  b.ins('add.u32', i, i, String(ADAMW_THREADS));
  b.ins('add.u32', j, j, '1');
  const more = b.reg('pred');
  b.ins('setp.lt.u32', more, j, String(ADAMW_PER_THREAD));
  b.insIf(more, false, 'bra', top);
}

export function emitSumSquares(): string {
  const b = new PtxBuilder();
  const tid = b.reg('u32');
  b.ins('mov.u32', tid, '%tid.x');
  const g = loadPtr(b, 'g'), n = loadU32(b, 'n'), partials = loadPtr(b, 'partials');
  const acc = b.reg('f32');
  b.ins('mov.f32', acc, '0f00000000');
  elementLoop(b, n, tid, (i) => {
    const a = b.reg('u64'), x = b.reg('f32');
    b.ins('mad.wide.u32', a, i, '4', g);
    b.ins('ld.global.f32', x, `[${a}]`);
    b.ins('fma.rn.f32', acc, x, x, acc);
  });
  const total = blockSum(b, acc, tid);
  const not0 = b.reg('pred'), done = b.newLabel('done');
  b.ins('setp.ne.u32', not0, tid, '0');
  b.insIf(not0, false, 'bra', done);
  const cta = b.reg('u32'), a = b.reg('u64');
  b.ins('mov.u32', cta, '%ctaid.x');
  b.ins('mad.wide.u32', a, cta, '4', partials);
  b.ins('st.global.f32', `[${a}]`, total);
  b.label(done);
  return b.build('arcticc_sumsq', ADAMW_THREADS);
}

export function emitAdamW(): string {
  const b = new PtxBuilder();
  const tid = b.reg('u32');
  b.ins('mov.u32', tid, '%tid.x');
  const p = loadPtr(b, 'p'), m = loadPtr(b, 'm'), v = loadPtr(b, 'v'), g = loadPtr(b, 'g');
  const n = loadU32(b, 'n');
  const partials = loadPtr(b, 'partials');
  const count = loadU32(b, 'count');
  const hyper = loadPtr(b, 'hyper');
  const decayOn = loadU32(b, 'decay');
  const normRaw = b.reg('u64');
  b.ins('ld.param.u64', normRaw, `[${b.param('norm', 'u64')}]`);
  // the global norm: every block sums all partials, strided by thread, in the same order
  const acc = b.reg('f32'), k = b.reg('u32');
  b.ins('mov.f32', acc, '0f00000000');
  b.ins('mov.u32', k, tid);
  const top = b.newLabel('partials'), end = b.newLabel('partials_end');
  b.label(top);
  const past = b.reg('pred');
  b.ins('setp.ge.u32', past, k, count);
  b.insIf(past, false, 'bra', end);
  b.indent(() => {
    const a = b.reg('u64'), x = b.reg('f32');
    b.ins('mad.wide.u32', a, k, '4', partials);
    b.ins('ld.global.f32', x, `[${a}]`);
    b.ins('add.f32', acc, acc, x);
    b.ins('add.u32', k, k, String(ADAMW_THREADS));
    b.ins('bra', top);
  });
  b.label(end);
  const total = blockSum(b, acc, tid);
  // every thread: the norm and the clip scale (the same in every block: the same partials in the same order)
  const norm = b.reg('f32'), clip = b.reg('f32'), scale = b.reg('f32'), den = b.reg('f32'), q = b.reg('f32');
  b.ins('sqrt.rn.f32', norm, total);
  b.ins('ld.global.f32', clip, `[${hyper}+20]`);
  b.ins('add.f32', den, norm, '0f358637BD'); // + 1e-6
  b.ins('div.rn.f32', q, clip, den);
  const doClip = b.reg('pred'), pos = b.reg('pred');
  b.ins('setp.gt.f32', doClip, norm, clip);
  b.ins('setp.gt.f32', pos, clip, '0f00000000');
  b.ins('and.pred', doClip, doClip, pos);
  b.ins('selp.f32', scale, q, '0f3F800000', doClip);
  // thread 0 of block 0 reports the norm when asked
  const cta = b.reg('u32'), first = b.reg('pred'), want = b.reg('pred'), t0 = b.reg('pred');
  b.ins('mov.u32', cta, '%ctaid.x');
  b.ins('setp.eq.u32', first, cta, '0');
  b.ins('setp.eq.u32', t0, tid, '0');
  b.ins('setp.ne.u64', want, normRaw, '0');
  b.ins('and.pred', first, first, want);
  b.ins('and.pred', first, first, t0);
  const ng = b.reg('u64');
  b.ins('cvta.to.global.u64', ng, normRaw);
  b.insIf(first, false, 'st.global.f32', `[${ng}]`, norm);
  const h = (off: number): string => { const r = b.reg('f32'); b.ins('ld.global.f32', r, `[${hyper}+${off}]`); return r; };
  const lr = h(0), b1 = h(4), b2 = h(8), eps = h(12), wd = h(16), step = h(24), sq2 = h(28);
  const one = '0f3F800000';
  const c1 = b.reg('f32'), c2 = b.reg('f32'), decay = b.reg('f32'), lw = b.reg('f32'), on = b.reg('pred');
  b.ins('sub.f32', c1, one, b1);
  b.ins('sub.f32', c2, one, b2);
  b.ins('mul.f32', lw, lr, wd);
  b.ins('sub.f32', lw, one, lw);
  b.ins('setp.ne.u32', on, decayOn, '0');
  b.ins('selp.f32', decay, lw, one, on);
  elementLoop(b, n, tid, (i) => {
    const off = b.reg('u64'), ap = b.reg('u64'), am = b.reg('u64'), av = b.reg('u64'), ag = b.reg('u64');
    b.ins('mul.wide.u32', off, i, '4');
    b.ins('add.s64', ap, p, off);
    b.ins('add.s64', am, m, off);
    b.ins('add.s64', av, v, off);
    b.ins('add.s64', ag, g, off);
    const gi = b.reg('f32'), mi = b.reg('f32'), vi = b.reg('f32'), pi = b.reg('f32');
    b.ins('ld.global.f32', gi, `[${ag}]`);
    b.ins('ld.global.f32', mi, `[${am}]`);
    b.ins('ld.global.f32', vi, `[${av}]`);
    b.ins('ld.global.f32', pi, `[${ap}]`);
    b.ins('mul.f32', gi, gi, scale);
    const t = b.reg('f32');
    b.ins('mul.f32', t, c1, gi);
    b.ins('fma.rn.f32', mi, b1, mi, t);
    const t2 = b.reg('f32');
    b.ins('mul.f32', t2, c2, gi);
    b.ins('mul.f32', t2, t2, gi);
    b.ins('fma.rn.f32', vi, b2, vi, t2);
    const r = b.reg('f32'), d = b.reg('f32'), u = b.reg('f32');
    b.ins('sqrt.rn.f32', r, vi);
    b.ins('div.rn.f32', r, r, sq2);
    b.ins('add.f32', r, r, eps);
    b.ins('mul.f32', u, step, mi);
    b.ins('div.rn.f32', u, u, r);
    b.ins('mul.f32', d, pi, decay);
    b.ins('sub.f32', pi, d, u);
    b.ins('st.global.f32', `[${am}]`, mi);
    b.ins('st.global.f32', `[${av}]`, vi);
    b.ins('st.global.f32', `[${ap}]`, pi);
  });
  return b.build('arcticc_adamw', ADAMW_THREADS);
}
