// Legalization: how each IR dtype lives in PTX. Every float dtype computes in f32 registers (bf16, f16
// and fp8 loads widen exactly; results round back to the node's storage type after every op, as the
// interpreter's store does); i32 → .b32, i64 → .b64, bool → .pred in registers and one byte in memory.
import type { DType } from '../../ir/dtype.ts';
import { isFloat } from '../../ir/dtype.ts';
import type { PtxBuilder, RegType } from './builder.ts';

export function regTypeOf(d: DType): RegType {
  if (isFloat(d)) return 'f32';
  if (d === 'i32') return 's32';
  if (d === 'i64') return 's64';
  return 'pred';
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
/** Exact f32 bit pattern as a PTX immediate (`0f3F800000` = 1.0). */
export function f32Hex(x: number): string {
  f32[0] = x;
  return `0f${u32[0].toString(16).toUpperCase().padStart(8, '0')}`;
}

/** A constant as an operand: immediates for numbers; bool constants need a predicate register. */
export function emitConst(b: PtxBuilder, d: DType, value: number, roundFloat: (x: number) => number): string {
  if (isFloat(d)) return f32Hex(roundFloat(value));
  if (d === 'i32') return String(Number.isFinite(value) ? Math.trunc(value) | 0 : 0);
  if (d === 'i64') { // the i64 writer saturates, NaN → 0
    if (Number.isNaN(value)) return '0';
    if (value >= 2 ** 63) return '9223372036854775807';
    if (value < -(2 ** 63)) return '-9223372036854775808';
    return BigInt(Math.trunc(value)).toString();
  }
  const p = b.reg('pred');
  b.ins('mov.pred', p, value && !Number.isNaN(value) ? '1' : '0');
  return p;
}

/** Load one element at `addr` and widen it to its register class. `nc`: read-only path (not written by this kernel). */
export function emitLoad(b: PtxBuilder, d: DType, addr: string, nc: boolean): string {
  const ld = nc ? 'ld.global.nc' : 'ld.global';
  switch (d) {
    case 'f32': { const f = b.reg('f32'); b.ins(`${ld}.f32`, f, `[${addr}]`); return f; }
    case 'bf16': {
      // bf16 is the top half of an f32: shifting the bits up is exact (NaN payloads included)
      const r = b.reg('u32'), f = b.reg('f32');
      b.ins(`${ld}.u16`, r, `[${addr}]`);
      b.ins('shl.b32', r, r, '16');
      b.ins('mov.b32', f, r);
      return f;
    }
    case 'f16': {
      const h = b.reg('b16'), f = b.reg('f32');
      b.ins(`${ld}.b16`, h, `[${addr}]`);
      b.ins('cvt.f32.f16', f, h);
      return f;
    }
    case 'fp8e4m3': return fp8ToF32(b, (h) => b.ins(`${ld}.u8`, h, `[${addr}]`));
    case 'i32': { const r = b.reg('s32'); b.ins(`${ld}.s32`, r, `[${addr}]`); return r; }
    case 'i64': { const r = b.reg('s64'); b.ins(`${ld}.s64`, r, `[${addr}]`); return r; }
    case 'bool': {
      const h = b.reg('b16'), p = b.reg('pred');
      b.ins(`${ld}.u8`, h, `[${addr}]`);
      b.ins('setp.ne.b16', p, h, '0');
      return p;
    }
  }
}

/** e4m3 byte → f32, exactly: every e4m3 value is an f16 value, and f16 → f32 is exact. */
export function fp8ToF32(b: PtxBuilder, loadByte: (h: string) => void): string {
  const h = b.reg('b16'), pair = b.reg('u32'), lo = b.reg('b16'), hi = b.reg('b16'), f = b.reg('f32');
  loadByte(h);
  b.ins('cvt.rn.f16x2.e4m3x2', pair, h);
  b.ins('mov.b32', `{${lo}, ${hi}}`, pair);
  b.ins('cvt.f32.f16', f, lo);
  return f;
}

/** Narrow an f32 register to the storage bits of d (b16 register), rounding to nearest even. */
function narrow(b: PtxBuilder, d: 'bf16' | 'f16' | 'fp8e4m3', v: string): string {
  const h = b.reg('b16');
  if (d === 'bf16') b.ins('cvt.rn.bf16.f32', h, v);
  else if (d === 'f16') b.ins('cvt.rn.f16.f32', h, v);
  // the low byte of the pair takes the second source; satfinite clamps to ±448 like the interpreter
  else b.ins('cvt.rn.satfinite.e4m3x2.f32', h, f32Hex(0), v);
  return h;
}

/** Store a register value of dtype d at `addr`, rounding floats to the storage type; `guard`: only where it holds. */
export function emitStore(b: PtxBuilder, d: DType, addr: string, v: string, guard?: string): void {
  const st = (op: string, x: string): void => { if (guard) b.insIf(guard, false, op, `[${addr}]`, x); else b.ins(op, `[${addr}]`, x); };
  switch (d) {
    case 'f32': st('st.global.f32', v); return;
    case 'bf16': case 'f16': st('st.global.b16', narrow(b, d, v)); return;
    case 'fp8e4m3': st('st.global.u8', narrow(b, d, v)); return;
    case 'i32': st('st.global.s32', v); return;
    case 'i64': st('st.global.s64', v); return;
    case 'bool': {
      const h = b.reg('b16');
      b.ins('selp.u16', h, '1', '0', v);
      st('st.global.u8', h);
    }
  }
}

/** Round an f32 value to what storage type d holds (the interpreter rounds every node's result on store). */
export function emitRound(b: PtxBuilder, d: DType, v: string): string {
  if (d === 'f32' || !isFloat(d)) return v;
  const h = narrow(b, d, v);
  if (d === 'fp8e4m3') return fp8ToF32(b, (dst) => b.ins('mov.b16', dst, h));
  const f = b.reg('f32');
  b.ins(d === 'bf16' ? 'cvt.f32.bf16' : 'cvt.f32.f16', f, h);
  return f;
}

/** cast from → to on a register value, with the interpreter's castValue + storage rounding. */
export function emitCast(b: PtxBuilder, from: DType, to: DType, v: string): string {
  if (from === to) return v;
  if (to === 'bool') {
    const p = b.reg('pred');
    if (from === 'i32') b.ins('setp.ne.s32', p, v, '0');
    else if (from === 'i64') b.ins('setp.ne.s64', p, v, '0');
    else b.ins('setp.ne.f32', p, v, f32Hex(0)); // ordered: NaN → false, as the interpreter
    return p;
  }
  if (from === 'bool') {
    if (isFloat(to)) { const f = b.reg('f32'); b.ins('selp.f32', f, f32Hex(1), f32Hex(0), v); return f; }
    const r = b.reg(regTypeOf(to));
    b.ins(to === 'i64' ? 'selp.b64' : 'selp.b32', r, '1', '0', v);
    return r;
  }
  if (isFloat(from) && isFloat(to)) return emitRound(b, to, v);
  if (isFloat(from)) {
    // truncate toward zero, saturate to the integer range, NaN → 0: exactly cvt.rzi (and the interpreter)
    const r = b.reg(regTypeOf(to));
    b.ins(to === 'i64' ? 'cvt.rzi.s64.f32' : 'cvt.rzi.s32.f32', r, v);
    return r;
  }
  if (!isFloat(to)) {
    const r = b.reg(regTypeOf(to));
    b.ins(to === 'i64' ? 'cvt.s64.s32' : 'cvt.u32.u64', r, v);
    return r;
  }
  // int → f32 → narrow type: two roundings, as the interpreter's writer (through a Float32Array)
  const f = b.reg('f32');
  b.ins(`cvt.rn.f32.${from === 'i32' ? 's32' : 's64'}`, f, v);
  return emitRound(b, to, f);
}
