// Tiled f32 GEMM for large contractions (the training step's weight gradients and its many-row linears):
// C[M, N] = A[M, K]·B[K, N], with B stored [K, N] (matmul) or [N, K] (linear: B = wᵀ), and A stored
// [M, K] or, for a matmul of a transpose (aT, gemm-shape.ts), read as the transpose's [K, M] source. A block of 256
// threads computes a 128 × 64 tile of C over k steps of 16: the step's A (128 × 16) and B (16 × 64) tiles
// go global → registers → shared memory (k-major; row strides ≡ 8 mod 32 floats, so the fragment reads of
// a warp hit 32 distinct banks), and the next step's global loads are issued before the current step's
// arithmetic, so they are in flight during it. Every global load is a 16-byte vector (K and N multiples
// of 4, as gemmShape requires); rows past M and columns past N read zeros and are never stored.
//
// Arithmetic, mode 'tf32x3' (the default): tensor cores, mma.sync m16n8k8 tf32 with f32 accumulation.
// The 8 warps tile the block 4 (rows) × 2 (columns), 32 × 32 each: 2 × 4 mma tiles. Each operand is split
// into tf32 hi + lo (hi = tf32(x), lo = tf32(x − hi); x − hi is exact in f32), and each product is
// hi·hi + hi·lo + lo·hi, three mmas: the dropped lo·lo term is below 2^-22 relative, so the result is an
// f32-accurate dot product (a different summation order from the interpreter's). Mode 'fma'
// (ARCTICC_GEMM=fma) is the CUDA-core version: 8 × 4 outputs per thread, f32 FMAs in ascending k. On the
// H200 (bench/results/train-gpu-check-h200-run3.json) the LSTM step's gradients at 320 rows are 3.8e-6
// relative L2 from the interpreter with tf32x3 and 6.9e-7 with fma, and the 8096-row step takes 7.39 ms
// against 7.97: tf32x3 is the default since that run. bench/train-gpu-check.ts checks and times every mode.
import type { Node } from '../../ir/node.ts';
import type { Schedule, ScheduledKernel } from '../../schedule/types.ts';
import type { LaunchShape } from './kernel-common.ts';
import type { KernelEnv } from './kernel-env.ts';
import type { GemmShape } from '../../schedule/gemm-shape.ts';
import { GEMM_BK, GEMM_BM, GEMM_BN, gemmShapeOf, gemmView } from '../../schedule/gemm-shape.ts';

export { GEMM_BK, GEMM_BM, GEMM_BN };
const TM = 8, TN = 4, THREADS = 256;
const A_STRIDE = GEMM_BM + 8, B_STRIDE = GEMM_BN + 8;
const MMA_TF32 = 'mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32';
export type GemmMode = 'tf32x3' | 'tf32' | 'fma';
/**
 * The arithmetic the GEMM uses when the compile options do not say: tensor cores with f32 accuracy
 * (tf32x3) by default; ARCTICC_GEMM=fma the CUDA cores, =tf32 one tf32 term (≈ 2^-11 relative per product,
 * like PyTorch's TF32 matmuls; not f32-accurate, the fastest).
 */
export const gemmMode = (): GemmMode => {
  const m = process.env.ARCTICC_GEMM;
  return m === 'fma' || m === 'tf32' ? m : 'tf32x3';
};
/** The GEMM's shape when kernel k is one contraction it takes (gemm-shape.ts) with no fused epilogue. */
export function gemmShape(k: ScheduledKernel): GemmShape | null {
  if ((k.kind !== 'matmul' && k.kind !== 'linear') || k.items.length !== 1 || k.partials) return null;
  return gemmShapeOf(k.items[0].node);
}

