// scatter_add(u[M, D], ids[M]) {rows}: out[v, :] = Σ_{m: ids[m] = v} u[m, :] (the embedding gradient), with
// no atomics and no one-hot matrix: a block owns RB output rows × 256 columns, each thread one column, and
// every thread walks all M ids in ascending m (one broadcast load per id), adding u[m, d] into its own
// shared-memory accumulator of the matching row. So each output is summed in ascending m, the same order
// run to run; u is read once in total (each row matches one block per column range), coalesced along d.
// An id outside [0, rows) adds nothing (the interpreter rejects it; the trainer checks ids on the host).
import { itemSize } from '../../ir/dtype.ts';
import type { Schedule, ScheduledKernel } from '../../schedule/types.ts';
import { viewBase } from '../../schedule/types.ts';
import type { LaunchShape } from './kernel-common.ts';
import type { KernelEnv } from './kernel-env.ts';
import { emitLoad } from './legalize.ts';

/** Output rows per block (32 rows × 256 columns of f32 accumulators: 32 KB of shared memory). */
export const SCATTER_ROWS = 32;
const THREADS = 256;

export function emitScatterAddKernel(env: KernelEnv, s: Schedule, k: ScheduledKernel): LaunchShape {
  const b = env.b;
  const item = k.items[0];
  const n = item.node;
  const [u, ids] = n.src;
  const V = n.argOf<number>('rows');
  const D = u.shape[1];
  if (typeof D !== 'number') throw new Error(`scatter_add kernel: the update width must be static, got ${u}`);
  const M = u.shape[0];
  const colBlocks = Math.ceil(D / THREADS), rowBlocks = Math.ceil(V / SCATTER_ROWS);
  const uBase = env.buffer(s.bufferOf.get(viewBase(u))!);
  const iBase = env.buffer(s.bufferOf.get(viewBase(ids))!);
  const oBase = env.buffer(item.store!);
  const acc = b.sharedArray('scatter_acc', SCATTER_ROWS * THREADS * 4, 16);
  const tid = env.special('%tid.x'), cta = env.special('%ctaid.x');
  const u32 = (op: string, ...xs: string[]): string => { const r = b.reg('u32'); b.ins(op, r, ...xs); return r; };
  const vb = u32('div.u32', cta, String(colBlocks)), db = u32('rem.u32', cta, String(colBlocks));
  const v0 = u32('mul.lo.u32', vb, String(SCATTER_ROWS));
  const d = u32('mad.lo.u32', db, String(THREADS), tid);
  const colOk = b.reg('pred');
  b.ins('setp.lt.u32', colOk, d, String(D));
  const done = b.newLabel('done');
  b.insIf(colOk, true, 'bra', done);
  // this thread's accumulators: acc[r·256 + tid]
  const mine = u32('mov.u32', acc);
  b.ins('mad.lo.u32', mine, tid, '4', mine);
  const zero = '0f00000000';
  for (let r = 0; r < SCATTER_ROWS; r++) b.ins('st.shared.f32', `[${mine}+${4 * r * THREADS}]`, zero);
  const m = b.reg('u32'), idp = b.reg('u64'), up = b.reg('u64');
  b.ins('mov.u32', m, '0');
  b.ins('mov.u64', idp, iBase);
  b.ins('mad.wide.u32', up, d, String(itemSize(u.dtype)), uBase);
  const mEnd = env.dim(M);
  const top = b.newLabel('scatter_m'), end = b.newLabel('scatter_m_end'), skip = b.newLabel('scatter_skip');
  b.label(top);
  const past = b.reg('pred');
  b.ins('setp.ge.u32', past, m, mEnd);
  b.insIf(past, false, 'bra', end);
  b.indent(() => {
    // the id as u32 (i64 ids: the low word; an id ≥ 2^32 or negative is out of range either way)
    const id = u32('mov.u32', '0');
    if (itemSize(ids.dtype) === 8) {
      const hi = b.reg('u32'), big = b.reg('pred');
      b.ins('ld.global.nc.v2.u32', `{${id}, ${hi}}`, `[${idp}]`);
      b.ins('setp.ne.u32', big, hi, '0');
      b.ins('selp.u32', id, '4294967295', id, big);
    } else b.ins('ld.global.nc.u32', id, `[${idp}]`);
    const r = u32('sub.u32', id, v0);
    const out = b.reg('pred');
    // unsigned: below v0 wraps to a huge value; also rows past V in the last block
    b.ins('setp.ge.u32', out, r, String(SCATTER_ROWS));
    const big = b.reg('pred');
    b.ins('setp.ge.u32', big, id, String(V));
    b.ins('or.pred', out, out, big);
    b.insIf(out, false, 'bra', skip);
    const x = emitLoad(b, u.dtype, up, true);
    const at = u32('mad.lo.u32', r, String(THREADS * 4), mine);
    const y = b.reg('f32');
    b.ins('ld.shared.f32', y, `[${at}]`);
    b.ins('add.f32', y, y, x);
    b.ins('st.shared.f32', `[${at}]`, y);
    b.label(skip);
    b.ins('add.u32', m, m, '1');
    b.ins('add.s64', idp, idp, String(itemSize(ids.dtype)));
    b.ins('add.s64', up, up, String(D * itemSize(u.dtype)));
    b.ins('bra', top);
  });
  b.label(end);
  // out[v0 + r, d] for the rows that exist
  const op = b.reg('u64');
  b.ins('mad.wide.u32', op, u32('mad.lo.u32', v0, String(D), d), '4', oBase);
  for (let r = 0; r < SCATTER_ROWS; r++) {
    const ok = b.reg('pred'), y = b.reg('f32');
    b.ins('setp.lt.u32', ok, u32('add.u32', v0, String(r)), String(V));
    b.ins('ld.shared.f32', y, `[${mine}+${4 * r * THREADS}]`);
    b.insIf(ok, false, 'st.global.f32', `[${op}+${4 * r * D}]`, y);
  }
  b.label(done);
  return { block: THREADS, grid: [rowBlocks * colBlocks, 1, 1] };
}
