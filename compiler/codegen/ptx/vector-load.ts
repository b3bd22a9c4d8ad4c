// Vector loads for the contraction kernels: `count` consecutive elements of one dtype, fetched in
// 16-byte (or smaller) chunks and widened to f32 exactly. The caller guarantees alignment: the
// address is a multiple of min(16, count · itemSize).
import { itemSize } from '../../ir/dtype.ts';
import type { FloatDType } from '../../ir/dtype.ts';
import type { PtxBuilder } from './builder.ts';
import { emitLoad } from './legalize.ts';

/** Widen one 32-bit word holding 4/itemSize elements into f32 registers (little-endian order). */
function unpackWord(b: PtxBuilder, d: FloatDType, w: string): string[] {
  if (d === 'f32') { const f = b.reg('f32'); b.ins('mov.b32', f, w); return [f]; }
  if (d === 'bf16') {
    const lo = b.reg('u32'), hi = b.reg('u32'), f0 = b.reg('f32'), f1 = b.reg('f32');
    b.ins('shl.b32', lo, w, '16');
    b.ins('and.b32', hi, w, '0xFFFF0000');
    b.ins('mov.b32', f0, lo);
    b.ins('mov.b32', f1, hi);
    return [f0, f1];
  }
  const h0 = b.reg('b16'), h1 = b.reg('b16');
  b.ins('mov.b32', `{${h0}, ${h1}}`, w);
  const halves = (x: string): string[] => {
    const lo = b.reg('b16'), hi = b.reg('b16'), f0 = b.reg('f32'), f1 = b.reg('f32');
    b.ins('mov.b32', `{${lo}, ${hi}}`, x);
    b.ins('cvt.f32.f16', f0, lo);
    b.ins('cvt.f32.f16', f1, hi);
    return [f0, f1];
  };
  if (d === 'f16') {
    const f0 = b.reg('f32'), f1 = b.reg('f32');
    b.ins('cvt.f32.f16', f0, h0);
    b.ins('cvt.f32.f16', f1, h1);
    return [f0, f1];
  }
  // e4m3: each byte pair becomes an f16 pair (exact), then f32
  const p0 = b.reg('u32'), p1 = b.reg('u32');
  b.ins('cvt.rn.f16x2.e4m3x2', p0, h0);
  b.ins('cvt.rn.f16x2.e4m3x2', p1, h1);
  return [...halves(p0), ...halves(p1)];
}

/** `bytes` (4, 8, 16, 32 or 64) at `addr` as 32-bit words, in 16-byte (or smaller) loads. */
export function loadWords(b: PtxBuilder, addr: string, bytes: number, ld: string): string[] {
  const words: string[] = [];
  for (let off = 0; off < bytes; off += 16) {
    const n = Math.min(16, bytes - off) / 4;
    if (n !== 1 && n !== 2 && n !== 4) throw new Error(`vector load of ${bytes} bytes cannot be split into 4/8/16-byte chunks`);
    const ws = Array.from({ length: n }, () => b.reg('u32'));
    const at = off === 0 ? `[${addr}]` : `[${addr}+${off}]`;
    if (n === 1) b.ins(`${ld}.u32`, ws[0], at);
    else b.ins(`${ld}.v${n}.u32`, `{${ws.join(', ')}}`, at);
    words.push(...ws);
  }
  return words;
}

/** Widen whole words of packed elements to f32 registers. */
export const unpackWords = (b: PtxBuilder, d: FloatDType, words: readonly string[]): string[] => words.flatMap((w) => unpackWord(b, d, w));

/**
 * `count` elements at `addr` as f32 registers. `ld` is the load prefix (e.g. `ld.global.nc` or
 * `ld.global.nc.L1::no_allocate` for weights streamed once).
 */
export function loadVector(b: PtxBuilder, d: FloatDType, addr: string, count: number, ld: string): string[] {
  const bytes = count * itemSize(d);
  if (count === 1 || bytes < 4) {
    if (count !== 1) throw new Error(`vector load of ${count} × ${d} is not a whole number of words`);
    return [emitLoad(b, d, addr, true)];
  }
  return unpackWords(b, d, loadWords(b, addr, bytes, ld));
}
