// The two kernels of a fused Arctic step (docs/chained-step-graph.md, runtime/cuda/step-graph.ts), around
// the draft plan's launches inside the target's step graph. Both read the chain block, staged with the
// verify pass's inputs (i32 words; R = its capacity in draft rows):
//   [0] count (draft rows this step), [1..3] 0, then src[R], last[R], dst[R], cnt[R]
// src[b]: the row of the last pass's hidden output that produced row b's last token; last[b]: that token;
// dst[b]: the verify token row of row b's first draft token; cnt[b]: how many of its draft tokens are verified.
//   arcticc_chain_gather(block, cap, hsrc, hdst, tdst, H): one block per draft row b of the bucket (grid Bp):
//     hdst[b, :] = hsrc[src[b], :] and tdst[b] = last[b] for b < count, zeros for the padding rows.
//   arcticc_chain_scatter(block, cap, draft, n, stride, vtok, out): one block per draft row b:
//     for j < cnt[b]: t = draft[b·n + j] (stride 0: [B, n]) or draft[j·stride + b] ([n, B]);
//     vtok[dst[b] + j] = t (the verify's token rows) and out[dst[b] + j] = t (read back with the verify outputs).
import { loadParamPtr as loadPtr, loadParamU32 as loadU32, PtxBuilder } from './builder.ts';

export const CHAIN_GATHER = 'arcticc_chain_gather';
export const CHAIN_SCATTER = 'arcticc_chain_scatter';
export const CHAIN_GATHER_THREADS = 128;
export const CHAIN_SCATTER_THREADS = 32;
/** words before the four arrays of the chain block */
export const CHAIN_HEADER_WORDS = 4;
/** i32 words of a chain block for `capacity` draft rows */
export const chainBlockWords = (capacity: number): number => CHAIN_HEADER_WORDS + 4 * capacity;

/** block word `array`·cap + header + row (array 0 = src, 1 = last, 2 = dst, 3 = cnt) */
function blockWord(b: PtxBuilder, block: string, cap: string, array: number, row: string): string {
  const i = b.reg('u32'), a = b.reg('u64'), v = b.reg('u32');
  b.ins('mad.lo.u32', i, cap, String(array), row);
  b.ins('add.u32', i, i, String(CHAIN_HEADER_WORDS));
  b.ins('mad.wide.u32', a, i, '4', block);
  b.ins('ld.global.u32', v, `[${a}]`);
  return v;
}

export function emitChainGather(): string {
  const b = new PtxBuilder();
  const tid = b.reg('u32'), row = b.reg('u32');
  b.ins('mov.u32', tid, '%tid.x');
  b.ins('mov.u32', row, '%ctaid.x');
  const block = loadPtr(b, 'block'), cap = loadU32(b, 'cap');
  const hsrc = loadPtr(b, 'hsrc'), hdst = loadPtr(b, 'hdst'), tdst = loadPtr(b, 'tdst'), H = loadU32(b, 'H');
  const count = b.reg('u32'), live = b.reg('pred');
  b.ins('ld.global.u32', count, `[${block}]`);
  b.ins('setp.lt.u32', live, row, count);
  // a padding row copies nothing and stores zeros (src and last are read only for live rows)
  const src = b.reg('u32'), last = b.reg('u32');
  b.ins('mov.u32', src, '0');
  b.ins('mov.u32', last, '0');
  const pad = b.newLabel('pad');
  b.insIf(live, true, 'bra', pad);
  b.ins('mov.u32', src, blockWord(b, block, cap, 0, row));
  b.ins('mov.u32', last, blockWord(b, block, cap, 1, row));
  b.label(pad);
  const srcRow = b.reg('u64'), dstRow = b.reg('u64'), i = b.reg('u32');
  const si = b.reg('u32'), di = b.reg('u32');
  b.ins('mul.lo.u32', si, src, H);
  b.ins('mul.lo.u32', di, row, H);
  b.ins('mad.wide.u32', srcRow, si, '4', hsrc);
  b.ins('mad.wide.u32', dstRow, di, '4', hdst);
  b.ins('mov.u32', i, tid);
  const top = b.newLabel('copy'), end = b.newLabel('copy_end');
  b.label(top);
  const past = b.reg('pred');
  b.ins('setp.ge.u32', past, i, H);
  b.insIf(past, false, 'bra', end);
  b.indent(() => {
    const x = b.reg('f32'), as = b.reg('u64'), ad = b.reg('u64');
    b.ins('mov.f32', x, '0f00000000');
    b.ins('mad.wide.u32', as, i, '4', srcRow);
    b.ins('mad.wide.u32', ad, i, '4', dstRow);
    b.insIf(live, false, 'ld.global.f32', x, `[${as}]`);
    b.ins('st.global.f32', `[${ad}]`, x);
    b.ins('add.u32', i, i, String(CHAIN_GATHER_THREADS));
    b.ins('bra', top);
  });
  b.label(end);
  const t0 = b.reg('pred'), at = b.reg('u64');
  b.ins('setp.eq.u32', t0, tid, '0');
  b.ins('mad.wide.u32', at, row, '4', tdst);
  b.insIf(t0, false, 'st.global.u32', `[${at}]`, last);
  return b.build(CHAIN_GATHER, CHAIN_GATHER_THREADS);
}

