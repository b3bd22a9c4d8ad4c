// Matmul kernel: out[m, n] = Σ_k a[m, k]·b[k, n] (b stored [K, N]), f32 accumulate, one thread per
// output element. Adjacent threads take adjacent n, so each step's b loads are coalesced. Simple and
// correct; the speculators only use `linear`.
import { itemSize } from '../../ir/dtype.ts';
import type { Schedule, ScheduledKernel } from '../../schedule/types.ts';
import { viewBase } from '../../schedule/types.ts';
import type { LaunchShape } from './kernel-common.ts';
import { elementIndex, forLoop, gridOf } from './kernel-common.ts';
import type { KernelEnv } from './kernel-env.ts';
import { emitLoad, f32Hex } from './legalize.ts';
import { rowAddress } from './kernel-linear.ts';

export function emitMatmulKernel(env: KernelEnv, s: Schedule, k: ScheduledKernel): LaunchShape {
  const b = env.b;
  const item = k.items[0];
  const [a, w] = item.node.src;
  const K = a.shape[a.shape.length - 1], N = w.shape[1];
  const ea = itemSize(a.dtype), eb = itemSize(w.dtype);
  const block = 256;
  const aBase = env.buffer(s.bufferOf.get(viewBase(a))!);
  const bBase = env.buffer(s.bufferOf.get(viewBase(w))!);
  const oBase = env.buffer(item.store!);
  const nOp = env.dim(N);
  const { idx, done } = elementIndex(env, block, () => env.product(item.node.shape));
  const m = b.reg('u32'), n = b.reg('u32');
  b.ins('div.u32', m, idx, nOp);
  b.ins('rem.u32', n, idx, nOp);
  const ap = rowAddress(env, aBase, m, K, ea);
  const bp = b.reg('u64'), acc = b.reg('f32');
  b.ins('mad.wide.u32', bp, n, String(eb), bBase);
  const bStep = typeof N === 'number' ? String(N * eb) : b.reg('u64');
  if (typeof N !== 'number') b.ins('mul.wide.u32', bStep, nOp, String(eb));
  b.ins('mov.f32', acc, f32Hex(0));
  forLoop(env, 'k', '0', env.dim(K), 1, () => {
    const x = emitLoad(b, a.dtype, ap, true), y = emitLoad(b, w.dtype, bp, true);
    b.ins('fma.rn.f32', acc, x, y, acc);
    b.ins('add.s64', ap, ap, String(ea));
    b.ins('add.s64', bp, bp, bStep);
  });
  const out = b.reg('u64');
  b.ins('mad.wide.u32', out, idx, '4', oBase);
  b.ins('st.global.f32', `[${out}]`, acc);
  b.label(done);
  return { block, grid: [gridOf(item.node.shape, block), 1, 1] };
}
