// Tiled f32 GEMM for large contractions (the training step's weight gradients and its many-row linears):
// C[M, N] = A[M, K]·B[K, N], with B stored [K, N] (matmul) or [N, K] (linear: B = wᵀ). A block of 256
// threads computes a 128 × 64 tile of C, each thread 8 rows × 4 columns in registers, over k steps of 16:
// the step's A (128 × 16) and B (16 × 64) tiles go global → registers → shared memory (k-major, rows
// padded by 4 floats against bank conflicts), and the next step's global loads are issued before the
// current step's 16 × 32 FMAs, so they are in flight during the arithmetic. Every global load is a
// 16-byte vector (K and N multiples of 4, as gemmApplies requires); rows past M and columns past N read
// zeros and are never stored. Numerics: f32 FMAs, k in ascending order per output (a different order
// from the naive kernel's only by being the same one: ascending k), so the result is the f32 dot product.
import type { Schedule, ScheduledKernel } from '../../schedule/types.ts';
import { viewBase } from '../../schedule/types.ts';
import type { LaunchShape } from './kernel-common.ts';
import type { KernelEnv } from './kernel-env.ts';

export const GEMM_BM = 128;
export const GEMM_BN = 64;
export const GEMM_BK = 16;
const TM = 8, TN = 4, THREADS = 256;
const A_STRIDE = GEMM_BM + 4, B_STRIDE = GEMM_BN + 4;
/** A linear takes the tiled GEMM from this many rows (fewer stay on the GEMV / tensor-core kernels). */
export const GEMM_MIN_LINEAR_ROWS = 256;

interface GemmShape { readonly M: number; readonly N: number; readonly K: number; readonly bT: boolean }

/** The GEMM's shape when kernel k fits it: one f32 contraction with static dims, K % 16 = 0, N % 4 = 0, no fused epilogue. */
export function gemmShape(k: ScheduledKernel): GemmShape | null {
  if ((k.kind !== 'matmul' && k.kind !== 'linear') || k.items.length !== 1 || k.partials) return null;
  const n = k.items[0].node;
  const [a, w] = n.src;
  if (n.src.length !== 2 || a.dtype !== 'f32' || w.dtype !== 'f32' || n.dtype !== 'f32') return null;
  if (![...n.shape, ...a.shape, ...w.shape].every((d) => typeof d === 'number')) return null;
  const K = a.shape[a.shape.length - 1] as number, N = n.shape[n.shape.length - 1] as number;
  const M = (n.shape as number[]).slice(0, -1).reduce((x, y) => x * y, 1);
  if (K % GEMM_BK !== 0 || N % 4 !== 0 || M < 1) return null;
  if (k.kind === 'linear' && M < GEMM_MIN_LINEAR_ROWS) return null;
  if (k.kind === 'matmul' && M * N < 2048) return null;
  return { M, N, K, bT: k.kind === 'linear' };
}

