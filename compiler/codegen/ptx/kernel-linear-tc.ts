// Batched linear on tensor cores: out[m, n] = Σ_k x[m, k]·w[n, k] for M > 4 rows, with
// mma.sync.m16n8k8 (tf32 in, f32 accumulate). The weight is the mma's A operand (16 columns n × 8 k,
// row-major: w's own layout) and x the B operand (8 k × 8 rows m), so each weight element is loaded
// once per pass and used for every row (up to 64 rows per pass; past that, another pass).
//
// Weights go straight from global memory into A fragments, no shared memory: lane (g, t) loads 16 bytes
// (8 bf16) of column g and of column g+8 at k = t·8 .. t·8+7 of a 32-wide chunk. The mma's k order is
// free as long as A and B agree, so step j of the chunk takes elements 2j (logical k = t) and 2j+1
// (logical k = t+4) of those 8: the low and high halves of word j, widened to f32 by a shift/mask
// (bf16 → tf32 is exact). The B fragment is then x[m, t·8+2j] and x[m, t·8+2j+1], read from an x tile
// that the block stages in shared memory (rows padded by 4 floats: the 16-byte reads of 8 lanes hit
// distinct banks), double-buffered so one bar.sync per 64-wide k step suffices.
//
// Numerics: x is split into two tf32 terms, hi = rna(x) and lo = rna(x - hi) (x - hi is exact), and both
// are multiplied with the (exact) weight, so each product carries x to ~2^-22 relative (|x - hi - lo| ≤
// 2^-22·|x|) instead of tf32's 2^-11; f32 accumulation as the GEMV path, in a different (fixed) order.
// The second term doubles the mma count; at batch 32 the kernel stays bound by the weight stream.
import type { Schedule, ScheduledKernel } from '../../schedule/types.ts';
import { viewBase } from '../../schedule/types.ts';
import type { Dim } from '../../ir/shape.ts';
import type { LaunchShape } from './kernel-common.ts';
import { forLoop } from './kernel-common.ts';
import type { KernelEnv } from './kernel-env.ts';
import { rowAddress } from './kernel-linear.ts';

/** Batches of at least this many rows take the tensor-core kernel; fewer stay on the GEMV. */
export const TC_MIN_ROWS = 5;
/** k per loop trip: two 32-wide chunks, so each lane has 4·C 16-byte weight loads in flight. */
const KC = 64;
/** Rows per weight pass: 8 batch tiles of 8. */
const MB = 64;
/** Padding floats per staged x row: a row stride ≡ 4 (mod 32) words keeps 16-byte reads conflict-free. */
const PAD = 4;
const MMA = 'mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32';

/** Whether the contraction fits this kernel: f32 x, bf16 w, static K a multiple of 8 (16-byte rows). */
export function tcApplies(k: ScheduledKernel): boolean {
  const [x, w] = k.items[0].node.src;
  const K = x.shape[x.shape.length - 1];
  return k.kind === 'linear' && x.dtype === 'f32' && w.dtype === 'bf16' && typeof K === 'number' && K % 8 === 0;
}

/**
 * Warps per block and 16-column tiles per warp: the widest block (most x reuse: every block stages
 * all of x) that still leaves ≥ 2 blocks per SM of a 132-SM H200.
 */
export function tcShape(n: Dim): { warps: number; tiles: number } {
  const cols = typeof n === 'number' ? n : Infinity;
  for (const [warps, tiles] of [[8, 2], [8, 1]] as const) if (cols / (warps * 16 * tiles) >= 264) return { warps, tiles };
  return { warps: 4, tiles: 1 };
}

