// Scatter kernel (kv_write, docs/targets.md): one thread per element (n, h, d) of the new rows
// [N, Hkv, D]. Each item evaluates its new-row expression at the thread's coordinates (the k slice of the
// fused QKV projection with RoPE applied, inlined) and stores it, rounded to the cache dtype, into its
// cache's buffer at [slots[n], positions[n], h, d]: the cache input's own buffer (donation), so the
// write is in place. Rows at a negative position, and (guarding what the runtime checks before launch)
// slots outside [0, S) or positions at or past Lmax, write nothing.
import type { Schedule, ScheduledKernel } from '../../schedule/types.ts';
import { ExprEmitter } from './expr.ts';
import { decompose, linearIndex } from './index-math.ts';
import type { LaunchShape } from './kernel-common.ts';
import { elementIndex, externalSource, gridOf, storeAt } from './kernel-common.ts';
import type { KernelEnv } from './kernel-env.ts';

export function emitScatterKernel(env: KernelEnv, s: Schedule, k: ScheduledKernel): LaunchShape {
  const b = env.b;
  const staticSize = k.shape.every((d) => typeof d === 'number') ? (k.shape as number[]).reduce((a, d) => a * d, 1) : Infinity;
  const block = Math.min(256, Math.max(32, Math.ceil(staticSize / 32) * 32));
  const { idx, done } = elementIndex(env, block, () => env.product(k.shape));
  const coords = decompose(env, idx, k.shape);
  const ex = new ExprEmitter(env, (n) => externalSource(s, k, n) ?? { kind: 'inline' });
  for (const item of k.items) {
    const n = item.node;
    const [cache, rows, slots, positions] = n.src;
    const [S, L, Hk, D] = cache.shape as number[];
    b.comment(`${n}`);
    const slot = ex.value(slots, [coords[0]]);
    const pos = ex.value(positions, [coords[0]]);
    // unsigned compares: a negative position or slot is a huge u32, so one test per bound
    const ok = b.reg('pred'), okSlot = b.reg('pred');
    b.ins('setp.lt.u32', ok, pos, String(L));
    b.ins('setp.lt.u32', okSlot, slot, String(S));
    b.ins('and.pred', ok, ok, okSlot);
    const at = b.reg('u32'), dst = b.reg('u32');
    b.ins('mad.lo.u32', at, slot, String(L), pos);
    b.ins('mad.lo.u32', dst, at, String(Hk * D), linearIndex(env, [Hk, D], coords.slice(1)));
    storeAt(env, item.store!, n, dst, ex.value(rows, coords), ok);
  }
  b.label(done);
  return { block, grid: [gridOf(k.shape, block), 1, 1] };
}