export function emitGemmKernel(env: KernelEnv, s: Schedule, k: ScheduledKernel, g: GemmShape, mode: GemmMode = gemmMode()): LaunchShape {
  const b = env.b;
  const item = k.items[0];
  const [a, w] = item.node.src;
  const { M, N, K, bT, aT } = g;
  const tilesN = Math.ceil(N / GEMM_BN), tilesM = Math.ceil(M / GEMM_BM), KT = K / GEMM_BK, tiles = tilesM * tilesN;
  // an operand read in place from a row range of its tensor (gemmView), the output written at its rows of a concat
  const at = (base: string, bytes: number): string => {
    if (!bytes) return base;
    const r = b.reg('u64');
    b.ins('add.s64', r, base, String(bytes));
    return r;
  };
  const view = (x: Node): string => { const v = gemmView(item.node, x); return at(env.buffer(s.bufferOf.get(v.node)!), 4 * v.offset); };
  const aBase = view(a), bBase = view(w);
  const tid = env.special('%tid.x'), cta = env.special('%ctaid.x');
  const u32 = (op: string, ...xs: string[]): string => { const r = b.reg('u32'); b.ins(op, r, ...xs); return r; };
  // split K: block cta takes tile cta % tiles over the k steps of slice cta / tiles, into its scratch slice
  const slices = k.splitK?.slices ?? 1, sliceSteps = Math.ceil(KT / slices);
  const slice = slices > 1 ? u32('div.u32', cta, String(tiles)) : '0';
  const tile = slices > 1 ? u32('rem.u32', cta, String(tiles)) : cta;
  const kt0 = slices > 1 ? u32('mul.lo.u32', slice, String(sliceSteps)) : '0';
  // this block's k steps: sliceSteps, fewer in the last slice
  const steps = slices > 1 ? u32('min.u32', u32('sub.u32', String(KT), kt0), String(sliceSteps)) : String(KT);
  let oBase: string;
  if (slices > 1) {
    oBase = b.reg('u64');
    b.ins('mad.wide.u32', oBase, slice, String(M * N * 4), env.buffer(k.splitK!.scratch));
  } else oBase = at(env.buffer(item.store!), item.storeAt ?? 0);
  const As = b.sharedArray('gemm_a', GEMM_BK * A_STRIDE * 4, 16), Bs = b.sharedArray('gemm_b', GEMM_BK * B_STRIDE * 4, 16);
  const bm = u32('div.u32', tile, String(tilesN)), bn = u32('rem.u32', tile, String(tilesN));
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
  /** a [K, extent] operand stored row-major along what the tile spans: row k0 + row, columns c0 + c .. +3 into smem[row·stride + c] */
  const kRows = (base: string, row: string, c: string, c0: string, extent: number, arr: string, stride: number): Stage => {
    const col = u32('add.u32', c0, c);
    const ok = b.reg('pred');
    b.ins('setp.lt.u32', ok, col, String(extent));
    const ptr = b.reg('u64');
    b.ins('mad.wide.u32', ptr, u32('mad.lo.u32', row, String(extent), col), '4', base);
    const at = sharedAddr(arr, u32('mad.lo.u32', row, String(stride), c));
    return { ptr, ok, regs: [0, 1, 2, 3].map(() => b.reg('f32')), step: GEMM_BK * extent * 4, smem: (v) => b.ins('st.shared.v4.f32', `[${at}]`, `{${v.join(', ')}}`) };
  };
  for (let r = 0; r < 2; r++) {
    const e = r === 0 ? tid : u32('add.u32', tid, String(THREADS));
    if (!aT) { stages.push(kMajor(aBase, m0, u32('shr.u32', e, '2'), u32('and.b32', e, '3'), M, As, A_STRIDE)); continue; }
    // aT: A's source is stored [K, M]: row k0 + e/32, columns m0 + 4·(e % 32) .. +3, straight into As[k][m]
    stages.push(kRows(aBase, u32('shr.u32', e, '5'), u32('shl.b32', u32('and.b32', e, '31'), '2'), m0, M, As, A_STRIDE));
  }
  // B [K, N] row-major: thread t takes row k0 + t/16, columns n0 + 4·(t % 16) .. +3
  stages.push(bT ? kMajor(bBase, n0, u32('shr.u32', tid, '2'), u32('and.b32', tid, '3'), N, Bs, B_STRIDE)
    : kRows(bBase, u32('shr.u32', tid, '4'), u32('shl.b32', tx, '2'), n0, N, Bs, B_STRIDE));
  const load = (): void => {
    for (const st of stages) {
      for (const x of st.regs) b.ins('mov.f32', x, zero);
      b.insIf(st.ok, false, 'ld.global.nc.v4.f32', `{${st.regs.join(', ')}}`, `[${st.ptr}]`);
    }
  };
  const advance = (): void => { for (const st of stages) b.ins('add.s64', st.ptr, st.ptr, String(st.step)); };

  const acc = Array.from({ length: TM * TN }, () => b.reg('f32'));
  for (const x of acc) b.ins('mov.f32', x, zero);
  // per-lane shared-memory read bases: fma reads 8 rows / 4 columns per thread; tf32x3 the mma fragments
  const lane = u32('and.b32', tid, '31'), warp = u32('shr.u32', tid, '5');
  const gq = u32('shr.u32', lane, '2'), tq = u32('and.b32', lane, '3');
  const wm = u32('and.b32', warp, '3'), wn = u32('shr.u32', warp, '2');
  const aRead = mode === 'fma' ? sharedAddr(As, u32('shl.b32', ty, '3'))
    : sharedAddr(As, u32('mad.lo.u32', tq, String(A_STRIDE), u32('mad.lo.u32', wm, '32', gq)));
  const bRead = mode === 'fma' ? sharedAddr(Bs, u32('shl.b32', tx, '2'))
    : sharedAddr(Bs, u32('mad.lo.u32', tq, String(B_STRIDE), u32('mad.lo.u32', wn, '32', gq)));
  if (slices > 1) for (const st of stages) b.ins('mad.wide.u32', st.ptr, kt0, String(st.step), st.ptr);
  load();
  const kt = b.reg('u32');
  b.ins('mov.u32', kt, '0');
  const top = b.newLabel('gemm_k'), noNext = b.newLabel('gemm_last');
  b.label(top);
  b.ins('bar.sync', '0');
  for (const st of stages) st.smem(st.regs);
  b.ins('bar.sync', '0');
  const last = b.reg('pred');
  b.ins('setp.ge.u32', last, u32('add.u32', kt, '1'), steps);
  b.insIf(last, false, 'bra', noNext);
  advance();
  load();
  b.label(noNext);
  if (mode === 'fma') {
    const av = Array.from({ length: TM }, () => b.reg('f32')), bv = Array.from({ length: TN }, () => b.reg('f32'));
    for (let kk = 0; kk < GEMM_BK; kk++) {
      b.ins('ld.shared.v4.f32', `{${av.slice(0, 4).join(', ')}}`, `[${aRead}+${4 * kk * A_STRIDE}]`);
      b.ins('ld.shared.v4.f32', `{${av.slice(4).join(', ')}}`, `[${aRead}+${4 * kk * A_STRIDE + 16}]`);
      b.ins('ld.shared.v4.f32', `{${bv.join(', ')}}`, `[${bRead}+${4 * kk * B_STRIDE}]`);
      for (let i = 0; i < TM; i++) for (let j = 0; j < TN; j++) b.ins('fma.rn.f32', acc[i * TN + j], av[i], bv[j], acc[i * TN + j]);
    }
  } else {
    const x = b.reg('f32'), r = b.reg('f32');
    /** tf32 hi and lo of the f32 at a shared address */
    const split = (addr: string): [string, string] => {
      const hi = b.reg('u32'), lo = b.reg('u32');
      b.ins('ld.shared.f32', x, addr);
      b.ins('cvt.rna.tf32.f32', hi, x);
      if (mode === 'tf32') return [hi, hi];
      b.ins('sub.f32', r, x, hi);
      b.ins('cvt.rna.tf32.f32', lo, r);
      return [hi, lo];
    };
    for (let kb = 0; kb < GEMM_BK; kb += 8) {
      // A fragments (rows g, g+8 × k t, t+4) of the warp's two 16-row tiles; B (k t, t+4 × column g) of its four 8-column tiles
      const A = [0, 1].map((i) => [[0, 0], [8, 0], [0, 4], [8, 4]].map(([dm, dk]) => split(`[${aRead}+${4 * ((kb + dk) * A_STRIDE + 16 * i + dm)}]`)));
      const B = [0, 1, 2, 3].map((j) => [0, 4].map((dk) => split(`[${bRead}+${4 * ((kb + dk) * B_STRIDE + 8 * j)}]`)));
      for (let i = 0; i < 2; i++) for (let j = 0; j < 4; j++) {
        const c = `{${acc.slice((i * 4 + j) * 4, (i * 4 + j) * 4 + 4).join(', ')}}`;
        const frag = (f: [string, string][], part: 0 | 1): string => `{${f.map((p) => p[part]).join(', ')}}`;
        if (mode === 'tf32x3') {
          b.ins(MMA_TF32, c, frag(A[i], 1), frag(B[j], 0), c);
          b.ins(MMA_TF32, c, frag(A[i], 0), frag(B[j], 1), c);
        }
        b.ins(MMA_TF32, c, frag(A[i], 0), frag(B[j], 0), c);
      }
    }
  }
  b.ins('add.u32', kt, kt, '1');
  const more = b.reg('pred');
  b.ins('setp.lt.u32', more, kt, steps);
  b.insIf(more, false, 'bra', top);

  if (mode === 'fma') {
    // rows m0 + 8·ty + i, columns n0 + 4·tx .. +3 (whole vectors: N % 4 = 0)
    const col = u32('add.u32', n0, u32('shl.b32', tx, '2'));
    const colOk = b.reg('pred');
    b.ins('setp.lt.u32', colOk, col, String(N));
    const row0 = u32('add.u32', m0, u32('shl.b32', ty, '3'));
    const out = b.reg('u64');
    b.ins('mad.wide.u32', out, u32('mad.lo.u32', row0, String(N), col), '4', oBase);
    for (let i = 0; i < TM; i++) {
      const ok = b.reg('pred'), rr = u32('add.u32', row0, String(i));
      b.ins('setp.lt.u32', ok, rr, String(M));
      b.ins('and.pred', ok, ok, colOk);
      b.insIf(ok, false, 'st.global.v4.f32', `[${out}+${4 * i * N}]`, `{${acc.slice(i * TN, i * TN + TN).join(', ')}}`);
    }
  } else {
    // mma tile (i, j): c0, c1 at row g, columns 2t, 2t+1; c2, c3 at row g+8 (pairs: N is even)
    const row0 = u32('add.u32', m0, u32('mad.lo.u32', wm, '32', gq));
    const col0 = u32('add.u32', n0, u32('mad.lo.u32', wn, '32', u32('shl.b32', tq, '1')));
    const out = b.reg('u64');
    b.ins('mad.wide.u32', out, u32('mad.lo.u32', row0, String(N), col0), '4', oBase);
    for (let i = 0; i < 2; i++) for (const dm of [0, 8]) {
      const rowOk = b.reg('pred'), rr = u32('add.u32', row0, String(16 * i + dm));
      b.ins('setp.lt.u32', rowOk, rr, String(M));
      for (let j = 0; j < 4; j++) {
        const ok = b.reg('pred'), cc = u32('add.u32', col0, String(8 * j));
        b.ins('setp.lt.u32', ok, cc, String(N));
        b.ins('and.pred', ok, ok, rowOk);
        const c = acc.slice((i * 4 + j) * 4, (i * 4 + j) * 4 + 4);
        b.insIf(ok, false, 'st.global.v2.f32', `[${out}+${4 * ((16 * i + dm) * N + 8 * j)}]`, `{${(dm ? c.slice(2) : c.slice(0, 2)).join(', ')}}`);
      }
    }
  }
  return { block: THREADS, grid: [tiles * slices, 1, 1] };
}

