// scatter_add(u[M, D], ids[M]) {rows}: out[v, :] = Σ_{m: ids[m] = v} u[m, :] (the embedding gradient), with
// no atomics and no one-hot matrix. A block owns RB output rows × 256 columns (each thread one column,
// accumulators in shared memory) and walks the ids in chunks of 256, one id per thread: each thread flags
// whether its id falls in the block's rows, an ordered compaction (warp prefix sums by up-shuffles, then
// the warps' counts) lists the chunk's matching m in ascending order, and every thread adds u[m, d] for
// the listed m only. So each output is summed in ascending m, the same order run to run, the ids are read
// once per block with coalesced loads, and the serial work per chunk is its few matches, not 256 ids.
// An id outside [0, rows) adds nothing (the interpreter rejects it; the trainer checks ids on the host).
import { itemSize } from '../../ir/dtype.ts';
import type { Schedule, ScheduledKernel } from '../../schedule/types.ts';
import { viewBase } from '../../schedule/types.ts';
import type { LaunchShape } from './kernel-common.ts';
import type { KernelEnv } from './kernel-env.ts';
import { emitLoad } from './legalize.ts';

/** Output rows per block (32 rows × 256 columns of f32 accumulators: 32 KB of shared memory). */
export const SCATTER_ROWS = 32;
const THREADS = 256, WARPS = THREADS / 32;

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
  const uItem = itemSize(u.dtype), idItem = itemSize(ids.dtype);
  const uBase = env.buffer(s.bufferOf.get(viewBase(u))!);
  const iBase = env.buffer(s.bufferOf.get(viewBase(ids))!);
  const oBase = env.buffer(item.store!);
  const u32 = (op: string, ...xs: string[]): string => { const r = b.reg('u32'); b.ins(op, r, ...xs); return r; };
  const acc = b.sharedArray('scatter_acc', SCATTER_ROWS * THREADS * 4, 16);
  // the chunk's matches: m and the output row (0 … RB-1), in ascending m; and each warp's match count
  const listM = u32('mov.u32', b.sharedArray('scatter_m', THREADS * 4, 16));
  const listR = u32('mov.u32', b.sharedArray('scatter_r', THREADS * 4, 16));
  const counts = u32('mov.u32', b.sharedArray('scatter_counts', WARPS * 4, 16));
  const tid = env.special('%tid.x'), cta = env.special('%ctaid.x');
  const pred = (op: string, ...xs: string[]): string => { const r = b.reg('pred'); b.ins(op, r, ...xs); return r; };
  const vb = u32('div.u32', cta, String(colBlocks)), db = u32('rem.u32', cta, String(colBlocks));
  const v0 = u32('mul.lo.u32', vb, String(SCATTER_ROWS));
  const d = u32('mad.lo.u32', db, String(THREADS), tid);
  const lane = u32('and.b32', tid, '31'), warp = u32('shr.u32', tid, '5');
  // threads past D still take part in every barrier; they only skip the adds and stores
  const colOk = pred('setp.lt.u32', d, String(D));
  const mine = u32('mov.u32', acc);
  b.ins('mad.lo.u32', mine, tid, '4', mine);
  for (let r = 0; r < SCATTER_ROWS; r++) b.ins('st.shared.f32', `[${mine}+${4 * r * THREADS}]`, '0f00000000');
  const mEnd = env.dim(M);
  const m0 = b.reg('u32');
  b.ins('mov.u32', m0, '0');
  const top = b.newLabel('scatter_chunk'), end = b.newLabel('scatter_end');
  b.label(top);
  b.insIf(pred('setp.ge.u32', m0, mEnd), false, 'bra', end);
  b.indent(() => {
    // 1. this thread's id (m = m0 + tid): its output row, or ≥ RB when it is not this block's
    const m = u32('add.u32', m0, tid);
    const id = u32('mov.u32', '4294967295');
    const inb = pred('setp.lt.u32', m, mEnd);
    const ip = b.reg('u64');
    b.ins('mad.wide.u32', ip, m, String(idItem), iBase);
    if (idItem === 8) {
      // i64 ids: the low word; an id ≥ 2^32 or negative is out of range either way
      const lo = b.reg('u32'), hi = b.reg('u32');
      b.ins('mov.u32', lo, '4294967295');
      b.ins('mov.u32', hi, '0');
      b.insIf(inb, false, 'ld.global.nc.v2.u32', `{${lo}, ${hi}}`, `[${ip}]`);
      b.ins('selp.u32', id, '4294967295', lo, pred('setp.ne.u32', hi, '0'));
    } else b.insIf(inb, false, 'ld.global.nc.u32', id, `[${ip}]`);
    const r = u32('sub.u32', id, v0);
    // unsigned: below v0 wraps to a huge value; rows past V in the last block; ids past V
    const hit = pred('setp.lt.u32', r, String(SCATTER_ROWS));
    b.ins('and.pred', hit, hit, pred('setp.lt.u32', id, String(V)));
    // 2. inclusive prefix of the flags within the warp (up-shuffles), the warp's count to shared memory
    const flag = u32('selp.u32', '1', '0', hit);
    const x = u32('mov.u32', flag);
    for (const sh of [1, 2, 4, 8, 16]) {
      const y = b.reg('u32');
      b.ins('shfl.sync.up.b32', y, x, String(sh), '0', '-1');
      b.insIf(pred('setp.ge.u32', lane, String(sh)), false, 'add.u32', x, x, y);
    }
    const cAt = u32('mov.u32', counts);
    b.ins('mad.lo.u32', cAt, warp, '4', cAt);
    b.insIf(pred('setp.eq.u32', lane, '31'), false, 'st.shared.u32', `[${cAt}]`, x);
    b.ins('bar.sync', '0');
    // 3. this thread's slot = the counts of the warps before it + its exclusive prefix; the chunk's total
    const before = u32('mov.u32', '0'), total = u32('mov.u32', '0');
    for (let w = 0; w < WARPS; w++) {
      const c = b.reg('u32');
      b.ins('ld.shared.u32', c, `[${counts}+${4 * w}]`);
      b.insIf(pred('setp.gt.u32', warp, String(w)), false, 'add.u32', before, before, c);
      b.ins('add.u32', total, total, c);
    }
    const slot = u32('add.u32', before, u32('sub.u32', x, flag));
    const at = u32('mov.u32', listM);
    b.ins('mad.lo.u32', at, slot, '4', at);
    b.insIf(hit, false, 'st.shared.u32', `[${at}]`, m);
    const atR = u32('mov.u32', listR);
    b.ins('mad.lo.u32', atR, slot, '4', atR);
    b.insIf(hit, false, 'st.shared.u32', `[${atR}]`, r);
    b.ins('bar.sync', '0');
    // 4. every listed m in order: acc[row][tid] += u[m, d]
    const j = b.reg('u32');
    b.ins('mov.u32', j, '0');
    const jTop = b.newLabel('scatter_j'), jEnd = b.newLabel('scatter_j_end');
    b.label(jTop);
    b.insIf(pred('setp.ge.u32', j, total), false, 'bra', jEnd);
    b.indent(() => {
      const mj = b.reg('u32'), rj = b.reg('u32');
      b.ins('ld.shared.u32', mj, `[${u32('mad.lo.u32', j, '4', listM)}]`);
      b.ins('ld.shared.u32', rj, `[${u32('mad.lo.u32', j, '4', listR)}]`);
      const skip = b.newLabel('scatter_skip');
      b.insIf(colOk, true, 'bra', skip);
      const up = b.reg('u64');
      b.ins('mad.wide.u32', up, u32('mad.lo.u32', mj, String(D), d), String(uItem), uBase);
      const xv = emitLoad(b, u.dtype, up, true);
      const aAt = u32('mad.lo.u32', rj, String(THREADS * 4), mine);
      const yv = b.reg('f32');
      b.ins('ld.shared.f32', yv, `[${aAt}]`);
      b.ins('add.f32', yv, yv, xv);
      b.ins('st.shared.f32', `[${aAt}]`, yv);
      b.label(skip);
      b.ins('add.u32', j, j, '1');
      b.ins('bra', jTop);
    });
    b.label(jEnd);
    // the next chunk overwrites the list and the counts
    b.ins('bar.sync', '0');
    b.ins('add.u32', m0, m0, String(THREADS));
    b.ins('bra', top);
  });
  b.label(end);
  // out[v0 + r, d] for the rows that exist
  const done = b.newLabel('done');
  b.insIf(colOk, true, 'bra', done);
  const op = b.reg('u64');
  b.ins('mad.wide.u32', op, u32('mad.lo.u32', v0, String(D), d), '4', oBase);
  for (let r = 0; r < SCATTER_ROWS; r++) {
    const y = b.reg('f32');
    b.ins('ld.shared.f32', y, `[${mine}+${4 * r * THREADS}]`);
    b.insIf(pred('setp.lt.u32', u32('add.u32', v0, String(r)), String(V)), false, 'st.global.f32', `[${op}+${4 * r * D}]`, y);
  }
  b.label(done);
  return { block: THREADS, grid: [rowBlocks * colBlocks, 1, 1] };
}
