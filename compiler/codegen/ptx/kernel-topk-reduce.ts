// The second half of a fused topk(linear(x, w), k): one block per row picks the row's first k pairs (argmax
// order: NaN largest, ties → lowest index) among its `count`·k per-block partials (argmax-partials.ts), in k
// rounds, round r taking the first pair strictly after round r-1's winner (the row kernel's top-k method),
// and stores the values and/or indices the topk_values / topk_indices items ask for at [row, r]. The first k
// pairs of the row are among the partials (each is among its block's first k), and the "none" pairs a short
// block leaves lose to every real pair, of which there are N ≥ k.
import type { Schedule, ScheduledKernel } from '../../schedule/types.ts';
import type { LaunchShape } from './kernel-common.ts';
import { forLoop, gridOf } from './kernel-common.ts';
import type { KernelEnv } from './kernel-env.ts';
import type { Pair } from './reduce.ts';
import { nonePair, Reducer } from './reduce.ts';
import { loadPartial } from './kernel-argmax-reduce.ts';

const THREADS = 256;

export function emitTopkReduceKernel(env: KernelEnv, s: Schedule, k: ScheduledKernel, count: number): LaunchShape {
  const b = env.b;
  const p = k.partials!;
  const K = p.k!;
  const outs = k.items.filter((it) => it.node.op === 'topk_values' || it.node.op === 'topk_indices');
  if (outs.length === 0) throw new Error(`codegen: top-k reduce of kernel ${k.index} has no topk item (a scheduling bug)`);
  const mDims = outs[0].node.shape.slice(0, -1);
  const tid = env.special('%tid.x');
  const lane = env.hoisted('lane', () => { const r = b.reg('u32'); b.ins('and.b32', r, tid, '31'); return r; });
  const warp = env.hoisted('warp', () => { const r = b.reg('u32'); b.ins('shr.u32', r, tid, '5'); return r; });
  const red = new Reducer(b, THREADS / 32, lane, warp);
  const row = env.special('%ctaid.x');
  const vals = env.buffer(p.values), idxs = env.buffer(p.indices);
  const stores = outs.map((it) => ({ values: it.node.op === 'topk_values', base: env.buffer(it.store!) }));
  const rowBase = env.hoisted('rowbase', () => { const r = b.reg('u32'); b.ins('mul.lo.u32', r, row, String(p.stride * K)); return r; });
  let prev: Pair | null = null;
  for (let round = 0; round < K; round++) {
    const best = nonePair(b, 'f32');
    const after = prev;
    forLoop(env, `part${round}`, tid, String(count * K), THREADS, (j) => {
      const c = loadPartial(env, rowBase, j, vals, idxs);
      const take = red.before('f32', c, best);
      if (after) b.ins('and.pred', take, take, red.before('f32', after, c));
      b.ins('selp.f32', best.v, c.v, best.v, take);
      b.ins('selp.b32', best.i, c.i, best.i, take);
    });
    const win = red.argmax('f32', best); // every thread holds it: the next round's `after`
    const q = b.reg('pred'), skip = b.newLabel('skip'), o = b.reg('u32');
    b.ins('setp.ne.u32', q, tid, '0');
    b.insIf(q, false, 'bra', skip);
    b.ins('mad.lo.u32', o, row, String(K), String(round));
    for (const st of stores) {
      const a = b.reg('u64');
      b.ins('mad.wide.u32', a, o, '4', st.base);
      if (st.values) b.ins('st.global.f32', `[${a}]`, win.v);
      else b.ins('st.global.u32', `[${a}]`, win.i);
    }
    b.label(skip);
    prev = win;
  }
  return { block: THREADS, grid: [gridOf(mDims, 1), 1, 1] };
}