export function emitChainScatter(): string {
  const b = new PtxBuilder();
  const tid = b.reg('u32'), row = b.reg('u32');
  b.ins('mov.u32', tid, '%tid.x');
  b.ins('mov.u32', row, '%ctaid.x');
  const block = loadPtr(b, 'block'), cap = loadU32(b, 'cap');
  const draft = loadPtr(b, 'draft'), n = loadU32(b, 'n'), stride = loadU32(b, 'stride');
  const vtok = loadPtr(b, 'vtok'), out = loadPtr(b, 'out');
  const count = b.reg('u32'), pad = b.reg('pred'), done = b.newLabel('done');
  b.ins('ld.global.u32', count, `[${block}]`);
  b.ins('setp.ge.u32', pad, row, count);
  b.insIf(pad, false, 'bra', done);
  const dst = blockWord(b, block, cap, 2, row), cnt = blockWord(b, block, cap, 3, row);
  const batchFirst = b.reg('pred');
  b.ins('setp.eq.u32', batchFirst, stride, '0');
  const j = b.reg('u32');
  b.ins('mov.u32', j, tid);
  const top = b.newLabel('tok');
  b.label(top);
  const past = b.reg('pred');
  b.ins('setp.ge.u32', past, j, cnt);
  b.insIf(past, false, 'bra', done);
  b.indent(() => {
    const bf = b.reg('u32'), nb = b.reg('u32'), idx = b.reg('u32'), a = b.reg('u64'), t = b.reg('u32');
    b.ins('mad.lo.u32', bf, row, n, j);
    b.ins('mad.lo.u32', nb, j, stride, row);
    b.ins('selp.b32', idx, bf, nb, batchFirst);
    b.ins('mad.wide.u32', a, idx, '4', draft);
    b.ins('ld.global.u32', t, `[${a}]`);
    const o = b.reg('u32'), av = b.reg('u64'), ao = b.reg('u64');
    b.ins('add.u32', o, dst, j);
    b.ins('mad.wide.u32', av, o, '4', vtok);
    b.ins('mad.wide.u32', ao, o, '4', out);
    b.ins('st.global.u32', `[${av}]`, t);
    b.ins('st.global.u32', `[${ao}]`, t);
    b.ins('add.u32', j, j, String(CHAIN_SCATTER_THREADS));
    b.ins('bra', top);
  });
  b.label(done);
  return b.build(CHAIN_SCATTER, CHAIN_SCATTER_THREADS);
}
