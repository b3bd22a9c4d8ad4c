// The fused argmax's reduce run by the last block of its GEMV to finish, instead of a launch of its own
// (docs/last-block-argmax.md): every block arrives on the plan's counter after its partial stores; the
// block that arrives last folds every row's partials and resets the counter to zero.
import type { ScheduledKernel } from '../../schedule/types.ts';
import type { KernelEnv } from './kernel-env.ts';
import { foldRowPartials } from './kernel-argmax-reduce.ts';
import { forLoop } from './kernel-common.ts';

/** ARCTICC_ARGMAX_LAST_BLOCK=0 plans the reduce launch instead (a diagnostic for same-call A/B timing). */
export function lastBlockArgmax(k: ScheduledKernel): boolean {
  const v = process.env.ARCTICC_ARGMAX_LAST_BLOCK ?? '1';
  if (v !== '0' && v !== '1') throw new RangeError(`ARCTICC_ARGMAX_LAST_BLOCK must be 0 or 1, got ${JSON.stringify(v)}`);
  return v === '1' && k.partials?.counter !== undefined && k.partials.k === undefined && !k.partials.certified;
}

/**
 * Emitted after a kernel's partial stores, reached by all `threads` threads of each of its `blocks` blocks
 * (the grid); the rows are `rows` (a u32 register or immediate).
 */
export function emitLastBlockArgmax(env: KernelEnv, k: ScheduledKernel, blocks: number, threads: number, rows: string): void {
  const b = env.b;
  const tid = env.special('%tid.x');
  const counter = env.buffer(k.partials!.counter!);
  const flagAt = b.reg('u32');
  b.ins('mov.u32', flagAt, b.sharedArray('lb_last', 4, 4));
  const notT0 = b.reg('pred'), arrived = b.newLabel('lb_arrived'), leave = b.newLabel('lb_leave');
  b.comment('last block: arrive on the counter after every thread of the block stored its partials');
  b.ins('bar.sync', '0');
  b.ins('setp.ne.u32', notT0, tid, '0');
  b.insIf(notT0, false, 'bra', arrived);
  const old = b.reg('u32'), last = b.reg('pred'), flag = b.reg('u32');
  b.ins('fence.acq_rel.gpu');
  b.ins('atom.global.add.u32', old, `[${counter}]`, '1');
  b.ins('fence.acq_rel.gpu');
  b.ins('setp.eq.u32', last, old, String(blocks - 1));
  b.ins('selp.b32', flag, '1', '0', last);
  b.ins('st.shared.u32', `[${flagAt}]`, flag);
  b.label(arrived);
  b.ins('bar.sync', '0');
  const seen = b.reg('u32'), notLast = b.reg('pred');
  b.ins('ld.shared.u32', seen, `[${flagAt}]`);
  b.ins('setp.eq.u32', notLast, seen, '0');
  b.insIf(notLast, false, 'bra', leave);
  forLoop(env, 'lb_row', '0', rows, 1, (m) => {
    foldRowPartials(env, k, m, blocks, threads, 'ld.global.cg');
    b.ins('bar.sync', '0'); // the block reduction's scratch is rewritten by the next row
  });
  b.insIf(notT0, true, 'st.global.u32', `[${counter}]`, '0');
  b.label(leave);
}