/** The split GEMM's second launch: out[i] = Σ_s scratch[s, i] in ascending s, four floats per thread. */
export function emitSplitKReduce(env: KernelEnv, s: Schedule, k: ScheduledKernel, g: GemmShape): LaunchShape {
  const b = env.b;
  const { slices, scratch } = k.splitK!;
  const total = g.M * g.N, vecs = total / 4;
  const src = env.buffer(scratch), dst0 = env.buffer(k.items[0].store!);
  let dst = dst0;
  if (k.items[0].storeAt) { dst = b.reg('u64'); b.ins('add.s64', dst, dst0, String(k.items[0].storeAt)); }
  const tid = env.special('%tid.x'), cta = env.special('%ctaid.x');
  const i = b.reg('u32');
  b.ins('mad.lo.u32', i, cta, String(THREADS), tid);
  const ok = b.reg('pred');
  b.ins('setp.lt.u32', ok, i, String(vecs));
  const done = b.newLabel('done');
  b.insIf(ok, true, 'bra', done);
  const p = b.reg('u64'), q = b.reg('u64');
  b.ins('mul.wide.u32', p, i, '16');
  b.ins('add.s64', q, p, dst);
  b.ins('add.s64', p, p, src);
  const acc = [0, 1, 2, 3].map(() => b.reg('f32')), x = [0, 1, 2, 3].map(() => b.reg('f32'));
  b.ins('ld.global.v4.f32', `{${acc.join(', ')}}`, `[${p}]`);
  for (let sl = 1; sl < slices; sl++) {
    b.ins('add.s64', p, p, String(total * 4));
    b.ins('ld.global.v4.f32', `{${x.join(', ')}}`, `[${p}]`);
    for (let j = 0; j < 4; j++) b.ins('add.f32', acc[j], acc[j], x[j]);
  }
  b.ins('st.global.v4.f32', `[${q}]`, `{${acc.join(', ')}}`);
  b.label(done);
  return { block: THREADS, grid: [Math.ceil(vecs / THREADS), 1, 1] };
}