export function emitGemmKernel(env: KernelEnv, s: Schedule, k: ScheduledKernel, g: GemmShape): LaunchShape {
  const b = env.b;
  const item = k.items[0];
  const [a, w] = item.node.src;
  const { M, N, K, bT } = g;
  const tilesN = Math.ceil(N / GEMM_BN), tilesM = Math.ceil(M / GEMM_BM), KT = K / GEMM_BK;
  const aBase = env.buffer(s.bufferOf.get(viewBase(a))!);
  const bBase = env.buffer(s.bufferOf.get(viewBase(w))!);
  const oBase = env.buffer(item.store!);
  const As = b.sharedArray('gemm_a', GEMM_BK * A_STRIDE * 4, 16), Bs = b.sharedArray('gemm_b', GEMM_BK * B_STRIDE * 4, 16);
  const tid = env.special('%tid.x'), cta = env.special('%ctaid.x');
  const u32 = (op: string, ...xs: string[]): string => { const r = b.reg('u32'); b.ins(op, r, ...xs); return r; };
  const bm = u32('div.u32', cta, String(tilesN)), bn = u32('rem.u32', cta, String(tilesN));
  const m0 = u32('mul.lo.u32', bm, String(GEMM_BM)), n0 = u32('mul.lo.u32', bn, String(GEMM_BN));
  const tx = u32('and.b32', tid, '15'), ty = u32('shr.u32', tid, '4');
  const zero = '0f00000000';

  // global → register staging: each entry one 16-byte load (predicated; zeros outside the matrix) and
  // where its 4 floats go in shared memory (4 scalars down a k column, or one vector along a row)
  interface Stage { ptr: string; ok: string; regs: string[]; smem: (regs: string[]) => void; step: number }
  const stages: Stage[] = [];
  const sharedAddr = (arr: string, floatOffset: string): string => {
    const r = b.reg('u32');
    b.ins('mov.u32', r, arr);
    b.ins('mad.lo.u32', r, floatOffset, '4', r);
    return r;
  };
  /** a row-major [R, K] operand whose tile rows r0 + row take k0 + 4·part .. +3 into smem[(4·part + i)·stride + row] */
  const kMajor = (base: string, r0: string, row: string, part: string, R: number, arr: string, stride: number): Stage => {
    const r = u32('add.u32', r0, row);
    const ok = b.reg('pred');
    b.ins('setp.lt.u32', ok, r, String(R));
    const e = u32('mad.lo.u32', r, String(K), u32('shl.b32', part, '2'));
    const ptr = b.reg('u64');
    b.ins('mad.wide.u32', ptr, e, '4', base);
    const at = sharedAddr(arr, u32('mad.lo.u32', part, String(4 * stride), row));
    return {
      ptr, ok, regs: [0, 1, 2, 3].map(() => b.reg('f32')), step: GEMM_BK * 4,
      smem: (v) => v.forEach((x, i) => b.ins('st.shared.f32', `[${at}+${4 * i * stride}]`, x)),
    };
  };
  for (let r = 0; r < 2; r++) {
    const e = r === 0 ? tid : u32('add.u32', tid, String(THREADS));
    stages.push(kMajor(aBase, m0, u32('shr.u32', e, '2'), u32('and.b32', e, '3'), M, As, A_STRIDE));
  }
  if (bT) stages.push(kMajor(bBase, n0, u32('shr.u32', tid, '2'), u32('and.b32', tid, '3'), N, Bs, B_STRIDE));
  else {
    // B [K, N] row-major: thread t takes row k0 + t/16, columns n0 + 4·(t % 16) .. +3
    const row = u32('shr.u32', tid, '4'), c = u32('shl.b32', tx, '2');
    const col = u32('add.u32', n0, c);
    const ok = b.reg('pred');
    b.ins('setp.lt.u32', ok, col, String(N));
    const ptr = b.reg('u64');
    b.ins('mad.wide.u32', ptr, u32('mad.lo.u32', row, String(N), col), '4', bBase);
    const at = sharedAddr(Bs, u32('mad.lo.u32', row, String(B_STRIDE), c));
    stages.push({ ptr, ok, regs: [0, 1, 2, 3].map(() => b.reg('f32')), step: GEMM_BK * N * 4, smem: (v) => b.ins('st.shared.v4.f32', `[${at}]`, `{${v.join(', ')}}`) });
  }
  const load = (): void => {
    for (const st of stages) {
      for (const x of st.regs) b.ins('mov.f32', x, zero);
      b.insIf(st.ok, false, 'ld.global.nc.v4.f32', `{${st.regs.join(', ')}}`, `[${st.ptr}]`);
    }
  };
  const advance = (): void => { for (const st of stages) b.ins('add.s64', st.ptr, st.ptr, String(st.step)); };

  const acc = Array.from({ length: TM * TN }, () => b.reg('f32'));
  for (const x of acc) b.ins('mov.f32', x, zero);
  const aRead = sharedAddr(As, u32('shl.b32', ty, '3')), bRead = sharedAddr(Bs, u32('shl.b32', tx, '2'));
  load();
  const kt = b.reg('u32');
  b.ins('mov.u32', kt, '0');
  const top = b.newLabel('gemm_k'), noNext = b.newLabel('gemm_last');
  b.label(top);
  b.ins('bar.sync', '0');
  for (const st of stages) st.smem(st.regs);
  b.ins('bar.sync', '0');
  const last = b.reg('pred');
  b.ins('setp.ge.u32', last, kt, String(KT - 1));
  b.insIf(last, false, 'bra', noNext);
  advance();
  load();
  b.label(noNext);
  const av = Array.from({ length: TM }, () => b.reg('f32')), bv = Array.from({ length: TN }, () => b.reg('f32'));
  for (let kk = 0; kk < GEMM_BK; kk++) {
    b.ins('ld.shared.v4.f32', `{${av.slice(0, 4).join(', ')}}`, `[${aRead}+${4 * kk * A_STRIDE}]`);
    b.ins('ld.shared.v4.f32', `{${av.slice(4).join(', ')}}`, `[${aRead}+${4 * kk * A_STRIDE + 16}]`);
    b.ins('ld.shared.v4.f32', `{${bv.join(', ')}}`, `[${bRead}+${4 * kk * B_STRIDE}]`);
    for (let i = 0; i < TM; i++) for (let j = 0; j < TN; j++) b.ins('fma.rn.f32', acc[i * TN + j], av[i], bv[j], acc[i * TN + j]);
  }
  b.ins('add.u32', kt, kt, '1');
  const more = b.reg('pred');
  b.ins('setp.lt.u32', more, kt, String(KT));
  b.insIf(more, false, 'bra', top);

  // epilogue: rows m0 + 8·ty + i, columns n0 + 4·tx .. +3 (whole vectors: N % 4 = 0)
  const col = u32('add.u32', n0, u32('shl.b32', tx, '2'));
  const colOk = b.reg('pred');
  b.ins('setp.lt.u32', colOk, col, String(N));
  const row0 = u32('add.u32', m0, u32('shl.b32', ty, '3'));
  const out = b.reg('u64');
  b.ins('mad.wide.u32', out, u32('mad.lo.u32', row0, String(N), col), '4', oBase);
  for (let i = 0; i < TM; i++) {
    const ok = b.reg('pred'), r = u32('add.u32', row0, String(i));
    b.ins('setp.lt.u32', ok, r, String(M));
    b.ins('and.pred', ok, ok, colOk);
    b.insIf(ok, false, 'st.global.v4.f32', `[${out}+${4 * i * N}]`, `{${acc.slice(i * TN, i * TN + TN).join(', ')}}`);
  }
  return { block: THREADS, grid: [tilesM * tilesN, 1, 1] };
}
