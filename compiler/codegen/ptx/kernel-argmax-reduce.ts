// The second half of a fused argmax(linear(x, w), -1): one block per row folds that row's `count`
// (max, index) partials (written by the linear's blocks) in argmax order and stores the index.
import type { Schedule, ScheduledKernel } from '../../schedule/types.ts';
import type { LaunchShape } from './kernel-common.ts';
import { forLoop, gridOf } from './kernel-common.ts';
import type { KernelEnv } from './kernel-env.ts';
import type { Pair } from './reduce.ts';
import { nonePair, Reducer } from './reduce.ts';

/** Partial j of a row: (value, index) at rowBase + j of the partials' values and indices buffers. */
export function loadPartial(env: KernelEnv, rowBase: string, j: string, vals: string, idxs: string): Pair {
  const b = env.b;
  const idx = b.reg('u32'), av = b.reg('u64'), ai = b.reg('u64');
  b.ins('add.u32', idx, rowBase, j);
  b.ins('mad.wide.u32', av, idx, '4', vals);
  b.ins('mad.wide.u32', ai, idx, '4', idxs);
  const c = { v: b.reg('f32'), i: b.reg('u32') };
  b.ins('ld.global.nc.f32', c.v, `[${av}]`);
  b.ins('ld.global.nc.u32', c.i, `[${ai}]`);
  return c;
}

const THREADS = 256;

/**
 * `onlyFailed` (the certified head's fallback, docs/certified-argmax.md): an i32 per-row buffer; a row whose
 * entry is 0 (certified: its token is written already) returns at once, before any barrier.
 */
export function emitArgmaxReduceKernel(env: KernelEnv, s: Schedule, k: ScheduledKernel, count: number, onlyFailed?: string): LaunchShape {
  const b = env.b;
  const p = k.partials!;
  if (onlyFailed) {
    const a = b.reg('u64'), f = b.reg('u32'), q = b.reg('pred');
    b.ins('mad.wide.u32', a, env.special('%ctaid.x'), '4', env.buffer(onlyFailed));
    b.ins('ld.global.u32', f, `[${a}]`);
    b.ins('setp.eq.u32', q, f, '0');
    b.insIf(q, false, 'ret');
  }
  const am = k.items[k.items.length - 1];
  const mDims = am.node.shape;
  const tid = env.special('%tid.x');
  const lane = env.hoisted('lane', () => { const r = b.reg('u32'); b.ins('and.b32', r, tid, '31'); return r; });
  const warp = env.hoisted('warp', () => { const r = b.reg('u32'); b.ins('shr.u32', r, tid, '5'); return r; });
  const red = new Reducer(b, THREADS / 32, lane, warp);
  const row = env.special('%ctaid.x');
  const vals = env.buffer(p.values), idxs = env.buffer(p.indices), out = env.buffer(am.store!);
  const rowBase = env.hoisted('rowbase', () => { const r = b.reg('u32'); b.ins('mul.lo.u32', r, row, String(p.stride)); return r; });
  const best = nonePair(b, 'f32');
  forLoop(env, 'part', tid, String(count), THREADS, (j) => {
    const c = loadPartial(env, rowBase, j, vals, idxs);
    const take = red.before('f32', c, best);
    b.ins('selp.f32', best.v, c.v, best.v, take);
    b.ins('selp.b32', best.i, c.i, best.i, take);
  });
  const win = red.argmax('f32', best);
  const q = b.reg('pred'), skip = b.newLabel('skip'), a = b.reg('u64');
  b.ins('setp.ne.u32', q, tid, '0');
  b.insIf(q, false, 'bra', skip);
  b.ins('mad.wide.u32', a, row, '4', out);
  b.ins('st.global.u32', `[${a}]`, win.i);
  b.label(skip);
  return { block: THREADS, grid: [gridOf(mDims, 1), 1, 1] };
}