export function emitLinearTcKernel(env: KernelEnv, s: Schedule, k: ScheduledKernel): LaunchShape {
  const b = env.b;
  const item = k.items[0];
  const [x, w] = item.node.src;
  const K = x.shape[x.shape.length - 1] as number, N = w.shape[0];
  const mDims = x.shape.slice(0, -1);
  const maxM = mDims.reduce<number>((a, d) => a * env.max(d), 1);
  const MT = Math.max(1, Math.min(MB / 8, Math.ceil(maxM / 8))); // batch tiles per pass
  const { warps, tiles: CT } = tcShape(N);
  const threads = warps * 32, colsPerBlock = warps * 16 * CT;
  const stride = KC + PAD;
  const bufBytes = MT * 8 * stride * 4;
  const xs = b.sharedArray('xs', 2 * bufBytes, 16);
  const wholeK = K % KC === 0;

  const tid = env.special('%tid.x');
  const xBase = env.buffer(s.bufferOf.get(viewBase(x))!);
  const wBase = env.buffer(s.bufferOf.get(viewBase(w))!);
  const oBase = env.buffer(item.store!);
  const nOp = env.dim(N), mOp = env.product(mDims);
  const u32 = (op: string, ...a: string[]): string => { const r = b.reg('u32'); b.ins(op, r, ...a); return r; };

  // per-thread constants
  const { g, t, warpCol, wRow, fragOff, xsBase } = b.hoist(() => {
    const lane = u32('and.b32', tid, '31');
    const g = u32('shr.u32', lane, '2'), t = u32('and.b32', lane, '3');
    const warp = u32('shr.u32', tid, '5');
    const warpCol = u32('mul.lo.u32', warp, String(16 * CT));
    b.ins('mad.lo.u32', warpCol, env.special('%ctaid.x'), String(colsPerBlock), warpCol);
    const nLast = typeof N === 'number' ? String(N - 1) : u32('sub.s32', nOp, '1');
    // weight row (column n) addresses at this lane's 16 bytes; columns past N read column N-1, never stored
    const wRow = Array.from({ length: CT }, (_, c) => [0, 8].map((h) => {
      const n = u32('add.u32', warpCol, String(16 * c + h));
      b.ins('add.u32', n, n, g);
      b.ins('min.u32', n, n, nLast);
      const a = rowAddress(env, wBase, n, K, 2);
      const t16 = u32('shl.b32', t, '4');
      const r = b.reg('u64');
      b.ins('mad.wide.u32', r, t16, '1', a);
      return r;
    }));
    const fragOff = u32('mul.lo.u32', g, String(stride * 4));
    const t32 = u32('shl.b32', t, '5');
    b.ins('add.u32', fragOff, fragOff, t32);
    const xsBase = u32('mov.u32', xs);
    return { g, t, warpCol, wRow, fragOff, xsBase };
  });

  // x staging: thread tid copies 16-byte vectors tid, tid+T, ... of the [MT·8 rows × KC] tile
  const vecs = MT * 8 * (KC / 4);
  const perThread = Math.ceil(vecs / threads);
  const fill = Array.from({ length: perThread }, (_, i) => b.hoist(() => {
    const v = u32('add.u32', tid, String(i * threads));
    const r = u32('shr.u32', v, '4'), c4 = u32('and.b32', v, '15');
    const kOff = u32('shl.b32', c4, '2'); // k offset inside the chunk
    const sOff = u32('mul.lo.u32', r, String(stride * 4));
    b.ins('mad.lo.u32', sOff, c4, '16', sOff);
    const gIdx = u32('mad.lo.u32', r, String(K), kOff); // element index of (row r, k offset) from the pass start
    const inTile = vecs % threads === 0 ? null : (() => { const p = b.reg('pred'); b.ins('setp.lt.u32', p, v, String(vecs)); return p; })();
    return { r, kOff, sOff, gIdx, inTile };
  }));

  const buf = b.reg('u32'); // which half of xs this trip fills; keeps alternating across passes
  b.ins('mov.u32', buf, '0');
  forLoop(env, 'mpass', '0', mOp, MT * 8, (m0) => {
    const acc = Array.from({ length: CT }, () => Array.from({ length: MT }, () => [0, 1, 2, 3].map(() => {
      const f = b.reg('f32'); b.ins('mov.f32', f, '0f00000000'); return f;
    })));
    const passIdx = u32('mul.lo.u32', m0, String(K));
    forLoop(env, 'k', '0', String(K), KC, (kb) => {
      // 1. this trip's weights: 2 chunks × CT tiles × 2 column halves × 16 bytes per lane, all in flight
      const words = [0, 1].map((sc) => wRow.map((halves) => halves.map((row) => {
        const ws = [0, 1, 2, 3].map(() => b.reg('u32'));
        const a = b.reg('u64');
        b.ins('mad.wide.u32', a, kb, '2', row);
        const ld = ['ld.global.nc.L1::no_allocate.v4.u32', `{${ws.join(', ')}}`, `[${a}+${sc * 64}]`] as const;
        if (wholeK) b.ins(...ld);
        else { // a 16-byte group lies wholly inside or outside K (K % 8 = 0): past K it is zeros
          const kk = u32('add.u32', kb, String(sc * 32)), p = b.reg('pred');
          b.ins('mad.lo.u32', kk, t, '8', kk);
          b.ins('setp.lt.u32', p, kk, String(K));
          for (const r of ws) b.ins('mov.b32', r, '0');
          b.insIf(p, false, ...ld);
        }
        return ws;
      })));
      // 2. stage x[m0 .. m0+8·MT, kb .. kb+KC) (zeros past M or K) into buffer `buf`
      const sb = u32('mad.lo.u32', buf, String(bufBytes), xsBase);
      for (const f of fill) {
        const row = u32('add.u32', m0, f.r), kk = u32('add.u32', kb, f.kOff);
        const ok = b.reg('pred'), kOk = b.reg('pred');
        b.ins('setp.lt.u32', ok, row, mOp);
        if (!wholeK) { b.ins('setp.lt.u32', kOk, kk, String(K)); b.ins('and.pred', ok, ok, kOk); }
        if (f.inTile) b.ins('and.pred', ok, ok, f.inTile);
        const v = [0, 1, 2, 3].map(() => { const r = b.reg('f32'); b.ins('mov.f32', r, '0f00000000'); return r; });
        const idx = u32('add.u32', passIdx, f.gIdx);
        b.ins('add.u32', idx, idx, kb);
        const ga = b.reg('u64');
        b.ins('mad.wide.u32', ga, idx, '4', xBase);
        b.insIf(ok, false, 'ld.global.nc.v4.f32', `{${v.join(', ')}}`, `[${ga}]`);
        const sa = u32('add.u32', sb, f.sOff);
        if (f.inTile) b.insIf(f.inTile, false, 'st.shared.v4.f32', `[${sa}]`, `{${v.join(', ')}}`);
        else b.ins('st.shared.v4.f32', `[${sa}]`, `{${v.join(', ')}}`);
      }
      b.ins('bar.sync', '0');
      // 3. the mmas: per chunk, widen the weights once, then every live batch tile
      const fa = u32('add.u32', sb, fragOff);
      for (let sc = 0; sc < 2; sc++) {
        const A = words[sc].map((halves) => [0, 1, 2, 3].map((j) => {
          const lo = halves.map((ws) => u32('shl.b32', ws[j], '16'));
          const hi = halves.map((ws) => u32('and.b32', ws[j], '0xFFFF0000'));
          return [lo[0], lo[1], hi[0], hi[1]]; // a0 (g, t), a1 (g+8, t), a2 (g, t+4), a3 (g+8, t+4)
        }));
        const tilesEnd = b.newLabel('tiles');
        for (let bt = 0; bt < MT; bt++) {
          if (bt > 0) { // batch tiles past M are skipped (uniform: M and m0 are the same for the block)
            const p = b.reg('pred'), first = u32('add.u32', m0, String(8 * bt));
            b.ins('setp.ge.u32', p, first, mOp);
            b.insIf(p, false, 'bra', tilesEnd);
          }
          const xv = [0, 16].map((o) => {
            const r = [0, 1, 2, 3].map(() => b.reg('f32'));
            b.ins('ld.shared.v4.f32', `{${r.join(', ')}}`, `[${fa}+${(8 * bt * stride + 32 * sc) * 4 + o}]`);
            return r;
          }).flat();
          for (let j = 0; j < 4; j++) {
            const terms = [xv[2 * j], xv[2 * j + 1]].map((xf) => {
              const hi = u32('cvt.rna.tf32.f32', xf);
              const hf = b.reg('f32'), d = b.reg('f32');
              b.ins('mov.b32', hf, hi);
              b.ins('sub.rn.f32', d, xf, hf);
              return { hi, lo: u32('cvt.rna.tf32.f32', d) };
            });
            for (let c = 0; c < CT; c++) {
              const d = `{${acc[c][bt].join(', ')}}`, a = `{${A[c][j].join(', ')}}`;
              b.ins(MMA, d, a, `{${terms[0].lo}, ${terms[1].lo}}`, d);
              b.ins(MMA, d, a, `{${terms[0].hi}, ${terms[1].hi}}`, d);
            }
          }
        }
        b.label(tilesEnd);
      }
      b.ins('xor.b32', buf, buf, '1');
    });
    // 4. store: d0/d1 are (column g, rows 2t, 2t+1), d2/d3 the same rows of column g+8
    acc.forEach((byTile, c) => byTile.forEach((d, bt) => {
      const n0 = u32('add.u32', warpCol, String(16 * c));
      b.ins('add.u32', n0, n0, g);
      const mr = u32('add.u32', m0, String(8 * bt));
      b.ins('mad.lo.u32', mr, t, '2', mr);
      d.forEach((v, i) => {
        const n = i < 2 ? n0 : u32('add.u32', n0, '8');
        const m = i % 2 === 0 ? mr : u32('add.u32', mr, '1');
        const pn = b.reg('pred'), pm = b.reg('pred');
        b.ins('setp.lt.u32', pn, n, nOp);
        b.ins('setp.lt.u32', pm, m, mOp);
        b.ins('and.pred', pn, pn, pm);
        const idx = u32('mad.lo.u32', m, nOp, n), a = b.reg('u64');
        b.ins('mad.wide.u32', a, idx, '4', oBase);
        b.insIf(pn, false, 'st.global.f32', `[${a}]`, v);
      });
    }));
  });
  return { block: threads, grid: [typeof N === 'number' ? Math.ceil(N / colsPerBlock) : { ceilDiv: [[N], colsPerBlock] }, 1, 1] };
}
