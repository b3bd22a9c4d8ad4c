// Map kernel: one thread per element of the kernel's shape. Every item is evaluated at the thread's
// coordinates (operands inlined, other kernels' results loaded) and stored at the same linear index.
import type { Schedule, ScheduledKernel } from '../../schedule/types.ts';
import { ExprEmitter } from './expr.ts';
import { decompose } from './index-math.ts';
import type { LaunchShape } from './kernel-common.ts';
import { elementIndex, externalSource, gridOf, storeAt } from './kernel-common.ts';
import type { KernelEnv } from './kernel-env.ts';

export function emitMapKernel(env: KernelEnv, s: Schedule, k: ScheduledKernel): LaunchShape {
  const b = env.b;
  const staticSize = k.shape.every((d) => typeof d === 'number') ? (k.shape as number[]).reduce((a, d) => a * d, 1) : Infinity;
  const block = Math.min(256, Math.max(32, Math.ceil(staticSize / 32) * 32));
  const { idx, done } = elementIndex(env, block, () => env.product(k.shape));
  const coords = decompose(env, idx, k.shape);
  // this kernel's own items are recomputed where read (same thread, memoized at equal coordinates)
  const ex = new ExprEmitter(env, (n) => externalSource(s, k, n) ?? { kind: 'inline' });
  for (const item of k.items) {
    b.comment(`${item.node}`);
    storeAt(env, item.store!, item.node, idx, ex.value(item.node, coords));
  }
  b.label(done);
  return { block, grid: [gridOf(k.shape, block), 1, 1] };
}
