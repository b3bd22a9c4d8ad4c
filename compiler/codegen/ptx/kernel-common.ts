// Pieces every kernel template shares: the launch shape it reports, grid expressions, how a kernel
// reads nodes materialized by other kernels, and storing a value into an item's buffer.
import { itemSize } from '../../ir/dtype.ts';
import type { Node } from '../../ir/node.ts';
import type { Dim } from '../../ir/shape.ts';
import type { Schedule, ScheduledKernel } from '../../schedule/types.ts';
import { isLeaf } from '../../schedule/types.ts';
import type { GridExpr } from '../plan.ts';
import type { Source } from './expr.ts';
import { address } from './index-math.ts';
import type { KernelEnv } from './kernel-env.ts';
import { emitStore } from './legalize.ts';

export interface LaunchShape {
  readonly block: number;
  readonly grid: readonly [GridExpr, GridExpr, GridExpr];
}

/** ceil(Π dims / per) as a grid dimension: a number when every dim is static. */
export function gridOf(dims: readonly Dim[], per: number): GridExpr {
  if (dims.every((d) => typeof d === 'number')) return Math.ceil((dims as number[]).reduce((a, d) => a * d, 1) / per);
  return { ceilDiv: [[...dims], per] };
}

/** Leaves and other kernels' results are buffers (read-only here, so the .nc path); else undefined. */
export function externalSource(s: Schedule, k: ScheduledKernel, n: Node): Source | undefined {
  const buf = s.bufferOf.get(n);
  if (isLeaf(n)) return { kind: 'buffer', id: buf!, coherent: false };
  const h = s.home.get(n);
  if (h === undefined || h === k) return undefined;
  if (!buf) throw new Error(`codegen: ${n} is computed by kernel ${h.index} but never stored, and kernel ${k.index} reads it`);
  return { kind: 'buffer', id: buf, coherent: false };
}

/** Store `v` (a value of n's dtype) at linear index `idx` of buffer `id` (where `guard` holds, if given). */
export function storeAt(env: KernelEnv, id: string, n: Node, idx: string, v: string, guard?: string): void {
  emitStore(env.b, n.dtype, address(env.b, env.buffer(id), idx, itemSize(n.dtype)), v, guard);
}

/** A loop `for (i = start; i < end; i += step)` whose body sees the counter register. */
export function forLoop(env: KernelEnv, hint: string, start: string, end: string, step: number, body: (i: string) => void): void {
  const b = env.b;
  const i = b.reg('u32'), p = b.reg('pred');
  const top = b.newLabel(hint), done = b.newLabel(`${hint}_end`);
  b.ins('mov.u32', i, start);
  b.label(top);
  b.ins('setp.ge.u32', p, i, end);
  b.insIf(p, false, 'bra', done);
  b.indent(() => body(i));
  b.ins('add.u32', i, i, String(step));
  b.ins('bra', top);
  b.label(done);
}

/**
 * One thread per element: the global index ctaid·block + tid, and a jump to the returned `done` label
 * (which the caller places at the end) for threads past `total()` elements (emitted after the index).
 */
export function elementIndex(env: KernelEnv, block: number, total: () => string): { idx: string; done: string } {
  const b = env.b;
  const idx = env.hoisted('map:idx', () => {
    const r = b.reg('u32');
    b.ins('mad.lo.u32', r, env.special('%ctaid.x'), String(block), env.special('%tid.x'));
    return r;
  });
  const done = b.newLabel('done');
  const p = b.reg('pred');
  b.ins('setp.ge.u32', p, idx, total());
  b.insIf(p, false, 'bra', done);
  return { idx, done };
}
