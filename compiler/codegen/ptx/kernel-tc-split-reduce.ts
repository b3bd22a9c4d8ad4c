// The second launch of a K-split tensor-core linear (k.tcSplit, compiler/schedule/tc-split.ts): out[m, n] =
// Σ_s scratch[s, m, n] in ascending s (a fixed order: the same sums run to run), four columns per thread
// where N % 4 = 0, then the linear's fused epilogue (the residual add, docs/fusion.md) or a plain store.
import type { Schedule, ScheduledKernel } from '../../schedule/types.ts';
import type { LaunchShape } from './kernel-common.ts';
import type { KernelEnv } from './kernel-env.ts';
import { LinearFusion } from './linear-fusion.ts';

const THREADS = 256;

export function emitTcSplitReduce(env: KernelEnv, s: Schedule, k: ScheduledKernel): LaunchShape {
  const b = env.b;
  const { slices, rows, scratch } = k.tcSplit!;
  const lin = k.items[0].node, [x, w] = lin.src;
  const N = w.shape[0];
  if (typeof N !== 'number') throw new Error(`codegen: ${lin}: a split linear needs a static N`);
  const mDims = x.shape.slice(0, -1);
  const V = N % 4 === 0 ? 4 : 1;
  // the epilogue's operands are read at (m, n); x (an expression or a buffer) is the first launch's
  const fz = k.items.length > 1 ? new LinearFusion(env, s, k) : null;
  const u32 = (op: string, ...a: string[]): string => { const r = b.reg('u32'); b.ins(op, r, ...a); return r; };
  const tid = env.special('%tid.x'), cta = env.special('%ctaid.x');
  const total = u32('mul.lo.u32', env.product(mDims), String(N));
  const idx = u32('mad.lo.u32', cta, String(THREADS), tid);
  if (V > 1) b.ins('shl.b32', idx, idx, String(Math.log2(V)));
  const ok = b.reg('pred'), done = b.newLabel('done');
  b.ins('setp.lt.u32', ok, idx, total);
  b.insIf(ok, true, 'bra', done);
  const p = b.reg('u64');
  b.ins('mad.wide.u32', p, idx, '4', env.buffer(scratch));
  const acc = Array.from({ length: V }, () => b.reg('f32')), y = Array.from({ length: V }, () => b.reg('f32'));
  const ld = (dst: string[], off: number): void => {
    if (V === 4) b.ins('ld.global.v4.f32', `{${dst.join(', ')}}`, `[${p}+${off}]`);
    else b.ins('ld.global.f32', dst[0], `[${p}+${off}]`);
  };
  const sliceBytes = rows * N * 4;
  ld(acc, 0);
  for (let sl = 1; sl < slices; sl++) {
    if (sl * sliceBytes >= 2 ** 31) { b.ins('add.s64', p, p, String(sliceBytes)); ld(y, 0); } else ld(y, sl * sliceBytes);
    for (let j = 0; j < V; j++) b.ins('add.f32', acc[j], acc[j], y[j]);
  }
  if (fz?.epilogue) {
    const m = u32('div.u32', idx, String(N)), n = u32('rem.u32', idx, String(N));
    fz.ex.scoped(() => {
      const row = fz.rowCoords(m);
      for (let j = 0; j < V; j++) {
        const nj = j === 0 ? n : u32('add.u32', n, String(j));
        fz.storeEpilogue(j === 0 ? idx : u32('add.u32', idx, String(j)), row, nj, acc[j]);
      }
    });
  } else {
    const q = b.reg('u64');
    b.ins('mad.wide.u32', q, idx, '4', env.buffer(k.items[0].store!));
    if (V === 4) b.ins('st.global.v4.f32', `[${q}]`, `{${acc.join(', ')}}`);
    else b.ins('st.global.f32', `[${q}]`, acc[0]);
  }
  b.label(done);
  return { block: THREADS, grid: [{ ceilDiv: [[...mDims, N], THREADS * V] }, 1, 1] };
}
