// GEMV/linear kernel: out[m, n] = Σ_k x[m, k]·w[n, k] (w stored [N, K], PyTorch layout), f32
// accumulate. One warp per output column n covers every row m, R rows at a time, so a weight row is
// streamed once per R rows (once in all when M ≤ R, the batch-1..4 case); lanes stride K with 16-byte
// weight loads when K allows, then a butterfly shuffle sums each row. 8 warps per block.
import { itemSize } from '../../ir/dtype.ts';
import type { FloatDType } from '../../ir/dtype.ts';
import type { Schedule, ScheduledKernel } from '../../schedule/types.ts';
import { viewBase } from '../../schedule/types.ts';
import type { LaunchShape } from './kernel-common.ts';
import { forLoop, gridOf } from './kernel-common.ts';
import type { KernelEnv } from './kernel-env.ts';
import { f32Hex } from './legalize.ts';
import { loadVector } from './vector-load.ts';

const WARPS = 8;
const ROWS = 4;

/** 64-bit address of row `row` (u32) of a [*, K] matrix with `bytes` per element. */
export function rowAddress(env: KernelEnv, base: string, row: string, k: number | string, bytes: number): string {
  const b = env.b;
  const a = b.reg('u64');
  if (typeof k === 'number') b.ins('mad.wide.u32', a, row, String(k * bytes), base);
  else { const t = b.reg('u32'); b.ins('mul.lo.u32', t, row, env.dim(k)); b.ins('mad.wide.u32', a, t, String(bytes), base); }
  return a;
}

export function emitLinearKernel(env: KernelEnv, s: Schedule, k: ScheduledKernel): LaunchShape {
  const b = env.b;
  const item = k.items[0];
  const [x, w] = item.node.src;
  const xd = x.dtype as FloatDType, wd = w.dtype as FloatDType;
  const K = x.shape[x.shape.length - 1], N = w.shape[0];
  const mDims = x.shape.slice(0, -1);
  const ew = itemSize(wd), ex = itemSize(xd);
  const vec = typeof K === 'number' && K % (16 / ew) === 0 ? 16 / ew : 1;
  const mStatic = mDims.every((d) => typeof d === 'number') ? (mDims as number[]).reduce((a, d) => a * d, 1) : undefined;
  const rows = mStatic === undefined ? ROWS : Math.max(1, Math.min(ROWS, mStatic));
  // a weight row read by a single pass is not worth keeping in L1
  const wld = mStatic !== undefined && mStatic <= rows ? 'ld.global.nc.L1::no_allocate' : 'ld.global.nc';

  const tid = env.special('%tid.x');
  const lane = env.hoisted('lane', () => { const r = b.reg('u32'); b.ins('and.b32', r, tid, '31'); return r; });
  const col = env.hoisted('col', () => {
    const wp = b.reg('u32'), r = b.reg('u32');
    b.ins('shr.u32', wp, tid, '5');
    b.ins('mad.lo.u32', r, env.special('%ctaid.x'), String(WARPS), wp);
    return r;
  });
  const xBase = env.buffer(s.bufferOf.get(viewBase(x))!);
  const wBase = env.buffer(s.bufferOf.get(viewBase(w))!);
  const oBase = env.buffer(item.store!);
  const kOp = env.dim(K), nOp = env.dim(N), mOp = env.product(mDims);
  const done = b.newLabel('done');
  const p = b.reg('pred');
  b.ins('setp.ge.u32', p, col, nOp);
  b.insIf(p, false, 'bra', done); // whole warps leave together: the shuffles below stay converged
  const wRow = rowAddress(env, wBase, col, K, ew);
  const mLast = env.hoisted('mlast', () => { const r = b.reg('u32'); b.ins('sub.s32', r, mOp, '1'); return r; });
  const kStart = env.hoisted('kstart', () => { const r = b.reg('u32'); b.ins('mul.lo.u32', r, lane, String(vec)); return r; });

  forLoop(env, 'm', '0', mOp, rows, (m0) => {
    const xRows = Array.from({ length: rows }, (_, r) => {
      const mr = b.reg('u32');
      b.ins('add.u32', mr, m0, String(r));
      b.ins('min.u32', mr, mr, mLast); // rows past M read row M-1 and are not stored
      return rowAddress(env, xBase, mr, K, ex);
    });
    const acc = xRows.map(() => { const f = b.reg('f32'); b.ins('mov.f32', f, f32Hex(0)); return f; });
    forLoop(env, 'k', kStart, kOp, 32 * vec, (kk) => {
      const wa = b.reg('u64');
      b.ins('mad.wide.u32', wa, kk, String(ew), wRow);
      const wv = loadVector(b, wd, wa, vec, wld);
      xRows.forEach((xr, r) => {
        const xa = b.reg('u64');
        b.ins('mad.wide.u32', xa, kk, String(ex), xr);
        const xv = loadVector(b, xd, xa, vec, 'ld.global.nc');
        xv.forEach((xi, i) => b.ins('fma.rn.f32', acc[r], xi, wv[i], acc[r]));
      });
    });
    for (const a of acc) for (let o = 16; o >= 1; o >>= 1) {
      const y = b.reg('f32');
      b.ins('shfl.sync.bfly.b32', y, a, String(o), '31', '-1');
      b.ins('add.f32', a, a, y);
    }
    const skip = b.newLabel('skip');
    const q = b.reg('pred');
    b.ins('setp.ne.u32', q, lane, '0');
    b.insIf(q, false, 'bra', skip);
    acc.forEach((a, r) => {
      const mr = b.reg('u32'), pr = b.reg('pred'), idx = b.reg('u32'), addr = b.reg('u64');
      b.ins('add.u32', mr, m0, String(r));
      b.ins('setp.lt.u32', pr, mr, mOp);
      b.ins('mad.lo.u32', idx, mr, nOp, col);
      b.ins('mad.wide.u32', addr, idx, '4', oBase);
      b.insIf(pr, false, 'st.global.f32', `[${addr}]`, a);
    });
    b.label(skip);
  });
  b.label(done);
  return { block: WARPS * 32, grid: [gridOf([N], WARPS), 1, 1] };
}
